"""A local Telegram Bot API emulator: HTTP server for aiogram, scripted users, control API."""

from bot.emulator.driver import (
    BotMessage,
    Button,
    CallbackAnswer,
    EmulatedUser,
    InvoiceInfo,
    PaymentResult,
    render,
)
from bot.emulator.server import BotApiEmulator

__all__ = [
    "BotApiEmulator",
    "BotMessage",
    "Button",
    "CallbackAnswer",
    "EmulatedUser",
    "InvoiceInfo",
    "PaymentResult",
    "render",
]
