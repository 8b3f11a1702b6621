"""A guided workout through the emulator, start to finish: done as prescribed after reps+ and
load− adjustments, an RPE button, a typed reply, a swap, a skip, undo, edit-last, the finish
(summary, soreness, notes); stale and forged buttons refused with nothing changed; the rest
ping delivered by the delivery tick."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from bot.delivery import DeliveryOptions, Sender
from bot.emulator.driver import BotMessage, EmulatedUser
from bot.handlers.workout_session import GuidedAct, Soreness, StartWorkout
from bot.training_callbacks import SessionAction, SessionStep
from domain.models.exercise import Exercise
from domain.models.notification import Notification, NotificationStatusCode
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import User
from domain.services.settings import set_user_setting
from domain.services.training_log import SetInput, log_sets, start_session
from tests.conversations.conftest import Harness
from tests.factories import BuiltWorkout, SetSpec, exercise_id, make_program, make_workout

SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), tempo="3-1-1-0", rest=120)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def athlete(
    harness: Harness, person: EmulatedUser, sets: list[SetSpec], *, history: bool = False
) -> tuple[uuid.UUID, BuiltWorkout]:
    """The person (after a first message) with today's workout "Legs" in a program; with
    ``history``, two squat sets of 97.5 kg three days ago."""
    await person.send("/help")
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == person.user_id))
        assert user is not None
        legs = await make_workout(session, user.id, "Legs", sets)
        today_utc = dt.datetime.now(dt.UTC).date()
        await make_program(session, user, start=today_utc, days={0: [legs]})
        if history:
            earlier = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
            info = await start_session(
                session, user.id, now=earlier, source=TrainingSessionSource.FREE_TEXT
            )
            squat = await exercise_id(session, "back_squat")
            await log_sets(
                session,
                user.id,
                info.id,
                squat,
                [SetInput(reps=5, load_kg=Decimal("97.5"))] * 2,
                now=earlier,
            )
            row = await session.get(TrainingSession, info.id)
            assert row is not None
            row.finished_at = earlier + dt.timedelta(hours=1)
        return user.id, legs


async def logged(harness: Harness, user_id: uuid.UUID) -> list[tuple[str, object, object, object]]:
    """(exercise code, reps or seconds, load, rpe) of the user's open-session sets."""
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Exercise.code, LoggedSet.reps, LoggedSet.duration_seconds, LoggedSet.load_kg)
            .add_columns(LoggedSet.rpe)
            .join(Exercise, Exercise.id == LoggedSet.exercise_id)
            .join(TrainingSession, TrainingSession.id == LoggedSet.session_id)
            .where(LoggedSet.user_id == user_id, TrainingSession.finished_at.is_(None))
            .order_by(LoggedSet.set_index)
        )
        return [
            (code, reps if reps is not None else seconds, load, rpe)
            for code, reps, seconds, load, rpe in rows
        ]


async def open_session(harness: Harness, user_id: uuid.UUID) -> TrainingSession:
    async with harness.session_factory() as session:
        row = await session.scalar(
            select(TrainingSession)
            .where(TrainingSession.user_id == user_id, TrainingSession.source == "GUIDED")
            .order_by(TrainingSession.started_at.desc())
            .limit(1)
        )
        assert row is not None
        return row


def last_answer(person: EmulatedUser) -> str:
    return person.callback_answers[-1].text or ""


def find(replies: list[BotMessage], fragment: str) -> BotMessage:
    for message in replies:
        if fragment in message.text:
            return message
    raise AssertionError(f"no message with {fragment!r} in {[m.text for m in replies]}")


