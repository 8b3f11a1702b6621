"""Skip an update that was already handled (same bot, same update_id): Telegram redelivers
when a webhook answer is lost or a poller restarts before confirming."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update

from domain.services.updates import claim_update, purge_processed_updates

logger = logging.getLogger(__name__)

# The purge is a cheap indexed DELETE; once every few minutes per process is plenty.
PURGE_EVERY_SECONDS = 600.0


class DeduplicationMiddleware(BaseMiddleware):
    def __init__(self) -> None:
        self._next_purge = 0.0
        self.skipped = 0

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        session = data["session"]
        if not await claim_update(session, bot.id, event.update_id):
            self.skipped += 1
            logger.info("update %s already handled, skipped", event.update_id)
            return None
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
            await purge_processed_updates(session, dt.datetime.now(dt.UTC))
        return await handler(event, data)
