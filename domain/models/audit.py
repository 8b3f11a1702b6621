"""Audit and events: what changed, what happened, and what still has to be delivered.

* AUDIT_LOG: one row per insert/update/delete of an audited table (old/new values, changed
  fields, actor, reason), written by the flush hook in ``domain/services/audit.py`` in the same
  transaction as the change. Also VIEW / EXPORT of sensitive data when a service records it.
* EVENT_TYPE: the catalogue of business/system/security/integration events (reference data),
  each with a category, a default severity and how long its rows are kept.
* SYSTEM_EVENT: something that happened (login, invite sent, role granted, payment …).
* SECURITY_EVENT: a security-relevant event (PERMISSION_DENIED, FAILED_LOGIN …); the
  authorization engine writes them and counts recent ones per user to rate-limit.
* EVENT_QUEUE: the transactional outbox; EVENT_SUBSCRIPTION: who consumes which topics;
  INTEGRATION_LOG: calls to and webhooks from external systems (payments, Telegram).
* AUDIT_RETENTION_POLICY: how long AUDIT_LOG rows are kept per table and action;
  AUDIT_EXPORT: a requested export of audit data; EVENT_ANALYTICS: a daily rollup per category.

Seed section "Audit & Events"; deviations: /tmp/dm2/decisions/audit.md (merged into
docs/schema-decisions.md).
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
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum
from domain.models.enums import ExportFormat
from domain.models.lookup import code_format_check, i18n_column

# Resource types on events are open (PAYMENT, INVITE, ROLE … besides the visibility
# ResourceType set), so they are checked for shape only.
RESOURCE_TYPE_PATTERN = "^[A-Z][A-Z0-9_]*$"


def _flag(default: bool) -> Mapped[bool]:
    return mapped_column(
        Boolean, default=default, server_default=text("true" if default else "false")
    )


def _optional_user_fk() -> Mapped[uuid.UUID | None]:
    """A user an event or audit row is about or was done by. SET NULL: history outlives the
    account (erasing a user must not be blocked by, nor erase, what others' rows record)."""
    return mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))


def _occurred_at() -> Mapped[dt.datetime]:
    return mapped_column(server_default=func.now())


class AuditAction(enum.StrEnum):
    """What happened to an audited record."""

    CREATE = "CREATE"
    DELETE = "DELETE"
    EXPORT = "EXPORT"
    UPDATE = "UPDATE"
    VIEW = "VIEW"


class EventCategory(enum.StrEnum):
    """The family an EVENT_TYPE belongs to; EVENT_ANALYTICS rolls up per category."""

    BUSINESS = "BUSINESS"
    INTEGRATION = "INTEGRATION"
    SECURITY = "SECURITY"
    SYSTEM = "SYSTEM"


class EventSeverity(enum.StrEnum):
    """One severity scale for system and security events (and the event type's default)."""

    CRITICAL = "CRITICAL"
    ERROR = "ERROR"
    INFO = "INFO"
    WARNING = "WARNING"


class EventTypeCode(enum.StrEnum):
    """EVENT_TYPE rows code records by name; the reference data must ship every one."""

    ERROR_RECORDED = "ERROR_RECORDED"
    FAILED_LOGIN = "FAILED_LOGIN"
    INVITE_ACCEPTED = "INVITE_ACCEPTED"
    INVITE_SENT = "INVITE_SENT"
    INVITE_REVOKED = "INVITE_REVOKED"
    CLIENT_LINKED = "CLIENT_LINKED"
    LINK_REDEMPTION_FAILED = "LINK_REDEMPTION_FAILED"
    LOGIN = "LOGIN"
    LOGOUT = "LOGOUT"
    PAYMENT_FAILED = "PAYMENT_FAILED"
    PAYMENT_SUCCEEDED = "PAYMENT_SUCCEEDED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    PERMISSION_GRANTED = "PERMISSION_GRANTED"
    PERMISSION_REVOKED = "PERMISSION_REVOKED"
    PROGRAM_ASSIGNED = "PROGRAM_ASSIGNED"
    ROLE_GRANTED = "ROLE_GRANTED"
    ROLE_REVOKED = "ROLE_REVOKED"
    SETTINGS_CHANGED = "SETTINGS_CHANGED"
    SUSPICIOUS_ACTIVITY = "SUSPICIOUS_ACTIVITY"
    WORKOUT_COMPLETED = "WORKOUT_COMPLETED"


