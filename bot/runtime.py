"""Running the bot: the database it needs, long polling, the webhook server."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Application, BotOptions, build_application
from domain import migrate
from domain.config import Settings
from domain.db import create_engine, open_database, session_factory

if TYPE_CHECKING:
    from bot.scheduler import Deliver
    from domain.db import Database

logger = logging.getLogger(__name__)


class NotReady(Exception):
    """The database is not migrated (or not seeded); the message says what to run."""


def app_engine_kwargs() -> dict[str, object]:
    return {
        # JIT compilation costs 100+ ms on the small, indexed queries a chat makes.
        "connect_args": {"server_settings": {"jit": "off"}},
        "pool_size": 10,
        # A ping per checkout is a round trip per update; a connection the server dropped
        # fails that one update instead (answered with a reference code), and the pool
        # replaces it. Idle connections are recycled before servers usually drop them.
        "pool_pre_ping": False,
        "pool_recycle": 1800,
    }


async def prepare_database(database: Database) -> None:
    """Bring the schema to head and load the reference data when it is missing (the shell)."""
    from domain.models.access import Role
    from domain.reference.loader import load_reference_data, read_reference_data

    await migrate.upgrade(database.url, "head")
    engine = create_engine(database.url)
    try:
        async with session_factory(engine)() as session, session.begin():
            if await session.scalar(select(Role.id).limit(1)) is None:
                await load_reference_data(session, read_reference_data())
    finally:
        await engine.dispose()


@asynccontextmanager
async def app_database(
    settings: Settings, *, prepare: bool = False, announce: bool = True
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    database = await open_database(settings, announce=announce)
    try:
        if prepare:
            await prepare_database(database)
        elif await migrate.current_revision(database.url) != migrate.head_revision():
            raise NotReady("the database schema is not up to date; run `motriforge db upgrade`")
        engine = create_engine(database.url, **app_engine_kwargs())
        try:
            yield session_factory(engine)
        finally:
            await engine.dispose()
    finally:
        database.stop()


@asynccontextmanager
async def background_ticks(
    application: Application,
    settings: Settings,
    factory: async_sessionmaker[AsyncSession],
    *,
    enabled: bool,
) -> AsyncIterator[None]:
    """The scheduler's ticks (planning, delivery, digests, rollups, retention) in this
    process, unless disabled (`--no-scheduler`: run them in `motriforge scheduler`). Several
    processes may run them: an advisory lock elects one leader."""
    if not enabled:
        yield
        return
    from bot.delivery import DeliveryOptions, Sender
    from bot.scheduler import Scheduler

    sender = Sender.for_bot(
        application.bot,
        factory,
        redis_url=settings.redis_url,
        options=DeliveryOptions(rate=settings.send_rate),
    )
    try:
        async with Scheduler(factory, deliver=sender.deliver_due):
            yield
    finally:
        await sender.close()


async def run_polling(
    settings: Settings, *, options: BotOptions | None = None, scheduler: bool = True
) -> None:
    async with app_database(settings) as factory:
        application = build_application(settings, factory, options=options)
        async with background_ticks(application, settings, factory, enabled=scheduler):
            freeze_startup_objects()
            await start_polling(application)


async def run_scheduler_process(settings: Settings, stop_event: asyncio.Event) -> None:
    """`motriforge scheduler`: the ticks alone, sending through the Bot API."""
    from bot.app import build_bot
    from bot.delivery import DeliveryOptions, Sender
    from bot.scheduler import run_scheduler

    if settings.bot_token is None:
        raise ValueError("BOT_TOKEN is not set")
    bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)
    senders: list[Sender] = []

    def make_deliver(factory: async_sessionmaker[AsyncSession]) -> Deliver:
        sender = Sender.for_bot(
            bot,
            factory,
            redis_url=settings.redis_url,
            options=DeliveryOptions(rate=settings.send_rate),
        )
        senders.append(sender)
        return sender.deliver_due

    try:
        await run_scheduler(settings, stop_event, make_deliver=make_deliver)
    finally:
        for sender in senders:
            await sender.close()
        await bot.session.close()


def freeze_startup_objects() -> None:
    """Move everything built at start-up (routers, types, statements, catalogues: ~300,000
    objects) out of the garbage collector's reach: they live as long as the process, and each
    full collection would otherwise walk them all (a pause of tens of milliseconds on an
    update now and then). The standard library's own advice for long-lived processes."""
    gc.collect()
    gc.freeze()


async def start_polling(application: Application, *, handle_as_tasks: bool = True) -> None:
    """Long polling until stopped. Updates of one person are handled in order (event
    isolation); different people's updates concurrently when `handle_as_tasks`."""
    bot, dispatcher = application.bot, application.dispatcher
    try:
        await bot.delete_webhook()  # getUpdates is refused while a webhook is set
        await application.publish_commands()
        await dispatcher.start_polling(
            bot,
            handle_as_tasks=handle_as_tasks,
            allowed_updates=dispatcher.resolve_used_update_types(),
            handle_signals=False,
            close_bot_session=True,
        )
    finally:
        await dispatcher.storage.close()


async def run_webhook(
    settings: Settings,
    *,
    host: str,
    port: int,
    path: str = "/webhook",
    options: BotOptions | None = None,
    stop_event: asyncio.Event | None = None,
    scheduler: bool = True,
) -> None:
    from bot.web import run_webhook_server

    if settings.webhook_secret is None:
        raise ValueError("WEBHOOK_SECRET is not set")
    if settings.webhook_url is None:
        raise ValueError("WEBHOOK_URL is not set")
    async with app_database(settings) as factory:
        application = build_application(settings, factory, options=options)

        async def healthy() -> bool:
            async with factory() as session:
                return (await session.scalar(select(1))) == 1

        await application.publish_commands()
        async with background_ticks(application, settings, factory, enabled=scheduler):
            freeze_startup_objects()
            await run_webhook_server(
                application.dispatcher,
                application.bot,
                secret=settings.webhook_secret.get_secret_value(),
                webhook_url=settings.webhook_url,
                host=host,
                port=port,
                path=path,
                metrics=application.metrics,
                health_check=healthy,
                stop_event=stop_event,
            )
