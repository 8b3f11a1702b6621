"""/clients and /invite: a coach's roster with compliance, a client's card (log, charts,
programs, one day of the schedule), client links and the athlete's consent (deep link
``cli_<token>``), "My coaches" for athletes, ending the relation from either side.

Ids travel in buttons as 22-character URL-safe base64 (two fit in Telegram's 64 bytes); every
id is re-checked by ``domain.services.coaching`` (a forged one gets "not allowed"). Multi-step
choices (a slot of a day, the workout to put there, a typed start date) keep their context in
the FSM, and the service checks it again when it acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import html
import uuid
from collections.abc import Callable, Sequence

from aiogram import Bot, F, Router
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.coach_callbacks import AssignPick
from bot.commands import CommandInfo
from bot.handlers.history import set_text, when
from bot.handlers.progress import chart_labels
from bot.handlers.start import DEEP_LINK_HANDLERS, ask_language
from bot.i18n import N_, CatalogI18n, _, ngettext
from bot.keyboards import NOT_A_COMMAND, inline, parse_short_id, screen_message, short_id
from bot.router_gates import FeatureRouter
from bot.units import user_unit
from domain.errors import Conflict, InvalidInput, NotAllowed
from domain.models.user import ProfessionalRelationType, ScheduleOverrideAction
from domain.services import coaching, compliance
from domain.services.charts import progress_charts
from domain.services.compliance import ClientCompliance, Trend
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused, deep_link
from domain.services.users import UserContext

COACH_ROLES = frozenset({"COACH", "PHYSIOTHERAPIST", "ADMIN"})
COMMANDS = (
    CommandInfo("clients", N_("your clients, or your coaches"), order=45),
    CommandInfo("invite", N_("a link that makes someone your client"), roles=COACH_ROLES, order=46),
)

CONSENT_LINES = {
    "logs": N_("your training log (sessions, sets, notes)"),
    "charts": N_("your progress charts"),
    "soreness": N_("your soreness ratings"),
    "goals": N_("your goals"),
    "programs": N_("programs: they may assign you programs and change days of your schedule"),
}
ROLE_LABELS = {
    ProfessionalRelationType.COACH: N_("coach"),
    ProfessionalRelationType.PHYSIOTHERAPIST: N_("physiotherapist"),
    ProfessionalRelationType.TRAINER: N_("trainer"),
}
LINK_PROBLEMS = {
    LinkProblem.UNKNOWN: N_("This client link is not valid. Ask your coach for a new one."),
    LinkProblem.EXPIRED: N_("This client link has expired. Ask your coach for a new one."),
    LinkProblem.REVOKED: N_("Your coach cancelled this link. Ask them for a new one."),
    LinkProblem.USED_UP: N_("This link was already used by someone else. Ask for your own."),
    LinkProblem.RATE_LIMITED: N_("Too many invalid links in a short time. Try again later."),
    LinkProblem.OWN_LINK: N_("This is your own client link: send it to your athlete."),
    LinkProblem.ALREADY_DONE: N_("You already answered this invitation. See /clients."),
}
INPUT_PROBLEMS = {
    "too_early": N_("That date is more than a week in the past. Pick a later one."),
    "too_late": N_("That date is more than a year away. Pick a closer one."),
    "outside_program": N_("That day is outside the client's program."),
    "not_on_day": N_("That workout is not on this day any more. Open the day again."),
    "no_schedule": N_("This program has no schedule yet: it cannot be assigned."),
}
NOT_A_COACH = N_(
    "Only coaches and therapists can invite clients. Choose “I coach” in /start to become one."
)
NO_CLIENTS = N_("You have no client yet. Send /invite to get a link for your athlete.")
NO_RELATION = N_("You have no coach yet. When a coach sends you a client link, open it to connect.")
EXPIRED_STEP = N_("That step has expired. Send /clients to start again.")
BAD_DATE = N_("Please send a date such as 2031-03-17 or 17.03.2031.")
ENDED = N_("This relation has already ended.")

_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y")


def ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


def parse_ymd(value: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(value, "%Y%m%d").date()  # noqa: DTZ007 - a date only
    except ValueError:
        return None


def parse_date(text: str) -> dt.date | None:
    for pattern in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), pattern).date()  # noqa: DTZ007 - a date
        except ValueError:
            continue
    return None


# --------------------------------------------------------------------------------------------
# Buttons
# --------------------------------------------------------------------------------------------


class Roster(CallbackData, prefix="clr"):
    page: int = 0


class InviteNew(CallbackData, prefix="cin"):
    preset: str = "all"  # "all" | "prog": log and programs only
    # The institution the client joins: its short id; INDEPENDENT: none; "": the coach's only
    # one (a coach in several chooses first).
    i: str = ""


INDEPENDENT = "-"


class ConsentAnswer(CallbackData, prefix="ccn"):
    r: str
    ok: bool


class MyCoaches(CallbackData, prefix="cmc"):
    pass


class CoachEnd(CallbackData, prefix="cce"):
    r: str
    sure: bool = False


class ClientOpen(CallbackData, prefix="clo"):
    r: str


class ClientEnd(CallbackData, prefix="cle"):
    r: str
    sure: bool = False


class ClientLog(CallbackData, prefix="clg"):
    r: str
    p: int = 0


class ClientSession(CallbackData, prefix="css"):
    r: str
    s: str


class ClientCharts(CallbackData, prefix="clc"):
    r: str


class AssignPrograms(CallbackData, prefix="cap"):
    r: str
    p: int = 0


class AssignClients(CallbackData, prefix="cac"):
    g: str
    p: int = 0


class AssignChosen(CallbackData, prefix="cao"):
    r: str
    g: str


class AssignDate(CallbackData, prefix="cad"):
    r: str
    g: str
    d: str  # YYYYMMDD


class AssignStop(CallbackData, prefix="cas"):
    r: str
    u: str


class AssignMove(CallbackData, prefix="cav"):
    """Move the client onto the program's current version."""

    r: str
    u: str


