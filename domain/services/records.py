"""Personal records and the rows a finished training session leaves behind.

Records (``detect_records``) compare the work sets of one session with the same user's sets of
the same exercise in *earlier* sessions (sessions started before it), in one statement:

* ``E1RM``: a higher estimated one-rep max (``strength.estimated_1rm``: mean of Epley and
  Brzycki, 1–12 reps) than ever before;
* ``HEAVIEST_LOAD``: a heavier load than ever lifted for at least one rep;
* ``REPS_AT_LOAD``: more reps than ever done at this load or any heavier one (100 kg × 6 after a
  best of 100 kg × 5, or 90 kg × 6 when nothing at ≥ 90 kg ever reached 6 reps);
* ``SET_VOLUME``: the best single set by volume load (load × reps);
* ``SESSION_VOLUME``: the most volume load for the exercise in one session.

Rules (docs/decisions.md §15):

* The first session of an exercise sets the baseline and is never a record (as Hevy and Strong
  do: no confetti on the first log). Likewise, a kind without an earlier value to beat (no
  earlier set at ≥ this load, no earlier loaded set …) gives no record. Ties are not records.
* Warm-up sets and sets without reps (timed, distance) never count.
* Bodyweight sets: no e1RM and no volume (body weight is not logged); their "load" is the added
  load (negative: assistance), so they get ``REPS_AT_LOAD`` (most pull-ups) and
  ``HEAVIEST_LOAD`` (heaviest added load), compared only with bodyweight sets.
* At most one record per exercise and kind per session: the best set (for ``REPS_AT_LOAD``, the
  heaviest load that beat its rep record).

``write_session_activity`` writes what feeds, digests and reminders read (see
domain/services/reminders.py: TRAINING_ACTIVITY_TYPES, PR_ACTIVITY_TYPE, VOLUME_METRIC): one
WORKOUT_COMPLETED (from a workout) or FREE_LOG activity for the session with its metrics
(VOLUME_LOAD kg, TOTAL_REPS, DURATION s, DISTANCE m), one PR_ACHIEVED activity per record (about
the exercise; the record in ``details``, no VOLUME_LOAD metric so digests do not count volume
twice), and for a planned workout a USER_WORKOUT_PROGRESS row plus the assignment's
USER_PROGRAM_PROGRESS moved on.
"""

# SQL here is pasted together from this package's constants (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotFound
from domain.models.activity import Activity, ActivityResourceType, ActivityType
from domain.models.lookup import Status
from domain.models.training_log import TrainingSession
from domain.models.user import User, UserProgramProgress, UserWorkoutProgress
from domain.services.activity import TITLE_MAX_LENGTH, record_activity
from domain.services.schedule_day import day_workouts_sql
from domain.services.strength import estimated_1rm_sql

WORKOUT_ACTIVITY_TYPE = "WORKOUT_COMPLETED"  # a session that followed a workout
FREE_LOG_ACTIVITY_TYPE = "FREE_LOG"  # sets typed freely, outside any plan
PR_ACTIVITY_TYPE = "PR_ACHIEVED"
RECORD_LIST_LIMIT = 30


class RecordKind(enum.StrEnum):
    E1RM = "E1RM"
    HEAVIEST_LOAD = "HEAVIEST_LOAD"
    REPS_AT_LOAD = "REPS_AT_LOAD"
    SET_VOLUME = "SET_VOLUME"
    SESSION_VOLUME = "SESSION_VOLUME"


# Announcement order within an exercise.
_KIND_ORDER = {kind: index for index, kind in enumerate(RecordKind)}


@dataclass(frozen=True, slots=True)
class PersonalRecord:
    """A record beaten in a session. ``value``/``previous``: kg for E1RM, HEAVIEST_LOAD,
    SET_VOLUME and SESSION_VOLUME; a rep count for REPS_AT_LOAD (at ``load_kg``)."""

    kind: RecordKind
    exercise_id: uuid.UUID
    exercise_name: str  # in the caller's locale
    value: Decimal
    previous: Decimal | None
    set_id: uuid.UUID | None  # the set that did it; None for SESSION_VOLUME
    load_kg: Decimal | None = None  # the set's load (bodyweight: the added load)
    reps: int | None = None
    is_bodyweight: bool = False


# --------------------------------------------------------------------------------------------
# The work sets of a user, with the figures records compare
# --------------------------------------------------------------------------------------------

