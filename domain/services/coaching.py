"""A professional (coach, physiotherapist) and their clients: the client link ``cli_<token>``,
the athlete's consent, ending the relation from either side, and what the coach may then do
for one client (read the log and charts, assign a program, change a day of the schedule).

The relation (USER_PROFESSIONAL_CUSTOMER_RELATION) lives like this:

* PENDING, no customer: the coach created a link (token stored hashed, 7-day expiry, the
  consent keys the coach asks for in ``consent_scope``).
* PENDING, customer set: the athlete opened the link and sees the consent screen (the link is
  theirs from now on: nobody else can use it).
* ACTIVE on "Accept" (``consented_at``), DECLINED on "Decline" (``declined_at``).
* ENDED when either side ends it (``ended_at``, ``ended_by``); a coach ending a PENDING link
  revokes it.

Consent keys: ``logs`` (read the training log), ``charts`` (progress charts), ``soreness``
(soreness in the roster), ``goals`` (read goals), ``programs`` (assign programs and change days).
The access engine reads ``logs``/``goals``/``programs`` for row access (docs/access.md); this
module checks ``charts``, ``soreness`` and ``programs`` for what is not a row of the engine.

Every function taking a ``relation_id`` that came from a button re-checks that the relation is
the actor's (``NotAllowed`` otherwise): ids in callback data are never trusted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column, select, text, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Action, Actor, ResourceRef, literal_limit, require, visible
from domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from domain.models.audit import EventTypeCode
from domain.models.exercise import Exercise
from domain.models.institution import Institution, InstitutionCustomer, InstitutionMember
from domain.models.program import Program, ProgramVersion
from domain.models.training_log import LoggedSet, TrainingSession
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    ProfessionalRelationType,
    ScheduleOverrideAction,
    User,
    UserProgram,
)
from domain.models.workout import Workout
from domain.services import assignments, link_tokens
from domain.services.audit import record_system_event
from domain.services.compliance import ClientCompliance, RosterPage, client_compliance, roster

# History's SQL pieces: the coach sees a client's session exactly as the athlete does.
from domain.services.history import SessionDetail, session_detail
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused
from domain.services.progress import ProgressReport, progress_report
from domain.services.schedule_day import ScheduledWorkout, workouts_on
from domain.services.today import local_date_of
from domain.services.training_log import exercise_name

CONSENT_KEYS: tuple[str, ...] = ("logs", "charts", "soreness", "goals", "programs")
INVITE_VALIDITY = dt.timedelta(days=7)
# Roles whose holders may create client links; checked through the permission itself.
LINK_PERMISSION = ("CLIENT_RELATION", "INVITE")
# A coach may start an assignment at most this far in the past (catching up a week) or future.
START_PAST_DAYS = 7
START_FUTURE_DAYS = 366
LOG_PAGE_SIZE = 8
PICK_PAGE_SIZE = 8
STATUS = ProfessionalRelationStatus


@dataclass(frozen=True, slots=True)
class Person:
    """Someone to notify: the bot writes to ``telegram_user_id`` in ``locale``."""

    user_id: uuid.UUID
    telegram_user_id: int | None
    locale: str
    name: str


def _name(user: User) -> str:
    return " ".join(part for part in (user.first_name, user.last_name) if part)


def _person(user: User) -> Person:
    return Person(user.id, user.telegram_user_id, user.locale, _name(user))


def _scope_keys(scope: dict[str, Any]) -> tuple[str, ...]:
    return tuple(key for key in CONSENT_KEYS if scope.get(key) is True)


def consents(relation: ProfessionalClientRelation, key: str) -> bool:
    return relation.consent_scope.get(key) is True


# --------------------------------------------------------------------------------------------
# Who may create client links
# --------------------------------------------------------------------------------------------

_MAY_INVITE = text(
    """
    WITH RECURSIVE held AS (
        SELECT r.id, r.parent_role_id FROM user_role AS ur
        JOIN role AS r ON r.id = ur.role_id AND r.is_active
        WHERE ur.user_id = :user_id AND ur.is_active
        UNION
        SELECT r.id, r.parent_role_id FROM institution_member AS m
        JOIN institution AS i ON i.id = m.institution_id AND i.is_active
        JOIN institution_member_role AS mr ON mr.institution_member_id = m.id AND mr.is_active
        JOIN role AS r ON r.id = mr.role_id AND r.is_active
        WHERE m.user_id = :user_id AND m.is_active
        UNION
        SELECT parent.id, parent.parent_role_id FROM held
        JOIN role AS parent ON parent.id = held.parent_role_id AND parent.is_active
    )
    SELECT EXISTS (
        SELECT 1 FROM held
        JOIN role_permission AS rp ON rp.role_id = held.id AND rp.is_active
        JOIN permission AS p ON p.id = rp.permission_id
        WHERE p.resource = :resource AND p.action IN (:action, 'MANAGE')
    ) OR EXISTS (
        SELECT 1 FROM user_permission AS up
        JOIN permission AS p ON p.id = up.permission_id
        WHERE up.user_id = :user_id AND up.is_active
          AND p.resource = :resource AND p.action IN (:action, 'MANAGE')
    )
    """
)


async def may_invite_clients(session: AsyncSession, user_id: uuid.UUID) -> bool:
    """The user holds ``*.CLIENT_RELATION.INVITE`` through a role (with inheritance, platform
    or active institution role) or directly: COACH, PHYSIOTHERAPIST, ADMIN in the seed."""
    resource, action = LINK_PERMISSION
    found = await session.scalar(
        _MAY_INVITE, {"user_id": user_id, "resource": resource, "action": action}
    )
    return bool(found)


async def _relation_type(session: AsyncSession, user_id: uuid.UUID) -> ProfessionalRelationType:
    from domain.services.users import role_codes

    codes = await role_codes(session, user_id)
    if "PHYSIOTHERAPIST" in codes and not codes & {"COACH", "ADMIN"}:
        return ProfessionalRelationType.PHYSIOTHERAPIST
    if "TRAINER" in codes and not codes & {"COACH", "ADMIN"}:
        return ProfessionalRelationType.TRAINER
    return ProfessionalRelationType.COACH


async def coach_institutions(
    session: AsyncSession, user_id: uuid.UUID
) -> list[tuple[uuid.UUID, str]]:
    """The active institutions ``user_id`` is an active member of (id, name), by name: those a
    client link may make the client a customer of."""
    rows = await session.execute(
        select(Institution.id, Institution.name)
        .join(InstitutionMember, InstitutionMember.institution_id == Institution.id)
        .where(
            InstitutionMember.user_id == user_id, InstitutionMember.is_active, Institution.is_active
        )
        .order_by(Institution.name)
    )
    return [(row[0], row[1]) for row in rows]


# --------------------------------------------------------------------------------------------
# The client link
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientLink:
    relation_id: uuid.UUID
    token: str  # shown once, in the link
    expires_at: dt.datetime
    scope: tuple[str, ...]
    institution_name: str | None


async def create_client_link(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    now: dt.datetime,
    scope: Iterable[str] | None = None,
    institution_id: uuid.UUID | None = None,
) -> ClientLink:
    """A new PENDING relation with a link token. ``scope``: the consent keys asked for (all
    by default). The client becomes a customer of ``institution_id`` (one of the coach's active
    institutions), or of the coach's only institution when none is given."""
    if not await may_invite_clients(session, coach_id):
        raise NotAllowed("only coaches and therapists create client links", rule="not_a_coach")
    asked = (
        tuple(CONSENT_KEYS) if scope is None else tuple(k for k in CONSENT_KEYS if k in set(scope))
    )
    unknown = set(scope or ()) - set(CONSENT_KEYS)
    if not asked or unknown:
        raise InvalidInput("unknown or empty consent scope", rule="scope", unknown=sorted(unknown))
    institutions = await coach_institutions(session, coach_id)
    institution: tuple[uuid.UUID, str] | None = None
    if institution_id is not None:
        institution = next((found for found in institutions if found[0] == institution_id), None)
        if institution is None:
            raise NotAllowed("not a member of that institution", rule="not_member")
    elif len(institutions) == 1:
        institution = institutions[0]
    issued = link_tokens.issue()
    relation = ProfessionalClientRelation(
        professional_id=coach_id,
        institution_id=None if institution is None else institution[0],
        relation_type=await _relation_type(session, coach_id),
        status=STATUS.PENDING,
        invite_token=issued.stored,
        invite_expires_at=now + INVITE_VALIDITY,
        consent_scope={key: key in asked for key in CONSENT_KEYS},
    )
    session.add(relation)
    await session.flush()
    await record_system_event(
        session,
        EventTypeCode.INVITE_SENT,
        user_id=coach_id,
        payload={"link": LinkKind.CLIENT.value, "relation_id": str(relation.id)},
    )
    return ClientLink(
        relation.id,
        issued.token,
        now + INVITE_VALIDITY,
        asked,
        None if institution is None else institution[1],
    )


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """What the consent screen shows."""

    relation_id: uuid.UUID
    coach_name: str
    relation_type: ProfessionalRelationType
    scope: tuple[str, ...]
    institution_name: str | None
    expires_at: dt.datetime | None


