"""The program library (``/programs``) and what a program shows: its weeks, days and workouts,
and a workout's sets.

The library lists the programs the actor may READ (``domain.access.visible`` in the SQL, never
rows loaded and checked one by one), narrowed by a scope — "mine" (owned, or held through a
non-revoked USER_OWNERSHIP), "institution" (filed in an institution where the actor is an active
member of an active institution), "public" (PUBLIC or SYSTEM visibility, or the system
catalogue) — and by a title search, a tag, a category (the program's goal: strength, fat loss …)
and a difficulty. Pages are newest first, ``PAGE_SIZE`` rows, read with a constant LIMIT.

A workout is shown when the actor may READ it, or when it is reached through a program the
actor may READ that schedules it (the schedule slot's id is what the button carries): a
program's reader reads the workouts it is made of.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import AccessCache, Action, Actor, ResourceRef, authorize, literal_limit
from domain.access import require as require_access
from domain.access import visible as visible_predicate
from domain.errors import InvalidInput, NotFound
from domain.models.access import Visibility
from domain.models.exercise import Exercise
from domain.models.institution import Institution, InstitutionMember
from domain.models.lookup import Category, DifficultyLevel, Metric, Tag
from domain.models.program import (
    Program,
    ProgramCategory,
    ProgramSchedule,
    ProgramTag,
    ScheduleWorkout,
)
from domain.models.user import UserOwnership, UserProgramOwnership
from domain.models.workout import (
    EstimatedWorkoutDuration,
    ExerciseInstruction,
    Workout,
    WorkoutSet,
)
from domain.services.program_versions import current_schedule_id
from domain.services.tempo import tempo_texts
from domain.services.training_log import exercise_name

PAGE_SIZE = 8
DAYS_PER_WEEK = 7
MAX_SEARCH_LENGTH = 60
# Visibility levels anyone may read: the "public" scope.
PUBLIC_LEVELS = ("PUBLIC", "SYSTEM")


class LibraryScope(enum.StrEnum):
    ALL = "a"
    MINE = "m"
    INSTITUTION = "i"
    PUBLIC = "p"


class FacetKind(enum.StrEnum):
    TAG = "t"
    CATEGORY = "c"
    DIFFICULTY = "d"


@dataclass(frozen=True, slots=True)
class LibraryFilter:
    scope: LibraryScope = LibraryScope.ALL
    text: str | None = None
    facet: FacetKind | None = None
    facet_code: str | None = None


@dataclass(frozen=True, slots=True)
class Facet:
    code: str
    label: str


@dataclass(frozen=True, slots=True)
class ProgramRow:
    id: uuid.UUID
    title: str
    difficulty: str
    weeks: int | None
    mine: bool


@dataclass(frozen=True, slots=True)
class LibraryPage:
    rows: list[ProgramRow]
    page: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class ProgramDetail:
    id: uuid.UUID
    title: str
    description: str
    difficulty: str
    weeks: int | None
    schedule_id: uuid.UUID | None
    length_days: int
    week_count: int
    can_update: bool
    can_share: bool


@dataclass(frozen=True, slots=True)
class SlotView:
    """One workout on a day of the schedule."""

    slot_id: uuid.UUID  # schedule_workout id
    workout_id: uuid.UUID
    name: str
    is_optional: bool
    estimated_seconds: int | None


@dataclass(frozen=True, slots=True)
class DayView:
    day_number: int  # 0-based
    slots: list[SlotView]

    @property
    def is_rest(self) -> bool:
        return not self.slots


@dataclass(frozen=True, slots=True)
class WeekView:
    program: ProgramDetail
    week: int  # 0-based
    days: list[DayView]


@dataclass(frozen=True, slots=True)
class SetLine:
    """One WORKOUT_SET with its exercises (one for a straight set, several for a superset)."""

    order: int
    instruction_ids: list[uuid.UUID]
    exercises: list[str]
    sets_count: int
    reps: int | None
    reps_max: int | None
    load_kg: Decimal | None
    rpe: Decimal | None
    duration_seconds: int | None
    distance_m: Decimal | None
    tempo: str | None
    rest_seconds: int


@dataclass(frozen=True, slots=True)
class WorkoutDetail:
    id: uuid.UUID
    name: str
    notes: str | None
    estimated_seconds: int | None
    sets: list[SetLine]
    program_id: uuid.UUID | None  # reached through this program's schedule
    can_update: bool
    can_share: bool


def clean_search(text: str) -> str:
    """The typed search words, or InvalidInput (empty / too long)."""
    words = " ".join(text.split())
    if not words:
        raise InvalidInput("empty search", problem="search_empty")
    if len(words) > MAX_SEARCH_LENGTH:
        raise InvalidInput("search too long", problem="search_long")
    return words


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _visible(
    session: AsyncSession, actor: Actor, kind: str, action: Action, cache: AccessCache | None
) -> ColumnElement[bool]:
    if cache is not None:
        return await cache.visible(session, actor, kind, action)
    return visible_predicate(actor, kind, action)


def owned_by(actor_id: uuid.UUID) -> ColumnElement[bool]:
    """Programs the actor owns or holds through a non-revoked USER_OWNERSHIP."""
    held = exists().where(
        UserProgramOwnership.program_id == Program.id,
        UserOwnership.id == UserProgramOwnership.id,
        UserOwnership.user_id == actor_id,
        UserOwnership.is_revoked.is_(False),
    )
    return or_(Program.owner_id == actor_id, held)


def _in_my_institutions(actor_id: uuid.UUID) -> ColumnElement[bool]:
    mine = (
        select(InstitutionMember.institution_id)
        .join(Institution, Institution.id == InstitutionMember.institution_id)
        .where(
            InstitutionMember.user_id == actor_id,
            InstitutionMember.is_active,
            Institution.is_active,
        )
    )
    return Program.institution_id.in_(mine)


def _public() -> ColumnElement[bool]:
    levels = select(Visibility.id).where(
        Visibility.resource_type == "PROGRAM", Visibility.code.in_(PUBLIC_LEVELS)
    )
    return or_(Program.visibility_id.in_(levels), Program.owner_id.is_(None))


def _scope_clause(scope: LibraryScope, actor_id: uuid.UUID) -> ColumnElement[bool] | None:
    if scope is LibraryScope.MINE:
        return owned_by(actor_id)
    if scope is LibraryScope.INSTITUTION:
        return _in_my_institutions(actor_id)
    if scope is LibraryScope.PUBLIC:
        return _public()
    return None


def _facet_clause(facet: FacetKind, code: str) -> ColumnElement[bool]:
    if facet is FacetKind.TAG:
        return exists().where(
            ProgramTag.program_id == Program.id,
            ProgramTag.tag_id == Tag.id,
            Tag.type == "PROGRAM",
            Tag.code == code,
        )
    if facet is FacetKind.CATEGORY:
        return exists().where(
            ProgramCategory.program_id == Program.id,
            ProgramCategory.category_id == Category.id,
            Category.type == "PROGRAM",
            Category.code == code,
        )
    return Program.difficulty_level_id.in_(
        select(DifficultyLevel.id).where(DifficultyLevel.code == code)
    )


def _difficulty_label(locale: str) -> ColumnElement[str]:
    return func.coalesce(Metric.name_i18n[locale].astext, Metric.name)


async def library_page(
    session: AsyncSession,
    actor_id: uuid.UUID,
    wanted: LibraryFilter,
    *,
    page: int = 0,
    locale: str = "en",
    cache: AccessCache | None = None,
) -> LibraryPage:
    """One page of the programs ``actor_id`` may read, filtered as ``wanted`` says."""
    page = max(0, page)
    actor = Actor(actor_id)
    conditions: list[ColumnElement[bool]] = [
        await _visible(session, actor, "PROGRAM", Action.READ, cache),
        Program.is_active.is_(True),
    ]
    scope = _scope_clause(wanted.scope, actor_id)
    if scope is not None:
        conditions.append(scope)
    if wanted.text:
        conditions.append(Program.title.ilike(_like_pattern(wanted.text), escape="\\"))
    if wanted.facet is not None and wanted.facet_code:
        conditions.append(_facet_clause(wanted.facet, wanted.facet_code))
    rows = (
        await session.execute(
            select(
                Program.id,
                Program.title,
                Program.duration_weeks,
                Program.owner_id,
                _difficulty_label(locale).label("difficulty"),
            )
            .join(DifficultyLevel, DifficultyLevel.id == Program.difficulty_level_id)
            .join(Metric, Metric.id == DifficultyLevel.metric_id)
            .where(and_(*conditions))
            .order_by(Program.created_at.desc(), Program.id.desc())
            .offset(page * PAGE_SIZE)
            .limit(literal_limit(PAGE_SIZE + 1))
        )
    ).all()
    programs = [
        ProgramRow(
            row.id, row.title, str(row.difficulty), row.duration_weeks, row.owner_id == actor_id
        )
        for row in rows[:PAGE_SIZE]
    ]
    return LibraryPage(programs, page, len(rows) > PAGE_SIZE)


async def facet_choices(session: AsyncSession, facet: FacetKind, *, locale: str) -> list[Facet]:
    """The tags, categories (goals) or difficulty levels a program can be filtered by."""
    if facet is FacetKind.DIFFICULTY:
        rows = await session.execute(
            select(DifficultyLevel.code, _difficulty_label(locale))
            .join(Metric, Metric.id == DifficultyLevel.metric_id)
            .order_by(DifficultyLevel.rank)
        )
    else:
        model = Tag if facet is FacetKind.TAG else Category
        rows = await session.execute(
            select(model.code, func.coalesce(model.name_i18n[locale].astext, model.name))
            .where(model.type == "PROGRAM")
            .order_by(model.code)
        )
    return [Facet(str(code), str(label)) for code, label in rows.all()]


async def _can(
    session: AsyncSession, actor: Actor, action: Action, ref: ResourceRef, cache: AccessCache | None
) -> bool:
    return (await authorize(session, actor, action, ref, cache=cache)).allowed


async def program_schedule_id(session: AsyncSession, program_id: uuid.UUID) -> uuid.UUID | None:
    """The schedule a program shows: its current version's (program_versions), else its only
    (or first) schedule."""
    current = await current_schedule_id(session, program_id)
    if current is not None:
        return current
    # Never published and several schedules: show the first rather than nothing.
    first: uuid.UUID | None = await session.scalar(
        select(ProgramSchedule.id)
        .where(ProgramSchedule.program_id == program_id)
        .order_by(ProgramSchedule.id)
        .limit(1)
    )
    return first


async def program_detail(
    session: AsyncSession,
    actor_id: uuid.UUID,
    program_id: uuid.UUID,
    *,
    locale: str = "en",
    cache: AccessCache | None = None,
) -> ProgramDetail:
    """The program's header (NotAllowed unless the actor may READ it)."""
    actor = Actor(actor_id)
    ref = ResourceRef("PROGRAM", program_id)
    await require_access(session, actor, Action.READ, ref, cache=cache)
    row = (
        await session.execute(
            select(
                Program.title,
                Program.description,
                Program.duration_weeks,
                _difficulty_label(locale).label("difficulty"),
            )
            .join(DifficultyLevel, DifficultyLevel.id == Program.difficulty_level_id)
            .join(Metric, Metric.id == DifficultyLevel.metric_id)
            .where(Program.id == program_id)
        )
    ).first()
    if row is None:
        raise NotFound("no such program", program_id=str(program_id))
    schedule_id = await program_schedule_id(session, program_id)
    length = 0
    if schedule_id is not None:
        length = int(
            await session.scalar(
                select(ProgramSchedule.schedule_length_days).where(
                    ProgramSchedule.id == schedule_id
                )
            )
            or 0
        )
    return ProgramDetail(
        id=program_id,
        title=row.title,
        description=row.description,
        difficulty=str(row.difficulty),
        weeks=row.duration_weeks,
        schedule_id=schedule_id,
        length_days=length,
        week_count=max(1, -(-length // DAYS_PER_WEEK)) if length else 0,
        can_update=await _can(session, actor, Action.UPDATE, ref, cache),
        can_share=await _can(session, actor, Action.SHARE, ref, cache),
    )


def _estimated() -> ColumnElement[int]:
    return func.coalesce(
        EstimatedWorkoutDuration.total_seconds, func.nullif(Workout.estimated_duration_seconds, 0)
    )


async def program_week(
    session: AsyncSession,
    actor_id: uuid.UUID,
    program_id: uuid.UUID,
    week: int,
    *,
    locale: str = "en",
    cache: AccessCache | None = None,
) -> WeekView:
    """Week ``week`` (0-based, clamped to the schedule) of the program: each day with its
    workouts in order, a day without workouts being a rest day."""
    detail = await program_detail(session, actor_id, program_id, locale=locale, cache=cache)
    if detail.schedule_id is None or detail.week_count == 0:
        return WeekView(detail, 0, [])
    week = min(max(0, week), detail.week_count - 1)
    first = week * DAYS_PER_WEEK
    last = min(first + DAYS_PER_WEEK, detail.length_days)
    rows = (
        await session.execute(
            select(
                ScheduleWorkout.id,
                ScheduleWorkout.day_number,
                ScheduleWorkout.is_optional,
                Workout.id.label("workout_id"),
                Workout.name,
                _estimated().label("estimated"),
            )
            .join(Workout, Workout.id == ScheduleWorkout.workout_id)
            .outerjoin(EstimatedWorkoutDuration, EstimatedWorkoutDuration.workout_id == Workout.id)
            .where(
                ScheduleWorkout.program_schedule_id == detail.schedule_id,
                ScheduleWorkout.day_number >= first,
                ScheduleWorkout.day_number < last,
            )
            .order_by(ScheduleWorkout.day_number, ScheduleWorkout.order_index)
        )
    ).all()
    days = {day: DayView(day, []) for day in range(first, last)}
    for row in rows:
        days[row.day_number].slots.append(
            SlotView(row.id, row.workout_id, row.name, bool(row.is_optional), row.estimated)
        )
    return WeekView(detail, week, list(days.values()))


async def _slot_program(
    session: AsyncSession, slot_id: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID] | None:
    row = (
        await session.execute(
            select(ScheduleWorkout.workout_id, ProgramSchedule.program_id)
            .join(ProgramSchedule, ProgramSchedule.id == ScheduleWorkout.program_schedule_id)
            .where(ScheduleWorkout.id == slot_id)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def readable_workout(
    session: AsyncSession,
    actor_id: uuid.UUID,
    *,
    workout_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
    cache: AccessCache | None = None,
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """(workout id, program id) of a workout the actor may read: by itself, or through the
    program whose schedule slot ``slot_id`` holds it. NotAllowed otherwise."""
    actor = Actor(actor_id)
    if slot_id is not None:
        found = await _slot_program(session, slot_id)
        if found is None:
            raise NotFound("no such schedule slot", slot_id=str(slot_id))
        workout, program = found
        decision = await authorize(
            session, actor, Action.READ, ResourceRef("WORKOUT", workout), cache=cache
        )
        if not decision.allowed:
            await require_access(
                session, actor, Action.READ, ResourceRef("PROGRAM", program), cache=cache
            )
        return workout, program
    if workout_id is None:
        raise InvalidInput("a workout or a slot is needed")
    await require_access(
        session, actor, Action.READ, ResourceRef("WORKOUT", workout_id), cache=cache
    )
    return workout_id, None


async def workout_detail(
    session: AsyncSession,
    actor_id: uuid.UUID,
    *,
    workout_id: uuid.UUID | None = None,
    slot_id: uuid.UUID | None = None,
    locale: str = "en",
    cache: AccessCache | None = None,
) -> WorkoutDetail:
    """A workout's sets in order with its estimated duration (see ``readable_workout``)."""
    workout_id, program_id = await readable_workout(
        session, actor_id, workout_id=workout_id, slot_id=slot_id, cache=cache
    )
    head = (
        await session.execute(
            select(Workout.name, Workout.notes, _estimated().label("estimated"))
            .outerjoin(EstimatedWorkoutDuration, EstimatedWorkoutDuration.workout_id == Workout.id)
            .where(Workout.id == workout_id)
        )
    ).first()
    if head is None:
        raise NotFound("no such workout", workout_id=str(workout_id))
    rows = (
        await session.execute(
            select(
                WorkoutSet.id.label("set_id"),
                WorkoutSet.order_index,
                WorkoutSet.sets_count,
                WorkoutSet.target_reps,
                WorkoutSet.target_reps_max,
                WorkoutSet.target_load_kg,
                WorkoutSet.target_rpe,
                WorkoutSet.target_duration_seconds,
                WorkoutSet.target_distance_m,
                WorkoutSet.rest_after_seconds,
                ExerciseInstruction.id.label("instruction_id"),
                exercise_name(locale).label("exercise"),
            )
            .join(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
            .join(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
            .where(WorkoutSet.workout_id == workout_id)
            .order_by(WorkoutSet.order_index, ExerciseInstruction.order_index)
        )
    ).all()
    tempos = await tempo_texts(session, [row.instruction_id for row in rows])
    lines: dict[uuid.UUID, SetLine] = {}
    for row in rows:
        line = lines.get(row.set_id)
        if line is None:
            line = SetLine(
                order=int(row.order_index),
                instruction_ids=[],
                exercises=[],
                sets_count=int(row.sets_count),
                reps=row.target_reps,
                reps_max=row.target_reps_max,
                load_kg=row.target_load_kg,
                rpe=row.target_rpe,
                duration_seconds=row.target_duration_seconds,
                distance_m=row.target_distance_m,
                tempo=tempos.get(row.instruction_id),
                rest_seconds=int(row.rest_after_seconds),
            )
            lines[row.set_id] = line
        line.instruction_ids.append(row.instruction_id)
        line.exercises.append(str(row.exercise))
    actor = Actor(actor_id)
    ref = ResourceRef("WORKOUT", workout_id)
    return WorkoutDetail(
        id=workout_id,
        name=head.name,
        notes=head.notes,
        estimated_seconds=head.estimated,
        sets=list(lines.values()),
        program_id=program_id,
        can_update=await _can(session, actor, Action.UPDATE, ref, cache),
        can_share=await _can(session, actor, Action.SHARE, ref, cache),
    )


async def require_program_read(
    session: AsyncSession, actor_id: uuid.UUID, program_id: uuid.UUID
) -> None:
    """NotAllowed unless the actor may READ the program (a forged button id)."""
    await require_access(session, Actor(actor_id), Action.READ, ResourceRef("PROGRAM", program_id))
