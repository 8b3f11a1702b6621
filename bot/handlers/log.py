"""/log and free-text logging at any time: "squat 5x5 100", "bench 3x8 @ 60kg rpe 8",
"deadlift 140x5, 150x3, 160x1", "pullups 3x10 bw+10", "plank 3x60s", "run 5km 25:30".

Text that is not a command, sent while no conversation step is waiting for an answer (no FSM
state), is read with the set-log grammar (domain.parsing, loads in the user's unit unless
typed with kg/lb). Then one service call (domain.services.quick_log.log_typed) matches the
exercise and logs the sets in the current session:

* not understood → what was not understood, and one example;
* no exercise close to the name → say so;
* several exercises close → a button each; the parsed sets wait in the FSM *data* (not a
  state: the next typed log is read as usual) under a short token the buttons carry, so a
  button of an older question, or one pressed after /cancel, changes nothing; the service
  re-checks that the exercise is one this user may log;
* logged → "✓ Back Squat — 5 × 5 @ 100 kg", what was done last time, "🏆" for a new best
  estimated 1RM, and Undo / Finish session buttons (bot.training_callbacks.SessionAction,
  answered by bot.handlers.workout_session).

Register before the fallback router (it takes every text nobody else did).
"""

from __future__ import annotations

import datetime as dt
import html
import secrets
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.i18n import N_, _, ngettext
from bot.keyboards import NOT_A_COMMAND, inline
from bot.router_gates import FeatureRouter
from bot.training_callbacks import SessionAction, SessionStep
from bot.units import clock_text, distance_text, load_text, user_unit
from domain.errors import NotFound
from domain.models.enums import ExerciseMeasurement
from domain.parsing import ParseError, Problem, Unit, example_for, parse_log
from domain.services.exercise_search import ExerciseChoice
from domain.services.quick_log import (
    QuickLogResult,
    SetsDoNotFit,
    TooManySets,
    log_free_text,
    log_typed,
)
from domain.services.strength import WeightUnit
from domain.services.training_log import MAX_SETS_PER_SESSION, SetInput, SetRecord
from domain.services.users import UserContext

COMMANDS = (CommandInfo("log", N_("log a set by typing it, e.g. squat 5x5 100"), order=20),)

# The six forms, in each unit (the grammar reads a bare load in the user's unit).
EXAMPLES: dict[WeightUnit, tuple[str, ...]] = {
    WeightUnit.KG: (
        "squat 5x5 100",
        "bench 3x8 @ 60kg rpe 8",
        "deadlift 140x5, 150x3, 160x1",
        "pullups 3x10 bw+10",
        "plank 3x60s",
        "run 5km 25:30",
    ),
    WeightUnit.LB: (
        "squat 5x5 225",
        "bench 3x8 @ 135lb rpe 8",
        "deadlift 315x5, 335x3, 355x1",
        "pullups 3x10 bw+25",
        "plank 3x60s",
        "run 5km 25:30",
    ),
}

PROBLEMS: dict[Problem, str] = {
    Problem.EMPTY: N_("There is nothing to log in that message."),
    Problem.TOO_LONG: N_("That message is too long to be a set log."),
    Problem.UNEXPECTED: N_("I did not understand “{fragment}”."),
    Problem.MISSING: N_("Something is missing at “{fragment}”."),
    Problem.NUMBER: N_("“{fragment}” is not a number I can use there."),
    Problem.OUT_OF_RANGE: N_("“{fragment}” is more than I can log (a typo?)."),
    Problem.NEGATIVE_LOAD: N_(
        "A load cannot be negative (“{fragment}”); for assistance write bw-20."
    ),
    Problem.DUPLICATE: N_("“{fragment}” says the same thing twice for the same sets."),
    Problem.MISMATCH: N_("The numbers in “{fragment}” do not match the number of sets."),
    Problem.TOO_MANY_SETS: N_("That is too many sets for one message."),
}
MISSING_AT_END = N_("Something is missing at the end of “{text}”.")

# How an exercise is logged, for a set that does not fit it.
MEASURED: dict[ExerciseMeasurement, tuple[str, str]] = {
    ExerciseMeasurement.REPS_LOAD: (
        N_("{exercise} is logged in repetitions, with or without a load."),
        "squat 5x5 100",
    ),
    ExerciseMeasurement.REPS: (N_("{exercise} is logged in repetitions."), "pullups 3x10"),
    ExerciseMeasurement.DURATION: (N_("{exercise} is logged as a time."), "plank 3x60s"),
    ExerciseMeasurement.DISTANCE_TIME: (
        N_("{exercise} is logged as a distance, a time or both."),
        "run 5km 25:30",
    ),
}

STALE_CHOICE = N_("This question is no longer open: send the set again.")


class LogPick(CallbackData, prefix="lgp"):
    """A candidate exercise for the pending log ``token`` (8 hex digits)."""

    token: str
    exercise: str  # exercise id as 32 hex digits


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _shape(record: SetRecord) -> tuple[Any, ...]:
    return (
        record.reps,
        record.load_kg,
        record.added_load_kg,
        record.is_bodyweight,
        record.duration_seconds,
        record.distance_m,
        record.rpe,
    )


