"""A guided session: a workout stepped through one message per set, then the finish
(summary, records, soreness, notes, rating).

Each set message shows the prescription (exercise, reps, load in the athlete's unit, tempo,
rest) and what was done last time, with buttons: done as prescribed, reps ±, load ±, RPE 6–10
(logs with that RPE), swap the exercise, skip, undo the last set, edit it, finish, and the rest
ping switch. A typed reply ("8", "8 @ 62.5", "7 rpe 9") logs the set too.

The conversation state (aiogram FSM, Redis in production) holds ids and small numbers only:
the training session and workout ids, the step index, the swaps, the adjusted reps and load of
the current step, the steps logged (for undo) and the message to tidy up. Every button carries
the session id and the step: a button of another session or of an earlier step changes
nothing; someone else's session id is refused by domain/access.

Also answers ``bot.training_callbacks.SessionAction`` (undo / finish) put under free-text log
replies by the /log feature.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.handlers.rating import ask_for_rating
from bot.i18n import N_, _, ngettext
from bot.keyboards import NOT_A_COMMAND, chunks, inline
from bot.router_gates import FeatureRouter
from bot.training_callbacks import SessionAction, SessionStep
from bot.units import clock_text, distance_text, load_text, user_unit
from domain.parsing import ParseError, example_for
from domain.parsing.model import tidy
from domain.services import guided
from domain.services.guided import (
    EmptyWorkout,
    LoggedStep,
    NothingToLog,
    OneSetAtATime,
    PlannedSet,
    StepView,
)
from domain.services.media import MediaKind, step_media
from domain.services.records import PersonalRecord, RecordKind
from domain.services.strength import LOAD_STEP, WeightUnit
from domain.services.training_log import (
    MAX_NOTES_LENGTH,
    NothingToUndo,
    SessionFinished,
    SessionSummary,
    SetRecord,
    session_sets,
)
from domain.services.users import UserContext

COMMANDS: tuple[CommandInfo, ...] = ()

RPE_CHOICES = (6, 7, 8, 9, 10)
SORENESS_CHOICES = range(11)

NOT_CURRENT = N_("This set is already done or no longer current.")
SESSION_OVER = N_("This session is already finished.")
NOTHING_TO_UNDO = N_("There is no set to undo.")
NO_SESSION = N_("There is no guided session going on. Send /today to start one.")
TYPE_THE_SET = N_("Type what you did, for example “8 @ 62.5” or “7 rpe 9”.")


class Guided(StatesGroup):
    step = State()  # a set message is waiting for an answer
    edit_last = State()  # a correction of the last set is expected as text
    soreness = State()  # the soreness keyboard
    notes = State()  # notes as text, or Skip


class StartWorkout(CallbackData, prefix="gw"):
    workout: str  # workout id as 32 hex digits


class GuidedAct(CallbackData, prefix="gs"):
    act: str  # d done · r reps · l load · e RPE · w swap menu · c swap choice · b back ·
    # k skip · u undo · x edit last · f finish · p rest ping switch
    s: str  # training session id, 32 hex digits
    i: int  # the step the button belongs to
    v: int = 0  # ±1, the RPE, the swap choice, 1/0 for the ping


class Soreness(CallbackData, prefix="gso"):
    s: str
    v: int


class SkipNotes(CallbackData, prefix="gsn"):
    s: str


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=str(value))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The conversation's memory
# --------------------------------------------------------------------------------------------


@dataclass
class Flow:
    """The FSM data of a guided session (ids and small numbers only)."""

    session_id: uuid.UUID
    workout_id: uuid.UUID
    step: int = 0
    total: int = 0
    swaps: dict[str, uuid.UUID] = field(default_factory=dict)
    reps: int | None = None  # the current step's reps after ±; None: as prescribed
    load_kg: Decimal | None = None  # the current step's load after ±; None: as prescribed
    adjusted: bool = False
    logged_steps: list[int] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # swap choices on display (hex)
    message_id: int | None = None  # the current set message

    @classmethod
    async def load(cls, state: FSMContext) -> Flow | None:
        data = await state.get_data()
        session_id, workout_id = _uuid(data.get("g_sid")), _uuid(data.get("g_wid"))
        if session_id is None or workout_id is None:
            return None
        swaps = {
            str(key): found
            for key, value in dict(data.get("g_sw") or {}).items()
            if (found := _uuid(value)) is not None
        }
        load = data.get("g_load")
        return cls(
            session_id=session_id,
            workout_id=workout_id,
            step=int(data.get("g_i", 0)),
            total=int(data.get("g_n", 0)),
            swaps=swaps,
            reps=data.get("g_reps"),
            load_kg=None if load is None else Decimal(str(load)),
            adjusted=bool(data.get("g_adj", False)),
            logged_steps=[int(step) for step in data.get("g_hist") or []],
            candidates=[str(item) for item in data.get("g_cand") or []],
            message_id=data.get("g_mid"),
        )

    async def save(self, state: FSMContext) -> None:
        await state.update_data(
            g_sid=self.session_id.hex,
            g_wid=self.workout_id.hex,
            g_i=self.step,
            g_n=self.total,
            g_sw={key: value.hex for key, value in self.swaps.items()},
            g_reps=self.reps,
            g_load=None if self.load_kg is None else str(self.load_kg),
            g_adj=self.adjusted,
            g_hist=self.logged_steps,
            g_cand=self.candidates,
            g_mid=self.message_id,
        )

    def go_to(self, step: int) -> None:
        self.step = step
        self.reps, self.load_kg, self.adjusted = None, None, False
        self.candidates = []


async def _forget(state: FSMContext) -> None:
    data = await state.get_data()
    await state.set_state(None)
    await state.set_data({key: value for key, value in data.items() if not key.startswith("g_")})


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def set_text(record: SetRecord, unit: WeightUnit) -> str:
    """One logged set: "5 × 97.5 kg", "8 × BW+10 kg", "1:00", "400 m in 1:30", "… RPE 8"."""
    parts: list[str] = []
    if record.reps is not None:
        if record.is_bodyweight:
            extra = record.added_load_kg
            if extra:
                sign = "+" if extra > 0 else "−"
                parts.append(f"{record.reps} × BW{sign}{load_text(abs(extra), unit)}")
            else:
                parts.append(f"{record.reps} × BW")
        elif record.load_kg:
            parts.append(f"{record.reps} × {load_text(record.load_kg, unit)}")
        else:
            parts.append(
                ngettext("{count} rep", "{count} reps", record.reps).format(count=record.reps)
            )
    if record.distance_m is not None:
        parts.append(distance_text(record.distance_m))
    if record.duration_seconds is not None:
        parts.append(clock_text(record.duration_seconds))
    text = " · ".join(parts)
    if record.rpe is not None:
        text += " " + _("RPE {value}").format(value=f"{record.rpe:g}")
    return text


def target_text(planned: PlannedSet, flow: Flow, unit: WeightUnit) -> str:
    """ "5 reps @ 100 kg · RPE 8 · tempo 3-1-1-0 · rest 2:00" (reps/load as adjusted)."""
    reps = flow.reps if flow.adjusted else planned.reps
    load = flow.load_kg if flow.adjusted else planned.load_kg
    parts: list[str] = []
    work = ""
    if reps is not None:
        if planned.reps_max and not flow.adjusted:
            work = _("{low}–{high} reps").format(low=reps, high=planned.reps_max)
        else:
            work = ngettext("{count} rep", "{count} reps", reps).format(count=reps)
    if load is not None and load > 0:
        shown = load_text(load, unit)
        if planned.is_bodyweight:
            shown = _("bodyweight + {load}").format(load=shown)
        work = f"{work} @ {shown}" if work else shown
    elif planned.is_bodyweight and reps is not None:
        work = _("{work} (bodyweight)").format(work=work)
    if work:
        parts.append(work)
    if planned.duration_seconds is not None:
        parts.append(clock_text(planned.duration_seconds))
    if planned.distance_m is not None:
        parts.append(distance_text(planned.distance_m))
    if planned.rpe is not None:
        parts.append(_("RPE {value}").format(value=f"{planned.rpe:g}"))
    if planned.tempo:
        parts.append(_("tempo {tempo}").format(tempo=planned.tempo))
    if planned.rest_seconds:
        parts.append(_("rest {time}").format(time=clock_text(planned.rest_seconds)))
    return " · ".join(parts) if parts else _("as you feel it")


def step_text(view: StepView, flow: Flow, unit: WeightUnit) -> str:
    planned = view.planned
    title = _("Set {round}/{rounds} · {exercise}").format(
        round=planned.round, rounds=planned.rounds, exercise=html.escape(planned.exercise_name)
    )
    lines = [f"<b>{title}</b>"]
    lines.append(_("Target: {target}").format(target=html.escape(target_text(planned, flow, unit))))
    if flow.adjusted:
        lines.append("✎ " + _("adjusted: the buttons log these numbers"))
    if view.last_time:
        done = ", ".join(set_text(one, unit) for one in view.last_time)
        lines.append(_("Last time: {sets}").format(sets=html.escape(done)))
    else:
        lines.append(_("Last time: nothing logged yet for this exercise."))
    lines.append(
        _("Step {step} of {total} · or type what you did, e.g. “8 @ 62.5”").format(
            step=planned.step + 1, total=view.total
        )
    )
    return "\n".join(lines)


def step_keyboard(view: StepView, flow: Flow, unit: WeightUnit) -> InlineKeyboardMarkup:
    sid, step = flow.session_id.hex, view.planned.step

    def act(action: str, value: int = 0) -> GuidedAct:
        return GuidedAct(act=action, s=sid, i=step, v=value)

    step_label = str(tidy(LOAD_STEP[unit]))  # the step is in the unit already
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [(_("✓ Done"), act("d"))],
        [
            (_("reps −1"), act("r", -1)),
            (_("reps +1"), act("r", 1)),
            (_("load −{step}").format(step=step_label), act("l", -1)),
            (_("load +{step}").format(step=step_label), act("l", 1)),
        ],
        [(f"RPE {value}", act("e", value)) for value in RPE_CHOICES],
        [(_("⇄ Swap"), act("w")), (_("⏭ Skip"), act("k")), (_("↩ Undo last"), act("u"))],
        [
            (_("✎ Edit last"), act("x")),
            (
                _("🔔 Rest ping: on") if view.ping else _("🔕 Rest ping: off"),
                act("p", 0 if view.ping else 1),
            ),
            (_("■ Finish"), act("f")),
        ],
    ]
    return inline(rows)


def end_keyboard(flow: Flow) -> InlineKeyboardMarkup:
    sid = flow.session_id.hex
    return inline(
        [
            [(_("■ Finish"), GuidedAct(act="f", s=sid, i=flow.step))],
            [
                (_("↩ Undo last"), GuidedAct(act="u", s=sid, i=flow.step)),
                (_("✎ Edit last"), GuidedAct(act="x", s=sid, i=flow.step)),
            ],
        ]
    )


def local_time(moment: dt.datetime, timezone: str) -> str:
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return moment.astimezone(zone).strftime("%H:%M")


def duration_text(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("{minutes} min").format(minutes=minutes)


def record_text(record: PersonalRecord, unit: WeightUnit) -> str:
    name = html.escape(record.exercise_name)
    if record.kind is RecordKind.E1RM:
        value = _("estimated 1RM {load}").format(load=load_text(record.value, unit))
    elif record.kind is RecordKind.HEAVIEST_LOAD:
        value = _("heaviest load {load}").format(load=load_text(record.value, unit))
    elif record.kind is RecordKind.REPS_AT_LOAD:
        value = _("{reps} reps at {load}").format(
            reps=f"{record.value:g}", load=load_text(record.load_kg or Decimal(0), unit)
        )
    elif record.kind is RecordKind.SET_VOLUME:
        value = _("set volume {load}").format(load=load_text(record.value, unit))
    else:
        value = _("session volume {load}").format(load=load_text(record.value, unit))
    return f"🏆 {name}: {value}"


def summary_text(summary: SessionSummary, unit: WeightUnit) -> str:
    lines = [
        "<b>" + _("Workout finished") + "</b>",
        _("Duration: {duration}").format(duration=duration_text(summary.duration)),
        ngettext("{count} set", "{count} sets", summary.set_count).format(count=summary.set_count),
        _("Total volume: {volume}").format(volume=load_text(summary.volume_kg, unit)),
    ]
    if summary.exercises:
        lines.append(
            _("Exercises: {names}").format(names=html.escape(", ".join(summary.exercises)))
        )
    if summary.records:
        lines.append("")
        lines.append(_("New personal records:"))
        lines.extend(record_text(record, unit) for record in summary.records)
    if summary.streak is not None and summary.streak.current > 0:
        lines.append("")
        lines.append(
            "🔥 "
            + ngettext(
                "Streak: {count} day", "Streak: {count} days", summary.streak.current
            ).format(count=summary.streak.current)
        )
    return "\n".join(lines)


def soreness_keyboard(session_id: uuid.UUID) -> InlineKeyboardMarkup:
    buttons = [(str(value), Soreness(s=session_id.hex, v=value)) for value in SORENESS_CHOICES]
    return inline(chunks(buttons, 6))


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return current_instant()


def _message(query: CallbackQuery) -> Message | None:
    return query.message if isinstance(query.message, Message) else None


async def _edit(message: Message | None, text: str, keyboard: InlineKeyboardMarkup | None) -> None:
    if message is None:
        return
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise


async def _retire(bot: Bot, chat_id: int, flow: Flow, text: str | None = None) -> None:
    """The previous set message loses its buttons (and says what became of it)."""
    if flow.message_id is None:
        return
    with contextlib.suppress(TelegramBadRequest):
        if text is None:
            await bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=flow.message_id, reply_markup=None
            )
        else:
            await bot.edit_message_text(
                text, chat_id=chat_id, message_id=flow.message_id, reply_markup=None
            )
    flow.message_id = None


async def _send_step_media(
    bot: Bot,
    chat_id: int,
    session: AsyncSession,
    user: UserContext,
    state: FSMContext,
    flow: Flow,
    view: StepView,
) -> None:
    """The coach's photos and videos for the set about to come (domain/services/media.py):
    its exercise's on the block's first round, the workout's own on the first set; once per
    step of the session (an undo or a resume does not send them again)."""
    if view.planned.round != 1 and flow.step != 0:
        return
    data = await state.get_data()
    seen = data.get("g_med") or {}
    shown = (
        [int(step) for step in seen.get("steps", [])]
        if seen.get("s") == flow.session_id.hex
        else []
    )
    if flow.step in shown:
        return
    items = await step_media(
        session,
        user.user_id,
        flow.workout_id,
        view.planned.exercise_id,
        with_workout=flow.step == 0,
    )
    await state.update_data(g_med={"s": flow.session_id.hex, "steps": [*shown, flow.step]})
    for item in items:
        # A file id Telegram no longer knows must not keep the set from coming.
        with contextlib.suppress(TelegramBadRequest):
            if item.kind is MediaKind.VIDEO:
                await bot.send_video(chat_id, item.file_id)
            else:
                await bot.send_photo(chat_id, item.file_id)


def parse_error_text(error: ParseError | OneSetAtATime) -> str:
    if isinstance(error, OneSetAtATime):
        return _(
            "One set at a time, without the exercise name: for example “8 @ 62.5” or “7 rpe 9”."
        )
    where = error.fragment or _("the end")
    return (
        _("I could not read “{fragment}”.").format(fragment=html.escape(where))
        + "\n"
        + _("Type what you did, for example “8 @ 62.5” or “7 rpe 9”.")
        + "\n"
        + _("Another example: {example}").format(example=html.escape(example_for(error)))
    )


def router() -> Router:
    router = FeatureRouter(name="workout_session")

    async def send_step(
        bot: Bot,
        chat_id: int,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        flow: Flow,
    ) -> None:
        """Send the message of ``flow.step`` (or the "all sets done" one) as a new message."""
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        unit = user_unit(user)
        if view is None:
            flow.step = flow.total
            sent = await bot.send_message(
                chat_id,
                _("That was the last set. 💪 Finish to see your summary."),
                reply_markup=end_keyboard(flow),
            )
        else:
            flow.total = view.total
            await _send_step_media(bot, chat_id, session, user, state, flow, view)
            sent = await bot.send_message(
                chat_id, step_text(view, flow, unit), reply_markup=step_keyboard(view, flow, unit)
            )
        flow.message_id = sent.message_id
        await state.set_state(Guided.step)
        await flow.save(state)

    async def redraw_step(
        message: Message | None,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        flow: Flow,
    ) -> None:
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if view is None:
            await _edit(
                message,
                _("That was the last set. 💪 Finish to see your summary."),
                end_keyboard(flow),
            )
        else:
            unit = user_unit(user)
            await _edit(message, step_text(view, flow, unit), step_keyboard(view, flow, unit))
        await flow.save(state)

    async def after_logging(
        bot: Bot,
        chat_id: int,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        flow: Flow,
        logged: LoggedStep,
    ) -> None:
        unit = user_unit(user)
        name = html.escape(logged.record.exercise_name)
        await _retire(
            bot, chat_id, flow, "✓ " + f"{name}: {html.escape(set_text(logged.record, unit))}"
        )
        flow.logged_steps.append(flow.step)
        flow.go_to(flow.step + 1)
        if logged.rest_ends_at is not None:
            text = "⏱ " + _("Rest until {time} ({duration})").format(
                time=local_time(logged.rest_ends_at, user.timezone),
                duration=clock_text(logged.rest_seconds),
            )
            if logged.ping_planned:
                text += "\n" + _("I will ping you when the rest is over.")
            await bot.send_message(chat_id, text)
        await send_step(bot, chat_id, session, user, state, flow)

    async def log_current(
        query: CallbackQuery,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        flow: Flow,
        *,
        rpe: Decimal | None = None,
    ) -> None:
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if view is None:
            await query.answer(_(NOT_CURRENT), show_alert=True)
            return
        reps = flow.reps if flow.adjusted else view.planned.reps
        load = flow.load_kg if flow.adjusted else view.planned.load_kg
        try:
            logged = await guided.log_step(
                session,
                user.user_id,
                session_id=flow.session_id,
                workout_id=flow.workout_id,
                step=flow.step,
                swaps=flow.swaps,
                reps=reps,
                load_kg=load,
                rpe=rpe,
                now=_now(),
                locale=user.locale,
            )
        except NothingToLog:
            await query.answer(_(TYPE_THE_SET), show_alert=True)
            return
        except SessionFinished:
            await query.answer(_(SESSION_OVER), show_alert=True)
            return
        await query.answer(_("Logged."))
        await after_logging(bot, query.from_user.id, session, user, state, flow, logged)

    async def current_flow(
        query: CallbackQuery,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        session_hex: str,
        step: int | None,
        *,
        states: tuple[State, ...] = (Guided.step,),
    ) -> Flow | None:
        """The flow when the button belongs to it (its session, its step), else the answer
        that it is not current — after domain/access has refused someone else's session."""
        session_id = _uuid(session_hex)
        if session_id is None:
            await query.answer(_(NOT_CURRENT), show_alert=True)
            return None
        flow = await Flow.load(state)
        current_state = await state.get_state()
        if (
            flow is not None
            and flow.session_id == session_id
            and current_state in {item.state for item in states}
            and (step is None or step == flow.step)
        ):
            return flow
        # Not this conversation's: refused if not the person's own, else merely stale.
        row = await guided.own_session(session, user.user_id, session_id)
        await query.answer(
            _(SESSION_OVER) if row.finished_at is not None else _(NOT_CURRENT), show_alert=True
        )
        return None

    # --- start ------------------------------------------------------------------------------

    @router.callback_query(StartWorkout.filter())
    async def start(
        query: CallbackQuery,
        callback_data: StartWorkout,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        workout_id = _uuid(callback_data.workout)
        if workout_id is None:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        try:
            started = await guided.start_guided(
                session,
                user.user_id,
                workout_id,
                now=_now(),
                timezone=user.timezone,
                locale=user.locale,
            )
        except EmptyWorkout:
            await query.answer(_("This workout has no sets yet."), show_alert=True)
            return
        await query.answer()
        previous = await Flow.load(state)
        if previous is not None and previous.session_id != started.info.id:
            await _retire(bot, query.from_user.id, previous)
        flow = Flow(started.info.id, workout_id, step=started.step, total=started.total)
        if started.resumed and previous is not None and previous.session_id == started.info.id:
            flow = previous
            await _retire(bot, query.from_user.id, flow)
        headline = (
            _("▶ <b>{workout}</b> — let's go!")
            if not started.resumed
            else _("▶ <b>{workout}</b> — picking up where you left off.")
        )
        await bot.send_message(
            query.from_user.id,
            headline.format(workout=html.escape(started.workout_name))
            + "\n"
            + ngettext("{count} set planned.", "{count} sets planned.", started.total).format(
                count=started.total
            ),
        )
        await send_step(bot, query.from_user.id, session, user, state, flow)

    # --- the set buttons --------------------------------------------------------------------

    @router.callback_query(GuidedAct.filter(F.act.in_({"d", "e"})))
    async def done(
        query: CallbackQuery,
        callback_data: GuidedAct,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        rpe: Decimal | None = None
        if callback_data.act == "e":
            if callback_data.v not in RPE_CHOICES:
                await query.answer(_("That is not one of the choices."), show_alert=True)
                return
            rpe = Decimal(callback_data.v)
        await log_current(query, bot, session, user, state, flow, rpe=rpe)

    @router.callback_query(GuidedAct.filter(F.act.in_({"r", "l"})))
    async def adjust(
        query: CallbackQuery,
        callback_data: GuidedAct,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        if callback_data.v not in (-1, 1):
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if view is None:
            await query.answer(_(NOT_CURRENT), show_alert=True)
            return
        if not flow.adjusted:
            flow.reps, flow.load_kg, flow.adjusted = view.planned.reps, view.planned.load_kg, True
        if callback_data.act == "r":
            flow.reps = guided.adjust_reps(flow.reps, callback_data.v)
        else:
            flow.load_kg = guided.adjust_load(flow.load_kg, callback_data.v, user_unit(user))
        await query.answer()
        unit = user_unit(user)
        await _edit(_message(query), step_text(view, flow, unit), step_keyboard(view, flow, unit))
        await flow.save(state)

    @router.callback_query(GuidedAct.filter(F.act == "p"))
    async def ping_switch(
        query: CallbackQuery,
        callback_data: GuidedAct,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        on = callback_data.v == 1
        await guided.set_rest_ping(session, user.user_id, on)
        await query.answer(
            _("I will ping you when a rest is over.") if on else _("No ping after rests.")
        )
        await redraw_step(_message(query), session, user, state, flow)

    @router.callback_query(GuidedAct.filter(F.act == "w"))
    async def swap_menu(
        query: CallbackQuery,
        callback_data: GuidedAct,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        planned, options = await guided.swap_options(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if not options:
            await query.answer(_("I know no alternative to this exercise."), show_alert=True)
            return
        await query.answer()
        flow.candidates = [option.exercise_id.hex for option in options]
        lines = [
            _("Replace <b>{exercise}</b> for the rest of this block with:").format(
                exercise=html.escape(planned.exercise_name)
            )
        ]
        buttons: list[Sequence[tuple[str, CallbackData]]] = []
        for index, option in enumerate(options):
            mark = "" if option.feasible else "⚠️ "
            detail = f" — {option.note}" if option.note else ""
            if option.difficulty_delta:
                detail += " " + (_("(harder)") if option.difficulty_delta > 0 else _("(easier)"))
            lines.append(f"• {mark}{html.escape(option.name)}{html.escape(detail)}")
            buttons.append(
                [
                    (
                        mark + option.name,
                        GuidedAct(act="c", s=flow.session_id.hex, i=flow.step, v=index),
                    )
                ]
            )
        if any(not option.feasible for option in options):
            lines.append(_("⚠️ needs equipment you have not listed."))
        buttons.append([(_("← Back"), GuidedAct(act="b", s=flow.session_id.hex, i=flow.step))])
        await _edit(_message(query), "\n".join(lines), inline(buttons))
        await flow.save(state)

    @router.callback_query(GuidedAct.filter(F.act.in_({"c", "b"})))
    async def swap_choice(
        query: CallbackQuery,
        callback_data: GuidedAct,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(
            query,
            session,
            user,
            state,
            callback_data.s,
            callback_data.i,
            states=(Guided.step, Guided.edit_last),
        )
        if flow is None:
            return
        await state.set_state(Guided.step)
        if callback_data.act == "c":
            if not 0 <= callback_data.v < len(flow.candidates):
                await query.answer(_(NOT_CURRENT), show_alert=True)
                return
            chosen = _uuid(flow.candidates[callback_data.v])
            view = await guided.step_view(
                session,
                user.user_id,
                session_id=flow.session_id,
                workout_id=flow.workout_id,
                step=flow.step,
                swaps={},
                locale=user.locale,
            )
            if chosen is None or view is None:
                await query.answer(_(NOT_CURRENT), show_alert=True)
                return
            if chosen == view.planned.exercise_id:
                flow.swaps.pop(view.planned.swap_key, None)
            else:
                flow.swaps[view.planned.swap_key] = chosen
            await query.answer(_("Swapped."))
        else:
            await query.answer()
        flow.candidates = []
        await redraw_step(_message(query), session, user, state, flow)

    @router.callback_query(GuidedAct.filter(F.act == "k"))
    async def skip(
        query: CallbackQuery,
        callback_data: GuidedAct,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if view is None:
            await query.answer(_(NOT_CURRENT), show_alert=True)
            return
        await query.answer(_("Skipped."))
        await _retire(
            bot,
            query.from_user.id,
            flow,
            "⏭ "
            + _("Skipped: {exercise}").format(exercise=html.escape(view.planned.exercise_name)),
        )
        flow.go_to(flow.step + 1)
        await send_step(bot, query.from_user.id, session, user, state, flow)

    async def undo(
        bot: Bot,
        chat_id: int,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        session_id: uuid.UUID,
    ) -> str | None:
        """Undo the session's last set; in a guided flow of that session, go back to its step.
        Returns the refusal to answer, or None when done."""
        try:
            removed = await guided.undo_step(session, user.user_id, session_id, locale=user.locale)
        except NothingToUndo:
            return _(NOTHING_TO_UNDO)
        except SessionFinished:
            return _(SESSION_OVER)
        unit = user_unit(user)
        await bot.send_message(
            chat_id,
            "↩ "
            + _("Removed: {exercise} {set}").format(
                exercise=html.escape(removed.exercise_name),
                set=html.escape(set_text(removed, unit)),
            ),
        )
        flow = await Flow.load(state)
        if (
            flow is not None
            and flow.session_id == session_id
            and await state.get_state()
            in {
                Guided.step.state,
                Guided.edit_last.state,
            }
        ):
            await _retire(bot, chat_id, flow)
            back = flow.logged_steps.pop() if flow.logged_steps else flow.step
            flow.go_to(back)
            await send_step(bot, chat_id, session, user, state, flow)
        return None

    @router.callback_query(GuidedAct.filter(F.act == "u"))
    async def undo_button(
        query: CallbackQuery,
        callback_data: GuidedAct,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        refusal = await undo(bot, query.from_user.id, session, user, state, flow.session_id)
        await query.answer(refusal or _("Undone."), show_alert=refusal is not None)

    @router.callback_query(GuidedAct.filter(F.act == "x"))
    async def edit_button(
        query: CallbackQuery,
        callback_data: GuidedAct,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        if not flow.logged_steps:
            sets = await session_sets(session, user.user_id, flow.session_id)
            if not sets:
                await query.answer(_(NOTHING_TO_UNDO), show_alert=True)
                return
        await query.answer()
        await state.set_state(Guided.edit_last)
        message = _message(query)
        if message is not None:
            await message.answer(
                _("Type the correction of your last set, for example “6 @ 100”.")
                + "\n"
                + _("Or tap Back to leave it as it is."),
                reply_markup=inline(
                    [[(_("← Back"), GuidedAct(act="b", s=flow.session_id.hex, i=flow.step))]]
                ),
            )

    @router.message(Guided.edit_last, F.text, NOT_A_COMMAND)
    async def typed_correction(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await Flow.load(state)
        if flow is None:
            await _forget(state)
            await message.answer(_(NO_SESSION))
            return
        try:
            typed = guided.parse_set_reply(message.text or "", unit=user_unit(user))
        except (ParseError, OneSetAtATime) as error:
            await message.answer(parse_error_text(error))
            return
        try:
            record = await guided.edit_last(
                session, user.user_id, flow.session_id, typed, locale=user.locale
            )
        except NothingToUndo:
            await message.answer(_(NOTHING_TO_UNDO))
            return
        except SessionFinished:
            await _forget(state)
            await message.answer(_(SESSION_OVER))
            return
        await message.answer(
            "✎ "
            + _("Corrected: {exercise} {set}").format(
                exercise=html.escape(record.exercise_name),
                set=html.escape(set_text(record, user_unit(user))),
            )
        )
        await _retire(bot, message.chat.id, flow)
        await send_step(bot, message.chat.id, session, user, state, flow)

    @router.message(Guided.step, F.text, NOT_A_COMMAND)
    async def typed_set(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await Flow.load(state)
        if flow is None:
            await _forget(state)
            await message.answer(_(NO_SESSION))
            return
        if flow.step >= flow.total:
            await message.answer(_("All sets are done: tap Finish, or Undo last to redo one."))
            return
        try:
            typed = guided.parse_set_reply(message.text or "", unit=user_unit(user))
        except (ParseError, OneSetAtATime) as error:
            await message.answer(parse_error_text(error))
            return
        view = await guided.step_view(
            session,
            user.user_id,
            session_id=flow.session_id,
            workout_id=flow.workout_id,
            step=flow.step,
            swaps=flow.swaps,
            locale=user.locale,
        )
        if view is None:
            await message.answer(_("All sets are done: tap Finish, or Undo last to redo one."))
            return
        try:
            logged = await guided.log_step(
                session,
                user.user_id,
                session_id=flow.session_id,
                workout_id=flow.workout_id,
                step=flow.step,
                swaps=flow.swaps,
                load_kg=flow.load_kg if flow.adjusted else view.planned.load_kg,
                typed=typed,
                now=_now(),
                locale=user.locale,
            )
        except SessionFinished:
            await _forget(state)
            await message.answer(_(SESSION_OVER))
            return
        await after_logging(bot, message.chat.id, session, user, state, flow, logged)

    @router.message(Guided.step, NOT_A_COMMAND)
    @router.message(Guided.edit_last, NOT_A_COMMAND)
    async def not_text(message: Message) -> None:
        await message.answer(_(TYPE_THE_SET))

    # --- finish -----------------------------------------------------------------------------

    async def finish(
        bot: Bot,
        chat_id: int,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        session_id: uuid.UUID,
    ) -> str | None:
        try:
            summary = await guided.finish_guided(
                session,
                user.user_id,
                session_id,
                now=_now(),
                timezone=user.timezone,
                locale=user.locale,
            )
        except SessionFinished:
            return _(SESSION_OVER)
        flow = await Flow.load(state)
        if flow is not None and flow.session_id == session_id:
            await _retire(bot, chat_id, flow)
        await _forget(state)
        if summary.discarded:
            await bot.send_message(
                chat_id, _("Nothing was logged, so there is no session to keep.")
            )
            return None
        await bot.send_message(chat_id, summary_text(summary, user_unit(user)))
        await state.set_state(Guided.soreness)
        await state.update_data(
            g_fin=session_id.hex,
            g_fwid=summary.workout_id.hex if summary.workout_id else None,
        )
        await bot.send_message(
            chat_id,
            _("How sore are you? 0 = not at all, 10 = very."),
            reply_markup=soreness_keyboard(session_id),
        )
        return None

    @router.callback_query(GuidedAct.filter(F.act == "f"))
    async def finish_button(
        query: CallbackQuery,
        callback_data: GuidedAct,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        flow = await current_flow(query, session, user, state, callback_data.s, callback_data.i)
        if flow is None:
            return
        refusal = await finish(bot, query.from_user.id, session, user, state, flow.session_id)
        await query.answer(refusal or None, show_alert=refusal is not None)

    @router.callback_query(SessionAction.filter())
    async def session_action(
        query: CallbackQuery,
        callback_data: SessionAction,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        session_id = callback_data.session_id()
        if session_id is None:
            await query.answer(_(NOT_CURRENT), show_alert=True)
            return
        if callback_data.step is SessionStep.UNDO:
            refusal = await undo(bot, query.from_user.id, session, user, state, session_id)
            await query.answer(refusal or _("Undone."), show_alert=refusal is not None)
            return
        refusal = await finish(bot, query.from_user.id, session, user, state, session_id)
        await query.answer(refusal or None, show_alert=refusal is not None)

    async def finished_session(state: FSMContext, session_hex: str) -> uuid.UUID | None:
        data = await state.get_data()
        if data.get("g_fin") != session_hex:
            return None
        return _uuid(session_hex)

    @router.callback_query(Soreness.filter())
    async def soreness(
        query: CallbackQuery,
        callback_data: Soreness,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        session_id = await finished_session(state, callback_data.s)
        if session_id is None or await state.get_state() != Guided.soreness.state:
            target = _uuid(callback_data.s)
            if target is not None:
                await guided.own_session(session, user.user_id, target)
            await query.answer(_("That question is already answered."), show_alert=True)
            return
        if callback_data.v not in SORENESS_CHOICES:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        await guided.rate_session(session, user.user_id, session_id, callback_data.v)
        await query.answer(_("Saved."))
        await _edit(
            _message(query),
            _("Soreness: {value}/10").format(value=callback_data.v),
            None,
        )
        await state.set_state(Guided.notes)
        message = _message(query)
        if message is not None:
            await message.answer(
                _("Any notes on this session? Type them, or tap Skip."),
                reply_markup=inline([[(_("Skip"), SkipNotes(s=session_id.hex))]]),
            )

    @router.message(Guided.soreness, NOT_A_COMMAND)
    async def soreness_typed(message: Message) -> None:
        await message.answer(_("Please tap a number from 0 to 10 above."))

    async def close(
        bot: Bot,
        chat_id: int,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        workout_id = _uuid(data.get("g_fwid") or "")
        await _forget(state)
        if workout_id is not None:
            await ask_for_rating(
                bot,
                chat_id,
                user=user,
                workout_id=workout_id,
                locale=user.locale,
                session=session,
            )

    @router.message(Guided.notes, F.text, NOT_A_COMMAND)
    async def notes_typed(
        message: Message,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        session_id = _uuid(data.get("g_fin") or "")
        if session_id is None:
            await _forget(state)
            return
        text = (message.text or "").strip()
        if not text:
            await message.answer(_("Please type your notes as text, or tap Skip."))
            return
        if len(text) > MAX_NOTES_LENGTH:
            await message.answer(
                _("That is too long: at most {limit} characters, please.").format(
                    limit=MAX_NOTES_LENGTH
                )
            )
            return
        await guided.note_session(session, user.user_id, session_id, text)
        await message.answer(_("Notes saved. Well done today!"))
        await close(bot, message.chat.id, session, user, state)

    @router.message(Guided.notes, NOT_A_COMMAND)
    async def notes_not_text(message: Message) -> None:
        await message.answer(_("Please type your notes as text, or tap Skip."))

    @router.callback_query(SkipNotes.filter())
    async def skip_notes(
        query: CallbackQuery,
        callback_data: SkipNotes,
        bot: Bot,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        session_id = await finished_session(state, callback_data.s)
        if session_id is None or await state.get_state() != Guided.notes.state:
            target = _uuid(callback_data.s)
            if target is not None:
                await guided.own_session(session, user.user_id, target)
            await query.answer(_("That question is already answered."), show_alert=True)
            return
        await query.answer()
        await _edit(_message(query), _("No notes. Well done today!"), None)
        await close(bot, query.from_user.id, session, user, state)

    return router
