"""The scheduler on a database of this module's own (its ticks commit): leadership by advisory
lock, two schedulers on two engines planning each reminder once, planners racing without
leadership, failures isolated per type, the daily ticks, and ticks fired by APScheduler.

Each test uses dates and users of its own: the planners read every user of the database."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.scheduler import Scheduler
from domain.db import create_engine, session_factory
from domain.models.error import Error
from domain.models.notification import Notification, NotificationAnalytics
from domain.models.telegram import ProcessedUpdate
from domain.services import reminders
from tests.conftest import DatabaseFactory, migrated_seeded_database
from tests.integration.test_reminder_planning import (
    PARIS,
    give_program,
    local,
    new_user,
)

UTC = dt.UTC


@pytest.fixture(scope="module")
async def scheduler_url(database_factory: DatabaseFactory) -> AsyncIterator[URL]:
    url = await migrated_seeded_database(database_factory, "mf_sched")
    yield url
    await database_factory.drop(url)


@pytest.fixture
async def engines(scheduler_url: URL) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """Two engines on the database: two processes, as far as PostgreSQL can tell."""
    first, second = create_engine(scheduler_url), create_engine(scheduler_url)
    yield first, second
    await first.dispose()
    await second.dispose()


@pytest.fixture
def lock_key() -> int:
    """A lock of the test's own, so tests never compete with each other for leadership."""
    return uuid.uuid4().int % 2**62


def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


async def athletes_due(
    engine: AsyncEngine, day: dt.date, count: int, reminder_time: str = "07:30"
) -> list[uuid.UUID]:
    """``count`` Paris athletes with a workout on ``day`` and a reminder at ``reminder_time``,
    committed."""
    ids = []
    async with factory(engine)() as session, session.begin():
        for index in range(count):
            user = await new_user(
                session, PARIS, first_name=f"Athlete{index}", reminder_time=reminder_time
            )
            await give_program(session, user, day, {0: ["Legs"]})
            ids.append(user.id)
    return ids


