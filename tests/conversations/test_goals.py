"""/goals through the emulator: an e1RM goal and a sessions-per-week goal created step by step,
progress from logged sets, achievement, wrong inputs answered with nothing changed, a target
added, abandon and delete, and a forged goal id of another user refused."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.emulator.driver import EmulatedUser
from bot.handlers.goals import GoalAbandon, GoalDelete, GoalExercisePick, GoalOpen
from domain.models.exercise import Exercise
from domain.models.goal import Goal, GoalStatus, MetricGoal
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.services.settings import set_user_setting
from tests.conversations.conftest import Harness


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


def in_days(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


async def goals_of(harness: Harness, person: EmulatedUser) -> list[tuple[str, GoalStatus, int]]:
    """(title, status, number of targets) of the person's goals, oldest first."""
    user_id = await harness.user_id(person)
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Goal.title, Goal.status, func.count(MetricGoal.metric_id))
            .outerjoin(Goal.subgoals)
            .outerjoin(MetricGoal)
            .where(Goal.user_id == user_id)
            .group_by(Goal.id)
            .order_by(Goal.created_at)
        )
        return [(title, status, count) for title, status, count in rows]


async def goal_id_of(harness: Harness, person: EmulatedUser, title: str) -> uuid.UUID:
    user_id = await harness.user_id(person)
    async with harness.session_factory() as session:
        found = await session.scalar(
            select(Goal.id).where(Goal.user_id == user_id, Goal.title == title)
        )
        assert found is not None
        return found


async def log_sets(
    harness: Harness, person: EmulatedUser, code: str, sets: list[tuple[int, str]]
) -> None:
    """One finished session of ``sets`` (reps, kg) of the exercise, now."""
    user_id = await harness.user_id(person)
    at = dt.datetime.now(dt.UTC)
    async with harness.session_factory() as session, session.begin():
        exercise = await session.scalar(select(Exercise.id).where(Exercise.code == code))
        assert exercise is not None
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
                performed_at=at,
                set_index=index,
                reps=reps,
                load_kg=Decimal(load),
            )
            for index, (reps, load) in enumerate(sets)
        )


async def start_goal(person: EmulatedUser, title: str) -> None:
    await person.send("/goals")
    replies = await person.tap("➕ New goal")
    assert "Name your goal" in replies[-1].text
    replies = await person.send(title)
    assert "What do you want to reach?" in replies[-1].text


async def test_e1rm_goal_step_by_step_then_achieved(harness: Harness) -> None:
    ann = harness.user("ann")
    replies = await ann.send("/goals")
    assert "You have no goal yet." in replies[-1].text
    await start_goal(ann, "Stronger squat")
    replies = await ann.tap("🏋️ Estimated 1RM on an exercise")
    assert "Which exercise?" in replies[-1].text
    replies = await ann.send("zzz unknown lift")
    assert "I do not know that exercise." in replies[-1].text
    replies = await ann.send("plank")
    assert "not done with a load" in replies[-1].text
    replies = await ann.send("back squat")
    assert "What estimated 1RM do you aim for on Back Squat, in kg?" in replies[-1].text
    for wrong, answer in (
        ("-20", "Please send a positive number"),
        ("heavy", "Please send a positive number"),
        ("0", "too small"),
        ("2000", "too big to be realistic"),
    ):
        replies = await ann.send(wrong)
        assert answer in replies[-1].text, wrong
    replies = await ann.send("140")
    assert "By when?" in replies[-1].text
    for wrong, answer in (
        ("soon", "Please send a date such as"),
        (in_days(-3), "not in the future"),
        (in_days(0), "not in the future"),
        (in_days(4000), "more than five years away"),
    ):
        replies = await ann.send(wrong)
        assert answer in replies[-1].text, wrong
    assert await goals_of(harness, ann) == []
    replies = await ann.send(in_days(90))
    screen = replies[-1].text
    assert screen.startswith("Saved.")
    assert "Stronger squat · 🎯 By " + in_days(90) in screen
    assert "░░░░░░░░░░ 0%" in screen
    assert "• Back Squat: estimated 1RM 0 kg / 140 kg" in screen
    assert await goals_of(harness, ann) == [("Stronger squat", GoalStatus.ACTIVE, 1)]

    await log_sets(harness, ann, "back_squat", [(5, "120")])
    replies = await ann.send("/goals")
    assert "▓▓▓▓▓▓▓▓▓▓ 98%" in replies[-1].text
    assert "Back Squat: estimated 1RM 137.5 kg / 140 kg" in replies[-1].text
    await log_sets(harness, ann, "back_squat", [(3, "130")])
    replies = await ann.send("/goals")
    assert "🎉 Goal achieved: Stronger squat!" in replies[-1].text
    assert "Finished goals" in replies[-1].text
    assert "🏆 Achieved on " in replies[-1].text
    assert await goals_of(harness, ann) == [("Stronger squat", GoalStatus.ACHIEVED, 1)]
    replies = await ann.send("/goals")
    assert "🎉" not in replies[-1].text


