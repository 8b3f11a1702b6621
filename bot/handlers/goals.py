"""/goals: my goals with progress from the log, created step by step (a name, then a target:
estimated 1RM on an exercise, sessions per week or total volume), with more targets added to
a goal later; abandon or delete. Every id from a button is re-checked by the service."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from decimal import Decimal

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.i18n import N_, _
from bot.keyboards import NOT_A_COMMAND, chunks, inline
from bot.router_gates import FeatureRouter
from bot.units import load_text, user_unit
from domain.models.goal import GoalStatus
from domain.services.goals import (
    GoalView,
    InvalidGoal,
    TargetKind,
    TargetProgress,
    TargetSpec,
    abandon_goal,
    add_target,
    check_date,
    check_title,
    check_value,
    create_goal,
    delete_goal,
    exercise_for_goal,
    find_exercise,
    goal_detail,
    goals_overview,
    parse_count,
    parse_date,
    parse_load,
    today_in,
)
from domain.services.strength import WeightUnit
from domain.services.users import UserContext

COMMANDS = (CommandInfo("goals", N_("your goals and how close you are"), order=40),)

BAR_WIDTH = 10
CLOSED_SHOWN = 5

PROBLEMS = {
    "title": N_("Please send a name of 1 to 120 characters."),
    "not_a_number": N_("Please send a positive number, for example 140."),
    "too_low": N_("That target is too small. Please send a bigger number."),
    "too_high": N_("That target is too big to be realistic. Please check it."),
    "not_whole": N_("Please send a whole number."),
    "not_a_date": N_("Please send a date such as 2026-06-30 or 30.06.2026."),
    "date_past": N_("That date is not in the future. Please pick a later date."),
    "date_far": N_("That date is more than five years away. Please pick a closer one."),
    "date_needed": N_("Please send the date you aim for."),
    "exercise_needed": N_("Please choose the exercise first."),
    "exercise_unknown": N_("I do not know that exercise. Try another name."),
    "exercise_not_weighted": N_(
        "That exercise is not done with a load. Pick a weighted one for an estimated 1RM."
    ),
    "too_many_targets": N_("This goal already has as many targets as it can hold."),
    "closed": N_("This goal is closed: it can no longer change."),
}
KIND_LABELS = {
    TargetKind.ESTIMATED_1RM: N_("🏋️ Estimated 1RM on an exercise"),
    TargetKind.SESSIONS_PER_WEEK: N_("📅 Sessions per week"),
    TargetKind.VOLUME_LOAD: N_("📦 Total volume by a date"),
}
EXPIRED = N_("That step has expired. Send /goals to start again.")
NOT_FOUND = N_("I could not find that goal.")


class GoalForm(StatesGroup):
    title = State()
    exercise = State()
    value = State()
    date = State()


class GoalsHome(CallbackData, prefix="gh"):
    pass


class GoalNew(CallbackData, prefix="gn"):
    pass


class GoalOpen(CallbackData, prefix="go"):
    id: str  # uuid hex


class GoalAddTarget(CallbackData, prefix="gt"):
    id: str


class GoalAbandon(CallbackData, prefix="ga"):
    id: str


class GoalDelete(CallbackData, prefix="gd"):
    id: str


class GoalKindPick(CallbackData, prefix="gk"):
    kind: str


class GoalExercisePick(CallbackData, prefix="gx"):
    id: str


def problem_message(problem: str) -> str:
    return _(PROBLEMS.get(problem, N_("That does not look right. Please check it.")))


def problem_text(error: InvalidGoal) -> str:
    return problem_message(error.problem)


def parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=raw)
    except ValueError:
        return None


def bar(fraction: float) -> str:
    filled = round(fraction * BAR_WIDTH)
    return "▓" * filled + "░" * (BAR_WIDTH - filled) + f" {round(fraction * 100)}%"


def target_line(target: TargetProgress, unit: WeightUnit) -> str:
    mark = "✅" if target.met else "•"
    if target.kind is TargetKind.SESSIONS_PER_WEEK:
        text = _("Sessions this week: {current} / {target}").format(
            current=int(target.current), target=int(target.target)
        )
    elif target.kind is TargetKind.ESTIMATED_1RM:
        text = _("{exercise}: estimated 1RM {current} / {target}").format(
            exercise=html.escape(target.exercise_name or "?"),
            current=load_text(target.current, unit),
            target=load_text(target.target, unit),
        )
    else:
        step = Decimal(1)
        text = _("Volume until {date}: {current} / {target}").format(
            date=target.target_date.isoformat() if target.target_date else "—",
            current=load_text(target.current, unit, step=step),
            target=load_text(target.target, unit, step=step),
        )
        if target.exercise_name:
            text = f"{html.escape(target.exercise_name)} · {text}"
    return f"{mark} {text}"


def status_text(view: GoalView, timezone: str) -> str:
    if view.status is GoalStatus.ACHIEVED and view.achieved_at is not None:
        day = today_in(timezone, view.achieved_at).isoformat()
        return _("🏆 Achieved on {date}").format(date=day)
    if view.status is GoalStatus.ABANDONED:
        return _("🏳 Abandoned")
    if view.target_date is not None:
        return _("🎯 By {date}").format(date=view.target_date.isoformat())
    return _("🎯 No end date")


def goal_block(view: GoalView, unit: WeightUnit, timezone: str) -> str:
    lines = [f"<b>{html.escape(view.title)}</b> · {status_text(view, timezone)}"]
    if view.status is not GoalStatus.ABANDONED:
        lines.append(bar(view.fraction))
        lines.extend(target_line(target, unit) for target in view.targets)
    return "\n".join(lines)


def overview_screen(
    goals: list[GoalView], achieved_now: list[uuid.UUID], user: UserContext
) -> tuple[str, InlineKeyboardMarkup]:
    unit = user_unit(user)
    lines: list[str] = []
    for view in goals:
        if view.id in achieved_now:
            lines.append(
                _("🎉 Goal achieved: {title}!").format(title=f"<b>{html.escape(view.title)}</b>")
            )
    lines.append(_("🎯 Your goals"))
    active = [view for view in goals if view.status is GoalStatus.ACTIVE]
    closed = [view for view in goals if view.status is not GoalStatus.ACTIVE][:CLOSED_SHOWN]
    if not goals:
        lines.append(
            _(
                "You have no goal yet. Set one: an estimated 1RM on a lift, sessions per week"
                " or a total volume by a date. I follow your progress from your log."
            )
        )
    for view in active:
        lines.append("\n" + goal_block(view, unit, user.timezone))
    if closed:
        lines.append("\n" + _("Finished goals"))
        lines.extend(goal_block(view, unit, user.timezone) for view in closed)
    buttons: list[tuple[str, CallbackData]] = [
        (view.title[:40], GoalOpen(id=view.id.hex)) for view in [*active, *closed]
    ]
    rows = [list(row) for row in chunks(buttons, 2)]
    rows.append([(_("➕ New goal"), GoalNew())])
    return "\n".join(lines), inline(rows)


def detail_screen(view: GoalView, user: UserContext) -> tuple[str, InlineKeyboardMarkup]:
    text = goal_block(view, user_unit(user), user.timezone)
    text += "\n\n" + _("Set on {date}").format(
        date=today_in(user.timezone, view.created_at).isoformat()
    )
    rows: list[list[tuple[str, CallbackData]]] = []
    if view.status is GoalStatus.ACTIVE:
        rows.append(
            [
                (_("➕ Add a target"), GoalAddTarget(id=view.id.hex)),
                (_("🏳 Abandon"), GoalAbandon(id=view.id.hex)),
            ]
        )
    rows.append([(_("🗑 Delete"), GoalDelete(id=view.id.hex)), (_("⬅️ All goals"), GoalsHome())])
    return text, inline(rows)


def kinds_keyboard() -> InlineKeyboardMarkup:
    return inline(
        [[(_(label), GoalKindPick(kind=kind.value))] for kind, label in KIND_LABELS.items()]
    )


def value_prompt(kind: TargetKind, unit: WeightUnit, exercise: str | None) -> str:
    if kind is TargetKind.ESTIMATED_1RM:
        return _("What estimated 1RM do you aim for on {exercise}, in {unit}?").format(
            exercise=html.escape(exercise or ""), unit=unit.value
        )
    if kind is TargetKind.VOLUME_LOAD:
        return _(
            "What total volume (load × reps, all exercises) do you aim for, in {unit}?"
            " For example 20000."
        ).format(unit=unit.value)
    return _("How many sessions a week? Send a number from 1 to 14.")


def router() -> Router:
    router = FeatureRouter(name="goals")

    async def show_overview(
        message: Message, session: AsyncSession, user: UserContext, *, edit: bool
    ) -> None:
        overview = await goals_overview(
            session, user.user_id, now=current_instant(), locale=user.locale
        )
        text, keyboard = overview_screen(overview.goals, overview.achieved_now, user)
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def show_goal(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        goal_id: uuid.UUID,
        *,
        edit: bool,
        prefix: str = "",
    ) -> None:
        view = await goal_detail(
            session, user.user_id, goal_id, now=current_instant(), locale=user.locale
        )
        text, keyboard = detail_screen(view, user)
        if prefix:
            text = prefix + "\n\n" + text
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def save(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        kind = TargetKind(data["kind"])
        exercise = data.get("exercise_id")
        target_date = data.get("target_date")
        target = TargetSpec(
            kind=kind,
            value=Decimal(data["value"]),
            exercise_id=uuid.UUID(hex=exercise) if exercise else None,
            target_date=dt.date.fromisoformat(target_date) if target_date else None,
        )
        now = current_instant()
        try:
            if data.get("goal_id"):
                goal_id = uuid.UUID(hex=data["goal_id"])
                await add_target(session, user.user_id, goal_id, target, now=now)
            else:
                goal_id = await create_goal(
                    session, user.user_id, title=data["title"], target=target, now=now
                )
        except InvalidGoal as error:
            await state.clear()
            await message.answer(problem_text(error))
            return
        await state.clear()
        await show_goal(message, session, user, goal_id, edit=False, prefix=_("Saved."))

    async def ask_value(message: Message, state: FSMContext, user: UserContext) -> None:
        data = await state.get_data()
        await state.set_state(GoalForm.value)
        await message.answer(
            value_prompt(TargetKind(data["kind"]), user_unit(user), data.get("exercise_name"))
        )

    @router.message(Command("goals"))
    async def goals_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await show_overview(message, session, user, edit=False)

    @router.callback_query(GoalsHome.filter())
    async def home(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await query.answer()
        assert isinstance(query.message, Message)
        await show_overview(query.message, session, user, edit=True)

    @router.callback_query(GoalOpen.filter())
    async def open_goal(
        query: CallbackQuery,
        callback_data: GoalOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        goal_id = parse_id(callback_data.id)
        if goal_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        await state.clear()
        assert isinstance(query.message, Message)
        await show_goal(query.message, session, user, goal_id, edit=True)
        await query.answer()

    @router.callback_query(GoalAbandon.filter())
    async def abandon(
        query: CallbackQuery, callback_data: GoalAbandon, session: AsyncSession, user: UserContext
    ) -> None:
        goal_id = parse_id(callback_data.id)
        if goal_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        await abandon_goal(session, user.user_id, goal_id, now=current_instant())
        assert isinstance(query.message, Message)
        await show_goal(query.message, session, user, goal_id, edit=True)
        await query.answer()

    @router.callback_query(GoalDelete.filter())
    async def remove(
        query: CallbackQuery, callback_data: GoalDelete, session: AsyncSession, user: UserContext
    ) -> None:
        goal_id = parse_id(callback_data.id)
        if goal_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        await delete_goal(session, user.user_id, goal_id)
        await query.answer(_("Goal deleted."))
        assert isinstance(query.message, Message)
        await show_overview(query.message, session, user, edit=True)

    @router.callback_query(GoalNew.filter())
    async def new_goal(query: CallbackQuery, state: FSMContext) -> None:
        await state.clear()
        await state.set_state(GoalForm.title)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(
            _("Name your goal in a few words, for example “Stronger squat by June”.")
            + "\n"
            + _("Or send /cancel to stop.")
        )

    @router.message(GoalForm.title, F.text, NOT_A_COMMAND)
    async def got_title(message: Message, state: FSMContext) -> None:
        try:
            title = check_title(message.text or "")
        except InvalidGoal as error:
            await message.answer(problem_text(error))
            return
        await state.set_state(None)
        await state.set_data({"title": title})
        await message.answer(_("What do you want to reach?"), reply_markup=kinds_keyboard())

    @router.callback_query(GoalAddTarget.filter())
    async def add_target_start(
        query: CallbackQuery,
        callback_data: GoalAddTarget,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        goal_id = parse_id(callback_data.id)
        if goal_id is None:
            await query.answer(_(NOT_FOUND), show_alert=True)
            return
        # Read access now (the save re-checks the right to change it).
        view = await goal_detail(
            session, user.user_id, goal_id, now=current_instant(), locale=user.locale
        )
        if view.status is not GoalStatus.ACTIVE:
            await query.answer(problem_message("closed"), show_alert=True)
            return
        await state.clear()
        await state.set_data({"goal_id": goal_id.hex})
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(
            _("New target for {title}: what do you want to reach?").format(
                title=f"<b>{html.escape(view.title)}</b>"
            ),
            reply_markup=kinds_keyboard(),
        )

    @router.callback_query(GoalKindPick.filter())
    async def pick_kind(
        query: CallbackQuery, callback_data: GoalKindPick, state: FSMContext, user: UserContext
    ) -> None:
        data = await state.get_data()
        if callback_data.kind not in TargetKind.__members__:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        if not data.get("title") and not data.get("goal_id"):
            await query.answer(_(EXPIRED), show_alert=True)
            return
        kind = TargetKind(callback_data.kind)
        await state.update_data(kind=kind.value, exercise_id=None, exercise_name=None)
        await query.answer()
        assert isinstance(query.message, Message)
        if kind is TargetKind.ESTIMATED_1RM:
            await state.set_state(GoalForm.exercise)
            await query.message.answer(_("Which exercise? Type its name, for example back squat."))
            return
        await ask_value(query.message, state, user)

    async def chose_exercise(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        exercise_id: uuid.UUID,
    ) -> bool:
        try:
            exercise = await exercise_for_goal(
                session, user.user_id, exercise_id, locale=user.locale
            )
        except InvalidGoal as error:
            await message.answer(problem_text(error))
            return False
        await state.update_data(exercise_id=exercise.id.hex, exercise_name=exercise.name)
        await ask_value(message, state, user)
        return True

    @router.message(GoalForm.exercise, F.text, NOT_A_COMMAND)
    async def got_exercise(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        match = await find_exercise(
            session, user.user_id, message.text or "", locale=user.locale, prefer_weighted=True
        )
        if match.chosen is not None:
            await chose_exercise(message, state, session, user, match.chosen.id)
            return
        if not match.candidates:
            await message.answer(problem_message("exercise_unknown"))
            return
        await message.answer(
            _("Which one?"),
            reply_markup=inline(
                [[(ref.name, GoalExercisePick(id=ref.id.hex))] for ref in match.candidates]
            ),
        )

    @router.callback_query(GoalExercisePick.filter())
    async def picked_exercise(
        query: CallbackQuery,
        callback_data: GoalExercisePick,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        exercise_id = parse_id(callback_data.id)
        if await state.get_state() != GoalForm.exercise.state or exercise_id is None:
            await query.answer(_(EXPIRED), show_alert=True)
            return
        await query.answer()
        assert isinstance(query.message, Message)
        await chose_exercise(query.message, state, session, user, exercise_id)

    @router.message(GoalForm.value, F.text, NOT_A_COMMAND)
    async def got_value(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        kind = TargetKind(data["kind"])
        raw = message.text or ""
        try:
            value = (
                parse_count(raw)
                if kind is TargetKind.SESSIONS_PER_WEEK
                else parse_load(raw, user_unit(user))
            )
            value = check_value(kind, value)
        except InvalidGoal as error:
            await message.answer(problem_text(error))
            return
        await state.update_data(value=str(value))
        if kind is TargetKind.SESSIONS_PER_WEEK:
            await save(message, state, session, user)
            return
        await state.set_state(GoalForm.date)
        await message.answer(_("By when? Send a date such as 2026-06-30 or 30.06.2026."))

    @router.message(GoalForm.date, F.text, NOT_A_COMMAND)
    async def got_date(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        kind = TargetKind(data["kind"])
        try:
            target_date = parse_date(message.text or "")
            check_date(kind, target_date, today=today_in(user.timezone, current_instant()))
        except InvalidGoal as error:
            await message.answer(problem_text(error))
            return
        await state.update_data(target_date=target_date.isoformat())
        await save(message, state, session, user)

    @router.message(GoalForm.title, NOT_A_COMMAND)
    @router.message(GoalForm.exercise, NOT_A_COMMAND)
    @router.message(GoalForm.value, NOT_A_COMMAND)
    @router.message(GoalForm.date, NOT_A_COMMAND)
    async def expected_text(message: Message) -> None:
        await message.answer(_("Please type your answer, or send /cancel to stop."))

    return router
