"""The free-text fast path: one statement finds or opens the session, appends the sets and
reads back last time and the previous best; wrong input writes nothing; round trips counted
through a wire-level proxy."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bench.pg_round_trips import RoundTripCounter
from bot.runtime import app_engine_kwargs
from domain import migrate
from domain.db import create_engine, session_factory
from domain.errors import NotFound
from domain.models.enums import ExerciseMeasurement
from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.parsing import parse_log
from domain.parsing.model import Unit
from domain.reference.loader import load_reference_data
from domain.services.quick_log import (
    _LOG_BY_ID,
    SetsDoNotFit,
    log_free_text,
    log_typed,
    log_values,
)
from domain.services.strength import estimated_1rm
from domain.services.training_log import OPEN_SESSION_HOURS, SetInput
from tests.conftest import DatabaseFactory
from tests.factories import exercise_id, make_user

NOW = dt.datetime(2032, 6, 15, 18, 0, tzinfo=dt.UTC)


def sets_of(line: str, unit: Unit = Unit.KG) -> list[SetInput]:
    return [SetInput.from_parsed(one) for one in parse_log(line, default_unit=unit).sets]


async def counts(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, int]:
    sessions = await session.scalar(
        select(func.count()).select_from(TrainingSession).where(TrainingSession.user_id == user_id)
    )
    sets = await session.scalar(
        select(func.count()).select_from(LoggedSet).where(LoggedSet.user_id == user_id)
    )
    return int(sessions or 0), int(sets or 0)


async def test_first_sets_open_a_free_text_session(session: AsyncSession) -> None:
    user = await make_user(session)
    squat = await exercise_id(session, "back_squat")
    result = await log_free_text(
        session, user.id, squat, sets_of("squat 5x5 100"), now=NOW, locale="en"
    )
    assert result.session_started
    assert result.exercise_name == "Back Squat"
    assert result.measurement is ExerciseMeasurement.REPS_LOAD
    assert [one.set_index for one in result.sets] == [0, 1, 2, 3, 4]
    assert {(one.reps, one.load_kg) for one in result.sets} == {(5, Decimal("100.00"))}
    assert all(
        one.performed_at == NOW and one.session_id == result.session_id for one in result.sets
    )
    assert result.last_time == []
    assert result.previous_best_e1rm_kg is None
    assert not result.new_best_e1rm
    row = await session.get(TrainingSession, result.session_id)
    assert row is not None
    assert (row.user_id, row.source, row.started_at, row.finished_at) == (
        user.id,
        TrainingSessionSource.FREE_TEXT,
        NOW,
        None,
    )
    assert await counts(session, user.id) == (1, 5)


async def test_sets_within_the_window_join_the_open_session_and_continue_its_numbering(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    squat = await exercise_id(session, "back_squat")
    bench = await exercise_id(session, "barbell_bench_press")
    first = await log_free_text(
        session, user.id, squat, sets_of("squat 5x5 100"), now=NOW, locale="en"
    )
    later = NOW + dt.timedelta(hours=OPEN_SESSION_HOURS) - dt.timedelta(minutes=1)
    second = await log_free_text(
        session, user.id, bench, sets_of("bench 3x8 @ 60kg rpe 8"), now=later, locale="fr"
    )
    assert not second.session_started
    assert second.session_id == first.session_id
    assert [one.set_index for one in second.sets] == [5, 6, 7]
    assert second.exercise_name == "Développé couché à la barre"
    assert {one.rpe for one in second.sets} == {Decimal(8)}
    assert await counts(session, user.id) == (1, 8)


async def test_a_new_session_after_the_window_or_after_finishing(session: AsyncSession) -> None:
    user = await make_user(session)
    squat = await exercise_id(session, "back_squat")
    first = await log_free_text(
        session, user.id, squat, sets_of("squat 1x5 100"), now=NOW, locale="en"
    )
    late = NOW + dt.timedelta(hours=OPEN_SESSION_HOURS, minutes=1)
    second = await log_free_text(
        session, user.id, squat, sets_of("squat 1x5 100"), now=late, locale="en"
    )
    assert second.session_started
    assert second.session_id != first.session_id
    assert [one.set_index for one in second.sets] == [0]

    await session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == second.session_id)
        .values(finished_at=late + dt.timedelta(minutes=5))
    )
    third = await log_free_text(
        session,
        user.id,
        squat,
        sets_of("squat 1x5 100"),
        now=late + dt.timedelta(minutes=10),
        locale="en",
    )
    assert third.session_started
    assert third.session_id not in (first.session_id, second.session_id)
    assert await counts(session, user.id) == (3, 3)


async def test_last_time_is_the_previous_session_and_a_better_e1rm_is_flagged(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    deadlift = await exercise_id(session, "conventional_deadlift")
    monday = NOW - dt.timedelta(days=2)
    before = await log_free_text(
        session, user.id, deadlift, sets_of("deadlift 140x5, 150x3, 160x1"), now=monday, locale="en"
    )
    await session.execute(
        update(TrainingSession)
        .where(TrainingSession.id == before.session_id)
        .values(finished_at=monday + dt.timedelta(hours=1))
    )
    today = await log_free_text(
        session, user.id, deadlift, sets_of("deadlift 170x1"), now=NOW, locale="en"
    )
    assert [(one.load_kg, one.reps) for one in today.last_time] == [
        (Decimal("140.00"), 5),
        (Decimal("150.00"), 3),
        (Decimal("160.00"), 1),
    ]
    assert all(one.session_id == before.session_id for one in today.last_time)
    # 150 x 3 → (150 × 1.1 + 150 × 36/34) / 2 ≈ 161.9 kg beats the 160 single
    assert today.previous_best_e1rm_kg is not None
    assert Decimal("161.8") < today.previous_best_e1rm_kg < Decimal("162")
    assert today.best_e1rm_kg == Decimal(170)
    assert today.new_best_e1rm

    # More in the same session: last time is still Monday's, not today's first set.
    again = await log_free_text(
        session,
        user.id,
        deadlift,
        sets_of("deadlift 100x5"),
        now=NOW + dt.timedelta(minutes=5),
        locale="en",
    )
    assert {one.session_id for one in again.last_time} == {before.session_id}
    assert again.previous_best_e1rm_kg == Decimal(170)
    assert not again.new_best_e1rm


async def test_bodyweight_sets_carry_the_added_load(session: AsyncSession) -> None:
    user = await make_user(session)
    pull_up = await exercise_id(session, "pull_up")
    vest = await log_free_text(
        session, user.id, pull_up, sets_of("pullups 3x10 bw+10"), now=NOW, locale="en"
    )
    assert {(one.reps, one.load_kg, one.added_load_kg, one.is_bodyweight) for one in vest.sets} == {
        (10, None, Decimal("10.00"), True)
    }
    # A plain load on a bodyweight exercise is added to the body too.
    plain = await log_free_text(
        session, user.id, pull_up, sets_of("pullups 1x5 20"), now=NOW, locale="en"
    )
    assert [(one.load_kg, one.added_load_kg, one.is_bodyweight) for one in plain.sets] == [
        (None, Decimal("20.00"), True)
    ]
    assert plain.best_e1rm_kg is None
    assert not plain.new_best_e1rm


async def test_time_and_distance_exercises(session: AsyncSession) -> None:
    user = await make_user(session)
    plank = await exercise_id(session, "plank")
    running = await exercise_id(session, "running")
    held = await log_free_text(
        session, user.id, plank, sets_of("plank 3x60s"), now=NOW, locale="en"
    )
    assert [(one.duration_seconds, one.reps) for one in held.sets] == [(60, None)] * 3
    ran = await log_free_text(
        session, user.id, running, sets_of("run 5km 25:30"), now=NOW, locale="ru"
    )
    assert [(one.distance_m, one.duration_seconds) for one in ran.sets] == [
        (Decimal("5000.00"), 1530)
    ]
    assert ran.exercise_name == "Бег"
    assert [one.set_index for one in ran.sets] == [3]


@pytest.mark.parametrize(
    ("code", "line", "measurement"),
    [
        ("back_squat", "squat 3x60s", "REPS_LOAD"),
        ("running", "run 3x10", "DISTANCE_TIME"),
        ("running", "run 3x10 100", "DISTANCE_TIME"),
        ("plank", "plank 3x10", "DURATION"),
        ("plank", "plank 5km", "DURATION"),
        ("pull_up", "pullups 5km", "REPS"),
    ],
)
async def test_sets_that_do_not_fit_the_exercise_change_nothing(
    session: AsyncSession, code: str, line: str, measurement: str
) -> None:
    user = await make_user(session)
    exercise = await exercise_id(session, code)
    with pytest.raises(SetsDoNotFit) as caught:
        await log_free_text(session, user.id, exercise, sets_of(line), now=NOW, locale="en")
    assert caught.value.params["measurement"] == measurement
    assert caught.value.code == "sets_do_not_fit_exercise"
    assert await counts(session, user.id) == (0, 0)


async def test_someone_elses_private_exercise_is_refused(session: AsyncSession) -> None:
    ann = await make_user(session, first_name="Ann")
    bob = await make_user(session, first_name="Bob")
    template = await session.get(Exercise, await exercise_id(session, "back_squat"))
    assert template is not None
    private = Exercise(
        owner_id=ann.id,
        name="Ann's Squat",
        description="mine",
        instructions="do it",
        difficulty_level_id=template.difficulty_level_id,
        visibility_id=template.visibility_id,
    )
    session.add(private)
    await session.flush()
    with pytest.raises(NotFound):
        await log_free_text(
            session, bob.id, private.id, sets_of("squat 5x5 100"), now=NOW, locale="en"
        )
    with pytest.raises(NotFound):
        await log_free_text(
            session, bob.id, uuid.uuid4(), sets_of("squat 5x5 100"), now=NOW, locale="en"
        )
    assert await counts(session, bob.id) == (0, 0)
    mine = await log_free_text(
        session, ann.id, private.id, sets_of("squat 1x5 100"), now=NOW, locale="en"
    )
    assert mine.exercise_name == "Ann's Squat"


async def test_log_typed_logs_a_clear_name_and_returns_choices_otherwise(
    session: AsyncSession,
) -> None:
    user = await make_user(session)
    clear = await log_typed(
        session, user.id, "squat", sets_of("squat 5x5 100"), now=NOW, locale="en"
    )
    assert clear.logged is not None
    assert clear.logged.exercise_name == "Back Squat"
    vague = await log_typed(
        session, user.id, "press", sets_of("press 3x8 40"), now=NOW, locale="en"
    )
    assert vague.logged is None
    assert vague.match.chosen is None
    assert len(vague.match.candidates) >= 2
    nothing = await log_typed(
        session, user.id, "xyzzy", sets_of("xyzzy 3x8 40"), now=NOW, locale="en"
    )
    assert nothing.logged is None
    assert nothing.match.candidates == []
    assert await counts(session, user.id) == (1, 5)


async def test_a_name_two_exercises_share_exactly_is_a_choice_and_writes_nothing(
    session: AsyncSession,
) -> None:
    ann = await make_user(session, first_name="Ann")
    template = await session.get(Exercise, await exercise_id(session, "back_squat"))
    assert template is not None
    # Ann's own exercise with "squat" as an alias: the catalogue's Back Squat has it too.
    own = Exercise(
        owner_id=ann.id,
        name="Box Squat",
        description="mine",
        instructions="do it",
        aliases={"en": ["squat"]},
        difficulty_level_id=template.difficulty_level_id,
        visibility_id=template.visibility_id,
    )
    session.add(own)
    await session.flush()
    outcome = await log_typed(
        session, ann.id, "Squat", sets_of("squat 5x5 100"), now=NOW, locale="en"
    )
    assert outcome.logged is None
    assert {choice.id for choice in outcome.match.candidates} == {template.id, own.id}
    assert await counts(session, ann.id) == (0, 0)
    # Someone else does not see Ann's exercise: for them the alias is Back Squat's alone.
    bob = await make_user(session, first_name="Bob")
    theirs = await log_typed(
        session, bob.id, "Squat", sets_of("squat 5x5 100"), now=NOW, locale="en"
    )
    assert theirs.logged is not None
    assert theirs.logged.exercise_id == template.id


async def test_the_best_e1rm_so_far_is_read_from_its_index_not_the_whole_history(
    session: AsyncSession,
) -> None:
    """The statement's best-e1RM expression and predicate are those of
    ix_logged_set_best_e1rm (migration 0009): change one without the other and the free-text
    reply walks the athlete's whole history again."""
    user = await make_user(session)
    first = await log_typed(
        session, user.id, "squat", sets_of("squat 3x5 100"), now=NOW, locale="en"
    )
    assert first.logged is not None
    assert first.logged.previous_best_e1rm_kg is None
    later = NOW + dt.timedelta(days=2)
    second = await log_typed(
        session, user.id, "squat", sets_of("squat 1x3 110"), now=later, locale="en"
    )
    assert second.logged is not None
    assert second.logged.previous_best_e1rm_kg is not None
    expected = estimated_1rm(Decimal(100), 5)
    assert expected is not None
    assert round(second.logged.previous_best_e1rm_kg, 6) == round(expected, 6)
    # Only the index can answer now: the plan must descend it (Limit over a backward scan).
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    await session.execute(text("SET LOCAL enable_bitmapscan = off"))
    statement = _LOG_BY_ID.statement
    squat = await exercise_id(session, "back_squat")
    values = log_values(
        user.id, sets_of("squat 1x5 100"), now=later, locale="en", exercise_id=squat
    )
    plan = "\n".join((await session.execute(text(f"EXPLAIN {statement.text}"), values)).scalars())
    assert "Index Scan Backward using ix_logged_set_best_e1rm" in plan, plan


