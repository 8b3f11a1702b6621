"""Small builders shared by the feature routers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from aiogram import F
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

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
