"""The locale of the update: the user's own setting, else Telegram's language when we speak
it, else DEFAULT_LOCALE (resolved with the user, see domain.services.users)."""

from __future__ import annotations

from typing import Any

from aiogram.types import TelegramObject
from aiogram.types import User as TelegramUser
from aiogram.utils.i18n import I18nMiddleware

from domain.services.users import UserContext, supported_locale


def guess_locale(data: dict[str, Any], default_locale: str) -> str:
    """The best locale known at this point of the stack (also used before the user is known)."""
    user: UserContext | None = data.get("user")
    if user is not None:
        return user.locale
    sender: TelegramUser | None = data.get("event_from_user")
    return supported_locale(sender.language_code if sender else None) or default_locale


class LocaleMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return guess_locale(data, self.i18n.default_locale)
