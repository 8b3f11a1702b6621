"""Import a program file (docs/program-format.md) for its owner: PROGRAM, PROGRAM_SCHEDULE,
SCHEDULE_WORKOUT, WORKOUT, WORKOUT_SET, EXERCISE_INSTRUCTION, TEMPO, statuses, tags and
categories, then PROGRAM_VERSION — all in the caller's transaction, and nothing at all when the
file has any error (every error is reported, each with its place).

Exercises are named in the file by any name or alias in any shipped language, or by catalogue
code, compared exactly after folding (case, accents, spaces, punctuation: the same fold as
``exercise_search``). Only exercises the owner may log count (the system catalogue, their own,
their user_exercise_map). No fuzzy matching: a file is not a chat, and "sqaut" silently becoming
some exercise would be a wrong program; an unknown name is an error with the nearest names as
suggestions, several exercises under one name an error listing them.

Access (deny by default):

- a new program: the owner must be allowed to CREATE it (decided by ``domain.access`` on the
  program row, inserted in a savepoint and rolled back when refused);
- the same title again for the same owner: a new VERSION of that program, which needs UPDATE on
  it. The new schedule and new (or changed) workouts leave the old schedule untouched;
- in an institution: the owner must be an active member of the active institution and hold a
  staff role there (TRAINER, COACH, PHYSIOTHERAPIST or ADMIN, held in it or platform-wide);
- visibility PUBLIC: the owner must hold TRAINER (COACH, ADMIN) — publishing to everyone is a
  professional's permission (COACH.PROGRAM.SHARE, scope PUBLIC);
- owner None is the system library: the CLI's operator, trusted, no check.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, select, union_all
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, Decision, ResourceRef, authorize, record_denial, require
from domain.errors import Conflict, NotAllowed, NotFound
from domain.models.access import Role, Visibility
from domain.models.institution import Institution, InstitutionMember, InstitutionMemberRole
from domain.models.lookup import Category, DifficultyLevel, Status, Tag
from domain.models.program import (
    Program,
    ProgramCategory,
    ProgramSchedule,
    ProgramStatus,
    ProgramTag,
    ScheduleWorkout,
)
from domain.models.user import UserRole
from domain.models.workout import (
    ExerciseInstruction,
    TempoType,
    Workout,
    WorkoutSet,
    WorkoutStatus,
)
from domain.services import program_versions, workout_duration
from domain.services.exercise_search import USABLE_EXERCISE, match_exercise
from domain.services.program_format import (
    FormatError,
    ParsedFile,
    Path,
    ProgramFileInvalid,
    SetLine,
    WorkoutDoc,
    cap,
    file_kind,
    parse_file,
)
from domain.services.tempo import Phase, parse_tempo, tempo_rows, tempos_of

# The sql() statement below is pasted together from exercise_search's constant (S608).
# ruff: noqa: S608

DEFAULT_DIFFICULTY = "BEGINNER"
# Visibility levels a file may ask for; institution levels need an institution, SYSTEM the
# system library. GROUP_BASED/ROLE_BASED need policies a file cannot create.
FILE_VISIBILITIES = (
    "PRIVATE",
    "SHARED",
    "CUSTOMER_SHARED",
    "PUBLIC",
    "INSTITUTION",
    "INSTITUTION_MEMBER",
    "INSTITUTION_CUSTOMER",
    "INSTITUTION_DEPARTMENT",
    "SYSTEM",
)
INSTITUTION_VISIBILITIES = frozenset(v for v in FILE_VISIBILITIES if v.startswith("INSTITUTION"))
STAFF_ROLES = ("TRAINER", "PHYSIOTHERAPIST", "ADMIN")  # COACH inherits TRAINER
PUBLISHER_ROLES = ("TRAINER",)
MAX_SUGGESTED = 20  # unknown names that get "did you mean" (one search each)


@dataclass(frozen=True, slots=True)
class ImportResult:
    program_id: uuid.UUID
    title: str
    version_number: int
    created: bool  # a new program (else a new version of the program with that title)
    length_days: int
    weeks: int
    workouts: int  # distinct workouts of the schedule
    new_workouts: int  # of which created by this import (the others were reused unchanged)
    sessions: int  # scheduled workouts (slots)


@dataclass(frozen=True, slots=True)
class _Exercise:
    id: uuid.UUID
    code: str | None
    name: str  # canonical name (set names)
    shown: str  # in the caller's locale (messages)


@dataclass
class _Vocab:
    difficulty: dict[str, uuid.UUID]
    program_visibility: dict[str, uuid.UUID]
    workout_visibility: dict[str, uuid.UUID]
    tags: dict[str, uuid.UUID]
    categories: dict[str, uuid.UUID]
    tempo_types: dict[str, uuid.UUID]
    published: uuid.UUID | None  # the PUBLISHED status (PUBLISHING family)


_NOBODY = uuid.UUID(int=0)  # the system library resolves against the catalogue alone

_EXACT = sql(
    f"""
