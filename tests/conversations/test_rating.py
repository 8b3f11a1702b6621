"""The rating prompt after a finished workout, through the emulator: stars, criteria (scored or
skipped), the review step with refused input, rating again, and forged or premature ratings
refused with nothing written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bot.emulator.driver import EmulatedUser
from bot.handlers.rating import RateCriterion, RateStars, ask_for_rating
from bot.keyboards import short_id
from domain.models.rating import CriteriaType, Rating, RatingCriteria, RatingStatus
from domain.models.user import User
from domain.services.users import UserContext
from domain.services.workout_rating import REVIEW_MAX_LENGTH
from tests.conversations.conftest import Harness
from tests.integration.favorites_world import (
    finished_session,
    new_member,
    new_workout,
    row_counts,
)

NOT_ALLOWED = "Sorry, you are not allowed to do that."


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def context_of(harness: Harness, person: EmulatedUser) -> UserContext:
    await person.send("/favorites")  # the bot meets them: their user row exists
    async with harness.session_factory() as session:
        user_id = await session.scalar(
            select(User.id).where(User.telegram_user_id == person.user_id)
        )
        assert user_id is not None
    return UserContext(
        user_id=user_id,
        telegram_user_id=person.user_id,
        first_name=person.username,
        locale="en",
        timezone="UTC",
        onboarded=True,
        is_new=False,
    )


async def workout_done_by(
    harness: Harness, user_id: uuid.UUID, *, finished: bool = True
) -> uuid.UUID:
    """A library workout the user trained (``finished``: and finished)."""
    async with harness.session_factory() as session, session.begin():
        workout_id = await new_workout(session, None, f"Legs {uuid.uuid4().hex[:6]}")
        await finished_session(session, user_id, workout_id, finished=finished)
    return workout_id


async def prompt(
    harness: Harness, person: EmulatedUser, user: UserContext, workout_id: uuid.UUID
) -> bool:
    async with harness.session_factory() as session:
        sent = await ask_for_rating(
            harness.application.bot,
            person.user_id,
            user=user,
            workout_id=workout_id,
            locale="en",
            session=session,
        )
        await session.commit()
    return sent


async def stored(harness: Harness, user_id: uuid.UUID) -> list[tuple[int, str | None, str, bool]]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Rating.rating_value, Rating.review_text, RatingStatus.code, Rating.is_verified)
            .join(RatingStatus, RatingStatus.id == Rating.rating_status_id)
            .where(Rating.user_id == user_id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def criteria_of(harness: Harness, user_id: uuid.UUID) -> dict[str, int]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(CriteriaType.code, RatingCriteria.score)
            .join(RatingCriteria, RatingCriteria.criteria_type_id == CriteriaType.id)
            .join(Rating, Rating.id == RatingCriteria.rating_id)
            .where(Rating.user_id == user_id)
        )
        return {str(code): int(score) for code, score in rows}


async def test_stars_criteria_and_review(harness: Harness) -> None:
    amy = harness.user("amy")
    user = await context_of(harness, amy)
    workout_id = await workout_done_by(harness, user.user_id)
    assert await prompt(harness, amy, user, workout_id)
    asked = await amy.wait_for(lambda message: message.text.startswith("How was"))
    assert "Tap the stars." in asked.text
    assert asked.labels() == ["1⭐", "2⭐", "3⭐", "4⭐", "5⭐", "Not now"]

    replies = await amy.tap("4⭐", message=asked)
    assert amy.callback_answers[-1].text == "Thanks!"
    assert "⭐⭐⭐⭐" in replies[-1].text
    assert "1 of 4 · Clarity" in replies[-1].text
    assert replies[-1].labels() == ["1", "2", "3", "4", "5", "Skip"]
    assert await stored(harness, user.user_id) == [(4, None, "PUBLISHED", True)]
    await amy.tap("5")
    replies = await amy.tap("Skip")
    assert "3 of 4 · Effectiveness" in replies[-1].text
    await amy.tap("3")
    replies = await amy.tap("2")
    assert "Write a short review" in replies[-1].text
    assert await criteria_of(harness, user.user_id) == {
        "CLARITY": 5,
        "EFFECTIVENESS": 3,
        "ENJOYMENT": 2,
    }

    # Wrong input is answered and changes nothing.
    before = await stored(harness, user.user_id)
    replies = await amy.send_sticker()
    assert "Please type your review as text, or tap Skip." in replies[-1].text
    replies = await amy.send("x" * (REVIEW_MAX_LENGTH + 1))
    assert f"A review is 1 to {REVIEW_MAX_LENGTH} characters." in replies[-1].text
    assert await stored(harness, user.user_id) == before

    replies = await amy.send("Hard but fair, loved the finisher.")
    assert "Thanks for your review!" in replies[-1].text
    assert "once a moderator has checked it" in replies[-1].text
    assert await stored(harness, user.user_id) == [
        (4, "Hard but fair, loved the finisher.", "PENDING", True)
    ]
    # The review step is over.
    replies = await amy.send("another text")
    assert "Thanks for your review" not in replies[-1].text
    assert (await stored(harness, user.user_id))[0][1] == "Hard but fair, loved the finisher."


async def test_skip_everything_then_rate_again(harness: Harness) -> None:
    ben = harness.user("ben")
    user = await context_of(harness, ben)
    workout_id = await workout_done_by(harness, user.user_id)
    await prompt(harness, ben, user, workout_id)
    asked = await ben.wait_for(lambda message: message.text.startswith("How was"))
    await ben.tap("5⭐", message=asked)
    for _ in range(4):
        replies = await ben.tap("Skip")
    assert "Write a short review" in replies[-1].text
    replies = await ben.tap("Skip")
    assert "Thanks! Your rating is saved." in replies[-1].text
    assert await stored(harness, user.user_id) == [(5, None, "PUBLISHED", True)]
    assert await criteria_of(harness, user.user_id) == {}

    # Rating the same workout again replaces the rating: still one row.
    await prompt(harness, ben, user, workout_id)
    asked = await ben.wait_for(lambda message: message.text.startswith("How was"))
    await ben.tap("2⭐", message=asked)
    await ben.tap("1")
    assert await stored(harness, user.user_id) == [(2, None, "PUBLISHED", True)]
    assert await criteria_of(harness, user.user_id) == {"CLARITY": 1}

    asked_later = await prompt(harness, ben, user, workout_id)
    assert asked_later
    asked = await ben.wait_for(lambda message: message.text.startswith("How was"))
    replies = await ben.tap("Not now", message=asked)
    assert "maybe next time" in replies[-1].text
    assert await stored(harness, user.user_id) == [(2, None, "PUBLISHED", True)]


async def test_forged_or_premature_ratings_are_refused(harness: Harness) -> None:
    cy = harness.user("cy")
    user = await context_of(harness, cy)
    screen = cy.last
    assert screen is not None
    started_only = await workout_done_by(harness, user.user_id, finished=False)
    async with harness.session_factory() as session, session.begin():
        bob = await new_member(session, "Bob")
        secret = await new_workout(session, bob, f"Secret {uuid.uuid4().hex[:6]}", level="PRIVATE")
        await finished_session(session, user.user_id, secret)
        own = await new_workout(session, user.user_id, f"Mine {uuid.uuid4().hex[:6]}")
        await finished_session(session, user.user_id, own)

    # No prompt for what cannot be rated.
    for workout_id in (started_only, secret, own, uuid.uuid4()):
        assert not await prompt(harness, cy, user, workout_id)

    cases = [
        (RateStars(workout=short_id(secret), score=5).pack(), NOT_ALLOWED),
        (RateStars(workout=short_id(uuid.uuid4()), score=5).pack(), NOT_ALLOWED),
        (
            RateStars(workout=short_id(started_only), score=5).pack(),
            "You can rate a workout once you have finished it.",
        ),
        (RateStars(workout=short_id(own), score=5).pack(), "You cannot rate your own workout."),
        (
            RateCriterion(workout=short_id(secret), stars=5, done="", score=3).pack(),
            NOT_ALLOWED,
        ),
        ("wrs:not-an-id:5", "That is not one of the choices."),
        (RateStars(workout=short_id(own), score=9).pack(), "That is not one of the choices."),
        (
            RateCriterion(workout=short_id(own), stars=5, done="9", score=3).pack(),
            "That is not one of the choices.",
        ),
    ]
    for data, answer in cases:
        await cy.press_data(data, message=screen)
        assert cy.callback_answers[-1].text == answer, data
        assert cy.callback_answers[-1].show_alert
    assert (await row_counts_of(harness, user.user_id))["ratings"] == 0


async def row_counts_of(harness: Harness, user_id: uuid.UUID) -> dict[str, int]:
    async with harness.session_factory() as session:
        return await row_counts(session, user_id)
