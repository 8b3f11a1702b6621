"""/help: what the bot can do for this person's roles."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo, describe, for_roles
from bot.i18n import N_, CatalogI18n, _
from bot.router_gates import FeatureRouter
from domain.services.users import UserContext, role_codes

COMMANDS = (CommandInfo("help", N_("what I can do for you"), order=90),)


async def help_text(session: AsyncSession, user: UserContext, i18n: CatalogI18n) -> str:
    """The commands this user may use, one per line, in their language."""
    from bot.handlers import all_commands  # the registry imports this module

    roles = await role_codes(session, user.user_id)
    commands = [c for c in for_roles(all_commands(), roles) if c.name != "start"]
    return _("Here is what I can do for you:") + "\n" + describe(commands, i18n, user.locale)


def router() -> Router:
    router = FeatureRouter(name="help")

    @router.message(Command("help"))
    async def show_help(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await message.answer(await help_text(session, user, i18n))

    return router
