"""Program assignments: an athlete starts following a program (self-started or assigned by a
coach), one of their days is changed (a workout swapped, added or removed), an assignment ends.

Access is the CALLER's job (a coach: ACTIVE relation with consent ``programs`` and READ on the
program, see ``domain.services.coaching``; a self-start: READ on the program). What this module
guarantees is the data: one running assignment per athlete and program, the athlete's own
schedule instance (USER_PROGRAM_SCHEDULE_MAP pointing at the program's *current* schedule, so a
later re-publish does not move them), and READ for the athlete on what they are asked to do.

Reading grants: an athlete who could not read the program (a coach's PRIVATE program) or one of
its scheduled workouts gets a USER_OWNERSHIP row (``is_primary_owner`` false, ``granted_by`` the
coach) — the access engine's OWN rule then lets them read it (docs/access.md). When the
assignment ends, the rows that assigner granted are revoked unless another running assignment
of the athlete still schedules that program or workout.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize, visible
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models.program import Program, ProgramSchedule, ScheduleWorkout
from domain.models.user import (
    ScheduleOverrideAction,
    UserOwnership,
    UserProgram,
    UserProgramOwnership,
    UserProgramProgress,
    UserProgramScheduleMap,
    UserScheduleWorkoutMap,
    UserWorkoutOwnership,
)
from domain.models.workout import Workout
from domain.services import reminders
from domain.services.program_versions import current_schedule_id, current_version

# An override's position after the day's defaults (their order_index is small).
ADDED_ORDER_INDEX = 100


async def _grant_program(
    session: AsyncSession, user_id: uuid.UUID, program_id: uuid.UUID, by: uuid.UUID | None
) -> None:
    decision = await authorize(
        session, Actor(user_id), Action.READ, ResourceRef("PROGRAM", program_id)
    )
    if decision.allowed:
        return
    ownership = UserOwnership(user_id=user_id, created_by=by, granted_by=by, is_primary_owner=False)
    ownership.program_ownership = UserProgramOwnership(program_id=program_id)
    session.add(ownership)


async def grant_workouts(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout_ids: Iterable[uuid.UUID],
    by: uuid.UUID | None,
) -> None:
    """READ for the athlete on each of ``workout_ids`` they cannot read yet (one statement
    finds those: ``visible`` in SQL)."""
    wanted = set(workout_ids)
    if not wanted:
        return
    hidden = await session.scalars(
        select(Workout.id).where(Workout.id.in_(wanted), ~visible(Actor(user_id), "WORKOUT"))
    )
    for workout_id in hidden.all():
        ownership = UserOwnership(
            user_id=user_id, created_by=by, granted_by=by, is_primary_owner=False
        )
        ownership.workout_ownership = UserWorkoutOwnership(workout_id=workout_id)
        session.add(ownership)


async def start_program(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    program_id: uuid.UUID,
    start_date: dt.date,
    assigned_by: uuid.UUID | None,
    now: dt.datetime,
) -> uuid.UUID:
    """``user_id`` follows ``program_id`` from ``start_date`` (day 0, their local date) on the
    program's current version; returns the USER_PROGRAM id. A running assignment of the same
    program ends (history kept). The athlete is notified when someone else assigned it."""
    program = await session.get(Program, program_id)
    if program is None or not program.is_active:
        raise NotFound(f"program {program_id}", program_id=program_id)
    schedule_id = await current_schedule_id(session, program_id)
    if schedule_id is None:
        raise InvalidInput("the program has no schedule", rule="no_schedule")
    await session.execute(
        update(UserProgram)
        .where(
            UserProgram.user_id == user_id,
            UserProgram.program_id == program_id,
            UserProgram.is_active,
        )
        .values(is_active=False, ended_at=now)
        .execution_options(synchronize_session=False)
    )
    version = await current_version(session, program_id)
    assignment = UserProgram(
        user_id=user_id,
        program_id=program_id,
        program_version_id=None if version is None else version.id,
        assigned_by=assigned_by,
        assigned_at=now,
        start_date=start_date,
    )
    session.add(assignment)
    await session.flush()
    session.add(UserProgramProgress(user_program_id=assignment.id, current_day_number=0))
    session.add(
        UserProgramScheduleMap(
            user_id=user_id,
            program_schedule_id=schedule_id,
            user_program_id=assignment.id,
            scheduled_date=start_date,
        )
    )
    await _grant_program(session, user_id, program_id, assigned_by)
    scheduled = await session.scalars(
        select(ScheduleWorkout.workout_id).where(ScheduleWorkout.program_schedule_id == schedule_id)
    )
    await grant_workouts(session, user_id, scheduled.all(), assigned_by)
    await session.flush()
    if assigned_by is not None and assigned_by != user_id:
        await reminders.plan_program_assigned(session, assignment.id, now)
    return assignment.id


async def _still_scheduled(
    session: AsyncSession, user_id: uuid.UUID, ended: uuid.UUID
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Programs and workouts the athlete's other running assignments still schedule."""
    others = select(UserProgram.id).where(
        UserProgram.user_id == user_id, UserProgram.is_active, UserProgram.id != ended
    )
    programs = set(
        (
            await session.scalars(select(UserProgram.program_id).where(UserProgram.id.in_(others)))
        ).all()
    )
    defaults = (
        select(ScheduleWorkout.workout_id)
        .join(
            UserProgramScheduleMap,
            UserProgramScheduleMap.program_schedule_id == ScheduleWorkout.program_schedule_id,
        )
        .where(UserProgramScheduleMap.user_program_id.in_(others))
    )
    added = (
        select(UserScheduleWorkoutMap.workout_id)
        .join(UserProgramScheduleMap)
        .where(UserProgramScheduleMap.user_program_id.in_(others))
    )
    workouts = set((await session.scalars(defaults.union(added))).all())
    return programs, workouts


