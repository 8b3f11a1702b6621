"""Settings: typed definitions (SETTING) and their values at three levels, resolved
user → institution → system → the definition's default.

* SETTING says what a setting is (key, data type, default, validation rules) and at which
  levels it may be set; SETTING_CATEGORY / SETTING_TAG classify it, SETTING_GROUP(_MEMBER)
  orders it on a settings screen.
* SYSTEM_SETTING_VALUE (one per setting), INSTITUTION_SETTING_VALUE and USER_SETTING_VALUE hold
  overrides; a missing row means "inherit".
* SETTING_CHANGE_LOG records every change, SETTING_TEMPLATE bundles values applied at once,
  SETTING_EXPORT keeps a short-lived copy of an export.

Values are JSONB, validated by ``domain/services/settings.py`` against the definition before
they are written. Seed section "Settings"; deviations: /tmp/dm2/decisions/setting.md (merged
into docs/schema-decisions.md).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, Timestamps, UUIDPk, str_enum
from domain.models.lookup import code_format_check, i18n_column

# Lower snake case, optionally dotted by area: "locale", "notifications.digest_frequency".
SETTING_KEY_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


class SettingDataType(enum.StrEnum):
    """How a setting's JSONB value is shaped and validated (see the settings service)."""

    BOOLEAN = "BOOLEAN"
    ENUM = "ENUM"  # a string among validation_rules.choices
    FLOAT = "FLOAT"
    INTEGER = "INTEGER"
    JSON = "JSON"  # any JSON value, no structural check
    LIST = "LIST"  # a JSON array of strings (choices / min_items / max_items apply per list)
    STRING = "STRING"
    TIME = "TIME"  # "HH:MM", 24 h, local to the user's timezone
    TIMEZONE = "TIMEZONE"  # an IANA zone name known to zoneinfo


class SettingLevel(enum.StrEnum):
    """Where a value is set; a narrower level overrides a wider one (USER > INSTITUTION >
    SYSTEM)."""

    INSTITUTION = "INSTITUTION"
    SYSTEM = "SYSTEM"
    USER = "USER"


class SettingExportFormat(enum.StrEnum):
    CSV = "CSV"
    JSON = "JSON"


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(Boolean, default=default, server_default=text(str(default).lower()))


def _actor_fk() -> Mapped[uuid.UUID | None]:
    """Optional acting user: NULL when the system or the CLI acts, or the user was erased."""
    return mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)


def _level_target_check(level_column: str) -> CheckConstraint:
    """USER rows name a user, INSTITUTION rows an institution, SYSTEM rows neither."""
    return CheckConstraint(
        f"({level_column} = 'USER' AND user_id IS NOT NULL AND institution_id IS NULL)"
        f" OR ({level_column} = 'INSTITUTION' AND institution_id IS NOT NULL"
        " AND user_id IS NULL)"
        f" OR ({level_column} = 'SYSTEM' AND user_id IS NULL AND institution_id IS NULL)",
        name="level_target",
    )


# --------------------------------------------------------------------------------------
# Definitions and classification
# --------------------------------------------------------------------------------------


class Setting(UUIDPk, Timestamps, Base):
    """The definition of one setting: its key, type, default and rules, and the levels at
    which it may be overridden."""

    __tablename__ = "setting"
    __table_args__ = (
        CheckConstraint(f"setting_key ~ '{SETTING_KEY_PATTERN}'", name="setting_key_format"),
        CheckConstraint("jsonb_typeof(validation_rules) = 'object'", name="rules_object"),
        # A JSON null default would be indistinguishable from "no value" when resolving.
        CheckConstraint("jsonb_typeof(default_value) <> 'null'", name="default_not_null"),
    )

    setting_key: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(255))  # English, canonical
    display_name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    data_type: Mapped[SettingDataType] = mapped_column(str_enum(SettingDataType, "data_type"))
    default_value: Mapped[Any] = mapped_column(JSONB)
    # {"choices": [...], "min": 1, "max": 10, "pattern": "^...$", "min_length": …,
    #  "max_length": …, "min_items": …, "max_items": …}; {} = no rule beyond the type.
    validation_rules: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    is_required: Mapped[bool] = _flag(False)
    # Secrets (tokens): never exported, never shown back.
    is_sensitive: Mapped[bool] = _flag(False)
    # The seed's single `setting_scope` becomes one flag per level: e.g. a privacy consent may
    # be set by the system and the user but not by an institution.
    is_system_configurable: Mapped[bool] = _flag(True)
    is_institution_configurable: Mapped[bool] = _flag(True)
    is_user_configurable: Mapped[bool] = _flag(True)
    is_active: Mapped[bool] = _flag(True)


class SettingCategory(Base):
    """A CATEGORY (type SETTING) of a setting (join row)."""

    __tablename__ = "setting_category"

    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class SettingTag(Base):
    """A TAG (type SETTING) of a setting (join row)."""

    __tablename__ = "setting_tag"

    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class SettingGroup(UUIDPk, Base):
    """A section of the settings screen ("Reminders", "Privacy" …)."""

    __tablename__ = "setting_group"
    __table_args__ = (code_format_check(),)

    # Added: stable key for code and reference data; group_name is the English label.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    group_name: Mapped[str] = mapped_column(String(100), unique=True)
    group_name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    display_order: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_collapsible: Mapped[bool] = _flag(True)
    is_expanded_default: Mapped[bool] = _flag(True)


