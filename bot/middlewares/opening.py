"""Open the update, in one round trip: claim it (an update_id this bot already handled is
skipped: Telegram redelivers when a webhook answer is lost or a poller restarts before
confirming) and read the person behind it; a newcomer is then created in the update's own
transaction, and the audit trail attributes the update's changes to them.

The claim runs on a small asyncpg pool of its own, outside any transaction, so it is
committed before the handler starts: updates are handled at most once. A handler that fails
is answered with a reference code and not retried by a redelivery; one cut short by a crash
is lost rather than done twice (never two logged sets for one message). An update that only
reads costs no transaction at all.

Those connections commit without waiting for the WAL flush (`synchronous_commit = off`): a
claim is lost only if PostgreSQL itself crashes within a fraction of a second of it, and the
update is then handled again only if Telegram also redelivers it; the handlers' own
transactions stay fully durable (docs/decisions.md).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update
from aiogram.types import User as TelegramUser
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.db import asyncpg_connect_kwargs
from domain.services.audit import set_audit_context
from domain.services.updates import purge_processed_updates
from domain.services.users import TelegramIdentity, claim_and_find_sender, resolve_sender

logger = logging.getLogger(__name__)

# The purge is a cheap indexed DELETE; once every few minutes per process is plenty.
PURGE_EVERY_SECONDS = 600.0


def identity_of(sender: TelegramUser | None) -> TelegramIdentity | None:
    if sender is None or sender.is_bot:
        return None
    return TelegramIdentity(
        telegram_user_id=sender.id,
        first_name=sender.first_name,
        last_name=sender.last_name,
        username=sender.username,
        language_code=sender.language_code,
    )


async def _keep_connection_as_is(_connection: asyncpg.Connection) -> None:
    return None


async def open_claims_pool(url: URL) -> asyncpg.Pool:
    """A small asyncpg pool for the claims: autocommit (asyncpg's default outside a
    transaction), no WAL wait, and none of the ORM's per-execution work on every update."""
    return await asyncpg.create_pool(
        **asyncpg_connect_kwargs(url),
        min_size=1,
        max_size=10,
        server_settings={"jit": "off", "synchronous_commit": "off"},
        # A claim leaves no session state (no LISTEN, no temp table, no prepared SQL of ours
        # beyond the statement cache): the default reset would be one more round trip per
        # update for nothing.
        reset=_keep_connection_as_is,
    )


class OpenUpdateMiddleware(BaseMiddleware):
    def __init__(self, engine: AsyncEngine, default_locale: str) -> None:
        self.url = engine.url
        self.claims: asyncpg.Pool | None = None
        self.default_locale = default_locale
        self._next_purge = 0.0
        self.skipped = 0

    async def open(self) -> None:
        if self.claims is None:
            self.claims = await open_claims_pool(self.url)

    async def close(self) -> None:
        if self.claims is not None:
            await self.claims.close()
            self.claims = None

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        bot: Bot = data["bot"]
        identity = identity_of(data.get("event_from_user"))
        if self.claims is None:  # first update (the dispatcher's startup opens it too)
            await self.open()
        assert self.claims is not None
        claimed, sender = await claim_and_find_sender(
            self.claims,
            bot_id=bot.id,
            update_id=event.update_id,
            telegram_user_id=identity.telegram_user_id if identity else None,
        )
        if claimed and time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
            await purge_processed_updates(data["session"], dt.datetime.now(dt.UTC))
        if not claimed:
            self.skipped += 1
            logger.info("update %s already handled, skipped", event.update_id)
            return None
        if identity is not None:
            session = data["session"]
            user = await resolve_sender(
                session, identity, sender, default_locale=self.default_locale
            )
            set_audit_context(session, actor_id=user.user_id)
            data["user"] = user
        return await handler(event, data)
