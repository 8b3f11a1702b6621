"""A coach sends program files to the bot through the emulator: the example imports (title,
version, weeks, workouts, a button that opens it) and a second upload publishes version 2; a
malformed file is answered with every error and its place and nothing is stored; a wrong file
type, a file too big, and a user who may not create programs get a clear answer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from bot.emulator.driver import EmulatedUser
from domain.models.access import Policy, PolicyAssignment, PolicyTargetType, PolicyType, Role
from domain.models.enums import RoleType
from domain.models.program import Program, ProgramVersion
from domain.models.user import UserRole
from domain.models.workout import Workout
from domain.services.program_format import MAX_FILE_BYTES
from tests.conversations.conftest import Harness

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "program.yaml"

MALFORMED = b"""\
program:
  title: Malformed
schedule:
  length_days: 7
workouts:
  - name: Legs
    sets:
      - exercise: zzz no such lift
        reps: -5
days:
  - day: 9
    workouts: [Legs]
"""


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def owned(harness: Harness, person: EmulatedUser) -> tuple[int, int, int]:
    """(programs, versions, workouts) the person owns."""
    user_id = await harness.user_id(person)
    async with harness.session_factory() as session:
        programs = await session.scalar(
            select(func.count()).select_from(Program).where(Program.owner_id == user_id)
        )
        versions = await session.scalar(
            select(func.count())
            .select_from(ProgramVersion)
            .join(Program, Program.id == ProgramVersion.program_id)
            .where(Program.owner_id == user_id)
        )
        workouts = await session.scalar(
            select(func.count()).select_from(Workout).where(Workout.owner_id == user_id)
        )
        return int(programs or 0), int(versions or 0), int(workouts or 0)


async def test_a_program_file_is_imported_then_updated(harness: Harness) -> None:
    coach = harness.user("cora")
    await coach.send("/help")  # the user row exists from the first message
    replies = await coach.upload(EXAMPLE)
    text = replies[-1].text
    assert replies[-1].raw_text.startswith(
        "✅ Program <b>Strength Foundations</b> imported (version 1)."
    )
    assert "Weeks: 4 (28 days)" in text
    assert "Workouts: 3" in text
    assert "Scheduled sessions: 16" in text
    assert "⚠️" not in text  # every tempo of the example is stored as written
    assert replies[-1].labels() == ["📖 Open the program"]
    assert await owned(harness, coach) == (1, 1, 3)
    opened = await coach.tap("📖 Open the program")
    assert "Strength Foundations" in opened[-1].text

    replies = await coach.upload(EXAMPLE.read_bytes(), filename="program.yaml")
    assert "updated: version 2 published" in replies[-1].text
    assert "keep their version until you move them" in replies[-1].text
    assert await owned(harness, coach) == (1, 2, 3)


async def test_a_malformed_file_lists_every_error_and_saves_nothing(harness: Harness) -> None:
    coach = harness.user("mel")
    await coach.send("/help")
    replies = await coach.upload(MALFORMED, filename="legs.yml")
    text = replies[-1].text
    assert text.startswith("The file has 3 errors:")
    assert "• line 8, workouts[0].sets[0].exercise: unknown exercise zzz no such lift" in text
    assert "• line 9, workouts[0].sets[0].reps: must be at least 1" in text
    assert "• line 11, days[0].day: day 9 is beyond the schedule (7 days)" in text
    assert text.endswith("Nothing was saved. Fix the file and send it again.")
    assert await owned(harness, coach) == (0, 0, 0)

    csv_text = b"# title: Rows\n# weeks: 1\nday,workout,exercise,reps\n1,A,back squat,five\n"
    replies = await coach.upload(csv_text, filename="rows.csv")
    assert "• line 4, column reps: five is not a number of reps" in replies[-1].text
    assert await owned(harness, coach) == (0, 0, 0)


async def test_wrong_type_and_too_big_files_are_refused(harness: Harness) -> None:
    coach = harness.user("tim")
    await coach.send("/help")
    replies = await coach.upload(b"%PDF-1.4", filename="plan.pdf")
    assert replies[-1].text == (
        "I cannot import this file: unsupported file type .pdf:"
        " send a .yaml, .yml, .json or .csv file"
    )
    replies = await coach.upload(b"#" * (MAX_FILE_BYTES + 10), filename="huge.yaml")
    assert replies[-1].text == (
        "I cannot import this file: the file is 257 KB; the limit is 256 KB"
    )
    assert await owned(harness, coach) == (0, 0, 0)


async def test_a_user_who_may_not_create_programs_is_told_so(harness: Harness) -> None:
    person = harness.user("nora")
    await person.send("/help")
    user_id = await harness.user_id(person)
    code = f"NO_PROGRAMS_{uuid.uuid4().hex[:8].upper()}"
    # A role held by this person alone, with a deny policy: nobody else is affected.
    async with harness.session_factory() as session, session.begin():
        role = Role(id=uuid.uuid4(), code=code, name=code, type=RoleType.MEMBER)
        policy = Policy(
            id=uuid.uuid4(),
            name=code,
            policy_type=PolicyType.ROLE_BASED,
            policy_rules={"effect": "deny", "actions": ["CREATE"], "resource_types": ["PROGRAM"]},
        )
        session.add_all([role, policy])
        await session.flush()
        session.add_all(
            [
                UserRole(user_id=user_id, role_id=role.id, updated_by=user_id),
                PolicyAssignment(
                    id=uuid.uuid4(),
                    policy_id=policy.id,
                    target_type=PolicyTargetType.ROLE,
                    target_role_id=role.id,
                ),
            ]
        )
    try:
        replies = await person.upload(EXAMPLE)
        assert replies[-1].text == (
            "You are not allowed to create programs, so nothing was imported."
        )
        assert await owned(harness, person) == (0, 0, 0)
    finally:
        async with harness.session_factory() as session, session.begin():
            await session.execute(delete(Policy).where(Policy.id == policy.id))
            await session.execute(delete(UserRole).where(UserRole.role_id == role.id))
            await session.execute(delete(Role).where(Role.id == role.id))
