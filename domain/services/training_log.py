"""The training log's use cases: open a session, log sets into it, correct or undo the last
one, read what was done last time, and finish it (summary, records, streak, activity rows).

A TRAINING_SESSION is "current" while unfinished and started less than
``OPEN_SESSION_HOURS`` ago: free-text sets typed over an evening land in one session, and a
session forgotten open does not swallow tomorrow's. Sessions left open are closed by
``finish_idle_sessions`` (a scheduler tick), so someone who never presses "Finish" still gets
their records, streak and activity.

Every call that takes a session id from outside (callback data) checks it with domain/access
(TRAINING_LOG, deny by default); the free-text fast path lives in ``quick_log``.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, require
from domain.errors import InvalidInput, NotFound
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import User
from domain.parsing.model import ParsedSet, load_in_kg
from domain.services.records import (
    PersonalRecord,
    detect_records,
    session_totals,
    write_session_activity,
)
from domain.services.streaks import StreakState, update_streak
from domain.services.strength import set_volume_kg

OPEN_SESSION_HOURS = 6
# A session with no new set for this long is finished by the idle sweep.
IDLE_FINISH_AFTER = dt.timedelta(hours=3)
SORENESS_RANGE = range(11)
MAX_NOTES_LENGTH = 1000
MAX_SETS_PER_SESSION = 200


@dataclass(frozen=True, slots=True)
class SetInput:
    """What a logged set carries; loads in kg."""

    reps: int | None = None
    load_kg: Decimal | None = None
    added_load_kg: Decimal | None = None
    is_bodyweight: bool = False
    duration_seconds: int | None = None
    distance_m: Decimal | None = None
    rpe: Decimal | None = None
    workout_set_id: uuid.UUID | None = None
    is_warmup: bool = False

    @classmethod
    def from_parsed(cls, parsed: ParsedSet) -> SetInput:
        load_kg = (
            None
            if parsed.load is None or parsed.unit is None
            else load_in_kg(parsed.load, parsed.unit)
        )
        return cls(
            reps=parsed.reps,
            load_kg=None if parsed.bodyweight else load_kg,
            added_load_kg=load_kg if parsed.bodyweight else None,
            is_bodyweight=parsed.bodyweight,
            duration_seconds=parsed.duration_seconds,
            distance_m=parsed.distance_meters,
            rpe=parsed.rpe,
        )

    def values(self) -> dict[str, Any]:
        """Column values, loads rounded to the column's two decimals."""
        return {
            "reps": self.reps,
            "load_kg": _cents(self.load_kg),
            "added_load_kg": _cents(self.added_load_kg),
            "is_bodyweight": self.is_bodyweight,
            "duration_seconds": self.duration_seconds,
            "distance_m": _cents(self.distance_m),
            "rpe": self.rpe,
            "workout_set_id": self.workout_set_id,
            "is_warmup": self.is_warmup,
        }


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class SetRecord:
    """A logged set read back."""

    id: uuid.UUID
    session_id: uuid.UUID
    exercise_id: uuid.UUID
    exercise_name: str
    set_index: int
    reps: int | None
    load_kg: Decimal | None
    added_load_kg: Decimal | None
    is_bodyweight: bool
    duration_seconds: int | None
    distance_m: Decimal | None
    rpe: Decimal | None
    performed_at: dt.datetime
    workout_set_id: uuid.UUID | None

    @property
    def volume_kg(self) -> Decimal:
        return set_volume_kg(self.load_kg, self.reps)


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: uuid.UUID
    user_id: uuid.UUID
    workout_id: uuid.UUID | None
    user_program_id: uuid.UUID | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    source: TrainingSessionSource
    set_count: int


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: uuid.UUID
    workout_id: uuid.UUID | None
    started_at: dt.datetime
    finished_at: dt.datetime
    set_count: int
    volume_kg: Decimal
    exercises: list[str]
    records: list[PersonalRecord]
    streak: StreakState | None
    # An empty session is not kept: finishing it deletes it.
    discarded: bool = False

    @property
    def duration(self) -> dt.timedelta:
        return self.finished_at - self.started_at


class SessionFinished(InvalidInput):
    """The session is already finished: its sets can no longer change."""

    code = "session_finished"


class NothingToUndo(InvalidInput):
    code = "nothing_to_undo"


def exercise_name(locale: str) -> ColumnElement[str]:
    """The exercise's name in ``locale``, its canonical name when it has none there."""
    return func.coalesce(Exercise.name_i18n[locale].astext, Exercise.name)