async def _by_token(session: AsyncSession, token: str) -> ProfessionalClientRelation | None:
    if not link_tokens.well_formed(token):
        return None
    relation = await session.scalar(
        select(ProfessionalClientRelation)
        .where(ProfessionalClientRelation.invite_token == link_tokens.digest(token))
        .with_for_update()
    )
    if relation is None or relation.invite_token is None:
        return None
    return relation if link_tokens.matches(relation.invite_token, token) else None


async def _institution_name(session: AsyncSession, institution_id: uuid.UUID | None) -> str | None:
    if institution_id is None:
        return None
    name: str | None = await session.scalar(
        select(Institution.name).where(Institution.id == institution_id)
    )
    return name


async def open_client_link(
    session: AsyncSession, *, user_id: uuid.UUID, token: str, now: dt.datetime
) -> ConsentRequest:
    """The athlete opened ``cli_<token>``: the link becomes theirs (``customer_id``) and the
    consent screen is returned. ``LinkRefused`` (nothing changed but a recorded failure) for an
    unknown, expired, revoked, used or own link; ALREADY_DONE when they answered it already or
    already follow this coach."""
    await link_tokens.check_rate(session, user_id, now)
    relation = await _by_token(session, token)

    async def refused(problem: LinkProblem) -> LinkRefused:
        return await link_tokens.refuse(session, user_id, LinkKind.CLIENT, problem)

    if relation is None:
        raise await refused(LinkProblem.UNKNOWN)
    if relation.professional_id == user_id:
        raise await refused(LinkProblem.OWN_LINK)
    if relation.customer_id == user_id and relation.status is not STATUS.PENDING:
        raise LinkRefused(LinkProblem.ALREADY_DONE)
    if relation.customer_id is not None and relation.customer_id != user_id:
        raise await refused(LinkProblem.USED_UP)
    if relation.status is not STATUS.PENDING:
        raise await refused(LinkProblem.REVOKED)
    if relation.invite_expires_at is not None and relation.invite_expires_at <= now:
        raise await refused(LinkProblem.EXPIRED)
    others = (
        await session.scalars(
            select(ProfessionalClientRelation)
            .where(
                ProfessionalClientRelation.professional_id == relation.professional_id,
                ProfessionalClientRelation.customer_id == user_id,
                ProfessionalClientRelation.status.in_([STATUS.PENDING, STATUS.ACTIVE]),
                ProfessionalClientRelation.id != relation.id,
            )
            .with_for_update()
        )
    ).all()
    if any(other.status is STATUS.ACTIVE for other in others):
        raise LinkRefused(LinkProblem.ALREADY_DONE)
    for other in others:  # an older link of the same coach left unanswered: superseded
        other.status = STATUS.ENDED
        other.ended_at = now
        other.ended_by = user_id
    await session.flush()
    relation.customer_id = user_id
    await session.flush()
    coach = await session.get(User, relation.professional_id)
    assert coach is not None
    return ConsentRequest(
        relation.id,
        _name(coach),
        relation.relation_type,
        _scope_keys(relation.consent_scope),
        await _institution_name(session, relation.institution_id),
        relation.invite_expires_at,
    )


