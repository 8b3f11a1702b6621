"""/favorites through the emulator: adding an exercise by name, the ☆/★ button under another
screen's message, collections (create, add, take out, delete), paging, refused input with
nothing changed, forged callback data (someone else's private workout or collection)."""

from __future__ import annotations

import uuid

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import select

from bot.handlers.favorites import (
    CollDelete,
    CollOpen,
    FavInto,
    FavOpen,
    FavoriteToggle,
    favorite_button,
    short_id,
)
from domain.models.exercise import Exercise
from domain.models.favorite import FavoriteResourceType
from domain.services import favorite_views as views
from tests.conversations.conftest import Harness
from tests.integration.favorites_world import (
    catalogue_exercise,
    new_member,
    new_workout,
    row_counts,
)

WORKOUT = FavoriteResourceType.WORKOUT
NOT_ALLOWED = "Sorry, you are not allowed to do that."


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def counts(harness: Harness, user_id: uuid.UUID) -> dict[str, int]:
    async with harness.session_factory() as session:
        return await row_counts(session, user_id)


async def someone_else(harness: Harness) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Another member with a private workout and a collection: (user, workout, collection)."""
    async with harness.session_factory() as session, session.begin():
        bob = await new_member(session, "Bob")
        secret = await new_workout(session, bob, f"Secret {uuid.uuid4().hex[:6]}", level="PRIVATE")
        squat = await catalogue_exercise(session, "back_squat")
        await views.set_favorite(session, bob, "EXERCISE", squat, True)
        collection = await views.new_collection(session, bob, "Bob's legs")
        await views.add_to_collection(session, bob, collection.id, "EXERCISE", squat)
    return bob, secret, collection.id


async def test_add_an_exercise_by_name_and_remove_it(harness: Harness) -> None:
    amy = harness.user("amy")
    replies = await amy.send("/favorites")
    overview = replies[-1]
    assert "⭐ Your favorites" in overview.text
    assert "Exercises: 0" in overview.text
    assert "📁 Collections (0)" in overview.labels()
    amy_id = await harness.user_id(amy)

    replies = await amy.tap("➕ Add an exercise")
    assert "Type the name of an exercise" in replies[-1].text
    before = await counts(harness, amy_id)
    replies = await amy.send("q")
    assert "Please type 2–50 characters" in replies[-1].text
    replies = await amy.send("zzqxzzqx")
    assert "No exercise matches “zzqxzzqx”" in replies[-1].text
    replies = await amy.send_sticker()
    assert "Please type it as text" in replies[-1].text
    assert await counts(harness, amy_id) == before

    replies = await amy.send("back squat")
    assert replies[-1].labels()[0] == "☆ Back Squat"
    replies = await amy.tap("☆ Back Squat")
    assert amy.callback_answers[-1].text == "Added to your favorites."
    assert "Back Squat" in replies[-1].text
    assert "In your favorites." in replies[-1].text
    assert (await counts(harness, amy_id))["favorites"] == 1
    # The search step is over: the same text is not read as a search any more.
    replies = await amy.send("front squat")
    assert "☆ Front Squat" not in replies[-1].labels()

    replies = await amy.send("/favorites")
    assert "Exercises: 1" in replies[-1].text
    assert "• Back Squat" in replies[-1].text
    await amy.tap("💪 Exercises (1)")
    replies = await amy.tap("Back Squat")
    replies = await amy.tap("★ Remove from favorites")
    assert amy.callback_answers[-1].text == "Removed from your favorites."
    assert "No favorite exercises yet." in replies[-1].text
    assert (await counts(harness, amy_id))["favorites"] == 0


async def test_the_favorite_button_under_another_message(harness: Harness) -> None:
    ben = harness.user("ben")
    await ben.send("/favorites")
    ben_id = await harness.user_id(ben)
    async with harness.session_factory() as session, session.begin():
        legs = await new_workout(session, None, f"Library legs {uuid.uuid4().hex[:6]}")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [favorite_button("WORKOUT", legs, is_favorite=False, locale="en")],
            [InlineKeyboardButton(text="Something else", callback_data="elsewhere")],
        ]
    )
    await harness.application.bot.send_message(ben.user_id, "Today: legs", reply_markup=keyboard)
    screen = await ben.wait_for(lambda message: message.text == "Today: legs")
    assert screen.labels() == ["☆ Add to favorites", "Something else"]

    replies = await ben.tap("☆ Add to favorites", message=screen)
    assert ben.callback_answers[-1].text == "Added to your favorites."
    # Only the pressed button changed.
    assert replies[-1].labels() == ["★ Remove from favorites", "Something else"]
    assert replies[-1].text == "Today: legs"
    assert (await counts(harness, ben_id))["favorites"] == 1
    replies = await ben.send("/favorites")
    assert "Workouts: 1" in replies[-1].text

    await ben.tap("★ Remove from favorites", message=screen)
    assert ben.callback_answers[-1].text == "Removed from your favorites."
    assert (await counts(harness, ben_id))["favorites"] == 0


async def test_forged_ids_are_refused_and_nothing_is_written(harness: Harness) -> None:
    cy = harness.user("cy")
    screen = (await cy.send("/favorites"))[-1]
    cy_id = await harness.user_id(cy)
    bob, secret, bobs_collection = await someone_else(harness)
    bob_before = await counts(harness, bob)
    async with harness.session_factory() as session, session.begin():
        squat = await catalogue_exercise(session, "back_squat")
        await views.set_favorite(session, cy_id, "EXERCISE", squat, True)
    before = await counts(harness, cy_id)

    forged = [
        FavoriteToggle.of(WORKOUT, secret, on=True).pack(),
        FavoriteToggle.of(WORKOUT, uuid.uuid4(), on=True).pack(),
        FavOpen(kind="w", id=short_id(secret)).pack(),
        CollOpen(collection=short_id(bobs_collection), offset=0).pack(),
        FavInto(collection=short_id(bobs_collection), kind="e", id=short_id(squat)).pack(),
        CollDelete(collection=short_id(bobs_collection), confirmed=True).pack(),
    ]
    for data in forged:
        await cy.press_data(data, message=screen)
        assert cy.callback_answers[-1].text == NOT_ALLOWED, data
        assert cy.callback_answers[-1].show_alert
    for data in ("fvt:w:not-an-id:1", "fvt:x:" + short_id(secret) + ":1", "fvl:z:0", "fvl:w:-8"):
        await cy.press_data(data, message=screen)
        assert cy.callback_answers[-1].text == "That is not one of the choices.", data
    assert await counts(harness, cy_id) == before
    assert await counts(harness, bob) == bob_before


async def test_collections_create_add_take_out_delete(harness: Harness) -> None:
    dee = harness.user("dee")
    await dee.send("/favorites")
    dee_id = await harness.user_id(dee)
    async with harness.session_factory() as session, session.begin():
        squat = await catalogue_exercise(session, "back_squat")
        await views.set_favorite(session, dee_id, "EXERCISE", squat, True)

    await dee.send("/favorites")
    replies = await dee.tap("📁 Collections (0)")
    assert "No collection yet" in replies[-1].text
    replies = await dee.tap("➕ New collection")
    assert "Type a name for the new collection" in replies[-1].text
    before = await counts(harness, dee_id)
    replies = await dee.send("x" * 101)
    assert "A collection name is one line of 1 to 100 characters." in replies[-1].text
    replies = await dee.send_sticker()
    assert "Please type it as text" in replies[-1].text
    assert await counts(harness, dee_id) == before
    replies = await dee.send("Legs")
    assert "Collection “Legs” created." in replies[-1].text
    assert "📁 Legs" in replies[-1].text
    assert "Empty." in replies[-1].text

    # A second one with the same name (any case) is refused clearly.
    await dee.tap("⬅️ Collections")
    await dee.tap("➕ New collection")
    replies = await dee.send("LEGS")
    assert "You already have a collection named “Legs”." in replies[-1].text
    assert (await counts(harness, dee_id))["collections"] == 1
    await dee.send("/cancel")

    # Put the favorite into it from its detail screen.
    await dee.send("/favorites")
    await dee.tap("💪 Exercises (1)")
    await dee.tap("Back Squat")
    replies = await dee.tap("📁 Add to a collection")
    assert "Which collection should “Back Squat” go into?" in replies[-1].text
    replies = await dee.tap("📁 Legs (0)")
    assert dee.callback_answers[-1].text == "Added to “Legs”."
    assert "In collections: Legs" in replies[-1].text
    assert (await counts(harness, dee_id))["items"] == 1

    # Open the collection, take the item out, delete the collection.
    await dee.send("/favorites")
    await dee.tap("📁 Collections (1)")
    replies = await dee.tap("📁 Legs (1)")
    assert "1. 💪 Back Squat" in replies[-1].text
    replies = await dee.tap("✖️")
    assert dee.callback_answers[-1].text == "Taken out of the collection."
    assert "Empty." in replies[-1].text
    assert (await counts(harness, dee_id))["items"] == 0
    replies = await dee.tap("🗑 Delete this collection")
    assert "Delete the collection “Legs”?" in replies[-1].text
    replies = await dee.tap("🗑 Yes, delete it")
    assert "Collection “Legs” deleted." in replies[-1].text
    after = await counts(harness, dee_id)
    assert after["collections"] == 0
    assert after["favorites"] == 1


async def test_new_collection_from_the_chooser_takes_the_favorite(harness: Harness) -> None:
    eve = harness.user("eve")
    await eve.send("/favorites")
    eve_id = await harness.user_id(eve)
    async with harness.session_factory() as session, session.begin():
        squat = await catalogue_exercise(session, "front_squat")
        await views.set_favorite(session, eve_id, "EXERCISE", squat, True)
    await eve.send("/favorites")
    await eve.tap("💪 Exercises (1)")
    await eve.tap("Front Squat")
    await eve.tap("📁 Add to a collection")
    await eve.tap("➕ New collection")
    replies = await eve.send("Travel")
    assert "Collection “Travel” created." in replies[-1].text
    assert "In collections: Travel" in replies[-1].text
    assert (await counts(harness, eve_id))["items"] == 1


async def test_pages_of_favorites(harness: Harness) -> None:
    fay = harness.user("fay")
    await fay.send("/favorites")
    fay_id = await harness.user_id(fay)
    async with harness.session_factory() as session, session.begin():
        ten = (
            await session.execute(
                select(Exercise.id)
                .where(Exercise.owner_id.is_(None))
                .order_by(Exercise.code)
                .limit(10)
            )
        ).scalars()
        for exercise in ten:
            await views.set_favorite(session, fay_id, "EXERCISE", exercise, True)
    replies = await fay.send("/favorites")
    assert "Exercises: 10" in replies[-1].text
    replies = await fay.tap("💪 Exercises (10)")
    first = replies[-1]
    assert "(1–8 of 10)" in first.text
    assert "▶️" in first.labels()
    assert "◀️" not in first.labels()
    replies = await fay.tap("▶️")
    second = replies[-1]
    assert "(9–10 of 10)" in second.text
    assert "◀️" in second.labels()
    assert "▶️" not in second.labels()
    names = set(first.labels()[:8]) | set(second.labels()[:2])
    assert len(names) == 10
    replies = await fay.tap("◀️")
    assert "(1–8 of 10)" in replies[-1].text
