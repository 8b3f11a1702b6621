"""Ratings: rate a resource (one rating per person and resource), moderate, vote a review
helpful, report it, and the daily rollup of summaries and trends.

Moderation rule: only written text needs a moderator. A new rating without review text is
PUBLISHED at once; a new or changed review text puts the rating (back) to PENDING; changing only
the score, or removing the text, keeps the status (a hidden rating stays hidden).
Only PUBLISHED ratings are shown, voted on and counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    Double,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.base import Base
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise
from domain.models.institution import Institution, InstitutionCustomer, InstitutionMember
from domain.models.program import Program
from domain.models.rating import (
    CriteriaType,
    RatedResourceType,
    Rating,
    RatingCriteria,
    RatingHelpful,
    RatingReport,
    RatingStatus,
    RatingStatusCode,
    RatingSummary,
    RatingTrend,
    ReportReason,
    ReportStatus,
    ReportStatusCode,
)
from domain.models.training_log import LoggedSet, TrainingSession
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    User,
    UserProgram,
)
from domain.models.workout import Workout

_Row = TypeVar("_Row", bound=Base)
# A column of the outer statement or a bound value.
_Expression = ColumnElement[Any] | QueryableAttribute[Any]

MIN_SCORE = 1
MAX_SCORE = 5

# Each rated type: the id column its resource_id points at, and the column naming who owns the
# resource (people may not rate their own things). A coach is a user: they own themselves.
_RESOURCES: dict[RatedResourceType, tuple[QueryableAttribute[Any], QueryableAttribute[Any]]] = {
    RatedResourceType.COACH: (User.id, User.id),
    RatedResourceType.EQUIPMENT: (Equipment.id, Equipment.owner_id),
    RatedResourceType.EXERCISE: (Exercise.id, Exercise.owner_id),
    RatedResourceType.INSTITUTION: (Institution.id, Institution.created_by),
    RatedResourceType.PROGRAM: (Program.id, Program.owner_id),
    RatedResourceType.WORKOUT: (Workout.id, Workout.owner_id),
}

# What moderating a rating decides about its open reports (PENDING decides nothing yet).
_REPORT_OUTCOME = {
    RatingStatusCode.PUBLISHED: ReportStatusCode.DISMISSED,
    RatingStatusCode.HIDDEN: ReportStatusCode.UPHELD,
    RatingStatusCode.REJECTED: ReportStatusCode.UPHELD,
}


def verified_predicate(
    user_id: _Expression, resource_type: _Expression, resource_id: _Expression
) -> ColumnElement[bool]:
    """SQL: the rater actually used the resource. PROGRAM: followed it (user_program);
    WORKOUT: trained it (training_session); EXERCISE: logged a set of it; INSTITUTION: is a
    member or customer; COACH: is or was their client. EQUIPMENT: no usage record, never."""
    relation = ProfessionalClientRelation
    evidence: dict[RatedResourceType, ColumnElement[bool]] = {
        RatedResourceType.PROGRAM: exists().where(
            UserProgram.user_id == user_id, UserProgram.program_id == resource_id
        ),
        RatedResourceType.WORKOUT: exists().where(
            TrainingSession.user_id == user_id, TrainingSession.workout_id == resource_id
        ),
        RatedResourceType.EXERCISE: exists().where(
            LoggedSet.user_id == user_id, LoggedSet.exercise_id == resource_id
        ),
        RatedResourceType.INSTITUTION: or_(
            exists().where(
                InstitutionMember.user_id == user_id,
                InstitutionMember.institution_id == resource_id,
            ),
            exists().where(
                InstitutionCustomer.user_id == user_id,
                InstitutionCustomer.institution_id == resource_id,
            ),
        ),
        RatedResourceType.COACH: exists().where(
            relation.professional_id == resource_id,
            relation.customer_id == user_id,
            relation.status.in_(
                [ProfessionalRelationStatus.ACTIVE, ProfessionalRelationStatus.ENDED]
            ),
        ),
    }
    return case(
        *((resource_type == kind.value, condition) for kind, condition in evidence.items()),
        else_=false(),
    )


# --------------------------------------------------------------------------------------------
# Rating
# --------------------------------------------------------------------------------------------


async def rate(
    session: AsyncSession,
    user_id: uuid.UUID,
    resource_type: RatedResourceType | str,
    resource_id: uuid.UUID,
    score: int,
    *,
    comment: str | None = None,
    criteria: Mapping[str, int] | None = None,
) -> Rating:
    """Give (or replace) the user's rating of a resource, with optional review text and
    per-criterion scores (criteria code -> 1..5; when given, they replace the previous set).

    Everything is validated before anything is written: a bad score, resource type or criterion
    raises InvalidInput, an unknown resource NotFound, and nothing changes.
    """
    kind = _resource_type(resource_type)
    _check_score("score", score)
    review_text = (comment or "").strip() or None
    criteria_scores = None if criteria is None else await _criteria_scores(session, kind, criteria)
    await _check_resource(session, kind, resource_id, user_id)
    status_ids = await _code_ids(session, RatingStatus)
    pending = status_ids[RatingStatusCode.PENDING]

    statement = insert(Rating).values(
        user_id=user_id,
        resource_type=kind,
        resource_id=resource_id,
        rating_value=score,
        review_text=review_text,
        is_verified=verified_predicate(literal(user_id), literal(kind.value), literal(resource_id)),
        rating_status_id=status_ids[
            RatingStatusCode.PUBLISHED if review_text is None else RatingStatusCode.PENDING
        ],
    )
    excluded = statement.excluded
    new_text = and_(
        excluded.review_text.is_not(None), excluded.review_text.is_distinct_from(Rating.review_text)
    )
    statement = statement.on_conflict_do_update(
        index_elements=[Rating.user_id, Rating.resource_type, Rating.resource_id],
        set_={
            "rating_value": excluded.rating_value,
            "review_text": excluded.review_text,
            "is_verified": excluded.is_verified,
            "rated_at": func.now(),
            "updated_at": func.now(),
            # New text is unreviewed: back to the moderation queue, decision forgotten.
            "rating_status_id": case((new_text, literal(pending)), else_=Rating.rating_status_id),
            "moderated_at": case((new_text, null()), else_=Rating.moderated_at),
            "moderated_by": case((new_text, null()), else_=Rating.moderated_by),
        },
    )
    rating_id = (await session.execute(statement.returning(Rating.id))).scalar_one()
    if criteria_scores is not None:
        await _replace_criteria(session, rating_id, criteria_scores)
    return await _rating(session, rating_id)


async def moderate(
    session: AsyncSession, rating_id: uuid.UUID, status_code: str, moderator_id: uuid.UUID
) -> Rating:
    """Set a rating's moderation status (PENDING, PUBLISHED, HIDDEN, REJECTED).

    Publishing dismisses the rating's open reports; hiding or rejecting upholds them.
    A moderator cannot moderate their own rating (NotAllowed).
    """
    status_ids = await _code_ids(session, RatingStatus)
    if status_code not in status_ids:
        raise InvalidInput(
            f"unknown rating status {status_code!r}; expected one of {sorted(status_ids)}",
            status_code=status_code,
        )
    rating = await _rating(session, rating_id)
    if rating.user_id == moderator_id:
        raise NotAllowed("a moderator cannot moderate their own rating", rating_id=rating_id)
    await session.execute(
        update(Rating)
        .where(Rating.id == rating_id)
        .values(
            rating_status_id=status_ids[status_code],
            moderated_at=func.now(),
            moderated_by=moderator_id,
        )
    )
    outcome = _REPORT_OUTCOME.get(RatingStatusCode(status_code))
    if outcome is not None:
        report_status_ids = await _code_ids(session, ReportStatus)
        await session.execute(
            update(RatingReport)
            .where(RatingReport.rating_id == rating_id, RatingReport.resolved_at.is_(None))
            .values(
                report_status_id=report_status_ids[outcome],
                resolved_at=func.now(),
                resolved_by=moderator_id,
            )
        )
    return await _rating(session, rating_id)


async def vote_helpful(
    session: AsyncSession, rating_id: uuid.UUID, user_id: uuid.UUID, helpful: bool
) -> RatingHelpful:
    """Record the user's helpful / not helpful vote on a published rating; voting again changes
    the vote (one row per user and rating). Voting on one's own rating is InvalidInput."""
    rating = await _rating(session, rating_id)
    status_ids = await _code_ids(session, RatingStatus)
    if rating.rating_status_id != status_ids[RatingStatusCode.PUBLISHED]:
        raise NotFound(f"rating {rating_id} is not published", rating_id=rating_id)
    if rating.user_id == user_id:
        raise InvalidInput("you cannot vote on your own rating", rating_id=rating_id)
    statement = insert(RatingHelpful).values(
        rating_id=rating_id, user_id=user_id, is_helpful=helpful
    )
    statement = statement.on_conflict_do_update(
        index_elements=[RatingHelpful.rating_id, RatingHelpful.user_id],
        set_={"is_helpful": statement.excluded.is_helpful, "updated_at": func.now()},
    )
    vote_id = (await session.execute(statement.returning(RatingHelpful.id))).scalar_one()
    return await _fresh(session, RatingHelpful, vote_id)