def _one(record: SetRecord, unit: WeightUnit, count: int) -> str:
    """One set (the sets × prefix added by the caller): "5 @ 100 kg", "10 @ BW+10 kg",
    "1:00", "5 km in 25:30", "… RPE 8"."""
    if record.reps is not None:
        if record.is_bodyweight:
            extra = record.added_load_kg
            if extra:
                sign = "+" if extra > 0 else "−"
                text = f"{record.reps} @ BW{sign}{load_text(abs(extra), unit)}"
            else:
                text = f"{record.reps} @ BW"
        elif record.load_kg:
            text = f"{record.reps} @ {load_text(record.load_kg, unit)}"
        elif count > 1:
            text = str(record.reps)
        else:
            text = ngettext("{count} rep", "{count} reps", record.reps).format(count=record.reps)
    elif record.distance_m is not None and record.duration_seconds is not None:
        text = _("{distance} in {time}").format(
            distance=distance_text(record.distance_m), time=clock_text(record.duration_seconds)
        )
    elif record.distance_m is not None:
        text = distance_text(record.distance_m)
    else:
        text = clock_text(record.duration_seconds or 0)
    if record.rpe is not None:
        text += " " + _("RPE {value}").format(value=f"{record.rpe.normalize():f}")
    return text


def sets_text(records: Sequence[SetRecord], unit: WeightUnit) -> str:
    """Consecutive identical sets grouped: "5 × 5 @ 100 kg", "5 @ 140 kg, 3 @ 150 kg"."""
    groups: list[tuple[SetRecord, int]] = []
    for record in records:
        if groups and _shape(groups[-1][0]) == _shape(record):
            groups[-1] = (groups[-1][0], groups[-1][1] + 1)
        else:
            groups.append((record, 1))
    return ", ".join(
        f"{count} × {_one(record, unit, count)}" if count > 1 else _one(record, unit, count)
        for record, count in groups
    )


def logged_text(result: QuickLogResult, unit: WeightUnit) -> str:
    lines = [
        "✓ "
        + _("{exercise} — {sets}").format(
            exercise=html.escape(result.exercise_name),
            sets=html.escape(sets_text(result.sets, unit)),
        )
    ]
    if result.last_time:
        lines.append(
            _("Last time: {sets}").format(sets=html.escape(sets_text(result.last_time, unit)))
        )
    best = result.best_e1rm_kg
    if result.new_best_e1rm and best is not None:
        lines.append(
            "🏆 "
            + _("New best estimated 1RM: {load}").format(load=html.escape(load_text(best, unit)))
        )
    return "\n".join(lines)


def logged_keyboard(session_id: uuid.UUID) -> InlineKeyboardMarkup:
    return inline(
        [
            [
                ("↩ " + _("Undo"), SessionAction.of(SessionStep.UNDO, session_id)),
                ("🏁 " + _("Finish session"), SessionAction.of(SessionStep.FINISH, session_id)),
            ]
        ]
    )


def example_in(line: str, unit: WeightUnit) -> str:
    """An example line in the user's unit (the kg line's lb twin)."""
    if unit is WeightUnit.LB and line in EXAMPLES[WeightUnit.KG]:
        return EXAMPLES[WeightUnit.LB][EXAMPLES[WeightUnit.KG].index(line)]
    return line


def _example(line: str) -> str:
    return _("For example: {example}").format(example=f"<code>{html.escape(line)}</code>")


def parse_error_text(error: ParseError, text: str, unit: WeightUnit) -> str:
    if error.problem is Problem.MISSING and not error.fragment:
        first = _(MISSING_AT_END).format(text=html.escape(text.strip()))
    else:
        first = _(PROBLEMS[error.problem]).format(fragment=html.escape(error.fragment))
    return first + "\n" + _example(example_in(example_for(error), unit))


def log_help_text(unit: WeightUnit) -> str:
    unit_name = _("pounds") if unit is WeightUnit.LB else _("kilograms")
    return "\n".join(
        [
            _("Type what you did, at any time, one exercise per message:"),
            *(f"<code>{html.escape(line)}</code>" for line in EXAMPLES[unit]),
            "",
            _(
                "A load without a unit is in {unit} (change it in /settings); "
                "write kg or lb to say otherwise."
            ).format(unit=unit_name),
            _("Sets go into today's session; the buttons under each reply undo or finish it."),
        ]
    )


def mismatch_text(error: SetsDoNotFit, unit: WeightUnit) -> str:
    measurement = ExerciseMeasurement(error.params["measurement"])
    template, example = MEASURED[measurement]
    return (
        _(template).format(exercise=html.escape(str(error.params.get("exercise", ""))))
        + "\n"
        + _example(example_in(example, unit))
    )


# --------------------------------------------------------------------------------------------
# Pending choice (FSM data, no state)
# --------------------------------------------------------------------------------------------

PENDING = "log_pending"