SELECT q.ord, e.id, e.code, e.name,
       coalesce(e.name_i18n ->> :locale, e.name_i18n ->> 'en', e.name) AS shown
FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS q(text, ord)
JOIN exercise AS e
  ON exercise_search_terms(e.name, e.name_i18n, e.aliases) @> ARRAY[exercise_search_fold(q.text)]
     OR e.code = lower(btrim(q.text))
WHERE {USABLE_EXERCISE}
ORDER BY q.ord, shown, e.id
"""
)


async def _resolve_exercises(
    session: AsyncSession,
    owner_id: uuid.UUID | None,
    parsed: ParsedFile,
    errors: list[FormatError],
    locale: str,
) -> dict[str, _Exercise]:
    """Distinct names → exercise; unknown and ambiguous names become errors at every place."""
    names = list(dict.fromkeys(name for _path, name in parsed.exercise_refs))
    if not names:
        return {}
    rows = (
        await session.execute(
            _EXACT, {"names": names, "user_id": owner_id or _NOBODY, "locale": locale}
        )
    ).all()
    found: dict[str, list[Any]] = {}
    for row in rows:
        matches = found.setdefault(names[row.ord - 1], [])
        if all(match.id != row.id for match in matches):
            matches.append(row)
    resolved: dict[str, _Exercise] = {}
    suggestions: dict[str, list[str]] = {}
    for name in names:
        matches = found.get(name, [])
        by_code = [row for row in matches if row.code == name.strip().lower()]
        if len(by_code) == 1:
            matches = by_code
        if len(matches) == 1:
            row = matches[0]
            resolved[name] = _Exercise(row.id, row.code, row.name, row.shown)
        elif not matches and len(suggestions) < MAX_SUGGESTED:
            near = await match_exercise(session, owner_id or _NOBODY, name, locale=locale)
            suggestions[name] = [choice.name for choice in near.candidates[:3]]
    for path, name in parsed.exercise_refs:
        if name in resolved:
            continue
        matches = found.get(name, [])
        if len(matches) > 1:
            shown = ", ".join(row.shown for row in matches[:5])
            errors.append(parsed.error(path, "ambiguous_exercise", name=name, candidates=shown))
        elif suggestions.get(name):
            errors.append(
                parsed.error(
                    path,
                    "unknown_exercise_suggest",
                    name=name,
                    suggestions=", ".join(suggestions[name]),
                )
            )
        else:
            errors.append(parsed.error(path, "unknown_exercise", name=name))
    return resolved


async def _vocabulary(session: AsyncSession) -> _Vocab:
    async def pairs(query: Any) -> dict[str, uuid.UUID]:
        return {str(code): ident for code, ident in (await session.execute(query)).all()}

    return _Vocab(
        difficulty=await pairs(select(DifficultyLevel.code, DifficultyLevel.id)),
        program_visibility=await pairs(
            select(Visibility.code, Visibility.id).where(Visibility.resource_type == "PROGRAM")
        ),
        workout_visibility=await pairs(
            select(Visibility.code, Visibility.id).where(Visibility.resource_type == "WORKOUT")
        ),
        tags=await pairs(select(Tag.code, Tag.id).where(Tag.type == "PROGRAM")),
        categories=await pairs(
            select(Category.code, Category.id).where(Category.type == "PROGRAM")
        ),
        tempo_types=await pairs(select(TempoType.code, TempoType.id)),
        published=await session.scalar(
            select(Status.id).where(Status.type == "PUBLISHING", Status.code == "PUBLISHED")
        ),
    )


def _check_codes(
    parsed: ParsedFile,
    vocab: _Vocab,
    errors: list[FormatError],
    *,
    owner_id: uuid.UUID | None,
    institution_id: uuid.UUID | None,
) -> None:
    allowed_visibility = [
        code
        for code in FILE_VISIBILITIES
        if code in vocab.program_visibility and (code != "SYSTEM" or owner_id is None)
    ]
    known: dict[str, Sequence[str]] = {
        "difficulty": sorted(vocab.difficulty),
        "visibility": allowed_visibility,
        "tag": sorted(vocab.tags),
        "category": sorted(vocab.categories),
    }
    for ref in parsed.code_refs:
        choices = known[ref.kind]
        if ref.value not in choices:
            errors.append(
                parsed.error(ref.path, "bad_choice", value=ref.value, allowed=", ".join(choices))
            )
        elif (
            ref.kind == "visibility"
            and ref.value in INSTITUTION_VISIBILITIES
            and institution_id is None
        ):
            errors.append(parsed.error(ref.path, "needs_institution", value=ref.value))


def _code_of(parsed: ParsedFile, kind: str, path: Path) -> str | None:
    return next(
        (ref.value for ref in parsed.code_refs if ref.kind == kind and ref.path == path), None
    )


# --------------------------------------------------------------------------------------
# Access
# --------------------------------------------------------------------------------------


async def _holds_role(
    session: AsyncSession,
    user_id: uuid.UUID,
    codes: Sequence[str],
    institution_id: uuid.UUID | None,
) -> bool:
    """The user holds one of these system roles (or a role descending from one), platform-wide
    or — with ``institution_id`` — in that institution (active membership, active institution)."""
    held_global = select(UserRole.role_id.label("role_id")).where(
        UserRole.user_id == user_id, UserRole.is_active
    )
    parts = [held_global]
    if institution_id is not None:
        parts.append(
            select(InstitutionMemberRole.role_id.label("role_id"))
            .join(
                InstitutionMember,
                InstitutionMember.id == InstitutionMemberRole.institution_member_id,
            )
            .join(Institution, Institution.id == InstitutionMember.institution_id)
            .where(
                InstitutionMember.user_id == user_id,
                InstitutionMember.institution_id == institution_id,
                InstitutionMember.is_active,
                InstitutionMemberRole.is_active,
                Institution.is_active,
            )
        )
    start = union_all(*parts).subquery("held")
    closure = (
        select(Role.id.label("role_id"), Role.parent_role_id.label("parent_id"))
        .join(start, start.c.role_id == Role.id)
        .where(Role.is_active)
        .cte("closure", recursive=True)
    )
    parent = Role.__table__.alias("parent_role")
    closure = closure.union(
        select(parent.c.id, parent.c.parent_role_id).join(
            closure, and_(closure.c.parent_id == parent.c.id, parent.c.is_active)
        )
    )
    wanted = select(Role.id).where(Role.institution_id.is_(None), Role.code.in_(codes))
    found = await session.scalar(
        select(closure.c.role_id).where(closure.c.role_id.in_(wanted)).limit(1)
    )
    return found is not None


async def _refuse(
    session: AsyncSession, actor: Actor, action: str, resource: ResourceRef, reason: str
) -> None:
    decision = Decision(False, reason, None, ())
    await record_denial(session, actor, action, resource, decision)
    raise NotAllowed(
        f"{actor} may not {action} {resource}: {reason}",
        action=action,
        resource_type=resource.type,
        resource_id=str(resource.id),
        reason=reason,
    )


async def _check_institution(
    session: AsyncSession, owner_id: uuid.UUID, institution_id: uuid.UUID
) -> None:
    institution = await session.get(Institution, institution_id)
    if institution is None or not institution.is_active:
        raise NotFound(f"no institution {institution_id}", institution_id=str(institution_id))
    if not await _holds_role(session, owner_id, STAFF_ROLES, institution_id) or not (
        await session.scalar(
            select(InstitutionMember.id).where(
                InstitutionMember.user_id == owner_id,
                InstitutionMember.institution_id == institution_id,
                InstitutionMember.is_active,
            )
        )
    ):
        await _refuse(
            session,
            Actor(owner_id),
            "CREATE",
            ResourceRef("INSTITUTION", institution_id),
            "only the institution's staff may add programs to its library",
        )


async def _may_create(
    session: AsyncSession, actor: Actor, program: Program, now: dt.datetime
) -> None:
    """CREATE decided by the engine on the very row (``program`` with its id set): inserted in a
    savepoint, always rolled back."""
    resource = ResourceRef("PROGRAM", program.id)
    nested = await session.begin_nested()
    try:
        session.add(program)
        await session.flush()
        decision = await authorize(session, actor, Action.CREATE, resource, now=now)
    finally:
        await nested.rollback()
    if not decision.allowed:
        await record_denial(session, actor, "CREATE", resource, decision)
        raise NotAllowed(
            f"{actor} may not CREATE {resource}: {decision.reason}",
            action="CREATE",
            resource_type="PROGRAM",
            resource_id=str(program.id),
            reason=decision.reason,
        )


# --------------------------------------------------------------------------------------
# Workouts
# --------------------------------------------------------------------------------------


SetSignature = tuple[Any, ...]


def _line_signature(line: SetLine, exercise: _Exercise, tempo: tuple[Phase, ...]) -> SetSignature:
    reps, reps_max = line.reps if line.reps is not None else (None, None)
    return (
        line.name or exercise.name[:50],
        line.sets,
        reps,
        reps_max,
        line.load,
        line.rpe,
        line.duration,
        line.distance,
        line.rest,
        ((exercise.id, 0, tempo),),
    )


async def _stored_signatures(
    session: AsyncSession, workout_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[SetSignature]]:
    if not workout_ids:
        return {}
    rows = (
        await session.execute(
            select(WorkoutSet, ExerciseInstruction)
            .outerjoin(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
            .where(WorkoutSet.workout_id.in_(workout_ids))
            .order_by(
                WorkoutSet.workout_id, WorkoutSet.order_index, ExerciseInstruction.order_index
            )
        )
    ).all()
    tempo = await tempos_of(
        session, [instruction.id for _s, instruction in rows if instruction is not None]
    )
    parts: dict[uuid.UUID, tuple[WorkoutSet, list[tuple[Any, ...]]]] = {}
    for workout_set, instruction in rows:
        entry = parts.setdefault(workout_set.id, (workout_set, []))
        if instruction is not None:
            entry[1].append(
                (
                    instruction.exercise_id,
                    instruction.rest_between_seconds,
                    tempo.get(instruction.id, ()),
                )
            )
    result: dict[uuid.UUID, list[SetSignature]] = {ident: [] for ident in workout_ids}
    for workout_set, instructions in parts.values():
        result[workout_set.workout_id].append(
            (
                workout_set.name,
                workout_set.sets_count,
                workout_set.target_reps,
                workout_set.target_reps_max,
                workout_set.target_load_kg,
                workout_set.target_rpe,
                workout_set.target_duration_seconds,
                workout_set.target_distance_m,
                workout_set.rest_after_seconds,
                tuple(instructions),
            )
        )
    return result


def _numbered(base: str, number: int) -> str:
    if number == 1:
        return base[:50]
    suffix = f" ({number})"
    return base[: 50 - len(suffix)].rstrip() + suffix


class _WorkoutWriter:
    """Creates the file's workouts, or reuses an identical one the owner already has under the
    same name (or "Name (n)"): re-importing an unchanged workout does not duplicate it."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        owner_id: uuid.UUID | None,
        institution_id: uuid.UUID | None,
        visibility_id: uuid.UUID,
        vocab: _Vocab,
        exercises: dict[str, _Exercise],
        now: dt.datetime,
    ) -> None:
        self.session = session
        self.owner_id = owner_id
        self.institution_id = institution_id
        self.visibility_id = visibility_id
        self.vocab = vocab
        self.exercises = exercises
        self.now = now
        self.names: set[str] = set()
        self.created = 0

    async def load_names(self) -> None:
        self.names = set(
            (
                await self.session.scalars(
                    select(Workout.name).where(Workout.owner_id.is_not_distinct_from(self.owner_id))
                )
            ).all()
        )

    async def write(
        self, workout: WorkoutDoc, difficulty_id: uuid.UUID, tempos: list[tuple[Phase, ...]]
    ) -> uuid.UUID:
        signature = [
            _line_signature(line, self.exercises[line.exercise], tempo)
            for line, tempo in zip(workout.sets, tempos, strict=True)
        ]
        numbered = [_numbered(workout.name, n) for n in range(1, 100)]
        candidates = (
            await self.session.scalars(
                select(Workout).where(
                    Workout.owner_id.is_not_distinct_from(self.owner_id),
                    Workout.name.in_(numbered),
                    Workout.institution_id.is_not_distinct_from(self.institution_id),
                    Workout.visibility_id == self.visibility_id,
                    Workout.difficulty_level_id == difficulty_id,
                    Workout.notes.is_not_distinct_from(workout.notes),
                    Workout.is_active,
                )
            )
        ).all()
        stored = await _stored_signatures(self.session, [c.id for c in candidates])
        for candidate in sorted(candidates, key=lambda c: numbered.index(c.name)):
            if stored[candidate.id] == signature:
                return candidate.id
        name = next((n for n in numbered if n not in self.names), None)
        if name is None:
            raise Conflict(f"too many workouts named {workout.name!r}", name=workout.name)
        self.names.add(name)
        row = Workout(
            owner_id=self.owner_id,
            institution_id=self.institution_id,
            name=name,
            difficulty_level_id=difficulty_id,
            notes=workout.notes,
            visibility_id=self.visibility_id,
        )
        self.session.add(row)
        await self.session.flush()
        for order, (line, tempo) in enumerate(zip(workout.sets, tempos, strict=True)):
            await self._write_set(row.id, order, line, tempo)
        if self.vocab.published is not None:
            self.session.add(
                WorkoutStatus(
                    workout_id=row.id, status_id=self.vocab.published, published_at=self.now
                )
            )
        await self.session.flush()
        await workout_duration.recompute(self.session, row.id)
        self.created += 1
        return row.id

    async def _write_set(
        self, workout_id: uuid.UUID, order: int, line: SetLine, tempo: tuple[Phase, ...]
    ) -> None:
        exercise = self.exercises[line.exercise]
        reps, reps_max = line.reps if line.reps is not None else (None, None)
        workout_set = WorkoutSet(
            workout_id=workout_id,
            order_index=order,
            name=line.name or exercise.name[:50],
            rest_after_seconds=line.rest,
            sets_count=line.sets,
            target_reps=reps,
            target_reps_max=reps_max,
            target_load_kg=line.load,
            target_rpe=line.rpe,
            target_duration_seconds=line.duration,
            target_distance_m=line.distance,
        )
        self.session.add(workout_set)
        await self.session.flush()
        instruction = ExerciseInstruction(
            workout_set_id=workout_set.id,
            exercise_id=exercise.id,
            rest_between_seconds=0,
            order_index=0,
        )
        self.session.add(instruction)
        await self.session.flush()
        self.session.add_all(tempo_rows(instruction.id, tempo, self.vocab.tempo_types))