class SettingGroupMember(Base):
    """A setting shown in a group, in ``display_order``."""

    __tablename__ = "setting_group_member"

    setting_group_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting_group.id", ondelete="CASCADE"), primary_key=True
    )
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    display_order: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


# --------------------------------------------------------------------------------------
# Values (overrides); a missing row means "inherit from the wider level"
# --------------------------------------------------------------------------------------


class SystemSettingValue(UUIDPk, Base):
    """The installation-wide value of a setting (overrides the definition's default)."""

    __tablename__ = "system_setting_value"

    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), unique=True
    )
    value: Mapped[Any] = mapped_column(JSONB)
    # Seed NOT NULL; the CLI and migrations act without a user.
    set_by: Mapped[uuid.UUID | None] = _actor_fk()
    change_reason: Mapped[str | None] = mapped_column(Text)
    set_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class InstitutionSettingValue(UUIDPk, Base):
    """An institution's value, inherited by its active members who set none themselves."""

    __tablename__ = "institution_setting_value"
    # One value per institution and setting; first column serves the institution_id FK.
    __table_args__ = (UniqueConstraint("institution_id", "setting_id"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[Any] = mapped_column(JSONB)
    set_by: Mapped[uuid.UUID | None] = _actor_fk()
    set_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class UserSettingValue(UUIDPk, Base):
    """A user's own value: wins over every other level."""

    __tablename__ = "user_setting_value"
    # One value per user and setting; first column serves the user_id FK and the
    # "all settings of this user" lookup done on every update.
    __table_args__ = (UniqueConstraint("user_id", "setting_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[Any] = mapped_column(JSONB)
    set_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --------------------------------------------------------------------------------------
# History, templates, exports
# --------------------------------------------------------------------------------------


class SettingChangeLog(UUIDPk, Base):
    """One change of one value at one level (old → new, who, when, why)."""

    __tablename__ = "setting_change_log"
    __table_args__ = (
        _level_target_check("scope"),
        # "What changed for this user / institution lately" (also serves both FKs).
        Index("ix_setting_change_log_user_changed", "user_id", "changed_at"),
        Index("ix_setting_change_log_institution_changed", "institution_id", "changed_at"),
    )

    # RESTRICT: a definition with history is retired (is_active = false), not deleted.
    setting_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("setting.id", ondelete="RESTRICT"), index=True
    )
    changed_by: Mapped[uuid.UUID | None] = _actor_fk()
    scope: Mapped[SettingLevel] = mapped_column(str_enum(SettingLevel, "setting_level"))
    # The seed's polymorphic `scope_id` split into two real FKs: integrity is checked and
    # erasing a user or an institution erases its history.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    # none_as_null: Python None must be SQL NULL ("no value at this level"), not JSON null.
    old_value: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    # Seed NOT NULL; NULL records an override removed (back to inheriting).
    new_value: Mapped[Any | None] = mapped_column(JSONB(none_as_null=True))
    change_reason: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class SettingTemplate(UUIDPk, Timestamps, Base):
    """A named bundle of values (``settings_data`` = {setting_key: value}) applied at once
    to a user or an institution."""

    __tablename__ = "setting_template"
    __table_args__ = (
        code_format_check(),
        CheckConstraint("template_scope <> 'SYSTEM'", name="template_scope_target"),
        CheckConstraint("jsonb_typeof(settings_data) = 'object'", name="settings_data_object"),
    )

    # Added: stable key (EARLY_BIRD) for code and reference data.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    template_name: Mapped[str] = mapped_column(String(100), unique=True)
    template_name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    template_scope: Mapped[SettingLevel] = mapped_column(str_enum(SettingLevel, "template_scope"))
    settings_data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Seed NOT NULL; system templates come from reference data, made by nobody.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_system_template: Mapped[bool] = _flag(False)
    is_active: Mapped[bool] = _flag(True)


class SettingExport(UUIDPk, Base):
    """A copy of exported settings, kept until ``expires_at`` for download."""

    __tablename__ = "setting_export"
    __table_args__ = (
        _level_target_check("export_scope"),
        CheckConstraint("expires_at > exported_at", name="expires_after_export"),
    )

    requested_by: Mapped[uuid.UUID | None] = _actor_fk()
    export_scope: Mapped[SettingLevel] = mapped_column(str_enum(SettingLevel, "export_scope"))
    # Seed `scope_id` split into real FKs, as in SETTING_CHANGE_LOG.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    exported_settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    export_format: Mapped[SettingExportFormat] = mapped_column(
        str_enum(SettingExportFormat, "export_format"),
        default=SettingExportFormat.JSON,
        server_default=text("'JSON'"),
    )
    exported_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # Indexed: the purge of expired exports scans by it.
    expires_at: Mapped[dt.datetime] = mapped_column(
        server_default=text("(now() + interval '24 hours')"), index=True
    )
