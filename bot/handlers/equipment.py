"""/equipment: the "My equipment" setting (what I have at home or in my gym), edited by
category with translated names, or replaced at once by a preset. Swaps and suggestions prefer
exercises whose equipment is all listed (domain.services.alternatives).

The generic /settings list editor cannot show 40 translated choices, so the setting lives in no
/settings group and is edited here."""

from __future__ import annotations

import html
from collections.abc import Sequence

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, _
from bot.keyboards import chunks, inline
from bot.router_gates import FeatureRouter
from domain.errors import NotFound
from domain.services.alternatives import (
    EquipmentChoice,
    EquipmentPreset,
    apply_equipment_preset,
    equipment_choices,
    equipment_presets,
    toggle_my_equipment,
)
from domain.services.settings import InvalidSettingValue
from domain.services.users import UserContext

COMMANDS = (
    CommandInfo(
        "equipment",
        N_("the equipment you have, so swaps and suggestions fit it"),
        in_menu=False,
        order=82,
    ),
)

NOT_A_CHOICE = N_("That is not one of the choices.")


class EquipmentHome(CallbackData, prefix="eqh"):
    pass


class EquipmentCategoryOpen(CallbackData, prefix="eqc"):
    code: str


class EquipmentToggle(CallbackData, prefix="eqt"):
    code: str


class EquipmentPresetPick(CallbackData, prefix="eqp"):
    code: str


def _categories(choices: Sequence[EquipmentChoice]) -> dict[str, list[EquipmentChoice]]:
    grouped: dict[str, list[EquipmentChoice]] = {}
    for choice in choices:
        grouped.setdefault(choice.category_code, []).append(choice)
    return grouped


def home_screen(
    choices: Sequence[EquipmentChoice], presets: Sequence[EquipmentPreset]
) -> tuple[str, InlineKeyboardMarkup]:
    owned = sum(choice.owned for choice in choices)
    lines = [
        _("🏋️ My equipment"),
        _("Swaps and suggestions prefer exercises you can do with what you have."),
        "",
        _("You have {owned} of {total}.").format(owned=owned, total=len(choices)),
    ]
    buttons: list[tuple[str, CallbackData]] = []
    for code, items in _categories(choices).items():
        have = [item.name for item in items if item.owned]
        listed = ", ".join(have) if have else "—"
        lines.append(f"<b>{html.escape(items[0].category_name)}</b>: {html.escape(listed)}")
        buttons.append(
            (
                f"{items[0].category_name} {len(have)}/{len(items)}",
                EquipmentCategoryOpen(code=code),
            )
        )
    lines.append("\n" + _("Tap a group to change it, or pick a preset."))
    rows = [list(row) for row in chunks(buttons, 2)]
    rows.extend(
        [(f"⚡ {preset.name}", EquipmentPresetPick(code=preset.code))] for preset in presets
    )
    return "\n".join(lines), inline(rows)


def category_screen(
    choices: Sequence[EquipmentChoice], category_code: str
) -> tuple[str, InlineKeyboardMarkup] | None:
    items = _categories(choices).get(category_code)
    if not items:
        return None
    text = f"<b>{html.escape(items[0].category_name)}</b>\n" + _(
        "Tap what you have: ✅ yes, ▫️ no. Each tap is saved."
    )
    toggles = [
        (("✅ " if item.owned else "▫️ ") + item.name, EquipmentToggle(code=item.code))
        for item in items
    ]
    rows: list[list[tuple[str, CallbackData]]] = [list(row) for row in chunks(toggles, 2)]
    rows.append([(_("⬅️ My equipment"), EquipmentHome())])
    return text, inline(rows)


def router() -> Router:
    router = FeatureRouter(name="equipment")

    async def home(
        message: Message, session: AsyncSession, user: UserContext, *, edit: bool, prefix: str = ""
    ) -> None:
        choices = await equipment_choices(session, user.user_id, locale=user.locale)
        presets = await equipment_presets(session, locale=user.locale)
        text, keyboard = home_screen(choices, presets)
        if prefix:
            text = prefix + "\n\n" + text
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    @router.message(Command("equipment"))
    async def equipment_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await home(message, session, user, edit=False)

    @router.callback_query(EquipmentHome.filter())
    async def back(query: CallbackQuery, session: AsyncSession, user: UserContext) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        await home(query.message, session, user, edit=True)

    @router.callback_query(EquipmentCategoryOpen.filter())
    async def open_category(
        query: CallbackQuery,
        callback_data: EquipmentCategoryOpen,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        choices = await equipment_choices(session, user.user_id, locale=user.locale)
        screen = category_screen(choices, callback_data.code)
        if screen is None:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text(screen[0], reply_markup=screen[1])

    @router.callback_query(EquipmentToggle.filter())
    async def toggle(
        query: CallbackQuery,
        callback_data: EquipmentToggle,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        try:
            await toggle_my_equipment(session, user.user_id, callback_data.code)
        except InvalidSettingValue:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        choices = await equipment_choices(session, user.user_id, locale=user.locale)
        category = next(
            choice.category_code for choice in choices if choice.code == callback_data.code
        )
        screen = category_screen(choices, category)
        assert screen is not None
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text(screen[0], reply_markup=screen[1])

    @router.callback_query(EquipmentPresetPick.filter())
    async def preset(
        query: CallbackQuery,
        callback_data: EquipmentPresetPick,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        try:
            await apply_equipment_preset(session, user.user_id, callback_data.code)
        except NotFound:
            await query.answer(_(NOT_A_CHOICE), show_alert=True)
            return
        await query.answer()
        assert isinstance(query.message, Message)
        await home(query.message, session, user, edit=True, prefix=_("Saved."))

    return router
