"""The real aiogram polling loop against the emulator: updates, offsets, conflicts, driver."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramConflictError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)

from bot.emulator import BotApiEmulator, render
from tests.emulator.conftest import TOKEN, polling


def echo_router() -> Router:
    router = Router()
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text="Yes", callback_data="yes"),
                InlineKeyboardButton(text="No", callback_data="no"),
            ],
            [InlineKeyboardButton(text="Docs", url="https://example.org/docs")],
        ]
    )

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        suffix = f" ({command.args})" if command.args else ""
        await message.answer(
            f"Welcome, <b>{message.chat.first_name}</b>{suffix}", parse_mode="HTML"
        )
        await message.answer("Ready?", reply_markup=keyboard)

    @router.message(Command("menu"))
    async def menu(message: Message) -> None:
        reply = ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text="Log workout"), KeyboardButton(text="History")],
                [KeyboardButton(text="Where am I", request_location=True)],
            ]
        )
        await message.answer("Menu", reply_markup=reply)

    @router.message(F.location)
    async def location(message: Message) -> None:
        assert message.location is not None
        await message.answer(f"at {message.location.latitude:.2f}")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query(F.data == "yes")
    async def yes(query: CallbackQuery) -> None:
        await query.answer("Noted")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Confirmed")

    @router.callback_query(F.data == "no")
    async def no(query: CallbackQuery) -> None:
        await query.answer("Cancelled", show_alert=True)

    return router


async def test_get_me(bot: Bot, emulator: BotApiEmulator) -> None:
    me = await bot.get_me()
    assert me.id == 123456789
    assert me.is_bot
    assert me.username == "motriforge_test_bot"
    emulator.set_bot_username(TOKEN, "other_bot")
    assert (await bot.get_me()).username == "other_bot"


async def test_echo_and_tap_with_real_polling(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()
    dp.include_router(echo_router())
    alice = emulator.user("alice", first_name="Alice")
    async with polling(dp, bot, emulator):
        outputs = await alice.send("/start")
        assert [m.text for m in outputs] == ["Welcome, Alice", "Ready?"]
        assert outputs[0].raw_text == "Welcome, <b>Alice</b>"
        assert outputs[0].data["entities"] == [{"type": "bold", "offset": 9, "length": 5}]
        assert outputs[1].labels() == ["Yes", "No", "Docs"]

        assert [m.text for m in await alice.send("hello there")] == ["hello there"]

        tapped = await alice.tap("yes")  # case-insensitive label match
        assert len(tapped) == 1
        assert tapped[0].event == "edit"
        assert tapped[0].text == "Confirmed"
        assert tapped[0].buttons == []  # edit_text without markup drops the keyboard
        assert alice.callback_answers[-1].text == "Noted"

        await alice.send("/start deep")
        assert (await alice.tap(2)) == []  # "No": only answers the query
        assert alice.callback_answers[-1].show_alert
        assert await alice.tap("Docs") == []  # a URL button: the bot sees nothing
        with pytest.raises(LookupError, match="Maybe"):
            await alice.tap("Maybe")

        linked = await alice.open_link("ref42")
        assert linked[0].text == "Welcome, Alice (ref42)"

        menu = await alice.send("/menu")
        assert menu[0].reply_keyboard
        assert [m.text for m in await alice.tap("History")] == ["History"]
        assert [m.text for m in await alice.tap("where")] == ["at 48.86"]  # request_location

    assert alice.last is not None
    assert alice.last.text == "at 48.86"
    assert [m.message_id for m in alice.messages] == sorted(m.message_id for m in alice.messages)
    edited = [m for m in emulator.messages(alice.chat_id) if m.edited]
    assert [m.text for m in edited] == ["Confirmed"]
    assert render(tapped, "motriforge_test_bot") == "<- @motriforge_test_bot (edited): Confirmed"
    assert render(outputs[1:], "@motriforge_test_bot") == (
        "<- @motriforge_test_bot: Ready?\n   [1] Yes  [2] No\n   [3] Docs"
    )


async def test_offset_confirms_updates(bot: Bot, emulator: BotApiEmulator) -> None:
    bob = emulator.user("bob")
    await bob.send("one", wait=False)
    await bob.send("two", wait=False)
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    # Not confirmed yet: delivered again.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [u.update_id for u in first]
    confirmed = await bot.get_updates(offset=first[0].update_id + 1, timeout=0)
    assert [u.message.text for u in confirmed if u.message] == ["two"]
    await emulator.wait_processed(TOKEN, first[0].update_id, timeout=0.1)
    with pytest.raises(TimeoutError):
        await emulator.wait_processed(TOKEN, first[1].update_id, timeout=0.05)
    assert await bot.get_updates(offset=first[1].update_id + 1, timeout=0) == []
    await emulator.wait_processed(TOKEN, first[1].update_id, timeout=0.1)
    assert emulator.bot_state(TOKEN).confirmed_offset == first[1].update_id + 1


async def test_same_update_id_pushed_twice_is_delivered_twice(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    seen: list[int] = []
    dp = Dispatcher()

    @dp.message()
    async def record(message: Message) -> None:
        seen.append(message.message_id)

    carol = emulator.user("carol")
    message = emulator.incoming_message(TOKEN, emulator.user_record("carol"), {"text": "dup"})
    async with polling(dp, bot, emulator):
        first = emulator.push_update(TOKEN, {"update_id": 500, "message": message})
        await emulator.wait_processed(TOKEN, first)
        second = emulator.push_update(TOKEN, {"update_id": 500, "message": message})
        await emulator.wait_processed(TOKEN, second)
        # The next automatic id continues after the explicit one.
        third = await carol.send("after")
    assert first == second == 500
    assert seen == [message["message_id"], message["message_id"], message["message_id"] + 1]
    assert third == []


async def test_long_poll_returns_when_an_update_arrives(bot: Bot, emulator: BotApiEmulator) -> None:
    dave = emulator.user("dave")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await dave.send("ping", wait=False)
    updates = await poll
    assert [u.message.text for u in updates if u.message] == ["ping"]
    assert time.monotonic() - started < 2


async def test_conflict_when_webhook_is_set(bot: Bot, emulator: BotApiEmulator) -> None:
    await bot.set_webhook("http://127.0.0.1:9/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates(timeout=0)
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


async def test_conflict_for_older_concurrent_poll(bot: Bot, emulator: BotApiEmulator) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_handle_as_tasks_with_settle_time(bot: Bot, emulator: BotApiEmulator) -> None:
    # aiogram's default confirms an update before its handler finishes; settle_time covers it.
    emulator.settle_time = 0.05
    dp = Dispatcher()

    @dp.message()
    async def slow(message: Message) -> None:
        await asyncio.sleep(0.01)
        await message.answer("done")

    erin = emulator.user("erin")
    async with polling(dp, bot, emulator, handle_as_tasks=True):
        assert [m.text for m in await erin.send("go")] == ["done"]


async def test_throughput_many_updates(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()

    @dp.message()
    async def answer(message: Message) -> None:
        await message.answer("ok")

    users = [emulator.user(f"load{i}") for i in range(20)]
    started = time.monotonic()
    async with polling(dp, bot, emulator, handle_as_tasks=True):
        for _ in range(25):
            for user in users:
                await user.send("x", wait=False)
        last = emulator.bot_state(TOKEN).next_update_id - 1
        await emulator.wait_processed(TOKEN, last, timeout=20)
        for _ in range(200):
            if emulator.stats()["sent_messages"] == 500:
                break
            await asyncio.sleep(0.01)
    assert emulator.stats()["sent_messages"] == 500
    assert emulator.stats()["updates_pending"] == 0
    assert time.monotonic() - started < 15