@dataclass(frozen=True, slots=True)
class LinkAnswer:
    relation_id: uuid.UUID
    accepted: bool
    coach: Person
    client: Person
    scope: tuple[str, ...]


async def answer_client_link(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    relation_id: uuid.UUID,
    accept: bool,
    now: dt.datetime,
) -> LinkAnswer:
    """Accept (ACTIVE; the client becomes a customer of the relation's institution while it
    lasts) or decline (DECLINED) a link the athlete opened."""
    relation = await session.get(ProfessionalClientRelation, relation_id, with_for_update=True)
    if relation is None:
        raise NotFound(f"relation {relation_id}", relation_id=relation_id)
    if relation.customer_id != user_id:
        raise NotAllowed("not your link", relation_id=str(relation_id))
    if relation.status is not STATUS.PENDING:
        raise LinkRefused(LinkProblem.ALREADY_DONE)
    if relation.invite_expires_at is not None and relation.invite_expires_at <= now:
        raise await link_tokens.refuse(session, user_id, LinkKind.CLIENT, LinkProblem.EXPIRED)
    if accept:
        relation.status = STATUS.ACTIVE
        relation.consented_at = now
        if relation.institution_id is not None:
            session.add(
                InstitutionCustomer(
                    institution_id=relation.institution_id,
                    relation_id=relation.id,
                    user_id=user_id,
                    linked_at=now,
                )
            )
        await record_system_event(
            session,
            EventTypeCode.CLIENT_LINKED,
            user_id=user_id,
            payload={
                "relation_id": str(relation.id),
                "professional_id": str(relation.professional_id),
            },
        )
    else:
        relation.status = STATUS.DECLINED
        relation.declined_at = now
    await session.flush()
    coach = await session.get(User, relation.professional_id)
    client = await session.get(User, user_id)
    assert coach is not None
    assert client is not None
    return LinkAnswer(
        relation.id, accept, _person(coach), _person(client), _scope_keys(relation.consent_scope)
    )


