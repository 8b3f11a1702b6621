"""Share links: one program or one workout given to one person through a ``shr_<token>`` deep
link (USER_SHARE_INVITE: a message, a 7-day expiry, categories, revocable).

Lifecycle:

- **create** — whoever may SHARE the target (docs/access.md; the owner, or a co-owner with
  ``can_edit``) creates the invite. The link carries a fresh secret (link_tokens); the row keeps
  its digest. A PRIVATE target becomes SHARED: the access engine's SHARED level is what lets the
  recipient READ it, and SHARED without an accepted, unrevoked, unexpired invite reads exactly
  like PRIVATE, so nobody else gains anything (it stays SHARED after a revocation, for the
  same reason). A program's scheduled workouts keep their level: the SHARED rule reads invites
  of the row itself, so it would give nothing there; the preview needs only the program, and
  Save/Start give the recipient the workouts (see below). Targets visible to a group (institution,
  clients, role/group policies) are refused: turning them SHARED would take them away from that
  group, and the SHARED level would not reach an outsider either.
- **redeem** — the first person to open the link becomes its only recipient: one UPDATE … WHERE
  ``accepted_by IS NULL AND NOT is_revoked AND expires_at > now`` decides, so two people racing
  get one winner. The recipient may open it again (the preview again); anyone else gets
  USED_UP. A refused redemption changes nothing but the recorded LINK_REDEMPTION_FAILED event.
- **save** — the recipient keeps the target (USER_OWNERSHIP, not primary, no edit/delete,
  ``granted_by`` the sharer — and, for a program, its scheduled workouts), which outlives the
  link's expiry or revocation; it also becomes a favorite.
- **start** — a program is saved (the athlete follows it for weeks, beyond the link's 7 days)
  and started with ``assignments.start_program``; a workout is started by the guided session
  itself (READ through the share is all it needs).
- **revoke** — the link dies; a recipient who did not save loses READ with it.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.access import Action, Actor, ResourceRef, require
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models.access import Visibility
from domain.models.audit import EventTypeCode
from domain.models.enums import VisibilityCode
from domain.models.exercise import Exercise
from domain.models.lookup import Category
from domain.models.program import Program, ProgramCategory, ProgramSchedule, ScheduleWorkout
from domain.models.user import (
    User,
    UserOwnership,
    UserProgramOwnership,
    UserShareInvite,
    UserShareInviteCategory,
    UserWorkoutOwnership,
)
from domain.models.workout import ExerciseInstruction, Workout, WorkoutCategory, WorkoutSet
from domain.services import link_tokens
from domain.services.assignments import start_program
from domain.services.audit import record_system_event
from domain.services.favorites import add_favorite
from domain.services.link_tokens import LinkKind, LinkProblem, LinkRefused
from domain.services.program_versions import current_schedule_id
from domain.services.training_log import exercise_name

SHARE_LIFETIME = dt.timedelta(days=7)
MAX_MESSAGE_LENGTH = 500
MAX_CATEGORIES = 10
LIST_LIMIT = 20
# Levels a link may share: the target is only the owner's (PRIVATE, turned SHARED) or already
# everyone's (PUBLIC, SYSTEM).
SHAREABLE_LEVELS = frozenset(
    {VisibilityCode.PRIVATE, VisibilityCode.SHARED, VisibilityCode.PUBLIC, VisibilityCode.SYSTEM}
)


class ShareKind(enum.StrEnum):
    PROGRAM = "PROGRAM"
    WORKOUT = "WORKOUT"


class ShareStatus(enum.StrEnum):
    PENDING = "PENDING"  # nobody opened it yet
    ACCEPTED = "ACCEPTED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


class InvalidShare(InvalidInput):
    """A share that cannot be made as asked; ``problem`` names why (the bot says it)."""

    code = "invalid_share"

    def __init__(self, problem: str, message: str | None = None) -> None:
        super().__init__(message or f"invalid share: {problem}", problem=problem)
        self.problem = problem


@dataclass(frozen=True)
class CategoryOption:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class ShareTarget:
    kind: ShareKind
    id: uuid.UUID
    title: str
    categories: tuple[CategoryOption, ...]


@dataclass(frozen=True)
class CreatedShare:
    id: uuid.UUID
    token: str  # the secret for the link: shown once, never stored
    expires_at: dt.datetime


@dataclass(frozen=True)
class ShareLine:
    id: uuid.UUID
    kind: ShareKind
    title: str
    message: str | None
    status: ShareStatus
    accepted_by: str | None
    accepted_at: dt.datetime | None
    expires_at: dt.datetime

    @property
    def revocable(self) -> bool:
        return self.status in (ShareStatus.PENDING, ShareStatus.ACCEPTED)


@dataclass(frozen=True)
class SetPreview:
    exercises: tuple[str, ...]
    sets: int
    reps: int | None
    reps_max: int | None
    load_kg: Decimal | None
    rpe: Decimal | None
    duration_seconds: int | None
    distance_m: Decimal | None


@dataclass(frozen=True)
class WorkoutPreview:
    id: uuid.UUID
    name: str
    estimated_seconds: int
    sets: tuple[SetPreview, ...]


@dataclass(frozen=True)
class DayPreview:
    day_number: int  # 0-based
    workouts: tuple[str, ...]


@dataclass(frozen=True)
class ProgramPreview:
    id: uuid.UUID
    title: str
    description: str
    weeks: int
    workouts_per_week: Decimal
    first_week: tuple[DayPreview, ...]  # training days only


@dataclass(frozen=True)
class SharePreview:
    share_id: uuid.UUID
    kind: ShareKind
    target_id: uuid.UUID
    sharer: str
    message: str | None
    categories: tuple[str, ...]
    expires_at: dt.datetime
    saved: bool
    program: ProgramPreview | None = None
    workout: WorkoutPreview | None = None


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def share_kind(value: ShareKind | str) -> ShareKind:
    try:
        return ShareKind(str(value).upper())
    except ValueError:
        raise InvalidShare("kind", f"cannot share a {value!r}") from None


def _ref(kind: ShareKind, target_id: uuid.UUID) -> ResourceRef:
    return ResourceRef(kind.value, target_id)


def _target_of(share: UserShareInvite) -> tuple[ShareKind, uuid.UUID]:
    if share.program_id is not None:
        return ShareKind.PROGRAM, share.program_id
    assert share.workout_id is not None  # CHECK one_target
    return ShareKind.WORKOUT, share.workout_id


def _category_name(locale: str) -> ColumnElement[str]:
    return func.coalesce(Category.name_i18n[locale].astext, Category.name)


async def _target_row(
    session: AsyncSession, kind: ShareKind, target_id: uuid.UUID
) -> tuple[str, str, uuid.UUID]:
    """(title, visibility code, visibility id) of the target; NotFound when missing."""
    model: type[Program] | type[Workout] = Program if kind is ShareKind.PROGRAM else Workout
    title = Program.title if kind is ShareKind.PROGRAM else Workout.name
    row = (
        await session.execute(
            select(title, Visibility.code, Visibility.id)
            .select_from(model)
            .join(Visibility, Visibility.id == model.visibility_id)
            .where(model.id == target_id, model.is_active)
        )
    ).first()
    if row is None:
        raise NotFound(f"{kind.value.lower()} {target_id}", resource_id=str(target_id))
    return str(row[0]), str(row[1]), row[2]


async def _target_categories(
    session: AsyncSession, kind: ShareKind, target_id: uuid.UUID, locale: str
) -> tuple[CategoryOption, ...]:
    if kind is ShareKind.PROGRAM:
        query = select(Category.id, _category_name(locale)).join(
            ProgramCategory, ProgramCategory.category_id == Category.id
        )
        query = query.where(ProgramCategory.program_id == target_id)
    else:
        query = select(Category.id, _category_name(locale)).join(
            WorkoutCategory, WorkoutCategory.category_id == Category.id
        )
        query = query.where(WorkoutCategory.workout_id == target_id)
    rows = await session.execute(
        query.where(Category.type == kind.value).order_by(Category.name).limit(MAX_CATEGORIES)
    )
    return tuple(CategoryOption(row[0], str(row[1])) for row in rows)


def _check_level(code: str) -> None:
    if code not in SHAREABLE_LEVELS:
        raise InvalidShare("visibility", f"a {code} target cannot be shared by link")


def check_message(text: str) -> str | None:
    """The recipient's note, trimmed; None when empty; InvalidShare when too long."""
    cleaned = text.strip()
    if len(cleaned) > MAX_MESSAGE_LENGTH:
        raise InvalidShare("message_too_long")
    return cleaned or None


