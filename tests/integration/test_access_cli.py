"""`motriforge admin roles|grant-role|revoke-role|grant-permission|explain` as a user runs them:
a real process against a database of its own (migrated and seeded here)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL

from domain import migrate
from domain.db import create_engine, session_factory
from domain.models.access import PermissionGrant, Visibility
from domain.models.institution import Institution, InstitutionMember, InstitutionMemberRole
from domain.models.lookup import DifficultyLevel
from domain.models.user import User, UserRole
from domain.models.workout import Workout
from domain.reference.loader import load_reference_data
from tests.conftest import DatabaseFactory
from tests.integration.test_cli import run_cli


@dataclass
class AdminWorld:
    url: URL
    ada: uuid.UUID  # telegram 1001, owns the workout
    bob: uuid.UUID  # telegram 1002
    workout: uuid.UUID
    gym: uuid.UUID  # slug "gym"


@pytest.fixture(scope="module")
async def admin_world(database_factory: DatabaseFactory) -> AsyncIterator[AdminWorld]:
    url = await database_factory.create("mf_admin")
    await migrate.upgrade(url, "head")
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await load_reference_data(session)
            ada = User(id=uuid.uuid4(), first_name="Ada", telegram_user_id=1001)
            bob = User(id=uuid.uuid4(), first_name="Bob", telegram_user_id=1002)
            session.add_all([ada, bob])
            private = await session.scalar(
                select(Visibility.id).where(
                    Visibility.code == "PRIVATE", Visibility.resource_type == "WORKOUT"
                )
            )
            gym = Institution(
                id=uuid.uuid4(),
                name="Gym",
                slug="gym",
                visibility_id=await session.scalar(
                    select(Visibility.id).where(
                        Visibility.code == "PRIVATE", Visibility.resource_type == "INSTITUTION"
                    )
                ),
            )
            session.add(gym)
            await session.flush()
            workout = Workout(
                id=uuid.uuid4(),
                owner_id=ada.id,
                institution_id=gym.id,
                name="Squats",
                visibility_id=private,
                difficulty_level_id=await session.scalar(select(DifficultyLevel.id).limit(1)),
            )
            session.add(workout)
        yield AdminWorld(url, ada.id, bob.id, workout.id, gym.id)
    finally:
        await engine.dispose()
        await database_factory.drop(url)


async def count(url: URL, model: type, *where: object) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int(
                await connection.scalar(select(func.count()).select_from(model).where(*where)) or 0
            )
    finally:
        await engine.dispose()


def admin(world: AdminWorld, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = run_cli(world.url, tmp_path, "admin", *args)
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


def test_roles_lists_parents_and_counts(admin_world: AdminWorld, tmp_path: Path) -> None:
    code, out, _ = admin(admin_world, tmp_path, "roles")
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "COACH" in lines["ADMIN"]
    assert "TRAINER" in lines["COACH"]
    assert "(platform)" in lines["GUEST"]


async def test_explain_then_grant_a_role_then_revoke(
    admin_world: AdminWorld, tmp_path: Path
) -> None:
    target = f"WORKOUT:{admin_world.workout}"
    code, out, _ = admin(admin_world, tmp_path, "explain", "1002", "UPDATE", target)
    assert code == 0
    assert out.startswith("DENIED: Bob (telegram 1002)")
    assert "reason: no rule allows it" in out
    assert "permission: OWN" in out  # every rule is listed

    code, out, _ = admin(
        admin_world, tmp_path, "grant-role", "1002", "ADMIN", "--institution", "gym"
    )
    assert code == 0, out
    assert "now holds ADMIN in gym" in out
    assert "added as a member of gym" in out
    code, out, _ = admin(admin_world, tmp_path, "explain", "1002", "UPDATE", target)
    assert out.startswith("ALLOWED")
    assert "decided by: permission: is_global in the institution" in out
    assert (
        "reason: allowed by permission: is_global in the institution:"
        " ADMIN.WORKOUT.MANAGE (global) via role ADMIN in gym"
    ) in out

    code, out, _ = admin(
        admin_world, tmp_path, "revoke-role", "1002", "ADMIN", "--institution", "gym"
    )
    assert code == 0
    assert "no longer holds ADMIN in gym" in out
    assert await count(admin_world.url, InstitutionMemberRole, InstitutionMemberRole.is_active) == 0
    assert await count(admin_world.url, InstitutionMember) == 1  # the membership stays
    code, out, _ = admin(admin_world, tmp_path, "explain", "1002", "UPDATE", target)
    assert out.startswith("DENIED")


async def test_platform_roles(admin_world: AdminWorld, tmp_path: Path) -> None:
    user = str(admin_world.bob)
    code, out, _ = admin(admin_world, tmp_path, "grant-role", user, "coach")
    assert code == 0
    assert "now holds COACH (platform-wide)" in out
    code, out, _ = admin(admin_world, tmp_path, "grant-role", user, "COACH")
    assert code == 0
    assert "already holds COACH" in out
    assert await count(admin_world.url, UserRole, UserRole.user_id == admin_world.bob) == 1
    code, _, _ = admin(admin_world, tmp_path, "revoke-role", user, "COACH")
    assert code == 0
    code, _, err = admin(admin_world, tmp_path, "revoke-role", user, "COACH")
    assert code == 1
    assert err.strip().endswith("does not hold COACH platform-wide")


async def test_grant_permission_with_scope_and_expiry(
    admin_world: AdminWorld, tmp_path: Path
) -> None:
    target = f"WORKOUT:{admin_world.workout}"
    code, out, _ = admin(
        admin_world,
        tmp_path,
        "grant-permission",
        "1002",
        "ADMIN.WORKOUT.MANAGE",
        "--resource",
        target,
        "--expires",
        "30d",
    )
    assert code == 0, out
    assert (
        f"granted ADMIN.WORKOUT.MANAGE to Bob (telegram 1002) {admin_world.bob} on {target}" in out
    )
    code, out, _ = admin(admin_world, tmp_path, "explain", "1002", "DELETE", target)
    assert out.startswith("ALLOWED")
    assert "decided by: permission: granted on this resource" in out

    engine = create_engine(admin_world.url)
    try:
        async with engine.connect() as connection:
            expires = await connection.scalar(
                select(PermissionGrant.expires_at).where(
                    PermissionGrant.scope_id == admin_world.workout
                )
            )
    finally:
        await engine.dispose()
    assert expires is not None
    in_days = (expires - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    assert 29.9 < in_days <= 30

    code, out, _ = admin(
        admin_world,
        tmp_path,
        "grant-permission",
        "1002",
        "USER.PROGRAM.READ",
        "--institution",
        "gym",
        "--expires",
        "2031-01-01T00:00Z",
    )
    assert code == 0, out
    assert "in gym until 2031-01-01T00:00+00:00" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("grant-role", "999999", "COACH"), "error: no user 999999"),
        (("grant-role", "bob", "COACH"), "error: not a Telegram id or a user UUID: 'bob'"),
        (("grant-role", "1002", "WIZARD"), "error: no role WIZARD"),
        (
            ("grant-role", "1002", "ADMIN", "--institution", "nowhere"),
            "error: no institution nowhere",
        ),
        (
            ("grant-permission", "1002", "NO.SUCH.PERMISSION"),
            "error: no permission NO.SUCH.PERMISSION",
        ),
        (
            ("grant-permission", "1002", "USER.WORKOUT.READ", "--expires", "soon"),
            "error: bad expiry 'soon'",
        ),
        (
            ("grant-permission", "1002", "USER.WORKOUT.READ", "--expires", "2001-01-01T00:00Z"),
            "is not in the future",
        ),
        (
            (
                "grant-permission",
                "1002",
                "USER.WORKOUT.READ",
                "--institution",
                "gym",
                "--resource",
                "WORKOUT:x",
            ),
            "error: give at most one of --institution, --department, --resource",
        ),
        (
            ("grant-permission", "1002", "USER.WORKOUT.READ", "--resource", "WORKOUT:x"),
            "error: bad --resource: not a UUID: 'x'",
        ),
        (
            ("grant-permission", "1002", "USER.WORKOUT.READ", "--department", str(uuid.uuid4())),
            "error: no department",
        ),
        (("explain", "1002", "FLY", f"WORKOUT:{uuid.uuid4()}"), "error: unknown action 'FLY'"),
        (("explain", "1002", "READ", "PIZZA:1"), "error: bad resource: not a UUID"),
        (
            ("explain", "guest", "READ", "WORKOUT:00000000-0000-0000-0000-000000000000"),
            "error: no WORKOUT",
        ),
    ],
)
async def test_bad_input_is_one_line_and_changes_nothing(
    admin_world: AdminWorld, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    grants = await count(admin_world.url, PermissionGrant)
    roles = await count(admin_world.url, UserRole)
    members = await count(admin_world.url, InstitutionMember)
    code, out, err = admin(admin_world, tmp_path, *args)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(message) or message in lines[0], lines[0]
    assert out == ""
    assert await count(admin_world.url, PermissionGrant) == grants
    assert await count(admin_world.url, UserRole) == roles
    assert await count(admin_world.url, InstitutionMember) == members


def test_explain_a_guest(admin_world: AdminWorld, tmp_path: Path) -> None:
    code, out, _ = admin(
        admin_world, tmp_path, "explain", "guest", "READ", f"WORKOUT:{admin_world.workout}"
    )
    assert code == 0
    assert out.startswith("DENIED: guest READ WORKOUT:")