class DayOpen(CallbackData, prefix="cdy"):
    r: str
    d: str  # YYYYMMDD


class DayAct(CallbackData, prefix="cda"):
    a: str  # "rep" | "rem" | "add"
    i: int = -1  # index of the day's slot in the FSM data


class WorkoutPage(CallbackData, prefix="cwp"):
    p: int


class WorkoutChosen(CallbackData, prefix="cwc"):
    w: str


class ClientsForm(StatesGroup):
    start_date = State()
    day = State()


# --------------------------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------------------------


def percent_text(completion: compliance.Completion | None) -> str:
    if completion is None:
        return "—"
    if not completion.scheduled:
        return _("nothing scheduled")
    return f"{completion.done}/{completion.scheduled} ({completion.percent}%)"


TREND_MARKS = {Trend.RISING: "↗", Trend.FALLING: "↘", Trend.STEADY: "→"}


def client_lines(row: ClientCompliance, user: UserContext) -> list[str]:
    head = f"👤 <b>{html.escape(row.name)}</b>"
    reasons = []
    if row.inactive:
        reasons.append(_("inactive"))
    if row.sore:
        reasons.append(_("sore"))
    if reasons:
        head += " ⚠️ " + _("needs attention: {reasons}").format(reasons=", ".join(reasons))
    lines = [head]
    if row.week is None:
        lines.append("   " + _("log not shared"))
    else:
        lines.append(
            "   "
            + _("7 days: {week} · 30 days: {month}").format(
                week=percent_text(row.week), month=percent_text(row.month)
            )
        )
        last = (
            when(row.last_session_at, user, "EEE d MMM")
            if row.last_session_at is not None
            else _("never")
        )
        lines.append("   " + _("Last session: {when}").format(when=last))
    if row.soreness_recent is not None:
        mark = TREND_MARKS.get(row.trend, "") if row.trend is not None else ""
        lines.append(
            "   " + _("Soreness: {value}/10 {trend}").format(value=row.soreness_recent, trend=mark)
        )
    return lines


def roster_screen(
    page: compliance.RosterPage, user: UserContext, has_coach: bool
) -> tuple[str, InlineKeyboardMarkup]:
    lines = [_("👥 Your clients")]
    if not page.clients and page.page == 0:
        lines.append(_(NO_CLIENTS))
    for row in page.clients:
        lines.append("")
        lines.extend(client_lines(row, user))
    rows: list[list[tuple[str, CallbackData]]] = [
        [
            (
                ("⚠️ " if row.needs_attention else "") + row.name[:40],
                ClientOpen(r=short_id(row.relation_id)),
            )
        ]
        for row in page.clients
    ]
    paging: list[tuple[str, CallbackData]] = []
    if page.page > 0:
        paging.append(("◀️", Roster(page=page.page - 1)))
    if page.has_next:
        paging.append(("▶️", Roster(page=page.page + 1)))
    if paging:
        rows.append(paging)
    rows.append([(_("➕ Invite a client"), InviteNew())])
    if has_coach:
        rows.append([(_("🧑‍🏫 My coaches"), MyCoaches())])
    return "\n".join(lines), inline(rows)


def consent_text(request: coaching.ConsentRequest) -> str:
    role = _(ROLE_LABELS[request.relation_type])
    name = f"<b>{html.escape(request.coach_name)}</b>"
    if request.institution_name:
        intro = _("{name} ({role}, {institution}) invites you to be their client.").format(
            name=name, role=role, institution=html.escape(request.institution_name)
        )
    else:
        intro = _("{name} ({role}) invites you to be their client.").format(name=name, role=role)
    lines = [intro, "", _("If you accept, {name} will see:").format(name=name)]
    lines.extend(f"• {_(CONSENT_LINES[key])}" for key in request.scope)
    lines.append("")
    lines.append(
        _(
            "Nothing else. You can end this at any time in /clients → My coaches, and they will"
            " no longer see anything."
        )
    )
    return "\n".join(lines)


def date_label(day: dt.date, user: UserContext) -> str:
    return format_date(day, "EEE d MMM", locale=user.locale)


def start_keyboard(relation: str, program: str, today: dt.date) -> InlineKeyboardMarkup:
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    return inline(
        [
            [
                (_("Today"), AssignDate(r=relation, g=program, d=ymd(today))),
                (
                    _("Tomorrow"),
                    AssignDate(r=relation, g=program, d=ymd(today + dt.timedelta(days=1))),
                ),
            ],
            [(_("Next Monday"), AssignDate(r=relation, g=program, d=ymd(monday)))],
        ]
    )