# Columns of one work set (alias ``ls``): ``load`` is the external load, or the added load of a
# bodyweight set; ``e1rm`` and ``volume`` are NULL where not computed (bodyweight, no load).
_WORK_COLUMNS = f"""
    ls.id, ls.session_id, ls.exercise_id, ls.reps, ls.performed_at, ls.is_bodyweight,
    CASE WHEN ls.is_bodyweight THEN COALESCE(ls.added_load_kg, 0)
         ELSE COALESCE(ls.load_kg, 0) END AS load,
    CASE WHEN NOT ls.is_bodyweight THEN {estimated_1rm_sql("ls.load_kg", "ls.reps")} END AS e1rm,
    CASE WHEN NOT ls.is_bodyweight AND ls.load_kg > 0 THEN ls.load_kg * ls.reps END AS volume"""
_WORK_FILTER = "NOT ls.is_warmup AND ls.reps >= 1"

_DETECT_SQL = f"""
WITH cur AS (
    SELECT ts.id, ts.started_at FROM training_session AS ts
    WHERE ts.id = :session_id AND ts.user_id = :user_id
),
work AS (
    SELECT {_WORK_COLUMNS}, ls.session_id = cur.id AS is_current
    FROM cur
    JOIN logged_set AS ls ON ls.user_id = :user_id
    JOIN training_session AS ts ON ts.id = ls.session_id
    WHERE ls.exercise_id IN (SELECT s.exercise_id FROM logged_set AS s WHERE s.session_id = cur.id)
      AND {_WORK_FILTER}
      AND (ls.session_id = cur.id OR ts.started_at < cur.started_at)
),
best AS (
    SELECT exercise_id, max(e1rm) AS e1rm, max(volume) AS volume
    FROM work WHERE NOT is_current GROUP BY exercise_id
),
heaviest AS (
    SELECT exercise_id, is_bodyweight, max(load) AS load
    FROM work WHERE NOT is_current GROUP BY exercise_id, is_bodyweight
),
session_volume AS (
    SELECT exercise_id, session_id, bool_or(is_current) AS is_current,
           max(performed_at) AS performed_at, sum(volume) AS volume
    FROM work WHERE volume IS NOT NULL GROUP BY exercise_id, session_id
),
candidate AS (
    SELECT 'E1RM' AS kind, w.exercise_id, w.e1rm AS value, b.e1rm AS previous, w.id AS set_id,
           w.load, w.reps, w.is_bodyweight, w.performed_at, w.e1rm AS rank
    FROM work AS w JOIN best AS b ON b.exercise_id = w.exercise_id
    WHERE w.is_current AND w.e1rm > b.e1rm
    UNION ALL
    SELECT 'SET_VOLUME', w.exercise_id, w.volume, b.volume, w.id, w.load, w.reps,
           w.is_bodyweight, w.performed_at, w.volume
    FROM work AS w JOIN best AS b ON b.exercise_id = w.exercise_id
    WHERE w.is_current AND w.volume > b.volume
    UNION ALL
    SELECT 'HEAVIEST_LOAD', w.exercise_id, w.load, h.load, w.id, w.load, w.reps,
           w.is_bodyweight, w.performed_at, w.load
    FROM work AS w
    JOIN heaviest AS h ON h.exercise_id = w.exercise_id AND h.is_bodyweight = w.is_bodyweight
    WHERE w.is_current AND w.load > h.load
    UNION ALL
    SELECT 'REPS_AT_LOAD', w.exercise_id, w.reps, earlier.reps, w.id, w.load, w.reps,
           w.is_bodyweight, w.performed_at, w.load
    FROM work AS w
    CROSS JOIN LATERAL (
        SELECT max(e.reps) AS reps FROM work AS e
        WHERE NOT e.is_current AND e.exercise_id = w.exercise_id
          AND e.is_bodyweight = w.is_bodyweight AND e.load >= w.load
    ) AS earlier
    WHERE w.is_current AND w.reps > earlier.reps
    UNION ALL
    SELECT 'SESSION_VOLUME', sv.exercise_id, sv.volume, earlier.volume, NULL, NULL, NULL,
           false, sv.performed_at, sv.volume
    FROM session_volume AS sv
    CROSS JOIN LATERAL (
        SELECT max(e.volume) AS volume FROM session_volume AS e
        WHERE NOT e.is_current AND e.exercise_id = sv.exercise_id
    ) AS earlier
    WHERE sv.is_current AND sv.volume > earlier.volume
),
chosen AS (
    SELECT DISTINCT ON (c.exercise_id, c.kind) c.*
    FROM candidate AS c
    ORDER BY c.exercise_id, c.kind, c.rank DESC, c.value DESC, c.performed_at
)
SELECT c.kind, c.exercise_id, COALESCE(e.name_i18n ->> :locale, e.name) AS exercise_name,
       c.value, c.previous, c.set_id, c.load, c.reps, c.is_bodyweight,
       first_set.performed_at AS first_at
FROM chosen AS c
JOIN exercise AS e ON e.id = c.exercise_id
CROSS JOIN LATERAL (
    SELECT min(w.performed_at) AS performed_at FROM work AS w
    WHERE w.is_current AND w.exercise_id = c.exercise_id
) AS first_set
"""


