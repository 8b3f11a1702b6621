"""Rows the favorites and rating tests build: members, workouts and programs at a visibility
level, finished training sessions, catalogue exercises."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.access import Role, Visibility
from domain.models.enums import ResourceType
from domain.models.exercise import Exercise
from domain.models.favorite import Favorite, FavoriteCollection, FavoriteCollectionItem
from domain.models.lookup import DifficultyLevel
from domain.models.program import Program
from domain.models.rating import Rating
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.user import User, UserRole
from domain.models.workout import Workout


async def new_member(session: AsyncSession, name: str = "Ada") -> uuid.UUID:
    """A user holding MEMBER, as the bot makes everyone on first contact."""
    user = User(first_name=name)
    session.add(user)
    await session.flush()
    member = (await session.execute(select(Role.id).where(Role.code == "MEMBER"))).scalar_one()
    session.add(UserRole(user_id=user.id, role_id=member))
    await session.flush()
    return user.id


async def visibility(session: AsyncSession, kind: ResourceType, code: str) -> uuid.UUID:
    found: uuid.UUID = (
        await session.execute(
            select(Visibility.id).where(Visibility.resource_type == kind, Visibility.code == code)
        )
    ).scalar_one()
    return found


async def _difficulty(session: AsyncSession) -> uuid.UUID:
    found: uuid.UUID = (
        await session.execute(select(DifficultyLevel.id).order_by(DifficultyLevel.code).limit(1))
    ).scalar_one()
    return found


async def new_workout(
    session: AsyncSession, owner: uuid.UUID | None, name: str, *, level: str = "PUBLIC"
) -> uuid.UUID:
    workout = Workout(
        owner_id=owner,
        name=name,
        difficulty_level_id=await _difficulty(session),
        visibility_id=await visibility(session, ResourceType.WORKOUT, level),
    )
    session.add(workout)
    await session.flush()
    return workout.id


async def new_program(
    session: AsyncSession, owner: uuid.UUID | None, title: str, *, level: str = "PUBLIC"
) -> uuid.UUID:
    program = Program(
        owner_id=owner,
        title=title,
        description="test program",
        difficulty_level_id=await _difficulty(session),
        visibility_id=await visibility(session, ResourceType.PROGRAM, level),
    )
    session.add(program)
    await session.flush()
    return program.id


async def finished_session(
    session: AsyncSession, user_id: uuid.UUID, workout_id: uuid.UUID, *, finished: bool = True
) -> uuid.UUID:
    started = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    training = TrainingSession(
        user_id=user_id,
        workout_id=workout_id,
        source=TrainingSessionSource.FREE_TEXT,
        started_at=started,
        finished_at=started + dt.timedelta(minutes=50) if finished else None,
    )
    session.add(training)
    await session.flush()
    return training.id


async def catalogue_exercise(session: AsyncSession, code: str) -> uuid.UUID:
    found: uuid.UUID = (
        await session.execute(select(Exercise.id).where(Exercise.code == code))
    ).scalar_one()
    return found


async def row_counts(session: AsyncSession, user_id: uuid.UUID) -> dict[str, int]:
    """What the favorites and rating flows may write for one user."""

    async def count(query: object) -> int:
        return int((await session.execute(query)).scalar_one())  # type: ignore[call-overload]

    return {
        "favorites": await count(
            select(func.count()).select_from(Favorite).where(Favorite.user_id == user_id)
        ),
        "collections": await count(
            select(func.count())
            .select_from(FavoriteCollection)
            .where(FavoriteCollection.user_id == user_id)
        ),
        "items": await count(
            select(func.count())
            .select_from(FavoriteCollectionItem)
            .join(FavoriteCollection)
            .where(FavoriteCollection.user_id == user_id)
        ),
        "ratings": await count(
            select(func.count()).select_from(Rating).where(Rating.user_id == user_id)
        ),
    }
