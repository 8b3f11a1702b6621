"""Goals on a real database: targets checked, progress from the log (e1RM, sessions this week
in the user's time zone, volume over the period), achievement with its feed rows, access."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed
from domain.models.activity import Activity, ActivityType
from domain.models.goal import Goal, GoalStatus, MetricGoal, Subgoal
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.services.goals import (
    InvalidGoal,
    TargetKind,
    TargetSpec,
    abandon_goal,
    add_target,
    create_goal,
    delete_goal,
    find_exercise,
    goal_detail,
    goals_overview,
    parse_date,
    parse_load,
    refresh_goal_status,
)
from domain.services.strength import WeightUnit
from tests.factories import exercise_id, make_user

UTC = dt.UTC
# A Wednesday.
NOW = dt.datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
LATER = dt.date(2026, 6, 30)
SESSIONS_4 = TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(4))


async def log(
    session: AsyncSession,
    user_id: uuid.UUID,
    exercise: uuid.UUID,
    at: dt.datetime,
    sets: list[tuple[int, str]],
    *,
    warmup: bool = False,
) -> uuid.UUID:
    training = TrainingSession(
        user_id=user_id, started_at=at, finished_at=at, source=TrainingSessionSource.FREE_TEXT
    )
    session.add(training)
    await session.flush()
    session.add_all(
        LoggedSet(
            session_id=training.id,
            user_id=user_id,
            exercise_id=exercise,
            performed_at=at + dt.timedelta(minutes=index),
            set_index=index,
            reps=reps,
            load_kg=Decimal(load),
            is_warmup=warmup,
        )
        for index, (reps, load) in enumerate(sets)
    )
    await session.flush()
    return training.id


async def feed(session: AsyncSession, user_id: uuid.UUID, code: str) -> list[uuid.UUID | None]:
    rows = await session.scalars(
        select(Activity.resource_id)
        .join(ActivityType, ActivityType.id == Activity.activity_type_id)
        .where(Activity.user_id == user_id, ActivityType.code == code)
    )
    return list(rows)


async def test_e1rm_goal_progress_then_achieved(session: AsyncSession) -> None:
    ann = await make_user(session)
    squat = await exercise_id(session, "back_squat")
    goal_id = await create_goal(
        session,
        ann.id,
        title="Stronger squat by June",
        target=TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(140), squat, LATER),
        now=NOW,
    )
    assert await feed(session, ann.id, "GOAL_SET") == [goal_id]
    view = (await goals_overview(session, ann.id, now=NOW, locale="en")).goals[0]
    assert view.title == "Stronger squat by June"
    assert view.target_date == LATER
    (target,) = view.targets
    assert target.current == 0
    assert target.exercise_name == "Back Squat"
    # Warm-ups and sets long before the goal do not count.
    await log(session, ann.id, squat, NOW - dt.timedelta(days=200), [(1, "200")])
    await log(session, ann.id, squat, NOW + dt.timedelta(days=1), [(1, "150")], warmup=True)
    await log(session, ann.id, squat, NOW + dt.timedelta(days=2), [(5, "120")])
    later = NOW + dt.timedelta(days=3)
    overview = await goals_overview(session, ann.id, now=later, locale="en")
    (target,) = overview.goals[0].targets
    # mean(Epley 140, Brzycki 135)
    assert target.current == Decimal("137.5")
    assert 0.98 < target.fraction < 0.99
    assert overview.achieved_now == []
    stored = await session.scalar(select(MetricGoal.current_value))
    assert stored is not None
    assert await refresh_goal_status(session, ann.id, now=later) == []
    await log(session, ann.id, squat, NOW + dt.timedelta(days=4), [(3, "130")])
    assert await refresh_goal_status(session, ann.id, now=NOW + dt.timedelta(days=5)) == [goal_id]
    goal = await session.get(Goal, goal_id)
    assert goal is not None
    await session.refresh(goal)
    assert goal.status is GoalStatus.ACHIEVED
    assert goal.achieved_at == NOW + dt.timedelta(days=5)
    assert await feed(session, ann.id, "GOAL_ACHIEVED") == [goal_id]
    # Once only.
    assert await refresh_goal_status(session, ann.id, now=NOW + dt.timedelta(days=6)) == []
    assert await feed(session, ann.id, "GOAL_ACHIEVED") == [goal_id]


async def test_sessions_this_week_in_my_time_zone(session: AsyncSession) -> None:
    ben = await make_user(session, timezone="Europe/Paris")
    plank = await exercise_id(session, "back_squat")
    goal_id = await create_goal(
        session,
        ben.id,
        title="Train often",
        target=TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(3)),
        now=NOW - dt.timedelta(days=30),
    )
    # Sunday 23:30 in Paris (last week), Monday 00:30 in Paris (this week), Tuesday.
    await log(session, ben.id, plank, dt.datetime(2026, 3, 8, 22, 30, tzinfo=UTC), [(5, "60")])
    await log(session, ben.id, plank, dt.datetime(2026, 3, 8, 23, 30, tzinfo=UTC), [(5, "60")])
    await log(session, ben.id, plank, dt.datetime(2026, 3, 10, 18, 0, tzinfo=UTC), [(5, "60")])
    # An empty session does not count.
    session.add(
        TrainingSession(
            user_id=ben.id,
            started_at=dt.datetime(2026, 3, 10, 19, 0, tzinfo=UTC),
            source=TrainingSessionSource.FREE_TEXT,
        )
    )
    await session.flush()
    view = await goal_detail(session, ben.id, goal_id, now=NOW, locale="en")
    (target,) = view.targets
    assert target.current == 2
    assert view.status is GoalStatus.ACTIVE
    await log(session, ben.id, plank, dt.datetime(2026, 3, 11, 7, 0, tzinfo=UTC), [(5, "60")])
    view = await goal_detail(session, ben.id, goal_id, now=NOW, locale="en")
    assert view.status is GoalStatus.ACHIEVED
    assert view.fraction == 1.0


async def test_volume_over_the_period_and_subgoals(session: AsyncSession) -> None:
    cy = await make_user(session, timezone="America/New_York")
    bench = await exercise_id(session, "barbell_bench_press")
    squat = await exercise_id(session, "back_squat")
    end = dt.date(2026, 3, 20)
    goal_id = await create_goal(
        session,
        cy.id,
        title="Big month",
        target=TargetSpec(TargetKind.VOLUME_LOAD, Decimal(3000), None, end),
        now=NOW,
    )
    await add_target(
        session,
        cy.id,
        goal_id,
        TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(200), squat, dt.date(2026, 9, 1)),
        now=NOW,
    )
    assert await session.scalar(select(func.count()).where(Subgoal.goal_id == goal_id)) == 2
    goal = await session.get(Goal, goal_id)
    assert goal is not None
    assert goal.target_date == dt.date(2026, 9, 1)
    await log(session, cy.id, bench, NOW - dt.timedelta(days=1), [(10, "100")])  # before
    await log(session, cy.id, bench, NOW + dt.timedelta(hours=1), [(10, "100"), (10, "100")])
    await log(session, cy.id, squat, NOW + dt.timedelta(days=2), [(5, "100")])
    # 20 March, 23:00 in New York is 21 March UTC: still in the period.
    await log(session, cy.id, bench, dt.datetime(2026, 3, 21, 3, 0, tzinfo=UTC), [(5, "100")])
    await log(session, cy.id, bench, dt.datetime(2026, 3, 21, 5, 0, tzinfo=UTC), [(5, "100")])
    view = await goal_detail(session, cy.id, goal_id, now=NOW, locale="en")
    volume = next(t for t in view.targets if t.kind is TargetKind.VOLUME_LOAD)
    assert volume.current == Decimal(3000)
    assert volume.met
    # The e1RM target is not met: the goal stays active.
    assert view.status is GoalStatus.ACTIVE
    assert 0.5 < view.fraction < 1


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        (TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(-5), None, LATER), "too_low"),
        (TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(5000), None, LATER), "too_high"),
        (TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(30)), "too_high"),
        (TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal("2.5")), "not_whole"),
        (TargetSpec(TargetKind.VOLUME_LOAD, Decimal(100), None, dt.date(2026, 3, 1)), "date_past"),
        (TargetSpec(TargetKind.VOLUME_LOAD, Decimal(100), None, NOW.date()), "date_past"),
        (TargetSpec(TargetKind.VOLUME_LOAD, Decimal(100), None, dt.date(2040, 1, 1)), "date_far"),
        (TargetSpec(TargetKind.VOLUME_LOAD, Decimal(100)), "date_needed"),
        (TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(100), None, LATER), "exercise_needed"),
        (
            TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(100), uuid.uuid4(), LATER),
            "exercise_unknown",
        ),
    ],
)
async def test_wrong_targets_change_nothing(
    session: AsyncSession, target: TargetSpec, problem: str
) -> None:
    dee = await make_user(session)
    with pytest.raises(InvalidGoal) as caught:
        await create_goal(session, dee.id, title="x", target=target, now=NOW)
    assert caught.value.problem == problem
    assert await session.scalar(select(func.count()).where(Goal.user_id == dee.id)) == 0


async def test_e1rm_needs_a_weighted_exercise_and_a_title(session: AsyncSession) -> None:
    eve = await make_user(session)
    plank = await exercise_id(session, "plank")
    with pytest.raises(InvalidGoal) as caught:
        await create_goal(
            session,
            eve.id,
            title="Plank",
            target=TargetSpec(TargetKind.ESTIMATED_1RM, Decimal(100), plank, LATER),
            now=NOW,
        )
    assert caught.value.problem == "exercise_not_weighted"
    with pytest.raises(InvalidGoal) as caught:
        await create_goal(
            session,
            eve.id,
            title="   ",
            target=TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(3)),
            now=NOW,
        )
    assert caught.value.problem == "title"


async def test_another_users_goal_is_refused(session: AsyncSession) -> None:
    owner = await make_user(session)
    mallory = await make_user(session)
    goal_id = await create_goal(
        session,
        owner.id,
        title="Mine",
        target=TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(3)),
        now=NOW,
    )
    for attempt in (
        abandon_goal(session, mallory.id, goal_id, now=NOW),
        delete_goal(session, mallory.id, goal_id),
        goal_detail(session, mallory.id, goal_id, now=NOW, locale="en"),
        add_target(
            session,
            mallory.id,
            goal_id,
            TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(4)),
            now=NOW,
        ),
    ):
        with pytest.raises(NotAllowed):
            await attempt
    with pytest.raises(NotAllowed):
        await delete_goal(session, mallory.id, uuid.uuid4())
    assert (await goals_overview(session, mallory.id, now=NOW, locale="en")).goals == []
    goal = await session.get(Goal, goal_id)
    assert goal is not None
    assert goal.status is GoalStatus.ACTIVE


async def test_abandon_then_delete(session: AsyncSession) -> None:
    fay = await make_user(session)
    goal_id = await create_goal(
        session,
        fay.id,
        title="Maybe",
        target=TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(3)),
        now=NOW,
    )
    await abandon_goal(session, fay.id, goal_id, now=NOW)
    overview = await goals_overview(session, fay.id, now=NOW, locale="en")
    assert [view.status for view in overview.goals] == [GoalStatus.ABANDONED]
    with pytest.raises(InvalidGoal):
        await add_target(
            session, fay.id, goal_id, TargetSpec(TargetKind.SESSIONS_PER_WEEK, Decimal(4)), now=NOW
        )
    await delete_goal(session, fay.id, goal_id)
    assert await session.scalar(select(func.count()).where(Goal.user_id == fay.id)) == 0
    assert await session.scalar(select(func.count()).where(Subgoal.goal_id == goal_id)) == 0


async def test_find_exercise_and_parsing(session: AsyncSession) -> None:
    gus = await make_user(session)
    match = await find_exercise(session, gus.id, "Back squat", locale="en")
    assert match.chosen is not None
    assert match.chosen.name == "Back Squat"
    match = await find_exercise(session, gus.id, "присед", locale="ru")
    assert match.chosen is not None
    assert match.chosen.id == await exercise_id(session, "back_squat")
    match = await find_exercise(session, gus.id, "press", locale="en")
    assert match.chosen is None
    assert len(match.candidates) == 5
    assert (await find_exercise(session, gus.id, "zzzz", locale="en")).candidates == []
    assert parse_load("140", WeightUnit.KG) == Decimal(140)
    assert parse_load("102,5 kg", WeightUnit.LB) == Decimal("102.5")
    assert round(parse_load("315", WeightUnit.LB), 2) == Decimal("142.88")
    assert parse_date("30.06.2026") == dt.date(2026, 6, 30)
    assert parse_date("2026-06-30") == dt.date(2026, 6, 30)
    for bad in ("-5", "abc", "1e9"):
        with pytest.raises(InvalidGoal):
            parse_load(bad, WeightUnit.KG)
    with pytest.raises(InvalidGoal):
        parse_date("31.02.2026")
