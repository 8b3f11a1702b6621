"""Issue #8's story through the emulator, every person onboarded by chat: an admin creates an
institution and a coach invite → a coach joins → the coach sends a client link → an athlete
accepts (and becomes the institution's customer) → the coach imports a program from a file and
assigns it → the athlete sees it in /today → the athlete trains → the coach sees the compliance
move. Each step's wrong input gets a clear answer and changes nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo

import pytest
from sqlalchemy import func, select

from bot.emulator.driver import EmulatedUser
from domain.models.institution import Institution, InstitutionCustomer, InstitutionMember
from domain.models.notification import Notification, NotificationType
from domain.models.program import Program, ProgramVersion
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    UserProgram,
)
from tests.conversations.conftest import Harness

PARIS = "Europe/Paris"
INVITE = re.compile(r"inv_[A-Za-z0-9_-]{43}")
CLIENT_LINK = re.compile(r"start=(cli_[A-Za-z0-9_-]{43})")

PROGRAM_FILE = b"""format: motriforge-program/1
program:
  title: Story Strength
  description: Squats every day for two weeks.
  difficulty: BEGINNER
schedule:
  length_days: 14
workouts:
  - name: Story Squat
    sets:
      - exercise: back squat
        sets: 2
        reps: 5
        load: 60 kg
        rest: 60
days:
  - day: 1
    every: 1
    workouts: [Story Squat]
"""

MALFORMED_FILE = b"""format: motriforge-program/1
program:
  title: Broken Strength
  description: Three mistakes.
  difficulty: BEGINNER
schedule:
  length_days: 7
workouts:
  - name: Broken Day
    sets:
      - exercise: sky hook squat
        sets: 3
        reps: 5
      - exercise: back squat
        sets: 3
        reps: -5
days:
  - day: 9
    workouts: [Broken Day]
"""


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def onboard(person: EmulatedUser, purpose: str) -> None:
    await person.send("/start")
    await person.tap("English")
    await person.tap(PARIS)
    replies = await person.tap(purpose)
    assert "You are all set" in replies[-1].text


async def programs_owned(harness: Harness, owner_id: uuid.UUID) -> int:
    async with harness.session_factory() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Program).where(Program.owner_id == owner_id)
            )
            or 0
        )


def roster_line(text: str, name: str) -> str:
    """The compliance line under ``name`` in the /clients roster."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if name in line:
            return lines[index + 1]
    raise AssertionError(f"{name} not in the roster:\n{text}")


