"""Training streaks: consecutive scheduled days trained, rest days that never break them, a
missed training day that does, one count per local day, local dates in Auckland and New York,
both DST changes in Paris and New York, the rule without a program, the display read, and the
row STREAK_AT_RISK reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.models.activity import ActivityStreak, ActivityType
from domain.models.user import User
from domain.services import reminders
from domain.services.streaks import (
    STREAK_ACTIVITY_TYPE,
    UNSCHEDULED_REST_DAYS,
    StreakState,
    current_streak,
    local_day,
    streak_alive_sql,
    update_streak,
)
from tests.conftest import DatabaseFactory, own_database, rolled_back_session
from tests.integration.test_records import S, log_session
from tests.integration.test_reminder_planning import (
    AUCKLAND,
    NEW_YORK,
    PARIS,
    give_program,
    local,
    new_user,
    planned,
)

MONDAY = dt.date(2032, 6, 14)
EVERY_DAY = {day: ["Gym"] for day in range(28)}


@pytest.fixture(scope="module")
async def streaks_engine(database_factory: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    async with own_database(database_factory, "mf_streaks") as engine:
        yield engine


@pytest.fixture
async def db(streaks_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(streaks_engine) as session:
        yield session


def on(offset: int, start: dt.date = MONDAY) -> dt.date:
    return start + dt.timedelta(days=offset)


async def train(
    db: AsyncSession, user: User, at: dt.datetime, *, count: bool = True
) -> StreakState | None:
    """A finished session started ``at``; counted in the streak (as finish_session does, on
    the local date of its start) unless ``count`` is false (an import, a late finish)."""
    await log_session(db, user, at, {"back_squat": [S(100, 5)]})
    if not count:
        return None
    return await update_streak(
        db, user.id, trained_on=local_day(at, user.timezone), timezone=user.timezone
    )


async def train_on(db: AsyncSession, user: User, day: dt.date, hour: int = 18) -> StreakState:
    state = await train(db, user, local(user.timezone, day, hour))
    assert state is not None
    return state


async def test_consecutive_training_days_build_the_streak(db: AsyncSession) -> None:
    ada = await new_user(db)
    await give_program(db, ada, MONDAY, EVERY_DAY, length=28)
    assert (await train_on(db, ada, on(0))).current == 1
    assert (await train_on(db, ada, on(1))).current == 2
    state = await train_on(db, ada, on(2))
    assert (state.current, state.longest, state.started_on, state.last_active_date) == (
        3,
        3,
        on(0),
        on(2),
    )
    row = (
        await db.execute(select(ActivityStreak).where(ActivityStreak.user_id == ada.id))
    ).scalar_one()
    code = await db.scalar(select(ActivityType.code).where(ActivityType.id == row.activity_type_id))
    assert code == STREAK_ACTIVITY_TYPE
    assert row.timezone == PARIS


async def test_rest_days_of_the_plan_never_break_it(db: AsyncSession) -> None:
    ada = await new_user(db)
    # Monday, Wednesday, Friday; the weekend and Tuesday/Thursday are rest; day 9 optional.
    await give_program(
        db,
        ada,
        MONDAY,
        {0: ["A"], 2: ["B"], 4: ["C"], 7: ["A"], 9: ["Walk"]},
        length=14,
        optional=[(9, "Walk")],
    )
    await train_on(db, ada, on(0))
    await train_on(db, ada, on(2))
    await train_on(db, ada, on(4))
    assert (await train_on(db, ada, on(7))).current == 4  # three rest days in between
    # Day 9 holds only optional work: a rest day too.
    assert (await train_on(db, ada, on(10))).current == 5


async def test_a_missed_scheduled_day_resets_to_one(db: AsyncSession) -> None:
    ada = await new_user(db)
    await give_program(db, ada, MONDAY, {0: ["A"], 1: ["B"], 2: ["C"], 3: ["D"]}, length=7)
    await train_on(db, ada, on(0))
    await train_on(db, ada, on(1))
    # Wednesday (a training day) missed.
    state = await train_on(db, ada, on(3))
    assert (state.current, state.longest, state.started_on) == (1, 2, on(3))
    assert not state.is_new_best


async def test_the_same_local_day_counts_once(db: AsyncSession) -> None:
    ada = await new_user(db)
    await give_program(db, ada, MONDAY, EVERY_DAY, length=28)
    await train_on(db, ada, on(0), hour=7)
    state = await train_on(db, ada, on(0), hour=19)
    assert (state.current, state.longest) == (1, 1)
    # An older day arriving late changes nothing either.
    await train_on(db, ada, on(1))
    assert (await train_on(db, ada, on(0), hour=21)).current == 2


async def test_late_evening_sessions_count_on_the_local_date(db: AsyncSession) -> None:
    york = await new_user(db, NEW_YORK, first_name="York")
    kiwi = await new_user(db, AUCKLAND, first_name="Kiwi")
    for user in (york, kiwi):
        await give_program(db, user, MONDAY, EVERY_DAY, length=28)
    # New York: Monday 23:30 is Tuesday 03:30 UTC; Tuesday 19:00 is Tuesday 23:00 UTC.
    monday_night = local(NEW_YORK, on(0), 23, 30)
    assert monday_night.date() == on(1)
    assert local_day(monday_night, NEW_YORK) == on(0)
    await train(db, york, monday_night)
    state = await train(db, york, local(NEW_YORK, on(1), 19))
    assert state is not None
    assert (state.current, state.started_on, state.last_active_date) == (2, on(0), on(1))
    # Auckland: Monday 23:30 and Tuesday 00:30 are both Monday in UTC.
    late, early = local(AUCKLAND, on(0), 23, 30), local(AUCKLAND, on(1), 0, 30)
    assert late.date() == early.date() == on(0)
    await train(db, kiwi, late)
    state = await train(db, kiwi, early)
    assert state is not None
    assert (state.current, state.last_active_date) == (2, on(1))


@pytest.mark.parametrize(
    ("zone", "change", "hour", "minute"),
    [
        (PARIS, dt.date(2026, 3, 29), 0, 30),  # 23-hour day: 00:30 is still 23:30 UTC before
        (PARIS, dt.date(2026, 10, 25), 0, 30),  # 25-hour day: 00:30 CEST is 22:30 UTC before
        (NEW_YORK, dt.date(2026, 3, 8), 23, 30),  # 23:30 EDT is 03:30 UTC the next day
        (NEW_YORK, dt.date(2026, 11, 1), 23, 30),  # 23:30 EST is 04:30 UTC the next day
    ],
)
async def test_across_a_dst_change_days_are_local_dates(
    db: AsyncSession, zone: str, change: dt.date, hour: int, minute: int
) -> None:
    ada = await new_user(db, zone)
    start = change - dt.timedelta(days=2)
    await give_program(db, ada, start, EVERY_DAY, length=28)
    # Daily sessions late in the evening across the change: one a local day.
    for offset in range(4):
        state = await train(db, ada, local(zone, on(offset, start), 23, 30))
        assert state is not None
    assert (state.current, state.started_on, state.last_active_date) == (4, start, on(3, start))

    # The DST day itself trained but not counted yet (an import): its local bounds (23 or 25
    # hours) find the session, so it bridges the gap instead of breaking the streak.
    other = await new_user(db, zone, first_name="Other")
    await give_program(db, other, start, EVERY_DAY, length=28)
    await train(db, other, local(zone, change - dt.timedelta(days=1), 18))
    await train(db, other, local(zone, change, hour, minute), count=False)
    state = await train(db, other, local(zone, change + dt.timedelta(days=1), 18))
    assert state is not None
    assert (state.current, state.started_on) == (3, change - dt.timedelta(days=1))


async def test_without_a_program_a_few_days_off_keep_the_streak(db: AsyncSession) -> None:
    ada = await new_user(db)
    await train_on(db, ada, on(0))
    # Three days off (Tue, Wed, Thu) keep it; a fourth breaks it.
    assert (await train_on(db, ada, on(UNSCHEDULED_REST_DAYS + 1))).current == 2
    state = await train_on(db, ada, on(UNSCHEDULED_REST_DAYS + 1 + UNSCHEDULED_REST_DAYS + 2))
    assert (state.current, state.longest) == (1, 2)


async def test_a_new_best_is_flagged_once_an_older_best_is_beaten(db: AsyncSession) -> None:
    ada = await new_user(db)
    await give_program(db, ada, MONDAY, EVERY_DAY, length=28)
    first = await train_on(db, ada, on(0))
    assert not first.is_new_best  # the first day ever is no "best" to celebrate
    await train_on(db, ada, on(1))
    await train_on(db, ada, on(3))  # day 2 missed: back to 1
    assert not (await train_on(db, ada, on(4))).is_new_best  # 2 ties the best
    state = await train_on(db, ada, on(5))
    assert (state.current, state.longest, state.is_new_best) == (3, 3, True)


async def test_current_streak_reads_zero_once_a_training_day_was_missed(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    assert await current_streak(db, ada.id, today=on(0)) is None
    await give_program(db, ada, MONDAY, {0: ["A"], 1: ["B"], 3: ["C"]}, length=7)
    await train_on(db, ada, on(0))
    await train_on(db, ada, on(1))
    # Wednesday is a rest day; Thursday (a training day) is still open on Thursday.
    for today in (on(1), on(2), on(3)):
        state = await current_streak(db, ada.id, today=today)
        assert state is not None
        assert state.current == 2
    # Friday: Thursday was missed.
    broken = await current_streak(db, ada.id, today=on(4))
    assert broken is not None
    assert (broken.current, broken.longest, broken.last_active_date) == (0, 2, on(1))


async def test_the_streak_row_is_what_streak_at_risk_reads(db: AsyncSession) -> None:
    ada = await new_user(db)
    await give_program(db, ada, MONDAY, EVERY_DAY, length=28)
    await train_on(db, ada, on(0))
    await train_on(db, ada, on(1))
    assert await reminders.plan_streaks_at_risk(db, local(PARIS, on(2), 17, 59)) >= 1
    [alert] = await planned(db, ada, "STREAK_AT_RISK")
    assert alert.variables["streak_days"] == 2


async def test_the_planner_reads_the_streak_rule_the_display_reads(db: AsyncSession) -> None:
    """``streak_alive_sql`` (set-based, the reminder planner) agrees with ``current_streak``
    day by day: rest days of a plan, a missed training day, unscheduled days off."""
    planned_user = await new_user(db, PARIS, first_name="Planned")
    # Trains Monday, Wednesday, Friday; the rest of each week is rest days of the plan.
    await give_program(db, planned_user, MONDAY, {d: ["Gym"] for d in (0, 2, 4, 7)}, length=14)
    free_user = await new_user(db, PARIS, first_name="Free")
    await train_on(db, planned_user, on(0))
    await train_on(db, free_user, on(0))
    alive = text(
        f"""SELECT {
            streak_alive_sql(
                "CAST(:user_id AS uuid)",
                "CAST(:last AS date)",
                "CAST(:today AS date)",
                "CAST(:tz AS text)",
            )
        }"""
    )
    seen: dict[tuple[str, int], bool] = {}
    for user in (planned_user, free_user):
        for offset in range(1, 9):
            shown = await current_streak(db, user.id, today=on(offset))
            assert shown is not None
            in_sql = await db.scalar(
                alive, {"user_id": user.id, "last": on(0), "today": on(offset), "tz": PARIS}
            )
            assert bool(in_sql) == (shown.current > 0), (user.first_name, offset)
            seen[(user.first_name, offset)] = bool(in_sql)
    # Rest day Tuesday, training day Wednesday still open, missed once Thursday comes.
    assert [seen[("Planned", d)] for d in (1, 2, 3)] == [True, True, False]
    # Without a program, three days off keep it; the fourth breaks it.
    assert [seen[("Free", d)] for d in (4, 5)] == [True, False]
