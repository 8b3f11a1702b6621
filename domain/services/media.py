"""Photos and videos attached to workouts and exercises, and the ones a guided set shows.

A coach sends a photo or a video from a workout's view; it becomes a MEDIA row (the Telegram
``file_id`` to send it again, ``file_unique_id`` when no other row holds it yet, MEDIA_TYPE
IMAGE or VIDEO, a synthesized file name, owned by the uploader, visibility = its parent's
level) linked to its parent:

- **a workout** (WORKOUT_MEDIA): whoever may UPDATE the workout (owner, editor through
  USER_OWNERSHIP, institution admin) may attach; it is shown on the workout's first set.
- **an exercise of a workout's set**: when the uploader may UPDATE the exercise itself (their
  own exercise) it goes on the exercise (EXERCISE_MEDIA) and follows it into every workout
  that uses it. A catalogue exercise (or someone else's) must not change for everyone, so the
  demo is filed on the workout instead (WORKOUT_MEDIA, whose MEDIA_METADATA says
  ``{"exercise_id": …}``): it is shown when that exercise comes up in this workout; attaching
  it needs UPDATE on the workout.

Who sees them: media are read through their parent. In a guided session of a workout the
athlete may READ, the set of an exercise shows the workout's media for that exercise, the
exercise's media that the actor may read (``visible(actor, "MEDIA")``) and those its owner
attached (they follow the exercise into the workouts that use it); the first set also shows
the workout's own media.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize, literal_limit, require, visible
from domain.errors import InvalidInput, NotFound
from domain.models.access import Visibility
from domain.models.exercise import Exercise, ExerciseMedia
from domain.models.media import Media, MediaMetadata, MediaType
from domain.models.workout import ExerciseInstruction, Workout, WorkoutMedia, WorkoutSet
from domain.services.training_log import exercise_name

# What one set message brings along at most (a coach attaching ten videos must not bury the
# set under them).
MAX_PER_STEP = 4
# Telegram documents up to 20 MB can be fetched by bots; a bigger file id still sends fine.
EXERCISE_KEY = "exercise_id"
FALLBACK_VISIBILITY = "PRIVATE"


class MediaKind(enum.StrEnum):
    IMAGE = "IMAGE"
    VIDEO = "VIDEO"


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A photo or video as Telegram describes it."""

    kind: MediaKind
    file_id: str
    file_unique_id: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None
    file_name: str | None = None


@dataclass(frozen=True, slots=True)
class AttachTarget:
    """Where an upload goes: the workout, or one exercise of it (``on_exercise``: on the
    exercise itself, else on the workout scoped to the exercise)."""

    workout_id: uuid.UUID
    workout_name: str
    exercise_id: uuid.UUID | None = None
    exercise_name: str | None = None
    on_exercise: bool = False


@dataclass(frozen=True, slots=True)
class MediaItem:
    media_id: uuid.UUID
    kind: MediaKind
    file_id: str