def _two_places(value: Any) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


async def detect_records(
    session: AsyncSession,
    user_id: uuid.UUID,
    training_session_id: uuid.UUID,
    *,
    locale: str = "en",
) -> list[PersonalRecord]:
    """The records the session beat, in the order its exercises were first done (one
    statement). The session must be the user's (otherwise: none). Loads and volumes in kg,
    rounded to 0.01."""
    rows = list(
        (
            await session.execute(
                text(_DETECT_SQL),
                {"user_id": user_id, "session_id": training_session_id, "locale": locale},
            )
        ).all()
    )
    rows.sort(key=lambda row: (row.first_at, str(row.exercise_id), _KIND_ORDER[row.kind]))
    records = []
    for row in rows:
        kind = RecordKind(row.kind)
        as_count = kind is RecordKind.REPS_AT_LOAD
        records.append(
            PersonalRecord(
                kind=kind,
                exercise_id=row.exercise_id,
                exercise_name=row.exercise_name,
                value=Decimal(int(row.value)) if as_count else _two_places(row.value),
                previous=(
                    None
                    if row.previous is None
                    else Decimal(int(row.previous))
                    if as_count
                    else _two_places(row.previous)
                ),
                set_id=row.set_id,
                load_kg=None if row.load is None else _two_places(row.load),
                reps=row.reps,
                is_bodyweight=bool(row.is_bodyweight),
            )
        )
    return records


# --------------------------------------------------------------------------------------------
# The PR list (/progress)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One best of an exercise: ``value`` in kg (a rep count for ``most_reps``), the set that
    did it (``load_kg``/``reps``; None for a session volume) and when (UTC)."""

    value: Decimal
    achieved_at: dt.datetime
    load_kg: Decimal | None
    reps: int | None
    is_bodyweight: bool
    set_id: uuid.UUID | None
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class ExerciseRecords:
    """The current bests of one exercise; a best that does not apply (e1RM of a bodyweight
    exercise, volume of unloaded sets) is None."""

    exercise_id: uuid.UUID
    exercise_name: str
    last_performed_at: dt.datetime
    e1rm: RecordEntry | None
    heaviest: RecordEntry | None
    most_reps: RecordEntry | None
    best_set_volume: RecordEntry | None
    best_session_volume: RecordEntry | None


def _best_set(name: str, value: str, where: str, order: str) -> str:
    return f"""
LEFT JOIN LATERAL (
    SELECT {value} AS value, w.performed_at, w.load, w.reps, w.is_bodyweight, w.id, w.session_id
    FROM work AS w WHERE w.exercise_id = ex.exercise_id AND {where}
    ORDER BY {order}, w.performed_at LIMIT 1
) AS {name} ON true"""


_BESTS = ("e1rm", "heaviest", "most_reps", "set_volume", "session_volume")
_BEST_COLUMNS = ", ".join(
    f"{b}.value, {b}.performed_at, {b}.load, {b}.reps, {b}.is_bodyweight, {b}.id, {b}.session_id"
    for b in _BESTS
)
_RECORD_LIST_SQL = f"""
WITH work AS (
    SELECT {_WORK_COLUMNS}
    FROM logged_set AS ls
    WHERE ls.user_id = :user_id AND {_WORK_FILTER}
),
ex AS (
    SELECT exercise_id, max(performed_at) AS last_at FROM work
    GROUP BY exercise_id ORDER BY last_at DESC, exercise_id LIMIT :limit
)
SELECT ex.exercise_id, COALESCE(e.name_i18n ->> :locale, e.name) AS exercise_name, ex.last_at,
       {_BEST_COLUMNS}
