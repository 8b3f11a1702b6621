"""/settings and /language: every kind of setting edited through buttons or text, refusals
answered with nothing changed."""

from __future__ import annotations

from sqlalchemy import select

from domain.models.user import User
from domain.services.settings import effective_settings
from tests.conversations.conftest import Harness


async def settings_of(harness: Harness, telegram_id: int) -> dict[str, object]:
    async with harness.session_factory() as session:
        user_id = await session.scalar(select(User.id).where(User.telegram_user_id == telegram_id))
        assert user_id is not None
        return await effective_settings(session, user_id)


async def test_settings_screen_lists_groups_in_users_language(harness: Harness) -> None:
    lea = harness.user("lea", language_code="fr")
    replies = await lea.send("/settings")
    screen = replies[-1]
    assert "Vos réglages" in screen.text
    assert "Fuseau horaire: UTC" in screen.text
    assert "Unité de poids: kilogrammes (kg)" in screen.text
    assert "Rappels d'entraînement" in screen.labels()


async def test_enum_choice_and_reset(harness: Harness) -> None:
    uma = harness.user("uma")
    await uma.send("/settings")
    replies = await uma.tap("Weight unit")
    assert "Now: kilograms (kg)" in replies[-1].text
    replies = await uma.tap("pounds (lb)")
    assert "Saved." in replies[-1].text
    assert "Now: pounds (lb)" in replies[-1].text
    assert (await settings_of(harness, uma.user_id))["weight_unit"] == "lb"
    replies = await uma.tap("↩️ Use the default")
    assert "Now: kilograms (kg)" in replies[-1].text
    assert (await settings_of(harness, uma.user_id))["weight_unit"] == "kg"


async def test_boolean_and_list(harness: Harness) -> None:
    vic = harness.user("vic")
    await vic.send("/settings")
    await vic.tap("Training reminders")
    replies = await vic.tap("off")
    assert "Now: off" in replies[-1].text
    await vic.tap("⬅️ All settings")
    await vic.tap("Reminder days")
    await vic.tap("✅ Monday")  # untick
    await vic.tap("▫️ Saturday")  # tick
    replies = await vic.tap("💾 Save")
    assert "Now: Wednesday, Friday, Saturday" in replies[-1].text
    stored = await settings_of(harness, vic.user_id)
    assert stored["reminders_enabled"] is False
    assert stored["reminder_days"] == ["WED", "FRI", "SAT"]


async def test_list_refuses_a_forged_item_and_may_be_emptied(harness: Harness) -> None:
    wyn = harness.user("wyn")
    await wyn.send("/settings")
    await wyn.tap("Reminder days")
    # A day that is not among the choices, forged in the callback data: refused, no change.
    await wyn.press_data("sett:reminder_days:XYZ")
    assert wyn.callback_answers[-1].text == "That is not one of the choices."
    assert wyn.callback_answers[-1].show_alert
    # No day at all is a valid choice: no reminders.
    for day in ("✅ Monday", "✅ Wednesday", "✅ Friday"):
        await wyn.tap(day)
    replies = await wyn.tap("💾 Save")
    assert "Now: none" in replies[-1].text
    assert (await settings_of(harness, wyn.user_id))["reminder_days"] == []


async def test_typed_time_with_wrong_input_then_right(harness: Harness) -> None:
    xia = harness.user("xia")
    await xia.send("/settings")
    replies = await xia.tap("Reminder time")
    assert "HH:MM" in replies[-1].text
    replies = await xia.send("25:99")
    assert "Please send a time as HH:MM" in replies[-1].text
    assert (await settings_of(harness, xia.user_id))["reminder_time"] == "18:00"
    replies = await xia.send_sticker()
    assert "Please type the new value" in replies[-1].text
    replies = await xia.send("7:15")
    assert "Saved." in replies[-1].text
    assert "07:15" in replies[-1].text
    assert (await settings_of(harness, xia.user_id))["reminder_time"] == "07:15"


async def test_typed_timezone_in_russian(harness: Harness) -> None:
    yan = harness.user("yan", language_code="ru")
    await yan.send("/settings")
    await yan.tap("Часовой пояс")
    replies = await yan.send("Нарния")
    assert "Я не знаю такого часового пояса" in replies[-1].text
    replies = await yan.send("Asia/Kolkata")
    assert "Сохранено." in replies[-1].text
    assert (await settings_of(harness, yan.user_id))["timezone"] == "Asia/Kolkata"


async def test_language_command_switches_the_conversation(harness: Harness) -> None:
    zed = harness.user("zed")
    replies = await zed.send("/language")
    assert "Now: English" in replies[-1].text
    replies = await zed.tap("Français")
    assert "Enregistré." in replies[-1].text
    replies = await zed.send("/help")
    assert "Voici ce que je peux faire pour vous" in replies[-1].text


async def test_forged_setting_key_in_callback_changes_nothing(harness: Harness) -> None:
    # Callback data is user input: an unknown or non-user setting key is refused.
    ola = harness.user("ola")
    await ola.send("/settings")
    screen = ola.last
    assert screen is not None
    before = await settings_of(harness, ola.user_id)
    outputs = await ola.press_data("setv:no_such_setting:1", message=screen)
    assert any("could not find" in m.text for m in outputs)
    assert await settings_of(harness, ola.user_id) == before
