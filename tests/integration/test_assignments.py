"""Assignments against PostgreSQL: start_program (the ASSIGNMENTS contract: instance on the
current version's schedule, READ grants for the athlete, the previous run ended, the athlete
notified), a coach assigning to a client (consent, READ on the program, start-date limits),
/today showing it, removing it (grants revoked), and one day of the client's schedule swapped,
added to or emptied — with forged ids refused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize
from domain.errors import Conflict, InvalidInput, NotAllowed
from domain.models.notification import Notification, NotificationType
from domain.models.program import ProgramSchedule, ScheduleWorkout
from domain.models.user import (
    ScheduleOverrideAction,
    User,
    UserOwnership,
    UserProgram,
    UserProgramProgress,
    UserProgramScheduleMap,
)
from domain.services import assignments, coaching
from domain.services.program_versions import publish
from domain.services.today import DayKind, today
from tests.factories import BuiltWorkout, Plan, SetSpec, make_program, make_user, make_workout
from tests.integration.test_coaching import link, make_coach

MONDAY = dt.date(2031, 3, 10)
NOW = dt.datetime(2031, 3, 10, 8, tzinfo=dt.UTC)
SQUAT = SetSpec("back_squat", sets=3, reps=5)
PLANK = SetSpec("plank", sets=2, duration=60)
REPLACE = ScheduleOverrideAction.REPLACE
ADD = ScheduleOverrideAction.ADD
REMOVE = ScheduleOverrideAction.REMOVE


async def can_read(session: AsyncSession, user: User, kind: str, row_id: uuid.UUID) -> bool:
    decision = await authorize(session, Actor(user.id), Action.READ, ResourceRef(kind, row_id))
    return decision.allowed


async def coach_program(
    session: AsyncSession, coach: User
) -> tuple[Plan, BuiltWorkout, BuiltWorkout]:
    legs = await make_workout(session, coach.id, "Legs", [SQUAT])
    core = await make_workout(session, coach.id, "Core", [PLANK])
    plan = await make_program(
        session, coach, start=MONDAY, days={0: [legs], 2: [core]}, title="Base block"
    )
    return plan, legs, core


async def workouts_today(session: AsyncSession, user: User, day: dt.date) -> list[str]:
    view = await today(
        session, user.id, now=dt.datetime.combine(day, dt.time(12), dt.UTC), timezone="UTC"
    )
    return [workout.name for workout in view.workouts]


async def test_start_program_follows_the_current_version_and_grants_reading(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session, first_name="Ivan")
    ada = await make_user(session, first_name="Ada")
    plan, legs, core = await coach_program(session, coach)
    version = await publish(session, plan.program_id, reason="first", now=NOW)
    assert not await can_read(session, ada, "PROGRAM", plan.program_id)
    assert not await can_read(session, ada, "WORKOUT", legs.id)

    first = await assignments.start_program(
        session,
        user_id=ada.id,
        program_id=plan.program_id,
        start_date=MONDAY,
        assigned_by=coach.id,
        now=NOW,
    )
    row = await session.get(UserProgram, first)
    assert row is not None
    assert (row.user_id, row.program_id, row.assigned_by, row.start_date, row.is_active) == (
        ada.id,
        plan.program_id,
        coach.id,
        MONDAY,
        True,
    )
    assert row.program_version_id == version.id
    instance = await session.scalar(
        select(UserProgramScheduleMap).where(UserProgramScheduleMap.user_program_id == first)
    )
    assert instance is not None
    assert (instance.program_schedule_id, instance.scheduled_date) == (plan.schedule_id, MONDAY)
    progress = await session.get(UserProgramProgress, first)
    assert progress is not None
    assert progress.current_day_number == 0
    for kind, row_id in (
        ("PROGRAM", plan.program_id),
        ("WORKOUT", legs.id),
        ("WORKOUT", core.id),
    ):
        assert await can_read(session, ada, kind, row_id), kind
    grants = (
        await session.scalars(select(UserOwnership).where(UserOwnership.user_id == ada.id))
    ).all()
    assert len(grants) == 3
    assert all(g.granted_by == coach.id and not g.is_primary_owner for g in grants)
    planned = await session.scalar(
        select(Notification.variables)
        .join(NotificationType, NotificationType.id == Notification.notification_type_id)
        .where(Notification.user_id == ada.id, NotificationType.code == "PROGRAM_ASSIGNED")
    )
    assert planned is not None
    assert planned["program_title"] == "Base block"
    assert planned["coach_name"] == "Ivan"
    assert planned["start_date"] == MONDAY.isoformat()
    assert await workouts_today(session, ada, MONDAY) == ["Legs"]
    assert await workouts_today(session, ada, MONDAY + dt.timedelta(days=2)) == ["Core"]

    # Started again a week later: the first run ends, its history kept; no duplicate grants.
    second = await assignments.start_program(
        session,
        user_id=ada.id,
        program_id=plan.program_id,
        start_date=MONDAY + dt.timedelta(days=7),
        assigned_by=coach.id,
        now=NOW,
    )
    await session.refresh(row)
    assert row.is_active is False
    assert row.ended_at == NOW
    assert second != first
    count = await session.scalar(
        select(func.count()).select_from(UserOwnership).where(UserOwnership.user_id == ada.id)
    )
    assert count == 3


async def test_a_new_version_does_not_move_an_athlete_already_on_the_program(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    bo = await make_user(session)
    plan, _legs, core = await coach_program(session, coach)
    await publish(session, plan.program_id, reason="v1", now=NOW)
    await assignments.start_program(
        session,
        user_id=bo.id,
        program_id=plan.program_id,
        start_date=MONDAY,
        assigned_by=coach.id,
        now=NOW,
    )
    # The coach publishes a new schedule putting Core on day 0.
    new_schedule = ProgramSchedule(program_id=plan.program_id, schedule_length_days=7)
    session.add(new_schedule)
    await session.flush()
    session.add(
        ScheduleWorkout(
            program_schedule_id=new_schedule.id, workout_id=core.id, day_number=0, order_index=0
        )
    )
    await session.flush()
    await publish(session, plan.program_id, reason="v2", now=NOW, schedule_id=new_schedule.id)
    assert await workouts_today(session, bo, MONDAY) == ["Legs"]
    cy = await make_user(session)
    await assignments.start_program(
        session,
        user_id=cy.id,
        program_id=plan.program_id,
        start_date=MONDAY,
        assigned_by=coach.id,
        now=NOW,
    )
    assert await workouts_today(session, cy, MONDAY) == ["Core"]


async def test_the_coach_moves_a_client_onto_the_new_version(session: AsyncSession) -> None:
    coach = await make_coach(session)
    bo = await make_user(session)
    plan, _legs, core = await coach_program(session, coach)
    await publish(session, plan.program_id, reason="v1", now=NOW)
    relation_id = await link(session, coach, bo, now=NOW)
    assigned = await coaching.assign_program(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        program_id=plan.program_id,
        start_date=MONDAY,
        now=NOW,
    )
    user_program_id = assigned.user_program_id
    # A day-2 override replacing Core (a row of the old schedule) and an added workout.
    extra = await make_workout(session, coach.id, "Extra", [PLANK])
    instance = await session.scalar(
        select(UserProgramScheduleMap).where(
            UserProgramScheduleMap.user_program_id == user_program_id
        )
    )
    assert instance is not None
    core_slot = await session.scalar(
        select(ScheduleWorkout.id).where(
            ScheduleWorkout.program_schedule_id == instance.program_schedule_id,
            ScheduleWorkout.workout_id == core.id,
        )
    )
    for day, action, slot in ((2, REPLACE, core_slot), (1, ADD, None)):
        await coaching.change_client_day(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=user_program_id,
            local_date=MONDAY + dt.timedelta(days=day),
            action=action,
            workout_id=extra.id,
            schedule_workout_id=slot,
        )
    assert await workouts_today(session, bo, MONDAY + dt.timedelta(days=2)) == ["Extra"]
    # Version 2 puts a new workout on day 0.
    heavy = await make_workout(session, coach.id, "Heavy legs", [SQUAT])
    new_schedule = ProgramSchedule(program_id=plan.program_id, schedule_length_days=7)
    session.add(new_schedule)
    await session.flush()
    session.add(
        ScheduleWorkout(
            program_schedule_id=new_schedule.id, workout_id=heavy.id, day_number=0, order_index=0
        )
    )
    await session.flush()
    await publish(session, plan.program_id, reason="v2", now=NOW, schedule_id=new_schedule.id)
    [view] = await coaching.client_assignments(session, coach_id=coach.id, relation_id=relation_id)
    assert view.newer_version == 2
    assert await workouts_today(session, bo, MONDAY) == ["Legs"]
    assert not await can_read(session, bo, "WORKOUT", heavy.id)

    # Another coach cannot move Bo; the coach can, and Bo follows version 2 from Monday.
    olga = await make_coach(session)
    with pytest.raises(NotAllowed):
        await coaching.move_assignment(
            session, coach_id=olga.id, relation_id=relation_id, user_program_id=user_program_id
        )
    title, number = await coaching.move_assignment(
        session, coach_id=coach.id, relation_id=relation_id, user_program_id=user_program_id
    )
    assert (title, number) == ("Base block", 2)
    assert await workouts_today(session, bo, MONDAY) == ["Heavy legs"]
    assert await can_read(session, bo, "WORKOUT", heavy.id)
    [view] = await coaching.client_assignments(session, coach_id=coach.id, relation_id=relation_id)
    assert view.newer_version is None
    assert view.start_date == MONDAY
    # The swap named a row of the old schedule: dropped; the added workout stays.
    assert await workouts_today(session, bo, MONDAY + dt.timedelta(days=2)) == []
    assert await workouts_today(session, bo, MONDAY + dt.timedelta(days=1)) == ["Extra"]
    # Moving again changes nothing.
    assert await coaching.move_assignment(
        session, coach_id=coach.id, relation_id=relation_id, user_program_id=user_program_id
    ) == ("Base block", None)


async def test_a_coach_assigns_a_program_and_removes_it(session: AsyncSession) -> None:
    coach = await make_coach(session)
    ada = await make_user(session)
    plan, legs, _core = await coach_program(session, coach)
    relation_id = await link(session, coach, ada, now=NOW)

    for wrong in (MONDAY - dt.timedelta(days=8), MONDAY + dt.timedelta(days=400)):
        with pytest.raises(InvalidInput):
            await coaching.assign_program(
                session,
                coach_id=coach.id,
                relation_id=relation_id,
                program_id=plan.program_id,
                start_date=wrong,
                now=NOW,
            )
    # Another coach's private program: the coach may not read it, so may not assign it.
    olga = await make_coach(session)
    foreign, _l, _c = await coach_program(session, olga)
    with pytest.raises(NotAllowed):
        await coaching.assign_program(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            program_id=foreign.program_id,
            start_date=MONDAY,
            now=NOW,
        )
    # Olga has no relation with Ada: her forged relation id is refused.
    with pytest.raises(NotAllowed):
        await coaching.assign_program(
            session,
            coach_id=olga.id,
            relation_id=relation_id,
            program_id=foreign.program_id,
            start_date=MONDAY,
            now=NOW,
        )
    assert await workouts_today(session, ada, MONDAY) == []

    picks = await coaching.assignable_programs(session, coach_id=coach.id)
    assert plan.program_id in [pick.id for pick in picks.items]
    assert foreign.program_id not in [pick.id for pick in picks.items]
    assigned = await coaching.assign_program(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        program_id=plan.program_id,
        start_date=MONDAY,
        now=NOW,
    )
    assert assigned.program_title == "Base block"
    assert assigned.client.user_id == ada.id
    assert await workouts_today(session, ada, MONDAY) == ["Legs"]
    listed = await coaching.client_assignments(session, coach_id=coach.id, relation_id=relation_id)
    assert [(a.program_title, a.assigned_by_me) for a in listed] == [("Base block", True)]

    with pytest.raises(NotAllowed):
        await coaching.remove_assignment(
            session,
            coach_id=olga.id,
            relation_id=relation_id,
            user_program_id=assigned.user_program_id,
            now=NOW,
        )
    title = await coaching.remove_assignment(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        user_program_id=assigned.user_program_id,
        now=NOW,
    )
    assert title == "Base block"
    row = await session.get(UserProgram, assigned.user_program_id)
    assert row is not None
    await session.refresh(row)
    assert row.is_active is False
    assert row.ended_at == NOW
    view = await today(session, ada.id, now=NOW, timezone="UTC")
    assert view.kind is DayKind.NO_PROGRAM
    assert not await can_read(session, ada, "PROGRAM", plan.program_id)
    assert not await can_read(session, ada, "WORKOUT", legs.id)
    with pytest.raises(Conflict):
        await coaching.remove_assignment(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=assigned.user_program_id,
            now=NOW,
        )


async def test_programs_need_the_clients_consent(session: AsyncSession) -> None:
    coach = await make_coach(session)
    bo = await make_user(session)
    plan, _legs, _core = await coach_program(session, coach)
    relation_id = await link(session, coach, bo, now=NOW, scope=("logs",))
    with pytest.raises(NotAllowed):
        await coaching.assign_program(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            program_id=plan.program_id,
            start_date=MONDAY,
            now=NOW,
        )
    clients, _more = await coaching.clients_for_programs(session, coach_id=coach.id)
    assert relation_id not in [choice.relation_id for choice in clients]


async def test_the_coach_changes_one_day_of_the_clients_schedule(session: AsyncSession) -> None:
    coach = await make_coach(session)
    ada = await make_user(session)
    plan, _legs, _core = await coach_program(session, coach)
    arms = await make_workout(session, coach.id, "Arms", [SQUAT])
    cardio = await make_workout(session, coach.id, "Cardio", [PLANK])
    relation_id = await link(session, coach, ada, now=NOW)
    assigned = await coaching.assign_program(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        program_id=plan.program_id,
        start_date=MONDAY,
        now=NOW,
    )
    day = await coaching.client_day(
        session, coach_id=coach.id, relation_id=relation_id, local_date=MONDAY
    )
    assert [slot.workout_name for slot in day] == ["Legs"]
    legs_slot = day[0].schedule_workout_id
    assert legs_slot is not None
    assert not await can_read(session, ada, "WORKOUT", arms.id)

    # Swap Legs for Arms on Monday: the athlete's /today shows Arms, and she may read it.
    await coaching.change_client_day(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        user_program_id=assigned.user_program_id,
        local_date=MONDAY,
        action=REPLACE,
        workout_id=arms.id,
        schedule_workout_id=legs_slot,
    )
    assert await workouts_today(session, ada, MONDAY) == ["Arms"]
    assert await can_read(session, ada, "WORKOUT", arms.id)
    # The same default cannot be changed twice.
    with pytest.raises(Conflict):
        await coaching.change_client_day(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=assigned.user_program_id,
            local_date=MONDAY,
            action=REMOVE,
            schedule_workout_id=legs_slot,
        )
    # Add Cardio on Tuesday (a rest day), remove Core on Wednesday.
    tuesday, wednesday = MONDAY + dt.timedelta(days=1), MONDAY + dt.timedelta(days=2)
    await coaching.change_client_day(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        user_program_id=assigned.user_program_id,
        local_date=tuesday,
        action=ADD,
        workout_id=cardio.id,
    )
    assert await workouts_today(session, ada, tuesday) == ["Cardio"]
    core_slot = (
        await coaching.client_day(
            session, coach_id=coach.id, relation_id=relation_id, local_date=wednesday
        )
    )[0].schedule_workout_id
    await coaching.change_client_day(
        session,
        coach_id=coach.id,
        relation_id=relation_id,
        user_program_id=assigned.user_program_id,
        local_date=wednesday,
        action=REMOVE,
        schedule_workout_id=core_slot,
    )
    assert await workouts_today(session, ada, wednesday) == []

    # Wrong inputs: a slot of another day, a day outside the program, a workout the coach
    # cannot read, a forged assignment id.
    with pytest.raises(InvalidInput):
        await coaching.change_client_day(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=assigned.user_program_id,
            local_date=tuesday,
            action=REPLACE,
            workout_id=cardio.id,
            schedule_workout_id=core_slot,
        )
    for outside in (MONDAY - dt.timedelta(days=1), MONDAY + dt.timedelta(days=7)):
        with pytest.raises(InvalidInput):
            await coaching.change_client_day(
                session,
                coach_id=coach.id,
                relation_id=relation_id,
                user_program_id=assigned.user_program_id,
                local_date=outside,
                action=ADD,
                workout_id=cardio.id,
            )
    olga = await make_coach(session)
    secret = await make_workout(session, olga.id, "Secret", [SQUAT])
    with pytest.raises(NotAllowed):
        await coaching.change_client_day(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=assigned.user_program_id,
            local_date=tuesday,
            action=ADD,
            workout_id=secret.id,
        )
    with pytest.raises(NotAllowed):
        await coaching.change_client_day(
            session,
            coach_id=coach.id,
            relation_id=relation_id,
            user_program_id=plan.user_program_id,  # the coach's own run of the program
            local_date=tuesday,
            action=ADD,
            workout_id=cardio.id,
        )
    assert await workouts_today(session, ada, tuesday) == ["Cardio"]
