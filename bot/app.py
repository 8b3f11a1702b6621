"""The aiogram application: the Bot (pointed at TELEGRAM_API_BASE), the Dispatcher with its
middlewares and one router per feature (bot/handlers)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, clock_middleware, wall_clock
from bot.commands import publish_commands
from bot.handlers import all_commands, feature_routers
from bot.i18n import CatalogI18n
from bot.inline_filters import inline_pure_filters
from bot.metrics import Metrics
from bot.middlewares.database import DatabaseMiddleware
from bot.middlewares.errors import ErrorMiddleware
from bot.middlewares.locale import LocaleMiddleware
from bot.middlewares.opening import OpenUpdateMiddleware
from bot.middlewares.throttling import ThrottlingMiddleware
from bot.router_gates import gate_routers
from domain.config import SUPPORTED_LOCALES, Settings


@dataclass(frozen=True)
class BotOptions:
    """Tunables of the update pipeline (defaults suit a person typing)."""

    throttle_burst: int = 8
    throttle_rate: float = 2.0  # updates per second, sustained
    handler_timeout: float = 30.0  # seconds before a handler is cancelled and reported
    # What handlers get as ``now`` (aware UTC): the wall clock, or a test's clock.
    clock: Clock = wall_clock


@dataclass
class Application:
    bot: Bot
    dispatcher: Dispatcher
    i18n: CatalogI18n
    metrics: Metrics
    opening: OpenUpdateMiddleware
    throttling: ThrottlingMiddleware
    extra: dict[str, object] = field(default_factory=dict)

    async def publish_commands(self) -> None:
        await publish_commands(self.bot, all_commands(), self.i18n, SUPPORTED_LOCALES)


def build_bot(token: str, api_base: str, metrics: Metrics | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    if metrics is not None:
        session.middleware(metrics.request_middleware())
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def fsm_backend(redis_url: str | None) -> tuple[BaseStorage, BaseEventIsolation]:
    """Conversation state and per-user ordering: in memory for one process, in Redis when
    several processes serve the same bot (docs/decisions.md)."""
    if redis_url is None:
        return MemoryStorage(), SimpleEventIsolation()
    from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage

    storage = RedisStorage.from_url(redis_url)
    return storage, RedisEventIsolation(storage.redis)


def build_dispatcher(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    default_locale: str = "en",
    redis_url: str | None = None,
    options: BotOptions | None = None,
    metrics: Metrics | None = None,
    i18n: CatalogI18n | None = None,
    extra_routers: Sequence[Router] = (),
) -> tuple[Dispatcher, CatalogI18n, OpenUpdateMiddleware, ThrottlingMiddleware]:
    options = options or BotOptions()
    i18n = i18n or CatalogI18n(default_locale=default_locale)
    storage, isolation = fsm_backend(redis_url)
    dispatcher = Dispatcher(storage=storage, events_isolation=isolation)
    throttling = ThrottlingMiddleware(
        i18n, burst=options.throttle_burst, rate=options.throttle_rate
    )
    engine = session_factory.kw["bind"]
    opening = OpenUpdateMiddleware(engine, default_locale)
    outer = dispatcher.update.outer_middleware
    if metrics is not None:
        outer(metrics.update_middleware())
    outer(clock_middleware(options.clock))
    outer(
        ErrorMiddleware(
            session_factory,
            i18n,
            handler_timeout=options.handler_timeout,
            on_error=metrics.record_error if metrics is not None else None,
        )
    )
    outer(throttling)
    outer(DatabaseMiddleware(session_factory))
    outer(opening)
    dispatcher.startup.register(opening.open)
    dispatcher.shutdown.register(opening.close)
    outer(LocaleMiddleware(i18n))
    # Extra routers (tests, plugins) go before the features: the fallback takes everything.
    dispatcher.include_routers(*extra_routers, *feature_routers())
    inline_pure_filters(dispatcher)
    gate_routers(dispatcher)
    return dispatcher, i18n, opening, throttling


def build_application(
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    token: str | None = None,
    api_base: str | None = None,
    options: BotOptions | None = None,
    metrics: Metrics | None = None,
    extra_routers: Sequence[Router] = (),
) -> Application:
    metrics = metrics or Metrics()
    options = options or BotOptions(
        throttle_burst=settings.throttle_burst,
        throttle_rate=settings.throttle_rate,
        handler_timeout=settings.handler_timeout,
    )
    bot_token = token or (settings.bot_token.get_secret_value() if settings.bot_token else None)
    if bot_token is None:
        raise ValueError("BOT_TOKEN is not set")
    bot = build_bot(bot_token, api_base or settings.telegram_api_base, metrics)
    dispatcher, i18n, opening, throttling = build_dispatcher(
        session_factory,
        default_locale=settings.default_locale,
        redis_url=settings.redis_url,
        options=options,
        metrics=metrics,
        extra_routers=extra_routers,
    )
    return Application(bot, dispatcher, i18n, metrics, opening, throttling)
