"""The instant an update is handled at: one per update, from the application's clock (the
wall clock, or a test's clock driving weeks of training through the emulator).

Handlers read it with ``now()``; the clock middleware sets it for the update's task."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram.types import TelegramObject

Clock = Callable[[], dt.datetime]
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

_update_instant: ContextVar[dt.datetime | None] = ContextVar("update_instant", default=None)


def wall_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def now() -> dt.datetime:
    """The current update's instant (aware UTC); the wall clock outside an update."""
    return _update_instant.get() or wall_clock()


def clock_middleware(
    clock: Clock,
) -> Callable[[Handler, TelegramObject, dict[str, Any]], Awaitable[Any]]:
    async def stamp(handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        instant = clock()
        data["now"] = instant
        token = _update_instant.set(instant)
        try:
            return await handler(event, data)
        finally:
            _update_instant.reset(token)

    return stamp
