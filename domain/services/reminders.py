"""Planning reminders and notifications: one set-based statement per notification type.

Each planner is ONE ``INSERT … SELECT … ON CONFLICT (dedupe_key) DO NOTHING`` over every user at
once (never a loop over users, never a job per user), takes the clock as ``now`` and returns
how many notifications it planned. Planning twice — or by two schedulers at once — plans
nothing more: the dedupe key is unique, and a concurrent insert of the same key waits for the
first transaction and then does nothing. Nothing is rendered here: a planned row carries
``variables`` (every variable its templates need, plus related ids) and is rendered in the
user's locale when sent. Which workouts a day holds and whether it is done:
``domain.services.schedule_day`` (its docstring is the reading of the data model).

Who gets a type (the same rules as ``domain.services.reminder_preferences``):

* reachable: active, a Telegram id, not ``is_unreachable``, a time zone PostgreSQL knows, and
  no active NOTIFICATION_SUPPRESSION (BOT_BLOCKED for every type, USER_UNSUBSCRIBED per type);
* for a user-configurable type: the type's preference row ``is_enabled`` (else the type's
  ``is_enabled_by_default``), the user-wide row's ``is_enabled`` (notification type NULL),
  and the general ``reminders_enabled`` setting (effective value: user > institution >
  system > default, resolved here in SQL like ``domain.services.settings``). Types that are
  not user-configurable (PROGRAM_ASSIGNED) ignore all three;
* quiet hours: the type's preference row, else the user-wide row, else the general
  ``quiet_hours_start`` / ``quiet_hours_end`` settings; start > end wraps midnight, start =
  end means none.

Two kinds of types:

* Timed (WORKOUT_REMINDER, STREAK_AT_RISK, WEEKLY_DIGEST, MONTHLY_DIGEST): due at a local
  time on a local date. WORKOUT_REMINDER's time and days are the general ``reminder_time`` /
  ``reminder_days`` settings (a preference ``local_time`` still wins); the others use their
  preference row's ``local_time`` / ``days_of_week``, else the type's defaults. MONTHLY_DIGEST
  comes on the last day of the month whatever the days. A reminder whose local time falls in
  quiet hours is not planned that day (moving it would surprise more than skipping it).
  ``due_at`` is ``(local date + local time) AT TIME ZONE zone``, computed by PostgreSQL, so
  daylight saving time is exact: a local time that does not exist (spring forward, e.g. 02:30
  in Paris on the last Sunday of March) is sent at the same offset as before the change, i.e.
  one hour later on the wall clock (03:30); a local time that happens twice (fall back) is
  sent once, at its second occurrence (standard time). The dedupe key holds the local date:
  one per type, user and local date.
* Events (MISSED_WORKOUT, CLIENT_INACTIVE, INVITE_EXPIRING, PROGRAM_ASSIGNED): due when the
  event happens — or at the end of quiet hours when it happens inside them. Days and times of
  preferences do not apply (only on/off). MISSED_WORKOUT's event is the start of the local
  day after the missed one (00:00, so usually the end of the night's quiet hours): it is
  planned through the same window as a timed type at 00:00. The others are planned the first
  time a tick sees their condition hold (a small audience: coaches, invite senders, one
  assignment), with no window, and the key makes it once.

The window of timed types: a tick at ``now`` plans every reminder due in
``[now - catch_up, now + lead)`` (30 minutes back, 2 minutes ahead by default). Planning ahead
lets the delivery tick send at the exact minute; looking back means a late or missed tick (a
restart, a long pause) loses nothing younger than ``catch_up``; the dedupe key makes the
overlap of consecutive ticks free. An older reminder is dropped rather than sent hours late.

Cost: each minute, a timed planner reads every user of its audience once, cheaply (time zone,
the type's preference row, for WORKOUT_REMINDER the user's reminder_time joined in one hash
join), keeps those whose local time is in the window and fences them off
(``MATERIALIZED``): effective settings (two index range reads per user), schedules and "done"
tests run only for them (docs/benchmarks.md, "Reminder planning").

The rules per type:

* WORKOUT_REMINDER: the local date has a non-optional scheduled workout and is not done.
  Variables: first_name, workout_name (the day's workouts, in order), time (the local
  reminder time, HH:MM), local_date, workout_ids.
* MISSED_WORKOUT: when local date D begins, the day before was a training day not done (and
  nothing was logged since); due at 00:00 or at the end of quiet hours.
* CLIENT_INACTIVE: to a coach, physio or trainer with an ACTIVE relation whose client
  consented to logs (``consent_scope`` ``logs``, and the client's ``coach_can_see_logs`` not
  false), when the client's last training session (or the relation's start, if later) is at
  least ``CLIENT_INACTIVE_DAYS`` days old. Once per inactive stretch: the key holds the
  client and the moment of their last activity.
* STREAK_AT_RISK: in the evening (the type's time), a training streak (ACTIVITY_STREAK of
  WORKOUT_COMPLETED or FREE_LOG) of at least ``STREAK_MIN_DAYS`` days still running today by
  the streak rule (streaks.streak_alive_sql: rest days since the last one trained do not break
  it), a training day today, not done yet.
* INVITE_EXPIRING: to the sender of an institution invite (active, not revoked, uses left) or
  of a share invite (active, not revoked, not accepted) expiring within ``INVITE_WARNING``;
  once per invite; dropped if quiet hours would push it past the expiry.
* PROGRAM_ASSIGNED: ``plan_program_assigned`` when a coach assigns a program (not when the
  athlete starts one themselves); once per assignment.
* WEEKLY_DIGEST / MONTHLY_DIGEST per ``digest_frequency``: the ISO week (Monday–Sunday) that
  ends on the local date when it is a Sunday, else the last complete one; the calendar month
  for the monthly one. For users who were active in the period or follow a program. The same
  statement writes the ACTIVITY_DIGEST row (sessions, volume, PRs, streak; recomputed once
  after the period ends by ``refresh_activity_digests``) and, for the weekly one, a
  NOTIFICATION_BATCH (WEEKLY_SUMMARY) holding the notification (its ``sent_at`` is the
  planned time: the batch is the message).

Every function executes and flushes at most; the caller owns the transaction.
"""

