"""Share links (``shr_<token>``): share a program or a workout with one person.

The sharer taps Share under a program or workout (``bot.coach_callbacks.ShareNew``), types a
note or skips it, picks some of its categories or none, and gets a t.me link valid for 7 days.
``/share`` lists their links (who opened them, until when) and revokes one. The first person to
open the link sees a preview (who shares what, the note, the content) with Save (keep it in
their library) and Start (follow the program from today / train the workout now, through the
guided session's own Start button). Every id from a button is re-checked by the service.
"""

from __future__ import annotations

import datetime as dt
import html
import uuid
import zoneinfo
from collections.abc import Sequence

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.coach_callbacks import ShareNew
from bot.commands import CommandInfo
from bot.handlers.start import DEEP_LINK_HANDLERS, ask_language
from bot.handlers.workout_session import StartWorkout
from bot.i18n import N_, CatalogI18n, _, ngettext
from bot.keyboards import NOT_A_COMMAND, chunks, inline
from bot.router_gates import FeatureRouter
from bot.units import clock_text, distance_text, load_text, user_unit
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused, deep_link
from domain.services.sharing import (
    MAX_MESSAGE_LENGTH,
    InvalidShare,
    SetPreview,
    ShareKind,
    ShareLine,
    SharePreview,
    ShareStatus,
    check_message,
    create_share,
    list_shares,
    redeem_share,
    revoke_share,
    save_share,
    share_preview,
    share_target,
    start_shared_program,
)
from domain.services.streaks import local_day
from domain.services.strength import WeightUnit
from domain.services.users import UserContext

COMMANDS = (CommandInfo("share", N_("my share links: who opened them, revoke one"), order=47),)

KINDS = {"p": ShareKind.PROGRAM, "w": ShareKind.WORKOUT}

LINK_PROBLEMS = {
    LinkProblem.UNKNOWN: N_("This share link does not exist. Check that you copied all of it."),
    LinkProblem.EXPIRED: N_(
        "This share link has expired. Ask the person who sent it for a new one."
    ),
    LinkProblem.REVOKED: N_("This share link was withdrawn by the person who sent it."),
    LinkProblem.USED_UP: N_(
        "This share link was already opened by someone else: each link is for one person. "
        "Ask for a link of your own."
    ),
    LinkProblem.RATE_LIMITED: N_(
        "Too many links that did not work in a short time. Please wait a few minutes and try again."
    ),
    LinkProblem.OWN_LINK: N_(
        "This is your own share link: send it to the person you want to share with."
    ),
    LinkProblem.ALREADY_DONE: N_("You already have this."),
}
SHARE_PROBLEMS = {
    "visibility": N_(
        "This one is visible to a group (an institution or your clients), so it cannot be "
        "shared by link: links share private or public programs and workouts."
    ),
    "message_too_long": N_("Please keep the message under {limit} characters."),
    "category": N_("That category does not belong to it. Please pick one of the buttons."),
    "not_a_program": N_("Only a program can be started this way."),
}
STEP_EXPIRED = N_("That step has expired. Tap Share under the program or workout again.")
NOT_FOUND = N_("I could not find that share link.")


class ShareForm(StatesGroup):
    message = State()  # the note for the recipient, as text, or Skip
    categories = State()  # category toggles, then Create


class ShareSkip(CallbackData, prefix="shk"):
    pass


class ShareCat(CallbackData, prefix="shc"):
    i: int  # index in the offered categories


class ShareMake(CallbackData, prefix="shm"):
    pass


class ShareRevoke(CallbackData, prefix="shx"):
    id: str  # share id, 32 hex digits


class ShareSave(CallbackData, prefix="shv"):
    id: str


class ShareStart(CallbackData, prefix="shg"):
    id: str


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=raw)
    except ValueError:
        return None


def local_text(moment: dt.datetime, timezone: str) -> str:
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def share_problem(error: InvalidShare) -> str:
    template = SHARE_PROBLEMS.get(error.problem)
    if template is None:
        return _("That does not look right. Please check it and try again.")
    return _(template).format(limit=MAX_MESSAGE_LENGTH)


def link_problem(error: LinkRefused) -> str:
    return _(LINK_PROBLEMS[error.problem])


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def set_line(item: SetPreview, unit: WeightUnit) -> str:
    """ "Back Squat: 3 × 5 @ 225 lb", "Plank: 2 × 1:00", "Row: 4 × 8–12 · RPE 8"."""
    if item.reps is not None:
        amount = str(item.reps) if item.reps_max is None else f"{item.reps}–{item.reps_max}"
    elif item.duration_seconds is not None:
        amount = clock_text(item.duration_seconds)
    elif item.distance_m is not None:
        amount = distance_text(item.distance_m)
    else:
        amount = ""
    text = (
        f"{item.sets} × {amount}"
        if amount
        else ngettext("{count} set", "{count} sets", item.sets).format(count=item.sets)
    )
    if item.load_kg is not None and item.load_kg != 0:
        text += " @ " + load_text(item.load_kg, unit)
    if item.rpe is not None:
        text += " · " + _("RPE {rpe}").format(rpe=f"{item.rpe.normalize():f}")
    names = " + ".join(item.exercises) or "?"
    return f"• {html.escape(names)}: {text}"


