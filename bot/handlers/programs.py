"""/programs: the library of programs I may read (mine, my institutions', public), paged, with
a title search and tag / goal / difficulty filters; a program's weeks → days → workouts; a
workout's sets with its estimated duration; Share and Assign buttons (handled by the sharing
and clients routers); attaching a photo or video to a workout or one of its exercises; and the
chat builder (a new workout from typed exercises and prescriptions, put on day N of a program).

The library's filter and the builder's draft live in the FSM data (keys ``pl_`` and ``pb_``);
every id from a button or from that memory is re-checked by the services."""

from __future__ import annotations

import html
import uuid
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import now as current_instant
from bot.coach_callbacks import AssignPick, ProgramOpen, ShareNew
from bot.commands import CommandInfo
from bot.i18n import N_, _, ngettext
from bot.keyboards import NOT_A_COMMAND, chunks, inline, screen_message
from bot.router_gates import FeatureRouter
from bot.units import clock_text, distance_text, load_text, user_unit
from domain.access import AccessCache
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.services import program_builder as builder
from domain.services.exercise_search import match_exercise, usable_exercise
from domain.services.media import MediaKind, UploadedFile, attach_media, attach_target
from domain.services.program_builder import BuiltItem, InvalidBuild, NewProgram, Prescription
from domain.services.program_library import (
    PAGE_SIZE,
    FacetKind,
    LibraryFilter,
    LibraryPage,
    LibraryScope,
    SetLine,
    WeekView,
    WorkoutDetail,
    clean_search,
    facet_choices,
    library_page,
    program_week,
    workout_detail,
)
from domain.services.strength import WeightUnit
from domain.services.tempo import tempo_text
from domain.services.users import UserContext, role_codes

COMMANDS = (CommandInfo("programs", N_("the program library and the workout builder"), order=30),)

# Roles that may assign a program to a client (the clients router re-checks the relation).
ASSIGNING_ROLES = frozenset({"COACH", "PHYSIOTHERAPIST", "ADMIN"})

SCOPE_LABELS = {
    LibraryScope.MINE: N_("Mine"),
    LibraryScope.INSTITUTION: N_("Institution"),
    LibraryScope.PUBLIC: N_("Public"),
    LibraryScope.ALL: N_("All"),
}
FACET_LABELS = {
    FacetKind.TAG: N_("🏷 Tag"),
    FacetKind.CATEGORY: N_("🎯 Goal"),
    FacetKind.DIFFICULTY: N_("📶 Difficulty"),
}
PROBLEMS = {
    "name": N_("Please send a name of 1 to 50 characters."),
    "name_taken": N_("You already have a workout with that name. Please choose another."),
    "title": N_("Please send a title of 1 to 60 characters."),
    "title_taken": N_("You already have a program with that title. Please choose another."),
    "format": N_(
        "I could not read that. Write sets × reps, then the load and the rest,"
        " for example 4x8 60kg rest 90 (or 3x8-12 @ 40 rpe 8, 3x45s rest 30, 5x5 bw)."
    ),
    "sets": N_("The number of sets must be between 1 and 20."),
    "reps": N_("The number of reps must be between 1 and 100."),
    "range": N_("A rep range goes from the lower to the higher number, for example 8-12."),
    "load": N_("The load must be between 0 and 1000 kg."),
    "rpe": N_("RPE goes from 1 to 10, in half steps."),
    "rest": N_("The rest must be between 0 and 30 minutes."),
    "duration": N_("A timed set lasts between 1 second and 2 hours."),
    "tempo": N_(
        "A tempo has 2 to 4 phases, each 0 to 60 seconds or X (as fast as possible),"
        " for example tempo 3-1-X-0."
    ),
    "length": N_("Please send a length in days (1 to 3660) or weeks, for example 28 or 4w."),
    "day": N_("Please send a day number, for example 3."),
    "empty": N_("Add at least one exercise first."),
    "too_many": N_("A workout built here holds at most 30 exercises."),
    "exercise_unknown": N_("I do not know that exercise. Try another name."),
    "program": N_("That program cannot take workouts. Please choose another."),
    "search_empty": N_("Please type a few letters of the title."),
    "search_long": N_("Please type at most 60 characters."),
}
EXPIRED = N_("That step has expired. Send /programs to start again.")
REFUSED_PROGRAM = N_("You cannot open this program: it is not shared with you.")
REFUSED_WORKOUT = N_("You cannot open this workout: it is not shared with you.")
REFUSED_CHANGE = N_("You cannot change this: only its owner or an editor can.")
GONE = N_("I could not find that: it may have been removed.")


class Library(StatesGroup):
    search = State()