def _set_columns(locale: str) -> tuple[Any, ...]:
    return (
        LoggedSet.id,
        LoggedSet.session_id,
        LoggedSet.exercise_id,
        exercise_name(locale).label("exercise_name"),
        LoggedSet.set_index,
        LoggedSet.reps,
        LoggedSet.load_kg,
        LoggedSet.added_load_kg,
        LoggedSet.is_bodyweight,
        LoggedSet.duration_seconds,
        LoggedSet.distance_m,
        LoggedSet.rpe,
        LoggedSet.performed_at,
        LoggedSet.workout_set_id,
    )


def _record(row: Any) -> SetRecord:
    return SetRecord(**{name: getattr(row, name) for name in SetRecord.__slots__})


def _info(row: TrainingSession, set_count: int) -> SessionInfo:
    return SessionInfo(
        id=row.id,
        user_id=row.user_id,
        workout_id=row.workout_id,
        user_program_id=row.user_program_id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        source=row.source,
        set_count=set_count,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime where an instant (UTC) was expected")
    return moment


async def _require(
    session: AsyncSession, actor_id: uuid.UUID, action: Action, session_id: uuid.UUID
) -> TrainingSession:
    """The session row, locked, once domain/access allows ``action`` on it."""
    await require(session, Actor(actor_id), action, ResourceRef("TRAINING_LOG", session_id))
    row = await session.get(TrainingSession, session_id, with_for_update=True)
    if row is None:  # gone between the check and the read
        raise NotFound("training session not found", training_session_id=str(session_id))
    return row


def _open_condition(user_id: uuid.UUID, now: dt.datetime) -> list[ColumnElement[bool]]:
    return [
        TrainingSession.user_id == user_id,
        TrainingSession.finished_at.is_(None),
        TrainingSession.started_at > now - dt.timedelta(hours=OPEN_SESSION_HOURS),
    ]


async def current_session(
    session: AsyncSession, user_id: uuid.UUID, *, now: dt.datetime
) -> SessionInfo | None:
    """The user's own open session, the most recent one."""
    row = (
        await session.execute(
            select(TrainingSession)
            .where(*_open_condition(user_id, _aware(now)))
            .order_by(TrainingSession.started_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return _info(row, await _set_count(session, row.id))


async def _set_count(session: AsyncSession, session_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).select_from(LoggedSet).where(LoggedSet.session_id == session_id)
    )
    return int(count or 0)


async def start_session(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    now: dt.datetime,
    source: TrainingSessionSource,
    workout_id: uuid.UUID | None = None,
    user_program_id: uuid.UUID | None = None,
) -> SessionInfo:
    """A session for the user: their open one while it holds no set yet (it takes the
    workout), else a new one. The caller has checked the workout is theirs to do."""
    now = _aware(now)
    current = await current_session(session, user_id, now=now)
    if current is not None and current.set_count == 0:
        await session.execute(
            update(TrainingSession)
            .where(TrainingSession.id == current.id)
            .values(
                workout_id=workout_id,
                user_program_id=user_program_id,
                source=source,
                started_at=now,
            )
        )
        return replace(
            current,
            workout_id=workout_id,
            user_program_id=user_program_id,
            source=source,
            started_at=now,
        )
    row = TrainingSession(
        user_id=user_id,
        workout_id=workout_id,
        user_program_id=user_program_id,
        started_at=now,
        source=source,
    )
    session.add(row)
    await session.flush()
    return _info(row, 0)


async def log_sets(
    session: AsyncSession,
    actor_id: uuid.UUID,
    session_id: uuid.UUID,
    exercise_id: uuid.UUID,
    sets: Sequence[SetInput],
    *,
    now: dt.datetime,
    locale: str = "en",
) -> list[SetRecord]:
    """Append ``sets`` of one exercise to an open session."""
    now = _aware(now)
    if not sets:
        raise InvalidInput("no set to log")
    row = await _require(session, actor_id, Action.CREATE, session_id)
    if row.finished_at is not None:
        raise SessionFinished("the session is finished", training_session_id=str(session_id))
    await _require_usable_exercise(session, row.user_id, exercise_id)
    next_index = await session.scalar(
        select(func.coalesce(func.max(LoggedSet.set_index) + 1, 0)).where(
            LoggedSet.session_id == session_id
        )
    )
    start = int(next_index or 0)
    if start + len(sets) > MAX_SETS_PER_SESSION:
        raise InvalidInput("too many sets in one session", limit=MAX_SETS_PER_SESSION)
    ids = []
    for offset, one in enumerate(sets):
        logged = LoggedSet(
            session_id=session_id,
            user_id=row.user_id,
            exercise_id=exercise_id,
            performed_at=now,
            set_index=start + offset,
            **one.values(),
        )
        session.add(logged)
        ids.append(logged)
    await session.flush()
    return await _records(session, [logged.id for logged in ids], locale)


async def _require_usable_exercise(
    session: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID
) -> None:
    """The system catalogue or the user's own: an id from a button is user input."""
    usable = await session.scalar(
        select(Exercise.id).where(
            Exercise.id == exercise_id,
            Exercise.is_active,
            (Exercise.owner_id.is_(None)) | (Exercise.owner_id == user_id),
        )
    )
    if usable is None:
        raise NotFound("no such exercise", exercise_id=str(exercise_id))


async def _records(
    session: AsyncSession, set_ids: Sequence[uuid.UUID], locale: str
) -> list[SetRecord]:
    if not set_ids:
        return []
    rows = await session.execute(
        select(*_set_columns(locale))
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(LoggedSet.id.in_(set_ids))
        .order_by(LoggedSet.set_index)
    )
    return [_record(row) for row in rows]


async def _last_set(session: AsyncSession, session_id: uuid.UUID) -> LoggedSet | None:
    return (
        await session.execute(
            select(LoggedSet)
            .where(LoggedSet.session_id == session_id)
            .order_by(LoggedSet.set_index.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def undo_last_set(
    session: AsyncSession, actor_id: uuid.UUID, session_id: uuid.UUID, *, locale: str = "en"
) -> SetRecord:
    """Remove the session's last set; returns what was removed."""
    row = await _require(session, actor_id, Action.DELETE, session_id)
    if row.finished_at is not None:
        raise SessionFinished("the session is finished", training_session_id=str(session_id))
    last = await _last_set(session, session_id)
    if last is None:
        raise NothingToUndo("the session has no set")
    removed = (await _records(session, [last.id], locale))[0]
    await session.execute(delete(LoggedSet).where(LoggedSet.id == last.id))
    return removed


async def edit_last_set(
    session: AsyncSession,
    actor_id: uuid.UUID,
    session_id: uuid.UUID,
    changes: SetInput,
    *,
    locale: str = "en",
) -> SetRecord:
    """Replace the measures of the session's last set (its exercise and plan link stay)."""
    row = await _require(session, actor_id, Action.UPDATE, session_id)
    if row.finished_at is not None:
        raise SessionFinished("the session is finished", training_session_id=str(session_id))
    last = await _last_set(session, session_id)
    if last is None:
        raise NothingToUndo("the session has no set")
    values = changes.values()
    values["workout_set_id"] = last.workout_set_id
    values["is_warmup"] = last.is_warmup
    await session.execute(update(LoggedSet).where(LoggedSet.id == last.id).values(**values))
    return (await _records(session, [last.id], locale))[0]


async def session_sets(
    session: AsyncSession, actor_id: uuid.UUID, session_id: uuid.UUID, *, locale: str = "en"
) -> list[SetRecord]:
    await require(session, Actor(actor_id), Action.READ, ResourceRef("TRAINING_LOG", session_id))
    rows = await session.execute(
        select(*_set_columns(locale))
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(LoggedSet.session_id == session_id)
        .order_by(LoggedSet.set_index)
    )
    return [_record(row) for row in rows]


async def last_performance(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    *,
    before: dt.datetime | None = None,
    exclude_session: uuid.UUID | None = None,
    locale: str = "en",
) -> list[SetRecord]:
    """The user's sets of this exercise in their most recent earlier session (one query on
    ``ix_logged_set_user_exercise_performed``)."""
    conditions = [LoggedSet.user_id == user_id, LoggedSet.exercise_id == exercise_id]
    if before is not None:
        conditions.append(LoggedSet.performed_at < _aware(before))
    if exclude_session is not None:
        conditions.append(LoggedSet.session_id != exclude_session)
    latest = (
        select(LoggedSet.session_id)
        .where(*conditions)
        .order_by(LoggedSet.performed_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(*_set_columns(locale))
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(*conditions, LoggedSet.session_id == latest)
        .order_by(LoggedSet.set_index)
    )
    return [_record(row) for row in rows]


async def finish_session(
    session: AsyncSession,
    actor_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    now: dt.datetime,
    timezone: str,
    locale: str = "en",
) -> SessionSummary:
    """Close the session: duration, volume, records, streak and the activity rows. An empty
    session is deleted instead (nothing was trained)."""
    now = _aware(now)
    row = await _require(session, actor_id, Action.UPDATE, session_id)
    if row.finished_at is not None:
        raise SessionFinished("the session is finished", training_session_id=str(session_id))
    return await _finish(
        session, row, finished_at=max(now, row.started_at), timezone=timezone, locale=locale
    )


async def _finish(
    session: AsyncSession,
    row: TrainingSession,
    *,
    finished_at: dt.datetime,
    timezone: str,
    locale: str,
) -> SessionSummary:
    sets = await _records(
        session,
        list(
            (
                await session.scalars(select(LoggedSet.id).where(LoggedSet.session_id == row.id))
            ).all()
        ),
        locale,
    )
    if not sets:
        await session.execute(delete(TrainingSession).where(TrainingSession.id == row.id))
        return SessionSummary(
            session_id=row.id,
            workout_id=row.workout_id,
            started_at=row.started_at,
            finished_at=finished_at,
            set_count=0,
            volume_kg=Decimal(0),
            exercises=[],
            records=[],
            streak=None,
            discarded=True,
        )
    row.finished_at = finished_at
    await session.flush()
    records = await detect_records(session, row.user_id, row.id, locale=locale)
    local_day = row.started_at.astimezone(_zone(timezone)).date()
    streak = await update_streak(session, row.user_id, trained_on=local_day, timezone=timezone)
    await write_session_activity(
        session, row.user_id, row.id, now=finished_at, records=records, timezone=timezone
    )
    # Warm-ups excluded, as in the VOLUME_LOAD metric the digests add up.
    totals = await session_totals(session, row.id, now=finished_at)
    exercises: list[str] = []
    for one in sets:
        if one.exercise_name not in exercises:
            exercises.append(one.exercise_name)
    return SessionSummary(
        session_id=row.id,
        workout_id=row.workout_id,
        started_at=row.started_at,
        finished_at=finished_at,
        set_count=len(sets),
        volume_kg=totals.volume_kg,
        exercises=exercises,
        records=records,
        streak=streak,
    )


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


async def set_soreness(
    session: AsyncSession, actor_id: uuid.UUID, session_id: uuid.UUID, soreness: int
) -> None:
    if soreness not in SORENESS_RANGE:
        raise InvalidInput("soreness is 0 to 10", soreness=soreness)
    row = await _require(session, actor_id, Action.UPDATE, session_id)
    row.soreness = soreness


async def set_notes(
    session: AsyncSession, actor_id: uuid.UUID, session_id: uuid.UUID, notes: str
) -> None:
    cleaned = notes.strip()
    if not cleaned:
        raise InvalidInput("empty notes")
    if len(cleaned) > MAX_NOTES_LENGTH:
        raise InvalidInput("notes too long", limit=MAX_NOTES_LENGTH)
    row = await _require(session, actor_id, Action.UPDATE, session_id)
    row.notes = cleaned


@dataclass(frozen=True, slots=True)
class IdleFinished:
    user_id: uuid.UUID
    summary: SessionSummary


async def finish_idle_sessions(
    session: AsyncSession, now: dt.datetime, *, limit: int = 500
) -> list[IdleFinished]:
    """Finish sessions nobody closed: no new set for ``IDLE_FINISH_AFTER`` (or none at all
    since it started). They end at their last set. Rows are claimed with SKIP LOCKED so two
    schedulers never finish the same session."""
    now = _aware(now)
    last_set = (
        select(func.max(LoggedSet.performed_at))
        .where(LoggedSet.session_id == TrainingSession.id)
        .correlate(TrainingSession)
        .scalar_subquery()
    )
    rows = (
        await session.execute(
            select(TrainingSession, last_set.label("last_set"), User.timezone, User.locale)
            .join(User, User.id == TrainingSession.user_id)
            .where(
                TrainingSession.finished_at.is_(None),
                func.coalesce(last_set, TrainingSession.started_at) < now - IDLE_FINISH_AFTER,
            )
            .order_by(TrainingSession.started_at)
            .limit(limit)
            .with_for_update(of=TrainingSession, skip_locked=True)
        )
    ).all()
    finished = []
    for row, last, timezone, locale in rows:
        summary = await _finish(
            session,
            row,
            finished_at=max(last or row.started_at, row.started_at),
            timezone=timezone or "UTC",
            locale=locale or "en",
        )
        if not summary.discarded:
            finished.append(IdleFinished(row.user_id, summary))
    return finished
