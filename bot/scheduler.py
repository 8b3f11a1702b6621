"""The scheduler: a few periodic ticks (APScheduler 3.11, AsyncIOScheduler), one leader.

Ticks, each a set-based unit of work (never a job per user):

* planning, every minute: every planner of ``domain.services.reminders.PLANNERS``, each in a
  transaction of its own (one failing type does not stop the others);
* delivery, every few seconds: the injected ``deliver(now)`` (the sender claims due
  notifications with ``FOR UPDATE SKIP LOCKED``);
* digests, daily: ``refresh_activity_digests`` completes the ACTIVITY_DIGEST rows of periods
  that ended after their digest was sent (the digests themselves are planned every minute, at
  each user's local time);
* rollups, daily: notification analytics, error trend, event analytics, favorite trend and
  rating summary for yesterday (UTC);
* sessions, every few minutes: training sessions nobody finished are closed
  (``domain.services.training_log.finish_idle_sessions``: records, streak, activity);
* retention, daily: audit and event purge, delivered outbox messages, processed updates.

Leadership: a PostgreSQL session-level advisory lock (``pg_try_advisory_lock``) taken on a
connection of its own, held as long as this process leads. Every tick first makes sure it
still leads (a ``SELECT 1`` on that connection) or tries to become the leader; a process that
does not lead skips the tick. So two running processes never plan or send the same work —
and if they did, the dedupe keys and ``SKIP LOCKED`` would still keep each reminder single.
When the leader stops or dies, its connection closes, the lock goes with it, and another
process takes over at its next tick.

State lives only in the tables (NOTIFICATION, NOTIFICATION_DELIVERY, NOTIFICATION_BATCH, the
outbox): a restart loses nothing. The planning window looks back (see
``domain.services.reminders``), and the daily ticks are idempotent and run once shortly after
start, so a restart across their hour does not skip a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from domain.services import (
    audit,
    errors,
    favorites,
    notifications,
    outbox,
    ratings,
    reminders,
    training_log,
)
from domain.services.updates import purge_processed_updates

if TYPE_CHECKING:
    from domain.config import Settings

logger = logging.getLogger(__name__)

Deliver = Callable[[dt.datetime], Awaitable[int]]
Clock = Callable[[], dt.datetime]
Step = Callable[[AsyncSession, dt.datetime], Awaitable[int]]

# The advisory lock every MōtriForge scheduler competes for ("MotriFo" in ASCII).
LEADER_LOCK_KEY = 0x4D6F747269466F
PLANNING_INTERVAL = dt.timedelta(minutes=1)
DELIVERY_INTERVAL = dt.timedelta(seconds=5)
SESSIONS_INTERVAL = dt.timedelta(minutes=5)
# Delivered outbox messages are kept this long for inspection, then purged.
OUTBOX_RETENTION = dt.timedelta(days=7)
# Daily ticks (UTC), spread so they do not compete; each also runs once after start.
DIGESTS_AT = dt.time(0, 10)
ROLLUPS_AT = dt.time(0, 20)
RETENTION_AT = dt.time(3, 0)
STARTUP_DELAY = dt.timedelta(seconds=10)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rollup_steps(day: dt.date) -> dict[str, Step]:
    async def ratings_rollup(session: AsyncSession, _now: dt.datetime) -> int:
        done = await ratings.rollup_rating_summary(session, day)
        return done.summaries_written + done.trends_written

    return {
        "notification_analytics": lambda s, _n: notifications.rollup_notification_analytics(s, day),
        "error_trend": lambda s, _n: errors.rollup_error_trend(s, day),
        "event_analytics": lambda s, _n: audit.rollup_event_analytics(s, day),
        "favorite_trend": lambda s, _n: favorites.rollup_favorite_trend(s, day),
        "rating_summary": ratings_rollup,
    }


async def _finish_idle_sessions(session: AsyncSession, now: dt.datetime) -> int:
    return len(await training_log.finish_idle_sessions(session, now))


async def _audit_purge(session: AsyncSession, now: dt.datetime) -> int:
    return (await audit.purge_expired(session, now)).total


RETENTION_STEPS: Mapping[str, Step] = {
    "audit": _audit_purge,
    "outbox": lambda session, now: outbox.purge_completed(session, now - OUTBOX_RETENTION),
    "processed_updates": purge_processed_updates,
}


class Scheduler:
    """Periodic ticks with PostgreSQL leadership. ``start()``/``stop()`` (or ``async with``)
    run them on APScheduler; the ``tick_*`` methods are the ticks themselves, callable with an
    explicit ``now`` (tests, one-off runs). A tick returns None when this process does not
    lead."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        deliver: Deliver | None = None,
        clock: Clock = utc_now,
        engine: AsyncEngine | None = None,
        planning_interval: dt.timedelta = PLANNING_INTERVAL,
        delivery_interval: dt.timedelta = DELIVERY_INTERVAL,
        lock_key: int = LEADER_LOCK_KEY,
        planners: tuple[tuple[str, reminders.Planner], ...] = reminders.PLANNERS,
    ) -> None:
        bound = engine if engine is not None else session_factory.kw.get("bind")
        if not isinstance(bound, AsyncEngine):
            raise ValueError("the session factory is not bound to an engine; pass engine=")
        self._sessions = session_factory
        self._engine = bound
        self._deliver = deliver
        self._clock = clock
        self._planning_interval = planning_interval
        self._delivery_interval = delivery_interval
        self._lock_key = lock_key
        self._planners = planners
        self._leader: AsyncConnection | None = None
        self._leading = asyncio.Lock()
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[Any]] = set()

    # ----------------------------------------------------------------------------------------
    # Leadership
    # ----------------------------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        return self._leader is not None

    async def try_lead(self) -> bool:
        """True when this process leads: it held the lock and its connection still answers,
        or it has just taken the lock. Never raises for a database that is down."""
        async with self._leading:
            if self._leader is not None:
                try:
                    await self._leader.execute(text("SELECT 1"))
                except Exception:  # the connection died: the server released the lock
                    logger.warning("scheduler: lost the leader connection", exc_info=True)
                    await self._drop_leader_connection()
                else:
                    return True
            connection: AsyncConnection | None = None
            try:
                connection = await self._engine.connect()
                # Autocommit: the lock belongs to the session, no transaction stays open.
                await connection.execution_options(isolation_level="AUTOCOMMIT")
                acquired = await connection.scalar(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self._lock_key}
                )
            except Exception:
                logger.warning("scheduler: could not try the leader lock", exc_info=True)
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.invalidate()
                        await connection.close()
                return False
            if not acquired:
                await connection.close()
                return False
            self._leader = connection
            logger.info("scheduler: this process leads (advisory lock %#x)", self._lock_key)
            return True

    async def resign(self) -> None:
        """Give the lock up (another process may lead from its next tick)."""
        async with self._leading:
            if self._leader is not None:
                with contextlib.suppress(Exception):
                    await self._leader.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": self._lock_key}
                    )
                await self._drop_leader_connection()
                logger.info("scheduler: resigned")

    async def _drop_leader_connection(self) -> None:
        connection, self._leader = self._leader, None
        if connection is not None:
            # Invalidated, not returned to the pool: a pooled session must never hold the lock.
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    # ----------------------------------------------------------------------------------------
    # Ticks
    # ----------------------------------------------------------------------------------------

    def _now(self, now: dt.datetime | None) -> dt.datetime:
        moment = now if now is not None else self._clock()
        if moment.tzinfo is None:
            raise ValueError("the scheduler's clock must give aware datetimes")
        return moment

    async def _step(self, tick: str, name: str, step: Step, now: dt.datetime) -> int | None:
        """One unit of work in a transaction of its own; a failure is logged and recorded as
        an error, and the tick goes on with its next step."""
        try:
            async with self._sessions() as session, session.begin():
                return await step(session, now)
        except Exception as error:
            logger.exception("scheduler: %s/%s failed", tick, name)
            with contextlib.suppress(Exception):
                await errors.record_error_in_new_transaction(
                    self._sessions,
                    code="UNHANDLED_EXCEPTION",
                    source=f"bot.scheduler:{tick}:{name}",
                    message=f"{type(error).__name__}: {error}",
                    trace=traceback.format_exc(),
                    context={"now": now.isoformat()},
                    now=now,
                )
            return None

    async def _steps(
        self, tick: str, steps: Mapping[str, Step], now: dt.datetime
    ) -> dict[str, int] | None:
        if not await self.try_lead():
            return None
        done: dict[str, int] = {}
        for name, step in steps.items():
            count = await self._step(tick, name, step, now)
            if count is not None:
                done[name] = count
        return done

    async def tick_planning(self, now: dt.datetime | None = None) -> dict[str, int] | None:
        """Plan every type; notifications planned by type code (a failed type is absent)."""
        moment = self._now(now)
        planned = await self._steps("planning", dict(self._planners), moment)
        if planned and any(planned.values()):
            logger.info("scheduler: planned %s", {k: v for k, v in planned.items() if v})
        return planned

    async def tick_delivery(self, now: dt.datetime | None = None) -> int | None:
        """Send what is due (the injected ``deliver``); how many it handled."""
        if self._deliver is None or not await self.try_lead():
            return None
        moment = self._now(now)
        try:
            return await self._deliver(moment)
        except Exception:
            # The sender records its own failures; this only keeps the tick alive.
            logger.exception("scheduler: delivery failed")
            return None

    async def tick_digests(self, now: dt.datetime | None = None) -> int | None:
        done = await self._steps(
            "digests", {"refresh": reminders.refresh_activity_digests}, self._now(now)
        )
        return None if done is None else done.get("refresh", 0)

    async def tick_sessions(self, now: dt.datetime | None = None) -> int | None:
        """Finish the training sessions left open; how many were finished."""
        done = await self._steps("sessions", {"finish_idle": _finish_idle_sessions}, self._now(now))
        return None if done is None else done.get("finish_idle", 0)

    async def tick_rollups(self, now: dt.datetime | None = None) -> dict[str, int] | None:
        """Roll yesterday (UTC) up."""
        moment = self._now(now)
        yesterday = (moment.astimezone(dt.UTC) - dt.timedelta(days=1)).date()
        return await self._steps("rollups", _rollup_steps(yesterday), moment)

    async def tick_retention(self, now: dt.datetime | None = None) -> dict[str, int] | None:
        return await self._steps("retention", RETENTION_STEPS, self._now(now))

    # ----------------------------------------------------------------------------------------
    # Running on APScheduler
    # ----------------------------------------------------------------------------------------

    def _job(self, tick: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await tick()
            except Exception:  # never let a tick kill the job
                logger.exception("scheduler: tick failed")
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    @property
    def job_ids(self) -> list[str]:
        return [] if self._aps is None else sorted(job.id for job in self._aps.get_jobs())

    async def start(self) -> None:
        """Register the ticks and start firing them (in the running event loop)."""
        if self._aps is not None:
            return
        # APScheduler logs every run at INFO: a line every 5 s. Our ticks log what they did.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        aps = AsyncIOScheduler(timezone=dt.UTC)
        # APScheduler fires on the wall clock; the injected clock only dates the ticks' work.
        now = utc_now()
        # The first planning tick on a minute boundary: reminders are due on minutes.
        next_minute = now.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        first_run = next_minute if self._planning_interval == PLANNING_INTERVAL else now
        every = {"coalesce": True, "max_instances": 1}
        aps.add_job(
            self._job(self.tick_planning),
            IntervalTrigger(seconds=self._planning_interval.total_seconds(), timezone=dt.UTC),
            id="planning",
            name="planning",
            next_run_time=first_run,
            misfire_grace_time=int(self._planning_interval.total_seconds()) or 1,
            **every,
        )
        if self._deliver is not None:
            aps.add_job(
                self._job(self.tick_delivery),
                IntervalTrigger(seconds=self._delivery_interval.total_seconds(), timezone=dt.UTC),
                id="delivery",
                name="delivery",
                next_run_time=now,
                misfire_grace_time=int(self._delivery_interval.total_seconds()) or 1,
                **every,
            )
        aps.add_job(
            self._job(self.tick_sessions),
            IntervalTrigger(seconds=SESSIONS_INTERVAL.total_seconds(), timezone=dt.UTC),
            id="sessions",
            name="sessions",
            next_run_time=now + STARTUP_DELAY,
            misfire_grace_time=int(SESSIONS_INTERVAL.total_seconds()),
            **every,
        )
        startup = now + STARTUP_DELAY
        for job_id, tick, at in (
            ("digests", self.tick_digests, DIGESTS_AT),
            ("rollups", self.tick_rollups, ROLLUPS_AT),
            ("retention", self.tick_retention, RETENTION_AT),
        ):
            aps.add_job(
                self._job(tick),
                CronTrigger(hour=at.hour, minute=at.minute, timezone=dt.UTC),
                id=job_id,
                name=job_id,
                misfire_grace_time=3600,
                **every,
            )
            # Idempotent: once after start too, so a restart across their hour skips nothing.
            aps.add_job(
                self._job(tick),
                "date",
                run_date=startup,
                id=f"{job_id}_at_start",
                name=f"{job_id} (at start)",
                misfire_grace_time=3600,
            )
        aps.start()
        self._aps = aps

    async def stop(self) -> None:
        """Stop firing, let running ticks finish, give the lock up."""
        aps, self._aps = self._aps, None
        if aps is not None:
            aps.shutdown(wait=False)
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        await self.resign()

    async def __aenter__(self) -> Scheduler:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback_: TracebackType | None,
    ) -> None:
        await self.stop()


async def run_scheduler(
    settings: Settings,
    stop_event: asyncio.Event,
    *,
    make_deliver: Callable[[async_sessionmaker[AsyncSession]], Deliver | None] | None = None,
) -> None:
    """The standalone ``motriforge scheduler`` process: the ticks until ``stop_event`` is set.
    ``make_deliver`` builds the sender's ``deliver`` from the session factory (None: this
    process plans but does not send)."""
    from bot.runtime import app_database

    async with app_database(settings) as factory:
        deliver = make_deliver(factory) if make_deliver is not None else None
        async with Scheduler(factory, deliver=deliver):
            await stop_event.wait()
