"""Routing cost: how long aiogram takes to walk an update past the bot's feature routers that
do not take it, with and without the router gates (bot/router_gates.py); and what a full
garbage collection costs with the bot's start-up objects, before and after they are frozen
(bot.runtime.freeze_startup_objects).

Two updates, each routed past every feature router before the one that takes it (that last
router and the fallback are left out, so every router answers UNHANDLED): a free-text set in
no conversation ("squat 1x5 100": the set logger is near the end) and a button of the set
logger (a LogPick press). In process, no database, no network: routing alone.

    python -m bench.routing_bench [--count 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import time
import uuid
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

import bot.lean_aiogram  # noqa: F401  (as the bot: types built on first use)
from bot.handlers import FEATURES, fallback, log
from bot.handlers.log import LogPick
from bot.inline_filters import inline_pure_filters
from bot.router_gates import gate_routers


def routers(*, gated: bool) -> list[Router]:
    dispatcher = Dispatcher()
    features = [feature.router() for feature in FEATURES if feature not in (log, fallback)]
    dispatcher.include_routers(*features)
    inline_pure_filters(dispatcher)
    if gated:
        gate_routers(dispatcher)
    return features


async def route(
    features: list[Router], update_type: str, event: TelegramObject, count: int
) -> float:
    """Microseconds per update to be turned away by every router."""
    bot = Bot("42:BENCH")
    # What the dispatcher's middlewares put in the context before routing (its size matters:
    # aiogram copies it at every check).
    context: dict[str, Any] = {
        "bot": bot,
        "raw_state": None,
        "event_from_user": User(id=5, is_bot=False, first_name="Ada"),
        **{f"middleware_value_{index}": index for index in range(14)},
    }

    async def once() -> None:
        for router in features:
            assert await router.propagate_event(update_type, event, **context) is UNHANDLED

    for _ in range(count // 10):
        await once()
    started = time.perf_counter()
    for _ in range(count):
        await once()
    elapsed = (time.perf_counter() - started) / count * 1e6
    await bot.session.close()
    return elapsed


async def main(count: int) -> None:
    ada = User(id=5, is_bot=False, first_name="Ada")
    chat = Chat(id=5, type="private")
    now = dt.datetime.now(dt.UTC)
    text = Message(message_id=1, date=now, chat=chat, from_user=ada, text="squat 1x5 100")
    button = CallbackQuery(
        id="1",
        from_user=ada,
        chat_instance="1",
        data=LogPick(token=uuid.uuid4().hex[:8], exercise=uuid.uuid4().hex).pack(),
        message=Message(message_id=2, date=now, chat=chat, text="Which exercise?"),
    )
    for label, update_type, event in (
        ("free-text set, no conversation", "message", text),
        ("button of the set logger", "callback_query", button),
    ):
        plain = routers(gated=False)
        handlers = sum(len(router.observers[update_type].handlers) for router in plain)
        before = await route(plain, update_type, event, count)
        after = await route(routers(gated=True), update_type, event, count)
        print(
            f"{label}: past {len(plain)} routers, {handlers} handlers: "
            f"{before:.0f} µs without gates, {after:.0f} µs with gates (n={count})",
            flush=True,
        )
    print(full_collections(), flush=True)


def full_collections() -> str:
    """A full collection over what the running bot holds from start-up (its dispatcher and
    routers, the ORM, aiogram's types), then the same after freezing them."""
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from bot.app import build_dispatcher
    from bot.runtime import freeze_startup_objects

    engine = create_async_engine("postgresql+asyncpg://bench@127.0.0.1:1/none")
    built = build_dispatcher(async_sessionmaker(engine))
    gc.collect()
    tracked = len(gc.get_objects())
    started = time.perf_counter()
    gc.collect()
    before = (time.perf_counter() - started) * 1000
    freeze_startup_objects()
    try:
        started = time.perf_counter()
        gc.collect()
        after = (time.perf_counter() - started) * 1000
    finally:
        gc.unfreeze()
    del built
    return (
        f"full garbage collection with the bot built ({tracked} objects tracked): "
        f"{before:.1f} ms; after freeze_startup_objects: {after:.2f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="updates routed per variant")
    asyncio.run(main(parser.parse_args().count))