async def planned_per_user(engine: AsyncEngine, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    async with factory(engine)() as session:
        rows = await session.execute(
            select(Notification.user_id, func.count())
            .where(Notification.user_id.in_(user_ids))
            .group_by(Notification.user_id)
        )
        return {user_id: int(count) for user_id, count in rows.all()}


# --------------------------------------------------------------------------------------------
# Leadership
# --------------------------------------------------------------------------------------------


async def test_one_leader_at_a_time_and_the_other_takes_over(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    first = Scheduler(factory(engines[0]), lock_key=lock_key)
    second = Scheduler(factory(engines[1]), lock_key=lock_key)
    try:
        assert await first.try_lead()
        assert not await second.try_lead()
        assert await first.try_lead()  # still leading: the lock is held, not taken again
        assert await second.tick_planning(dt.datetime(2033, 1, 3, tzinfo=UTC)) is None
        await first.resign()
        assert not first.is_leader
        assert await second.try_lead()
        assert not await first.try_lead()
    finally:
        await first.resign()
        await second.resign()


async def test_a_leader_whose_connection_dies_loses_the_lead(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    first = Scheduler(factory(engines[0]), lock_key=lock_key)
    second = Scheduler(factory(engines[1]), lock_key=lock_key)
    try:
        assert await first.try_lead()
        async with engines[1].connect() as admin:
            holder = await admin.scalar(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": lock_key},
            )
            assert holder is not None
            await admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
            await admin.commit()
            # Termination is asynchronous: wait (bounded) until the backend is gone.
            for _ in range(200):
                alive = await admin.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": holder},
                )
                await admin.commit()
                if not alive:
                    break
                await asyncio.sleep(0.05)
        # The server released the lock with the session: the other process takes it, and the
        # old leader notices at its next tick.
        assert await second.try_lead()
        assert not await first.try_lead()
        assert not first.is_leader
    finally:
        await first.resign()
        await second.resign()


# --------------------------------------------------------------------------------------------
# Each reminder once
# --------------------------------------------------------------------------------------------


async def test_two_schedulers_at_once_plan_each_reminder_once(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    day = dt.date(2033, 1, 10)
    athletes = await athletes_due(engines[0], day, 12)
    first = Scheduler(factory(engines[0]), lock_key=lock_key)
    second = Scheduler(factory(engines[1]), lock_key=lock_key)
    try:
        now = local(PARIS, day, 7, 29)
        results = await asyncio.gather(first.tick_planning(now), second.tick_planning(now))
        led = [result for result in results if result is not None]
        assert len(led) == 1  # the other did not lead
        assert led[0]["WORKOUT_REMINDER"] == 12
        # Every tick of the following minutes, by whichever leads: nothing more.
        for minute in range(1, 4):
            later = now + dt.timedelta(minutes=minute)
            await asyncio.gather(first.tick_planning(later), second.tick_planning(later))
        assert await planned_per_user(engines[0], athletes) == dict.fromkeys(athletes, 1)
    finally:
        await first.resign()
        await second.resign()


async def test_planners_racing_without_leadership_still_plan_once(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """The dedupe key alone keeps reminders single: a planner whose rows conflict with an
    uncommitted plan waits for it, then inserts nothing."""
    day = dt.date(2033, 2, 7)
    athletes = await athletes_due(engines[0], day, 8)
    now = local(PARIS, day, 7, 29)
    async with factory(engines[0])() as one, factory(engines[1])() as two:
        await one.begin()
        await two.begin()
        first = await reminders.plan_workout_reminders(one, now)
        racing = asyncio.create_task(reminders.plan_workout_reminders(two, now))
        await asyncio.sleep(0)  # let the second statement reach the server
        await one.commit()
        second = await racing
        await two.commit()
    assert (first, second) == (8, 0)
    assert await planned_per_user(engines[0], athletes) == dict.fromkeys(athletes, 1)

    # Both at once, neither committed first: still one each.
    day = dt.date(2033, 2, 14)
    others = await athletes_due(engines[0], day, 8)
    now = local(PARIS, day, 7, 29)

    async def plan(engine: AsyncEngine) -> int:
        async with factory(engine)() as session, session.begin():
            return await reminders.plan_workout_reminders(session, now)

    counts = await asyncio.gather(plan(engines[0]), plan(engines[1]))
    assert sum(counts) == 8
    assert await planned_per_user(engines[0], others) == dict.fromkeys(others, 1)


async def test_a_failing_planner_does_not_stop_the_others_and_is_recorded(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    day = dt.date(2033, 3, 8)
    athletes = await athletes_due(engines[0], day, 2)
    name = f"BROKEN_{uuid.uuid4().hex[:8]}"

    async def failing(session: AsyncSession, now: dt.datetime) -> int:
        await session.execute(text("SELECT 1"))
        raise RuntimeError("planner exploded")

    scheduler = Scheduler(
        factory(engines[0]),
        lock_key=lock_key,
        planners=((name, failing), ("WORKOUT_REMINDER", reminders.plan_workout_reminders)),
    )
    try:
        result = await scheduler.tick_planning(local(PARIS, day, 7, 29))
    finally:
        await scheduler.resign()
    assert result == {"WORKOUT_REMINDER": 2}
    assert await planned_per_user(engines[0], athletes) == dict.fromkeys(athletes, 1)
    async with factory(engines[0])() as session:
        recorded = await session.scalar(
            select(Error.error_message).where(
                Error.source_component == f"bot.scheduler:planning:{name}"
            )
        )
    assert recorded == "RuntimeError: planner exploded"


# --------------------------------------------------------------------------------------------
# Delivery and the daily ticks
# --------------------------------------------------------------------------------------------


async def test_delivery_runs_only_on_the_leader_with_the_tick_clock(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    seen: list[dt.datetime] = []

    async def deliver(now: dt.datetime) -> int:
        seen.append(now)
        return 3

    moment = dt.datetime(2033, 4, 1, 12, tzinfo=UTC)
    leader = Scheduler(factory(engines[0]), deliver=deliver, lock_key=lock_key)
    follower = Scheduler(factory(engines[1]), deliver=deliver, lock_key=lock_key)
    try:
        assert await leader.tick_delivery(moment) == 3
        assert await follower.tick_delivery(moment) is None
        assert seen == [moment]
        # Without a sender the tick does nothing.
        assert await Scheduler(factory(engines[0]), lock_key=lock_key).tick_delivery(moment) is None
    finally:
        await leader.resign()
        await follower.resign()


async def test_rollups_and_retention_ticks(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    day = dt.date(2033, 5, 3)
    await athletes_due(engines[0], day, 1)
    scheduler = Scheduler(factory(engines[0]), lock_key=lock_key)
    stale = uuid.uuid4().int % 2**40
    async with factory(engines[0])() as session, session.begin():
        session.add(
            ProcessedUpdate(
                bot_id=stale, update_id=1, processed_at=dt.datetime(2033, 4, 1, tzinfo=UTC)
            )
        )
    try:
        await scheduler.tick_planning(local(PARIS, day, 7, 29))
        rollups = await scheduler.tick_rollups(dt.datetime(2033, 5, 4, 0, 20, tzinfo=UTC))
        retention = await scheduler.tick_retention(dt.datetime(2033, 5, 4, 3, tzinfo=UTC))
        digests = await scheduler.tick_digests(dt.datetime(2033, 5, 4, 0, 10, tzinfo=UTC))
    finally:
        await scheduler.resign()
    assert rollups is not None
    assert set(rollups) == {
        "notification_analytics",
        "error_trend",
        "event_analytics",
        "favorite_trend",
        "rating_summary",
    }
    assert retention is not None
    assert set(retention) == {"audit", "outbox", "processed_updates"}
    assert retention["processed_updates"] >= 1
    assert digests == 0
    async with factory(engines[0])() as session:
        analytics = await session.scalar(
            select(func.count())
            .select_from(NotificationAnalytics)
            .where(NotificationAnalytics.analytics_date == day)
        )
        assert analytics is not None
        assert analytics >= 7  # one row per notification type, zeros included
        assert (
            await session.scalar(
                select(ProcessedUpdate.update_id).where(ProcessedUpdate.bot_id == stale)
            )
            is None
        )


async def test_apscheduler_fires_the_ticks_and_stop_gives_the_lead_up(
    engines: tuple[AsyncEngine, AsyncEngine], lock_key: int
) -> None:
    day = dt.date(2033, 6, 14)
    athletes = await athletes_due(engines[0], day, 3)
    delivered = asyncio.Event()

    async def deliver(now: dt.datetime) -> int:
        assert now == clock_value
        delivered.set()
        return 0

    clock_value = local(PARIS, day, 7, 29)
    scheduler = Scheduler(
        factory(engines[0]),
        deliver=deliver,
        clock=lambda: clock_value,
        lock_key=lock_key,
        planning_interval=dt.timedelta(seconds=1),
        delivery_interval=dt.timedelta(seconds=1),
    )
    await scheduler.start()
    try:
        assert set(scheduler.job_ids) >= {"planning", "delivery", "digests", "rollups", "retention"}
        await asyncio.wait_for(delivered.wait(), timeout=30)
        await wait_until(lambda: planned_in(engines[0], athletes))
    finally:
        await scheduler.stop()
    assert not scheduler.is_leader
    assert scheduler.job_ids == []
    other = Scheduler(factory(engines[1]), lock_key=lock_key)
    try:
        assert await other.try_lead()
    finally:
        await other.resign()
    assert await planned_per_user(engines[0], athletes) == dict.fromkeys(athletes, 1)


async def planned_in(engine: AsyncEngine, user_ids: list[uuid.UUID]) -> bool:
    return len(await planned_per_user(engine, user_ids)) == len(user_ids)


async def wait_until(condition: Callable[[], Awaitable[bool]], attempts: int = 300) -> None:
    """Poll ``condition`` every 0.1 s until it holds (a bound on waiting, not a timing
    assertion)."""
    for _ in range(attempts):
        if await condition():
            return
        await asyncio.sleep(0.1)
    pytest.fail("the condition never held")


async def test_the_scheduler_needs_an_engine(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    unbound: async_sessionmaker[AsyncSession] = async_sessionmaker()
    with pytest.raises(ValueError, match="engine"):
        Scheduler(unbound)
    assert not Scheduler(unbound, engine=engines[0]).is_leader