# SQL here is pasted together from this package's constants (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from domain.services.schedule_day import day_done_sql, day_workouts_sql, training_day_sql
from domain.services.streaks import streak_alive_sql

# Timed types: how far ahead and back a tick plans (see the module docstring).
PLANNING_LEAD = dt.timedelta(minutes=2)
PLANNING_CATCH_UP = dt.timedelta(minutes=30)
# A coach hears of a client after this many days without training (the type's description
# says "three or more").
CLIENT_INACTIVE_DAYS = 3
# A one-day "streak" is just yesterday's workout: not worth an evening nudge.
STREAK_MIN_DAYS = 2
# The sender of an invite hears about it this long before it expires.
INVITE_WARNING = dt.timedelta(hours=24)
# Activity types that count as training for streaks and digests.
TRAINING_ACTIVITY_TYPES = ("WORKOUT_COMPLETED", "FREE_LOG")
PR_ACTIVITY_TYPE = "PR_ACHIEVED"
VOLUME_METRIC = "VOLUME_LOAD"  # kilograms
POUNDS_PER_KILOGRAM = 2.2046226218

WORKOUT_REMINDER = "WORKOUT_REMINDER"
MISSED_WORKOUT = "MISSED_WORKOUT"
CLIENT_INACTIVE = "CLIENT_INACTIVE"
STREAK_AT_RISK = "STREAK_AT_RISK"
INVITE_EXPIRING = "INVITE_EXPIRING"
PROGRAM_ASSIGNED = "PROGRAM_ASSIGNED"
WEEKLY_DIGEST = "WEEKLY_DIGEST"
MONTHLY_DIGEST = "MONTHLY_DIGEST"

_WEEKDAY_CODES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # reminder_days values
_SETTING_KEYS = (
    "reminders_enabled",
    "reminder_time",
    "reminder_days",
    "quiet_hours_start",
    "quiet_hours_end",
    "digest_frequency",
    "weight_unit",
    "coach_can_see_logs",
)

Planner = Callable[[AsyncSession, dt.datetime], Awaitable[int]]


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise InvalidInput("now must be timezone-aware", now=now.isoformat())
    return now.astimezone(dt.UTC)


# --------------------------------------------------------------------------------------------
# Time zones PostgreSQL knows
# --------------------------------------------------------------------------------------------

# Per database server: its time zone names (pg_timezone_names costs ~0.1 s, so it is read once
# per process). A user whose zone the server does not know is skipped instead of making
# `AT TIME ZONE` fail the whole statement for everyone.
_known_zones: dict[str, frozenset[str]] = {}


async def _unknown_zones(session: AsyncSession) -> list[str]:
    """The users' time zones the database server does not know (normally none: settings are
    validated against the same IANA database). Passed to the planners as a short list: a
    per-user test against the ~1,200 known names would cost more than the planning."""
    key = session.get_bind().engine.url.render_as_string(hide_password=True)
    known = _known_zones.get(key)
    if known is None:
        known = frozenset(await session.scalars(text("SELECT name FROM pg_timezone_names")))
        _known_zones[key] = known
    used = await session.scalars(text("SELECT DISTINCT timezone FROM app_user"))
    return sorted(set(used) - known)


# --------------------------------------------------------------------------------------------
# SQL building blocks (constants pasted together; every value is a bind parameter)
# --------------------------------------------------------------------------------------------


def _setting_value(key: str, user_id: str, user_value: str | None = None) -> str:
    """Correlated: the effective JSON value of one setting for one user, the way
    ``domain.services.settings`` resolves it (user > the most recently joined active
    institution that sets it > system > default). A level is read only when the narrower one
    has no value. ``user_value``: the user's own value when the statement joined it already."""
    own = (
        user_value
        or f"""(SELECT v.value FROM user_setting_value AS v
         JOIN setting_def AS d ON d.id = v.setting_id
         WHERE v.user_id = {user_id} AND d.setting_key = '{key}' AND d.is_user_configurable)"""
    )
    return f"""COALESCE(
        {own},
        (SELECT v.value FROM institution_member AS m
         JOIN institution AS i ON i.id = m.institution_id AND i.is_active
         JOIN institution_setting_value AS v ON v.institution_id = m.institution_id
         JOIN setting_def AS d ON d.id = v.setting_id
         WHERE m.user_id = {user_id} AND m.is_active
           AND d.setting_key = '{key}' AND d.is_institution_configurable
         ORDER BY m.joined_at DESC, m.id DESC LIMIT 1),
        (SELECT b.vals -> '{key}' FROM base_level AS b))"""


def _effective(key: str) -> str:
    """In ``settled``: a setting's effective JSON value from the row's levels."""
    return f"COALESCE(ul.vals -> '{key}', il.vals -> '{key}', base_level.vals -> '{key}')"


def _in_quiet_hours(moment: str) -> str:
    """A boolean: the local time ``moment`` is inside the row's quiet hours."""
    return f"""(r.quiet_start IS NOT NULL AND r.quiet_end IS NOT NULL
        AND r.quiet_start <> r.quiet_end
        AND CASE WHEN r.quiet_start < r.quiet_end
                 THEN {moment} >= r.quiet_start AND {moment} < r.quiet_end
                 ELSE {moment} >= r.quiet_start OR {moment} < r.quiet_end END)"""


def _key(type_code: str, *parts: str, alias: str = "e") -> str:
    return " || ':' || ".join([f"'{type_code}'", f"{alias}.user_id::text", *parts])


def _date_key(type_code: str, alias: str = "e") -> str:
    """``planned_dedupe_key``: type, user and local date."""
    return _key(type_code, f"to_char({alias}.local_date, 'YYYY-MM-DD')", alias=alias)


