"""Training streaks: how many training days in a row a user kept their plan.

One ACTIVITY_STREAK row per user, under the WORKOUT_COMPLETED activity type, counts every
training session (WORKOUT_COMPLETED and FREE_LOG alike: reminders read the streak of either
type, see reminders.TRAINING_ACTIVITY_TYPES). Its dates are local dates in the user's zone.

The rule (docs/decisions.md §15):

* ``current_length`` counts *days trained* (two sessions on one local day count once); the
  local day of a session is the local date of its start, so 23:30 in Auckland is that evening
  even though UTC is already on the next date. Day arithmetic is on local dates, never on
  24-hour spans, so DST changes do not move days; a day's bounds in SQL are
  ``local midnight AT TIME ZONE zone`` (23 or 25 hours long on DST days).
* Between the last day trained and today, each day is either
  - a day of an active program's schedule (between its day 0 and its length): a scheduled
    training day (a non-optional workout, schedule_day.training_day_sql) not trained breaks the
    streak; a rest day (nothing, or only optional work, scheduled) never does;
  - a day no active program covers (no program, or before/after it): up to
    ``UNSCHEDULED_REST_DAYS`` such days in a row without training are rest; one more breaks
    the streak (Hevy counts weeks for this reason; a day count with a 3-day allowance keeps
    two or three sessions a week on fixed days alive).
  A day in the gap with a finished training session counts as trained (a session finished
  out of order, an import).
* A broken streak restarts at 1 on the day trained. ``longest_length`` keeps the best.
"""

# SQL here is pasted together from this package's constants (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.models.activity import ActivityStreak, ActivityType
from domain.services.schedule_day import training_day_sql

STREAK_ACTIVITY_TYPE = "WORKOUT_COMPLETED"  # the one training streak (counts FREE_LOG too)
UNSCHEDULED_REST_DAYS = 3
# A gap longer than this is broken without looking day by day (no schedule rests a year).
MAX_GAP_DAYS = 366


@dataclass(frozen=True, slots=True)
class StreakState:
    current: int  # training days in the running streak; 0 once broken
    longest: int
    last_active_date: dt.date | None
    started_on: dt.date | None
    is_new_best: bool = False  # this update beat an earlier best (never on the first day)


def local_day(moment: dt.datetime, timezone: str) -> dt.date:
    """The local date of an instant in ``timezone`` (unknown zones read as UTC)."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return moment.astimezone(zone).date()


def _covered_sql(user_id: str, local_date: str) -> str:
    """A boolean: an active assignment's schedule covers ``local_date`` (day 0 to its length),
    through a schedule instance or the program's only schedule (as schedule_day reads it)."""
    return f"""EXISTS (
        SELECT 1 FROM user_program AS up
        JOIN user_program_schedule_map AS m ON m.user_program_id = up.id
        JOIN program_schedule AS ps ON ps.id = m.program_schedule_id
        WHERE up.user_id = {user_id} AND up.is_active
          AND ({local_date}) >= m.scheduled_date
          AND ({local_date}) < m.scheduled_date + ps.schedule_length_days
        UNION ALL
        SELECT 1 FROM user_program AS up
        JOIN program_schedule AS ps ON ps.program_id = up.program_id
        WHERE up.user_id = {user_id} AND up.is_active
          AND NOT EXISTS (
              SELECT 1 FROM user_program_schedule_map AS m WHERE m.user_program_id = up.id)
          AND (SELECT count(*) FROM program_schedule AS p WHERE p.program_id = up.program_id) = 1
          AND ({local_date}) >= up.start_date
          AND ({local_date}) < up.start_date + ps.schedule_length_days)"""


_DAY = "CAST(g.day AS date)"


def _gap_days_sql(user_id: str, first: str, last: str, timezone: str) -> str:
    """One row per local date from ``first`` to ``last``: ``day, covered, training_day,
    trained`` — what the streak rule reads of each day of a gap."""
    return f"""
SELECT {_DAY} AS day,
       {_covered_sql(user_id, _DAY)} AS covered,
       {training_day_sql(user_id, _DAY)} AS training_day,
       EXISTS (
           SELECT 1 FROM training_session AS ts
           WHERE ts.user_id = {user_id} AND ts.finished_at IS NOT NULL
             AND ts.started_at >= (CAST({_DAY} AS timestamp) AT TIME ZONE {timezone})
             AND ts.started_at < (CAST({_DAY} + 1 AS timestamp) AT TIME ZONE {timezone})
       ) AS trained
FROM generate_series(CAST({first} AS date), CAST({last} AS date), interval '1 day') AS g(day)
"""


_GAP_SQL = (
    _gap_days_sql("CAST(:user_id AS uuid)", ":first", ":last", "CAST(:tz AS text)") + "ORDER BY 1"
)


