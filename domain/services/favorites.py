"""Favorites: bookmark resources, keep them in ordered collections, share a collection by link,
and roll up the daily favorite trend.

Every function takes the session (the caller's unit of work), flushes, never commits.
Adding and removing are idempotent; each real change writes one FAVORITE_USAGE_LOG row, which
the trend rollup counts.

Collections keep dense positions 0 … n-1. Every change to a collection locks its row
(SELECT … FOR UPDATE) so concurrent edits of one collection queue up, then renumbers the items
in Python; the UNIQUE (collection_id, position) constraint is DEFERRABLE INITIALLY DEFERRED,
so the intermediate states of a renumbering do not trip it and it is still checked at COMMIT.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import Date, Double, Integer, Select, cast, exists, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.base import Base
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise
from domain.models.favorite import (
    Favorite,
    FavoriteAction,
    FavoriteCollection,
    FavoriteCollectionItem,
    FavoriteResourceType,
    FavoriteShare,
    FavoriteTrend,
    FavoriteUsageLog,
)
from domain.models.institution import Institution, InstitutionMember
from domain.models.media import Media
from domain.models.program import Program
from domain.models.user import LINK_TOKEN_LENGTH, new_link_token
from domain.models.workout import Workout

# The table each favoritable resource type lives in (the reference is polymorphic: no FK).
RESOURCE_MODELS: dict[FavoriteResourceType, type[Base]] = {
    FavoriteResourceType.EQUIPMENT: Equipment,
    FavoriteResourceType.EXERCISE: Exercise,
    FavoriteResourceType.INSTITUTION: Institution,
    FavoriteResourceType.MEDIA: Media,
    FavoriteResourceType.PROGRAM: Program,
    FavoriteResourceType.WORKOUT: Workout,
}

MAX_PAGE_SIZE = 100
COLLECTION_NAME_MAX_LENGTH = 100
# Renumbering loads a whole collection; a bound keeps that cheap and a chat list readable.
MAX_COLLECTION_ITEMS = 200
DEFAULT_SHARE_TTL = dt.timedelta(days=7)
MAX_SHARE_TTL = dt.timedelta(days=365)
# One message for unknown, expired, revoked and not-for-you links: the answer must not tell
# a guesser which tokens exist.
SHARE_NOT_FOUND = "this share link does not exist or is no longer valid"


# --------------------------------------------------------------------------------------------
# Favorites
# --------------------------------------------------------------------------------------------


async def add_favorite(
    session: AsyncSession,
    user_id: uuid.UUID,
    resource_type: FavoriteResourceType | str,
    resource_id: uuid.UUID,
) -> Favorite:
    """Favorite a resource; favoriting it again returns the existing favorite unchanged."""
    kind = _favorite_resource_type(resource_type)
    await _require_resource(session, kind, resource_id)
    # ON CONFLICT, not check-then-insert: two taps racing still leave one row.
    inserted_id = (
        await session.execute(
            insert(Favorite)
            .values(user_id=user_id, resource_type=kind, resource_id=resource_id)
            .on_conflict_do_nothing(index_elements=["user_id", "resource_type", "resource_id"])
            .returning(Favorite.id)
        )
    ).scalar_one_or_none()
    if inserted_id is not None:
        await _log(session, user_id, kind, resource_id, FavoriteAction.ADDED, inserted_id)
    return (await session.execute(_favorite_query(user_id, kind, resource_id))).scalar_one()


async def remove_favorite(
    session: AsyncSession,
    user_id: uuid.UUID,
    resource_type: FavoriteResourceType | str,
    resource_id: uuid.UUID,
) -> bool:
    """Un-favorite a resource; True if it was a favorite, False if there was nothing to remove.

    The favorite leaves every collection it was in, and those collections close the gap.
    """
    kind = _favorite_resource_type(resource_type)
    favorite = (
        await session.execute(_favorite_query(user_id, kind, resource_id).with_for_update())
    ).scalar_one_or_none()
    if favorite is None:
        return False
    # Locked after the favorite: from here on no one can put it into another collection
    # (that insert would wait for our row lock), so this list is complete.
    collection_ids = (
        (
            await session.execute(
                select(FavoriteCollectionItem.collection_id)
                .where(FavoriteCollectionItem.favorite_id == favorite.id)
                .order_by(FavoriteCollectionItem.collection_id)
            )
        )
        .scalars()
        .all()
    )
    for collection_id in collection_ids:
        await _owned_collection(session, collection_id, user_id, lock=True)
    await session.delete(favorite)
    await session.flush()  # its items go with it (ON DELETE CASCADE)
    for collection_id in collection_ids:
        _renumber(await _items(session, collection_id))
    await _log(session, user_id, kind, resource_id, FavoriteAction.REMOVED, None)
    return True


async def list_favorites(
    session: AsyncSession,
    user_id: uuid.UUID,
    resource_type: FavoriteResourceType | str | None = None,
    *,
    limit: int,
    offset: int,
) -> list[Favorite]:
    """A page of the user's favorites, newest first, optionally of one resource type."""
    _check_page(limit, offset)
    query = select(Favorite).where(Favorite.user_id == user_id)
    if resource_type is not None:
        query = query.where(Favorite.resource_type == _favorite_resource_type(resource_type))
    query = query.order_by(Favorite.favorited_at.desc(), Favorite.id).limit(limit).offset(offset)
    return list((await session.execute(query)).scalars())