class QueueStatus(enum.StrEnum):
    """Where an outbox event is in its delivery."""

    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # dead: max_retries exhausted, kept for inspection and manual replay
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"  # claimed by a consumer until next_retry_at (its lease)


class IntegrationOperation(enum.StrEnum):
    API_CALL_MADE = "API_CALL_MADE"
    DATA_SYNC = "DATA_SYNC"
    WEBHOOK_RECEIVED = "WEBHOOK_RECEIVED"


class AuditExportScope(enum.StrEnum):
    ALL = "ALL"
    SECURITY_EVENTS = "SECURITY_EVENTS"
    SYSTEM_EVENTS = "SYSTEM_EVENTS"
    USER_ACTIVITY = "USER_ACTIVITY"


class AuditExportStatus(enum.StrEnum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    PROCESSING = "PROCESSING"
    REQUESTED = "REQUESTED"


# --------------------------------------------------------------------------------------
# Core audit and event tracking
# --------------------------------------------------------------------------------------


class AuditLog(UUIDPk, Base):
    """One change (or view/export) of one record of an audited table."""

    __tablename__ = "audit_log"
    __table_args__ = (
        # A record is named by its UUID id, or by its whole key when the key is composite.
        CheckConstraint(
            "entity_id IS NOT NULL OR entity_key IS NOT NULL", name="entity_identified"
        ),
        # "History of this record", newest first.
        Index("ix_audit_log_entity", "entity_type", "entity_id", "occurred_at"),
        # "What did this user change"; also serves the user_id FK.
        Index("ix_audit_log_user_occurred", "user_id", "occurred_at"),
        # The retention job deletes by age.
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    # The actor; NULL for the system (CLI, scheduler, migrations).
    user_id: Mapped[uuid.UUID | None] = _optional_user_fk()
    # The table name (``app_user``, ``user_role`` …), as AUDITED_TABLES lists it.
    entity_type: Mapped[str] = mapped_column(String(100))
    # NULL when the table's key is composite (join rows): then entity_key holds it.
    entity_id: Mapped[uuid.UUID | None] = mapped_column()
    entity_key: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "audit_action"))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Sorted column names; NULL for CREATE/DELETE (every column is new/gone).
    changed_fields: Mapped[list[str] | None] = mapped_column(JSONB)
    # A Telegram bot sees no IP or user agent; kept for the web/webhook side.
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    # Groups the rows of one unit of work (one Telegram update, one CLI command).
    session_id: Mapped[uuid.UUID | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = _occurred_at()


class EventType(UUIDPk, Base):
    """A kind of event (LOGIN, ROLE_GRANTED, PERMISSION_DENIED …): its category, default
    severity and retention. Reference data (``domain/reference/data/events.yaml``)."""

    __tablename__ = "event_type"
    __table_args__ = (
        code_format_check(),
        CheckConstraint("retention_days > 0", name="retention_days_positive"),
    )

    # The seed's ``ENUM name UNIQUE`` becomes a stable code plus a human, translated name.
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    category: Mapped[EventCategory] = mapped_column(str_enum(EventCategory, "event_category"))
    # Severity given to an event of this type unless the caller says otherwise.
    severity: Mapped[EventSeverity] = mapped_column(
        str_enum(EventSeverity, "event_severity"),
        default=EventSeverity.INFO,
        server_default=EventSeverity.INFO.value,
    )
    # false = exempt from the retention job (kept until archived by hand); true = purged
    # once older than retention_days.
    requires_retention: Mapped[bool] = _flag(True)
    retention_days: Mapped[int] = mapped_column(Integer, default=90, server_default=text("90"))
    # Payload holds personal data: left out of exports and analytics drill-downs.
    is_sensitive: Mapped[bool] = _flag(False)


class SystemEvent(UUIDPk, Base):
    """Something that happened in the product (login, invite, role change, payment …)."""

    __tablename__ = "system_event"
    __table_args__ = (
        CheckConstraint(f"resource_type ~ '{RESOURCE_TYPE_PATTERN}'", name="resource_type_format"),
        CheckConstraint("(resource_type IS NULL) = (resource_id IS NULL)", name="resource_pair"),
        # Retention per type and the daily rollup read by type and time; serves the FK.
        Index("ix_system_event_type_occurred", "event_type_id", "occurred_at"),
        # A user's event history; serves the user_id FK.
        Index("ix_system_event_user_occurred", "user_id", "occurred_at"),
        Index("ix_system_event_occurred_at", "occurred_at"),
    )

    # The seed's ENUM event_type plus its EVENT_TYPE relationship: one FK to the catalogue.
    event_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_type.id", ondelete="RESTRICT")
    )
    user_id: Mapped[uuid.UUID | None] = _optional_user_fk()
    resource_type: Mapped[str | None] = mapped_column(String(50))
    resource_id: Mapped[uuid.UUID | None] = mapped_column()
    event_data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    severity: Mapped[EventSeverity] = mapped_column(str_enum(EventSeverity, "event_severity"))
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    trace_id: Mapped[uuid.UUID | None] = mapped_column()
    occurred_at: Mapped[dt.datetime] = _occurred_at()


