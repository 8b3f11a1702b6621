"""/settings and /language: the user-editable settings of the settings model, validated by
domain.services.settings (a refused value changes nothing and says why)."""

from __future__ import annotations

import html
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, CatalogI18n, _
from bot.keyboards import NOT_A_COMMAND, chunks, inline
from bot.labels import value_label
from bot.router_gates import FeatureRouter
from domain.models.setting import SettingDataType
from domain.services.settings import (
    InvalidSettingValue,
    SettingView,
    ValueSource,
    reset_user_setting,
    set_user_setting,
    settings_screen,
    user_setting_view,
)
from domain.services.timezones import find_timezone, timezone_at
from domain.services.users import UserContext

COMMANDS = (
    CommandInfo("settings", N_("language, time zone, units, reminders, privacy"), order=80),
    CommandInfo("language", N_("change the language I speak"), order=81),
)

# Types whose value is typed in a message rather than picked on a button.
TYPED = {
    SettingDataType.TIME,
    SettingDataType.TIMEZONE,
    SettingDataType.STRING,
    SettingDataType.INTEGER,
    SettingDataType.FLOAT,
}
TYPED_PROMPTS = {
    SettingDataType.TIME: N_("Send the new time as HH:MM, for example 07:30."),
    SettingDataType.TIMEZONE: N_(
        "Send a time zone name such as Europe/Paris or a big city near you, or share your location."
    ),
}
REFUSALS = {
    "format": N_("Please send a time as HH:MM (24 h), for example 07:30."),
    "timezone": N_("I do not know that time zone. Try a name such as Europe/Paris."),
    "choices": N_("That is not one of the choices."),
    "min_items": N_("Please keep at least one."),
    "max_items": N_("That is too many."),
    "type": N_("That is not the kind of value this setting takes."),
}


class SettingsForm(StatesGroup):
    value = State()


class SettingPick(CallbackData, prefix="set"):
    key: str


class SettingChoose(CallbackData, prefix="setv"):
    key: str
    value: str


class SettingToggle(CallbackData, prefix="sett"):
    key: str
    item: str


class SettingSave(CallbackData, prefix="sets"):
    key: str


class SettingReset(CallbackData, prefix="setr"):
    key: str


class SettingsHome(CallbackData, prefix="seth"):
    pass


REFUSED = N_("That value is not accepted for this setting.")


def refusal(rule: str) -> str:
    return _(REFUSALS.get(rule, REFUSED))


def refusal_text(error: InvalidSettingValue) -> str:
    return refusal(error.rule)


async def screen(
    session: AsyncSession, user: UserContext, locale: str, i18n: CatalogI18n
) -> tuple[str, InlineKeyboardMarkup]:
    groups = await settings_screen(session, user.user_id, locale)
    lines = [_("⚙️ Your settings")]
    buttons: list[tuple[str, CallbackData]] = []
    for group in groups:
        lines.append(f"\n<b>{html.escape(group.name)}</b>")
        for view in group.settings:
            shown = html.escape(value_label(view.value, i18n, locale))
            lines.append(f"{html.escape(view.name)}: {shown}")
            buttons.append((view.name, SettingPick(key=view.key)))
    lines.append("\n" + _("Tap a setting to change it."))
    return "\n".join(lines), inline(chunks(buttons, 2))


