"""/reminders through the emulator: every editor, refusals answered with nothing changed, forged
callback data, /cancel, the "stop these reminders" button under a reminder, in en/fr/ru."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select

from bot.emulator.driver import EmulatedUser
from bot.handlers.reminders import (
    DigestFrequency,
    ReminderDay,
    ReminderDays,
    ReminderDaysSave,
    ReminderOpen,
    ReminderSwitch,
    ReminderTime,
    Unsubscribe,
    unsubscribe_keyboard,
)
from domain.models.notification import (
    NotificationSuppression,
    NotificationType,
    UserNotificationPreference,
)
from domain.services.settings import effective_settings
from tests.conversations.conftest import Harness


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def stored(harness: Harness, person: EmulatedUser) -> dict[str, Any]:
    """What /reminders may change for this person: settings, preference rows, suppressions."""
    user_id = await harness.user_id(person)
    async with harness.session_factory() as session:
        settings = await effective_settings(session, user_id)
        rows = await session.execute(
            select(NotificationType.code, UserNotificationPreference)
            .join(
                NotificationType,
                NotificationType.id == UserNotificationPreference.notification_type_id,
            )
            .where(UserNotificationPreference.user_id == user_id)
        )
        suppressed = await session.execute(
            select(NotificationType.code, NotificationSuppression.suppression_reason)
            .outerjoin(
                NotificationType,
                NotificationType.id == NotificationSuppression.notification_type_id,
            )
            .where(NotificationSuppression.user_id == user_id)
        )
        return {
            "settings": settings,
            "rows": {
                code: (row.is_enabled, row.local_time, sorted(row.days_of_week))
                for code, row in rows
            },
            "suppressed": {(code, str(reason)) for code, reason in suppressed},
        }


async def test_screen_lists_types_and_general_settings(harness: Harness) -> None:
    amy = harness.user("amy")
    replies = await amy.send("/reminders")
    screen = replies[-1]
    assert "🔔 Your reminders" in screen.text
    assert "All reminders: on" in screen.text
    assert "🌙 Quiet hours: 22:00–07:00" in screen.text
    assert "📊 Progress digest: weekly" in screen.text
    assert "✅ Workout reminder: 18:00 · Monday, Wednesday, Friday" in screen.text
    assert "✅ Streak at risk: 18:00 · every day" in screen.text
    assert "✅ Weekly summary: 18:00 · Sunday" in screen.text
    assert "✅ Monthly summary: 18:00\n" in screen.text  # on the month's last day: no days
    assert "✅ Missed workout" in screen.text
    # A program assignment always comes: not offered.
    assert "Program assigned" not in screen.text
    labels = screen.labels()
    assert labels[0] == "✅ Workout reminder"
    assert {"🔕 Turn all reminders off", "🌙 Quiet hours", "✅ weekly", "📊 monthly"} <= set(labels)


async def test_time_editor_refuses_then_saves(harness: Harness) -> None:
    ben = harness.user("ben")
    await ben.send("/reminders")
    replies = await ben.tap("✅ Workout reminder")
    assert "Time: 18:00" in replies[-1].text
    replies = await ben.tap("⏰ Change time")
    assert "Send the new time as HH:MM" in replies[-1].text
    before = await stored(harness, ben)
    replies = await ben.send("25:99")
    assert "Please send a time as HH:MM (24 h)" in replies[-1].text
    assert "/cancel" in replies[-1].text
    replies = await ben.send_sticker()
    assert "Please type the new value" in replies[-1].text
    assert await stored(harness, ben) == before
    replies = await ben.send("6h45")
    assert replies[-1].text.startswith("Saved.")
    assert "Time: 06:45" in replies[-1].text
    assert (await stored(harness, ben))["settings"]["reminder_time"] == "06:45"
    # The conversation step is over: the same text is no longer read as a time (text with a
    # number outside any step is read as a set log, which needs an exercise).
    replies = await ben.send("07:00")
    assert "Which exercise?" in replies[-1].text
    assert (await stored(harness, ben))["settings"]["reminder_time"] == "06:45"


async def test_time_of_another_planned_type_is_its_own(harness: Harness) -> None:
    cy = harness.user("cy")
    await cy.send("/reminders")
    await cy.tap("✅ Streak at risk")
    await cy.tap("⏰ Change time")
    replies = await cy.send("20:30")
    assert "Time: 20:30" in replies[-1].text
    after = await stored(harness, cy)
    assert after["rows"]["STREAK_AT_RISK"][1].strftime("%H:%M") == "20:30"
    assert after["settings"]["reminder_time"] == "18:00"


async def test_days_editor_saves_and_refuses_no_day(harness: Harness) -> None:
    dee = harness.user("dee")
    await dee.send("/reminders")
    await dee.tap("✅ Weekly summary")
    replies = await dee.tap("📅 Change days")
    assert "Tap the days you want, then save." in replies[-1].text
    await dee.tap("▫️ Saturday")
    replies = await dee.tap("✅ Sunday")
    assert "Days: Saturday" in replies[-1].text
    replies = await dee.tap("💾 Save")
    assert replies[-1].text.startswith("Saved.")
    assert "Days: Saturday" in replies[-1].text
    assert (await stored(harness, dee))["rows"]["WEEKLY_DIGEST"][2] == [6]
    # No day at all: refused, nothing changed (turning it off is the way to have none).
    before = await stored(harness, dee)
    await dee.tap("📅 Change days")
    await dee.tap("✅ Saturday")
    await dee.tap("💾 Save")
    assert dee.callback_answers[-1].text == (
        "Keep at least one day, or turn this reminder off instead."
    )
    assert dee.callback_answers[-1].show_alert
    assert await stored(harness, dee) == before


async def test_training_days_edit_the_general_setting(harness: Harness) -> None:
    eve = harness.user("eve")
    await eve.send("/reminders")
    await eve.tap("✅ Workout reminder")
    await eve.tap("📅 Change days")
    await eve.tap("✅ Monday")
    await eve.tap("▫️ Tuesday")
    replies = await eve.tap("💾 Save")
    assert "Days: Tuesday, Wednesday, Friday" in replies[-1].text
    assert (await stored(harness, eve))["settings"]["reminder_days"] == ["TUE", "WED", "FRI"]


async def test_switches_for_one_type_and_for_all(harness: Harness) -> None:
    fay = harness.user("fay")
    await fay.send("/reminders")
    await fay.tap("✅ Missed workout")
    replies = await fay.tap("🔕 Turn off")
    assert "Now: off" in replies[-1].text
    assert "🔔 Turn on" in replies[-1].labels()
    assert "⏰ Change time" not in replies[-1].labels()  # an event type has no schedule
    assert (await stored(harness, fay))["rows"]["MISSED_WORKOUT"][0] is False
    replies = await fay.tap("⬅️ All reminders")
    assert "🔕 Missed workout" in replies[-1].text
    replies = await fay.tap("🔕 Turn all reminders off")
    assert "All reminders are off" in replies[-1].text
    assert "🔔 Turn all reminders on" in replies[-1].labels()
    assert (await stored(harness, fay))["settings"]["reminders_enabled"] is False
    await fay.tap("🔔 Turn all reminders on")
    await fay.tap("🔕 Missed workout")
    replies = await fay.tap("🔔 Turn on")
    assert "Now: on" in replies[-1].text
    after = await stored(harness, fay)
    assert after["settings"]["reminders_enabled"] is True
    assert after["rows"] == {}  # back to the defaults


async def test_quiet_hours_typed_start_and_end(harness: Harness) -> None:
    gus = harness.user("gus")
    await gus.send("/reminders")
    replies = await gus.tap("🌙 Quiet hours")
    assert "Send the start as HH:MM" in replies[-1].text
    replies = await gus.send("late")
    assert "Please send a time as HH:MM" in replies[-1].text
    replies = await gus.send("21:30")
    assert "Now send the end as HH:MM" in replies[-1].text
    replies = await gus.send("21:30")
    assert "Quiet hours must end at another time than they start." in replies[-1].text
    settings = (await stored(harness, gus))["settings"]
    assert (settings["quiet_hours_start"], settings["quiet_hours_end"]) == ("22:00", "07:00")
    replies = await gus.send("6:30")
    assert replies[-1].text.startswith("Saved.")
    assert "Quiet hours: 21:30–06:30" in replies[-1].text
    settings = (await stored(harness, gus))["settings"]
    assert (settings["quiet_hours_start"], settings["quiet_hours_end"]) == ("21:30", "06:30")


async def test_cancel_leaves_quiet_hours_unchanged(harness: Harness) -> None:
    hal = harness.user("hal")
    await hal.send("/reminders")
    await hal.tap("🌙 Quiet hours")
    await hal.send("20:00")
    replies = await hal.send("/cancel")
    assert "Cancelled. Nothing more was changed." in replies[-1].text
    settings = (await stored(harness, hal))["settings"]
    assert (settings["quiet_hours_start"], settings["quiet_hours_end"]) == ("22:00", "07:00")


async def test_digest_frequency(harness: Harness) -> None:
    ida = harness.user("ida")
    await ida.send("/reminders")
    replies = await ida.tap("📊 monthly")
    assert "📊 Progress digest: monthly" in replies[-1].text
    assert "✅ monthly" in replies[-1].labels()
    assert (await stored(harness, ida))["settings"]["digest_frequency"] == "MONTHLY"
    # Choosing it again redraws nothing and breaks nothing.
    await ida.tap("✅ monthly")
    assert ida.callback_answers[-1].text == "Saved."
    await ida.tap("📊 never")
    assert (await stored(harness, ida))["settings"]["digest_frequency"] == "NONE"


FIXED_DAY = "This one comes on a fixed day of the month: there are no days to choose."


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        ("ro:PROGRAM_ASSIGNED", "I do not know that kind of reminder."),
        ("ro:NO_SUCH_TYPE", "I do not know that kind of reminder."),
        ("rs:PROGRAM_ASSIGNED:0", "I do not know that kind of reminder."),
        ("rs:workout_reminder:0", "I do not know that kind of reminder."),
        ("rt:MISSED_WORKOUT", "This one is sent when its event happens: it has no time or days."),
        ("rd:INVITE_EXPIRING", "This one is sent when its event happens: it has no time or days."),
        ("rd:MONTHLY_DIGEST", FIXED_DAY),
        ("rdt:MONTHLY_DIGEST:1", FIXED_DAY),
        ("rdt:WEEKLY_DIGEST:9", "That is not one of the choices."),
        ("rdt:WEEKLY_DIGEST:0", "That is not one of the choices."),
        ("rds:PROGRAM_ASSIGNED", "I do not know that kind of reminder."),
        ("rdg:DAILY", "That is not one of the choices."),
        ("unsub:PROGRAM_ASSIGNED", "I do not know that kind of reminder."),
        ("unsub:NO_SUCH_TYPE", "I do not know that kind of reminder."),
    ],
)
async def test_forged_callback_data_is_refused(harness: Harness, data: str, answer: str) -> None:
    ivy = harness.user("ivy")
    await ivy.send("/reminders")
    screen = ivy.last
    assert screen is not None
    before = await stored(harness, ivy)
    await ivy.press_data(data, message=screen)
    assert ivy.callback_answers[-1].text == answer
    assert ivy.callback_answers[-1].show_alert
    assert await stored(harness, ivy) == before


def test_callback_data_fits_telegram_limit_with_the_longest_code() -> None:
    code = "X" * 50  # NOTIFICATION_TYPE.code is VARCHAR(50)
    factories: list[CallbackData] = [
        ReminderOpen(code=code),
        ReminderSwitch(code=code, on=False),
        ReminderTime(code=code),
        ReminderDays(code=code),
        ReminderDay(code=code, day=7),
        ReminderDaysSave(code=code),
        DigestFrequency(frequency="MONTHLY"),
        Unsubscribe(type_code=code),
    ]
    for data in factories:
        assert len(data.pack().encode()) <= 64, data
    assert Unsubscribe(type_code="WORKOUT_REMINDER").pack() == "unsub:WORKOUT_REMINDER"


async def test_unsubscribe_button_under_a_reminder_then_back_on(harness: Harness) -> None:
    jo = harness.user("jo")
    await jo.send("/reminders")
    # As the sender composes it: the template's own button, then the unsubscribe one.
    action = InlineKeyboardButton(text="Log workout", url="https://example.org/log")
    keyboard = unsubscribe_keyboard("STREAK_AT_RISK", "en")
    await harness.application.bot.send_message(
        jo.chat_id,
        "Your streak is at risk!",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[action], *keyboard.inline_keyboard]),
    )
    reminder = jo.last
    assert reminder is not None
    assert reminder.labels() == ["Log workout", "🔕 Stop these reminders"]
    replies = await jo.tap("🔕 Stop these reminders", message=reminder)
    assert jo.callback_answers[-1].text == "Turned off."
    assert replies[-1].text == (
        "🔕 Streak at risk: turned off, you will not get these any more.\n"
        "To turn them back on, send /reminders."
    )
    # The reminder stays with its other button; the unsubscribe one is gone.
    kept = next(m for m in jo.messages if m.message_id == reminder.message_id)
    assert kept.text == "Your streak is at risk!"
    assert kept.labels() == ["Log workout"]
    after = await stored(harness, jo)
    assert after["suppressed"] == {("STREAK_AT_RISK", "USER_UNSUBSCRIBED")}
    assert after["rows"]["STREAK_AT_RISK"][0] is False

    replies = await jo.send("/reminders")
    assert "🔕 Streak at risk" in replies[-1].text
    await jo.tap("🔕 Streak at risk")
    replies = await jo.tap("🔔 Turn on")
    assert "Now: on" in replies[-1].text
    after = await stored(harness, jo)
    assert after["suppressed"] == set()
    assert after["rows"] == {}


async def test_french_screen_and_unsubscribe(harness: Harness) -> None:
    lou = harness.user("lou", language_code="fr")
    replies = await lou.send("/reminders")
    screen = replies[-1]
    assert "🔔 Vos rappels" in screen.text
    assert "Tous les rappels : activé" in screen.text
    assert "✅ Rappel de séance : 18:00 · lundi, mercredi, vendredi" in screen.text
    assert "🌙 Heures calmes : 22:00–07:00" in screen.text
    replies = await lou.tap("✅ Séance manquée")
    assert "Le lendemain d'une séance prévue" in replies[-1].text
    await harness.application.bot.send_message(
        lou.chat_id, "Séance manquée", reply_markup=unsubscribe_keyboard("MISSED_WORKOUT", "fr")
    )
    replies = await lou.tap("🔕 Ne plus recevoir ces rappels")
    assert lou.callback_answers[-1].text == "Désactivé."
    assert "Pour les réactiver, envoyez /reminders." in replies[-1].text
    assert (await stored(harness, lou))["suppressed"] == {("MISSED_WORKOUT", "USER_UNSUBSCRIBED")}


async def test_russian_editors(harness: Harness) -> None:
    max_ = harness.user("max", language_code="ru")
    replies = await max_.send("/reminders")
    assert "🔔 Ваши напоминания" in replies[-1].text
    await max_.tap("✅ Напоминание о тренировке")
    await max_.tap("⏰ Изменить время")
    replies = await max_.send("99:00")
    assert "Отправьте время в формате ЧЧ:ММ (24 ч)" in replies[-1].text
    replies = await max_.send("07:05")
    assert replies[-1].text.startswith("Сохранено.")
    assert "Время: 07:05" in replies[-1].text
    replies = await max_.tap("📅 Изменить дни")
    assert "Отметьте нужные дни и сохраните." in replies[-1].text
    replies = await max_.tap("⬅️ Все напоминания")
    assert "Тихие часы: 22:00–07:00" in replies[-1].text
    # Outside an update too (the sender's tick): the label in the recipient's language.
    button = unsubscribe_keyboard("WEEKLY_DIGEST", "ru").inline_keyboard[0][0]
    assert (button.text, button.callback_data) == (
        "🔕 Больше не присылать такие",
        "unsub:WEEKLY_DIGEST",
    )
