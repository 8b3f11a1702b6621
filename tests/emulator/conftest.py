"""Fixtures: a fresh emulator per test, a real aiogram Bot pointed at it, a polling runner."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.emulator import BotApiEmulator

TOKEN = BotApiEmulator.default_token


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emu = BotApiEmulator()
    await emu.start()
    yield emu
    await emu.stop()


def make_bot(emulator: BotApiEmulator, token: str = TOKEN) -> Bot:
    api = TelegramAPIServer.from_base(emulator.base_url)
    return Bot(token, session=AiohttpSession(api=api))


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    instance = make_bot(emulator)
    yield instance
    await instance.session.close()


@asynccontextmanager
async def polling(
    dp: Dispatcher, bot: Bot, emulator: BotApiEmulator, *, handle_as_tasks: bool = False
) -> AsyncIterator[None]:
    """Run the real aiogram polling loop for the duration of the block."""
    state = emulator.bot_state(bot.token)
    polls_before = state.stats.methods.get("getUpdates", 0)
    task = asyncio.create_task(
        dp.start_polling(
            bot,
            handle_as_tasks=handle_as_tasks,
            handle_signals=False,
            close_bot_session=False,
            polling_timeout=5,
        )
    )
    # Until the first getUpdates arrives, stop_polling() would find nothing to stop.
    for _ in range(500):
        if state.stats.methods.get("getUpdates", 0) > polls_before or task.done():
            break
        await asyncio.sleep(0.005)
    try:
        yield
    finally:
        if not task.done():
            await dp.stop_polling()
        await task
