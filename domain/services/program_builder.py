"""The chat builder: a new workout made of exercises typed one at a time, each with a
prescription typed as a person would write it ("4x8 60kg rest 90"), put on day N of one of my
programs (or of a new one).

Every step is checked here before anything is stored (a name free among my workouts, an
exercise I may use, a prescription within bounds, a program I may UPDATE, a day inside its
schedule); ``save_workout`` writes WORKOUT, WORKOUT_SET, EXERCISE_INSTRUCTION and
SCHEDULE_WORKOUT in the caller's transaction, recomputes the workout's estimated duration and,
when the program was already published, publishes a new version (athletes keep theirs).

The new workout takes the program's visibility and institution: whoever may read the program
may read (and train) what it schedules.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import AccessCache, Action, Actor, ResourceRef, literal_limit, require, visible
from domain.errors import InvalidInput
from domain.models.access import Visibility
from domain.models.lookup import DifficultyLevel
from domain.models.program import Program, ProgramSchedule, ProgramVersion, ScheduleWorkout
from domain.models.workout import ExerciseInstruction, Workout, WorkoutSet
from domain.services.exercise_search import usable_exercise
from domain.services.program_library import program_schedule_id
from domain.services.program_versions import publish
from domain.services.strength import WeightUnit, from_unit
from domain.services.tempo import Phase, parse_tempo, tempo_rows, tempo_text, tempo_type_ids
from domain.services.workout_duration import recompute

MAX_NAME_LENGTH = 50
MAX_TITLE_LENGTH = 60
MAX_SETS = 20
MAX_REPS = 100
MAX_LOAD_KG = Decimal(1000)
MAX_REST_SECONDS = 1800
MAX_DURATION_SECONDS = 7200
MAX_ITEMS = 30
MAX_SCHEDULE_DAYS = 3660
DEFAULT_REST_SECONDS = 90
PROGRAMS_SHOWN = 10


class InvalidBuild(InvalidInput):
    """A builder step's input is refused; ``problem`` says why (the bot words it)."""

    code = "invalid_build"

    def __init__(self, message: str, *, problem: str, **params: object) -> None:
        super().__init__(message, problem=problem, **params)
        self.problem = problem


# --------------------------------------------------------------------------------------------
# The prescription: "4x8 60kg rest 90", "3x8-12 @ 40 rpe 8 rest 2m", "3x45s rest 30", "5x5 bw",
# "5x5 100 tempo 3-1-X-0"
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prescription:
    sets: int
    reps: int | None = None
    reps_max: int | None = None
    load_kg: Decimal | None = None
    rpe: Decimal | None = None
    duration_seconds: int | None = None
    rest_seconds: int = DEFAULT_REST_SECONDS
    tempo: tuple[Phase, ...] = ()


_NUMBER = r"\d+(?:[.,]\d+)?"
_REST = re.compile(
    rf"(?:^|\s)(?:rest|repos|отдых|r)\s*[:=]?\s*(?P<value>{_NUMBER})\s*"
    r"(?P<unit>s|sec|secs|m|min|mins|с|сек|мин)?(?=\s|$)",
    re.IGNORECASE,
)
_TEMPO = re.compile(r"(?:^|\s)(?:tempo|темп)\s*[:=]?\s*(?P<value>\S+)(?=\s|$)", re.IGNORECASE)
_RPE = re.compile(rf"(?:^|\s)(?:rpe|@rpe)\s*(?P<value>{_NUMBER})(?=\s|$)", re.IGNORECASE)
_HEAD = re.compile(
    r"^\s*(?P<sets>\d{1,3})\s*[x×х*]\s*(?P<first>\d{1,4})"
    r"(?:\s*-\s*(?P<max>\d{1,3}))?"
    r"(?:\s*(?P<unit>s|sec|secs|min|m|с|сек|мин)(?=\s|$))?",
    re.IGNORECASE,
)
_LOAD = re.compile(rf"^(?:@|at|à)?\s*(?P<value>{_NUMBER})\s*(?P<unit>kg|kgs|lb|lbs|кг)?$", re.I)
_BODYWEIGHT = re.compile(r"^(?:@\s*)?(?:bw|body ?weight|pdc|поп|св\.?\s*вес)$", re.IGNORECASE)
_MINUTES = {"m", "min", "mins", "мин"}


