"""Errors the application hit, grouped so that one bug is one row however often it happens.

* ERROR is a *group*: every failure with the same fingerprint (sha256 of the error type code,
  the source and the message with ids replaced by placeholders) lands on the same row, whose
  counters (first/last seen, occurrence count) are kept by one concurrency-safe upsert.
* ERROR_OCCURRENCE is one failure: the short reference code the user was shown, the user, the
  update/context and the stack trace (which never reaches a chat).
* Triage: status (NEW → ACKNOWLEDGED → RESOLVED, REGRESSED when it comes back), assignment,
  escalation, resolution, duplicates, categories and tags.
* Monitoring: per-day frequency per error, per-day trend per error type, threshold alerts and
  the triggers they produced, exports.

Seed sections: "Core Error Definition & Classification", "Error Resolution & Tracking", "Error
Analytics & Monitoring". Services: ``domain.services.errors``. Every deviation from the seed is
a row in docs/schema-decisions.md (Error).
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, CreatedAt, UUIDPk, str_enum
from domain.models.enums import ExportFormat
from domain.models.lookup import LookupColumns, code_format_check, i18n_column

# Crockford base32 (no I, L, O, U: nothing a person can misread or mistype), 8 characters =
# 40 bits. Short enough to read out to support; uniqueness is enforced by the table and a
# collision is retried by the service.
REFERENCE_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_CODE_LENGTH = 8
# sha256 hex digest.
FINGERPRINT_LENGTH = 64


def _true() -> Mapped[bool]:
    return mapped_column(Boolean, default=True, server_default=text("true"))


def _false() -> Mapped[bool]:
    return mapped_column(Boolean, default=False, server_default=text("false"))


def _now() -> Mapped[dt.datetime]:
    return mapped_column(server_default=func.now())


def _actor_fk() -> Mapped[uuid.UUID | None]:
    """Optional acting user (assigned_by, resolved_by …): NULL when the system acted or the
    user was erased; the history row stays."""
    return mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)


class ErrorStatusCode(enum.StrEnum):
    """Codes of the ERROR_STATUS rows code relies on (the column stays a lookup FK)."""

    NEW = "NEW"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    IGNORED = "IGNORED"
    REGRESSED = "REGRESSED"


class ErrorTypeCode(enum.StrEnum):
    """Codes of the ERROR_TYPE rows the bot reports with (reference data: errors.yaml)."""

    UNHANDLED_EXCEPTION = "UNHANDLED_EXCEPTION"
    HANDLER_TIMEOUT = "HANDLER_TIMEOUT"
    TELEGRAM_API = "TELEGRAM_API"
    DATABASE = "DATABASE"
    VALIDATION = "VALIDATION"
    PAYMENT_PROVIDER = "PAYMENT_PROVIDER"
    TEMPLATE_VARIABLE_MISSING = "TEMPLATE_VARIABLE_MISSING"
    AUTH = "AUTH"
    EXTERNAL_API = "EXTERNAL_API"
    SYSTEM = "SYSTEM"


class SeverityCode(enum.StrEnum):
    """Codes of the SEVERITY_LEVEL rows; their ``rank`` equals Python's logging level."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class EscalationLevel(enum.StrEnum):
    TEAM_LEAD = "TEAM_LEAD"
    MANAGER = "MANAGER"
    DIRECTOR = "DIRECTOR"
    URGENT = "URGENT"


class AlertScope(enum.StrEnum):
    """How an alert counts the occurrences in its window."""

    # Each matching error on its own: "one error happened 20 times in 10 minutes".
    PER_ERROR = "PER_ERROR"
    # All matching errors together: "100 errors of severity ERROR or worse in 10 minutes".
    ALL_MATCHING = "ALL_MATCHING"


class ExportScope(enum.StrEnum):
    ALL_ERRORS = "ALL_ERRORS"
    BY_TYPE = "BY_TYPE"
    BY_SEVERITY = "BY_SEVERITY"
    UNRESOLVED = "UNRESOLVED"


class ExportStatus(enum.StrEnum):
    REQUESTED = "REQUESTED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


# --------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------


class ErrorType(UUIDPk, LookupColumns, Base):
    """What kind of failure: UNHANDLED_EXCEPTION, TELEGRAM_API, DATABASE, VALIDATION …"""

    __tablename__ = "error_type"
    __table_args__ = (
        UniqueConstraint("code"),
        code_format_check(),
        CheckConstraint("default_retention_days > 0", name="default_retention_days_positive"),
    )

    requires_immediate_attention: Mapped[bool] = _false()
    is_user_facing: Mapped[bool] = _false()
    default_retention_days: Mapped[int] = mapped_column(
        Integer, default=90, server_default=text("90")
    )
    # A new error of this type is filed under this CATEGORY (type ERROR) automatically, so
    # lists can be filtered by category without anyone triaging first.
    default_category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )


