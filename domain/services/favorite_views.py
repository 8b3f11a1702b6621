"""Favorites as the chat shows them: access-checked wrappers around domain.services.favorites.

domain.services.favorites stores bookmarks and collections but does not ask domain/access;
this module does. Favoriting something needs READ on it (a forged id of someone else's private
workout is refused before anything is written); lists show only what the person may still read
(the ``visible`` predicate, in SQL); names come in the person's language.

Only workouts, exercises and programs are offered in the chat (``FAVORITE_KINDS``). Removing a
favorite needs no access check: it only deletes the person's own row, whatever the id says.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, literal_limit, require, visible
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models.exercise import Exercise
from domain.models.favorite import (
    Favorite,
    FavoriteCollection,
    FavoriteCollectionItem,
    FavoriteResourceType,
)
from domain.models.program import Program
from domain.models.workout import Workout
from domain.services import favorites
from domain.services.exercise_search import match_exercise

WORKOUT = FavoriteResourceType.WORKOUT
EXERCISE = FavoriteResourceType.EXERCISE
PROGRAM = FavoriteResourceType.PROGRAM
# What the chat offers to favorite, in the order /favorites lists the groups.
FAVORITE_KINDS: tuple[FavoriteResourceType, ...] = (WORKOUT, EXERCISE, PROGRAM)

PAGE_SIZE = 8
COLLECTION_NAME_MAX_LENGTH = favorites.COLLECTION_NAME_MAX_LENGTH
# More collections than fit on a few pages of buttons helps nobody.
MAX_COLLECTIONS = 50
SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 50
SEARCH_LIMIT = 8


class UnsupportedKind(InvalidInput):
    """Not a kind the chat favorites (only workouts, exercises, programs)."""

    code = "unsupported_kind"


class CollectionNameInvalid(InvalidInput):
    """Empty, too long, or several lines."""

    code = "collection_name_invalid"


class CollectionNameTaken(Conflict):
    code = "collection_name_taken"


class TooManyCollections(Conflict):
    code = "too_many_collections"


class NotAFavorite(NotFound):
    """Asked to put into a collection something that is not (any more) a favorite."""

    code = "not_a_favorite"


class SearchTextInvalid(InvalidInput):
    code = "search_text_invalid"


@dataclass(frozen=True, slots=True)
class ResourceName:
    kind: FavoriteResourceType
    resource_id: uuid.UUID
    name: str  # in the asked locale when the resource has a translation


@dataclass(frozen=True, slots=True)
class FavoriteEntry:
    favorite_id: uuid.UUID
    kind: FavoriteResourceType
    resource_id: uuid.UUID
    name: str


@dataclass(frozen=True, slots=True)
class FavoritesPage:
    kind: FavoriteResourceType
    entries: tuple[FavoriteEntry, ...]
    offset: int
    total: int  # visible favorites of this kind

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.entries) < self.total


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    id: uuid.UUID
    name: str
    item_count: int


@dataclass(frozen=True, slots=True)
class CollectionsPage:
    entries: tuple[CollectionInfo, ...]
    offset: int
    total: int

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.entries) < self.total


@dataclass(frozen=True, slots=True)
class CollectionEntry:
    item_id: uuid.UUID
    position: int
    favorite: FavoriteEntry


@dataclass(frozen=True, slots=True)
class CollectionView:
    id: uuid.UUID
    name: str
    # The items whose resource the owner may still read, in collection order.
    items: tuple[CollectionEntry, ...]


@dataclass(frozen=True, slots=True)
class FavoriteDetail:
    resource: ResourceName
    favorite_id: uuid.UUID | None  # None: not (or no longer) a favorite
    # The owner's collections holding it.
    collections: tuple[CollectionInfo, ...]

    @property
    def is_favorite(self) -> bool:
        return self.favorite_id is not None


# --------------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------------


def favorite_kind(value: FavoriteResourceType | str) -> FavoriteResourceType:
    """The kind, if the chat favorites it; UnsupportedKind otherwise."""
    try:
        kind = FavoriteResourceType(str(value).upper())
    except ValueError:
        kind = None
    if kind not in FAVORITE_KINDS:
        raise UnsupportedKind(f"{value!r} cannot be favorited here", resource_type=str(value))
    assert kind is not None
    return kind


def _model(kind: FavoriteResourceType) -> Any:
    return {WORKOUT: Workout, EXERCISE: Exercise, PROGRAM: Program}[kind]


def localized_name(kind: FavoriteResourceType, locale: str) -> ColumnElement[str]:
    """SQL: the resource's name in ``locale`` (exercises are translated; workouts and
    programs carry the one name their author gave)."""
    if kind is EXERCISE:
        translated = func.nullif(Exercise.name_i18n.op("->>")(literal(locale)), "")
        return func.coalesce(translated, Exercise.name)
    if kind is PROGRAM:
        return Program.title.expression
    return Workout.name.expression


async def _require_read(
    session: AsyncSession, user_id: uuid.UUID, kind: FavoriteResourceType, resource_id: uuid.UUID
) -> None:
    await require(session, Actor(user_id), Action.READ, ResourceRef(kind.value, resource_id))


async def resource_name(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    resource_id: uuid.UUID,
    *,
    locale: str,
) -> ResourceName:
    """The name of a resource the user may read (NotAllowed otherwise, unknown ids included)."""
    kind = favorite_kind(kind)
    await _require_read(session, user_id, kind, resource_id)
    model = _model(kind)
    name = (
        await session.execute(select(localized_name(kind, locale)).where(model.id == resource_id))
    ).scalar_one()
    return ResourceName(kind, resource_id, str(name))


# --------------------------------------------------------------------------------------------
# Favorites
# --------------------------------------------------------------------------------------------


async def is_favorite(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    resource_id: uuid.UUID,
) -> bool:
    """Is it one of the user's favorites? (for the state of a favorite button)"""
    kind = favorite_kind(kind)
    query = select(
        exists().where(
            Favorite.user_id == user_id,
            Favorite.resource_type == kind,
            Favorite.resource_id == resource_id,
        )
    )
    return bool((await session.execute(query)).scalar_one())


