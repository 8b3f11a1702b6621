"""Conversations through the local Bot API emulator: the real aiogram polling loop and HTTP
client, the real middlewares and routers, the session's PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest
from aiogram import Router
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import Application, BotOptions, build_application
from bot.emulator.driver import EmulatedUser
from bot.emulator.server import BotApiEmulator
from bot.runtime import app_engine_kwargs, start_polling
from domain.config import load_settings
from domain.db import create_engine, session_factory
from domain.models.access import Role
from domain.models.user import User, UserRole

# Telegram ids unique over the whole test session (the database is shared by the tests).
_telegram_ids = itertools.count(700_000_001)


@dataclass
class Harness:
    emulator: BotApiEmulator
    application: Application
    session_factory: async_sessionmaker[AsyncSession]

    async def user_id(self, person: EmulatedUser) -> uuid.UUID:
        """The account of someone who has written to the bot."""
        async with self.session_factory() as session:
            found = await session.scalar(
                select(User.id).where(User.telegram_user_id == person.user_id)
            )
        assert found is not None, person.username
        return found

    async def grant_role(self, person: EmulatedUser, code: str) -> uuid.UUID:
        """Give someone who has written to the bot a platform role (COACH …); their id."""
        user_id = await self.user_id(person)
        async with self.session_factory() as session, session.begin():
            role = await session.scalar(
                select(Role.id).where(Role.code == code, Role.institution_id.is_(None))
            )
            session.add(UserRole(user_id=user_id, role_id=role, updated_by=user_id))
        return user_id

    def user(self, name: str, language_code: str = "en") -> EmulatedUser:
        return self.emulator.user(
            f"{name}_{next(_telegram_ids)}",
            first_name=name.capitalize(),
            language_code=language_code,
            user_id=next(_telegram_ids),
        )


@pytest.fixture(scope="session")
async def app_engine(database_url: URL) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, **app_engine_kwargs())
    yield engine
    await engine.dispose()


@contextlib.asynccontextmanager
async def running_bot(
    engine: AsyncEngine,
    *,
    options: BotOptions | None = None,
    redis_url: str | None = None,
    emulator: BotApiEmulator | None = None,
    extra_routers: Sequence[Router] = (),
) -> AsyncIterator[Harness]:
    own_emulator = emulator is None
    emulator = emulator or BotApiEmulator()
    base_url = emulator.base_url if not own_emulator else await emulator.start()
    factory = session_factory(engine)
    settings = load_settings(redis_url=redis_url, database_url=None)
    application = build_application(
        settings,
        factory,
        token=BotApiEmulator.default_token,
        api_base=base_url,
        options=options,
        extra_routers=extra_routers,
    )
    polls_before = len(emulator.calls_to("getUpdates"))
    polling = asyncio.create_task(start_polling(application, handle_as_tasks=False))
    # Ready when it polls (commands are published before the first getUpdates).
    for _ in range(200):
        if len(emulator.calls_to("getUpdates")) > polls_before or polling.done():
            break
        await asyncio.sleep(0.02)
    try:
        yield Harness(emulator, application, factory)
    finally:
        with contextlib.suppress(RuntimeError):
            await application.dispatcher.stop_polling()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(polling, timeout=10)
        if own_emulator:
            await emulator.stop()


@pytest.fixture
async def harness(app_engine: AsyncEngine) -> AsyncIterator[Harness]:
    async with running_bot(app_engine) as running:
        yield running


# Scripted people tap faster than anyone types; the flood guard has its own tests
# (test_resilience.py) and must not answer in their place elsewhere.
SCRIPTED = BotOptions(throttle_burst=100, throttle_rate=50.0)


@pytest.fixture
async def scripted_harness(app_engine: AsyncEngine) -> AsyncIterator[Harness]:
    async with running_bot(app_engine, options=SCRIPTED) as running:
        yield running