# --------------------------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------------------------


async def create_collection(
    session: AsyncSession,
    user_id: uuid.UUID,
    name: str,
    *,
    description: str | None = None,
) -> FavoriteCollection:
    """A new, empty collection, listed after the user's others; names are unique per user."""
    clean_name = name.strip()
    if not 1 <= len(clean_name) <= COLLECTION_NAME_MAX_LENGTH:
        raise InvalidInput(
            f"a collection name needs 1 to {COLLECTION_NAME_MAX_LENGTH} characters",
            max_length=COLLECTION_NAME_MAX_LENGTH,
        )
    next_sort_order = (
        select(func.coalesce(func.max(FavoriteCollection.sort_order) + 1, 0))
        .where(FavoriteCollection.user_id == user_id)
        .scalar_subquery()
    )
    created_id = (
        await session.execute(
            insert(FavoriteCollection)
            .values(
                user_id=user_id,
                name=clean_name,
                description=description,
                sort_order=next_sort_order,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "name"])
            .returning(FavoriteCollection.id)
        )
    ).scalar_one_or_none()
    if created_id is None:
        raise Conflict(f"you already have a collection named {clean_name!r}", name=clean_name)
    collection = await session.get(FavoriteCollection, created_id)
    assert collection is not None  # just inserted in this transaction
    return collection


async def list_collection_items(
    session: AsyncSession, collection_id: uuid.UUID, *, user_id: uuid.UUID
) -> list[FavoriteCollectionItem]:
    """The owner's view of a collection: its items in order."""
    await _owned_collection(session, collection_id, user_id)
    return await _items(session, collection_id)


async def add_to_collection(
    session: AsyncSession,
    collection_id: uuid.UUID,
    favorite_id: uuid.UUID,
    position: int | None = None,
    *,
    user_id: uuid.UUID,
) -> FavoriteCollectionItem:
    """Put one of the owner's favorites into their collection: at the end by default, or at
    `position` (0-based), shifting the items from there down. Adding a favorite already in
    the collection returns its item unchanged."""
    collection = await _owned_collection(session, collection_id, user_id, lock=True)
    favorite = await session.get(Favorite, favorite_id)
    if favorite is None:
        raise NotFound(f"favorite {favorite_id} does not exist", favorite_id=str(favorite_id))
    if favorite.user_id != collection.user_id:
        raise NotAllowed("only your own favorites can go into your collection")
    items = await _items(session, collection.id)
    for item in items:
        if item.favorite_id == favorite_id:
            return item
    if len(items) >= MAX_COLLECTION_ITEMS:
        raise Conflict(
            f"a collection holds at most {MAX_COLLECTION_ITEMS} items",
            max_items=MAX_COLLECTION_ITEMS,
        )
    target = len(items) if position is None else position
    if not 0 <= target <= len(items):
        raise InvalidInput(
            f"position {position} is outside 0..{len(items)}", position=position, last=len(items)
        )
    added = FavoriteCollectionItem(collection_id=collection.id, favorite_id=favorite_id)
    items.insert(target, added)
    _renumber(items)
    session.add(added)
    await session.flush()
    return added