# --------------------------------------------------------------------------------------
# Event bus and integration tracking
# --------------------------------------------------------------------------------------


class EventSubscription(UUIDPk, Timestamps, Base):
    """A consumer of outbox topics: an in-process handler or a webhook."""

    __tablename__ = "event_subscription"
    __table_args__ = (
        UniqueConstraint("subscriber_name", "topic_pattern"),
        CheckConstraint(
            "webhook_url IS NOT NULL OR callback_method IS NOT NULL", name="has_target"
        ),
    )

    subscriber_name: Mapped[str] = mapped_column(String(100))
    # SQL LIKE pattern over EVENT_QUEUE.topic ("payment.%"); the seed's EVENT_SUBSCRIPTION →
    # EVENT_QUEUE relationship is this match, not an FK.
    topic_pattern: Mapped[str] = mapped_column(String(100))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    callback_method: Mapped[str | None] = mapped_column(String(100))
    is_active: Mapped[bool] = _flag(True)
    subscription_config: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class EventQueue(UUIDPk, CreatedAt, Base):
    """An outbox message, inserted in the transaction that caused it and delivered at least
    once by ``domain/services/outbox.py`` (consumers claim with FOR UPDATE SKIP LOCKED)."""

    __tablename__ = "event_queue"
    __table_args__ = (
        CheckConstraint("retry_count >= 0", name="retry_count_non_negative"),
        CheckConstraint("max_retries >= 0", name="max_retries_non_negative"),
        # A live message always says when it is (next) due.
        CheckConstraint(
            "status NOT IN ('PENDING', 'PROCESSING') OR next_retry_at IS NOT NULL",
            name="live_has_due_time",
        ),
        # What consumers poll: live messages by due time; completed history stays out of it.
        Index(
            "ix_event_queue_due",
            "next_retry_at",
            postgresql_where=text("status IN ('PENDING', 'PROCESSING')"),
        ),
        Index("ix_event_queue_topic_status", "topic", "status"),
    )

    # Seed NOT NULL; an outbox message need not mirror a SYSTEM_EVENT (e.g. "send this
    # reminder"), and purging old system events must not delete or block queued work.
    event_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("system_event.id", ondelete="SET NULL"), index=True
    )
    topic: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[QueueStatus] = mapped_column(
        str_enum(QueueStatus, "queue_status"),
        default=QueueStatus.PENDING,
        server_default=QueueStatus.PENDING.value,
    )
    # Failed attempts so far; the message is dead once it exceeds max_retries.
    retry_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    max_retries: Mapped[int] = mapped_column(Integer, default=3, server_default=text("3"))
    # PENDING: not delivered before this time (first delivery, or the backoff after a
    # failure). PROCESSING: the claiming consumer's lease ends here; after it the message is
    # reclaimed (the consumer is presumed dead). NULL once COMPLETED/FAILED.
    next_retry_at: Mapped[dt.datetime | None] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime | None] = mapped_column()


