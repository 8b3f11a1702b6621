"""/reminders: which reminders come and when (per type on/off, time, days; quiet hours; digest
frequency), and the "stop these reminders" button under every reminder
(``unsubscribe_keyboard``, put there by the sender).

The rules for combining the stored values live in domain.services.reminder_preferences; this
module only shows them and passes on what the person chose. Callback data is user input: every
type code, day and frequency in it is checked again by the service.
"""

from __future__ import annotations

import contextlib
import html
from collections.abc import Sequence
from functools import cache

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, CatalogI18n, _
from bot.keyboards import NOT_A_COMMAND, chunks, inline, screen_message
from bot.labels import value_label
from bot.router_gates import FeatureRouter
from domain.models.notification import EVERY_DAY
from domain.services.reminder_preferences import (
    DIGEST_FREQUENCIES,
    WEEKDAY_CODES,
    InvalidReminderPreference,
    ReminderPreferences,
    TypePreference,
    UnknownReminderType,
    format_time,
    parse_time,
    reminder_preferences,
    set_digest_frequency,
    set_quiet_hours,
    set_reminders_enabled,
    set_type_days,
    set_type_enabled,
    set_type_time,
    type_preference,
    unsubscribe,
)
from domain.services.users import UserContext

COMMANDS = (CommandInfo("reminders", N_("which reminders I send you, and when"), order=82),)

# Names and one-line explanations of the seeded types, used when the type row has no name in
# the person's language (and always for the explanation: the table keeps English only).
TYPE_LABELS = {
    "WORKOUT_REMINDER": N_("Workout reminder"),
    "MISSED_WORKOUT": N_("Missed workout"),
    "CLIENT_INACTIVE": N_("Inactive client"),
    "STREAK_AT_RISK": N_("Streak at risk"),
    "INVITE_EXPIRING": N_("Invite expiring"),
    "WEEKLY_DIGEST": N_("Weekly summary"),
    "MONTHLY_DIGEST": N_("Monthly summary"),
}
TYPE_HINTS = {
    "WORKOUT_REMINDER": N_("On the days of your planned workouts, at your reminder time."),
    "MISSED_WORKOUT": N_("The day after a planned workout you did not log."),
    "CLIENT_INACTIVE": N_("For coaches: a client has logged nothing for several days."),
    "STREAK_AT_RISK": N_("In the evening, when training today would keep your streak going."),
    "INVITE_EXPIRING": N_("An invite link you sent expires soon."),
    "WEEKLY_DIGEST": N_("A summary of your training week."),
    "MONTHLY_DIGEST": N_("A summary of your training month, on its last day."),
}
REFUSALS = {
    "format": N_("Please send a time as HH:MM (24 h), for example 07:30."),
    "same_time": N_("Quiet hours must end at another time than they start."),
    "min_items": N_("Keep at least one day, or turn this reminder off instead."),
    "days": N_("That is not one of the choices."),
    "choices": N_("That is not one of the choices."),
    "not_timed": N_("This one is sent when its event happens: it has no time or days."),
    "no_days": N_("This one comes on a fixed day of the month: there are no days to choose."),
}
REFUSED = N_("That value is not accepted here.")
UNKNOWN_TYPE = N_("I do not know that kind of reminder.")
UNSUBSCRIBE_LABEL = N_("🔕 Stop these reminders")
OR_CANCEL = N_("Or send /cancel to stop.")


class RemindersForm(StatesGroup):
    time = State()  # data: code
    quiet_start = State()
    quiet_end = State()  # data: start


# Short prefixes: a type code may take 50 of the 64 bytes of callback data.
class RemindersHome(CallbackData, prefix="rh"):
    pass


class RemindersAll(CallbackData, prefix="ra"):
    on: bool


class ReminderOpen(CallbackData, prefix="ro"):
    code: str


class ReminderSwitch(CallbackData, prefix="rs"):
    code: str
    on: bool


class ReminderTime(CallbackData, prefix="rt"):
    code: str


class ReminderDays(CallbackData, prefix="rd"):
    code: str


class ReminderDay(CallbackData, prefix="rdt"):
    code: str
    day: int


class ReminderDaysSave(CallbackData, prefix="rds"):
    code: str