class Builder(StatesGroup):
    name = State()
    exercise = State()
    prescription = State()
    program = State()
    program_title = State()
    program_length = State()
    day = State()


class MediaForm(StatesGroup):
    waiting = State()


class LibPage(CallbackData, prefix="pgp"):
    p: int


class LibScope(CallbackData, prefix="pgs"):
    s: str


class LibFacets(CallbackData, prefix="pgf"):
    k: str


class LibFacet(CallbackData, prefix="pgc"):
    k: str
    c: str


class LibSearch(CallbackData, prefix="pgq"):
    pass


class LibClear(CallbackData, prefix="pgx"):
    pass


class ProgramWeek(CallbackData, prefix="pgk"):
    p: str  # program id, 32 hex digits
    w: int


class SlotOpen(CallbackData, prefix="pgw"):
    s: str  # schedule_workout id


class WorkoutOpen(CallbackData, prefix="pww"):
    w: str  # workout id


class AttachMenu(CallbackData, prefix="pma"):
    w: str  # workout id


class AttachWorkout(CallbackData, prefix="pmw"):
    w: str


class AttachExercise(CallbackData, prefix="pmx"):
    i: str  # exercise_instruction id


class BuildNew(CallbackData, prefix="pbn"):
    pass


class BuildPick(CallbackData, prefix="pbe"):
    e: str  # exercise id


class BuildDone(CallbackData, prefix="pbd"):
    pass


class BuildProgram(CallbackData, prefix="pbp"):
    p: str


class BuildNewProgram(CallbackData, prefix="pbq"):
    pass


def _uuid(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=str(raw))
    except ValueError:
        return None


async def opened(query: CallbackQuery, raw: str) -> uuid.UUID | None:
    """Acknowledge the button and read its id; a tampered id gets the "gone" answer."""
    await query.answer()
    found = _uuid(raw)
    if found is None:
        await screen_message(query).answer(_(GONE))
    return found


def problem_text(problem: str) -> str:
    return _(PROBLEMS.get(problem, N_("That does not look right. Please check it.")))


def cache() -> AccessCache:
    return AccessCache(now=current_instant())


# --------------------------------------------------------------------------------------------
# The filter in the FSM data
# --------------------------------------------------------------------------------------------


async def load_filter(state: FSMContext) -> LibraryFilter:
    data = (await state.get_data()).get("pl_f") or {}
    try:
        scope = LibraryScope(data.get("s", LibraryScope.ALL.value))
        facet = FacetKind(data["k"]) if data.get("k") else None
    except ValueError:
        return LibraryFilter()
    return LibraryFilter(scope, data.get("q") or None, facet, data.get("c") or None)


async def save_filter(state: FSMContext, wanted: LibraryFilter) -> None:
    await state.update_data(
        pl_f={
            "s": wanted.scope.value,
            "q": wanted.text,
            "k": wanted.facet.value if wanted.facet else None,
            "c": wanted.facet_code,
        }
    )


async def forget(state: FSMContext, prefix: str) -> None:
    data = await state.get_data()
    await state.set_data({key: value for key, value in data.items() if not key.startswith(prefix)})


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def minutes_text(seconds: int | None) -> str | None:
    if not seconds:
        return None
    return _("about {minutes} min").format(minutes=max(1, round(seconds / 60)))


def library_screen(
    page: LibraryPage, wanted: LibraryFilter, facet_label: str | None
) -> tuple[str, InlineKeyboardMarkup]:
    lines = ["📚 <b>" + _("Programs") + "</b> · " + _(SCOPE_LABELS[wanted.scope])]
    if wanted.text:
        lines.append(_("Search: “{text}”").format(text=html.escape(wanted.text)))
    if facet_label:
        lines.append(_("Filter: {label}").format(label=html.escape(facet_label)))
    if not page.rows:
        lines.append(_("No program matches."))
    for number, row in enumerate(page.rows, start=page.page * PAGE_SIZE + 1):
        details = [row.difficulty]
        if row.weeks:
            details.append(
                ngettext("{count} week", "{count} weeks", row.weeks).format(count=row.weeks)
            )
        mark = " ✎" if row.mine else ""
        lines.append(f"{number}. <b>{html.escape(row.title)}</b>{mark} — " + ", ".join(details))
    rows: list[list[tuple[str, CallbackData]]] = [
        [(f"{number}. {row.title[:40]}", ProgramOpen(program_id=row.id))]
        for number, row in enumerate(page.rows, start=page.page * PAGE_SIZE + 1)
    ]
    paging: list[tuple[str, CallbackData]] = []
    if page.page > 0:
        paging.append((_("◀ Previous"), LibPage(p=page.page - 1)))
    if page.has_more:
        paging.append((_("Next ▶"), LibPage(p=page.page + 1)))
    if paging:
        rows.append(paging)
    rows.append(
        [
            (("✓ " if scope is wanted.scope else "") + _(label), LibScope(s=scope.value))
            for scope, label in SCOPE_LABELS.items()
        ]
    )
    rows.append(
        [(_("🔎 Search"), LibSearch())]
        + [(_(label), LibFacets(k=kind.value)) for kind, label in FACET_LABELS.items()]
    )
    if wanted.text or wanted.facet:
        rows.append([(_("✖ Clear filters"), LibClear())])
    rows.append([(_("➕ New workout"), BuildNew())])
    return "\n".join(lines), inline(rows)


