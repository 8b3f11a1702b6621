"""Test data builders anyone can reuse: a user (time zone, unit, locale, the MEMBER role), a
workout of real seeded exercises (by exercise ``code``) with prescriptions, tempo and rest, a
program of N days scheduling workouts, an active assignment with its USER_PROGRAM_PROGRESS, a
personal schedule instance and its overrides.

Every builder takes the caller's ``AsyncSession`` and only flushes: inside the rolled-back
``session`` fixture nothing survives the test; with a committing session (conversation tests)
the caller commits.

    user = await make_user(session, timezone="Europe/Paris", unit="lb")
    squat = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), tempo="3-1-1-0", rest=120)
    legs = await make_workout(session, user.id, "Legs", [squat, SetSpec("plank", duration=60)])
    plan = await make_program(session, user, start=today, days={0: [legs], 2: [legs]},
                              instance=True)
    await add_override(session, plan, day=0, action="ADD", workout=other.id)
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.access import Role, Visibility
from domain.models.exercise import Exercise
from domain.models.lookup import DifficultyLevel
from domain.models.program import Program, ProgramSchedule, ScheduleWorkout
from domain.models.user import (
    ScheduleOverrideAction,
    User,
    UserProgram,
    UserProgramProgress,
    UserProgramScheduleMap,
    UserRole,
    UserScheduleWorkoutMap,
)
from domain.models.workout import (
    EstimatedWorkoutDuration,
    ExerciseInstruction,
    Workout,
    WorkoutSet,
)
from domain.services.settings import set_user_setting
from domain.services.tempo import parse_tempo, tempo_rows, tempo_type_ids

_telegram_ids = itertools.count(880_000_001)


async def _one_id(session: AsyncSession, query: Any) -> uuid.UUID:
    found: uuid.UUID = (await session.execute(query.limit(1))).scalar_one()
    return found


async def exercise_id(session: AsyncSession, code: str) -> uuid.UUID:
    """The seeded catalogue exercise with this ``code`` (back_squat, plank, pull_up …)."""
    return await _one_id(session, select(Exercise.id).where(Exercise.code == code))


async def make_user(
    session: AsyncSession,
    *,
    timezone: str = "UTC",
    unit: str = "kg",
    locale: str = "en",
    first_name: str = "Ada",
    telegram_user_id: int | None = None,
) -> User:
    """A user holding the MEMBER role (as the bot's first contact gives), in ``timezone``,
    with the ``weight_unit`` setting ``unit`` when it is not the default kg."""
    user = User(
        first_name=first_name,
        telegram_user_id=telegram_user_id or next(_telegram_ids),
        timezone=timezone,
        locale=locale,
    )
    session.add(user)
    await session.flush()
    member = await _one_id(
        session, select(Role.id).where(Role.code == "MEMBER", Role.institution_id.is_(None))
    )
    session.add(UserRole(user_id=user.id, role_id=member, updated_by=user.id))
    await session.flush()
    if unit != "kg":
        await set_user_setting(session, user.id, "weight_unit", unit)
    return user


@dataclass(frozen=True)
class SetSpec:
    """One WORKOUT_SET: ``sets`` × the prescription over ``exercise`` (a code; a tuple of codes
    makes a superset, one instruction each)."""

    exercise: str | tuple[str, ...]
    sets: int = 1
    reps: int | None = None
    reps_max: int | None = None
    load_kg: Decimal | None = None
    rpe: Decimal | None = None
    duration: int | None = None  # seconds
    distance_m: Decimal | None = None
    rest: int = 90  # rest_after_seconds
    rest_between: int = 0  # rest between the exercises of a superset
    tempo: str | None = None  # "3-1-1-0"
    name: str | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.exercise,) if isinstance(self.exercise, str) else self.exercise


@dataclass
class BuiltWorkout:
    id: uuid.UUID
    name: str
    set_ids: list[uuid.UUID] = field(default_factory=list)  # WORKOUT_SET ids in order


async def make_workout(
    session: AsyncSession,
    owner_id: uuid.UUID | None,
    name: str,
    sets: Sequence[SetSpec] = (),
    *,
    estimated_seconds: int | None = None,
    visibility: str = "PRIVATE",
) -> BuiltWorkout:
    """A workout owned by ``owner_id`` (None: the system library) with ``sets`` in order; with
    ``estimated_seconds``, its ESTIMATED_WORKOUT_DURATION row too."""
    difficulty = await _one_id(session, select(DifficultyLevel.id).order_by(DifficultyLevel.rank))
    visibility_id = await _one_id(
        session,
        select(Visibility.id).where(
            Visibility.code == visibility, Visibility.resource_type == "WORKOUT"
        ),
    )
    workout = Workout(
        owner_id=owner_id,
        name=name,
        difficulty_level_id=difficulty,
        visibility_id=visibility_id,
        estimated_duration_seconds=estimated_seconds or 0,
    )
    session.add(workout)
    await session.flush()
    built = BuiltWorkout(workout.id, name)
    tempo_types = await tempo_type_ids(session) if any(spec.tempo for spec in sets) else {}
    for order, spec in enumerate(sets):
        row = WorkoutSet(
            workout_id=workout.id,
            order_index=order,
            name=spec.name or f"Set {order + 1}",
            rest_after_seconds=spec.rest,
            sets_count=spec.sets,
            target_reps=spec.reps,
            target_reps_max=spec.reps_max,
            target_load_kg=spec.load_kg,
            target_rpe=spec.rpe,
            target_duration_seconds=spec.duration,
            target_distance_m=spec.distance_m,
        )
        session.add(row)
        await session.flush()
        built.set_ids.append(row.id)
        for position, code in enumerate(spec.codes):
            instruction = ExerciseInstruction(
                workout_set_id=row.id,
                exercise_id=await exercise_id(session, code),
                rest_between_seconds=spec.rest_between,
                order_index=position,
            )
            session.add(instruction)
            await session.flush()
            if spec.tempo:
                session.add_all(tempo_rows(instruction.id, parse_tempo(spec.tempo), tempo_types))
        await session.flush()
    if estimated_seconds is not None:
        session.add(
            EstimatedWorkoutDuration(
                workout_id=workout.id,
                total_seconds=estimated_seconds,
                tempo_seconds=0,
                rest_between_sets_seconds=0,
                rest_between_exercises_seconds=0,
                warmup_seconds=0,
                transitions_seconds=0,
            )
        )
        await session.flush()
    return built


@dataclass
class Plan:
    program_id: uuid.UUID
    schedule_id: uuid.UUID
    user_program_id: uuid.UUID
    # (day, workout id) -> schedule_workout id
    slots: dict[tuple[int, uuid.UUID], uuid.UUID]
    instance_id: uuid.UUID | None = None


WorkoutRef = BuiltWorkout | uuid.UUID


def _workout_id(ref: WorkoutRef) -> uuid.UUID:
    return ref.id if isinstance(ref, BuiltWorkout) else ref


async def make_program(
    session: AsyncSession,
    user: User,
    *,
    start: dt.date,
    days: Mapping[int, Iterable[WorkoutRef]],
    length: int = 7,
    weeks: int | None = None,
    optional: Iterable[tuple[int, WorkoutRef]] = (),
    instance: bool = False,
    current_day: int = 0,
    last_completed: dt.date | None = None,
    title: str | None = None,
    assigned_by: uuid.UUID | None = None,
) -> Plan:
    """A program owned by ``user`` whose one schedule (``length`` days, or ``weeks`` × 7)
    holds ``days`` (0-based day → workouts), assigned to ``user`` from ``start`` with its
    USER_PROGRAM_PROGRESS; with ``instance``, through a personal schedule instance (needed by
    overrides)."""
    if weeks is not None:
        length = weeks * 7
    difficulty = await _one_id(session, select(DifficultyLevel.id).order_by(DifficultyLevel.rank))
    visibility = await _one_id(
        session,
        select(Visibility.id).where(
            Visibility.code == "PRIVATE", Visibility.resource_type == "PROGRAM"
        ),
    )
    program = Program(
        owner_id=user.id,
        title=title or f"Plan {uuid.uuid4().hex[:8]}",
        description="test program",
        difficulty_level_id=difficulty,
        visibility_id=visibility,
        duration_weeks=max(1, (length + 6) // 7),
    )
    session.add(program)
    await session.flush()
    schedule = ProgramSchedule(program_id=program.id, schedule_length_days=length)
    session.add(schedule)
    await session.flush()
    optional_slots = {(day, _workout_id(ref)) for day, ref in optional}
    slots: dict[tuple[int, uuid.UUID], uuid.UUID] = {}
    for day, refs in days.items():
        for order, ref in enumerate(refs):
            workout = _workout_id(ref)
            slot = ScheduleWorkout(
                program_schedule_id=schedule.id,
                workout_id=workout,
                day_number=day,
                order_index=order,
                is_optional=(day, workout) in optional_slots,
            )
            session.add(slot)
            await session.flush()
            slots[(day, workout)] = slot.id
    assignment = UserProgram(
        user_id=user.id, program_id=program.id, start_date=start, assigned_by=assigned_by or user.id
    )
    session.add(assignment)
    await session.flush()
    session.add(
        UserProgramProgress(
            user_program_id=assignment.id,
            current_day_number=current_day,
            last_completed_date=last_completed,
        )
    )
    plan = Plan(program.id, schedule.id, assignment.id, slots)
    if instance:
        copy = UserProgramScheduleMap(
            user_id=user.id,
            program_schedule_id=schedule.id,
            user_program_id=assignment.id,
            scheduled_date=start,
        )
        session.add(copy)
        await session.flush()
        plan.instance_id = copy.id
    await session.flush()
    return plan


async def add_override(
    session: AsyncSession,
    plan: Plan,
    *,
    day: int,
    action: ScheduleOverrideAction | str,
    workout: WorkoutRef,
    replaces: WorkoutRef | None = None,
    order_index: int = 10,
    optional: bool = False,
) -> uuid.UUID:
    """A USER_SCHEDULE_WORKOUT_MAP row on ``day`` of the plan's instance (``make_program(…,
    instance=True)``). REPLACE/REMOVE name the default they act on by its workout
    (``replaces``; for REMOVE ``workout`` is that same workout)."""
    assert plan.instance_id is not None, "overrides need make_program(..., instance=True)"
    kind = ScheduleOverrideAction(action)
    replaced = None
    if kind is not ScheduleOverrideAction.ADD:
        target = replaces if replaces is not None else workout
        replaced = plan.slots[(day, _workout_id(target))]
    row = UserScheduleWorkoutMap(
        user_program_schedule_id=plan.instance_id,
        day_number=day,
        action=kind,
        workout_id=_workout_id(workout),
        replaces_schedule_workout_id=replaced,
        order_index=order_index,
        is_optional=optional,
    )
    session.add(row)
    await session.flush()
    return row.id
