"""Importing program files into a real database: the shipped example in YAML, JSON and CSV
becomes the same program (schedule, workouts, sets, exercises resolved in any language, tempo,
durations, version 1); a re-import publishes version 2 on a new schedule and leaves the old one
alone; every error refuses the file with its place and stores nothing; access (a deny policy,
an institution, public visibility) is decided before anything is written; and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from domain.db import create_engine, session_factory
from domain.errors import NotAllowed
from domain.models.access import (
    Policy,
    PolicyAssignment,
    PolicyTargetType,
    PolicyType,
    Role,
    Visibility,
)
from domain.models.audit import SecurityEvent
from domain.models.exercise import Exercise
from domain.models.institution import Institution, InstitutionMember, InstitutionMemberRole
from domain.models.program import (
    Program,
    ProgramCategory,
    ProgramSchedule,
    ProgramStatus,
    ProgramTag,
    ProgramVersion,
    ScheduleWorkout,
)
from domain.models.user import UserRole
from domain.models.workout import (
    EstimatedWorkoutDuration,
    ExerciseInstruction,
    Tempo,
    TempoType,
    Workout,
    WorkoutSet,
)
from domain.services.program_format import MAX_FILE_BYTES, ProgramFileInvalid
from domain.services.program_import import ImportResult, import_program
from domain.services.program_versions import current_schedule_id
from domain.services.tempo import tempo_texts
from tests.conftest import DatabaseFactory, migrated_seeded_database
from tests.factories import make_user
from tests.integration.test_cli import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
COUNTED = (
    Program,
    ProgramSchedule,
    ScheduleWorkout,
    ProgramVersion,
    ProgramTag,
    ProgramCategory,
    ProgramStatus,
    Workout,
    WorkoutSet,
    ExerciseInstruction,
    Tempo,
    EstimatedWorkoutDuration,
)


def example(suffix: str) -> bytes:
    return (EXAMPLES / f"program.{suffix}").read_bytes()


def without_visibility(title: str | None = None) -> bytes:
    """The YAML example with the default visibility (and another title when given)."""
    document = yaml.safe_load(example("yaml"))
    del document["program"]["visibility"]
    if title is not None:
        document["program"]["title"] = title
    return yaml.safe_dump(document, allow_unicode=True).encode()


async def counts(session: AsyncSession) -> dict[str, int]:
    return {
        model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
        for model in COUNTED
    }


async def run(
    session: AsyncSession,
    owner: uuid.UUID | None,
    source: bytes,
    filename: str = "program.yaml",
    *,
    institution: uuid.UUID | None = None,
    locale: str = "en",
) -> ImportResult:
    return await import_program(
        session,
        owner_id=owner,
        institution_id=institution,
        source=source,
        filename=filename,
        now=NOW,
        locale=locale,
    )


async def refused(
    session: AsyncSession, owner: uuid.UUID | None, source: bytes, filename: str = "p.yaml"
) -> list[tuple[str, int | None, str]]:
    """(code, line, path or column) of every error; asserts that nothing was stored."""
    before = await counts(session)
    with pytest.raises(ProgramFileInvalid) as caught:
        await run(session, owner, source, filename)
    assert await counts(session) == before
    return [
        (
            error.code,
            error.location.line if error.location else None,
            (error.location.column or error.location.path) if error.location else "",
        )
        for error in caught.value.errors
    ]


async def structure(session: AsyncSession, program_id: uuid.UUID) -> list[tuple[object, ...]]:
    """(day, order, optional, workout's original name, set order, exercise code, sets, reps,
    reps max, load, rpe, duration, distance, rest, tempo kinds) of the current schedule."""
    schedule_id = await current_schedule_id(session, program_id)
    rows = await session.execute(
        select(
            ScheduleWorkout.day_number,
            ScheduleWorkout.order_index,
            ScheduleWorkout.is_optional,
            WorkoutSet.order_index,
            Exercise.code,
            WorkoutSet.sets_count,
            WorkoutSet.target_reps,
            WorkoutSet.target_reps_max,
            WorkoutSet.target_load_kg,
            WorkoutSet.target_rpe,
            WorkoutSet.target_duration_seconds,
            WorkoutSet.target_distance_m,
            WorkoutSet.rest_after_seconds,
            ExerciseInstruction.id,
        )
        .join(WorkoutSet, WorkoutSet.workout_id == ScheduleWorkout.workout_id)
        .join(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
        .join(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
        .where(ScheduleWorkout.program_schedule_id == schedule_id)
        .order_by(ScheduleWorkout.day_number, ScheduleWorkout.order_index, WorkoutSet.order_index)
    )
    result = []
    for row in rows.all():
        kinds = (
            await session.scalars(
                select(TempoType.code)
                .join(Tempo, Tempo.tempo_type_id == TempoType.id)
                .where(Tempo.exercise_instruction_id == row[-1])
                .order_by(Tempo.order_index)
            )
        ).all()
        result.append((*row[:-1], tuple(kinds)))
    return result


async def test_the_yaml_example_becomes_a_published_program(session: AsyncSession) -> None:
    coach = await make_user(session)
    result = await run(session, coach.id, example("yaml"))
    assert (result.title, result.version_number, result.created) == (
        "Strength Foundations",
        1,
        True,
    )
    assert (result.weeks, result.length_days, result.workouts, result.sessions) == (4, 28, 3, 16)
    program = await session.get(Program, result.program_id)
    assert program is not None
    assert (program.owner_id, program.institution_id, program.duration_weeks) == (
        coach.id,
        None,
        4,
    )
    schedule_id = await current_schedule_id(session, program.id)
    schedule = await session.get(ProgramSchedule, schedule_id)
    assert schedule is not None
    assert schedule.schedule_length_days == 28
    version = await session.scalar(
        select(ProgramVersion).where(ProgramVersion.program_id == program.id)
    )
    assert version is not None
    assert version.version_number == 1
    assert version.snapshot_data["program_schedule_id"] == str(schedule_id)
    weeks = version.snapshot_data["schedule"]["weeks"]
    assert [week["week"] for week in weeks] == [1, 2, 3, 4]
    assert [day["day_number"] for day in weeks[0]["days"]] == [0, 2, 4, 5]
    assert '"tempo": "2-0-X-1"' in json.dumps(version.snapshot_data)  # the tempo as written

    rows = await structure(session, program.id)
    week_one = [row for row in rows if int(str(row[0])) < 7]
    assert [(row[0], row[4]) for row in week_one] == [
        (0, "back_squat"),
        (0, "barbell_bench_press"),  # "développé couché"
        (0, "pull_up"),  # "pull-ups"
        (0, "plank"),
        (2, "conventional_deadlift"),
        (2, "overhead_press"),
        (2, "barbell_row"),
        (4, "back_squat"),
        (4, "barbell_bench_press"),
        (4, "pull_up"),
        (4, "plank"),
        (5, "running"),
    ]
    squat, bench, pull_up, plank = week_one[:4]
    assert squat[5:] == (
        3,
        5,
        None,
        Decimal("60.00"),
        Decimal("7.0"),
        None,
        None,
        120,
        ("ECCENTRIC", "PAUSE_BOTTOM", "CONCENTRIC", "PAUSE_TOP"),
    )
    assert bench[6:8] == (8, 10)
    assert pull_up[8] is None  # bw
    assert plank[10] == 45
    deadlift, press = week_one[4], week_one[5]
    assert deadlift[8] == Decimal("102.06")
    # 2-0-X-1: each phase with its own seconds, X as the explosive phase.
    assert press[-1] == ("ECCENTRIC", "PAUSE_BOTTOM", "EXPLOSIVE", "PAUSE_TOP")
    instructions = (
        await session.scalars(
            select(ExerciseInstruction.id)
            .join(WorkoutSet, WorkoutSet.id == ExerciseInstruction.workout_set_id)
            .join(Workout, Workout.id == WorkoutSet.workout_id)
            .where(Workout.owner_id == coach.id)
        )
    ).all()
    assert sorted(set((await tempo_texts(session, instructions)).values())) == [
        "2-0-X-1",
        "3-1-1-0",
    ]
    run_row = week_one[-1]
    assert (run_row[2], run_row[11]) == (True, Decimal(5000))
    # Every workout has its estimated duration; tags, category and status are set.
    durations = (
        await session.execute(
            select(Workout.estimated_duration_seconds, EstimatedWorkoutDuration.total_seconds)
            .join(EstimatedWorkoutDuration)
            .where(Workout.owner_id == coach.id)
        )
    ).all()
    assert len(durations) == 3
    assert all(mine == stored > 0 for mine, stored in durations)
    assert (
        await session.scalar(
            select(func.count()).select_from(ProgramTag).where(ProgramTag.program_id == program.id)
        )
        == 1
    )
    assert (
        await session.scalar(
            select(func.count())
            .select_from(ProgramCategory)
            .where(ProgramCategory.program_id == program.id)
        )
        == 1
    )
    assert await session.get(ProgramStatus, program.id) is not None


async def test_json_and_csv_give_the_same_program(session: AsyncSession) -> None:
    shapes = []
    for suffix in ("yaml", "json", "csv"):
        owner = await make_user(session)
        result = await run(session, owner.id, example(suffix), f"program.{suffix}")
        assert (result.workouts, result.sessions) == (3, 16)
        shapes.append(await structure(session, result.program_id))
    assert shapes[0] == shapes[1] == shapes[2]


async def test_reimport_publishes_a_new_version_and_keeps_the_old_schedule(
    session: AsyncSession,
) -> None:
    coach = await make_user(session)
    first = await run(session, coach.id, example("yaml"))
    old_schedule = await current_schedule_id(session, first.program_id)
    old_slots = (
        await session.execute(
            select(ScheduleWorkout.day_number, ScheduleWorkout.workout_id).where(
                ScheduleWorkout.program_schedule_id == old_schedule
            )
        )
    ).all()
    document = yaml.safe_load(example("yaml"))
    document["workouts"][2]["sets"][0]["distance"] = "6 km"  # the run changes
    document["program"]["description"] = "Now with a longer run."
    second = await run(session, coach.id, yaml.safe_dump(document, allow_unicode=True).encode())
    assert (second.program_id, second.version_number, second.created) == (
        first.program_id,
        2,
        False,
    )
    assert second.new_workouts == 1  # the two lifting workouts are reused unchanged
    new_schedule = await current_schedule_id(session, first.program_id)
    assert new_schedule != old_schedule
    still = (
        await session.execute(
            select(ScheduleWorkout.day_number, ScheduleWorkout.workout_id).where(
                ScheduleWorkout.program_schedule_id == old_schedule
            )
        )
    ).all()
    assert sorted(still) == sorted(old_slots)
    names = set(
        (await session.scalars(select(Workout.name).where(Workout.owner_id == coach.id))).all()
    )
    assert names == {"Full Body A", "Full Body B", "Easy Run", "Easy Run (2)"}
    program = await session.get(Program, first.program_id)
    assert program is not None
    assert program.description == "Now with a longer run."
    versions = (
        await session.scalars(
            select(ProgramVersion.version_number)
            .where(ProgramVersion.program_id == first.program_id)
            .order_by(ProgramVersion.version_number)
        )
    ).all()
    assert versions == [1, 2]
    # The same file a third time: a version 3, and no new workout at all.
    third = await run(session, coach.id, yaml.safe_dump(document, allow_unicode=True).encode())
    assert (third.version_number, third.new_workouts) == (3, 0)


async def test_another_owner_with_the_same_title_gets_a_program_of_their_own(
    session: AsyncSession,
) -> None:
    ann = await make_user(session)
    bob = await make_user(session)
    first = await run(session, ann.id, example("yaml"))
    second = await run(session, bob.id, example("yaml"))
    assert second.program_id != first.program_id
    assert (second.version_number, second.created) == (1, True)


MALFORMED = """\
program:
  title: Malformed