# --------------------------------------------------------------------------------------------
# The sharer's side
# --------------------------------------------------------------------------------------------


async def share_target(
    session: AsyncSession,
    actor_id: uuid.UUID,
    kind: ShareKind | str,
    target_id: uuid.UUID,
    *,
    locale: str = "en",
) -> ShareTarget:
    """What the share form needs (title, categories to offer); NotAllowed unless the actor may
    SHARE it, InvalidShare when its visibility cannot be shared by link."""
    kind = share_kind(kind)
    await require(session, Actor(actor_id), Action.SHARE, _ref(kind, target_id))
    title, level, _visibility = await _target_row(session, kind, target_id)
    _check_level(level)
    categories = await _target_categories(session, kind, target_id, locale)
    return ShareTarget(kind, target_id, title, categories)


async def create_share(
    session: AsyncSession,
    actor_id: uuid.UUID,
    kind: ShareKind | str,
    target_id: uuid.UUID,
    *,
    message: str | None,
    category_ids: Sequence[uuid.UUID] = (),
    now: dt.datetime,
) -> CreatedShare:
    """A new share link of the target, valid for 7 days."""
    kind = share_kind(kind)
    await require(session, Actor(actor_id), Action.SHARE, _ref(kind, target_id))
    _title, level, _visibility = await _target_row(session, kind, target_id)
    _check_level(level)
    note = check_message(message or "")
    offered = {option.id for option in await _target_categories(session, kind, target_id, "en")}
    chosen = list(dict.fromkeys(category_ids))
    if any(category not in offered for category in chosen):
        raise InvalidShare("category")
    if level == VisibilityCode.PRIVATE:
        await _make_shared(session, kind, target_id)
    issued = link_tokens.issue()
    share = UserShareInvite(
        invited_by=actor_id,
        program_id=target_id if kind is ShareKind.PROGRAM else None,
        workout_id=target_id if kind is ShareKind.WORKOUT else None,
        message=note,
        token=issued.stored,
        sent_at=now,
        expires_at=now + SHARE_LIFETIME,
    )
    session.add(share)
    await session.flush()
    session.add_all(
        UserShareInviteCategory(user_share_invite_id=share.id, category_id=category)
        for category in chosen
    )
    await record_system_event(
        session,
        EventTypeCode.INVITE_SENT,
        user_id=actor_id,
        resource_type="USER_SHARE_INVITE",
        resource_id=share.id,
        payload={"link": LinkKind.SHARE.value, "target": kind.value, "target_id": target_id},
    )
    await session.flush()
    return CreatedShare(share.id, issued.token, share.expires_at)


