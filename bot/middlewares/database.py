"""One database session per update: the handler's changes commit together when it returns,
or roll back together when it raises. The transaction begins with the first statement, so an
update that never touches the database costs nothing here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class DatabaseMiddleware(BaseMiddleware):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        # Leaving the block closes the session, which rolls back whatever was not committed.
        async with self.session_factory() as session:
            data["session"] = session
            result = await handler(event, data)
            if session.in_transaction():
                await session.commit()
            return result
