"""The training log's use cases on a real database: sessions, sets, undo/edit, last time,
finish (and the idle sweep), and refusals for someone else's session."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.parsing import parse_log
from domain.parsing.model import Unit
from domain.services import training_log as log
from domain.services.users import TelegramIdentity, resolve_telegram_user

_ids = itertools.count(910_000_001)
NOW = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)


async def member(session: AsyncSession, name: str = "Ada") -> uuid.UUID:
    """A user as the bot creates them (MEMBER role: may log their own training)."""
    user = await resolve_telegram_user(
        session, TelegramIdentity(next(_ids), name), default_locale="en", now=NOW
    )
    return user.user_id


async def exercise(session: AsyncSession, code: str) -> uuid.UUID:
    found = await session.scalar(select(Exercise.id).where(Exercise.code == code))
    assert found is not None, code
    return found


def sets(text: str) -> list[log.SetInput]:
    return [log.SetInput.from_parsed(one) for one in parse_log(text, default_unit=Unit.KG).sets]


async def count_sets(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(LoggedSet).where(LoggedSet.user_id == user_id)
        )
        or 0
    )


async def test_sets_land_in_one_open_session_in_order(session: AsyncSession) -> None:
    ada = await member(session)
    squat = await exercise(session, "back_squat")
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.FREE_TEXT)
    first = await log.log_sets(session, ada, started.id, squat, sets("squat 2x5 100"), now=NOW)
    second = await log.log_sets(
        session, ada, started.id, squat, sets("squat 1x3 110"), now=NOW + dt.timedelta(minutes=5)
    )
    assert [one.set_index for one in first + second] == [0, 1, 2]
    assert second[0].load_kg == Decimal("110.00")
    assert second[0].reps == 3
    current = await log.current_session(session, ada, now=NOW + dt.timedelta(minutes=6))
    assert current is not None
    assert current.id == started.id
    assert current.set_count == 3
    # After the open window, it is no longer current.
    later = NOW + dt.timedelta(hours=log.OPEN_SESSION_HOURS, minutes=1)
    assert await log.current_session(session, ada, now=later) is None


async def test_pounds_are_stored_in_kilograms_and_bodyweight_as_added_load(
    session: AsyncSession,
) -> None:
    ada = await member(session)
    bench = await exercise(session, "barbell_bench_press")
    pullup = await exercise(session, "pull_up")
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.FREE_TEXT)
    pounds = [
        log.SetInput.from_parsed(one)
        for one in parse_log("bench 1x5 225", default_unit=Unit.LB).sets
    ]
    logged = await log.log_sets(session, ada, started.id, bench, pounds, now=NOW)
    assert logged[0].load_kg == Decimal("102.06")  # 225 lb
    weighted = await log.log_sets(
        session, ada, started.id, pullup, sets("pullups 1x8 bw+10"), now=NOW
    )
    assert weighted[0].is_bodyweight
    assert weighted[0].added_load_kg == Decimal("10.00")
    assert weighted[0].load_kg is None


async def test_undo_and_edit_touch_only_the_last_set(session: AsyncSession) -> None:
    ada = await member(session)
    squat = await exercise(session, "back_squat")
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.GUIDED)
    await log.log_sets(session, ada, started.id, squat, sets("squat 3x5 100"), now=NOW)
    edited = await log.edit_last_set(session, ada, started.id, sets("squat 1x4 100 rpe 9")[0])
    assert edited.reps == 4
    assert edited.rpe == Decimal("9.0")
    assert edited.set_index == 2
    removed = await log.undo_last_set(session, ada, started.id)
    assert removed.id == edited.id
    remaining = await log.session_sets(session, ada, started.id)
    assert [(one.set_index, one.reps) for one in remaining] == [(0, 5), (1, 5)]
    await log.undo_last_set(session, ada, started.id)
    await log.undo_last_set(session, ada, started.id)
    with pytest.raises(log.NothingToUndo):
        await log.undo_last_set(session, ada, started.id)


async def test_someone_elses_session_is_refused_and_unchanged(session: AsyncSession) -> None:
    ada, bob = await member(session, "Ada"), await member(session, "Bob")
    squat = await exercise(session, "back_squat")
    adas = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.GUIDED)
    await log.log_sets(session, ada, adas.id, squat, sets("squat 1x5 100"), now=NOW)
    for attempt in (
        log.log_sets(session, bob, adas.id, squat, sets("squat 1x5 100"), now=NOW),
        log.undo_last_set(session, bob, adas.id),
        log.edit_last_set(session, bob, adas.id, sets("squat 1x1 1")[0]),
        log.session_sets(session, bob, adas.id),
        log.finish_session(session, bob, adas.id, now=NOW, timezone="UTC"),
        log.set_soreness(session, bob, adas.id, 3),
    ):
        with pytest.raises(NotAllowed):
            await attempt
    assert await count_sets(session, ada) == 1
    assert await count_sets(session, bob) == 0
    row = await session.get(TrainingSession, adas.id)
    assert row is not None
    assert row.finished_at is None
    assert row.soreness is None
    # An id that does not exist at all is refused the same way (no existence oracle).
    with pytest.raises(NotAllowed):
        await log.undo_last_set(session, bob, uuid.uuid4())


async def test_last_performance_is_the_previous_session_of_that_exercise(
    session: AsyncSession,
) -> None:
    ada = await member(session)
    squat = await exercise(session, "back_squat")
    bench = await exercise(session, "barbell_bench_press")
    monday = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.GUIDED)
    await log.log_sets(session, ada, monday.id, squat, sets("squat 5x5 100"), now=NOW)
    await log.finish_session(
        session, ada, monday.id, now=NOW + dt.timedelta(hours=1), timezone="UTC"
    )
    wednesday_at = NOW + dt.timedelta(days=2)
    wednesday = await log.start_session(
        session, ada, now=wednesday_at, source=TrainingSessionSource.GUIDED
    )
    await log.log_sets(session, ada, wednesday.id, bench, sets("bench 3x8 60"), now=wednesday_at)
    await log.log_sets(session, ada, wednesday.id, squat, sets("squat 1x5 105"), now=wednesday_at)
    last = await log.last_performance(
        session, ada, squat, exclude_session=wednesday.id, locale="fr"
    )
    assert [(one.reps, one.load_kg) for one in last] == [(5, Decimal("100.00"))] * 5
    assert last[0].session_id == monday.id
    assert last[0].exercise_name == "Squat arrière"
    assert (
        await log.last_performance(session, ada, await exercise(session, "conventional_deadlift"))
        == []
    )


async def test_finish_summarises_and_closes_the_session(session: AsyncSession) -> None:
    ada = await member(session)
    squat = await exercise(session, "back_squat")
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.GUIDED)
    await log.log_sets(session, ada, started.id, squat, sets("squat 3x5 100"), now=NOW)
    summary = await log.finish_session(
        session, ada, started.id, now=NOW + dt.timedelta(minutes=45), timezone="Europe/Paris"
    )
    assert summary.set_count == 3
    assert summary.volume_kg == Decimal(1500)
    assert summary.duration == dt.timedelta(minutes=45)
    assert summary.streak is not None
    assert summary.streak.current >= 1
    with pytest.raises(log.SessionFinished):
        await log.finish_session(session, ada, started.id, now=NOW, timezone="UTC")
    with pytest.raises(log.SessionFinished):
        await log.log_sets(session, ada, started.id, squat, sets("squat 1x5 100"), now=NOW)
    await log.set_soreness(session, ada, started.id, 4)
    await log.set_notes(session, ada, started.id, "  felt heavy  ")
    row = await session.get(TrainingSession, started.id)
    assert row is not None
    assert row.soreness == 4
    assert row.notes == "felt heavy"
    with pytest.raises(InvalidInput):
        await log.set_soreness(session, ada, started.id, 11)
    with pytest.raises(InvalidInput):
        await log.set_notes(session, ada, started.id, "   ")


async def test_an_empty_session_is_discarded_on_finish(session: AsyncSession) -> None:
    ada = await member(session)
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.GUIDED)
    summary = await log.finish_session(session, ada, started.id, now=NOW, timezone="UTC")
    assert summary.discarded
    assert summary.set_count == 0
    assert await session.get(TrainingSession, started.id) is None


async def test_a_session_without_sets_is_reused_by_the_next_start(session: AsyncSession) -> None:
    ada = await member(session)
    first = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.FREE_TEXT)
    again = await log.start_session(
        session, ada, now=NOW + dt.timedelta(minutes=1), source=TrainingSessionSource.GUIDED
    )
    assert again.id == first.id
    assert again.source is TrainingSessionSource.GUIDED


async def test_idle_sessions_are_finished_at_their_last_set(session: AsyncSession) -> None:
    ada = await member(session)
    squat = await exercise(session, "back_squat")
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.FREE_TEXT)
    last_at = NOW + dt.timedelta(minutes=20)
    await log.log_sets(session, ada, started.id, squat, sets("squat 1x5 100"), now=last_at)
    early = await log.finish_idle_sessions(session, last_at + dt.timedelta(hours=1))
    assert started.id not in {done.summary.session_id for done in early}
    swept = await log.finish_idle_sessions(
        session, last_at + log.IDLE_FINISH_AFTER + dt.timedelta(minutes=1)
    )
    mine = [done for done in swept if done.summary.session_id == started.id]
    assert len(mine) == 1
    assert mine[0].user_id == ada
    row = await session.get(TrainingSession, started.id)
    assert row is not None
    assert row.finished_at == last_at


async def test_a_foreign_private_exercise_cannot_be_logged(session: AsyncSession) -> None:
    ada, bob = await member(session, "Ada"), await member(session, "Bob")
    template = await session.get(Exercise, await exercise(session, "back_squat"))
    assert template is not None
    private = Exercise(
        owner_id=bob,
        name="Bob's secret squat",
        description="x",
        instructions="x",
        difficulty_level_id=template.difficulty_level_id,
        visibility_id=template.visibility_id,
    )
    session.add(private)
    await session.flush()
    started = await log.start_session(session, ada, now=NOW, source=TrainingSessionSource.FREE_TEXT)
    with pytest.raises(NotFound):
        await log.log_sets(session, ada, started.id, private.id, sets("squat 1x5 100"), now=NOW)
    assert await count_sets(session, ada) == 0
