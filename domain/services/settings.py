"""Settings: validate values against their definition, store them per level, resolve the
effective value, log every change, apply templates and export.

Resolution, narrowest level first (the first level holding a value wins):

1. the user's own value (USER_SETTING_VALUE);
2. the value of an institution the user is an ACTIVE member of (the institution active too)
   that sets it; when several do, the one the user joined most recently
   (``institution_member.joined_at`` DESC, then membership id, so the answer is stable);
3. the system value (SYSTEM_SETTING_VALUE);
4. the definition's ``default_value``.

A level's value counts only while the definition allows that level (``is_*_configurable``), so
switching a level off hides stale values without deleting them.

``locale`` and ``timezone`` are also columns of ``app_user`` read on every update: writing or
removing the user's own value here writes the resulting value through to the column in the same
transaction. Change them only through this module.

Who may change an institution's or the system's settings is decided by the caller (domain/access);
these functions only check that the value is valid and the level allowed.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import re
import uuid
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    and_,
    delete,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from domain.errors import InvalidInput, NotFound
from domain.models.institution import Institution, InstitutionMember
from domain.models.setting import (
    InstitutionSettingValue,
    Setting,
    SettingChangeLog,
    SettingDataType,
    SettingExport,
    SettingExportFormat,
    SettingGroup,
    SettingGroupMember,
    SettingLevel,
    SettingTemplate,
    SystemSettingValue,
    UserSettingValue,
)
from domain.models.user import User

# "HH:MM", 24 h clock.
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# How long an export stays downloadable (the seed's SETTING_EXPORT.expires_at default).
EXPORT_LIFETIME = dt.timedelta(hours=24)


class InvalidSettingValue(InvalidInput):
    """A value (or level) refused for a setting; ``key`` and ``rule`` say which check failed.

    Rules: type, required, choices, format, timezone, min, max, min_length, max_length,
    pattern, min_items, max_items, unique, level, unknown.
    """

    code = "invalid_setting_value"

    def __init__(self, message: str, *, key: str, rule: str, **params: Any) -> None:
        super().__init__(message, key=key, rule=rule, **params)
        self.key = key
        self.rule = rule


class ValueSource(enum.StrEnum):
    """Where an effective value came from."""

    USER = "USER"
    INSTITUTION = "INSTITUTION"
    SYSTEM = "SYSTEM"
    DEFAULT = "DEFAULT"


@dataclass(frozen=True)
class EffectiveSetting:
    key: str
    value: Any
    source: ValueSource
    is_sensitive: bool


# --------------------------------------------------------------------------------------------
# Validation (pure: also used by the reference data to check defaults and templates)
# --------------------------------------------------------------------------------------------


@cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA zone name zoneinfo knows (``UTC``, ``Europe/Paris``)."""
    return name in _known_timezones()


