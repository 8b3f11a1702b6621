"""Reminder preferences on a real PostgreSQL: what /reminders reads and writes (general settings,
one row per type), the unsubscribe button's suppression, and refusals that change nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.notification import (
    Notification,
    NotificationStatusCode,
    NotificationSuppression,
    NotificationType,
    SuppressionReason,
    UserNotificationPreference,
)
from domain.models.user import User
from domain.services.notifications import is_suppressed, plan_notification, suppress
from domain.services.reminder_preferences import (
    InvalidReminderPreference,
    UnknownReminderType,
    parse_time,
    reminder_preferences,
    set_digest_frequency,
    set_quiet_hours,
    set_reminders_enabled,
    set_type_days,
    set_type_enabled,
    set_type_time,
    type_preference,
    unsubscribe,
)
from domain.services.settings import effective_settings

UTC = dt.UTC
# A day no other test plans notifications for.
DAY = dt.date(2032, 3, 9)


async def new_user(session: AsyncSession) -> User:
    user = User(first_name="Rae", telegram_user_id=uuid.uuid4().int % 10**12)
    session.add(user)
    await session.flush()
    return user


async def rows(session: AsyncSession, user_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """The user's preference rows by type code."""
    found = await session.execute(
        select(NotificationType.code, UserNotificationPreference)
        .join(
            NotificationType, NotificationType.id == UserNotificationPreference.notification_type_id
        )
        .where(UserNotificationPreference.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    return {
        code: {
            "is_enabled": row.is_enabled,
            "local_time": row.local_time,
            "days_of_week": sorted(row.days_of_week),
        }
        for code, row in found
    }


async def suppressions(session: AsyncSession, user_id: uuid.UUID) -> set[tuple[str | None, str]]:
    found = await session.execute(
        select(NotificationType.code, NotificationSuppression.suppression_reason)
        .outerjoin(
            NotificationType, NotificationType.id == NotificationSuppression.notification_type_id
        )
        .where(NotificationSuppression.user_id == user_id)
    )
    return {(code, str(reason)) for code, reason in found}


async def snapshot(session: AsyncSession, user_id: uuid.UUID) -> tuple[Any, ...]:
    """Everything a preference write may touch."""
    return (
        await effective_settings(session, user_id),
        await rows(session, user_id),
        await suppressions(session, user_id),
    )


async def plan(session: AsyncSession, user_id: uuid.UUID, code: str) -> uuid.UUID:
    planned = await plan_notification(
        session, user_id, code, DAY, dt.datetime.combine(DAY, dt.time(8), tzinfo=UTC)
    )
    assert planned is not None
    return planned


async def status_of(session: AsyncSession, notification_id: uuid.UUID) -> str:
    found = await session.scalar(
        select(Notification.status)
        .where(Notification.id == notification_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


async def test_defaults_without_any_row(session: AsyncSession) -> None:
    user = await new_user(session)
    preferences = await reminder_preferences(session, user.id, "fr")
    assert preferences.reminders_enabled is True
    assert (preferences.quiet_hours_start, preferences.quiet_hours_end) == (
        dt.time(22),
        dt.time(7),
    )
    assert preferences.digest_frequency == "WEEKLY"
    codes = [preference.code for preference in preferences.types]
    assert codes[0] == "WORKOUT_REMINDER"
    # Only what the user may switch off: a program assignment always comes.
    assert "PROGRAM_ASSIGNED" not in codes
    assert {"MISSED_WORKOUT", "STREAK_AT_RISK", "WEEKLY_DIGEST"} <= set(codes)
    workout = preferences.of("WORKOUT_REMINDER")
    # The training reminder's schedule is the general reminder_time / reminder_days settings.
    assert (workout.local_time, workout.days) == (dt.time(18), (1, 3, 5))
    assert workout.localized_name == "Rappel de séance"
    streak = preferences.of("STREAK_AT_RISK")
    assert (streak.local_time, streak.days) == (dt.time(18), (1, 2, 3, 4, 5, 6, 7))
    assert preferences.of("WEEKLY_DIGEST").days == (7,)
    # The monthly digest comes on the month's last day: a time, no days of the week.
    monthly = preferences.of("MONTHLY_DIGEST")
    assert (monthly.local_time, monthly.days, monthly.has_days) == (dt.time(18), (), False)
    missed = preferences.of("MISSED_WORKOUT")
    assert (missed.timed, missed.local_time, missed.days) == (False, None, ())
    # Every type is on by default except the rest-timer ping, which a person asks for.
    assert all(
        p.enabled == (p.code != "REST_TIMER_ENDED") and not p.customized for p in preferences.types
    )


async def test_unknown_and_non_configurable_codes_are_refused(session: AsyncSession) -> None:
    user = await new_user(session)
    for code in ("NO_SUCH_TYPE", "PROGRAM_ASSIGNED", ""):
        with pytest.raises(UnknownReminderType):
            await type_preference(session, user.id, code, "en")
        with pytest.raises(UnknownReminderType):
            await set_type_enabled(session, user.id, code, False)
        with pytest.raises(UnknownReminderType):
            await unsubscribe(session, user.id, code)
    assert await snapshot(session, user.id) == (
        await effective_settings(session, user.id),
        {},
        set(),
    )


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


async def test_training_reminder_time_and_days_are_the_general_settings(
    session: AsyncSession,
) -> None:
    user = await new_user(session)
    assert await set_type_time(session, user.id, "WORKOUT_REMINDER", "7:15") == dt.time(7, 15)
    assert await set_type_days(session, user.id, "WORKOUT_REMINDER", [4, 2]) == (2, 4)
    settings = await effective_settings(session, user.id)
    assert (settings["reminder_time"], settings["reminder_days"]) == ("07:15", ["TUE", "THU"])
    # No row: the type keeps reading the settings, also when /settings changes them later.
    assert await rows(session, user.id) == {}
    workout = await type_preference(session, user.id, "WORKOUT_REMINDER", "en")
    assert (workout.local_time, workout.days) == (dt.time(7, 15), (2, 4))


async def test_training_reminder_row_mirrors_the_days_setting(session: AsyncSession) -> None:
    user = await new_user(session)
    await set_type_enabled(session, user.id, "WORKOUT_REMINDER", False)
    assert (await rows(session, user.id))["WORKOUT_REMINDER"] == {
        "is_enabled": False,
        "local_time": None,
        "days_of_week": [1, 3, 5],
    }
    await set_type_days(session, user.id, "WORKOUT_REMINDER", [6, 7])
    assert (await rows(session, user.id))["WORKOUT_REMINDER"]["days_of_week"] == [6, 7]
    # Back on: the row said nothing more than the defaults, so it goes.
    await set_type_enabled(session, user.id, "WORKOUT_REMINDER", True)
    assert await rows(session, user.id) == {}
    assert (await effective_settings(session, user.id))["reminder_days"] == ["SAT", "SUN"]


async def test_other_planned_types_keep_their_own_row(session: AsyncSession) -> None:
    user = await new_user(session)
    await set_type_time(session, user.id, "STREAK_AT_RISK", "19h45")
    await set_type_time(session, user.id, "MONTHLY_DIGEST", "09:00")
    await set_type_days(session, user.id, "WEEKLY_DIGEST", [6])
    assert await rows(session, user.id) == {
        "STREAK_AT_RISK": {
            "is_enabled": True,
            "local_time": dt.time(19, 45),
            "days_of_week": [1, 2, 3, 4, 5, 6, 7],
        },
        "WEEKLY_DIGEST": {"is_enabled": True, "local_time": None, "days_of_week": [6]},
        "MONTHLY_DIGEST": {
            "is_enabled": True,
            "local_time": dt.time(9),
            "days_of_week": [1, 2, 3, 4, 5, 6, 7],
        },
    }
    preferences = await reminder_preferences(session, user.id, "en")
    assert preferences.of("STREAK_AT_RISK").local_time == dt.time(19, 45)
    assert preferences.of("WEEKLY_DIGEST").days == (6,)
    assert preferences.of("WEEKLY_DIGEST").customized
    # The general settings are untouched by per-type changes.
    settings = await effective_settings(session, user.id)
    assert (settings["reminder_time"], settings["reminder_days"]) == (
        "18:00",
        ["MON", "WED", "FRI"],
    )
    # Back to the type's defaults: no row left.
    await set_type_time(session, user.id, "STREAK_AT_RISK", "18:00")
    await set_type_days(session, user.id, "WEEKLY_DIGEST", [7])
    await set_type_time(session, user.id, "MONTHLY_DIGEST", "18:00")
    assert await rows(session, user.id) == {}


async def test_turning_a_type_off_withdraws_what_was_planned(session: AsyncSession) -> None:
    user = await new_user(session)
    streak = await plan(session, user.id, "STREAK_AT_RISK")
    workout = await plan(session, user.id, "WORKOUT_REMINDER")
    await set_type_enabled(session, user.id, "STREAK_AT_RISK", False)
    assert await status_of(session, streak) == NotificationStatusCode.SUPPRESSED
    assert await status_of(session, workout) == NotificationStatusCode.PENDING
    assert (await rows(session, user.id))["STREAK_AT_RISK"]["is_enabled"] is False
    assert not (await type_preference(session, user.id, "STREAK_AT_RISK", "en")).enabled
    await set_type_enabled(session, user.id, "STREAK_AT_RISK", True)
    assert await rows(session, user.id) == {}


async def test_all_reminders_off_keeps_program_assignments(session: AsyncSession) -> None:
    user = await new_user(session)
    workout = await plan(session, user.id, "WORKOUT_REMINDER")
    assigned = await plan(session, user.id, "PROGRAM_ASSIGNED")
    await set_reminders_enabled(session, user.id, False)
    assert (await effective_settings(session, user.id))["reminders_enabled"] is False
    assert await status_of(session, workout) == NotificationStatusCode.SUPPRESSED
    assert await status_of(session, assigned) == NotificationStatusCode.PENDING
    preferences = await reminder_preferences(session, user.id, "en")
    assert not preferences.reminders_enabled
    # Each type keeps its own switch for when reminders come back on.
    assert all(p.enabled for p in preferences.types if p.code != "REST_TIMER_ENDED")
    await set_reminders_enabled(session, user.id, True)
    assert (await reminder_preferences(session, user.id, "en")).reminders_enabled


async def test_unsubscribe_suppresses_and_turning_on_lifts_it(session: AsyncSession) -> None:
    user = await new_user(session)
    missed = await plan(session, user.id, "MISSED_WORKOUT")
    await suppress(session, user.id, SuppressionReason.BOT_BLOCKED)
    await unsubscribe(session, user.id, "MISSED_WORKOUT")
    await unsubscribe(session, user.id, "MISSED_WORKOUT")  # a second tap changes nothing
    assert await suppressions(session, user.id) == {
        (None, "BOT_BLOCKED"),
        ("MISSED_WORKOUT", "USER_UNSUBSCRIBED"),
    }
    assert await status_of(session, missed) == NotificationStatusCode.SUPPRESSED
    preference = await type_preference(session, user.id, "MISSED_WORKOUT", "en")
    assert (preference.enabled, preference.unsubscribed) == (False, True)
    assert (await rows(session, user.id))["MISSED_WORKOUT"]["is_enabled"] is False

    await set_type_enabled(session, user.id, "MISSED_WORKOUT", True)
    # The type's own suppression is lifted; a blocked bot stays blocked.
    assert await suppressions(session, user.id) == {(None, "BOT_BLOCKED")}
    assert await rows(session, user.id) == {}
    preference = await type_preference(session, user.id, "MISSED_WORKOUT", "en")
    assert (preference.enabled, preference.unsubscribed) == (True, False)
    assert await is_suppressed(session, user.id, "MISSED_WORKOUT")  # still: the bot is blocked


async def test_an_unsubscription_alone_shows_the_type_off(session: AsyncSession) -> None:
    # The suppression is the source of truth for sending, whatever the row says.
    user = await new_user(session)
    await suppress(session, user.id, SuppressionReason.USER_UNSUBSCRIBED, "STREAK_AT_RISK")
    preference = await type_preference(session, user.id, "STREAK_AT_RISK", "en")
    assert (preference.enabled, preference.unsubscribed) == (False, True)


async def test_quiet_hours_and_digest(session: AsyncSession) -> None:
    user = await new_user(session)
    assert await set_quiet_hours(session, user.id, "23:30", "6:05") == (
        dt.time(23, 30),
        dt.time(6, 5),
    )
    await set_digest_frequency(session, user.id, "MONTHLY")
    settings = await effective_settings(session, user.id)
    assert (settings["quiet_hours_start"], settings["quiet_hours_end"]) == ("23:30", "06:05")
    assert settings["digest_frequency"] == "MONTHLY"
    preferences = await reminder_preferences(session, user.id, "en")
    assert (preferences.quiet_hours_start, preferences.digest_frequency) == (
        dt.time(23, 30),
        "MONTHLY",
    )


# --------------------------------------------------------------------------------------------
# Refusals: nothing changed
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("write", "rule"),
    [
        (lambda s, u: set_type_time(s, u, "WORKOUT_REMINDER", "25:00"), "format"),
        (lambda s, u: set_type_time(s, u, "STREAK_AT_RISK", "noon"), "format"),
        (lambda s, u: set_type_time(s, u, "MISSED_WORKOUT", "08:00"), "not_timed"),
        (lambda s, u: set_type_days(s, u, "MISSED_WORKOUT", [1]), "not_timed"),
        (lambda s, u: set_type_days(s, u, "MONTHLY_DIGEST", [1]), "no_days"),
        (lambda s, u: set_type_days(s, u, "WORKOUT_REMINDER", []), "min_items"),
        (lambda s, u: set_type_days(s, u, "WEEKLY_DIGEST", []), "min_items"),
        (lambda s, u: set_type_days(s, u, "WEEKLY_DIGEST", [0]), "days"),
        (lambda s, u: set_type_days(s, u, "WEEKLY_DIGEST", [8]), "days"),
        (lambda s, u: set_type_days(s, u, "WEEKLY_DIGEST", [2, 2]), "days"),
        (lambda s, u: set_quiet_hours(s, u, "22:00", "22:00"), "same_time"),
        (lambda s, u: set_quiet_hours(s, u, "21:00", "7:60"), "format"),
        (lambda s, u: set_digest_frequency(s, u, "DAILY"), "choices"),
    ],
)
async def test_refused_values_change_nothing(session: AsyncSession, write: Any, rule: str) -> None:
    user = await new_user(session)
    # Some state of every kind, so that "nothing changed" can fail.
    await set_type_time(session, user.id, "STREAK_AT_RISK", "20:00")
    await unsubscribe(session, user.id, "MISSED_WORKOUT")
    before = await snapshot(session, user.id)
    with pytest.raises(InvalidReminderPreference) as refused:
        await write(session, user.id)
    assert refused.value.rule == rule
    assert await snapshot(session, user.id) == before


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("07:30", dt.time(7, 30)),
        ("7:30", dt.time(7, 30)),
        (" 7h30 ", dt.time(7, 30)),
        ("23.59", dt.time(23, 59)),
        ("0:00", dt.time(0, 0)),
    ],
)
def test_parse_time_accepts_what_people_type(typed: str, expected: dt.time) -> None:
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["24:00", "12:60", "1230", "7", "", "-1:30", "07:30:00", "٧:٣٠"])
def test_parse_time_refuses_the_rest(typed: str) -> None:
    with pytest.raises(InvalidReminderPreference) as refused:
        parse_time(typed)
    assert refused.value.rule == "format"
