"""/cancel leaves whatever conversation is going on (registered first: works in any state)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, ReplyKeyboardRemove

from bot.commands import CommandInfo
from bot.i18n import N_, _
from bot.router_gates import FeatureRouter

COMMANDS = (CommandInfo("cancel", N_("stop what we are doing"), order=99),)


def router() -> Router:
    router = FeatureRouter(name="cancel")

    @router.message(Command("cancel"))
    async def cancel(message: Message, state: FSMContext) -> None:
        if await state.get_state() is None:
            await message.answer(
                _("There is nothing to cancel."), reply_markup=ReplyKeyboardRemove()
            )
            return
        await state.clear()
        await message.answer(
            _("Cancelled. Nothing more was changed."), reply_markup=ReplyKeyboardRemove()
        )

    return router