class IntegrationLog(UUIDPk, Base):
    """One exchange with an external system (payment provider, Telegram, e-mail …)."""

    __tablename__ = "integration_log"
    __table_args__ = (
        CheckConstraint("http_status_code BETWEEN 100 AND 599", name="http_status_code_range"),
        Index("ix_integration_log_name_occurred", "integration_name", "occurred_at"),
        # "Have we seen this provider's webhook/payment id before?"
        Index("ix_integration_log_name_external_id", "integration_name", "external_id"),
    )

    integration_name: Mapped[str] = mapped_column(String(100))
    operation: Mapped[IntegrationOperation] = mapped_column(
        str_enum(IntegrationOperation, "integration_operation")
    )
    external_id: Mapped[str | None] = mapped_column(String(255))
    request_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    http_status_code: Mapped[int | None] = mapped_column(Integer)
    success: Mapped[bool] = mapped_column(Boolean)
    error_message: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = _occurred_at()


class SecurityEvent(UUIDPk, Base):
    """A security-relevant event: a denied permission, a failed login, suspicious activity.

    The authorization engine writes PERMISSION_DENIED rows and rate-limits a user by counting
    theirs in the last minute (``ix_security_event_user_type_occurred``).
    """

    __tablename__ = "security_event"
    __table_args__ = (
        CheckConstraint(f"resource_type ~ '{RESOURCE_TYPE_PATTERN}'", name="resource_type_format"),
        CheckConstraint("reviewed_by IS NULL OR reviewed_at IS NOT NULL", name="review_has_time"),
        # "How many PERMISSION_DENIED for this user since t?" — an index range scan; also
        # serves the user_id FK.
        Index("ix_security_event_user_type_occurred", "user_id", "event_type_id", "occurred_at"),
        # Retention per type; serves the event_type_id FK.
        Index("ix_security_event_type_occurred", "event_type_id", "occurred_at"),
        # The review queue stays small however many events are kept.
        Index(
            "ix_security_event_to_review",
            "occurred_at",
            postgresql_where=text("requires_review AND reviewed_at IS NULL"),
        ),
    )

    # NULL for a guest (someone without an account yet).
    user_id: Mapped[uuid.UUID | None] = _optional_user_fk()
    # The seed's ENUM event_type: a row of the same EVENT_TYPE catalogue (category SECURITY).
    event_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("event_type.id", ondelete="RESTRICT")
    )
    severity: Mapped[EventSeverity] = mapped_column(str_enum(EventSeverity, "event_severity"))
    # What was attempted: e.g. PROGRAM / <id> / UPDATE.
    resource_type: Mapped[str | None] = mapped_column(String(50))
    resource_id: Mapped[uuid.UUID | None] = mapped_column()
    action: Mapped[str | None] = mapped_column(String(50))
    # Seed NOT NULL; a Telegram update carries no IP address.
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(500))
    event_details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    requires_review: Mapped[bool] = _flag(False)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    reviewed_at: Mapped[dt.datetime | None] = mapped_column()
    occurred_at: Mapped[dt.datetime] = _occurred_at()


# --------------------------------------------------------------------------------------
# Audit analytics and retention
# --------------------------------------------------------------------------------------


