"""What a user wants from reminders: the general reminder settings and one preference per
notification type (/reminders and the "stop these reminders" button). Every write is validated
first; a refusal raises before anything is written.

How the stored values combine (the planner reads the same rules):

* General settings (``domain.services.settings``: user > institution > system > default):
  ``reminders_enabled`` switches every configurable type off at once; ``quiet_hours_start`` /
  ``quiet_hours_end`` are the user's quiet hours for every type; ``digest_frequency`` (NONE,
  WEEKLY, MONTHLY) is how often the digest comes.
* WORKOUT_REMINDER is the training reminder the settings describe: its send time and days ARE
  the general ``reminder_time`` / ``reminder_days`` (so /settings and /reminders never
  disagree), and /reminders writes them there. Its preference row only says on/off: its
  ``local_time`` stays NULL and its ``days_of_week`` (NOT NULL in the model) mirrors
  ``reminder_days`` when written here.
* Other planned types (with a ``default_local_time``): time = the row's ``local_time``, else the
  type's default; days = the row's ``days_of_week`` when a row exists, else the type's default.
* Types planned on a calendar day rather than on weekdays (``FIXED_DAY_TYPES``: the monthly
  digest, on the month's last day) take a time but no days.
* Event types (no default time) are sent when their event happens: only on/off applies.
* On/off: the row's ``is_enabled``, else the type's ``is_enabled_by_default``; an active
  USER_UNSUBSCRIBED suppression of the type (the button under a reminder) also means off, and
  turning the type on here lifts it.
* A row back at its type's defaults is deleted, so "no row" keeps meaning "the defaults" and
  later changes of the general settings or of the type's defaults reach the user.

Turning a type (or all reminders) off also marks that type's PENDING notifications of the user
SUPPRESSED: a reminder planned before the change is not sent after it. A new time or new days
apply from the next planning; one already planned for today keeps its time.

Every function flushes at most; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.notification import (
    EVERY_DAY,
    Notification,
    NotificationStatusCode,
    NotificationSuppression,
    NotificationType,
    SuppressionReason,
    UserNotificationPreference,
)
from domain.services.notifications import lift_suppression, suppress
from domain.services.settings import (
    InvalidSettingValue,
    effective_settings,
    set_user_setting,
)

# The type whose time and days are the general reminder_time / reminder_days settings.
TRAINING_REMINDER = "WORKOUT_REMINDER"
# The codes of the reminder_days setting, index = ISO weekday - 1.
WEEKDAY_CODES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
DIGEST_FREQUENCIES = ("NONE", "WEEKLY", "MONTHLY")
# Planned on a day of the calendar, not of the week (the planner's rule): no days to choose.
FIXED_DAY_TYPES = frozenset({"MONTHLY_DIGEST"})

# 7:30, 07:30, 7h30, 07.30 — what people type for a time of day.
_TIME = re.compile(r"^([0-9]{1,2})\s*[:hH.]\s*([0-9]{2})$")


class InvalidReminderPreference(InvalidInput):
    """A value refused; ``rule`` says which check failed: format (not a time of day),
    same_time (quiet hours starting when they end), days (not ISO weekdays 1..7, or repeated),
    min_items (no day left), not_timed (a time or days for an event type), no_days (days for
    a type planned on a calendar day), choices."""

    code = "invalid_reminder_preference"

    def __init__(self, message: str, *, rule: str, **params: Any) -> None:
        super().__init__(message, rule=rule, **params)
        self.rule = rule


class UnknownReminderType(NotFound):
    """No active notification type with this code that the user may configure."""

    code = "unknown_reminder_type"


@dataclass(frozen=True)
class TypePreference:
    """One configurable notification type as the user has it."""

    code: str
    # ``name_i18n`` in the asked locale; None when the type has no name in it (the bot then
    # uses its own translated label).
    localized_name: str | None
    name: str  # the canonical English name
    enabled: bool  # its own switch (the general switch is ReminderPreferences.reminders_enabled)
    unsubscribed: bool  # turned off with the button under a reminder
    timed: bool  # planned at a local time (else sent when its event happens)
    local_time: dt.time | None  # None for event types
    days: tuple[int, ...]  # ISO weekdays, Monday = 1; empty when has_days is False
    has_days: bool  # the days of the week can be chosen
    customized: bool  # a preference row exists (something differs from the defaults)


@dataclass(frozen=True)
class ReminderPreferences:
    reminders_enabled: bool
    quiet_hours_start: dt.time
    quiet_hours_end: dt.time
    digest_frequency: str
    types: tuple[TypePreference, ...]

    def of(self, code: str) -> TypePreference:
        for preference in self.types:
            if preference.code == code:
                return preference
        raise UnknownReminderType(f"unknown reminder type {code!r}", type_code=code)


# --------------------------------------------------------------------------------------------
# Parsing, no database
# --------------------------------------------------------------------------------------------


def parse_time(text: str) -> dt.time:
    """A time of day as people type it ("7:30", "07:30", "7h30"); 24 h clock."""
    match = _TIME.match(text.strip())
    if match is not None:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return dt.time(hour, minute)
    raise InvalidReminderPreference(f"expected HH:MM (24 h), got {text!r}", rule="format")


def format_time(value: dt.time) -> str:
    return value.strftime("%H:%M")


def check_days(days: Iterable[Any]) -> tuple[int, ...]:
    """Distinct ISO weekdays (1..7), at least one, returned sorted."""
    chosen = list(days)
    if not all(isinstance(day, int) and not isinstance(day, bool) for day in chosen):
        raise InvalidReminderPreference(f"expected ISO weekdays, got {chosen!r}", rule="days")
    if len(set(chosen)) != len(chosen) or not set(chosen) <= set(EVERY_DAY):
        raise InvalidReminderPreference(
            f"expected distinct ISO weekdays 1..7, got {chosen!r}", rule="days"
        )
    if not chosen:
        raise InvalidReminderPreference("expected at least one day", rule="min_items")
    return tuple(sorted(chosen))


def _days_from_codes(codes: Iterable[Any]) -> tuple[int, ...]:
    return tuple(WEEKDAY_CODES.index(code) + 1 for code in codes if code in WEEKDAY_CODES)


def _time_setting(value: Any) -> dt.time:
    # Settings were validated as HH:MM when stored.
    return parse_time(str(value))


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def _configurable_types(session: AsyncSession) -> list[NotificationType]:
    rows = await session.scalars(
        select(NotificationType)
        .where(NotificationType.is_user_configurable, NotificationType.is_active)
        # The training reminder first, then planned types, then event types.
        .order_by(
            NotificationType.code != TRAINING_REMINDER,
            NotificationType.default_local_time.is_(None),
            NotificationType.code,
        )
    )
    return list(rows)


async def _configurable_type(session: AsyncSession, type_code: str) -> NotificationType:
    """The type, or UnknownReminderType for an unknown, inactive or non-configurable code
    (callback data is user input)."""
    found = await session.scalar(
        select(NotificationType).where(
            NotificationType.code == type_code,
            NotificationType.is_user_configurable,
            NotificationType.is_active,
        )
    )
    if found is None:
        raise UnknownReminderType(f"unknown reminder type {type_code!r}", type_code=type_code)
    return found


async def _unsubscribed_type_ids(session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
    row = NotificationSuppression
    found = await session.scalars(
        select(row.notification_type_id).where(
            row.user_id == user_id,
            row.notification_type_id.is_not(None),
            or_(row.expires_at.is_(None), row.expires_at > func.now()),
        )
    )
    return {type_id for type_id in found if type_id is not None}


def _type_preference(
    kind: NotificationType,
    row: UserNotificationPreference | None,
    settings: Mapping[str, Any],
    unsubscribed: bool,
    locale: str,
) -> TypePreference:
    enabled = row.is_enabled if row is not None else kind.is_enabled_by_default
    local_time: dt.time | None = None
    days: tuple[int, ...] = ()
    if kind.code == TRAINING_REMINDER:
        local_time = _time_setting(settings["reminder_time"])
        days = _days_from_codes(settings["reminder_days"])
    elif kind.default_local_time is not None:
        own = row.local_time if row is not None else None
        local_time = own if own is not None else kind.default_local_time
        if kind.code not in FIXED_DAY_TYPES:
            days = tuple(sorted(row.days_of_week if row is not None else kind.default_days_of_week))
    return TypePreference(
        code=kind.code,
        localized_name=kind.name_i18n.get(locale),
        name=kind.name,
        enabled=enabled and not unsubscribed,
        unsubscribed=unsubscribed,
        timed=local_time is not None,
        local_time=local_time,
        days=days,
        has_days=local_time is not None and kind.code not in FIXED_DAY_TYPES,
        customized=row is not None,
    )


async def reminder_preferences(
    session: AsyncSession, user_id: uuid.UUID, locale: str
) -> ReminderPreferences:
    """The general reminder settings and every configurable type as this user has them
    (four queries), type names in ``locale`` where the type has one."""
    settings = await effective_settings(session, user_id)
    kinds = await _configurable_types(session)
    rows = {
        row.notification_type_id: row
        for row in await session.scalars(
            select(UserNotificationPreference).where(
                UserNotificationPreference.user_id == user_id,
                UserNotificationPreference.notification_type_id.in_([k.id for k in kinds]),
            )
        )
    }
    unsubscribed = await _unsubscribed_type_ids(session, user_id)
    return ReminderPreferences(
        reminders_enabled=bool(settings["reminders_enabled"]),
        quiet_hours_start=_time_setting(settings["quiet_hours_start"]),
        quiet_hours_end=_time_setting(settings["quiet_hours_end"]),
        digest_frequency=str(settings["digest_frequency"]),
        types=tuple(
            _type_preference(kind, rows.get(kind.id), settings, kind.id in unsubscribed, locale)
            for kind in kinds
        ),
    )


async def type_preference(
    session: AsyncSession, user_id: uuid.UUID, type_code: str, locale: str
) -> TypePreference:
    """One configurable type as the user has it; UnknownReminderType for any other code."""
    await _configurable_type(session, type_code)
    return (await reminder_preferences(session, user_id, locale)).of(type_code)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


async def _row(
    session: AsyncSession, user_id: uuid.UUID, kind: NotificationType
) -> UserNotificationPreference:
    """The user's row for the type, created with the values now in force (so that creating it
    changes nothing by itself), locked for this transaction."""
    if kind.code == TRAINING_REMINDER:
        settings = await effective_settings(session, user_id)
        # The model requires at least one day: with no reminder day at all, any is harmless.
        days = list(_days_from_codes(settings["reminder_days"]) or kind.default_days_of_week)
    else:
        days = list(kind.default_days_of_week)
    await session.execute(
        insert(UserNotificationPreference)
        .values(
            user_id=user_id,
            notification_type_id=kind.id,
            is_enabled=kind.is_enabled_by_default,
            days_of_week=days,
        )
        .on_conflict_do_nothing(index_elements=["user_id", "notification_type_id"])
    )
    row = await session.scalar(
        select(UserNotificationPreference)
        .where(
            UserNotificationPreference.user_id == user_id,
            UserNotificationPreference.notification_type_id == kind.id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def _prune(
    session: AsyncSession, row: UserNotificationPreference, kind: NotificationType
) -> None:
    """Delete the row when it says nothing its type's defaults do not."""
    same_days = kind.code == TRAINING_REMINDER or sorted(row.days_of_week) == sorted(
        kind.default_days_of_week
    )
    if (
        row.is_enabled == kind.is_enabled_by_default
        and row.local_time is None
        and row.quiet_hours_start is None
        and row.quiet_hours_end is None
        and not row.channel_settings
        and same_days
    ):
        await session.delete(row)
    await session.flush()


