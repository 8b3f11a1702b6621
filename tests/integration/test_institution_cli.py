"""`motriforge admin create-institution NAME --admin TELEGRAM_ID` as an operator runs it: a real
process against the session's database. An unknown Telegram user gets a single-use ADMIN
invite link (printed); a known one becomes the institution's ADMIN at once."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.models.access import Role
from domain.models.institution import Institution, InstitutionInvite, InstitutionMember
from domain.models.user import User
from domain.services import invites, link_tokens
from tests.integration.test_cli import run_cli
from tests.integration.test_institutions import active_roles

_telegram_ids = itertools.count(990_000_001)
PAYLOAD = re.compile(r"^payload: (inv_[A-Za-z0-9_-]{43})$", re.MULTILINE)


async def institution_named(session: AsyncSession, name: str) -> Institution:
    found = await session.scalar(select(Institution).where(Institution.name == name))
    assert found is not None
    return found


async def test_unknown_admin_gets_a_single_use_admin_invite(
    database_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    name = f"Cli Gym {uuid.uuid4().hex[:6]}"
    telegram_id = next(_telegram_ids)
    result = run_cli(
        database_url, tmp_path, "admin", "create-institution", name, "--admin", str(telegram_id)
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"institution: {name} (slug cli-gym-" in result.stdout
    assert f"admin invite for telegram {telegram_id} (single use, expires" in result.stdout
    found = PAYLOAD.search(result.stdout)
    assert found is not None
    payload = found.group(1)
    assert f"  /start {payload}" in result.stdout
    newcomer_id = uuid.uuid4()
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            gym = await institution_named(session, name)
            invite = await session.scalar(
                select(InstitutionInvite).where(InstitutionInvite.institution_id == gym.id)
            )
            assert invite is not None
            assert invite.max_uses == 1
            assert invite.invited_by is None
            assert invite.token == link_tokens.digest(payload.removeprefix("inv_"))
            role = await session.get(Role, invite.role_id)
            assert role is not None
            assert role.code == "ADMIN"
            assert invite.expires_at - dt.datetime.now(dt.UTC) > dt.timedelta(days=6)
            # The person opens it and becomes the admin.
            session.add(User(id=newcomer_id, first_name="Nadia", telegram_user_id=telegram_id))
            await session.flush()
            joined = await invites.redeem_invite(
                session,
                newcomer_id,
                payload.removeprefix("inv_"),
                now=dt.datetime.now(dt.UTC),
                locale="en",
            )
            assert joined.institution == name
            assert await active_roles(session, joined.member_id) == {"ADMIN"}
    finally:
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(Institution).where(Institution.name == name))
            await cleanup.execute(delete(User).where(User.id == newcomer_id))


async def test_known_admin_is_made_admin_directly(
    database_url: URL, engine: AsyncEngine, tmp_path: Path
) -> None:
    name = f"Known Gym {uuid.uuid4().hex[:6]}"
    telegram_id = next(_telegram_ids)
    user_id = uuid.uuid4()
    async with AsyncSession(engine) as session, session.begin():
        session.add(
            User(id=user_id, first_name="Kim", last_name="Lee", telegram_user_id=telegram_id)
        )
    try:
        result = run_cli(
            database_url, tmp_path, "admin", "create-institution", name, "--admin", str(telegram_id)
        )
        assert result.returncode == 0, result.stderr
        assert f"Kim Lee (telegram {telegram_id}) is now its ADMIN" in result.stdout
        assert "payload:" not in result.stdout
        async with AsyncSession(engine) as session:
            gym = await institution_named(session, name)
            member = await session.scalar(
                select(InstitutionMember).where(
                    InstitutionMember.institution_id == gym.id,
                    InstitutionMember.user_id == user_id,
                )
            )
            assert member is not None
            assert member.is_active
            assert await active_roles(session, member.id) == {"ADMIN"}
            invites_made = await session.scalar(
                select(InstitutionInvite.id).where(InstitutionInvite.institution_id == gym.id)
            )
            assert invites_made is None

        bad = run_cli(database_url, tmp_path, "admin", "create-institution", "  ", "--admin", "5")
        assert bad.returncode == 1
        assert bad.stderr.startswith("error: name: 1 to 100 characters")
    finally:
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(Institution).where(Institution.name == name))
            await cleanup.execute(delete(User).where(User.id == user_id))