def picks_keyboard(
    items: Sequence[tuple[str, CallbackData]],
    previous: CallbackData | None,
    following: CallbackData | None,
    back: CallbackData | None = None,
) -> InlineKeyboardMarkup:
    rows: list[list[tuple[str, CallbackData]]] = [[item] for item in items]
    paging = [
        (label, data) for label, data in (("◀️", previous), ("▶️", following)) if data is not None
    ]
    if paging:
        rows.append(paging)
    if back is not None:
        rows.append([(_("⬅️ Back"), back)])
    return inline(rows)


async def notify(
    bot: Bot | None,
    i18n: CatalogI18n,
    person: coaching.Person | None,
    text_of: Callable[[], str],
) -> None:
    """Tell the other side (in their language); a blocked bot or a closed chat is not an error
    of this update."""
    if bot is None or person is None or person.telegram_user_id is None:
        return
    with i18n.use_locale(person.locale), contextlib.suppress(TelegramAPIError):
        await bot.send_message(person.telegram_user_id, text_of())


# --------------------------------------------------------------------------------------------
# The deep link
# --------------------------------------------------------------------------------------------


async def open_link(
    message: Message,
    payload: str,
    *,
    state: FSMContext,
    user: UserContext,
    session: AsyncSession,
    i18n: CatalogI18n,
) -> bool:
    await state.clear()
    try:
        request = await coaching.open_client_link(
            session, user_id=user.user_id, token=payload, now=current_instant()
        )
    except LinkRefused as refused:
        await message.answer(_(LINK_PROBLEMS[refused.problem]))
        if not user.onboarded:  # a newcomer still gets the welcome
            await ask_language(message, state, user)
        return True
    relation = short_id(request.relation_id)
    await message.answer(
        consent_text(request),
        reply_markup=inline(
            [
                [
                    (_("✅ Accept"), ConsentAnswer(r=relation, ok=True)),
                    (_("❌ Decline"), ConsentAnswer(r=relation, ok=False)),
                ]
            ]
        ),
    )
    return True


DEEP_LINK_HANDLERS[LinkKind.CLIENT.value] = open_link


