"""A scripted athlete runs three weeks of a program through the emulator (the real polling
loop, the registered feature routers, a clock the test moves): every set logged from /today,
one exercise swapped, one set undone, soreness every time, a free-text run on a rest day,
records announced where the numbers say so, and the streak right across the end of summer
time in Paris (2026-10-25) with sessions a quarter past midnight local time — the previous
day in UTC. Wrong input in each conversation state gets an answer and changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import BotOptions
from bot.emulator.driver import BotMessage
from domain.models.activity import ActivityStreak
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession
from domain.models.user import User
from tests.conversations.conftest import Harness, running_bot
from tests.factories import SetSpec, make_program, make_workout

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
START = dt.date(2026, 10, 12)  # a Monday; summer time ends on Sunday 2026-10-25


@dataclass
class MovableClock:
    moment: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.moment

    def at(self, day: dt.date, hour: int, minute: int = 0) -> None:
        """Paris wall-clock time on ``day``, as the UTC instant the bot sees."""
        local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)
        self.moment = local.astimezone(dt.UTC)

    def advance(self, minutes: int) -> None:
        self.moment += dt.timedelta(minutes=minutes)


@pytest.fixture
async def clock() -> MovableClock:
    return MovableClock(dt.datetime(2026, 10, 11, 12, tzinfo=dt.UTC))


@pytest.fixture
async def harness(app_engine: AsyncEngine, clock: MovableClock) -> AsyncIterator[Harness]:
    options = BotOptions(throttle_burst=1000, throttle_rate=500.0, clock=clock)
    async with running_bot(app_engine, options=options) as running:
        yield running


def find(replies: list[BotMessage], fragment: str) -> BotMessage:
    for message in replies:
        if fragment in message.text:
            return message
    raise AssertionError(f"no message with {fragment!r} in {[m.text for m in replies]}")


async def set_rows(harness: Harness, user_id: uuid.UUID) -> list[tuple[str, int | None]]:
    async with harness.session_factory() as session:
        rows = await session.execute(
            select(Exercise.code, LoggedSet.reps)
            .join(Exercise, Exercise.id == LoggedSet.exercise_id)
            .where(LoggedSet.user_id == user_id)
            .order_by(LoggedSet.performed_at, LoggedSet.set_index)
        )
        return [(code, reps) for code, reps in rows]


async def session_count(harness: Harness, user_id: uuid.UUID) -> int:
    async with harness.session_factory() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(TrainingSession)
                .where(TrainingSession.user_id == user_id)
            )
            or 0
        )


# Monday/Wednesday/Friday for three weeks; the squat gets heavier each week.
TRAINING_DAYS = [0, 2, 4, 7, 9, 11, 14, 16, 18]


def workout_for(day: int) -> str:
    week = day // 7 + 1
    return f"Strength W{week}" if day % 7 != 2 else f"Pull W{week}"


async def test_three_weeks_of_a_program(harness: Harness, clock: MovableClock) -> None:
    ana = harness.user("ana")
    clock.at(START - dt.timedelta(days=1), 12)
    await ana.send("/help")
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == ana.user_id))
        assert user is not None
        user.timezone = "Europe/Paris"
        user_id = user.id
        workouts = {}
        for week, squat_kg in ((1, 100), (2, 102.5), (3, 105)):
            workouts[f"Strength W{week}"] = await make_workout(
                session,
                user_id,
                f"Strength W{week}",
                [
                    SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(str(squat_kg)), rest=120),
                    SetSpec("barbell_bench_press", sets=2, reps=8, load_kg=Decimal(60), rest=90),
                ],
            )
            workouts[f"Pull W{week}"] = await make_workout(
                session,
                user_id,
                f"Pull W{week}",
                [
                    SetSpec("conventional_deadlift", sets=2, reps=5, load_kg=Decimal(140)),
                    SetSpec("pull_up", sets=2, reps=8),
                ],
            )
        await make_program(
            session,
            user,
            start=START,
            weeks=3,
            days={day: [workouts[workout_for(day)]] for day in TRAINING_DAYS},
        )

    expected_sets = 0
    swapped = undone = False
    for day in range(21):
        date = START + dt.timedelta(days=day)
        # Wednesday of week 2 and Monday of week 3 are trained at 00:15 local time: still the
        # previous day in UTC (summer time before the change, winter time after it).
        late_night = date in (dt.date(2026, 10, 21), dt.date(2026, 10, 26))
        if late_night:
            clock.at(date, 0, 15)
        else:
            clock.at(date, 18, 30)
        replies = await ana.send("/today")
        if day not in TRAINING_DAYS:
            assert "Rest day" in replies[-1].text, (date, replies[-1].text)
            if date == dt.date(2026, 10, 17):  # a free-text run on the first Saturday
                replies = await ana.send("run 5km 25:30")
                logged = find(replies, "Running")
                assert "5 km" in logged.text
                expected_sets += 1
                clock.advance(30)
                replies = await ana.tap("🏁 Finish session")
                find(replies, "Workout finished")
                replies = await ana.tap("3")
                await ana.tap("Skip")
            continue

        name = workout_for(day)
        replies = await ana.tap(f"▶ Start {name}")
        first = replies[-1]
        assert "Set 1/" in first.text, first.text
        if day == 0:
            assert "Last time: nothing logged yet" in first.text
        elif day >= 4 and name.startswith("Strength"):
            assert "Last time: 5 × " in first.text

        # Wrong input while a set waits: answered, nothing logged.
        before = len(await set_rows(harness, user_id))
        replies = await ana.send("lots of reps")
        assert "I could not read" in replies[-1].text
        assert len(await set_rows(harness, user_id)) == before

        total = 5 if name.startswith("Strength") else 4
        done = 0
        while done < total:
            clock.advance(3)
            if day == 2 and done == 0 and not swapped:
                # No barbell today for the deadlift: swap it for the rest of its block.
                replies = await ana.tap("⇄ Swap")
                choice = next(
                    label
                    for label in replies[-1].labels()
                    if "Deadlift" in label or "Hinge" in label or "Swing" in label
                )
                replies = await ana.tap(choice)
                assert "Set 1/" in replies[-1].text
                swapped = True
            replies = await ana.tap("✓ Done")
            done += 1
            expected_sets += 1
            if day == 4 and done == 2 and not undone:
                replies = await ana.tap("↩ Undo last")
                assert "Removed" in find(replies, "Removed").text
                done -= 1
                expected_sets -= 1
                undone = True
        assert "That was the last set" in replies[-1].text

        clock.advance(5)
        replies = await ana.tap("■ Finish")
        summary = find(replies, "Workout finished")
        assert f"{total} sets" in summary.text
        if day in (0, 2, 4, 9):
            # The first weeks' repeats match or trail the best: nothing to announce.
            assert "New personal records" not in summary.text, (date, summary.text)
        if day == 7:  # 102.5 kg beats every earlier squat
            assert "🏆 Back Squat" in summary.text
        if day == 14:  # 105 kg
            assert "🏆 Back Squat" in summary.text

        # Soreness: typed text is refused, a tap is taken; then notes are skipped.
        assert "How sore are you?" in replies[-1].text
        replies = await ana.send("seven")
        assert "Please tap a number from 0 to 10" in replies[-1].text
        replies = await ana.tap(str(day % 7 + 2))
        assert "Any notes" in replies[-1].text
        replies = await ana.send_sticker("CAACAgIAAxkBAAEB")
        assert "Please type your notes as text" in replies[-1].text
        await ana.tap("Skip")

    # Every set logged (one undone, one swapped), 9 program sessions and the Saturday run.
    rows = await set_rows(harness, user_id)
    assert len(rows) == expected_sets == 6 * 5 + 3 * 4 + 1
    codes = {code for code, _reps in rows}
    assert "back_squat" in codes
    assert "running" in codes
    assert swapped
    assert undone
    assert await session_count(harness, user_id) == 10
    async with harness.session_factory() as session:
        sessions = (
            await session.scalars(select(TrainingSession).where(TrainingSession.user_id == user_id))
        ).all()
        assert all(row.finished_at is not None for row in sessions)
        assert all(row.soreness is not None for row in sessions)
        streak = await session.scalar(
            select(ActivityStreak).where(ActivityStreak.user_id == user_id)
        )
    # Ten days trained, rest days in between never broke it: the two 00:15 sessions counted
    # on their Paris dates on both sides of the change of time.
    assert streak is not None
    assert streak.current_length == 10
    assert streak.last_active_date == START + dt.timedelta(days=18)
    replies = await ana.send("/history")
    assert "Strength W3" in replies[-1].text