async def report(
    session: AsyncSession,
    rating_id: uuid.UUID,
    user_id: uuid.UUID,
    reason_code: str,
    note: str | None = None,
) -> RatingReport:
    """Report a rating to the moderators. A user has at most one open report per rating
    (Conflict while it waits for a decision); reporting one's own rating is InvalidInput."""
    reason_ids = await _code_ids(session, ReportReason)
    if reason_code not in reason_ids:
        raise InvalidInput(
            f"unknown report reason {reason_code!r}; expected one of {sorted(reason_ids)}",
            reason_code=reason_code,
        )
    rating = await _rating(session, rating_id)
    if rating.user_id == user_id:
        raise InvalidInput("you cannot report your own rating", rating_id=rating_id)
    report_status_ids = await _code_ids(session, ReportStatus)
    statement = (
        insert(RatingReport)
        .values(
            rating_id=rating_id,
            reported_by=user_id,
            report_reason_id=reason_ids[reason_code],
            additional_details=(note or "").strip() or None,
            report_status_id=report_status_ids[ReportStatusCode.OPEN],
        )
        .on_conflict_do_nothing(
            index_elements=[RatingReport.rating_id, RatingReport.reported_by],
            index_where=RatingReport.resolved_at.is_(None),
        )
        .returning(RatingReport.id)
    )
    report_id = (await session.execute(statement)).scalar_one_or_none()
    if report_id is None:
        raise Conflict(
            f"you already reported rating {rating_id}; a moderator will look at it",
            rating_id=rating_id,
        )
    return await _fresh(session, RatingReport, report_id)