class QuietHours(CallbackData, prefix="rq"):
    pass


class DigestFrequency(CallbackData, prefix="rdg"):
    frequency: str


class Unsubscribe(CallbackData, prefix="unsub"):
    type_code: str


# --------------------------------------------------------------------------------------------
# The button under every reminder
# --------------------------------------------------------------------------------------------


@cache
def _catalogs() -> CatalogI18n:
    return CatalogI18n()


def unsubscribe_keyboard(type_code: str, locale: str) -> InlineKeyboardMarkup:
    """The keyboard the sender puts under a reminder of ``type_code``, labelled in ``locale``.

    Works outside an update too (the delivery tick): the catalogs are then read once.
    """
    i18n = I18n.get_current(no_error=True) or _catalogs()
    label = i18n.gettext(UNSUBSCRIBE_LABEL, locale=locale)
    return inline([[(label, Unsubscribe(type_code=type_code))]])


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def refusal(rule: str) -> str:
    return _(REFUSALS.get(rule, REFUSED))


def type_name(preference: TypePreference) -> str:
    if preference.localized_name:
        return preference.localized_name
    label = TYPE_LABELS.get(preference.code)
    return _(label) if label else preference.name


def day_label(day: int, i18n: CatalogI18n, locale: str) -> str:
    return value_label(WEEKDAY_CODES[day - 1], i18n, locale)


def days_label(days: Sequence[int], i18n: CatalogI18n, locale: str) -> str:
    if not days:
        return value_label([], i18n, locale)
    if tuple(sorted(days)) == EVERY_DAY:
        return _("every day")
    return ", ".join(day_label(day, i18n, locale) for day in sorted(days))


def schedule_label(preference: TypePreference, i18n: CatalogI18n, locale: str) -> str:
    """Like "18:00 · Monday, Friday" for a planned type; empty for an event type."""
    if preference.local_time is None:
        return ""
    if not preference.has_days:
        return format_time(preference.local_time)
    return f"{format_time(preference.local_time)} · {days_label(preference.days, i18n, locale)}"


def quiet_label(preferences: ReminderPreferences) -> str:
    return _("Quiet hours: {start}–{end}").format(
        start=format_time(preferences.quiet_hours_start),
        end=format_time(preferences.quiet_hours_end),
    )


def screen(
    preferences: ReminderPreferences, i18n: CatalogI18n, locale: str
) -> tuple[str, InlineKeyboardMarkup]:
    """The /reminders overview: general settings, then one line and one button per type."""
    title = _("🔔 Your reminders")
    lines = [f"<b>{html.escape(title)}</b>"]
    if preferences.reminders_enabled:
        lines.append(_("All reminders: {state}").format(state=value_label(True, i18n, locale)))
    else:
        lines.append(_("All reminders are off: nothing is sent until you turn them back on."))
    lines.append("🌙 " + quiet_label(preferences))
    lines.append(
        "📊 "
        + _("Progress digest: {frequency}").format(
            frequency=value_label(preferences.digest_frequency, i18n, locale)
        )
    )
    lines.append("")
    buttons: list[tuple[str, CallbackData]] = []
    for preference in preferences.types:
        mark = "✅" if preference.enabled else "🔕"
        name = type_name(preference)
        line = f"{mark} {html.escape(name)}"
        schedule = schedule_label(preference, i18n, locale)
        if schedule and preference.enabled:
            line = _("{name}: {schedule}").format(name=line, schedule=html.escape(schedule))
        lines.append(line)
        buttons.append((f"{mark} {name}", ReminderOpen(code=preference.code)))
    lines.append("\n" + _("Tap a reminder to change it."))
    rows: list[Sequence[tuple[str, CallbackData]]] = list(chunks(buttons, 2))
    if preferences.reminders_enabled:
        rows.append([(_("🔕 Turn all reminders off"), RemindersAll(on=False))])
    else:
        rows.append([(_("🔔 Turn all reminders on"), RemindersAll(on=True))])
    rows.append([(_("🌙 Quiet hours"), QuietHours())])
    rows.append(
        [
            (
                ("✅ " if frequency == preferences.digest_frequency else "📊 ")
                + value_label(frequency, i18n, locale),
                DigestFrequency(frequency=frequency),
            )
            for frequency in DIGEST_FREQUENCIES
        ]
    )
    return "\n".join(lines), inline(rows)