FROM ex
JOIN exercise AS e ON e.id = ex.exercise_id
{_best_set("e1rm", "w.e1rm", "w.e1rm IS NOT NULL", "w.e1rm DESC")}
{_best_set("heaviest", "w.load", "w.load > 0", "w.load DESC, w.reps DESC")}
{_best_set("most_reps", "w.reps", "true", "w.reps DESC, w.load DESC")}
{_best_set("set_volume", "w.volume", "w.volume IS NOT NULL", "w.volume DESC")}
LEFT JOIN LATERAL (
    SELECT sum(w.volume) AS value, max(w.performed_at) AS performed_at, NULL AS load,
           NULL AS reps, false AS is_bodyweight, NULL AS id, w.session_id
    FROM work AS w WHERE w.exercise_id = ex.exercise_id AND w.volume IS NOT NULL
    GROUP BY w.session_id
    ORDER BY 1 DESC, 2 LIMIT 1
) AS session_volume ON true
ORDER BY ex.last_at DESC, ex.exercise_id
"""


def _entry(row: Any, offset: int, *, count: bool = False) -> RecordEntry | None:
    value, at, load, reps, bodyweight, set_id, session_id = row[offset : offset + 7]
    if value is None:
        return None
    return RecordEntry(
        value=Decimal(int(value)) if count else _two_places(value),
        achieved_at=at,
        load_kg=None if load is None else _two_places(load),
        reps=reps,
        is_bodyweight=bool(bodyweight),
        set_id=set_id,
        session_id=session_id,
    )


async def record_list(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    locale: str = "en",
    limit: int = RECORD_LIST_LIMIT,
) -> list[ExerciseRecords]:
    """The user's current bests per exercise, most recently trained exercise first (one
    statement; warm-ups excluded; ties go to the first time the best was reached)."""
    rows = (
        await session.execute(
            text(_RECORD_LIST_SQL), {"user_id": user_id, "locale": locale, "limit": limit}
        )
    ).all()
    return [
        ExerciseRecords(
            exercise_id=row[0],
            exercise_name=row[1],
            last_performed_at=row[2],
            e1rm=_entry(row, 3),
            heaviest=_entry(row, 10),
            most_reps=_entry(row, 17, count=True),
            best_set_volume=_entry(row, 24),
            best_session_volume=_entry(row, 31),
        )
        for row in rows
    ]


# --------------------------------------------------------------------------------------------
# The rows a finished session leaves: activity, metrics, PRs, workout and program progress
# --------------------------------------------------------------------------------------------

_TOTALS_SQL = """
SELECT COALESCE(sum(ls.load_kg * ls.reps) FILTER (WHERE ls.load_kg > 0), 0) AS volume_kg,
       COALESCE(sum(ls.reps), 0) AS total_reps,
       count(*) AS set_count,
       COALESCE(sum(ls.distance_m), 0) AS distance_m,
       (SELECT string_agg(name, ', ' ORDER BY first_at) FROM (
            SELECT e.name, min(s.performed_at) AS first_at
            FROM logged_set AS s JOIN exercise AS e ON e.id = s.exercise_id
            WHERE s.session_id = :session_id GROUP BY e.id, e.name) AS names) AS exercises
FROM logged_set AS ls
WHERE ls.session_id = :session_id AND NOT ls.is_warmup
"""


@dataclass(frozen=True, slots=True)
class SessionTotals:
    """What the session's activity metrics hold (warm-up sets excluded)."""

    volume_kg: Decimal  # Σ load × reps of loaded sets (strength.set_volume_kg)
    total_reps: int
    set_count: int
    distance_m: Decimal
    duration: dt.timedelta


async def session_totals(
    session: AsyncSession, training_session_id: uuid.UUID, *, now: dt.datetime
) -> SessionTotals:
    """Volume, reps, work sets, distance and duration (to ``finished_at``, else ``now``)."""
    row = await _own_session(session, None, training_session_id)
    totals = (await session.execute(text(_TOTALS_SQL), {"session_id": row.id})).one()
    return _totals(row, totals, now)


def _totals(row: TrainingSession, totals: Any, now: dt.datetime) -> SessionTotals:
    end = row.finished_at or now
    return SessionTotals(
        volume_kg=Decimal(totals.volume_kg),
        total_reps=int(totals.total_reps),
        set_count=int(totals.set_count),
        distance_m=Decimal(totals.distance_m),
        duration=max(end - row.started_at, dt.timedelta(0)),
    )