async def _make_shared(session: AsyncSession, kind: ShareKind, target_id: uuid.UUID) -> None:
    """PRIVATE → SHARED (an ORM change: the row's audit trail, if any, sees it)."""
    shared = await session.scalar(
        select(Visibility.id).where(
            Visibility.code == VisibilityCode.SHARED, Visibility.resource_type == kind.value
        )
    )
    if shared is None:  # reference data not loaded: refuse rather than share nothing
        raise InvalidShare("visibility", "no SHARED visibility level is defined")
    target: Program | Workout | None = (
        await session.get(Program, target_id)
        if kind is ShareKind.PROGRAM
        else await session.get(Workout, target_id)
    )
    assert target is not None  # _target_row found it in this transaction
    target.visibility_id = shared


def _status(
    share_revoked: bool, accepted: bool, expires_at: dt.datetime, now: dt.datetime
) -> ShareStatus:
    if share_revoked:
        return ShareStatus.REVOKED
    if expires_at <= now:
        return ShareStatus.EXPIRED
    return ShareStatus.ACCEPTED if accepted else ShareStatus.PENDING


async def list_shares(
    session: AsyncSession, actor_id: uuid.UUID, *, now: dt.datetime, limit: int = LIST_LIMIT
) -> list[ShareLine]:
    """The actor's own share links, newest first (one page)."""
    recipient = aliased(User)
    rows = await session.execute(
        select(
            UserShareInvite.id,
            UserShareInvite.program_id,
            func.coalesce(Program.title, Workout.name),
            UserShareInvite.message,
            UserShareInvite.is_revoked,
            UserShareInvite.accepted_at,
            UserShareInvite.expires_at,
            recipient.first_name,
        )
        .outerjoin(Program, Program.id == UserShareInvite.program_id)
        .outerjoin(Workout, Workout.id == UserShareInvite.workout_id)
        .outerjoin(recipient, recipient.id == UserShareInvite.accepted_by)
        .where(UserShareInvite.invited_by == actor_id)
        .order_by(UserShareInvite.sent_at.desc(), UserShareInvite.id)
        .limit(limit)
    )
    return [
        ShareLine(
            id=share_id,
            kind=ShareKind.PROGRAM if program_id is not None else ShareKind.WORKOUT,
            title=str(title),
            message=message,
            status=_status(revoked, accepted_at is not None, expires_at, now),
            accepted_by=name if accepted_at is not None else None,
            accepted_at=accepted_at,
            expires_at=expires_at,
        )
        for share_id, program_id, title, message, revoked, accepted_at, expires_at, name in rows
    ]