async def move_item(
    session: AsyncSession, item_id: uuid.UUID, new_position: int, *, user_id: uuid.UUID
) -> FavoriteCollectionItem:
    """Move an item to `new_position` (0-based); the items in between shift by one."""
    collection_id = await _item_collection_id(session, item_id)
    await _owned_collection(session, collection_id, user_id, lock=True)
    items = await _items(session, collection_id)
    moved = next((item for item in items if item.id == item_id), None)
    if moved is None:  # removed by someone else while we waited for the lock
        raise NotFound(f"collection item {item_id} does not exist", item_id=str(item_id))
    if not 0 <= new_position < len(items):
        raise InvalidInput(
            f"position {new_position} is outside 0..{len(items) - 1}",
            position=new_position,
            last=len(items) - 1,
        )
    items.remove(moved)
    items.insert(new_position, moved)
    _renumber(items)
    await session.flush()
    return moved


async def remove_from_collection(
    session: AsyncSession, item_id: uuid.UUID, *, user_id: uuid.UUID
) -> bool:
    """Take an item out of its collection (the favorite stays); False if it was not there."""
    collection_id = (
        await session.execute(
            select(FavoriteCollectionItem.collection_id).where(FavoriteCollectionItem.id == item_id)
        )
    ).scalar_one_or_none()
    if collection_id is None:
        return False
    await _owned_collection(session, collection_id, user_id, lock=True)
    items = await _items(session, collection_id)
    removed = next((item for item in items if item.id == item_id), None)
    if removed is None:
        return False
    await session.delete(removed)
    _renumber([item for item in items if item is not removed])
    await session.flush()
    return True


async def delete_collection(
    session: AsyncSession, collection_id: uuid.UUID, *, user_id: uuid.UUID
) -> str:
    """Delete the owner's collection with its items and share links (the favorites stay);
    returns its name. The owner's other collections keep their order."""
    collection = await _owned_collection(session, collection_id, user_id, lock=True)
    name = collection.name
    await session.delete(collection)
    await session.flush()  # items and shares go with it (ON DELETE CASCADE)
    return name


# --------------------------------------------------------------------------------------------
# Sharing
# --------------------------------------------------------------------------------------------


async def share_collection(
    session: AsyncSession,
    collection_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    ttl: dt.timedelta = DEFAULT_SHARE_TTL,
    shared_with: uuid.UUID | None = None,
    institution_id: uuid.UUID | None = None,
    message: str | None = None,
    now: dt.datetime | None = None,
) -> FavoriteShare:
    """A link to the collection, valid for `ttl`; optionally only for one user
    (`shared_with`) or for the active members of one institution."""
    await _owned_collection(session, collection_id, owner_id)
    if not dt.timedelta(0) < ttl <= MAX_SHARE_TTL:
        raise InvalidInput(
            f"a share link lives more than 0 and at most {MAX_SHARE_TTL.days} days",
            max_days=MAX_SHARE_TTL.days,
        )
    shared_at = _aware(now) if now is not None else dt.datetime.now(dt.UTC)
    share = FavoriteShare(
        collection_id=collection_id,
        shared_by=owner_id,
        shared_with=shared_with,
        institution_id=institution_id,
        share_message=message,
        share_token=new_link_token(),
        shared_at=shared_at,
        expires_at=shared_at + ttl,
        is_revoked=False,
    )
    session.add(share)
    await session.flush()
    return share


async def open_share(
    session: AsyncSession,
    token: str,
    now: dt.datetime,
    *,
    viewer_id: uuid.UUID | None = None,
) -> FavoriteCollection:
    """The collection behind a share link. Unknown, expired, revoked, and links meant for
    someone else all raise the same NotFound."""
    now = _aware(now)
    if len(token) != LINK_TOKEN_LENGTH:
        raise NotFound(SHARE_NOT_FOUND)
    share = (
        await session.execute(select(FavoriteShare).where(FavoriteShare.share_token == token))
    ).scalar_one_or_none()
    if (
        share is None
        or share.is_revoked
        or share.expires_at <= now
        or not await _may_open(session, share, viewer_id)
    ):
        raise NotFound(SHARE_NOT_FOUND)
    collection = await session.get(FavoriteCollection, share.collection_id)
    assert collection is not None  # the share is deleted with its collection (CASCADE)
    return collection


