"""/favorites: my favorite workouts, exercises and programs (paged, names in my language), my
collections of them, and the ☆/★ button other screens put under a workout, an exercise or a
program (``favorite_button``, answered here by ``FavoriteToggle``).

Everything that reads or changes goes through domain.services.favorite_views, which checks
access (favoriting needs READ on the thing) and ownership of collections. Ids in callback data
are user input: a forged one is refused there and nothing is written.
"""

from __future__ import annotations

import contextlib
import html
import uuid
from collections.abc import Sequence
from functools import cache

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import CommandInfo
from bot.i18n import N_, CatalogI18n, _
from bot.keyboards import NOT_A_COMMAND, inline, parse_short_id, short_id
from bot.router_gates import FeatureRouter
from domain.errors import NotAllowed, NotFound
from domain.models.favorite import FavoriteResourceType
from domain.services import favorite_views as views
from domain.services.users import UserContext

COMMANDS = (CommandInfo("favorites", N_("my favorite workouts, exercises and programs"), order=45),)

# One letter per kind in callback data: two ids and a kind must fit in 64 bytes.
KIND_CODES: dict[str, FavoriteResourceType] = {
    "w": FavoriteResourceType.WORKOUT,
    "e": FavoriteResourceType.EXERCISE,
    "p": FavoriteResourceType.PROGRAM,
}
CODE_OF = {kind: code for code, kind in KIND_CODES.items()}
KIND_ICONS = {
    FavoriteResourceType.WORKOUT: "🏋️",
    FavoriteResourceType.EXERCISE: "💪",
    FavoriteResourceType.PROGRAM: "📋",
}
KIND_GROUPS = {
    FavoriteResourceType.WORKOUT: N_("Workouts"),
    FavoriteResourceType.EXERCISE: N_("Exercises"),
    FavoriteResourceType.PROGRAM: N_("Programs"),
}
KIND_NAMES = {
    FavoriteResourceType.WORKOUT: N_("Workout"),
    FavoriteResourceType.EXERCISE: N_("Exercise"),
    FavoriteResourceType.PROGRAM: N_("Program"),
}
KIND_EMPTY = {
    FavoriteResourceType.WORKOUT: N_(
        "No favorite workouts yet. Tap ☆ under a workout to keep it here."
    ),
    FavoriteResourceType.EXERCISE: N_(
        "No favorite exercises yet. Tap “➕ Add an exercise” to find one."
    ),
    FavoriteResourceType.PROGRAM: N_(
        "No favorite programs yet. Tap ☆ under a program to keep it here."
    ),
}
ADD_LABEL = N_("☆ Add to favorites")
REMOVE_LABEL = N_("★ Remove from favorites")
NOT_A_CHOICE = N_("That is not one of the choices.")
NOT_ALLOWED = N_("Sorry, you are not allowed to do that.")
GONE = N_("I could not find that: it may have been removed.")
OR_CANCEL = N_("Or send /cancel to stop.")
PREVIEW = 3  # names shown per group on the overview


class FavoritesForm(StatesGroup):
    exercise_search = State()
    collection_name = State()  # data: pending_kind, pending_id (add it once created)


# --------------------------------------------------------------------------------------------
# Callback data (ids as 22 characters of URL-safe base64)
# --------------------------------------------------------------------------------------------


class FavoriteToggle(CallbackData, prefix="fvt"):
    """Under any message: make a workout/exercise/program a favorite (``on``) or not."""

    kind: str  # a KIND_CODES letter
    id: str  # short_id
    on: bool

    @classmethod
    def of(cls, kind: FavoriteResourceType, resource_id: uuid.UUID, *, on: bool) -> FavoriteToggle:
        return cls(kind=CODE_OF[kind], id=short_id(resource_id), on=on)


class FavHome(CallbackData, prefix="fvh"):
    pass


class FavList(CallbackData, prefix="fvl"):
    kind: str
    offset: int


class FavOpen(CallbackData, prefix="fvo"):
    kind: str
    id: str


class FavSet(CallbackData, prefix="fvs"):
    """From the detail screen or a search result: set and show the detail again."""

    kind: str
    id: str
    on: bool