async def _own_session(
    session: AsyncSession, user_id: uuid.UUID | None, training_session_id: uuid.UUID
) -> TrainingSession:
    row = await session.get(TrainingSession, training_session_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound("training session not found", training_session_id=str(training_session_id))
    return row


def _local_date(moment: dt.datetime, timezone: str) -> dt.date:
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return moment.astimezone(zone).date()


def _record_title(record: PersonalRecord) -> str:
    label = record.kind.value.replace("_", " ").lower()
    return f"{record.exercise_name}: {label}"[:TITLE_MAX_LENGTH]


async def write_session_activity(
    session: AsyncSession,
    user_id: uuid.UUID,
    training_session_id: uuid.UUID,
    *,
    now: dt.datetime,
    records: list[PersonalRecord],
    timezone: str | None = None,
) -> None:
    """Write the finished session's activity rows (see the module docstring); idempotent: a
    session that already has its activity is left alone. ``timezone`` (IANA; default the
    user's) gives the local training day: the local date of the session's start."""
    row = await _own_session(session, user_id, training_session_id)
    already = await session.scalar(
        select(Activity.id)
        .join(ActivityType, ActivityType.id == Activity.activity_type_id)
        .where(
            Activity.training_session_id == row.id,
            ActivityType.code.in_((WORKOUT_ACTIVITY_TYPE, FREE_LOG_ACTIVITY_TYPE)),
        )
        .limit(1)
    )
    if already is not None:
        return
    if timezone is None:
        timezone = await session.scalar(select(User.timezone).where(User.id == user_id)) or "UTC"
    occurred_at = row.finished_at or now
    totals_row = (await session.execute(text(_TOTALS_SQL), {"session_id": row.id})).one()
    totals = _totals(row, totals_row, now)
    exercises: str = totals_row.exercises or ""
    trained_on = _local_date(row.started_at, timezone)

    workout_name = None
    if row.workout_id is not None:
        workout_name = await session.scalar(
            text("SELECT name FROM workout WHERE id = :id"), {"id": row.workout_id}
        )
    metrics: dict[str, float] = {
        "VOLUME_LOAD": float(totals.volume_kg),
        "DURATION": totals.duration.total_seconds(),
    }
    if totals.total_reps:
        metrics["TOTAL_REPS"] = float(totals.total_reps)
    if totals.distance_m:
        metrics["DISTANCE"] = float(totals.distance_m)
    if row.workout_id is not None:
        await record_activity(
            session,
            user_id,
            WORKOUT_ACTIVITY_TYPE,
            title=(workout_name or "Workout")[:TITLE_MAX_LENGTH],
            description=exercises or None,
            occurred_at=occurred_at,
            resource_type=ActivityResourceType.WORKOUT,
            resource_id=row.workout_id,
            training_session_id=row.id,
            metrics=metrics,
        )
    else:
        await record_activity(
            session,
            user_id,
            FREE_LOG_ACTIVITY_TYPE,
            title=(exercises or "Training session")[:TITLE_MAX_LENGTH],
            occurred_at=occurred_at,
            training_session_id=row.id,
            metrics=metrics,
        )
    for record in records:
        activity = await record_activity(
            session,
            user_id,
            PR_ACTIVITY_TYPE,
            title=_record_title(record),
            occurred_at=occurred_at,
            resource_type=ActivityResourceType.EXERCISE,
            resource_id=record.exercise_id,
            training_session_id=row.id,
            is_system_generated=True,
        )
        activity.details = {
            "kind": record.kind.value,
            "value": str(record.value),
            "previous": None if record.previous is None else str(record.previous),
            "load_kg": None if record.load_kg is None else str(record.load_kg),
            "reps": record.reps,
            "is_bodyweight": record.is_bodyweight,
            "set_id": None if record.set_id is None else str(record.set_id),
        }
    if row.workout_id is not None:
        await _workout_progress(session, row, trained_on)
    elif row.user_program_id is not None:
        await _advance_program(session, row.user_program_id, None, trained_on)
    await session.flush()


# The assignment day this workout fulfils: today's schedule first; else (catching up, or
# ahead) the first occurrence of the workout in the assignment's schedule from where the
# athlete stands. Returns user_program_id, day_number, the day's date.
_PROGRAM_DAY_SQL = f"""
SELECT 0 AS priority, today.user_program_id, today.day_number,
       CAST(:local_date AS date) AS scheduled_date
FROM ({day_workouts_sql("CAST(:user_id AS uuid)", "CAST(:local_date AS date)")}) AS today
WHERE today.workout_id = :workout_id AND NOT today.is_optional
  AND (CAST(:user_program_id AS uuid) IS NULL
       OR today.user_program_id = CAST(:user_program_id AS uuid))
UNION ALL
SELECT * FROM (
    SELECT 1, up.id, sw.day_number, inst.day0 + sw.day_number
    FROM user_program AS up
    LEFT JOIN user_program_progress AS upp ON upp.user_program_id = up.id
    CROSS JOIN LATERAL (
        SELECT m.program_schedule_id AS schedule_id, m.scheduled_date AS day0
        FROM user_program_schedule_map AS m WHERE m.user_program_id = up.id
        UNION ALL
        SELECT ps.id, up.start_date FROM program_schedule AS ps
        WHERE ps.program_id = up.program_id
          AND NOT EXISTS (
              SELECT 1 FROM user_program_schedule_map AS m WHERE m.user_program_id = up.id)
          AND (SELECT count(*) FROM program_schedule AS p WHERE p.program_id = up.program_id) = 1
    ) AS inst
    JOIN schedule_workout AS sw ON sw.program_schedule_id = inst.schedule_id
    WHERE up.id = CAST(:user_program_id AS uuid) AND sw.workout_id = :workout_id
      AND sw.day_number >= COALESCE(upp.current_day_number, 0)
    ORDER BY sw.day_number LIMIT 1
) AS later
ORDER BY priority, day_number
LIMIT 1
"""

# PARTIAL: the session followed the plan's sets (some logged set names a workout_set) and a
# block of the workout got fewer work sets than its sets_count.
_PARTIAL_SQL = """
SELECT EXISTS (
           SELECT 1 FROM logged_set AS ls
           WHERE ls.session_id = :session_id AND ls.workout_set_id IS NOT NULL)
       AND EXISTS (
           SELECT 1 FROM workout_set AS ws
           WHERE ws.workout_id = :workout_id
             AND ws.sets_count > (
                 SELECT count(*) FROM logged_set AS ls
                 WHERE ls.session_id = :session_id AND ls.workout_set_id = ws.id
                   AND NOT ls.is_warmup))
"""


async def _workout_progress(
    session: AsyncSession, row: TrainingSession, trained_on: dt.date
) -> None:
    assert row.workout_id is not None
    day = (
        await session.execute(
            text(_PROGRAM_DAY_SQL),
            {
                "user_id": row.user_id,
                "local_date": trained_on,
                "workout_id": row.workout_id,
                "user_program_id": row.user_program_id,
            },
        )
    ).first()
    user_program_id = day.user_program_id if day is not None else row.user_program_id
    partial = await session.scalar(
        text(_PARTIAL_SQL), {"session_id": row.id, "workout_id": row.workout_id}
    )
    status_id = await session.scalar(
        select(Status.id).where(
            Status.type == "COMPLETION", Status.code == ("PARTIAL" if partial else "COMPLETED")
        )
    )
    if status_id is None:
        raise NotFound("no COMPLETION statuses; run `motriforge seed`")
    session.add(
        UserWorkoutProgress(
            user_id=row.user_id,
            workout_id=row.workout_id,
            user_program_id=user_program_id,
            completion_status_id=status_id,
            scheduled_date=day.scheduled_date if day is not None else None,
            last_completed_date=trained_on,
            soreness_post_workout=row.soreness,
            progress_notes=row.notes,
        )
    )
    if user_program_id is not None:
        await _advance_program(
            session, user_program_id, day.day_number if day is not None else None, trained_on
        )


async def _advance_program(
    session: AsyncSession, user_program_id: uuid.UUID, day_number: int | None, trained_on: dt.date
) -> None:
    """The athlete stands after the day done (never moves back); last_completed_date is the
    latest local day trained."""
    next_day = 0 if day_number is None else day_number + 1
    statement = insert(UserProgramProgress).values(
        user_program_id=user_program_id,
        current_day_number=next_day,
        last_completed_date=trained_on,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[UserProgramProgress.user_program_id],
            set_={
                "current_day_number": text(
                    "GREATEST(user_program_progress.current_day_number,"
                    " excluded.current_day_number)"
                ),
                "last_completed_date": text(
                    "GREATEST(user_program_progress.last_completed_date,"
                    " excluded.last_completed_date)"
                ),
                "updated_at": text("now()"),
            },
        )
    )
