"""Client links and the coach-client relation against PostgreSQL: link → consent → ACTIVE (and
institution customer), decline, refused links (unknown, expired, revoked, used, own, rate
limited, already answered) that change nothing but the recorded failure, ending from either
side, and what the coach may read of the client (log, session, charts) with and without
consent — decided by the access engine."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize
from domain.errors import Conflict, InvalidInput, NotAllowed
from domain.models.access import Role, Visibility
from domain.models.audit import EventType, SecurityEvent, SystemEvent
from domain.models.enums import ResourceType
from domain.models.institution import Institution, InstitutionCustomer, InstitutionMember
from domain.models.training_log import LoggedSet, TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    User,
    UserRole,
)
from domain.services import coaching, link_tokens
from domain.services.link_tokens import LinkProblem, LinkRefused
from domain.services.settings import set_user_setting
from tests.factories import exercise_id, make_user

NOW = dt.datetime(2031, 3, 10, 12, tzinfo=dt.UTC)
STATUS = ProfessionalRelationStatus


# --------------------------------------------------------------------------------------------
# Builders shared by the coaching tests (assignments, compliance)
# --------------------------------------------------------------------------------------------


async def make_coach(
    session: AsyncSession, *, first_name: str = "Coach", role: str = "COACH"
) -> User:
    coach = await make_user(session, first_name=first_name)
    role_id = await session.scalar(
        select(Role.id).where(Role.code == role, Role.institution_id.is_(None))
    )
    assert role_id is not None
    session.add(UserRole(user_id=coach.id, role_id=role_id, updated_by=coach.id))
    await session.flush()
    return coach


async def make_gym(session: AsyncSession, *members: User) -> Institution:
    visibility = await session.scalar(
        select(Visibility.id).where(
            Visibility.resource_type == ResourceType.INSTITUTION, Visibility.is_default
        )
    )
    assert visibility is not None
    gym = Institution(name=f"Gym {uuid.uuid4().hex[:6]}", visibility_id=visibility)
    session.add(gym)
    await session.flush()
    for member in members:
        session.add(InstitutionMember(institution_id=gym.id, user_id=member.id))
    await session.flush()
    return gym


async def link(
    session: AsyncSession,
    coach: User,
    athlete: User,
    *,
    now: dt.datetime = NOW,
    scope: tuple[str, ...] | None = None,
    accept: bool = True,
) -> uuid.UUID:
    """The coach's link opened and answered by the athlete; the relation id."""
    issued = await coaching.create_client_link(session, coach_id=coach.id, now=now, scope=scope)
    request = await coaching.open_client_link(
        session, user_id=athlete.id, token=issued.token, now=now
    )
    await coaching.answer_client_link(
        session, user_id=athlete.id, relation_id=request.relation_id, accept=accept, now=now
    )
    return issued.relation_id


async def log_session(
    session: AsyncSession,
    user: User,
    at: dt.datetime,
    *,
    soreness: int | None = None,
    sets: tuple[tuple[int, str], ...] = ((5, "100"),),
) -> uuid.UUID:
    training = TrainingSession(
        user_id=user.id,
        started_at=at,
        finished_at=at + dt.timedelta(minutes=40),
        soreness=soreness,
        source=TrainingSessionSource.FREE_TEXT,
    )
    session.add(training)
    await session.flush()
    squat = await exercise_id(session, "back_squat")
    for index, (reps, load) in enumerate(sets):
        session.add(
            LoggedSet(
                session_id=training.id,
                user_id=user.id,
                exercise_id=squat,
                performed_at=at + dt.timedelta(minutes=index),
                set_index=index,
                reps=reps,
                load_kg=Decimal(load),
            )
        )
    await session.flush()
    return training.id


async def can_read_log(session: AsyncSession, coach: User, session_id: uuid.UUID) -> bool:
    decision = await authorize(
        session, Actor(coach.id), Action.READ, ResourceRef("TRAINING_LOG", session_id), now=NOW
    )
    return decision.allowed