# --------------------------------------------------------------------------------------------
# Rollup
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingRollup:
    """Rows the rollup changed (all zero when run twice with nothing new in between)."""

    verified_changed: int
    summaries_written: int
    summaries_deleted: int
    trends_written: int
    trends_deleted: int


async def rollup_rating_summary(session: AsyncSession, day: dt.date | None = None) -> RatingRollup:
    """Refresh `rating.is_verified`, rebuild RATING_SUMMARY from every PUBLISHED rating and
    RATING_TREND for `day` (UTC; default today), in set-based SQL.

    Summaries always describe the ratings as they are now; `day` only selects the trend day.
    Rows whose figures did not change are not rewritten, so a second run changes nothing.
    """
    day = day or dt.datetime.now(dt.UTC).date()
    published_id = (await _code_ids(session, RatingStatus))[RatingStatusCode.PUBLISHED]

    # A rating given before using the resource becomes verified once the rater uses it.
    evidence = verified_predicate(Rating.user_id, Rating.resource_type, Rating.resource_id)
    verified = await session.execute(
        update(Rating)
        .where(Rating.is_verified.is_distinct_from(evidence))
        .values(is_verified=evidence)
        .returning(Rating.id)
    )
    verified_changed = len(verified.all())

    summaries_written = await _upsert_summaries(session, published_id)
    summaries_deleted = await _count_deleted(
        session,
        delete(RatingSummary)
        .where(
            ~exists().where(
                Rating.resource_type == RatingSummary.resource_type,
                Rating.resource_id == RatingSummary.resource_id,
                Rating.rating_status_id == published_id,
            )
        )
        .returning(RatingSummary.resource_id),
    )

    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    trends_written = await _upsert_trends(session, published_id, day, start, end)
    trends_deleted = await _count_deleted(
        session,
        delete(RatingTrend)
        .where(
            RatingTrend.trend_date == day,
            ~exists().where(
                Rating.resource_type == RatingTrend.resource_type,
                Rating.resource_id == RatingTrend.resource_id,
                Rating.rating_status_id == published_id,
                Rating.rated_at >= start,
                Rating.rated_at < end,
            ),
        )
        .returning(RatingTrend.id),
    )
    return RatingRollup(
        verified_changed, summaries_written, summaries_deleted, trends_written, trends_deleted
    )


