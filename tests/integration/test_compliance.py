"""The /clients roster against PostgreSQL: 7- and 30-day completion of scheduled days in each
client's time zone (optional workouts and today-not-yet-done left out), last session, the
soreness trend, "needs attention" (inactive, sore), consent honoured, only the coach's ACTIVE
clients, paging, and a forged relation id refused."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import NotAllowed
from domain.models.user import User
from domain.services import assignments, coaching, compliance
from domain.services.compliance import Completion, Trend
from tests.factories import SetSpec, make_program, make_user, make_workout
from tests.integration.test_coaching import link, log_session, make_coach

TODAY = dt.date(2031, 3, 12)  # a Wednesday
NOW = dt.datetime(2031, 3, 12, 12, tzinfo=dt.UTC)


def on(day: dt.date, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


def days_ago(days: int) -> dt.date:
    return TODAY - dt.timedelta(days=days)


async def program_for(session: AsyncSession, coach: User) -> uuid.UUID:
    """Training on days 0, 2, 4 of each week for 5 weeks; day 1 holds an optional workout."""
    legs = await make_workout(session, coach.id, "Legs", [SetSpec("back_squat", sets=3, reps=5)])
    days = {day: [legs] for day in range(35) if day % 7 in (0, 1, 2, 4)}
    plan = await make_program(
        session,
        coach,
        start=TODAY,
        days=days,
        weeks=5,
        optional=[(day, legs) for day in range(35) if day % 7 == 1],
    )
    return plan.program_id


async def client(
    session: AsyncSession,
    coach: User,
    program_id: uuid.UUID | None,
    *,
    first_name: str,
    start: dt.date | None = None,
    timezone: str = "UTC",
    scope: tuple[str, ...] | None = None,
) -> tuple[User, uuid.UUID]:
    athlete = await make_user(session, first_name=first_name, timezone=timezone)
    relation_id = await link(session, coach, athlete, now=NOW, scope=scope)
    if program_id is not None and start is not None:
        await assignments.start_program(
            session,
            user_id=athlete.id,
            program_id=program_id,
            start_date=start,
            assigned_by=coach.id,
            now=NOW,
        )
    return athlete, relation_id


async def test_the_roster_shows_completion_last_session_soreness_and_attention(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    program = await program_for(session, coach)
    # Started 6 days ago: scheduled on days_ago(6), (4), (2); day 1 of each week is optional.
    ada, ada_relation = await client(session, coach, program, first_name="Ada", start=days_ago(6))
    for days, soreness in ((20, 2), (18, 3), (16, 2)):  # before the program: soreness only
        await log_session(session, ada, on(days_ago(days)), soreness=soreness)
    await log_session(session, ada, on(days_ago(6)), soreness=7)
    await log_session(session, ada, on(days_ago(2)), soreness=8)
    await log_session(session, ada, on(days_ago(1)), soreness=5)  # not a scheduled day
    # Bo lives in Tokyo: 20:00 UTC the day before is the scheduled morning there.
    bo, _bo_relation = await client(
        session, coach, program, first_name="Bo", start=days_ago(6), timezone="Asia/Tokyo"
    )
    await log_session(session, bo, dt.datetime.combine(days_ago(3), dt.time(20), dt.UTC))
    # Cy started 4 days ago: scheduled days_ago(4), days_ago(2) and today, trained today.
    cy, _cy_relation = await client(session, coach, program, first_name="Cy", start=days_ago(4))
    await log_session(session, cy, on(TODAY, 8), soreness=2)
    # Dee: same start, never trained (today not over: it does not count yet).
    await client(session, coach, program, first_name="Dee", start=days_ago(4))
    # Eve shared programs only: nothing from her log is shown.
    eve, _eve_relation = await client(
        session, coach, program, first_name="Eve", start=days_ago(6), scope=("programs",)
    )
    await log_session(session, eve, on(days_ago(2)), soreness=9)
    await log_session(session, eve, on(days_ago(1)), soreness=9)
    # Not in this coach's roster: an ended relation, another coach's client.
    fay, fay_relation = await client(session, coach, None, first_name="Fay")
    await coaching.end_relation(session, actor_id=fay.id, relation_id=fay_relation, now=NOW)
    olga = await make_coach(session)
    await client(session, olga, None, first_name="Gus")

    page = await compliance.roster(session, coach_id=coach.id, now=NOW)
    assert not page.has_next
    rows = {row.name: row for row in page.clients}
    assert list(rows) == ["Ada", "Bo", "Cy", "Dee", "Eve"]

    ada_row = rows["Ada"]
    assert ada_row.relation_id == ada_relation
    assert (ada_row.week, ada_row.month) == (Completion(3, 2), Completion(3, 2))
    assert ada_row.week.percent == 67
    assert ada_row.last_session_at == on(days_ago(1))
    assert ada_row.soreness_recent == Decimal("6.7")  # 5, 8, 7
    assert ada_row.soreness_previous == Decimal("2.3")  # 2, 3, 2
    assert ada_row.trend is Trend.RISING
    assert ada_row.sore
    assert not ada_row.inactive
    assert ada_row.needs_attention

    assert rows["Bo"].week == Completion(3, 1)
    assert not rows["Bo"].needs_attention
    assert rows["Bo"].trend is None

    assert rows["Cy"].week == Completion(3, 1)
    assert rows["Cy"].soreness_recent == Decimal("2.0")
    assert not rows["Cy"].needs_attention

    dee = rows["Dee"]
    assert dee.week == Completion(2, 0)
    assert dee.week.percent == 0
    assert dee.last_session_at is None
    assert dee.inactive
    assert dee.needs_attention

    eve_row = rows["Eve"]
    assert eve_row.week is None
    assert eve_row.month is None
    assert eve_row.last_session_at is None
    assert eve_row.soreness_recent is None
    assert not eve_row.needs_attention

    one = await compliance.client_compliance(
        session, coach_id=coach.id, relation_id=ada_relation, now=NOW
    )
    assert one == ada_row
    # Olga, or anyone, pressing a button with Ada's relation id; Fay's ended relation.
    for coach_id, relation_id in ((olga.id, ada_relation), (coach.id, fay_relation)):
        with pytest.raises(NotAllowed):
            await compliance.client_compliance(
                session, coach_id=coach_id, relation_id=relation_id, now=NOW
            )


async def test_the_roster_pages_and_completion_moves_when_the_client_trains(
    session: AsyncSession,
) -> None:
    coach = await make_coach(session)
    program = await program_for(session, coach)
    first, _relation = await client(session, coach, program, first_name="A00", start=days_ago(28))
    for index in range(1, compliance.PAGE_SIZE + 1):
        await client(session, coach, None, first_name=f"A{index:02d}")
    page = await compliance.roster(session, coach_id=coach.id, now=NOW)
    assert page.has_next
    assert [row.name for row in page.clients] == [f"A{i:02d}" for i in range(10)]
    last = await compliance.roster(session, coach_id=coach.id, now=NOW, page=1)
    assert not last.has_next
    assert [row.name for row in last.clients] == ["A10"]

    # Started 28 days ago: weeks 0-3 in the 30 days (3 each) + day 28 = today (not done);
    # the last 7 days are days 22-28: 23 and 25 (and today).
    before = page.clients[0]
    assert before.month == Completion(12, 0)
    assert before.week == Completion(2, 0)
    assert before.inactive
    await log_session(session, first, on(days_ago(3)))  # day 25
    after = (await compliance.roster(session, coach_id=coach.id, now=NOW)).clients[0]
    assert after.week == Completion(2, 1)
    assert after.month == Completion(12, 1)
    assert not after.inactive
