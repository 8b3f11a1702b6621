"""/history: my sessions, ten a page (◀ ▶), a button per session for its sets, and "by exercise":
the exercises I trained lately, then my last sessions of the one I pick.

Ids in callback data are user input: domain.services.history re-checks the session with
domain/access and reads only the presser's own rows. The formatting helpers here (dates in the
person's time zone, loads in their unit, one set as a line) are shared with /progress.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
import zoneinfo
from collections.abc import Sequence

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from babel.dates import format_datetime
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, _, ngettext
from bot.keyboards import inline, screen_message
from bot.router_gates import FeatureRouter
from bot.units import clock_text, load_text, user_unit
from domain.errors import NotAllowed, NotFound
from domain.services.history import (
    PAGE_SIZE,
    ExerciseChoice,
    ExerciseHistory,
    SessionDetail,
    SessionPage,
    SetLine,
    exercise_history,
    recent_exercises,
    session_detail,
    session_page,
)
from domain.services.strength import WeightUnit, display_load
from domain.services.users import UserContext

COMMANDS = (CommandInfo("history", N_("my past sessions and sets"), order=30),)

UNIT_LABELS = {WeightUnit.KG: N_("kg"), WeightUnit.LB: N_("lb")}
EMPTY_LOG = N_(
    "You have not logged any training yet. Send /today for today's workout, or /log and "
    "then your sets, like “squat 5x5 100”."
)
NOT_YOURS = N_("I could not find that session in your log.")


class HistoryPage(CallbackData, prefix="hp"):
    page: int


class HistorySession(CallbackData, prefix="hs"):
    session: str  # training_session id, 32 hex digits
    page: int  # the page to go back to


class HistoryExercises(CallbackData, prefix="hxl"):
    pass


class HistoryExercise(CallbackData, prefix="hx"):
    exercise: str  # exercise id, 32 hex digits


# --------------------------------------------------------------------------------------------
# Formatting shared with /progress
# --------------------------------------------------------------------------------------------


def local_zone(user: UserContext) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(user.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def when(moment: dt.datetime, user: UserContext, pattern: str = "EEE d MMM yyyy, HH:mm") -> str:
    """A moment in the person's time zone and language ("Tue 12 May 2026, 18:30")."""
    return format_datetime(moment.astimezone(local_zone(user)), pattern, locale=user.locale)


def set_text(line: SetLine, unit: WeightUnit) -> str:
    """One set as a person writes it: "5 × 100 kg · RPE 8", "12 reps (bodyweight + 10 kg)",
    "400 m in 1:35"."""
    parts: list[str] = []
    if line.reps is not None and line.load_kg is not None and line.load_kg > 0:
        parts.append(
            _("{reps} × {load}").format(reps=line.reps, load=load_text(line.load_kg, unit))
        )
    elif line.reps is not None:
        parts.append(ngettext("{count} rep", "{count} reps", line.reps).format(count=line.reps))
    if line.is_bodyweight and line.added_load_kg:
        if line.added_load_kg > 0:
            parts.append(
                _("(bodyweight + {load})").format(load=load_text(line.added_load_kg, unit))
            )
        else:
            parts.append(
                _("(bodyweight − {load})").format(load=load_text(-line.added_load_kg, unit))
            )
    if line.distance_m is not None:
        parts.append(
            _("{distance} m").format(distance=display_load(line.distance_m, WeightUnit.KG))
        )
    if line.duration_seconds is not None:
        parts.append(_("in {time}").format(time=clock_text(line.duration_seconds)))
    text = " ".join(parts) or "—"
    if line.rpe is not None:
        text += " · " + _("RPE {rpe}").format(rpe=display_load(line.rpe, WeightUnit.KG))
    if line.is_warmup:
        text += " · " + _("warm-up")
    return text


def parse_hex_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------------------------


def page_screen(
    page: SessionPage, user: UserContext, unit: WeightUnit
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        "<b>"
        + html.escape(_("📖 Your training history — page {page}").format(page=page.page + 1))
        + "</b>",
        "",
    ]
    buttons: list[Sequence[tuple[str, CallbackData]]] = []
    for number, row in enumerate(page.sessions, start=page.page * PAGE_SIZE + 1):
        title = when(row.started_at, user)
        if row.workout_name:
            title += f" · {row.workout_name}"
        summary = ngettext("{count} set", "{count} sets", row.set_count).format(count=row.set_count)
        if row.volume_kg > 0:
            summary += " · " + load_text(row.volume_kg, unit)
        lines.append(f"{number}. <b>{html.escape(title)}</b> — {html.escape(summary)}")
        if row.exercises:
            names = ", ".join(row.exercises[:4]) + (" …" if len(row.exercises) > 4 else "")
            lines.append("    " + html.escape(names))
        label = f"{number}. " + when(row.started_at, user, "EEE d MMM")
        buttons.append([(label, HistorySession(session=row.id.hex, page=page.page))])
    navigation: list[tuple[str, CallbackData]] = []
    if page.has_previous:
        navigation.append((_("◀ Newer"), HistoryPage(page=page.page - 1)))
    if page.has_next:
        navigation.append((_("Older ▶"), HistoryPage(page=page.page + 1)))
    if navigation:
        buttons.append(navigation)
    buttons.append([(_("🏋 By exercise"), HistoryExercises())])
    lines.append("")
    lines.append(_("Tap a session to see its sets."))
    return "\n".join(lines), inline(buttons)