def preview_text(preview: SharePreview, user: UserContext) -> str:
    sharer = f"<b>{html.escape(preview.sharer)}</b>"
    if preview.kind is ShareKind.PROGRAM:
        lines = ["🔗 " + _("{name} shares a program with you.").format(name=sharer)]
    else:
        lines = ["🔗 " + _("{name} shares a workout with you.").format(name=sharer)]
    if preview.message:
        lines.append("💬 “" + html.escape(preview.message) + "”")
    lines.append("")
    if preview.program is not None:
        program = preview.program
        lines.append(f"<b>{html.escape(program.title)}</b>")
        if program.description:
            lines.append(html.escape(program.description))
        per_week = f"{program.workouts_per_week:f}"
        lines.append(
            ngettext("{count} week", "{count} weeks", program.weeks).format(count=program.weeks)
            + " · "
            + _("workouts per week: {count}").format(count=per_week)
        )
        if program.first_week:
            lines.append(_("First week:"))
            lines.extend(
                _("Day {day}: {workouts}").format(
                    day=day.day_number + 1,
                    workouts=html.escape(", ".join(day.workouts)),
                )
                for day in program.first_week
            )
    if preview.workout is not None:
        workout = preview.workout
        title = f"<b>{html.escape(workout.name)}</b>"
        if workout.estimated_seconds:
            minutes = max(1, round(workout.estimated_seconds / 60))
            title += " — " + _("about {minutes} min").format(minutes=minutes)
        lines.append(title)
        unit = user_unit(user)
        lines.extend(set_line(item, unit) for item in workout.sets)
    if preview.categories:
        lines.append(
            _("Categories: {names}").format(names=html.escape(", ".join(preview.categories)))
        )
    lines.append("")
    if preview.saved:
        lines.append("✅ " + _("It is in your library."))
    else:
        lines.append(
            _("Save it to keep it: the link works until {date}.").format(
                date=local_text(preview.expires_at, user.timezone)
            )
        )
    return "\n".join(lines)


def preview_keyboard(preview: SharePreview) -> InlineKeyboardMarkup:
    share = preview.share_id.hex
    start: CallbackData
    if preview.kind is ShareKind.WORKOUT:
        # The guided session's own Start button: one code path for every way in.
        start = StartWorkout(workout=preview.target_id.hex)
    else:
        start = ShareStart(id=share)
    row: list[tuple[str, CallbackData]] = []
    if not preview.saved:
        row.append((_("💾 Save"), ShareSave(id=share)))
    row.append((_("▶ Start"), start))
    return inline([row])


STATUS_ICONS = {
    ShareStatus.PENDING: "⏳",
    ShareStatus.ACCEPTED: "✅",
    ShareStatus.EXPIRED: "⌛",
    ShareStatus.REVOKED: "🚫",
}


def status_text(line: ShareLine, timezone: str) -> str:
    if line.status is ShareStatus.REVOKED:
        return _("revoked")
    if line.status is ShareStatus.EXPIRED:
        return _("expired")
    if line.status is ShareStatus.ACCEPTED and line.accepted_at is not None:
        return _("opened by {name} on {date}").format(
            name=html.escape(line.accepted_by or "?"),
            date=local_text(line.accepted_at, timezone),
        )
    return _("not opened yet")


def list_screen(
    lines: Sequence[ShareLine], user: UserContext, prefix: str = ""
) -> tuple[str, InlineKeyboardMarkup | None]:
    text = [prefix] if prefix else []
    text.append("🔗 <b>" + _("Your share links") + "</b>")
    if not lines:
        text.append(
            _(
                "You have not shared anything yet. Open a program or a workout and tap Share "
                "to send it to someone."
            )
        )
        return "\n".join(text), None
    buttons: list[tuple[str, CallbackData]] = []
    for number, line in enumerate(lines, start=1):
        icon = "📋" if line.kind is ShareKind.PROGRAM else "🏋"
        entry = (
            f"{number}. {icon} <b>{html.escape(line.title)}</b> — "
            f"{STATUS_ICONS[line.status]} {status_text(line, user.timezone)}"
        )
        if line.message:
            short = line.message if len(line.message) <= 60 else line.message[:59] + "…"
            entry += "\n    💬 " + html.escape(short)
        if line.revocable:
            entry += "\n    " + _("valid until {date}").format(
                date=local_text(line.expires_at, user.timezone)
            )
            buttons.append(
                (_("🚫 Revoke {number}").format(number=number), ShareRevoke(id=line.id.hex))
            )
        text.append(entry)
    if not buttons:
        return "\n".join(text), None
    return "\n".join(text), inline([list(row) for row in chunks(buttons, 3)])