async def test_a_guided_workout_from_start_to_finish(harness: Harness) -> None:
    ada = harness.user("ada")
    user_id, legs = await athlete(harness, ada, [SQUAT, PLANK], history=True)
    await ada.send("/today")
    replies = await ada.tap("▶ Start Legs")
    first = replies[-1]
    assert "Set 1/3 · Back Squat" in first.text
    assert "Target: 5 reps @ 100 kg · tempo 3-1-1-0 · rest 2:00" in first.text
    assert "Last time: 5 × 97.5 kg, 5 × 97.5 kg" in first.text
    assert "✓ Done" in first.labels()

    # reps + 1, load − 2.5: the same message is edited; then done logs the adjusted set.
    replies = await ada.tap("reps +1")
    assert replies[-1].event == "edit"
    assert "Target: 6 reps @ 100 kg" in replies[-1].text
    replies = await ada.tap("load −2.5")
    assert "Target: 6 reps @ 97.5 kg" in replies[-1].text
    replies = await ada.tap("✓ Done")
    assert "✓ Back Squat: 6 × 97.5 kg" in replies[0].text  # the set message, retired
    assert replies[0].buttons == []
    assert "⏱ Rest until " in find(replies, "Rest until").text
    assert "(2:00)" in find(replies, "Rest until").text
    second = replies[-1]
    assert "Set 2/3 · Back Squat" in second.text
    assert "Target: 5 reps @ 100 kg" in second.text  # adjustments do not carry over
    assert await logged(harness, user_id) == [("back_squat", 6, Decimal("97.50"), None)]

    # An RPE button logs the set as prescribed with that RPE.
    replies = await ada.tap("RPE 8")
    assert "Set 3/3 · Back Squat" in replies[-1].text
    session_row = await open_session(harness, user_id)
    assert session_row.workout_id == legs.id
    sid = session_row.id.hex

    # A stale button (step 0, already done) and a forged one change nothing.
    before = await logged(harness, user_id)
    await ada.press_data(GuidedAct(act="d", s=sid, i=0).pack(), message=first)
    assert last_answer(ada) == "This set is already done or no longer current."
    await ada.press_data(GuidedAct(act="d", s="zz" * 16, i=2).pack())
    assert last_answer(ada) == "This set is already done or no longer current."
    assert await logged(harness, user_id) == before

    # Swap the squat for the rest of its block, then type the set.
    replies = await ada.tap("⇄ Swap")
    menu = replies[-1]
    assert "Replace <b>Back Squat</b>" in menu.raw_text
    goblet = next(label for label in menu.labels() if "Goblet Squat" in label)
    replies = await ada.tap(goblet)
    assert "Set 3/3 · Goblet Squat" in replies[-1].text
    replies = await ada.send("lots of reps")
    assert "I could not read" in replies[-1].text
    replies = await ada.send("8 @ 24 rpe 9")
    assert "✓ Goblet Squat: 8 × 24 kg RPE 9" in replies[0].text
    assert "Set 1/2 · Plank" in replies[-1].text
    assert "Target: 1:00 · rest 0:45" in replies[-1].text
    rows = await logged(harness, user_id)
    assert rows[1] == ("back_squat", 5, Decimal("100.00"), Decimal("8.0"))
    assert rows[2] == ("goblet_squat", 8, Decimal("24.00"), Decimal("9.0"))
    async with harness.session_factory() as session:
        linked = await session.scalar(
            select(LoggedSet.workout_set_id)
            .where(LoggedSet.session_id == session_row.id)
            .order_by(LoggedSet.set_index.desc())
            .limit(1)
        )
    assert linked == legs.set_ids[0]  # the swapped set still fulfils the squat block

    # Plank: done, skip the second, undo goes back to the first, done again.
    replies = await ada.tap("✓ Done")
    assert "Set 2/2 · Plank" in replies[-1].text
    replies = await ada.tap("⏭ Skip")
    assert "That was the last set" in replies[-1].text
    assert len(await logged(harness, user_id)) == 4
    replies = await ada.tap("↩ Undo last")
    assert "↩ Removed: Plank 1:00" in find(replies, "Removed").text
    assert "Set 1/2 · Plank" in replies[-1].text
    assert len(await logged(harness, user_id)) == 3
    await ada.tap("✓ Done")

    # Edit the last set: a wrong reply, then the correction.
    replies = await ada.tap("✎ Edit last")
    assert "Type the correction" in replies[-1].text
    replies = await ada.send("3x8")
    assert "One set at a time" in replies[-1].text
    replies = await ada.send("75s")
    assert "✎ Corrected: Plank 1:15" in replies[0].text
    assert "Set 2/2 · Plank" in replies[-1].text
    assert (await logged(harness, user_id))[-1] == ("plank", 75, None, None)

    # Finish: summary, soreness (typed text refused), notes.
    replies = await ada.tap("■ Finish")
    summary = find(replies, "Workout finished")
    assert "4 sets" in summary.text
    # 6 × 97.5 + 5 × 100 + 8 × 24 = 1277 kg
    assert "Total volume: 1277 kg" in summary.text
    assert "Back Squat, Goblet Squat, Plank" in summary.text
    assert "Streak: 1 day" in summary.text
    # 5 × 100 beats last time's 5 × 97.5: records with their values, in kg.
    assert "New personal records:" in summary.text
    assert "🏆 Back Squat: heaviest load 100 kg" in summary.text
    assert "How sore are you?" in replies[-1].text
    replies = await ada.send("5")
    assert "Please tap a number from 0 to 10" in replies[-1].text
    replies = await ada.tap("6")
    assert "Any notes" in replies[-1].text
    replies = await ada.send("felt strong")
    assert "Notes saved" in replies[0].text
    async with harness.session_factory() as session:
        row = await session.get(TrainingSession, session_row.id)
        assert row is not None
        assert row.finished_at is not None
        assert (row.soreness, row.notes) == (6, "felt strong")
    # The soreness question is answered: pressing again changes nothing.
    await ada.press_data(Soreness(s=sid, v=2).pack())
    assert last_answer(ada) == "That question is already answered."
    async with harness.session_factory() as session:
        row = await session.get(TrainingSession, session_row.id)
        assert row is not None
        assert row.soreness == 6


