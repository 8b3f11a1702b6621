"""What I can do with my equipment: swap an exercise for an accessible alternative or a
variant (EXERCISE_ACCESSIBILITY / EXERCISE_VARIANT), check exercises against the ``equipment``
setting, suggest exercises, and read or change that setting (presets are setting templates).

An exercise is *feasible* for a user when every piece of equipment it needs is in their
``equipment`` setting (catalogue equipment by code) or is their own equipment row; an exercise
needing nothing is always feasible. The setting is resolved inside each statement
(``effective_value_text``): user > institution > system > default (a full gym).

Only exercises the user may use are offered: active system catalogue rows and their own.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.errors import InvalidInput, NotFound
from domain.models.anatomy import Muscle
from domain.models.enums import MuscleRole
from domain.models.equipment import Equipment, EquipmentCategory
from domain.models.exercise import (
    Exercise,
    ExerciseAccessibility,
    ExerciseEquipment,
    ExerciseMuscle,
    ExerciseVariant,
)
from domain.models.lookup import Category, DifficultyLevel
from domain.models.setting import SettingTemplate
from domain.reference.loader import DATA_DIR
from domain.services.settings import (
    apply_template,
    effective_setting,
    effective_value_text,
    set_user_setting,
)

EQUIPMENT_SETTING = "equipment"
# Setting templates whose only setting is ``equipment`` are the presets of the /equipment screen.
PRESET_PREFIX = "EQUIPMENT_"
MAX_LIMIT = 50


class SwapKind(enum.StrEnum):
    ACCESSIBLE = "ACCESSIBLE"  # EXERCISE_ACCESSIBILITY: a substitute (equipment, injury, level)
    VARIANT = "VARIANT"  # EXERCISE_VARIANT: an easier/harder version of the same movement


@dataclass(frozen=True, slots=True)
class SwapOption:
    exercise_id: uuid.UUID
    name: str  # in the caller's locale
    kind: SwapKind
    note: str | None  # why this alternative (ACCESSIBLE), in the caller's locale when known
    difficulty_delta: int | None  # VARIANT: > 0 harder, < 0 easier; None for ACCESSIBLE
    feasible: bool  # all its equipment is in the user's setting


@dataclass(frozen=True, slots=True)
class Suggestion:
    exercise_id: uuid.UUID
    name: str
    feasible: bool


@dataclass(frozen=True, slots=True)
class EquipmentChoice:
    code: str
    name: str  # in the caller's locale
    category_code: str
    category_name: str
    owned: bool  # in the user's setting


@dataclass(frozen=True, slots=True)
class EquipmentPreset:
    code: str
    name: str
    description: str | None
    equipment: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# SQL pieces
# --------------------------------------------------------------------------------------------


def _localized(column_i18n: Any, column: Any, locale: str) -> ColumnElement[str]:
    translated: ColumnElement[str] = func.nullif(column_i18n.op("->>")(literal(locale)), "")
    return func.coalesce(translated, column)


def my_equipment_sql(user_id: uuid.UUID) -> ColumnElement[Any]:
    """The user's ``equipment`` setting as a JSONB array, resolved in the statement."""
    return cast(effective_value_text(EQUIPMENT_SETTING, literal(user_id, UUID)), JSONB)


def feasible_sql(user_id: uuid.UUID, exercise_id: Any) -> ColumnElement[bool]:
    """True when no equipment the exercise needs is missing from the user's setting (their
    own equipment rows count as theirs). A missing setting definition counts as "everything"."""
    mine = my_equipment_sql(user_id)
    has_it = or_(
        # Not "=": a catalogue row's NULL owner would make the whole test NULL.
        Equipment.owner_id.is_not_distinct_from(user_id),
        and_(Equipment.code.is_not(None), func.coalesce(mine.op("?")(Equipment.code), True)),
    )
    missing = exists().where(
        ExerciseEquipment.exercise_id == exercise_id,
        Equipment.id == ExerciseEquipment.equipment_id,
        ~has_it,
    )
    return ~missing


def usable_sql(user_id: uuid.UUID, exercise: Any = Exercise) -> ColumnElement[bool]:
    """Exercises the user may pick: active, from the system catalogue or their own."""
    return and_(exercise.is_active, or_(exercise.owner_id.is_(None), exercise.owner_id == user_id))


@cache
def _catalogue_notes() -> Mapping[tuple[str, str], Mapping[str, str]]:
    """The translated notes of catalogue alternatives, from the reference data (the table keeps
    the English one)."""
    notes: dict[tuple[str, str], Mapping[str, str]] = {}
    for path in sorted(DATA_DIR.glob("exercises-*.yaml")):
        with path.open(encoding="utf-8") as handle:
            items = yaml.safe_load(handle) or []
        for item in items:
            for ref in item.get("alternatives") or []:
                if isinstance(ref.get("note"), dict):
                    notes[(item["code"], ref["code"])] = ref["note"]
    return notes


