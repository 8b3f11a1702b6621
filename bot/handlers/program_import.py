"""A program file sent to the bot (outside any conversation step): .yaml/.yml/.json/.csv up to
256 KB, imported for the sender (docs/program-format.md). The reply is the program (title,
version, weeks, workouts) with a button to open it, or every error with its place and "nothing
was saved". Other files, files too big and refusals get a clear answer."""

from __future__ import annotations

import html
from io import BytesIO

from aiogram import Bot, F, Router
from aiogram.enums import ChatAction
from aiogram.filters import StateFilter
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.coach_callbacks import ProgramOpen
from bot.commands import CommandInfo
from bot.i18n import N_, _, ngettext
from bot.keyboards import inline
from bot.router_gates import FeatureRouter
from domain.errors import Conflict, NotAllowed
from domain.services.program_format import (
    MAX_FILE_BYTES,
    FormatError,
    Location,
    ProgramFileInvalid,
    check_file,
)
from domain.services.program_import import ImportResult, import_program
from domain.services.users import UserContext

COMMANDS: tuple[CommandInfo, ...] = ()  # no command: a file is the request

SHOWN_ERRORS = 15  # a chat message is no place for 200 errors: the first ones, then a count

# The msgid of every error code is the domain's English text (program_format.MESSAGES).
ERROR_MESSAGES: dict[str, str] = {
    "too_large": N_("the file is {size_kb} KB; the limit is {limit_kb} KB"),
    "unsupported_type": N_(
        "unsupported file type {extension}: send a .yaml, .yml, .json or .csv file"
    ),
    "encoding": N_("the file is not UTF-8 text"),
    "empty": N_("the file is empty"),
    "syntax": N_("the file cannot be read here: {detail}"),
    "yaml_alias": N_("YAML anchors and aliases (& and *) are not supported"),
    "duplicate_key": N_("{key} is given twice"),
    "missing": N_("is required"),
    "unknown_field": N_("unknown field {field}"),
    "not_integer": N_("must be a whole number"),
    "not_number": N_("must be a number"),
    "not_text": N_("must be text"),
    "not_bool": N_("must be true or false"),
    "not_list": N_("must be a list"),
    "not_object": N_("must be a set of fields (key: value)"),
    "too_small": N_("must be at least {limit}"),
    "too_big": N_("must be at most {limit}"),
    "text_empty": N_("must not be empty"),
    "text_too_long": N_("must be at most {limit} characters long"),
    "list_too_short": N_("must have at least {limit} item(s)"),
    "list_too_long": N_("must have at most {limit} items"),
    "bad_choice": N_("{value} is not one of: {allowed}"),
    "bad_reps": N_("{value} is not a number of reps (5) or a range (8-12)"),
    "bad_rep_range": N_("the range {value} goes down: write the smaller number first"),
    "bad_load": N_("{value} is not a load: write 100, 100 kg, 225 lb or bw"),
    "bad_rpe": N_("{value} is not an RPE from 1 to 10 (one decimal at most, such as 8.5)"),
    "bad_duration": N_("{value} is not a duration: write seconds (90), 1:30, 90 s or 2 min"),
    "bad_distance": N_("{value} is not a distance: write metres (400), 400 m, 5 km or 3 mi"),
    "bad_tempo": N_("{value} is not a tempo: write four phases such as 3-1-1-0 (seconds, or X)"),
    "bad_days": N_("{value} is not a list of days such as 1 3 5 (6? optional, 1/7 every 7 days)"),
    "no_target": N_("a set needs reps, a duration or a distance"),
    "schedule_length": N_("give the schedule length in days (length_days) or in weeks, not both"),
    "too_many_cells": N_("this row has {count} cells but the header has {limit} columns"),
    "missing_column": N_("the column {column} is missing from the header"),
    "duplicate_workout": N_("the workout {name} is defined twice"),
    "undefined_workout": N_("no workout named {name} is defined"),
    "unused_workout": N_("the workout {name} is never scheduled on a day"),
    "day_out_of_range": N_("day {day} is beyond the schedule ({length} days)"),
    "too_many_slots": N_("{count} scheduled workouts: the limit is {limit}"),
    "unknown_exercise": N_("unknown exercise {name}"),
    "unknown_exercise_suggest": N_("unknown exercise {name}; did you mean {suggestions}?"),
    "ambiguous_exercise": N_(
        "{name} names several exercises ({candidates}): use a more precise name"
    ),
    "needs_institution": N_("visibility {value} is only for a program of an institution"),
    "too_many_errors": N_("more errors follow: fix these first"),
}
NOTHING_SAVED = N_("Nothing was saved. Fix the file and send it again.")
NOT_ALLOWED = N_("You are not allowed to create programs, so nothing was imported.")


