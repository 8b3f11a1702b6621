"""Anything no feature understood: say so kindly and say what the bot can do.
Registered last."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.help import help_text
from bot.i18n import CatalogI18n, _
from bot.router_gates import FeatureRouter
from domain.services.users import UserContext


def router() -> Router:
    router = FeatureRouter(name="fallback")

    async def reply(
        message: Message, opening: str, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await message.answer(opening + "\n\n" + await help_text(session, user, i18n))

    @router.message(F.text.startswith("/"))
    async def unknown_command(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        command = (message.text or "/").split()[0].split("@")[0][:64]
        await reply(
            message,
            _("I do not know the command {command}.").format(command=command),
            session,
            user,
            i18n,
        )

    @router.message(F.sticker)
    async def sticker(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await reply(
            message,
            _("Nice sticker! I only understand text and buttons, though."),
            session,
            user,
            i18n,
        )

    @router.message(F.voice | F.video_note | F.audio)
    async def voice(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await reply(
            message,
            _("I cannot listen to recordings yet: please type it instead."),
            session,
            user,
            i18n,
        )

    @router.message(F.photo | F.video | F.document | F.animation)
    async def media(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await reply(
            message, _("I do not know what to do with this file here."), session, user, i18n
        )

    @router.message()
    async def anything_else(
        message: Message, session: AsyncSession, user: UserContext, i18n: CatalogI18n
    ) -> None:
        await reply(message, _("Sorry, I did not understand that."), session, user, i18n)

    @router.callback_query()
    async def stale_button(query: CallbackQuery) -> None:
        await query.answer(
            _("This button is no longer active. Send /help to start again."), show_alert=True
        )

    return router
