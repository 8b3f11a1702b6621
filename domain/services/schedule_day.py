"""Which workouts a user has on a date of their own calendar, and whether that day is done,
as SQL that set-based statements (the reminder planner) embed and that ``/today`` can call.

Reading of the data model (docs/data-model.md, docs/schema-decisions.md) behind these queries:

* A running assignment is a USER_PROGRAM with ``is_active``. Its calendar is a schedule
  instance: each USER_PROGRAM_SCHEDULE_MAP row of the assignment (the athlete's copy of a
  PROGRAM_SCHEDULE, day 0 = ``scheduled_date``). An assignment without such a row follows its
  program's PROGRAM_SCHEDULE from ``user_program.start_date`` (day 0) — only when the program
  has exactly one schedule: with several, which one the athlete follows is unknown until an
  instance row says so, and nothing is scheduled rather than a guess.
* Calendar days, not progress: the day number of local date D is ``D - day 0``, and
  SCHEDULE_WORKOUT rows with that 0-based ``day_number`` are the day's workouts (none: a rest
  day; past the schedule's length: the program is over). USER_PROGRAM_PROGRESS
  (``current_day_number``) is where the athlete stands and does not move on rest days, so it
  cannot say which dates are training days; its ``last_completed_date`` counts as "done" below.
* USER_SCHEDULE_WORKOUT_MAP overrides a day of an instance: REMOVE drops the default
  SCHEDULE_WORKOUT it names, REPLACE drops it and adds its own ``workout_id``, ADD adds one.
  Overrides need an instance row (they hang off USER_PROGRAM_SCHEDULE_MAP).
* Optional workouts (``is_optional``) are returned flagged; the reminders ignore them (a day
  with only optional work is a rest day for reminders).
* A day D is done when the athlete trained or settled it: a TRAINING_SESSION started on D in
  their time zone (finished or still open: someone mid-session is not reminded), a
  USER_WORKOUT_PROGRESS COMPLETED or PARTIAL for D (``scheduled_date`` or
  ``last_completed_date``) or SKIPPED for D (``scheduled_date``: deliberately left out, no
  nudging), or the assignment's progress ``last_completed_date`` = D. One session makes the
  day done, however many workouts it schedules.

The ``*_sql`` functions return SQL text with the expressions they are given pasted in: pass
column references of the enclosing statement or bind parameters, never user input.
"""

# SQL here is pasted together from this package's constants (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# USER_WORKOUT_PROGRESS statuses (STATUS rows of type COMPLETION) that settle a day.
DONE_STATUSES = ("COMPLETED", "PARTIAL")
SKIPPED_STATUS = "SKIPPED"


def day_workouts_sql(user_id: str, local_date: str) -> str:
    """A SELECT of the user's workouts on ``local_date`` (a SQL ``date``), one row each:
    ``user_program_id, day_number, schedule_workout_id`` (NULL for an added workout),
    ``workout_id, order_index, is_optional``."""
    return f"""
    SELECT inst.user_program_id, inst.day_number, w.schedule_workout_id, w.workout_id,
           w.order_index, w.is_optional
    FROM (
        SELECT up.id AS user_program_id, m.id AS instance_id,
               m.program_schedule_id AS schedule_id, ({local_date}) - m.scheduled_date AS day_number
        FROM user_program AS up
        JOIN user_program_schedule_map AS m ON m.user_program_id = up.id
        WHERE up.user_id = {user_id} AND up.is_active AND m.scheduled_date <= ({local_date})
        UNION ALL
        SELECT up.id, NULL, only_one.schedule_id, ({local_date}) - up.start_date
        FROM user_program AS up
        -- The program's schedule when it has exactly one.
        CROSS JOIN LATERAL (
            SELECT (array_agg(ps.id))[1] AS schedule_id
            FROM program_schedule AS ps WHERE ps.program_id = up.program_id
            HAVING count(*) = 1
        ) AS only_one
        WHERE up.user_id = {user_id} AND up.is_active AND up.start_date <= ({local_date})
          AND NOT EXISTS (
              SELECT 1 FROM user_program_schedule_map AS m WHERE m.user_program_id = up.id)
    ) AS inst
    CROSS JOIN LATERAL (
        SELECT sw.id AS schedule_workout_id, sw.workout_id, sw.order_index, sw.is_optional
        FROM schedule_workout AS sw
        WHERE sw.program_schedule_id = inst.schedule_id AND sw.day_number = inst.day_number
          -- REMOVE and REPLACE name the default they act on (ADD never does: a CHECK).
          AND NOT EXISTS (
              SELECT 1 FROM user_schedule_workout_map AS o
              WHERE o.user_program_schedule_id = inst.instance_id
                AND o.day_number = inst.day_number
                AND o.replaces_schedule_workout_id = sw.id)
        UNION ALL
        SELECT NULL, o.workout_id, o.order_index, o.is_optional
        FROM user_schedule_workout_map AS o
        WHERE o.user_program_schedule_id = inst.instance_id
          AND o.day_number = inst.day_number
          AND o.action IN ('ADD', 'REPLACE')
    ) AS w
    """