def detail(
    preference: TypePreference,
    general_on: bool,
    i18n: CatalogI18n,
    locale: str,
    *,
    draft: Sequence[int] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    """One type: its state and schedule; with ``draft``, the days editor."""
    text = f"<b>{html.escape(type_name(preference))}</b>"
    hint = TYPE_HINTS.get(preference.code)
    if hint:
        text += "\n" + html.escape(_(hint))
    text += "\n\n" + _("Now: {value}").format(value=value_label(preference.enabled, i18n, locale))
    if preference.local_time is not None:
        text += "\n" + _("Time: {time}").format(time=format_time(preference.local_time))
    if preference.has_days:
        days = draft if draft is not None else preference.days
        text += "\n" + _("Days: {days}").format(days=html.escape(days_label(days, i18n, locale)))
    if not general_on:
        text += "\n\n⚠️ " + _("All reminders are off: nothing is sent until you turn them back on.")
    rows: list[Sequence[tuple[str, CallbackData]]] = []
    if draft is not None:
        chosen = set(draft)
        toggles = [
            (
                ("✅ " if day in chosen else "▫️ ") + day_label(day, i18n, locale),
                ReminderDay(code=preference.code, day=day),
            )
            for day in EVERY_DAY
        ]
        rows.extend(chunks(toggles, 3))
        rows.append([(_("💾 Save"), ReminderDaysSave(code=preference.code))])
        text += "\n\n" + _("Tap the days you want, then save.")
    else:
        if preference.enabled:
            rows.append([(_("🔕 Turn off"), ReminderSwitch(code=preference.code, on=False))])
        else:
            rows.append([(_("🔔 Turn on"), ReminderSwitch(code=preference.code, on=True))])
        schedule: list[tuple[str, CallbackData]] = []
        if preference.local_time is not None:
            schedule.append((_("⏰ Change time"), ReminderTime(code=preference.code)))
        if preference.has_days:
            schedule.append((_("📅 Change days"), ReminderDays(code=preference.code)))
        if schedule:
            rows.append(schedule)
    rows.append([(_("⬅️ All reminders"), RemindersHome())])
    return text, inline(rows)


async def show(message: Message, text: str, keyboard: InlineKeyboardMarkup, *, edit: bool) -> None:
    if not edit:
        await message.answer(text, reply_markup=keyboard)
        return
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        # Choosing what was already chosen redraws the same screen: nothing to change.
        if "not modified" not in error.message:
            raise


def without_unsubscribe(message: Message) -> InlineKeyboardMarkup | None:
    """The message's keyboard less its "stop these reminders" button (None when empty)."""
    own = f"{Unsubscribe.__prefix__}{Unsubscribe.__separator__}"
    rows = [
        [button for button in row if not (button.callback_data or "").startswith(own)]
        for row in (message.reply_markup.inline_keyboard if message.reply_markup else [])
    ]
    kept = [row for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=kept) if kept else None


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="reminders")

    async def overview(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        *,
        edit: bool,
        saved: bool = False,
    ) -> None:
        preferences = await reminder_preferences(session, user.user_id, user.locale)
        text, keyboard = screen(preferences, i18n, user.locale)
        if saved:
            text = _("Saved.") + "\n\n" + text
        await show(message, text, keyboard, edit=edit)

    async def type_detail(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        code: str,
        *,
        edit: bool,
        saved: bool = False,
        prompt: str | None = None,
    ) -> None:
        preferences = await reminder_preferences(session, user.user_id, user.locale)
        text, keyboard = detail(
            preferences.of(code), preferences.reminders_enabled, i18n, user.locale
        )
        if saved:
            text = _("Saved.") + "\n\n" + text
        if prompt:
            text += "\n\n" + prompt
        await show(message, text, keyboard, edit=edit)

    @router.message(Command("reminders"))
    async def show_reminders(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        await overview(message, session, user, i18n, edit=False)

    @router.callback_query(RemindersHome.filter())
    async def home(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await state.clear()
        await query.answer()
        await overview(screen_message(query), session, user, i18n, edit=True)

    @router.callback_query(RemindersAll.filter())
    async def switch_all(
        query: CallbackQuery,
        callback_data: RemindersAll,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        await set_reminders_enabled(session, user.user_id, callback_data.on)
        await state.clear()
        await query.answer(_("Saved."))
        await overview(screen_message(query), session, user, i18n, edit=True)

    @router.callback_query(DigestFrequency.filter())
    async def digest(
        query: CallbackQuery,
        callback_data: DigestFrequency,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        try:
            await set_digest_frequency(session, user.user_id, callback_data.frequency)
        except InvalidReminderPreference as error:
            await query.answer(refusal(error.rule), show_alert=True)
            return
        await state.clear()
        await query.answer(_("Saved."))
        await overview(screen_message(query), session, user, i18n, edit=True)

    @router.callback_query(ReminderOpen.filter())
    async def open_type(
        query: CallbackQuery,
        callback_data: ReminderOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        try:
            await type_preference(session, user.user_id, callback_data.code, user.locale)
        except UnknownReminderType:
            await query.answer(_(UNKNOWN_TYPE), show_alert=True)
            return
        await state.clear()
        await query.answer()
        await type_detail(screen_message(query), session, user, i18n, callback_data.code, edit=True)

    @router.callback_query(ReminderSwitch.filter())
    async def switch(
        query: CallbackQuery,
        callback_data: ReminderSwitch,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        try:
            await set_type_enabled(session, user.user_id, callback_data.code, callback_data.on)
        except UnknownReminderType:
            await query.answer(_(UNKNOWN_TYPE), show_alert=True)
            return
        await state.clear()
        await query.answer(_("Saved."))
        await type_detail(screen_message(query), session, user, i18n, callback_data.code, edit=True)

    async def timed(
        query: CallbackQuery,
        session: AsyncSession,
        user: UserContext,
        code: str,
        *,
        days: bool = False,
    ) -> tuple[TypePreference, bool] | None:
        """The type (and whether reminders are on at all) if it has a time (and ``days``: days
        of the week to choose); otherwise the refusal is answered."""
        preferences = await reminder_preferences(session, user.user_id, user.locale)
        try:
            preference = preferences.of(code)
        except UnknownReminderType:
            await query.answer(_(UNKNOWN_TYPE), show_alert=True)
            return None
        if not preference.timed:
            await query.answer(refusal("not_timed"), show_alert=True)
            return None
        if days and not preference.has_days:
            await query.answer(refusal("no_days"), show_alert=True)
            return None
        return preference, preferences.reminders_enabled

    @router.callback_query(ReminderTime.filter())
    async def ask_time(
        query: CallbackQuery,
        callback_data: ReminderTime,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        if await timed(query, session, user, callback_data.code) is None:
            return
        await state.set_state(RemindersForm.time)
        await state.update_data(code=callback_data.code)
        await query.answer()
        await type_detail(
            screen_message(query),
            session,
            user,
            i18n,
            callback_data.code,
            edit=True,
            prompt=_("Send the new time as HH:MM, for example 07:30."),
        )

    @router.callback_query(ReminderDays.filter())
    async def edit_days(
        query: CallbackQuery,
        callback_data: ReminderDays,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        found = await timed(query, session, user, callback_data.code, days=True)
        if found is None:
            return
        preference, general_on = found
        await state.set_state(None)
        await state.update_data(draft_code=preference.code, draft=list(preference.days))
        await query.answer()
        text, keyboard = detail(preference, general_on, i18n, user.locale, draft=preference.days)
        await show(screen_message(query), text, keyboard, edit=True)

    async def draft_of(state: FSMContext, preference: TypePreference) -> list[int]:
        data = await state.get_data()
        if data.get("draft_code") == preference.code:
            return [int(day) for day in data.get("draft", [])]
        return list(preference.days)

    @router.callback_query(ReminderDay.filter())
    async def toggle_day(
        query: CallbackQuery,
        callback_data: ReminderDay,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        found = await timed(query, session, user, callback_data.code, days=True)
        if found is None:
            return
        preference, general_on = found
        if callback_data.day not in EVERY_DAY:
            await query.answer(refusal("days"), show_alert=True)
            return
        draft = await draft_of(state, preference)
        if callback_data.day in draft:
            draft.remove(callback_data.day)
        else:
            draft.append(callback_data.day)
        await state.update_data(draft_code=preference.code, draft=draft)
        await query.answer()
        text, keyboard = detail(preference, general_on, i18n, user.locale, draft=draft)
        await show(screen_message(query), text, keyboard, edit=True)

    @router.callback_query(ReminderDaysSave.filter())
    async def save_days(
        query: CallbackQuery,
        callback_data: ReminderDaysSave,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        found = await timed(query, session, user, callback_data.code, days=True)
        if found is None:
            return
        preference = found[0]
        draft = await draft_of(state, preference)
        try:
            await set_type_days(session, user.user_id, preference.code, draft)
        except InvalidReminderPreference as error:
            await query.answer(refusal(error.rule), show_alert=True)
            return
        await state.clear()
        await query.answer(_("Saved."))
        await type_detail(
            screen_message(query), session, user, i18n, preference.code, edit=True, saved=True
        )

    @router.callback_query(QuietHours.filter())
    async def ask_quiet_start(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        preferences = await reminder_preferences(session, user.user_id, user.locale)
        await state.set_state(RemindersForm.quiet_start)
        await query.answer()
        text = "\n\n".join(
            [
                "🌙 " + html.escape(quiet_label(preferences)),
                _("Nothing is sent to you between their start and their end (your time)."),
                _("Send the start as HH:MM, for example 22:00."),
            ]
        )
        await show(
            screen_message(query),
            text,
            inline([[(_("⬅️ All reminders"), RemindersHome())]]),
            edit=True,
        )

    @router.message(RemindersForm.time, F.text, NOT_A_COMMAND)
    async def typed_time(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        code = str((await state.get_data()).get("code", ""))
        try:
            await set_type_time(session, user.user_id, code, message.text or "")
        except InvalidReminderPreference as error:
            await message.answer(refusal(error.rule) + "\n" + _(OR_CANCEL))
            return
        except UnknownReminderType:
            await state.clear()
            await message.answer(_(UNKNOWN_TYPE))
            return
        await state.clear()
        await type_detail(message, session, user, i18n, code, edit=False, saved=True)

    @router.message(RemindersForm.quiet_start, F.text, NOT_A_COMMAND)
    async def typed_quiet_start(message: Message, state: FSMContext) -> None:
        try:
            start = parse_time(message.text or "")
        except InvalidReminderPreference as error:
            await message.answer(refusal(error.rule) + "\n" + _(OR_CANCEL))
            return
        await state.set_state(RemindersForm.quiet_end)
        await state.update_data(start=format_time(start))
        await message.answer(_("Now send the end as HH:MM, for example 07:00."))

    @router.message(RemindersForm.quiet_end, F.text, NOT_A_COMMAND)
    async def typed_quiet_end(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        start = str((await state.get_data()).get("start", ""))
        try:
            await set_quiet_hours(session, user.user_id, start, message.text or "")
        except InvalidReminderPreference as error:
            await message.answer(refusal(error.rule) + "\n" + _(OR_CANCEL))
            return
        await state.clear()
        await overview(message, session, user, i18n, edit=False, saved=True)

    @router.message(RemindersForm.time, NOT_A_COMMAND)
    @router.message(RemindersForm.quiet_start, NOT_A_COMMAND)
    @router.message(RemindersForm.quiet_end, NOT_A_COMMAND)
    async def typed_expected(message: Message) -> None:
        await message.answer(_("Please type the new value, or send /cancel to stop."))

    @router.callback_query(Unsubscribe.filter())
    async def unsubscribe_button(
        query: CallbackQuery,
        callback_data: Unsubscribe,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        code = callback_data.type_code
        try:
            await unsubscribe(session, user.user_id, code)
            preference = await type_preference(session, user.user_id, code, user.locale)
        except UnknownReminderType:
            await query.answer(_(UNKNOWN_TYPE), show_alert=True)
            return
        await query.answer(_("Turned off."))
        message = screen_message(query)
        # The reminder stays as it was, other buttons included; only this one has done its job.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=without_unsubscribe(message))
        await message.answer(
            _(
                "🔕 {name}: turned off, you will not get these any more.\n"
                "To turn them back on, send /reminders."
            ).format(name=html.escape(type_name(preference)))
        )

    return router