def streak_alive_sql(user_id: str, last_active: str, local_date: str, timezone: str) -> str:
    """A boolean: a streak whose last day trained is ``last_active`` is still running on
    ``local_date`` (today still open) — the rule of ``_gap`` as one expression, for the
    set-based reminder planner. Arguments are SQL expressions of the enclosing statement."""
    gap = _gap_days_sql(user_id, f"({last_active}) + 1", f"({local_date}) - 1", timezone)
    return f"""(({local_date}) - ({last_active}) <= {MAX_GAP_DAYS} + 1 AND NOT EXISTS (
    SELECT 1 FROM (
        SELECT d.covered AND d.training_day AND NOT d.trained AS missed,
               sum(CASE WHEN NOT d.covered AND NOT d.trained THEN 1 ELSE 0 END) OVER (
                   ORDER BY d.day ROWS BETWEEN {UNSCHEDULED_REST_DAYS} PRECEDING AND CURRENT ROW
               ) AS unscheduled_run
        FROM ({gap}) AS d
    ) AS run
    WHERE run.missed OR run.unscheduled_run > {UNSCHEDULED_REST_DAYS}))"""


async def _gap(
    session: AsyncSession, user_id: uuid.UUID, after: dt.date, before: dt.date, timezone: str
) -> int | None:
    """Days strictly between ``after`` and ``before``: None when they break the streak, else
    how many of them were trained (they join the streak)."""
    days = (before - after).days - 1
    if days <= 0:
        return 0
    if days > MAX_GAP_DAYS:
        return None
    rows = await session.execute(
        text(_GAP_SQL),
        {
            "user_id": user_id,
            "tz": timezone,
            "first": after + dt.timedelta(days=1),
            "last": before - dt.timedelta(days=1),
        },
    )
    trained = 0
    unscheduled_run = 0
    for row in rows:
        if row.trained:
            trained += 1
            unscheduled_run = 0
        elif row.covered:
            if row.training_day:
                return None  # a scheduled training day missed
            unscheduled_run = 0  # a rest day of the plan
        else:
            unscheduled_run += 1
            if unscheduled_run > UNSCHEDULED_REST_DAYS:
                return None
    return trained


async def _streak_type_id(session: AsyncSession) -> uuid.UUID:
    type_id = await session.scalar(
        select(ActivityType.id).where(ActivityType.code == STREAK_ACTIVITY_TYPE)
    )
    if type_id is None:
        raise NotFound(f"no {STREAK_ACTIVITY_TYPE} activity type; run `motriforge seed`")
    return type_id


def _zone_name(timezone: str) -> str:
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return timezone


async def update_streak(
    session: AsyncSession, user_id: uuid.UUID, *, trained_on: dt.date, timezone: str
) -> StreakState:
    """Count ``trained_on`` (a local date in ``timezone``) in the user's training streak.

    The same day twice changes nothing; a day before the last one counted (a late import)
    changes nothing either. The row is locked for the update (two finishes at once queue)."""
    timezone = _zone_name(timezone)
    type_id = await _streak_type_id(session)
    await session.execute(
        insert(ActivityStreak)
        .values(
            user_id=user_id,
            activity_type_id=type_id,
            current_length=0,
            longest_length=0,
            timezone=timezone,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "activity_type_id"])
    )
    row = (
        await session.execute(
            select(ActivityStreak)
            .where(ActivityStreak.user_id == user_id, ActivityStreak.activity_type_id == type_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one()
    last = row.last_active_date
    if last is not None and trained_on <= last and row.current_length > 0:
        return _state(row)
    previous_best = row.longest_length
    joined = None if last is None else await _gap(session, user_id, last, trained_on, timezone)
    if joined is None or row.current_length == 0:
        row.current_length = 1 + (joined or 0)
        row.started_on = trained_on
    else:
        row.current_length += joined + 1
    row.last_active_date = trained_on
    if row.started_on is None or row.started_on > trained_on:
        row.started_on = trained_on
    row.longest_length = max(row.longest_length, row.current_length)
    row.timezone = timezone
    await session.flush()
    return _state(row, is_new_best=previous_best > 0 and row.current_length > previous_best)


def _state(row: ActivityStreak, *, is_new_best: bool = False) -> StreakState:
    return StreakState(
        current=row.current_length,
        longest=row.longest_length,
        last_active_date=row.last_active_date,
        started_on=row.started_on,
        is_new_best=is_new_best,
    )


async def current_streak(
    session: AsyncSession, user_id: uuid.UUID, *, today: dt.date
) -> StreakState | None:
    """The streak as of ``today`` (the user's local date) for display: None before the first
    training; ``current`` 0 when a missed day since the last one trained broke it (today
    itself is still open and never breaks it)."""
    type_id = await _streak_type_id(session)
    row = (
        await session.execute(
            select(ActivityStreak).where(
                ActivityStreak.user_id == user_id, ActivityStreak.activity_type_id == type_id
            )
        )
    ).scalar_one_or_none()
    if row is None or row.last_active_date is None:
        return None
    state = _state(row)
    if row.current_length == 0 or today <= row.last_active_date:
        return state
    gap = await _gap(session, user_id, row.last_active_date, today, row.timezone)
    if gap is None:
        return StreakState(
            current=0,
            longest=row.longest_length,
            last_active_date=row.last_active_date,
            started_on=None,
        )
    return state
