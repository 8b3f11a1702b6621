"""`motriforge seed`: the reference data lands, and a second run changes nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from domain import migrate
from domain.db import create_engine, session_factory
from domain.models.access import Permission, Role, RolePermission, Visibility
from domain.models.anatomy import Muscle
from domain.models.equipment import Equipment
from domain.models.exercise import Exercise, ExerciseAccessibility, ExerciseMuscle
from domain.reference.loader import load_reference_data, read_reference_data


async def count(session: AsyncSession, model: type) -> int:
    return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_seed_twice_changes_nothing_the_second_time(empty_database_url: URL) -> None:
    await migrate.upgrade(empty_database_url, "head")
    engine = create_engine(empty_database_url)
    data = read_reference_data()
    steps: list[str] = []
    try:
        async with session_factory(engine)() as session, session.begin():
            first = await load_reference_data(
                session, data, progress=lambda label, done, total: steps.append(label)
            )
        async with session_factory(engine)() as session:
            snapshot = (
                await session.execute(text("SELECT count(*), max(updated_at) FROM exercise"))
            ).one()
        async with session_factory(engine)() as session, session.begin():
            second = await load_reference_data(session, data)
        async with session_factory(engine)() as session:
            after = (
                await session.execute(text("SELECT count(*), max(updated_at) FROM exercise"))
            ).one()
    finally:
        await engine.dispose()

    catalogue = ["lookups", "muscles", "equipment", "roles", "permissions", "exercises"]
    assert steps[: len(catalogue)] == catalogue
    assert first.changes["exercise"] == len(data.exercises)
    assert first.changes["muscle"] == len(data.muscles)
    assert first.total > 1000
    assert second.total == 0, second.changes
    assert tuple(after) == tuple(snapshot)


async def test_seed_brings_the_catalogue(session: AsyncSession) -> None:
    """The session database is seeded by the conftest; check what a user relies on."""
    assert await count(session, Muscle) >= 60
    assert await count(session, Exercise) >= 150
    assert await count(session, Equipment) >= 25
    assert await count(session, Permission) >= 60

    squat = (
        await session.execute(select(Exercise).where(Exercise.code == "back_squat"))
    ).scalar_one()
    assert set(squat.name_i18n) == {"en", "fr", "ru"}
    assert all(squat.name_i18n.values())
    assert set(squat.instructions_i18n) == {"en", "fr", "ru"}
    assert "squat" in [alias.lower() for alias in squat.aliases["en"]]
    primary = (
        await session.execute(
            select(func.count())
            .select_from(ExerciseMuscle)
            .where(ExerciseMuscle.exercise_id == squat.id, ExerciseMuscle.role == "PRIMARY")
        )
    ).scalar_one()
    assert primary >= 1
    alternatives = (
        await session.execute(
            select(func.count())
            .select_from(ExerciseAccessibility)
            .where(ExerciseAccessibility.exercise_id == squat.id)
        )
    ).scalar_one()
    assert alternatives >= 1

    # Role hierarchy: ADMIN inherits from COACH, which inherits from TRAINER … up to GUEST.
    roles = {role.code: role for role in (await session.execute(select(Role))).scalars()}
    assert {"ADMIN", "GUEST", "TRAINER", "PHYSIOTHERAPIST", "COACH", "MEMBER", "CUSTOMER"} <= set(
        roles
    )
    chain, current = [], roles["ADMIN"]
    while current.parent_role_id is not None:
        current = next(r for r in roles.values() if r.id == current.parent_role_id)
        chain.append(current.code)
    assert chain[-1] == "GUEST"
    assert await count(session, RolePermission) > 0

    # One default visibility per resource type, and a level matrix beyond one per resource.
    defaults = (
        await session.execute(
            select(Visibility.resource_type, func.count())
            .where(Visibility.is_default)
            .group_by(Visibility.resource_type)
        )
    ).all()
    assert defaults
    assert all(number == 1 for _, number in defaults)
    assert await count(session, Visibility) > len(defaults)


def test_cli_seed_twice(empty_database_url: URL, tmp_path: Path) -> None:
    """The real command: progress on stderr, "already up to date" the second time."""
    url = empty_database_url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url}
    env.pop("BOT_TOKEN", None)

    def motriforge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    refused = motriforge("seed")
    assert refused.returncode == 1
    assert "motriforge db upgrade" in refused.stderr

    assert motriforge("db", "upgrade").returncode == 0
    first = motriforge("seed")
    assert first.returncode == 0, first.stderr
    assert "rows changed" in first.stdout
    assert re.search(r"\b(\d+)/\1\b", first.stderr), first.stderr  # the progress bar completed
    second = motriforge("seed")
    assert second.returncode == 0, second.stderr
    assert "already up to date (0 rows changed)" in second.stdout