def _sets_to_data(sets: Sequence[SetInput]) -> list[dict[str, Any]]:
    return [
        {
            key: (str(value) if isinstance(value, Decimal) else value)
            for key, value in (
                ("reps", one.reps),
                ("load_kg", one.load_kg),
                ("added_load_kg", one.added_load_kg),
                ("is_bodyweight", one.is_bodyweight),
                ("duration_seconds", one.duration_seconds),
                ("distance_m", one.distance_m),
                ("rpe", one.rpe),
            )
        }
        for one in sets
    ]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _sets_from_data(items: Any) -> list[SetInput]:
    if not isinstance(items, list) or not 0 < len(items) <= MAX_SETS_PER_SESSION:
        return []
    return [
        SetInput(
            reps=_int(item.get("reps")),
            load_kg=_decimal(item.get("load_kg")),
            added_load_kg=_decimal(item.get("added_load_kg")),
            is_bodyweight=bool(item.get("is_bodyweight")),
            duration_seconds=_int(item.get("duration_seconds")),
            distance_m=_decimal(item.get("distance_m")),
            rpe=_decimal(item.get("rpe")),
        )
        for item in items
        if isinstance(item, dict)
    ]


def choices_keyboard(token: str, candidates: Sequence[ExerciseChoice]) -> InlineKeyboardMarkup:
    return inline(
        [[(choice.name, LogPick(token=token, exercise=choice.id.hex))] for choice in candidates]
    )


def _now() -> dt.datetime:
    return current_instant()


# --------------------------------------------------------------------------------------------
# Router
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="log")

    async def log_outcome_reply(message: Message, result: QuickLogResult, unit: WeightUnit) -> None:
        await message.answer(
            logged_text(result, unit), reply_markup=logged_keyboard(result.session_id)
        )

    @router.message(Command("log"))
    async def log_command(message: Message, user: UserContext) -> None:
        await message.answer(log_help_text(user_unit(user)))

    # A set always has a number ("squat 5x5 100"); text without one ("hello") is not a
    # log attempt and goes on to the fallback's help.
    @router.message(StateFilter(None), F.text.regexp(r"(?s).*\d"), NOT_A_COMMAND)
    async def free_text(
        message: Message, session: AsyncSession, user: UserContext, state: FSMContext
    ) -> None:
        text = message.text or ""
        unit = user_unit(user)
        try:
            parsed = parse_log(text, default_unit=Unit(unit.value))
        except ParseError as error:
            await message.answer(parse_error_text(error, text, unit))
            return
        if parsed.exercise_text is None:
            await message.answer(
                _("Which exercise? Start with its name.") + "\n" + _example(EXAMPLES[unit][0])
            )
            return
        sets = [SetInput.from_parsed(one) for one in parsed.sets]
        try:
            outcome = await log_typed(
                session, user.user_id, parsed.exercise_text, sets, now=_now(), locale=user.locale
            )
        except SetsDoNotFit as error:
            await message.answer(mismatch_text(error, unit))
            return
        except TooManySets:
            await message.answer(_("This session already has too many sets: finish it first."))
            return
        if outcome.logged is not None:
            await log_outcome_reply(message, outcome.logged, unit)
            return
        name = html.escape(parsed.exercise_text)
        if not outcome.match.candidates:
            await message.answer(
                _("I do not know an exercise called “{name}”.").format(name=name)
                + "\n"
                + _("Check the spelling, or see /log for examples.")
            )
            return
        token = secrets.token_hex(4)
        await state.update_data(
            {
                PENDING: {
                    "token": token,
                    "sets": _sets_to_data(sets),
                    "candidates": [choice.id.hex for choice in outcome.match.candidates],
                }
            }
        )
        await message.answer(
            _("Which exercise did you mean by “{name}”?").format(name=name),
            reply_markup=choices_keyboard(token, outcome.match.candidates),
        )

    @router.callback_query(LogPick.filter())
    async def pick(
        query: CallbackQuery,
        callback_data: LogPick,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
    ) -> None:
        data = await state.get_data()
        pending = data.get(PENDING)
        sets = _sets_from_data(pending.get("sets")) if isinstance(pending, dict) else []
        try:
            exercise_id = uuid.UUID(hex=callback_data.exercise)
        except ValueError:
            exercise_id = None
        if (
            not isinstance(pending, dict)
            or pending.get("token") != callback_data.token
            or exercise_id is None
            or exercise_id.hex not in pending.get("candidates", [])
            or not sets
        ):
            await query.answer(_(STALE_CHOICE), show_alert=True)
            return
        unit = user_unit(user)
        try:
            result = await log_free_text(
                session, user.user_id, exercise_id, sets, now=_now(), locale=user.locale
            )
        except NotFound:
            await query.answer(_(STALE_CHOICE), show_alert=True)
            return
        except SetsDoNotFit as error:
            await query.answer()
            if isinstance(query.message, Message):
                await query.message.answer(mismatch_text(error, unit))
            return
        except TooManySets:
            await query.answer(
                _("This session already has too many sets: finish it first."), show_alert=True
            )
            return
        await state.update_data({PENDING: None})
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
            await log_outcome_reply(query.message, result, unit)

    return router