def _where(location: Location | None) -> str:
    if location is None:
        return ""
    parts = []
    if location.line is not None:
        parts.append(_("line {line}").format(line=location.line))
    if location.column is not None:
        parts.append(_("column {column}").format(column=location.column))
    elif location.path:
        parts.append(location.path)
    return ", ".join(parts)


def _describe(template: str, params: dict[str, str | int], location: Location | None) -> str:
    try:
        text = _(template).format(**params)
    except (KeyError, IndexError):  # a translation that lost a placeholder: say it in English
        text = template.format(**params)
    where = _where(location)
    return html.escape(f"{where}: {text}" if where else text)


def error_line(error: FormatError) -> str:
    return _describe(ERROR_MESSAGES[error.code], dict(error.params), error.location)


def errors_text(errors: list[FormatError]) -> str:
    shown = errors[:SHOWN_ERRORS]
    lines = [
        ngettext("The file has {count} error:", "The file has {count} errors:", len(errors)).format(
            count=len(errors)
        ),
        *(f"• {error_line(error)}" for error in shown),
    ]
    if len(errors) > len(shown):
        lines.append(_("… and {count} more.").format(count=len(errors) - len(shown)))
    lines.extend(["", _(NOTHING_SAVED)])
    return "\n".join(lines)


def success_text(result: ImportResult) -> str:
    heading = (
        _("✅ Program <b>{title}</b> imported (version {version}).")
        if result.created
        else _("✅ Program <b>{title}</b> updated: version {version} published.")
    ).format(title=html.escape(result.title), version=result.version_number)
    lines = [
        heading,
        _("Weeks: {weeks} ({days} days)").format(weeks=result.weeks, days=result.length_days),
        _("Workouts: {workouts}").format(workouts=result.workouts),
        _("Scheduled sessions: {sessions}").format(sessions=result.sessions),
    ]
    if not result.created:
        lines.append(_("Athletes already on this program keep their version until you move them."))
    return "\n".join(lines)


def router() -> Router:
    router = FeatureRouter(name="program_import")

    @router.message(StateFilter(None), F.document)
    async def program_file(
        message: Message, bot: Bot, session: AsyncSession, user: UserContext
    ) -> None:
        document = message.document
        if document is None:  # the filter said there is one
            return
        name = document.file_name or ""
        refused = check_file(b"", name)
        if refused is None and (document.file_size or 0) > MAX_FILE_BYTES:
            refused = FormatError(
                "too_large",
                {
                    "size_kb": -(-(document.file_size or 0) // 1024),
                    "limit_kb": MAX_FILE_BYTES // 1024,
                },
            )
        if refused is not None:
            await message.answer(
                _("I cannot import this file: {reason}").format(reason=error_line(refused))
            )
            return
        await bot.send_chat_action(message.chat.id, ChatAction.TYPING)
        buffer = BytesIO()
        await bot.download(document, destination=buffer)
        try:
            result = await import_program(
                session,
                owner_id=user.user_id,
                institution_id=None,
                source=buffer.getvalue(),
                filename=name,
                now=current_instant(),
                locale=user.locale,
            )
        except ProgramFileInvalid as invalid:
            await message.answer(errors_text(invalid.errors))
            return
        except NotAllowed:
            # The refusal was recorded (security event) in this update's transaction.
            await message.answer(_(NOT_ALLOWED))
            return
        except Conflict:
            await message.answer(
                _(
                    "A program with this title already exists in another library. "
                    "Change the title and send the file again."
                )
            )
            return
        await message.answer(
            success_text(result),
            reply_markup=inline(
                [[(_("📖 Open the program"), ProgramOpen(program_id=result.program_id))]]
            ),
        )

    return router