async def test_someone_elses_session_and_workout_are_refused(harness: Harness) -> None:
    bea = harness.user("bea")
    eve = harness.user("eve")
    bea_id, legs = await athlete(harness, bea, [SQUAT])
    await eve.send("/help")
    await bea.send("/today")
    await bea.tap("▶ Start Legs")
    bea_session = (await open_session(harness, bea_id)).id
    await bea.tap("✓ Done")
    before = await logged(harness, bea_id)

    await eve.send("/help")
    for data in (
        GuidedAct(act="d", s=bea_session.hex, i=1).pack(),
        GuidedAct(act="f", s=bea_session.hex, i=1).pack(),
        SessionAction.of(SessionStep.UNDO, bea_session).pack(),
        SessionAction.of(SessionStep.FINISH, bea_session).pack(),
    ):
        replies = await eve.press_data(data)
        assert "not allowed" in replies[-1].text
    replies = await eve.press_data(StartWorkout(workout=legs.id.hex).pack())
    assert "not allowed" in replies[-1].text
    assert await logged(harness, bea_id) == before
    async with harness.session_factory() as session:
        row = await session.get(TrainingSession, bea_session)
        assert row is not None
        assert row.finished_at is None
        count = await session.scalar(
            select(func.count())
            .select_from(TrainingSession)
            .where(TrainingSession.workout_id == legs.id)
        )
    assert count == 1


async def test_undo_and_finish_buttons_of_a_free_text_reply(harness: Harness) -> None:
    cal = harness.user("cal")
    await cal.send("/help")
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == cal.user_id))
        assert user is not None
        info = await start_session(
            session, user.id, now=dt.datetime.now(dt.UTC), source=TrainingSessionSource.FREE_TEXT
        )
        squat = await exercise_id(session, "back_squat")
        await log_sets(
            session,
            user.id,
            info.id,
            squat,
            [SetInput(reps=5, load_kg=Decimal(100))] * 2,
            now=dt.datetime.now(dt.UTC),
        )
        user_id = user.id
    replies = await cal.press_data(SessionAction.of(SessionStep.UNDO, info.id).pack())
    assert "↩ Removed: Back Squat 5 × 100 kg" in replies[-1].text
    assert len(await logged(harness, user_id)) == 1
    replies = await cal.press_data(SessionAction.of(SessionStep.FINISH, info.id).pack())
    assert "Workout finished" in find(replies, "Workout finished").text
    assert "How sore are you?" in replies[-1].text
    await cal.tap("3")
    replies = await cal.tap("Skip")
    assert "No notes" in replies[-1].text
    # Finished: the undo button of the old reply is refused.
    await cal.press_data(SessionAction.of(SessionStep.UNDO, info.id).pack())
    assert last_answer(cal) == "This session is already finished."