async def relation_row(session: AsyncSession, relation_id: uuid.UUID) -> ProfessionalClientRelation:
    row = await session.get(ProfessionalClientRelation, relation_id)
    assert row is not None
    await session.refresh(row)
    return row


async def failures(session: AsyncSession, user: User) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(SecurityEvent)
        .join(EventType, EventType.id == SecurityEvent.event_type_id)
        .where(SecurityEvent.user_id == user.id, EventType.code == "LINK_REDEMPTION_FAILED")
    )
    return int(count or 0)


# --------------------------------------------------------------------------------------------
# Link and consent
# --------------------------------------------------------------------------------------------


async def test_accepting_a_link_makes_an_active_relation_the_coach_can_read_through(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session, first_name="Ivan")
    ada = await make_user(session, first_name="Ada")
    gym = await make_gym(session, coach)
    squat_day = await log_session(session, ada, NOW - dt.timedelta(days=1))
    assert not await can_read_log(session, coach, squat_day)

    issued = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    assert issued.scope == coaching.CONSENT_KEYS
    assert issued.institution_name == gym.name
    assert issued.expires_at == NOW + dt.timedelta(days=7)
    assert link_tokens.well_formed(issued.token)
    stored = await relation_row(session, issued.relation_id)
    # Only the digest is stored: the token itself is nowhere in the database.
    assert stored.invite_token == link_tokens.digest(issued.token) != issued.token
    assert stored.status is STATUS.PENDING
    assert stored.customer_id is None

    request = await coaching.open_client_link(session, user_id=ada.id, token=issued.token, now=NOW)
    assert request.coach_name == "Ivan"
    assert request.scope == coaching.CONSENT_KEYS
    assert request.institution_name == gym.name
    # Opening shows the consent screen: nothing is shared yet.
    assert not await can_read_log(session, coach, squat_day)
    # Opening it again before answering shows the same screen.
    again = await coaching.open_client_link(session, user_id=ada.id, token=issued.token, now=NOW)
    assert again.relation_id == request.relation_id

    answer = await coaching.answer_client_link(
        session, user_id=ada.id, relation_id=request.relation_id, accept=True, now=NOW
    )
    assert answer.accepted
    assert answer.coach.user_id == coach.id
    assert answer.coach.name == "Ivan"
    assert answer.client.name == "Ada"
    stored = await relation_row(session, issued.relation_id)
    assert stored.status is STATUS.ACTIVE
    assert stored.customer_id == ada.id
    assert stored.consented_at == NOW
    assert stored.institution_id == gym.id
    customers = (
        await session.scalars(
            select(InstitutionCustomer).where(InstitutionCustomer.relation_id == stored.id)
        )
    ).all()
    assert [(c.institution_id, c.user_id, c.is_active) for c in customers] == [
        (gym.id, ada.id, True)
    ]
    linked = await session.scalar(
        select(func.count())
        .select_from(SystemEvent)
        .join(EventType, EventType.id == SystemEvent.event_type_id)
        .where(SystemEvent.user_id == ada.id, EventType.code == "CLIENT_LINKED")
    )
    assert linked == 1
    assert await can_read_log(session, coach, squat_day)
    assert [view.name for view in await coaching.my_coaches(session, ada.id)] == ["Ivan"]
    assert await coaching.has_coach(session, ada.id)

    # The answered link, opened again: already done, nothing changes.
    with pytest.raises(LinkRefused) as refused:
        await coaching.open_client_link(session, user_id=ada.id, token=issued.token, now=NOW)
    assert refused.value.problem is LinkProblem.ALREADY_DONE
    with pytest.raises(LinkRefused) as refused:
        await coaching.answer_client_link(
            session, user_id=ada.id, relation_id=request.relation_id, accept=False, now=NOW
        )
    assert refused.value.problem is LinkProblem.ALREADY_DONE
    assert (await relation_row(session, issued.relation_id)).status is STATUS.ACTIVE
    # A second link of the same coach: already their client.
    second = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    with pytest.raises(LinkRefused) as refused:
        await coaching.open_client_link(session, user_id=ada.id, token=second.token, now=NOW)
    assert refused.value.problem is LinkProblem.ALREADY_DONE