async def revoke_share(
    session: AsyncSession,
    share_id: uuid.UUID,
    *,
    user_id: uuid.UUID,
    now: dt.datetime | None = None,
) -> bool:
    """Kill a share link now; True if it was live, False if it was already revoked."""
    share = await session.get(FavoriteShare, share_id, with_for_update=True)
    if share is None:
        raise NotFound(f"share {share_id} does not exist", share_id=str(share_id))
    await _owned_collection(session, share.collection_id, user_id)
    if share.is_revoked:
        return False
    share.is_revoked = True
    share.revoked_at = _aware(now) if now is not None else dt.datetime.now(dt.UTC)
    await session.flush()
    return True


# --------------------------------------------------------------------------------------------
# Trend rollup
# --------------------------------------------------------------------------------------------


async def rollup_favorite_trend(session: AsyncSession, day: dt.date) -> int:
    """Write FAVORITE_TREND for one UTC day from the usage log; return the rows written.

    One row per resource favorited or un-favorited that day. Running it again for the same day
    rewrites nothing unless the data changed (0 is returned), so the tick may retry freely.
    """
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    log = FavoriteUsageLog
    events = (
        select(
            log.resource_type,
            log.resource_id,
            func.count().filter(log.action_type == FavoriteAction.ADDED).label("added"),
            func.count().filter(log.action_type == FavoriteAction.REMOVED).label("removed"),
        )
        .where(
            log.action_at >= start,
            log.action_at < end,
            log.action_type.in_([FavoriteAction.ADDED, FavoriteAction.REMOVED]),
        )
        .group_by(log.resource_type, log.resource_id)
        .subquery("events")
    )
    favorite_count = (
        select(cast(func.count(), Integer))
        .where(
            Favorite.resource_type == events.c.resource_type,
            Favorite.resource_id == events.c.resource_id,
            Favorite.favorited_at < end,
        )
        .scalar_subquery()
    )
    totals = select(
        events.c.resource_type,
        events.c.resource_id,
        favorite_count.label("favorite_count"),
        cast(events.c.added, Integer).label("added"),
        cast(events.c.removed, Integer).label("removed"),
    ).subquery("totals")
    # Net growth, damped by popularity so a small resource can trend next to a famous one.
    score = cast(totals.c.added - totals.c.removed, Double) / func.sqrt(
        1 + cast(totals.c.favorite_count, Double)
    )
    statement = insert(FavoriteTrend).from_select(
        [
            "id",
            "resource_type",
            "resource_id",
            "trend_date",
            "favorite_count",
            "daily_favorites_added",
            "daily_favorites_removed",
            "trending_score",
        ],
        # The id in SQL: a Python-side default would be evaluated once for the whole SELECT.
        select(
            func.gen_random_uuid(),
            totals.c.resource_type,
            totals.c.resource_id,
            cast(literal(day), Date),
            totals.c.favorite_count,
            totals.c.added,
            totals.c.removed,
            score,
        ),
    )
    figures = [
        "favorite_count",
        "daily_favorites_added",
        "daily_favorites_removed",
        "trending_score",
    ]
    trend = FavoriteTrend.__table__.c
    statement = statement.on_conflict_do_update(
        index_elements=["trend_date", "resource_type", "resource_id"],
        set_={
            **{name: statement.excluded[name] for name in figures},
            "calculated_at": func.now(),
        },
        # Same figures: leave the row alone, so a rerun writes nothing.
        where=or_(*(trend[name].is_distinct_from(statement.excluded[name]) for name in figures)),
    )
    written = (await session.execute(statement.returning(trend.id))).scalars().all()
    return len(written)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _favorite_resource_type(value: FavoriteResourceType | str) -> FavoriteResourceType:
    try:
        return FavoriteResourceType(value)
    except ValueError:
        allowed = ", ".join(member.value for member in FavoriteResourceType)
        raise InvalidInput(
            f"{value!r} cannot be a favorite; expected one of {allowed}", resource_type=value
        ) from None


