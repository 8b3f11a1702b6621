"""Recording activities: the row, its metrics by code, previous values, and what is refused."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.access import Visibility
from domain.models.activity import Activity, ActivityMetric, ActivityResourceType, ActivityType
from domain.models.exercise import Exercise
from domain.models.lookup import Metric
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.user import User
from domain.reference import activity as activity_reference
from domain.reference.loader import (
    DATA_DIR,
    LoaderContext,
    ReferenceData,
    SeedReport,
    read_reference_data,
)
from domain.services.activity import record_activity

UTC = dt.UTC
MONDAY = dt.datetime(2026, 11, 23, 18, tzinfo=UTC)


@pytest.fixture(scope="module")
def reference_data() -> ReferenceData:
    return read_reference_data()


async def load_activity_types(session: AsyncSession, data: ReferenceData) -> SeedReport:
    report = SeedReport()
    section = activity_reference.SECTION
    await section.load(LoaderContext(session, data, report), section.read(DATA_DIR))
    return report


@pytest.fixture
async def activity_session(session: AsyncSession, reference_data: ReferenceData) -> AsyncSession:
    """The test session with the activity types loaded (a no-op once the seed registers them)."""
    await load_activity_types(session, reference_data)
    return session


async def new_user(session: AsyncSession, name: str) -> uuid.UUID:
    user = User(first_name=name)
    session.add(user)
    await session.flush()
    return user.id


async def new_training_session(
    session: AsyncSession, user_id: uuid.UUID, started_at: dt.datetime
) -> uuid.UUID:
    training = TrainingSession(
        user_id=user_id, started_at=started_at, source=TrainingSessionSource.FREE_TEXT
    )
    session.add(training)
    await session.flush()
    return training.id


async def metrics_of(
    session: AsyncSession, activity_id: uuid.UUID
) -> dict[str, tuple[float, float | None, dt.datetime]]:
    rows = (
        await session.execute(
            select(
                Metric.code,
                ActivityMetric.value,
                ActivityMetric.previous_value,
                ActivityMetric.measured_at,
            )
            .join(Metric, Metric.id == ActivityMetric.metric_id)
            .where(ActivityMetric.activity_id == activity_id)
        )
    ).all()
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


async def activity_count(session: AsyncSession, user_id: uuid.UUID) -> int:
    query = select(func.count()).select_from(Activity).where(Activity.user_id == user_id)
    return (await session.execute(query)).scalar_one()


async def test_record_activity_writes_the_row_and_metrics_by_code(
    activity_session: AsyncSession,
) -> None:
    session = activity_session
    ada = await new_user(session, "Ada")
    training = await new_training_session(session, ada, MONDAY)

    activity = await record_activity(
        session,
        ada,
        "WORKOUT_COMPLETED",
        title="  Lower A  ",
        occurred_at=MONDAY,
        training_session_id=training,
        metrics={"VOLUME_LOAD": 5400.0, "TOTAL_REPS": 60, "SORENESS": 3},
    )

    stored = await session.get(Activity, activity.id)
    assert stored is not None
    assert stored.title == "Lower A"
    assert stored.training_session_id == training
    assert stored.occurred_at == MONDAY
    assert stored.is_system_generated is False
    assert (stored.resource_type, stored.resource_id) == (None, None)
    type_code = (
        await session.execute(
            select(ActivityType.code).where(ActivityType.id == stored.activity_type_id)
        )
    ).scalar_one()
    assert type_code == "WORKOUT_COMPLETED"
    visibility = await session.get(Visibility, stored.visibility_id)
    assert visibility is not None
    assert (visibility.resource_type, visibility.code) == ("ACTIVITY", "PRIVATE")
    assert await metrics_of(session, activity.id) == {
        "VOLUME_LOAD": (5400.0, None, MONDAY),
        "TOTAL_REPS": (60.0, None, MONDAY),
        "SORENESS": (3.0, None, MONDAY),
    }


async def test_previous_value_comes_from_the_latest_earlier_activity_of_the_type(
    activity_session: AsyncSession,
) -> None:
    session = activity_session
    ada = await new_user(session, "Ada")
    ivan = await new_user(session, "Ivan")
    week = dt.timedelta(days=7)

    async def completed(user: uuid.UUID, at: dt.datetime, volume: float) -> uuid.UUID:
        activity = await record_activity(
            session,
            user,
            "WORKOUT_COMPLETED",
            title="Lower A",
            occurred_at=at,
            metrics={"VOLUME_LOAD": volume},
        )
        return activity.id

    await completed(ada, MONDAY - 2 * week, 5000)
    await completed(ada, MONDAY - week, 5400)
    await completed(ivan, MONDAY - dt.timedelta(days=1), 9000)  # someone else's
    await record_activity(  # another type, closer in time
        session,
        ada,
        "FREE_LOG",
        title="Extra sets",
        occurred_at=MONDAY - dt.timedelta(days=2),
        metrics={"VOLUME_LOAD": 100},
    )

    latest = await completed(ada, MONDAY, 6000)
    assert (await metrics_of(session, latest))["VOLUME_LOAD"][:2] == (6000.0, 5400.0)
    # Logged late for an earlier date: compared with what came before *that* date.
    backfilled = await completed(ada, MONDAY - week - dt.timedelta(days=1), 5200)
    assert (await metrics_of(session, backfilled))["VOLUME_LOAD"][:2] == (5200.0, 5000.0)


async def test_activity_about_a_resource(activity_session: AsyncSession) -> None:
    session = activity_session
    ada = await new_user(session, "Ada")
    squat = (
        await session.execute(select(Exercise.id).where(Exercise.code == "back_squat"))
    ).scalar_one()
    activity = await record_activity(
        session,
        ada,
        "PR_ACHIEVED",
        title="Back squat 140 kg",
        occurred_at=MONDAY,
        resource_type="EXERCISE",
        resource_id=squat,
        metrics={"ESTIMATED_1RM": 152.5},
        is_system_generated=True,
    )
    assert (activity.resource_type, activity.resource_id) == (ActivityResourceType.EXERCISE, squat)
    assert activity.is_system_generated is True
    assert (await metrics_of(session, activity.id))["ESTIMATED_1RM"][0] == 152.5


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"type_code": "NO_SUCH_TYPE"}, InvalidInput, "unknown activity type 'NO_SUCH_TYPE'"),
        ({"metrics": {"VOLUME_LOAD": 1, "BOGUS": 2}}, InvalidInput, "unknown metric code.*BOGUS"),
        ({"metrics": {"BEGINNER": 1}}, InvalidInput, "unknown metric code.*BEGINNER"),
        ({"metrics": {"VOLUME_LOAD": float("nan")}}, InvalidInput, "finite"),
        ({"type_code": "PR_ACHIEVED"}, InvalidInput, "PR_ACHIEVED activity needs the resource"),
        ({"resource_type": "EXERCISE"}, InvalidInput, "give both or neither"),
        ({"resource_type": "PLANET", "resource_id": uuid.uuid4()}, InvalidInput, "'PLANET'"),
        ({"occurred_at": dt.datetime(2026, 1, 1)}, InvalidInput, "timezone"),  # noqa: DTZ001
        ({"title": " "}, InvalidInput, "title"),
        ({"training_session_id": uuid.uuid4()}, NotFound, "training session .* does not exist"),
        ({"training_session_id": "OTHER"}, NotAllowed, "own training session"),
    ],
    ids=[
        "unknown_type",
        "unknown_metric",
        "difficulty_is_not_a_measure",
        "nan_metric",
        "resource_required",
        "half_a_resource",
        "unknown_resource_type",
        "naive_time",
        "blank_title",
        "missing_training_session",
        "someone_elses_training_session",
    ],
)
async def test_bad_activities_are_refused_and_nothing_is_written(
    activity_session: AsyncSession,
    changes: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    session = activity_session
    ada = await new_user(session, "Ada")
    if changes.get("training_session_id") == "OTHER":
        ivan = await new_user(session, "Ivan")
        changes = {"training_session_id": await new_training_session(session, ivan, MONDAY)}
    arguments: dict[str, object] = {
        "type_code": "WORKOUT_COMPLETED",
        "title": "Lower A",
        "occurred_at": MONDAY,
        **changes,
    }
    with pytest.raises(error, match=message):
        await record_activity(session, ada, **arguments)  # type: ignore[arg-type]
    assert await activity_count(session, ada) == 0


async def test_deleting_a_training_session_deletes_its_activity(
    activity_session: AsyncSession,
) -> None:
    session = activity_session
    ada = await new_user(session, "Ada")
    training = await new_training_session(session, ada, MONDAY)
    activity = await record_activity(
        session,
        ada,
        "WORKOUT_COMPLETED",
        title="Lower A",
        occurred_at=MONDAY,
        training_session_id=training,
        metrics={"TOTAL_REPS": 60},
    )
    await session.execute(delete(TrainingSession).where(TrainingSession.id == training))
    session.expunge_all()
    assert await activity_count(session, ada) == 0
    remaining = select(func.count()).where(ActivityMetric.activity_id == activity.id)
    assert (await session.execute(remaining)).scalar_one() == 0


async def test_activity_types_load_idempotently_in_three_languages(
    session: AsyncSession, reference_data: ReferenceData
) -> None:
    await load_activity_types(session, reference_data)
    second = await load_activity_types(session, reference_data)
    assert second.total == 0, second.changes

    types = {row.code: row for row in (await session.execute(select(ActivityType))).scalars()}
    assert {"WORKOUT_COMPLETED", "PR_ACHIEVED", "FAVORITE_ADDED", "FREE_LOG"} <= set(types)
    completed = types["WORKOUT_COMPLETED"]
    assert completed.name == "Workout completed"
    assert set(completed.name_i18n) == {"en", "fr", "ru"}
    assert set(completed.description_i18n) == {"en", "fr", "ru"}
    assert types["PR_ACHIEVED"].requires_resource is True
    assert types["WORKOUT_STARTED"].is_trackable is False
