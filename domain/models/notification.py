"""Notifications: what can be sent (types, localized templates), what was planned and sent
(one NOTIFICATION per message, one NOTIFICATION_DELIVERY per send attempt), what a user wants
(preferences with local time, days and quiet hours) or refuses (suppressions), and the daily
analytics rolled up from it.

The reminder worker relies on three things here:

* a planned notification carries a ``dedupe_key`` (see ``planned_dedupe_key``), so planning the
  same reminder twice for one local date is a no-op under ``INSERT … ON CONFLICT DO NOTHING``;
* ``status``/``due_at`` with a partial index on PENDING rows, so "due and not yet claimed" is an
  index range scan that ``FOR UPDATE SKIP LOCKED`` can claim from;
* NOTIFICATION_SUPPRESSION rows (bot blocked, unsubscribed) checked before each send.

Seed section: "Notifications". Every deviation from the seed is a row in
docs/schema-decisions.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum
from domain.models.lookup import LookupColumns, code_format_check

# ISO weekdays, Monday = 1 … Sunday = 7 (PostgreSQL `extract(isodow …)`).
EVERY_DAY = (1, 2, 3, 4, 5, 6, 7)
_EVERY_DAY_SQL = text("'{1,2,3,4,5,6,7}'::smallint[]")


def planned_dedupe_key(type_code: str, user_id: uuid.UUID, local_date: dt.date) -> str:
    """Key of the one planned notification of a type for a user on a date of their calendar.

    SQL planners build the same string: ``type.code || ':' || user.id || ':' || local_date``.
    """
    return f"{type_code}:{user_id}:{local_date.isoformat()}"


def _days_check(column: str) -> CheckConstraint:
    return CheckConstraint(
        f"cardinality({column}) BETWEEN 1 AND 7 AND {column} <@ '{{1,2,3,4,5,6,7}}'::smallint[]",
        name=f"{column}_iso_weekdays",
    )


class NotificationChannel(enum.StrEnum):
    """Where a notification goes. Only TELEGRAM is sent today; the seed's channels stay valid
    values so a later e-mail or push sender needs no migration."""

    EMAIL = "EMAIL"
    IN_APP = "IN_APP"
    PUSH = "PUSH"
    TELEGRAM = "TELEGRAM"


class NotificationCategory(enum.StrEnum):
    ACTIVITY = "ACTIVITY"
    BILLING = "BILLING"
    REMINDER = "REMINDER"
    SOCIAL = "SOCIAL"
    SYSTEM = "SYSTEM"


class NotificationPriority(enum.StrEnum):
    HIGH = "HIGH"
    LOW = "LOW"
    NORMAL = "NORMAL"
    URGENT = "URGENT"


class NotificationStatusCode(enum.StrEnum):
    """Codes of the NOTIFICATION_STATUS rows code relies on (the column is a FK to the code,
    so new statuses are data; this class only names the ones code branches on)."""

    PENDING = "PENDING"  # planned, due at ``due_at``, not claimed by a sender
    SENDING = "SENDING"  # claimed by a sender (``claimed_at``); an attempt is under way
    SENT = "SENT"  # accepted by a channel that confirms delivery later
    DELIVERED = "DELIVERED"  # in the recipient's chat (Telegram answered with a message id)
    READ = "READ"
    CLICKED = "CLICKED"
    FAILED = "FAILED"  # gave up: permanent error or attempts exhausted
    SUPPRESSED = "SUPPRESSED"  # not sent: the user blocked the bot, unsubscribed, or disabled it
    CANCELLED = "CANCELLED"  # not sent: no longer relevant (e.g. the workout was already done)


class DeliveryStatusCode(enum.StrEnum):
    """Codes of the DELIVERY_STATUS rows: the outcome of one send attempt."""

    QUEUED = "QUEUED"  # attempt row written before the API call (crash leaves a trace)
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    DEFERRED = "DEFERRED"  # temporary failure (429, 5xx, network): another attempt follows
    FAILED = "FAILED"  # permanent failure (e.g. 400 bad request)
    BLOCKED = "BLOCKED"  # 403: bot blocked or account deactivated -> a suppression
    BOUNCED = "BOUNCED"  # e-mail only


class SuppressionReason(enum.StrEnum):
    BOT_BLOCKED = "BOT_BLOCKED"  # Telegram 403 "bot was blocked by the user"
    BOUNCED_EMAIL = "BOUNCED_EMAIL"
    SPAM_COMPLAINT = "SPAM_COMPLAINT"
    USER_DEACTIVATED = "USER_DEACTIVATED"  # Telegram 403 "user is deactivated"
    USER_UNSUBSCRIBED = "USER_UNSUBSCRIBED"


class NotificationBatchType(enum.StrEnum):
    DAILY_DIGEST = "DAILY_DIGEST"
    WEEKLY_SUMMARY = "WEEKLY_SUMMARY"


# --------------------------------------------------------------------------------------------
# Core notification and classification
# --------------------------------------------------------------------------------------------


class NotificationType(UUIDPk, LookupColumns, CreatedAt, Base):
    """A kind of notification (WORKOUT_REMINDER, WEEKLY_DIGEST …) and its defaults.

    ``code`` is the seed's ENUM ``name``; ``name``/``name_i18n`` its ``display_name``.
    """

    __tablename__ = "notification_type"
    __table_args__ = (
        UniqueConstraint("code"),
        code_format_check(),
        _days_check("default_days_of_week"),
    )

    category: Mapped[NotificationCategory] = mapped_column(
        str_enum(NotificationCategory, "notification_category")
    )
    priority: Mapped[NotificationPriority] = mapped_column(
        str_enum(NotificationPriority, "notification_priority"),
        default=NotificationPriority.NORMAL,
        server_default=text("'NORMAL'"),
    )
    default_channel: Mapped[NotificationChannel] = mapped_column(
        str_enum(NotificationChannel, "notification_channel"),
        default=NotificationChannel.TELEGRAM,
        server_default=text("'TELEGRAM'"),
    )
    # False: the user cannot switch it off (e.g. billing notices); preferences are not offered.
    is_user_configurable: Mapped[bool] = mapped_column(server_default=text("true"))
    # Whether users who never opened /reminders receive it.
    is_enabled_by_default: Mapped[bool] = mapped_column(server_default=text("true"))
    requires_action: Mapped[bool] = mapped_column(server_default=text("false"))
    # Planned types (reminders, digests): when to send for users without a preference row, in
    # the user's local time. NULL for event-driven types, which are sent when the event happens.
    default_local_time: Mapped[dt.time | None] = mapped_column(Time)
    default_days_of_week: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), default=lambda: list(EVERY_DAY), server_default=_EVERY_DAY_SQL
    )
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class NotificationTemplate(UUIDPk, Timestamps, Base):
    """Text of a type for one channel and locale; ``{name}`` placeholders (str.format syntax,
    plain identifiers only) are filled with HTML-escaped values by
    ``domain.services.notification_templates``."""

    __tablename__ = "notification_template"
    __table_args__ = (UniqueConstraint("notification_type_id", "channel", "locale"),)

    notification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_type.id", ondelete="CASCADE")
    )
    channel: Mapped[NotificationChannel] = mapped_column(
        str_enum(NotificationChannel, "notification_channel")
    )
    locale: Mapped[str] = mapped_column(String(10))
    # Telegram has no subject: shown as a bold first line when present.
    subject_template: Mapped[str | None] = mapped_column(String(255))
    body_template: Mapped[str] = mapped_column(Text)
    action_url_template: Mapped[str | None] = mapped_column(Text)
    action_button_text: Mapped[str | None] = mapped_column(String(100))
    # Names of the variables the type declares, e.g. ["first_name", "workout_name", "time"].
    template_variables: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class NotificationStatus(UUIDPk, LookupColumns, Base):
    """PENDING, SENDING, SENT, DELIVERED, READ, CLICKED, FAILED, SUPPRESSED, CANCELLED."""

    __tablename__ = "notification_status"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class Notification(UUIDPk, CreatedAt, Base):
    """One message to one user: planned (``due_at``), claimed, sent, read.

    Planned rows are inserted before their text is rendered (a set-based planner cannot
    render), so ``title``/``message`` are filled at send time from ``variables`` in the
    user's locale of that moment; a sent row always records what was sent.
    """

    __tablename__ = "notification"
    __table_args__ = (
        CheckConstraint("sent_at IS NULL OR message IS NOT NULL", name="sent_has_message"),
        # "Due and not yet claimed": the claim query
        #   WHERE status = 'PENDING' AND due_at <= now() ORDER BY due_at FOR UPDATE SKIP LOCKED
        # reads only this small index; sent history never enters it.
        Index("ix_notification_due_pending", "due_at", postgresql_where=text("status = 'PENDING'")),
        # The daily analytics rollup reads one day of due_at. BRIN: rows arrive roughly in
        # due_at order, so a few pages of index serve it at almost no write cost.
        Index("ix_notification_due_at_brin", "due_at", postgresql_using="brin"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    notification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_type.id", ondelete="RESTRICT"), index=True
    )
    # FK to the status CODE, not its id: the partial index above needs a constant predicate,
    # and senders branch on the code without a join. No index of its own: a status row is
    # only deleted by a reference-data migration, and a 9-value index would be pure write cost.
    status: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("notification_status.code", ondelete="RESTRICT"),
        default=NotificationStatusCode.PENDING.value,
        server_default=text("'PENDING'"),
    )
    # Planned reminders only: see planned_dedupe_key. NULL for one-off notifications.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # When to (next) try: the planned time, moved forward on a retry (Telegram retry_after).
    due_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # When a sender took it (status SENDING); an old claim means the sender died.
    claimed_at: Mapped[dt.datetime | None]
    # Template variables and related resource ids ({"workout_id": …, "first_name": …}).
    variables: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    locale: Mapped[str | None] = mapped_column(String(10))  # the locale it was rendered in
    title: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    action_url: Mapped[str | None] = mapped_column(Text)
    action_button_text: Mapped[str | None] = mapped_column(String(100))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_campaign.id", ondelete="SET NULL"), index=True
    )
    sent_at: Mapped[dt.datetime | None]
    read_at: Mapped[dt.datetime | None]
    clicked_at: Mapped[dt.datetime | None]


# --------------------------------------------------------------------------------------------
# Preferences and delivery
# --------------------------------------------------------------------------------------------


class UserNotificationPreference(UUIDPk, Base):
    """What a user wants for one notification type, or for all types (``notification_type_id``
    NULL: the user-wide row, e.g. quiet hours). Times are in the user's timezone
    (``app_user.timezone``). Also carries the seed's NOTIFICATION_SCHEDULE."""

    __tablename__ = "user_notification_preference"
    __table_args__ = (
        UniqueConstraint("user_id", "notification_type_id", postgresql_nulls_not_distinct=True),
        _days_check("days_of_week"),
        CheckConstraint(
            "(quiet_hours_start IS NULL) = (quiet_hours_end IS NULL)", name="quiet_hours_complete"
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    notification_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_type.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[NotificationChannel] = mapped_column(
        str_enum(NotificationChannel, "notification_channel"),
        default=NotificationChannel.TELEGRAM,
        server_default=text("'TELEGRAM'"),
    )
    is_enabled: Mapped[bool] = mapped_column(server_default=text("true"))
    # Planned types: send at this local time on these ISO weekdays; NULL = the type's default.
    local_time: Mapped[dt.time | None] = mapped_column(Time)
    days_of_week: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), default=lambda: list(EVERY_DAY), server_default=_EVERY_DAY_SQL
    )
    # Nothing is delivered between start and end (local); start > end wraps midnight.
    quiet_hours_start: Mapped[dt.time | None] = mapped_column(Time)
    quiet_hours_end: Mapped[dt.time | None] = mapped_column(Time)
    channel_settings: Mapped[dict[str, Any]] = mapped_column(
        JSONB, default=dict, server_default=text("'{}'::jsonb")
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class DeliveryStatus(UUIDPk, LookupColumns, Base):
    """QUEUED, SENT, DELIVERED, DEFERRED, FAILED, BLOCKED, BOUNCED."""

    __tablename__ = "delivery_status"
    __table_args__ = (UniqueConstraint("code"), code_format_check())


class NotificationDelivery(UUIDPk, CreatedAt, Base):
    """One attempt to send a notification on a channel, with the provider's answer."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "attempt_number"),
        CheckConstraint("attempt_number >= 1", name="attempt_number_positive"),
        CheckConstraint("retry_after IS NULL OR retry_after >= 0", name="retry_after_non_negative"),
    )

    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE")
    )
    attempt_number: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[NotificationChannel] = mapped_column(
        str_enum(NotificationChannel, "notification_channel"),
        default=NotificationChannel.TELEGRAM,
        server_default=text("'TELEGRAM'"),
    )
    # FK to the code, like notification.status; never deleted at runtime, so no index.
    status: Mapped[str] = mapped_column(
        String(50),
        ForeignKey("delivery_status.code", ondelete="RESTRICT"),
        default=DeliveryStatusCode.QUEUED.value,
        server_default=text("'QUEUED'"),
    )
    # message_id is unique only within a chat: both are needed to edit or delete it later.
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # Telegram's `error_code` (400, 403, 429 …) or an HTTP status; `description` as given.
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_description: Mapped[str | None] = mapped_column(Text)
    # Seconds Telegram asked us to wait (429 `parameters.retry_after`).
    retry_after: Mapped[int | None] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    failed_at: Mapped[dt.datetime | None]


class NotificationBatch(UUIDPk, Base):
    """Notifications bundled into one digest message."""

    __tablename__ = "notification_batch"
    __table_args__ = (
        CheckConstraint("notification_count >= 0", name="notification_count_non_negative"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    batch_type: Mapped[NotificationBatchType] = mapped_column(
        str_enum(NotificationBatchType, "notification_batch_type")
    )
    notification_count: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[dt.datetime]
    batch_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class NotificationBatchItem(Base):
    __tablename__ = "notification_batch_item"

    notification_batch_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_batch.id", ondelete="CASCADE"), primary_key=True
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    display_order: Mapped[int] = mapped_column(Integer, server_default=text("0"))


# --------------------------------------------------------------------------------------------
# Analytics, campaigns and suppression
# --------------------------------------------------------------------------------------------


class NotificationCampaign(UUIDPk, CreatedAt, Base):
    """A one-off send of a type to users matching ``target_criteria``; its notifications point
    back here (``notification.campaign_id``) so the counters can be recomputed."""

    __tablename__ = "notification_campaign"

    campaign_name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    notification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_type.id", ondelete="RESTRICT"), index=True
    )
    target_criteria: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # Seed NOT NULL; the CLI starts campaigns with no acting user, and the campaign outlives
    # its author.
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    scheduled_for: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    target_user_count: Mapped[int] = mapped_column(Integer)
    sent_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    delivered_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    opened_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    clicked_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class NotificationAnalytics(Base):
    """Per type and UTC day of ``due_at``: what became of the notifications due that day.

    Written only by ``rollup_notification_analytics`` (idempotent per day).
    """

    __tablename__ = "notification_analytics"

    notification_type_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notification_type.id", ondelete="CASCADE"), primary_key=True
    )
    analytics_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sent_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    delivered_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    opened_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    clicked_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    failed_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    suppressed_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    open_rate: Mapped[float] = mapped_column(Float, server_default=text("0"))
    click_rate: Mapped[float] = mapped_column(Float, server_default=text("0"))
    delivery_rate: Mapped[float] = mapped_column(Float, server_default=text("0"))
    calculated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class NotificationSuppression(UUIDPk, Base):
    """Do not send to this user: all types (``notification_type_id`` NULL) or one type.

    One row per (user, type): suppressing again updates it.
    """

    __tablename__ = "notification_suppression"
    __table_args__ = (
        UniqueConstraint("user_id", "notification_type_id", postgresql_nulls_not_distinct=True),
        CheckConstraint("NOT is_permanent OR expires_at IS NULL", name="permanent_never_expires"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    notification_type_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("notification_type.id", ondelete="CASCADE"), index=True
    )
    suppression_reason: Mapped[SuppressionReason] = mapped_column(
        str_enum(SuppressionReason, "suppression_reason")
    )
    details: Mapped[str | None] = mapped_column(Text)
    suppressed_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime | None]
    is_permanent: Mapped[bool] = mapped_column(server_default=text("false"))