async def set_favorite(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    resource_id: uuid.UUID,
    on: bool,
) -> bool:
    """Make it a favorite (``on``; needs READ on it) or not; returns whether it now is one.
    Idempotent both ways."""
    kind = favorite_kind(kind)
    if on:
        await _require_read(session, user_id, kind, resource_id)
        await favorites.add_favorite(session, user_id, kind, resource_id)
        return True
    await favorites.remove_favorite(session, user_id, kind, resource_id)
    return False


def _visible_favorites(
    user_id: uuid.UUID, kind: FavoriteResourceType, locale: str
) -> Select[uuid.UUID, uuid.UUID, str]:
    model = _model(kind)
    return (
        select(Favorite.id, Favorite.resource_id, localized_name(kind, locale))
        .join(model, model.id == Favorite.resource_id)
        .where(
            Favorite.user_id == user_id,
            Favorite.resource_type == kind,
            visible(Actor(user_id), kind.value),
        )
    )


def _check_page(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidInput("offset must not be negative", offset=offset)
    if not 1 <= limit <= favorites.MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be 1..{favorites.MAX_PAGE_SIZE}", limit=limit)


async def favorites_page(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    *,
    locale: str,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> FavoritesPage:
    """One page of the user's favorites of one kind that they may still read, newest first.
    An offset past the end gives the last page."""
    kind = favorite_kind(kind)
    _check_page(offset, limit)
    listed = _visible_favorites(user_id, kind, locale)
    total = (
        await session.execute(select(func.count()).select_from(listed.subquery()))
    ).scalar_one()
    if offset >= total:
        offset = max(0, (total - 1) // limit * limit)
    rows = await session.execute(
        listed.order_by(Favorite.favorited_at.desc(), Favorite.id)
        .offset(offset)
        .limit(literal_limit(limit))
    )
    entries = tuple(
        FavoriteEntry(favorite_id, kind, resource_id, str(name))
        for favorite_id, resource_id, name in rows
    )
    return FavoritesPage(kind, entries, offset, int(total))


async def favorite_detail(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    resource_id: uuid.UUID,
    *,
    locale: str,
) -> FavoriteDetail:
    """A resource the user may read, whether it is their favorite and in which collections."""
    resource = await resource_name(session, user_id, kind, resource_id, locale=locale)
    favorite_id = (
        await session.execute(
            select(Favorite.id).where(
                Favorite.user_id == user_id,
                Favorite.resource_type == resource.kind,
                Favorite.resource_id == resource_id,
            )
        )
    ).scalar_one_or_none()
    collections: tuple[CollectionInfo, ...] = ()
    if favorite_id is not None:
        rows = await session.execute(
            _collections_query(user_id)
            .where(
                exists().where(
                    FavoriteCollectionItem.collection_id == FavoriteCollection.id,
                    FavoriteCollectionItem.favorite_id == favorite_id,
                )
            )
            .order_by(FavoriteCollection.sort_order, FavoriteCollection.name)
        )
        collections = tuple(_collection_info(row) for row in rows)
    return FavoriteDetail(resource, favorite_id, collections)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_exercises(
    session: AsyncSession,
    user_id: uuid.UUID,
    text: str,
    *,
    locale: str,
    limit: int = SEARCH_LIMIT,
) -> list[ResourceName]:
    """Exercises the user may read that ``text`` names: first what the log's matcher
    (domain.services.exercise_search: names and aliases in every language, typos) finds, then
    those whose name in ``locale`` or catalogue name contains the text (exact, then starting
    with it, then the rest, shortest first). Only exercises the user may READ are listed."""
    cleaned = " ".join(text.split())
    if not SEARCH_MIN_LENGTH <= len(cleaned) <= SEARCH_MAX_LENGTH:
        raise SearchTextInvalid(
            f"a search needs {SEARCH_MIN_LENGTH} to {SEARCH_MAX_LENGTH} characters",
            min_length=SEARCH_MIN_LENGTH,
            max_length=SEARCH_MAX_LENGTH,
        )
    match = await match_exercise(session, user_id, cleaned, locale=locale)
    matched = [choice.id for choice in match.candidates]
    if match.chosen is not None and match.chosen.id not in matched:
        matched.insert(0, match.chosen.id)
    name = localized_name(EXERCISE, locale)
    pattern = f"%{_escape_like(cleaned)}%"
    rank = case(
        (func.lower(name) == cleaned.lower(), 0),
        (name.ilike(f"{_escape_like(cleaned)}%", escape="\\"), 1),
        else_=2,
    )
    wanted = or_(name.ilike(pattern, escape="\\"), Exercise.name.ilike(pattern, escape="\\"))
    if matched:
        wanted = or_(wanted, Exercise.id.in_(matched))
    query = (
        select(Exercise.id, name)
        .where(wanted, Exercise.is_active, visible(Actor(user_id), EXERCISE.value))
        .order_by(rank, func.length(name), name, Exercise.id)
        .limit(literal_limit(limit + len(matched)))
    )
    rows = list(await session.execute(query))
    first = {exercise_id: index for index, exercise_id in enumerate(matched)}
    rows.sort(key=lambda row: first.get(row[0], len(first)))  # stable: ILIKE order after
    return [ResourceName(EXERCISE, row[0], str(row[1])) for row in rows[:limit]]


# --------------------------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------------------------


def _collection_info(row: Row[uuid.UUID, str, int]) -> CollectionInfo:
    return CollectionInfo(row[0], row[1], int(row[2]))


def _collections_query(user_id: uuid.UUID) -> Select[uuid.UUID, str, int]:
    item_count = (
        select(func.count())
        .where(FavoriteCollectionItem.collection_id == FavoriteCollection.id)
        .scalar_subquery()
    )
    return select(FavoriteCollection.id, FavoriteCollection.name, item_count).where(
        FavoriteCollection.user_id == user_id
    )


async def collections_page(
    session: AsyncSession, user_id: uuid.UUID, *, offset: int = 0, limit: int = PAGE_SIZE
) -> CollectionsPage:
    """The user's collections in their order, with how many items each holds."""
    _check_page(offset, limit)
    total = (
        await session.execute(
            select(func.count())
            .select_from(FavoriteCollection)
            .where(FavoriteCollection.user_id == user_id)
        )
    ).scalar_one()
    if offset >= total:
        offset = max(0, (total - 1) // limit * limit)
    rows = await session.execute(
        _collections_query(user_id)
        .order_by(FavoriteCollection.sort_order, FavoriteCollection.name, FavoriteCollection.id)
        .offset(offset)
        .limit(literal_limit(limit))
    )
    return CollectionsPage(tuple(_collection_info(row) for row in rows), offset, int(total))


async def new_collection(session: AsyncSession, user_id: uuid.UUID, name: str) -> CollectionInfo:
    """Create a collection from a typed name: one line of 1..100 characters, not a name the
    user already has (compared ignoring case), at most ``MAX_COLLECTIONS`` per user."""
    cleaned = " ".join(name.split())
    max_length = COLLECTION_NAME_MAX_LENGTH
    if "\n" in name.strip() or not 1 <= len(cleaned) <= max_length:
        raise CollectionNameInvalid(
            f"a collection name is one line of 1 to {max_length} characters",
            max_length=max_length,
        )
    taken = (
        await session.execute(
            select(FavoriteCollection.name).where(
                FavoriteCollection.user_id == user_id,
                func.lower(FavoriteCollection.name) == cleaned.lower(),
            )
        )
    ).scalar_one_or_none()
    if taken is not None:
        raise CollectionNameTaken(f"you already have a collection named {taken!r}", name=taken)
    count = (
        await session.execute(
            select(func.count())
            .select_from(FavoriteCollection)
            .where(FavoriteCollection.user_id == user_id)
        )
    ).scalar_one()
    if count >= MAX_COLLECTIONS:
        raise TooManyCollections(
            f"at most {MAX_COLLECTIONS} collections", max_collections=MAX_COLLECTIONS
        )
    try:
        created = await favorites.create_collection(session, user_id, cleaned)
    except Conflict as error:  # created meanwhile by a concurrent update
        raise CollectionNameTaken(str(error), name=cleaned) from None
    return CollectionInfo(created.id, created.name, 0)


async def collection_view(
    session: AsyncSession, user_id: uuid.UUID, collection_id: uuid.UUID, *, locale: str
) -> CollectionView:
    """The owner's collection (NotFound / NotAllowed otherwise) with the items they may read."""
    items = await favorites.list_collection_items(session, collection_id, user_id=user_id)
    collection = await session.get(FavoriteCollection, collection_id)
    assert collection is not None  # list_collection_items checked it
    by_favorite = {item.favorite_id: item for item in items}
    entries: list[CollectionEntry] = []
    if by_favorite:
        for kind in FAVORITE_KINDS:
            rows = await session.execute(
                _visible_favorites(user_id, kind, locale).where(Favorite.id.in_(list(by_favorite)))
            )
            for favorite_id, resource_id, name in rows:
                item = by_favorite[favorite_id]
                entries.append(
                    CollectionEntry(
                        item.id,
                        item.position,
                        FavoriteEntry(favorite_id, kind, resource_id, str(name)),
                    )
                )
    entries.sort(key=lambda entry: entry.position)
    return CollectionView(collection.id, collection.name, tuple(entries))


async def add_to_collection(
    session: AsyncSession,
    user_id: uuid.UUID,
    collection_id: uuid.UUID,
    kind: FavoriteResourceType | str,
    resource_id: uuid.UUID,
) -> CollectionInfo:
    """Put one of the user's favorites at the end of one of their collections (adding it again
    changes nothing). NotAFavorite when it is not a favorite; NotFound / NotAllowed for a
    collection that does not exist or is someone else's."""
    kind = favorite_kind(kind)
    favorite_id = (
        await session.execute(
            select(Favorite.id).where(
                Favorite.user_id == user_id,
                Favorite.resource_type == kind,
                Favorite.resource_id == resource_id,
            )
        )
    ).scalar_one_or_none()
    if favorite_id is None:
        raise NotAFavorite(
            f"{kind.value.lower()} {resource_id} is not a favorite", resource_id=str(resource_id)
        )
    await favorites.add_to_collection(session, collection_id, favorite_id, user_id=user_id)
    row = (
        await session.execute(
            _collections_query(user_id).where(FavoriteCollection.id == collection_id)
        )
    ).one()
    return _collection_info(row)


async def remove_from_collection(
    session: AsyncSession, user_id: uuid.UUID, item_id: uuid.UUID
) -> uuid.UUID | None:
    """Take an item out of its collection (the favorite stays); the collection's id, or None
    when the item no longer exists. NotAllowed for an item of someone else's collection."""
    collection_id = (
        await session.execute(
            select(FavoriteCollectionItem.collection_id).where(FavoriteCollectionItem.id == item_id)
        )
    ).scalar_one_or_none()
    if collection_id is None:
        return None
    removed = await favorites.remove_from_collection(session, item_id, user_id=user_id)
    return collection_id if removed else None


async def delete_collection(
    session: AsyncSession, user_id: uuid.UUID, collection_id: uuid.UUID
) -> str:
    """Delete one of the user's collections (its favorites stay favorites); its name."""
    return await favorites.delete_collection(session, collection_id, user_id=user_id)
