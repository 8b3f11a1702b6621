"""Onboarding through the emulator in en, fr and ru; /help, /cancel, deep links."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from domain.models.audit import SystemEvent
from domain.models.lookup import Category
from domain.models.user import User, UserCategory
from tests.conversations.conftest import Harness

QUESTIONS = {
    "en": (
        "which language shall we speak?",
        "Which time zone are you in?",
        "What brings you here?",
    ),
    "fr": (
        "quelle langue parlons-nous ?",
        "Dans quel fuseau horaire êtes-vous ?",
        "Qu'est-ce qui vous amène ?",
    ),
    "ru": ("на каком языке будем общаться?", "В каком вы часовом поясе?", "Что привело вас сюда?"),
}
LANGUAGE_BUTTON = {"en": "English", "fr": "Français", "ru": "Русский"}
PURPOSE_BUTTON = {"en": "🏋 I train", "fr": "🏋 Je m'entraîne", "ru": "🏋 Я тренируюсь"}


async def user_row(harness: Harness, telegram_id: int) -> User:
    async with harness.session_factory() as session:
        user = await session.scalar(select(User).where(User.telegram_user_id == telegram_id))
        assert user is not None
        return user


@pytest.mark.parametrize("locale", ["en", "fr", "ru"])
async def test_onboarding_in_each_language(harness: Harness, locale: str) -> None:
    ann = harness.user("ann", language_code=locale)
    language_question, timezone_question, purpose_question = QUESTIONS[locale]

    replies = await ann.send("/start")
    assert language_question in replies[-1].text
    assert [b.text for row in replies[-1].buttons for b in row] == [
        "English",
        "Français",
        "Русский",
    ]

    replies = await ann.tap(LANGUAGE_BUTTON[locale])
    assert any(timezone_question in reply.text for reply in replies)
    assert any("Europe/Paris" in b.text for row in replies[-1].buttons for b in row)

    replies = await ann.tap("Europe/Paris")
    assert any("Europe/Paris" in reply.text for reply in replies)
    assert purpose_question in replies[-1].text

    replies = await ann.tap(PURPOSE_BUTTON[locale])
    assert "/settings" in replies[-1].text

    row = await user_row(harness, ann.user_id)
    assert (row.locale, row.timezone) == (locale, "Europe/Paris")
    assert row.last_login is not None
    async with harness.session_factory() as session:
        purposes = (
            await session.scalars(
                select(Category.code)
                .join(UserCategory, UserCategory.category_id == Category.id)
                .where(UserCategory.user_id == row.id)
            )
        ).all()
        logins = (
            await session.scalars(select(SystemEvent.id).where(SystemEvent.user_id == row.id))
        ).all()
    assert purposes == ["ATHLETE"]
    assert len(logins) == 1  # first contact: one LOGIN, not one per update

    # Onboarded: /start says welcome back instead of asking again.
    replies = await ann.send("/start")
    assert ann.first_name in replies[-1].text
    assert language_question not in replies[-1].text


async def test_language_choice_beats_telegram_language(harness: Harness) -> None:
    # Telegram says French; the person picks Russian: Russian from then on.
    marie = harness.user("marie", language_code="fr")
    replies = await marie.send("/start")
    assert "quelle langue" in replies[-1].text
    replies = await marie.tap("Русский")
    assert any("часовом поясе" in reply.text for reply in replies)
    replies = await marie.send("/help")
    assert "Вот что я умею" in replies[-1].text


async def test_unsupported_telegram_language_falls_back_to_default(harness: Harness) -> None:
    hans = harness.user("hans", language_code="de")
    replies = await hans.send("/start")
    assert "which language shall we speak?" in replies[-1].text


async def test_timezone_typed_location_and_wrong_input(harness: Harness) -> None:
    bob = harness.user("bob")
    await bob.send("/start")
    await bob.tap("English")
    # Wrong input in the time zone step: answered, nothing changes, the question stays.
    replies = await bob.send("Atlantis/Lost_City")
    assert "I do not know the time zone" in replies[-1].text
    replies = await bob.send_sticker()
    assert "Please tap a time zone" in replies[-1].text
    assert (await user_row(harness, bob.user_id)).timezone == "UTC"
    # A shared location (New York) sets the zone.
    replies = await bob.share_location(40.7128, -74.0060)
    assert any("America/New_York" in reply.text for reply in replies)
    assert (await user_row(harness, bob.user_id)).timezone == "America/New_York"
    # Typing instead of tapping at the purpose step.
    replies = await bob.send("coach")
    assert "Please tap one of the buttons" in replies[-1].text
    replies = await bob.tap("📋 I coach")
    assert "coach" in replies[-1].text


async def test_typed_city_name(harness: Harness) -> None:
    kira = harness.user("kira", language_code="ru")
    await kira.send("/start")
    await kira.tap("Русский")
    replies = await kira.send("kolkata")
    assert any("Asia/Kolkata" in reply.text for reply in replies)


async def test_cancel_leaves_onboarding(harness: Harness) -> None:
    carl = harness.user("carl")
    await carl.send("/start")
    replies = await carl.send("/cancel")
    assert "Cancelled" in replies[-1].text
    replies = await carl.send("/cancel")
    assert "nothing to cancel" in replies[-1].text


@pytest.mark.parametrize(
    ("payload", "answer"),
    [
        ("inv_abcdef123", "This invite link is not valid."),
        ("shr_ZZZ", "This share link does not exist."),
        ("cli_x-y_z", "This client link is not valid."),
        ("bogus", "This link is not valid or has expired."),
        ("inv_", "This link is not valid or has expired."),
    ],
)
async def test_deep_links_not_valid(harness: Harness, payload: str, answer: str) -> None:
    dana = harness.user("dana")
    replies = await dana.open_link(payload)
    assert answer in replies[0].text
    # A newcomer is then welcomed and onboarded.
    assert "which language shall we speak?" in replies[-1].text


async def test_deep_link_in_french(harness: Harness) -> None:
    eve = harness.user("eve", language_code="fr")
    replies = await eve.open_link("nope")
    assert "Ce lien n'est pas valide ou a expiré." in replies[0].text
    replies = await eve.open_link("inv_nope")
    assert "Ce lien d'invitation n'est pas valide." in replies[0].text


async def test_help_lists_commands_in_users_language(harness: Harness) -> None:
    ivan = harness.user("ivan", language_code="ru")
    replies = await ivan.send("/help")
    text = replies[-1].text
    assert "/settings" in text
    assert "/language" in text
    assert "/cancel" in text
    assert "Вот что я умею" in text


async def test_commands_published_in_each_language(harness: Harness) -> None:
    token = harness.emulator.default_token
    for locale, description in [
        ("en", "what I can do for you"),
        ("fr", "ce que je peux faire pour vous"),
        ("ru", "что я умею"),
    ]:
        commands = harness.emulator.commands(token, language_code=locale)
        by_name = {c["command"]: c["description"] for c in commands}
        assert by_name["help"] == description
        assert "start" not in by_name
