"""Per-user flood control: a token bucket (``burst`` updates at once, refilled at ``rate`` per
second). The first update over the limit gets one polite answer; the next ones are dropped
silently until the bucket refills, so a flood never turns into a flood of replies.

The buckets live in the process: behind a load balancer each worker applies the limit to
the updates it receives (docs/decisions.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject
from aiogram.types import User as TelegramUser

from bot.i18n import N_, CatalogI18n
from bot.middlewares.locale import guess_locale

logger = logging.getLogger(__name__)

# Idle buckets are forgotten when this many accumulate (a full bucket carries no information).
SWEEP_THRESHOLD = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class ThrottlingMiddleware(BaseMiddleware):
    def __init__(
        self,
        i18n: CatalogI18n,
        *,
        burst: int = 8,
        rate: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or rate <= 0:
            raise ValueError("burst must be at least 1 and rate positive")
        self.i18n = i18n
        self.burst = float(burst)
        self.rate = rate
        self.clock = clock
        self._buckets: dict[int, _Bucket] = {}
        self.dropped = 0

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, warn now) for one update of this user."""
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= SWEEP_THRESHOLD:
                self._sweep(now)
            bucket = self._buckets[user_id] = _Bucket(tokens=self.burst, updated=now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            return True, False
        warn = not bucket.warned
        bucket.warned = True
        return False, warn

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate
        idle = [key for key, b in self._buckets.items() if now - b.updated >= full_after]
        for key in idle:
            del self._buckets[key]

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None:
            return await handler(event, data)
        allowed, warn = self.allow(sender.id)
        if allowed:
            return await handler(event, data)
        self.dropped += 1
        chat: Chat | None = data.get("event_chat")
        if warn and chat is not None:
            bot: Bot = data["bot"]
            locale = guess_locale(data, self.i18n.default_locale)
            text = self.i18n.gettext(
                N_(
                    "You are sending messages faster than I can read them. "
                    "Give me a few seconds, then carry on."
                ),
                locale=locale,
            )
            try:
                await bot.send_message(chat.id, text)
            except TelegramAPIError:
                logger.warning("could not tell user %s to slow down", sender.id)
        return None
