"""/today: the workouts the athlete's program schedules today (their time zone), each with a
Start button that opens a guided session (bot.handlers.workout_session); or why there is
nothing: a rest day (and the next training day), a program not started or finished, no
program at all (then: free logging, or the program library)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.commands import CommandInfo
from bot.handlers.workout_session import StartWorkout
from bot.i18n import N_, _, ngettext
from bot.keyboards import inline
from bot.labels import CHOICE_LABELS
from bot.router_gates import FeatureRouter
from domain.services.reminder_preferences import WEEKDAY_CODES
from domain.services.today import DayKind, TodayView, TodayWorkout, today
from domain.services.users import UserContext

COMMANDS = (CommandInfo("today", N_("today's workout from your program"), order=10),)

# The weekday names of bot/labels.py (already translated there).
WEEKDAYS = tuple(CHOICE_LABELS[code] for code in WEEKDAY_CODES)


class TodayHelp(CallbackData, prefix="tdh"):
    topic: str  # "log" | "programs"


def day_label(day: dt.date, local_date: dt.date) -> str:
    """ "tomorrow", "Friday" within a week, else "Friday 14.03"."""
    if day == local_date + dt.timedelta(days=1):
        return _("tomorrow")
    weekday = _(WEEKDAYS[day.weekday()])
    if (day - local_date).days < 7:
        return weekday
    return f"{weekday} {day:%d.%m}"


def workout_line(workout: TodayWorkout) -> str:
    line = f"• <b>{html.escape(workout.name)}</b>"
    details = [
        ngettext("{count} set", "{count} sets", workout.set_count).format(count=workout.set_count),
        ngettext("{count} exercise", "{count} exercises", workout.exercise_count).format(
            count=workout.exercise_count
        ),
    ]
    if workout.estimated_seconds:
        minutes = max(1, round(workout.estimated_seconds / 60))
        details.append(_("about {minutes} min").format(minutes=minutes))
    line += " — " + ", ".join(details)
    if workout.is_optional:
        line += " " + _("(optional)")
    if workout.done:
        line += " ✅"
    return line


def render(view: TodayView) -> tuple[str, list[Sequence[tuple[str, CallbackData]]]]:
    rows: list[Sequence[tuple[str, CallbackData]]] = []
    if view.kind is DayKind.NO_PROGRAM:
        text = "\n".join(
            [
                "<b>" + _("No program yet") + "</b>",
                _("You can log any training freely, or pick a program to follow."),
            ]
        )
        rows.append([(_("✍️ Log freely"), TodayHelp(topic="log"))])
        rows.append([(_("📚 Browse programs"), TodayHelp(topic="programs"))])
        return text, rows
    title = "<b>" + _("Today") + "</b>"
    if view.kind is DayKind.TRAINING:
        lines = [title]
        lines.extend(workout_line(workout) for workout in view.workouts)
        if view.day_done:
            lines.append("")
            lines.append("✅ " + _("You already trained today. Well done!"))
        for workout in view.workouts:
            label = _("▶ Start {workout}").format(workout=workout.name)
            if workout.done:
                label = _("▶ Again: {workout}").format(workout=workout.name)
            rows.append([(label, StartWorkout(workout=workout.workout_id.hex))])
        return "\n".join(lines), rows
    if view.kind is DayKind.FINISHED:
        lines = [title, "🏁 " + _("Program finished. Congratulations!")]
        lines.append(_("Pick a new program, or keep logging freely."))
        rows.append([(_("📚 Browse programs"), TodayHelp(topic="programs"))])
        rows.append([(_("✍️ Log freely"), TodayHelp(topic="log"))])
        return "\n".join(lines), rows
    if view.kind is DayKind.NOT_STARTED:
        lines = [title, _("Your program has not started yet.")]
    else:
        lines = [title, "😌 " + _("Rest day.")]
    if view.next_training is not None:
        lines.append(
            _("Next training: {day}").format(day=day_label(view.next_training, view.local_date))
        )
    if view.day_done:
        lines.append(_("You trained anyway. Well done!"))
    rows.append([(_("✍️ Log freely"), TodayHelp(topic="log"))])
    return "\n".join(lines), rows


def router() -> Router:
    router = FeatureRouter(name="today")

    @router.message(Command("today"))
    async def show_today(message: Message, session: AsyncSession, user: UserContext) -> None:
        view = await today(
            session,
            user.user_id,
            now=current_instant(),
            timezone=user.timezone,
            locale=user.locale,
        )
        text, rows = render(view)
        await message.answer(text, reply_markup=inline(rows) if rows else None)

    @router.callback_query(TodayHelp.filter())
    async def help_topic(query: CallbackQuery, callback_data: TodayHelp) -> None:
        await query.answer()
        if not isinstance(query.message, Message):
            return
        if callback_data.topic == "programs":
            await query.message.answer(
                _("Send /programs to browse the program library and start one.")
            )
            return
        await query.message.answer(
            "\n".join(
                [
                    _("Just type what you did, one exercise per message, for example:"),
                    "<code>squat 5x5 100</code>",
                    "<code>bench 3x8 @ 60kg rpe 8</code>",
                    "<code>deadlift 140x5, 150x3, 160x1</code>",
                    _("Send /log for more examples."),
                ]
            )
        )

    return router