async def test_sessions_goal_with_pounds_and_a_second_target(harness: Harness) -> None:
    bo = harness.user("bo")
    await bo.send("/start")
    async with harness.session_factory() as session, session.begin():
        await set_user_setting(session, await harness.user_id(bo), "weight_unit", "lb")
    await start_goal(bo, "Consistency")
    replies = await bo.tap("📅 Sessions per week")
    assert "How many sessions a week?" in replies[-1].text
    replies = await bo.send("2.5")
    assert "whole number" in replies[-1].text
    replies = await bo.send("30")
    assert "too big" in replies[-1].text
    replies = await bo.send("3")
    assert replies[-1].text.startswith("Saved.")
    assert "Sessions this week: 0 / 3" in replies[-1].text
    await log_sets(harness, bo, "barbell_bench_press", [(5, "60")])
    await log_sets(harness, bo, "barbell_bench_press", [(5, "60")])
    replies = await bo.send("/goals")
    assert "Sessions this week: 2 / 3" in replies[-1].text
    assert "▓▓▓▓▓▓▓░░░ 67%" in replies[-1].text
    await bo.tap("Consistency")
    replies = await bo.tap("➕ Add a target")
    assert "New target for Consistency" in replies[-1].text
    await bo.tap("🏋️ Estimated 1RM on an exercise")
    replies = await bo.send("incline")
    assert "Which one?" in replies[-1].text
    assert "Incline Dumbbell Press" in replies[-1].labels()
    replies = await bo.tap("Incline Dumbbell Press")
    assert "on Incline Dumbbell Press, in lb?" in replies[-1].text
    await bo.send("225")
    replies = await bo.send(in_days(60))
    screen = replies[-1].text
    assert "Incline Dumbbell Press: estimated 1RM 0 lb / 225 lb" in screen
    assert "/ 225 lb" in screen
    assert await goals_of(harness, bo) == [("Consistency", GoalStatus.ACTIVE, 2)]


async def test_abandon_delete_and_forged_ids(harness: Harness) -> None:
    cy = harness.user("cy")
    mallory = harness.user("mallory")
    await start_goal(cy, "Volume month")
    await cy.tap("📦 Total volume by a date")
    await cy.send("20000")
    replies = await cy.send(in_days(30))
    assert "Volume until " + in_days(30) + ": 0 kg / 20000 kg" in replies[-1].text
    goal_id = await goal_id_of(harness, cy, "Volume month")

    # Another person presses buttons carrying cy's goal id.
    await mallory.send("/goals")
    for data in (
        GoalOpen(id=goal_id.hex).pack(),
        GoalAbandon(id=goal_id.hex).pack(),
        GoalDelete(id=goal_id.hex).pack(),
    ):
        replies = await mallory.press_data(data)
        assert replies[-1].text == "Sorry, you are not allowed to do that.", data
    await mallory.press_data(GoalOpen(id="not-a-uuid").pack())
    assert mallory.callback_answers[-1].text == "I could not find that goal."
    assert await goals_of(harness, cy) == [("Volume month", GoalStatus.ACTIVE, 1)]
    # A stale exercise button outside the step changes nothing.
    await mallory.press_data(GoalExercisePick(id=uuid.uuid4().hex).pack())
    assert mallory.callback_answers[-1].text.startswith("That step has expired.")

    await cy.send("/goals")
    await cy.tap("Volume month")
    replies = await cy.tap("🏳 Abandon")
    assert "🏳 Abandoned" in replies[-1].text
    assert "➕ Add a target" not in replies[-1].labels()
    assert await goals_of(harness, cy) == [("Volume month", GoalStatus.ABANDONED, 1)]
    replies = await cy.tap("🗑 Delete")
    assert "You have no goal yet." in replies[-1].text
    assert await goals_of(harness, cy) == []


async def test_cancel_and_non_text_in_a_step(harness: Harness) -> None:
    dee = harness.user("dee")
    await dee.send("/goals")
    await dee.tap("➕ New goal")
    replies = await dee.send_sticker()
    assert "Please type your answer, or send /cancel to stop." in replies[-1].text
    replies = await dee.send("/cancel")
    assert "Cancelled." in replies[-1].text
    replies = await dee.send("Something")
    assert "Sorry, I did not understand that." in replies[-1].text
    assert await goals_of(harness, dee) == []
