"""Media on workouts and exercises: who may attach (UPDATE on the parent), where an upload goes
(the workout, the coach's own exercise, or a catalogue exercise's demo filed on the workout),
the MEDIA row (type, file ids, owner, the parent's visibility), and what a guided set shows to
an athlete who may read the workout."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed
from domain.models.access import Visibility
from domain.models.exercise import Exercise, ExerciseMedia
from domain.models.lookup import DifficultyLevel
from domain.models.media import Media, MediaMetadata, MediaType
from domain.models.workout import ExerciseInstruction, WorkoutMedia
from domain.services.media import (
    MediaKind,
    UploadedFile,
    attach_media,
    attach_target,
    step_media,
    synthesized_filename,
)
from tests.factories import SetSpec, make_user, make_workout


def photo(tag: str) -> UploadedFile:
    return UploadedFile(MediaKind.IMAGE, f"PHOTO-{tag}", f"uniq-{tag}", "image/jpeg", 1234)


def video(tag: str) -> UploadedFile:
    return UploadedFile(
        MediaKind.VIDEO, f"VIDEO-{tag}", f"vuniq-{tag}", "video/mp4", 99, "demo.mp4"
    )


async def instruction_of(session: AsyncSession, set_id: uuid.UUID) -> uuid.UUID:
    found = await session.scalar(
        select(ExerciseInstruction.id).where(ExerciseInstruction.workout_set_id == set_id)
    )
    assert found is not None
    return found


async def visibility_code(session: AsyncSession, visibility_id: uuid.UUID) -> str:
    return str(await session.scalar(select(Visibility.code).where(Visibility.id == visibility_id)))


async def test_attach_to_a_workout_and_to_its_catalogue_exercise(session: AsyncSession) -> None:
    tag = uuid.uuid4().hex[:8]
    coach = await make_user(session)
    athlete = await make_user(session)
    legs = await make_workout(
        session,
        coach.id,
        "Legs",
        [SetSpec("back_squat", sets=2, reps=5), SetSpec("plank", duration=30)],
        visibility="PUBLIC",
    )
    whole_id, whole = await attach_media(session, coach.id, video(tag), workout_id=legs.id)
    assert whole.exercise_id is None
    assert not whole.on_exercise
    row = await session.get(Media, whole_id)
    assert row is not None
    assert (row.telegram_file_id, row.telegram_file_unique_id, row.owner_id) == (
        f"VIDEO-{tag}",
        f"vuniq-{tag}",
        coach.id,
    )
    assert row.filename == "demo.mp4"
    assert row.mime_type == "video/mp4"
    assert (
        await session.scalar(select(MediaType.code).where(MediaType.id == row.media_type_id))
        == "VIDEO"
    )
    assert await visibility_code(session, row.visibility_id) == "PUBLIC"
    assert (
        await session.scalar(
            select(WorkoutMedia.workout_id).where(WorkoutMedia.media_id == whole_id)
        )
        == legs.id
    )

    squat = await instruction_of(session, legs.set_ids[0])
    demo_id, demo = await attach_media(session, coach.id, photo(tag), instruction_id=squat)
    # Back Squat is a catalogue exercise: the demo is filed on the workout, scoped to it.
    assert demo.exercise_name == "Back Squat"
    assert not demo.on_exercise
    assert (
        await session.scalar(select(ExerciseMedia.id).where(ExerciseMedia.media_id == demo_id))
        is None
    )
    meta = await session.get(MediaMetadata, demo_id)
    assert meta is not None
    assert meta.metadata_ == {"exercise_id": str(demo.exercise_id)}
    demo_row = await session.get(Media, demo_id)
    assert demo_row is not None
    assert demo_row.filename == f"image_uniq-{tag}.jpg"
    assert (
        await session.scalar(select(MediaType.code).where(MediaType.id == demo_row.media_type_id))
        == "IMAGE"
    )

    # The athlete reads the public workout: the first squat set shows the workout's video and
    # the squat photo; the plank set shows neither.
    first = await step_media(session, athlete.id, legs.id, demo.exercise_id, with_workout=True)
    assert [(item.kind, item.file_id) for item in first] == [
        (MediaKind.VIDEO, f"VIDEO-{tag}"),
        (MediaKind.IMAGE, f"PHOTO-{tag}"),
    ]
    plank = await session.scalar(select(Exercise.id).where(Exercise.code == "plank"))
    assert await step_media(session, athlete.id, legs.id, plank, with_workout=False) == []
    # Another workout with squats does not show this workout's demo.
    other = await make_workout(
        session, coach.id, "Other", [SetSpec("back_squat", reps=5)], visibility="PUBLIC"
    )
    assert (
        await step_media(session, athlete.id, other.id, demo.exercise_id, with_workout=True) == []
    )

    # The same photo again (on another exercise): a row of its own, the unique id stays once.
    plank_instruction = await instruction_of(session, legs.set_ids[1])
    again_id, _ = await attach_media(
        session, coach.id, photo(tag), instruction_id=plank_instruction
    )
    again = await session.get(Media, again_id)
    assert again is not None
    assert again.telegram_file_unique_id is None
    assert [
        item.file_id
        for item in await step_media(session, athlete.id, legs.id, plank, with_workout=False)
    ] == [f"PHOTO-{tag}"]


async def test_own_exercise_media_follow_the_exercise(session: AsyncSession) -> None:
    tag = uuid.uuid4().hex[:8]
    coach = await make_user(session)
    athlete = await make_user(session)
    difficulty = await session.scalar(
        select(DifficultyLevel.id).order_by(DifficultyLevel.rank).limit(1)
    )
    private = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == "EXERCISE", Visibility.code == "PRIVATE"
        )
    )
    assert difficulty is not None
    assert private is not None
    mine = Exercise(
        owner_id=coach.id,
        name=f"Coach lunge {tag}",
        description="",
        instructions="",
        difficulty_level_id=difficulty,
        visibility_id=private,
    )
    session.add(mine)
    await session.flush()
    workout = await make_workout(
        session, coach.id, "Lunges", [SetSpec("plank", duration=30)], visibility="PUBLIC"
    )
    instruction = await instruction_of(session, workout.set_ids[0])
    await session.execute(
        update(ExerciseInstruction)
        .where(ExerciseInstruction.id == instruction)
        .values(exercise_id=mine.id)
    )
    target = await attach_target(session, coach.id, instruction_id=instruction)
    assert target.on_exercise
    assert target.exercise_id == mine.id
    media_id, _ = await attach_media(session, coach.id, photo(tag), instruction_id=instruction)
    assert (
        await session.scalar(
            select(ExerciseMedia.exercise_id).where(ExerciseMedia.media_id == media_id)
        )
        == mine.id
    )
    row = await session.get(Media, media_id)
    assert row is not None
    assert await visibility_code(session, row.visibility_id) == "PRIVATE"
    # Private like its exercise, yet shown to the athlete training a workout that uses it.
    shown = await step_media(session, athlete.id, workout.id, mine.id, with_workout=False)
    assert [item.file_id for item in shown] == [f"PHOTO-{tag}"]


async def test_only_who_may_update_the_parent_attaches(session: AsyncSession) -> None:
    coach = await make_user(session)
    athlete = await make_user(session)
    workout = await make_workout(
        session, coach.id, "Public", [SetSpec("back_squat", reps=5)], visibility="PUBLIC"
    )
    private = await make_workout(session, coach.id, "Private", [SetSpec("back_squat", reps=5)])
    instruction = await instruction_of(session, workout.set_ids[0])
    before = await session.scalar(select(Media.id).where(Media.owner_id == athlete.id))
    with pytest.raises(NotAllowed):
        await attach_media(session, athlete.id, photo("x1"), workout_id=workout.id)
    with pytest.raises(NotAllowed):
        await attach_media(session, athlete.id, photo("x2"), instruction_id=instruction)
    assert (
        await session.scalar(select(Media.id).where(Media.owner_id == athlete.id)) == before is None
    )
    # A guided set of a workout the athlete may not read shows nothing: refused.
    with pytest.raises(NotAllowed):
        await step_media(session, athlete.id, private.id, None, with_workout=True)


def test_synthesized_names() -> None:
    assert synthesized_filename(UploadedFile(MediaKind.VIDEO, "F", "U")) == "video_U.mp4"
    assert synthesized_filename(UploadedFile(MediaKind.IMAGE, "F")) == "image_F.jpg"
