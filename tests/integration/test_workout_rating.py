"""Rating a finished workout (domain.services.workout_rating): who may rate, criteria, review,
rating again."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed, NotFound
from domain.services import workout_rating
from domain.services.workout_rating import CannotRate, ReviewInvalid
from tests.integration.favorites_world import (
    finished_session,
    new_member,
    new_workout,
    row_counts,
)


async def test_criteria_for_workouts_are_the_seeded_ones(session: AsyncSession) -> None:
    criteria = await workout_rating.workout_criteria(session, locale="fr")
    assert [criterion.code for criterion in criteria] == [
        "CLARITY",
        "DIFFICULTY_FIT",
        "EFFECTIVENESS",
        "ENJOYMENT",
    ]
    assert criteria[0].name == "Clarté"
    assert criteria[3].question == "Avez-vous pris plaisir à le faire ?"


async def test_only_a_finished_readable_workout_of_someone_else(session: AsyncSession) -> None:
    ada = await new_member(session)
    coach = await new_member(session, "Coach")
    legs = await new_workout(session, coach, "Legs")
    secret = await new_workout(session, coach, "Secret", level="PRIVATE")
    own = await new_workout(session, ada, "Mine")

    with pytest.raises(CannotRate) as refused:
        await workout_rating.rating_prompt(session, ada, legs, locale="en")
    assert refused.value.reason == "not_done"
    await finished_session(session, ada, legs, finished=False)  # started, never finished
    with pytest.raises(CannotRate):
        await workout_rating.rate_workout(session, ada, legs, 4)

    await finished_session(session, ada, own)
    with pytest.raises(CannotRate) as refused:
        await workout_rating.rate_workout(session, ada, own, 5)
    assert refused.value.reason == "own"

    await finished_session(session, ada, secret)  # even done once, no longer readable
    with pytest.raises(NotAllowed):
        await workout_rating.rate_workout(session, ada, secret, 5)
    with pytest.raises(NotAllowed):
        await workout_rating.rate_workout(session, ada, uuid.uuid4(), 5)
    assert (await row_counts(session, ada))["ratings"] == 0

    await finished_session(session, ada, legs)
    prompt = await workout_rating.rating_prompt(session, ada, legs, locale="en")
    assert prompt.workout_name == "Legs"
    assert prompt.previous_score is None
    assert len(prompt.criteria) == 4


async def test_stars_criteria_review_and_rating_again(session: AsyncSession) -> None:
    ada = await new_member(session)
    legs = await new_workout(session, None, "Library legs")
    await finished_session(session, ada, legs)

    given = await workout_rating.rate_workout(session, ada, legs, 4, criteria={})
    assert (given.score, given.criteria, given.review) == (4, {}, None)
    assert given.status == "PUBLISHED"
    assert given.is_verified
    given = await workout_rating.rate_workout(
        session, ada, legs, 4, criteria={"CLARITY": 5, "ENJOYMENT": 2}
    )
    assert given.criteria == {"CLARITY": 5, "ENJOYMENT": 2}

    for bad in ("", "   ", "x" * (workout_rating.REVIEW_MAX_LENGTH + 1)):
        with pytest.raises(ReviewInvalid):
            await workout_rating.review_workout(session, ada, legs, bad)
    given = await workout_rating.review_workout(session, ada, legs, "  Hard but fair.  ")
    assert given.review == "Hard but fair."
    assert given.score == 4
    assert given.criteria == {"CLARITY": 5, "ENJOYMENT": 2}
    assert given.status == "PENDING"

    # Rating again replaces: new stars, criteria cleared, the old review gone.
    prompt = await workout_rating.rating_prompt(session, ada, legs, locale="en")
    assert prompt.previous_score == 4
    given = await workout_rating.rate_workout(session, ada, legs, 2, criteria={})
    assert (given.score, given.criteria, given.review) == (2, {}, None)
    assert (await row_counts(session, ada))["ratings"] == 1


async def test_a_review_needs_stars_first(session: AsyncSession) -> None:
    ada = await new_member(session)
    legs = await new_workout(session, None, "Library legs")
    await finished_session(session, ada, legs)
    with pytest.raises(NotFound):
        await workout_rating.review_workout(session, ada, legs, "Nice")
    assert (await row_counts(session, ada))["ratings"] == 0
