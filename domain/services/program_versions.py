"""Program versions (the VERSIONS contract): publishing freezes a program's schedule in a
PROGRAM_VERSION row whose ``snapshot_data`` says which PROGRAM_SCHEDULE it is
(``program_schedule_id``) and holds a full copy of it: the program's fields, then weeks → days →
scheduled workouts, and every workout with its sets and exercises.

Changing a published program means a NEW schedule (and new or changed workouts) published as
the next version; the old schedule rows stay untouched, so athletes whose
USER_PROGRAM_SCHEDULE_MAP points at them keep their version until they are moved.

Version numbers start at 1 and grow by one per program (the program row is locked while the
next number is chosen). Callers check access (UPDATE on the program) before publishing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Conflict, NotFound
from domain.models.access import Visibility
from domain.models.exercise import Exercise
from domain.models.lookup import DifficultyLevel
from domain.models.program import Program, ProgramSchedule, ProgramVersion, ScheduleWorkout
from domain.models.workout import (
    ExerciseInstruction,
    Workout,
    WorkoutSet,
)
from domain.services.tempo import tempo_text, tempos_of

SNAPSHOT_FORMAT = 1


async def current_schedule_id(session: AsyncSession, program_id: uuid.UUID) -> uuid.UUID | None:
    """The schedule of the program's latest active version; a program never published: its
    only schedule (None when it has none or several)."""
    snapshot = await session.scalar(
        select(ProgramVersion.snapshot_data)
        .where(ProgramVersion.program_id == program_id, ProgramVersion.is_active)
        .order_by(ProgramVersion.version_number.desc())
        .limit(1)
    )
    if snapshot is not None:
        return uuid.UUID(str(snapshot["program_schedule_id"]))
    schedules = (
        await session.scalars(
            select(ProgramSchedule.id).where(ProgramSchedule.program_id == program_id).limit(2)
        )
    ).all()
    return schedules[0] if len(schedules) == 1 else None


async def current_version(session: AsyncSession, program_id: uuid.UUID) -> ProgramVersion | None:
    """The latest active version, or None for a program never published."""
    return await session.scalar(
        select(ProgramVersion)
        .where(ProgramVersion.program_id == program_id, ProgramVersion.is_active)
        .order_by(ProgramVersion.version_number.desc())
        .limit(1)
    )


async def _published_schedule_ids(session: AsyncSession, program_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(ProgramVersion.snapshot_data["program_schedule_id"].astext).where(
            ProgramVersion.program_id == program_id
        )
    )
    return {row for row in rows.all() if row}


async def _schedule_to_publish(session: AsyncSession, program_id: uuid.UUID) -> uuid.UUID:
    """Without an explicit schedule: the one schedule no version holds yet; when every schedule
    is published, the current one again (a version recording a change of the program's fields)."""
    all_ids = (
        await session.scalars(
            select(ProgramSchedule.id).where(ProgramSchedule.program_id == program_id)
        )
    ).all()
    published = await _published_schedule_ids(session, program_id)
    fresh = [schedule_id for schedule_id in all_ids if str(schedule_id) not in published]
    if len(fresh) == 1:
        return fresh[0]
    if len(fresh) > 1:
        raise Conflict(
            f"program {program_id} has {len(fresh)} unpublished schedules: say which to publish",
            program_id=str(program_id),
        )
    current = await current_schedule_id(session, program_id)
    if current is None:
        raise NotFound(f"program {program_id} has no schedule", program_id=str(program_id))
    return current


def _number(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


async def snapshot(
    session: AsyncSession, program: Program, schedule: ProgramSchedule
) -> dict[str, Any]:
    """The JSON copy of ``program`` with ``schedule``: weeks → days → workouts → sets."""
    difficulty = await session.scalar(
        select(DifficultyLevel.code).where(DifficultyLevel.id == program.difficulty_level_id)
    )
    visibility = await session.scalar(
        select(Visibility.code).where(Visibility.id == program.visibility_id)
    )
    slots = (
        await session.scalars(
            select(ScheduleWorkout)
            .where(ScheduleWorkout.program_schedule_id == schedule.id)
            .order_by(ScheduleWorkout.day_number, ScheduleWorkout.order_index)
        )
    ).all()
    workout_ids = list(dict.fromkeys(slot.workout_id for slot in slots))
    workouts = await _workouts(session, workout_ids)
    days: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for slot in slots:
        days[slot.day_number].append(
            {
                "schedule_workout_id": str(slot.id),
                "workout_id": str(slot.workout_id),
                "order_index": slot.order_index,
                "is_optional": slot.is_optional,
                "notes": slot.notes,
            }
        )
    weeks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for day_number in sorted(days):
        weeks[day_number // 7 + 1].append({"day_number": day_number, "workouts": days[day_number]})
    return {
        "format": SNAPSHOT_FORMAT,
        "program_schedule_id": str(schedule.id),
        "program": {
            "id": str(program.id),
            "title": program.title,
            "description": program.description,
            "difficulty": difficulty,
            "duration_weeks": program.duration_weeks,
            "visibility": visibility,
            "owner_id": str(program.owner_id) if program.owner_id else None,
            "institution_id": str(program.institution_id) if program.institution_id else None,
        },
        "schedule": {
            "length_days": schedule.schedule_length_days,
            "notes": schedule.notes,
            "weeks": [{"week": week, "days": weeks[week]} for week in sorted(weeks)],
        },
        "workouts": workouts,
    }


async def _workouts(
    session: AsyncSession, workout_ids: list[uuid.UUID]
) -> dict[str, dict[str, Any]]:
    if not workout_ids:
        return {}
    rows = (
        await session.execute(
            select(Workout, WorkoutSet, ExerciseInstruction, Exercise.code, Exercise.name)
            .outerjoin(WorkoutSet, WorkoutSet.workout_id == Workout.id)
            .outerjoin(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
            .outerjoin(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
            .where(Workout.id.in_(workout_ids))
            .order_by(Workout.id, WorkoutSet.order_index, ExerciseInstruction.order_index)
        )
    ).all()
    tempo = await tempos_of(session, [row[2].id for row in rows if row[2] is not None])
    result: dict[str, dict[str, Any]] = {}
    sets: dict[uuid.UUID, dict[str, Any]] = {}
    for workout, workout_set, instruction, exercise_code, exercise_name in rows:
        entry = result.setdefault(
            str(workout.id),
            {
                "name": workout.name,
                "notes": workout.notes,
                "estimated_duration_seconds": workout.estimated_duration_seconds,
                "sets": [],
            },
        )
        if workout_set is None:
            continue
        if workout_set.id not in sets:
            sets[workout_set.id] = {
                "order_index": workout_set.order_index,
                "name": workout_set.name,
                "sets_count": workout_set.sets_count,
                "target_reps": workout_set.target_reps,
                "target_reps_max": workout_set.target_reps_max,
                "target_load_kg": _number(workout_set.target_load_kg),
                "target_rpe": _number(workout_set.target_rpe),
                "target_duration_seconds": workout_set.target_duration_seconds,
                "target_distance_m": _number(workout_set.target_distance_m),
                "rest_after_seconds": workout_set.rest_after_seconds,
                "exercises": [],
            }
            entry["sets"].append(sets[workout_set.id])
        if instruction is not None:
            sets[workout_set.id]["exercises"].append(
                {
                    "exercise_id": str(instruction.exercise_id),
                    "code": exercise_code,
                    "name": exercise_name,
                    "rest_between_seconds": instruction.rest_between_seconds,
                    "tempo": tempo_text(tempo[instruction.id]) if instruction.id in tempo else None,
                    "tempo_phases": [phase.kind for phase in tempo.get(instruction.id, ())],
                }
            )
    return result


async def publish(
    session: AsyncSession,
    program_id: uuid.UUID,
    *,
    reason: str | None,
    now: dt.datetime,
    schedule_id: uuid.UUID | None = None,
    extra: dict[str, Any] | None = None,
) -> ProgramVersion:
    """Freeze the program with ``schedule_id`` (default: its one unpublished schedule, else
    its current one) as the next version. ``extra`` is merged into the snapshot."""
    program = await session.get(Program, program_id, with_for_update=True)
    if program is None:
        raise NotFound(f"no program {program_id}", program_id=str(program_id))
    await session.flush()
    chosen = schedule_id or await _schedule_to_publish(session, program_id)
    schedule = await session.get(ProgramSchedule, chosen)
    if schedule is None or schedule.program_id != program_id:
        raise NotFound(f"no schedule {chosen} in program {program_id}", schedule_id=str(chosen))
    last = await session.scalar(
        select(func.max(ProgramVersion.version_number)).where(
            ProgramVersion.program_id == program_id
        )
    )
    data = await snapshot(session, program, schedule)
    if extra:
        data.update(extra)
    version = ProgramVersion(
        program_id=program_id,
        version_number=(last or 0) + 1,
        reason=reason[:255] if reason else None,
        snapshot_data=data,
        created_at=now,
    )
    session.add(version)
    await session.flush()
    return version
