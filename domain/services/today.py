"""``/today``: what the athlete's running program schedules on their local date.

The day's workouts come from ``domain.services.schedule_day`` (the schedule instance or the
program's only schedule, day 0 = the assignment's start, USER_SCHEDULE_WORKOUT_MAP overrides
applied, optional workouts flagged; see its docstring for why the calendar, not
USER_PROGRAM_PROGRESS.current_day_number, says which dates are training days). This module adds
what the screen shows around them: each workout's size and estimated duration, whether it was
already trained today, and — on a day without workouts — whether it is a rest day (and the next
training date), the program not started yet, or the program finished.
"""

# SQL here is pasted together from schedule_day's constants (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import enum
import uuid
import zoneinfo
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.services.schedule_day import is_day_done, training_day_sql, workouts_on

# How far ahead the next training day is looked for on a rest day.
NEXT_TRAINING_HORIZON_DAYS = 366


class DayKind(enum.StrEnum):
    TRAINING = "training"  # at least one workout today (maybe only optional ones)
    REST = "rest"  # a running program, nothing scheduled today
    NOT_STARTED = "not_started"  # every active assignment starts later
    FINISHED = "finished"  # every active assignment is past its schedule's last day
    NO_PROGRAM = "no_program"  # no active assignment at all


@dataclass(frozen=True, slots=True)
class TodayWorkout:
    workout_id: uuid.UUID
    name: str
    user_program_id: uuid.UUID
    day_number: int  # 0-based day of the schedule
    is_optional: bool
    set_count: int  # prescribed sets (sum of sets_count)
    exercise_count: int  # distinct exercises
    estimated_seconds: int | None  # ESTIMATED_WORKOUT_DURATION, else the workout's own estimate
    done: bool  # a session of this workout was started today


@dataclass(frozen=True, slots=True)
class TodayView:
    local_date: dt.date
    kind: DayKind
    workouts: tuple[TodayWorkout, ...]
    day_done: bool  # the athlete trained or settled today (schedule_day.is_day_done)
    next_training: dt.date | None  # REST / NOT_STARTED: the next date with required work
    program_titles: tuple[str, ...]  # the active assignments' programs


def local_date_of(now: dt.datetime, timezone: str) -> dt.date:
    """``now`` (aware) as a date of the calendar in ``timezone`` (UTC when unknown)."""
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return now.astimezone(zone).date()


async def _workout_facts(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout_ids: list[uuid.UUID],
    local_date: dt.date,
    timezone: str,
) -> dict[uuid.UUID, tuple[int, int, int | None, bool]]:
    """workout id → (set count, exercise count, estimated seconds, trained today)."""
    if not workout_ids:
        return {}
    rows = await session.execute(
        text(
            """
            SELECT w.id,
                   (SELECT coalesce(sum(ws.sets_count), 0) FROM workout_set AS ws
                     WHERE ws.workout_id = w.id),
                   (SELECT count(DISTINCT ei.exercise_id)
                      FROM workout_set AS ws
                      JOIN exercise_instruction AS ei ON ei.workout_set_id = ws.id
                     WHERE ws.workout_id = w.id),
                   coalesce(ewd.total_seconds, nullif(w.estimated_duration_seconds, 0)),
                   EXISTS (
                       SELECT 1 FROM training_session AS ts
                        WHERE ts.user_id = :user_id AND ts.workout_id = w.id
                          AND ts.started_at
                              >= (CAST(:day AS timestamp) AT TIME ZONE CAST(:tz AS text))
                          AND ts.started_at
                              < ((CAST(:day AS timestamp) + interval '1 day')
                                 AT TIME ZONE CAST(:tz AS text)))
            FROM workout AS w
            LEFT JOIN estimated_workout_duration AS ewd ON ewd.workout_id = w.id
            WHERE w.id = ANY(CAST(:ids AS uuid[]))
            """
        ),
        {"user_id": user_id, "ids": workout_ids, "day": local_date, "tz": timezone},
    )
    return {
        row[0]: (int(row[1]), int(row[2]), None if row[3] is None else int(row[3]), bool(row[4]))
        for row in rows
    }


