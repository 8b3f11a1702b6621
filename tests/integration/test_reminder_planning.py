"""Planning reminders with an injected clock on a database of this module's own (the planners
read every user, so no other test's users may be in it): the local minute in four time zones
and across both DST changes, quiet hours, rest days and days already done, schedule overrides,
every type, preferences and suppressions, and that each planned notification renders."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.config import SUPPORTED_LOCALES
from domain.models.access import Visibility
from domain.models.activity import ActivityDigest, ActivityStreak, ActivityType
from domain.models.exercise import Exercise
from domain.models.institution import Institution, InstitutionInvite, InstitutionMember
from domain.models.lookup import DifficultyLevel, Status
from domain.models.notification import (
    Notification,
    NotificationBatch,
    NotificationBatchItem,
    NotificationType,
    SuppressionReason,
    UserNotificationPreference,
)
from domain.models.program import Program, ProgramSchedule, ScheduleWorkout
from domain.models.training_log import TrainingSession, TrainingSessionSource
from domain.models.user import (
    ProfessionalClientRelation,
    ProfessionalRelationStatus,
    ProfessionalRelationType,
    ScheduleOverrideAction,
    User,
    UserProgram,
    UserProgramProgress,
    UserProgramScheduleMap,
    UserScheduleWorkoutMap,
    UserShareInvite,
    UserWorkoutProgress,
)
from domain.services import reminders
from domain.services.activity import record_activity
from domain.services.notification_templates import render
from domain.services.notifications import suppress
from domain.services.schedule_day import is_day_done, workouts_on
from domain.services.settings import (
    set_institution_setting,
    set_system_setting,
    set_user_setting,
)
from tests.conftest import DatabaseFactory, own_database, rolled_back_session

UTC = dt.UTC
PARIS = "Europe/Paris"
NEW_YORK = "America/New_York"
KOLKATA = "Asia/Kolkata"
AUCKLAND = "Pacific/Auckland"
EVERY_DAY = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]
# A Tuesday in June: no DST change anywhere near.
TUESDAY = dt.date(2032, 6, 15)


# --------------------------------------------------------------------------------------------
# A database of our own, a rolled-back session per test
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def planning_engine(database_factory: DatabaseFactory) -> AsyncIterator[AsyncEngine]:
    async with own_database(database_factory, "mf_plan") as engine:
        yield engine


@pytest.fixture
async def db(planning_engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with rolled_back_session(planning_engine) as session:
        yield session


# --------------------------------------------------------------------------------------------
# World building
# --------------------------------------------------------------------------------------------


def local(zone: str, day: dt.date, hour: int, minute: int = 0, *, fold: int = 0) -> dt.datetime:
    """A wall-clock time in ``zone`` as an aware UTC instant."""
    moment = dt.datetime.combine(day, dt.time(hour, minute, fold=fold), zoneinfo.ZoneInfo(zone))
    return moment.astimezone(UTC)


async def _first_id(session: AsyncSession, query: Any) -> uuid.UUID:
    found: uuid.UUID = (await session.execute(query.limit(1))).scalar_one()
    return found


async def new_user(
    session: AsyncSession,
    zone: str = PARIS,
    *,
    first_name: str = "Ada",
    reminder_time: str | None = "07:30",
    quiet: tuple[str, str] | None = ("00:00", "00:00"),
    days: list[str] | None = EVERY_DAY,
) -> User:
    """A reachable user in ``zone``; by default a 07:30 reminder every day, no quiet hours."""
    user = User(first_name=first_name, telegram_user_id=uuid.uuid4().int % 10**12, timezone=zone)
    session.add(user)
    await session.flush()
    if reminder_time is not None:
        await set_user_setting(session, user.id, "reminder_time", reminder_time)
    if quiet is not None:
        await set_user_setting(session, user.id, "quiet_hours_start", quiet[0])
        await set_user_setting(session, user.id, "quiet_hours_end", quiet[1])
    if days is not None:
        await set_user_setting(session, user.id, "reminder_days", days)
    return user


@dataclass
class Plan:
    program_id: uuid.UUID
    schedule_id: uuid.UUID
    user_program_id: uuid.UUID
    workouts: dict[str, uuid.UUID]
    slots: dict[tuple[int, str], uuid.UUID]  # (day, workout name) -> schedule_workout id
    instance_id: uuid.UUID | None = None


async def new_workout(session: AsyncSession, owner: uuid.UUID, name: str) -> uuid.UUID:
    difficulty = await _first_id(session, select(DifficultyLevel.id))
    visibility = await _first_id(session, select(Visibility.id))
    row = await session.execute(
        text(
            "INSERT INTO workout (id, owner_id, name, difficulty_level_id, visibility_id)"
            " VALUES (gen_random_uuid(), :owner, :name, :difficulty, :visibility) RETURNING id"
        ),
        {"owner": owner, "name": name, "difficulty": difficulty, "visibility": visibility},
    )
    workout_id: uuid.UUID = row.scalar_one()
    return workout_id


async def give_program(
    session: AsyncSession,
    user: User,
    start: dt.date,
    days: Mapping[int, Iterable[str]],
    *,
    length: int = 7,
    optional: Iterable[tuple[int, str]] = (),
    assigned_by: uuid.UUID | None = None,
    instance: bool = False,
    title: str | None = None,
) -> Plan:
    """An active assignment of a new program whose schedule holds ``days`` (day number ->
    workout names); with ``instance``, through a personal schedule instance (overrides)."""
    difficulty = await _first_id(session, select(DifficultyLevel.id))
    visibility = await _first_id(session, select(Visibility.id))
    program = Program(
        owner_id=user.id,
        title=title or f"Plan {uuid.uuid4().hex[:8]}",
        description="test program",
        difficulty_level_id=difficulty,
        visibility_id=visibility,
    )
    session.add(program)
    await session.flush()
    schedule = ProgramSchedule(program_id=program.id, schedule_length_days=length)
    session.add(schedule)
    await session.flush()
    names = sorted({name for names in days.values() for name in names})
    workouts = {name: await new_workout(session, user.id, name) for name in names}
    optional_slots = set(optional)
    slots: dict[tuple[int, str], uuid.UUID] = {}
    for day, day_names in days.items():
        for index, name in enumerate(day_names):
            slot = ScheduleWorkout(
                program_schedule_id=schedule.id,
                workout_id=workouts[name],
                day_number=day,
                order_index=index,
                is_optional=(day, name) in optional_slots,
            )
            session.add(slot)
            await session.flush()
            slots[(day, name)] = slot.id
    assignment = UserProgram(
        user_id=user.id,
        program_id=program.id,
        start_date=start,
        assigned_by=assigned_by or user.id,
    )
    session.add(assignment)
    await session.flush()
    session.add(UserProgramProgress(user_program_id=assignment.id, current_day_number=0))
    plan = Plan(program.id, schedule.id, assignment.id, workouts, slots)
    if instance:
        copy = UserProgramScheduleMap(
            user_id=user.id,
            program_schedule_id=schedule.id,
            user_program_id=assignment.id,
            scheduled_date=start,
        )
        session.add(copy)
        await session.flush()
        plan.instance_id = copy.id
    await session.flush()
    return plan


async def train(session: AsyncSession, user: User, at: dt.datetime) -> None:
    session.add(
        TrainingSession(
            user_id=user.id,
            started_at=at,
            finished_at=at + dt.timedelta(hours=1),
            source=TrainingSessionSource.FREE_TEXT,
        )
    )
    await session.flush()


async def completion_status(session: AsyncSession, code: str) -> uuid.UUID:
    return await _first_id(
        session, select(Status.id).where(Status.type == "COMPLETION", Status.code == code)
    )


async def prefer(session: AsyncSession, user: User, type_code: str | None, **values: Any) -> None:
    type_id = None
    if type_code is not None:
        type_id = await _first_id(
            session, select(NotificationType.id).where(NotificationType.code == type_code)
        )
    session.add(UserNotificationPreference(user_id=user.id, notification_type_id=type_id, **values))
    await session.flush()


async def streak(session: AsyncSession, user: User, days: int, last_active: dt.date) -> None:
    type_id = await _first_id(
        session, select(ActivityType.id).where(ActivityType.code == "WORKOUT_COMPLETED")
    )
    session.add(
        ActivityStreak(
            user_id=user.id,
            activity_type_id=type_id,
            current_length=days,
            longest_length=days,
            last_active_date=last_active,
            started_on=last_active - dt.timedelta(days=days - 1),
            timezone=user.timezone,
        )
    )
    await session.flush()


@dataclass(frozen=True)
class Planned:
    type_code: str
    due_at: dt.datetime
    dedupe_key: str
    variables: dict[str, Any]


async def planned(
    session: AsyncSession, user: User | uuid.UUID, type_code: str | None = None
) -> list[Planned]:
    user_id = user.id if isinstance(user, User) else user
    query = (
        select(NotificationType.code, Notification.due_at, Notification.dedupe_key)
        .add_columns(Notification.variables)
        .join(NotificationType, NotificationType.id == Notification.notification_type_id)
        .where(Notification.user_id == user_id, Notification.status == "PENDING")
        .order_by(Notification.due_at)
    )
    if type_code is not None:
        query = query.where(NotificationType.code == type_code)
    rows = (await session.execute(query)).all()
    return [Planned(code, due, key or "", variables) for code, due, key, variables in rows]


async def tick_all(session: AsyncSession, now: dt.datetime) -> dict[str, int]:
    return await reminders.plan_reminders(session, now)


async def ticks(
    session: AsyncSession, start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> int:
    """Workout-reminder ticks every ``step`` from ``start`` to ``end``; the total planned."""
    total, now = 0, start
    while now <= end:
        total += await reminders.plan_workout_reminders(session, now)
        now += step
    return total


# --------------------------------------------------------------------------------------------
# The local minute, time zones, DST
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [PARIS, NEW_YORK, KOLKATA, AUCKLAND])
async def test_workout_reminder_at_the_local_minute(db: AsyncSession, zone: str) -> None:
    user = await new_user(db, zone, reminder_time="07:30")
    await give_program(db, user, TUESDAY, {0: ["Legs"]})
    due = local(zone, TUESDAY, 7, 30)

    # Planned no earlier than `lead` before the minute …
    assert await reminders.plan_workout_reminders(db, due - dt.timedelta(minutes=3)) == 0
    assert await reminders.plan_workout_reminders(db, due - dt.timedelta(minutes=1)) == 1
    # … once, whatever the ticks that follow.
    assert await reminders.plan_workout_reminders(db, due) == 0
    assert await reminders.plan_workout_reminders(db, due + dt.timedelta(minutes=20)) == 0

    [reminder] = await planned(db, user)
    assert reminder.type_code == "WORKOUT_REMINDER"
    assert reminder.due_at == due
    # The key holds the LOCAL date (Auckland's 07:30 is the day before in UTC).
    assert reminder.dedupe_key == f"WORKOUT_REMINDER:{user.id}:{TUESDAY.isoformat()}"
    assert reminder.variables["time"] == "07:30"
    assert reminder.variables["workout_name"] == "Legs"
    assert reminder.variables["first_name"] == "Ada"


async def test_a_late_tick_still_plans_what_it_missed_and_a_stale_one_is_dropped(
    db: AsyncSession,
) -> None:
    late = await new_user(db, PARIS, first_name="Late")
    stale = await new_user(db, PARIS, first_name="Stale", reminder_time="06:30")
    for user in (late, stale):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    # The scheduler was paused from 06:59 to 07:50: the 07:30 reminder is still planned (sent
    # at once); the 06:30 one, more than PLANNING_CATCH_UP old, is not.
    now = local(PARIS, TUESDAY, 7, 50)
    assert await reminders.plan_workout_reminders(db, now) == 1
    assert [p.due_at for p in await planned(db, late)] == [local(PARIS, TUESDAY, 7, 30)]
    assert await planned(db, stale) == []


async def test_spring_forward_a_missing_local_minute_is_sent_an_hour_later_once(
    db: AsyncSession,
) -> None:
    day = dt.date(2032, 3, 28)  # Paris: 02:00 -> 03:00
    user = await new_user(db, PARIS, reminder_time="02:30")
    await give_program(db, user, day, {0: ["Legs"]})
    start = dt.datetime(2032, 3, 27, 23, tzinfo=UTC)
    assert await ticks(db, start, start + dt.timedelta(hours=4), dt.timedelta(minutes=5)) == 1
    [reminder] = await planned(db, user)
    # 02:30 does not exist that night: the offset before the change applies (01:30 UTC),
    # i.e. 03:30 on the wall clock.
    assert reminder.due_at == dt.datetime(2032, 3, 28, 1, 30, tzinfo=UTC)
    assert reminder.due_at.astimezone(zoneinfo.ZoneInfo(PARIS)).time() == dt.time(3, 30)


async def test_fall_back_a_repeated_local_minute_is_sent_once_at_its_second_occurrence(
    db: AsyncSession,
) -> None:
    day = dt.date(2032, 10, 31)  # Paris: 03:00 -> 02:00, 02:30 happens twice
    user = await new_user(db, PARIS, reminder_time="02:30")
    await give_program(db, user, day, {0: ["Legs"]})
    start = dt.datetime(2032, 10, 30, 22, tzinfo=UTC)
    assert await ticks(db, start, start + dt.timedelta(hours=5), dt.timedelta(minutes=5)) == 1
    [reminder] = await planned(db, user)
    assert reminder.due_at == local(PARIS, day, 2, 30, fold=1)
    assert reminder.due_at == dt.datetime(2032, 10, 31, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone", "day", "utc_due"),
    [
        # Ordinary minutes on the days of the changes get the new offset.
        (NEW_YORK, dt.date(2032, 3, 14), dt.datetime(2032, 3, 14, 11, 30, tzinfo=UTC)),
        (NEW_YORK, dt.date(2032, 11, 7), dt.datetime(2032, 11, 7, 12, 30, tzinfo=UTC)),
        (AUCKLAND, dt.date(2032, 4, 4), dt.datetime(2032, 4, 3, 19, 30, tzinfo=UTC)),
        (AUCKLAND, dt.date(2032, 9, 26), dt.datetime(2032, 9, 25, 18, 30, tzinfo=UTC)),
        (PARIS, dt.date(2032, 3, 28), dt.datetime(2032, 3, 28, 5, 30, tzinfo=UTC)),
        (PARIS, dt.date(2032, 10, 31), dt.datetime(2032, 10, 31, 6, 30, tzinfo=UTC)),
    ],
)
async def test_reminders_on_dst_change_days_use_the_new_offset(
    db: AsyncSession, zone: str, day: dt.date, utc_due: dt.datetime
) -> None:
    user = await new_user(db, zone, reminder_time="07:30")
    await give_program(db, user, day, {0: ["Legs"]})
    start = utc_due - dt.timedelta(hours=3)
    assert await ticks(db, start, utc_due + dt.timedelta(hours=3), dt.timedelta(minutes=10)) == 1
    [reminder] = await planned(db, user)
    assert reminder.due_at == utc_due == local(zone, day, 7, 30)


@pytest.mark.parametrize(
    ("zone", "day", "wall", "utc_due"),
    [
        (
            NEW_YORK,
            dt.date(2032, 3, 14),
            dt.time(3, 30),
            dt.datetime(2032, 3, 14, 7, 30, tzinfo=UTC),
        ),
        (
            NEW_YORK,
            dt.date(2032, 11, 7),
            dt.time(2, 30),
            dt.datetime(2032, 11, 7, 7, 30, tzinfo=UTC),
        ),
        (
            AUCKLAND,
            dt.date(2032, 9, 26),
            dt.time(3, 30),
            dt.datetime(2032, 9, 25, 14, 30, tzinfo=UTC),
        ),
        (
            AUCKLAND,
            dt.date(2032, 4, 4),
            dt.time(2, 30),
            dt.datetime(2032, 4, 3, 14, 30, tzinfo=UTC),
        ),
    ],
)
async def test_the_changing_hour_itself_in_new_york_and_auckland(
    db: AsyncSession, zone: str, day: dt.date, wall: dt.time, utc_due: dt.datetime
) -> None:
    # 02:30 is missing on the spring day (sent at 03:30) and doubled on the autumn one (sent
    # at the second 02:30 — New York's second 01:30 is at 06:30 UTC, its 02:30 happens once).
    user = await new_user(db, zone, reminder_time="02:30")
    await give_program(db, user, day, {0: ["Legs"]})
    due = utc_due
    assert (
        await ticks(
            db, due - dt.timedelta(hours=3), due + dt.timedelta(hours=3), dt.timedelta(minutes=10)
        )
        == 1
    )
    [reminder] = await planned(db, user)
    assert reminder.due_at == due
    assert reminder.due_at.astimezone(zoneinfo.ZoneInfo(zone)).time() == wall


async def test_a_user_in_a_zone_the_server_does_not_know_is_skipped_not_fatal(
    db: AsyncSession,
) -> None:
    odd = await new_user(db, PARIS, first_name="Odd")
    fine = await new_user(db, PARIS, first_name="Fine")
    for user in (odd, fine):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    await db.execute(update(User).where(User.id == odd.id).values(timezone="Mars/Olympus_Mons"))
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 7, 29)) == 1
    assert len(await planned(db, fine)) == 1


# --------------------------------------------------------------------------------------------
# Quiet hours, days, settings levels
# --------------------------------------------------------------------------------------------


async def test_a_reminder_in_quiet_hours_is_not_planned_that_day(db: AsyncSession) -> None:
    night = await new_user(db, PARIS, first_name="Night", reminder_time="23:00", quiet=None)
    await give_program(db, night, TUESDAY, {0: ["Legs"]})
    # Default quiet hours 22:00-07:00 (wrapping midnight).
    assert (
        await ticks(
            db, local(PARIS, TUESDAY, 22), local(PARIS, TUESDAY, 23, 59), dt.timedelta(minutes=10)
        )
        == 0
    )
    # The type's own quiet hours override the general ones.
    await prefer(
        db,
        night,
        "WORKOUT_REMINDER",
        quiet_hours_start=dt.time(23, 30),
        quiet_hours_end=dt.time(6),
    )
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 22, 59)) == 1


async def test_quiet_hours_that_do_not_wrap_midnight(db: AsyncSession) -> None:
    napper = await new_user(db, PARIS, reminder_time="13:30", quiet=("13:00", "15:00"))
    edge = await new_user(
        db, PARIS, first_name="Edge", reminder_time="15:00", quiet=("13:00", "15:00")
    )
    for user in (napper, edge):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 13, 29)) == 0
    # The end of quiet hours is outside them.
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 14, 59)) == 1
    assert len(await planned(db, edge)) == 1


async def test_reminder_days_and_the_type_switches(db: AsyncSession) -> None:
    weekend = await new_user(db, PARIS, first_name="Weekend", days=["SAT", "SUN"])
    off = await new_user(db, PARIS, first_name="Off")
    type_off = await new_user(db, PARIS, first_name="TypeOff")
    wide_off = await new_user(db, PARIS, first_name="WideOff")
    on = await new_user(db, PARIS, first_name="On")
    for user in (weekend, off, type_off, wide_off, on):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    await set_user_setting(db, off.id, "reminders_enabled", False)
    await prefer(db, type_off, "WORKOUT_REMINDER", is_enabled=False)
    await prefer(db, wide_off, None, is_enabled=False)
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 7, 29)) == 1
    assert len(await planned(db, on)) == 1


async def test_settings_come_from_user_then_institution_then_system(db: AsyncSession) -> None:
    member = await new_user(db, PARIS, first_name="Member", reminder_time=None)
    own = await new_user(db, PARIS, first_name="Own", reminder_time="09:15")
    loner = await new_user(db, PARIS, first_name="Loner", reminder_time=None)
    visibility = await _first_id(db, select(Visibility.id))
    gym = Institution(name="Gym", slug=f"gym-{uuid.uuid4().hex[:8]}", visibility_id=visibility)
    db.add(gym)
    await db.flush()
    for user in (member, own):
        db.add(InstitutionMember(institution_id=gym.id, user_id=user.id))
    for user in (member, own, loner):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    await set_institution_setting(db, gym.id, "reminder_time", "08:45")
    await set_system_setting(db, "reminder_time", "10:05")
    for now in (local(PARIS, TUESDAY, h, m) for h, m in ((8, 44), (9, 14), (10, 4))):
        await reminders.plan_workout_reminders(db, now)
    assert [p.due_at for p in await planned(db, member)] == [local(PARIS, TUESDAY, 8, 45)]
    assert [p.due_at for p in await planned(db, own)] == [local(PARIS, TUESDAY, 9, 15)]
    assert [p.due_at for p in await planned(db, loner)] == [local(PARIS, TUESDAY, 10, 5)]


async def test_institution_settings_reach_the_later_checks_too(db: AsyncSession) -> None:
    quiet_member = await new_user(db, PARIS, first_name="QuietMember", quiet=None)
    muted_member = await new_user(db, PARIS, first_name="MutedMember")
    closed_member = await new_user(db, PARIS, first_name="ClosedMember", quiet=None)
    outsider = await new_user(db, PARIS, first_name="Outsider", quiet=None)
    visibility = await _first_id(db, select(Visibility.id))
    gyms = []
    for _ in range(3):
        gym = Institution(name="Gym", slug=f"gym-{uuid.uuid4().hex[:8]}", visibility_id=visibility)
        db.add(gym)
        await db.flush()
        gyms.append(gym)
    quiet_gym, muted_gym, closed_gym = gyms
    for gym, member in (
        (quiet_gym, quiet_member),
        (muted_gym, muted_member),
        (closed_gym, closed_member),
    ):
        db.add(InstitutionMember(institution_id=gym.id, user_id=member.id))
    for user in (quiet_member, muted_member, closed_member, outsider):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    # Everyone's own quiet hours are the default 22:00-07:00 except where a gym says more.
    await set_institution_setting(db, quiet_gym.id, "quiet_hours_start", "07:00")
    await set_institution_setting(db, quiet_gym.id, "quiet_hours_end", "08:00")
    await set_institution_setting(db, muted_gym.id, "reminders_enabled", False)
    await set_institution_setting(db, closed_gym.id, "quiet_hours_start", "07:00")
    await set_institution_setting(db, closed_gym.id, "quiet_hours_end", "08:00")
    await db.execute(
        update(Institution).where(Institution.id == closed_gym.id).values(is_active=False)
    )
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 7, 29)) == 2
    assert len(await planned(db, closed_member)) == 1
    assert len(await planned(db, outsider)) == 1


# --------------------------------------------------------------------------------------------
# Schedules: rest days, days done, overrides
# --------------------------------------------------------------------------------------------


async def test_nothing_on_a_rest_day_an_optional_day_or_after_the_program(
    db: AsyncSession,
) -> None:
    user = await new_user(db, PARIS)
    await give_program(
        db, user, TUESDAY, {0: ["Legs"], 2: ["Push"], 3: ["Walk"]}, length=4, optional=[(3, "Walk")]
    )

    async def reminded(day: dt.date) -> bool:
        return await reminders.plan_workout_reminders(db, local(PARIS, day, 7, 29)) == 1

    day = TUESDAY
    assert [await reminded(day + dt.timedelta(days=n)) for n in range(6)] == [
        True,  # day 0
        False,  # rest
        True,  # day 2
        False,  # optional only
        False,  # past the 4-day schedule
        False,
    ]


async def test_nothing_when_the_day_is_already_done(db: AsyncSession) -> None:
    trained = await new_user(db, PARIS, first_name="Trained")
    logged = await new_user(db, PARIS, first_name="Logged")
    skipped = await new_user(db, PARIS, first_name="Skipped")
    progressed = await new_user(db, PARIS, first_name="Progressed")
    yesterday = await new_user(db, PARIS, first_name="Yesterday")
    waiting = await new_user(db, PARIS, first_name="Waiting")
    plans = {}
    for user in (trained, logged, skipped, progressed, yesterday, waiting):
        plans[user.id] = await give_program(db, user, TUESDAY, {0: ["Legs"]})
    # Early morning in Paris is still the previous day in UTC terms for nobody, but 00:30
    # Paris is 22:30 UTC the day before: the session counts for the LOCAL date.
    await train(db, trained, local(PARIS, TUESDAY, 0, 30))
    await train(db, yesterday, local(PARIS, TUESDAY, 0, 30) - dt.timedelta(hours=1))
    for user, code, field in (
        (logged, "COMPLETED", "last_completed_date"),
        (skipped, "SKIPPED", "scheduled_date"),
    ):
        db.add(
            UserWorkoutProgress(
                user_id=user.id,
                workout_id=plans[user.id].workouts["Legs"],
                user_program_id=plans[user.id].user_program_id,
                completion_status_id=await completion_status(db, code),
                **{field: TUESDAY},
            )
        )
    await db.execute(
        update(UserProgramProgress)
        .where(UserProgramProgress.user_program_id == plans[progressed.id].user_program_id)
        .values(last_completed_date=TUESDAY)
    )
    await db.flush()
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 7, 29)) == 2
    assert {
        p.variables["first_name"] for u in (yesterday, waiting) for p in await planned(db, u)
    } == {
        "Yesterday",
        "Waiting",
    }
    assert await is_day_done(db, trained.id, TUESDAY, PARIS)
    assert not await is_day_done(db, yesterday.id, TUESDAY, PARIS)


async def test_overrides_add_remove_and_replace_workouts(db: AsyncSession) -> None:
    user = await new_user(db, PARIS)
    plan = await give_program(db, user, TUESDAY, {0: ["Legs", "Core"], 2: ["Push"]}, instance=True)
    assert plan.instance_id is not None
    extra = await new_workout(db, user.id, "Swim")
    pull = await new_workout(db, user.id, "Pull")
    db.add_all(
        [
            UserScheduleWorkoutMap(
                user_program_schedule_id=plan.instance_id,
                day_number=0,
                action=ScheduleOverrideAction.REMOVE,
                workout_id=plan.workouts["Core"],
                replaces_schedule_workout_id=plan.slots[(0, "Core")],
                order_index=1,
            ),
            UserScheduleWorkoutMap(
                user_program_schedule_id=plan.instance_id,
                day_number=1,
                action=ScheduleOverrideAction.ADD,
                workout_id=extra,
                order_index=0,
            ),
            UserScheduleWorkoutMap(
                user_program_schedule_id=plan.instance_id,
                day_number=2,
                action=ScheduleOverrideAction.REPLACE,
                workout_id=pull,
                replaces_schedule_workout_id=plan.slots[(2, "Push")],
                order_index=0,
            ),
        ]
    )
    await db.flush()
    names = []
    for offset in range(3):
        day = TUESDAY + dt.timedelta(days=offset)
        await reminders.plan_workout_reminders(db, local(PARIS, day, 7, 29))
        names.append([w.workout_name for w in await workouts_on(db, user.id, day)])
    assert names == [["Legs"], ["Swim"], ["Pull"]]
    assert [p.variables["workout_name"] for p in await planned(db, user)] == [
        "Legs",
        "Swim",
        "Pull",
    ]


async def test_a_day_with_two_workouts_and_a_program_with_two_schedules(db: AsyncSession) -> None:
    user = await new_user(db, PARIS)
    await give_program(db, user, TUESDAY, {0: ["Squat day", "Core"]})
    ambiguous = await new_user(db, PARIS, first_name="Ambiguous")
    plan = await give_program(db, ambiguous, TUESDAY, {0: ["Legs"]})
    # A second schedule makes the program's calendar ambiguous without a personal instance.
    db.add(ProgramSchedule(program_id=plan.program_id, schedule_length_days=7))
    await db.flush()
    assert await reminders.plan_workout_reminders(db, local(PARIS, TUESDAY, 7, 29)) == 1
    [reminder] = await planned(db, user)
    assert reminder.variables["workout_name"] == "Squat day, Core"
    assert len(reminder.variables["workout_ids"]) == 2


# --------------------------------------------------------------------------------------------
# The other types
# --------------------------------------------------------------------------------------------


async def test_missed_workout_the_next_day(db: AsyncSession) -> None:
    missed = await new_user(db, PARIS, first_name="Missed")
    sleepy = await new_user(db, PARIS, first_name="Sleepy", quiet=None)  # 22:00-07:00
    done = await new_user(db, PARIS, first_name="Done")
    for user in (missed, sleepy, done):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    await train(db, done, local(PARIS, TUESDAY, 18))
    wednesday = TUESDAY + dt.timedelta(days=1)
    midnight = local(PARIS, wednesday, 0)
    # Nothing during the day itself; planned when the next local day begins.
    assert await reminders.plan_missed_workouts(db, midnight - dt.timedelta(minutes=3)) == 0
    assert await reminders.plan_missed_workouts(db, midnight - dt.timedelta(minutes=1)) == 2
    assert await reminders.plan_missed_workouts(db, midnight + dt.timedelta(minutes=5)) == 0
    [nudge] = await planned(db, missed, "MISSED_WORKOUT")
    assert nudge.due_at == midnight
    assert nudge.variables["workout_name"] == "Legs"
    assert nudge.variables["missed_date"] == TUESDAY.isoformat()
    assert nudge.dedupe_key == f"MISSED_WORKOUT:{missed.id}:{wednesday.isoformat()}"
    # In quiet hours: due when they end.
    [quiet_nudge] = await planned(db, sleepy, "MISSED_WORKOUT")
    assert quiet_nudge.due_at == local(PARIS, wednesday, 7)
    assert await planned(db, done) == []


async def test_missed_workout_not_after_training_nor_hours_late(db: AsyncSession) -> None:
    caught_up = await new_user(db, PARIS, first_name="CaughtUp")
    late = await new_user(db, PARIS, first_name="Late")
    for user in (caught_up, late):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    wednesday = TUESDAY + dt.timedelta(days=1)
    # A scheduler back in the morning does not send last night's nudges hours late …
    assert await reminders.plan_missed_workouts(db, local(PARIS, wednesday, 9)) == 0
    # … one late by less than the catch-up does, to those who have not trained since.
    await train(db, caught_up, local(PARIS, wednesday, 0, 10))
    assert await reminders.plan_missed_workouts(db, local(PARIS, wednesday, 0, 20)) == 1
    assert await planned(db, caught_up) == []
    assert len(await planned(db, late)) == 1


async def test_streak_at_risk_in_the_evening(db: AsyncSession) -> None:
    at_risk = await new_user(db, PARIS, first_name="AtRisk")
    trained = await new_user(db, PARIS, first_name="Trained")
    broken = await new_user(db, PARIS, first_name="Broken")
    resting = await new_user(db, PARIS, first_name="Resting")
    late = await new_user(db, PARIS, first_name="Late")
    for user in (at_risk, trained, broken, late):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
    await give_program(db, resting, TUESDAY, {1: ["Legs"]})
    monday = TUESDAY - dt.timedelta(days=1)
    for user in (at_risk, trained, resting, late):
        await streak(db, user, 5, monday)
    # Five days off with no program covering them: more than UNSCHEDULED_REST_DAYS, broken.
    await streak(db, broken, 5, monday - dt.timedelta(days=5))
    await train(db, trained, local(PARIS, TUESDAY, 12))
    await prefer(db, late, "STREAK_AT_RISK", local_time=dt.time(20, 15))

    assert await reminders.plan_streaks_at_risk(db, local(PARIS, TUESDAY, 17, 59)) == 1
    [alert] = await planned(db, at_risk, "STREAK_AT_RISK")
    assert alert.due_at == local(PARIS, TUESDAY, 18)
    assert alert.variables["streak_days"] == 5
    assert await reminders.plan_streaks_at_risk(db, local(PARIS, TUESDAY, 20, 14)) == 1
    assert [p.due_at for p in await planned(db, late)] == [local(PARIS, TUESDAY, 20, 15)]


async def test_invite_expiring_is_planned_once_for_its_sender(db: AsyncSession) -> None:
    sender = await new_user(db, PARIS, first_name="Sender")
    sharer = await new_user(db, PARIS, first_name="Sharer", quiet=None)
    visibility = await _first_id(db, select(Visibility.id))
    gym = Institution(
        name="Iron Gym", slug=f"iron-{uuid.uuid4().hex[:8]}", visibility_id=visibility
    )
    db.add(gym)
    await db.flush()
    now = local(PARIS, TUESDAY, 23)
    db.add_all(
        [
            InstitutionInvite(
                institution_id=gym.id, invited_by=sender.id, expires_at=now + dt.timedelta(hours=20)
            ),
            # Too far, revoked, used up: nothing.
            InstitutionInvite(
                institution_id=gym.id, invited_by=sender.id, expires_at=now + dt.timedelta(hours=30)
            ),
            InstitutionInvite(
                institution_id=gym.id,
                invited_by=sender.id,
                expires_at=now + dt.timedelta(hours=2),
                is_revoked=True,
            ),
            InstitutionInvite(
                institution_id=gym.id,
                invited_by=sender.id,
                expires_at=now + dt.timedelta(hours=2),
                max_uses=1,
                use_count=1,
            ),
        ]
    )
    plan = await give_program(db, sharer, TUESDAY, {0: ["Legs"]}, title="Strong Legs")
    db.add(
        UserShareInvite(
            invited_by=sharer.id,
            program_id=plan.program_id,
            expires_at=now + dt.timedelta(hours=23),
        )
    )
    db.add(
        UserShareInvite(
            invited_by=sharer.id,
            program_id=plan.program_id,
            expires_at=now + dt.timedelta(hours=3),
            accepted_at=now - dt.timedelta(days=1),
        )
    )
    await db.flush()

    assert await reminders.plan_invites_expiring(db, now) == 2
    assert await reminders.plan_invites_expiring(db, now + dt.timedelta(hours=1)) == 0
    [notice] = await planned(db, sender, "INVITE_EXPIRING")
    assert notice.due_at == now
    assert notice.variables["invite_name"] == "Iron Gym"
    assert notice.variables["hours"] == 20
    # The sharer is in quiet hours (22:00-07:00): told at 07:00, 15 hours before expiry.
    [share] = await planned(db, sharer, "INVITE_EXPIRING")
    assert share.due_at == local(PARIS, TUESDAY + dt.timedelta(days=1), 7)
    assert share.variables["invite_name"] == "Strong Legs"
    assert share.variables["hours"] == 15


async def test_client_inactive_tells_the_coach_once_per_stretch(db: AsyncSession) -> None:
    coach = await new_user(db, PARIS, first_name="Coach")
    client = await new_user(db, PARIS, first_name="Cleo")
    private = await new_user(db, PARIS, first_name="Private")
    hidden = await new_user(db, PARIS, first_name="Hidden")
    now = local(PARIS, TUESDAY, 10)
    for customer, scope in ((client, {"logs": True}), (private, {}), (hidden, {"logs": True})):
        db.add(
            ProfessionalClientRelation(
                professional_id=coach.id,
                customer_id=customer.id,
                relation_type=ProfessionalRelationType.COACH,
                status=ProfessionalRelationStatus.ACTIVE,
                consent_scope=scope,
                consented_at=now - dt.timedelta(days=30),
            )
        )
        await train(db, customer, now - dt.timedelta(days=4, hours=2))
    await set_user_setting(db, hidden.id, "coach_can_see_logs", False)
    await db.flush()

    assert await reminders.plan_clients_inactive(db, now) == 1
    assert await reminders.plan_clients_inactive(db, now + dt.timedelta(days=1)) == 0
    [alert] = await planned(db, coach, "CLIENT_INACTIVE")
    assert alert.variables["client_name"] == "Cleo"
    assert alert.variables["days"] == 4
    assert alert.due_at == now
    # She trains again, then stops: a new stretch, a new alert.
    await train(db, client, now + dt.timedelta(days=1))
    assert await reminders.plan_clients_inactive(db, now + dt.timedelta(days=3)) == 0
    assert await reminders.plan_clients_inactive(db, now + dt.timedelta(days=5)) == 1
    assert len(await planned(db, coach, "CLIENT_INACTIVE")) == 2


async def test_program_assigned_is_immediate_or_after_quiet_hours(db: AsyncSession) -> None:
    coach = await new_user(db, PARIS, first_name="Coach")
    athlete = await new_user(db, PARIS, first_name="Athlete", quiet=None)
    plan = await give_program(
        db, athlete, TUESDAY, {0: ["Legs"]}, assigned_by=coach.id, title="Base"
    )
    await set_user_setting(db, athlete.id, "reminders_enabled", False)  # not a reminder
    noon = local(PARIS, TUESDAY, 12)
    first = await reminders.plan_program_assigned(db, plan.user_program_id, noon)
    assert first is not None
    assert await reminders.plan_program_assigned(db, plan.user_program_id, noon) is None
    [notice] = await planned(db, athlete, "PROGRAM_ASSIGNED")
    assert notice.due_at == noon
    assert notice.variables == {
        "coach_name": "Coach",
        "program_title": "Base",
        "start_date": TUESDAY.isoformat(),
        "user_program_id": str(plan.user_program_id),
        "program_id": str(plan.program_id),
    }

    late = await give_program(db, athlete, TUESDAY, {0: ["Arms"]}, assigned_by=coach.id)
    await reminders.plan_program_assigned(db, late.user_program_id, local(PARIS, TUESDAY, 23))
    assert (await planned(db, athlete, "PROGRAM_ASSIGNED"))[-1].due_at == local(
        PARIS, TUESDAY + dt.timedelta(days=1), 7
    )
    own = await give_program(db, athlete, TUESDAY, {0: ["Core"]})
    assert await reminders.plan_program_assigned(db, own.user_program_id, noon) is None
    blocked = await new_user(db, PARIS, first_name="Blocked")
    gone = await give_program(db, blocked, TUESDAY, {0: ["Legs"]}, assigned_by=coach.id)
    await suppress(db, blocked.id, SuppressionReason.BOT_BLOCKED)
    assert await reminders.plan_program_assigned(db, gone.user_program_id, noon) is None


# --------------------------------------------------------------------------------------------
# Suppressions and per-type preferences across types
# --------------------------------------------------------------------------------------------


async def test_suppressions_and_unreachable_users(db: AsyncSession) -> None:
    blocked = await new_user(db, PARIS, first_name="Blocked")
    unsubscribed = await new_user(db, PARIS, first_name="Unsubscribed")
    unreachable = await new_user(db, PARIS, first_name="Unreachable")
    expired = await new_user(db, PARIS, first_name="Expired")
    monday = TUESDAY - dt.timedelta(days=1)
    for user in (blocked, unsubscribed, unreachable, expired):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
        await streak(db, user, 3, monday)
        await set_user_setting(db, user.id, "reminder_time", "18:00")
    await suppress(db, blocked.id, SuppressionReason.BOT_BLOCKED)
    await suppress(db, unsubscribed.id, SuppressionReason.USER_UNSUBSCRIBED, "WORKOUT_REMINDER")
    await suppress(
        db,
        expired.id,
        SuppressionReason.USER_UNSUBSCRIBED,
        expires_at=local(PARIS, TUESDAY, 12),
    )
    await db.execute(update(User).where(User.id == unreachable.id).values(is_unreachable=True))

    counts = await tick_all(db, local(PARIS, TUESDAY, 17, 59))
    assert counts["WORKOUT_REMINDER"] == 1
    assert counts["STREAK_AT_RISK"] == 2
    assert sorted(p.type_code for p in await planned(db, expired)) == [
        "STREAK_AT_RISK",
        "WORKOUT_REMINDER",
    ]
    assert [p.type_code for p in await planned(db, unsubscribed)] == ["STREAK_AT_RISK"]
    assert await planned(db, blocked) == []
    assert await planned(db, unreachable) == []


async def test_preference_days_and_time_override_the_type_defaults(db: AsyncSession) -> None:
    weekdays_only = await new_user(db, PARIS, first_name="Weekdays")
    not_tuesday = await new_user(db, PARIS, first_name="NotTuesday")
    monday = TUESDAY - dt.timedelta(days=1)
    for user in (weekdays_only, not_tuesday):
        await give_program(db, user, TUESDAY, {0: ["Legs"]})
        await streak(db, user, 3, monday)
    await prefer(db, weekdays_only, "STREAK_AT_RISK", days_of_week=[1, 2, 3, 4, 5])
    await prefer(db, not_tuesday, "STREAK_AT_RISK", days_of_week=[1, 3], local_time=dt.time(19))
    await reminders.plan_streaks_at_risk(db, local(PARIS, TUESDAY, 17, 59))
    await reminders.plan_streaks_at_risk(db, local(PARIS, TUESDAY, 18, 59))
    assert len(await planned(db, weekdays_only, "STREAK_AT_RISK")) == 1
    assert await planned(db, not_tuesday, "STREAK_AT_RISK") == []


# --------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------


async def log_session(
    db: AsyncSession, user: User, at: dt.datetime, volume: float, *, pr: bool = False
) -> None:
    await train(db, user, at)
    await record_activity(
        db,
        user.id,
        "WORKOUT_COMPLETED",
        title="Workout",
        occurred_at=at,
        metrics={"VOLUME_LOAD": volume},
    )
    if pr:
        exercise = await _first_id(db, select(Exercise.id))
        await record_activity(
            db,
            user.id,
            "PR_ACHIEVED",
            title="PR",
            occurred_at=at,
            resource_type="EXERCISE",
            resource_id=exercise,
        )


async def test_weekly_digest_on_sunday_evening_with_its_batch_and_activity_digest(
    db: AsyncSession,
) -> None:
    sunday = dt.date(2032, 6, 20)
    monday = sunday - dt.timedelta(days=6)
    athlete = await new_user(db, PARIS, first_name="Athlete")
    pounds = await new_user(db, PARIS, first_name="Pounds")
    silent = await new_user(db, PARIS, first_name="Silent")
    idle = await new_user(db, PARIS, first_name="Idle")  # no program, no activity
    await set_user_setting(db, pounds.id, "weight_unit", "lb")
    await set_user_setting(db, silent.id, "digest_frequency", "NONE")
    for user in (athlete, pounds, silent):
        await log_session(db, user, local(PARIS, monday, 18), 2000, pr=True)
        await log_session(db, user, local(PARIS, monday + dt.timedelta(days=2), 18), 1500)
        await log_session(db, user, local(PARIS, sunday, 9), 1900)
        # The week before does not count.
        await log_session(db, user, local(PARIS, monday, 18) - dt.timedelta(days=1), 999)
    await streak(db, athlete, 2, sunday)

    assert await reminders.plan_weekly_digests(db, local(PARIS, sunday, 17, 59)) == 2
    assert await reminders.plan_weekly_digests(db, local(PARIS, sunday, 18, 10)) == 0
    [digest] = await planned(db, athlete, "WEEKLY_DIGEST")
    assert digest.due_at == local(PARIS, sunday, 18)
    assert {k: digest.variables[k] for k in ("sessions", "volume", "prs", "streak_days")} == {
        "sessions": 3,
        "volume": "5400 kg",
        "prs": 1,
        "streak_days": 2,
    }
    assert digest.variables["period_start"] == monday.isoformat()
    assert (await planned(db, pounds, "WEEKLY_DIGEST"))[0].variables["volume"] == "11905 lb"
    assert await planned(db, silent) == []
    assert await planned(db, idle) == []

    row = (
        await db.execute(select(ActivityDigest).where(ActivityDigest.user_id == athlete.id))
    ).scalar_one()
    assert (row.digest_date, row.digest_period, row.total_activities) == (monday, "WEEKLY", 4)
    assert row.activity_summary == {"WORKOUT_COMPLETED": 3, "PR_ACHIEVED": 1}
    assert row.achievements == {"sessions": 3, "volume_kg": 5400, "prs": 1, "streak_days": 2}
    batch = (
        await db.execute(select(NotificationBatch).where(NotificationBatch.user_id == athlete.id))
    ).scalar_one()
    assert batch.batch_type == "WEEKLY_SUMMARY"
    assert batch.notification_count == 1
    assert batch.sent_at == digest.due_at
    items = await db.scalar(
        select(func.count())
        .select_from(NotificationBatchItem)
        .where(NotificationBatchItem.notification_batch_id == batch.id)
    )
    assert items == 1

    # A session on Sunday night, after the digest: the stored digest is completed once the
    # week is over, and only once.
    await log_session(db, athlete, local(PARIS, sunday, 20), 600)
    assert await reminders.refresh_activity_digests(db, local(PARIS, sunday, 23)) == 0
    assert (
        await reminders.refresh_activity_digests(
            db, local(PARIS, sunday + dt.timedelta(days=1), 0, 5)
        )
        >= 1
    )
    assert (
        await reminders.refresh_activity_digests(db, local(PARIS, sunday + dt.timedelta(days=1), 1))
        == 0
    )
    await db.refresh(row)
    assert row.total_activities == 5
    assert row.achievements == {"sessions": 4, "volume_kg": 6000, "prs": 1, "streak_days": 2}


async def test_monthly_digest_on_the_last_day_of_the_month(db: AsyncSession) -> None:
    monthly = await new_user(db, KOLKATA, first_name="Monthly")
    await set_user_setting(db, monthly.id, "digest_frequency", "MONTHLY")
    await give_program(db, monthly, dt.date(2032, 6, 1), {0: ["Legs"]})
    await log_session(db, monthly, local(KOLKATA, dt.date(2032, 6, 3), 7), 1000)
    # Not on the 29th, on the 30th; never weekly.
    assert (
        await reminders.plan_monthly_digests(db, local(KOLKATA, dt.date(2032, 6, 29), 17, 59)) == 0
    )
    assert (
        await reminders.plan_weekly_digests(db, local(KOLKATA, dt.date(2032, 6, 27), 17, 59)) == 0
    )
    assert (
        await reminders.plan_monthly_digests(db, local(KOLKATA, dt.date(2032, 6, 30), 17, 59)) == 1
    )
    [digest] = await planned(db, monthly, "MONTHLY_DIGEST")
    assert digest.variables["sessions"] == 1
    assert (digest.variables["period_start"], digest.variables["period_end"]) == (
        "2032-06-01",
        "2032-06-30",
    )


# --------------------------------------------------------------------------------------------
# Every planned notification renders
# --------------------------------------------------------------------------------------------


async def test_every_planned_type_renders_in_every_locale(db: AsyncSession) -> None:
    coach = await new_user(db, PARIS, first_name="Coach", reminder_time="18:00")
    athlete = await new_user(db, PARIS, first_name="Athlete", reminder_time="18:00")
    sunday = dt.date(2032, 6, 20)
    saturday = sunday - dt.timedelta(days=1)
    await give_program(db, athlete, saturday, {0: ["Legs"], 1: ["Push"]}, assigned_by=coach.id)
    await streak(db, athlete, 3, saturday - dt.timedelta(days=1))
    visibility = await _first_id(db, select(Visibility.id))
    gym = Institution(name="Gym", slug=f"g-{uuid.uuid4().hex[:8]}", visibility_id=visibility)
    db.add(gym)
    db.add(
        ProfessionalClientRelation(
            professional_id=coach.id,
            customer_id=athlete.id,
            relation_type=ProfessionalRelationType.COACH,
            status=ProfessionalRelationStatus.ACTIVE,
            consent_scope={"logs": True},
            consented_at=local(PARIS, saturday, 10) - dt.timedelta(days=20),
        )
    )
    await db.flush()
    db.add(
        InstitutionInvite(
            institution_id=gym.id,
            invited_by=coach.id,
            expires_at=local(PARIS, sunday, 20),
        )
    )
    await db.flush()
    await tick_all(db, local(PARIS, saturday, 17, 59))  # reminder, streak, invite, client
    await tick_all(db, local(PARIS, sunday, 0, 1) - dt.timedelta(minutes=2))  # missed
    await tick_all(db, local(PARIS, sunday, 17, 59))  # digest
    await set_user_setting(db, athlete.id, "digest_frequency", "MONTHLY")
    await tick_all(db, local(PARIS, dt.date(2032, 6, 30), 17, 59))  # monthly digest
    [assignment] = (
        await db.scalars(select(UserProgram.id).where(UserProgram.user_id == athlete.id))
    ).all()
    await reminders.plan_program_assigned(db, assignment, local(PARIS, saturday, 12))

    found = await planned(db, athlete) + await planned(db, coach)
    assert {p.type_code for p in found} == {
        "WORKOUT_REMINDER",
        "MISSED_WORKOUT",
        "STREAK_AT_RISK",
        "CLIENT_INACTIVE",
        "INVITE_EXPIRING",
        "PROGRAM_ASSIGNED",
        "WEEKLY_DIGEST",
        "MONTHLY_DIGEST",
    }
    for notification in found:
        for locale in SUPPORTED_LOCALES:
            rendered = await render(db, notification.type_code, locale, notification.variables)
            assert rendered.locale == locale
            assert "{" not in rendered.html


async def test_schedule_day_lists_the_workouts_of_a_day(db: AsyncSession) -> None:
    user = await new_user(db, AUCKLAND)
    plan = await give_program(db, user, TUESDAY, {0: ["A", "B"], 1: ["C"]}, optional=[(0, "B")])
    day = await workouts_on(db, user.id, TUESDAY)
    assert [(w.workout_name, w.is_optional, w.day_number) for w in day] == [
        ("A", False, 0),
        ("B", True, 0),
    ]
    assert all(w.user_program_id == plan.user_program_id for w in day)
    assert await workouts_on(db, user.id, TUESDAY - dt.timedelta(days=1)) == []
    assert not await is_day_done(db, user.id, TUESDAY, AUCKLAND)