@dataclass(frozen=True, slots=True)
class EndedRelation:
    relation_id: uuid.UUID
    by_professional: bool
    actor_name: str
    other: Person | None  # None: a link nobody had opened


async def end_relation(
    session: AsyncSession, *, actor_id: uuid.UUID, relation_id: uuid.UUID, now: dt.datetime
) -> EndedRelation:
    """Either side ends an ACTIVE relation (the coach may also revoke a PENDING link): ENDED,
    the institution customer link ends with it. Assigned programs stay with the athlete."""
    relation = await session.get(ProfessionalClientRelation, relation_id, with_for_update=True)
    if relation is None:
        raise NotFound(f"relation {relation_id}", relation_id=relation_id)
    by_professional = relation.professional_id == actor_id
    if not by_professional and relation.customer_id != actor_id:
        raise NotAllowed("not your relation", relation_id=str(relation_id))
    allowed = [STATUS.ACTIVE, STATUS.PENDING] if by_professional else [STATUS.ACTIVE]
    if relation.status not in allowed:
        raise Conflict("this relation has already ended", rule="already_ended")
    relation.status = STATUS.ENDED
    relation.ended_at = now
    relation.ended_by = actor_id
    await session.execute(
        update(InstitutionCustomer)
        .where(InstitutionCustomer.relation_id == relation.id, InstitutionCustomer.is_active)
        .values(is_active=False)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    actor = await session.get(User, actor_id)
    assert actor is not None
    other_id = relation.customer_id if by_professional else relation.professional_id
    other = None if other_id is None else await session.get(User, other_id)
    return EndedRelation(
        relation.id, by_professional, _name(actor), None if other is None else _person(other)
    )


@dataclass(frozen=True, slots=True)
class CoachView:
    relation_id: uuid.UUID
    name: str
    relation_type: ProfessionalRelationType
    scope: tuple[str, ...]
    since: dt.datetime | None
    institution_name: str | None


async def my_coaches(session: AsyncSession, user_id: uuid.UUID) -> list[CoachView]:
    """The athlete's ACTIVE relations, oldest first."""
    rows = await session.execute(
        select(ProfessionalClientRelation, User, Institution.name)
        .join(User, User.id == ProfessionalClientRelation.professional_id)
        .outerjoin(Institution, Institution.id == ProfessionalClientRelation.institution_id)
        .where(
            ProfessionalClientRelation.customer_id == user_id,
            ProfessionalClientRelation.status == STATUS.ACTIVE,
        )
        .order_by(ProfessionalClientRelation.consented_at, ProfessionalClientRelation.id)
    )
    return [
        CoachView(
            relation.id,
            _name(coach),
            relation.relation_type,
            _scope_keys(relation.consent_scope),
            relation.consented_at,
            institution,
        )
        for relation, coach, institution in rows.all()
    ]


async def my_coach(
    session: AsyncSession, *, user_id: uuid.UUID, relation_id: uuid.UUID
) -> CoachView:
    for view in await my_coaches(session, user_id):
        if view.relation_id == relation_id:
            return view
    raise NotAllowed("not your coach", relation_id=str(relation_id))


async def has_coach(session: AsyncSession, user_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(ProfessionalClientRelation.id)
        .where(
            ProfessionalClientRelation.customer_id == user_id,
            ProfessionalClientRelation.status == STATUS.ACTIVE,
        )
        .limit(1)
    )
    return found is not None


# --------------------------------------------------------------------------------------------
# One client, seen by their coach
# --------------------------------------------------------------------------------------------


async def client_relation(
    session: AsyncSession, *, coach_id: uuid.UUID, relation_id: uuid.UUID
) -> tuple[ProfessionalClientRelation, User]:
    """The coach's ACTIVE relation and its client; NotAllowed for anyone else's or an ended
    one (a forged or stale button)."""
    row = (
        await session.execute(
            select(ProfessionalClientRelation, User)
            .join(User, User.id == ProfessionalClientRelation.customer_id)
            .where(ProfessionalClientRelation.id == relation_id)
        )
    ).one_or_none()
    if row is None:
        raise NotAllowed("unknown relation", relation_id=str(relation_id))
    relation, client = row
    if relation.professional_id != coach_id or relation.status is not STATUS.ACTIVE:
        raise NotAllowed("not an active client of yours", relation_id=str(relation_id))
    return relation, client


@dataclass(frozen=True, slots=True)
class ClientSession:
    id: uuid.UUID
    started_at: dt.datetime
    workout_name: str | None
    set_count: int
    exercises: tuple[str, ...]
    soreness: int | None


@dataclass(frozen=True, slots=True)
class ClientLogPage:
    client_name: str
    timezone: str
    page: int
    sessions: list[ClientSession]
    has_next: bool


async def _require_logs(
    session: AsyncSession, coach_id: uuid.UUID, relation: ProfessionalClientRelation
) -> None:
    """The coach may read this client's log: consent ``logs``, and the access engine agrees
    (it also honours the client's ``coach_can_see_logs``): when the client has sessions, at
    least one of them is visible to the coach."""
    if not consents(relation, "logs"):
        raise NotAllowed("the client did not share their log", rule="no_consent")
    assert relation.customer_id is not None
    owned = TrainingSession.user_id == relation.customer_id
    counts = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(visible(Actor(coach_id), "TRAINING_LOG")),
            ).where(owned)
        )
    ).one()
    if counts[0] and not counts[1]:
        raise NotAllowed("the client hides their log", rule="hidden")