# --------------------------------------------------------------------------------------------
# Router
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="clients")

    async def show_roster(
        message: Message, session: AsyncSession, user: UserContext, page: int, *, edit: bool
    ) -> None:
        home = await coaching.clients_home(
            session, user_id=user.user_id, now=current_instant(), page=page
        )
        if home.roster is None:
            if home.has_coach:
                await show_coaches(message, session, user, edit=edit)
                return
            await message.answer(_(NO_RELATION))
            return
        text, keyboard = roster_screen(home.roster, user, home.has_coach)
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def show_coaches(
        message: Message, session: AsyncSession, user: UserContext, *, edit: bool
    ) -> None:
        coaches = await coaching.my_coaches(session, user.user_id)
        lines = [_("🧑‍🏫 Your coaches")]
        if not coaches:
            lines.append(_(NO_RELATION))
        for view in coaches:
            since = when(view.since, user, "d MMM yyyy") if view.since else "—"
            lines.append("")
            lines.append(
                f"<b>{html.escape(view.name)}</b> · {_(ROLE_LABELS[view.relation_type])} · "
                + _("since {date}").format(date=since)
            )
            lines.append(_("They see:") + " " + ", ".join(_(CONSENT_LINES[k]) for k in view.scope))
        keyboard = inline(
            [
                [
                    (
                        _("End with {name}").format(name=view.name[:30]),
                        CoachEnd(r=short_id(view.relation_id)),
                    )
                ]
                for view in coaches
            ]
        )
        if edit:
            await message.edit_text("\n".join(lines), reply_markup=keyboard)
        else:
            await message.answer("\n".join(lines), reply_markup=keyboard)

    async def show_client(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        relation_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        card = await coaching.client_card(
            session, coach_id=user.user_id, relation_id=relation_id, now=current_instant()
        )
        r = short_id(relation_id)
        lines = ([prefix, ""] if prefix else []) + client_lines(card.compliance, user)
        rows: list[list[tuple[str, CallbackData]]] = []
        if card.assignments is not None:
            lines.append("")
            if card.assignments:
                lines.append(_("Programs:"))
            else:
                lines.append(_("No program running."))
            for item in card.assignments:
                lines.append(
                    "• "
                    + _("{title}, from {date}").format(
                        title=html.escape(item.program_title),
                        date=date_label(item.start_date, user),
                    )
                )
                if item.assigned_by_me and item.newer_version is not None:
                    rows.append(
                        [
                            (
                                _("⬆️ Move to version {number}").format(number=item.newer_version),
                                AssignMove(r=r, u=short_id(item.user_program_id)),
                            )
                        ]
                    )
                if item.assigned_by_me:
                    rows.append(
                        [
                            (
                                _("🗑 Stop {title}").format(title=item.program_title[:30]),
                                AssignStop(r=r, u=short_id(item.user_program_id)),
                            )
                        ]
                    )
        scope = card.compliance.scope
        first: list[tuple[str, CallbackData]] = []
        if scope.get("logs") is True:
            first.append((_("📒 Log"), ClientLog(r=r)))
        if scope.get("charts") is True:
            first.append((_("📈 Charts"), ClientCharts(r=r)))
        head: list[list[tuple[str, CallbackData]]] = [first] if first else []
        if scope.get("programs") is True:
            head.append(
                [
                    (_("📋 Assign a program"), AssignPrograms(r=r)),
                    (_("📅 Their day"), DayOpen(r=r, d=ymd(card.today))),
                ]
            )
        rows = head + rows
        rows.append([(_("✖ End the relation"), ClientEnd(r=r))])
        rows.append([(_("⬅️ All clients"), Roster())])
        if edit:
            await message.edit_text("\n".join(lines), reply_markup=inline(rows))
        else:
            await message.answer("\n".join(lines), reply_markup=inline(rows))

    async def send_link(
        message: Message, session: AsyncSession, user: UserContext, choice: InviteNew
    ) -> None:
        scope = ("logs", "programs") if choice.preset == "prog" else None
        if not await coaching.may_invite_clients(session, user.user_id):
            await message.answer(_(NOT_A_COACH))
            return
        institution_id = None
        if choice.i and choice.i != INDEPENDENT:
            institution_id = parse_short_id(choice.i)
            if institution_id is None:
                raise NotAllowed("a tampered institution id", rule="not_member")
        elif not choice.i:
            institutions = await coaching.coach_institutions(session, user.user_id)
            if len(institutions) > 1:
                await message.answer(
                    _("Which of your institutions will this client join?"),
                    reply_markup=inline(
                        [
                            *(
                                [(name, InviteNew(preset=choice.preset, i=short_id(found)))]
                                for found, name in institutions
                            ),
                            [
                                (
                                    _("None: I coach them on my own"),
                                    InviteNew(preset=choice.preset, i=INDEPENDENT),
                                )
                            ],
                        ]
                    ),
                )
                return
        # Not one of the coach's institutions (a forged or tampered id): NotAllowed, answered
        # and recorded by the error middleware.
        link = await coaching.create_client_link(
            session,
            coach_id=user.user_id,
            now=current_instant(),
            scope=scope,
            institution_id=institution_id,
        )
        assert message.bot is not None
        url = deep_link((await message.bot.me()).username, LinkKind.CLIENT, link.token)
        lines = [
            _("Send this link to your athlete. It works once and expires on {date}.").format(
                date=when(link.expires_at, user, "d MMM yyyy")
            ),
            "",
            html.escape(url),
            "",
            _("Their consent screen will ask them to agree to share:"),
        ]
        lines.extend(f"• {_(CONSENT_LINES[key])}" for key in link.scope)
        if link.institution_name:
            lines.append("")
            lines.append(
                _("They will also become a customer of {institution}.").format(
                    institution=html.escape(link.institution_name)
                )
            )
        rows: list[list[InlineKeyboardButton]] = []
        if url.startswith("http"):
            rows.append([InlineKeyboardButton(text=_("🔗 Open the link"), url=url)])
        if choice.preset != "prog":
            rows.append(
                [
                    InlineKeyboardButton(
                        text=_("Ask only for the log and programs"),
                        callback_data=InviteNew(preset="prog", i=choice.i).pack(),
                    )
                ]
            )
        await message.answer(
            "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)
        )

    @router.message(Command("clients"))
    async def clients_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await show_roster(message, session, user, 0, edit=False)

    @router.callback_query(Roster.filter())
    async def roster_page(
        query: CallbackQuery,
        callback_data: Roster,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await state.clear()
        await query.answer()
        await show_roster(screen_message(query), session, user, callback_data.page, edit=True)

    @router.message(Command("invite"))
    async def invite_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await send_link(message, session, user, InviteNew())

    @router.callback_query(InviteNew.filter())
    async def invite_button(
        query: CallbackQuery, callback_data: InviteNew, session: AsyncSession, user: UserContext
    ) -> None:
        await query.answer()
        await send_link(screen_message(query), session, user, callback_data)

    # --- the athlete's side -------------------------------------------------------------

    @router.callback_query(ConsentAnswer.filter())
    async def consent_answer(
        query: CallbackQuery,
        callback_data: ConsentAnswer,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(LINK_PROBLEMS[LinkProblem.UNKNOWN]), show_alert=True)
            return
        try:
            answer = await coaching.answer_client_link(
                session,
                user_id=user.user_id,
                relation_id=relation_id,
                accept=callback_data.ok,
                now=current_instant(),
            )
        except LinkRefused as refused:
            await query.answer()
            await screen_message(query).edit_text(_(LINK_PROBLEMS[refused.problem]))
            return
        await query.answer()
        coach = html.escape(answer.coach.name)
        client = html.escape(answer.client.name)
        if answer.accepted:
            await screen_message(query).edit_text(
                _("You are now a client of {name}. You can end this at any time.").format(
                    name=coach
                ),
                reply_markup=inline([[(_("End this relation"), CoachEnd(r=callback_data.r))]]),
            )
            await notify(
                query.bot,
                i18n,
                answer.coach,
                lambda: _("✅ {name} accepted your client link. See /clients.").format(name=client),
            )
        else:
            await screen_message(query).edit_text(
                _("You declined. {name} will not see anything of yours.").format(name=coach)
            )
            await notify(
                query.bot,
                i18n,
                answer.coach,
                lambda: _("{name} declined your client link.").format(name=client),
            )
        if not user.onboarded:  # the consent came first; now the welcome
            await ask_language(screen_message(query), state, user)

    @router.callback_query(MyCoaches.filter())
    async def coaches_button(
        query: CallbackQuery, session: AsyncSession, user: UserContext
    ) -> None:
        await query.answer()
        await show_coaches(screen_message(query), session, user, edit=True)

    @router.callback_query(CoachEnd.filter())
    async def coach_end(
        query: CallbackQuery,
        callback_data: CoachEnd,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        if not callback_data.sure:
            view = await coaching.my_coach(session, user_id=user.user_id, relation_id=relation_id)
            await query.answer()
            await screen_message(query).edit_text(
                _(
                    "End the relation with {name}? They will no longer see anything of yours."
                ).format(name=html.escape(view.name)),
                reply_markup=inline(
                    [
                        [
                            (_("Yes, end it"), CoachEnd(r=callback_data.r, sure=True)),
                            (_("⬅️ Back"), MyCoaches()),
                        ]
                    ]
                ),
            )
            return
        await end(query, session, user, i18n, relation_id)

    async def end(
        query: CallbackQuery,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
        relation_id: uuid.UUID,
    ) -> None:
        try:
            ended = await coaching.end_relation(
                session, actor_id=user.user_id, relation_id=relation_id, now=current_instant()
            )
        except Conflict:
            await query.answer(_(ENDED), show_alert=True)
            return
        await query.answer()
        other = html.escape(ended.other.name) if ended.other else ""
        actor = html.escape(ended.actor_name)
        if ended.by_professional:
            await screen_message(query).edit_text(
                _("The relation with {name} has ended.").format(name=other),
                reply_markup=inline([[(_("⬅️ All clients"), Roster())]]),
            )
            await notify(
                query.bot,
                i18n,
                ended.other,
                lambda: _(
                    "{name} ended your coaching relation: they no longer see your data."
                ).format(name=actor),
            )
        else:
            await screen_message(query).edit_text(
                _("Done: {name} no longer sees anything of yours.").format(name=other)
            )
            await notify(
                query.bot,
                i18n,
                ended.other,
                lambda: _("{name} ended your coaching relation.").format(name=actor),
            )

    # --- the coach's side: one client ---------------------------------------------------

    @router.callback_query(ClientOpen.filter())
    async def client_open(
        query: CallbackQuery,
        callback_data: ClientOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        await state.clear()
        await show_client(screen_message(query), session, user, relation_id, edit=True)
        await query.answer()

    @router.callback_query(ClientEnd.filter())
    async def client_end(
        query: CallbackQuery,
        callback_data: ClientEnd,
        session: AsyncSession,
        user: UserContext,
        i18n: CatalogI18n,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        if not callback_data.sure:
            _relation, client = await coaching.client_relation(
                session, coach_id=user.user_id, relation_id=relation_id
            )
            await query.answer()
            await screen_message(query).edit_text(
                _("End the relation with {name}? You will no longer see their data.").format(
                    name=html.escape(client.first_name)
                ),
                reply_markup=inline(
                    [
                        [
                            (_("Yes, end it"), ClientEnd(r=callback_data.r, sure=True)),
                            (_("⬅️ Back"), ClientOpen(r=callback_data.r)),
                        ]
                    ]
                ),
            )
            return
        await end(query, session, user, i18n, relation_id)

    @router.callback_query(ClientLog.filter())
    async def client_log(
        query: CallbackQuery, callback_data: ClientLog, session: AsyncSession, user: UserContext
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        page = await coaching.client_log(
            session,
            coach_id=user.user_id,
            relation_id=relation_id,
            page=callback_data.p,
            locale=user.locale,
        )
        await query.answer()
        lines = [_("📒 Log of {name}").format(name=html.escape(page.client_name))]
        if not page.sessions:
            lines.append(_("No session logged yet."))
        rows: list[list[tuple[str, CallbackData]]] = []
        for item in page.sessions:
            label = when(item.started_at, user, "EEE d MMM, HH:mm")
            summary = item.workout_name or ", ".join(item.exercises[:3]) or "—"
            lines.append(
                f"• {label} — {html.escape(summary)} · "
                + ngettext("{count} set", "{count} sets", item.set_count).format(
                    count=item.set_count
                )
            )
            rows.append([(label, ClientSession(r=callback_data.r, s=short_id(item.id)))])
        paging: list[tuple[str, CallbackData]] = []
        if page.page > 0:
            paging.append(("◀️", ClientLog(r=callback_data.r, p=page.page - 1)))
        if page.has_next:
            paging.append(("▶️", ClientLog(r=callback_data.r, p=page.page + 1)))
        if paging:
            rows.append(paging)
        rows.append([(_("⬅️ Back"), ClientOpen(r=callback_data.r))])
        await screen_message(query).edit_text("\n".join(lines), reply_markup=inline(rows))

    @router.callback_query(ClientSession.filter())
    async def client_session(
        query: CallbackQuery,
        callback_data: ClientSession,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        relation_id, session_id = parse_short_id(callback_data.r), parse_short_id(callback_data.s)
        if relation_id is None or session_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        detail = await coaching.client_session_detail(
            session,
            coach_id=user.user_id,
            relation_id=relation_id,
            session_id=session_id,
            locale=user.locale,
        )
        await query.answer()
        unit = user_unit(user)
        lines = [f"<b>{html.escape(when(detail.started_at, user))}</b>"]
        if detail.workout_name:
            lines.append(html.escape(_("Workout: {name}").format(name=detail.workout_name)))
        for exercise in detail.exercises:
            lines.append("")
            lines.append(f"<b>{html.escape(exercise.name)}</b>")
            lines.extend(
                f"  {index}. {html.escape(set_text(line, unit))}"
                for index, line in enumerate(exercise.sets, start=1)
            )
        if detail.soreness is not None:
            lines.append("")
            lines.append(_("Soreness: {value}/10").format(value=detail.soreness))
        if detail.notes:
            lines.append(html.escape(_("Notes: {notes}").format(notes=detail.notes)))
        await screen_message(query).edit_text(
            "\n".join(lines),
            reply_markup=inline([[(_("⬅️ Back"), ClientLog(r=callback_data.r))]]),
        )

    @router.callback_query(ClientCharts.filter())
    async def client_charts(
        query: CallbackQuery, callback_data: ClientCharts, session: AsyncSession, user: UserContext
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        name, _zone, report = await coaching.client_progress(
            session,
            coach_id=user.user_id,
            relation_id=relation_id,
            now=current_instant(),
            locale=user.locale,
        )
        await query.answer()
        message = screen_message(query)
        if report.empty:
            await message.answer(
                _("{name} has no logged training yet.").format(name=html.escape(name))
            )
            return
        assert message.bot is not None
        await message.bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_PHOTO)
        unit = user_unit(user)
        pictures = await asyncio.to_thread(progress_charts, report.data, unit, chart_labels(unit))
        await message.answer(_("📈 Progress of {name}").format(name=html.escape(name)))
        for picture, filename in zip(
            pictures, ("e1rm.png", "weekly-volume.png", "soreness.png"), strict=True
        ):
            await message.answer_photo(BufferedInputFile(picture, filename=filename))

    # --- assigning a program ----------------------------------------------------------

    @router.callback_query(AssignPrograms.filter())
    async def assign_programs(
        query: CallbackQuery,
        callback_data: AssignPrograms,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        await coaching.client_relation(session, coach_id=user.user_id, relation_id=relation_id)
        picks = await coaching.assignable_programs(
            session, coach_id=user.user_id, page=callback_data.p
        )
        await query.answer()
        r = callback_data.r
        text = _("Which program?") if picks.items else _("You have no program to assign yet.")
        await screen_message(query).edit_text(
            text,
            reply_markup=picks_keyboard(
                [(item.name[:60], AssignChosen(r=r, g=short_id(item.id))) for item in picks.items],
                AssignPrograms(r=r, p=picks.page - 1) if picks.page > 0 else None,
                AssignPrograms(r=r, p=picks.page + 1) if picks.has_next else None,
                ClientOpen(r=r),
            ),
        )

    @router.callback_query(AssignPick.filter())
    async def assign_from_program(
        query: CallbackQuery, callback_data: AssignPick, session: AsyncSession, user: UserContext
    ) -> None:
        await show_client_choices(query, session, user, short_id(callback_data.program_id), 0)

    @router.callback_query(AssignClients.filter())
    async def assign_clients_page(
        query: CallbackQuery, callback_data: AssignClients, session: AsyncSession, user: UserContext
    ) -> None:
        await show_client_choices(query, session, user, callback_data.g, callback_data.p)

    async def show_client_choices(
        query: CallbackQuery, session: AsyncSession, user: UserContext, program: str, page: int
    ) -> None:
        clients, more = await coaching.clients_for_programs(
            session, coach_id=user.user_id, page=page
        )
        await query.answer()
        text = (
            _("Assign to which client?")
            if clients
            else _("No client of yours agreed to receive programs. Send /invite to add one.")
        )
        await screen_message(query).answer(
            text,
            reply_markup=picks_keyboard(
                [
                    (choice.name[:60], AssignChosen(r=short_id(choice.relation_id), g=program))
                    for choice in clients
                ],
                AssignClients(g=program, p=page - 1) if page > 0 else None,
                AssignClients(g=program, p=page + 1) if more else None,
            ),
        )

    @router.callback_query(AssignChosen.filter())
    async def assign_chosen(
        query: CallbackQuery,
        callback_data: AssignChosen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        relation_id = parse_short_id(callback_data.r)
        if relation_id is None or parse_short_id(callback_data.g) is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        today = await coaching.client_today(
            session, coach_id=user.user_id, relation_id=relation_id, now=current_instant()
        )
        await state.set_state(ClientsForm.start_date)
        await state.update_data(cl_rel=callback_data.r, cl_program=callback_data.g)
        await query.answer()
        await screen_message(query).answer(
            _(
                "When does it start (the client's date)? Tap a day or send a date"
                " such as {example}."
            ).format(example=today.isoformat()),
            reply_markup=start_keyboard(callback_data.r, callback_data.g, today),
        )

    async def assign(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        relation: str,
        program: str,
        start: dt.date,
    ) -> bool:
        relation_id, program_id = parse_short_id(relation), parse_short_id(program)
        if relation_id is None or program_id is None:
            await message.answer(_(EXPIRED_STEP))
            return True
        try:
            assigned = await coaching.assign_program(
                session,
                coach_id=user.user_id,
                relation_id=relation_id,
                program_id=program_id,
                start_date=start,
                now=current_instant(),
            )
        except InvalidInput as error:
            rule = str(error.params.get("rule", ""))
            await message.answer(_(INPUT_PROBLEMS.get(rule, BAD_DATE)))
            return False
        await show_client(
            message,
            session,
            user,
            relation_id,
            edit=False,
            prefix=_("📋 {title} assigned to {name} from {date}. They have been notified.").format(
                title=html.escape(assigned.program_title),
                name=html.escape(assigned.client.name),
                date=date_label(assigned.start_date, user),
            ),
        )
        return True

    @router.callback_query(AssignDate.filter())
    async def assign_date(
        query: CallbackQuery,
        callback_data: AssignDate,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        start = parse_ymd(callback_data.d)
        await query.answer()
        if start is None:
            await screen_message(query).answer(_(BAD_DATE))
            return
        if await assign(
            screen_message(query), session, user, callback_data.r, callback_data.g, start
        ):
            await state.clear()

    @router.message(ClientsForm.start_date, F.text, NOT_A_COMMAND)
    async def assign_typed_date(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        start = parse_date(message.text or "")
        if start is None:
            await message.answer(_(BAD_DATE))
            return
        if await assign(
            message, session, user, data.get("cl_rel", ""), data.get("cl_program", ""), start
        ):
            await state.clear()

    @router.callback_query(AssignStop.filter())
    async def assign_stop(
        query: CallbackQuery, callback_data: AssignStop, session: AsyncSession, user: UserContext
    ) -> None:
        relation_id, user_program_id = (
            parse_short_id(callback_data.r),
            parse_short_id(callback_data.u),
        )
        if relation_id is None or user_program_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        try:
            title = await coaching.remove_assignment(
                session,
                coach_id=user.user_id,
                relation_id=relation_id,
                user_program_id=user_program_id,
                now=current_instant(),
            )
        except Conflict:
            await query.answer(_("That program has already stopped."), show_alert=True)
            return
        await query.answer()
        await show_client(
            screen_message(query),
            session,
            user,
            relation_id,
            edit=True,
            prefix=_("🗑 {title} stopped.").format(title=html.escape(title)),
        )

    @router.callback_query(AssignMove.filter())
    async def assign_move(
        query: CallbackQuery, callback_data: AssignMove, session: AsyncSession, user: UserContext
    ) -> None:
        relation_id, user_program_id = (
            parse_short_id(callback_data.r),
            parse_short_id(callback_data.u),
        )
        if relation_id is None or user_program_id is None:
            await query.answer(_(ENDED), show_alert=True)
            return
        try:
            title, version = await coaching.move_assignment(
                session,
                coach_id=user.user_id,
                relation_id=relation_id,
                user_program_id=user_program_id,
            )
        except Conflict:
            await query.answer(_("That program has already stopped."), show_alert=True)
            return
        await query.answer()
        if version is None:
            prefix = _("{title}: they already follow the latest version.")
        else:
            prefix = _("⬆️ {title}: they now follow version {number}, from the same start date.")
        await show_client(
            screen_message(query),
            session,
            user,
            relation_id,
            edit=True,
            prefix=prefix.format(title=html.escape(title), number=version),
        )

    # --- one day of the client's schedule -----------------------------------------------

    async def show_day(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        relation: str,
        day: dt.date,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        relation_id = parse_short_id(relation)
        if relation_id is None:
            await message.answer(_(EXPIRED_STEP))
            return
        slots = await coaching.client_day(
            session, coach_id=user.user_id, relation_id=relation_id, local_date=day
        )
        running = await coaching.client_assignments(
            session, coach_id=user.user_id, relation_id=relation_id
        )
        await state.set_state(ClientsForm.day)
        await state.update_data(
            cl_rel=relation,
            cl_day=day.isoformat(),
            cl_slots=[
                [str(slot.user_program_id), str(slot.schedule_workout_id or ""), slot.workout_name]
                for slot in slots
            ],
            cl_program_run=str(running[0].user_program_id) if running else "",
        )
        lines = ([prefix, ""] if prefix else []) + [
            _("📅 {date}").format(date=date_label(day, user))
        ]
        rows: list[list[tuple[str, CallbackData]]] = []
        if not slots:
            lines.append(_("Nothing scheduled."))
        for index, slot in enumerate(slots):
            mark = " " + _("(optional)") if slot.is_optional else ""
            lines.append(f"• {html.escape(slot.workout_name)}{mark}")
            if slot.schedule_workout_id is not None:
                rows.append(
                    [
                        (
                            _("🔁 Swap {name}").format(name=slot.workout_name[:25]),
                            DayAct(a="rep", i=index),
                        ),
                        (_("➖ Remove"), DayAct(a="rem", i=index)),
                    ]
                )
        if running:
            rows.append([(_("➕ Add a workout"), DayAct(a="add"))])
        rows.append(
            [
                ("◀️", DayOpen(r=relation, d=ymd(day - dt.timedelta(days=1)))),
                ("▶️", DayOpen(r=relation, d=ymd(day + dt.timedelta(days=1)))),
            ]
        )
        rows.append([(_("⬅️ Back"), ClientOpen(r=relation))])
        if edit:
            await message.edit_text("\n".join(lines), reply_markup=inline(rows))
        else:
            await message.answer("\n".join(lines), reply_markup=inline(rows))

    @router.callback_query(DayOpen.filter())
    async def day_open(
        query: CallbackQuery,
        callback_data: DayOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        day = parse_ymd(callback_data.d)
        if day is None:
            await query.answer(_(EXPIRED_STEP), show_alert=True)
            return
        await show_day(screen_message(query), state, session, user, callback_data.r, day, edit=True)
        await query.answer()

    async def change_day(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        action: ScheduleOverrideAction,
        index: int,
        workout_id: uuid.UUID | None,
    ) -> None:
        data = await state.get_data()
        relation, day_text = data.get("cl_rel"), data.get("cl_day")
        slots: list[list[str]] = data.get("cl_slots", [])
        if not relation or not day_text:
            await message.answer(_(EXPIRED_STEP))
            return
        relation_id = parse_short_id(relation)
        day = dt.date.fromisoformat(day_text)
        if action is ScheduleOverrideAction.ADD:
            run, slot = data.get("cl_program_run", ""), ""
        elif 0 <= index < len(slots):
            run, slot = slots[index][0], slots[index][1]
        else:
            await message.answer(_(EXPIRED_STEP))
            return
        if relation_id is None or not run:
            await message.answer(_(EXPIRED_STEP))
            return
        try:
            await coaching.change_client_day(
                session,
                coach_id=user.user_id,
                relation_id=relation_id,
                user_program_id=uuid.UUID(run),
                local_date=day,
                action=action,
                workout_id=workout_id,
                schedule_workout_id=uuid.UUID(slot) if slot else None,
            )
        except InvalidInput as error:
            await message.answer(
                _(INPUT_PROBLEMS.get(str(error.params.get("rule", "")), EXPIRED_STEP))
            )
            return
        except Conflict:
            await message.answer(_("That workout was already changed on this day."))
            return
        await show_day(message, state, session, user, relation, day, edit=False, prefix=_("Saved."))

    @router.callback_query(ClientsForm.day, DayAct.filter())
    async def day_act(
        query: CallbackQuery,
        callback_data: DayAct,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await query.answer()
        if callback_data.a == "rem":
            await change_day(
                screen_message(query),
                state,
                session,
                user,
                ScheduleOverrideAction.REMOVE,
                callback_data.i,
                None,
            )
            return
        await state.update_data(cl_action=callback_data.a, cl_index=callback_data.i)
        await show_workouts(screen_message(query), session, user, 0)

    async def show_workouts(
        message: Message, session: AsyncSession, user: UserContext, page: int
    ) -> None:
        picks = await coaching.pickable_workouts(session, coach_id=user.user_id, page=page)
        await message.answer(
            _("Which workout?") if picks.items else _("You have no workout to use yet."),
            reply_markup=picks_keyboard(
                [(item.name[:60], WorkoutChosen(w=short_id(item.id))) for item in picks.items],
                WorkoutPage(p=picks.page - 1) if picks.page > 0 else None,
                WorkoutPage(p=picks.page + 1) if picks.has_next else None,
            ),
        )

    @router.callback_query(ClientsForm.day, WorkoutPage.filter())
    async def workouts_page(
        query: CallbackQuery, callback_data: WorkoutPage, session: AsyncSession, user: UserContext
    ) -> None:
        await query.answer()
        await show_workouts(screen_message(query), session, user, callback_data.p)

    @router.callback_query(ClientsForm.day, WorkoutChosen.filter())
    async def workout_chosen(
        query: CallbackQuery,
        callback_data: WorkoutChosen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await query.answer()
        data = await state.get_data()
        workout_id = parse_short_id(callback_data.w)
        action = {"rep": ScheduleOverrideAction.REPLACE, "add": ScheduleOverrideAction.ADD}.get(
            str(data.get("cl_action", ""))
        )
        if workout_id is None or action is None:
            await screen_message(query).answer(_(EXPIRED_STEP))
            return
        await change_day(
            screen_message(query),
            state,
            session,
            user,
            action,
            int(data.get("cl_index", -1)),
            workout_id,
        )

    @router.callback_query(DayAct.filter())
    @router.callback_query(WorkoutChosen.filter())
    @router.callback_query(WorkoutPage.filter())
    async def stale_step(query: CallbackQuery) -> None:
        await query.answer(_(EXPIRED_STEP), show_alert=True)

    return router