async def test_the_rest_ping_is_delivered_when_the_rest_ends(harness: Harness) -> None:
    dan = harness.user("dan")
    user_id, _legs = await athlete(
        harness, dan, [SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(60), rest=30)]
    )
    await dan.send("/today")
    replies = await dan.tap("▶ Start Legs")
    assert "🔕 Rest ping: off" in replies[-1].labels()
    replies = await dan.tap("🔕 Rest ping: off")
    assert "🔔 Rest ping: on" in replies[-1].labels()
    replies = await dan.tap("✓ Done")
    assert "I will ping you when the rest is over." in find(replies, "Rest until").text
    second_set = replies[-1]
    async with harness.session_factory() as session:
        ping = await session.scalar(
            select(Notification).where(
                Notification.user_id == user_id,
                Notification.status == NotificationStatusCode.PENDING,
            )
        )
    assert ping is not None
    sender = Sender(
        harness.application.bot,
        harness.session_factory,
        options=DeliveryOptions(rate=1000.0, chat_interval=0.0),
    )
    assert await sender.deliver_due(ping.due_at - dt.timedelta(seconds=1)) == 0
    assert await sender.deliver_due(ping.due_at) >= 1
    message = await dan.wait_for(lambda message: "Rest is over" in message.text)
    assert "Back Squat" in message.text
    assert message.labels() == ["🔕 Stop these reminders"]
    async with harness.session_factory() as session:
        delivered = await session.get(Notification, ping.id)
        assert delivered is not None
        assert delivered.status == NotificationStatusCode.DELIVERED

    # Turned off again: the next rest plans nothing.
    replies = await dan.tap("🔔 Rest ping: on", message=second_set)
    assert "🔕 Rest ping: off" in replies[-1].labels()
    replies = await dan.tap("✓ Done", message=second_set)
    assert "Set 3/3 · Back Squat" in replies[-1].text
    assert "I will ping you" not in find(replies, "Rest until").text
    async with harness.session_factory() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.status == NotificationStatusCode.PENDING,
            )
        )
    assert pending == 0


async def test_loads_show_and_move_in_pounds(harness: Harness) -> None:
    lee = harness.user("lee")
    user_id, _legs = await athlete(harness, lee, [SQUAT])
    async with harness.session_factory() as session, session.begin():
        await set_user_setting(session, user_id, "weight_unit", "lb")
    await lee.send("/today")
    replies = await lee.tap("▶ Start Legs")
    assert "Target: 5 reps @ 220.5 lb" in replies[-1].text
    assert "load +5" in replies[-1].labels()
    replies = await lee.tap("load +5")
    assert "Target: 5 reps @ 225 lb" in replies[-1].text
    replies = await lee.tap("✓ Done")
    assert "✓ Back Squat: 5 × 225 lb" in replies[0].text
    [(code, reps, load, _rpe)] = await logged(harness, user_id)
    assert (code, reps) == ("back_squat", 5)
    assert isinstance(load, Decimal)
    assert abs(load - Decimal("102.06")) < Decimal("0.01")  # 225 lb stored in kg


async def test_a_library_workout_is_offered_for_rating_after_the_notes(harness: Harness) -> None:
    kim = harness.user("kim")
    await kim.send("/help")
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == kim.user_id))
        assert user is not None
        library = await make_workout(
            session, None, f"Library {uuid.uuid4().hex[:6]}", [SQUAT], visibility="PUBLIC"
        )
        await make_program(session, user, start=dt.datetime.now(dt.UTC).date(), days={0: [library]})
    await kim.send("/today")
    await kim.tap(f"▶ Start {library.name}")
    await kim.tap("✓ Done")
    await kim.tap("■ Finish")
    await kim.tap("0")
    replies = await kim.tap("Skip")
    assert "No notes" in replies[0].text
    assert f"How was <b>{library.name}</b>?" in replies[-1].raw_text
    assert "5⭐" in replies[-1].labels()
