"""Favorites: idempotent add/remove, ordered collections, share links, usage log, trend rollup."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.access import Visibility
from domain.models.enums import ResourceType
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise
from domain.models.favorite import (
    Favorite,
    FavoriteAction,
    FavoriteCollection,
    FavoriteCollectionItem,
    FavoriteResourceType,
    FavoriteTrend,
    FavoriteUsageLog,
)
from domain.models.institution import Institution, InstitutionMember
from domain.models.user import User
from domain.services import favorites
from tests.conftest import DatabaseFactory, own_database

EXERCISE = FavoriteResourceType.EXERCISE
UTC = dt.UTC


@pytest.fixture(scope="module")
async def engine(database_factory: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    """A database of this module's own (the conftest's ``session`` runs on it): the rollups
    count every row of a day, and conversation tests commit favorites and ratings into the
    shared one."""
    async with own_database(database_factory, "mf_rollup") as engine:
        yield engine


async def new_user(session: AsyncSession, name: str) -> uuid.UUID:
    user = User(first_name=name)
    session.add(user)
    await session.flush()
    return user.id


async def exercise_ids(session: AsyncSession, count: int) -> list[uuid.UUID]:
    query = select(Exercise.id).where(Exercise.owner_id.is_(None)).order_by(Exercise.code)
    return list((await session.execute(query.limit(count))).scalars())


async def usage_log(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[FavoriteAction, uuid.UUID | None]]:
    query = (
        select(FavoriteUsageLog.action_type, FavoriteUsageLog.favorite_id)
        .where(FavoriteUsageLog.user_id == user_id)
        .order_by(FavoriteUsageLog.action_at, FavoriteUsageLog.action_type)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def favorite_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Favorite).where(Favorite.user_id == user_id)
    return (await session.execute(query)).scalar_one()


# --------------------------------------------------------------------------------------------
# Favorites
# --------------------------------------------------------------------------------------------


async def test_adding_twice_keeps_one_row_and_logs_once(session: AsyncSession) -> None:
    user = await new_user(session, "Ada")
    (squat,) = await exercise_ids(session, 1)

    first = await favorites.add_favorite(session, user, EXERCISE, squat)
    second = await favorites.add_favorite(session, user, "EXERCISE", squat)

    assert second.id == first.id
    assert await favorite_count(session, user) == 1
    assert await usage_log(session, user) == [(FavoriteAction.ADDED, first.id)]


async def test_removing_is_idempotent_and_logged(session: AsyncSession) -> None:
    user = await new_user(session, "Ada")
    (squat,) = await exercise_ids(session, 1)
    added = await favorites.add_favorite(session, user, EXERCISE, squat)

    assert await favorites.remove_favorite(session, user, EXERCISE, squat) is True
    assert await favorites.remove_favorite(session, user, EXERCISE, squat) is False

    assert await favorite_count(session, user) == 0
    log = await usage_log(session, user)
    assert sorted(action for action, _ in log) == [FavoriteAction.ADDED, FavoriteAction.REMOVED]
    # The log outlives the favorite: the link is cleared, the resource is still named.
    assert all(favorite_id is None for _, favorite_id in log)
    named = (
        await session.execute(
            select(FavoriteUsageLog.resource_id).where(FavoriteUsageLog.user_id == user)
        )
    ).scalars()
    assert set(named) == {squat}
    assert added.id not in {favorite_id for _, favorite_id in log}


async def test_removing_what_was_never_a_favorite_is_false(session: AsyncSession) -> None:
    user = await new_user(session, "Ada")
    (squat,) = await exercise_ids(session, 1)
    assert await favorites.remove_favorite(session, user, EXERCISE, squat) is False
    assert await usage_log(session, user) == []


async def test_unknown_resources_are_refused(session: AsyncSession) -> None:
    user = await new_user(session, "Ada")
    with pytest.raises(NotFound, match=r"exercise .* does not exist"):
        await favorites.add_favorite(session, user, EXERCISE, uuid.uuid4())
    with pytest.raises(InvalidInput, match="'GOAL' cannot be a favorite"):
        await favorites.add_favorite(session, user, "GOAL", uuid.uuid4())
    assert await favorite_count(session, user) == 0


async def test_database_allows_one_favorite_per_user_and_resource(session: AsyncSession) -> None:
    user = await new_user(session, "Ada")
    (squat,) = await exercise_ids(session, 1)
    await favorites.add_favorite(session, user, EXERCISE, squat)
    async with session.begin_nested() as savepoint:
        session.add(Favorite(user_id=user, resource_type=EXERCISE, resource_id=squat))
        with pytest.raises(IntegrityError, match="uq_favorite_user_id_resource_type_resource_id"):
            await session.flush()
        await savepoint.rollback()


async def test_list_favorites_filters_by_type_and_pages(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    ivan = await new_user(session, "Ivan")
    exercises = await exercise_ids(session, 3)
    barbell = (
        await session.execute(select(Equipment.id).where(Equipment.code == "barbell"))
    ).scalar_one()
    for exercise_id in exercises:
        await favorites.add_favorite(session, ada, EXERCISE, exercise_id)
    await favorites.add_favorite(session, ada, FavoriteResourceType.EQUIPMENT, barbell)
    await favorites.add_favorite(session, ivan, EXERCISE, exercises[0])

    everything = await favorites.list_favorites(session, ada, limit=10, offset=0)
    assert {f.resource_id for f in everything} == {*exercises, barbell}
    only_exercises = await favorites.list_favorites(session, ada, EXERCISE, limit=10, offset=0)
    assert {f.resource_id for f in only_exercises} == set(exercises)
    first_page = await favorites.list_favorites(session, ada, limit=3, offset=0)
    second_page = await favorites.list_favorites(session, ada, limit=3, offset=3)
    assert len(first_page) == 3
    assert len(second_page) == 1
    assert {f.id for f in first_page} | {f.id for f in second_page} == {f.id for f in everything}
    with pytest.raises(InvalidInput, match="limit"):
        await favorites.list_favorites(session, ada, limit=0, offset=0)
    with pytest.raises(InvalidInput, match="offset"):
        await favorites.list_favorites(session, ada, limit=5, offset=-1)


async def test_concurrent_adds_leave_one_row(engine: AsyncEngine) -> None:
    """Two sessions favoriting the same thing at once: ON CONFLICT keeps one row."""
    async with AsyncSession(engine) as setup, setup.begin():
        user = await new_user(setup, "Racer")
        (squat,) = await exercise_ids(setup, 1)
    try:

        async def add() -> uuid.UUID:
            async with AsyncSession(engine) as racer, racer.begin():
                return (await favorites.add_favorite(racer, user, EXERCISE, squat)).id

        ids = await asyncio.gather(add(), add())
        async with AsyncSession(engine) as check:
            assert await favorite_count(check, user) == 1
            assert len(await usage_log(check, user)) == 1
        assert ids[0] == ids[1]
    finally:
        # The user's favorites and log rows go with it (ON DELETE CASCADE).
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(User).where(User.id == user))


# --------------------------------------------------------------------------------------------
# Collections
# --------------------------------------------------------------------------------------------


async def positions(session: AsyncSession, collection_id: uuid.UUID) -> list[uuid.UUID]:
    """Favorite ids in position order, after checking the positions are exactly 0 … n-1."""
    rows = (
        await session.execute(
            select(FavoriteCollectionItem.position, FavoriteCollectionItem.favorite_id)
            .where(FavoriteCollectionItem.collection_id == collection_id)
            .order_by(FavoriteCollectionItem.position)
        )
    ).all()
    assert [row.position for row in rows] == list(range(len(rows)))
    return [row.favorite_id for row in rows]


async def check_positions_now(session: AsyncSession) -> None:
    """Run the deferred uniqueness check now (the test transaction never commits)."""
    await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))
    await session.execute(text("SET CONSTRAINTS ALL DEFERRED"))


async def collection_with(
    session: AsyncSession, user: uuid.UUID, count: int, name: str = "Leg day"
) -> tuple[FavoriteCollection, list[uuid.UUID]]:
    collection = await favorites.create_collection(session, user, name)
    favorite_ids = []
    for exercise_id in await exercise_ids(session, count):
        favorite = await favorites.add_favorite(session, user, EXERCISE, exercise_id)
        await favorites.add_to_collection(session, collection.id, favorite.id, user_id=user)
        favorite_ids.append(favorite.id)
    return collection, favorite_ids


async def item_of(
    session: AsyncSession, collection_id: uuid.UUID, favorite_id: uuid.UUID
) -> uuid.UUID:
    query = select(FavoriteCollectionItem.id).where(
        FavoriteCollectionItem.collection_id == collection_id,
        FavoriteCollectionItem.favorite_id == favorite_id,
    )
    return (await session.execute(query)).scalar_one()


async def test_collection_names_are_unique_per_user(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    ivan = await new_user(session, "Ivan")
    first = await favorites.create_collection(session, ada, "Hotel gym")
    second = await favorites.create_collection(session, ada, "Rehab")
    assert (first.sort_order, second.sort_order) == (0, 1)
    with pytest.raises(Conflict, match="already have a collection named 'Hotel gym'"):
        await favorites.create_collection(session, ada, "  Hotel gym ")
    same_name_other_user = await favorites.create_collection(session, ivan, "Hotel gym")
    assert same_name_other_user.user_id == ivan
    with pytest.raises(InvalidInput, match="1 to 100 characters"):
        await favorites.create_collection(session, ada, "   ")


async def test_append_and_insert_at_a_position(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, (a, b, c) = await collection_with(session, ada, 3)
    assert await positions(session, collection.id) == [a, b, c]

    (extra,) = (await exercise_ids(session, 4))[3:]
    d = (await favorites.add_favorite(session, ada, EXERCISE, extra)).id
    item = await favorites.add_to_collection(session, collection.id, d, 1, user_id=ada)
    assert item.position == 1
    assert await positions(session, collection.id) == [a, d, b, c]

    again = await favorites.add_to_collection(session, collection.id, a, user_id=ada)
    assert again.position == 0
    assert await positions(session, collection.id) == [a, d, b, c]
    await check_positions_now(session)


async def test_insert_position_out_of_range_is_refused(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, _ = await collection_with(session, ada, 2)
    (extra,) = (await exercise_ids(session, 3))[2:]
    favorite = await favorites.add_favorite(session, ada, EXERCISE, extra)
    with pytest.raises(InvalidInput, match=r"position 3 is outside 0\.\.2"):
        await favorites.add_to_collection(session, collection.id, favorite.id, 3, user_id=ada)
    with pytest.raises(InvalidInput, match="position -1"):
        await favorites.add_to_collection(session, collection.id, favorite.id, -1, user_id=ada)


async def test_move_up_and_down_keeps_positions_dense(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, (a, b, c, d) = await collection_with(session, ada, 4)

    moved = await favorites.move_item(
        session, await item_of(session, collection.id, d), 0, user_id=ada
    )
    assert moved.position == 0
    assert await positions(session, collection.id) == [d, a, b, c]

    await favorites.move_item(session, await item_of(session, collection.id, d), 3, user_id=ada)
    assert await positions(session, collection.id) == [a, b, c, d]

    await favorites.move_item(session, await item_of(session, collection.id, b), 2, user_id=ada)
    assert await positions(session, collection.id) == [a, c, b, d]

    await favorites.move_item(session, await item_of(session, collection.id, a), 0, user_id=ada)
    assert await positions(session, collection.id) == [a, c, b, d]
    await check_positions_now(session)

    with pytest.raises(InvalidInput, match=r"position 4 is outside 0\.\.3"):
        await favorites.move_item(session, await item_of(session, collection.id, a), 4, user_id=ada)
    with pytest.raises(NotFound):
        await favorites.move_item(session, uuid.uuid4(), 0, user_id=ada)


async def test_remove_from_collection_keeps_positions_dense(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, (a, b, c, d) = await collection_with(session, ada, 4)
    item = await item_of(session, collection.id, b)

    assert await favorites.remove_from_collection(session, item, user_id=ada) is True
    assert await positions(session, collection.id) == [a, c, d]
    assert await favorites.remove_from_collection(session, item, user_id=ada) is False
    # Only the item left; the favorite itself stays.
    assert await session.get(Favorite, b) is not None
    listed = await favorites.list_collection_items(session, collection.id, user_id=ada)
    assert [i.favorite_id for i in listed] == [a, c, d]
    await check_positions_now(session)


async def test_unfavoriting_closes_the_gap_in_every_collection(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    legs, (a, b, c) = await collection_with(session, ada, 3, "Legs")
    travel = await favorites.create_collection(session, ada, "Travel")
    for favorite_id in (b, a):
        await favorites.add_to_collection(session, travel.id, favorite_id, user_id=ada)
    favorite_b = await session.get(Favorite, b)
    assert favorite_b is not None

    assert await favorites.remove_favorite(session, ada, EXERCISE, favorite_b.resource_id)
    assert await positions(session, legs.id) == [a, c]
    assert await positions(session, travel.id) == [a]
    await check_positions_now(session)


async def test_position_uniqueness_is_checked_at_commit(session: AsyncSession) -> None:
    """Deferred: a duplicate position may exist mid-transaction, never at COMMIT."""
    ada = await new_user(session, "Ada")
    collection, (a, b) = await collection_with(session, ada, 2)
    clash = (
        update(FavoriteCollectionItem)
        .where(FavoriteCollectionItem.favorite_id == b)
        .values(position=0)
    )
    async with session.begin_nested() as savepoint:
        await session.execute(clash)  # accepted: the check waits for COMMIT …
        with pytest.raises(
            IntegrityError, match="uq_favorite_collection_item_collection_id_position"
        ):
            await session.execute(text("SET CONSTRAINTS ALL IMMEDIATE"))  # … which this forces
        await savepoint.rollback()
    await session.execute(text("SET CONSTRAINTS ALL DEFERRED"))
    assert await positions(session, collection.id) == [a, b]


async def test_another_user_cannot_change_a_collection(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    eve = await new_user(session, "Eve")
    collection, (a, b) = await collection_with(session, ada, 2)
    item = await item_of(session, collection.id, a)
    (other,) = (await exercise_ids(session, 3))[2:]
    eves_favorite = await favorites.add_favorite(session, eve, EXERCISE, other)
    share = await favorites.share_collection(session, collection.id, ada)

    attempts = [
        favorites.add_to_collection(session, collection.id, eves_favorite.id, user_id=eve),
        favorites.move_item(session, item, 1, user_id=eve),
        favorites.remove_from_collection(session, item, user_id=eve),
        favorites.share_collection(session, collection.id, eve),
        favorites.revoke_share(session, share.id, user_id=eve),
        favorites.list_collection_items(session, collection.id, user_id=eve),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed, match="owner"):
            await attempt
    # Nor may Ada file Eve's favorite in her own collection.
    with pytest.raises(NotAllowed, match="your own favorites"):
        await favorites.add_to_collection(session, collection.id, eves_favorite.id, user_id=ada)
    assert await positions(session, collection.id) == [a, b]
    assert share.is_revoked is False


# --------------------------------------------------------------------------------------------
# Sharing
# --------------------------------------------------------------------------------------------


async def test_share_link_opens_until_expired_or_revoked(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, _ = await collection_with(session, ada, 1)
    now = dt.datetime(2026, 11, 21, 12, tzinfo=UTC)
    share = await favorites.share_collection(
        session, collection.id, ada, ttl=dt.timedelta(days=2), now=now
    )
    other = await favorites.share_collection(session, collection.id, ada, now=now)

    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", share.share_token)
    assert share.share_token != other.share_token
    assert share.expires_at == now + dt.timedelta(days=2)
    assert other.expires_at == now + dt.timedelta(days=7)  # the default TTL
    opened = await favorites.open_share(session, share.share_token, now + dt.timedelta(days=1))
    assert opened.id == collection.id

    failures: list[NotFound] = []
    for token, moment in [
        (share.share_token, share.expires_at),  # expired (the end is exclusive)
        ("x" * 43, now),  # unknown
        ("short", now),  # not even a token
    ]:
        with pytest.raises(NotFound) as error:
            await favorites.open_share(session, token, moment)
        failures.append(error.value)

    assert await favorites.revoke_share(session, other.id, user_id=ada) is True
    assert await favorites.revoke_share(session, other.id, user_id=ada) is False
    with pytest.raises(NotFound) as revoked:
        await favorites.open_share(session, other.share_token, now)
    failures.append(revoked.value)

    # No oracle: whatever the reason, the same error says the same thing.
    assert {(type(e), e.code, str(e), tuple(e.params.items())) for e in failures} == {
        (NotFound, "not_found", favorites.SHARE_NOT_FOUND, ())
    }


async def test_share_ttl_must_be_positive_and_bounded(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    collection, _ = await collection_with(session, ada, 1)
    for ttl in (dt.timedelta(0), dt.timedelta(days=-1), dt.timedelta(days=366)):
        with pytest.raises(InvalidInput, match="share link lives"):
            await favorites.share_collection(session, collection.id, ada, ttl=ttl)
    with pytest.raises(InvalidInput, match="timezone"):
        await favorites.open_share(session, "x" * 43, dt.datetime(2026, 1, 1))  # noqa: DTZ001


async def test_share_for_one_person_or_one_institution(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    ivan = await new_user(session, "Ivan")
    eve = await new_user(session, "Eve")
    collection, _ = await collection_with(session, ada, 1)
    now = dt.datetime.now(UTC)

    personal = await favorites.share_collection(session, collection.id, ada, shared_with=ivan)
    assert (await favorites.open_share(session, personal.share_token, now, viewer_id=ivan)).id
    for viewer in (eve, None):
        with pytest.raises(NotFound, match=favorites.SHARE_NOT_FOUND):
            await favorites.open_share(session, personal.share_token, now, viewer_id=viewer)

    visibility = (
        await session.execute(
            select(Visibility.id).where(
                Visibility.resource_type == ResourceType.INSTITUTION, Visibility.is_default
            )
        )
    ).scalar_one()
    gym = Institution(name="Forge Gym", created_by=ada, visibility_id=visibility)
    session.add(gym)
    await session.flush()
    session.add(InstitutionMember(institution_id=gym.id, user_id=ivan))
    session.add(InstitutionMember(institution_id=gym.id, user_id=eve, is_active=False))
    await session.flush()
    members_only = await favorites.share_collection(
        session, collection.id, ada, institution_id=gym.id
    )
    opened = await favorites.open_share(session, members_only.share_token, now, viewer_id=ivan)
    assert opened.id == collection.id
    for viewer in (eve, None):  # a former member, an anonymous visitor
        with pytest.raises(NotFound, match=favorites.SHARE_NOT_FOUND):
            await favorites.open_share(session, members_only.share_token, now, viewer_id=viewer)


# --------------------------------------------------------------------------------------------
# Trend rollup
# --------------------------------------------------------------------------------------------


async def trend_rows(
    session: AsyncSession, day: dt.date, resources: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, int, int, float, dt.datetime]]:
    rows = (
        await session.execute(
            select(FavoriteTrend).where(
                FavoriteTrend.trend_date == day, FavoriteTrend.resource_id.in_(resources)
            )
        )
    ).scalars()
    return {
        row.resource_id: (
            row.favorite_count,
            row.daily_favorites_added,
            row.daily_favorites_removed,
            row.trending_score,
            row.calculated_at,
        )
        for row in rows
    }


async def test_rollup_counts_a_day_and_is_idempotent(session: AsyncSession) -> None:
    ada = await new_user(session, "Ada")
    ivan = await new_user(session, "Ivan")
    squat, deadlift, lunge = await exercise_ids(session, 3)
    await favorites.add_favorite(session, ada, EXERCISE, squat)
    await favorites.add_favorite(session, ivan, EXERCISE, squat)
    await favorites.add_favorite(session, ada, EXERCISE, deadlift)
    await favorites.remove_favorite(session, ada, EXERCISE, deadlift)
    # Everything above happened "now", the transaction's time, on this UTC day.
    today = (await session.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date"))).scalar_one()
    resources = [squat, deadlift, lunge]

    written = await favorites.rollup_favorite_trend(session, today)
    first = await trend_rows(session, today, resources)
    assert written == 2
    assert {key: value[:3] for key, value in first.items()} == {
        squat: (2, 2, 0),
        deadlift: (0, 1, 1),
    }
    assert first[squat][3] == pytest.approx(2 / math.sqrt(3))
    assert first[deadlift][3] == 0

    assert await favorites.rollup_favorite_trend(session, today) == 0
    assert await trend_rows(session, today, resources) == first  # calculated_at included

    # A change since the last run rewrites that resource's row only.
    await favorites.add_favorite(session, ivan, EXERCISE, deadlift)
    assert await favorites.rollup_favorite_trend(session, today) == 1
    third = await trend_rows(session, today, resources)
    assert third[deadlift][:3] == (1, 2, 1)
    assert third[squat] == first[squat]

    yesterday = today - dt.timedelta(days=1)
    await favorites.rollup_favorite_trend(session, yesterday)
    assert await trend_rows(session, yesterday, resources) == {}
