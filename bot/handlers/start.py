"""/start: onboarding (language → time zone → what brings you here) and deep links."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.handlers.help import help_text
from bot.i18n import N_, CatalogI18n, _
from bot.keyboards import NOT_A_COMMAND, inline
from bot.labels import LOCALE_NAMES
from bot.router_gates import FeatureRouter
from domain.config import SUPPORTED_LOCALES
from domain.services.settings import set_user_setting
from domain.services.timezones import (
    common_timezones,
    find_timezone,
    timezone_at,
    utc_offset_label,
)
from domain.services.users import Purpose, UserContext, choose_purpose

COMMANDS = (CommandInfo("start", N_("start over: language, time zone, your goal"), in_menu=False),)

# DESIGN.md: deep-link payloads are at most 64 characters of A-Za-z0-9_-.
DEEP_LINK = re.compile(r"^(inv|shr|cli)_[A-Za-z0-9_-]{1,60}$")

# Handlers for `inv_`, `shr_`, `cli_` payloads, registered by the features that own them.
# Each gets (message, payload without prefix, data) and returns True when it took over.
DeepLinkHandler = Callable[..., Awaitable[bool]]
DEEP_LINK_HANDLERS: dict[str, DeepLinkHandler] = {}


class Onboarding(StatesGroup):
    language = State()
    timezone = State()
    purpose = State()


class LanguagePick(CallbackData, prefix="ob_lang"):
    locale: str


class PurposePick(CallbackData, prefix="ob_goal"):
    purpose: Purpose


PURPOSE_LABELS = {
    Purpose.TRAIN: N_("🏋 I train"),
    Purpose.COACH: N_("📋 I coach"),
    Purpose.RUN_CLUB: N_("🏢 I run a gym or club"),
}
PURPOSE_NEXT_STEPS = {
    Purpose.TRAIN: N_(
        "You are all set! I will help you log your training and keep your streak going."
    ),
    Purpose.COACH: N_(
        "You are all set, coach! You will be able to write programs and follow your clients here."
    ),
    Purpose.RUN_CLUB: N_(
        "You are all set! You will be able to create your gym or club here and invite your "
        "coaches and members with a link."
    ),
}


def language_keyboard() -> object:
    return inline(
        [[(LOCALE_NAMES[locale], LanguagePick(locale=locale)) for locale in SUPPORTED_LOCALES]]
    )


def timezone_keyboard(locale: str) -> ReplyKeyboardMarkup:
    zones = common_timezones(locale)
    rows = [
        [KeyboardButton(text=zone) for zone in zones[i : i + 2]] for i in range(0, len(zones), 2)
    ]
    rows.append([KeyboardButton(text=_("📍 Share my location"), request_location=True)])
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


async def ask_language(message: Message, state: FSMContext, user: UserContext) -> None:
    await state.set_state(Onboarding.language)
    await message.answer(
        _(
            "Welcome to MōtriForge, {name}! I am your training companion in this chat.\n\n"
            "First, which language shall we speak?"
        ).format(name=html.escape(user.first_name)),
        reply_markup=language_keyboard(),
    )


async def ask_timezone(message: Message, state: FSMContext, locale: str) -> None:
    await state.set_state(Onboarding.timezone)
    await message.answer(
        _(
            "Which time zone are you in? Tap one, share your location, or type its name "
            "(for example Europe/Berlin or Tokyo). Reminders and “today” follow it."
        ),
        reply_markup=timezone_keyboard(locale),
    )


async def ask_purpose(message: Message, state: FSMContext, zone: str) -> None:
    await state.set_state(Onboarding.purpose)
    await message.answer(
        _("Time zone set: {zone} ({offset}).").format(zone=zone, offset=utc_offset_label(zone)),
        reply_markup=ReplyKeyboardRemove(),
    )
    await message.answer(
        _("What brings you here?"),
        reply_markup=inline(
            [
                [(_(label), PurposePick(purpose=purpose))]
                for purpose, label in PURPOSE_LABELS.items()
            ]
        ),
    )


def router() -> Router:
    router = FeatureRouter(name="start")

    @router.message(CommandStart(deep_link=True))
    async def deep_link(
        message: Message,
        command: CommandObject,
        state: FSMContext,
        user: UserContext,
        session: AsyncSession,
        i18n: CatalogI18n,
    ) -> None:
        payload = command.args or ""
        match = DEEP_LINK.match(payload)
        handler = DEEP_LINK_HANDLERS.get(match.group(1)) if match else None
        if handler is not None and await handler(
            message, payload.split("_", 1)[1], state=state, user=user, session=session, i18n=i18n
        ):
            return
        await message.answer(_("This link is not valid or has expired."))
        if not user.onboarded:
            await ask_language(message, state, user)

    @router.message(CommandStart())
    async def start(
        message: Message,
        state: FSMContext,
        user: UserContext,
        session: AsyncSession,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        if user.onboarded:
            await message.answer(
                _("Welcome back, {name}!").format(name=html.escape(user.first_name))
                + "\n\n"
                + await help_text(session, user, i18n)
            )
            return
        await ask_language(message, state, user)

    @router.callback_query(Onboarding.language, LanguagePick.filter())
    async def language_chosen(
        query: CallbackQuery,
        callback_data: LanguagePick,
        state: FSMContext,
        user: UserContext,
        session: AsyncSession,
        i18n: CatalogI18n,
    ) -> None:
        locale = await set_user_setting(session, user.user_id, "locale", callback_data.locale)
        await query.answer()
        assert isinstance(query.message, Message)
        with i18n.use_locale(locale):
            await query.message.edit_text(
                _("Language: {language}").format(language=LOCALE_NAMES[locale])
            )
            await ask_timezone(query.message, state, locale)

    @router.message(Onboarding.language, NOT_A_COMMAND)
    async def language_expected(message: Message) -> None:
        await message.answer(
            _("Please tap your language on the buttons below."), reply_markup=language_keyboard()
        )

    @router.message(Onboarding.timezone, F.location)
    async def location_shared(
        message: Message, state: FSMContext, user: UserContext, session: AsyncSession
    ) -> None:
        assert message.location is not None
        zone = timezone_at(message.location.latitude, message.location.longitude)
        if zone is None:
            await message.answer(
                _("I could not tell the time zone of that place. Please tap or type one.")
            )
            return
        await set_user_setting(session, user.user_id, "timezone", zone)
        await ask_purpose(message, state, zone)

    @router.message(Onboarding.timezone, F.text, NOT_A_COMMAND)
    async def timezone_typed(
        message: Message, state: FSMContext, user: UserContext, session: AsyncSession
    ) -> None:
        zone = find_timezone(message.text or "")
        if zone is None:
            await message.answer(
                _(
                    "I do not know the time zone “{text}”. Type a name such as Europe/Paris, "
                    "America/New_York or a big city near you, or tap one of the buttons."
                ).format(text=html.escape((message.text or "")[:64]))
            )
            return
        await set_user_setting(session, user.user_id, "timezone", zone)
        await ask_purpose(message, state, zone)

    @router.message(Onboarding.timezone, NOT_A_COMMAND)
    async def timezone_expected(message: Message, user: UserContext) -> None:
        await message.answer(
            _("Please tap a time zone, share your location or type a time zone name."),
            reply_markup=timezone_keyboard(user.locale),
        )

    @router.callback_query(Onboarding.purpose, PurposePick.filter())
    async def purpose_chosen(
        query: CallbackQuery,
        callback_data: PurposePick,
        state: FSMContext,
        user: UserContext,
        session: AsyncSession,
        i18n: CatalogI18n,
    ) -> None:
        await choose_purpose(session, user.user_id, callback_data.purpose)
        await state.clear()
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.edit_text(_(PURPOSE_LABELS[callback_data.purpose]))
        await query.message.answer(
            _(PURPOSE_NEXT_STEPS[callback_data.purpose])
            + "\n\n"
            + await help_text(session, user, i18n)
        )

    @router.message(Onboarding.purpose, NOT_A_COMMAND)
    async def purpose_expected(message: Message) -> None:
        await message.answer(
            _("Please tap one of the buttons: what brings you here?"),
            reply_markup=inline(
                [
                    [(_(label), PurposePick(purpose=purpose))]
                    for purpose, label in PURPOSE_LABELS.items()
                ]
            ),
        )

    return router