class AuditRetentionPolicy(UUIDPk, Timestamps, Base):
    """How long AUDIT_LOG rows of one table and action are kept.

    ``entity_type = '*'`` is the default for tables without a policy of their own; a table
    with no active policy at all (and no default) is kept forever.
    """

    __tablename__ = "audit_retention_policy"
    __table_args__ = (
        UniqueConstraint("entity_type", "action"),
        # A table name, or '*' for the default.
        CheckConstraint(
            "entity_type = '*' OR entity_type ~ '^[a-z][a-z0-9_]*$'", name="entity_type_format"
        ),
        CheckConstraint("retention_days > 0", name="retention_days_positive"),
        CheckConstraint(
            "compression_after_days IS NULL"
            " OR (compression_after_days > 0 AND compression_after_days < retention_days)",
            name="compression_before_deletion",
        ),
    )

    entity_type: Mapped[str] = mapped_column(String(100))
    action: Mapped[AuditAction] = mapped_column(str_enum(AuditAction, "audit_action"))
    retention_days: Mapped[int] = mapped_column(Integer)
    # The seed's BOOLEAN compress_after_days is folded into this: NULL = never compress.
    compression_after_days: Mapped[int | None] = mapped_column(Integer)
    is_active: Mapped[bool] = _flag(True)


class AuditExport(UUIDPk, Base):
    """A requested export of audit/event data for a date range."""

    __tablename__ = "audit_export"
    __table_args__ = (
        CheckConstraint("export_end_date >= export_start_date", name="date_range_ordered"),
        # A requester's exports, newest first; serves the requested_by FK.
        Index("ix_audit_export_requested_by_requested_at", "requested_by", "requested_at"),
        # The export worker's queue.
        Index(
            "ix_audit_export_open",
            "requested_at",
            postgresql_where=text("export_status IN ('REQUESTED', 'PROCESSING')"),
        ),
    )

    # CASCADE: the request belongs to its requester; the export itself is an EXPORT row
    # in AUDIT_LOG, which survives the account.
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    export_start_date: Mapped[dt.date] = mapped_column(Date)
    export_end_date: Mapped[dt.date] = mapped_column(Date)
    export_filters: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    export_format: Mapped[ExportFormat] = mapped_column(str_enum(ExportFormat, "export_format"))
    export_scope: Mapped[AuditExportScope] = mapped_column(
        str_enum(AuditExportScope, "export_scope")
    )
    # A download URL or a Telegram file_id of the sent document.
    export_url: Mapped[str | None] = mapped_column(String(1000))
    export_status: Mapped[AuditExportStatus] = mapped_column(
        str_enum(AuditExportStatus, "export_status"),
        default=AuditExportStatus.REQUESTED,
        server_default=AuditExportStatus.REQUESTED.value,
    )
    requested_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[dt.datetime | None] = mapped_column()
    expires_at: Mapped[dt.datetime | None] = mapped_column()


class EventAnalytics(Base):
    """Daily counts per event category, rebuilt idempotently by the rollup job."""

    __tablename__ = "event_analytics"
    __table_args__ = (
        CheckConstraint(
            "total_events >= 0 AND unique_users >= 0 AND error_events >= 0"
            " AND security_events >= 0 AND average_processing_time >= 0",
            name="counts_non_negative",
        ),
    )

    # UTC day.
    analytics_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # Seed "references EVENT_TYPE.category": the category value itself (not a unique column
    # of EVENT_TYPE, so no FK).
    event_category: Mapped[EventCategory] = mapped_column(
        str_enum(EventCategory, "event_category"), primary_key=True
    )
    total_events: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    unique_users: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # System events of severity ERROR or CRITICAL.
    error_events: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Rows of SECURITY_EVENT.
    security_events: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # Seconds from a system event to its outbox message's completion, averaged.
    average_processing_time: Mapped[float] = mapped_column(
        Double, default=0.0, server_default=text("0")
    )
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