async def _withdraw_pending(
    session: AsyncSession, user_id: uuid.UUID, type_ids: Sequence[uuid.UUID]
) -> int:
    """Already planned, not yet claimed notifications of these types are not to be sent."""
    if not type_ids:
        return 0
    result = await session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.notification_type_id.in_(type_ids),
            Notification.status == NotificationStatusCode.PENDING,
        )
        .values(status=NotificationStatusCode.SUPPRESSED)
        .returning(Notification.id)
    )
    return len(result.all())


async def set_reminders_enabled(session: AsyncSession, user_id: uuid.UUID, enabled: bool) -> None:
    """The general switch: every configurable type off (or back to its own switch)."""
    await set_user_setting(session, user_id, "reminders_enabled", enabled)
    if not enabled:
        kinds = await _configurable_types(session)
        await _withdraw_pending(session, user_id, [kind.id for kind in kinds])


async def set_type_enabled(
    session: AsyncSession, user_id: uuid.UUID, type_code: str, enabled: bool
) -> None:
    """Turn one type on or off. On also lifts an unsubscription of the type."""
    kind = await _configurable_type(session, type_code)
    row = await _row(session, user_id, kind)
    row.is_enabled = enabled
    if enabled:
        await lift_suppression(session, user_id, kind.code)
    else:
        await _withdraw_pending(session, user_id, [kind.id])
    await _prune(session, row, kind)