class FavPick(CallbackData, prefix="fvp"):
    """Choose a collection for a favorite."""

    kind: str
    id: str
    offset: int


class FavInto(CallbackData, prefix="fvi"):
    collection: str
    kind: str
    id: str


class FavSearch(CallbackData, prefix="fvx"):
    pass


class CollList(CallbackData, prefix="fcl"):
    offset: int


class CollOpen(CallbackData, prefix="fco"):
    collection: str
    offset: int


class CollNew(CallbackData, prefix="fcn"):
    kind: str  # "" or, from the collection chooser, the favorite to add once created
    id: str


class CollDrop(CallbackData, prefix="fcd"):
    """Take an item out of its collection."""

    item: str


class CollDelete(CallbackData, prefix="fcx"):
    collection: str
    confirmed: bool


# --------------------------------------------------------------------------------------------
# The button other screens use
# --------------------------------------------------------------------------------------------


@cache
def _catalogs() -> CatalogI18n:
    return CatalogI18n()


def _translate(message: str, locale: str) -> str:
    i18n = I18n.get_current(no_error=True) or _catalogs()
    return i18n.gettext(message, locale=locale)


def favorite_button(
    kind: str, resource_id: uuid.UUID, *, is_favorite: bool, locale: str
) -> InlineKeyboardButton:
    """☆ Add to favorites / ★ Remove from favorites, for a WORKOUT, EXERCISE or PROGRAM id,
    labelled in ``locale``. Works outside an update too. Get ``is_favorite`` from
    ``domain.services.favorite_views.is_favorite``."""
    resource_kind = views.favorite_kind(kind)
    label = _translate(REMOVE_LABEL if is_favorite else ADD_LABEL, locale)
    data = FavoriteToggle.of(resource_kind, resource_id, on=not is_favorite)
    return InlineKeyboardButton(text=label, callback_data=data.pack())


def _with_button_replaced(
    markup: InlineKeyboardMarkup | None, pressed: str, replacement: InlineKeyboardButton
) -> InlineKeyboardMarkup:
    rows = [
        [replacement if button.callback_data == pressed else button for button in row]
        for row in (markup.inline_keyboard if markup else [])
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows or [[replacement]])


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _page_span(offset: int, shown: int, total: int) -> str:
    if total <= shown:
        return ""
    return " " + _("({first}–{last} of {total})").format(
        first=offset + 1, last=offset + shown, total=total
    )


def _navigation(
    has_previous: bool,
    has_next: bool,
    previous: CallbackData,
    following: CallbackData,
) -> list[tuple[str, CallbackData]]:
    row: list[tuple[str, CallbackData]] = []
    if has_previous:
        row.append(("◀️", previous))
    if has_next:
        row.append(("▶️", following))
    return row


def overview_screen(
    pages: Sequence[views.FavoritesPage], collections_total: int
) -> tuple[str, InlineKeyboardMarkup]:
    title = _("⭐ Your favorites")
    collections = _("Collections")
    lines = [f"<b>{html.escape(title)}</b>", ""]
    rows: list[Sequence[tuple[str, CallbackData]]] = []
    for page in pages:
        group = _(KIND_GROUPS[page.kind])
        icon = KIND_ICONS[page.kind]
        lines.append(f"{icon} <b>{html.escape(group)}</b>: {page.total}")
        for entry in page.entries[:PREVIEW]:
            lines.append(f"   • {html.escape(entry.name)}")
        if page.total > PREVIEW:
            lines.append("   …")
        rows.append(
            [(f"{icon} {group} ({page.total})", FavList(kind=CODE_OF[page.kind], offset=0))]
        )
    lines.append(f"📁 <b>{html.escape(collections)}</b>: {collections_total}")
    rows.append([(f"📁 {collections} ({collections_total})", CollList(offset=0))])
    rows.append([(_("➕ Add an exercise"), FavSearch())])
    return "\n".join(lines), inline(rows)