# --------------------------------------------------------------------------------------------
# Autocommit and round trips, on a database of this module's own (these commit)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def own_url(database_factory: DatabaseFactory) -> AsyncIterator[URL]:
    url = await database_factory.create("mf_quicklog")
    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
    finally:
        await engine.dispose()
    yield url
    await database_factory.drop(url)


@pytest.fixture
async def counted(own_url: URL) -> AsyncIterator[tuple[RoundTripCounter, AsyncEngine]]:
    async with RoundTripCounter(own_url.host or "127.0.0.1", own_url.port or 5432) as counter:
        engine = create_engine(
            own_url.set(host=counter.host, port=counter.port), **app_engine_kwargs()
        )
        try:
            yield counter, engine
        finally:
            await engine.dispose()


async def test_an_exact_name_is_one_round_trip_a_typo_three_and_each_commits_on_its_own(
    counted: tuple[RoundTripCounter, AsyncEngine],
) -> None:
    counter, engine = counted
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        user = await make_user(session)
        squat = await exercise_id(session, "back_squat")
    sets = sets_of("squat 5x5 100")
    # Warm the pooled connection and its prepared statements, as a running bot has.
    async with factory() as session:
        await log_typed(session, user.id, "squat", sets, now=NOW, locale="en")

    before = counter.round_trips
    async with factory() as session:
        outcome = await log_typed(session, user.id, "squat", sets, now=NOW, locale="en")
        # The bot's database middleware commits a unit of work that is "in a transaction".
        if session.in_transaction():
            await session.commit()
    assert outcome.logged is not None
    # Matched by the exact alias and logged in the same statement.
    assert counter.round_trips - before == 1
    assert [one.set_index for one in outcome.logged.sets] == [5, 6, 7, 8, 9]
    assert outcome.match.chosen is not None
    assert outcome.match.chosen.id == squat

    # A typo misses the exact path (which writes nothing), is matched near, then logged.
    before = counter.round_trips
    async with factory() as session:
        typo = await log_typed(session, user.id, "sqaut", sets, now=NOW, locale="en")
    assert typo.logged is not None
    assert typo.logged.exercise_id == squat
    assert counter.round_trips - before == 3
    assert [one.set_index for one in typo.logged.sets] == [10, 11, 12, 13, 14]

    # Committed without a COMMIT: another connection sees the sets.
    async with factory() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(LoggedSet)
            .where(
                LoggedSet.session_id == outcome.logged.session_id, LoggedSet.exercise_id == squat
            )
        )
    assert stored == 15

    # Inside a running transaction the statement joins it (and rolls back with it).
    async with factory() as session:
        await session.execute(select(1))
        await log_free_text(session, user.id, squat, sets, now=NOW, locale="en")
        await session.rollback()
    async with factory() as session:
        stored = await session.scalar(
            select(func.count()).select_from(LoggedSet).where(LoggedSet.user_id == user.id)
        )
    assert stored == 15