def _note(
    source_code: str | None, target_code: str | None, stored: str | None, locale: str
) -> str | None:
    if source_code and target_code:
        texts = _catalogue_notes().get((source_code, target_code))
        if texts:
            return texts.get(locale) or texts.get("en") or stored
    return stored


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", limit=limit)
    return limit


# --------------------------------------------------------------------------------------------
# Swaps, feasibility, suggestions
# --------------------------------------------------------------------------------------------


async def swap_candidates(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise_id: uuid.UUID,
    *,
    locale: str,
    limit: int = 6,
) -> list[SwapOption]:
    """Accessible alternatives and variants of an exercise the user may use, feasible ones
    (with the user's equipment) first, then accessible alternatives before variants, then the
    catalogue's order. Variants count both ways (B is a variant of A when A lists B, with the
    delta reversed when B lists A). Empty for an exercise the user may not use. One statement.
    """
    accessible = select(
        ExerciseAccessibility.alternative_exercise_id.label("candidate_id"),
        literal(0).label("kind_rank"),
        ExerciseAccessibility.note.label("note"),
        cast(null(), Integer).label("delta"),
        ExerciseAccessibility.order_index.label("position"),
    ).where(ExerciseAccessibility.exercise_id == exercise_id)
    variants = select(
        ExerciseVariant.variant_exercise_id,
        literal(1),
        cast(null(), String),
        cast(ExerciseVariant.difficulty_delta, Integer),
        cast(ExerciseVariant.order_index, Integer),
    ).where(ExerciseVariant.exercise_id == exercise_id)
    reverse = select(
        ExerciseVariant.exercise_id,
        literal(1),
        cast(null(), String),
        -cast(ExerciseVariant.difficulty_delta, Integer),
        cast(ExerciseVariant.order_index, Integer) + 1000,
    ).where(ExerciseVariant.variant_exercise_id == exercise_id)
    links = union_all(accessible, variants, reverse).subquery("links")
    # One row per candidate: its accessible link if any, else its first variant link.
    best = (
        select(links)
        .ext(distinct_on(links.c.candidate_id))
        .order_by(links.c.candidate_id, links.c.kind_rank, links.c.position)
        .subquery("best")
    )
    source = aliased(Exercise, name="source")
    feasible = feasible_sql(user_id, Exercise.id).label("feasible")
    statement = (
        select(
            Exercise.id,
            Exercise.code,
            _localized(Exercise.name_i18n, Exercise.name, locale).label("name"),
            best.c.kind_rank,
            best.c.note,
            best.c.delta,
            feasible,
            source.code.label("source_code"),
        )
        .join(best, best.c.candidate_id == Exercise.id)
        .join(source, source.id == exercise_id)
        .where(usable_sql(user_id), usable_sql(user_id, source))
        .order_by(feasible.desc(), best.c.kind_rank, best.c.position, "name")
        .limit(_limit(limit))
    )
    return [
        SwapOption(
            exercise_id=row.id,
            name=row.name,
            kind=SwapKind.ACCESSIBLE if row.kind_rank == 0 else SwapKind.VARIANT,
            note=_note(row.source_code, row.code, row.note, locale) if row.kind_rank == 0 else None,
            difficulty_delta=row.delta,
            feasible=bool(row.feasible),
        )
        for row in await session.execute(statement)
    ]


async def can_do(
    session: AsyncSession, user_id: uuid.UUID, exercise_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, bool]:
    """For each given exercise that exists: is all its equipment in the user's setting?
    Unknown ids are left out. One statement."""
    if not exercise_ids:
        return {}
    rows = await session.execute(
        select(Exercise.id, feasible_sql(user_id, Exercise.id)).where(
            Exercise.id.in_(list(exercise_ids))
        )
    )
    return {exercise: bool(ok) for exercise, ok in rows}


async def suggest_exercises(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    muscle_code: str | None = None,
    locale: str,
    limit: int = 5,
) -> list[Suggestion]:
    """A few exercises the user can do with their equipment (working ``muscle_code`` as a
    prime mover when given): compound catalogue movements first, easier first, then by name.
    Falls back to infeasible ones only when nothing feasible exists. One statement."""
    feasible = feasible_sql(user_id, Exercise.id).label("feasible")
    statement = (
        select(
            Exercise.id,
            _localized(Exercise.name_i18n, Exercise.name, locale).label("name"),
            feasible,
        )
        .join(DifficultyLevel, DifficultyLevel.id == Exercise.difficulty_level_id, isouter=True)
        .where(usable_sql(user_id))
    )
    if muscle_code is not None:
        statement = statement.where(
            exists().where(
                ExerciseMuscle.exercise_id == Exercise.id,
                ExerciseMuscle.role == MuscleRole.PRIMARY,
                Muscle.id == ExerciseMuscle.muscle_id,
                Muscle.code == muscle_code,
            )
        )
    primary_count = (
        select(func.count(ExerciseMuscle.muscle_id))
        .where(
            ExerciseMuscle.exercise_id == Exercise.id,
            ExerciseMuscle.role == MuscleRole.PRIMARY,
        )
        .correlate(Exercise)
        .scalar_subquery()
    )
    statement = statement.order_by(
        feasible.desc(),
        # The user's own exercises first: they added them for a reason.
        case((Exercise.owner_id.is_(None), 1), else_=0),
        primary_count.desc(),
        func.coalesce(DifficultyLevel.rank, 99),
        "name",
    ).limit(_limit(limit))
    return [
        Suggestion(exercise_id=row.id, name=row.name, feasible=bool(row.feasible))
        for row in await session.execute(statement)
    ]