async def _assignments(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[str, dt.date, int | None]]:
    """Active assignments: (program title, day 0, schedule length in days or None)."""
    rows = await session.execute(
        text(
            """
            SELECT p.title,
                   coalesce(inst.scheduled_date, up.start_date),
                   coalesce(inst.length_days, only_one.length_days)
            FROM user_program AS up
            JOIN program AS p ON p.id = up.program_id
            LEFT JOIN LATERAL (
                SELECT m.scheduled_date, ps.schedule_length_days AS length_days
                FROM user_program_schedule_map AS m
                JOIN program_schedule AS ps ON ps.id = m.program_schedule_id
                WHERE m.user_program_id = up.id
                ORDER BY m.scheduled_date DESC LIMIT 1
            ) AS inst ON true
            LEFT JOIN LATERAL (
                SELECT max(ps.schedule_length_days) AS length_days
                FROM program_schedule AS ps WHERE ps.program_id = up.program_id
                HAVING count(*) = 1
            ) AS only_one ON true
            WHERE up.user_id = :user_id AND up.is_active
            ORDER BY up.assigned_at, p.title
            """
        ),
        {"user_id": user_id},
    )
    return [(row[0], row[1], None if row[2] is None else int(row[2])) for row in rows]


async def next_training_day(
    session: AsyncSession, user_id: uuid.UUID, after: dt.date
) -> dt.date | None:
    """The first date after ``after`` with a non-optional workout scheduled (one statement)."""
    training = training_day_sql("CAST(:user_id AS uuid)", "CAST(g.d AS date)")
    found = await session.scalar(
        text(
            f"""
            SELECT min(CAST(g.d AS date))
            FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day')
                 AS g(d)
            WHERE {training}
            """
        ),
        {
            "user_id": user_id,
            "first": after + dt.timedelta(days=1),
            "last": after + dt.timedelta(days=NEXT_TRAINING_HORIZON_DAYS),
        },
    )
    return found if isinstance(found, dt.date) else None


async def today(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: dt.datetime,
    timezone: str,
    locale: str = "en",
) -> TodayView:
    """The user's day at ``now`` in ``timezone``: workouts, or why there are none."""
    local_date = local_date_of(now, timezone)
    assignments = await _assignments(session, user_id)
    titles = tuple(title for title, _start, _length in assignments)
    if not assignments:
        return TodayView(local_date, DayKind.NO_PROGRAM, (), False, None, ())
    scheduled = await workouts_on(session, user_id, local_date)
    day_done = await is_day_done(session, user_id, local_date, timezone)
    if scheduled:
        facts = await _workout_facts(
            session, user_id, list({item.workout_id for item in scheduled}), local_date, timezone
        )
        workouts = tuple(
            TodayWorkout(
                workout_id=item.workout_id,
                name=item.workout_name,
                user_program_id=item.user_program_id,
                day_number=item.day_number,
                is_optional=item.is_optional,
                set_count=facts[item.workout_id][0],
                exercise_count=facts[item.workout_id][1],
                estimated_seconds=facts[item.workout_id][2],
                done=facts[item.workout_id][3],
            )
            for item in scheduled
        )
        return TodayView(local_date, DayKind.TRAINING, workouts, day_done, None, titles)
    following = await next_training_day(session, user_id, local_date)
    if all(start > local_date for _title, start, _length in assignments):
        return TodayView(local_date, DayKind.NOT_STARTED, (), day_done, following, titles)
    finished = all(
        length is not None and (local_date - start).days >= length
        for _title, start, length in assignments
        if start <= local_date
    )
    if finished and following is None:
        return TodayView(local_date, DayKind.FINISHED, (), day_done, None, titles)
    return TodayView(local_date, DayKind.REST, (), day_done, following, titles)