def reps_text(line: SetLine) -> str:
    if line.duration_seconds is not None:
        return clock_text(line.duration_seconds)
    if line.distance_m is not None:
        return distance_text(line.distance_m)
    if line.reps is None:
        return "—"
    if line.reps_max is not None:
        return f"{line.reps}–{line.reps_max}"
    return str(line.reps)


def set_line_text(line: SetLine, unit: WeightUnit) -> str:
    exercises = " + ".join(html.escape(name) for name in line.exercises)
    parts = [f"{line.sets_count} × {reps_text(line)}"]
    if line.load_kg is not None and line.load_kg > 0:
        parts[0] += " @ " + load_text(line.load_kg, unit)
    if line.rpe is not None:
        parts.append(_("RPE {value}").format(value=f"{line.rpe.normalize():f}"))
    if line.tempo:
        parts.append(_("tempo {tempo}").format(tempo=line.tempo))
    parts.append(_("rest {duration}").format(duration=clock_text(line.rest_seconds)))
    return f"{line.order + 1}. <b>{exercises}</b> — " + " · ".join(parts)


def workout_screen(
    detail: WorkoutDetail, unit: WeightUnit, slot_back: tuple[uuid.UUID, int] | None
) -> tuple[str, InlineKeyboardMarkup]:
    lines = ["🏋️ <b>" + html.escape(detail.name) + "</b>"]
    duration = minutes_text(detail.estimated_seconds)
    if duration:
        lines.append("⏱ " + duration)
    if detail.notes:
        lines.append(html.escape(detail.notes))
    lines.append("")
    if not detail.sets:
        lines.append(_("This workout has no sets yet."))
    lines.extend(set_line_text(line, unit) for line in detail.sets)
    rows: list[list[tuple[str, CallbackData]]] = []
    actions: list[tuple[str, CallbackData]] = []
    if detail.can_share:
        actions.append((_("🔗 Share"), ShareNew(kind="w", target_id=detail.id)))
    if detail.can_update:
        actions.append((_("📎 Attach media"), AttachMenu(w=detail.id.hex)))
    if actions:
        rows.append(actions)
    if slot_back is not None:
        program_id, week = slot_back
        rows.append([(_("⬅️ Program"), ProgramWeek(p=program_id.hex, w=week))])
    else:
        rows.append([(_("⬅️ Library"), LibPage(p=0))])
    return "\n".join(lines), inline(rows)


def week_screen(view: WeekView, can_assign: bool) -> tuple[str, InlineKeyboardMarkup]:
    program = view.program
    lines = ["📘 <b>" + html.escape(program.title) + "</b>"]
    details = [program.difficulty]
    if program.weeks:
        details.append(
            ngettext("{count} week", "{count} weeks", program.weeks).format(count=program.weeks)
        )
    lines.append(" · ".join(details))
    if program.description:
        lines.append(html.escape(program.description))
    lines.append("")
    rows: list[list[tuple[str, CallbackData]]] = []
    if not view.days:
        lines.append(_("This program schedules no workout yet."))
    else:
        lines.append(
            "<b>"
            + _("Week {week} of {weeks}").format(week=view.week + 1, weeks=program.week_count)
            + "</b>"
        )
    for day in view.days:
        label = _("Day {number}").format(number=day.day_number + 1)
        if day.is_rest:
            lines.append(f"{label}: " + _("rest"))
            continue
        entries = []
        for slot in day.slots:
            entry = html.escape(slot.name)
            duration = minutes_text(slot.estimated_seconds)
            if duration:
                entry += f" ({duration})"
            if slot.is_optional:
                entry += " " + _("(optional)")
            entries.append(entry)
            rows.append(
                [(f"{day.day_number + 1} · {slot.name[:40]}", SlotOpen(s=slot.slot_id.hex))]
            )
        lines.append(f"{label}: " + "; ".join(entries))
    nav: list[tuple[str, CallbackData]] = []
    if view.week > 0:
        nav.append(
            (
                _("◀ Week {week}").format(week=view.week),
                ProgramWeek(p=program.id.hex, w=view.week - 1),
            )
        )
    if view.week + 1 < program.week_count:
        nav.append(
            (
                _("Week {week} ▶").format(week=view.week + 2),
                ProgramWeek(p=program.id.hex, w=view.week + 1),
            )
        )
    if nav:
        rows.append(nav)
    actions: list[tuple[str, CallbackData]] = []
    if program.can_share:
        actions.append((_("🔗 Share"), ShareNew(kind="p", target_id=program.id)))
    if can_assign:
        actions.append((_("👥 Assign to a client"), AssignPick(program_id=program.id)))
    if actions:
        rows.append(actions)
    rows.append([(_("⬅️ Library"), LibPage(p=0))])
    return "\n".join(lines), inline(rows)


