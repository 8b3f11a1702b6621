"""Ratings on a real PostgreSQL: one rating per person and resource, moderation, helpful
votes, reports, and the summary/trend rollup (correct and idempotent)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from functools import cache

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.exercise import Exercise
from domain.models.rating import (
    RatedResourceType,
    Rating,
    RatingCriteria,
    RatingHelpful,
    RatingReport,
    RatingStatus,
    RatingSummary,
    RatingTrend,
    ReportStatus,
)
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import User
from domain.reference import ratings as ratings_reference
from domain.reference.loader import (
    DATA_DIR,
    LoaderContext,
    ReferenceData,
    SeedReport,
    read_reference_data,
)
from domain.services.ratings import moderate, rate, report, rollup_rating_summary, vote_helpful
from tests.conftest import DatabaseFactory, own_database

EXERCISE = RatedResourceType.EXERCISE


@pytest.fixture(scope="module")
async def engine(database_factory: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    """A database of this module's own (the conftest's ``session`` runs on it): the rollups
    count every row of a day, and conversation tests commit favorites and ratings into the
    shared one."""
    async with own_database(database_factory, "mf_rollup") as engine:
        yield engine


@cache
def catalogue() -> ReferenceData:
    return read_reference_data()


async def load_ratings_reference(session: AsyncSession) -> SeedReport:
    report_ = SeedReport()
    context = LoaderContext(session, catalogue(), report_)
    await ratings_reference.load(context, ratings_reference.read(DATA_DIR))
    return report_


@pytest.fixture
async def db(session: AsyncSession) -> AsyncSession:
    """The test session with the ratings vocabularies present (whether or not the seed run
    registered the section yet; loading them again is a no-op)."""
    await load_ratings_reference(session)
    return session


async def new_user(session: AsyncSession, name: str) -> uuid.UUID:
    user = User(first_name=name)
    session.add(user)
    await session.flush()
    return user.id


async def exercises(session: AsyncSession, count: int) -> list[uuid.UUID]:
    query = select(Exercise.id).where(Exercise.owner_id.is_(None)).order_by(Exercise.code)
    return list((await session.execute(query.limit(count))).scalars())


async def log_a_set(session: AsyncSession, user_id: uuid.UUID, exercise_id: uuid.UUID) -> None:
    training = TrainingSession(user_id=user_id, source=TrainingSessionSource.FREE_TEXT)
    session.add(training)
    await session.flush()
    session.add(
        LoggedSet(
            session_id=training.id, user_id=user_id, exercise_id=exercise_id, set_index=0, reps=5
        )
    )
    await session.flush()


async def status_of(session: AsyncSession, rating_id: uuid.UUID) -> str:
    query = (
        select(RatingStatus.code)
        .join(Rating, Rating.rating_status_id == RatingStatus.id)
        .where(Rating.id == rating_id)
    )
    return (await session.execute(query)).scalar_one()


async def count(session: AsyncSession, model: type, *where: object) -> int:
    query = select(func.count()).select_from(model).where(*where)  # type: ignore[arg-type]
    return (await session.execute(query)).scalar_one()


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


async def test_loading_the_vocabularies_again_changes_nothing(db: AsyncSession) -> None:
    again = await load_ratings_reference(db)
    assert again.total == 0, again.changes
    codes = set((await db.execute(select(RatingStatus.code))).scalars())
    assert codes == {"PENDING", "PUBLISHED", "HIDDEN", "REJECTED"}
    name = (
        await db.execute(select(RatingStatus.name_i18n).where(RatingStatus.code == "PUBLISHED"))
    ).scalar_one()
    assert name == {"en": "Published", "fr": "Publié", "ru": "Опубликован"}


# --------------------------------------------------------------------------------------------
# Rating
# --------------------------------------------------------------------------------------------


async def test_rating_again_replaces_the_rating(db: AsyncSession) -> None:
    ann = await new_user(db, "Ann")
    [squat] = await exercises(db, 1)

    first = await rate(db, ann, EXERCISE, squat, 4)
    second = await rate(db, ann, "EXERCISE", squat, 2)

    assert second.id == first.id
    assert second.rating_value == 2
    assert await count(db, Rating, Rating.user_id == ann) == 1


async def test_the_database_refuses_a_second_rating_of_one_resource(db: AsyncSession) -> None:
    ann = await new_user(db, "Ann")
    [squat] = await exercises(db, 1)
    first = await rate(db, ann, EXERCISE, squat, 4)
    savepoint = await db.begin_nested()
    db.add(
        Rating(
            user_id=ann,
            resource_type=EXERCISE,
            resource_id=squat,
            rating_value=5,
            rating_status_id=first.rating_status_id,
        )
    )
    with pytest.raises(IntegrityError, match="uq_rating_user_id_resource_type_resource_id"):
        await db.flush()
    await savepoint.rollback()


async def test_bad_input_is_refused_and_nothing_changes(db: AsyncSession) -> None:
    ann = await new_user(db, "Ann")
    squat, bench = await exercises(db, 2)
    kept = await rate(db, ann, EXERCISE, squat, 4, comment="Solid", criteria={"CLARITY": 4})

    bad_calls = [
        {"score": 0},
        {"score": 6},
        {"score": True},
        {"score": 3, "criteria": {"CLARITY": 9}},
        {"score": 3, "criteria": {"NO_SUCH_CRITERION": 3}},
        # A coach criterion does not apply to an exercise.
        {"score": 3, "criteria": {"COACH_RESPONSIVENESS": 3}},
    ]
    for call in bad_calls:
        score = call["score"]
        criteria = call.get("criteria")
        with pytest.raises(InvalidInput):
            await rate(db, ann, EXERCISE, squat, score, comment="Changed", criteria=criteria)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            await rate(db, ann, EXERCISE, bench, score, criteria=criteria)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="unknown resource type"):
        await rate(db, ann, "PLANET", squat, 3)

    after = await db.get(Rating, kept.id, populate_existing=True)
    assert after is not None
    assert (after.rating_value, after.review_text, after.rated_at) == (4, "Solid", kept.rated_at)
    assert await count(db, Rating, Rating.user_id == ann) == 1
    scores = (await db.execute(select(RatingCriteria.score))).scalars().all()
    assert list(scores) == [4]


async def test_missing_or_own_resources_cannot_be_rated(db: AsyncSession) -> None:
    ann = await new_user(db, "Ann")
    with pytest.raises(NotFound, match="no exercise"):
        await rate(db, ann, EXERCISE, uuid.uuid4(), 5)
    with pytest.raises(InvalidInput, match="your own coach"):
        await rate(db, ann, RatedResourceType.COACH, ann, 5)
    coach = await new_user(db, "Coach")
    rating = await rate(
        db, ann, RatedResourceType.COACH, coach, 5, criteria={"COACH_RESPONSIVENESS": 5}
    )
    assert rating.resource_type == RatedResourceType.COACH


async def test_new_review_text_waits_for_moderation(db: AsyncSession) -> None:
    ann, mod = await new_user(db, "Ann"), await new_user(db, "Moderator")
    [squat] = await exercises(db, 1)

    rating = await rate(db, ann, EXERCISE, squat, 4)
    assert await status_of(db, rating.id) == "PUBLISHED"  # a bare score needs no moderator

    rating = await rate(db, ann, EXERCISE, squat, 4, comment="Great for the legs")
    assert await status_of(db, rating.id) == "PENDING"

    rating = await moderate(db, rating.id, "PUBLISHED", mod)
    assert (rating.moderated_by, await status_of(db, rating.id)) == (mod, "PUBLISHED")

    # Same text, new score: the published text stays published.
    rating = await rate(db, ann, EXERCISE, squat, 5, comment="  Great for the legs ")
    assert (rating.rating_value, await status_of(db, rating.id)) == (5, "PUBLISHED")

    # Changed text: back to the queue, the earlier decision forgotten.
    rating = await rate(db, ann, EXERCISE, squat, 5, comment="Great for the legs and glutes")
    assert await status_of(db, rating.id) == "PENDING"
    assert (rating.moderated_by, rating.moderated_at) == (None, None)


async def test_a_hidden_rating_stays_hidden_when_its_score_changes(db: AsyncSession) -> None:
    ann, mod = await new_user(db, "Ann"), await new_user(db, "Moderator")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 1, comment="rubbish")
    await moderate(db, rating.id, "HIDDEN", mod)
    await rate(db, ann, EXERCISE, squat, 2, comment=None)
    assert await status_of(db, rating.id) == "HIDDEN"


async def test_criteria_are_replaced_as_a_set(db: AsyncSession) -> None:
    ann = await new_user(db, "Ann")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 4, criteria={"CLARITY": 4, "EFFECTIVENESS": 5})
    assert await count(db, RatingCriteria, RatingCriteria.rating_id == rating.id) == 2

    await rate(db, ann, EXERCISE, squat, 3, criteria={"CLARITY": 2})
    rows = (
        await db.execute(select(RatingCriteria.score).where(RatingCriteria.rating_id == rating.id))
    ).scalars()
    assert list(rows) == [2]

    await rate(db, ann, EXERCISE, squat, 3)  # criteria not given: kept
    assert await count(db, RatingCriteria, RatingCriteria.rating_id == rating.id) == 1


# --------------------------------------------------------------------------------------------
# Moderation, votes, reports
# --------------------------------------------------------------------------------------------


async def test_moderation_checks_status_and_moderator(db: AsyncSession) -> None:
    ann, mod = await new_user(db, "Ann"), await new_user(db, "Moderator")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 3, comment="ok")
    with pytest.raises(InvalidInput, match="unknown rating status"):
        await moderate(db, rating.id, "APPROVED", mod)
    with pytest.raises(NotAllowed):
        await moderate(db, rating.id, "PUBLISHED", ann)
    with pytest.raises(NotFound):
        await moderate(db, uuid.uuid4(), "PUBLISHED", mod)
    assert await status_of(db, rating.id) == "PENDING"

    rejected = await moderate(db, rating.id, "REJECTED", mod)
    assert rejected.moderated_at is not None
    assert await status_of(db, rating.id) == "REJECTED"


async def test_a_helpful_vote_is_one_row_per_user_and_can_change(db: AsyncSession) -> None:
    ann, bob = await new_user(db, "Ann"), await new_user(db, "Bob")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 5)

    first = await vote_helpful(db, rating.id, bob, True)
    second = await vote_helpful(db, rating.id, bob, False)

    assert second.id == first.id
    assert second.is_helpful is False
    assert await count(db, RatingHelpful, RatingHelpful.rating_id == rating.id) == 1


async def test_no_vote_on_ones_own_or_an_unpublished_rating(db: AsyncSession) -> None:
    ann, bob = await new_user(db, "Ann"), await new_user(db, "Bob")
    squat, bench = await exercises(db, 2)
    published = await rate(db, ann, EXERCISE, squat, 5)
    pending = await rate(db, ann, EXERCISE, bench, 5, comment="waiting")

    with pytest.raises(InvalidInput, match="your own rating"):
        await vote_helpful(db, published.id, ann, True)
    with pytest.raises(NotFound, match="not published"):
        await vote_helpful(db, pending.id, bob, True)
    assert await count(db, RatingHelpful) == 0


async def test_one_open_report_per_user_and_rating(db: AsyncSession) -> None:
    ann, bob, mod = await new_user(db, "Ann"), await new_user(db, "Bob"), await new_user(db, "Mod")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 1, comment="Buy cheap pills at …")

    first = await report(db, rating.id, bob, "SPAM", note="advert")
    assert first.additional_details == "advert"
    with pytest.raises(Conflict, match="already reported"):
        await report(db, rating.id, bob, "OFFENSIVE")
    with pytest.raises(InvalidInput, match="your own rating"):
        await report(db, rating.id, ann, "SPAM")
    with pytest.raises(InvalidInput, match="unknown report reason"):
        await report(db, rating.id, mod, "BORING")

    # Hiding the review upholds the open report; afterwards Bob may report again.
    await moderate(db, rating.id, "HIDDEN", mod)
    resolved = await db.get(RatingReport, first.id, populate_existing=True)
    assert resolved is not None
    assert (resolved.resolved_by, resolved.resolved_at is not None) == (mod, True)
    upheld = (
        await db.execute(
            select(ReportStatus.code).where(ReportStatus.id == resolved.report_status_id)
        )
    ).scalar_one()
    assert upheld == "UPHELD"
    again = await report(db, rating.id, bob, "SPAM")
    assert again.id != first.id
    assert await count(db, RatingReport, RatingReport.rating_id == rating.id) == 2


# --------------------------------------------------------------------------------------------
# Rollup
# --------------------------------------------------------------------------------------------


async def summary_rows(session: AsyncSession) -> list[tuple[object, ...]]:
    rows = await session.execute(select(RatingSummary).order_by(RatingSummary.resource_id))
    return [
        (
            s.resource_id,
            s.average_rating,
            s.total_ratings,
            (
                s.one_star_count,
                s.two_star_count,
                s.three_star_count,
                s.four_star_count,
                s.five_star_count,
            ),
            s.verified_ratings_count,
            s.verified_average,
            s.last_updated,
        )
        for s in rows.scalars()
    ]


async def test_rollup_counts_published_ratings_and_is_idempotent(db: AsyncSession) -> None:
    users = [await new_user(db, f"Rater {n}") for n in range(6)]
    mod = await new_user(db, "Moderator")
    squat, bench = await exercises(db, 2)
    await log_a_set(db, users[0], squat)  # Rater 0 really did the exercise: verified

    for user, score in zip(users[:4], [5, 4, 4, 2], strict=True):
        await rate(db, user, EXERCISE, squat, score)
    await rate(db, users[4], EXERCISE, squat, 1, comment="waiting for a moderator")  # PENDING
    hidden = await rate(db, users[5], EXERCISE, squat, 1)
    await moderate(db, hidden.id, "HIDDEN", mod)
    await rate(db, users[0], EXERCISE, bench, 3)

    first = await rollup_rating_summary(db)
    assert (first.summaries_written, first.summaries_deleted) == (2, 0)
    summary = await db.get(RatingSummary, (EXERCISE, squat), populate_existing=True)
    assert summary is not None
    assert summary.total_ratings == 4
    assert summary.average_rating == pytest.approx(3.75)
    stars = (
        summary.one_star_count,
        summary.two_star_count,
        summary.three_star_count,
        summary.four_star_count,
        summary.five_star_count,
    )
    assert stars == (0, 1, 0, 2, 1)
    assert (summary.verified_ratings_count, summary.verified_average) == (1, pytest.approx(5.0))
    bench_summary = await db.get(RatingSummary, (EXERCISE, bench), populate_existing=True)
    assert bench_summary is not None
    assert (bench_summary.total_ratings, bench_summary.verified_ratings_count) == (1, 0)
    assert bench_summary.verified_average is None

    before = await summary_rows(db)
    second = await rollup_rating_summary(db)
    assert second.summaries_written == second.summaries_deleted == 0
    assert second.trends_written == second.trends_deleted == second.verified_changed == 0
    assert await summary_rows(db) == before


async def test_rollup_follows_changes(db: AsyncSession) -> None:
    ann, bob, mod = await new_user(db, "Ann"), await new_user(db, "Bob"), await new_user(db, "Mod")
    [squat] = await exercises(db, 1)
    rating = await rate(db, ann, EXERCISE, squat, 2)
    await rate(db, bob, EXERCISE, squat, 4)
    await rollup_rating_summary(db)

    # A rating given before using the exercise becomes verified once the rater logs it.
    assert rating.is_verified is False
    await log_a_set(db, ann, squat)
    await rate(db, bob, EXERCISE, squat, 5)
    result = await rollup_rating_summary(db)
    assert (result.verified_changed, result.summaries_written) == (1, 1)
    summary = await db.get(RatingSummary, (EXERCISE, squat), populate_existing=True)
    assert summary is not None
    assert (summary.average_rating, summary.verified_ratings_count) == (3.5, 1)

    # No published rating left: the summary goes.
    await moderate(db, rating.id, "HIDDEN", mod)
    bob_rating = await rate(db, bob, EXERCISE, squat, 5)
    await moderate(db, bob_rating.id, "REJECTED", mod)
    result = await rollup_rating_summary(db)
    assert result.summaries_deleted == 1
    assert await db.get(RatingSummary, (EXERCISE, squat), populate_existing=True) is None


async def test_daily_trend_compares_the_day_with_the_days_before(db: AsyncSession) -> None:
    users = [await new_user(db, f"Rater {n}") for n in range(4)]
    [squat] = await exercises(db, 1)
    today = dt.datetime.now(dt.UTC).date()
    yesterday_noon = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    for user, score in zip(users, [2, 2, 5, 4], strict=True):
        await rate(db, user, EXERCISE, squat, score)
    # The first two were given yesterday.
    await db.execute(
        update(Rating).where(Rating.user_id.in_(users[:2])).values(rated_at=yesterday_noon)
    )

    result = await rollup_rating_summary(db, today)
    assert result.trends_written == 1
    trend = (
        await db.execute(select(RatingTrend).where(RatingTrend.resource_id == squat))
    ).scalar_one()
    assert (trend.trend_date, trend.daily_rating_count) == (today, 2)
    assert trend.daily_average == pytest.approx(4.5)
    assert trend.trend_direction == pytest.approx(2.5)  # 4.5 today against 2.0 before

    yesterday = await rollup_rating_summary(db, today - dt.timedelta(days=1))
    assert yesterday.trends_written == 1
    assert (await rollup_rating_summary(db, today)).trends_written == 0
    days = (
        await db.execute(
            select(RatingTrend.trend_date, RatingTrend.trend_direction).order_by(
                RatingTrend.trend_date
            )
        )
    ).all()
    assert [tuple(row) for row in days] == [(today - dt.timedelta(days=1), 0.0), (today, 2.5)]
