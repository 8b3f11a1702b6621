"""The chat builder's service: the typed prescription grammar, lengths and days, and saving a
built workout into a new or existing program (rows, duration, order on the day), a published
program getting a new version on a new schedule while the old one stays, and refusals that
change nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed
from domain.models.program import Program, ProgramSchedule, ProgramVersion, ScheduleWorkout
from domain.models.workout import (
    EstimatedWorkoutDuration,
    ExerciseInstruction,
    Workout,
    WorkoutSet,
)
from domain.services.program_builder import (
    BuiltItem,
    InvalidBuild,
    NewProgram,
    Prescription,
    check_program_title,
    check_workout_name,
    parse_day,
    parse_length,
    parse_prescription,
    prescription_from_data,
    prescription_to_data,
    program_for_building,
    save_workout,
    writable_programs,
)
from domain.services.program_versions import current_schedule_id, publish
from domain.services.strength import WeightUnit
from domain.services.tempo import parse_tempo, tempo_texts
from tests.factories import SetSpec, exercise_id, make_user, make_workout
from tests.integration.test_program_library import program

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
KG = WeightUnit.KG


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4x8 60kg rest 90", Prescription(4, 8, None, Decimal("60.00"), None, None, 90)),
        ("4x8 60", Prescription(4, 8, None, Decimal("60.00"), None, None, 90)),
        (
            "3 x 8-12 @ 40 rpe 8 rest 2m",
            Prescription(3, 8, 12, Decimal("40.00"), Decimal(8), None, 120),
        ),
        ("3x10-10", Prescription(3, 10, None, None, None, None, 90)),
        ("3x45s rest 30", Prescription(3, None, None, None, None, 45, 30)),
        ("2x1min", Prescription(2, None, None, None, None, 60, 90)),
        ("5x5 bw rest 0", Prescription(5, 5, None, None, None, None, 0)),
        ("5×5 100,5 кг отдых 3 мин", Prescription(5, 5, None, Decimal("100.50"), None, None, 180)),
        ("3x8 rpe 7.5", Prescription(3, 8, None, None, Decimal("7.5"), None, 90)),
        ("4x6 225lb", Prescription(4, 6, None, Decimal("102.06"), None, None, 90)),
        (
            "5x5 100 tempo 3-1-X-0 rest 2m",
            Prescription(5, 5, None, Decimal("100.00"), None, None, 120, parse_tempo("3-1-X-0")),
        ),
        ("3x8 темп 4-0-1", Prescription(3, 8, None, None, None, None, 90, parse_tempo("4-0-1"))),
    ],
)
def test_prescriptions_people_type(text: str, expected: Prescription) -> None:
    assert parse_prescription(text, unit=KG) == expected
    assert prescription_from_data(prescription_to_data(expected)) == expected


def test_a_bare_load_is_in_the_persons_unit() -> None:
    assert parse_prescription("3x5 100", unit=WeightUnit.LB).load_kg == Decimal("45.36")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("squat", "format"),
        ("", "format"),
        ("4x8 60kg and more", "format"),
        ("0x8", "sets"),
        ("21x8", "sets"),
        ("4x0", "reps"),
        ("4x101", "reps"),
        ("4x12-8", "range"),
        ("4x8 1200kg", "load"),
        ("4x8 rpe 11", "rpe"),
        ("4x8 rpe 7.3", "rpe"),
        ("4x8 rest 45m", "rest"),
        ("4x8 rest 1.5", "rest"),
        ("3x0s", "duration"),
        ("3x30-40s", "format"),
        ("4x8 tempo fast", "tempo"),
        ("4x8 tempo 3-1-1-1-1", "tempo"),
        ("4x8 tempo 90-1", "tempo"),
    ],
)
def test_wrong_prescriptions_say_why(text: str, problem: str) -> None:
    with pytest.raises(InvalidBuild) as refused:
        parse_prescription(text, unit=KG)
    assert refused.value.problem == problem


def test_lengths_and_days() -> None:
    assert parse_length("28") == 28
    assert parse_length("4w") == 28
    assert parse_length("4 weeks") == 28
    assert parse_length("10 days") == 10
    assert parse_length("2 semaines") == 14
    for wrong in ("0", "abc", "4 months", "9999"):
        with pytest.raises(InvalidBuild):
            parse_length(wrong)
    assert parse_day("1", 7) == 0
    assert parse_day("day 7", 7) == 6
    with pytest.raises(InvalidBuild) as beyond:
        parse_day("8", 7)
    assert beyond.value.problem == "day_range"
    for wrong in ("0", "x", "-1"):
        with pytest.raises(InvalidBuild):
            parse_day(wrong, 7)


async def items(session: AsyncSession) -> list[BuiltItem]:
    return [
        BuiltItem(
            await exercise_id(session, "back_squat"),
            parse_prescription("4x8 60kg rest 90 tempo 3-1-X-0", unit=KG),
        ),
        BuiltItem(
            await exercise_id(session, "plank"), parse_prescription("3x45s rest 30", unit=KG)
        ),
    ]


async def count(session: AsyncSession, model: type, *where: object) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


async def test_save_into_a_new_program(session: AsyncSession) -> None:
    coach = await make_user(session)
    saved = await save_workout(
        session,
        coach.id,
        name="Legs A",
        items=await items(session),
        day_number=2,
        new_program=NewProgram("Block one", 28),
        now=NOW,
    )
    program_row = await session.get(Program, saved.program_id)
    assert program_row is not None
    assert program_row.owner_id == coach.id
    assert program_row.duration_weeks == 4
    workout = await session.get(Workout, saved.workout_id)
    assert workout is not None
    assert workout.owner_id == coach.id
    assert workout.name == "Legs A"
    sets = (
        await session.scalars(
            select(WorkoutSet)
            .where(WorkoutSet.workout_id == workout.id)
            .order_by(WorkoutSet.order_index)
        )
    ).all()
    assert [
        (s.sets_count, s.target_reps, s.target_load_kg, s.rest_after_seconds) for s in sets
    ] == [
        (4, 8, Decimal("60.00"), 90),
        (3, None, None, 30),
    ]
    assert sets[1].target_duration_seconds == 45
    instructions = (
        await session.scalars(
            select(ExerciseInstruction.id)
            .join(WorkoutSet, WorkoutSet.id == ExerciseInstruction.workout_set_id)
            .where(WorkoutSet.workout_id == workout.id)
            .order_by(WorkoutSet.order_index)
        )
    ).all()
    assert len(instructions) == 2
    # The squat's tempo is stored as TEMPO rows (the plank has none).
    assert await tempo_texts(session, instructions) == {instructions[0]: "3-1-X-0"}
    slot = (
        await session.execute(
            select(ScheduleWorkout.day_number, ScheduleWorkout.order_index).where(
                ScheduleWorkout.workout_id == workout.id
            )
        )
    ).one()
    assert tuple(slot) == (2, 0)
    duration = await session.get(EstimatedWorkoutDuration, workout.id)
    assert duration is not None
    assert duration.total_seconds > 0
    assert workout.estimated_duration_seconds == duration.total_seconds
    assert saved.published_version is None
    assert [choice.title for choice in await writable_programs(session, coach.id)] == ["Block one"]


async def test_an_existing_program_day_gets_the_next_slot(session: AsyncSession) -> None:
    coach = await make_user(session)
    other = await make_workout(session, coach.id, "Warm-up", [SetSpec("plank", duration=30)])
    plan = await program(session, coach, "Mine", length=7, days={3: [other.id]})
    choice = await program_for_building(session, coach.id, plan)
    assert choice.length_days == 7
    saved = await save_workout(
        session,
        coach.id,
        name="Pull",
        items=await items(session),
        day_number=3,
        program_id=plan,
        now=NOW,
    )
    order = await session.scalar(
        select(ScheduleWorkout.order_index).where(ScheduleWorkout.workout_id == saved.workout_id)
    )
    assert order == 1
    assert await count(session, ProgramSchedule, ProgramSchedule.program_id == plan) == 1


async def test_a_published_program_gets_a_new_version_and_keeps_the_old_schedule(
    session: AsyncSession,
) -> None:
    coach = await make_user(session)
    first = await make_workout(session, coach.id, "Day one", [SetSpec("plank", duration=30)])
    plan = await program(session, coach, "Published", length=7, days={0: [first.id]})
    version = await publish(session, plan, reason="first", now=NOW)
    old_schedule = await current_schedule_id(session, plan)
    assert old_schedule is not None
    saved = await save_workout(
        session,
        coach.id,
        name="Added",
        items=await items(session),
        day_number=4,
        program_id=plan,
        now=NOW,
    )
    assert saved.published_version == version.version_number + 1
    new_schedule = await current_schedule_id(session, plan)
    assert new_schedule is not None
    assert new_schedule != old_schedule
    old_slots = (
        await session.scalars(
            select(ScheduleWorkout.workout_id).where(
                ScheduleWorkout.program_schedule_id == old_schedule
            )
        )
    ).all()
    assert old_slots == [first.id]
    new_slots = (
        await session.execute(
            select(ScheduleWorkout.day_number, ScheduleWorkout.workout_id)
            .where(ScheduleWorkout.program_schedule_id == new_schedule)
            .order_by(ScheduleWorkout.day_number)
        )
    ).all()
    assert [tuple(row) for row in new_slots] == [(0, first.id), (4, saved.workout_id)]
    assert await count(session, ProgramVersion, ProgramVersion.program_id == plan) == 2


async def test_refusals_change_nothing(session: AsyncSession) -> None:
    coach = await make_user(session)
    stranger = await make_user(session)
    plan = await program(session, coach, "Coach plan", length=7)
    await make_workout(session, coach.id, "Taken", [SetSpec("plank", duration=30)])
    workouts_before = await count(session, Workout, Workout.owner_id == coach.id)
    programs_before = await count(session, Program, Program.owner_id == coach.id)

    with pytest.raises(InvalidBuild) as beyond:
        await save_workout(
            session,
            coach.id,
            name="Late",
            items=await items(session),
            day_number=7,
            program_id=plan,
            now=NOW,
        )
    assert beyond.value.problem == "day_range"
    with pytest.raises(InvalidBuild) as taken:
        await check_workout_name(session, coach.id, "Taken")
    assert taken.value.problem == "name_taken"
    with pytest.raises(InvalidBuild):
        await check_workout_name(session, coach.id, "x" * 51)
    with pytest.raises(InvalidBuild) as title_taken:
        await check_program_title(session, coach.id, "Coach plan")
    assert title_taken.value.problem == "title_taken"
    with pytest.raises(InvalidBuild) as empty:
        await save_workout(
            session, coach.id, name="Empty", items=[], day_number=0, program_id=plan, now=NOW
        )
    assert empty.value.problem == "empty"
    with pytest.raises(InvalidBuild) as unknown:
        await save_workout(
            session,
            coach.id,
            name="Ghost",
            items=[BuiltItem(uuid.uuid4(), Prescription(3, 5))],
            day_number=0,
            program_id=plan,
            now=NOW,
        )
    assert unknown.value.problem == "exercise_unknown"
    assert await count(session, Workout, Workout.owner_id == coach.id) == workouts_before
    assert await count(session, Program, Program.owner_id == coach.id) == programs_before

    # Someone else's program: refused before anything is written.
    with pytest.raises(NotAllowed):
        await program_for_building(session, stranger.id, plan)
    with pytest.raises(NotAllowed):
        await save_workout(
            session,
            stranger.id,
            name="Intruder",
            items=await items(session),
            day_number=0,
            program_id=plan,
            now=NOW,
        )
    assert await count(session, Workout, Workout.owner_id == stranger.id) == 0
    assert await writable_programs(session, stranger.id) == []
