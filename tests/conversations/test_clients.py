"""/invite, the client link and /clients through the emulator: a coach's link accepted by an
athlete (the coach is told), the roster, a program assigned with a start date (wrong dates
answered, the athlete notified and seeing it in /today), the client's log; a declined link;
the athlete ending the relation, after which the coach's buttons are refused; forged ids."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.emulator.driver import EmulatedUser
from bot.handlers.clients import ClientLog, ClientOpen
from bot.keyboards import short_id
from domain.models.notification import Notification, NotificationType
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    User,
)
from tests.conversations.conftest import Harness
from tests.factories import SetSpec, exercise_id, make_program, make_workout

LINK = re.compile(r"start=cli_([A-Za-z0-9_-]+)")


@pytest.fixture
async def harness(scripted_harness: Harness) -> Harness:
    return scripted_harness


async def invite(person: EmulatedUser) -> str:
    replies = await person.send("/invite")
    found = LINK.search(replies[-1].text)
    assert found is not None, replies[-1].text
    assert "🔗 Open the link" in replies[-1].labels()
    return "cli_" + found.group(1)


async def relation_of(harness: Harness, coach_id: uuid.UUID, client_id: uuid.UUID) -> uuid.UUID:
    async with harness.session_factory() as session:
        found = await session.scalar(
            select(ProfessionalClientRelation.id)
            .where(
                ProfessionalClientRelation.professional_id == coach_id,
                ProfessionalClientRelation.customer_id == client_id,
            )
            .order_by(ProfessionalClientRelation.created_at.desc())
        )
        assert found is not None
        return found


async def test_link_accept_roster_assign_log_then_the_athlete_ends_it(harness: Harness) -> None:
    ivan = harness.user("ivan")
    ada = harness.user("ada")
    mallory = harness.user("mallory")
    replies = await ivan.send("/invite")
    assert "Only coaches and therapists can invite clients" in replies[-1].text
    ivan_id = await harness.grant_role(ivan, "COACH")
    payload = await invite(ivan)

    replies = await ada.open_link(payload)
    consent = replies[-1].text
    assert "Ivan (coach) invites you to be their client." in consent
    assert "your training log" in consent
    assert "You can end this at any time" in consent
    ivan_mark = ivan.checkpoint()
    replies = await ada.tap("✅ Accept")
    assert "You are now a client of Ivan" in replies[0].text
    # Ada came through the link: after her answer, the welcome.
    assert "which language shall we speak?" in replies[-1].text
    told = ivan.outputs_since(ivan_mark)
    assert any("Ada accepted your client link" in message.text for message in told)
    ada_id = await harness.user_id(ada)
    relation_id = await relation_of(harness, ivan_id, ada_id)
    # The same link again: already answered.
    replies = await ada.open_link(payload)
    assert "You already answered this invitation" in replies[0].text

    # A program and a logged session, as the coach's library and the athlete's log hold them.
    today = dt.datetime.now(dt.UTC).date()
    async with harness.session_factory() as session, session.begin():
        coach = await session.get(User, ivan_id)
        assert coach is not None
        legs = await make_workout(
            session, ivan_id, "Leg day", [SetSpec("back_squat", sets=3, reps=5)]
        )
        await make_workout(session, ivan_id, "Arm day", [SetSpec("barbell_curl", sets=3, reps=10)])
        await make_program(
            session,
            coach,
            start=today,
            days={day: [legs] for day in range(7)},
            title="Ivan's block",
        )
        at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
        training = TrainingSession(
            user_id=ada_id, started_at=at, finished_at=at, source=TrainingSessionSource.FREE_TEXT
        )
        session.add(training)
        await session.flush()
        session.add(
            LoggedSet(
                session_id=training.id,
                user_id=ada_id,
                exercise_id=await exercise_id(session, "back_squat"),
                performed_at=at,
                set_index=0,
                reps=5,
                load_kg=Decimal(80),
            )
        )

    replies = await ivan.send("/clients")
    assert "Ada" in replies[-1].text
    assert "7 days: 0/0" not in replies[-1].text
    assert "Last session:" in replies[-1].text
    replies = await ivan.tap("Ada")
    assert "📒 Log" in replies[-1].labels()
    replies = await ivan.tap("📒 Log")
    assert "Log of Ada" in replies[-1].text
    assert "Back Squat" in replies[-1].text
    await ivan.tap("⬅️ Back")

    replies = await ivan.tap("📋 Assign a program")
    assert "Which program?" in replies[-1].text
    replies = await ivan.tap("Ivan's block")
    assert "When does it start" in replies[-1].text
    for wrong, answer in (
        ("someday", "Please send a date such as"),
        ((today - dt.timedelta(days=30)).isoformat(), "more than a week in the past"),
        ((today + dt.timedelta(days=800)).isoformat(), "more than a year away"),
    ):
        replies = await ivan.send(wrong)
        assert answer in replies[-1].text, wrong
    replies = await ivan.tap("Today")
    assert "Ivan's block assigned to Ada" in replies[-1].text
    assert "They have been notified" in replies[-1].text
    async with harness.session_factory() as session:
        planned = await session.scalar(
            select(Notification.variables)
            .join(NotificationType, NotificationType.id == Notification.notification_type_id)
            .where(Notification.user_id == ada_id, NotificationType.code == "PROGRAM_ASSIGNED")
        )
    assert planned is not None
    assert planned["program_title"] == "Ivan's block"
    replies = await ada.send("/today")
    assert "Leg day" in replies[-1].text
    # The coach swaps today's workout for another of theirs: the athlete's /today follows.
    replies = await ivan.tap("📅 Their day")
    assert "Leg day" in replies[-1].text
    replies = await ivan.tap("🔁 Swap Leg day")
    assert "Which workout?" in replies[-1].text
    replies = await ivan.tap("Arm day")
    assert replies[-1].text.startswith("Saved.")
    assert "Arm day" in replies[-1].text
    assert "Leg day" not in replies[-1].text
    replies = await ada.send("/today")
    assert "Arm day" in replies[-1].text

    # Another coach pressing buttons with Ada's relation id.
    await mallory.send("/clients")
    await harness.grant_role(mallory, "COACH")
    await mallory.send("/clients")
    for data in (
        ClientOpen(r=short_id(relation_id)).pack(),
        ClientLog(r=short_id(relation_id)).pack(),
    ):
        replies = await mallory.press_data(data)
        assert replies[-1].text == "Sorry, you are not allowed to do that.", data

    # Ada ends the relation from "My coaches"; Ivan is told and loses the log.
    replies = await ada.send("/clients")
    assert "Your coaches" in replies[-1].text
    assert "Ivan" in replies[-1].text
    await ada.tap("End with Ivan")
    ivan_mark = ivan.checkpoint()
    replies = await ada.tap("Yes, end it")
    assert "Ivan no longer sees anything of yours" in replies[-1].text
    assert any(
        "Ada ended your coaching relation" in message.text
        for message in ivan.outputs_since(ivan_mark)
    )
    async with harness.session_factory() as session:
        relation = await session.get(ProfessionalClientRelation, relation_id)
        assert relation is not None
        assert relation.status is ProfessionalRelationStatus.ENDED
        assert relation.ended_by == ada_id
    replies = await ivan.press_data(ClientLog(r=short_id(relation_id)).pack())
    assert replies[-1].text == "Sorry, you are not allowed to do that."
    replies = await ivan.send("/clients")
    assert "You have no client yet" in replies[-1].text


async def test_a_declined_link_and_refused_links(harness: Harness) -> None:
    olga = harness.user("olga")
    bo = harness.user("bo")
    await olga.send("/clients")
    olga_id = await harness.grant_role(olga, "COACH")
    payload = await invite(olga)
    replies = await olga.open_link(payload)
    assert "This is your own client link" in replies[0].text
    replies = await bo.open_link("cli_" + "x" * 43)
    assert "This client link is not valid" in replies[0].text
    replies = await bo.open_link(payload)
    assert "Olga (coach) invites you" in replies[-1].text
    mark = olga.checkpoint()
    replies = await bo.tap("❌ Decline")
    assert "You declined" in replies[0].text
    assert any("Bo declined your client link" in m.text for m in olga.outputs_since(mark))
    replies = await bo.open_link(payload)
    assert "You already answered this invitation" in replies[0].text
    async with harness.session_factory() as session:
        status = await session.scalar(
            select(ProfessionalClientRelation.status).where(
                ProfessionalClientRelation.professional_id == olga_id
            )
        )
    assert status is ProfessionalRelationStatus.DECLINED
    replies = await bo.send("/clients")
    assert "You have no coach yet" in replies[-1].text


async def test_a_coach_in_two_institutions_chooses_which_one_the_client_joins(
    harness: Harness,
) -> None:
    from bot.handlers.clients import InviteNew
    from domain.models.institution import InstitutionCustomer
    from domain.services.institutions import create_institution

    nadia = harness.user("nadia")
    tom = harness.user("tom")
    eve = harness.user("eve")
    await nadia.send("/clients")
    await eve.send("/clients")
    nadia_id = await harness.grant_role(nadia, "COACH")
    eve_id = await harness.grant_role(eve, "COACH")
    async with harness.session_factory() as session, session.begin():
        north = await create_institution(session, nadia_id, "North Gym")
        await create_institution(session, nadia_id, "South Clinic")
        elsewhere = await create_institution(session, eve_id, "Eve's Studio")

    replies = await nadia.send("/invite")
    assert "Which of your institutions will this client join?" in replies[-1].text
    assert replies[-1].labels() == ["North Gym", "South Clinic", "None: I coach them on my own"]
    # A forged choice: an institution Nadia is not a member of. Refused, no link made.
    replies = await nadia.press_data(InviteNew(i=short_id(elsewhere)).pack())
    assert "not allowed" in replies[-1].text
    replies = await nadia.press_data(InviteNew(i="tampered").pack())
    assert "not allowed" in replies[-1].text
    async with harness.session_factory() as session:
        made = await session.scalar(
            select(ProfessionalClientRelation.id).where(
                ProfessionalClientRelation.professional_id == nadia_id
            )
        )
    assert made is None

    replies = await nadia.tap("North Gym")
    assert "They will also become a customer of North Gym." in replies[-1].text
    # Narrowing the consent keeps the institution chosen.
    replies = await nadia.tap("Ask only for the log and programs")
    link = replies[-1].text
    assert "They will also become a customer of North Gym." in link
    found = LINK.search(link)
    assert found is not None
    replies = await tom.open_link("cli_" + found.group(1))
    assert "North Gym" in replies[-1].text
    await tom.tap("✅ Accept")
    tom_id = await harness.user_id(tom)
    async with harness.session_factory() as session:
        joined = await session.scalar(
            select(InstitutionCustomer.institution_id).where(InstitutionCustomer.user_id == tom_id)
        )
    assert joined == north

    # On their own: no institution in the link.
    await nadia.send("/invite")
    replies = await nadia.tap("None: I coach them on my own")
    assert "Send this link to your athlete" in replies[-1].text
    assert "customer of" not in replies[-1].text
