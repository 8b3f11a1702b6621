"""Recording activities: the feed/analytics rows (ACTIVITY + ACTIVITY_METRIC).

A logged training session is summarised here as one activity (WORKOUT_COMPLETED or FREE_LOG,
`training_session_id` set, a few metrics such as VOLUME_LOAD); its sets stay in logged_set.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.access import Visibility
from domain.models.activity import Activity, ActivityMetric, ActivityResourceType, ActivityType
from domain.models.enums import ResourceType
from domain.models.lookup import Metric
from domain.models.training_log import TrainingSession

TITLE_MAX_LENGTH = 255
# Difficulty "metrics" rank things; they are not measurements an activity can record.
NOT_MEASURABLE_METRIC_TYPES = ("DIFFICULTY",)


async def record_activity(
    session: AsyncSession,
    user_id: uuid.UUID,
    type_code: str,
    *,
    title: str,
    occurred_at: dt.datetime,
    resource_type: ActivityResourceType | str | None = None,
    resource_id: uuid.UUID | None = None,
    training_session_id: uuid.UUID | None = None,
    metrics: dict[str, float] | None = None,
    description: str | None = None,
    is_system_generated: bool = False,
) -> Activity:
    """Write one activity of the user, with its metrics by metric code ({"VOLUME_LOAD": 5400}).

    Each metric also gets `previous_value`: the same metric on the user's latest earlier
    activity of the same type. The activity starts at the default ACTIVITY visibility.
    """
    activity_type = await _activity_type(session, type_code)
    clean_title = title.strip()
    if not 1 <= len(clean_title) <= TITLE_MAX_LENGTH:
        raise InvalidInput(
            f"an activity title needs 1 to {TITLE_MAX_LENGTH} characters",
            max_length=TITLE_MAX_LENGTH,
        )
    if occurred_at.tzinfo is None:
        raise InvalidInput("occurred_at has no timezone; pass an aware datetime")
    if (resource_type is None) != (resource_id is None):
        raise InvalidInput("resource_type and resource_id go together: give both or neither")
    kind = _activity_resource_type(resource_type) if resource_type is not None else None
    if activity_type.requires_resource and kind is None:
        raise InvalidInput(
            f"a {activity_type.code} activity needs the resource it is about",
            type_code=activity_type.code,
        )
    if training_session_id is not None:
        await _require_own_training_session(session, user_id, training_session_id)
    metric_ids = await _metric_ids(session, metrics or {})

    activity = Activity(
        user_id=user_id,
        activity_type_id=activity_type.id,
        title=clean_title,
        description=description,
        resource_type=kind,
        resource_id=resource_id,
        training_session_id=training_session_id,
        occurred_at=occurred_at,
        is_system_generated=is_system_generated,
        visibility_id=await _default_activity_visibility(session),
    )
    previous = await _previous_values(
        session, user_id, activity_type.id, occurred_at, list(metric_ids.values())
    )
    session.add(activity)
    await session.flush()
    session.add_all(
        ActivityMetric(
            activity_id=activity.id,
            metric_id=metric_id,
            value=float((metrics or {})[code]),
            previous_value=previous.get(metric_id),
            measured_at=occurred_at,
        )
        for code, metric_id in metric_ids.items()
    )
    await session.flush()
    return activity


async def _activity_type(session: AsyncSession, code: str) -> ActivityType:
    found = (
        await session.execute(select(ActivityType).where(ActivityType.code == code))
    ).scalar_one_or_none()
    if found is None:
        raise InvalidInput(f"unknown activity type {code!r}", type_code=code)
    return found


def _activity_resource_type(value: ActivityResourceType | str) -> ActivityResourceType:
    try:
        return ActivityResourceType(value)
    except ValueError:
        allowed = ", ".join(member.value for member in ActivityResourceType)
        raise InvalidInput(
            f"an activity cannot be about a {value!r}; expected one of {allowed}",
            resource_type=value,
        ) from None


async def _require_own_training_session(
    session: AsyncSession, user_id: uuid.UUID, training_session_id: uuid.UUID
) -> None:
    owner = (
        await session.execute(
            select(TrainingSession.user_id).where(TrainingSession.id == training_session_id)
        )
    ).scalar_one_or_none()
    if owner is None:
        raise NotFound(
            f"training session {training_session_id} does not exist",
            training_session_id=str(training_session_id),
        )
    if owner != user_id:
        raise NotAllowed("an activity can only summarise the user's own training session")


async def _metric_ids(session: AsyncSession, values: dict[str, float]) -> dict[str, uuid.UUID]:
    """Metric code -> id; unknown or ambiguous codes and non-finite values are refused."""
    not_finite = sorted(code for code, value in values.items() if not math.isfinite(value))
    if not_finite:
        raise InvalidInput(f"metric values must be finite numbers: {', '.join(not_finite)}")
    if not values:
        return {}
    rows = (
        await session.execute(
            select(Metric.code, Metric.id, Metric.type).where(
                Metric.code.in_(values), Metric.type.not_in(NOT_MEASURABLE_METRIC_TYPES)
            )
        )
    ).all()
    by_code: dict[str, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    for code, metric_id, metric_type in rows:
        by_code[code].append((metric_id, metric_type))
    unknown = sorted(set(values) - set(by_code))
    if unknown:
        raise InvalidInput(f"unknown metric code(s): {', '.join(unknown)}", codes=unknown)
    ambiguous = sorted(code for code, found in by_code.items() if len(found) > 1)
    if ambiguous:
        raise InvalidInput(
            f"metric code(s) name metrics of several types: {', '.join(ambiguous)}",
            codes=ambiguous,
        )
    return {code: found[0][0] for code, found in by_code.items()}


async def _previous_values(
    session: AsyncSession,
    user_id: uuid.UUID,
    activity_type_id: uuid.UUID,
    before: dt.datetime,
    metric_ids: list[uuid.UUID],
) -> dict[uuid.UUID, float]:
    """Each metric's value on the user's latest activity of this type before `before`."""
    if not metric_ids:
        return {}
    query = (
        select(ActivityMetric.metric_id, ActivityMetric.value)
        .join(Activity, Activity.id == ActivityMetric.activity_id)
        .where(
            Activity.user_id == user_id,
            Activity.activity_type_id == activity_type_id,
            Activity.occurred_at < before,
            ActivityMetric.metric_id.in_(metric_ids),
        )
        .order_by(ActivityMetric.metric_id, Activity.occurred_at.desc(), Activity.id.desc())
        .ext(distinct_on(ActivityMetric.metric_id))
    )
    return dict((await session.execute(query)).all())


async def _default_activity_visibility(session: AsyncSession) -> uuid.UUID:
    visibility_id = (
        await session.execute(
            select(Visibility.id).where(
                Visibility.resource_type == ResourceType.ACTIVITY, Visibility.is_default
            )
        )
    ).scalar_one_or_none()
    if visibility_id is None:
        # Reference data missing: a deployment problem, not a user's mistake.
        raise NotFound("no default ACTIVITY visibility; run `motriforge seed`")
    return visibility_id