async def end_program(
    session: AsyncSession, *, user_program_id: uuid.UUID, now: dt.datetime
) -> None:
    """Stop a running assignment (``is_active`` false, ``ended_at``) and revoke the READ rows
    its assigner granted that nothing else the athlete follows needs. Conflict when it has
    already ended."""
    assignment = await session.get(UserProgram, user_program_id, with_for_update=True)
    if assignment is None:
        raise NotFound(f"assignment {user_program_id}", user_program_id=user_program_id)
    if not assignment.is_active:
        raise Conflict("assignment already ended", rule="already_ended")
    assignment.is_active = False
    assignment.ended_at = now
    await session.flush()
    instance_ids = select(UserProgramScheduleMap.id).where(
        UserProgramScheduleMap.user_program_id == assignment.id
    )
    defaults = (
        select(ScheduleWorkout.workout_id)
        .join(
            UserProgramScheduleMap,
            UserProgramScheduleMap.program_schedule_id == ScheduleWorkout.program_schedule_id,
        )
        .where(UserProgramScheduleMap.user_program_id == assignment.id)
    )
    added = select(UserScheduleWorkoutMap.workout_id).where(
        UserScheduleWorkoutMap.user_program_schedule_id.in_(instance_ids)
    )
    workouts = set((await session.scalars(defaults.union(added))).all())
    if assignment.assigned_by is None or assignment.assigned_by == assignment.user_id:
        return  # self-started: nothing was granted by anyone
    keep_programs, keep_workouts = await _still_scheduled(
        session, assignment.user_id, assignment.id
    )
    conditions: list[ColumnElement[bool]] = []
    if workouts - keep_workouts:
        conditions.append(
            exists().where(
                UserWorkoutOwnership.id == UserOwnership.id,
                UserWorkoutOwnership.workout_id.in_(workouts - keep_workouts),
            )
        )
    if assignment.program_id not in keep_programs:
        conditions.append(
            exists().where(
                UserProgramOwnership.id == UserOwnership.id,
                UserProgramOwnership.program_id == assignment.program_id,
            )
        )
    if not conditions:
        return
    await session.execute(
        update(UserOwnership)
        .where(
            UserOwnership.user_id == assignment.user_id,
            UserOwnership.granted_by == assignment.assigned_by,
            UserOwnership.is_primary_owner.is_(False),
            UserOwnership.is_revoked.is_(False),
            or_(*conditions),
        )
        .values(is_revoked=True)
        .execution_options(synchronize_session=False)
    )


async def move_to_current_version(
    session: AsyncSession, *, user_program_id: uuid.UUID
) -> int | None:
    """Move a running assignment onto its program's current version, keeping its start date
    (day numbers do not move): the schedule instance points at the version's schedule, the
    athlete gets READ on its workouts from whoever assigned it, and per-day overrides that
    replaced or removed a workout of the old schedule are dropped (they name rows the new
    schedule does not have; added workouts stay). Returns the new version number, or None when
    the assignment already follows the current version. Access is the caller's job."""
    assignment = await session.get(UserProgram, user_program_id, with_for_update=True)
    if assignment is None:
        raise NotFound(f"assignment {user_program_id}", user_program_id=user_program_id)
    if not assignment.is_active:
        raise Conflict("assignment already ended", rule="already_ended")
    version = await current_version(session, assignment.program_id)
    schedule_id = await current_schedule_id(session, assignment.program_id)
    if version is None or schedule_id is None or assignment.program_version_id == version.id:
        return None
    instance = await session.scalar(
        select(UserProgramScheduleMap).where(
            UserProgramScheduleMap.user_program_id == assignment.id
        )
    )
    if instance is None:  # followed the program's only schedule: pin it from now on
        instance = UserProgramScheduleMap(
            user_id=assignment.user_id,
            program_schedule_id=schedule_id,
            user_program_id=assignment.id,
            scheduled_date=assignment.start_date,
        )
        session.add(instance)
    else:
        await session.execute(
            delete(UserScheduleWorkoutMap).where(
                UserScheduleWorkoutMap.user_program_schedule_id == instance.id,
                UserScheduleWorkoutMap.replaces_schedule_workout_id.is_not(None),
            )
        )
        instance.program_schedule_id = schedule_id
    assignment.program_version_id = version.id
    scheduled = await session.scalars(
        select(ScheduleWorkout.workout_id).where(ScheduleWorkout.program_schedule_id == schedule_id)
    )
    await grant_workouts(session, assignment.user_id, scheduled.all(), assignment.assigned_by)
    await session.flush()
    return version.version_number


