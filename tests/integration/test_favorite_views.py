"""Access-checked favorites (domain.services.favorite_views): favoriting needs READ, lists show
only what the person may read with names in their language, collections are the owner's."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.enums import ResourceType
from domain.models.workout import Workout
from domain.services import favorite_views as views
from tests.integration.favorites_world import (
    catalogue_exercise,
    new_member,
    new_program,
    new_workout,
    row_counts,
    visibility,
)

WORKOUT = "WORKOUT"
EXERCISE = "EXERCISE"


async def test_favoriting_needs_read_and_writes_nothing_when_refused(
    session: AsyncSession,
) -> None:
    ada = await new_member(session, "Ada")
    bob = await new_member(session, "Bob")
    private = await new_workout(session, bob, "Bob's secret", level="PRIVATE")
    public = await new_workout(session, bob, "Bob's open day")

    with pytest.raises(NotAllowed):
        await views.set_favorite(session, ada, WORKOUT, private, True)
    with pytest.raises(NotAllowed):
        await views.set_favorite(session, ada, WORKOUT, uuid.uuid4(), True)
    assert (await row_counts(session, ada))["favorites"] == 0

    assert await views.set_favorite(session, ada, WORKOUT, public, True) is True
    assert await views.set_favorite(session, ada, WORKOUT, public, True) is True  # idempotent
    assert await views.is_favorite(session, ada, WORKOUT, public)
    assert (await row_counts(session, ada))["favorites"] == 1
    # Bob's own private workout is his to favorite.
    assert await views.set_favorite(session, bob, WORKOUT, private, True) is True

    assert await views.set_favorite(session, ada, WORKOUT, public, False) is False
    assert not await views.is_favorite(session, ada, WORKOUT, public)
    # Removing what is not a favorite (even a forged id) changes nothing.
    assert await views.set_favorite(session, ada, WORKOUT, private, False) is False
    assert (await row_counts(session, bob))["favorites"] == 1


async def test_only_workouts_exercises_and_programs(session: AsyncSession) -> None:
    ada = await new_member(session)
    with pytest.raises(InvalidInput):
        await views.set_favorite(session, ada, "INSTITUTION", uuid.uuid4(), True)
    with pytest.raises(InvalidInput):
        views.favorite_kind("GOAL")
    assert views.favorite_kind("exercise") == EXERCISE


async def test_pages_are_visible_only_newest_first_and_localized(session: AsyncSession) -> None:
    ada = await new_member(session)
    bob = await new_member(session, "Bob")
    codes = ["back_squat", "front_squat", "box_squat"]
    exercises = [await catalogue_exercise(session, code) for code in codes]
    for exercise in exercises:
        await views.set_favorite(session, ada, EXERCISE, exercise, True)
    page = await views.favorites_page(session, ada, EXERCISE, locale="fr", limit=2)
    assert page.total == 3
    assert len(page.entries) == 2
    assert page.has_next
    assert not page.has_previous
    second = await views.favorites_page(session, ada, EXERCISE, locale="fr", offset=2, limit=2)
    assert len(second.entries) == 1
    assert second.has_previous
    assert not second.has_next
    # The pages split the favorites (one transaction: same favorited_at, ties broken by id).
    names = [entry.name for entry in page.entries + second.entries]
    assert sorted(names) == ["Squat arrière", "Squat avant", "Squat sur box"]
    # Past the end: the last page.
    last = await views.favorites_page(session, ada, EXERCISE, locale="en", offset=40, limit=2)
    assert last.offset == 2

    # A favorite that turned private to someone else drops out of the list (and the count).
    open_day = await new_workout(session, bob, "Open day")
    await views.set_favorite(session, ada, WORKOUT, open_day, True)
    assert (await views.favorites_page(session, ada, WORKOUT, locale="en")).total == 1
    await session.execute(
        update(Workout)
        .where(Workout.id == open_day)
        .values(visibility_id=await visibility(session, ResourceType.WORKOUT, "PRIVATE"))
    )
    assert (await views.favorites_page(session, ada, WORKOUT, locale="en")).total == 0


async def test_detail_says_favorite_and_collections(session: AsyncSession) -> None:
    ada = await new_member(session)
    program = await new_program(session, None, "Couch to 5k")
    detail = await views.favorite_detail(session, ada, "PROGRAM", program, locale="en")
    assert detail.resource.name == "Couch to 5k"
    assert not detail.is_favorite
    assert detail.collections == ()
    await views.set_favorite(session, ada, "PROGRAM", program, True)
    trip = await views.new_collection(session, ada, "Trip")
    await views.add_to_collection(session, ada, trip.id, "PROGRAM", program)
    detail = await views.favorite_detail(session, ada, "PROGRAM", program, locale="en")
    assert detail.is_favorite
    assert [collection.name for collection in detail.collections] == ["Trip"]
    assert detail.collections[0].item_count == 1


async def test_collection_names_are_checked(session: AsyncSession) -> None:
    ada = await new_member(session)
    created = await views.new_collection(session, ada, "  Hotel   gym ")
    assert created.name == "Hotel gym"
    with pytest.raises(views.CollectionNameTaken) as taken:
        await views.new_collection(session, ada, "hotel GYM")
    assert taken.value.params["name"] == "Hotel gym"
    for bad in ("", "   ", "x" * 101, "two\nlines"):
        with pytest.raises(views.CollectionNameInvalid):
            await views.new_collection(session, ada, bad)
    assert (await row_counts(session, ada))["collections"] == 1
    # Another person may use the same name.
    bob = await new_member(session, "Bob")
    await views.new_collection(session, bob, "Hotel gym")


async def test_collection_limit(session: AsyncSession) -> None:
    ada = await new_member(session)
    for number in range(views.MAX_COLLECTIONS):
        await views.new_collection(session, ada, f"C{number}")
    with pytest.raises(views.TooManyCollections):
        await views.new_collection(session, ada, "One more")
    page = await views.collections_page(session, ada, offset=views.PAGE_SIZE)
    assert page.total == views.MAX_COLLECTIONS
    assert next(c.name for c in page.entries) == f"C{views.PAGE_SIZE}"


async def test_collections_belong_to_their_owner(session: AsyncSession) -> None:
    ada = await new_member(session)
    bob = await new_member(session, "Bob")
    squat = await catalogue_exercise(session, "back_squat")
    await views.set_favorite(session, ada, EXERCISE, squat, True)
    await views.set_favorite(session, bob, EXERCISE, squat, True)
    adas = await views.new_collection(session, ada, "Legs")
    bobs = await views.new_collection(session, bob, "Legs")

    with pytest.raises(views.NotAFavorite):
        await views.add_to_collection(
            session, ada, adas.id, EXERCISE, await catalogue_exercise(session, "front_squat")
        )
    added = await views.add_to_collection(session, ada, adas.id, EXERCISE, squat)
    assert added.item_count == 1
    # Bob cannot read, fill, empty or delete Ada's collection.
    with pytest.raises(NotAllowed):
        await views.collection_view(session, bob, adas.id, locale="en")
    with pytest.raises(NotAllowed):
        await views.add_to_collection(session, bob, adas.id, EXERCISE, squat)
    view = await views.collection_view(session, ada, adas.id, locale="en")
    (item,) = view.items
    assert item.favorite.name == "Back Squat"
    with pytest.raises(NotAllowed):
        await views.remove_from_collection(session, bob, item.item_id)
    with pytest.raises(NotAllowed):
        await views.delete_collection(session, bob, adas.id)
    with pytest.raises(NotFound):
        await views.collection_view(session, ada, uuid.uuid4(), locale="en")
    assert (await row_counts(session, ada))["items"] == 1

    assert await views.remove_from_collection(session, ada, item.item_id) == adas.id
    assert await views.remove_from_collection(session, ada, item.item_id) is None
    assert (await views.collection_view(session, ada, adas.id, locale="en")).items == ()
    assert await views.delete_collection(session, ada, adas.id) == "Legs"
    counts = await row_counts(session, ada)
    assert counts["collections"] == 0
    assert counts["favorites"] == 1
    assert (await views.collection_view(session, bob, bobs.id, locale="en")).name == "Legs"


async def test_exercise_search(session: AsyncSession) -> None:
    ada = await new_member(session)
    found = await views.search_exercises(session, ada, "back squat", locale="en")
    assert found[0].name == "Back Squat"
    found = await views.search_exercises(session, ada, "squat arr", locale="fr")
    assert found[0].name == "Squat arrière"
    # Typos and aliases: the log's matcher comes first.
    found = await views.search_exercises(session, ada, "sqaut", locale="en")
    assert found[0].name == "Back Squat"
    assert len(found) <= views.SEARCH_LIMIT
    assert await views.search_exercises(session, ada, "%%", locale="en") == []
    for bad in ("a", " ", "x" * 51):
        with pytest.raises(views.SearchTextInvalid):
            await views.search_exercises(session, ada, bad, locale="en")