async def client_log(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    page: int = 0,
    locale: str = "en",
) -> ClientLogPage:
    """A page of the client's sessions, newest first: only rows the access engine lets the
    coach read (``visible`` in SQL)."""
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    await _require_logs(session, coach_id, relation)
    page = min(max(page, 0), 10_000)
    listed = (
        select(
            TrainingSession.id, TrainingSession.started_at, TrainingSession.soreness, Workout.name
        )
        .outerjoin(Workout, Workout.id == TrainingSession.workout_id)
        .where(TrainingSession.user_id == client.id, visible(Actor(coach_id), "TRAINING_LOG"))
        .order_by(TrainingSession.started_at.desc(), TrainingSession.id.desc())
        .limit(literal_limit(LOG_PAGE_SIZE + 1))
        .offset(page * LOG_PAGE_SIZE)
    )
    heads = (await session.execute(listed)).all()
    ids = [row[0] for row in heads[:LOG_PAGE_SIZE]]
    sets: dict[uuid.UUID, tuple[int, list[str]]] = {session_id: (0, []) for session_id in ids}
    if ids:
        rows = await session.execute(
            select(LoggedSet.session_id, exercise_name(locale), func.count())
            .join(Exercise, Exercise.id == LoggedSet.exercise_id)
            .where(LoggedSet.session_id.in_(ids), LoggedSet.user_id == client.id)
            .group_by(LoggedSet.session_id, Exercise.id)
            .order_by(LoggedSet.session_id, func.min(LoggedSet.performed_at))
        )
        for session_id, name, count in rows.all():
            total, names = sets[session_id]
            names.append(name)
            sets[session_id] = (total + int(count), names)
    return ClientLogPage(
        _name(client),
        client.timezone,
        page,
        [
            ClientSession(row[0], row[1], row[3], sets[row[0]][0], tuple(sets[row[0]][1]), row[2])
            for row in heads[:LOG_PAGE_SIZE]
        ],
        len(heads) > LOG_PAGE_SIZE,
    )


