"""Resolve the person behind the update (created on first contact) and attribute the
update's changes to them in the audit trail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser

from domain.services.audit import set_audit_context
from domain.services.users import TelegramIdentity, resolve_telegram_user


class UserMiddleware(BaseMiddleware):
    def __init__(self, default_locale: str) -> None:
        self.default_locale = default_locale

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        sender: TelegramUser | None = data.get("event_from_user")
        if sender is None or sender.is_bot:
            return await handler(event, data)
        session = data["session"]
        user = await resolve_telegram_user(
            session,
            TelegramIdentity(
                telegram_user_id=sender.id,
                first_name=sender.first_name,
                last_name=sender.last_name,
                username=sender.username,
                language_code=sender.language_code,
            ),
            default_locale=self.default_locale,
        )
        set_audit_context(session, actor_id=user.user_id)
        data["user"] = user
        return await handler(event, data)
