"""Reference data of the settings area (`data/settings.yaml`): setting definitions, their
categories (CATEGORY rows of type SETTING), the groups of the /settings screen and the system
templates. Defaults and template values are validated with the settings service's own checks
when the file is read, so a bad file fails before anything is written.

Only definitions are loaded: values (system, institution, user) belong to people, not to the
seed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, JsonValue, StringConstraints, TypeAdapter, model_validator

from domain.models.lookup import Category
from domain.models.setting import (
    SETTING_KEY_PATTERN,
    Setting,
    SettingCategory,
    SettingDataType,
    SettingGroup,
    SettingGroupMember,
    SettingLevel,
    SettingTemplate,
)
from domain.reference.loader import LoaderContext, Section, parse_file, sync_links
from domain.reference.schema import LookupItem, Strict, Text, UpperCode
from domain.services.settings import InvalidSettingValue, check_value

FILE_NAME = "settings.yaml"
CATEGORY_TYPE = "SETTING"

SettingKey = Annotated[str, StringConstraints(pattern=SETTING_KEY_PATTERN, max_length=100)]


class SettingRules(Strict):
    """The validation rules the settings service understands (see check_value)."""

    choices: list[str | int] | None = Field(default=None, min_length=1)
    min: int | float | None = None
    max: int | float | None = None
    pattern: str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=1)
    min_items: int | None = Field(default=None, ge=0)
    max_items: int | None = Field(default=None, ge=1)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class SettingItem(Strict):
    key: SettingKey
    name: Text
    description: Text
    data_type: SettingDataType
    default: JsonValue
    rules: SettingRules = SettingRules()
    levels: list[SettingLevel] = Field(min_length=1)
    sensitive: bool = False
    categories: list[UpperCode] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_is_valid(self) -> SettingItem:
        if self.data_type is SettingDataType.ENUM and not self.rules.choices:
            raise ValueError(f"{self.key}: an ENUM setting needs rules.choices")
        try:
            check_value(self.key, self.data_type, self.rules.as_dict(), self.default)
        except InvalidSettingValue as error:
            raise ValueError(f"default: {error}") from None
        return self


class GroupItem(Strict):
    code: UpperCode
    name: Text
    description: Text | None = None
    display_order: int = 0
    collapsible: bool = True
    expanded: bool = True
    settings: list[SettingKey] = Field(min_length=1)


class TemplateItem(Strict):
    code: UpperCode
    name: Text
    description: Text | None = None
    scope: SettingLevel
    settings: dict[SettingKey, JsonValue] = Field(min_length=1)

    @model_validator(mode="after")
    def _scope_is_a_target(self) -> TemplateItem:
        if self.scope is SettingLevel.SYSTEM:
            raise ValueError(f"{self.code}: a template applies to USER or INSTITUTION")
        return self


class SettingsFile(Strict):
    categories: list[LookupItem]
    settings: list[SettingItem]
    groups: list[GroupItem]
    templates: list[TemplateItem] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SettingsFile:
        problems = [
            f"duplicate {what} {value}"
            for what, values in (
                ("category", [item.code for item in self.categories]),
                ("setting", [item.key for item in self.settings]),
                ("group", [item.code for item in self.groups]),
                ("group name", [item.name.en for item in self.groups]),
                ("template", [item.code for item in self.templates]),
                ("template name", [item.name.en for item in self.templates]),
            )
            for value, count in Counter(values).items()
            if count > 1
        ]
        categories = {item.code for item in self.categories}
        settings = {item.key: item for item in self.settings}
        for setting in self.settings:
            problems.extend(
                f"{setting.key}: unknown category {code}"
                for code in setting.categories
                if code not in categories
            )
        for group in self.groups:
            problems.extend(
                f"group {group.code}: unknown setting {key}"
                for key in group.settings
                if key not in settings
            )
        for template in self.templates:
            for key, value in template.settings.items():
                definition = settings.get(key)
                if definition is None:
                    problems.append(f"template {template.code}: unknown setting {key}")
                    continue
                if template.scope not in definition.levels:
                    problems.append(
                        f"template {template.code}: {key} cannot be set at the"
                        f" {template.scope.value} level"
                    )
                try:
                    check_value(key, definition.data_type, definition.rules.as_dict(), value)
                except InvalidSettingValue as error:
                    problems.append(f"template {template.code}: {error}")
        if problems:
            raise ValueError("; ".join(problems))
        return self


def read(data_dir: Path) -> SettingsFile:
    parsed: SettingsFile = parse_file(TypeAdapter(SettingsFile), data_dir / FILE_NAME)
    return parsed


async def load(context: LoaderContext, data: SettingsFile) -> None:
    await context.put(
        "setting_category_lookup",
        Category,
        [
            {
                "type": CATEGORY_TYPE,
                "code": item.code,
                "name": item.name.en,
                "name_i18n": item.name.as_dict(),
                "description": item.description.en if item.description else None,
            }
            for item in data.categories
        ],
        ["type", "code"],
    )
    await context.put(
        "setting",
        Setting,
        [
            {
                "setting_key": item.key,
                "display_name": item.name.en,
                "display_name_i18n": item.name.as_dict(),
                "description": item.description.en,
                "description_i18n": item.description.as_dict(),
                "data_type": item.data_type,
                # Normalized like a stored value (e.g. list order), so re-seeding compares equal.
                "default_value": check_value(
                    item.key, item.data_type, item.rules.as_dict(), item.default
                ),
                "validation_rules": item.rules.as_dict(),
                "is_sensitive": item.sensitive,
                "is_system_configurable": SettingLevel.SYSTEM in item.levels,
                "is_institution_configurable": SettingLevel.INSTITUTION in item.levels,
                "is_user_configurable": SettingLevel.USER in item.levels,
                "is_active": True,
            }
            for item in data.settings
        ],
        ["setting_key"],
    )
    await sync_links(
        context.session,
        SettingCategory,
        "setting_id",
        context.ids["setting"].values(),
        [
            {
                "setting_id": context.id("setting", item.key),
                "category_id": context.id("setting_category_lookup", CATEGORY_TYPE, code),
            }
            for item in data.settings
            for code in item.categories
        ],
        ["setting_id", "category_id"],
        context.report,
    )
    await context.put(
        "setting_group",
        SettingGroup,
        [
            {
                "code": group.code,
                "group_name": group.name.en,
                "group_name_i18n": group.name.as_dict(),
                "description": group.description.en if group.description else None,
                "description_i18n": group.description.as_dict() if group.description else {},
                "display_order": group.display_order,
                "is_collapsible": group.collapsible,
                "is_expanded_default": group.expanded,
            }
            for group in data.groups
        ],
        ["code"],
    )
    await sync_links(
        context.session,
        SettingGroupMember,
        "setting_group_id",
        context.ids["setting_group"].values(),
        [
            {
                "setting_group_id": context.id("setting_group", group.code),
                "setting_id": context.id("setting", key),
                "display_order": position,
            }
            for group in data.groups
            for position, key in enumerate(group.settings, start=1)
        ],
        ["setting_group_id", "setting_id"],
        context.report,
    )
    await context.put(
        "setting_template",
        SettingTemplate,
        [
            {
                "code": template.code,
                "template_name": template.name.en,
                "template_name_i18n": template.name.as_dict(),
                "description": template.description.en if template.description else None,
                "description_i18n": template.description.as_dict() if template.description else {},
                "template_scope": template.scope,
                "settings_data": dict(template.settings),
                "created_by": None,
                "is_system_template": True,
                "is_active": True,
            }
            for template in data.templates
        ],
        ["code"],
    )


SECTION = Section(label="settings", read=read, load=load)