async def _upsert_summaries(session: AsyncSession, published_id: uuid.UUID) -> int:
    stars = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
    source = (
        select(
            Rating.resource_type,
            Rating.resource_id,
            cast(func.avg(Rating.rating_value), Double).label("average_rating"),
            func.count().label("total_ratings"),
            *(
                func.count().filter(Rating.rating_value == value).label(f"{word}_star_count")
                for word, value in stars.items()
            ),
            func.count().filter(Rating.is_verified).label("verified_ratings_count"),
            cast(func.avg(Rating.rating_value).filter(Rating.is_verified), Double).label(
                "verified_average"
            ),
        )
        .where(Rating.rating_status_id == published_id)
        .group_by(Rating.resource_type, Rating.resource_id)
    )
    return await _upsert_changed(
        session,
        RatingSummary,
        source,
        key=["resource_type", "resource_id"],
        stamp="last_updated",
    )


async def _upsert_trends(
    session: AsyncSession,
    published_id: uuid.UUID,
    day: dt.date,
    start: dt.datetime,
    end: dt.datetime,
) -> int:
    daily = (
        select(
            Rating.resource_type,
            Rating.resource_id,
            cast(func.avg(Rating.rating_value), Double).label("daily_average"),
            func.count().label("daily_rating_count"),
        )
        .where(
            Rating.rating_status_id == published_id,
            Rating.rated_at >= start,
            Rating.rated_at < end,
        )
        .group_by(Rating.resource_type, Rating.resource_id)
        .subquery("daily")
    )
    earlier = aliased(Rating)
    average_before = (
        select(cast(func.avg(earlier.rating_value), Double))
        .where(
            earlier.resource_type == daily.c.resource_type,
            earlier.resource_id == daily.c.resource_id,
            earlier.rating_status_id == published_id,
            earlier.rated_at < start,
        )
        .scalar_subquery()
    )
    source = select(
        daily.c.resource_type,
        daily.c.resource_id,
        literal(day, Date).label("trend_date"),
        daily.c.daily_average,
        daily.c.daily_rating_count,
        (daily.c.daily_average - func.coalesce(average_before, daily.c.daily_average)).label(
            "trend_direction"
        ),
    )
    return await _upsert_changed(
        session,
        RatingTrend,
        source,
        key=["resource_type", "resource_id", "trend_date"],
        stamp="calculated_at",
    )


async def _upsert_changed(
    session: AsyncSession,
    model: type[Base],
    source: Any,
    *,
    key: list[str],
    stamp: str,
) -> int:
    """INSERT … SELECT … ON CONFLICT (key) DO UPDATE the figures, only where they differ;
    `stamp` (a timestamp column) moves only with them. Returns the rows written."""
    columns = [column.name for column in source.selected_columns]
    # include_defaults=False: a Python-side default (uuid4 for `id`) would be ONE bound value
    # for every selected row; the server default gives each row its own.
    statement = insert(model).from_select(columns, source, include_defaults=False)
    excluded = statement.excluded
    table = model.__table__
    figures = [column for column in columns if column not in key]
    statement = statement.on_conflict_do_update(
        index_elements=key,
        set_={**{column: excluded[column] for column in figures}, stamp: func.now()},
        where=or_(*(table.c[column].is_distinct_from(excluded[column]) for column in figures)),
    )
    written = await session.execute(statement.returning(table.c[key[0]]))
    return len(written.all())


