"""Share links (domain/services/sharing.py): a PRIVATE program becomes SHARED and readable by
the one person who accepted its link, and by nobody else; revoking or expiry takes READ away
unless the recipient saved it; used-up, revoked, expired, unknown and own links are refused,
recorded and rate-limited with nothing changed; forged ids are refused; two people racing for
one link get one winner."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize
from domain.errors import NotAllowed
from domain.models.access import Visibility
from domain.models.audit import EventType, EventTypeCode, SecurityEvent
from domain.models.favorite import Favorite
from domain.models.lookup import Category
from domain.models.program import Program, ProgramCategory
from domain.models.user import (
    User,
    UserOwnership,
    UserProgram,
    UserProgramOwnership,
    UserShareInvite,
    UserShareInviteCategory,
    UserWorkoutOwnership,
)
from domain.models.workout import Workout
from domain.services import link_tokens, sharing
from domain.services.link_tokens import LinkProblem, LinkRefused
from domain.services.sharing import InvalidShare, ShareKind, ShareStatus
from tests.factories import BuiltWorkout, Plan, SetSpec, make_program, make_user, make_workout

SQUAT = SetSpec("back_squat", sets=3, reps=5, load_kg=Decimal(100), rest=120)
ROW = SetSpec("barbell_row", sets=4, reps=8, reps_max=12, load_kg=Decimal("60"), rest=90)
PLANK = SetSpec("plank", sets=2, duration=60, rest=45)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def can_read(session: AsyncSession, user_id: uuid.UUID, kind: str, target: uuid.UUID) -> bool:
    decision = await authorize(session, Actor(user_id), Action.READ, ResourceRef(kind, target))
    return decision.allowed


async def visibility_of(
    session: AsyncSession, model: type[Program] | type[Workout], id_: uuid.UUID
) -> str:
    code = await session.scalar(
        select(Visibility.code)
        .join(model, model.visibility_id == Visibility.id)
        .where(model.id == id_)
    )
    return str(code)


async def failures(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    """The problems of the user's recorded failed redemptions, sorted (one transaction: one
    occurred_at)."""
    rows = await session.scalars(
        select(SecurityEvent.event_details)
        .join(EventType, EventType.id == SecurityEvent.event_type_id)
        .where(
            SecurityEvent.user_id == user_id,
            EventType.code == EventTypeCode.LINK_REDEMPTION_FAILED,
        )
    )
    return sorted(str(details["problem"]) for details in rows.all())


class World:
    def __init__(
        self, owner: User, ann: User, bob: User, plan: Plan, legs: BuiltWorkout, core: BuiltWorkout
    ) -> None:
        self.owner, self.ann, self.bob = owner, ann, bob
        self.plan, self.legs, self.core = plan, legs, core

    @property
    def program_id(self) -> uuid.UUID:
        return self.plan.program_id


@pytest.fixture
async def world(session: AsyncSession) -> World:
    owner = await make_user(session, first_name="Coach")
    ann = await make_user(session, first_name="Ann", unit="lb")
    bob = await make_user(session, first_name="Bob")
    legs = await make_workout(session, owner.id, "Legs", [SQUAT, PLANK], estimated_seconds=2700)
    core = await make_workout(session, owner.id, "Core", [PLANK])
    plan = await make_program(
        session,
        owner,
        start=utcnow().date(),
        days={0: [legs], 2: [core, legs], 9: [core]},
        weeks=2,
        title="Strong base",
    )
    return World(owner, ann, bob, plan, legs, core)


async def share_program(
    session: AsyncSession, world: World, message: str | None = "Try it!"
) -> sharing.CreatedShare:
    return await sharing.create_share(
        session, world.owner.id, ShareKind.PROGRAM, world.program_id, message=message, now=utcnow()
    )


async def test_a_private_program_shared_is_read_by_its_recipient_only(
    session: AsyncSession, world: World
) -> None:
    assert await visibility_of(session, Program, world.program_id) == "PRIVATE"
    created = await share_program(session, world)
    row = await session.get(UserShareInvite, created.id)
    assert row is not None
    # The link's secret is not stored; its digest is, and it expires in 7 days.
    assert row.token == link_tokens.digest(created.token) != created.token
    assert row.message == "Try it!"
    assert dt.timedelta(days=6, hours=23) < created.expires_at - utcnow() <= dt.timedelta(days=7)
    assert await visibility_of(session, Program, world.program_id) == "SHARED"
    # Its workouts are not shared by the program's link: they keep their level.
    assert await visibility_of(session, Workout, world.legs.id) == "PRIVATE"
    # Before anyone accepted, SHARED reads like PRIVATE.
    assert not await can_read(session, world.ann.id, "PROGRAM", world.program_id)

    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert share_id == created.id
    await session.refresh(row)
    assert row.accepted_by == world.ann.id
    assert row.accepted_at is not None
    assert await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    assert not await can_read(session, world.bob.id, "PROGRAM", world.program_id)

    # The same recipient may open it again; a second person may not.
    assert (
        await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow()) == share_id
    )
    with pytest.raises(LinkRefused) as refused:
        await sharing.redeem_share(session, world.bob.id, created.token, now=utcnow())
    assert refused.value.problem is LinkProblem.USED_UP
    await session.refresh(row)
    assert row.accepted_by == world.ann.id
    assert not await can_read(session, world.bob.id, "PROGRAM", world.program_id)
    assert await failures(session, world.bob.id) == ["used_up"]
    assert await failures(session, world.ann.id) == []


async def test_the_program_preview(session: AsyncSession, world: World) -> None:
    created = await share_program(session, world)
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    preview = await sharing.share_preview(session, world.ann.id, share_id, now=utcnow())
    assert preview.sharer == "Coach"
    assert preview.message == "Try it!"
    assert preview.kind is ShareKind.PROGRAM
    assert not preview.saved
    program = preview.program
    assert program is not None
    assert preview.workout is None
    assert (program.title, program.description, program.weeks) == ("Strong base", "test program", 2)
    assert program.workouts_per_week == Decimal(2)  # 4 scheduled over 2 weeks
    assert [(day.day_number, day.workouts) for day in program.first_week] == [
        (0, ("Legs",)),
        (2, ("Core", "Legs")),
    ]


async def test_a_workout_share_preview_and_save(session: AsyncSession, world: World) -> None:
    pull = await make_workout(session, world.owner.id, "Pull", [ROW, SQUAT], estimated_seconds=1800)
    created = await sharing.create_share(
        session, world.owner.id, "WORKOUT", pull.id, message=None, now=utcnow()
    )
    assert await visibility_of(session, Workout, pull.id) == "SHARED"
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert await can_read(session, world.ann.id, "WORKOUT", pull.id)
    preview = await sharing.share_preview(session, world.ann.id, share_id, now=utcnow())
    workout = preview.workout
    assert workout is not None
    assert preview.message is None
    assert (workout.name, workout.estimated_seconds) == ("Pull", 1800)
    assert [(s.exercises, s.sets, s.reps, s.reps_max, s.load_kg) for s in workout.sets] == [
        (("Barbell Bent-Over Row",), 4, 8, 12, Decimal("60.00")),
        (("Back Squat",), 3, 5, None, Decimal("100.00")),
    ]
    assert await sharing.save_share(session, world.ann.id, share_id, now=utcnow()) is True
    assert await sharing.save_share(session, world.ann.id, share_id, now=utcnow()) is False
    kept = (
        (
            await session.execute(
                select(UserOwnership)
                .join(UserWorkoutOwnership, UserWorkoutOwnership.id == UserOwnership.id)
                .where(
                    UserOwnership.user_id == world.ann.id,
                    UserWorkoutOwnership.workout_id == pull.id,
                )
            )
        )
        .scalars()
        .all()
    )
    assert len(kept) == 1
    assert (kept[0].is_primary_owner, kept[0].can_edit, kept[0].granted_by) == (
        False,
        False,
        world.owner.id,
    )
    assert (
        await session.scalar(
            select(func.count())
            .select_from(Favorite)
            .where(Favorite.user_id == world.ann.id, Favorite.resource_id == pull.id)
        )
        == 1
    )
    # Saved: it outlives the link's revocation.
    assert await sharing.revoke_share(session, world.owner.id, share_id, now=utcnow())
    assert await can_read(session, world.ann.id, "WORKOUT", pull.id)


async def test_revoking_takes_read_away_unless_saved(session: AsyncSession, world: World) -> None:
    created = await share_program(session, world)
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    # Nobody but its creator (or whoever may SHARE the program) may revoke it.
    with pytest.raises(NotAllowed):
        await sharing.revoke_share(session, world.bob.id, share_id, now=utcnow())
    with pytest.raises(NotAllowed):
        await sharing.revoke_share(session, world.ann.id, share_id, now=utcnow())
    assert await sharing.revoke_share(session, world.owner.id, share_id, now=utcnow()) is True
    assert await sharing.revoke_share(session, world.owner.id, share_id, now=utcnow()) is False
    assert not await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    # Opening it again, or pressing Save on the old preview, is refused.
    with pytest.raises(LinkRefused) as refused:
        await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert refused.value.problem is LinkProblem.REVOKED
    with pytest.raises(LinkRefused):
        await sharing.save_share(session, world.ann.id, share_id, now=utcnow())
    assert await failures(session, world.ann.id) == ["revoked"]
    lines = await sharing.list_shares(session, world.owner.id, now=utcnow())
    assert [(line.title, line.status, line.accepted_by) for line in lines] == [
        ("Strong base", ShareStatus.REVOKED, "Ann")
    ]


async def test_a_saved_program_keeps_program_and_workouts_after_revocation(
    session: AsyncSession, world: World
) -> None:
    created = await share_program(session, world)
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert not await can_read(session, world.ann.id, "WORKOUT", world.legs.id)
    assert await sharing.save_share(session, world.ann.id, share_id, now=utcnow())
    programs = await session.scalars(
        select(UserOwnership.granted_by)
        .join(UserProgramOwnership, UserProgramOwnership.id == UserOwnership.id)
        .where(UserOwnership.user_id == world.ann.id)
    )
    assert programs.all() == [world.owner.id]
    workouts = await session.scalars(
        select(UserWorkoutOwnership.workout_id)
        .join(UserOwnership, UserOwnership.id == UserWorkoutOwnership.id)
        .where(UserOwnership.user_id == world.ann.id, UserOwnership.is_primary_owner.is_(False))
    )
    assert sorted(workouts.all()) == sorted([world.legs.id, world.core.id])
    await sharing.revoke_share(session, world.owner.id, share_id, now=utcnow())
    assert await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    assert await can_read(session, world.ann.id, "WORKOUT", world.legs.id)
    assert not await can_read(session, world.bob.id, "PROGRAM", world.program_id)


async def test_expired_unknown_and_own_links_change_nothing(
    session: AsyncSession, world: World
) -> None:
    created = await share_program(session, world)
    await session.execute(
        update(UserShareInvite)
        .where(UserShareInvite.id == created.id)
        .values(expires_at=utcnow() - dt.timedelta(minutes=1))
    )
    with pytest.raises(LinkRefused) as refused:
        await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    assert refused.value.problem is LinkProblem.EXPIRED
    other = link_tokens.issue().token
    for token in (other, "short", created.token[:-1] + ("A" if created.token[-1] != "A" else "B")):
        with pytest.raises(LinkRefused) as refused:
            await sharing.redeem_share(session, world.ann.id, token, now=utcnow())
        assert refused.value.problem is LinkProblem.UNKNOWN
    fresh = await share_program(session, world)
    with pytest.raises(LinkRefused) as refused:
        await sharing.redeem_share(session, world.owner.id, fresh.token, now=utcnow())
    assert refused.value.problem is LinkProblem.OWN_LINK
    accepted = await session.scalar(
        select(func.count())
        .select_from(UserShareInvite)
        .where(
            UserShareInvite.invited_by == world.owner.id, UserShareInvite.accepted_by.is_not(None)
        )
    )
    assert accepted == 0
    assert not await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    assert await failures(session, world.ann.id) == ["expired", "unknown", "unknown", "unknown"]
    assert await failures(session, world.owner.id) == ["own_link"]
    lines = await sharing.list_shares(session, world.owner.id, now=utcnow())
    assert [line.status for line in lines] == [ShareStatus.PENDING, ShareStatus.EXPIRED]


async def test_redemption_attempts_are_rate_limited(session: AsyncSession, world: World) -> None:
    for _ in range(link_tokens.MAX_FAILED_REDEMPTIONS):
        with pytest.raises(LinkRefused):
            await sharing.redeem_share(
                session, world.bob.id, link_tokens.issue().token, now=utcnow()
            )
    created = await share_program(session, world)
    with pytest.raises(LinkRefused) as refused:
        await sharing.redeem_share(session, world.bob.id, created.token, now=utcnow())
    assert refused.value.problem is LinkProblem.RATE_LIMITED
    row = await session.get(UserShareInvite, created.id)
    assert row is not None
    assert row.accepted_by is None


async def test_forged_ids_are_refused(session: AsyncSession, world: World) -> None:
    created = await share_program(session, world)
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    for call in (sharing.save_share, sharing.share_preview):
        with pytest.raises(NotAllowed):
            await call(session, world.bob.id, share_id, now=utcnow())
    with pytest.raises(NotAllowed):
        await sharing.start_shared_program(
            session, world.bob.id, share_id, start_date=utcnow().date(), now=utcnow()
        )
    # Bob may not share Coach's program, nor someone's workout.
    with pytest.raises(NotAllowed):
        await sharing.share_target(session, world.bob.id, "PROGRAM", world.program_id)
    with pytest.raises(NotAllowed):
        await sharing.create_share(
            session, world.bob.id, "WORKOUT", world.legs.id, message=None, now=utcnow()
        )
    # Even after saving it, Ann holds READ only: she may not re-share it.
    await sharing.save_share(session, world.ann.id, share_id, now=utcnow())
    with pytest.raises(NotAllowed):
        await sharing.share_target(session, world.ann.id, "PROGRAM", world.program_id)
    assert await visibility_of(session, Workout, world.legs.id) == "PRIVATE"


async def test_bad_messages_categories_and_group_visibility_are_refused(
    session: AsyncSession, world: World
) -> None:
    categories = (
        await session.scalars(
            select(Category.id).where(Category.type == "PROGRAM").order_by(Category.code).limit(3)
        )
    ).all()
    session.add_all(
        ProgramCategory(program_id=world.program_id, category_id=category)
        for category in categories[:2]
    )
    await session.flush()
    target = await sharing.share_target(session, world.owner.id, "PROGRAM", world.program_id)
    assert target.title == "Strong base"
    assert {option.id for option in target.categories} == set(categories[:2])
    with pytest.raises(InvalidShare) as wrong:
        await sharing.create_share(
            session, world.owner.id, "PROGRAM", world.program_id, message="x" * 501, now=utcnow()
        )
    assert wrong.value.problem == "message_too_long"
    with pytest.raises(InvalidShare) as wrong:
        await sharing.create_share(
            session,
            world.owner.id,
            "PROGRAM",
            world.program_id,
            message=None,
            category_ids=[categories[2]],
            now=utcnow(),
        )
    assert wrong.value.problem == "category"
    assert await visibility_of(session, Program, world.program_id) == "PRIVATE"
    created = await sharing.create_share(
        session,
        world.owner.id,
        "PROGRAM",
        world.program_id,
        message="  ",
        category_ids=[categories[0]],
        now=utcnow(),
    )
    stored = await session.scalars(
        select(UserShareInviteCategory.category_id).where(
            UserShareInviteCategory.user_share_invite_id == created.id
        )
    )
    assert stored.all() == [categories[0]]
    row = await session.get(UserShareInvite, created.id)
    assert row is not None
    assert row.message is None
    # A workout visible to a group (here: the owner's clients) would lose that audience if it
    # became SHARED.
    gym = await make_workout(session, world.owner.id, "Gym only", [SQUAT])
    level = await session.scalar(
        select(Visibility.id).where(
            Visibility.code == "CUSTOMER_SHARED", Visibility.resource_type == "WORKOUT"
        )
    )
    await session.execute(update(Workout).where(Workout.id == gym.id).values(visibility_id=level))
    with pytest.raises(InvalidShare) as wrong:
        await sharing.share_target(session, world.owner.id, "WORKOUT", gym.id)
    assert wrong.value.problem == "visibility"


async def test_starting_a_shared_program(session: AsyncSession, world: World) -> None:
    created = await share_program(session, world)
    share_id = await sharing.redeem_share(session, world.ann.id, created.token, now=utcnow())
    today = utcnow().date()
    user_program = await sharing.start_shared_program(
        session, world.ann.id, share_id, start_date=today, now=utcnow()
    )
    assignment = await session.get(UserProgram, user_program)
    assert assignment is not None
    assert (assignment.user_id, assignment.program_id, assignment.start_date) == (
        world.ann.id,
        world.program_id,
        today,
    )
    assert assignment.is_active
    assert assignment.assigned_by is None
    # Following it for weeks needs it kept beyond the link's 7 days: starting saved it.
    await sharing.revoke_share(session, world.owner.id, share_id, now=utcnow())
    assert await can_read(session, world.ann.id, "PROGRAM", world.program_id)
    assert await can_read(session, world.ann.id, "WORKOUT", world.core.id)


@pytest.fixture
async def race_world(
    engine: AsyncEngine,
) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]:
    """Committed rows (the race needs two transactions): owner, two people, one link."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        owner = await make_user(session, first_name="Racer")
        one = await make_user(session, first_name="One")
        two = await make_user(session, first_name="Two")
        solo = await make_workout(session, owner.id, f"Solo {uuid.uuid4().hex[:6]}", [SQUAT])
        created = await sharing.create_share(
            session, owner.id, "WORKOUT", solo.id, message=None, now=utcnow()
        )
    return owner.id, one.id, two.id, created.token


async def test_two_people_racing_for_one_link_get_one_winner(
    engine: AsyncEngine, race_world: tuple[uuid.UUID, uuid.UUID, uuid.UUID, str]
) -> None:
    _owner, one, two, token = race_world
    start = asyncio.Event()

    async def attempt(user_id: uuid.UUID) -> str:
        async with AsyncSession(engine) as session:
            await start.wait()
            try:
                await sharing.redeem_share(session, user_id, token, now=utcnow())
            except LinkRefused as refused:
                await session.commit()  # the recorded failure only
                return refused.problem.value
            await session.commit()
            return "ok"

    tasks = [asyncio.create_task(attempt(one)), asyncio.create_task(attempt(two))]
    await asyncio.sleep(0.05)
    start.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    assert outcomes == ["ok", "used_up"]
    async with AsyncSession(engine) as session:
        row = await session.scalar(
            select(UserShareInvite).where(UserShareInvite.token == link_tokens.digest(token))
        )
        assert row is not None
        assert row.accepted_by in (one, two)