def _decimal(raw: str) -> Decimal:
    try:
        return Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise InvalidBuild("not a number", problem="format") from None


def parse_prescription(text: str, *, unit: WeightUnit) -> Prescription:
    """A typed prescription, or InvalidBuild (problem: format, sets, reps, range, load, rpe,
    rest, duration, tempo)."""
    tempo: tuple[Phase, ...] = ()
    found_tempo = _TEMPO.search(text)
    if found_tempo is not None:
        try:
            tempo = parse_tempo(found_tempo.group("value"))
        except InvalidInput:
            raise InvalidBuild("bad tempo", problem="tempo") from None
        text = text[: found_tempo.start()] + " " + text[found_tempo.end() :]
    rest_seconds = DEFAULT_REST_SECONDS
    rest = _REST.search(text)
    if rest is not None:
        value = _decimal(rest.group("value"))
        if (rest.group("unit") or "").lower() in _MINUTES:
            value *= 60
        if value != value.to_integral_value() or not 0 <= value <= MAX_REST_SECONDS:
            raise InvalidBuild("rest out of range", problem="rest")
        rest_seconds = int(value)
        text = text[: rest.start()] + " " + text[rest.end() :]
    rpe: Decimal | None = None
    found_rpe = _RPE.search(text)
    if found_rpe is not None:
        rpe = _decimal(found_rpe.group("value"))
        if not Decimal(1) <= rpe <= Decimal(10) or (rpe * 2) != (rpe * 2).to_integral_value():
            raise InvalidBuild("rpe out of range", problem="rpe")
        text = text[: found_rpe.start()] + " " + text[found_rpe.end() :]
    head = _HEAD.match(text)
    if head is None:
        raise InvalidBuild("no sets x reps", problem="format")
    sets = int(head.group("sets"))
    if not 1 <= sets <= MAX_SETS:
        raise InvalidBuild("sets out of range", problem="sets")
    first = int(head.group("first"))
    reps: int | None = None
    reps_max: int | None = None
    duration: int | None = None
    time_unit = head.group("unit")
    if time_unit is not None:
        if head.group("max") is not None:
            raise InvalidBuild("a time range", problem="format")
        duration = first * 60 if time_unit.lower() in _MINUTES else first
        if not 1 <= duration <= MAX_DURATION_SECONDS:
            raise InvalidBuild("duration out of range", problem="duration")
    else:
        reps = first
        if not 1 <= reps <= MAX_REPS:
            raise InvalidBuild("reps out of range", problem="reps")
        if head.group("max") is not None:
            reps_max = int(head.group("max"))
            if reps_max > MAX_REPS:
                raise InvalidBuild("reps out of range", problem="reps")
            if reps_max < reps:
                raise InvalidBuild("inverted range", problem="range")
            if reps_max == reps:
                reps_max = None
    remainder = " ".join(text[head.end() :].split())
    load_kg: Decimal | None = None
    if remainder and not _BODYWEIGHT.match(remainder):
        load = _LOAD.match(remainder)
        if load is None:
            raise InvalidBuild("unexpected words", problem="format", rest=remainder)
        value = _decimal(load.group("value"))
        typed_unit = (load.group("unit") or "").lower()
        if typed_unit in {"lb", "lbs"}:
            value_kg = from_unit(value, WeightUnit.LB)
        elif typed_unit in {"kg", "kgs", "кг"}:
            value_kg = value
        else:
            value_kg = from_unit(value, unit)
        value_kg = value_kg.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        if not Decimal(0) <= value_kg <= MAX_LOAD_KG:
            raise InvalidBuild("load out of range", problem="load")
        load_kg = value_kg if value_kg > 0 else None
    return Prescription(
        sets=sets,
        reps=reps,
        reps_max=reps_max,
        load_kg=load_kg,
        rpe=rpe,
        duration_seconds=duration,
        rest_seconds=rest_seconds,
        tempo=tempo,
    )


