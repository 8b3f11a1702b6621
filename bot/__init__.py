"""The transport: aiogram routers, middlewares, CLI, the local Bot API emulator."""

from bot.lean_aiogram import import_aiogram_lean

# Before anything else imports aiogram: its types' schemas are then built on first use.
import_aiogram_lean()
