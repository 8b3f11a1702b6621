"""Errors, timeouts, duplicate deliveries, floods and the fallbacks, through the emulator."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import BotOptions
from domain.errors import NotAllowed
from domain.models.audit import SecurityEvent
from domain.models.error import ErrorOccurrence
from domain.models.user import User
from domain.services.errors import find_occurrence
from domain.services.notifications import is_suppressed
from tests.conversations.conftest import Harness, running_bot


def failing_router() -> Router:
    router = Router(name="failing")

    @router.message(Command("boom"))
    async def boom(message: Message) -> None:
        raise RuntimeError("kaboom in a handler")

    @router.message(Command("slow"))
    async def slow(message: Message) -> None:
        await asyncio.sleep(30)

    @router.message(Command("forbidden"))
    async def forbidden(message: Message) -> None:
        raise NotAllowed("not your program", resource="PROGRAM")

    return router


@pytest.fixture
async def failing(app_engine: AsyncEngine):
    options = BotOptions(handler_timeout=1.0)
    async with running_bot(app_engine, options=options, extra_routers=[failing_router()]) as h:
        yield h


def reference_in(text: str) -> str:
    marker = "reference "
    assert marker in text, text
    return text.split(marker, 1)[1].split(")", 1)[0]


async def test_handler_exception_gives_reference_and_bot_goes_on(failing: Harness) -> None:
    zoe = failing.user("zoe")
    replies = await zoe.send("/boom")
    assert len(replies) == 1
    assert "Traceback" not in replies[0].text
    assert "kaboom" not in replies[0].text
    code = reference_in(replies[0].text)
    async with failing.session_factory() as session:
        occurrence = await find_occurrence(session, code)
        assert "kaboom in a handler" in (occurrence.message or "")
        assert occurrence.stack_trace
        assert "RuntimeError" in occurrence.stack_trace
    # The next update is served.
    replies = await zoe.send("/help")
    assert "Here is what I can do for you" in replies[-1].text


async def test_error_message_is_localized(failing: Harness) -> None:
    oleg = failing.user("oleg", language_code="ru")
    replies = await oleg.send("/boom")
    assert "Ошибка записана (код " in replies[0].text


async def test_handler_timeout_is_reported(failing: Harness) -> None:
    tim = failing.user("tim")
    replies = await tim.send("/slow")
    code = reference_in(replies[0].text)
    async with failing.session_factory() as session:
        occurrence = await find_occurrence(session, code)
        assert "TimeoutError" in (occurrence.message or "")
    replies = await tim.send("/cancel")
    assert "nothing to cancel" in replies[-1].text


async def test_not_allowed_is_answered_and_recorded(failing: Harness) -> None:
    una = failing.user("una")
    await una.send("/help")  # an existing user: the denial names them
    replies = await una.send("/forbidden")
    assert "not allowed" in replies[0].text
    async with failing.session_factory() as session:
        user_id = await session.scalar(select(User.id).where(User.telegram_user_id == una.user_id))
        denials = await session.scalar(
            select(func.count()).select_from(SecurityEvent).where(SecurityEvent.user_id == user_id)
        )
    assert denials == 1


async def test_same_update_delivered_twice_is_handled_once(harness: Harness) -> None:
    dup = harness.user("dup")
    await dup.send("/start")  # creates the user
    token = harness.emulator.default_token
    update = {
        "update_id": 990_000_000 + dup.user_id % 1_000_000,
        "message": {
            "message_id": 9999,
            "date": 1_700_000_000,
            "chat": {"id": dup.chat_id, "type": "private", "first_name": dup.first_name},
            "from": {"id": dup.user_id, "is_bot": False, "first_name": dup.first_name},
            "text": "/cancel",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    before = len(dup.messages)
    first = harness.emulator.push_update(token, update)
    await harness.emulator.wait_processed(token, first)
    second = harness.emulator.push_update(token, update)
    await harness.emulator.wait_processed(token, second)
    assert first == second
    answers = [m for m in dup.messages[before:] if "Cancelled" in m.text or "cancel" in m.text]
    assert len(answers) == 1
    assert harness.application.opening.skipped >= 1


async def test_flood_gets_one_polite_answer(app_engine: AsyncEngine) -> None:
    options = BotOptions(throttle_burst=3, throttle_rate=0.2)
    async with running_bot(app_engine, options=options) as h:
        fast = h.user("fast")
        outputs = []
        for _ in range(8):
            outputs.extend(await fast.send("/cancel"))
        slow_down = [m for m in outputs if "faster than I can read" in m.text]
        handled = [m for m in outputs if "cancel" in m.text.lower()]
        assert len(slow_down) == 1
        assert len(handled) == 3
        assert h.application.throttling.dropped == 5


async def test_fallbacks(harness: Harness) -> None:
    fay = harness.user("fay")
    await fay.send("/start")
    await fay.send("/cancel")
    cases = [
        (fay.send_sticker(), "Nice sticker!"),
        (fay.send_voice(), "I cannot listen to recordings yet"),
        (fay.send("/teleport"), "I do not know the command /teleport."),
        (fay.send("hello there"), "Sorry, I did not understand that."),
    ]
    for action, expected in cases:
        replies = await action
        assert expected in replies[-1].text
        assert "/help" in replies[-1].text  # each says what the bot can do
    # A document is offered to the program importer, which says what it takes.
    replies = await fay.upload(b"a,b\n1,2\n", filename="data.txt")
    assert "send a .yaml, .yml, .json or .csv file" in replies[-1].text


async def test_fallback_in_french(harness: Harness) -> None:
    luc = harness.user("luc", language_code="fr")
    replies = await luc.send("bonjour")
    assert "Désolé, je n'ai pas compris." in replies[-1].text


async def test_stale_button_is_answered(harness: Harness) -> None:
    sam = harness.user("sam")
    await sam.send("/start")
    await sam.tap("English")
    await sam.send("/cancel")
    # An onboarding button pressed after the conversation ended (an old message, a replayed
    # callback) is answered with an alert and changes nothing.
    outputs = await sam.press_data("ob_lang:fr")
    assert outputs == []
    assert sam.callback_answers[-1].text.startswith("This button is no longer active")
    async with harness.session_factory() as session:
        locale = await session.scalar(
            select(User.locale).where(User.telegram_user_id == sam.user_id)
        )
    assert locale == "en"


async def test_no_error_rows_for_normal_conversations(harness: Harness) -> None:
    # A guard for the suite: the error table only fills when something failed.
    nia = harness.user("nia")
    await nia.send("/start")
    async with harness.session_factory() as session:
        user_id = await session.scalar(select(User.id).where(User.telegram_user_id == nia.user_id))
        count = await session.scalar(
            select(func.count())
            .select_from(ErrorOccurrence)
            .where(ErrorOccurrence.user_id == user_id)
        )
    assert count == 0


async def test_blocking_and_unblocking_the_bot_is_recorded(harness: Harness) -> None:
    bea = harness.user("bea")
    await bea.send("/help")
    token = harness.emulator.default_token

    async def unreachable() -> bool | None:
        async with harness.session_factory() as session:
            return await session.scalar(
                select(User.is_unreachable).where(User.telegram_user_id == bea.user_id)
            )

    async def suppressed() -> bool:
        async with harness.session_factory() as session:
            user_id = await session.scalar(
                select(User.id).where(User.telegram_user_id == bea.user_id)
            )
            assert user_id is not None
            return await is_suppressed(session, user_id, "WORKOUT_REMINDER")

    await harness.emulator.wait_processed(token, bea.block())
    assert await unreachable() is True
    assert await suppressed() is True
    await harness.emulator.wait_processed(token, bea.unblock())
    assert await unreachable() is False
    assert await suppressed() is False
