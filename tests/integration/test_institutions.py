"""Institutions on a real PostgreSQL (domain.services.institutions): who may create one, the
creator as ADMIN, departments, members (paged, role and department changes, removal, all
audited), settings overriding defaults, institution programs visible to members only, and ids
of another institution refused everywhere."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize, visible
from domain.errors import Conflict, InvalidInput, NotAllowed
from domain.models.access import Role, Visibility
from domain.models.audit import AuditAction, AuditLog
from domain.models.institution import (
    Institution,
    InstitutionDepartment,
    InstitutionMember,
    InstitutionMemberRole,
)
from domain.models.program import Program
from domain.models.user import User, UserRole
from domain.services import institutions as inst
from domain.services.audit import install_audit
from domain.services.settings import InvalidSettingValue, effective_setting_with_source
from tests.factories import make_program, make_user

NOW = dt.datetime.now(dt.UTC)


async def role_id(session: AsyncSession, code: str) -> uuid.UUID:
    found = await session.scalar(
        select(Role.id).where(Role.code == code, Role.institution_id.is_(None))
    )
    assert found is not None
    return found


async def coach(session: AsyncSession, name: str = "Coach") -> User:
    user = await make_user(session, first_name=name)
    session.add(UserRole(user_id=user.id, role_id=await role_id(session, "COACH")))
    await session.flush()
    return user


async def join(
    session: AsyncSession,
    institution_id: uuid.UUID,
    name: str,
    code: str = "MEMBER",
    department_id: uuid.UUID | None = None,
) -> tuple[User, uuid.UUID]:
    user = await make_user(session, first_name=name)
    role = await session.get(Role, await role_id(session, code))
    member = await inst.add_member(session, institution_id, user.id, role, department_id, by=None)
    return user, member.id


async def active_roles(session: AsyncSession, member_id: uuid.UUID) -> set[str]:
    rows = await session.scalars(
        select(Role.code)
        .join(InstitutionMemberRole, InstitutionMemberRole.role_id == Role.id)
        .where(
            InstitutionMemberRole.institution_member_id == member_id,
            InstitutionMemberRole.is_active,
        )
    )
    return set(rows)


async def test_only_coaches_create_and_the_creator_becomes_admin(session: AsyncSession) -> None:
    athlete = await make_user(session, first_name="Ath")
    assert not await inst.may_create_institution(session, athlete.id)
    with pytest.raises(NotAllowed):
        await inst.create_institution(session, athlete.id, "Nope Gym")

    owner = await coach(session, "Olga")
    with pytest.raises(InvalidInput):
        await inst.create_institution(session, owner.id, "   ")
    with pytest.raises(InvalidInput):
        await inst.create_institution(session, owner.id, "x" * 101)
    gym_id = await inst.create_institution(session, owner.id, "  Iron   Temple ")
    gym = await session.get(Institution, gym_id)
    assert gym is not None
    assert gym.name == "Iron Temple"
    assert gym.created_by == owner.id
    assert gym.slug is not None
    assert gym.slug.startswith("iron-temple")
    member = await session.scalar(
        select(InstitutionMember).where(InstitutionMember.user_id == owner.id)
    )
    assert member is not None
    assert member.institution_id == gym_id
    assert await active_roles(session, member.id) == {"ADMIN"}

    view = await inst.institution_view(session, owner.id, gym_id, "fr")
    assert view.is_admin
    assert view.members == 1
    assert [role.name for role in view.my_roles] == ["Administrateur"]
    assert [summary.name for summary in await inst.my_institutions(session, owner.id)] == [
        "Iron Temple"
    ]
    # A second gym with the same name gets a slug of its own.
    other = await session.get(
        Institution, await inst.create_institution(session, owner.id, "Iron Temple")
    )
    assert other is not None
    assert other.slug != gym.slug
    # An outsider cannot even read the screen.
    with pytest.raises(NotAllowed):
        await inst.institution_view(session, athlete.id, gym_id, "en")


async def test_departments_and_members_paged_changed_removed_and_audited(
    session: AsyncSession,
) -> None:
    install_audit()
    owner = await coach(session, "Olga")
    gym_id = await inst.create_institution(session, owner.id, "Barbell Club")
    lifting = await inst.create_department(session, owner.id, gym_id, "Lifting")
    physio = await inst.create_department(session, owner.id, gym_id, "Physio")
    with pytest.raises(Conflict):
        await inst.create_department(session, owner.id, gym_id, "lifting")
    with pytest.raises(InvalidInput):
        await inst.create_department(session, owner.id, gym_id, "")
    await inst.rename_department(session, owner.id, physio, "Rehab")
    names = [d.name for d in await inst.list_departments(session, owner.id, gym_id)]
    assert names == ["Lifting", "Rehab"]

    people = [
        await join(session, gym_id, f"M{index:02d}", "MEMBER", lifting) for index in range(11)
    ]
    page = await inst.list_members(session, owner.id, gym_id, locale="en")
    assert page.total == 12
    assert len(page.members) == 10
    assert page.has_next
    second = await inst.list_members(session, owner.id, gym_id, locale="en", offset=10)
    assert len(second.members) == 2
    assert not second.has_next
    first_member = page.members[0]
    assert first_member.name == "M00"
    assert [r.code for r in first_member.roles] == ["MEMBER"]
    assert first_member.department == "Lifting"

    _user, member_id = people[0]
    await inst.set_member_role(session, owner.id, member_id, await role_id(session, "COACH"))
    assert await active_roles(session, member_id) == {"COACH"}
    await inst.set_member_department(session, owner.id, member_id, physio)
    detail = await inst.member_detail(session, owner.id, member_id, "en")
    assert detail.department == "Rehab"
    assert [r.code for r in detail.roles] == ["COACH"]
    # GUEST is not a role an institution hands out.
    with pytest.raises(InvalidInput):
        await inst.set_member_role(session, owner.id, member_id, await role_id(session, "GUEST"))

    await inst.remove_member(session, owner.id, member_id)
    removed = await session.get(InstitutionMember, member_id)
    assert removed is not None
    assert not removed.is_active
    assert await active_roles(session, member_id) == set()
    assert (await inst.list_members(session, owner.id, gym_id, locale="en")).total == 11

    # Every change left an audit row attributed to the admin.
    trail = (
        await session.execute(
            select(AuditLog.entity_type, AuditLog.action, AuditLog.reason).where(
                AuditLog.user_id == owner.id
            )
        )
    ).all()
    assert ("institution_member_role", AuditAction.UPDATE, "role changed to COACH") in trail
    assert ("institution_member_role", AuditAction.CREATE, "role changed to COACH") in trail
    assert ("institution_member", AuditAction.UPDATE, "department changed") in trail
    assert ("institution_member", AuditAction.UPDATE, "member removed") in trail

    # Deleting a department keeps its members, without a department.
    await inst.delete_department(session, owner.id, lifting)
    assert await session.get(InstitutionDepartment, lifting) is None
    still = await session.get(InstitutionMember, people[1][1])
    assert still is not None
    assert still.is_active
    assert still.department_id is None


async def test_the_last_admin_stays(session: AsyncSession) -> None:
    owner = await coach(session, "Olga")
    gym_id = await inst.create_institution(session, owner.id, "Solo Gym")
    own_member = await session.scalar(
        select(InstitutionMember.id).where(InstitutionMember.user_id == owner.id)
    )
    assert own_member is not None
    with pytest.raises(inst.LastAdmin):
        await inst.remove_member(session, owner.id, own_member)
    with pytest.raises(inst.LastAdmin):
        await inst.set_member_role(session, owner.id, own_member, await role_id(session, "COACH"))
    _, second_admin = await join(session, gym_id, "Deputy", "ADMIN")
    await inst.set_member_role(session, owner.id, own_member, await role_id(session, "COACH"))
    assert await active_roles(session, own_member) == {"COACH"}
    assert await active_roles(session, second_admin) == {"ADMIN"}


async def test_ids_of_another_institution_are_refused(session: AsyncSession) -> None:
    alice = await coach(session, "Alice")
    bruno = await coach(session, "Bruno")
    gym_a = await inst.create_institution(session, alice.id, "Gym A")
    gym_b = await inst.create_institution(session, bruno.id, "Gym B")
    b_department = await inst.create_department(session, bruno.id, gym_b, "B team")
    _, b_member = await join(session, gym_b, "Bea", "MEMBER", b_department)
    coach_role = await role_id(session, "COACH")

    attempts = [
        inst.list_members(session, alice.id, gym_b, locale="en"),
        inst.member_detail(session, alice.id, b_member, "en"),
        inst.set_member_role(session, alice.id, b_member, coach_role),
        inst.set_member_department(session, alice.id, b_member, None),
        inst.remove_member(session, alice.id, b_member),
        inst.rename_department(session, alice.id, b_department, "Mine now"),
        inst.delete_department(session, alice.id, b_department),
        inst.create_department(session, alice.id, gym_b, "Intruders"),
        inst.institution_settings(session, alice.id, gym_b, "en"),
        inst.set_setting(session, alice.id, gym_b, "timezone", "Asia/Tokyo"),
    ]
    for attempt in attempts:
        with pytest.raises(NotAllowed):
            await attempt
    # A's admin cannot put their own member in B's department either.
    _, a_member = await join(session, gym_a, "Abe")
    with pytest.raises(InvalidInput):
        await inst.set_member_department(session, alice.id, a_member, b_department)

    member = await session.get(InstitutionMember, b_member)
    assert member is not None
    assert member.is_active
    assert member.department_id == b_department
    assert await active_roles(session, b_member) == {"MEMBER"}
    department = await session.get(InstitutionDepartment, b_department)
    assert department is not None
    assert department.name == "B team"
    # A plain member (not admin) of B is refused the management screens too.
    bea = await session.scalar(
        select(InstitutionMember.user_id).where(InstitutionMember.id == b_member)
    )
    assert bea is not None
    with pytest.raises(NotAllowed):
        await inst.list_members(session, bea, gym_b, locale="en")
    assert (await inst.institution_view(session, bea, gym_b, "en")).is_admin is False


async def test_institution_programs_are_read_by_its_members_only(session: AsyncSession) -> None:
    alice = await coach(session, "Alice")
    bruno = await coach(session, "Bruno")
    gym_a = await inst.create_institution(session, alice.id, "Gym A")
    gym_b = await inst.create_institution(session, bruno.id, "Gym B")
    a_member, _ = await join(session, gym_a, "Ann")
    b_member, _ = await join(session, gym_b, "Ben")
    plan = await make_program(session, alice, start=NOW.date(), days={})
    for code, program_id in (("INSTITUTION_MEMBER", plan.program_id), ("INSTITUTION", None)):
        if program_id is None:
            program_id = (await make_program(session, alice, start=NOW.date(), days={})).program_id
        program = await session.get(Program, program_id)
        assert program is not None
        program.institution_id = gym_a
        visibility = await session.scalar(
            select(Visibility.id).where(
                Visibility.code == code, Visibility.resource_type == "PROGRAM"
            )
        )
        assert visibility is not None
        program.visibility_id = visibility
        await session.flush()
        ref = ResourceRef("PROGRAM", program_id)
        assert (await authorize(session, Actor.user(a_member.id), Action.READ, ref)).allowed
        assert not (await authorize(session, Actor.user(b_member.id), Action.READ, ref)).allowed
        listed = set(
            await session.scalars(
                select(Program.id).where(
                    Program.id == program_id, visible(Actor.user(b_member.id), "PROGRAM")
                )
            )
        )
        assert listed == set()


async def test_settings_override_defaults_for_members(session: AsyncSession) -> None:
    owner = await coach(session, "Olga")
    gym_id = await inst.create_institution(session, owner.id, "Paris Gym")
    member, _ = await join(session, gym_id, "Mia")
    views = {
        view.key: view for view in await inst.institution_settings(session, owner.id, gym_id, "fr")
    }
    assert {"timezone", "locale", "weight_unit", "reminder_time"} <= set(views)
    assert "coach_can_see_logs" not in views  # consent is the person's own
    assert "equipment" not in views  # a list: not edited in the chat
    assert views["weight_unit"].name == "Unité de poids"
    assert views["weight_unit"].value == "kg"
    assert not views["weight_unit"].overridden

    await inst.set_setting(session, owner.id, gym_id, "weight_unit", "lb")
    await inst.set_setting(session, owner.id, gym_id, "timezone", "Europe/Paris")
    with pytest.raises(InvalidSettingValue):
        await inst.set_setting(session, owner.id, gym_id, "weight_unit", "stone")
    with pytest.raises(InvalidSettingValue):
        await inst.set_setting(session, owner.id, gym_id, "timezone", "Mars/Olympus")
    view = await inst.institution_setting(session, owner.id, gym_id, "weight_unit", "en")
    assert view.value == "lb"
    assert view.overridden
    assert view.inherited == "kg"
    effective = await effective_setting_with_source(session, member.id, "weight_unit")
    assert (effective.value, effective.source.value) == ("lb", "INSTITUTION")
    institution = await session.get(Institution, gym_id)
    assert institution is not None
    assert institution.timezone == "Europe/Paris"
    # A member who is not an admin cannot change them.
    with pytest.raises(NotAllowed):
        await inst.set_setting(session, member.id, gym_id, "weight_unit", "kg")

    assert await inst.reset_setting(session, owner.id, gym_id, "weight_unit") == "kg"
    assert await inst.reset_setting(session, owner.id, gym_id, "timezone") == "UTC"
    view = await inst.institution_setting(session, owner.id, gym_id, "weight_unit", "en")
    assert view.value == "kg"
    assert not view.overridden
    effective = await effective_setting_with_source(session, member.id, "weight_unit")
    assert effective.source.value in {"SYSTEM", "DEFAULT"}
    await session.refresh(institution)
    assert institution.timezone == "UTC"
    count = await session.scalar(
        select(func.count()).select_from(Institution).where(Institution.id == gym_id)
    )
    assert count == 1