def prescription_to_data(item: Prescription) -> dict[str, object]:
    """A JSON-safe form (the conversation's memory)."""
    return {
        "s": item.sets,
        "r": item.reps,
        "rm": item.reps_max,
        "l": None if item.load_kg is None else str(item.load_kg),
        "e": None if item.rpe is None else str(item.rpe),
        "d": item.duration_seconds,
        "rest": item.rest_seconds,
        "t": tempo_text(item.tempo) if item.tempo else None,
    }


def prescription_from_data(data: dict[str, object]) -> Prescription:
    def number(key: str) -> int | None:
        value = data.get(key)
        return None if value is None else int(str(value))

    def decimal(key: str) -> Decimal | None:
        value = data.get(key)
        return None if value is None else Decimal(str(value))

    return Prescription(
        sets=int(str(data["s"])),
        reps=number("r"),
        reps_max=number("rm"),
        load_kg=decimal("l"),
        rpe=decimal("e"),
        duration_seconds=number("d"),
        rest_seconds=int(str(data.get("rest", DEFAULT_REST_SECONDS))),
        tempo=parse_tempo(str(data["t"])) if data.get("t") else (),
    )


# --------------------------------------------------------------------------------------------
# Names, programs, days
# --------------------------------------------------------------------------------------------


async def check_workout_name(session: AsyncSession, owner_id: uuid.UUID, text: str) -> str:
    name = " ".join(text.split())
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidBuild("bad name length", problem="name")
    taken = await session.scalar(
        select(exists().where(Workout.owner_id == owner_id, Workout.name == name))
    )
    if taken:
        raise InvalidBuild("name taken", problem="name_taken")
    return name


async def check_program_title(session: AsyncSession, owner_id: uuid.UUID, text: str) -> str:
    title = " ".join(text.split())
    if not 1 <= len(title) <= MAX_TITLE_LENGTH:
        raise InvalidBuild("bad title length", problem="title")
    taken = await session.scalar(
        select(exists().where(Program.owner_id == owner_id, Program.title == title))
    )
    if taken:
        raise InvalidBuild("title taken", problem="title_taken")
    return title


_LENGTH = re.compile(
    r"^\s*(?P<value>\d{1,4})\s*(?P<unit>d|days?|j|jours?|дн\w*|w|wk|weeks?|sem\w*|нед\w*)?\s*$",
    re.IGNORECASE,
)


def parse_length(text: str) -> int:
    """A schedule length: "28" / "28 days" → 28, "4w" / "4 weeks" → 28."""
    found = _LENGTH.match(text)
    if found is None:
        raise InvalidBuild("not a length", problem="length")
    days = int(found.group("value"))
    unit = (found.group("unit") or "d").lower()
    if unit.startswith(("w", "sem", "нед")):
        days *= 7
    if not 1 <= days <= MAX_SCHEDULE_DAYS:
        raise InvalidBuild("length out of range", problem="length")
    return days


_DAY = re.compile(r"^\s*(?:day|jour|день)?\s*(?P<value>\d{1,4})\s*$", re.IGNORECASE)


def parse_day(text: str, length_days: int) -> int:
    """A 1-based day typed by a person → the 0-based day number inside the schedule."""
    found = _DAY.match(text)
    if found is None:
        raise InvalidBuild("not a day", problem="day")
    day = int(found.group("value"))
    if not 1 <= day <= length_days:
        raise InvalidBuild("day beyond the schedule", problem="day_range", length=length_days)
    return day - 1


@dataclass(frozen=True, slots=True)
class ProgramChoice:
    id: uuid.UUID
    title: str
    length_days: int


async def writable_programs(
    session: AsyncSession, actor_id: uuid.UUID, *, cache: AccessCache | None = None
) -> list[ProgramChoice]:
    """Programs the actor may UPDATE (owned, or edited through USER_OWNERSHIP), newest first."""
    actor = Actor(actor_id)
    predicate = (
        await cache.visible(session, actor, "PROGRAM", Action.UPDATE)
        if cache is not None
        else visible(actor, "PROGRAM", Action.UPDATE)
    )
    schedules = (
        select(
            ProgramSchedule.program_id,
            func.max(ProgramSchedule.schedule_length_days).label("length"),
        )
        .group_by(ProgramSchedule.program_id)
        .subquery()
    )
    rows = await session.execute(
        select(Program.id, Program.title, func.coalesce(schedules.c.length, 0))
        .outerjoin(schedules, schedules.c.program_id == Program.id)
        .where(predicate, Program.is_active)
        .order_by(Program.created_at.desc(), Program.id)
        .limit(literal_limit(PROGRAMS_SHOWN))
    )
    return [ProgramChoice(row[0], row[1], int(row[2])) for row in rows.all()]


