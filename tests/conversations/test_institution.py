"""/institution through the emulator: a coach creates an institution and a department, makes a
coach invite link, a second person opens it, sees the institution and the role, joins, the
admin is told and sees them in the members list; expired, revoked, used-up and unknown links
get their own message and change nothing; buttons forged with another institution's ids are
refused."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import func, select, update

from bot.emulator.driver import EmulatedUser
from bot.handlers.institution import (
    DeptDelete,
    InviteRevoke,
    MemberList,
    MemberOpen,
    MemberRemoveYes,
    MemberRoleSet,
)
from bot.keyboards import short_id
from domain.models.access import Role
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionInvite,
    InstitutionMember,
)
from domain.services import link_tokens
from tests.conversations.conftest import Harness

INVITE = re.compile(r"inv_[A-Za-z0-9_-]{43}")
REFUSED = "Sorry, you are not allowed to do that."


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def institution_of(harness: Harness, creator: uuid.UUID) -> uuid.UUID:
    async with harness.session_factory() as session:
        found = await session.scalar(
            select(Institution.id).where(Institution.created_by == creator)
        )
        assert found is not None
        return found


async def member_count(harness: Harness, institution_id: uuid.UUID) -> int:
    async with harness.session_factory() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(InstitutionMember)
                .where(
                    InstitutionMember.institution_id == institution_id, InstitutionMember.is_active
                )
            )
            or 0
        )


async def create_gym(harness: Harness, admin: EmulatedUser, name: str) -> uuid.UUID:
    await admin.send("/start")
    admin_id = await harness.grant_role(admin, "COACH")
    replies = await admin.send("/institution")
    assert "You do not belong to an institution yet. Create your gym" in replies[-1].text
    await admin.tap("➕ Create an institution")
    replies = await admin.send(name)
    assert replies[-1].text.startswith("✅ Created. You are its administrator.")
    assert f"🏢 {name}" in replies[-1].text
    return await institution_of(harness, admin_id)


async def new_invite(
    admin: EmulatedUser, role: str, department: str | None, days: str, uses: str
) -> str:
    await admin.send("/institution")
    await admin.tap("🔗 Invite links")
    replies = await admin.tap("➕ New invite link")
    assert "which role will the newcomer get?" in replies[-1].text
    replies = await admin.tap(role)
    if department is not None:
        assert "Which department" in replies[-1].text
        replies = await admin.tap(department)
    assert "How long will the link work?" in replies[-1].text
    replies = await admin.tap(days)
    assert "How many people may use it?" in replies[-1].text
    replies = await admin.tap(uses)
    assert "Your invite link" in replies[-1].text
    found = INVITE.search(replies[-1].text)
    assert found is not None
    return found.group(0)


async def test_create_invite_join_and_refusals(harness: Harness) -> None:
    olga = harness.user("olga")
    gym_name = f"Iron Temple {uuid.uuid4().hex[:4]}"
    # Not a coach yet: told how to get into an institution, nothing to create with.
    await olga.send("/start")
    replies = await olga.send("/institution")
    assert "open the invite link its administrator sent you" in replies[-1].text
    assert replies[-1].labels() == []

    await harness.grant_role(olga, "COACH")
    await olga.send("/institution")
    await olga.tap("➕ Create an institution")
    replies = await olga.send("x" * 101)
    assert "Please send a name of 1 to 100 characters." in replies[-1].text
    replies = await olga.send(gym_name)
    assert replies[-1].text.startswith("✅ Created. You are its administrator.")
    assert "Your role: Administrator" in replies[-1].text
    gym = await institution_of(harness, await harness.user_id(olga))

    # A department.
    await olga.tap("🗂 Departments")
    await olga.tap("➕ New department")
    replies = await olga.send("Lifting")
    assert "• Lifting — 0 members" in replies[-1].text
    await olga.tap("➕ New department")
    replies = await olga.send("lifting")
    assert "There is already a department with that name." in replies[-1].text
    await olga.send("/cancel")

    # A single-use coach invite into Lifting; the link shows in the list.
    payload = await new_invite(olga, "Coach", "Lifting", "7 days", "1 person")
    await olga.send("/institution")
    replies = await olga.tap("🔗 Invite links")
    assert "1. Coach · Lifting · 0/1 uses · expires" in replies[-1].text

    # The coach opens it, sees the institution and the role, joins.
    carl = harness.user("carl")
    replies = await carl.open_link(payload)
    consent = replies[-1]
    assert f"{gym_name} invites you to join as Coach in the department Lifting." in consent.text
    assert consent.labels() == ["✅ Join", "No, thanks"]
    assert await member_count(harness, gym) == 1
    replies = await carl.tap("✅ Join")
    assert (
        f"Welcome to {gym_name}! You joined as Coach in the department Lifting." in replies[0].text
    )
    told = await olga.wait_for(lambda m: "joined" in m.text)
    assert told.text == f"🆕 Carl joined {gym_name} as Coach · Lifting."
    assert await member_count(harness, gym) == 2

    await olga.send("/institution")
    replies = await olga.tap("👥 Members")
    assert f"Members of {gym_name} (2)" in replies[-1].text
    assert "• Carl — Coach · Lifting" in replies[-1].text
    assert "• Olga — Administrator" in replies[-1].text

    # Again: already a member. Someone else: used up.
    replies = await carl.open_link(payload)
    assert "You are already a member of this institution." in replies[0].text
    dora = harness.user("dora")
    replies = await dora.open_link(payload)
    assert "already been used as many times as allowed" in replies[0].text

    # Revoked.
    revoked = await new_invite(olga, "Member", "No department", "30 days", "Unlimited")
    await olga.send("/institution")
    await olga.tap("🔗 Invite links")
    replies = await olga.tap("❌ Revoke #1")
    assert "No active invite link." in replies[-1].text
    replies = await dora.open_link(revoked)
    assert "This invite link was withdrawn by the institution." in replies[0].text

    # Expired.
    expired = await new_invite(olga, "Member", "No department", "1 day", "10 people")
    async with harness.session_factory() as session, session.begin():
        await session.execute(
            update(InstitutionInvite)
            .where(InstitutionInvite.token == link_tokens.digest(expired.removeprefix("inv_")))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    replies = await dora.open_link(expired)
    assert "This invite link has expired." in replies[0].text

    # Unknown.
    replies = await dora.open_link("inv_" + link_tokens.issue().token)
    assert "This invite link is not valid." in replies[0].text
    assert await member_count(harness, gym) == 2

    # The coach is a member, not an admin: the management buttons are refused.
    replies = await carl.send("/institution")
    assert "👥 Members" not in replies[-1].labels()
    replies = await carl.press_data(MemberList(i=short_id(gym)).pack())
    assert replies[-1].text == REFUSED

    # The admin changes Carl's role, then overrides and resets settings for the members.
    await olga.send("/institution")
    await olga.tap("👥 Members")
    await olga.tap("Carl")
    replies = await olga.tap("🎭 Change role")
    assert "Which role should Carl have?" in replies[-1].text
    replies = await olga.tap("Trainer")
    assert "Role: Trainer" in replies[-1].text
    await olga.send("/institution")
    replies = await olga.tap("⚙️ Settings")
    assert "• Weight unit: kilograms (kg) (default)" in replies[-1].text
    await olga.tap("Weight unit")
    replies = await olga.tap("pounds (lb)")
    assert "• Weight unit: pounds (lb) (set by the institution)" in replies[-1].text
    replies = await olga.tap("↩️ Back to the default")
    assert "• Weight unit: kilograms (kg) (default)" in replies[-1].text
    await olga.tap("⬅️ Settings")
    replies = await olga.tap("Time zone")
    assert "Send a time zone such as Europe/Paris" in replies[-1].text
    replies = await olga.send("Nowhere/Atlantis")
    assert "Send a time zone such as Europe/Paris" in replies[-1].text
    replies = await olga.send("Tokyo")
    assert "• Time zone: Asia/Tokyo (set by the institution)" in replies[-1].text
    async with harness.session_factory() as session:
        institution = await session.get(Institution, gym)
        assert institution is not None
        assert institution.timezone == "Asia/Tokyo"


async def test_forged_buttons_with_another_institutions_ids(harness: Harness) -> None:
    alice = harness.user("alice")
    bruno = harness.user("bruno")
    gym_a = await create_gym(harness, alice, f"Gym A {uuid.uuid4().hex[:4]}")
    gym_b = await create_gym(harness, bruno, f"Gym B {uuid.uuid4().hex[:4]}")
    await bruno.tap("🗂 Departments")
    await bruno.tap("➕ New department")
    await bruno.send("B team")
    b_invite = await new_invite(bruno, "Member", "B team", "7 days", "10 people")
    bea = harness.user("bea")
    await bea.open_link(b_invite)
    await bea.tap("✅ Join")
    async with harness.session_factory() as session:
        b_member = await session.scalar(
            select(InstitutionMember.id).where(
                InstitutionMember.institution_id == gym_b,
                InstitutionMember.user_id == await harness.user_id(bea),
            )
        )
        b_department = await session.scalar(
            select(InstitutionDepartment.id).where(InstitutionDepartment.institution_id == gym_b)
        )
        b_invite_id = await session.scalar(
            select(InstitutionInvite.id).where(InstitutionInvite.institution_id == gym_b)
        )
        coach_role = await session.scalar(
            select(Role.id).where(Role.code == "COACH", Role.institution_id.is_(None))
        )
    assert b_member
    assert b_department
    assert b_invite_id
    assert coach_role

    await alice.send("/institution")
    for data in (
        MemberList(i=short_id(gym_b)).pack(),
        MemberOpen(m=short_id(b_member)).pack(),
        MemberRoleSet(m=short_id(b_member), r=short_id(coach_role)).pack(),
        MemberRemoveYes(m=short_id(b_member)).pack(),
        DeptDelete(d=short_id(b_department)).pack(),
        InviteRevoke(v=short_id(b_invite_id)).pack(),
    ):
        replies = await alice.press_data(data)
        assert replies[-1].text == REFUSED, data
    # A garbled id is a plain "not found", not a crash.
    await alice.press_data(MemberOpen(m="garbage").pack())
    assert alice.callback_answers[-1].text == "I could not find that." or (
        alice.last is not None and "could not find" in alice.last.text
    )

    async with harness.session_factory() as session:
        member = await session.get(InstitutionMember, b_member)
        assert member is not None
        assert member.is_active
        assert member.department_id == b_department
        assert await session.get(InstitutionDepartment, b_department) is not None
        invite = await session.get(InstitutionInvite, b_invite_id)
        assert invite is not None
        assert not invite.is_revoked
    assert await member_count(harness, gym_b) == 2
    assert await member_count(harness, gym_a) == 1