async def unsubscribe(session: AsyncSession, user_id: uuid.UUID, type_code: str) -> None:
    """The button under a reminder: a USER_UNSUBSCRIBED suppression of the type, and the type
    turned off in the preferences (turning it on in /reminders undoes both)."""
    kind = await _configurable_type(session, type_code)
    await suppress(
        session,
        user_id,
        SuppressionReason.USER_UNSUBSCRIBED,
        kind.code,
        details="unsubscribe button under a reminder",
    )
    row = await _row(session, user_id, kind)
    row.is_enabled = False
    await _withdraw_pending(session, user_id, [kind.id])
    await _prune(session, row, kind)


async def _timed_type(session: AsyncSession, type_code: str) -> NotificationType:
    kind = await _configurable_type(session, type_code)
    if kind.code != TRAINING_REMINDER and kind.default_local_time is None:
        raise InvalidReminderPreference(
            f"{type_code} is sent when its event happens: it has no time or days",
            rule="not_timed",
            type_code=type_code,
        )
    return kind


async def set_type_time(
    session: AsyncSession, user_id: uuid.UUID, type_code: str, value: str | dt.time
) -> dt.time:
    """The local time a planned type is sent at; returns it."""
    kind = await _timed_type(session, type_code)
    local_time = value if isinstance(value, dt.time) else parse_time(value)
    local_time = local_time.replace(second=0, microsecond=0, tzinfo=None)
    if kind.code == TRAINING_REMINDER:
        await set_user_setting(session, user_id, "reminder_time", format_time(local_time))
        return local_time
    row = await _row(session, user_id, kind)
    # The type's own default stored as NULL: a later change of the default reaches the user.
    row.local_time = None if local_time == kind.default_local_time else local_time
    await _prune(session, row, kind)
    return local_time