async def revoke_share(
    session: AsyncSession, actor_id: uuid.UUID, share_id: uuid.UUID, *, now: dt.datetime
) -> bool:
    """Kill a link (True; False when it was already revoked). Its creator may, and so may
    whoever may SHARE the target; anyone else gets NotAllowed."""
    share = await session.get(UserShareInvite, share_id, with_for_update=True)
    if share is None:
        raise NotFound(f"share {share_id}", share_id=str(share_id))
    if share.invited_by != actor_id:
        kind, target_id = _target_of(share)
        await require(session, Actor(actor_id), Action.SHARE, _ref(kind, target_id))
    if share.is_revoked:
        return False
    share.is_revoked = True
    share.is_active = False
    await record_system_event(
        session,
        EventTypeCode.INVITE_REVOKED,
        user_id=actor_id,
        resource_type="USER_SHARE_INVITE",
        resource_id=share.id,
        payload={"link": LinkKind.SHARE.value, "at": now},
    )
    await session.flush()
    return True


# --------------------------------------------------------------------------------------------
# The recipient's side
# --------------------------------------------------------------------------------------------


def _problem(share: UserShareInvite, actor_id: uuid.UUID, now: dt.datetime) -> LinkProblem | None:
    """Why ``actor_id`` cannot use this link now (None: they may)."""
    if share.invited_by == actor_id:
        return LinkProblem.OWN_LINK
    if share.is_revoked:
        return LinkProblem.REVOKED
    if share.expires_at <= now:
        return LinkProblem.EXPIRED
    if share.accepted_by is not None and share.accepted_by != actor_id:
        return LinkProblem.USED_UP
    return None