def detail(
    view: SettingView, i18n: CatalogI18n, locale: str, draft: list[str] | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    text = f"<b>{html.escape(view.name)}</b>"
    if view.description:
        text += f"\n{html.escape(view.description)}"
    current = draft if draft is not None else view.value
    text += "\n\n" + _("Now: {value}").format(value=html.escape(value_label(current, i18n, locale)))
    rows: list[list[tuple[str, CallbackData]]] = []
    choices = list(view.rules.get("choices", []))
    if view.data_type is SettingDataType.BOOLEAN:
        choices = ["true", "false"]
        rows.append(
            [
                (
                    ("✅ " if view.value is flag else "") + value_label(flag, i18n, locale),
                    SettingChoose(key=view.key, value=str(flag).lower()),
                )
                for flag in (True, False)
            ]
        )
    elif view.data_type is SettingDataType.LIST:
        chosen = set(current or [])
        toggles = [
            (
                ("✅ " if item in chosen else "▫️ ") + value_label(item, i18n, locale),
                SettingToggle(key=view.key, item=item),
            )
            for item in choices
        ]
        rows.extend([list(row) for row in chunks(toggles, 3)])
        rows.append([(_("💾 Save"), SettingSave(key=view.key))])
    elif choices:
        options = [
            (
                ("✅ " if item == view.value else "") + value_label(item, i18n, locale),
                SettingChoose(key=view.key, value=str(item)),
            )
            for item in choices
        ]
        rows.extend([list(row) for row in chunks(options, 3)])
    else:
        text += "\n\n" + _(TYPED_PROMPTS.get(view.data_type, N_("Send the new value.")))
    footer: list[tuple[str, CallbackData]] = []
    if view.source is ValueSource.USER:
        footer.append((_("↩️ Use the default"), SettingReset(key=view.key)))
    footer.append((_("⬅️ All settings"), SettingsHome()))
    rows.append(footer)
    return text, inline(rows)


def parse_choice(view: SettingView, raw: str) -> Any:
    if view.data_type is SettingDataType.BOOLEAN:
        return raw == "true"
    return raw


def parse_typed(view: SettingView, text: str) -> Any:
    text = text.strip()
    if view.data_type is SettingDataType.TIMEZONE:
        return find_timezone(text) or text
    if view.data_type is SettingDataType.TIME and len(text) == 4 and text[1] == ":":
        return "0" + text  # 7:30 → 07:30
    if view.data_type is SettingDataType.INTEGER:
        try:
            return int(text)
        except ValueError:
            return text  # refused by validation with its rule
    if view.data_type is SettingDataType.FLOAT:
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return text
    return text


def router() -> Router:
    router = FeatureRouter(name="settings")

    async def show_detail(
        message: Message, view: SettingView, i18n: CatalogI18n, locale: str, *, edit: bool
    ) -> None:
        text, keyboard = detail(view, i18n, locale)
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def saved(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        key: str,
        *,
        edit: bool,
    ) -> None:
        # The locale may just have changed: read it back rather than trust the update's.
        locale = (
            (await user_setting_view(session, user.user_id, "locale", user.locale)).value
            if key == "locale"
            else user.locale
        )
        with i18n.use_locale(locale):
            view = await user_setting_view(session, user.user_id, key, locale)
            text, keyboard = detail(view, i18n, locale)
            text = _("Saved.") + "\n\n" + text
            if edit:
                await message.edit_text(text, reply_markup=keyboard)
            else:
                await message.answer(text, reply_markup=keyboard)

    @router.message(Command("settings"))
    async def show_settings(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        text, keyboard = await screen(session, user, user.locale, i18n)
        await message.answer(text, reply_markup=keyboard)

    @router.message(Command("language"))
    async def show_language(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        view = await user_setting_view(session, user.user_id, "locale", user.locale)
        await show_detail(message, view, i18n, user.locale, edit=False)

    @router.callback_query(SettingsHome.filter())
    async def home(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        await query.answer()
        text, keyboard = await screen(session, user, user.locale, i18n)
        assert isinstance(query.message, Message)
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(SettingPick.filter())
    async def pick(
        query: CallbackQuery,
        callback_data: SettingPick,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        view = await user_setting_view(session, user.user_id, callback_data.key, user.locale)
        await query.answer()
        assert isinstance(query.message, Message)
        if view.data_type is SettingDataType.LIST:
            await state.set_state(None)
            await state.update_data(draft_key=view.key, draft=list(view.value or []))
        elif view.data_type in TYPED:
            await state.set_state(SettingsForm.value)
            await state.update_data(key=view.key)
        else:
            await state.set_state(None)
        await show_detail(query.message, view, i18n, user.locale, edit=True)

    @router.callback_query(SettingChoose.filter())
    async def choose(
        query: CallbackQuery,
        callback_data: SettingChoose,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        view = await user_setting_view(session, user.user_id, callback_data.key, user.locale)
        assert isinstance(query.message, Message)
        try:
            await set_user_setting(
                session, user.user_id, view.key, parse_choice(view, callback_data.value)
            )
        except InvalidSettingValue as error:
            await query.answer(refusal_text(error), show_alert=True)
            return
        await state.clear()
        await query.answer()
        await saved(query.message, session, user, i18n, view.key, edit=True)

    @router.callback_query(SettingToggle.filter())
    async def toggle(
        query: CallbackQuery,
        callback_data: SettingToggle,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        view = await user_setting_view(session, user.user_id, callback_data.key, user.locale)
        data = await state.get_data()
        draft = (
            list(data.get("draft", []))
            if data.get("draft_key") == view.key
            else list(view.value or [])
        )
        if callback_data.item not in view.rules.get("choices", []):
            await query.answer(refusal("choices"), show_alert=True)
            return
        if callback_data.item in draft:
            draft.remove(callback_data.item)
        else:
            draft.append(callback_data.item)
        await state.update_data(draft_key=view.key, draft=draft)
        await query.answer()
        assert isinstance(query.message, Message)
        text, keyboard = detail(view, i18n, user.locale, draft=draft)
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(SettingSave.filter())
    async def save_list(
        query: CallbackQuery,
        callback_data: SettingSave,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        view = await user_setting_view(session, user.user_id, callback_data.key, user.locale)
        data = await state.get_data()
        draft = data.get("draft") if data.get("draft_key") == view.key else view.value
        try:
            await set_user_setting(session, user.user_id, view.key, list(draft or []))
        except InvalidSettingValue as error:
            await query.answer(refusal_text(error), show_alert=True)
            return
        await state.clear()
        await query.answer()
        assert isinstance(query.message, Message)
        await saved(query.message, session, user, i18n, view.key, edit=True)

    @router.callback_query(SettingReset.filter())
    async def reset(
        query: CallbackQuery,
        callback_data: SettingReset,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        view = await user_setting_view(session, user.user_id, callback_data.key, user.locale)
        await reset_user_setting(session, user.user_id, view.key)
        await state.clear()
        await query.answer()
        assert isinstance(query.message, Message)
        await saved(query.message, session, user, i18n, view.key, edit=True)

    @router.message(SettingsForm.value, F.location)
    async def typed_location(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        key = (await state.get_data()).get("key", "")
        assert message.location is not None
        zone = timezone_at(message.location.latitude, message.location.longitude)
        if key != "timezone" or zone is None:
            await message.answer(refusal("timezone"))
            return
        await set_user_setting(session, user.user_id, key, zone)
        await state.clear()
        await saved(message, session, user, i18n, key, edit=False)

    @router.message(SettingsForm.value, F.text, NOT_A_COMMAND)
    async def typed(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        key = (await state.get_data()).get("key", "")
        view = await user_setting_view(session, user.user_id, key, user.locale)
        try:
            await set_user_setting(
                session, user.user_id, key, parse_typed(view, message.text or "")
            )
        except InvalidSettingValue as error:
            await message.answer(refusal_text(error) + "\n" + _("Or send /cancel to stop."))
            return
        await state.clear()
        await saved(message, session, user, i18n, key, edit=False)

    @router.message(SettingsForm.value, NOT_A_COMMAND)
    async def typed_expected(message: Message) -> None:
        await message.answer(_("Please type the new value, or send /cancel to stop."))

    return router
