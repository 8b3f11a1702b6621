"""The chat commands each feature offers: what /help lists for a person's roles, what the
fallback suggests, and what setMyCommands registers (descriptions in every locale)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeDefault

from bot.i18n import CatalogI18n


@dataclass(frozen=True, slots=True)
class CommandInfo:
    name: str  # without the slash
    description: str  # msgid, marked with N_()
    # Role codes that see it in /help; None = everyone.
    roles: frozenset[str] | None = None
    # Shown in Telegram's command menu (setMyCommands); /start is implied and stays out.
    in_menu: bool = True
    # Where it appears in /help and the menu: daily use first, housekeeping last.
    order: int = 50

    def visible_to(self, roles: Iterable[str]) -> bool:
        return self.roles is None or not self.roles.isdisjoint(roles)


def for_roles(commands: Iterable[CommandInfo], roles: Iterable[str]) -> list[CommandInfo]:
    held = frozenset(roles)
    return [command for command in commands if command.visible_to(held)]


def describe(commands: Iterable[CommandInfo], i18n: CatalogI18n, locale: str) -> str:
    """`/name — description` lines, translated."""
    return "\n".join(
        f"/{command.name} — {i18n.gettext(command.description, locale=locale)}"
        for command in commands
    )


async def publish_commands(
    bot: Bot, commands: Iterable[CommandInfo], i18n: CatalogI18n, locales: Iterable[str]
) -> None:
    """setMyCommands for each locale, and once without a language (the default locale)."""
    menu = [command for command in commands if command.in_menu]

    def localized(locale: str) -> list[BotCommand]:
        return [
            BotCommand(
                command=command.name,
                description=i18n.gettext(command.description, locale=locale)[:256],
            )
            for command in menu
        ]

    scope = BotCommandScopeDefault()
    await bot.set_my_commands(localized(i18n.default_locale), scope=scope)
    for locale in locales:
        await bot.set_my_commands(localized(locale), scope=scope, language_code=locale)