async def client_session_detail(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    session_id: uuid.UUID,
    locale: str = "en",
) -> SessionDetail:
    """One session of the client with its sets: the relation is re-checked, then the access
    engine decides on the TRAINING_LOG row (a refusal is recorded); a session of someone
    else than this client is NotFound (a forged pair of ids)."""
    _relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    return await session_detail(session, coach_id, session_id, owner_id=client.id, locale=locale)


async def client_progress(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    now: dt.datetime,
    locale: str = "en",
) -> tuple[str, str, ProgressReport]:
    """The client's /progress data (client name, their time zone, the report). Charts are
    made of the log: consent ``charts`` AND the log access of ``_require_logs``."""
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    if not consents(relation, "charts"):
        raise NotAllowed("the client did not share their charts", rule="no_consent")
    await _require_logs(session, coach_id, relation)
    report = await progress_report(
        session, client.id, timezone=client.timezone, now=now, locale=locale
    )
    return _name(client), client.timezone, report


# --------------------------------------------------------------------------------------------
# Programs and days
# --------------------------------------------------------------------------------------------


def _require_programs(relation: ProfessionalClientRelation) -> None:
    if not consents(relation, "programs"):
        raise NotAllowed("the client did not agree to programs", rule="no_consent")


@dataclass(frozen=True, slots=True)
class Pick:
    id: uuid.UUID
    name: str
    mine: bool


@dataclass(frozen=True, slots=True)
class PickPage:
    items: list[Pick]
    page: int
    has_next: bool


async def assignable_programs(
    session: AsyncSession, *, coach_id: uuid.UUID, page: int = 0
) -> PickPage:
    """Programs the coach may read (``visible`` in SQL) that have a schedule, own first."""
    page = min(max(page, 0), 10_000)
    mine = Program.owner_id == coach_id
    rows = (
        await session.execute(
            select(Program.id, Program.title, mine)
            .where(
                Program.is_active,
                visible(Actor(coach_id), "PROGRAM"),
                Program.schedules.any(),
            )
            .order_by(mine.desc(), Program.title, Program.id)
            .limit(literal_limit(PICK_PAGE_SIZE + 1))
            .offset(page * PICK_PAGE_SIZE)
        )
    ).all()
    items = [Pick(row[0], row[1], bool(row[2])) for row in rows[:PICK_PAGE_SIZE]]
    return PickPage(items, page, len(rows) > PICK_PAGE_SIZE)


