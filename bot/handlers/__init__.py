"""Feature routers, in the order the dispatcher tries them: /cancel first (it must work in
any conversation), free-text set logging after every feature with conversation steps, the
fallback last (it takes whatever nobody else did)."""

from __future__ import annotations

from types import ModuleType

from aiogram import Router

from bot.commands import CommandInfo
from bot.handlers import (
    cancel,
    clients,
    equipment,
    export,
    fallback,
    favorites,
    goals,
    help,
    history,
    institution,
    log,
    program_import,
    programs,
    progress,
    rating,
    reminders,
    settings,
    sharing,
    start,
    system,
    today,
    workout_session,
)

FEATURES: tuple[ModuleType, ...] = (
    cancel,
    system,
    start,
    help,
    settings,
    reminders,
    today,
    workout_session,
    history,
    progress,
    export,
    goals,
    equipment,
    favorites,
    rating,
    programs,
    program_import,
    clients,
    sharing,
    institution,
    # Free text outside any conversation step is a set log; only the fallback comes later.
    log,
    fallback,
)


def all_commands() -> list[CommandInfo]:
    commands = [command for feature in FEATURES for command in getattr(feature, "COMMANDS", ())]
    return sorted(commands, key=lambda command: command.order)


def feature_routers() -> list[Router]:
    return [feature.router() for feature in FEATURES]