async def test_admin_coach_athlete_story(harness: Harness) -> None:
    ada, cole, ben, eve = (harness.user(n) for n in ("ada", "cole", "ben", "eve"))
    gym_name = f"Iron Story {uuid.uuid4().hex[:6]}"

    # 1. The admin creates the institution (a name too long is refused first).
    await onboard(ada, "🏢 I run a gym or club")
    await ada.send("/institution")
    await ada.tap("➕ Create an institution")
    replies = await ada.send("x" * 101)
    assert "Please send a name of 1 to 100 characters." in replies[-1].text
    replies = await ada.send(gym_name)
    assert replies[-1].text.startswith("✅ Created. You are its administrator.")
    ada_id = await harness.user_id(ada)
    async with harness.session_factory() as session:
        gym_id = await session.scalar(select(Institution.id).where(Institution.name == gym_name))
    assert gym_id is not None

    # 2. A single-use coach invite.
    await ada.send("/institution")
    await ada.tap("🔗 Invite links")
    replies = await ada.tap("➕ New invite link")
    replies = await ada.tap("Coach")
    assert "How long will the link work?" in replies[-1].text
    await ada.tap("7 days")
    replies = await ada.tap("1 person")
    found = INVITE.search(replies[-1].text)
    assert found is not None
    coach_invite = found.group(0)

    # 3. The coach joins: a forged link first, then the real one; the admin is told.
    await onboard(cole, "🏋 I train")
    replies = await cole.open_link("inv_" + "x" * 43)
    assert "not valid" in replies[-1].text
    replies = await cole.open_link(coach_invite)
    assert f"{gym_name} invites you to join as Coach" in replies[-1].text
    replies = await cole.tap("✅ Join")
    assert f"Welcome to {gym_name}! You joined as Coach" in replies[0].text
    told = await ada.wait_for(lambda m: "joined" in m.text)
    assert told.text == f"🆕 Cole joined {gym_name} as Coach."
    # The link was for one person: someone else is refused and nothing changes.
    await onboard(eve, "🏋 I train")
    replies = await eve.open_link(coach_invite)
    assert "already been used" in replies[-1].text
    async with harness.session_factory() as session:
        members = await session.scalar(
            select(func.count())
            .select_from(InstitutionMember)
            .where(InstitutionMember.institution_id == gym_id, InstitutionMember.is_active)
        )
    assert members == 2

    # 4. The coach (a coach through the institution) sends a client link; the athlete accepts.
    cole_id = await harness.user_id(cole)
    replies = await cole.send("/invite")
    client_link = CLIENT_LINK.search(replies[-1].text)
    assert client_link is not None, replies[-1].text
    await onboard(ben, "🏋 I train")
    ben_id_before = await harness.user_id(ben)
    replies = await ben.open_link("cli_" + "y" * 43)
    assert "This client link is not valid" in replies[-1].text
    replies = await ben.open_link(client_link.group(1))
    assert f"Cole (coach, {gym_name}) invites you to be their client." in replies[-1].text
    assert "your training log" in replies[-1].text
    replies = await ben.send("yes please")  # typing instead of tapping changes nothing
    assert "Sorry, I did not understand that." in replies[-1].text
    async with harness.session_factory() as session:
        pending = await session.scalar(
            select(func.count())
            .select_from(ProfessionalClientRelation)
            .where(
                ProfessionalClientRelation.customer_id == ben_id_before,
                ProfessionalClientRelation.status == ProfessionalRelationStatus.ACTIVE,
            )
        )
    assert pending == 0
    cole_mark = cole.checkpoint()
    replies = await ben.tap("✅ Accept")
    assert "You are now a client of Cole" in replies[-1].text
    assert any("Ben accepted your client link" in m.text for m in cole.outputs_since(cole_mark))
    ben_id = await harness.user_id(ben)
    async with harness.session_factory() as session:
        customer = await session.scalar(
            select(InstitutionCustomer.is_active).where(
                InstitutionCustomer.institution_id == gym_id, InstitutionCustomer.user_id == ben_id
            )
        )
    assert customer is True  # the coach's client is the institution's customer

    # 5. The coach imports a program: a malformed file is refused with each place, nothing
    # stored; then the real one.
    replies = await cole.upload(MALFORMED_FILE, filename="broken.yaml")
    errors = replies[-1].text
    assert "Nothing was saved" in errors
    assert "line 11, workouts[0].sets[0].exercise: unknown exercise sky hook squat" in errors
    assert "line 16, workouts[0].sets[1].reps" in errors  # reps: -5
    assert "line 18, days[0].day: day 9 is beyond the schedule (7 days)" in errors
    assert await programs_owned(harness, cole_id) == 0
    replies = await cole.upload(PROGRAM_FILE, filename="story.yaml")
    assert "Story Strength" in replies[-1].text
    assert await programs_owned(harness, cole_id) == 1

    # 6. ... and assigns it from the program's page, from yesterday (a wrong date first).
    replies = await cole.tap("📖 Open the program")
    assert "Story Strength" in replies[-1].text
    replies = await cole.tap("👥 Assign to a client")
    replies = await cole.tap("Ben")
    assert "When does it start" in replies[-1].text
    replies = await cole.send("someday")
    assert "Please send a date such as" in replies[-1].text
    today = dt.datetime.now(zoneinfo.ZoneInfo(PARIS)).date()
    replies = await cole.send((today - dt.timedelta(days=1)).isoformat())
    assert "Story Strength assigned to Ben" in replies[-1].text
    async with harness.session_factory() as session:
        notified = await session.scalar(
            select(Notification.variables)
            .join(NotificationType, NotificationType.id == Notification.notification_type_id)
            .where(Notification.user_id == ben_id, NotificationType.code == "PROGRAM_ASSIGNED")
        )
    assert notified is not None
    assert notified["program_title"] == "Story Strength"

    # Compliance before training: yesterday scheduled and missed.
    replies = await cole.send("/clients")
    assert "7 days: 0/1 (0%)" in roster_line(replies[-1].text, "Ben")

    # 7. The athlete sees it in /today and trains it.
    replies = await ben.send("/today")
    assert "Story Squat" in replies[-1].text
    replies = await ben.tap("▶ Start Story Squat")
    assert "Set 1/2 · Back Squat" in replies[-1].text
    assert "5 reps @ 60 kg" in replies[-1].text
    await ben.tap("✓ Done")
    replies = await ben.tap("✓ Done")
    replies = await ben.tap("■ Finish")
    assert any("Workout finished" in m.text for m in replies)
    replies = await ben.tap("3")
    assert "Any notes" in replies[-1].text

    # 8. The coach sees the compliance move and the session in the client's log.
    replies = await cole.send("/clients")
    assert "7 days: 1/2 (50%)" in roster_line(replies[-1].text, "Ben")
    assert "Last session: never" not in replies[-1].text
    await cole.tap("Ben")
    replies = await cole.tap("📒 Log")
    assert "Story Squat · 2 sets" in replies[-1].text
    await cole.send("/clients")
    await cole.tap("Ben")
    replies = await cole.tap("📈 Charts")
    assert any("Progress of Ben" in m.text for m in replies)
    assert [m.kind for m in replies].count("photo") >= 1

    # 9. The coach publishes version 2 (heavier): Ben keeps version 1 until the coach moves him.
    replies = await cole.upload(PROGRAM_FILE.replace(b"60 kg", b"70 kg"), filename="story.yaml")
    assert "Athletes already on this program keep their version" in replies[-1].text
    assert await followed_version(harness, ben_id) == 1
    await cole.send("/clients")
    replies = await cole.tap("Ben")
    replies = await cole.tap("⬆️ Move to version 2")
    assert "they now follow version 2, from the same start date" in replies[-1].text
    assert await followed_version(harness, ben_id) == 2
    assert "⬆️ Move to version 2" not in replies[-1].labels()
    assert ada_id != cole_id


async def followed_version(harness: Harness, user_id: uuid.UUID) -> int:
    async with harness.session_factory() as session:
        number = await session.scalar(
            select(ProgramVersion.version_number)
            .join(UserProgram, UserProgram.program_version_id == ProgramVersion.id)
            .where(UserProgram.user_id == user_id, UserProgram.is_active)
        )
    assert number is not None
    return int(number)