async def _require_resource(
    session: AsyncSession, kind: FavoriteResourceType, resource_id: uuid.UUID
) -> None:
    model = RESOURCE_MODELS[kind]
    table = model.__table__
    found = (await session.execute(select(exists().where(table.c.id == resource_id)))).scalar_one()
    if not found:
        raise NotFound(
            f"{kind.value.lower()} {resource_id} does not exist",
            resource_type=kind.value,
            resource_id=str(resource_id),
        )


def _favorite_query(
    user_id: uuid.UUID, kind: FavoriteResourceType, resource_id: uuid.UUID
) -> Select[Favorite]:
    return select(Favorite).where(
        Favorite.user_id == user_id,
        Favorite.resource_type == kind,
        Favorite.resource_id == resource_id,
    )


async def _log(
    session: AsyncSession,
    user_id: uuid.UUID,
    kind: FavoriteResourceType,
    resource_id: uuid.UUID,
    action: FavoriteAction,
    favorite_id: uuid.UUID | None,
) -> None:
    session.add(
        FavoriteUsageLog(
            favorite_id=favorite_id,
            user_id=user_id,
            resource_type=kind,
            resource_id=resource_id,
            action_type=action,
        )
    )
    await session.flush()


def _check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be 1..{MAX_PAGE_SIZE}", limit=limit)
    if offset < 0:
        raise InvalidInput("offset must not be negative", offset=offset)


def _aware(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise InvalidInput("a time without a timezone is ambiguous; pass an aware datetime")
    return moment


async def _owned_collection(
    session: AsyncSession,
    collection_id: uuid.UUID,
    user_id: uuid.UUID,
    *,
    lock: bool = False,
) -> FavoriteCollection:
    """The collection, if `user_id` owns it (NotFound / NotAllowed otherwise); `lock` holds
    its row until the end of the transaction so changes to one collection queue up."""
    query = select(FavoriteCollection).where(FavoriteCollection.id == collection_id)
    if lock:
        query = query.with_for_update()
    collection = (
        await session.execute(query.execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if collection is None:
        raise NotFound(
            f"collection {collection_id} does not exist", collection_id=str(collection_id)
        )
    if collection.user_id != user_id:
        raise NotAllowed("only its owner may change or share a collection")
    return collection


async def _item_collection_id(session: AsyncSession, item_id: uuid.UUID) -> uuid.UUID:
    collection_id = (
        await session.execute(
            select(FavoriteCollectionItem.collection_id).where(FavoriteCollectionItem.id == item_id)
        )
    ).scalar_one_or_none()
    if collection_id is None:
        raise NotFound(f"collection item {item_id} does not exist", item_id=str(item_id))
    return collection_id


async def _items(session: AsyncSession, collection_id: uuid.UUID) -> list[FavoriteCollectionItem]:
    query = (
        select(FavoriteCollectionItem)
        .where(FavoriteCollectionItem.collection_id == collection_id)
        .order_by(FavoriteCollectionItem.position, FavoriteCollectionItem.id)
        # Fresh from the database: positions may have moved since they were last loaded.
        .execution_options(populate_existing=True)
    )
    return list((await session.execute(query)).scalars())


def _renumber(items: Sequence[FavoriteCollectionItem]) -> None:
    """Positions 0 … n-1 in list order; only items whose position changes are written."""
    for position, item in enumerate(items):
        if item.position != position:
            item.position = position


async def _may_open(
    session: AsyncSession, share: FavoriteShare, viewer_id: uuid.UUID | None
) -> bool:
    if share.shared_with is not None and viewer_id != share.shared_with:
        return False
    if share.institution_id is None:
        return True
    if viewer_id is None:
        return False
    member = exists().where(
        InstitutionMember.institution_id == share.institution_id,
        InstitutionMember.user_id == viewer_id,
        InstitutionMember.is_active,
    )
    return bool((await session.execute(select(member))).scalar_one())
