"""Share links through the emulator: a coach shares a program with a message and a category →
gets a t.me link → the recipient opens it, sees the preview, saves and starts it (/today); a
third person opening the used link is refused; forged Save and Share buttons are refused;
/share lists the link and revokes it, after which it is refused; an expired workout link is
refused with nothing changed; a workout link's Start opens the guided session."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from bot.coach_callbacks import ShareNew
from bot.emulator.driver import BotMessage, EmulatedUser
from bot.handlers.sharing import ShareSave
from domain.access import Action, Actor, ResourceRef, authorize
from domain.models.lookup import Category
from domain.models.program import ProgramCategory
from domain.models.user import User, UserOwnership, UserProgramOwnership, UserShareInvite
from domain.services.link_tokens import digest
from domain.services.settings import set_user_setting
from tests.conversations.conftest import Harness
from tests.factories import SetSpec, make_program, make_workout

SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), rest=120)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)
LINK = re.compile(r"https://t\.me/\w+\?start=shr_([A-Za-z0-9_-]{43})")


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def join(harness: Harness, person: EmulatedUser) -> uuid.UUID:
    await person.send("/help")
    return await harness.user_id(person)


def token_in(message: BotMessage) -> str:
    found = LINK.search(message.text)
    assert found is not None, message.text
    return found.group(1)


def preview_of(replies: list[BotMessage]) -> BotMessage:
    """The preview among the replies (a newcomer also gets the onboarding question)."""
    return next(reply for reply in replies if "🔗" in reply.text)


async def share_row(harness: Harness, token: str) -> UserShareInvite:
    async with harness.session_factory() as session:
        row = await session.scalar(
            select(UserShareInvite).where(UserShareInvite.token == digest(token))
        )
        assert row is not None
        return row


async def kept_programs(harness: Harness, user_id: uuid.UUID) -> list[uuid.UUID]:
    async with harness.session_factory() as session:
        rows = await session.scalars(
            select(UserProgramOwnership.program_id)
            .join(UserOwnership, UserOwnership.id == UserProgramOwnership.id)
            .where(UserOwnership.user_id == user_id, UserOwnership.is_revoked.is_(False))
        )
        return list(rows.all())


async def can_read(harness: Harness, user_id: uuid.UUID, program_id: uuid.UUID) -> bool:
    async with harness.session_factory() as session:
        decision = await authorize(
            session, Actor(user_id), Action.READ, ResourceRef("PROGRAM", program_id)
        )
        return decision.allowed


async def test_share_a_program_open_save_used_up_forged_revoked(harness: Harness) -> None:
    cora = harness.user("cora")
    cora_id = await join(harness, cora)
    async with harness.session_factory() as session, session.begin():
        coach = await session.get(User, cora_id)
        assert coach is not None
        legs = await make_workout(session, cora_id, "Legs", [SQUAT, PLANK])
        core = await make_workout(session, cora_id, "Core", [PLANK])
        plan = await make_program(
            session,
            coach,
            start=dt.datetime.now(dt.UTC).date(),
            days={0: [legs], 2: [core, legs], 9: [core]},
            weeks=2,
            title="Strong base",
        )
        category = await session.scalar(
            select(Category).where(Category.type == "PROGRAM").order_by(Category.code).limit(1)
        )
        assert category is not None
        session.add(ProgramCategory(program_id=plan.program_id, category_id=category.id))
        program_id = plan.program_id

    # The Share button of the program view (programs feature), pressed.
    replies = await cora.press_data(ShareNew(kind="p", target_id=program_id).pack())
    assert "Share “Strong base”" in replies[-1].text
    replies = await cora.send("x" * 501)
    assert "Please keep the message under 500 characters." in replies[-1].text
    replies = await cora.send("Great plan, try it!")
    assert "categories" in replies[-1].text
    assert replies[-1].labels() == [f"☐ {category.name}", "✅ Create the link"]
    replies = await cora.tap(f"☐ {category.name}")
    assert cora.last is not None
    assert cora.last.labels() == [f"☑ {category.name}", "✅ Create the link"]
    replies = await cora.tap("✅ Create the link")
    token = token_in(replies[-1])
    assert "first one to open it gets it" in replies[-1].text
    row = await share_row(harness, token)
    assert (row.invited_by, row.program_id, row.message) == (
        cora_id,
        program_id,
        "Great plan, try it!",
    )
    assert row.accepted_by is None

    # The recipient opens it: the preview.
    ria = harness.user("ria")
    replies = await ria.open_link(f"shr_{token}")
    preview = preview_of(replies)
    ria_id = await harness.user_id(ria)
    assert "Cora shares a program with you." in preview.text
    assert "💬 “Great plan, try it!”" in preview.text
    assert "Strong base" in preview.text
    assert "2 weeks · workouts per week: 2" in preview.text
    assert "Day 1: Legs" in preview.text
    assert "Day 3: Core, Legs" in preview.text
    assert f"Categories: {category.name}" in preview.text
    assert preview.labels() == ["💾 Save", "▶ Start"]
    assert (await share_row(harness, token)).accepted_by == ria_id
    assert await can_read(harness, ria_id, program_id)

    # Someone else pressing Save of Ria's share (a forged callback) is refused.
    tom = harness.user("tom")
    tom_id = await join(harness, tom)
    replies = await tom.press_data(ShareSave(id=row.id.hex).pack())
    assert "not allowed" in replies[-1].text
    assert await kept_programs(harness, tom_id) == []

    # Nor may he share Cora's program himself (a forged Share button).
    replies = await tom.press_data(ShareNew(kind="p", target_id=program_id).pack())
    assert "not allowed" in replies[-1].text
    async with harness.session_factory() as session:
        assert not await session.scalar(
            select(func.count())
            .select_from(UserShareInvite)
            .where(UserShareInvite.invited_by == tom_id)
        )

    replies = await ria.tap("💾 Save", message=preview)
    assert "Saved" in replies[-1].text
    assert await kept_programs(harness, ria_id) == [program_id]

    # The link was for one person: Tom opening it is refused, nothing changes.
    replies = await tom.open_link(f"shr_{token}")
    assert "already opened by someone else" in replies[0].text
    assert (await share_row(harness, token)).accepted_by == ria_id
    assert not await can_read(harness, tom_id, program_id)

    # Ria opening it again sees the preview again, now saved.
    replies = await ria.open_link(f"shr_{token}")
    assert "It is in your library." in preview_of(replies).text

    # Start: she follows it from today (her time zone); /today shows day 1.
    replies = await ria.tap("▶ Start", message=preview)
    assert "You follow this program from today." in replies[-1].text
    replies = await ria.send("/today")
    assert "Legs" in replies[-1].text
    assert replies[-1].labels() == ["▶ Start Legs"]

    # Cora's list, then revoke.
    replies = await cora.send("/share")
    listing = replies[-1].text
    assert "Strong base" in listing
    assert "opened by Ria" in listing
    assert "Great plan, try it!" in listing
    replies = await cora.tap("🚫 Revoke 1")
    assert "Link revoked." in replies[-1].text
    assert "revoked" in replies[-1].text.split("Strong base", 1)[1]
    assert (await share_row(harness, token)).is_revoked
    replies = await ria.open_link(f"shr_{token}")
    assert "withdrawn by the person who sent it" in replies[0].text
    # Saved before the revocation: still hers, and still on her /today.
    assert await can_read(harness, ria_id, program_id)
    replies = await ria.send("/today")
    assert replies[-1].labels() == ["▶ Start Legs"]


async def test_an_expired_workout_link_and_a_workout_started_from_a_link(
    harness: Harness,
) -> None:
    max_ = harness.user("max")
    max_id = await join(harness, max_)
    async with harness.session_factory() as session, session.begin():
        pull = await make_workout(
            session, max_id, f"Pull {uuid.uuid4().hex[:6]}", [SQUAT, PLANK], estimated_seconds=1500
        )

    async def new_link() -> str:
        replies = await max_.press_data(ShareNew(kind="w", target_id=pull.id).pack())
        assert "Type a short message" in replies[-1].text
        replies = await max_.tap("Skip")
        return token_in(replies[-1])  # no categories: the link comes right away

    expired = await new_link()
    async with harness.session_factory() as session, session.begin():
        await session.execute(
            update(UserShareInvite)
            .where(UserShareInvite.token == digest(expired))
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        )
    eve = harness.user("eve")
    eve_id = await join(harness, eve)
    async with harness.session_factory() as session, session.begin():
        await set_user_setting(session, eve_id, "weight_unit", "lb")
    replies = await eve.send("/share")
    assert "You have not shared anything yet." in replies[-1].text
    replies = await eve.open_link(f"shr_{expired}")
    assert "This share link has expired." in replies[0].text
    assert (await share_row(harness, expired)).accepted_by is None
    # Max opening his own link is told so.
    fresh = await new_link()
    replies = await max_.open_link(f"shr_{fresh}")
    assert "This is your own share link" in replies[0].text
    replies = await eve.open_link(f"shr_{fresh}")
    preview = preview_of(replies)
    assert "Max shares a workout with you." in preview.text
    assert "about 25 min" in preview.text
    assert "• Back Squat: 3 × 5 @ 220.5 lb" in preview.text
    assert "• Plank: 2 × 1:00" in preview.text
    # Start: the guided session's own Start button.
    replies = await eve.tap("▶ Start", message=preview)
    assert "Set 1/" in replies[-1].text
    assert "Back Squat" in replies[-1].text
    async with harness.session_factory() as session:
        accepted = await session.scalar(
            select(func.count())
            .select_from(UserShareInvite)
            .where(UserShareInvite.invited_by == max_id, UserShareInvite.accepted_by == eve_id)
        )
    assert accepted == 1