class SeverityLevel(UUIDPk, LookupColumns, Base):
    """DEBUG < INFO < WARNING < ERROR < CRITICAL, ordered by ``rank``."""

    __tablename__ = "severity_level"
    __table_args__ = (
        UniqueConstraint("code"),
        code_format_check(),
        CheckConstraint("color_code ~ '^#[0-9A-Fa-f]{6}$'", name="color_code_format"),
        CheckConstraint("rank >= 0", name="rank_non_negative"),
    )

    # Python logging's numbers (10 … 50): "at least WARNING" is ``rank >= 30`` in SQL and a
    # log record's level maps to a row without a table.
    rank: Mapped[int] = mapped_column(SmallInteger, unique=True)
    color_code: Mapped[str] = mapped_column(String(7))
    requires_notification: Mapped[bool] = _false()
    requires_escalation: Mapped[bool] = _false()


class ErrorStatus(UUIDPk, LookupColumns, Base):
    """Triage state of an error group; codes in ``ErrorStatusCode``."""

    __tablename__ = "error_status"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class ResolutionType(UUIDPk, LookupColumns, Base):
    """How an error was closed: FIXED, DUPLICATE, INVALID, WONT_FIX, CONFIGURATION, TRANSIENT."""

    __tablename__ = "resolution_type"
    __table_args__ = (UniqueConstraint("code"), code_format_check())

    requires_testing: Mapped[bool] = _false()


# --------------------------------------------------------------------------------------
# The error group and its occurrences
# --------------------------------------------------------------------------------------


class Error(UUIDPk, Base):
    """One distinct failure (a fingerprint), however many times it happened."""

    __tablename__ = "error"
    __table_args__ = (
        CheckConstraint(
            f"fingerprint ~ '^[0-9a-f]{{{FINGERPRINT_LENGTH}}}$'", name="fingerprint_format"
        ),
        CheckConstraint("occurrence_count >= 1", name="occurrence_count_positive"),
        CheckConstraint("last_seen_at >= first_seen_at", name="seen_order"),
        # Triage lists: open errors of a status, most recent first.
        Index("ix_error_error_status_id_last_seen_at", "error_status_id", "last_seen_at"),
    )

    # The grouping key; the unique index is the ON CONFLICT target of the recording upsert.
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH), unique=True)
    # The finer code the reporter gave (defaults to the type code): APP_001, API_404 …
    error_code: Mapped[str] = mapped_column(String(100))
    # The *normalized* message (ids replaced by placeholders), so the group's title names no
    # particular user; each occurrence keeps its raw message.
    error_message: Mapped[str] = mapped_column(String(255))
    error_description: Mapped[str | None] = mapped_column(Text)
    error_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error_type.id", ondelete="RESTRICT"), index=True
    )
    # The highest severity any occurrence was reported with.
    severity_level_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("severity_level.id", ondelete="RESTRICT"), index=True
    )
    # Where it happened: "bot.handlers.training:log_set", "scheduler.reminders" …
    source_component: Mapped[str] = mapped_column(String(100))
    # Served by ix_error_error_status_id_last_seen_at (leading column).
    error_status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error_status.id", ondelete="RESTRICT")
    )
    first_seen_at: Mapped[dt.datetime] = _now()
    last_seen_at: Mapped[dt.datetime] = _now()
    occurrence_count: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class ErrorCategory(Base):
    """Categories of an error (CATEGORY rows of type ERROR)."""

    __tablename__ = "error_category"

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ErrorTag(Base):
    """Tags on an error (TAG rows of type ERROR)."""

    __tablename__ = "error_tag"

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class ErrorOccurrence(UUIDPk, Base):
    """One failure as a user met it: the reference code they were shown, and the details
    support needs to find it (context, stack trace). The stack trace is never shown to users."""

    __tablename__ = "error_occurrence"
    __table_args__ = (
        CheckConstraint("reference_code ~ '^[0-9A-HJKMNP-TV-Z]{8}$'", name="reference_code_format"),
        # An error's history and the per-error alert windows; also serves the FK.
        Index("ix_error_occurrence_error_id_occurred_at", "error_id", "occurred_at"),
        # "Did this user already meet this error today?" (unique users per day); also serves
        # the user FK (SET NULL on erasure).
        Index(
            "ix_error_occurrence_user_id_error_id_occurred_at",
            "user_id",
            "error_id",
            "occurred_at",
        ),
    )

    error_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("error.id", ondelete="CASCADE"))
    reference_code: Mapped[str] = mapped_column(String(REFERENCE_CODE_LENGTH), unique=True)
    # Erasing a user keeps the occurrence (counts stay true); the erasure service must also
    # clear ``occurrence_context``, which may quote the user's messages.
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL")
    )
    # The raw message, ids and all (the group keeps the normalized one).
    message: Mapped[str] = mapped_column(Text)
    # The Telegram update (or job arguments) and environment, as JSON.
    occurrence_context: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    stack_trace: Mapped[str | None] = mapped_column(Text)
    # Alerts over all errors scan a recent window by time.
    occurred_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), index=True)


