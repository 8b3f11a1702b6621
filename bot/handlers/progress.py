"""/progress: three PNG charts (estimated 1RM of my main lifts, weekly sets per muscle group,
soreness), my records, and a plate calculator (target load → plates per side).

The series come from domain.services.progress (SQL); the PNGs are drawn by
domain.services.charts in a worker thread (matplotlib is CPU work and must not stall the event
loop). Every word on the charts is translated here and handed over.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence

from aiogram import F, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.handlers.history import EMPTY_LOG, UNIT_LABELS, when
from bot.i18n import N_, _, ngettext
from bot.keyboards import NOT_A_COMMAND, inline
from bot.router_gates import FeatureRouter
from bot.units import load_text, user_unit
from domain.services.charts import ProgressLabels, progress_charts
from domain.services.progress import (
    InvalidPlateTarget,
    PlateLoad,
    ProgressReport,
    parse_target,
    plates_for,
    progress_report,
)
from domain.services.records import ExerciseRecords
from domain.services.strength import WeightUnit
from domain.services.users import UserContext

COMMANDS = (
    CommandInfo("progress", N_("charts of my progress, records, plate calculator"), order=32),
)

PLATE_BUTTON = N_("🏋 Plate calculator")
PLATE_REFUSALS = {
    "format": N_("Please send a load as a number, for example {example}."),
    "below_bar": N_("That is lighter than the bar ({bar}). Send at least the bar's weight."),
    "too_heavy": N_("That is more than any bar holds here (at most {limit})."),
    "bar": N_("That bar weight is not possible."),
}


class PlateForm(StatesGroup):
    target = State()


class PlateStart(CallbackData, prefix="plt"):
    pass


def chart_labels(unit: WeightUnit) -> ProgressLabels:
    return ProgressLabels(
        e1rm_title=_("Estimated 1RM of your main lifts"),
        e1rm_axis=_("Estimated 1RM ({unit})").format(unit=_(UNIT_LABELS[unit])),
        volume_title=_("Weekly sets per muscle group"),
        volume_axis=_("Working sets"),
        soreness_title=_("Soreness after training"),
        soreness_axis=_("Soreness (0–10)"),
        no_e1rm=_("No loaded sets of 1–12 reps in the last year yet."),
        no_volume=_("No sets in the last 12 weeks yet."),
        no_soreness=_("Rate your soreness when you finish a session to see it here."),
    )


def record_line(record: ExerciseRecords, user: UserContext, unit: WeightUnit) -> str:
    parts: list[str] = []
    if record.e1rm is not None:
        detail = ""
        if record.e1rm.load_kg is not None and record.e1rm.reps is not None:
            detail = _("{reps} × {load}").format(
                reps=record.e1rm.reps, load=load_text(record.e1rm.load_kg, unit)
            )
        parts.append(
            _("e1RM {load}").format(load=load_text(record.e1rm.value, unit))
            + (
                f" ({detail}, {when(record.e1rm.achieved_at, user, 'd MMM yyyy')})"
                if detail
                else ""
            )
        )
    if record.heaviest is not None:
        parts.append(_("heaviest {load}").format(load=load_text(record.heaviest.value, unit)))
    if record.e1rm is None and record.most_reps is not None:
        count = int(record.most_reps.value)
        parts.append(ngettext("{count} rep", "{count} reps", count).format(count=count))
    body = " · ".join(parts) or "—"
    return f"• <b>{html.escape(record.exercise_name)}</b>: {html.escape(body)}"


def records_text(report: ProgressReport, user: UserContext, unit: WeightUnit) -> str:
    lines = ["🏆 <b>" + html.escape(_("Your personal records")) + "</b>", ""]
    if not report.records:
        lines.append(_("No records yet: log a few sets and they will appear here."))
    lines.extend(record_line(record, user, unit) for record in report.records)
    return "\n".join(lines)


def plates_text(load: PlateLoad) -> str:
    unit = load.unit

    def weight(value: object) -> str:
        return f"{value} {_(UNIT_LABELS[unit])}"

    lines: list[str] = []
    if not load.exact:
        lines.append(
            _(
                "{target} cannot be loaded exactly with standard plates. "
                "Closest: {below} (below) or {above} (above)."
            ).format(
                target=weight(load.target), below=weight(load.achieved), above=weight(load.next_up)
            )
        )
        lines.append("")
    lines.append(
        "<b>"
        + html.escape(
            _("{total} on a {bar} bar").format(total=weight(load.achieved), bar=weight(load.bar))
        )
        + "</b>"
    )
    if not load.counts:
        lines.append(_("Just the empty bar."))
        return "\n".join(lines)
    lines.append(_("Each side:"))
    lines.extend(f"• {weight(plate)} × {count}" for plate, count in load.counts)
    return "\n".join(lines)


def plate_refusal(error: InvalidPlateTarget, unit: WeightUnit) -> str:
    def weight(key: str) -> str:
        return f"{error.params.get(key, '')} {_(UNIT_LABELS[unit])}"

    return _(PLATE_REFUSALS.get(error.rule, PLATE_REFUSALS["format"])).format(
        example="100" if unit is WeightUnit.KG else "225",
        bar=weight("bar"),
        limit=weight("limit"),
    )


def plate_prompt(unit: WeightUnit) -> str:
    return _(
        "Send the load you want on the bar, in {unit} (for example {example}). "
        "I assume a standard {bar} bar."
    ).format(
        unit=_(UNIT_LABELS[unit]),
        example="100" if unit is WeightUnit.KG else "225",
        bar=f"{20 if unit is WeightUnit.KG else 45} {_(UNIT_LABELS[unit])}",
    )


def router() -> Router:
    router = FeatureRouter(name="progress")

    @router.message(Command("progress"))
    async def progress_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        assert message.bot is not None
        report = await progress_report(
            session,
            user.user_id,
            timezone=user.timezone,
            now=current_instant(),
            locale=user.locale,
        )
        if report.empty:
            await message.answer(_(EMPTY_LOG))
            return
        await message.bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_PHOTO)
        unit = user_unit(user)
        pictures = await asyncio.to_thread(progress_charts, report.data, unit, chart_labels(unit))
        names: Sequence[str] = ("e1rm.png", "weekly-volume.png", "soreness.png")
        for picture, name in zip(pictures, names, strict=True):
            await message.answer_photo(BufferedInputFile(picture, filename=name))
        await message.answer(
            records_text(report, user, unit),
            reply_markup=inline([[(_(PLATE_BUTTON), PlateStart())]]),
        )

    @router.callback_query(PlateStart.filter())
    async def plate_start(query: CallbackQuery, state: FSMContext, user: UserContext) -> None:
        await state.set_state(PlateForm.target)
        await query.answer()
        assert isinstance(query.message, Message)
        await query.message.answer(plate_prompt(user_unit(user)) + "\n" + _("Or send /cancel."))

    @router.message(PlateForm.target, F.text, NOT_A_COMMAND)
    async def plate_target(message: Message, state: FSMContext, user: UserContext) -> None:
        unit = user_unit(user)
        try:
            target, unit = parse_target(message.text or "", unit)
            load = plates_for(target, unit)
        except InvalidPlateTarget as error:
            await message.answer(plate_refusal(error, unit) + "\n" + _("Or send /cancel."))
            return
        await state.clear()
        await message.answer(
            plates_text(load), reply_markup=inline([[(_("🏋 Another load"), PlateStart())]])
        )

    @router.message(PlateForm.target, NOT_A_COMMAND)
    async def plate_expected(message: Message) -> None:
        await message.answer(_("Please type a load, for example 100, or send /cancel."))

    return router