def training_day_sql(user_id: str, local_date: str) -> str:
    """A boolean: the user has a non-optional workout scheduled on ``local_date``."""
    return (
        f"EXISTS (SELECT 1 FROM ({day_workouts_sql(user_id, local_date)}) AS day_workout"
        " WHERE NOT day_workout.is_optional)"
    )


def day_done_sql(user_id: str, local_date: str, timezone: str) -> str:
    """A boolean: the user trained or settled ``local_date`` (see the module docstring).

    ``timezone`` is an IANA name expression: the day's bounds are computed in it, so the
    training-session test is a range on ``ix_training_session_user_started``.
    """
    done = ", ".join(f"'{code}'" for code in DONE_STATUSES)
    return f"""(
    EXISTS (
        SELECT 1 FROM training_session AS ts
        WHERE ts.user_id = {user_id}
          AND ts.started_at >= (CAST(({local_date}) AS timestamp) AT TIME ZONE {timezone})
          AND ts.started_at < (CAST(({local_date}) + 1 AS timestamp) AT TIME ZONE {timezone}))
    OR EXISTS (
        SELECT 1 FROM user_workout_progress AS uwp
        JOIN status AS st ON st.id = uwp.completion_status_id AND st.type = 'COMPLETION'
        WHERE uwp.user_id = {user_id}
          AND ((st.code IN ({done})
                AND (uwp.last_completed_date = ({local_date})
                     OR uwp.scheduled_date = ({local_date})))
               OR (st.code = '{SKIPPED_STATUS}' AND uwp.scheduled_date = ({local_date}))))
    OR EXISTS (
        SELECT 1 FROM user_program AS done_up
        JOIN user_program_progress AS upp ON upp.user_program_id = done_up.id
        WHERE done_up.user_id = {user_id} AND upp.last_completed_date = ({local_date}))
    )"""


@dataclass(frozen=True)
class ScheduledWorkout:
    """One workout of a user's day."""

    user_program_id: uuid.UUID
    day_number: int
    workout_id: uuid.UUID
    workout_name: str
    order_index: int
    is_optional: bool
    # The program's SCHEDULE_WORKOUT; None for a workout the athlete added (ADD / REPLACE).
    schedule_workout_id: uuid.UUID | None


async def workouts_on(
    session: AsyncSession, user_id: uuid.UUID, local_date: dt.date
) -> list[ScheduledWorkout]:
    """The user's workouts on ``local_date`` (their calendar), in the day's order."""
    day = day_workouts_sql("CAST(:user_id AS uuid)", "CAST(:local_date AS date)")
    rows = await session.execute(
        text(
            f"""
            SELECT d.user_program_id, d.day_number, d.workout_id, w.name, d.order_index,
                   d.is_optional, d.schedule_workout_id
            FROM ({day}) AS d JOIN workout AS w ON w.id = d.workout_id
            ORDER BY d.user_program_id, d.order_index, w.name
            """
        ),
        {"user_id": user_id, "local_date": local_date},
    )
    return [
        ScheduledWorkout(
            user_program_id=row[0],
            day_number=int(row[1]),
            workout_id=row[2],
            workout_name=row[3],
            order_index=int(row[4]),
            is_optional=bool(row[5]),
            schedule_workout_id=row[6],
        )
        for row in rows
    ]


async def is_day_done(
    session: AsyncSession, user_id: uuid.UUID, local_date: dt.date, timezone: str
) -> bool:
    """Whether the user trained or settled ``local_date`` (a date in ``timezone``)."""
    done = day_done_sql("CAST(:user_id AS uuid)", "CAST(:local_date AS date)", "CAST(:tz AS text)")
    found = await session.scalar(
        text(f"SELECT {done}"),
        {"user_id": user_id, "local_date": local_date, "tz": timezone},
    )
    return bool(found)