# --------------------------------------------------------------------------------------
# Triage and resolution
# --------------------------------------------------------------------------------------


class ErrorAssignment(UUIDPk, Base):
    """Who is looking at an error."""

    __tablename__ = "error_assignment"
    __table_args__ = (
        # The same person is assigned an error at most once at a time.
        Index(
            "uq_error_assignment_error_id_assigned_to_active",
            "error_id",
            "assigned_to",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), index=True
    )
    # An assignment means nothing without its assignee.
    assigned_to: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    assigned_by: Mapped[uuid.UUID | None] = _actor_fk()
    assignment_notes: Mapped[str | None] = mapped_column(Text)
    assigned_at: Mapped[dt.datetime] = _now()
    due_date: Mapped[dt.datetime | None]
    is_active: Mapped[bool] = _true()


class ErrorResolution(UUIDPk, Base):
    """How and when an error was closed (an error can be resolved, regress, and be resolved
    again: one row each time)."""

    __tablename__ = "error_resolution"
    __table_args__ = (
        # Trend rollup: resolutions of a day.
        Index("ix_error_resolution_resolved_at", "resolved_at"),
    )

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), index=True
    )
    resolved_by: Mapped[uuid.UUID | None] = _actor_fk()
    resolution_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("resolution_type.id", ondelete="RESTRICT"), index=True
    )
    resolution_description: Mapped[str] = mapped_column(Text)
    steps_taken: Mapped[str | None] = mapped_column(Text)
    prevention_measures: Mapped[str | None] = mapped_column(Text)
    requires_code_change: Mapped[bool] = _false()
    requires_documentation: Mapped[bool] = _false()
    resolved_at: Mapped[dt.datetime] = _now()


class ErrorDuplicate(Base):
    """``duplicate_error_id`` is the same bug as ``primary_error_id`` (found by a person when
    two fingerprints differ, e.g. after a message wording changed)."""

    __tablename__ = "error_duplicate"
    __table_args__ = (
        CheckConstraint("primary_error_id <> duplicate_error_id", name="not_self"),
        # A duplicate points at one primary; the unique index also serves the FK.
        UniqueConstraint("duplicate_error_id"),
    )

    primary_error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), primary_key=True
    )
    duplicate_error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), primary_key=True
    )
    marked_by: Mapped[uuid.UUID | None] = _actor_fk()
    similarity_reason: Mapped[str | None] = mapped_column(Text)
    marked_at: Mapped[dt.datetime] = _now()


class ErrorEscalation(UUIDPk, Base):
    __tablename__ = "error_escalation"

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), index=True
    )
    escalated_by: Mapped[uuid.UUID | None] = _actor_fk()
    escalated_to: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    escalation_reason: Mapped[str] = mapped_column(Text)
    escalation_level: Mapped[EscalationLevel] = mapped_column(
        str_enum(EscalationLevel, "escalation_level")
    )
    escalated_at: Mapped[dt.datetime] = _now()
    acknowledged_at: Mapped[dt.datetime | None]


# --------------------------------------------------------------------------------------
# Analytics and monitoring
# --------------------------------------------------------------------------------------


class ErrorFrequency(Base):
    """Occurrences of one error on one UTC day, kept current by every recording."""

    __tablename__ = "error_frequency"
    __table_args__ = (
        CheckConstraint("occurrence_count >= 0", name="occurrence_count_non_negative"),
        CheckConstraint("unique_users_affected >= 0", name="unique_users_non_negative"),
        # Trend rollup reads one day for all errors.
        Index("ix_error_frequency_frequency_date", "frequency_date"),
    )

    error_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), primary_key=True
    )
    frequency_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    occurrence_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    unique_users_affected: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    first_occurrence: Mapped[dt.datetime]
    last_occurrence: Mapped[dt.datetime]
    calculated_at: Mapped[dt.datetime] = _now()


class ErrorTrend(UUIDPk, Base):
    """Per error type and UTC day: occurrences, new and resolved errors, and the change
    against the day before. Written by ``rollup_error_trend`` (idempotent per day)."""

    __tablename__ = "error_trend"
    __table_args__ = (
        # The rollup's ON CONFLICT target; also serves the FK.
        UniqueConstraint("error_type_id", "trend_date"),
        CheckConstraint(
            "total_errors >= 0 AND new_errors >= 0 AND resolved_errors >= 0",
            name="counts_non_negative",
        ),
    )

    error_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error_type.id", ondelete="RESTRICT")
    )
    trend_date: Mapped[dt.date] = mapped_column(Date)
    # Occurrences that day (not distinct errors).
    total_errors: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Errors first seen that day.
    new_errors: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    resolved_errors: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Of that day's resolutions: hours from first seen to resolved.
    resolution_time_avg_hours: Mapped[float] = mapped_column(
        Double, default=0.0, server_default=text("0")
    )
    # (total - previous day's total) / max(previous day's total, 1): > 0 worse, < 0 better.
    trend_direction: Mapped[float] = mapped_column(Double, default=0.0, server_default=text("0"))
    calculated_at: Mapped[dt.datetime] = _now()


