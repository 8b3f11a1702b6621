"""/history: the athlete's past sessions, page by page; one session's sets; the last sessions of
one exercise.

Only the athlete's own log: every statement filters on ``user_id``. A session id that comes back
in callback data is user input: ``session_detail`` asks ``domain.access`` (READ on the
TRAINING_LOG row, which records a refusal) and still filters on the owner, so a coach's or a
stranger's id gives ``NotAllowed`` / ``NotFound``, never someone else's sets.

Paging is by OFFSET (page numbers travel in the ◀ ▶ buttons): ten sessions a page, newest
first, on ``ix_training_session_user_started``; the LIMIT is written into the SQL
(``literal_limit``) and one extra row says whether a next page exists.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, literal_limit, require
from domain.access.sqlutil import case_when
from domain.errors import NotFound
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession
from domain.models.workout import Workout
from domain.services.strength import estimated_1rm
from domain.services.training_log import exercise_name

PAGE_SIZE = 10
RECENT_EXERCISES = 8
EXERCISE_SESSIONS = 5
MAX_PAGE = 10_000  # a page number beyond any real history: refused as input


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: uuid.UUID
    started_at: dt.datetime  # aware UTC
    finished_at: dt.datetime | None
    workout_name: str | None
    set_count: int
    volume_kg: Decimal
    exercises: list[str]  # names in the caller's locale, in order of first set
    soreness: int | None


@dataclass(frozen=True, slots=True)
class SessionPage:
    page: int  # 0-based
    sessions: list[SessionRow]
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 0


@dataclass(frozen=True, slots=True)
class SetLine:
    set_index: int
    reps: int | None
    load_kg: Decimal | None
    added_load_kg: Decimal | None
    is_bodyweight: bool
    duration_seconds: int | None
    distance_m: Decimal | None
    rpe: Decimal | None
    is_warmup: bool
    performed_at: dt.datetime

    @property
    def e1rm_kg(self) -> Decimal | None:
        if self.is_warmup or self.load_kg is None or self.reps is None:
            return None
        return estimated_1rm(self.load_kg, self.reps)


@dataclass(frozen=True, slots=True)
class ExerciseSets:
    exercise_id: uuid.UUID
    name: str
    sets: list[SetLine]


@dataclass(frozen=True, slots=True)
class SessionDetail:
    id: uuid.UUID
    started_at: dt.datetime
    finished_at: dt.datetime | None
    workout_name: str | None
    soreness: int | None
    notes: str | None
    exercises: list[ExerciseSets]  # in the order they were first done


@dataclass(frozen=True, slots=True)
class ExerciseChoice:
    exercise_id: uuid.UUID
    name: str
    last_performed_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ExerciseSession:
    session_id: uuid.UUID
    performed_at: dt.datetime  # the first set's time
    sets: list[SetLine]

    @property
    def best_e1rm_kg(self) -> Decimal | None:
        estimates = [value for value in (line.e1rm_kg for line in self.sets) if value is not None]
        return max(estimates, default=None)


@dataclass(frozen=True, slots=True)
class ExerciseHistory:
    exercise_id: uuid.UUID
    name: str | None  # None when the athlete never logged it
    sessions: list[ExerciseSession]  # newest first


def _working_volume() -> ColumnElement[Decimal]:
    """load × reps of a working set; warm-ups, bodyweight-only and timed sets count zero."""
    return func.coalesce(
        func.sum(
            case_when(
                (
                    and_(
                        LoggedSet.is_warmup.is_(False),
                        LoggedSet.load_kg > 0,
                        LoggedSet.reps > 0,
                    ),
                    LoggedSet.load_kg * LoggedSet.reps,
                ),
                else_=0,
            )
        ),
        0,
    )


async def session_page(
    session: AsyncSession, user_id: uuid.UUID, *, page: int = 0, locale: str = "en"
) -> SessionPage:
    """Page ``page`` (0-based) of the athlete's sessions, newest first, with their set count,
    volume and exercises (one statement: the page of sessions, joined to its sets grouped by
    session and exercise)."""
    page = min(max(page, 0), MAX_PAGE)
    sessions = (
        select(
            TrainingSession.id,
            TrainingSession.started_at,
            TrainingSession.finished_at,
            TrainingSession.soreness,
            TrainingSession.workout_id,
        )
        .where(TrainingSession.user_id == user_id)
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
        .limit(literal_limit(PAGE_SIZE + 1))
        .offset(page * PAGE_SIZE)
        .cte("page")
    )
    first_at = func.min(LoggedSet.performed_at)
    statement = (
        select(
            sessions.c.id,
            sessions.c.started_at,
            sessions.c.finished_at,
            sessions.c.soreness,
            Workout.name.label("workout_name"),
            exercise_name(locale).label("exercise"),
            func.count(LoggedSet.id).label("sets"),
            _working_volume().label("volume"),
        )
        .select_from(sessions)
        .outerjoin(Workout, Workout.id == sessions.c.workout_id)
        .outerjoin(
            LoggedSet,
            and_(LoggedSet.session_id == sessions.c.id, LoggedSet.user_id == user_id),
        )
        .outerjoin(Exercise, Exercise.id == LoggedSet.exercise_id)
        .group_by(
            sessions.c.id,
            sessions.c.started_at,
            sessions.c.finished_at,
            sessions.c.soreness,
            Workout.name,
            Exercise.id,
        )
        .order_by(sessions.c.started_at.desc(), sessions.c.id.desc(), first_at)
    )
    rows: dict[uuid.UUID, SessionRow] = {}
    totals: dict[uuid.UUID, tuple[int, Decimal]] = {}
    for row in (await session.execute(statement)).all():
        found = rows.get(row.id)
        if found is None:
            found = SessionRow(
                row.id,
                row.started_at,
                row.finished_at,
                row.workout_name,
                0,
                Decimal(0),
                [],
                row.soreness,
            )
            rows[row.id] = found
            totals[row.id] = (0, Decimal(0))
        if row.exercise is not None:
            found.exercises.append(row.exercise)
            count, volume = totals[row.id]
            totals[row.id] = (count + int(row.sets), volume + Decimal(row.volume))
    listed = [
        SessionRow(
            found.id,
            found.started_at,
            found.finished_at,
            found.workout_name,
            totals[found.id][0],
            totals[found.id][1],
            found.exercises,
            found.soreness,
        )
        for found in rows.values()
    ]
    return SessionPage(page, listed[:PAGE_SIZE], len(listed) > PAGE_SIZE)


def set_line(row: LoggedSet) -> SetLine:
    return SetLine(
        set_index=row.set_index,
        reps=row.reps,
        load_kg=row.load_kg,
        added_load_kg=row.added_load_kg,
        is_bodyweight=row.is_bodyweight,
        duration_seconds=row.duration_seconds,
        distance_m=row.distance_m,
        rpe=row.rpe,
        is_warmup=row.is_warmup,
        performed_at=row.performed_at,
    )


async def session_detail(
    session: AsyncSession,
    actor_id: uuid.UUID,
    session_id: uuid.UUID,
    *,
    owner_id: uuid.UUID | None = None,
    locale: str = "en",
) -> SessionDetail:
    """One session of ``owner_id`` (default: the actor's own; a coach passes the client) with
    its sets grouped by exercise (in the order they were first done). ``NotAllowed`` for a
    session the actor may not read, ``NotFound`` for one that is not the owner's or does not
    exist."""
    await require(session, Actor(actor_id), Action.READ, ResourceRef("TRAINING_LOG", session_id))
    owner_id = owner_id or actor_id
    header = (
        await session.execute(
            select(TrainingSession, Workout.name)
            .outerjoin(Workout, Workout.id == TrainingSession.workout_id)
            .where(TrainingSession.id == session_id, TrainingSession.user_id == owner_id)
        )
    ).one_or_none()
    if header is None:
        raise NotFound(f"training session {session_id} of {owner_id}", session_id=session_id)
    training, workout_name = header
    rows = await session.execute(
        select(LoggedSet, exercise_name(locale))
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(LoggedSet.session_id == session_id, LoggedSet.user_id == owner_id)
        .order_by(LoggedSet.performed_at, LoggedSet.set_index)
    )
    groups: dict[uuid.UUID, ExerciseSets] = {}
    for logged, name in rows.all():
        group = groups.get(logged.exercise_id)
        if group is None:
            group = ExerciseSets(logged.exercise_id, name, [])
            groups[logged.exercise_id] = group
        group.sets.append(set_line(logged))
    return SessionDetail(
        id=training.id,
        started_at=training.started_at,
        finished_at=training.finished_at,
        workout_name=workout_name,
        soreness=training.soreness,
        notes=training.notes,
        exercises=list(groups.values()),
    )


async def recent_exercises(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    locale: str = "en",
    limit: int = RECENT_EXERCISES,
) -> list[ExerciseChoice]:
    """The exercises the athlete trained most recently, the latest first."""
    last = func.max(LoggedSet.performed_at)
    rows = await session.execute(
        select(LoggedSet.exercise_id, exercise_name(locale), last)
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(LoggedSet.user_id == user_id)
        .group_by(LoggedSet.exercise_id, Exercise.id)
        .order_by(last.desc(), LoggedSet.exercise_id)
        .limit(literal_limit(limit))
    )
    return [ExerciseChoice(exercise_id, name, at) for exercise_id, name, at in rows.all()]


async def exercise_history(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    *,
    locale: str = "en",
    sessions: int = EXERCISE_SESSIONS,
) -> ExerciseHistory:
    """The athlete's last ``sessions`` sessions of one exercise, newest first: one statement,
    both parts range scans of ``ix_logged_set_user_exercise_performed``
    (docs/schema-decisions.md, "Logged sets")."""
    last_sessions = (
        select(LoggedSet.session_id)
        .where(LoggedSet.user_id == user_id, LoggedSet.exercise_id == exercise_id)
        .group_by(LoggedSet.session_id)
        .order_by(func.max(LoggedSet.performed_at).desc())
        .limit(literal_limit(sessions))
    )
    rows = await session.execute(
        select(LoggedSet, exercise_name(locale))
        .join(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(
            LoggedSet.user_id == user_id,
            LoggedSet.exercise_id == exercise_id,
            LoggedSet.session_id.in_(last_sessions),
        )
        .order_by(LoggedSet.performed_at.desc(), LoggedSet.set_index)
    )
    name: str | None = None
    grouped: dict[uuid.UUID, list[SetLine]] = {}
    for logged, label in rows.all():
        name = label
        grouped.setdefault(logged.session_id, []).append(set_line(logged))
    found = []
    for session_id, lines in grouped.items():
        lines.sort(key=lambda line: (line.performed_at, line.set_index))
        found.append(ExerciseSession(session_id, lines[0].performed_at, lines))
    return ExerciseHistory(exercise_id, name, found)
