"""Rating a workout after doing it: the checks the chat's rating prompt needs around
domain.services.ratings.rate.

A person may rate a workout they may read (domain/access READ, so a forged id is refused), that
is not their own, and that they have finished at least once (a training_session of that workout
with ``finished_at``): the rating is then always verified. Rating again replaces the rating, as
``ratings.rate`` does: new stars clear the criteria given before, the criteria are given one by
one after the stars, and the review comes last (a review waits for a moderator).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, require
from domain.errors import Conflict, InvalidInput, NotFound
from domain.models.rating import (
    CriteriaType,
    RatedResourceType,
    Rating,
    RatingCriteria,
    RatingStatus,
)
from domain.models.training_log import TrainingSession
from domain.models.workout import Workout
from domain.services import ratings

WORKOUT = RatedResourceType.WORKOUT
REVIEW_MAX_LENGTH = 500


class CannotRate(Conflict):
    """The workout cannot be rated by this person: ``reason`` is "own" (they wrote it) or
    "not_done" (no finished session of it)."""

    code = "cannot_rate"

    def __init__(self, message: str, *, reason: str, **params: object) -> None:
        super().__init__(message, reason=reason, **params)
        self.reason = reason


class ReviewInvalid(InvalidInput):
    """Review text that is blank or longer than REVIEW_MAX_LENGTH (``reason``: "empty" or
    "too_long")."""

    code = "review_invalid"

    def __init__(self, message: str, *, reason: str, **params: object) -> None:
        super().__init__(message, reason=reason, **params)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Criterion:
    code: str
    name: str
    question: str  # the criterion's description, "Did you enjoy doing it?"


@dataclass(frozen=True, slots=True)
class RatingPrompt:
    workout_id: uuid.UUID
    workout_name: str
    criteria: tuple[Criterion, ...]  # the active criteria for workouts, in a fixed order
    previous_score: int | None  # the person's current rating of it, if any


@dataclass(frozen=True, slots=True)
class GivenRating:
    workout_id: uuid.UUID
    score: int
    criteria: dict[str, int]
    review: str | None
    status: str  # PUBLISHED, or PENDING while a review waits for a moderator
    is_verified: bool


def _i18n(values: Mapping[str, str], locale: str, fallback: str) -> str:
    return values.get(locale) or values.get("en") or fallback


async def workout_criteria(session: AsyncSession, *, locale: str) -> tuple[Criterion, ...]:
    """The active rating criteria that apply to workouts, ordered by code."""
    rows = await session.execute(
        select(CriteriaType)
        .where(CriteriaType.is_active, CriteriaType.applicable_to.contains([WORKOUT.value]))
        .order_by(CriteriaType.code)
    )
    return tuple(
        Criterion(
            criterion.code,
            _i18n(criterion.name_i18n, locale, criterion.name),
            _i18n(criterion.description_i18n, locale, criterion.description or ""),
        )
        for criterion in rows.scalars()
    )


async def _check_workout(session: AsyncSession, user_id: uuid.UUID, workout_id: uuid.UUID) -> str:
    """The workout's name if the person may rate it; NotAllowed / CannotRate otherwise."""
    await require(session, Actor(user_id), Action.READ, ResourceRef(WORKOUT.value, workout_id))
    done = exists().where(
        TrainingSession.user_id == user_id,
        TrainingSession.workout_id == workout_id,
        TrainingSession.finished_at.is_not(None),
    )
    row = (
        await session.execute(
            select(Workout.name, Workout.owner_id, done).where(Workout.id == workout_id)
        )
    ).one()
    name, owner_id, finished = row
    if owner_id == user_id:
        raise CannotRate("you cannot rate your own workout", reason="own")
    if not finished:
        raise CannotRate("finish this workout once before rating it", reason="not_done")
    return str(name)


async def rating_prompt(
    session: AsyncSession, user_id: uuid.UUID, workout_id: uuid.UUID, *, locale: str
) -> RatingPrompt:
    """What the rating prompt shows; NotAllowed (may not read it, or no such workout) or
    CannotRate (own workout, never finished) when the person cannot rate it."""
    name = await _check_workout(session, user_id, workout_id)
    previous = (
        await session.execute(
            select(Rating.rating_value).where(
                Rating.user_id == user_id,
                Rating.resource_type == WORKOUT,
                Rating.resource_id == workout_id,
            )
        )
    ).scalar_one_or_none()
    criteria = await workout_criteria(session, locale=locale)
    return RatingPrompt(workout_id, name, criteria, previous)


async def rate_workout(
    session: AsyncSession,
    user_id: uuid.UUID,
    workout_id: uuid.UUID,
    score: int,
    *,
    criteria: Mapping[str, int] | None = None,
) -> GivenRating:
    """Give (or give again) the workout's stars and the criteria scored so far (criteria code →
    1..5; they replace the earlier set, so ``{}`` clears it; None keeps it). A rating given
    again loses its earlier review: the review step comes after."""
    await _check_workout(session, user_id, workout_id)
    rating = await ratings.rate(session, user_id, WORKOUT, workout_id, score, criteria=criteria)
    return await _given(session, rating.id)


async def review_workout(
    session: AsyncSession, user_id: uuid.UUID, workout_id: uuid.UUID, text: str
) -> GivenRating:
    """Add the written review to the person's rating of the workout (stars and criteria stay).
    ReviewInvalid for blank or too long text; NotFound when there is no rating to add it to."""
    review = text.strip()
    if not review:
        raise ReviewInvalid("a review needs some text", reason="empty")
    if len(review) > REVIEW_MAX_LENGTH:
        raise ReviewInvalid(
            f"a review has at most {REVIEW_MAX_LENGTH} characters",
            reason="too_long",
            max_length=REVIEW_MAX_LENGTH,
        )
    await _check_workout(session, user_id, workout_id)
    score = (
        await session.execute(
            select(Rating.rating_value).where(
                Rating.user_id == user_id,
                Rating.resource_type == WORKOUT,
                Rating.resource_id == workout_id,
            )
        )
    ).scalar_one_or_none()
    if score is None:
        raise NotFound("rate the workout with stars first", workout_id=str(workout_id))
    rating = await ratings.rate(session, user_id, WORKOUT, workout_id, score, comment=review)
    return await _given(session, rating.id)


async def _given(session: AsyncSession, rating_id: uuid.UUID) -> GivenRating:
    row = (
        await session.execute(
            select(
                Rating.resource_id,
                Rating.rating_value,
                Rating.review_text,
                RatingStatus.code,
                Rating.is_verified,
            )
            .join(RatingStatus, RatingStatus.id == Rating.rating_status_id)
            .where(Rating.id == rating_id)
        )
    ).one()
    scores = await session.execute(
        select(CriteriaType.code, RatingCriteria.score)
        .join(CriteriaType, CriteriaType.id == RatingCriteria.criteria_type_id)
        .where(RatingCriteria.rating_id == rating_id)
    )
    return GivenRating(
        workout_id=row[0],
        score=int(row[1]),
        criteria={code: int(score) for code, score in scores},
        review=row[2],
        status=str(row[3]),
        is_verified=bool(row[4]),
    )