async def redeem_share(
    session: AsyncSession, actor_id: uuid.UUID, token: str, *, now: dt.datetime
) -> uuid.UUID:
    """Open a ``shr_`` link: the first person becomes its recipient; the same person again
    gets the same share. Returns the share id; raises LinkRefused (recorded, rate-limited,
    nothing else changed) otherwise."""
    await link_tokens.check_rate(session, actor_id, now)
    share = None
    if link_tokens.well_formed(token):
        share = await session.scalar(
            select(UserShareInvite).where(UserShareInvite.token == link_tokens.digest(token))
        )
    if share is None or not link_tokens.matches(share.token, token):
        raise await link_tokens.refuse(session, actor_id, LinkKind.SHARE, LinkProblem.UNKNOWN)
    problem = _problem(share, actor_id, now)
    if problem is not None:
        raise await _refuse(session, actor_id, share, problem)
    if share.accepted_by == actor_id:
        return share.id
    won = await session.scalar(
        update(UserShareInvite)
        .where(
            UserShareInvite.id == share.id,
            UserShareInvite.accepted_by.is_(None),
            UserShareInvite.is_revoked.is_(False),
            UserShareInvite.expires_at > now,
        )
        .values(accepted_by=actor_id, accepted_at=now)
        .returning(UserShareInvite.id)
        .execution_options(synchronize_session=False)
    )
    if won is None:
        # Someone else got there first (or it was revoked meanwhile): read what happened.
        await session.refresh(share)
        problem = _problem(share, actor_id, now)
        if problem is not None:
            raise await _refuse(session, actor_id, share, problem)
        return share.id
    await session.refresh(share)
    await record_system_event(
        session,
        EventTypeCode.INVITE_ACCEPTED,
        user_id=actor_id,
        resource_type="USER_SHARE_INVITE",
        resource_id=share.id,
        payload={"link": LinkKind.SHARE.value, "invited_by": share.invited_by},
    )
    return share.id


async def _refuse(
    session: AsyncSession, actor_id: uuid.UUID, share: UserShareInvite, problem: LinkProblem
) -> LinkRefused:
    return await link_tokens.refuse(
        session,
        actor_id,
        LinkKind.SHARE,
        problem,
        resource_type="USER_SHARE_INVITE",
        resource_id=share.id,
    )


async def _my_share(
    session: AsyncSession, actor_id: uuid.UUID, share_id: uuid.UUID, now: dt.datetime
) -> UserShareInvite:
    """The share ``actor_id`` accepted, still valid. Someone else's share id (a forged button)
    is NotAllowed; a revoked or expired one is LinkRefused (nothing recorded: it is theirs)."""
    share = await session.get(UserShareInvite, share_id)
    if share is None or share.accepted_by != actor_id or share.accepted_at is None:
        raise NotAllowed(
            f"{actor_id} is not the recipient of share {share_id}", share_id=str(share_id)
        )
    problem = _problem(share, actor_id, now)
    if problem is not None:
        raise LinkRefused(problem)
    kind, target_id = _target_of(share)
    await require(session, Actor(actor_id), Action.READ, _ref(kind, target_id))
    return share