def list_screen(page: views.FavoritesPage) -> tuple[str, InlineKeyboardMarkup]:
    code = CODE_OF[page.kind]
    title = f"{KIND_ICONS[page.kind]} {_(KIND_GROUPS[page.kind])}"
    text = f"<b>{html.escape(title)}</b>" + _page_span(page.offset, len(page.entries), page.total)
    if not page.entries:
        text += "\n\n" + html.escape(_(KIND_EMPTY[page.kind]))
    else:
        text += "\n\n" + html.escape(_("Tap one to open it."))
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [(entry.name, FavOpen(kind=code, id=short_id(entry.resource_id)))] for entry in page.entries
    ]
    navigation = _navigation(
        page.has_previous,
        page.has_next,
        FavList(kind=code, offset=max(0, page.offset - views.PAGE_SIZE)),
        FavList(kind=code, offset=page.offset + views.PAGE_SIZE),
    )
    if navigation:
        rows.append(navigation)
    if page.kind is FavoriteResourceType.EXERCISE:
        rows.append([(_("➕ Add an exercise"), FavSearch())])
    rows.append([(_("⬅️ Favorites"), FavHome())])
    return text, inline(rows)


def detail_screen(detail: views.FavoriteDetail) -> tuple[str, InlineKeyboardMarkup]:
    resource = detail.resource
    code = CODE_OF[resource.kind]
    ident = short_id(resource.resource_id)
    lines = [
        f"{KIND_ICONS[resource.kind]} <b>{html.escape(resource.name)}</b>",
        html.escape(_(KIND_NAMES[resource.kind])),
        "",
    ]
    rows: list[Sequence[tuple[str, CallbackData]]] = []
    if detail.is_favorite:
        lines.append("⭐ " + html.escape(_("In your favorites.")))
        if detail.collections:
            names = ", ".join(collection.name for collection in detail.collections)
            lines.append("📁 " + html.escape(_("In collections: {names}").format(names=names)))
        rows.append([(_(REMOVE_LABEL), FavSet(kind=code, id=ident, on=False))])
        rows.append([(_("📁 Add to a collection"), FavPick(kind=code, id=ident, offset=0))])
    else:
        lines.append(html.escape(_("Not in your favorites.")))
        rows.append([(_(ADD_LABEL), FavSet(kind=code, id=ident, on=True))])
    rows.append([(_("⬅️ Back"), FavList(kind=code, offset=0))])
    return "\n".join(lines), inline(rows)


def pick_screen(
    resource: views.ResourceName, page: views.CollectionsPage
) -> tuple[str, InlineKeyboardMarkup]:
    code = CODE_OF[resource.kind]
    ident = short_id(resource.resource_id)
    text = html.escape(_("Which collection should “{name}” go into?").format(name=resource.name))
    if not page.entries:
        text += "\n\n" + html.escape(_("You have no collection yet: create one."))
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [
            (
                f"📁 {collection.name} ({collection.item_count})",
                FavInto(collection=short_id(collection.id), kind=code, id=ident),
            )
        ]
        for collection in page.entries
    ]
    navigation = _navigation(
        page.has_previous,
        page.has_next,
        FavPick(kind=code, id=ident, offset=max(0, page.offset - views.PAGE_SIZE)),
        FavPick(kind=code, id=ident, offset=page.offset + views.PAGE_SIZE),
    )
    if navigation:
        rows.append(navigation)
    rows.append([(_("➕ New collection"), CollNew(kind=code, id=ident))])
    rows.append([(_("⬅️ Back"), FavOpen(kind=code, id=ident))])
    return text, inline(rows)


def collections_screen(page: views.CollectionsPage) -> tuple[str, InlineKeyboardMarkup]:
    title = _("Your collections")
    text = f"<b>📁 {html.escape(title)}</b>" + _page_span(
        page.offset, len(page.entries), page.total
    )
    if not page.entries:
        text += "\n\n" + html.escape(
            _("No collection yet. A collection keeps favorites together, like “Hotel gym”.")
        )
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [
            (
                f"📁 {collection.name} ({collection.item_count})",
                CollOpen(collection=short_id(collection.id), offset=0),
            )
        ]
        for collection in page.entries
    ]
    navigation = _navigation(
        page.has_previous,
        page.has_next,
        CollList(offset=max(0, page.offset - views.PAGE_SIZE)),
        CollList(offset=page.offset + views.PAGE_SIZE),
    )
    if navigation:
        rows.append(navigation)
    rows.append([(_("➕ New collection"), CollNew(kind="", id=""))])
    rows.append([(_("⬅️ Favorites"), FavHome())])
    return text, inline(rows)