# --------------------------------------------------------------------------------------
# The import
# --------------------------------------------------------------------------------------


async def _existing(
    session: AsyncSession, owner_id: uuid.UUID | None, title: str
) -> Program | None:
    return await session.scalar(
        select(Program)
        .where(Program.owner_id.is_not_distinct_from(owner_id), Program.title == title)
        .with_for_update()
    )


async def _replace_links(
    session: AsyncSession,
    program_id: uuid.UUID,
    tag_ids: list[uuid.UUID],
    category_ids: list[uuid.UUID],
) -> None:
    await session.execute(delete(ProgramTag).where(ProgramTag.program_id == program_id))
    await session.execute(delete(ProgramCategory).where(ProgramCategory.program_id == program_id))
    session.add_all(ProgramTag(program_id=program_id, tag_id=tag) for tag in dict.fromkeys(tag_ids))
    session.add_all(
        ProgramCategory(program_id=program_id, category_id=category)
        for category in dict.fromkeys(category_ids)
    )


async def import_program(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID | None,
    institution_id: uuid.UUID | None,
    source: bytes,
    filename: str,
    now: dt.datetime,
    locale: str = "en",
) -> ImportResult:
    """Import ``source`` (named ``filename``: .yaml/.yml/.json/.csv) for ``owner_id`` (None:
    the system library), in ``institution_id``'s library when given. Raises
    ``ProgramFileInvalid`` (every error, nothing stored), ``NotAllowed``, ``NotFound`` (the
    institution) or ``Conflict`` (the title is taken by a program of another library)."""
    parsed = parse_file(source, filename)
    errors = list(parsed.errors)
    if parsed.document is None and not parsed.exercise_refs and not parsed.code_refs:
        raise ProgramFileInvalid(cap(errors))
    exercises = await _resolve_exercises(session, owner_id, parsed, errors, locale)
    vocab = await _vocabulary(session)
    _check_codes(parsed, vocab, errors, owner_id=owner_id, institution_id=institution_id)
    if errors or parsed.document is None:
        raise ProgramFileInvalid(cap(errors))
    document = parsed.document
    meta = document.program
    actor = Actor(owner_id) if owner_id is not None else None

    default_visibility = (
        "SYSTEM"
        if owner_id is None and institution_id is None
        else "INSTITUTION"
        if institution_id is not None
        else "PRIVATE"
    )
    visibility = meta.visibility or default_visibility
    difficulty_id = vocab.difficulty[meta.difficulty or DEFAULT_DIFFICULTY]
    fields: dict[str, Any] = {
        "description": meta.description,
        "difficulty_level_id": difficulty_id,
        "duration_weeks": meta.duration_weeks or min(104, document.weeks),
        "visibility_id": vocab.program_visibility[visibility],
        "institution_id": institution_id,
        "is_active": True,
    }
    program = await _existing(session, owner_id, meta.title)
    created = program is None
    if actor is not None and owner_id is not None:
        if institution_id is not None:
            await _check_institution(session, owner_id, institution_id)
        if program is None:
            probe = Program(id=uuid.uuid4(), owner_id=owner_id, title=meta.title, **fields)
            await _may_create(session, actor, probe, now)
            target = probe.id
        else:
            target = program.id
            await require(session, actor, Action.UPDATE, ResourceRef("PROGRAM", target), now=now)
        if visibility == "PUBLIC" and not await _holds_role(
            session, owner_id, PUBLISHER_ROLES, institution_id
        ):
            await _refuse(
                session,
                actor,
                "SHARE",
                ResourceRef("PROGRAM", target),
                "publishing a program to everyone needs a coach's role",
            )
    if program is None:
        program = Program(owner_id=owner_id, title=meta.title, **fields)
        session.add(program)
    else:
        if program.institution_id != institution_id:
            raise Conflict(
                f"a program titled {meta.title!r} already exists in another library",
                title=meta.title,
            )
        for name, value in fields.items():
            setattr(program, name, value)
    await session.flush()
    await _write_classification(session, program.id, parsed, vocab)

    writer = _WorkoutWriter(
        session,
        owner_id=owner_id,
        institution_id=institution_id,
        visibility_id=vocab.workout_visibility[visibility],
        vocab=vocab,
        exercises=exercises,
        now=now,
    )
    await writer.load_names()
    workout_ids: dict[int, uuid.UUID] = {}
    for workout in document.workouts:
        # The format admits only tempos parse_tempo reads (four phases, digits or X).
        tempos = [parse_tempo(line.tempo) if line.tempo else () for line in workout.sets]
        code = _code_of(parsed, "difficulty", ("workouts", workout.index, "difficulty"))
        workout_difficulty = vocab.difficulty[code] if code else difficulty_id
        workout_ids[workout.index] = await writer.write(workout, workout_difficulty, tempos)

    schedule = ProgramSchedule(
        program_id=program.id,
        schedule_length_days=document.length_days,
        notes=document.schedule.notes,
    )
    session.add(schedule)
    await session.flush()
    session.add_all(
        ScheduleWorkout(
            program_schedule_id=schedule.id,
            workout_id=workout_ids[slot.workout_index],
            day_number=slot.day_number,
            order_index=slot.order_index,
            is_optional=slot.is_optional,
            notes=slot.notes,
        )
        for slot in document.slots
    )
    await session.flush()
    version = await program_versions.publish(
        session,
        program.id,
        reason=f"imported from {filename}"[:255],
        now=now,
        schedule_id=schedule.id,
        extra={"source": {"filename": filename[:255], "format": file_kind(filename)}},
    )
    return ImportResult(
        program_id=program.id,
        title=program.title,
        version_number=version.version_number,
        created=created,
        length_days=document.length_days,
        weeks=document.weeks,
        workouts=len(set(workout_ids.values())),
        new_workouts=writer.created,
        sessions=len(document.slots),
    )


async def _write_classification(
    session: AsyncSession, program_id: uuid.UUID, parsed: ParsedFile, vocab: _Vocab
) -> None:
    tags = [vocab.tags[ref.value] for ref in parsed.code_refs if ref.kind == "tag"]
    categories = [vocab.categories[ref.value] for ref in parsed.code_refs if ref.kind == "category"]
    await _replace_links(session, program_id, tags, categories)
    published = vocab.published
    if published is not None:
        statement = insert(ProgramStatus).values(program_id=program_id, status_id=published)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[ProgramStatus.program_id], set_={"status_id": published}
            )
        )
    await session.flush()