def detail_screen(
    detail: SessionDetail, user: UserContext, unit: WeightUnit, back_page: int
) -> tuple[str, InlineKeyboardMarkup]:
    title = when(detail.started_at, user)
    if detail.finished_at is not None:
        title += "–" + when(detail.finished_at, user, "HH:mm")
    lines = [f"<b>{html.escape(title)}</b>"]
    if detail.workout_name:
        lines.append(html.escape(_("Workout: {name}").format(name=detail.workout_name)))
    for exercise in detail.exercises:
        lines.append("")
        lines.append(f"<b>{html.escape(exercise.name)}</b>")
        lines.extend(
            f"  {index}. {html.escape(set_text(line, unit))}"
            for index, line in enumerate(exercise.sets, start=1)
        )
    if not detail.exercises:
        lines.append("")
        lines.append(_("No sets were logged in this session."))
    if detail.soreness is not None:
        lines.append("")
        lines.append(_("Soreness: {value}/10").format(value=detail.soreness))
    if detail.notes:
        lines.append(html.escape(_("Notes: {notes}").format(notes=detail.notes)))
    keyboard = inline([[(_("⬅️ Back to the list"), HistoryPage(page=back_page))]])
    return "\n".join(lines), keyboard


def exercises_screen(choices: Sequence[ExerciseChoice]) -> tuple[str, InlineKeyboardMarkup]:
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [(choice.name, HistoryExercise(exercise=choice.exercise_id.hex))] for choice in choices
    ]
    rows.append([(_("⬅️ Back to the list"), HistoryPage(page=0))])
    return _("Which exercise? The ones you trained most recently:"), inline(rows)


def exercise_screen(
    history: ExerciseHistory, user: UserContext, unit: WeightUnit
) -> tuple[str, InlineKeyboardMarkup]:
    keyboard = inline(
        [
            [(_("🏋 Another exercise"), HistoryExercises())],
            [(_("⬅️ Back to the list"), HistoryPage(page=0))],
        ]
    )
    if history.name is None or not history.sessions:
        return _("You have not logged this exercise yet."), keyboard
    lines = [
        "<b>"
        + html.escape(_("{exercise}: your last sessions").format(exercise=history.name))
        + "</b>"
    ]
    for past in history.sessions:
        lines.append("")
        heading = when(past.performed_at, user)
        best = past.best_e1rm_kg
        if best is not None:
            heading += " · " + _("e1RM {load}").format(load=load_text(best, unit))
        lines.append(f"<b>{html.escape(heading)}</b>")
        lines.extend(
            f"  {index}. {html.escape(set_text(line, unit))}"
            for index, line in enumerate(past.sets, start=1)
        )
    return "\n".join(lines), keyboard


async def show(
    message: Message, text: str, keyboard: InlineKeyboardMarkup | None, *, edit: bool
) -> None:
    if not edit:
        await message.answer(text, reply_markup=keyboard)
        return
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="history")

    async def listing(
        message: Message, session: AsyncSession, user: UserContext, page: int, *, edit: bool
    ) -> None:
        found = await session_page(session, user.user_id, page=page, locale=user.locale)
        if not found.sessions and found.page > 0:  # a stale page: the log got shorter
            found = await session_page(session, user.user_id, page=0, locale=user.locale)
        if not found.sessions:
            await show(message, _(EMPTY_LOG), None, edit=edit)
            return
        text, keyboard = page_screen(found, user, user_unit(user))
        await show(message, text, keyboard, edit=edit)

    @router.message(Command("history"))
    async def history_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await listing(message, session, user, 0, edit=False)

    @router.callback_query(HistoryPage.filter())
    async def history_page(
        query: CallbackQuery,
        callback_data: HistoryPage,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await query.answer()
        await listing(screen_message(query), session, user, callback_data.page, edit=True)

    @router.callback_query(HistorySession.filter())
    async def history_session(
        query: CallbackQuery,
        callback_data: HistorySession,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        session_id = parse_hex_id(callback_data.session)
        if session_id is None:
            await query.answer(_(NOT_YOURS), show_alert=True)
            return
        try:
            detail = await session_detail(session, user.user_id, session_id, locale=user.locale)
        except (NotAllowed, NotFound):
            await query.answer(_(NOT_YOURS), show_alert=True)
            return
        await query.answer()
        text, keyboard = detail_screen(detail, user, user_unit(user), max(callback_data.page, 0))
        await show(screen_message(query), text, keyboard, edit=True)

    @router.callback_query(HistoryExercises.filter())
    async def history_exercises(
        query: CallbackQuery, session: AsyncSession, user: UserContext
    ) -> None:
        await query.answer()
        choices = await recent_exercises(session, user.user_id, locale=user.locale)
        if not choices:
            await show(screen_message(query), _(EMPTY_LOG), None, edit=True)
            return
        text, keyboard = exercises_screen(choices)
        await show(screen_message(query), text, keyboard, edit=True)

    @router.callback_query(HistoryExercise.filter())
    async def history_exercise(
        query: CallbackQuery,
        callback_data: HistoryExercise,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        exercise_id = parse_hex_id(callback_data.exercise)
        if exercise_id is None:
            await query.answer(_("You have not logged this exercise yet."), show_alert=True)
            return
        await query.answer()
        found = await exercise_history(session, user.user_id, exercise_id, locale=user.locale)
        text, keyboard = exercise_screen(found, user, user_unit(user))
        await show(screen_message(query), text, keyboard, edit=True)

    return router