def _utc_text(expression: str) -> str:
    """An instant as ISO 8601 UTC text, whatever the session's TimeZone."""
    return f"""to_char(({expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _recipients(audience: str | None, time_expression: str = "NULL", joins: str = "") -> str:
    """The CTEs every planner starts with, ending with ``recipient``: the reachable users of
    ``audience`` (a SELECT of user ids; None: everyone) with the type's preference row and
    ``local_time`` (a SQL ``time``, NULL for event types). Cheap per user: the planners read
    every user each minute, and only the few in the window go further."""
    where_audience = f"u.id IN ({audience}) AND " if audience else ""
    return f"""
WITH
ntype AS (
    SELECT t.id, t.code, t.default_local_time, t.default_days_of_week,
           t.is_enabled_by_default, t.is_user_configurable
    FROM notification_type AS t
    WHERE t.code = :type_code AND t.is_active
),
setting_def AS (
    SELECT s.id, s.setting_key, s.default_value, s.is_user_configurable,
           s.is_institution_configurable, s.is_system_configurable
    FROM setting AS s
    WHERE s.is_active AND s.setting_key IN ({_sql_list(_SETTING_KEYS)})
),
-- The system value, else the definition's default: the same for everyone.
base_level AS (
    SELECT jsonb_object_agg(d.setting_key, COALESCE(v.value, d.default_value)) AS vals
    FROM setting_def AS d
    LEFT JOIN system_setting_value AS v ON v.setting_id = d.id AND d.is_system_configurable
),
recipient AS (
    SELECT u.id AS user_id, u.first_name, u.timezone AS tz, t.id AS type_id,
           tp.is_enabled AS preference_enabled, tp.local_time AS preference_time,
           tp.days_of_week AS preference_days, tp.quiet_hours_start AS preference_quiet_start,
           tp.quiet_hours_end AS preference_quiet_end,
           t.default_local_time, t.default_days_of_week, t.is_enabled_by_default,
           t.is_user_configurable,
           {time_expression} AS local_time
    FROM app_user AS u
    CROSS JOIN ntype AS t
    LEFT JOIN user_notification_preference AS tp
           ON tp.user_id = u.id AND tp.notification_type_id = t.id{joins}
    WHERE {where_audience}u.is_active AND NOT u.is_unreachable
      AND u.telegram_user_id IS NOT NULL
      AND u.timezone <> ALL(CAST(:unknown_zones AS text[]))
),"""


def _settled(source: str) -> str:
    """``settled``: the rows of ``source`` with the user's effective settings and quiet hours
    (two index range reads per row: user values, institution values), keeping those the type
    may reach (suppressions, on/off switches)."""
    return f"""
