"""/export: my training log as two documents, training-log.csv (one row per set) and
training-log.json (sessions with their sets), built by domain.services.export."""

from __future__ import annotations

from aiogram import Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.handlers.history import EMPTY_LOG
from bot.i18n import N_, _, ngettext
from bot.router_gates import FeatureRouter
from bot.units import user_unit
from domain.services.export import export_log
from domain.services.users import UserContext

COMMANDS = (CommandInfo("export", N_("my training log as CSV and JSON files"), order=38),)


def router() -> Router:
    router = FeatureRouter(name="export")

    @router.message(Command("export"))
    async def export_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        assert message.bot is not None
        await message.bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_DOCUMENT)
        exported = await export_log(
            session,
            user.user_id,
            timezone=user.timezone,
            unit=user_unit(user),
            locale=user.locale,
            now=current_instant(),
        )
        if exported.empty:
            await message.answer(_(EMPTY_LOG))
            return
        sessions = ngettext("{count} session", "{count} sessions", exported.session_count).format(
            count=exported.session_count
        )
        sets = ngettext("{count} set", "{count} sets", exported.set_count).format(
            count=exported.set_count
        )
        await message.answer_document(
            BufferedInputFile(exported.csv, filename="training-log.csv"),
            caption=_("Your training log: {sessions}, {sets} (one row per set).").format(
                sessions=sessions, sets=sets
            ),
        )
        await message.answer_document(
            BufferedInputFile(exported.json, filename="training-log.json"),
            caption=_("The same log as JSON: sessions with their sets."),
        )

    return router