# --------------------------------------------------------------------------------------------
# The deep link
# --------------------------------------------------------------------------------------------


async def open_share_link(
    message: Message,
    payload: str,
    *,
    state: FSMContext,
    user: UserContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> bool:
    """``/start shr_<token>``: accept the share (first opener only) and show its preview. A
    refusal changes nothing but its recorded security event (committed with the update)."""
    del i18n  # the update's locale is already active
    now = current_instant()
    try:
        share_id = await redeem_share(session, user.user_id, payload, now=now)
    except LinkRefused as refused:
        await message.answer(link_problem(refused))
    else:
        preview = await share_preview(session, user.user_id, share_id, now=now, locale=user.locale)
        await message.answer(preview_text(preview, user), reply_markup=preview_keyboard(preview))
    if not user.onboarded:
        await ask_language(message, state, user)
    return True


DEEP_LINK_HANDLERS[LinkKind.SHARE.value] = open_share_link


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="sharing")

    async def ask_categories(message: Message, state: FSMContext) -> None:
        data = await state.get_data()
        names: list[str] = list(data.get("sh_names") or [])
        chosen: set[int] = set(data.get("sh_chosen") or [])
        rows: list[list[tuple[str, CallbackData]]] = [
            [(("☑ " if index in chosen else "☐ ") + name, ShareCat(i=index))]
            for index, name in enumerate(names)
        ]
        rows.append([(_("✅ Create the link"), ShareMake())])
        await state.set_state(ShareForm.categories)
        await message.answer(
            _("Tag the link with some of its categories, or create it right away."),
            reply_markup=inline(rows),
        )

    async def make_link(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        data = await state.get_data()
        target = _uuid(str(data.get("sh_target", "")))
        if target is None or data.get("sh_kind") not in KINDS.values():
            await state.clear()
            await message.answer(_(STEP_EXPIRED))
            return
        offered = [_uuid(str(raw)) for raw in data.get("sh_cats") or []]
        chosen = [
            category
            for index in sorted(set(data.get("sh_chosen") or []))
            if 0 <= index < len(offered) and (category := offered[index]) is not None
        ]
        try:
            created = await create_share(
                session,
                user.user_id,
                ShareKind(data["sh_kind"]),
                target,
                message=data.get("sh_message"),
                category_ids=chosen,
                now=current_instant(),
            )
        except InvalidShare as error:
            await state.clear()
            await message.answer(share_problem(error))
            return
        await state.clear()
        me = await bot.me()
        link = deep_link(me.username, LinkKind.SHARE, created.token)
        await message.answer(
            "\n".join(
                [
                    _("🔗 Your link for “{title}”:").format(
                        title=html.escape(str(data.get("sh_title", "")))
                    ),
                    link,
                    "",
                    _(
                        "Send it to one person: the first one to open it gets it. It works "
                        "until {date}. See or revoke your links with /share."
                    ).format(date=local_text(created.expires_at, user.timezone)),
                ]
            )
        )

    @router.callback_query(ShareNew.filter())
    async def new_share(
        query: CallbackQuery,
        callback_data: ShareNew,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind = KINDS.get(callback_data.kind)
        if kind is None:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        try:
            target = await share_target(
                session, user.user_id, kind, callback_data.target_id, locale=user.locale
            )
        except InvalidShare as error:
            await query.answer()
            assert isinstance(query.message, Message)
            await query.message.answer(share_problem(error))
            return
        await state.clear()
        await state.set_state(ShareForm.message)
        await state.set_data(
            {
                "sh_kind": kind.value,
                "sh_target": target.id.hex,
                "sh_title": target.title,
                "sh_cats": [option.id.hex for option in target.categories],
                "sh_names": [option.name for option in target.categories],
                "sh_chosen": [],
            }
        )
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(
            _("🔗 Share “{title}”.").format(title=html.escape(target.title))
            + "\n"
            + _(
                "Type a short message for the person you share it with (up to {limit} "
                "characters), or tap Skip."
            ).format(limit=MAX_MESSAGE_LENGTH),
            reply_markup=inline([[(_("Skip"), ShareSkip())]]),
        )

    async def after_message(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        data = await state.get_data()
        if data.get("sh_names"):
            await ask_categories(message, state)
        else:
            await make_link(message, state, session, user, bot)

    @router.message(ShareForm.message, F.text, NOT_A_COMMAND)
    async def got_message(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        try:
            note = check_message(message.text or "")
        except InvalidShare as error:
            await message.answer(share_problem(error))
            return
        await state.update_data(sh_message=note)
        await after_message(message, state, session, user, bot)

    @router.message(ShareForm.message, NOT_A_COMMAND)
    async def message_expected(message: Message) -> None:
        await message.answer(
            _("Please type the message as text, or tap Skip."),
            reply_markup=inline([[(_("Skip"), ShareSkip())]]),
        )

    @router.callback_query(ShareSkip.filter())
    async def skip_message(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        if await state.get_state() != ShareForm.message.state:
            await query.message.answer(_(STEP_EXPIRED))
            return
        await state.update_data(sh_message=None)
        await after_message(query.message, state, session, user, bot)

    @router.callback_query(ShareCat.filter())
    async def toggle_category(
        query: CallbackQuery, callback_data: ShareCat, state: FSMContext
    ) -> None:
        assert isinstance(query.message, Message)
        data = await state.get_data()
        names = list(data.get("sh_names") or [])
        if await state.get_state() != ShareForm.categories.state:
            await query.answer(_(STEP_EXPIRED), show_alert=True)
            return
        if not 0 <= callback_data.i < len(names):
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        chosen = set(data.get("sh_chosen") or [])
        chosen ^= {callback_data.i}
        await state.update_data(sh_chosen=sorted(chosen))
        await query.answer()
        rows: list[list[tuple[str, CallbackData]]] = [
            [(("☑ " if index in chosen else "☐ ") + name, ShareCat(i=index))]
            for index, name in enumerate(names)
        ]
        rows.append([(_("✅ Create the link"), ShareMake())])
        await query.message.edit_reply_markup(reply_markup=inline(rows))

    @router.callback_query(ShareMake.filter())
    async def create_link(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        bot: Bot,
    ) -> None:
        await query.answer()
        assert isinstance(query.message, Message)
        if await state.get_state() != ShareForm.categories.state:
            await query.message.answer(_(STEP_EXPIRED))
            return
        await make_link(query.message, state, session, user, bot)

    @router.message(Command("share"))
    async def share_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        lines = await list_shares(session, user.user_id, now=current_instant())
        text, keyboard = list_screen(lines, user)
        await message.answer(text, reply_markup=keyboard)

    @router.callback_query(ShareRevoke.filter())
    async def revoke(
        query: CallbackQuery,
        callback_data: ShareRevoke,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        share_id = _uuid(callback_data.id)
        if share_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        now = current_instant()
        revoked = await revoke_share(session, user.user_id, share_id, now=now)
        await query.answer()
        assert isinstance(query.message, Message)
        prefix = _("🚫 Link revoked.") if revoked else _("That link was already revoked.")
        text, keyboard = list_screen(
            await list_shares(session, user.user_id, now=now), user, prefix
        )
        await query.message.edit_text(text, reply_markup=keyboard)

    @router.callback_query(ShareSave.filter())
    async def save(
        query: CallbackQuery,
        callback_data: ShareSave,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        share_id = _uuid(callback_data.id)
        if share_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        now = current_instant()
        assert isinstance(query.message, Message)
        try:
            await save_share(session, user.user_id, share_id, now=now)
        except LinkRefused as refused:
            await query.answer()
            await query.message.answer(link_problem(refused))
            return
        await query.answer()
        preview = await share_preview(session, user.user_id, share_id, now=now, locale=user.locale)
        await query.message.edit_text(
            preview_text(preview, user), reply_markup=preview_keyboard(preview)
        )
        await query.message.answer(
            "💾 " + _("Saved: it stays in your library (/programs) and your /favorites.")
        )

    @router.callback_query(ShareStart.filter())
    async def start(
        query: CallbackQuery,
        callback_data: ShareStart,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        share_id = _uuid(callback_data.id)
        if share_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        now = current_instant()
        assert isinstance(query.message, Message)
        try:
            await start_shared_program(
                session,
                user.user_id,
                share_id,
                start_date=local_day(now, user.timezone),
                now=now,
            )
        except LinkRefused as refused:
            await query.answer()
            await query.message.answer(link_problem(refused))
            return
        except InvalidShare as error:
            await query.answer()
            await query.message.answer(share_problem(error))
            return
        await query.answer()
        await query.message.answer(
            "▶ "
            + _(
                "You follow this program from today. It is saved in your library. Send /today "
                "to see today's workout."
            )
        )

    return router