def collection_screen(
    collection: views.CollectionView, offset: int
) -> tuple[str, InlineKeyboardMarkup]:
    total = len(collection.items)
    if offset >= total:
        offset = max(0, (total - 1) // views.PAGE_SIZE * views.PAGE_SIZE)
    shown = collection.items[offset : offset + views.PAGE_SIZE]
    ident = short_id(collection.id)
    text = f"<b>📁 {html.escape(collection.name)}</b>" + _page_span(offset, len(shown), total)
    if not shown:
        text += "\n\n" + html.escape(
            _("Empty. Open a favorite and tap “📁 Add to a collection” to put it here.")
        )
    else:
        text += "\n\n" + "\n".join(
            f"{offset + number}. {KIND_ICONS[item.favorite.kind]} {html.escape(item.favorite.name)}"
            for number, item in enumerate(shown, start=1)
        )
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [
            (
                item.favorite.name,
                FavOpen(kind=CODE_OF[item.favorite.kind], id=short_id(item.favorite.resource_id)),
            ),
            ("✖️", CollDrop(item=short_id(item.item_id))),
        ]
        for item in shown
    ]
    navigation = _navigation(
        offset > 0,
        offset + len(shown) < total,
        CollOpen(collection=ident, offset=max(0, offset - views.PAGE_SIZE)),
        CollOpen(collection=ident, offset=offset + views.PAGE_SIZE),
    )
    if navigation:
        rows.append(navigation)
    rows.append([(_("🗑 Delete this collection"), CollDelete(collection=ident, confirmed=False))])
    rows.append([(_("⬅️ Collections"), CollList(offset=0))])
    return text, inline(rows)


def search_screen(
    text: str, found: Sequence[views.ResourceName]
) -> tuple[str, InlineKeyboardMarkup]:
    message = _("Exercises matching “{text}”: tap one to add it to your favorites.").format(
        text=text
    )
    rows: list[Sequence[tuple[str, CallbackData]]] = [
        [(f"☆ {resource.name}", FavSet(kind="e", id=short_id(resource.resource_id), on=True))]
        for resource in found
    ]
    rows.append([(_("🔎 Search again"), FavSearch())])
    rows.append([(_("⬅️ Favorites"), FavHome())])
    return html.escape(message), inline(rows)


async def show(message: Message, text: str, keyboard: InlineKeyboardMarkup, *, edit: bool) -> None:
    if not edit:
        await message.answer(text, reply_markup=keyboard)
        return
    try:
        await message.edit_text(text, reply_markup=keyboard)
    except TelegramBadRequest as error:
        if "not modified" not in error.message:
            raise


def _kind(code: str) -> FavoriteResourceType | None:
    return KIND_CODES.get(code)


# --------------------------------------------------------------------------------------------
# Handlers
# --------------------------------------------------------------------------------------------


