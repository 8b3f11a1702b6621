"""Institution invite links on a real PostgreSQL (domain.services.invites): issued with a role,
a department, an expiry and a use limit, stored hashed, listed and revoked by admins only;
redeemed with consent into a membership; expired, revoked, used-up and unknown links refused
with nothing changed but the recorded failure; the failure brake; and a single-use link
redeemed by two people at the same moment succeeding once."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.errors import InvalidInput, NotAllowed
from domain.models.audit import EventType, SecurityEvent, SystemEvent
from domain.models.institution import (
    Institution,
    InstitutionInvite,
    InstitutionMember,
)
from domain.models.user import User, UserRole
from domain.services import institutions as inst
from domain.services import invites, link_tokens
from domain.services.link_tokens import LinkProblem, LinkRefused
from tests.integration.test_institutions import active_roles, coach, role_id

DAY = dt.timedelta(days=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def gym_with_admin(session: AsyncSession, name: str = "Gym") -> tuple[User, uuid.UUID]:
    owner = await coach(session, f"{name} owner")
    return owner, await inst.create_institution(session, owner.id, name)


async def outsider(session: AsyncSession, name: str) -> User:
    from tests.factories import make_user

    return await make_user(session, first_name=name)


async def invite(
    session: AsyncSession,
    owner: User,
    gym_id: uuid.UUID,
    *,
    code: str = "COACH",
    department: uuid.UUID | None = None,
    days: int = 7,
    max_uses: int | None = 1,
) -> invites.IssuedInvite:
    return await invites.create_invite(
        session,
        owner.id,
        gym_id,
        role_id=await role_id(session, code),
        department_id=department,
        days=days,
        max_uses=max_uses,
        now=now(),
    )


async def events(
    session: AsyncSession,
    model: type[SystemEvent] | type[SecurityEvent],
    user_id: uuid.UUID,
    code: str,
) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(model)
        .join(EventType, EventType.id == model.event_type_id)
        .where(model.user_id == user_id, EventType.code == code)
    )
    return int(count or 0)


async def membership(
    session: AsyncSession, gym_id: uuid.UUID, user_id: uuid.UUID
) -> InstitutionMember | None:
    return await session.scalar(
        select(InstitutionMember).where(
            InstitutionMember.institution_id == gym_id, InstitutionMember.user_id == user_id
        )
    )


async def test_issue_list_and_revoke(session: AsyncSession) -> None:
    owner, gym_id = await gym_with_admin(session)
    lifting = await inst.create_department(session, owner.id, gym_id, "Lifting")
    issued = await invite(session, owner, gym_id, department=lifting, days=30, max_uses=10)
    assert issued.payload == f"inv_{issued.token}"
    assert len(issued.payload) <= 64
    row = await session.get(InstitutionInvite, issued.id)
    assert row is not None
    # Only the digest is stored.
    assert row.token != issued.token
    assert row.token == link_tokens.digest(issued.token)
    assert row.invited_by == owner.id
    assert row.max_uses == 10
    assert abs((row.expires_at - now()) - 30 * DAY) < dt.timedelta(minutes=1)
    assert await events(session, SystemEvent, owner.id, "INVITE_SENT") == 1

    for bad in (
        {"days": 3},
        {"max_uses": 5},
        {"code": "GUEST"},
    ):
        with pytest.raises(InvalidInput):
            await invite(session, owner, gym_id, **bad)

    listed = await invites.list_invites(session, owner.id, gym_id, now=now(), locale="en")
    assert [
        (v.id, v.role and v.role.code, v.department, v.use_count, v.max_uses) for v in listed
    ] == [(issued.id, "COACH", "Lifting", 0, 10)]
    # Only admins of this gym list or revoke.
    other_owner, other_gym = await gym_with_admin(session, "Other")
    with pytest.raises(NotAllowed):
        await invites.list_invites(session, other_owner.id, gym_id, now=now(), locale="en")
    with pytest.raises(NotAllowed):
        await invites.revoke_invite(session, other_owner.id, issued.id)
    with pytest.raises(NotAllowed):
        await invites.create_invite(
            session,
            other_owner.id,
            gym_id,
            role_id=await role_id(session, "COACH"),
            department_id=None,
            days=7,
            max_uses=1,
            now=now(),
        )
    # Another gym's department cannot be put on this gym's invite.
    with pytest.raises(InvalidInput):
        await invite(session, other_owner, other_gym, department=lifting)

    assert await invites.revoke_invite(session, owner.id, issued.id) == gym_id
    assert await invites.list_invites(session, owner.id, gym_id, now=now(), locale="en") == []
    await session.refresh(row)
    assert row.is_revoked
    assert await events(session, SystemEvent, owner.id, "INVITE_REVOKED") == 1


async def test_preview_then_join_with_role_and_department(session: AsyncSession) -> None:
    owner, gym_id = await gym_with_admin(session, "Join Gym")
    lifting = await inst.create_department(session, owner.id, gym_id, "Lifting")
    issued = await invite(session, owner, gym_id, department=lifting, max_uses=None)
    newcomer = await outsider(session, "Nina")

    preview = await invites.preview_invite(
        session, newcomer.id, issued.token, now=now(), locale="fr"
    )
    assert preview.institution == "Join Gym"
    assert preview.role is not None
    assert preview.role.name == "Coach"
    assert preview.department == "Lifting"
    assert await membership(session, gym_id, newcomer.id) is None  # preview changes nothing

    joined = await invites.redeem_invite(session, newcomer.id, issued.token, now=now(), locale="en")
    assert joined.institution == "Join Gym"
    assert joined.member_name == "Nina"
    assert [admin.user_id for admin in joined.admins] == [owner.id]
    assert joined.admins[0].role_name == "Coach"
    member = await membership(session, gym_id, newcomer.id)
    assert member is not None
    assert member.is_active
    assert member.department_id == lifting
    assert await active_roles(session, member.id) == {"COACH"}
    row = await session.get(InstitutionInvite, issued.id)
    assert row is not None
    await session.refresh(row)
    assert row.use_count == 1
    assert row.accepted_by == newcomer.id
    assert row.accepted_at is not None
    assert await events(session, SystemEvent, newcomer.id, "INVITE_ACCEPTED") == 1

    # Opening it again: already a member, no use spent, no failure counted.
    with pytest.raises(LinkRefused) as refused:
        await invites.redeem_invite(session, newcomer.id, issued.token, now=now(), locale="en")
    assert refused.value.problem is LinkProblem.ALREADY_DONE
    await session.refresh(row)
    assert row.use_count == 1
    assert await events(session, SecurityEvent, newcomer.id, "LINK_REDEMPTION_FAILED") == 0

    # The new coach shows in the admin's member list; the coach may read the gym, not manage it.
    page = await inst.list_members(session, owner.id, gym_id, locale="en")
    assert {m.name for m in page.members} == {"Join Gym owner", "Nina"}
    assert not (await inst.institution_view(session, newcomer.id, gym_id, "en")).is_admin


@pytest.mark.parametrize("problem", ["expired", "revoked", "used_up", "unknown", "closed"])
async def test_unusable_links_are_refused_and_change_nothing(
    session: AsyncSession, problem: str
) -> None:
    owner, gym_id = await gym_with_admin(session, "Strict Gym")
    issued = await invite(session, owner, gym_id, max_uses=1)
    token = issued.token
    expected = LinkProblem(problem) if problem != "closed" else LinkProblem.REVOKED
    at = now()
    if problem == "expired":
        at = now() + 8 * DAY
    elif problem == "revoked":
        await invites.revoke_invite(session, owner.id, issued.id)
    elif problem == "used_up":
        first = await outsider(session, "First")
        await invites.redeem_invite(session, first.id, token, now=at, locale="en")
        # The one who spent it is told they are in, not that it is used up.
        with pytest.raises(LinkRefused) as again:
            await invites.preview_invite(session, first.id, token, now=at, locale="en")
        assert again.value.problem is LinkProblem.ALREADY_DONE
    elif problem == "unknown":
        token = link_tokens.issue().token
    else:  # the institution was closed
        gym = await session.get(Institution, gym_id)
        assert gym is not None
        gym.is_active = False
        await session.flush()
    row = await session.get(InstitutionInvite, issued.id)
    assert row is not None
    await session.refresh(row)
    uses_before = row.use_count

    late = await outsider(session, "Late")
    for attempt in (invites.preview_invite, invites.redeem_invite):
        with pytest.raises(LinkRefused) as refused:
            await attempt(session, late.id, token, now=at, locale="en")
        assert refused.value.problem is expected
    assert await membership(session, gym_id, late.id) is None
    await session.refresh(row)
    assert row.use_count == uses_before
    assert await events(session, SecurityEvent, late.id, "LINK_REDEMPTION_FAILED") == 2
    assert await events(session, SystemEvent, late.id, "INVITE_ACCEPTED") == 0


async def test_too_many_failures_block_even_a_valid_link(session: AsyncSession) -> None:
    owner, gym_id = await gym_with_admin(session, "Guarded Gym")
    issued = await invite(session, owner, gym_id)
    guesser = await outsider(session, "Guesser")
    for _ in range(link_tokens.MAX_FAILED_REDEMPTIONS):
        with pytest.raises(LinkRefused) as refused:
            await invites.redeem_invite(
                session, guesser.id, link_tokens.issue().token, now=now(), locale="en"
            )
        assert refused.value.problem is LinkProblem.UNKNOWN
    with pytest.raises(LinkRefused) as refused:
        await invites.redeem_invite(session, guesser.id, issued.token, now=now(), locale="en")
    assert refused.value.problem is LinkProblem.RATE_LIMITED
    assert await membership(session, gym_id, guesser.id) is None
    # Someone else still joins with it.
    other = await outsider(session, "Other")
    await invites.redeem_invite(session, other.id, issued.token, now=now(), locale="en")
    assert await membership(session, gym_id, other.id) is not None


async def test_single_use_invite_redeemed_twice_at_once_succeeds_once(
    engine: AsyncEngine,
) -> None:
    """Two people, two sessions, one single-use link, the same moment: one joins, the other is
    told it is used up, and the invite counts one use."""
    async with AsyncSession(engine, expire_on_commit=False) as setup, setup.begin():
        owner, gym_id = await gym_with_admin(setup, f"Race {uuid.uuid4().hex[:6]}")
        issued = await invite(setup, owner, gym_id, max_uses=1)
        racers = [await outsider(setup, name) for name in ("Racer A", "Racer B")]
    user_ids = [owner.id, *(racer.id for racer in racers)]
    try:

        async def redeem(user_id: uuid.UUID) -> str:
            async with AsyncSession(engine, expire_on_commit=False) as racer:
                try:
                    await invites.redeem_invite(
                        racer, user_id, issued.token, now=now(), locale="en"
                    )
                except LinkRefused as refused:
                    await racer.commit()  # only the recorded failure
                    return refused.problem.value
                await racer.commit()
                return "joined"

        outcomes = await asyncio.gather(*(redeem(racer.id) for racer in racers))
        assert sorted(outcomes) == ["joined", "used_up"]
        async with AsyncSession(engine) as check:
            row = await check.get(InstitutionInvite, issued.id)
            assert row is not None
            assert row.use_count == 1
            members = await check.scalar(
                select(func.count())
                .select_from(InstitutionMember)
                .where(
                    InstitutionMember.institution_id == gym_id,
                    InstitutionMember.user_id.in_([racer.id for racer in racers]),
                )
            )
            assert members == 1
    finally:
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(Institution).where(Institution.id == gym_id))
            await cleanup.execute(delete(UserRole).where(UserRole.user_id.in_(user_ids)))
            await cleanup.execute(delete(User).where(User.id.in_(user_ids)))


async def test_the_second_redeemer_waits_and_finds_the_invite_used_up(
    engine: AsyncEngine,
) -> None:
    """The interleaving the conditional UPDATE exists for: both pass the checks (the first
    has not committed yet), the second's UPDATE waits on the row lock, re-checks the WHERE
    once the first commits, matches nothing and is refused."""
    async with AsyncSession(engine, expire_on_commit=False) as setup, setup.begin():
        owner, gym_id = await gym_with_admin(setup, f"Lock {uuid.uuid4().hex[:6]}")
        issued = await invite(setup, owner, gym_id, max_uses=1)
        first_user, second_user = [await outsider(setup, name) for name in ("Ada", "Bob")]
    user_ids = [owner.id, first_user.id, second_user.id]
    try:
        async with (
            AsyncSession(engine, expire_on_commit=False) as first,
            AsyncSession(engine, expire_on_commit=False) as second,
        ):
            await invites.redeem_invite(first, first_user.id, issued.token, now=now(), locale="en")

            async def late() -> LinkProblem | None:
                try:
                    await invites.redeem_invite(
                        second, second_user.id, issued.token, now=now(), locale="en"
                    )
                except LinkRefused as refused:
                    await second.commit()
                    return refused.problem
                await second.commit()
                return None

            blocked = asyncio.create_task(late())
            await asyncio.sleep(0.5)
            assert not blocked.done()  # waiting on the invite's row lock
            await first.commit()
            assert await asyncio.wait_for(blocked, timeout=10) is LinkProblem.USED_UP
        async with AsyncSession(engine) as check:
            row = await check.get(InstitutionInvite, issued.id)
            assert row is not None
            assert row.use_count == 1
            assert row.accepted_by == first_user.id
            assert await membership(check, gym_id, second_user.id) is None
            assert await events(check, SecurityEvent, second_user.id, "LINK_REDEMPTION_FAILED") == 1
    finally:
        async with AsyncSession(engine) as cleanup, cleanup.begin():
            await cleanup.execute(delete(Institution).where(Institution.id == gym_id))
            await cleanup.execute(delete(UserRole).where(UserRole.user_id.in_(user_ids)))
            await cleanup.execute(delete(User).where(User.id.in_(user_ids)))
