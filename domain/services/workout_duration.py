"""How long does a workout take? An estimate from its sets, reps, tempo, rests and transitions,
stored as ESTIMATED_WORKOUT_DURATION (one row per workout) and
``workout.estimated_duration_seconds``.

The arithmetic (``estimate``) is pure, so previews (a file being imported, a workout being built
in the chat) use the same numbers as the stored row. ``recompute`` reads a workout's rows and
writes the result; call it whenever a workout's sets change.

The rule, for each block (WORKOUT_SET) of ``sets_count`` rounds over its exercises:

- **work** (``tempo_seconds``): per exercise and round, reps × seconds per rep — the sum of the
  tempo's phases, or ``SECONDS_PER_REP`` without a tempo, never under ``MIN_SECONDS_PER_REP``
  (a rep range counts its middle, rounded up) — or the target duration, or the target distance
  at ``SECONDS_PER_METRE``, or ``SECONDS_PER_UNSPECIFIED_SET`` when the set says none of these;
- **rest between sets**: ``rest_after_seconds`` after every round but the block's last;
- **rest between exercises**: the ``rest_between_seconds`` after each exercise of a round but the
  last (supersets), plus the block's rest after its last round when another block follows;
- **transitions**: ``TRANSITION_SECONDS`` between two blocks whose exercises differ (moving to
  another station, loading a bar); none between blocks of the same exercise;
- **warm-up**: ``WARMUP_SECONDS`` once, for any workout with at least one set.

Nothing is counted after the last round of the last block: the workout is over.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.models.workout import (
    EstimatedWorkoutDuration,
    ExerciseInstruction,
    Workout,
    WorkoutSet,
)
from domain.services.tempo import tempos_of

# Constants of the estimate (documented in docs/program-format.md, "Estimated duration").
SECONDS_PER_REP = 3  # a controlled rep without a written tempo
MIN_SECONDS_PER_REP = 1  # an explosive tempo (X-0-X-0) still takes time
SECONDS_PER_METRE = Decimal("0.36")  # 6 min/km: an easy run, a brisk row
SECONDS_PER_UNSPECIFIED_SET = 30
TRANSITION_SECONDS = 60
WARMUP_SECONDS = 300


@dataclass(frozen=True, slots=True)
class ExercisePart:
    """One exercise of a block: what identifies it (to spot transitions), its tempo phases in
    seconds (None: no tempo) and the rest after it within a round."""

    exercise: uuid.UUID | str
    tempo_seconds: tuple[int, ...] | None = None
    rest_between_seconds: int = 0


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """One WORKOUT_SET as the estimate sees it."""

    exercises: tuple[ExercisePart, ...]
    sets_count: int = 1
    reps: int | None = None
    reps_max: int | None = None
    duration_seconds: int | None = None
    distance_m: Decimal | None = None
    rest_after_seconds: int = 0


@dataclass(frozen=True, slots=True)
class DurationEstimate:
    total_seconds: int
    tempo_seconds: int  # time working (reps × tempo, timed work, distance)
    rest_between_sets_seconds: int
    rest_between_exercises_seconds: int
    warmup_seconds: int
    transitions_seconds: int


def seconds_per_rep(tempo_seconds: Sequence[int] | None) -> int:
    if tempo_seconds is None:
        return SECONDS_PER_REP
    return max(MIN_SECONDS_PER_REP, sum(tempo_seconds))


def _counted_reps(block: BlockSpec) -> int:
    if block.reps is None:
        return 0
    if block.reps_max is None:
        return block.reps
    return math.ceil((block.reps + block.reps_max) / 2)


def work_seconds(block: BlockSpec, part: ExercisePart) -> int:
    """One round of one exercise of the block."""
    if block.reps is not None:
        return _counted_reps(block) * seconds_per_rep(part.tempo_seconds)
    if block.duration_seconds is not None:
        return block.duration_seconds
    if block.distance_m is not None:
        return math.ceil(block.distance_m * SECONDS_PER_METRE)
    return SECONDS_PER_UNSPECIFIED_SET


def estimate(blocks: Sequence[BlockSpec]) -> DurationEstimate:
    """The estimate of a workout made of ``blocks`` in order (see the module's rule)."""
    work = rest_sets = rest_exercises = transitions = 0
    previous: frozenset[uuid.UUID | str] | None = None
    for index, block in enumerate(blocks):
        rounds = max(block.sets_count, 1)
        parts = block.exercises
        round_work = sum(work_seconds(block, part) for part in parts)
        within_round = sum(part.rest_between_seconds for part in parts[:-1])
        work += rounds * round_work
        rest_exercises += rounds * within_round
        rest_sets += (rounds - 1) * block.rest_after_seconds
        if index < len(blocks) - 1:
            rest_exercises += block.rest_after_seconds
        kinds = frozenset(part.exercise for part in parts)
        if previous is not None and kinds != previous:
            transitions += TRANSITION_SECONDS
        previous = kinds
    warmup = WARMUP_SECONDS if blocks else 0
    return DurationEstimate(
        total_seconds=work + rest_sets + rest_exercises + warmup + transitions,
        tempo_seconds=work,
        rest_between_sets_seconds=rest_sets,
        rest_between_exercises_seconds=rest_exercises,
        warmup_seconds=warmup,
        transitions_seconds=transitions,
    )


async def blocks_of(session: AsyncSession, workout_id: uuid.UUID) -> list[BlockSpec]:
    """The workout's sets as the estimate sees them (two statements), tempo phases in seconds
    as domain/services/tempo.py reads them."""
    rows = (
        await session.execute(
            select(WorkoutSet, ExerciseInstruction)
            .join(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
            .where(WorkoutSet.workout_id == workout_id)
            .order_by(WorkoutSet.order_index, ExerciseInstruction.order_index)
        )
    ).all()
    phases = await tempos_of(session, [instruction.id for _set, instruction in rows])
    grouped: dict[uuid.UUID, tuple[WorkoutSet, list[ExercisePart]]] = {}
    for workout_set, instruction in rows:
        tempo = phases.get(instruction.id)
        part = ExercisePart(
            exercise=instruction.exercise_id,
            tempo_seconds=tuple(p.seconds for p in tempo) if tempo is not None else None,
            rest_between_seconds=instruction.rest_between_seconds,
        )
        grouped.setdefault(workout_set.id, (workout_set, []))[1].append(part)
    return [
        BlockSpec(
            exercises=tuple(parts),
            sets_count=workout_set.sets_count,
            reps=workout_set.target_reps,
            reps_max=workout_set.target_reps_max,
            duration_seconds=workout_set.target_duration_seconds,
            distance_m=workout_set.target_distance_m,
            rest_after_seconds=workout_set.rest_after_seconds,
        )
        for workout_set, parts in grouped.values()
    ]


async def recompute(session: AsyncSession, workout_id: uuid.UUID) -> DurationEstimate:
    """Estimate the workout from its rows and store it (upsert of ESTIMATED_WORKOUT_DURATION,
    ``workout.estimated_duration_seconds``). No access check: the caller changed the sets and
    has checked its right to. A set without an exercise instruction does not count."""
    exists = await session.scalar(select(Workout.id).where(Workout.id == workout_id))
    if exists is None:
        raise NotFound(f"no workout {workout_id}", workout_id=str(workout_id))
    await session.flush()
    result = estimate(await blocks_of(session, workout_id))
    values = {
        "total_seconds": result.total_seconds,
        "tempo_seconds": result.tempo_seconds,
        "rest_between_sets_seconds": result.rest_between_sets_seconds,
        "rest_between_exercises_seconds": result.rest_between_exercises_seconds,
        "warmup_seconds": result.warmup_seconds,
        "transitions_seconds": result.transitions_seconds,
    }
    statement = insert(EstimatedWorkoutDuration).values(workout_id=workout_id, **values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[EstimatedWorkoutDuration.workout_id],
            set_={**values, "calculated_at": func.now()},
        )
    )
    await session.execute(
        update(Workout)
        .where(Workout.id == workout_id)
        .values(estimated_duration_seconds=result.total_seconds)
        # "fetch": a Workout already loaded in the session sees the new duration.
        .execution_options(synchronize_session="fetch")
    )
    return result