def check_value(key: str, data_type: SettingDataType, rules: Mapping[str, Any], value: Any) -> Any:
    """Return ``value`` normalized for storage, or raise InvalidSettingValue naming the key
    and the rule. Normalization: LIST values with ``choices`` are kept in the choices' order
    (a set of days reads MON, WED, FRI however it was typed)."""

    def refuse(rule: str, expected: str) -> InvalidSettingValue:
        return InvalidSettingValue(
            f"{key}: {expected}, got {value!r}", key=key, rule=rule, value=value
        )

    if value is None:
        raise refuse("required", "expected a value")
    choices = rules.get("choices")
    match data_type:
        case SettingDataType.BOOLEAN:
            if not isinstance(value, bool):
                raise refuse("type", "expected true or false")
        case SettingDataType.INTEGER:
            if isinstance(value, bool) or not isinstance(value, int):
                raise refuse("type", "expected a whole number")
        case SettingDataType.FLOAT:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            ):
                raise refuse("type", "expected a number")
        case SettingDataType.STRING | SettingDataType.ENUM:
            if not isinstance(value, str):
                raise refuse("type", "expected text")
        case SettingDataType.TIME:
            if not isinstance(value, str) or not _TIME.match(value):
                raise refuse("format", "expected HH:MM (24 h)")
        case SettingDataType.TIMEZONE:
            if not isinstance(value, str) or not is_timezone(value):
                raise refuse("timezone", "expected an IANA timezone such as Europe/Paris")
        case SettingDataType.LIST:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise refuse("type", "expected a list of texts")
            if len(set(value)) != len(value):
                raise refuse("unique", "expected no repeated items")
            if choices is not None:
                unknown = [item for item in value if item not in choices]
                if unknown:
                    raise refuse("choices", f"expected items among {_listing(choices)}")
                value = [choice for choice in choices if choice in value]
            if "min_items" in rules and len(value) < rules["min_items"]:
                raise refuse("min_items", f"expected at least {rules['min_items']} item(s)")
            if "max_items" in rules and len(value) > rules["max_items"]:
                raise refuse("max_items", f"expected at most {rules['max_items']} item(s)")
            return value
        case SettingDataType.JSON:
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                raise refuse("type", "expected a JSON value") from None
    if choices is not None and value not in choices:
        raise refuse("choices", f"expected one of {_listing(choices)}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "min" in rules and value < rules["min"]:
            raise refuse("min", f"expected at least {rules['min']}")
        if "max" in rules and value > rules["max"]:
            raise refuse("max", f"expected at most {rules['max']}")
    if isinstance(value, str):
        if "min_length" in rules and len(value) < rules["min_length"]:
            raise refuse("min_length", f"expected at least {rules['min_length']} character(s)")
        if "max_length" in rules and len(value) > rules["max_length"]:
            raise refuse("max_length", f"expected at most {rules['max_length']} character(s)")
        if "pattern" in rules and not re.fullmatch(rules["pattern"], value):
            raise refuse("pattern", f"expected text matching {rules['pattern']}")
    return value


def _listing(choices: Iterable[Any]) -> str:
    return ", ".join(str(choice) for choice in choices)


def level_allowed(definition: Setting, level: SettingLevel) -> bool:
    return {
        SettingLevel.SYSTEM: definition.is_system_configurable,
        SettingLevel.INSTITUTION: definition.is_institution_configurable,
        SettingLevel.USER: definition.is_user_configurable,
    }[level]


def _check_for_level(definition: Setting, level: SettingLevel, value: Any) -> Any:
    if not level_allowed(definition, level):
        raise InvalidSettingValue(
            f"{definition.setting_key}: cannot be set at the {level.value} level",
            key=definition.setting_key,
            rule="level",
            level=level.value,
        )
    return check_value(
        definition.setting_key, definition.data_type, definition.validation_rules, value
    )


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


def _resolution_query(user_id: uuid.UUID) -> Select[Any]:
    """Every active setting with the value at each level for this user: one statement."""
    institution_value = (
        select(InstitutionSettingValue.value)
        .join(
            InstitutionMember,
            and_(
                InstitutionMember.institution_id == InstitutionSettingValue.institution_id,
                InstitutionMember.user_id == user_id,
                InstitutionMember.is_active,
            ),
        )
        .join(Institution, Institution.id == InstitutionMember.institution_id)
        .where(
            InstitutionSettingValue.setting_id == Setting.id,
            Setting.is_institution_configurable,
            Institution.is_active,
        )
        .order_by(InstitutionMember.joined_at.desc(), InstitutionMember.id.desc())
        .limit(1)
        .correlate(Setting)
        .scalar_subquery()
    )
    return (
        select(
            Setting.setting_key,
            Setting.default_value,
            Setting.is_sensitive,
            UserSettingValue.value,
            institution_value,
            SystemSettingValue.value,
        )
        .outerjoin(
            UserSettingValue,
            and_(
                UserSettingValue.setting_id == Setting.id,
                UserSettingValue.user_id == user_id,
                Setting.is_user_configurable,
            ),
        )
        .outerjoin(
            SystemSettingValue,
            and_(SystemSettingValue.setting_id == Setting.id, Setting.is_system_configurable),
        )
        .where(Setting.is_active)
        .order_by(Setting.setting_key)
    )


def effective_value_text(
    key: str, user_id: ColumnElement[Any] | InstrumentedAttribute[Any]
) -> ScalarSelect[Any]:
    """The effective value of ``key`` for the user ``user_id`` (a column of the enclosing
    statement) as text, resolved in SQL like ``_resolution_query``: for statements that must
    not pay a round trip of their own (the sender read on every update)."""
    definition = aliased(Setting, name="effective_setting_def")
    user_value = (
        select(UserSettingValue.value)
        .where(
            UserSettingValue.setting_id == definition.id,
            UserSettingValue.user_id == user_id,
            definition.is_user_configurable,
        )
        .correlate_except(UserSettingValue)
        .scalar_subquery()
    )
    institution_value = (
        select(InstitutionSettingValue.value)
        .join(
            InstitutionMember,
            and_(
                InstitutionMember.institution_id == InstitutionSettingValue.institution_id,
                InstitutionMember.user_id == user_id,
                InstitutionMember.is_active,
            ),
        )
        .join(Institution, Institution.id == InstitutionMember.institution_id)
        .where(
            InstitutionSettingValue.setting_id == definition.id,
            definition.is_institution_configurable,
            Institution.is_active,
        )
        .order_by(InstitutionMember.joined_at.desc(), InstitutionMember.id.desc())
        .limit(1)
        .correlate_except(InstitutionSettingValue, InstitutionMember, Institution)
        .scalar_subquery()
    )
    system_value = (
        select(SystemSettingValue.value)
        .where(
            SystemSettingValue.setting_id == definition.id,
            definition.is_system_configurable,
        )
        .correlate_except(SystemSettingValue)
        .scalar_subquery()
    )
    resolved = func.coalesce(user_value, institution_value, system_value, definition.default_value)
    return (
        select(resolved.op("#>>")(literal_column("'{}'")))
        .where(definition.setting_key == key, definition.is_active)
        .correlate_except(definition)
        .scalar_subquery()
    )


async def _resolve(
    session: AsyncSession, user_id: uuid.UUID, key: str | None = None
) -> list[EffectiveSetting]:
    query = _resolution_query(user_id)
    if key is not None:
        query = query.where(Setting.setting_key == key)
    resolved = []
    # No stored value is ever JSON null (check_value refuses None), so None means "no row".
    rows = await session.execute(query)
    for setting_key, default, sensitive, user_value, institution_value, system_value in rows:
        if user_value is not None:
            value, source = user_value, ValueSource.USER
        elif institution_value is not None:
            value, source = institution_value, ValueSource.INSTITUTION
        elif system_value is not None:
            value, source = system_value, ValueSource.SYSTEM
        else:
            value, source = default, ValueSource.DEFAULT
        resolved.append(EffectiveSetting(setting_key, value, source, sensitive))
    return resolved


async def effective_setting_with_source(
    session: AsyncSession, user_id: uuid.UUID, key: str
) -> EffectiveSetting:
    found = await _resolve(session, user_id, key)
    if not found:
        raise NotFound(f"unknown setting {key!r}", key=key)
    return found[0]


async def effective_setting(session: AsyncSession, user_id: uuid.UUID, key: str) -> Any:
    """The value of ``key`` for this user (see the module docstring for the order)."""
    return (await effective_setting_with_source(session, user_id, key)).value


async def effective_settings(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    """Every active setting's effective value for this user, in one query."""
    return {item.key: item.value for item in await _resolve(session, user_id)}


@dataclass(frozen=True)
class SettingView:
    """One line of the /settings screen: a user-editable setting and its effective value."""

    key: str
    name: str
    description: str | None
    data_type: SettingDataType
    rules: Mapping[str, Any]
    value: Any
    source: ValueSource


@dataclass(frozen=True)
class SettingGroupView:
    code: str
    name: str
    settings: tuple[SettingView, ...]


def _localized(translations: Mapping[str, str], locale: str, fallback: str | None) -> str | None:
    return translations.get(locale) or translations.get("en") or fallback


async def settings_screen(
    session: AsyncSession, user_id: uuid.UUID, locale: str
) -> list[SettingGroupView]:
    """The groups of user-editable settings in display order, with names in ``locale`` and
    the user's effective values (two queries)."""
    effective = {item.key: item for item in await _resolve(session, user_id)}
    rows = await session.execute(
        select(SettingGroup, Setting)
        .join(SettingGroupMember, SettingGroupMember.setting_group_id == SettingGroup.id)
        .join(Setting, Setting.id == SettingGroupMember.setting_id)
        .where(Setting.is_active, Setting.is_user_configurable, ~Setting.is_sensitive)
        .order_by(SettingGroup.display_order, SettingGroup.code, SettingGroupMember.display_order)
    )
    groups: dict[str, tuple[str, list[SettingView]]] = {}
    for group, definition in rows:
        current = effective.get(definition.setting_key)
        if current is None:
            continue
        name = _localized(group.group_name_i18n, locale, group.group_name) or group.code
        entries = groups.setdefault(group.code, (name, []))[1]
        entries.append(
            SettingView(
                key=definition.setting_key,
                name=_localized(definition.display_name_i18n, locale, definition.display_name)
                or definition.setting_key,
                description=_localized(definition.description_i18n, locale, definition.description),
                data_type=definition.data_type,
                rules=definition.validation_rules,
                value=current.value,
                source=current.source,
            )
        )
    return [
        SettingGroupView(code=code, name=name, settings=tuple(entries))
        for code, (name, entries) in groups.items()
    ]


async def user_setting_view(
    session: AsyncSession, user_id: uuid.UUID, key: str, locale: str
) -> SettingView:
    """One user-editable setting as the screen shows it; NotFound for others."""
    for group in await settings_screen(session, user_id, locale):
        for view in group.settings:
            if view.key == key:
                return view
    raise NotFound(f"unknown setting {key!r}", key=key)


# --------------------------------------------------------------------------------------------
# Writing values
# --------------------------------------------------------------------------------------------


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Per level: the value table and the column naming its target (none for SYSTEM).
_VALUE_TABLES: dict[SettingLevel, tuple[Table, str | None]] = {
    SettingLevel.USER: (_table(UserSettingValue), "user_id"),
    SettingLevel.INSTITUTION: (_table(InstitutionSettingValue), "institution_id"),
    SettingLevel.SYSTEM: (_table(SystemSettingValue), None),
}

# Settings mirrored on app_user because they are read on every update (write-through).
_USER_COLUMNS = {"locale": User.locale, "timezone": User.timezone}


async def _definition(session: AsyncSession, key: str) -> Setting:
    definition = await session.scalar(
        select(Setting).where(Setting.setting_key == key, Setting.is_active)
    )
    if definition is None:
        raise NotFound(f"unknown setting {key!r}", key=key)
    return definition


async def _require(session: AsyncSession, model: type[User | Institution], id_: uuid.UUID) -> None:
    if await session.scalar(select(model.id).where(model.id == id_)) is None:
        noun = "user" if model is User else "institution"
        raise NotFound(f"{noun} {id_} not found", id=str(id_))


def _target(level: SettingLevel, target_id: uuid.UUID | None) -> dict[str, Any]:
    column = _VALUE_TABLES[level][1]
    return {column: target_id} if column else {}


async def _write(
    session: AsyncSession,
    definition: Setting,
    level: SettingLevel,
    target_id: uuid.UUID | None,
    value: Any,
    *,
    changed_by: uuid.UUID | None,
    reason: str | None,
) -> None:
    """Store an already validated value at one level and log the change (no-op if equal).

    ``value`` None removes the level's value (back to inheriting)."""
    table, _ = _VALUE_TABLES[level]
    identity = {"setting_id": definition.id, **_target(level, target_id)}
    where = [table.c[column] == given for column, given in identity.items()]
    # FOR UPDATE: two concurrent changes of one value log old values in a consistent order.
    old_value = await session.scalar(select(table.c.value).where(*where).with_for_update())
    if old_value == value:
        return
    if value is None:
        await session.execute(delete(table).where(*where))
    else:
        extra: dict[str, Any] = {}
        if "set_by" in table.c:
            extra["set_by"] = changed_by
        if "change_reason" in table.c:
            extra["change_reason"] = reason
        statement = insert(table).values(**identity, value=value, **extra)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=list(identity),
                set_={
                    "value": statement.excluded.value,
                    "updated_at": func.now(),
                    **{column: statement.excluded[column] for column in extra},
                },
            )
        )
    session.add(
        SettingChangeLog(
            setting_id=definition.id,
            changed_by=changed_by,
            scope=level,
            old_value=old_value,
            new_value=value,
            change_reason=reason,
            # Wall-clock, not now(): several changes in one transaction (a template) keep
            # their order in the history.
            changed_at=func.clock_timestamp(),
            **_target(level, target_id),
        )
    )
    await session.flush()
    if level is SettingLevel.USER and definition.setting_key in _USER_COLUMNS:
        assert target_id is not None
        mirrored = (
            value
            if value is not None
            else await effective_setting(session, target_id, definition.setting_key)
        )
        column = _USER_COLUMNS[definition.setting_key]
        await session.execute(update(User).where(User.id == target_id).values({column: mirrored}))


