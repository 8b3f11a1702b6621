"""Idempotent loader of the reference data in `domain/reference/data/`.

Every row is written with INSERT … ON CONFLICT (stable code) DO UPDATE … WHERE something differs,
so a second run with the same files writes nothing and reports zero changes. Link rows of the
system catalogue are synchronised: missing ones added, changed ones updated, stale ones removed.
Nothing owned by a user or an institution is touched.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import ColumnElement, Table, and_, func, not_, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.access import Permission, PermissionGroup, Role, RolePermission, Visibility
from domain.models.anatomy import Muscle, MuscleLevel, MuscleZone, TissueType
from domain.models.base import Base
from domain.models.equipment import Equipment, EquipmentCategory
from domain.models.exercise import (
    Exercise,
    ExerciseAccessibility,
    ExerciseCategory,
    ExerciseEquipment,
    ExerciseMuscle,
    ExerciseTag,
    ExerciseVariant,
)
from domain.models.lookup import (
    Category,
    DifficultyLevel,
    LogLevelStatus,
    MeasurementUnit,
    Metric,
    ProgressionMetric,
    Status,
    Tag,
)
from domain.models.media import MediaType
from domain.models.workout import TempoType
from domain.reference.schema import (
    EquipmentItem,
    ExerciseItem,
    LookupItem,
    Lookups,
    MuscleItem,
    Permissions,
    RoleItem,
    TypedLookupItem,
)

DATA_DIR = Path(__file__).parent / "data"
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ProgressCallback = Callable[[str, int, int], None]
"""Called as (step label, steps done, steps in all) after each step."""


class ReferenceDataError(Exception):
    """The data files are invalid or inconsistent; nothing was written."""


@dataclass
class ReferenceData:
    lookups: Lookups
    muscles: list[MuscleItem]
    equipment: list[EquipmentItem]
    roles: list[RoleItem]
    permissions: Permissions
    exercises: list[ExerciseItem]
    # Parsed files of the other sections (see SECTIONS), by section label.
    sections: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """Reference data of one area, kept beside its feature: how to read it, how to write it.

    `read(data_dir)` parses and validates (raising ReferenceDataError) before anything is
    written; `load(context, parsed)` upserts through `LoaderContext.put` so it stays idempotent.
    """

    label: str
    read: Callable[[Path], Any]
    load: Callable[[LoaderContext, Any], Awaitable[None]]


def registered_sections() -> list[Section]:
    """The areas beyond the catalogue, in load order (later areas may use earlier ids)."""
    # Imported here: each section module imports this one for Section and parse_file.
    from domain.reference import (
        activity,
        billing,
        errors,
        events,
        notifications,
        ratings,
        settings,
    )

    return [
        settings.SECTION,
        activity.SECTION,
        ratings.SECTION,
        billing.SECTION,
        notifications.SECTION,
        errors.SECTION,
        events.SECTION,
    ]


@dataclass
class SeedReport:
    """Rows inserted, updated or deleted per table."""

    changes: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.changes.values())

    def add(self, table: str, count: int) -> None:
        if count:
            self.changes[table] += count


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            # libyaml's loader is ~20x faster than the pure-Python one on these files.
            return yaml.load(handle, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except (OSError, yaml.YAMLError) as error:
        raise ReferenceDataError(f"{path.name}: {error}") from error


def parse_file(adapter: TypeAdapter[Any], path: Path) -> Any:
    """Read a YAML file and validate it; errors name the file and the first bad path."""
    try:
        return adapter.validate_python(_read_yaml(path))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ReferenceDataError(
            f"{path.name}: {where}: {first['msg']} ({error.error_count()} error(s))"
        ) from error


def read_reference_data(data_dir: Path = DATA_DIR) -> ReferenceData:
    """Parse and cross-check every file; raise ReferenceDataError listing what is wrong."""
    exercises: list[ExerciseItem] = []
    exercise_files = sorted(data_dir.glob("exercises-*.yaml"))
    if not exercise_files:
        raise ReferenceDataError(f"no exercises-*.yaml in {data_dir}")
    for path in exercise_files:
        exercises.extend(parse_file(TypeAdapter(list[ExerciseItem]), path))
    data = ReferenceData(
        lookups=parse_file(TypeAdapter(Lookups), data_dir / "lookups.yaml"),
        muscles=parse_file(TypeAdapter(list[MuscleItem]), data_dir / "muscles.yaml"),
        equipment=parse_file(TypeAdapter(list[EquipmentItem]), data_dir / "equipment.yaml"),
        roles=parse_file(TypeAdapter(list[RoleItem]), data_dir / "roles.yaml"),
        permissions=parse_file(TypeAdapter(Permissions), data_dir / "permissions.yaml"),
        exercises=exercises,
        sections={section.label: section.read(data_dir) for section in registered_sections()},
    )
    problems = check_references(data)
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ReferenceDataError(f"inconsistent reference data: {shown}{more}")
    return data


def _duplicates(values: Iterable[Any]) -> list[Any]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def check_references(data: ReferenceData) -> list[str]:
    """Every code a file names exists, and no key appears twice."""
    lookups = data.lookups
    problems: list[str] = []

    def need(what: str, owner: str, codes: Iterable[str], known: set[str]) -> None:
        problems.extend(f"{owner}: unknown {what} {code}" for code in codes if code not in known)

    def unique(what: str, keys: Iterable[Any]) -> None:
        problems.extend(f"duplicate {what} {key}" for key in _duplicates(keys))

    zones = {item.code for item in lookups.muscle_zones}
    tissues = {item.code for item in lookups.tissue_types}
    levels = {item.code for item in lookups.muscle_levels}
    difficulties = {item.code for item in lookups.difficulty_levels}
    statuses = {(item.type, item.code) for item in lookups.statuses}
    categories = {(item.type, item.code) for item in lookups.categories}
    tags = {(item.type, item.code) for item in lookups.tags}
    visibility_levels = {item.code for item in lookups.visibility_levels}
    muscles = {item.code for item in data.muscles}
    equipment = {item.code for item in data.equipment}
    exercises = {item.code for item in data.exercises}
    roles = {item.code for item in data.roles}
    groups = {item.code for item in data.permissions.groups}

    coded: list[tuple[str, Sequence[LookupItem]]] = [
        ("muscle zone", lookups.muscle_zones),
        ("tissue type", lookups.tissue_types),
        ("muscle level", lookups.muscle_levels),
        ("difficulty", lookups.difficulty_levels),
        ("media type", lookups.media_types),
        ("tempo type", lookups.tempo_types),
        ("visibility level", lookups.visibility_levels),
    ]
    for name, items in coded:
        unique(name, (item.code for item in items))
    unique("difficulty rank", (item.rank for item in lookups.difficulty_levels))
    typed_lookups: list[tuple[str, Sequence[TypedLookupItem]]] = [
        ("status", lookups.statuses),
        ("category", lookups.categories),
        ("tag", lookups.tags),
        ("metric", lookups.metrics),
    ]
    for name, typed in typed_lookups:
        unique(name, ((item.type, item.code) for item in typed))
    unique("muscle", (item.code for item in data.muscles))
    unique("muscle name", (item.name.en for item in data.muscles))
    unique("muscle latin name", (item.latin for item in data.muscles if item.latin))
    unique("equipment", (item.code for item in data.equipment))
    unique("equipment name", (item.name.en for item in data.equipment))
    unique("exercise", (item.code for item in data.exercises))
    unique("exercise name", (item.name.en for item in data.exercises))
    unique("role", (item.code for item in data.roles))
    unique("permission", (item.name for item in data.permissions.permissions))

    for pair in lookups.log_level_statuses:
        if ("LOG_LEVEL", pair.log_level) not in statuses:
            problems.append(f"log_level_statuses: unknown LOG_LEVEL status {pair.log_level}")
        if ("SEVERITY", pair.severity) not in statuses:
            problems.append(f"log_level_statuses: unknown SEVERITY status {pair.severity}")
    for resource in lookups.visibility_resource_types:
        need("visibility level", resource.resource_type, resource.levels, visibility_levels)
    for muscle in data.muscles:
        need("zone", muscle.code, [muscle.zone], zones)
        need("tissue type", muscle.code, [muscle.tissue_type], tissues)
        need("level", muscle.code, [muscle.level], levels)
    for item in data.equipment:
        if ("EQUIPMENT", item.category) not in categories:
            problems.append(f"{item.code}: unknown EQUIPMENT category {item.category}")
    for exercise in data.exercises:
        owner = exercise.code
        need("muscle", owner, exercise.primary_muscles + exercise.secondary_muscles, muscles)
        need("equipment", owner, exercise.equipment, equipment)
        need("difficulty", owner, [exercise.difficulty], difficulties)
        need("exercise", owner, (ref.code for ref in exercise.variants), exercises)
        need("exercise", owner, (ref.code for ref in exercise.alternatives), exercises)
        problems.extend(
            f"{owner}: unknown EXERCISE category {code}"
            for code in exercise.categories
            if ("EXERCISE", code) not in categories
        )
        problems.extend(
            f"{owner}: unknown EXERCISE tag {code}"
            for code in exercise.tags
            if ("EXERCISE", code) not in tags
        )
        linked = [ref.code for ref in exercise.variants] + [r.code for r in exercise.alternatives]
        if owner in linked:
            problems.append(f"{owner}: lists itself as a variant or alternative")
    for role in data.roles:
        if role.parent is not None:
            need("parent role", role.code, [role.parent], roles)
    problems.extend(_role_cycles(data.roles))
    for permission in data.permissions.permissions:
        need("role", permission.name, permission.roles, roles)
        if permission.group is not None:
            need("permission group", permission.name, [permission.group], groups)
    return problems


def _role_cycles(roles: Sequence[RoleItem]) -> list[str]:
    parent = {role.code: role.parent for role in roles}
    problems = []
    for code in parent:
        seen = {code}
        current = parent.get(code)
        while current is not None:
            if current in seen:
                problems.append(f"role hierarchy has a cycle through {code}")
                break
            seen.add(current)
            current = parent.get(current)
    return problems


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def upsert(
    session: AsyncSession,
    model: type[Base],
    rows: list[dict[str, Any]],
    key: Sequence[str],
    report: SeedReport,
) -> dict[tuple[Any, ...], uuid.UUID]:
    """Insert or update `rows` by their natural `key`; return key → id (for tables with an id)."""
    table = _table(model)
    if rows:
        statement = insert(table).values(rows)
        changing = [column for column in rows[0] if column not in key]
        if changing:
            excluded = statement.excluded
            assignments: dict[str, Any] = {column: excluded[column] for column in changing}
            if "updated_at" in table.c:
                assignments["updated_at"] = func.now()
            statement = statement.on_conflict_do_update(
                index_elements=list(key),
                set_=assignments,
                where=or_(*(table.c[c].is_distinct_from(excluded[c]) for c in changing)),
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=list(key))
        returning = table.c.id if "id" in table.c else table.c[key[0]]
        written = (await session.execute(statement.returning(returning))).scalars().all()
        report.add(table.name, len(written))
    if "id" not in table.c:
        return {}
    wanted = {tuple(row[column] for column in key) for row in rows}
    if not wanted:
        return {}
    # Narrow in SQL column by column (NULL keys need IS NULL), then match whole keys here.
    conditions = []
    for position, column in enumerate(key):
        values = {key_values[position] for key_values in wanted}
        if values == {None}:
            conditions.append(table.c[column].is_(None))
        else:
            conditions.append(table.c[column].in_(values - {None}))
    query = select(table.c.id, *(table.c[column] for column in key)).where(*conditions)
    found = (await session.execute(query)).all()
    return {tuple(row[1:]): row[0] for row in found if tuple(row[1:]) in wanted}


async def sync_links(
    session: AsyncSession,
    model: type[Base],
    parent_column: str,
    parent_ids: Iterable[uuid.UUID],
    rows: list[dict[str, Any]],
    key: Sequence[str],
    report: SeedReport,
) -> None:
    """Make the link rows of these parents exactly `rows` (insert, update, delete stale)."""
    table = _table(model)
    await upsert(session, model, rows, key, report)
    parents = list(parent_ids)
    if not parents:
        return
    condition: ColumnElement[bool] = table.c[parent_column].in_(parents)
    if rows:
        desired = [tuple(row[column] for column in key) for row in rows]
        condition = and_(condition, not_(tuple_(*(table.c[c] for c in key)).in_(desired)))
    deleted = await session.execute(table.delete().where(condition))
    report.add(table.name, int(getattr(deleted, "rowcount", 0) or 0))


def lookup_row(item: LookupItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name.en,
        "name_i18n": item.name.as_dict(),
        "description": item.description.en if item.description else None,
    }


class LoaderContext:
    def __init__(self, session: AsyncSession, data: ReferenceData, report: SeedReport) -> None:
        self.session = session
        self.data = data
        self.report = report
        self.ids: dict[str, dict[tuple[Any, ...], uuid.UUID]] = {}

    async def put(
        self, name: str, model: type[Base], rows: list[dict[str, Any]], key: Sequence[str]
    ) -> None:
        """Upsert `rows` of `model` by `key`; their ids are then `self.id(name, *key)`."""
        self.ids[name] = await upsert(self.session, model, rows, key, self.report)

    def id(self, name: str, *key: Any) -> uuid.UUID:
        return self.ids[name][tuple(key)]

    async def lookups(self) -> None:
        lookups = self.data.lookups
        for name, model, items in [
            ("zone", MuscleZone, lookups.muscle_zones),
            ("tissue", TissueType, lookups.tissue_types),
            ("level", MuscleLevel, lookups.muscle_levels),
            ("media_type", MediaType, lookups.media_types),
        ]:
            await self.put(name, model, [lookup_row(item) for item in items], ["code"])
        await self.put(
            "tempo_type",
            TempoType,
            [
                {**lookup_row(item), "time_under_tension_seconds": item.time_under_tension_seconds}
                for item in lookups.tempo_types
            ],
            ["code"],
        )
        for name, model, typed in [
            ("status", Status, lookups.statuses),
            ("category", Category, lookups.categories),
            ("tag", Tag, lookups.tags),
        ]:
            rows = [{**lookup_row(item), "type": item.type} for item in typed]
            await self.put(name, model, rows, ["type", "code"])
        await self.put(
            "log_level_status",
            LogLevelStatus,
            [
                {
                    "log_level_id": self.id("status", "LOG_LEVEL", pair.log_level),
                    "severity_id": self.id("status", "SEVERITY", pair.severity),
                }
                for pair in lookups.log_level_statuses
            ],
            ["log_level_id", "severity_id"],
        )
        await self._metrics()
        await self._visibility()

    async def _metrics(self) -> None:
        lookups = self.data.lookups
        difficulty_metrics = [
            {**lookup_row(item), "type": "DIFFICULTY", "unit_symbol": None}
            for item in lookups.difficulty_levels
        ]
        other_metrics = [
            {**lookup_row(item), "type": item.type, "unit_symbol": item.symbol}
            for item in lookups.metrics
            if not (
                item.type == "DIFFICULTY" and item.code in {d["code"] for d in difficulty_metrics}
            )
        ]
        await self.put("metric", Metric, other_metrics + difficulty_metrics, ["type", "code"])
        await self.put(
            "unit",
            MeasurementUnit,
            [
                {
                    "code": item.code,
                    "metric_id": self.id("metric", "UNIT", item.code),
                    "symbol": item.symbol,
                    "dimension": item.dimension,
                    "to_base_factor": item.to_base_factor or 1,
                }
                for item in lookups.metrics
                if item.type == "UNIT"
            ],
            ["code"],
        )
        await self.put(
            "progression",
            ProgressionMetric,
            [
                {"code": item.code, "metric_id": self.id("metric", "PROGRESSION", item.code)}
                for item in lookups.metrics
                if item.type == "PROGRESSION"
            ],
            ["code"],
        )
        await self.put(
            "difficulty",
            DifficultyLevel,
            [
                {
                    "code": item.code,
                    "rank": item.rank,
                    "metric_id": self.id("metric", "DIFFICULTY", item.code),
                }
                for item in lookups.difficulty_levels
            ],
            ["code"],
        )

    async def _visibility(self) -> None:
        levels = {item.code: item for item in self.data.lookups.visibility_levels}
        rows = []
        for resource in self.data.lookups.visibility_resource_types:
            for code in resource.levels:
                level = levels[code]
                rows.append(
                    {
                        "code": code,
                        "resource_type": resource.resource_type,
                        "name": level.name.en,
                        "name_i18n": level.name.as_dict(),
                        "description": level.description.en if level.description else None,
                        "description_i18n": level.description.as_dict()
                        if level.description
                        else {},
                        "is_default": code == resource.default,
                    }
                )
        await self.put("visibility", Visibility, rows, ["code", "resource_type"])

    def default_visibility(self, resource_type: str) -> uuid.UUID:
        for resource in self.data.lookups.visibility_resource_types:
            if resource.resource_type == resource_type:
                return self.id("visibility", resource.default, resource_type)
        raise ReferenceDataError(f"no visibility levels for {resource_type}")

    async def muscles(self) -> None:
        rows = [
            {
                "code": item.code,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "latin": item.latin,
                "conventional_name": item.conventional_name.en if item.conventional_name else None,
                "conventional_name_i18n": item.conventional_name.as_dict()
                if item.conventional_name
                else {},
                "zone_id": self.id("zone", item.zone),
                "tissue_type_id": self.id("tissue", item.tissue_type),
                "level_id": self.id("level", item.level),
            }
            for item in self.data.muscles
        ]
        await self.put("muscle", Muscle, rows, ["code"])

    async def equipment(self) -> None:
        visibility = self.default_visibility("EQUIPMENT")
        rows = [
            {
                "code": item.code,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "description": item.description.en if item.description else None,
                "description_i18n": item.description.as_dict() if item.description else {},
                "visibility_id": visibility,
                "is_active": True,
            }
            for item in self.data.equipment
        ]
        await self.put("equipment", Equipment, rows, ["code"])
        await sync_links(
            self.session,
            EquipmentCategory,
            "equipment_id",
            self.ids["equipment"].values(),
            [
                {
                    "equipment_id": self.id("equipment", item.code),
                    "category_id": self.id("category", "EQUIPMENT", item.category),
                }
                for item in self.data.equipment
            ],
            ["equipment_id", "category_id"],
            self.report,
        )

    async def roles(self) -> None:
        rows = [
            {
                "institution_id": None,
                "code": role.code,
                "type": role.type,
                "name": role.name.en,
                "name_i18n": role.name.as_dict(),
                "description": role.description.en if role.description else None,
                "description_i18n": role.description.as_dict() if role.description else {},
                "is_system_role": True,
                "is_active": True,
            }
            for role in self.data.roles
        ]
        await self.put("role", Role, rows, ["institution_id", "code"])
        # Parents in a second pass: a parent may come after its child in the file.
        with_parents = [
            {**row, "parent_role_id": self.id("role", None, role.parent) if role.parent else None}
            for row, role in zip(rows, self.data.roles, strict=True)
        ]
        await self.put("role", Role, with_parents, ["institution_id", "code"])

    async def permissions(self) -> None:
        catalogue = self.data.permissions
        await self.put(
            "permission_group",
            PermissionGroup,
            [
                {
                    "name": group.code,
                    "name_i18n": group.name.as_dict(),
                    "display_order": group.display_order,
                }
                for group in catalogue.groups
            ],
            ["name"],
        )
        await self.put(
            "permission",
            Permission,
            [
                {
                    "name": item.name,
                    "actor": item.actor,
                    "resource": item.resource,
                    "action": item.action,
                    "scope": item.scope,
                    "is_global": item.is_global,
                    "is_system_permission": True,
                    "description": item.description,
                    "permission_group_id": self.id("permission_group", item.group)
                    if item.group
                    else None,
                }
                for item in catalogue.permissions
            ],
            ["name"],
        )
        await sync_links(
            self.session,
            RolePermission,
            "role_id",
            (self.id("role", None, role.code) for role in self.data.roles),
            [
                {
                    "role_id": self.id("role", None, code),
                    "permission_id": self.id("permission", item.name),
                    "is_active": True,
                }
                for item in catalogue.permissions
                for code in item.roles
            ],
            ["role_id", "permission_id"],
            self.report,
        )

    async def exercises(self) -> None:
        visibility = self.default_visibility("EXERCISE")
        items = self.data.exercises
        rows = [
            {
                "code": item.code,
                "owner_id": None,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "description": item.description.en,
                "description_i18n": item.description.as_dict(),
                "instructions": item.instructions.joined()["en"],
                "instructions_i18n": item.instructions.joined(),
                "aliases": item.aliases.as_dict(),
                "measurement": item.measurement,
                "is_bodyweight": item.is_bodyweight,
                "difficulty_level_id": self.id("difficulty", item.difficulty),
                "visibility_id": visibility,
                "is_active": True,
            }
            for item in items
        ]
        await self.put("exercise", Exercise, rows, ["code"])
        exercise_ids = list(self.ids["exercise"].values())

        def ex(code: str) -> uuid.UUID:
            return self.id("exercise", code)

        links: list[tuple[type[Base], list[dict[str, Any]], list[str]]] = [
            (
                ExerciseMuscle,
                [
                    {"exercise_id": ex(item.code), "muscle_id": self.id("muscle", m), "role": role}
                    for item in items
                    for role, muscles in (
                        ("PRIMARY", item.primary_muscles),
                        ("SECONDARY", item.secondary_muscles),
                    )
                    for m in muscles
                ],
                ["exercise_id", "muscle_id"],
            ),
            (
                ExerciseEquipment,
                [
                    {"exercise_id": ex(item.code), "equipment_id": self.id("equipment", code)}
                    for item in items
                    for code in item.equipment
                ],
                ["exercise_id", "equipment_id"],
            ),
            (
                ExerciseCategory,
                [
                    {
                        "exercise_id": ex(item.code),
                        "category_id": self.id("category", "EXERCISE", c),
                    }
                    for item in items
                    for c in item.categories
                ],
                ["exercise_id", "category_id"],
            ),
            (
                ExerciseTag,
                [
                    {"exercise_id": ex(item.code), "tag_id": self.id("tag", "EXERCISE", t)}
                    for item in items
                    for t in item.tags
                ],
                ["exercise_id", "tag_id"],
            ),
            (
                ExerciseVariant,
                [
                    {
                        "exercise_id": ex(item.code),
                        "variant_exercise_id": ex(ref.code),
                        "order_index": index,
                        "difficulty_delta": ref.difficulty_delta,
                    }
                    for item in items
                    for index, ref in enumerate(item.variants)
                ],
                ["exercise_id", "variant_exercise_id"],
            ),
            (
                ExerciseAccessibility,
                [
                    {
                        "exercise_id": ex(item.code),
                        "alternative_exercise_id": ex(ref.code),
                        "order_index": index,
                        "note": ref.note.en if ref.note else None,
                    }
                    for item in items
                    for index, ref in enumerate(item.alternatives)
                ],
                ["exercise_id", "alternative_exercise_id"],
            ),
        ]
        for model, link_rows, key in links:
            await sync_links(
                self.session, model, "exercise_id", exercise_ids, link_rows, key, self.report
            )


async def load_reference_data(
    session: AsyncSession,
    data: ReferenceData | None = None,
    progress: ProgressCallback | None = None,
) -> SeedReport:
    """Write the reference data in the session's transaction (the caller commits)."""
    data = data or read_reference_data()
    report = SeedReport()
    loader = LoaderContext(session, data, report)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("lookups", loader.lookups),
        ("muscles", loader.muscles),
        ("equipment", loader.equipment),
        ("roles", loader.roles),
        ("permissions", loader.permissions),
        ("exercises", loader.exercises),
    ]
    for section in registered_sections():
        steps.append((section.label, partial(section.load, loader, data.sections[section.label])))
    for done, (label, step) in enumerate(steps, start=1):
        await step()
        if progress is not None:
            progress(label, done, len(steps))
    return report