# --------------------------------------------------------------------------------------------
# One day of an athlete's schedule
# --------------------------------------------------------------------------------------------


async def instance_for(
    session: AsyncSession, user_program_id: uuid.UUID, local_date: dt.date
) -> tuple[UserProgramScheduleMap, int]:
    """The assignment's schedule instance covering ``local_date`` and the day number there.
    An assignment without one (made before instances existed) gets one on its only schedule.
    InvalidInput when the date is before the start or past the schedule's end."""
    assignment = await session.get(UserProgram, user_program_id)
    if assignment is None or not assignment.is_active:
        raise NotFound(f"assignment {user_program_id}", user_program_id=user_program_id)
    instance = await session.scalar(
        select(UserProgramScheduleMap)
        .where(
            UserProgramScheduleMap.user_program_id == user_program_id,
            UserProgramScheduleMap.scheduled_date <= local_date,
        )
        .order_by(UserProgramScheduleMap.scheduled_date.desc())
        .limit(1)
    )
    if instance is None:
        schedules = (
            await session.scalars(
                select(ProgramSchedule.id).where(
                    ProgramSchedule.program_id == assignment.program_id
                )
            )
        ).all()
        if len(schedules) != 1 or assignment.start_date > local_date:
            raise InvalidInput("that day is not in the program", rule="outside_program")
        instance = UserProgramScheduleMap(
            user_id=assignment.user_id,
            program_schedule_id=schedules[0],
            user_program_id=assignment.id,
            scheduled_date=assignment.start_date,
        )
        session.add(instance)
        await session.flush()
    day = (local_date - instance.scheduled_date).days
    length = await session.scalar(
        select(ProgramSchedule.schedule_length_days).where(
            ProgramSchedule.id == instance.program_schedule_id
        )
    )
    if length is not None and day >= length:
        raise InvalidInput("that day is past the end of the program", rule="outside_program")
    return instance, day


async def override_day(
    session: AsyncSession,
    *,
    user_program_id: uuid.UUID,
    local_date: dt.date,
    action: ScheduleOverrideAction,
    workout_id: uuid.UUID | None,
    replaces_schedule_workout_id: uuid.UUID | None,
    granted_by: uuid.UUID | None,
) -> uuid.UUID:
    """Change one day of an athlete's schedule: ADD ``workout_id``, REPLACE the default
    ``replaces_schedule_workout_id`` by ``workout_id``, or REMOVE that default. The athlete
    gets READ on an added workout. Returns the USER_SCHEDULE_WORKOUT_MAP id."""
    instance, day = await instance_for(session, user_program_id, local_date)
    replaced: ScheduleWorkout | None = None
    if action is not ScheduleOverrideAction.ADD:
        if replaces_schedule_workout_id is None:
            raise InvalidInput("which workout of the day?", rule="no_target")
        replaced = await session.get(ScheduleWorkout, replaces_schedule_workout_id)
        if (
            replaced is None
            or replaced.program_schedule_id != instance.program_schedule_id
            or replaced.day_number != day
        ):
            raise InvalidInput("that workout is not on this day", rule="not_on_day")
        already = await session.scalar(
            select(func.count())
            .select_from(UserScheduleWorkoutMap)
            .where(
                UserScheduleWorkoutMap.user_program_schedule_id == instance.id,
                UserScheduleWorkoutMap.day_number == day,
                UserScheduleWorkoutMap.replaces_schedule_workout_id == replaced.id,
            )
        )
        if already:
            raise Conflict("that workout was already changed", rule="already_changed")
    if action is ScheduleOverrideAction.REMOVE:
        assert replaced is not None
        target = replaced.workout_id
    else:
        if workout_id is None:
            raise InvalidInput("which workout?", rule="no_workout")
        target = workout_id
        user_id = instance.user_id
        await grant_workouts(session, user_id, [target], granted_by)
    row = UserScheduleWorkoutMap(
        user_program_schedule_id=instance.id,
        day_number=day,
        action=action,
        workout_id=target,
        replaces_schedule_workout_id=None if replaced is None else replaced.id,
        order_index=replaced.order_index if replaced is not None else ADDED_ORDER_INDEX,
        is_optional=False if replaced is None else replaced.is_optional,
    )
    session.add(row)
    await session.flush()
    return row.id