async def _count_deleted(session: AsyncSession, statement: Any) -> int:
    return len((await session.execute(statement)).all())


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _resource_type(value: RatedResourceType | str) -> RatedResourceType:
    try:
        return RatedResourceType(value)
    except ValueError:
        known = ", ".join(member.value for member in RatedResourceType)
        raise InvalidInput(
            f"unknown resource type {value!r}; expected one of {known}", resource_type=value
        ) from None


def _check_score(what: str, score: object) -> None:
    # bool is an int in Python; True must not pass as a score of 1.
    if isinstance(score, bool) or not isinstance(score, int) or not MIN_SCORE <= score <= MAX_SCORE:
        raise InvalidInput(
            f"{what} must be a whole number from {MIN_SCORE} to {MAX_SCORE}, got {score!r}",
            score=score,
        )


async def _criteria_scores(
    session: AsyncSession, kind: RatedResourceType, criteria: Mapping[str, int]
) -> dict[uuid.UUID, int]:
    """Validate criteria codes and scores; return criteria_type id -> score."""
    for code, score in criteria.items():
        _check_score(f"criterion {code}", score)
    rows = (
        await session.execute(
            select(CriteriaType.code, CriteriaType.id, CriteriaType.applicable_to).where(
                CriteriaType.code.in_(list(criteria)), CriteriaType.is_active
            )
        )
    ).all()
    found = {code: (criteria_id, applicable) for code, criteria_id, applicable in rows}
    unknown = sorted(set(criteria) - set(found))
    if unknown:
        raise InvalidInput(f"unknown rating criteria: {', '.join(unknown)}", criteria=unknown)
    misplaced = sorted(code for code, (_, applicable) in found.items() if kind not in applicable)
    if misplaced:
        raise InvalidInput(
            f"criteria {', '.join(misplaced)} do not apply to a {kind.value.lower()}",
            criteria=misplaced,
        )
    return {found[code][0]: score for code, score in criteria.items()}


async def _check_resource(
    session: AsyncSession, kind: RatedResourceType, resource_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    id_column, owner_column = _RESOURCES[kind]
    row = (await session.execute(select(owner_column).where(id_column == resource_id))).first()
    if row is None:
        raise NotFound(f"no {kind.value.lower()} with id {resource_id}", resource_id=resource_id)
    if row[0] == user_id:
        raise InvalidInput(
            f"you cannot rate your own {kind.value.lower()}", resource_id=resource_id
        )


async def _replace_criteria(
    session: AsyncSession, rating_id: uuid.UUID, scores: dict[uuid.UUID, int]
) -> None:
    await session.execute(
        delete(RatingCriteria).where(
            RatingCriteria.rating_id == rating_id,
            RatingCriteria.criteria_type_id.not_in(list(scores)),
        )
    )
    if not scores:
        return
    statement = insert(RatingCriteria).values(
        [
            {"rating_id": rating_id, "criteria_type_id": criteria_id, "score": score}
            for criteria_id, score in scores.items()
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[RatingCriteria.rating_id, RatingCriteria.criteria_type_id],
            set_={"score": statement.excluded.score},
        )
    )


async def _code_ids(session: AsyncSession, model: type[Base]) -> dict[str, uuid.UUID]:
    """code -> id of a lookup table of this module (its rows are reference data)."""
    table = model.__table__
    rows = (await session.execute(select(table.c.code, table.c.id))).all()
    if not rows:
        raise NotFound(f"{model.__tablename__} is empty; load the reference data (motriforge seed)")
    return dict(rows)


async def _rating(session: AsyncSession, rating_id: uuid.UUID) -> Rating:
    try:
        return await _fresh(session, Rating, rating_id)
    except NotFound:
        raise NotFound(f"no rating with id {rating_id}", rating_id=rating_id) from None


async def _fresh(session: AsyncSession, model: type[_Row], row_id: uuid.UUID) -> _Row:
    """The row as the database has it now (Core statements bypass the identity map)."""
    row = await session.get(model, row_id, populate_existing=True)
    if row is None:
        raise NotFound(f"no {model.__tablename__} with id {row_id}", row_id=row_id)
    return row