settled AS (
    SELECT r.*,
           COALESCE(r.preference_quiet_start, gp.quiet_hours_start,
                    CAST({_effective("quiet_hours_start")} #>> '{{}}' AS time)) AS quiet_start,
           COALESCE(r.preference_quiet_end, gp.quiet_hours_end,
                    CAST({_effective("quiet_hours_end")} #>> '{{}}' AS time)) AS quiet_end,
           {_effective("reminder_days")} AS reminder_days,
           {_effective("digest_frequency")} #>> '{{}}' AS digest_frequency,
           {_effective("weight_unit")} #>> '{{}}' AS weight_unit
    FROM {source} AS r
    CROSS JOIN base_level
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(d.setting_key, v.value) AS vals
        FROM user_setting_value AS v
        JOIN setting_def AS d ON d.id = v.setting_id AND d.is_user_configurable
        WHERE v.user_id = r.user_id
    ) AS ul ON true
    -- Per key, the value of the most recently joined active institution that sets it.
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(x.setting_key, x.value) AS vals
        FROM (
            SELECT DISTINCT ON (d.setting_key) d.setting_key, v.value
            FROM institution_member AS m
            JOIN institution AS i ON i.id = m.institution_id AND i.is_active
            JOIN institution_setting_value AS v ON v.institution_id = m.institution_id
            JOIN setting_def AS d ON d.id = v.setting_id AND d.is_institution_configurable
            WHERE m.user_id = r.user_id AND m.is_active
            ORDER BY d.setting_key, m.joined_at DESC, m.id DESC
        ) AS x
    ) AS il ON true
    LEFT JOIN user_notification_preference AS gp
           ON gp.user_id = r.user_id AND gp.notification_type_id IS NULL
    WHERE NOT EXISTS (
          SELECT 1 FROM notification_suppression AS sup
          WHERE sup.user_id = r.user_id
            AND (sup.notification_type_id IS NULL OR sup.notification_type_id = r.type_id)
            AND (sup.expires_at IS NULL OR sup.expires_at > CAST(:now AS timestamptz)))
      AND (NOT r.is_user_configurable OR (
          COALESCE(r.preference_enabled, r.is_enabled_by_default)
          AND COALESCE(gp.is_enabled, true)
          AND COALESCE(CAST({_effective("reminders_enabled")} #>> '{{}}' AS boolean), true)))
),"""


def _timed(type_code: str, day_condition: str, *, shift: bool = False) -> str:
    """``eligible`` of a timed type: recipients whose local time falls in the window, on a day
    that counts, outside quiet hours — or, with ``shift``, moved to the end of quiet hours.
    ``due`` carries the dedupe key."""
    if shift:
        due_at = f"""CASE WHEN {_in_quiet_hours("r.local_time")}
                    THEN (r.local_date + r.quiet_end) AT TIME ZONE r.tz
                    ELSE r.slot_at END"""
        quiet = "true"
    else:
        due_at = "r.slot_at"
        quiet = f"NOT {_in_quiet_hours('r.local_time')}"
    return f"""
slot AS (
    SELECT r.*, span.first_date + k AS local_date,
           ((span.first_date + k) + r.local_time) AT TIME ZONE r.tz AS slot_at
    FROM recipient AS r
    CROSS JOIN LATERAL (
        SELECT CAST(CAST(:window_start AS timestamptz) AT TIME ZONE r.tz AS date) AS first_date,
               CAST(CAST(:window_end AS timestamptz) AT TIME ZONE r.tz AS date) AS last_date
    ) AS span
    CROSS JOIN LATERAL generate_series(0, span.last_date - span.first_date) AS k
    WHERE r.local_time IS NOT NULL
),
-- A fence: everything after it runs only for the few rows in the window.
due AS MATERIALIZED (
    SELECT s.*, {_date_key(type_code, "s")} AS dedupe_key
    FROM slot AS s
    -- No test against the notifications already planned here: their table grows while this
    -- statement inserts, and a planner misled by stale statistics would scan it per row.
    -- ON CONFLICT settles it, through the unique index.
    WHERE s.slot_at >= CAST(:window_start AS timestamptz)
      AND s.slot_at < CAST(:window_end AS timestamptz)
),{_settled("due")}
eligible AS (
    SELECT r.*, {due_at} AS due_at
    FROM settled AS r
    WHERE ({day_condition}) AND {quiet}
),"""


# Event types: due now, or at the end of quiet hours when now is inside them.
_EVENT = (
    _settled("recipient")
    + f"""
eligible AS (
    SELECT r.*, CAST(clock.local_now AS date) AS local_date,
           CASE WHEN {_in_quiet_hours("CAST(clock.local_now AS time)")}
                THEN ((CAST(clock.local_now AS date)
                       + CASE WHEN CAST(clock.local_now AS time) >= r.quiet_end THEN 1 ELSE 0 END)
                      + r.quiet_end) AT TIME ZONE r.tz
                ELSE CAST(:now AS timestamptz) END AS due_at
    FROM settled AS r
    CROSS JOIN LATERAL (
        SELECT CAST(:now AS timestamptz) AT TIME ZONE r.tz AS local_now) AS clock
),"""
)

_INSERT = """
INSERT INTO notification (id, user_id, notification_type_id, status, dedupe_key, due_at,
                          variables)
SELECT gen_random_uuid(), c.user_id, t.id, 'PENDING', c.dedupe_key, c.due_at, c.variables
FROM candidate AS c CROSS JOIN ntype AS t
ON CONFLICT (dedupe_key) DO NOTHING
"""

# ISO weekday of the local date among the type's (or the preference's) days.
_TYPE_DAYS = (
    "CAST(extract(isodow FROM r.local_date) AS smallint)"
    " = ANY(COALESCE(r.preference_days, r.default_days_of_week))"
)
# WORKOUT_REMINDER: the reminder_days setting (["MON", "WED", …]).
_REMINDER_DAYS = f"""CASE WHEN jsonb_typeof(r.reminder_days) = 'array'
    THEN r.reminder_days @> to_jsonb((ARRAY[{_sql_list(_WEEKDAY_CODES)}])
                                     [CAST(extract(isodow FROM r.local_date) AS int)])
    ELSE {_TYPE_DAYS} END"""

_ACTIVE_PROGRAM_USERS = "SELECT user_id FROM user_program WHERE is_active"


def _day_summary(local_date: str) -> str:
    """LATERAL: the day's non-optional workouts as ``names`` (in order) and ``ids``."""
    day = day_workouts_sql("e.user_id", local_date)
    return f"""CROSS JOIN LATERAL (
        SELECT string_agg(wk.name, ', ' ORDER BY dw.order_index, wk.name) AS names,
               jsonb_agg(dw.workout_id ORDER BY dw.order_index, wk.name) AS ids
        FROM ({day}) AS dw JOIN workout AS wk ON wk.id = dw.workout_id
        WHERE NOT dw.is_optional
    ) AS day"""


# --------------------------------------------------------------------------------------------
# Window and execution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanningWindow:
    """Timed reminders due in [start, end) are planned by a tick."""

    start: dt.datetime
    end: dt.datetime


def planning_window(
    now: dt.datetime,
    *,
    lead: dt.timedelta = PLANNING_LEAD,
    catch_up: dt.timedelta = PLANNING_CATCH_UP,
) -> PlanningWindow:
    now = _aware(now)
    if lead < dt.timedelta(0) or catch_up < dt.timedelta(0) or lead + catch_up <= dt.timedelta(0):
        raise InvalidInput("the planning window needs lead + catch_up > 0")
    if lead + catch_up >= dt.timedelta(hours=23):
        # Longer windows could hold the same local time twice (two local dates).
        raise InvalidInput("the planning window must be shorter than 23 hours")
    return PlanningWindow(start=now - catch_up, end=now + lead)


async def _run(session: AsyncSession, sql: str, now: dt.datetime, params: Mapping[str, Any]) -> int:
    values = {"now": now, "unknown_zones": await _unknown_zones(session), **params}
    result = await session.execute(text(sql), values)
    return int(getattr(result, "rowcount", 0) or 0)


async def _run_timed(
    session: AsyncSession,
    type_code: str,
    sql: str,
    now: dt.datetime,
    window: PlanningWindow,
    params: Mapping[str, Any] | None = None,
) -> int:
    return await _run(
        session,
        sql,
        now,
        {
            "type_code": type_code,
            "window_start": window.start,
            "window_end": window.end,
            **(params or {}),
        },
    )


# --------------------------------------------------------------------------------------------
# Timed types
# --------------------------------------------------------------------------------------------

_WORKOUT_REMINDER_SQL = (
    _recipients(
        _ACTIVE_PROGRAM_USERS,
        "COALESCE(tp.local_time,"
        f" CAST({_setting_value('reminder_time', 'u.id', 'own_time.value')} #>> '{{}}' AS time),"
        " t.default_local_time)",
        # Joined (a hash join over one setting's rows), not probed user by user.
        joins="""
    LEFT JOIN user_setting_value AS own_time
           ON own_time.user_id = u.id
          AND own_time.setting_id = (SELECT d.id FROM setting_def AS d
                                     WHERE d.setting_key = 'reminder_time'
                                       AND d.is_user_configurable)""",
    )
    + _timed(WORKOUT_REMINDER, _REMINDER_DAYS)
    + f"""
candidate AS (
    SELECT e.user_id, e.due_at,
           e.dedupe_key,
           jsonb_build_object(
               'first_name', e.first_name,
               'workout_name', day.names,
               'time', to_char(e.local_time, 'HH24:MI'),
               'local_date', to_char(e.local_date, 'YYYY-MM-DD'),
               'workout_ids', day.ids) AS variables
    FROM eligible AS e
    {_day_summary("e.local_date")}
    WHERE day.names IS NOT NULL
      AND NOT {day_done_sql("e.user_id", "e.local_date", "e.tz")}
)"""
    + _INSERT
)


async def plan_workout_reminders(
    session: AsyncSession, now: dt.datetime, *, window: PlanningWindow | None = None
) -> int:
    """Plan the WORKOUT_REMINDER of every user whose local reminder time falls in the window
    on a training day not done yet. Returns the notifications planned."""
    now = _aware(now)
    window = window or planning_window(now)
    return await _run_timed(session, WORKOUT_REMINDER, _WORKOUT_REMINDER_SQL, now, window)


_STREAK_TYPES = _sql_list(TRAINING_ACTIVITY_TYPES)

_STREAK_AT_RISK_SQL = (
    _recipients(
        f"""SELECT s.user_id FROM activity_streak AS s
        JOIN activity_type AS a ON a.id = s.activity_type_id AND a.code IN ({_STREAK_TYPES})
        WHERE s.current_length >= :streak_min""",
        "COALESCE(tp.local_time, t.default_local_time)",
    )
    + _timed(STREAK_AT_RISK, _TYPE_DAYS)
    + f"""
candidate AS (
    SELECT e.user_id, e.due_at,
           e.dedupe_key,
           jsonb_build_object(
               'first_name', e.first_name,
               'streak_days', streak.days,
               'local_date', to_char(e.local_date, 'YYYY-MM-DD')) AS variables
    FROM eligible AS e
    CROSS JOIN LATERAL (
        SELECT max(s.current_length) AS days
        FROM activity_streak AS s
        JOIN activity_type AS a ON a.id = s.activity_type_id AND a.code IN ({_STREAK_TYPES})
        WHERE s.user_id = e.user_id AND s.current_length >= :streak_min
          AND s.last_active_date < e.local_date
          AND {streak_alive_sql("e.user_id", "s.last_active_date", "e.local_date", "e.tz")}
    ) AS streak
    WHERE streak.days IS NOT NULL
      AND {training_day_sql("e.user_id", "e.local_date")}
      AND NOT {day_done_sql("e.user_id", "e.local_date", "e.tz")}
)"""
    + _INSERT
)


async def plan_streaks_at_risk(
    session: AsyncSession,
    now: dt.datetime,
    *,
    window: PlanningWindow | None = None,
    min_days: int = STREAK_MIN_DAYS,
) -> int:
    """Plan STREAK_AT_RISK for users on a streak whose training day today is not done yet."""
    now = _aware(now)
    window = window or planning_window(now)
    return await _run_timed(
        session, STREAK_AT_RISK, _STREAK_AT_RISK_SQL, now, window, {"streak_min": min_days}
    )


# Digests -------------------------------------------------------------------------------------


def _digest_numbers(user_id: str, start_at: str, end_at: str) -> str:
    """LATERALs over ACTIVITY in [start_at, end_at): ``numbers`` (total trackable, sessions,
    prs), ``summary`` (count per trackable type code) and ``volume`` (kg)."""
    return f"""
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE a_t.is_trackable) AS total,
               count(*) FILTER (WHERE a_t.code IN ({_STREAK_TYPES})) AS sessions,
               count(*) FILTER (WHERE a_t.code = '{PR_ACTIVITY_TYPE}') AS prs
        FROM activity AS a JOIN activity_type AS a_t ON a_t.id = a.activity_type_id
        WHERE a.user_id = {user_id} AND a.occurred_at >= {start_at} AND a.occurred_at < {end_at}
    ) AS numbers
    CROSS JOIN LATERAL (
        SELECT COALESCE(jsonb_object_agg(by_type.code, by_type.n), '{{}}'::jsonb) AS counts
        FROM (
            SELECT a_t.code, count(*) AS n
            FROM activity AS a JOIN activity_type AS a_t ON a_t.id = a.activity_type_id
            WHERE a.user_id = {user_id} AND a_t.is_trackable
              AND a.occurred_at >= {start_at} AND a.occurred_at < {end_at}
            GROUP BY a_t.code
        ) AS by_type
    ) AS summary
    CROSS JOIN LATERAL (
        SELECT COALESCE(sum(am.value), 0) AS kg
        FROM activity AS a
        JOIN activity_metric AS am ON am.activity_id = a.id
        JOIN metric AS mt ON mt.id = am.metric_id AND mt.code = '{VOLUME_METRIC}'
        WHERE a.user_id = {user_id} AND a.occurred_at >= {start_at} AND a.occurred_at < {end_at}
    ) AS volume"""


def _digest_sql(type_code: str, period: str) -> str:
    if period == "WEEKLY":
        day_condition = _TYPE_DAYS
        # The week ending on the local date when it is a Sunday, else the last complete one.
        start = "CAST(date_trunc('week', CAST(e.local_date + 1 AS timestamp)) AS date) - 7"
        end = "p0.start_date + 7"
    else:
        day_condition = "extract(day FROM r.local_date + 1) = 1"  # the month's last day
        start = "CAST(date_trunc('month', CAST(e.local_date AS timestamp)) AS date)"
        end = "CAST(CAST(p0.start_date AS timestamp) + interval '1 month' AS date)"
    volume_text = f"""CASE WHEN e.weight_unit = 'lb'
                 THEN CAST(round(volume.kg * {POUNDS_PER_KILOGRAM}) AS bigint) || ' lb'
                 ELSE CAST(round(volume.kg) AS bigint) || ' kg' END"""
    writes = [
        f"""
candidate AS (
    SELECT e.user_id, e.due_at,
           e.dedupe_key,
           period.start_date, to_char(period.start_date, 'YYYY-MM-DD') AS period_start,
           to_char(period.end_date - 1, 'YYYY-MM-DD') AS period_end,
           numbers.total, numbers.sessions, numbers.prs, summary.counts, volume.kg,
           streak.days AS streak_days,
           jsonb_build_object(
               'first_name', e.first_name,
               'sessions', numbers.sessions,
               'volume', {volume_text},
               'prs', numbers.prs,
               'streak_days', streak.days,
               'period_start', to_char(period.start_date, 'YYYY-MM-DD'),
               'period_end', to_char(period.end_date - 1, 'YYYY-MM-DD')) AS variables
    FROM eligible AS e
    CROSS JOIN LATERAL (SELECT {start} AS start_date) AS p0
    CROSS JOIN LATERAL (SELECT p0.start_date, {end} AS end_date) AS period
    CROSS JOIN LATERAL (
        SELECT CAST(period.start_date AS timestamp) AT TIME ZONE e.tz AS start_at,
               CAST(period.end_date AS timestamp) AT TIME ZONE e.tz AS end_at
    ) AS span
    {_digest_numbers("e.user_id", "span.start_at", "span.end_at")}
    CROSS JOIN LATERAL (
        SELECT COALESCE(max(s.current_length), 0) AS days
        FROM activity_streak AS s
        JOIN activity_type AS a ON a.id = s.activity_type_id AND a.code IN ({_STREAK_TYPES})
        WHERE s.user_id = e.user_id
          AND (s.last_active_date >= e.local_date
               OR {streak_alive_sql("e.user_id", "s.last_active_date", "e.local_date", "e.tz")})
    ) AS streak
    WHERE COALESCE(e.digest_frequency, 'WEEKLY') = '{period}'
      AND (numbers.total > 0
           OR EXISTS (SELECT 1 FROM user_program AS up
                      WHERE up.user_id = e.user_id AND up.is_active))
)""",
        """
planned AS (
    INSERT INTO notification (id, user_id, notification_type_id, status, dedupe_key, due_at,
                              variables)
    SELECT gen_random_uuid(), c.user_id, t.id, 'PENDING', c.dedupe_key, c.due_at, c.variables
    FROM candidate AS c CROSS JOIN ntype AS t
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id, user_id, dedupe_key, due_at
)""",
        f"""
digest AS (
    INSERT INTO activity_digest (id, user_id, digest_date, digest_period, total_activities,
                                 activity_summary, achievements, calculated_at)
    SELECT gen_random_uuid(), c.user_id, c.start_date, '{period}', c.total, c.counts,
           jsonb_build_object('sessions', c.sessions, 'volume_kg', c.kg, 'prs', c.prs,
                              'streak_days', c.streak_days),
           CAST(:now AS timestamptz)
    FROM candidate AS c JOIN planned AS p ON p.dedupe_key = c.dedupe_key
    ON CONFLICT (user_id, digest_period, digest_date) DO UPDATE SET
        total_activities = EXCLUDED.total_activities,
        activity_summary = EXCLUDED.activity_summary,
        achievements = EXCLUDED.achievements,
        calculated_at = EXCLUDED.calculated_at
)""",
    ]
    if period == "WEEKLY":
        # The digest message is a batch of one; NOTIFICATION_BATCH has no monthly type.
        writes += [
            f"""
batch AS (
    INSERT INTO notification_batch (id, user_id, batch_type, notification_count, sent_at,
                                    batch_metadata)
    SELECT gen_random_uuid(), p.user_id, 'WEEKLY_SUMMARY', 1, p.due_at,
           jsonb_build_object('notification_id', p.id, 'period', '{period}',
                              'period_start', c.period_start, 'period_end', c.period_end)
    FROM planned AS p JOIN candidate AS c ON c.dedupe_key = p.dedupe_key
    RETURNING id, CAST(batch_metadata ->> 'notification_id' AS uuid) AS notification_id
)""",
            """
batch_item AS (
    INSERT INTO notification_batch_item (notification_batch_id, notification_id, display_order)
    SELECT b.id, b.notification_id, 0 FROM batch AS b
)""",
        ]
    return (
        _recipients(None, "COALESCE(tp.local_time, t.default_local_time)")
        + _timed(type_code, day_condition)
        + ",".join(writes)
        + "\nSELECT count(*) FROM planned\n"
    )


_WEEKLY_DIGEST_SQL = _digest_sql(WEEKLY_DIGEST, "WEEKLY")
_MONTHLY_DIGEST_SQL = _digest_sql(MONTHLY_DIGEST, "MONTHLY")


async def _plan_digest(
    session: AsyncSession, type_code: str, sql: str, now: dt.datetime, window: PlanningWindow
) -> int:
    values = {
        "now": now,
        "unknown_zones": await _unknown_zones(session),
        "type_code": type_code,
        "window_start": window.start,
        "window_end": window.end,
    }
    return int((await session.execute(text(sql), values)).scalar_one())


async def plan_weekly_digests(
    session: AsyncSession, now: dt.datetime, *, window: PlanningWindow | None = None
) -> int:
    """Plan WEEKLY_DIGEST (with its ACTIVITY_DIGEST and NOTIFICATION_BATCH) for users whose
    ``digest_frequency`` is WEEKLY, at the type's local time and days."""
    now = _aware(now)
    window = window or planning_window(now)
    return await _plan_digest(session, WEEKLY_DIGEST, _WEEKLY_DIGEST_SQL, now, window)


async def plan_monthly_digests(
    session: AsyncSession, now: dt.datetime, *, window: PlanningWindow | None = None
) -> int:
    """Plan MONTHLY_DIGEST (with its ACTIVITY_DIGEST) on the last local day of the month for
    users whose ``digest_frequency`` is MONTHLY."""
    now = _aware(now)
    window = window or planning_window(now)
    return await _plan_digest(session, MONTHLY_DIGEST, _MONTHLY_DIGEST_SQL, now, window)


_REFRESH_DIGESTS_SQL = f"""
WITH target AS (
    SELECT d.id, d.user_id, u.timezone AS tz,
           CAST(d.digest_date AS timestamp) AT TIME ZONE u.timezone AS start_at,
           CAST(CASE d.digest_period WHEN 'WEEKLY' THEN CAST(d.digest_date + 7 AS timestamp)
                     ELSE CAST(d.digest_date AS timestamp) + interval '1 month' END
                AS timestamp) AT TIME ZONE u.timezone AS end_at,
           d.calculated_at
    FROM activity_digest AS d JOIN app_user AS u ON u.id = d.user_id
    WHERE d.digest_period IN ('WEEKLY', 'MONTHLY')
      AND u.timezone <> ALL(CAST(:unknown_zones AS text[]))
      -- Coarse bound in UTC days; the exact test is on end_at below.
      AND d.digest_date >= CAST(CAST(:now AS timestamptz) AT TIME ZONE 'UTC' AS date) - 40
),
fresh AS (
    SELECT t.id, numbers.total, numbers.sessions, numbers.prs, summary.counts, volume.kg
    FROM target AS t
    {_digest_numbers("t.user_id", "t.start_at", "t.end_at")}
    WHERE t.end_at <= CAST(:now AS timestamptz) AND t.calculated_at < t.end_at
)
UPDATE activity_digest AS d SET
    total_activities = f.total,
    activity_summary = f.counts,
    achievements = COALESCE(d.achievements, '{{}}'::jsonb)
        || jsonb_build_object('sessions', f.sessions, 'volume_kg', f.kg, 'prs', f.prs),
    calculated_at = CAST(:now AS timestamptz)
FROM fresh AS f
WHERE d.id = f.id
"""


async def refresh_activity_digests(session: AsyncSession, now: dt.datetime) -> int:
    """Recompute, once, the weekly and monthly ACTIVITY_DIGEST rows whose period has ended
    since they were computed (a digest sent on Sunday evening misses that evening's
    training; the stored history should not). The streak is kept as it was when sent.
    Returns the rows updated; a second run updates none."""
    now = _aware(now)
    values = {"now": now, "unknown_zones": await _unknown_zones(session)}
    result = await session.execute(text(_REFRESH_DIGESTS_SQL), values)
    return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------------------------
# Event types
# --------------------------------------------------------------------------------------------

_MISSED_WORKOUT_SQL = (
    # The event is the start of the local day after a missed one: planned by the ticks whose
    # window holds local midnight, due then or at the end of quiet hours.
    _recipients(_ACTIVE_PROGRAM_USERS, "TIME '00:00'")
    + _timed(MISSED_WORKOUT, "true", shift=True)
    + f"""
candidate AS (
    SELECT e.user_id, e.due_at,
           e.dedupe_key,
           jsonb_build_object(
               'first_name', e.first_name,
               'workout_name', day.names,
               'missed_date', to_char(e.local_date - 1, 'YYYY-MM-DD'),
               'workout_ids', day.ids) AS variables
    FROM eligible AS e
    {_day_summary("e.local_date - 1")}
    WHERE day.names IS NOT NULL
      AND NOT {day_done_sql("e.user_id", "e.local_date - 1", "e.tz")}
      AND NOT {day_done_sql("e.user_id", "e.local_date", "e.tz")}
)"""
    + _INSERT
)


async def plan_missed_workouts(
    session: AsyncSession, now: dt.datetime, *, window: PlanningWindow | None = None
) -> int:
    """Plan MISSED_WORKOUT for users whose local day began in the window, when the day before
    was a training day not done and they have not trained since."""
    now = _aware(now)
    window = window or planning_window(now)
    return await _run_timed(session, MISSED_WORKOUT, _MISSED_WORKOUT_SQL, now, window)


_LOGS_CONSENT = '{"logs": true}'

_CLIENT_INACTIVE_SQL = (
    _recipients(
        """SELECT professional_id FROM user_professional_customer_relation
        WHERE status = 'ACTIVE' AND customer_id IS NOT NULL"""
    )
    + _EVENT
    + f"""
client AS (
    SELECT rel.professional_id, rel.customer_id AS client_id,
           concat_ws(' ', cu.first_name, cu.last_name) AS client_name,
           GREATEST(
               (SELECT max(ts.started_at) FROM training_session AS ts
                WHERE ts.user_id = rel.customer_id),
               COALESCE(rel.consented_at, rel.created_at)) AS last_at
    FROM user_professional_customer_relation AS rel
    JOIN app_user AS cu ON cu.id = rel.customer_id AND cu.is_active
    WHERE rel.status = 'ACTIVE'
      AND rel.consent_scope @> CAST('{_LOGS_CONSENT}' AS jsonb)
      AND {_setting_value("coach_can_see_logs", "rel.customer_id")}
          IS DISTINCT FROM 'false'::jsonb
),
candidate AS (
    SELECT e.user_id, e.due_at,
           {_key(CLIENT_INACTIVE, "c.client_id::text", _utc_text("c.last_at"))} AS dedupe_key,
           jsonb_build_object(
               'client_name', c.client_name,
               'days', CAST(floor(extract(epoch FROM CAST(:now AS timestamptz) - c.last_at)
                                  / 86400) AS int),
               'client_id', c.client_id,
               'last_activity_at', {_utc_text("c.last_at")}) AS variables
    FROM eligible AS e
    JOIN client AS c ON c.professional_id = e.user_id
    WHERE c.last_at <= CAST(:now AS timestamptz) - make_interval(days => :inactive_days)
)"""
    + _INSERT
)


async def plan_clients_inactive(
    session: AsyncSession, now: dt.datetime, *, inactive_days: int = CLIENT_INACTIVE_DAYS
) -> int:
    """Plan CLIENT_INACTIVE for professionals whose consenting client has not trained for
    ``inactive_days`` days, once per inactive stretch."""
    now = _aware(now)
    if inactive_days < 1:
        raise InvalidInput("inactive_days must be at least 1", inactive_days=inactive_days)
    return await _run(
        session,
        _CLIENT_INACTIVE_SQL,
        now,
        {"type_code": CLIENT_INACTIVE, "inactive_days": inactive_days},
    )


_EXPIRING_INVITES = """
    SELECT 'institution' AS kind, i.id, i.invited_by AS sender_id, i.expires_at,
           ins.name AS name
    FROM institution_invite AS i
    JOIN institution AS ins ON ins.id = i.institution_id AND ins.is_active
    WHERE i.is_active AND NOT i.is_revoked AND i.invited_by IS NOT NULL
      AND (i.max_uses IS NULL OR i.use_count < i.max_uses)
      AND i.expires_at > CAST(:now AS timestamptz)
      AND i.expires_at <= CAST(:now AS timestamptz) + CAST(:warning AS interval)
    UNION ALL
    SELECT 'share', s.id, s.invited_by, s.expires_at, COALESCE(p.title, w.name)
    FROM user_share_invite AS s
    LEFT JOIN program AS p ON p.id = s.program_id
    LEFT JOIN workout AS w ON w.id = s.workout_id
    WHERE s.is_active AND NOT s.is_revoked AND s.accepted_at IS NULL
      AND s.expires_at > CAST(:now AS timestamptz)
      AND s.expires_at <= CAST(:now AS timestamptz) + CAST(:warning AS interval)
"""

_INVITE_EXPIRING_SQL = (
    _recipients(f"SELECT sender_id FROM ({_EXPIRING_INVITES}) AS soon")
    + _EVENT
    + f"""
invite AS ({_EXPIRING_INVITES}),
candidate AS (
    SELECT e.user_id, e.due_at,
           {_key(INVITE_EXPIRING, "inv.kind", "inv.id::text")} AS dedupe_key,
           jsonb_build_object(
               'invite_name', inv.name,
               'hours', GREATEST(1, CAST(ceil(extract(epoch FROM inv.expires_at - e.due_at)
                                               / 3600) AS int)),
               'invite_kind', inv.kind,
               'invite_id', inv.id,
               'expires_at', {_utc_text("inv.expires_at")}) AS variables
    FROM eligible AS e
    JOIN invite AS inv ON inv.sender_id = e.user_id
    WHERE e.due_at < inv.expires_at
)"""
    + _INSERT
)


async def plan_invites_expiring(
    session: AsyncSession, now: dt.datetime, *, warning: dt.timedelta = INVITE_WARNING
) -> int:
    """Plan INVITE_EXPIRING for the senders of invites expiring within ``warning``, once per
    invite."""
    now = _aware(now)
    return await _run(
        session, _INVITE_EXPIRING_SQL, now, {"type_code": INVITE_EXPIRING, "warning": warning}
    )


_PROGRAM_ASSIGNED_SQL = (
    _recipients(
        "SELECT user_id FROM user_program WHERE id = CAST(:user_program_id AS uuid) AND is_active"
    )
    + _EVENT
    + f"""
candidate AS (
    SELECT e.user_id, e.due_at,
           {_key(PROGRAM_ASSIGNED, "up.id::text")} AS dedupe_key,
           jsonb_build_object(
               'coach_name', concat_ws(' ', coach.first_name, coach.last_name),
               'program_title', p.title,
               'start_date', to_char(up.start_date, 'YYYY-MM-DD'),
               'user_program_id', up.id,
               'program_id', p.id) AS variables
    FROM eligible AS e
    JOIN user_program AS up ON up.id = CAST(:user_program_id AS uuid) AND up.user_id = e.user_id
    JOIN program AS p ON p.id = up.program_id
    JOIN app_user AS coach ON coach.id = up.assigned_by AND coach.id <> up.user_id
)"""
    + _INSERT
    + "RETURNING id"
)


async def plan_program_assigned(
    session: AsyncSession, user_program_id: uuid.UUID, now: dt.datetime
) -> uuid.UUID | None:
    """Plan the PROGRAM_ASSIGNED notification of an assignment made by someone else (a coach):
    due now, or at the end of the athlete's quiet hours. Returns its id; None when it was
    already planned, when the athlete assigned it to themselves, or when they cannot be
    reached (blocked the bot, no Telegram account)."""
    now = _aware(now)
    values = {
        "now": now,
        "unknown_zones": await _unknown_zones(session),
        "type_code": PROGRAM_ASSIGNED,
        "user_program_id": user_program_id,
    }
    planned: uuid.UUID | None = await session.scalar(text(_PROGRAM_ASSIGNED_SQL), values)
    return planned


# --------------------------------------------------------------------------------------------
# All planned types
# --------------------------------------------------------------------------------------------

PLANNERS: tuple[tuple[str, Planner], ...] = (
    (WORKOUT_REMINDER, plan_workout_reminders),
    (MISSED_WORKOUT, plan_missed_workouts),
    (STREAK_AT_RISK, plan_streaks_at_risk),
    (CLIENT_INACTIVE, plan_clients_inactive),
    (INVITE_EXPIRING, plan_invites_expiring),
    (WEEKLY_DIGEST, plan_weekly_digests),
    (MONTHLY_DIGEST, plan_monthly_digests),
)
"""The planning tick's statements, by type (PROGRAM_ASSIGNED is planned by its event)."""


async def plan_reminders(session: AsyncSession, now: dt.datetime) -> dict[str, int]:
    """Run every planner of ``PLANNERS`` in the caller's transaction; counts by type code."""
    return {code: await plan(session, now) for code, plan in PLANNERS}
