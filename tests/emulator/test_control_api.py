"""The JSON control API used by out-of-process drivers."""

from __future__ import annotations

import aiohttp
from aiogram import Bot, Dispatcher, F
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.emulator import BotApiEmulator
from tests.emulator.conftest import polling


async def test_control_api(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()
    blocked: list[str] = []

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
        )
        await message.answer("start", reply_markup=markup)

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"> {message.text}")

    @dp.callback_query()
    async def go(query: CallbackQuery) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text("gone")

    @dp.my_chat_member()
    async def member(update: ChatMemberUpdated) -> None:
        blocked.append(update.new_chat_member.status)

    base = f"{emulator.base_url}/_emulator"
    async with polling(dp, bot, emulator), aiohttp.ClientSession() as http:
        async with http.post(f"{base}/users/vic", json={"language_code": "fr"}) as response:
            assert (await response.json())["language_code"] == "fr"
        async with http.post(f"{base}/users/vic/send", json={"text": "hello"}) as response:
            body = await response.json()
        assert [m["text"] for m in body["outputs"]] == ["> hello"]
        async with http.post(f"{base}/users/vic/link", json={"payload": "x"}) as response:
            body = await response.json()
        assert body["outputs"][0]["buttons"][0][0]["callback_data"] == "go"
        async with http.post(f"{base}/users/vic/tap", json={"button": "Go"}) as response:
            body = await response.json()
        assert body["outputs"][0]["event"] == "edit"
        assert body["outputs"][0]["text"] == "gone"
        async with http.post(f"{base}/users/vic/tap", json={"button": 7}) as response:
            assert response.status == 404
        async with http.post(f"{base}/users/vic/send", json={}) as response:
            assert response.status == 400
        async with http.post(f"{base}/users/vic/block") as response:
            assert (await response.json())["outputs"] == []
        async with http.post(f"{base}/users/vic/unblock") as response:
            assert response.status == 200
        async with http.get(f"{base}/users/vic/messages") as response:
            messages = (await response.json())["messages"]
        assert [m["text"] for m in messages] == ["> hello", "gone"]
        async with http.post(f"{base}/config", json={"send_rate": 5}) as response:
            assert (await response.json()) == {"send_rate": 5, "per_chat_rate": None}
        async with http.get(f"{base}/stats") as response:
            stats = await response.json()
    assert blocked == ["kicked", "member"]
    assert stats["sent_messages"] == 2
    assert stats["methods"]["answerCallbackQuery"] == 1
    assert emulator.user("vic").language_code == "fr"
    assert emulator.send_rate == 5