async def test_declining_leaves_the_log_private_and_tells_who_declined(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    bo = await make_user(session, first_name="Bo")
    day = await log_session(session, bo, NOW - dt.timedelta(days=2))
    issued = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    request = await coaching.open_client_link(session, user_id=bo.id, token=issued.token, now=NOW)
    answer = await coaching.answer_client_link(
        session, user_id=bo.id, relation_id=request.relation_id, accept=False, now=NOW
    )
    assert not answer.accepted
    assert answer.client.name == "Bo"
    stored = await relation_row(session, issued.relation_id)
    assert stored.status is STATUS.DECLINED
    assert stored.declined_at == NOW
    assert not await can_read_log(session, coach, day)
    assert await coaching.my_coaches(session, bo.id) == []
    with pytest.raises(LinkRefused) as refused:
        await coaching.open_client_link(session, user_id=bo.id, token=issued.token, now=NOW)
    assert refused.value.problem is LinkProblem.ALREADY_DONE


async def test_refused_links_change_nothing_but_the_recorded_failure(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    cy = await make_user(session)
    dee = await make_user(session)
    expired = await coaching.create_client_link(
        session, coach_id=coach.id, now=NOW - dt.timedelta(days=8)
    )
    revoked = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    await coaching.end_relation(
        session, actor_id=coach.id, relation_id=revoked.relation_id, now=NOW
    )
    used = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    await coaching.open_client_link(session, user_id=dee.id, token=used.token, now=NOW)

    cases = [
        ("x" * 43, LinkProblem.UNKNOWN),
        ("short", LinkProblem.UNKNOWN),
        (expired.token, LinkProblem.EXPIRED),
        (revoked.token, LinkProblem.REVOKED),
        (used.token, LinkProblem.USED_UP),
    ]
    for count, (token, problem) in enumerate(cases, start=1):
        with pytest.raises(LinkRefused) as refused:
            await coaching.open_client_link(session, user_id=cy.id, token=token, now=NOW)
        assert refused.value.problem is problem, token
        assert await failures(session, cy) == count
    with pytest.raises(LinkRefused) as refused:
        await coaching.open_client_link(session, user_id=coach.id, token=used.token, now=NOW)
    assert refused.value.problem is LinkProblem.OWN_LINK
    for relation_id, status, customer in (
        (expired.relation_id, STATUS.PENDING, None),
        (revoked.relation_id, STATUS.ENDED, None),
        (used.relation_id, STATUS.PENDING, dee.id),
    ):
        row = await relation_row(session, relation_id)
        assert (row.status, row.customer_id) == (status, customer)
    # The one who opened it can answer; anyone else pressing its buttons is refused.
    with pytest.raises(NotAllowed):
        await coaching.answer_client_link(
            session, user_id=cy.id, relation_id=used.relation_id, accept=True, now=NOW
        )
    # An expired link cannot be answered either (opened in time, answered too late).
    late = await coaching.create_client_link(session, coach_id=coach.id, now=NOW)
    await coaching.open_client_link(session, user_id=cy.id, token=late.token, now=NOW)
    with pytest.raises(LinkRefused) as refused:
        await coaching.answer_client_link(
            session,
            user_id=cy.id,
            relation_id=late.relation_id,
            accept=True,
            now=NOW + dt.timedelta(days=8),
        )
    assert refused.value.problem is LinkProblem.EXPIRED
    assert (await relation_row(session, late.relation_id)).status is STATUS.PENDING

    # Rate limit: after MAX_FAILED_REDEMPTIONS failures even a good link waits (the events
    # are stamped by the database clock: this part runs at the real time).
    real_now = dt.datetime.now(dt.UTC)
    good = await coaching.create_client_link(session, coach_id=coach.id, now=real_now)
    while await failures(session, cy) < link_tokens.MAX_FAILED_REDEMPTIONS:
        with pytest.raises(LinkRefused):
            await coaching.open_client_link(session, user_id=cy.id, token="y" * 43, now=real_now)
    with pytest.raises(LinkRefused) as refused:
        await coaching.open_client_link(session, user_id=cy.id, token=good.token, now=real_now)
    assert refused.value.problem is LinkProblem.RATE_LIMITED
    assert (await relation_row(session, good.relation_id)).customer_id is None


async def test_only_professionals_create_links_and_scopes_are_checked(
    session: AsyncSession,
) -> None:
    athlete = await make_user(session)
    with pytest.raises(NotAllowed):
        await coaching.create_client_link(session, coach_id=athlete.id, now=NOW)
    assert not await coaching.may_invite_clients(session, athlete.id)
    physio = await make_coach(session, role="PHYSIOTHERAPIST")
    assert await coaching.may_invite_clients(session, physio.id)
    issued = await coaching.create_client_link(
        session, coach_id=physio.id, now=NOW, scope=("logs", "soreness")
    )
    row = await relation_row(session, issued.relation_id)
    assert row.relation_type.value == "PHYSIOTHERAPIST"
    assert row.consent_scope == {
        "logs": True,
        "charts": False,
        "soreness": True,
        "goals": False,
        "programs": False,
    }
    with pytest.raises(InvalidInput):
        await coaching.create_client_link(session, coach_id=physio.id, now=NOW, scope=("spy",))
    with pytest.raises(InvalidInput):
        await coaching.create_client_link(session, coach_id=physio.id, now=NOW, scope=())
    gym = await make_gym(session)
    with pytest.raises(NotAllowed):
        await coaching.create_client_link(
            session, coach_id=physio.id, now=NOW, institution_id=gym.id
        )


# --------------------------------------------------------------------------------------------
# Ending the relation; what the coach may read
# --------------------------------------------------------------------------------------------


async def test_the_athlete_ends_the_relation_and_the_coach_loses_the_log(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session, first_name="Ivan")
    ada = await make_user(session, first_name="Ada")
    gym = await make_gym(session, coach)
    day = await log_session(session, ada, NOW - dt.timedelta(days=1), soreness=3)
    relation_id = await link(session, coach, ada)
    page = await coaching.client_log(session, coach_id=coach.id, relation_id=relation_id)
    assert [item.id for item in page.sessions] == [day]
    assert page.sessions[0].set_count == 1
    assert page.sessions[0].exercises == ("Back Squat",)
    detail = await coaching.client_session_detail(
        session, coach_id=coach.id, relation_id=relation_id, session_id=day
    )
    assert [group.name for group in detail.exercises] == ["Back Squat"]
    assert detail.exercises[0].sets[0].reps == 5

    # Someone else cannot end it.
    stranger = await make_user(session)
    with pytest.raises(NotAllowed):
        await coaching.end_relation(session, actor_id=stranger.id, relation_id=relation_id, now=NOW)
    ended = await coaching.end_relation(session, actor_id=ada.id, relation_id=relation_id, now=NOW)
    assert not ended.by_professional
    assert ended.other is not None
    assert ended.other.user_id == coach.id
    assert ended.actor_name == "Ada"
    row = await relation_row(session, relation_id)
    assert (row.status, row.ended_at, row.ended_by) == (STATUS.ENDED, NOW, ada.id)
    active = await session.scalar(
        select(InstitutionCustomer.is_active).where(
            InstitutionCustomer.relation_id == relation_id,
            InstitutionCustomer.institution_id == gym.id,
        )
    )
    assert active is False
    assert not await can_read_log(session, coach, day)
    with pytest.raises(NotAllowed):
        await coaching.client_log(session, coach_id=coach.id, relation_id=relation_id)
    with pytest.raises(NotAllowed):
        await coaching.client_session_detail(
            session, coach_id=coach.id, relation_id=relation_id, session_id=day
        )
    with pytest.raises(Conflict):
        await coaching.end_relation(session, actor_id=ada.id, relation_id=relation_id, now=NOW)
    assert await coaching.my_coaches(session, ada.id) == []


async def test_the_coach_ends_the_relation(session: AsyncSession) -> None:
    coach = await make_coach(session, first_name="Ivan")
    bo = await make_user(session, first_name="Bo")
    day = await log_session(session, bo, NOW - dt.timedelta(days=1))
    relation_id = await link(session, coach, bo)
    assert await can_read_log(session, coach, day)
    ended = await coaching.end_relation(
        session, actor_id=coach.id, relation_id=relation_id, now=NOW
    )
    assert ended.by_professional
    assert ended.other is not None
    assert ended.other.user_id == bo.id
    assert not await can_read_log(session, coach, day)


async def test_without_consent_or_with_logs_hidden_the_coach_is_refused(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    cy = await make_user(session)
    day = await log_session(session, cy, NOW - dt.timedelta(days=1))
    relation_id = await link(session, coach, cy, scope=("programs", "soreness"))
    assert not await can_read_log(session, coach, day)
    with pytest.raises(NotAllowed):
        await coaching.client_log(session, coach_id=coach.id, relation_id=relation_id)
    with pytest.raises(NotAllowed):
        await coaching.client_session_detail(
            session, coach_id=coach.id, relation_id=relation_id, session_id=day
        )
    with pytest.raises(NotAllowed):
        await coaching.client_progress(session, coach_id=coach.id, relation_id=relation_id, now=NOW)

    dee = await make_user(session)
    dee_day = await log_session(session, dee, NOW - dt.timedelta(days=1), soreness=4)
    dee_relation = await link(session, coach, dee)
    name, _zone, report = await coaching.client_progress(
        session, coach_id=coach.id, relation_id=dee_relation, now=NOW
    )
    assert name == dee.first_name
    assert [point.soreness for point in report.data.soreness] == [Decimal(4)]
    # The client turns "coaches can see my logs" off: the engine hides the rows.
    await set_user_setting(session, dee.id, "coach_can_see_logs", False)
    assert not await can_read_log(session, coach, dee_day)
    with pytest.raises(NotAllowed):
        await coaching.client_log(session, coach_id=coach.id, relation_id=dee_relation)
    with pytest.raises(NotAllowed):
        await coaching.client_progress(
            session, coach_id=coach.id, relation_id=dee_relation, now=NOW
        )


async def test_forged_relation_and_session_ids_are_refused(session: AsyncSession) -> None:
    ivan = await make_coach(session)
    olga = await make_coach(session)
    ada = await make_user(session)
    bo = await make_user(session)
    ada_day = await log_session(session, ada, NOW - dt.timedelta(days=1))
    bo_day = await log_session(session, bo, NOW - dt.timedelta(days=1))
    ivan_ada = await link(session, ivan, ada)
    olga_bo = await link(session, olga, bo)
    # Olga presses buttons carrying Ivan's relation id.
    for call in (
        coaching.client_log(session, coach_id=olga.id, relation_id=ivan_ada),
        coaching.client_progress(session, coach_id=olga.id, relation_id=ivan_ada, now=NOW),
        coaching.client_session_detail(
            session, coach_id=olga.id, relation_id=ivan_ada, session_id=ada_day
        ),
        coaching.client_relation(session, coach_id=olga.id, relation_id=uuid.uuid4()),
    ):
        with pytest.raises(NotAllowed):
            await call
    # Her own relation with another client's session id (readable by nobody she follows).
    with pytest.raises(NotAllowed):
        await coaching.client_session_detail(
            session, coach_id=olga.id, relation_id=olga_bo, session_id=ada_day
        )
    # Ivan may read Ada's session, but not through Olga's relation with Bo.
    with pytest.raises(NotAllowed):
        await coaching.client_session_detail(
            session, coach_id=ivan.id, relation_id=olga_bo, session_id=bo_day
        )
    with pytest.raises(NotAllowed):
        await coaching.end_relation(session, actor_id=olga.id, relation_id=ivan_ada, now=NOW)
    assert (await relation_row(session, ivan_ada)).status is STATUS.ACTIVE
