"""``workout_duration.recompute`` on real rows: the tempo read from TEMPO → TEMPO_TYPE, the
estimate written to ESTIMATED_WORKOUT_DURATION and ``workout.estimated_duration_seconds``,
updated in place when the sets change."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.models.workout import EstimatedWorkoutDuration, Workout, WorkoutSet
from domain.services.workout_duration import (
    SECONDS_PER_REP,
    TRANSITION_SECONDS,
    WARMUP_SECONDS,
    recompute,
)
from tests.factories import SetSpec, make_user, make_workout

SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), tempo="3-1-1-0", rest=120)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)
SUPERSET = SetSpec(("pull_up", "push_up"), sets=2, reps=8, rest=90, rest_between=15)


async def stored(session: AsyncSession, workout_id: uuid.UUID) -> tuple[int, int, int, int]:
    row = (
        await session.execute(
            select(
                EstimatedWorkoutDuration.total_seconds,
                EstimatedWorkoutDuration.tempo_seconds,
                EstimatedWorkoutDuration.rest_between_sets_seconds,
                Workout.estimated_duration_seconds,
            )
            .join(Workout, Workout.id == EstimatedWorkoutDuration.workout_id)
            .where(Workout.id == workout_id)
        )
    ).one()
    return row[0], row[1], row[2], row[3]


async def test_recompute_reads_the_tempo_and_stores_the_estimate(session: AsyncSession) -> None:
    owner = await make_user(session)
    built = await make_workout(session, owner.id, "Legs and core", [SQUAT, PLANK, SUPERSET])
    result = await recompute(session, built.id)
    squat_work = 3 * 5 * (3 + 1 + 1 + 0)  # tempo 3-1-1-0: 5 s a rep
    plank_work = 2 * 60
    superset_work = 2 * (8 * SECONDS_PER_REP + 8 * SECONDS_PER_REP)
    assert result.tempo_seconds == squat_work + plank_work + superset_work
    assert result.rest_between_sets_seconds == 2 * 120 + 1 * 45 + 1 * 90
    assert result.rest_between_exercises_seconds == 120 + 45 + 2 * 15
    assert result.transitions_seconds == 2 * TRANSITION_SECONDS
    assert result.warmup_seconds == WARMUP_SECONDS
    total = result.total_seconds
    assert await stored(session, built.id) == (total, result.tempo_seconds, 375, total)


async def test_recompute_updates_the_row_when_the_sets_change(session: AsyncSession) -> None:
    owner = await make_user(session)
    built = await make_workout(session, owner.id, "Squats", [SQUAT], estimated_seconds=999)
    first = await recompute(session, built.id)
    assert first.total_seconds != 999
    await session.execute(
        update(WorkoutSet).where(WorkoutSet.id == built.set_ids[0]).values(sets_count=5)
    )
    second = await recompute(session, built.id)
    assert second.tempo_seconds == 5 * 5 * 5
    assert second.rest_between_sets_seconds == 4 * 120
    assert (await stored(session, built.id))[0] == second.total_seconds
    rows = await session.scalar(
        select(func.count())
        .select_from(EstimatedWorkoutDuration)
        .where(EstimatedWorkoutDuration.workout_id == built.id)
    )
    assert rows == 1
    loaded = await session.get(Workout, built.id)
    assert loaded is not None
    assert loaded.estimated_duration_seconds == second.total_seconds


async def test_an_empty_workout_takes_no_time_and_an_unknown_one_is_not_found(
    session: AsyncSession,
) -> None:
    owner = await make_user(session)
    built = await make_workout(session, owner.id, "Nothing yet")
    assert (await recompute(session, built.id)).total_seconds == 0
    with pytest.raises(NotFound):
        await recompute(session, uuid.uuid4())