async def program_for_building(
    session: AsyncSession, actor_id: uuid.UUID, program_id: uuid.UUID
) -> ProgramChoice:
    """A program the actor may change (NotAllowed otherwise), with its schedule's length."""
    await require(session, Actor(actor_id), Action.UPDATE, ResourceRef("PROGRAM", program_id))
    title = await session.scalar(select(Program.title).where(Program.id == program_id))
    schedule_id = await working_schedule_id(session, program_id)
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
    return ProgramChoice(program_id, str(title), length)


async def working_schedule_id(session: AsyncSession, program_id: uuid.UUID) -> uuid.UUID | None:
    """The schedule the builder starts from: the program's current one (its latest version's,
    or its only schedule), else — never published, several schedules — the first."""
    return await program_schedule_id(session, program_id)


async def _is_published(session: AsyncSession, program_id: uuid.UUID) -> bool:
    return bool(
        await session.scalar(select(exists().where(ProgramVersion.program_id == program_id)))
    )


async def _copy_schedule(session: AsyncSession, schedule_id: uuid.UUID) -> uuid.UUID:
    """A new schedule with the same days and workouts (the published one stays untouched: its
    athletes keep their version)."""
    source = await session.get(ProgramSchedule, schedule_id)
    if source is None:
        raise InvalidBuild("schedule vanished", problem="program")
    copy = ProgramSchedule(
        program_id=source.program_id,
        schedule_length_days=source.schedule_length_days,
        notes=source.notes,
    )
    session.add(copy)
    await session.flush()
    slots = await session.scalars(
        select(ScheduleWorkout)
        .where(ScheduleWorkout.program_schedule_id == schedule_id)
        .order_by(ScheduleWorkout.day_number, ScheduleWorkout.order_index)
    )
    session.add_all(
        ScheduleWorkout(
            program_schedule_id=copy.id,
            workout_id=slot.workout_id,
            day_number=slot.day_number,
            order_index=slot.order_index,
            is_optional=slot.is_optional,
            notes=slot.notes,
        )
        for slot in slots.all()
    )
    await session.flush()
    return copy.id


# --------------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltItem:
    exercise_id: uuid.UUID
    prescription: Prescription


@dataclass(frozen=True, slots=True)
class NewProgram:
    title: str
    length_days: int


@dataclass(frozen=True, slots=True)
class SavedWorkout:
    workout_id: uuid.UUID
    program_id: uuid.UUID
    day_number: int  # 0-based
    published_version: int | None  # the new version's number when one was published


async def _visibility_id(session: AsyncSession, resource: str, code: str) -> uuid.UUID:
    found = await session.scalar(
        select(Visibility.id).where(Visibility.resource_type == resource, Visibility.code == code)
    )
    if found is None:
        found = await session.scalar(
            select(Visibility.id).where(
                Visibility.resource_type == resource, Visibility.code == "PRIVATE"
            )
        )
    if found is None:
        raise InvalidBuild("no visibility rows", problem="internal")
    return found


