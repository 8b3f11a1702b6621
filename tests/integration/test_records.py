"""Personal records against earlier sessions (e1RM, heaviest load, reps at a load, set and
session volume; warm-ups, bodyweight sets and the first session), the PR list, and the rows a
finished session writes: the activity and its metrics as the weekly digest reads them, PR
activities, USER_WORKOUT_PROGRESS and USER_PROGRAM_PROGRESS. A database of this module's own
(the digest planner reads every user), a rolled-back session per test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.models.activity import Activity, ActivityMetric, ActivityStreak, ActivityType
from domain.models.exercise import Exercise
from domain.models.lookup import Metric, Status
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import User, UserProgramProgress, UserWorkoutProgress
from domain.services import reminders
from domain.services.records import (
    PersonalRecord,
    RecordKind,
    detect_records,
    record_list,
    session_totals,
    write_session_activity,
)
from domain.services.schedule_day import is_day_done
from domain.services.strength import estimated_1rm
from tests.conftest import DatabaseFactory, own_database, rolled_back_session
from tests.integration.test_reminder_planning import (
    PARIS,
    give_program,
    local,
    new_user,
)

UTC = dt.UTC
MONDAY = dt.date(2032, 6, 14)


@pytest.fixture(scope="module")
async def records_engine(database_factory: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    async with own_database(database_factory, "mf_records") as engine:
        yield engine


@pytest.fixture
async def db(records_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(records_engine) as session:
        yield session


# --------------------------------------------------------------------------------------------
# Logging helpers (shared with test_streaks)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S:
    """One set to log: ``load`` kg (bodyweight: the added load) × ``reps``."""

    load: Decimal | int | str | None
    reps: int | None
    warmup: bool = False
    bodyweight: bool = False
    workout_set_id: uuid.UUID | None = None
    seconds: int | None = None


async def exercise_id(session: AsyncSession, code: str) -> uuid.UUID:
    found: uuid.UUID = (
        await session.execute(select(Exercise.id).where(Exercise.code == code))
    ).scalar_one()
    return found


async def log_session(
    session: AsyncSession,
    user: User,
    at: dt.datetime,
    sets: dict[str, Sequence[S]],
    *,
    minutes: int = 60,
    workout_id: uuid.UUID | None = None,
    user_program_id: uuid.UUID | None = None,
    finished: bool = True,
) -> uuid.UUID:
    """A training session started ``at`` with ``sets`` per exercise code, finished after
    ``minutes``."""
    row = TrainingSession(
        user_id=user.id,
        started_at=at,
        finished_at=at + dt.timedelta(minutes=minutes) if finished else None,
        source=TrainingSessionSource.GUIDED if workout_id else TrainingSessionSource.FREE_TEXT,
        workout_id=workout_id,
        user_program_id=user_program_id,
    )
    session.add(row)
    await session.flush()
    index = 0
    for code, exercise_sets in sets.items():
        exercise = await exercise_id(session, code)
        for one in exercise_sets:
            load = None if one.load is None else Decimal(one.load)
            session.add(
                LoggedSet(
                    session_id=row.id,
                    user_id=user.id,
                    exercise_id=exercise,
                    performed_at=at + dt.timedelta(minutes=1 + index),
                    set_index=index,
                    reps=one.reps,
                    load_kg=None if one.bodyweight else load,
                    added_load_kg=load if one.bodyweight else None,
                    is_bodyweight=one.bodyweight,
                    is_warmup=one.warmup,
                    workout_set_id=one.workout_set_id,
                    duration_seconds=one.seconds,
                )
            )
            index += 1
    await session.flush()
    return row.id


def kinds(records: Sequence[PersonalRecord]) -> dict[RecordKind, tuple[Decimal, Decimal | None]]:
    return {r.kind: (r.value, r.previous) for r in records}


def e1rm(load: int | str, reps: int) -> Decimal:
    value = estimated_1rm(Decimal(load), reps)
    assert value is not None
    return value.quantize(Decimal("0.01"))


def day(offset: int, hour: int = 18) -> dt.datetime:
    return local(PARIS, MONDAY + dt.timedelta(days=offset), hour)


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


async def test_the_first_session_of_an_exercise_sets_the_baseline_and_no_record(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    first = await log_session(db, ada, day(0), {"back_squat": [S(100, 5), S(100, 5)]})
    assert await detect_records(db, ada.id, first) == []
    # A second exercise's first time in a later session: still no record for it.
    second = await log_session(
        db, ada, day(2), {"back_squat": [S(100, 5)], "barbell_bench_press": [S(200, 5)]}
    )
    assert await detect_records(db, ada.id, second) == []


async def test_a_heavier_set_beats_e1rm_heaviest_load_and_volume(db: AsyncSession) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5), S(100, 5), S(100, 5)]})
    today = await log_session(
        db, ada, day(2), {"back_squat": [S(100, 5), S(105, 5), S(105, 5), S(105, 5)]}
    )
    records = await detect_records(db, ada.id, today)
    assert kinds(records) == {
        RecordKind.E1RM: (e1rm(105, 5), e1rm(100, 5)),
        RecordKind.HEAVIEST_LOAD: (Decimal("105.00"), Decimal("100.00")),
        RecordKind.SET_VOLUME: (Decimal("525.00"), Decimal("500.00")),
        RecordKind.SESSION_VOLUME: (Decimal("2075.00"), Decimal("1500.00")),
    }
    # One record per kind, the first set that did it; names in the asked locale.
    e1rm_record = next(r for r in records if r.kind is RecordKind.E1RM)
    assert e1rm_record.set_id is not None
    first_105 = await db.scalar(
        select(LoggedSet.id).where(LoggedSet.session_id == today, LoggedSet.set_index == 1)
    )
    assert e1rm_record.set_id == first_105
    assert (e1rm_record.load_kg, e1rm_record.reps) == (Decimal("105.00"), 5)
    french = await detect_records(db, ada.id, today, locale="fr")
    assert {r.exercise_name for r in french} == {"Squat arrière"}
    assert {r.exercise_name for r in records} == {"Back Squat"}


async def test_more_reps_at_the_same_load_is_a_rep_record(db: AsyncSession) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5), S(100, 5), S(100, 5)]})
    today = await log_session(db, ada, day(2), {"back_squat": [S(100, 6)]})
    records = await detect_records(db, ada.id, today)
    assert kinds(records) == {
        RecordKind.E1RM: (e1rm(100, 6), e1rm(100, 5)),
        RecordKind.REPS_AT_LOAD: (Decimal(6), Decimal(5)),
        RecordKind.SET_VOLUME: (Decimal("600.00"), Decimal("500.00")),
    }
    rep = next(r for r in records if r.kind is RecordKind.REPS_AT_LOAD)
    assert (rep.load_kg, rep.reps) == (Decimal("100.00"), 6)


async def test_a_lighter_high_rep_set_beats_volume_and_reps_but_not_e1rm(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5)]})
    today = await log_session(db, ada, day(2), {"back_squat": [S(80, 8)]})
    # 80 × 8 (e1RM ~100.3) is below 100 × 5 (e1RM ~114.6), but 640 kg > 500 kg in one set,
    # and nothing at 80 kg or more ever reached 8 reps.
    assert kinds(await detect_records(db, ada.id, today)) == {
        RecordKind.REPS_AT_LOAD: (Decimal(8), Decimal(5)),
        RecordKind.SET_VOLUME: (Decimal("640.00"), Decimal("500.00")),
        RecordKind.SESSION_VOLUME: (Decimal("640.00"), Decimal("500.00")),
    }


async def test_a_worse_or_equal_session_beats_nothing(db: AsyncSession) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5), S(100, 5)]})
    same = await log_session(db, ada, day(2), {"back_squat": [S(100, 5), S(100, 5)]})
    worse = await log_session(db, ada, day(4), {"back_squat": [S(90, 5), S(95, 3)]})
    assert await detect_records(db, ada.id, same) == []  # ties are not records
    assert await detect_records(db, ada.id, worse) == []


async def test_warmups_neither_beat_nor_set_records(db: AsyncSession) -> None:
    ada = await new_user(db)
    await log_session(
        db, ada, day(0), {"back_squat": [S(200, 1, warmup=True), S(100, 5), S(100, 5)]}
    )
    today = await log_session(db, ada, day(2), {"back_squat": [S(150, 5, warmup=True), S(90, 5)]})
    assert await detect_records(db, ada.id, today) == []
    # The 200 kg warm-up single is not the best to beat: 110 × 1 is the heaviest ever.
    later = await log_session(db, ada, day(4), {"back_squat": [S(110, 1)]})
    assert kinds(await detect_records(db, ada.id, later))[RecordKind.HEAVIEST_LOAD] == (
        Decimal("110.00"),
        Decimal("100.00"),
    )


async def test_bodyweight_sets_get_rep_and_added_load_records_never_e1rm(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"pull_up": [S(None, 10, bodyweight=True)]})
    more = await log_session(db, ada, day(2), {"pull_up": [S(None, 12, bodyweight=True)]})
    assert kinds(await detect_records(db, ada.id, more)) == {
        RecordKind.REPS_AT_LOAD: (Decimal(12), Decimal(10)),
    }
    weighted = await log_session(db, ada, day(4), {"pull_up": [S(10, 5, bodyweight=True)]})
    records = await detect_records(db, ada.id, weighted)
    assert kinds(records) == {RecordKind.HEAVIEST_LOAD: (Decimal("10.00"), Decimal("0.00"))}
    assert records[0].is_bodyweight


async def test_only_earlier_sessions_and_only_the_users_own(db: AsyncSession) -> None:
    ada = await new_user(db)
    bob = await new_user(db, first_name="Bob")
    early = await log_session(db, ada, day(0), {"back_squat": [S(100, 5)]})
    await log_session(db, ada, day(2), {"back_squat": [S(140, 5)]})
    await log_session(db, bob, day(-3), {"back_squat": [S(60, 5)]})
    # A later session is not history for an earlier one; Bob's sets are not Ada's.
    assert await detect_records(db, ada.id, early) == []
    assert await detect_records(db, bob.id, early) == []


async def test_record_list_holds_the_bests_per_exercise(db: AsyncSession) -> None:
    ada = await new_user(db)
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5), S(100, 5), S(110, 1)]})
    await log_session(db, ada, day(2), {"back_squat": [S(80, 10), S(200, 1, warmup=True)]})
    await log_session(db, ada, day(4), {"pull_up": [S(None, 8, bodyweight=True)]})
    lists = await record_list(db, ada.id, locale="fr")
    # Most recently trained first, names in the asked locale.
    assert [r.exercise_name for r in lists] == ["Tractions en pronation", "Squat arrière"]
    pulls, squats = lists
    assert pulls.e1rm is None
    assert pulls.best_set_volume is None
    assert pulls.most_reps is not None
    assert pulls.most_reps.value == Decimal(8)
    assert squats.e1rm is not None
    assert squats.e1rm.value == e1rm(100, 5)
    assert squats.e1rm.achieved_at == day(0) + dt.timedelta(minutes=1)  # the first 100 × 5
    assert squats.heaviest is not None
    assert squats.heaviest.value == Decimal("110.00")
    assert squats.most_reps is not None
    assert (squats.most_reps.value, squats.most_reps.load_kg) == (Decimal(10), Decimal("80.00"))
    assert squats.best_set_volume is not None
    assert squats.best_set_volume.value == Decimal("800.00")
    assert squats.best_session_volume is not None
    assert squats.best_session_volume.value == Decimal("1110.00")
    assert len(await record_list(db, ada.id, limit=1)) == 1


# --------------------------------------------------------------------------------------------
# The rows a finished session writes
# --------------------------------------------------------------------------------------------


async def _activities(db: AsyncSession, user: User) -> list[tuple[str, Activity]]:
    rows = await db.execute(
        select(ActivityType.code, Activity)
        .join(Activity, Activity.activity_type_id == ActivityType.id)
        .where(Activity.user_id == user.id)
        .order_by(Activity.occurred_at, ActivityType.code)
    )
    return [(code, activity) for code, activity in rows]


async def _metrics(db: AsyncSession, activity: Activity) -> dict[str, float]:
    rows = await db.execute(
        select(Metric.code, ActivityMetric.value)
        .join(ActivityMetric, ActivityMetric.metric_id == Metric.id)
        .where(ActivityMetric.activity_id == activity.id)
    )
    return dict(rows.all())


async def test_free_log_activity_metrics_and_prs_are_what_the_weekly_digest_reads(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    sunday = MONDAY + dt.timedelta(days=6)
    first = await log_session(
        db, ada, day(0), {"back_squat": [S(60, 10, warmup=True), S(100, 5), S(100, 5)]}
    )
    second = await log_session(
        db, ada, day(2), {"back_squat": [S(105, 5)], "plank": [S(None, None, seconds=60)]}
    )
    for session_id in (first, second):
        records = await detect_records(db, ada.id, session_id)
        await write_session_activity(
            db, ada.id, session_id, now=day(3), records=records, timezone=PARIS
        )
    # Idempotent: writing again adds nothing.
    await write_session_activity(db, ada.id, second, now=day(3), records=records)

    activities = await _activities(db, ada)
    codes = [code for code, _ in activities]
    assert codes.count("FREE_LOG") == 2
    assert codes.count("PR_ACHIEVED") == 3  # e1RM, heaviest load, set volume (not session)
    free = [activity for code, activity in activities if code == "FREE_LOG"]
    assert free[0].training_session_id == first
    assert free[0].occurred_at == day(0) + dt.timedelta(minutes=60)  # its finish
    assert await _metrics(db, free[0]) == {
        "VOLUME_LOAD": 1000.0,  # warm-up excluded
        "TOTAL_REPS": 10.0,
        "DURATION": 3600.0,
    }
    assert (await _metrics(db, free[1]))["VOLUME_LOAD"] == 525.0
    pr = next(activity for code, activity in activities if code == "PR_ACHIEVED")
    assert pr.resource_type == "EXERCISE"
    assert pr.resource_id == await exercise_id(db, "back_squat")
    assert pr.details is not None
    assert pr.details["kind"] in {k.value for k in RecordKind}
    assert await _metrics(db, pr) == {}  # no VOLUME_LOAD: the digest would count it twice
    totals = await session_totals(db, first, now=day(5))
    assert (totals.volume_kg, totals.total_reps, totals.set_count) == (Decimal(1000), 10, 2)
    assert totals.duration == dt.timedelta(hours=1)

    assert await reminders.plan_weekly_digests(db, local(PARIS, sunday, 17, 59)) >= 1
    variables = (
        await db.execute(
            text(
                "SELECT n.variables FROM notification AS n"
                " JOIN notification_type AS t ON t.id = n.notification_type_id"
                " WHERE n.user_id = :user AND t.code = 'WEEKLY_DIGEST'"
            ),
            {"user": ada.id},
        )
    ).scalar_one()
    assert {k: variables[k] for k in ("sessions", "volume", "prs")} == {
        "sessions": 2,
        "volume": "1525 kg",
        "prs": 3,
    }


async def _status(db: AsyncSession, status_id: uuid.UUID) -> str:
    code: str = (await db.execute(select(Status.code).where(Status.id == status_id))).scalar_one()
    return code


async def test_a_program_workout_completes_its_day_and_moves_the_program_on(
    db: AsyncSession,
) -> None:
    ada = await new_user(db)
    plan = await give_program(db, ada, MONDAY, {0: ["Legs"], 2: ["Push"], 4: ["Legs"]})
    wednesday = MONDAY + dt.timedelta(days=2)
    assert not await is_day_done(db, ada.id, wednesday, PARIS)
    session_id = await log_session(
        db,
        ada,
        day(2),
        {"barbell_bench_press": [S(80, 5)]},
        workout_id=plan.workouts["Push"],
        user_program_id=plan.user_program_id,
    )
    await write_session_activity(db, ada.id, session_id, now=day(2, 20), records=[])

    [(code, activity)] = await _activities(db, ada)
    assert code == "WORKOUT_COMPLETED"
    assert (activity.resource_type, activity.resource_id) == ("WORKOUT", plan.workouts["Push"])
    progress = (
        await db.execute(select(UserWorkoutProgress).where(UserWorkoutProgress.user_id == ada.id))
    ).scalar_one()
    assert await _status(db, progress.completion_status_id) == "COMPLETED"
    assert (progress.scheduled_date, progress.last_completed_date) == (wednesday, wednesday)
    assert progress.user_program_id == plan.user_program_id
    program = await db.get(UserProgramProgress, plan.user_program_id, populate_existing=True)
    assert program is not None
    assert (program.current_day_number, program.last_completed_date) == (3, wednesday)
    assert await is_day_done(db, ada.id, wednesday, PARIS)

    # Catching up Monday's missed "Legs" on Thursday does not move the athlete back, and the
    # schedule's next "Legs" (day 4, from where they stand) is the one done.
    thursday = MONDAY + dt.timedelta(days=3)
    late = await log_session(
        db,
        ada,
        day(3),
        {"back_squat": [S(100, 5)]},
        workout_id=plan.workouts["Legs"],
        user_program_id=plan.user_program_id,
    )
    await write_session_activity(db, ada.id, late, now=day(3, 20), records=[])
    await db.refresh(program)
    assert (program.current_day_number, program.last_completed_date) == (5, thursday)
    legs = (
        await db.execute(
            select(UserWorkoutProgress).where(
                UserWorkoutProgress.workout_id == plan.workouts["Legs"]
            )
        )
    ).scalar_one()
    assert legs.scheduled_date == MONDAY + dt.timedelta(days=4)


async def test_a_workout_with_prescribed_sets_left_undone_is_partial(db: AsyncSession) -> None:
    ada = await new_user(db)
    plan = await give_program(db, ada, MONDAY, {0: ["Legs"]})
    block = (
        await db.execute(
            text(
                "INSERT INTO workout_set (id, workout_id, order_index, name, rest_after_seconds,"
                " sets_count, target_reps) VALUES (gen_random_uuid(), :workout, 0, 'Squat',"
                " 120, 3, 5) RETURNING id"
            ),
            {"workout": plan.workouts["Legs"]},
        )
    ).scalar_one()
    session_id = await log_session(
        db,
        ada,
        day(0),
        {"back_squat": [S(100, 5, workout_set_id=block), S(100, 5, workout_set_id=block)]},
        workout_id=plan.workouts["Legs"],
    )
    await write_session_activity(db, ada.id, session_id, now=day(0, 20), records=[])
    progress = (
        await db.execute(select(UserWorkoutProgress).where(UserWorkoutProgress.user_id == ada.id))
    ).scalar_one()
    assert await _status(db, progress.completion_status_id) == "PARTIAL"
    # Found on the day's schedule although the session did not name the assignment.
    assert progress.user_program_id == plan.user_program_id
    assert progress.scheduled_date == MONDAY


async def test_finish_session_announces_records_writes_activity_and_streak(
    db: AsyncSession,
) -> None:
    """Through the training log's finish (the caller of this module)."""
    from domain.services import training_log

    ada = await new_user(db)
    squat = await exercise_id(db, "back_squat")
    await log_session(db, ada, day(0), {"back_squat": [S(100, 5)]})
    started = await training_log.start_session(
        db, ada.id, now=day(2), source=TrainingSessionSource.FREE_TEXT
    )
    await training_log.log_sets(
        db,
        ada.id,
        started.id,
        squat,
        [training_log.SetInput(reps=5, load_kg=Decimal(110))],
        now=day(2) + dt.timedelta(minutes=5),
    )
    summary = await training_log.finish_session(
        db, ada.id, started.id, now=day(2) + dt.timedelta(minutes=50), timezone=PARIS
    )
    assert RecordKind.E1RM in {r.kind for r in summary.records}
    assert summary.streak is not None
    assert summary.streak.current == 1
    codes = [code for code, _ in await _activities(db, ada)]
    assert codes.count("FREE_LOG") == 1
    assert codes.count("PR_ACHIEVED") == len(summary.records)
    streaks = await db.scalar(
        select(func.count()).select_from(ActivityStreak).where(ActivityStreak.user_id == ada.id)
    )
    assert streaks == 1