async def set_type_days(
    session: AsyncSession, user_id: uuid.UUID, type_code: str, days: Iterable[int]
) -> tuple[int, ...]:
    """The ISO weekdays a planned type is sent on (at least one); returns them sorted."""
    kind = await _timed_type(session, type_code)
    if kind.code in FIXED_DAY_TYPES:
        raise InvalidReminderPreference(
            f"{type_code} is planned on a day of the month: it has no days of the week",
            rule="no_days",
            type_code=type_code,
        )
    chosen = check_days(days)
    if kind.code == TRAINING_REMINDER:
        await set_user_setting(
            session, user_id, "reminder_days", [WEEKDAY_CODES[day - 1] for day in chosen]
        )
        # Keep an existing row's mirror in step (it must not say other days than the setting).
        await session.execute(
            update(UserNotificationPreference)
            .where(
                UserNotificationPreference.user_id == user_id,
                UserNotificationPreference.notification_type_id == kind.id,
            )
            .values(days_of_week=list(chosen))
        )
        return chosen
    row = await _row(session, user_id, kind)
    row.days_of_week = list(chosen)
    await _prune(session, row, kind)
    return chosen


async def set_quiet_hours(
    session: AsyncSession, user_id: uuid.UUID, start: str | dt.time, end: str | dt.time
) -> tuple[dt.time, dt.time]:
    """The user's quiet hours (local; start after end wraps midnight). Both are checked before
    either is written."""
    first = start if isinstance(start, dt.time) else parse_time(start)
    last = end if isinstance(end, dt.time) else parse_time(end)
    if format_time(first) == format_time(last):
        raise InvalidReminderPreference(
            "quiet hours must end at another time than they start", rule="same_time"
        )
    await set_user_setting(session, user_id, "quiet_hours_start", format_time(first))
    await set_user_setting(session, user_id, "quiet_hours_end", format_time(last))
    return first, last


async def set_digest_frequency(session: AsyncSession, user_id: uuid.UUID, frequency: str) -> None:
    """NONE, WEEKLY or MONTHLY."""
    try:
        await set_user_setting(session, user_id, "digest_frequency", frequency)
    except InvalidSettingValue as refusal:
        raise InvalidReminderPreference(str(refusal), rule=refusal.rule) from None