class ErrorAlert(UUIDPk, CreatedAt, Base):
    """A threshold: at least ``threshold_count`` occurrences within ``threshold_time_minutes``
    of the matching errors (type, severity at least …), per error or all together."""

    __tablename__ = "error_alert"
    __table_args__ = (
        code_format_check(),
        CheckConstraint("threshold_count >= 1", name="threshold_count_positive"),
        CheckConstraint("threshold_time_minutes >= 1", name="threshold_time_minutes_positive"),
        CheckConstraint("cooldown_minutes >= 0", name="cooldown_minutes_non_negative"),
    )

    # Stable key so reference data can ship default alerts and a seed run updates them.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    alert_name: Mapped[str] = mapped_column(String(100))
    alert_name_i18n: Mapped[dict[str, str]] = i18n_column()
    alert_description: Mapped[str | None] = mapped_column(Text)
    # NULL = every type.
    error_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("error_type.id", ondelete="RESTRICT"), index=True
    )
    # NULL = every severity; otherwise this severity *or worse* (by rank).
    severity_level_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("severity_level.id", ondelete="RESTRICT"), index=True
    )
    scope: Mapped[AlertScope] = mapped_column(
        str_enum(AlertScope, "alert_scope"),
        default=AlertScope.PER_ERROR,
        server_default=AlertScope.PER_ERROR.value,
    )
    threshold_count: Mapped[int] = mapped_column(Integer)
    threshold_time_minutes: Mapped[int] = mapped_column(Integer)
    # After firing (for one error, or for all), stay quiet this long: one message per storm.
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=60, server_default=text("60"))
    # {"user_ids": [uuid …], "role_codes": ["ADMIN" …]}: resolved to chats at delivery time.
    alert_recipients: Mapped[dict[str, Any]] = mapped_column(JSONB)
    is_active: Mapped[bool] = _true()
    last_triggered: Mapped[dt.datetime | None]


class ErrorAlertTrigger(UUIDPk, Base):
    """One firing of an alert: what crossed the threshold, and whether it was delivered."""

    __tablename__ = "error_alert_trigger"
    __table_args__ = (
        CheckConstraint("trigger_count >= 1", name="trigger_count_positive"),
        # Cooldown look-up (latest trigger of an alert); also serves the FK.
        Index(
            "ix_error_alert_trigger_error_alert_id_triggered_at", "error_alert_id", "triggered_at"
        ),
        # The delivery worker's queue: only undelivered triggers.
        Index(
            "ix_error_alert_trigger_undelivered",
            "triggered_at",
            postgresql_where=text("NOT alert_sent"),
        ),
    )

    error_alert_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("error_alert.id", ondelete="CASCADE")
    )
    # The error a PER_ERROR alert fired for (its cooldown is per error); NULL for ALL_MATCHING.
    error_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("error.id", ondelete="CASCADE"), index=True
    )
    trigger_count: Mapped[int] = mapped_column(Integer)
    # JSON array of the ids (strings) of the errors counted.
    trigger_errors: Mapped[list[str]] = mapped_column(JSONB)
    alert_sent: Mapped[bool] = _false()
    triggered_at: Mapped[dt.datetime] = _now()
    alert_sent_at: Mapped[dt.datetime | None]


class ErrorExport(UUIDPk, Base):
    """A requested export of errors over a date range (built by a background job)."""

    __tablename__ = "error_export"
    __table_args__ = (CheckConstraint("export_end_date >= export_start_date", name="date_range"),)

    # The export is the requester's; erasing them drops it.
    requested_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    export_start_date: Mapped[dt.date] = mapped_column(Date)
    export_end_date: Mapped[dt.date] = mapped_column(Date)
    export_filters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    export_format: Mapped[ExportFormat] = mapped_column(str_enum(ExportFormat, "export_format"))
    export_scope: Mapped[ExportScope] = mapped_column(str_enum(ExportScope, "export_scope"))
    export_url: Mapped[str | None] = mapped_column(Text)
    export_status: Mapped[ExportStatus] = mapped_column(
        str_enum(ExportStatus, "export_status"),
        default=ExportStatus.REQUESTED,
        server_default=ExportStatus.REQUESTED.value,
    )
    requested_at: Mapped[dt.datetime] = _now()
    completed_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime | None]
