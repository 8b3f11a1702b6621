"""Scale-out: two dispatchers sharing Redis (RedisStorage + RedisEventIsolation) keep one
person's conversation: it starts on one and goes on with the other."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.emulator.server import BotApiEmulator
from domain.models.user import User
from tests.conversations.conftest import running_bot

REDIS_URL = os.environ.get("REDIS_URL")

pytestmark = pytest.mark.skipif(
    REDIS_URL is None, reason="REDIS_URL is not set (.ci/run sets it when Redis answers)"
)


async def test_conversation_state_survives_a_change_of_worker(app_engine: AsyncEngine) -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        rae = emulator.user("rae_redis", user_id=820_000_001, language_code="en")
        async with running_bot(app_engine, redis_url=REDIS_URL, emulator=emulator) as first:
            from aiogram.fsm.storage.redis import RedisStorage

            assert isinstance(first.application.dispatcher.storage, RedisStorage)
            replies = await rae.send("/start")
            assert "which language" in replies[-1].text
        # The first worker is gone; a second one, sharing only Redis, continues.
        async with running_bot(app_engine, redis_url=REDIS_URL, emulator=emulator) as second:
            replies = await rae.tap("Français")
            assert any("fuseau horaire" in reply.text for reply in replies)
            replies = await rae.send("Europe/Paris")
            assert "Qu'est-ce qui vous amène ?" in replies[-1].text
            async with second.session_factory() as session:
                user = await session.scalar(
                    select(User).where(User.telegram_user_id == rae.user_id)
                )
            assert user is not None
            assert (user.locale, user.timezone) == ("fr", "Europe/Paris")
            await rae.send("/cancel")
    finally:
        await emulator.stop()


async def test_without_redis_state_is_per_process(app_engine: AsyncEngine) -> None:
    # The contrast that makes the test above mean something: memory storage forgets.
    emulator = BotApiEmulator()
    await emulator.start()
    try:
        max_ = emulator.user("max_memory", user_id=820_000_002)
        async with running_bot(app_engine, emulator=emulator):
            await max_.send("/start")
        async with running_bot(app_engine, emulator=emulator):
            await max_.tap("Français")
            assert max_.callback_answers[-1].text.startswith("This button is no longer active")
    finally:
        await emulator.stop()