async def pickable_workouts(
    session: AsyncSession, *, coach_id: uuid.UUID, page: int = 0
) -> PickPage:
    """Workouts the coach may read (``visible`` in SQL), own first."""
    page = min(max(page, 0), 10_000)
    mine = Workout.owner_id == coach_id
    rows = (
        await session.execute(
            select(Workout.id, Workout.name, mine)
            .where(visible(Actor(coach_id), "WORKOUT"))
            .order_by(mine.desc(), Workout.name, Workout.id)
            .limit(literal_limit(PICK_PAGE_SIZE + 1))
            .offset(page * PICK_PAGE_SIZE)
        )
    ).all()
    items = [Pick(row[0], row[1], bool(row[2])) for row in rows[:PICK_PAGE_SIZE]]
    return PickPage(items, page, len(rows) > PICK_PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class ClientChoice:
    relation_id: uuid.UUID
    name: str


async def clients_for_programs(
    session: AsyncSession, *, coach_id: uuid.UUID, page: int = 0
) -> tuple[list[ClientChoice], bool]:
    """The coach's ACTIVE clients who agreed to programs (the Assign button of a program)."""
    page = min(max(page, 0), 10_000)
    rows = (
        await session.execute(
            select(ProfessionalClientRelation.id, User)
            .join(User, User.id == ProfessionalClientRelation.customer_id)
            .where(
                ProfessionalClientRelation.professional_id == coach_id,
                ProfessionalClientRelation.status == STATUS.ACTIVE,
                ProfessionalClientRelation.consent_scope.op("@>")(
                    literal_column("""'{"programs": true}'::jsonb""")
                ),
            )
            .order_by(func.lower(User.first_name), ProfessionalClientRelation.id)
            .limit(literal_limit(PICK_PAGE_SIZE + 1))
            .offset(page * PICK_PAGE_SIZE)
        )
    ).all()
    return (
        [ClientChoice(row[0], _name(row[1])) for row in rows[:PICK_PAGE_SIZE]],
        len(rows) > PICK_PAGE_SIZE,
    )


def check_start_date(start: dt.date, *, today: dt.date) -> None:
    if start < today - dt.timedelta(days=START_PAST_DAYS):
        raise InvalidInput("start date too far in the past", rule="too_early", days=START_PAST_DAYS)
    if start > today + dt.timedelta(days=START_FUTURE_DAYS):
        raise InvalidInput("start date too far ahead", rule="too_late")


async def client_today(
    session: AsyncSession, *, coach_id: uuid.UUID, relation_id: uuid.UUID, now: dt.datetime
) -> dt.date:
    """Today in the client's time zone (for the start-date buttons)."""
    _relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    return local_date_of(now, client.timezone)


@dataclass(frozen=True, slots=True)
class Assigned:
    user_program_id: uuid.UUID
    client: Person
    program_title: str
    start_date: dt.date


async def assign_program(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    program_id: uuid.UUID,
    start_date: dt.date,
    now: dt.datetime,
) -> Assigned:
    """Assign a program the coach may read to a client who agreed to programs, from
    ``start_date`` (the client's local date); the athlete is notified (PROGRAM_ASSIGNED)."""
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    _require_programs(relation)
    await require(session, Actor(coach_id), Action.READ, ResourceRef("PROGRAM", program_id))
    check_start_date(start_date, today=local_date_of(now, client.timezone))
    user_program_id = await assignments.start_program(
        session,
        user_id=client.id,
        program_id=program_id,
        start_date=start_date,
        assigned_by=coach_id,
        now=now,
    )
    title = await session.scalar(select(Program.title).where(Program.id == program_id))
    return Assigned(user_program_id, _person(client), title or "", start_date)


@dataclass(frozen=True, slots=True)
class AssignmentView:
    user_program_id: uuid.UUID
    program_title: str
    start_date: dt.date
    assigned_by_me: bool
    # The program's current version number when the client follows an older one, else None.
    newer_version: int | None = None


async def client_assignments(
    session: AsyncSession, *, coach_id: uuid.UUID, relation_id: uuid.UUID
) -> list[AssignmentView]:
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    _require_programs(relation)
    current = (
        select(ProgramVersion.id, ProgramVersion.version_number)
        .where(ProgramVersion.program_id == UserProgram.program_id, ProgramVersion.is_active)
        .order_by(ProgramVersion.version_number.desc())
        .limit(1)
        .lateral()
    )
    rows = await session.execute(
        select(
            UserProgram.id,
            Program.title,
            UserProgram.start_date,
            UserProgram.assigned_by,
            UserProgram.program_version_id,
            current.c.id,
            current.c.version_number,
        )
        .join(Program, Program.id == UserProgram.program_id)
        .outerjoin(current, true())
        .where(UserProgram.user_id == client.id, UserProgram.is_active)
        .order_by(UserProgram.assigned_at, UserProgram.id)
    )
    return [
        AssignmentView(
            row[0],
            row[1],
            row[2],
            row[3] == coach_id,
            row[6] if row[5] is not None and row[4] != row[5] else None,
        )
        for row in rows.all()
    ]


async def _client_assignment(
    session: AsyncSession, coach_id: uuid.UUID, relation_id: uuid.UUID, user_program_id: uuid.UUID
) -> tuple[ProfessionalClientRelation, User, UserProgram]:
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    _require_programs(relation)
    assignment = await session.get(UserProgram, user_program_id)
    if assignment is None or assignment.user_id != client.id:
        raise NotAllowed("not this client's program", user_program_id=str(user_program_id))
    if not assignment.is_active:
        raise Conflict("assignment already ended", rule="already_ended")
    return relation, client, assignment


async def remove_assignment(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    user_program_id: uuid.UUID,
    now: dt.datetime,
) -> str:
    """End a program the coach assigned to this client (the READ rows it granted are revoked).
    A program the athlete started themselves is theirs to stop. Returns its title."""
    _relation, _client, assignment = await _client_assignment(
        session, coach_id, relation_id, user_program_id
    )
    if assignment.assigned_by != coach_id:
        raise NotAllowed("assigned by someone else", user_program_id=str(user_program_id))
    await assignments.end_program(session, user_program_id=assignment.id, now=now)
    title = await session.scalar(select(Program.title).where(Program.id == assignment.program_id))
    return title or ""


async def move_assignment(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    user_program_id: uuid.UUID,
) -> tuple[str, int | None]:
    """Move a client onto the current version of a program the coach assigned (consent
    ``programs``, an active relation). Returns (title, new version number or None when the
    client already follows it)."""
    _relation, _client, assignment = await _client_assignment(
        session, coach_id, relation_id, user_program_id
    )
    if assignment.assigned_by != coach_id:
        raise NotAllowed("assigned by someone else", user_program_id=str(user_program_id))
    moved = await assignments.move_to_current_version(session, user_program_id=assignment.id)
    title = await session.scalar(select(Program.title).where(Program.id == assignment.program_id))
    return title or "", moved


async def client_day(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    local_date: dt.date,
) -> list[ScheduledWorkout]:
    """The client's workouts on ``local_date`` (their calendar, overrides applied)."""
    relation, client = await client_relation(session, coach_id=coach_id, relation_id=relation_id)
    _require_programs(relation)
    return await workouts_on(session, client.id, local_date)


async def change_client_day(
    session: AsyncSession,
    *,
    coach_id: uuid.UUID,
    relation_id: uuid.UUID,
    user_program_id: uuid.UUID,
    local_date: dt.date,
    action: ScheduleOverrideAction,
    workout_id: uuid.UUID | None = None,
    schedule_workout_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Swap (REPLACE), add (ADD) or remove (REMOVE) a workout on one day of the client's
    schedule. The coach must be able to read the workout they put there; the athlete gets
    READ on it. Returns the override id."""
    _relation, _client, assignment = await _client_assignment(
        session, coach_id, relation_id, user_program_id
    )
    if action is not ScheduleOverrideAction.REMOVE:
        if workout_id is None:
            raise InvalidInput("which workout?", rule="no_workout")
        await require(session, Actor(coach_id), Action.READ, ResourceRef("WORKOUT", workout_id))
    return await assignments.override_day(
        session,
        user_program_id=assignment.id,
        local_date=local_date,
        action=action,
        workout_id=workout_id,
        replaces_schedule_workout_id=schedule_workout_id,
        granted_by=coach_id,
    )


# --------------------------------------------------------------------------------------------
# Screens
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientsHome:
    roster: RosterPage | None  # None: the user is not a professional
    has_coach: bool


async def clients_home(
    session: AsyncSession, *, user_id: uuid.UUID, now: dt.datetime, page: int = 0
) -> ClientsHome:
    """/clients: the roster for a professional, and whether the user is someone's client."""
    is_pro = await may_invite_clients(session, user_id)
    listed = await roster(session, coach_id=user_id, now=now, page=page) if is_pro else None
    return ClientsHome(listed, await has_coach(session, user_id))


@dataclass(frozen=True, slots=True)
class ClientCard:
    compliance: ClientCompliance
    assignments: list[AssignmentView] | None  # None: no consent for programs
    today: dt.date  # the client's local date


async def client_card(
    session: AsyncSession, *, coach_id: uuid.UUID, relation_id: uuid.UUID, now: dt.datetime
) -> ClientCard:
    line = await client_compliance(session, coach_id=coach_id, relation_id=relation_id, now=now)
    running = (
        await client_assignments(session, coach_id=coach_id, relation_id=relation_id)
        if line.scope.get("programs") is True
        else None
    )
    return ClientCard(line, running, local_date_of(now, line.timezone))
