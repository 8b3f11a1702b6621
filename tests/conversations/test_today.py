"""/today through the emulator: a program day (an override honoured, an optional workout
marked, the estimated duration), a rest day naming the next training day, a finished program,
no program (free logging and the library offered), in English and French."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.emulator.driver import EmulatedUser
from domain.models.user import User
from tests.conversations.conftest import Harness
from tests.factories import SetSpec, add_override, make_program, make_workout

ZONE = "Asia/Tokyo"
SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), tempo="3-1-1-0", rest=120)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


def local_today() -> dt.date:
    return dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=9))).date()


async def member(harness: Harness, person: EmulatedUser) -> uuid.UUID:
    """The person's user row (created by their first message), moved to Tokyo."""
    async with harness.session_factory() as session, session.begin():
        user = await session.scalar(select(User).where(User.telegram_user_id == person.user_id))
        assert user is not None
        user.timezone = ZONE
        return user.id


async def test_no_program_offers_free_logging_and_the_library(harness: Harness) -> None:
    noa = harness.user("noa")
    replies = await noa.send("/today")
    assert "No program yet" in replies[-1].text
    assert replies[-1].labels() == ["✍️ Log freely", "📚 Browse programs"]
    replies = await noa.tap("✍️ Log freely")
    assert "squat 5x5 100" in replies[-1].text
    await noa.send("/today")
    replies = await noa.tap("📚 Browse programs")
    assert "/programs" in replies[-1].text


async def test_a_program_day_with_an_override_and_an_optional_workout(harness: Harness) -> None:
    ivy = harness.user("ivy")
    await ivy.send("/help")
    user_id = await member(harness, ivy)
    day = local_today()
    async with harness.session_factory() as session, session.begin():
        user = await session.get(User, user_id)
        assert user is not None
        legs = await make_workout(session, user_id, "Legs", [SQUAT, PLANK], estimated_seconds=2700)
        core = await make_workout(session, user_id, "Core", [PLANK])
        arms = await make_workout(session, user_id, "Arms", [SQUAT])
        mobility = await make_workout(session, user_id, "Mobility", [PLANK])
        # Started two days ago: today is day 2.
        plan = await make_program(
            session,
            user,
            start=day - dt.timedelta(days=2),
            days={2: [legs, core], 4: [arms]},
            optional=[(2, core)],
            instance=True,
        )
        # Today, Core is replaced by Mobility, kept optional.
        await add_override(
            session, plan, day=2, action="REPLACE", workout=mobility, replaces=core, optional=True
        )

    replies = await ivy.send("/today")
    text = replies[-1].text
    assert "Legs — 5 sets, 2 exercises, about 45 min" in text
    assert "Mobility — 2 sets, 1 exercise (optional)" in text
    assert "Core" not in text
    assert replies[-1].labels() == ["▶ Start Legs", "▶ Start Mobility"]

    # Starting one opens the guided session at its first set.
    replies = await ivy.tap("▶ Start Legs")
    assert "Legs" in replies[0].text
    assert "Set 1/3 · Back Squat" in replies[-1].text
    assert "Target: 5 reps @ 100 kg · tempo 3-1-1-0 · rest 2:00" in replies[-1].text


async def test_a_rest_day_names_the_next_training_day_in_french(harness: Harness) -> None:
    remi = harness.user("remi", language_code="fr")
    await remi.send("/help")
    user_id = await member(harness, remi)
    day = local_today()
    async with harness.session_factory() as session, session.begin():
        user = await session.get(User, user_id)
        assert user is not None
        legs = await make_workout(session, user_id, "Jambes", [SQUAT])
        await make_program(session, user, start=day, days={0: [], 1: [legs]}, length=7)
    # day 0 has no workout: rest; tomorrow is day 1.
    replies = await remi.send("/today")
    assert "Jour de repos" in replies[-1].text or "Rest day" in replies[-1].text
    assert "demain" in replies[-1].text or "tomorrow" in replies[-1].text


async def test_a_finished_program_says_so(harness: Harness) -> None:
    fin = harness.user("fin")
    await fin.send("/help")
    user_id = await member(harness, fin)
    async with harness.session_factory() as session, session.begin():
        user = await session.get(User, user_id)
        assert user is not None
        legs = await make_workout(session, user_id, "Legs", [SQUAT])
        await make_program(
            session, user, start=local_today() - dt.timedelta(days=30), days={0: [legs]}, weeks=2
        )
    replies = await fin.send("/today")
    assert "Program finished" in replies[-1].text
    assert "📚 Browse programs" in replies[-1].labels()