async def _create_program(session: AsyncSession, actor_id: uuid.UUID, new: NewProgram) -> uuid.UUID:
    title = await check_program_title(session, actor_id, new.title)
    if not 1 <= new.length_days <= MAX_SCHEDULE_DAYS:
        raise InvalidBuild("length out of range", problem="length")
    difficulty = await session.scalar(
        select(DifficultyLevel.id).order_by(DifficultyLevel.rank).limit(1)
    )
    if difficulty is None:
        raise InvalidBuild("no difficulty levels", problem="internal")
    program = Program(
        owner_id=actor_id,
        title=title,
        description="",
        difficulty_level_id=difficulty,
        duration_weeks=min(104, max(1, -(-new.length_days // 7))),
        visibility_id=await _visibility_id(session, "PROGRAM", "PRIVATE"),
    )
    session.add(program)
    await session.flush()
    session.add(ProgramSchedule(program_id=program.id, schedule_length_days=new.length_days))
    await session.flush()
    return program.id


async def save_workout(
    session: AsyncSession,
    actor_id: uuid.UUID,
    *,
    name: str,
    items: list[BuiltItem],
    day_number: int,
    program_id: uuid.UUID | None = None,
    new_program: NewProgram | None = None,
    now: dt.datetime,
    locale: str = "en",
) -> SavedWorkout:
    """Store the built workout on ``day_number`` (0-based) of the program (an existing one I
    may UPDATE, or ``new_program``). Everything is re-checked: the conversation's memory is
    user input."""
    if not items:
        raise InvalidBuild("no exercise", problem="empty")
    if len(items) > MAX_ITEMS:
        raise InvalidBuild("too many exercises", problem="too_many")
    name = await check_workout_name(session, actor_id, name)
    for item in items:
        if await usable_exercise(session, actor_id, item.exercise_id, locale=locale) is None:
            raise InvalidBuild("exercise not usable", problem="exercise_unknown")
    if program_id is None:
        if new_program is None:
            raise InvalidBuild("no program", problem="program")
        program_id = await _create_program(session, actor_id, new_program)
    else:
        await require(session, Actor(actor_id), Action.UPDATE, ResourceRef("PROGRAM", program_id))
    program = await session.get(Program, program_id)
    schedule_id = await working_schedule_id(session, program_id)
    if program is None or schedule_id is None:
        raise InvalidBuild("program without a schedule", problem="program")
    length = int(
        await session.scalar(
            select(ProgramSchedule.schedule_length_days).where(ProgramSchedule.id == schedule_id)
        )
        or 0
    )
    if not 0 <= day_number < length:
        raise InvalidBuild("day beyond the schedule", problem="day_range", length=length)
    published = await _is_published(session, program_id)
    if published:
        schedule_id = await _copy_schedule(session, schedule_id)
    program_visibility = await session.scalar(
        select(Visibility.code).where(Visibility.id == program.visibility_id)
    )
    workout = Workout(
        owner_id=actor_id,
        institution_id=program.institution_id,
        name=name,
        difficulty_level_id=program.difficulty_level_id,
        visibility_id=await _visibility_id(session, "WORKOUT", program_visibility or "PRIVATE"),
    )
    session.add(workout)
    await session.flush()
    type_ids = await tempo_type_ids(session) if any(i.prescription.tempo for i in items) else {}
    for order, item in enumerate(items):
        plan = item.prescription
        workout_set = WorkoutSet(
            workout_id=workout.id,
            order_index=order,
            name=f"Set {order + 1}",
            rest_after_seconds=plan.rest_seconds,
            sets_count=plan.sets,
            target_reps=plan.reps,
            target_reps_max=plan.reps_max,
            target_load_kg=plan.load_kg,
            target_rpe=plan.rpe,
            target_duration_seconds=plan.duration_seconds,
        )
        session.add(workout_set)
        await session.flush()
        instruction = ExerciseInstruction(
            workout_set_id=workout_set.id,
            exercise_id=item.exercise_id,
            rest_between_seconds=0,
            order_index=0,
        )
        session.add(instruction)
        if plan.tempo:
            await session.flush()
            session.add_all(tempo_rows(instruction.id, plan.tempo, type_ids))
    await session.flush()
    next_order = await session.scalar(
        select(func.coalesce(func.max(ScheduleWorkout.order_index) + 1, 0)).where(
            ScheduleWorkout.program_schedule_id == schedule_id,
            ScheduleWorkout.day_number == day_number,
        )
    )
    session.add(
        ScheduleWorkout(
            program_schedule_id=schedule_id,
            workout_id=workout.id,
            day_number=day_number,
            order_index=int(next_order or 0),
        )
    )
    await session.flush()
    await recompute(session, workout.id)
    version_number: int | None = None
    if published:
        version = await publish(
            session,
            program_id,
            reason=f"workout {name} added on day {day_number + 1}",
            now=now,
            schedule_id=schedule_id,
        )
        version_number = version.version_number
    return SavedWorkout(workout.id, program_id, day_number, version_number)
