"""Small builders shared by the feature routers."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Sequence
from typing import TypeVar

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

T = TypeVar("T")

# Conversation steps leave commands alone: /help or /settings in the middle of a step are
# answered by their own handlers, the step goes on afterwards.
NOT_A_COMMAND = ~F.text.startswith("/")


def inline(
    rows: Iterable[Sequence[tuple[str, CallbackData | str]]],
) -> InlineKeyboardMarkup:
    """Rows of (label, callback data) as an inline keyboard."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label,
                    callback_data=data.pack() if isinstance(data, CallbackData) else data,
                )
                for label, data in row
            ]
            for row in rows
        ]
    )


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def short_id(value: uuid.UUID) -> str:
    """A UUID as 22 characters of URL-safe base64: two ids fit a 64-byte callback payload."""
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def parse_short_id(text: str) -> uuid.UUID | None:
    """The id, or None when the payload was tampered with."""
    if len(text) != 22:
        return None
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(text + "=="))
    except (binascii.Error, ValueError):
        return None


def screen_message(query: CallbackQuery) -> Message:
    """The message whose button was pressed (always reachable: the bot's own screens)."""
    assert isinstance(query.message, Message)
    return query.message
