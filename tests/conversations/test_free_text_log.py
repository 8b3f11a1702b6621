"""Free-text logging through the emulator: the issue's six forms, French and Russian names,
a pound user, ambiguity buttons (and stale/forged ones), text that does not parse, an unknown
exercise and a set that does not fit the exercise — each wrong input logs nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.emulator.driver import EmulatedUser
from bot.handlers.log import LogPick
from bot.training_callbacks import SessionAction, SessionStep
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import User
from domain.services.settings import set_user_setting
from tests.conversations.conftest import Harness


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def newcomer(
    harness: Harness, name: str, language: str = "en"
) -> tuple[EmulatedUser, uuid.UUID]:
    person = harness.user(name, language_code=language)
    replies = await person.send("/log")
    assert "squat 5x5 100" in replies[-1].text
    async with harness.session_factory() as session:
        user_id = await session.scalar(
            select(User.id).where(User.telegram_user_id == person.user_id)
        )
    assert user_id is not None
    return person, user_id


async def logged(harness: Harness, user_id: uuid.UUID) -> list[tuple[str, int, Any]]:
    """(exercise code, set_index, (reps, load, added, duration, distance, rpe)) per logged set."""
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Exercise.code, LoggedSet)
            .join(Exercise, Exercise.id == LoggedSet.exercise_id)
            .where(LoggedSet.user_id == user_id)
            .order_by(LoggedSet.set_index)
        )
        return [
            (
                code,
                one.set_index,
                (
                    one.reps,
                    one.load_kg,
                    one.added_load_kg,
                    one.duration_seconds,
                    one.distance_m,
                    one.rpe,
                ),
            )
            for code, one in rows
        ]


async def set_count(harness: Harness, user_id: uuid.UUID) -> int:
    async with harness.session_factory() as session:
        count = await session.scalar(
            select(func.count()).select_from(LoggedSet).where(LoggedSet.user_id == user_id)
        )
    return int(count or 0)


D = Decimal


async def test_the_six_forms_of_the_issue(harness: Harness) -> None:
    ann, ann_id = await newcomer(harness, "ann")

    reply = (await ann.send("squat 5x5 100"))[-1]
    assert reply.text.startswith("✓ Back Squat — 5 × 5 @ 100 kg")
    assert reply.labels() == ["↩ Undo", "🏁 Finish session"]
    session_id = SessionAction.unpack(reply.flat_buttons()[0].callback_data or "").session_id()
    assert (
        SessionAction.unpack(reply.flat_buttons()[1].callback_data or "").step is SessionStep.FINISH
    )

    reply = (await ann.send("bench 3x8 @ 60kg rpe 8"))[-1]
    assert reply.text.startswith("✓ Barbell Bench Press — 3 × 8 @ 60 kg RPE 8")
    reply = (await ann.send("deadlift 140x5, 150x3, 160x1"))[-1]
    assert reply.text.startswith("✓ Conventional Deadlift — 5 @ 140 kg, 3 @ 150 kg, 1 @ 160 kg")
    reply = (await ann.send("pullups 3x10 bw+10"))[-1]
    assert reply.text.startswith("✓ Pull-Up — 3 × 10 @ BW+10 kg")
    reply = (await ann.send("plank 3x60s"))[-1]
    assert reply.text.startswith("✓ Plank — 3 × 1:00")
    reply = (await ann.send("run 5km 25:30"))[-1]
    assert reply.text.startswith("✓ Running — 5 km in 25:30")

    sets = await logged(harness, ann_id)
    assert [index for _, index, _ in sets] == list(range(18))
    assert [code for code, _, _ in sets] == (
        ["back_squat"] * 5
        + ["barbell_bench_press"] * 3
        + ["conventional_deadlift"] * 3
        + ["pull_up"] * 3
        + ["plank"] * 3
        + ["running"]
    )
    assert sets[0][2] == (5, D("100.00"), None, None, None, None)
    assert sets[5][2] == (8, D("60.00"), None, None, None, D("8.0"))
    assert [s[2][1] for s in sets[8:11]] == [D("140.00"), D("150.00"), D("160.00")]
    assert sets[11][2] == (10, None, D("10.00"), None, None, None)
    assert sets[14][2] == (None, None, None, 60, None, None)
    assert sets[17][2] == (None, None, None, 1530, D("5000.00"), None)
    async with harness.session_factory() as session:
        sessions = (
            await session.scalars(select(TrainingSession).where(TrainingSession.user_id == ann_id))
        ).all()
    assert [(s.id, s.source, s.finished_at) for s in sessions] == [
        (session_id, TrainingSessionSource.FREE_TEXT, None)
    ]


async def test_last_time_and_a_new_best(harness: Harness) -> None:
    bob, bob_id = await newcomer(harness, "bob")
    await bob.send("squat 3x5 100")
    async with harness.session_factory() as session, session.begin():
        # Close that session, as if it were last week's.
        training = await session.scalar(
            select(TrainingSession).where(TrainingSession.user_id == bob_id)
        )
        assert training is not None
        training.finished_at = training.started_at
    reply = (await bob.send("squat 1x5 110"))[-1]
    assert "Last time: 3 × 5 @ 100 kg" in reply.text
    assert "🏆 New best estimated 1RM: 126 kg" in reply.text
    assert await set_count(harness, bob_id) == 4


async def test_french_and_russian_names_in_their_language(harness: Harness) -> None:
    claire, claire_id = await newcomer(harness, "claire", "fr")
    reply = (await claire.send("développé couché 3x8 60"))[-1]
    assert "Développé couché à la barre" in reply.text
    assert "3 × 8 @ 60" in reply.text
    ivan, ivan_id = await newcomer(harness, "ivan", "ru")
    reply = (await ivan.send("жим лёжа 5x5 80"))[-1]
    assert "Жим штанги лёжа" in reply.text
    reply = (await ivan.send("присед 5х5 100"))[-1]
    assert "Приседания со штангой на спине" in reply.text
    assert [code for code, _, _ in await logged(harness, ivan_id)] == (
        ["barbell_bench_press"] * 5 + ["back_squat"] * 5
    )
    assert [code for code, _, _ in await logged(harness, claire_id)] == ["barbell_bench_press"] * 3


async def test_a_pound_user_types_and_reads_pounds(harness: Harness) -> None:
    lee, lee_id = await newcomer(harness, "lee")
    async with harness.session_factory() as session, session.begin():
        await set_user_setting(session, lee_id, "weight_unit", "lb")
    help_text = (await lee.send("/log"))[-1].text
    assert "squat 5x5 225" in help_text
    assert "pounds" in help_text
    reply = (await lee.send("squat 5x5 225"))[-1]
    assert reply.text.startswith("✓ Back Squat — 5 × 5 @ 225 lb")
    reply = (await lee.send("bench 3x5 @ 100kg"))[-1]
    assert "3 × 5 @ 220.5 lb" in reply.text
    sets = await logged(harness, lee_id)
    assert sets[0][2][1] == D("102.06")  # 225 lb in kg, to the column's 2 decimals
    assert sets[5][2][1] == D("100.00")


async def test_an_ambiguous_name_offers_buttons_and_logs_the_choice(harness: Harness) -> None:
    eve, eve_id = await newcomer(harness, "eve")
    question = (await eve.send("press 3x8 40"))[-1]
    assert "Which exercise did you mean by “press”?" in question.text
    assert len(question.labels()) >= 2
    assert await set_count(harness, eve_id) == 0
    label = next(text for text in question.labels() if "Press" in text)

    replies = await eve.tap(label)
    assert replies[-1].text.startswith(f"✓ {label} — 3 × 8 @ 40 kg")
    assert await set_count(harness, eve_id) == 3

    # The same button again: the question is closed, nothing more is logged.
    await eve.press_data(question.flat_buttons()[0].callback_data or "", message=question)
    assert eve.callback_answers[-1].show_alert
    assert await set_count(harness, eve_id) == 3


async def test_forged_and_stale_choices_change_nothing(harness: Harness) -> None:
    fay, fay_id = await newcomer(harness, "fay")
    question = (await fay.send("press 3x8 40"))[-1]
    token = LogPick.unpack(question.flat_buttons()[0].callback_data or "").token

    # An exercise that was not offered, with the right token: refused.
    async with harness.session_factory() as session:
        plank = await session.scalar(select(Exercise.id).where(Exercise.code == "plank"))
    assert plank is not None
    await fay.press_data(LogPick(token=token, exercise=plank.hex).pack(), message=question)
    assert fay.callback_answers[-1].show_alert
    # Garbage in the id, and a wrong token.
    await fay.press_data(LogPick(token=token, exercise="zz").pack(), message=question)
    assert fay.callback_answers[-1].show_alert
    offered = LogPick.unpack(question.flat_buttons()[0].callback_data or "").exercise
    await fay.press_data(LogPick(token="00000000", exercise=offered).pack(), message=question)
    assert fay.callback_answers[-1].show_alert
    # A newer question makes the older buttons stale.
    await fay.send("press 3x8 40")
    await fay.press_data(question.flat_buttons()[0].callback_data or "", message=question)
    assert fay.callback_answers[-1].show_alert
    assert await set_count(harness, fay_id) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("squat 5x5 100 easy", ("I did not understand “easy”.", "For example:")),
        ("squat 5x", ("Something is missing", "For example: squat 5x5 100")),
        ("squat 5x5 -100", ("cannot be negative", "For example:")),
        ("squat 5x5 1001", ("more than I can log", "For example:")),
        # No number at all: not a log attempt, the fallback's help answers.
        ("hello", ("Sorry, I did not understand that.", "/log")),
    ],
)
async def test_unparseable_text_says_what_and_shows_an_example(
    harness: Harness, text: str, expected: tuple[str, ...]
) -> None:
    gus, gus_id = await newcomer(harness, "gus")
    reply = (await gus.send(text))[-1]
    for part in expected:
        assert part in reply.text
    assert reply.buttons == []
    assert await set_count(harness, gus_id) == 0


async def test_an_unknown_exercise_and_a_set_that_does_not_fit(harness: Harness) -> None:
    hal, hal_id = await newcomer(harness, "hal")
    reply = (await hal.send("xyzzy 3x5 100"))[-1]
    assert "I do not know an exercise called “xyzzy”." in reply.text
    reply = (await hal.send("squat 3x60s"))[-1]
    assert "Back Squat is logged in repetitions" in reply.text
    assert "For example: squat 5x5 100" in reply.text
    reply = (await hal.send("run 3x10"))[-1]
    assert "Running is logged as a distance, a time or both." in reply.text
    reply = (await hal.send("5x5 100"))[-1]
    assert "Which exercise?" in reply.text
    assert await set_count(harness, hal_id) == 0
    async with harness.session_factory() as session:
        sessions = await session.scalar(
            select(func.count())
            .select_from(TrainingSession)
            .where(TrainingSession.user_id == hal_id)
        )
    assert sessions == 0


async def test_commands_are_left_to_their_handlers(harness: Harness) -> None:
    ida, ida_id = await newcomer(harness, "ida")
    reply = (await ida.send("/help"))[-1]
    assert "✓" not in reply.text
    assert await set_count(harness, ida_id) == 0