async def _set(
    session: AsyncSession,
    level: SettingLevel,
    target_id: uuid.UUID | None,
    key: str,
    value: Any,
    *,
    changed_by: uuid.UUID | None,
    reason: str | None,
) -> Any:
    definition = await _definition(session, key)
    stored = _check_for_level(definition, level, value)
    if level is SettingLevel.USER and target_id is not None:
        await _require(session, User, target_id)
    elif level is SettingLevel.INSTITUTION and target_id is not None:
        await _require(session, Institution, target_id)
    await _write(
        session, definition, level, target_id, stored, changed_by=changed_by, reason=reason
    )
    return stored


async def set_user_setting(
    session: AsyncSession,
    user_id: uuid.UUID,
    key: str,
    value: Any,
    *,
    changed_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> Any:
    """Set the user's own value; returns the value as stored. Nothing changes on error."""
    return await _set(
        session, SettingLevel.USER, user_id, key, value, changed_by=changed_by, reason=reason
    )


async def set_institution_setting(
    session: AsyncSession,
    institution_id: uuid.UUID,
    key: str,
    value: Any,
    *,
    changed_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> Any:
    """Set an institution's value, inherited by its members who set none themselves."""
    return await _set(
        session,
        SettingLevel.INSTITUTION,
        institution_id,
        key,
        value,
        changed_by=changed_by,
        reason=reason,
    )


async def set_system_setting(
    session: AsyncSession,
    key: str,
    value: Any,
    *,
    changed_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> Any:
    """Set the installation-wide value (overrides the definition's default)."""
    return await _set(
        session, SettingLevel.SYSTEM, None, key, value, changed_by=changed_by, reason=reason
    )


async def reset_user_setting(
    session: AsyncSession,
    user_id: uuid.UUID,
    key: str,
    *,
    changed_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> Any:
    """Remove the user's own value; returns the value they now inherit."""
    definition = await _definition(session, key)
    await _write(
        session,
        definition,
        SettingLevel.USER,
        user_id,
        None,
        changed_by=changed_by,
        reason=reason,
    )
    return await effective_setting(session, user_id, key)


async def reset_institution_setting(
    session: AsyncSession,
    institution_id: uuid.UUID,
    key: str,
    *,
    changed_by: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    """Remove the institution's value: its members inherit the system value or the default."""
    definition = await _definition(session, key)
    await _write(
        session,
        definition,
        SettingLevel.INSTITUTION,
        institution_id,
        None,
        changed_by=changed_by,
        reason=reason,
    )


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


async def apply_template(
    session: AsyncSession,
    template_code: str,
    *,
    user_id: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    changed_by: uuid.UUID | None = None,
) -> dict[str, Any]:
    """Apply every value of a template to one user or one institution, all or nothing:
    every value is validated first and any refusal writes nothing. Returns the stored values."""
    if (user_id is None) == (institution_id is None):
        raise InvalidInput("apply a template to exactly one user or one institution")
    level = SettingLevel.USER if user_id is not None else SettingLevel.INSTITUTION
    target_id = user_id if user_id is not None else institution_id
    template = await session.scalar(
        select(SettingTemplate).where(
            SettingTemplate.code == template_code, SettingTemplate.is_active
        )
    )
    if template is None:
        raise NotFound(f"unknown setting template {template_code!r}", code=template_code)
    if template.template_scope != level:
        raise InvalidInput(
            f"template {template_code} applies to {template.template_scope.value} settings,"
            f" not {level.value}",
            code=template_code,
        )
    definitions = {
        definition.setting_key: definition
        for definition in await session.scalars(
            select(Setting).where(
                Setting.setting_key.in_(list(template.settings_data)), Setting.is_active
            )
        )
    }
    stored: dict[str, Any] = {}
    refusals: list[InvalidSettingValue] = []
    for key, value in template.settings_data.items():
        try:
            if key not in definitions:
                raise InvalidSettingValue(f"{key}: unknown setting", key=key, rule="unknown")
            stored[key] = _check_for_level(definitions[key], level, value)
        except InvalidSettingValue as refusal:
            refusals.append(refusal)
    if refusals:
        first = refusals[0]
        raise InvalidSettingValue(
            f"template {template_code}: " + "; ".join(str(refusal) for refusal in refusals),
            key=first.key,
            rule=first.rule,
            template=template_code,
            refusals=[refusal.params for refusal in refusals],
        )
    assert target_id is not None
    await _require(session, User if level is SettingLevel.USER else Institution, target_id)
    for key, value in stored.items():
        await _write(
            session,
            definitions[key],
            level,
            target_id,
            value,
            changed_by=changed_by,
            reason=f"template {template_code}",
        )
    return stored


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


async def export_settings(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any]:
    """The user's effective settings with their source level, JSON-serializable, kept as a
    SETTING_EXPORT row for 24 h. Sensitive settings are left out."""
    await _require(session, User, user_id)
    exported_at = dt.datetime.now(dt.UTC)
    payload: dict[str, Any] = {
        "user_id": str(user_id),
        "exported_at": exported_at.isoformat(),
        "settings": {
            item.key: {"value": item.value, "source": item.source.value}
            for item in await _resolve(session, user_id)
            if not item.is_sensitive
        },
    }
    session.add(
        SettingExport(
            requested_by=user_id,
            export_scope=SettingLevel.USER,
            user_id=user_id,
            exported_settings=payload,
            export_format=SettingExportFormat.JSON,
            exported_at=exported_at,
            expires_at=exported_at + EXPORT_LIFETIME,
        )
    )
    await session.flush()
    return payload