def router() -> Router:
    router = FeatureRouter(name="favorites")

    async def overview(
        message: Message, session: AsyncSession, user: UserContext, *, edit: bool
    ) -> None:
        pages = [
            await views.favorites_page(
                session, user.user_id, kind, locale=user.locale, limit=PREVIEW
            )
            for kind in views.FAVORITE_KINDS
        ]
        collections = await views.collections_page(session, user.user_id, limit=1)
        text, keyboard = overview_screen(pages, collections.total)
        await show(message, text, keyboard, edit=edit)

    async def open_detail(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        kind: FavoriteResourceType,
        resource_id: uuid.UUID,
        *,
        edit: bool,
        note: str | None = None,
    ) -> None:
        detail = await views.favorite_detail(
            session, user.user_id, kind, resource_id, locale=user.locale
        )
        text, keyboard = detail_screen(detail)
        if note:
            text = html.escape(note) + "\n\n" + text
        await show(message, text, keyboard, edit=edit)

    async def open_collection(
        message: Message,
        session: AsyncSession,
        user: UserContext,
        collection_id: uuid.UUID,
        offset: int,
        *,
        edit: bool,
        note: str | None = None,
    ) -> None:
        collection = await views.collection_view(
            session, user.user_id, collection_id, locale=user.locale
        )
        text, keyboard = collection_screen(collection, offset)
        if note:
            text = html.escape(note) + "\n\n" + text
        await show(message, text, keyboard, edit=edit)

    async def refuse(query: CallbackQuery, message: str) -> None:
        await query.answer(_(message), show_alert=True)

    def screen(query: CallbackQuery) -> Message | None:
        return query.message if isinstance(query.message, Message) else None

    @router.message(Command("favorites"))
    async def favorites_command(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await overview(message, session, user, edit=False)

    @router.callback_query(FavHome.filter())
    async def home(
        query: CallbackQuery, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        await state.clear()
        await query.answer()
        if (message := screen(query)) is not None:
            await overview(message, session, user, edit=True)

    @router.callback_query(FavList.filter())
    async def list_kind(
        query: CallbackQuery,
        callback_data: FavList,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind = _kind(callback_data.kind)
        if kind is None or callback_data.offset < 0:
            await refuse(query, NOT_A_CHOICE)
            return
        await state.clear()
        page = await views.favorites_page(
            session, user.user_id, kind, locale=user.locale, offset=callback_data.offset
        )
        await query.answer()
        if (message := screen(query)) is not None:
            text, keyboard = list_screen(page)
            await show(message, text, keyboard, edit=True)

    @router.callback_query(FavOpen.filter())
    async def open_favorite(
        query: CallbackQuery,
        callback_data: FavOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind, resource_id = _kind(callback_data.kind), parse_short_id(callback_data.id)
        if kind is None or resource_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            detail = await views.favorite_detail(
                session, user.user_id, kind, resource_id, locale=user.locale
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        await state.clear()
        await query.answer()
        if (message := screen(query)) is not None:
            text, keyboard = detail_screen(detail)
            await show(message, text, keyboard, edit=True)

    @router.callback_query(FavSet.filter())
    async def set_from_screen(
        query: CallbackQuery,
        callback_data: FavSet,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind, resource_id = _kind(callback_data.kind), parse_short_id(callback_data.id)
        if kind is None or resource_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            now_favorite = await views.set_favorite(
                session, user.user_id, kind, resource_id, callback_data.on
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        except NotFound:
            await refuse(query, GONE)
            return
        await state.clear()
        note = _("Added to your favorites.") if now_favorite else _("Removed from your favorites.")
        await query.answer(note)
        if (message := screen(query)) is None:
            return
        if now_favorite:
            await open_detail(message, session, user, kind, resource_id, edit=True, note=note)
            return
        page = await views.favorites_page(session, user.user_id, kind, locale=user.locale)
        text, keyboard = list_screen(page)
        await show(message, html.escape(note) + "\n\n" + text, keyboard, edit=True)

    @router.callback_query(FavoriteToggle.filter())
    async def toggle(
        query: CallbackQuery,
        callback_data: FavoriteToggle,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind, resource_id = _kind(callback_data.kind), parse_short_id(callback_data.id)
        if kind is None or resource_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            now_favorite = await views.set_favorite(
                session, user.user_id, kind, resource_id, callback_data.on
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        except NotFound:
            await refuse(query, GONE)
            return
        await query.answer(
            _("Added to your favorites.") if now_favorite else _("Removed from your favorites.")
        )
        message = screen(query)
        if message is None or query.data is None:
            return
        # The message stays as it was; only the pressed button flips.
        replacement = favorite_button(
            kind.value, resource_id, is_favorite=now_favorite, locale=user.locale
        )
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(
                reply_markup=_with_button_replaced(message.reply_markup, query.data, replacement)
            )

    @router.callback_query(FavPick.filter())
    async def pick_collection(
        query: CallbackQuery,
        callback_data: FavPick,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind, resource_id = _kind(callback_data.kind), parse_short_id(callback_data.id)
        if kind is None or resource_id is None or callback_data.offset < 0:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            resource = await views.resource_name(
                session, user.user_id, kind, resource_id, locale=user.locale
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        await state.clear()
        page = await views.collections_page(session, user.user_id, offset=callback_data.offset)
        await query.answer()
        if (message := screen(query)) is not None:
            text, keyboard = pick_screen(resource, page)
            await show(message, text, keyboard, edit=True)

    @router.callback_query(FavInto.filter())
    async def into_collection(
        query: CallbackQuery,
        callback_data: FavInto,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        kind = _kind(callback_data.kind)
        resource_id = parse_short_id(callback_data.id)
        collection_id = parse_short_id(callback_data.collection)
        if kind is None or resource_id is None or collection_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            collection = await views.add_to_collection(
                session, user.user_id, collection_id, kind, resource_id
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        except views.NotAFavorite:
            await refuse(query, N_("Add it to your favorites first."))
            return
        except NotFound:
            await refuse(query, GONE)
            return
        note = _("Added to “{collection}”.").format(collection=collection.name)
        await query.answer(note)
        if (message := screen(query)) is not None:
            await open_detail(message, session, user, kind, resource_id, edit=True, note=note)

    @router.callback_query(FavSearch.filter())
    async def ask_search(query: CallbackQuery, state: FSMContext) -> None:
        await state.set_state(FavoritesForm.exercise_search)
        await query.answer()
        if (message := screen(query)) is not None:
            await message.answer(
                _("Type the name of an exercise, for example: squat.") + "\n" + _(OR_CANCEL)
            )

    @router.message(FavoritesForm.exercise_search, F.text, NOT_A_COMMAND)
    async def typed_search(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        text = message.text or ""
        try:
            found = await views.search_exercises(session, user.user_id, text, locale=user.locale)
        except views.SearchTextInvalid:
            await message.answer(
                _("Please type {min}–{max} characters of the exercise's name.").format(
                    min=views.SEARCH_MIN_LENGTH, max=views.SEARCH_MAX_LENGTH
                )
                + "\n"
                + _(OR_CANCEL)
            )
            return
        if not found:
            await message.answer(
                html.escape(
                    _("No exercise matches “{text}”. Try another word.").format(text=text.strip())
                )
                + "\n"
                + _(OR_CANCEL)
            )
            return
        await state.clear()
        reply, keyboard = search_screen(" ".join(text.split()), found)
        await message.answer(reply, reply_markup=keyboard)

    @router.callback_query(CollList.filter())
    async def list_collections(
        query: CallbackQuery,
        callback_data: CollList,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        if callback_data.offset < 0:
            await refuse(query, NOT_A_CHOICE)
            return
        await state.clear()
        page = await views.collections_page(session, user.user_id, offset=callback_data.offset)
        await query.answer()
        if (message := screen(query)) is not None:
            text, keyboard = collections_screen(page)
            await show(message, text, keyboard, edit=True)

    @router.callback_query(CollOpen.filter())
    async def open_collection_button(
        query: CallbackQuery,
        callback_data: CollOpen,
        state: FSMContext,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        collection_id = parse_short_id(callback_data.collection)
        if collection_id is None or callback_data.offset < 0:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            collection = await views.collection_view(
                session, user.user_id, collection_id, locale=user.locale
            )
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        except NotFound:
            await refuse(query, GONE)
            return
        await state.clear()
        await query.answer()
        if (message := screen(query)) is not None:
            text, keyboard = collection_screen(collection, callback_data.offset)
            await show(message, text, keyboard, edit=True)

    @router.callback_query(CollDrop.filter())
    async def drop_item(
        query: CallbackQuery,
        callback_data: CollDrop,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        item_id = parse_short_id(callback_data.item)
        if item_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        try:
            collection_id = await views.remove_from_collection(session, user.user_id, item_id)
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        if collection_id is None:
            await refuse(query, GONE)
            return
        await query.answer(_("Taken out of the collection."))
        if (message := screen(query)) is not None:
            await open_collection(message, session, user, collection_id, 0, edit=True)

    @router.callback_query(CollDelete.filter())
    async def delete_collection(
        query: CallbackQuery,
        callback_data: CollDelete,
        session: AsyncSession,
        user: UserContext,
    ) -> None:
        collection_id = parse_short_id(callback_data.collection)
        if collection_id is None:
            await refuse(query, NOT_A_CHOICE)
            return
        message = screen(query)
        try:
            if not callback_data.confirmed:
                collection = await views.collection_view(
                    session, user.user_id, collection_id, locale=user.locale
                )
            else:
                name = await views.delete_collection(session, user.user_id, collection_id)
        except NotAllowed:
            await refuse(query, NOT_ALLOWED)
            return
        except NotFound:
            await refuse(query, GONE)
            return
        if not callback_data.confirmed:
            await query.answer()
            if message is not None:
                ident = short_id(collection_id)
                text = html.escape(
                    _(
                        "Delete the collection “{name}”? Its favorites stay in your favorites."
                    ).format(name=collection.name)
                )
                keyboard = inline(
                    [
                        [(_("🗑 Yes, delete it"), CollDelete(collection=ident, confirmed=True))],
                        [(_("⬅️ No, keep it"), CollOpen(collection=ident, offset=0))],
                    ]
                )
                await show(message, text, keyboard, edit=True)
            return
        note = _("Collection “{name}” deleted.").format(name=name)
        await query.answer(note)
        if message is not None:
            page = await views.collections_page(session, user.user_id)
            text, keyboard = collections_screen(page)
            await show(message, html.escape(note) + "\n\n" + text, keyboard, edit=True)

    @router.callback_query(CollNew.filter())
    async def ask_collection_name(
        query: CallbackQuery, callback_data: CollNew, state: FSMContext
    ) -> None:
        pending: dict[str, str] = {}
        if callback_data.kind or callback_data.id:
            if _kind(callback_data.kind) is None or parse_short_id(callback_data.id) is None:
                await refuse(query, NOT_A_CHOICE)
                return
            pending = {"pending_kind": callback_data.kind, "pending_id": callback_data.id}
        await state.clear()
        await state.set_state(FavoritesForm.collection_name)
        await state.update_data(pending)
        await query.answer()
        if (message := screen(query)) is not None:
            await message.answer(
                _("Type a name for the new collection, for example: Hotel gym.")
                + "\n"
                + _(OR_CANCEL)
            )

    @router.message(FavoritesForm.collection_name, F.text, NOT_A_COMMAND)
    async def typed_collection_name(
        message: Message, state: FSMContext, session: AsyncSession, user: UserContext
    ) -> None:
        try:
            collection = await views.new_collection(session, user.user_id, message.text or "")
        except views.CollectionNameInvalid:
            await message.answer(
                _("A collection name is one line of 1 to {max} characters.").format(
                    max=views.COLLECTION_NAME_MAX_LENGTH
                )
                + "\n"
                + _(OR_CANCEL)
            )
            return
        except views.CollectionNameTaken as error:
            await message.answer(
                html.escape(
                    _("You already have a collection named “{name}”. Choose another name.").format(
                        name=error.params.get("name", "")
                    )
                )
                + "\n"
                + _(OR_CANCEL)
            )
            return
        except views.TooManyCollections:
            await state.clear()
            await message.answer(
                _("You already have {max} collections: delete one before creating another.").format(
                    max=views.MAX_COLLECTIONS
                )
            )
            return
        data = await state.get_data()
        await state.clear()
        note = _("Collection “{name}” created.").format(name=collection.name)
        kind = _kind(str(data.get("pending_kind", "")))
        resource_id = parse_short_id(str(data.get("pending_id", "")))
        if kind is not None and resource_id is not None:
            try:
                await views.add_to_collection(
                    session, user.user_id, collection.id, kind, resource_id
                )
            except (NotAllowed, NotFound):
                pass  # no longer a favorite: the collection is still made
            else:
                await open_detail(message, session, user, kind, resource_id, edit=False, note=note)
                return
        await open_collection(message, session, user, collection.id, 0, edit=False, note=note)

    @router.message(FavoritesForm.exercise_search, NOT_A_COMMAND)
    @router.message(FavoritesForm.collection_name, NOT_A_COMMAND)
    async def typed_expected(message: Message) -> None:
        await message.answer(_("Please type it as text, or send /cancel to stop."))

    return router