schedule:
  length_days: 7
workouts:
  - name: Legs
    sets:
      - exercise: back sqat
        sets: 3
        reps: -5
      - exercise: zzz no such lift
        reps: 0
      - exercise: plank
        duration: 1 minute and a bit
  - name: Arms
    sets:
      - exercise: bench press
        reps: 10
        load: [100]
days:
  - day: 1
    workouts: [Legs]
  - day: 8
    workouts: [Arms]
  - day: 3
    workouts: [Core]
"""


async def test_a_malformed_file_is_refused_with_every_place_and_nothing_is_stored(
    session: AsyncSession,
) -> None:
    coach = await make_user(session)
    errors = await refused(session, coach.id, MALFORMED.encode())
    assert set(errors) == {
        ("unknown_exercise_suggest", 8, "workouts[0].sets[0].exercise"),
        ("too_small", 10, "workouts[0].sets[0].reps"),
        ("unknown_exercise", 11, "workouts[0].sets[1].exercise"),
        ("too_small", 12, "workouts[0].sets[1].reps"),
        ("bad_duration", 14, "workouts[0].sets[2].duration"),
        ("bad_load", 19, "workouts[1].sets[0].load"),
        ("day_out_of_range", 23, "days[1].day"),
        ("undefined_workout", 26, "days[2].workouts[0]"),
    }
    with pytest.raises(ProgramFileInvalid) as caught:
        await run(session, coach.id, MALFORMED.encode(), locale="fr")
    suggestion = next(e for e in caught.value.errors if e.code == "unknown_exercise_suggest")
    assert suggestion.params["name"] == "back sqat"
    assert "Squat arrière" in str(suggestion.params["suggestions"])


async def test_syntax_types_missing_fields_and_size(session: AsyncSession) -> None:
    coach = await make_user(session)
    assert await refused(session, coach.id, b"program:\n  title: [x\nschedule: 1\n") == [
        ("syntax", 3, "")
    ]
    assert await refused(session, coach.id, b'{"program": {"title": 5}, "days": 1}', "p.json") == [
        ("missing", 1, "schedule"),
        ("missing", 1, "workouts"),
        ("not_list", 1, "days"),
    ]
    big = b"# " + b"x" * MAX_FILE_BYTES
    assert await refused(session, coach.id, big) == [("too_large", None, "")]
    assert await refused(session, coach.id, example("yaml"), "program.xlsx") == [
        ("unsupported_type", None, "")
    ]
    document = yaml.safe_load(example("yaml"))
    document["program"]["visibility"] = "INSTITUTION"
    document["program"]["tags"] = ["NOPE"]
    errors = await refused(session, coach.id, yaml.safe_dump(document).encode())
    assert {(code, path) for code, _line, path in errors} == {
        ("needs_institution", "program.visibility"),
        ("bad_choice", "program.tags[0]"),
    }


async def deny_program_creation(session: AsyncSession) -> None:
    """A platform policy: nobody holding MEMBER may CREATE a PROGRAM (this test only)."""
    member = await session.scalar(
        select(Role.id).where(Role.code == "MEMBER", Role.institution_id.is_(None))
    )
    policy = Policy(
        id=uuid.uuid4(),
        name=f"no-programs-{uuid.uuid4().hex[:6]}",
        policy_type=PolicyType.ROLE_BASED,
        policy_rules={"effect": "deny", "actions": ["CREATE"], "resource_types": ["PROGRAM"]},
    )
    session.add(policy)
    await session.flush()
    session.add(
        PolicyAssignment(
            id=uuid.uuid4(),
            policy_id=policy.id,
            target_type=PolicyTargetType.ROLE,
            target_role_id=member,
        )
    )
    await session.flush()


async def test_a_user_who_may_not_create_programs_is_refused_and_nothing_is_stored(
    session: AsyncSession,
) -> None:
    ann = await make_user(session)
    await deny_program_creation(session)
    before = await counts(session)
    with pytest.raises(NotAllowed):
        await run(session, ann.id, example("yaml"))
    assert await counts(session) == before
    denied = await session.scalar(
        select(func.count()).select_from(SecurityEvent).where(SecurityEvent.user_id == ann.id)
    )
    assert denied == 1


async def gym_with(session: AsyncSession, user_id: uuid.UUID, role: str | None) -> uuid.UUID:
    visibility = await session.scalar(
        select(Visibility.id).where(
            Visibility.code == "PRIVATE", Visibility.resource_type == "INSTITUTION"
        )
    )
    gym = Institution(
        id=uuid.uuid4(), name="Gym", slug=f"gym-{uuid.uuid4().hex[:8]}", visibility_id=visibility
    )
    session.add(gym)
    await session.flush()
    membership = InstitutionMember(institution_id=gym.id, user_id=user_id)
    session.add(membership)
    await session.flush()
    if role is not None:
        role_id = await session.scalar(
            select(Role.id).where(Role.code == role, Role.institution_id.is_(None))
        )
        session.add(
            InstitutionMemberRole(
                institution_member_id=membership.id, role_id=role_id, is_active=True
            )
        )
        await session.flush()
    return gym.id


async def test_institution_programs_need_the_institutions_staff(session: AsyncSession) -> None:
    coach = await make_user(session)
    member = await make_user(session)
    gym = await gym_with(session, coach.id, "COACH")
    session.add(InstitutionMember(institution_id=gym, user_id=member.id))
    await session.flush()
    result = await run(session, coach.id, without_visibility(), institution=gym)
    program = await session.get(Program, result.program_id)
    assert program is not None
    assert program.institution_id == gym
    visibility = await session.scalar(
        select(Visibility.code).where(Visibility.id == program.visibility_id)
    )
    assert visibility == "INSTITUTION"
    before = await counts(session)
    with pytest.raises(NotAllowed):  # a plain member of the gym
        await run(session, member.id, example("yaml"), institution=gym)
    outsider = await make_user(session)
    with pytest.raises(NotAllowed):
        await run(session, outsider.id, example("yaml"), institution=gym)
    assert await counts(session) == before


async def test_public_programs_need_a_coach(session: AsyncSession) -> None:
    document = yaml.safe_load(example("yaml"))
    document["program"]["visibility"] = "PUBLIC"
    source = yaml.safe_dump(document, allow_unicode=True).encode()
    athlete = await make_user(session)
    with pytest.raises(NotAllowed):
        await run(session, athlete.id, source)
    coach = await make_user(session)
    coach_role = await session.scalar(
        select(Role.id).where(Role.code == "COACH", Role.institution_id.is_(None))
    )
    session.add(UserRole(user_id=coach.id, role_id=coach_role, updated_by=coach.id))
    await session.flush()
    result = await run(session, coach.id, source)
    assert result.version_number == 1


async def test_the_system_library(session: AsyncSession) -> None:
    result = await run(session, None, without_visibility(f"System {uuid.uuid4().hex[:8]}"))
    program = await session.get(Program, result.program_id)
    assert program is not None
    assert program.owner_id is None
    visibility = await session.scalar(
        select(Visibility.code).where(Visibility.id == program.visibility_id)
    )
    assert visibility == "SYSTEM"


# --------------------------------------------------------------------------------------
# The CLI
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def cli_database(database_factory: DatabaseFactory) -> AsyncIterator[URL]:
    url = await migrated_seeded_database(database_factory, "mf_import")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await make_user(session, telegram_user_id=4242)
    finally:
        await engine.dispose()
    yield url
    await database_factory.drop(url)


async def program_count(url: URL) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(select(func.count()).select_from(Program)) or 0)
    finally:
        await engine.dispose()


async def test_cli_imports_then_refuses_a_malformed_file(cli_database: URL, tmp_path: Path) -> None:
    good = tmp_path / "program.csv"
    good.write_bytes(example("csv"))
    result = run_cli(cli_database, tmp_path, "import-program", str(good), "--owner", "4242")
    assert result.returncode == 0, result.stderr
    assert "imported 'Strength Foundations'" in result.stdout
    assert "version 1: 4 week(s), 28 days, 3 workout(s) (3 new), 16 scheduled session(s)" in (
        result.stdout
    )
    assert "warning" not in result.stdout  # every tempo is stored as written
    again = run_cli(cli_database, tmp_path, "import-program", str(good), "--owner", "4242")
    assert again.returncode == 0
    assert "updated 'Strength Foundations'" in again.stdout
    assert "version 2" in again.stdout
    assert await program_count(cli_database) == 1

    bad = tmp_path / "bad.yaml"
    bad.write_text(MALFORMED)
    result = run_cli(cli_database, tmp_path, "import-program", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert "bad.yaml: line 10, workouts[0].sets[0].reps: must be at least 1" in lines
    assert "bad.yaml: line 23, days[1].day: day 8 is beyond the schedule (7 days)" in lines
    assert lines[-1] == "error: 8 error(s) in bad.yaml; nothing was imported"
    assert await program_count(cli_database) == 1

    missing = run_cli(cli_database, tmp_path, "import-program", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: cannot read")
    unknown = run_cli(cli_database, tmp_path, "import-program", str(good), "--owner", "999")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: no user 999")