def prescription_text(name: str, plan: Prescription, unit: WeightUnit) -> str:
    if plan.duration_seconds is not None:
        amount = clock_text(plan.duration_seconds)
    elif plan.reps_max is not None:
        amount = f"{plan.reps}–{plan.reps_max}"
    else:
        amount = str(plan.reps)
    text = f"<b>{html.escape(name)}</b> {plan.sets} × {amount}"
    if plan.load_kg is not None:
        text += " @ " + load_text(plan.load_kg, unit)
    if plan.rpe is not None:
        text += " · " + _("RPE {value}").format(value=f"{plan.rpe.normalize():f}")
    if plan.tempo:
        text += " · " + _("tempo {tempo}").format(tempo=tempo_text(plan.tempo))
    text += " · " + _("rest {duration}").format(duration=clock_text(plan.rest_seconds))
    return text


EXAMPLE = N_(
    "Sets × reps, load and rest, for example 4x8 60kg rest 90"
    " (or 3x8-12 @ 40 rpe 8, 3x45s rest 30, 5x5 bw, 5x5 100 tempo 3-1-X-0)."
)


# --------------------------------------------------------------------------------------------
# The router
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="programs")

    async def show_library(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        state: FSMContext,
        *,
        page: int = 0,
        edit: bool,
    ) -> None:
        wanted = await load_filter(state)
        found = await library_page(
            session, user.user_id, wanted, page=page, locale=user.locale, cache=cache()
        )
        label = None
        if wanted.facet is not None and wanted.facet_code:
            choices = await facet_choices(session, wanted.facet, locale=user.locale)
            label = next((c.label for c in choices if c.code == wanted.facet_code), None)
        text, keyboard = library_screen(found, wanted, label)
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    async def show_week(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        program_id: uuid.UUID,
        week: int,
        *,
        edit: bool,
    ) -> bool:
        try:
            view = await program_week(
                session, user.user_id, program_id, week, locale=user.locale, cache=cache()
            )
        except NotAllowed:
            await message.answer(_(REFUSED_PROGRAM))
            return False
        except NotFound:
            await message.answer(_(GONE))
            return False
        roles = await role_codes(session, user.user_id)
        text, keyboard = week_screen(view, not ASSIGNING_ROLES.isdisjoint(roles))
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)
        return True

    async def show_workout(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        *,
        workout_id: uuid.UUID | None = None,
        slot_id: uuid.UUID | None = None,
        edit: bool,
    ) -> None:
        try:
            detail = await workout_detail(
                session,
                user.user_id,
                workout_id=workout_id,
                slot_id=slot_id,
                locale=user.locale,
                cache=cache(),
            )
        except NotAllowed:
            await message.answer(_(REFUSED_WORKOUT))
            return
        except NotFound:
            await message.answer(_(GONE))
            return
        back = (detail.program_id, 0) if detail.program_id is not None else None
        text, keyboard = workout_screen(detail, user_unit(user), back)
        if edit:
            await message.edit_text(text, reply_markup=keyboard)
        else:
            await message.answer(text, reply_markup=keyboard)

    # --- library -------------------------------------------------------------------------------

    @router.message(Command("programs"))
    async def programs_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.set_state(None)
        await forget(state, "pb_")
        await show_library(message, session, user, state, edit=False)

    @router.callback_query(LibPage.filter())
    async def library_paged(
        query: CallbackQuery,
        callback_data: LibPage,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        await query.answer()
        await show_library(
            screen_message(query), session, user, state, page=max(0, callback_data.p), edit=True
        )

    @router.callback_query(LibScope.filter())
    async def library_scope(
        query: CallbackQuery,
        callback_data: LibScope,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        try:
            scope = LibraryScope(callback_data.s)
        except ValueError:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        wanted = await load_filter(state)
        await save_filter(state, LibraryFilter(scope, wanted.text, wanted.facet, wanted.facet_code))
        await query.answer()
        await show_library(screen_message(query), session, user, state, edit=True)

    @router.callback_query(LibFacets.filter())
    async def library_facets(
        query: CallbackQuery, callback_data: LibFacets, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            kind = FacetKind(callback_data.k)
        except ValueError:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        choices = await facet_choices(session, kind, locale=user.locale)
        buttons: list[tuple[str, CallbackData]] = []
        for choice in choices:
            data = LibFacet(k=kind.value, c=choice.code)
            if len(data.pack()) <= 64:
                buttons.append((choice.label[:40], data))
        rows = [list(row) for row in chunks(buttons, 2)]
        rows.append([(_("⬅️ Library"), LibPage(p=0))])
        await query.answer()
        await screen_message(query).edit_text(_("Show programs with:"), reply_markup=inline(rows))

    @router.callback_query(LibFacet.filter())
    async def library_facet(
        query: CallbackQuery,
        callback_data: LibFacet,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        try:
            kind = FacetKind(callback_data.k)
        except ValueError:
            await query.answer(_("That is not one of the choices."), show_alert=True)
            return
        wanted = await load_filter(state)
        await save_filter(state, LibraryFilter(wanted.scope, wanted.text, kind, callback_data.c))
        await query.answer()
        await show_library(screen_message(query), session, user, state, edit=True)

    @router.callback_query(LibClear.filter())
    async def library_clear(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        wanted = await load_filter(state)
        await save_filter(state, LibraryFilter(wanted.scope))
        await query.answer()
        await show_library(screen_message(query), session, user, state, edit=True)

    @router.callback_query(LibSearch.filter())
    async def library_search(query: CallbackQuery, state: FSMContext) -> None:
        await state.set_state(Library.search)
        await query.answer()
        await screen_message(query).answer(
            _("Type a few letters of the program's title.") + "\n" + _("Or send /cancel to stop.")
        )

    @router.message(Library.search, F.text, NOT_A_COMMAND)
    async def library_search_text(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            text = clean_search(message.text or "")
        except InvalidInput as error:
            await message.answer(problem_text(str(error.params.get("problem", ""))))
            return
        wanted = await load_filter(state)
        await save_filter(state, LibraryFilter(wanted.scope, text, wanted.facet, wanted.facet_code))
        await state.set_state(None)
        await show_library(message, session, user, state, edit=False)

    # --- program and workout views -------------------------------------------------------------

    @router.callback_query(ProgramOpen.filter())
    async def program_open(
        query: CallbackQuery, callback_data: ProgramOpen, session: AsyncSession, user: UserContext
    ) -> None:
        await query.answer()
        await show_week(
            screen_message(query), session, user, callback_data.program_id, 0, edit=False
        )

    @router.callback_query(ProgramWeek.filter())
    async def program_week_nav(
        query: CallbackQuery, callback_data: ProgramWeek, session: AsyncSession, user: UserContext
    ) -> None:
        program_id = await opened(query, callback_data.p)
        if program_id is None:
            return
        await show_week(
            screen_message(query), session, user, program_id, callback_data.w, edit=True
        )

    @router.callback_query(SlotOpen.filter())
    async def slot_open(
        query: CallbackQuery, callback_data: SlotOpen, session: AsyncSession, user: UserContext
    ) -> None:
        slot_id = await opened(query, callback_data.s)
        if slot_id is None:
            return
        await show_workout(screen_message(query), session, user, slot_id=slot_id, edit=False)

    @router.callback_query(WorkoutOpen.filter())
    async def workout_open(
        query: CallbackQuery, callback_data: WorkoutOpen, session: AsyncSession, user: UserContext
    ) -> None:
        workout_id = await opened(query, callback_data.w)
        if workout_id is None:
            return
        await show_workout(screen_message(query), session, user, workout_id=workout_id, edit=False)

    # --- media ---------------------------------------------------------------------------------

    @router.callback_query(AttachMenu.filter())
    async def attach_menu(
        query: CallbackQuery, callback_data: AttachMenu, session: AsyncSession, user: UserContext
    ) -> None:
        workout_id = await opened(query, callback_data.w)
        if workout_id is None:
            return
        try:
            target = await attach_target(session, user.user_id, workout_id=workout_id)
            detail = await workout_detail(
                session, user.user_id, workout_id=workout_id, locale=user.locale, cache=cache()
            )
        except NotAllowed:
            await screen_message(query).answer(_(REFUSED_CHANGE))
            return
        except NotFound:
            await screen_message(query).answer(_(GONE))
            return
        rows: list[list[tuple[str, CallbackData]]] = [
            [(_("🏋️ The whole workout"), AttachWorkout(w=workout_id.hex))]
        ]
        for line in detail.sets:
            for instruction_id, name in zip(line.instruction_ids, line.exercises, strict=True):
                rows.append(
                    [(f"{line.order + 1}. {name[:40]}", AttachExercise(i=instruction_id.hex))]
                )
        rows.append([(_("⬅️ Back"), WorkoutOpen(w=workout_id.hex))])
        await screen_message(query).answer(
            _(
                "Attach a photo or a video to {name}: to the whole workout, or to one exercise?"
            ).format(name=f"<b>{html.escape(target.workout_name)}</b>"),
            reply_markup=inline(rows),
        )

    async def ask_for_media(
        query: CallbackQuery,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        *,
        workout_id: uuid.UUID | None = None,
        instruction_id: uuid.UUID | None = None,
    ) -> None:
        await query.answer()
        try:
            target = await attach_target(
                session,
                user.user_id,
                workout_id=workout_id,
                instruction_id=instruction_id,
                locale=user.locale,
            )
        except NotAllowed:
            await screen_message(query).answer(_(REFUSED_CHANGE))
            return
        except NotFound:
            await screen_message(query).answer(_(GONE))
            return
        await state.set_state(MediaForm.waiting)
        await state.update_data(
            pm_w=workout_id.hex if workout_id else None,
            pm_i=instruction_id.hex if instruction_id else None,
        )
        name = target.exercise_name or target.workout_name
        await screen_message(query).answer(
            _("Send me a photo or a video for {name}.").format(name=f"<b>{html.escape(name)}</b>")
            + "\n"
            + _("Or send /cancel to stop.")
        )

    @router.callback_query(AttachWorkout.filter())
    async def attach_workout(
        query: CallbackQuery,
        callback_data: AttachWorkout,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        workout_id = _uuid(callback_data.w)
        if workout_id is None:
            await query.answer(_(GONE), show_alert=True)
            return
        await ask_for_media(query, state, session, user, workout_id=workout_id)

    @router.callback_query(AttachExercise.filter())
    async def attach_exercise(
        query: CallbackQuery,
        callback_data: AttachExercise,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        instruction_id = _uuid(callback_data.i)
        if instruction_id is None:
            await query.answer(_(GONE), show_alert=True)
            return
        await ask_for_media(query, state, session, user, instruction_id=instruction_id)

    @router.message(MediaForm.waiting, F.photo | F.video)
    async def media_received(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        workout_id, instruction_id = _uuid(data.get("pm_w")), _uuid(data.get("pm_i"))
        if workout_id is None and instruction_id is None:
            await state.set_state(None)
            await message.answer(_(EXPIRED))
            return
        if message.photo:
            photo = message.photo[-1]
            upload = UploadedFile(
                MediaKind.IMAGE,
                photo.file_id,
                photo.file_unique_id,
                "image/jpeg",
                photo.file_size,
            )
        else:
            assert message.video is not None
            video = message.video
            upload = UploadedFile(
                MediaKind.VIDEO,
                video.file_id,
                video.file_unique_id,
                video.mime_type,
                video.file_size,
                video.file_name,
            )
        try:
            _media_id, target = await attach_media(
                session,
                user.user_id,
                upload,
                workout_id=workout_id,
                instruction_id=instruction_id,
                locale=user.locale,
            )
        except NotAllowed:
            await state.set_state(None)
            await forget(state, "pm_")
            await message.answer(_(REFUSED_CHANGE))
            return
        except NotFound:
            await state.set_state(None)
            await forget(state, "pm_")
            await message.answer(_(GONE))
            return
        await state.set_state(None)
        await forget(state, "pm_")
        name = target.exercise_name or target.workout_name
        await message.answer(
            _("Attached to {name}. Athletes see it when that set comes up.").format(
                name=f"<b>{html.escape(name)}</b>"
            ),
            reply_markup=inline([[(_("⬅️ Workout"), WorkoutOpen(w=target.workout_id.hex))]]),
        )

    @router.message(MediaForm.waiting, NOT_A_COMMAND)
    async def media_expected(message: Message) -> None:
        await message.answer(_("Please send a photo or a video, or /cancel to stop."))

    # --- the builder ---------------------------------------------------------------------------

    @router.callback_query(BuildNew.filter())
    async def build_new(query: CallbackQuery, state: FSMContext) -> None:
        await forget(state, "pb_")
        await state.set_state(Builder.name)
        await query.answer()
        await screen_message(query).answer(
            _("Name the new workout, for example “Legs A”.") + "\n" + _("Or send /cancel to stop.")
        )

    @router.message(Builder.name, F.text, NOT_A_COMMAND)
    async def build_name(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            name = await builder.check_workout_name(session, user.user_id, message.text or "")
        except InvalidBuild as error:
            await message.answer(problem_text(error.problem))
            return
        await state.update_data(pb_name=name, pb_items=[])
        await state.set_state(Builder.exercise)
        await message.answer(_("First exercise? Type its name, for example back squat."))

    async def chose_exercise(
        message: Message,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
        exercise_id: uuid.UUID,
    ) -> None:
        found = await usable_exercise(session, user.user_id, exercise_id, locale=user.locale)
        if found is None:
            await message.answer(problem_text("exercise_unknown"))
            return
        await state.update_data(pb_ex=found.id.hex, pb_exn=found.name)
        await state.set_state(Builder.prescription)
        await message.answer(f"<b>{html.escape(found.name)}</b>: " + _(EXAMPLE))

    @router.message(Builder.exercise, F.text, NOT_A_COMMAND)
    async def build_exercise(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        match = await match_exercise(session, user.user_id, message.text or "", locale=user.locale)
        if match.chosen is not None:
            await chose_exercise(message, state, session, user, match.chosen.id)
            return
        if not match.candidates:
            await message.answer(problem_text("exercise_unknown"))
            return
        await message.answer(
            _("Which one?"),
            reply_markup=inline(
                [[(choice.name, BuildPick(e=choice.id.hex))] for choice in match.candidates]
            ),
        )

    @router.callback_query(BuildPick.filter())
    async def build_pick(
        query: CallbackQuery,
        callback_data: BuildPick,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        exercise_id = _uuid(callback_data.e)
        if await state.get_state() != Builder.exercise.state or exercise_id is None:
            await query.answer(_(EXPIRED), show_alert=True)
            return
        await query.answer()
        await chose_exercise(screen_message(query), state, session, user, exercise_id)

    @router.message(Builder.prescription, F.text, NOT_A_COMMAND)
    async def build_prescription(message: Message, state: FSMContext, user: UserContext) -> None:
        data = await state.get_data()
        if not data.get("pb_ex"):
            await state.set_state(None)
            await message.answer(_(EXPIRED))
            return
        try:
            plan = builder.parse_prescription(message.text or "", unit=user_unit(user))
        except InvalidBuild as error:
            await message.answer(problem_text(error.problem))
            return
        items = list(data.get("pb_items") or [])
        if len(items) >= builder.MAX_ITEMS:
            await message.answer(problem_text("too_many"))
            return
        items.append(
            {"x": data["pb_ex"], "n": data.get("pb_exn", ""), **builder.prescription_to_data(plan)}
        )
        await state.update_data(pb_items=items, pb_ex=None, pb_exn=None)
        await state.set_state(Builder.exercise)
        await message.answer(
            _("Added: {set}.").format(
                set=prescription_text(str(data.get("pb_exn", "")), plan, user_unit(user))
            )
            + "\n\n"
            + _("Next exercise? Type its name, or tap Done.")
            + "\n"
            + ngettext("{count} exercise so far.", "{count} exercises so far.", len(items)).format(
                count=len(items)
            ),
            reply_markup=inline([[(_("✅ Done"), BuildDone())]]),
        )

    async def choose_program(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        choices = await builder.writable_programs(session, user.user_id, cache=cache())
        rows: list[list[tuple[str, CallbackData]]] = [
            [(choice.title[:40], BuildProgram(p=choice.id.hex))] for choice in choices
        ]
        rows.append([(_("➕ New program"), BuildNewProgram())])
        await state.set_state(Builder.program)
        data = await state.get_data()
        await message.answer(
            _("Put “{name}” in which program?").format(name=html.escape(str(data.get("pb_name")))),
            reply_markup=inline(rows),
        )

    @router.callback_query(BuildDone.filter())
    async def build_done(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        if not data.get("pb_name"):
            await query.answer(_(EXPIRED), show_alert=True)
            return
        if not data.get("pb_items"):
            await query.answer(problem_text("empty"), show_alert=True)
            return
        await query.answer()
        await choose_program(screen_message(query), state, session, user)

    @router.callback_query(BuildProgram.filter())
    async def build_program(
        query: CallbackQuery,
        callback_data: BuildProgram,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        program_id = _uuid(callback_data.p)
        if await state.get_state() != Builder.program.state or program_id is None:
            await query.answer(_(EXPIRED), show_alert=True)
            return
        await query.answer()
        try:
            choice = await builder.program_for_building(session, user.user_id, program_id)
        except NotAllowed:
            await screen_message(query).answer(_(REFUSED_CHANGE))
            return
        if choice.length_days < 1:
            await screen_message(query).answer(problem_text("program"))
            return
        await state.update_data(pb_prog=program_id.hex, pb_len=choice.length_days, pb_new=None)
        await state.set_state(Builder.day)
        await screen_message(query).answer(
            _("Which day of “{title}”? Send a number from 1 to {last}.").format(
                title=html.escape(choice.title), last=choice.length_days
            )
        )

    @router.callback_query(BuildNewProgram.filter())
    async def build_new_program(query: CallbackQuery, state: FSMContext) -> None:
        if await state.get_state() != Builder.program.state:
            await query.answer(_(EXPIRED), show_alert=True)
            return
        await state.set_state(Builder.program_title)
        await query.answer()
        await screen_message(query).answer(_("Title of the new program?"))

    @router.message(Builder.program_title, F.text, NOT_A_COMMAND)
    async def build_program_title(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            title = await builder.check_program_title(session, user.user_id, message.text or "")
        except InvalidBuild as error:
            await message.answer(problem_text(error.problem))
            return
        await state.update_data(pb_new=title, pb_prog=None)
        await state.set_state(Builder.program_length)
        await message.answer(_("How long is it? Send a number of days (28) or weeks (4w)."))

    @router.message(Builder.program_length, F.text, NOT_A_COMMAND)
    async def build_program_length(message: Message, state: FSMContext) -> None:
        try:
            length = builder.parse_length(message.text or "")
        except InvalidBuild as error:
            await message.answer(problem_text(error.problem))
            return
        data = await state.get_data()
        await state.update_data(pb_len=length)
        await state.set_state(Builder.day)
        await message.answer(
            _("Which day of “{title}”? Send a number from 1 to {last}.").format(
                title=html.escape(str(data.get("pb_new"))), last=length
            )
        )

    @router.message(Builder.day, F.text, NOT_A_COMMAND)
    async def build_day(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        data = await state.get_data()
        length = int(data.get("pb_len") or 0)
        try:
            day = builder.parse_day(message.text or "", length)
        except InvalidBuild as error:
            if error.problem == "day_range":
                await message.answer(
                    _("That day is outside the program: send a number from 1 to {last}.").format(
                        last=length
                    )
                )
            else:
                await message.answer(problem_text(error.problem))
            return
        try:
            items = [
                BuiltItem(uuid.UUID(hex=str(item["x"])), builder.prescription_from_data(item))
                for item in data.get("pb_items") or []
            ]
        except (KeyError, ValueError):
            await state.set_state(None)
            await forget(state, "pb_")
            await message.answer(_(EXPIRED))
            return
        program_id = _uuid(data.get("pb_prog"))
        new_program = (
            NewProgram(str(data["pb_new"]), length)
            if program_id is None and data.get("pb_new")
            else None
        )
        try:
            saved = await builder.save_workout(
                session,
                user.user_id,
                name=str(data.get("pb_name") or ""),
                items=items,
                day_number=day,
                program_id=program_id,
                new_program=new_program,
                now=current_instant(),
                locale=user.locale,
            )
        except InvalidBuild as error:
            # Nothing of a refused save may stay (a new program created before the refusal).
            await session.rollback()
            await message.answer(problem_text(error.problem))
            return
        except NotAllowed:
            # The refusal happened before any write; its security event is kept.
            await message.answer(_(REFUSED_CHANGE))
            return
        await state.set_state(None)
        await forget(state, "pb_")
        text = _("Saved “{name}” on day {day}.").format(
            name=html.escape(str(data.get("pb_name"))), day=saved.day_number + 1
        )
        if saved.published_version is not None:
            text += "\n" + _(
                "Version {number} is published; athletes already on the program keep theirs."
            ).format(number=saved.published_version)
        await message.answer(
            text,
            reply_markup=inline(
                [
                    [(_("🏋️ Open the workout"), WorkoutOpen(w=saved.workout_id.hex))],
                    [(_("📘 Open the program"), ProgramOpen(program_id=saved.program_id))],
                ]
            ),
        )

    @router.message(Builder.name, NOT_A_COMMAND)
    @router.message(Builder.exercise, NOT_A_COMMAND)
    @router.message(Builder.prescription, NOT_A_COMMAND)
    @router.message(Builder.program_title, NOT_A_COMMAND)
    @router.message(Builder.program_length, NOT_A_COMMAND)
    @router.message(Builder.day, NOT_A_COMMAND)
    @router.message(Library.search, NOT_A_COMMAND)
    async def expected_text(message: Message) -> None:
        await message.answer(_("Please type your answer, or send /cancel to stop."))

    @router.message(Builder.program, NOT_A_COMMAND)
    async def expected_choice(message: Message) -> None:
        await message.answer(_("Please tap a program above, or send /cancel to stop."))

    return router
