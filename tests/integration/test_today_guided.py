"""/today and the guided-session core against PostgreSQL: the day's workouts with overrides and
optional ones, rest days, a program not started or finished, no program; a workout flattened
into its steps (supersets, tempo, rest), access to it, the ± arithmetic, typed replies, the
rest ping rows."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed
from domain.models.enums import ExerciseMeasurement
from domain.models.notification import Notification, NotificationStatusCode
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.parsing import ParseError
from domain.services import guided
from domain.services.guided import (
    OneSetAtATime,
    adjust_load,
    adjust_reps,
    parse_set_reply,
    workout_plan,
)
from domain.services.strength import WeightUnit
from domain.services.today import DayKind, today
from domain.services.training_log import SetInput, log_sets, start_session
from tests.factories import (
    SetSpec,
    add_override,
    exercise_id,
    make_program,
    make_user,
    make_workout,
)

PARIS = "Europe/Paris"
# A Monday; 23:30 UTC is already Tuesday in Paris.
MONDAY = dt.date(2031, 3, 10)
NOON = dt.datetime(2031, 3, 10, 12, tzinfo=dt.UTC)


def at(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), tempo="3-1-1-0", rest=120)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)


# --------------------------------------------------------------------------------------------
# /today
# --------------------------------------------------------------------------------------------


async def test_a_training_day_lists_its_workouts_with_overrides_and_optional_ones(
    session: AsyncSession,
) -> None:
    user = await make_user(session, timezone=PARIS)
    legs = await make_workout(session, user.id, "Legs", [SQUAT, PLANK], estimated_seconds=3000)
    core = await make_workout(session, user.id, "Core", [PLANK])
    mobility = await make_workout(session, user.id, "Mobility", [PLANK])
    extra = await make_workout(session, user.id, "Extra", [PLANK])
    plan = await make_program(
        session,
        user,
        start=MONDAY,
        days={0: [legs, core], 2: [legs]},
        optional=[(0, core)],
        instance=True,
    )
    # Today: Core is replaced by Mobility (still optional: the override says so), Extra added.
    await add_override(
        session, plan, day=0, action="REPLACE", workout=mobility, replaces=core, optional=True
    )
    await add_override(session, plan, day=0, action="ADD", workout=extra, order_index=5)

    view = await today(session, user.id, now=NOON, timezone=PARIS)

    assert view.kind is DayKind.TRAINING
    assert view.local_date == MONDAY
    names = [(w.name, w.is_optional) for w in view.workouts]
    assert names == [("Legs", False), ("Extra", False), ("Mobility", True)]
    first = view.workouts[0]
    assert (first.set_count, first.exercise_count, first.estimated_seconds) == (5, 2, 3000)
    assert view.workouts[1].estimated_seconds is None
    assert not first.done
    assert not view.day_done

    # A session of Legs today marks it (and the day) done.
    await start_session(
        session,
        user.id,
        now=NOON,
        source=TrainingSessionSource.GUIDED,
        workout_id=legs.id,
        user_program_id=plan.user_program_id,
    )
    view = await today(session, user.id, now=NOON + dt.timedelta(hours=1), timezone=PARIS)
    assert [w.done for w in view.workouts] == [True, False, False]
    assert view.day_done


async def test_the_local_date_decides_the_day(session: AsyncSession) -> None:
    user = await make_user(session, timezone=PARIS)
    legs = await make_workout(session, user.id, "Legs", [SQUAT])
    await make_program(session, user, start=MONDAY, days={1: [legs]})
    # 23:30 UTC on Monday is Tuesday 00:30 in Paris: day 1.
    view = await today(
        session, user.id, now=at(MONDAY, 23) + dt.timedelta(minutes=30), timezone=PARIS
    )
    assert view.local_date == MONDAY + dt.timedelta(days=1)
    assert [w.name for w in view.workouts] == ["Legs"]
    assert view.workouts[0].day_number == 1


async def test_rest_day_names_the_next_training_day(session: AsyncSession) -> None:
    user = await make_user(session, timezone=PARIS)
    legs = await make_workout(session, user.id, "Legs", [SQUAT])
    core = await make_workout(session, user.id, "Core", [PLANK])
    await make_program(
        session, user, start=MONDAY, days={0: [legs], 2: [core], 4: [legs]}, optional=[(2, core)]
    )
    view = await today(session, user.id, now=at(MONDAY + dt.timedelta(days=1)), timezone=PARIS)
    assert view.kind is DayKind.REST
    assert view.workouts == ()
    # Wednesday's only workout is optional: the next training day is Friday.
    assert view.next_training == MONDAY + dt.timedelta(days=4)


async def test_program_not_started_finished_and_no_program(session: AsyncSession) -> None:
    user = await make_user(session)
    view = await today(session, user.id, now=NOON, timezone="UTC")
    assert view.kind is DayKind.NO_PROGRAM

    legs = await make_workout(session, user.id, "Legs", [SQUAT])
    await make_program(session, user, start=MONDAY + dt.timedelta(days=3), days={0: [legs]})
    view = await today(session, user.id, now=NOON, timezone="UTC")
    assert view.kind is DayKind.NOT_STARTED
    assert view.next_training == MONDAY + dt.timedelta(days=3)

    other = await make_user(session)
    short = await make_workout(session, other.id, "Short", [SQUAT])
    await make_program(session, other, start=MONDAY - dt.timedelta(days=14), days={0: [short]})
    view = await today(session, other.id, now=NOON, timezone="UTC")
    assert view.kind is DayKind.FINISHED
    assert view.program_titles  # the finished program is still named


# --------------------------------------------------------------------------------------------
# The plan of a workout
# --------------------------------------------------------------------------------------------


async def test_a_workout_flattens_into_steps_with_tempo_rest_and_supersets(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    superset = SetSpec(("pull_up", "push_up"), sets=2, reps=8, rest=90, rest_between=15)
    workout = await make_workout(session, user.id, "Mixed", [SQUAT, superset, PLANK])

    plan = await workout_plan(session, user.id, workout.id, locale="fr")

    assert len(plan) == 3 + 4 + 2
    assert [step.step for step in plan] == list(range(9))
    first = plan[0]
    assert first.exercise_name == "Squat arrière"
    assert (first.reps, first.load_kg, first.tempo, first.rest_seconds) == (
        5,
        Decimal("100.00"),
        "3-1-1-0",
        120,
    )
    assert (first.round, first.rounds, first.block, first.slot) == (1, 3, 0, 0)
    assert first.workout_set_id == workout.set_ids[0]
    pull, push = plan[3], plan[4]
    assert pull.exercise_id == await exercise_id(session, "pull_up")
    assert push.exercise_id == await exercise_id(session, "push_up")
    assert (pull.rest_seconds, push.rest_seconds) == (15, 90)  # inside a round, then after it
    assert (plan[5].slot, plan[5].round) == (0, 2)
    assert pull.is_bodyweight
    plank = plan[-1]
    assert plank.measurement is ExerciseMeasurement.DURATION
    assert plank.duration_seconds == 60
    assert plank.measurable
    assert plank.tempo is None


async def test_someone_elses_private_workout_is_refused(session: AsyncSession) -> None:
    owner = await make_user(session)
    stranger = await make_user(session)
    workout = await make_workout(session, owner.id, "Private", [SQUAT])
    with pytest.raises(NotAllowed):
        await workout_plan(session, stranger.id, workout.id)


async def test_someone_elses_session_is_refused(session: AsyncSession) -> None:
    owner = await make_user(session)
    stranger = await make_user(session)
    info = await start_session(session, owner.id, now=NOON, source=TrainingSessionSource.GUIDED)
    assert (await guided.own_session(session, owner.id, info.id)).id == info.id
    with pytest.raises(NotAllowed):
        await guided.own_session(session, stranger.id, info.id)


async def test_last_time_reads_the_previous_session_of_the_exercise(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    squat = await exercise_id(session, "back_squat")
    earlier = await start_session(
        session, user.id, now=NOON - dt.timedelta(days=3), source=TrainingSessionSource.FREE_TEXT
    )
    await log_sets(
        session,
        user.id,
        earlier.id,
        squat,
        [SetInput(reps=5, load_kg=Decimal("97.5"))] * 2,
        now=NOON - dt.timedelta(days=3),
    )
    row = await session.get(TrainingSession, earlier.id)
    assert row is not None
    row.finished_at = NOON - dt.timedelta(days=3, hours=-1)
    current = await start_session(session, user.id, now=NOON, source=TrainingSessionSource.GUIDED)
    await log_sets(
        session,
        user.id,
        current.id,
        squat,
        [SetInput(reps=5, load_kg=Decimal(100))],
        now=NOON,
    )
    sets = await guided.last_time(session, user.id, squat, session_id=current.id)
    assert [(one.reps, one.load_kg) for one in sets] == [(5, Decimal("97.50"))] * 2


# --------------------------------------------------------------------------------------------
# Pure arithmetic and typed replies
# --------------------------------------------------------------------------------------------


def test_adjustments_stay_in_range_and_on_the_units_grid() -> None:
    assert adjust_reps(5, +1) == 6
    assert adjust_reps(1, -1) == 1
    assert adjust_reps(100, +1) == 100
    assert adjust_load(Decimal(100), +1, WeightUnit.KG) == Decimal("102.5")
    assert adjust_load(Decimal(1), -1, WeightUnit.KG) == Decimal(0)
    assert adjust_load(None, +1, WeightUnit.KG) == Decimal("2.5")
    # 100 kg = 220.46 lb → on the 5 lb grid 220 → 225 lb.
    up = adjust_load(Decimal(100), +1, WeightUnit.LB)
    assert abs(up / Decimal("0.45359237") - 225) < Decimal("0.0001")


@pytest.mark.parametrize(
    ("typed", "reps", "load", "rpe"),
    [
        ("8", 8, None, None),
        ("8 @ 62.5", 8, Decimal("62.5"), None),
        ("8x62.5 rpe 9", 8, Decimal("62.5"), Decimal(9)),
        ("7 rpe 9", 7, None, Decimal(9)),
        ("6 @ 100", 6, Decimal(100), None),
        ("62.5x8", 8, Decimal("62.5"), None),
        ("8 reps", 8, None, None),
    ],
)
def test_a_typed_set_reads_with_the_exercise_known(
    typed: str, reps: int, load: Decimal | None, rpe: Decimal | None
) -> None:
    parsed = parse_set_reply(typed, unit=WeightUnit.KG)
    assert (parsed.reps, parsed.load, parsed.rpe) == (reps, load, rpe)


def test_a_typed_reply_in_pounds_and_refusals() -> None:
    parsed = parse_set_reply("5 @ 225", unit=WeightUnit.LB)
    assert (parsed.load, str(parsed.unit)) == (Decimal(225), "lb")
    with pytest.raises(OneSetAtATime):
        parse_set_reply("3x8", unit=WeightUnit.KG)
    with pytest.raises(OneSetAtATime):
        parse_set_reply("squat 5 reps", unit=WeightUnit.KG)
    with pytest.raises(ParseError):
        parse_set_reply("lots", unit=WeightUnit.KG)


# --------------------------------------------------------------------------------------------
# The rest ping
# --------------------------------------------------------------------------------------------


async def test_rest_pings_are_planned_once_and_cancelled_when_moving_on(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    info = await start_session(session, user.id, now=NOON, source=TrainingSessionSource.GUIDED)
    due = NOON + dt.timedelta(minutes=2)
    first = await guided.plan_rest_ping(
        session, user.id, info.id, step=0, due_at=due, exercise_name="Back Squat"
    )
    again = await guided.plan_rest_ping(
        session, user.id, info.id, step=0, due_at=due, exercise_name="Back Squat"
    )
    assert first is not None
    assert again is None
    second = await guided.plan_rest_ping(
        session, user.id, info.id, step=1, due_at=due, exercise_name="Back Squat"
    )
    rows = {
        row.id: row.status
        for row in (
            await session.scalars(select(Notification).where(Notification.user_id == user.id))
        ).all()
    }
    assert rows[first] == NotificationStatusCode.CANCELLED
    assert second is not None
    assert rows[second] == NotificationStatusCode.PENDING
    assert await guided.cancel_rest_pings(session, user.id, info.id) == 1
    assert await guided.cancel_rest_pings(session, user.id, uuid.uuid4()) == 0