async def _owns(
    session: AsyncSession, actor_id: uuid.UUID, kind: ShareKind, target_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of the targets the actor already keeps (a live USER_OWNERSHIP row)."""
    if not target_ids:
        return set()
    link = UserProgramOwnership if kind is ShareKind.PROGRAM else UserWorkoutOwnership
    column = link.program_id if link is UserProgramOwnership else UserWorkoutOwnership.workout_id
    found = await session.scalars(
        select(column)
        .join(UserOwnership, UserOwnership.id == link.id)
        .where(
            UserOwnership.user_id == actor_id,
            UserOwnership.is_revoked.is_(False),
            column.in_(target_ids),
        )
    )
    return set(found.all())


async def _schedule_workouts(session: AsyncSession, program_id: uuid.UUID) -> list[uuid.UUID]:
    schedule_id = await current_schedule_id(session, program_id)
    if schedule_id is None:
        return []
    found = await session.scalars(
        select(ScheduleWorkout.workout_id)
        .where(ScheduleWorkout.program_schedule_id == schedule_id)
        .distinct()
    )
    return list(found.all())


def _keep(
    actor_id: uuid.UUID, sharer: uuid.UUID, kind: ShareKind, target_id: uuid.UUID
) -> UserOwnership:
    ownership = UserOwnership(
        user_id=actor_id,
        created_by=actor_id,
        granted_by=sharer,
        is_primary_owner=False,
        can_edit=False,
        can_delete=False,
    )
    if kind is ShareKind.PROGRAM:
        ownership.program_ownership = UserProgramOwnership(program_id=target_id)
    else:
        ownership.workout_ownership = UserWorkoutOwnership(workout_id=target_id)
    return ownership


async def save_share(
    session: AsyncSession, actor_id: uuid.UUID, share_id: uuid.UUID, *, now: dt.datetime
) -> bool:
    """Keep the shared target in the recipient's library (and favorites). True when it was
    newly saved, False when they already had it."""
    share = await _my_share(session, actor_id, share_id, now)
    kind, target_id = _target_of(share)
    newly = not await _owns(session, actor_id, kind, [target_id])
    if newly:
        session.add(_keep(actor_id, share.invited_by, kind, target_id))
    if kind is ShareKind.PROGRAM:
        # The program's days are of no use without their workouts.
        workouts = await _schedule_workouts(session, target_id)
        kept = await _owns(session, actor_id, ShareKind.WORKOUT, workouts)
        own = set(
            (
                await session.scalars(
                    select(Workout.id).where(Workout.id.in_(workouts), Workout.owner_id == actor_id)
                )
            ).all()
        )
        for workout_id in workouts:
            if workout_id not in kept and workout_id not in own:
                session.add(_keep(actor_id, share.invited_by, ShareKind.WORKOUT, workout_id))
    await session.flush()
    await add_favorite(session, actor_id, kind.value, target_id)
    return newly


async def start_shared_program(
    session: AsyncSession,
    actor_id: uuid.UUID,
    share_id: uuid.UUID,
    *,
    start_date: dt.date,
    now: dt.datetime,
) -> uuid.UUID:
    """Save the shared program and start following it from ``start_date`` (the recipient's
    local date); returns the USER_PROGRAM id."""
    share = await _my_share(session, actor_id, share_id, now)
    kind, target_id = _target_of(share)
    if kind is not ShareKind.PROGRAM:
        raise InvalidShare("not_a_program")
    await save_share(session, actor_id, share_id, now=now)
    return await start_program(
        session,
        user_id=actor_id,
        program_id=target_id,
        start_date=start_date,
        assigned_by=None,
        now=now,
    )


async def share_preview(
    session: AsyncSession,
    actor_id: uuid.UUID,
    share_id: uuid.UUID,
    *,
    now: dt.datetime,
    locale: str = "en",
) -> SharePreview:
    """What the recipient sees: who shares what, their note, and the content."""
    share = await _my_share(session, actor_id, share_id, now)
    kind, target_id = _target_of(share)
    sharer = await session.scalar(select(User.first_name).where(User.id == share.invited_by))
    categories = await session.scalars(
        select(_category_name(locale))
        .join(UserShareInviteCategory, UserShareInviteCategory.category_id == Category.id)
        .where(UserShareInviteCategory.user_share_invite_id == share.id)
        .order_by(Category.name)
    )
    preview = SharePreview(
        share_id=share.id,
        kind=kind,
        target_id=target_id,
        sharer=str(sharer or "?"),
        message=share.message,
        categories=tuple(str(name) for name in categories.all()),
        expires_at=share.expires_at,
        saved=bool(await _owns(session, actor_id, kind, [target_id])),
    )
    if kind is ShareKind.PROGRAM:
        return _with(preview, program=await _program_preview(session, target_id))
    return _with(preview, workout=await _workout_preview(session, target_id, locale))


def _with(
    preview: SharePreview,
    *,
    program: ProgramPreview | None = None,
    workout: WorkoutPreview | None = None,
) -> SharePreview:
    return replace(preview, program=program, workout=workout)


async def _program_preview(session: AsyncSession, program_id: uuid.UUID) -> ProgramPreview:
    program = await session.get(Program, program_id)
    if program is None:
        raise NotFound(f"program {program_id}", program_id=str(program_id))
    schedule_id = await current_schedule_id(session, program_id)
    length = 0
    entries: list[tuple[int, str]] = []
    if schedule_id is not None:
        length = int(
            await session.scalar(
                select(ProgramSchedule.schedule_length_days).where(
                    ProgramSchedule.id == schedule_id
                )
            )
            or 0
        )
        rows = await session.execute(
            select(ScheduleWorkout.day_number, Workout.name)
            .join(Workout, Workout.id == ScheduleWorkout.workout_id)
            .where(ScheduleWorkout.program_schedule_id == schedule_id)
            .order_by(ScheduleWorkout.day_number, ScheduleWorkout.order_index)
        )
        entries = [(int(day), str(name)) for day, name in rows]
    weeks = math.ceil(length / 7) if length else int(program.duration_weeks or 1)
    per_week = (Decimal(len(entries)) / Decimal(max(weeks, 1))).quantize(Decimal("0.1"))
    days: dict[int, list[str]] = {}
    for day, name in entries:
        if day < 7:
            days.setdefault(day, []).append(name)
    return ProgramPreview(
        id=program.id,
        title=program.title,
        description=program.description,
        weeks=weeks,
        workouts_per_week=per_week.normalize() if per_week == per_week.to_integral() else per_week,
        first_week=tuple(DayPreview(day, tuple(names)) for day, names in sorted(days.items())),
    )


async def _workout_preview(
    session: AsyncSession, workout_id: uuid.UUID, locale: str
) -> WorkoutPreview:
    workout = await session.get(Workout, workout_id)
    if workout is None:
        raise NotFound(f"workout {workout_id}", workout_id=str(workout_id))
    rows = await session.execute(
        select(
            WorkoutSet.id,
            WorkoutSet.sets_count,
            WorkoutSet.target_reps,
            WorkoutSet.target_reps_max,
            WorkoutSet.target_load_kg,
            WorkoutSet.target_rpe,
            WorkoutSet.target_duration_seconds,
            WorkoutSet.target_distance_m,
            exercise_name(locale),
        )
        .outerjoin(ExerciseInstruction, ExerciseInstruction.workout_set_id == WorkoutSet.id)
        .outerjoin(Exercise, Exercise.id == ExerciseInstruction.exercise_id)
        .where(WorkoutSet.workout_id == workout_id)
        .order_by(WorkoutSet.order_index, ExerciseInstruction.order_index)
    )
    sets: dict[uuid.UUID, SetPreview] = {}
    for set_id, count, reps, reps_max, load, rpe, duration, distance, name in rows:
        known = sets.get(set_id)
        names = (known.exercises if known else ()) + ((str(name),) if name else ())
        sets[set_id] = SetPreview(names, count, reps, reps_max, load, rpe, duration, distance)
    return WorkoutPreview(
        id=workout.id,
        name=workout.name,
        estimated_seconds=int(workout.estimated_duration_seconds or 0),
        sets=tuple(sets.values()),
    )


__all__ = [
    "MAX_MESSAGE_LENGTH",
    "SHARE_LIFETIME",
    "CategoryOption",
    "CreatedShare",
    "DayPreview",
    "InvalidShare",
    "ProgramPreview",
    "SetPreview",
    "ShareKind",
    "ShareLine",
    "SharePreview",
    "ShareStatus",
    "ShareTarget",
    "WorkoutPreview",
    "check_message",
    "create_share",
    "list_shares",
    "redeem_share",
    "revoke_share",
    "save_share",
    "share_kind",
    "share_preview",
    "share_target",
    "start_shared_program",
]