# --------------------------------------------------------------------------------------------
# The equipment setting
# --------------------------------------------------------------------------------------------


async def my_equipment(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The user's effective ``equipment`` codes."""
    value = await effective_setting(session, user_id, EQUIPMENT_SETTING)
    return [str(code) for code in value or []]


async def equipment_choices(
    session: AsyncSession, user_id: uuid.UUID, *, locale: str
) -> list[EquipmentChoice]:
    """The catalogue equipment the setting can list, grouped by category (then by name), each
    marked when the user has it. One statement."""
    mine = my_equipment_sql(user_id)
    category = (
        select(Category.code, Category.name, Category.name_i18n)
        .join(EquipmentCategory, EquipmentCategory.category_id == Category.id)
        .where(EquipmentCategory.equipment_id == Equipment.id)
        .order_by(Category.code)
        .limit(1)
        .correlate(Equipment)
        .lateral("category")
    )
    name = _localized(Equipment.name_i18n, Equipment.name, locale).label("name")
    category_name = func.coalesce(
        _localized(category.c.name_i18n, category.c.name, locale), "-"
    ).label("category_name")
    rows = await session.execute(
        select(
            Equipment.code,
            name,
            func.coalesce(category.c.code, "OTHER").label("category_code"),
            category_name,
            func.coalesce(mine.op("?")(Equipment.code), True).label("owned"),
        )
        .join(category, literal(True), isouter=True)
        .where(Equipment.owner_id.is_(None), Equipment.code.is_not(None), Equipment.is_active)
        .order_by("category_code", "name")
    )
    return [
        EquipmentChoice(
            code=row.code,
            name=row.name,
            category_code=row.category_code,
            category_name=row.category_name,
            owned=bool(row.owned),
        )
        for row in rows
    ]


async def set_my_equipment(
    session: AsyncSession, user_id: uuid.UUID, codes: Sequence[str]
) -> list[str]:
    """Store the user's equipment list (validated against the setting's choices: an unknown
    code changes nothing and raises InvalidSettingValue). Returns the stored list."""
    stored = await set_user_setting(session, user_id, EQUIPMENT_SETTING, list(codes))
    return [str(code) for code in stored]


async def toggle_my_equipment(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    """Add or remove one piece of equipment; returns whether the user now has it."""
    current = await my_equipment(session, user_id)
    if code in current:
        current.remove(code)
        await set_my_equipment(session, user_id, current)
        return False
    await set_my_equipment(session, user_id, [*current, code])
    return True


async def equipment_presets(session: AsyncSession, *, locale: str) -> list[EquipmentPreset]:
    """The shipped presets (USER templates setting only ``equipment``), smallest first."""
    templates = await session.scalars(
        select(SettingTemplate)
        .where(
            SettingTemplate.is_active,
            SettingTemplate.code.startswith(PRESET_PREFIX),
            SettingTemplate.settings_data.has_key(EQUIPMENT_SETTING),
        )
        .order_by(func.jsonb_array_length(SettingTemplate.settings_data[EQUIPMENT_SETTING]))
    )
    return [
        EquipmentPreset(
            code=template.code,
            name=template.template_name_i18n.get(locale) or template.template_name,
            description=template.description_i18n.get(locale) or template.description,
            equipment=tuple(template.settings_data[EQUIPMENT_SETTING]),
        )
        for template in templates
        if set(template.settings_data) == {EQUIPMENT_SETTING}
    ]


async def apply_equipment_preset(
    session: AsyncSession, user_id: uuid.UUID, preset_code: str
) -> list[str]:
    """Replace the user's equipment by a preset's; NotFound for anything but a preset."""
    if not preset_code.startswith(PRESET_PREFIX):
        raise NotFound(f"unknown equipment preset {preset_code!r}", code=preset_code)
    template = await session.scalar(
        select(SettingTemplate).where(
            SettingTemplate.code == preset_code, SettingTemplate.is_active
        )
    )
    if template is None or set(template.settings_data) != {EQUIPMENT_SETTING}:
        raise NotFound(f"unknown equipment preset {preset_code!r}", code=preset_code)
    stored = await apply_template(session, preset_code, user_id=user_id, changed_by=user_id)
    return [str(code) for code in stored[EQUIPMENT_SETTING]]
