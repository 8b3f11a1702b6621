"""/programs through the emulator: the library (scope, paging, search, a program's week and a
workout's sets with the estimated duration; Share and Assign shown to whom they belong; a
forged program id refused), the chat builder (happy path, a wrong answer at every step
changing nothing, a day beyond the schedule refused), and media (a coach attaches a photo to
an exercise and a video to the workout; the athlete's guided session sends them before the
set)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.coach_callbacks import ProgramOpen
from bot.emulator.driver import BotMessage, EmulatedUser
from bot.handlers.programs import AttachWorkout
from domain.models.access import Role
from domain.models.media import Media, MediaType
from domain.models.program import Program, ScheduleWorkout
from domain.models.user import User, UserRole
from domain.models.workout import EstimatedWorkoutDuration, Workout, WorkoutSet
from tests.conversations.conftest import Harness
from tests.factories import SetSpec, make_program, make_workout
from tests.integration.test_program_library import program


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def registered(harness: Harness, person: EmulatedUser, *, coach: bool = False) -> User:
    await person.send("/help")
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == person.user_id))
        assert user is not None
        if coach:
            role = await session.scalar(
                select(Role.id).where(Role.code == "COACH", Role.institution_id.is_(None))
            )
            assert role is not None
            session.add(UserRole(user_id=user.id, role_id=role, updated_by=user.id))
        session.expunge(user)
        return user


def labels(message: BotMessage) -> list[str]:
    return message.labels()


async def test_library_pages_search_view_and_forged_id(harness: Harness) -> None:
    tag = uuid.uuid4().hex[:6]
    coach_chat = harness.user("coach")
    athlete_chat = harness.user("athlete")
    coach = await registered(harness, coach_chat, coach=True)
    athlete = await registered(harness, athlete_chat)
    async with harness.session_factory() as session, session.begin():
        stranger_plan = await program(session, athlete, f"Athlete secret {tag}")
        legs = await make_workout(
            session,
            coach.id,
            f"Legs {tag}",
            [SetSpec("back_squat", sets=4, reps=8, load_kg=Decimal(60), rest=90)],
            estimated_seconds=1500,
        )
        for number in range(9):
            await program(
                session,
                coach,
                f"Cycle {number:02d} {tag}",
                level="PUBLIC" if number == 3 else "PRIVATE",
                days={0: [legs.id]} if number == 3 else {},
            )

    await coach_chat.send("/programs")
    replies = await coach_chat.tap("Mine")
    screen = replies[-1]
    assert "Programs" in screen.text
    assert "Mine" in screen.text
    assert sum(1 for label in labels(screen) if label.endswith(tag)) == 8
    assert "Next ▶" in labels(screen)
    assert "◀ Previous" not in labels(screen)
    replies = await coach_chat.tap("Next ▶")
    assert sum(1 for label in labels(replies[-1]) if label.endswith(tag)) == 1
    assert "◀ Previous" in labels(replies[-1])

    # Search: a wrong answer first, then a title.
    await coach_chat.tap("🔎 Search")
    replies = await coach_chat.send("x" * 61)
    assert "at most 60 characters" in replies[-1].text
    replies = await coach_chat.send(f"cycle 03 {tag}")
    assert "Search: “cycle 03" in replies[-1].text
    assert [label for label in labels(replies[-1]) if label.endswith(tag)] == [f"1. Cycle 03 {tag}"]

    replies = await coach_chat.tap(f"1. Cycle 03 {tag}")
    week = replies[-1]
    assert f"Cycle 03 {tag}" in week.text
    assert "Week 1 of 2" in week.text
    assert f"Day 1: Legs {tag} (about 25 min)" in week.text
    assert "Day 2: rest" in week.text
    assert {"🔗 Share", "👥 Assign to a client"} <= set(labels(week))
    replies = await coach_chat.tap(f"1 · Legs {tag}")
    sets = replies[-1]
    assert "⏱ about 25 min" in sets.text
    assert "1. Back Squat — 4 × 8 @ 60 kg · rest 1:30" in sets.text
    assert {"🔗 Share", "📎 Attach media", "⬅️ Program"} <= set(labels(sets))

    # The athlete reads the public program: no Share, no Assign, no Attach.
    await athlete_chat.send("/programs")
    await athlete_chat.tap("Public")
    await athlete_chat.tap("🔎 Search")
    replies = await athlete_chat.send(tag)
    assert [label for label in labels(replies[-1]) if label.endswith(tag)] == [f"1. Cycle 03 {tag}"]
    replies = await athlete_chat.tap(f"1. Cycle 03 {tag}")
    assert "Week 1 of 2" in replies[-1].text
    assert "🔗 Share" not in labels(replies[-1])
    assert "👥 Assign to a client" not in labels(replies[-1])
    replies = await athlete_chat.tap(f"1 · Legs {tag}")
    assert "4 × 8 @ 60 kg" in replies[-1].text
    assert "📎 Attach media" not in labels(replies[-1])

    # A forged button with the athlete's private program id.
    replies = await coach_chat.press_data(ProgramOpen(program_id=stranger_plan).pack())
    assert replies[-1].text == "You cannot open this program: it is not shared with you."
    assert f"Athlete secret {tag}" not in "".join(message.text for message in replies)


async def coach_workouts(harness: Harness, user: User) -> list[str]:
    async with harness.session_factory() as session:
        rows = await session.scalars(select(Workout.name).where(Workout.owner_id == user.id))
        return list(rows.all())


async def test_builder_happy_path_and_wrong_inputs(harness: Harness) -> None:
    tag = uuid.uuid4().hex[:6]
    chat = harness.user("builder")
    coach = await registered(harness, chat, coach=True)
    await chat.send("/programs")
    replies = await chat.tap("➕ New workout")
    assert "Name the new workout" in replies[-1].text
    replies = await chat.send("x" * 51)
    assert replies[-1].text == "Please send a name of 1 to 50 characters."
    replies = await chat.send("Push day")
    assert "First exercise?" in replies[-1].text
    replies = await chat.send("zzzq unknown lift")
    assert replies[-1].text == "I do not know that exercise. Try another name."
    replies = await chat.send("press")
    assert replies[-1].text == "Which one?"
    replies = await chat.tap("Landmine Press")
    assert replies[-1].text.startswith("Landmine Press: Sets × reps")
    for wrong, answer in (
        ("squat", "I could not read that."),
        ("4x8 1200kg", "The load must be between 0 and 1000 kg."),
        ("4x12-8", "A rep range goes from the lower"),
        ("4x8 rpe 12", "RPE goes from 1 to 10"),
        ("4x8 tempo 3-1-1-1-1", "A tempo has 2 to 4 phases"),
    ):
        replies = await chat.send(wrong)
        assert replies[-1].text.startswith(answer), (wrong, replies[-1].text)
    replies = await chat.send("4x8 40kg rest 90 tempo 3-1-X-0")
    assert "Added: Landmine Press 4 × 8 @ 40 kg · tempo 3-1-X-0 · rest 1:30." in replies[-1].text
    assert "1 exercise so far." in replies[-1].text
    replies = await chat.send("plank")
    replies = await chat.send("3x45s rest 30")
    assert "Added: Plank 3 × 0:45 · rest 0:30." in replies[-1].text
    replies = await chat.tap("✅ Done")
    assert "Put “Push day” in which program?" in replies[-1].text
    replies = await chat.send("the first one")
    assert "Please tap a program above" in replies[-1].text
    replies = await chat.tap("➕ New program")
    assert replies[-1].text == "Title of the new program?"
    replies = await chat.send(f"Block {tag}")
    assert "How long is it?" in replies[-1].text
    replies = await chat.send("4 months")
    assert "Please send a length in days" in replies[-1].text
    replies = await chat.send("2w")
    assert "Send a number from 1 to 14." in replies[-1].text
    replies = await chat.send("15")
    assert replies[-1].text == "That day is outside the program: send a number from 1 to 14."
    replies = await chat.send("day zero")
    assert replies[-1].text == "Please send a day number, for example 3."
    # Nothing stored so far.
    assert await coach_workouts(harness, coach) == []

    replies = await chat.send("3")
    assert replies[-1].text == "Saved “Push day” on day 3."
    assert await coach_workouts(harness, coach) == ["Push day"]
    async with harness.session_factory() as session:
        workout = await session.scalar(select(Workout).where(Workout.owner_id == coach.id))
        assert workout is not None
        slot = (
            await session.execute(
                select(ScheduleWorkout.day_number, Program.title)
                .join(Program, Program.owner_id == coach.id)
                .where(ScheduleWorkout.workout_id == workout.id)
            )
        ).one()
        assert tuple(slot) == (2, f"Block {tag}")
        assert (
            await session.scalar(
                select(func.count())
                .select_from(WorkoutSet)
                .where(WorkoutSet.workout_id == workout.id)
            )
            == 2
        )
        duration = await session.get(EstimatedWorkoutDuration, workout.id)
        assert duration is not None
        assert duration.total_seconds > 0

    replies = await chat.tap("🏋️ Open the workout")
    assert "1. Landmine Press — 4 × 8 @ 40 kg · tempo 3-1-X-0 · rest 1:30" in replies[-1].text
    assert "2. Plank — 3 × 0:45 · rest 0:30" in replies[-1].text

    # Another workout on the same program, chosen from my programs; a taken name refused.
    await chat.send("/programs")
    await chat.tap("➕ New workout")
    replies = await chat.send("Push day")
    assert "already have a workout with that name" in replies[-1].text
    await chat.send("Pull day")
    await chat.send("plank")
    await chat.send("2x1min")
    replies = await chat.tap("✅ Done")
    replies = await chat.tap(f"Block {tag}")
    assert "Send a number from 1 to 14." in replies[-1].text
    replies = await chat.send("3")
    assert replies[-1].text == "Saved “Pull day” on day 3."
    async with harness.session_factory() as session:
        orders = (
            await session.execute(
                select(Workout.name, ScheduleWorkout.order_index)
                .join(ScheduleWorkout, ScheduleWorkout.workout_id == Workout.id)
                .where(Workout.owner_id == coach.id)
                .order_by(ScheduleWorkout.order_index)
            )
        ).all()
        assert [tuple(row) for row in orders] == [("Push day", 0), ("Pull day", 1)]


async def test_media_attached_then_seen_before_the_set(harness: Harness) -> None:
    tag = uuid.uuid4().hex[:6]
    coach_chat = harness.user("mediacoach")
    athlete_chat = harness.user("mediaathlete")
    coach = await registered(harness, coach_chat, coach=True)
    athlete = await registered(harness, athlete_chat)
    name = f"Legs {tag}"
    async with harness.session_factory() as session, session.begin():
        legs = await make_workout(
            session,
            coach.id,
            name,
            [
                SetSpec("back_squat", sets=2, reps=5, load_kg=Decimal(100), rest=60),
                SetSpec("plank", sets=1, duration=30, rest=30),
            ],
            visibility="PUBLIC",
        )
        await program(session, coach, f"Media plan {tag}", days={0: [legs.id]})
        athlete_row = await session.get(User, athlete.id)
        assert athlete_row is not None
        await make_program(
            session, athlete_row, start=dt.datetime.now(dt.UTC).date(), days={0: [legs]}
        )

    await coach_chat.send("/programs")
    await coach_chat.tap("Mine")
    await coach_chat.tap(f"1. Media plan {tag}")
    await coach_chat.tap(f"1 · {name}")
    replies = await coach_chat.tap("📎 Attach media")
    assert "to the whole workout, or to one exercise?" in replies[-1].text
    replies = await coach_chat.tap("1. Back Squat")
    assert "Send me a photo or a video for Back Squat." in replies[-1].text
    replies = await coach_chat.send("here it comes")
    assert replies[-1].text == "Please send a photo or a video, or /cancel to stop."
    replies = await coach_chat.send_photo()
    assert "Attached to Back Squat." in replies[-1].text
    replies = await coach_chat.tap("⬅️ Workout")
    await coach_chat.tap("📎 Attach media")
    await coach_chat.tap("🏋️ The whole workout")
    replies = await coach_chat.send_video()
    assert f"Attached to {name}." in replies[-1].text
    async with harness.session_factory() as session:
        stored = dict(
            (
                await session.execute(
                    select(MediaType.code, Media.telegram_file_id)
                    .join(MediaType, MediaType.id == Media.media_type_id)
                    .where(Media.owner_id == coach.id)
                )
            ).all()
        )
    photo_id, video_id = stored["IMAGE"], stored["VIDEO"]
    assert photo_id
    assert video_id

    # The athlete may not attach to the coach's workout (a forged button).
    replies = await athlete_chat.press_data(AttachWorkout(w=legs.id.hex).pack())
    assert replies[-1].text == "You cannot change this: only its owner or an editor can."

    await athlete_chat.send("/today")
    replies = await athlete_chat.tap(f"▶ Start {name}")
    kinds = [(message.kind, message.file_id, message.text) for message in replies]
    video_at = next(i for i, (kind, _f, _t) in enumerate(kinds) if kind == "video")
    photo_at = next(i for i, (kind, _f, _t) in enumerate(kinds) if kind == "photo")
    set_at = next(
        i for i, (kind, _f, text) in enumerate(kinds) if kind == "text" and "Back Squat" in text
    )
    assert video_at < photo_at < set_at, kinds
    assert kinds[video_at][1] == video_id
    assert kinds[photo_at][1] == photo_id
    # The second squat set and the plank set come without the pictures again.
    replies = await athlete_chat.tap("✓ Done")
    assert [message.kind for message in replies if message.kind in ("photo", "video")] == []
    replies = await athlete_chat.tap("✓ Done")
    assert any("Plank" in message.text for message in replies)
    assert [message.kind for message in replies if message.kind in ("photo", "video")] == []