async def attach_target(
    session: AsyncSession,
    actor_id: uuid.UUID,
    *,
    workout_id: uuid.UUID | None = None,
    instruction_id: uuid.UUID | None = None,
    locale: str = "en",
) -> AttachTarget:
    """Where the actor's upload would go (NotAllowed when they may not attach there)."""
    actor = Actor(actor_id)
    if instruction_id is not None:
        row = (
            await session.execute(
                select(
                    WorkoutSet.workout_id,
                    Workout.name.label("workout_name"),
                    Exercise.id.label("exercise_id"),
                    Exercise.owner_id,
                    exercise_name(locale).label("exercise_name"),
                )
                .select_from(ExerciseInstruction)
                .join(WorkoutSet, WorkoutSet.id == ExerciseInstruction.workout_set_id)
                .join(Workout, Workout.id == WorkoutSet.workout_id)
                .join(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
                .where(ExerciseInstruction.id == instruction_id)
            )
        ).first()
        if row is None:
            raise NotFound("no such exercise instruction", instruction_id=str(instruction_id))
        exercise_ref = ResourceRef("EXERCISE", row.exercise_id)
        own_exercise = (
            row.owner_id == actor_id
            and (await authorize(session, actor, Action.UPDATE, exercise_ref)).allowed
        )
        if not own_exercise:
            await require(session, actor, Action.UPDATE, ResourceRef("WORKOUT", row.workout_id))
        return AttachTarget(
            workout_id=row.workout_id,
            workout_name=row.workout_name,
            exercise_id=row.exercise_id,
            exercise_name=str(row.exercise_name),
            on_exercise=own_exercise,
        )
    if workout_id is None:
        raise InvalidInput("a workout or an exercise instruction is needed")
    await require(session, actor, Action.UPDATE, ResourceRef("WORKOUT", workout_id))
    name = await session.scalar(select(Workout.name).where(Workout.id == workout_id))
    if name is None:
        raise NotFound("no such workout", workout_id=str(workout_id))
    return AttachTarget(workout_id=workout_id, workout_name=name)


async def _media_visibility(session: AsyncSession, parent_visibility_id: uuid.UUID) -> uuid.UUID:
    """The MEDIA visibility row of the parent's level; a level media do not have (department,
    role-based …) falls back to PRIVATE: the media is read through its parent anyway."""
    code = await session.scalar(
        select(Visibility.code).where(Visibility.id == parent_visibility_id)
    )
    found: uuid.UUID | None = None
    if code is not None:
        found = await session.scalar(
            select(Visibility.id).where(
                Visibility.resource_type == "MEDIA", Visibility.code == code
            )
        )
    if found is None:
        found = await session.scalar(
            select(Visibility.id).where(
                Visibility.resource_type == "MEDIA", Visibility.code == FALLBACK_VISIBILITY
            )
        )
    if found is None:
        raise NotFound("no MEDIA visibility row (reference data not loaded?)")
    return found


def synthesized_filename(upload: UploadedFile) -> str:
    """Telegram photos have no file name: ``image_<unique id>.jpg`` / ``video_….mp4``."""
    if upload.file_name:
        return upload.file_name[:255]
    stem = (upload.file_unique_id or upload.file_id)[:200]
    suffix = ".jpg" if upload.kind is MediaKind.IMAGE else ".mp4"
    return f"{upload.kind.value.lower()}_{stem}{suffix}"


async def attach_media(
    session: AsyncSession,
    actor_id: uuid.UUID,
    upload: UploadedFile,
    *,
    workout_id: uuid.UUID | None = None,
    instruction_id: uuid.UUID | None = None,
    locale: str = "en",
) -> tuple[uuid.UUID, AttachTarget]:
    """Store the upload and link it to its parent (access re-checked: the ids come from the
    conversation). Returns the MEDIA id and where it went."""
    if not upload.file_id:
        raise InvalidInput("no file", problem="no_file")
    target = await attach_target(
        session, actor_id, workout_id=workout_id, instruction_id=instruction_id, locale=locale
    )
    if target.on_exercise and target.exercise_id is not None:
        parent_visibility = await session.scalar(
            select(Exercise.visibility_id).where(Exercise.id == target.exercise_id)
        )
    else:
        parent_visibility = await session.scalar(
            select(Workout.visibility_id).where(Workout.id == target.workout_id)
        )
    if parent_visibility is None:
        raise NotFound("parent vanished")
    media_type = await session.scalar(select(MediaType.id).where(MediaType.code == upload.kind))
    if media_type is None:
        raise NotFound("no MEDIA_TYPE row", code=upload.kind.value)
    unique = upload.file_unique_id
    if unique is not None:
        taken = await session.scalar(
            select(exists().where(Media.telegram_file_unique_id == unique))
        )
        # The same file attached again (to another exercise): a row of its own, so each
        # attachment keeps its parent's visibility; the unique id stays with the first.
        if taken:
            unique = None
    media = Media(
        filename=synthesized_filename(upload),
        telegram_file_id=upload.file_id[:255],
        telegram_file_unique_id=unique,
        media_type_id=media_type,
        owner_id=actor_id,
        mime_type=upload.mime_type,
        size_bytes=upload.size_bytes,
        visibility_id=await _media_visibility(session, parent_visibility),
    )
    session.add(media)
    await session.flush()
    if target.on_exercise and target.exercise_id is not None:
        session.add(ExerciseMedia(exercise_id=target.exercise_id, media_id=media.id))
    else:
        session.add(WorkoutMedia(workout_id=target.workout_id, media_id=media.id))
        if target.exercise_id is not None:
            session.add(
                MediaMetadata(media_id=media.id, metadata_={EXERCISE_KEY: str(target.exercise_id)})
            )
    await session.flush()
    return media.id, target


async def step_media(
    session: AsyncSession,
    actor_id: uuid.UUID,
    workout_id: uuid.UUID,
    exercise_id: uuid.UUID | None,
    *,
    with_workout: bool,
) -> list[MediaItem]:
    """What a guided set of ``exercise_id`` in ``workout_id`` shows before its message (see the
    module docstring); ``with_workout``: the workout's own media too (its first set)."""
    actor = Actor(actor_id)
    await require(session, actor, Action.READ, ResourceRef("WORKOUT", workout_id))
    scoped_exercise = MediaMetadata.metadata_[EXERCISE_KEY].astext
    items: list[MediaItem] = []
    columns = (Media.id, MediaType.code, Media.telegram_file_id)
    if with_workout:
        rows = await session.execute(
            select(*columns)
            .select_from(Media)
            .join(WorkoutMedia, WorkoutMedia.media_id == Media.id)
            .join(MediaType, MediaType.id == Media.media_type_id)
            .outerjoin(MediaMetadata, MediaMetadata.media_id == Media.id)
            .where(
                WorkoutMedia.workout_id == workout_id,
                Media.is_active,
                Media.telegram_file_id.is_not(None),
                scoped_exercise.is_(None),
            )
            .order_by(WorkoutMedia.added_at, Media.id)
            .limit(literal_limit(MAX_PER_STEP))
        )
        items.extend(_items(rows.all()))
    if exercise_id is not None:
        in_workout = exists().where(
            ExerciseInstruction.exercise_id == exercise_id,
            ExerciseInstruction.workout_set_id == WorkoutSet.id,
            WorkoutSet.workout_id == workout_id,
        )
        on_workout = (
            select(*columns, WorkoutMedia.added_at.label("added_at"))
            .select_from(Media)
            .join(WorkoutMedia, WorkoutMedia.media_id == Media.id)
            .join(MediaType, MediaType.id == Media.media_type_id)
            .join(MediaMetadata, MediaMetadata.media_id == Media.id)
            .where(
                WorkoutMedia.workout_id == workout_id,
                scoped_exercise == str(exercise_id),
                Media.is_active,
                Media.telegram_file_id.is_not(None),
            )
        )
        on_exercise = (
            select(*columns, ExerciseMedia.added_at.label("added_at"))
            .select_from(Media)
            .join(ExerciseMedia, ExerciseMedia.media_id == Media.id)
            .join(MediaType, MediaType.id == Media.media_type_id)
            .join(Exercise, Exercise.id == ExerciseMedia.exercise_id)
            .where(
                ExerciseMedia.exercise_id == exercise_id,
                Media.is_active,
                Media.telegram_file_id.is_not(None),
                or_(
                    visible(actor, "MEDIA"),
                    and_(Media.owner_id == Exercise.owner_id, in_workout),
                ),
            )
        )
        both = on_workout.union_all(on_exercise).subquery()
        rows = await session.execute(
            select(both.c.id, both.c.code, both.c.telegram_file_id)
            .order_by(both.c.added_at, both.c.id)
            .limit(literal_limit(MAX_PER_STEP))
        )
        items.extend(_items(rows.all()))
    return items


def _items(rows: Sequence[Any]) -> list[MediaItem]:
    """(media id, MEDIA_TYPE code, Telegram file id) rows → what can be sent."""
    found: list[MediaItem] = []
    for row in rows:
        media_id, code, file_id = row
        if file_id and code in MediaKind.__members__:
            found.append(MediaItem(media_id, MediaKind(code), file_id))
    return found


async def media_count(session: AsyncSession, workout_id: uuid.UUID) -> int:
    """Media attached to the workout (its own and its exercises' demos filed on it)."""
    count = await session.scalar(
        select(func.count())
        .select_from(WorkoutMedia)
        .join(Media, Media.id == WorkoutMedia.media_id)
        .where(WorkoutMedia.workout_id == workout_id, Media.is_active)
    )
    return int(count or 0)
