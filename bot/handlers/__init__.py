"""Feature routers, in the order the dispatcher tries them: /cancel first (it must work in
any conversation), the fallback last (it takes whatever nobody else did)."""

from __future__ import annotations

from types import ModuleType

from aiogram import Router

from bot.commands import CommandInfo
from bot.handlers import cancel, fallback, help, reminders, settings, start, system

FEATURES: tuple[ModuleType, ...] = (cancel, system, start, help, settings, reminders, fallback)


def all_commands() -> list[CommandInfo]:
    commands = [command for feature in FEATURES for command in getattr(feature, "COMMANDS", ())]
    return sorted(commands, key=lambda command: command.order)


def feature_routers() -> list[Router]:
    return [feature.router() for feature in FEATURES]
