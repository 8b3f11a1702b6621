"""/clients: a coach's roster with each client's compliance, in ONE statement for the page.

Per client (ACTIVE relation), in the client's own time zone:

* **Completion** over the last 7 and 30 days: the client's *scheduled days* (a date with at
  least one non-optional workout, ``schedule_day.training_day_sql``, overrides applied) and how
  many of them are *done* (``schedule_day.day_done_sql``: a session started that day, or the
  workout settled). Today counts only once it is done (the day is not over).
* **Last session**: the newest TRAINING_SESSION the access engine lets the coach read
  (``visible(coach, "TRAINING_LOG")``: consent ``logs`` and the client's ``coach_can_see_logs``).
* **Soreness trend** (consent ``soreness``, and the sessions visible as above): the mean of the
  last ``SORENESS_WINDOW`` rated sessions against the ``SORENESS_WINDOW`` before them (over
  ``SORENESS_LOOKBACK``); rising when higher by ``TREND_STEP`` or more.
* **Needs attention**, thresholds:
  - *inactive*: no session for ``INACTIVE_DAYS`` days (or never) while at least one scheduled
    day fell in those days;
  - *sore*: soreness ≥ ``SORE_LEVEL`` in at least ``SORE_TIMES`` of the last
    ``SORENESS_WINDOW`` rated sessions.

Completion needs consent ``logs`` and the client's ``coach_can_see_logs`` (it is read from the
log): without them it is not computed (None).
"""

# The compliance lateral pastes schedule_day's SQL builders (S608); values are bind parameters.
# ruff: noqa: S608

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    and_,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from domain.access import Actor, literal_limit, visible
from domain.errors import NotAllowed
from domain.models.training_log import TrainingSession
from domain.models.user import ProfessionalClientRelation, ProfessionalRelationStatus, User
from domain.services.schedule_day import day_done_sql, training_day_sql
from domain.services.settings import effective_value_text

PAGE_SIZE = 10
INACTIVE_DAYS = 4
SORE_LEVEL = 7
SORE_TIMES = 2
SORENESS_WINDOW = 3
SORENESS_LOOKBACK = dt.timedelta(days=60)
TREND_STEP = Decimal("0.5")


class Trend(enum.StrEnum):
    RISING = "rising"
    FALLING = "falling"
    STEADY = "steady"


@dataclass(frozen=True, slots=True)
class Completion:
    scheduled: int
    done: int

    @property
    def percent(self) -> int | None:
        return None if not self.scheduled else round(100 * self.done / self.scheduled)


@dataclass(frozen=True, slots=True)
class ClientCompliance:
    relation_id: uuid.UUID
    client_id: uuid.UUID
    name: str
    timezone: str
    scope: dict[str, Any]
    week: Completion | None  # None: the coach may not read the log
    month: Completion | None
    last_session_at: dt.datetime | None
    soreness_recent: Decimal | None  # mean of the last SORENESS_WINDOW rated sessions
    soreness_previous: Decimal | None
    inactive: bool
    sore: bool

    @property
    def trend(self) -> Trend | None:
        if self.soreness_recent is None or self.soreness_previous is None:
            return None
        if self.soreness_recent - self.soreness_previous >= TREND_STEP:
            return Trend.RISING
        if self.soreness_previous - self.soreness_recent >= TREND_STEP:
            return Trend.FALLING
        return Trend.STEADY

    @property
    def needs_attention(self) -> bool:
        return self.inactive or self.sore


@dataclass(frozen=True, slots=True)
class RosterPage:
    clients: list[ClientCompliance]
    page: int
    has_next: bool


def _mean(values: list[int]) -> Decimal | None:
    if not values:
        return None
    return (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"))


def _statement(coach_id: uuid.UUID, relation_id: uuid.UUID | None, page: int) -> Any:
    relation = ProfessionalClientRelation
    now = bindparam("now", type_=DateTime(timezone=True))
    logs_setting = func.coalesce(effective_value_text("coach_can_see_logs", User.id), "true")
    conditions = [
        relation.professional_id == coach_id,
        relation.status == ProfessionalRelationStatus.ACTIVE,
    ]
    if relation_id is not None:
        conditions.append(relation.id == relation_id)
    clients = (
        select(
            relation.id.label("relation_id"),
            User.id.label("client_id"),
            User.first_name,
            User.last_name,
            User.timezone.label("tz"),
            relation.consent_scope,
            cast(func.timezone(User.timezone, now), Date).label("today"),
            and_(
                relation.consent_scope.op("@>")(literal_column("""'{"logs": true}'::jsonb""")),
                logs_setting != "false",
            ).label("logs_ok"),
        )
        .join(User, User.id == relation.customer_id)
        .where(*conditions)
        .order_by(func.lower(User.first_name), relation.id)
        .limit(literal_limit(PAGE_SIZE + 1))
        .offset(page * PAGE_SIZE)
        .cte("roster_client")
    )
    day = "CAST(g.d AS date)"
    training = training_day_sql("roster_client.client_id", day)
    done = day_done_sql("roster_client.client_id", day, "roster_client.tz")
    compliance = (
        text(
            f"""
            SELECT count(*) FILTER (WHERE {day} > roster_client.today - 7) AS scheduled_7,
                   count(*) FILTER (WHERE {day} > roster_client.today - 7 AND f.done) AS done_7,
                   count(*) AS scheduled_30,
                   count(*) FILTER (WHERE f.done) AS done_30,
                   count(*) FILTER (WHERE {day} >= roster_client.today - :inactive_days
                                      AND {day} < roster_client.today) AS scheduled_recent
            FROM generate_series(roster_client.today - 29, roster_client.today, interval '1 day')
                 AS g(d)
            CROSS JOIN LATERAL (SELECT {done} AS done) AS f
            WHERE roster_client.logs_ok AND {training}
              AND ({day} < roster_client.today OR f.done)
            """
        )
        .bindparams(bindparam("inactive_days", INACTIVE_DAYS))
        .columns(
            column("scheduled_7", Integer),
            column("done_7", Integer),
            column("scheduled_30", Integer),
            column("done_30", Integer),
            column("scheduled_recent", Integer),
        )
        .lateral("compliance")
    )
    readable = visible(Actor(coach_id), "TRAINING_LOG")
    since = bindparam("since", type_=DateTime(timezone=True))
    rated = and_(TrainingSession.soreness.is_not(None), TrainingSession.started_at >= since)
    sessions = (
        select(
            func.max(TrainingSession.started_at).label("last_at"),
            func.array_agg(
                aggregate_order_by(TrainingSession.soreness, TrainingSession.started_at.desc())
            )
            .filter(rated)
            .label("soreness"),
        )
        .where(TrainingSession.user_id == clients.c.client_id, readable)
        .lateral("sessions")
    )
    return (
        select(
            clients.c.relation_id,
            clients.c.client_id,
            clients.c.first_name,
            clients.c.last_name,
            clients.c.tz,
            clients.c.consent_scope,
            clients.c.today,
            clients.c.logs_ok,
            compliance.c.scheduled_7,
            compliance.c.done_7,
            compliance.c.scheduled_30,
            compliance.c.done_30,
            compliance.c.scheduled_recent,
            sessions.c.last_at,
            sessions.c.soreness,
        )
        .select_from(clients)
        .join(compliance, true())
        .join(sessions, true())
        .order_by(func.lower(clients.c.first_name), clients.c.relation_id)
    )


def _row(row: Any, now: dt.datetime) -> ClientCompliance:
    scope: dict[str, Any] = dict(row.consent_scope or {})
    logs_ok = bool(row.logs_ok)
    soreness: list[int] = (
        [int(value) for value in row.soreness or []] if scope.get("soreness") is True else []
    )
    recent = soreness[:SORENESS_WINDOW]
    previous = soreness[SORENESS_WINDOW : 2 * SORENESS_WINDOW]
    last_at: dt.datetime | None = row.last_at
    inactive = False
    if logs_ok and int(row.scheduled_recent or 0) > 0:
        cutoff = now - dt.timedelta(days=INACTIVE_DAYS)
        inactive = last_at is None or last_at < cutoff
    name = " ".join(part for part in (row.first_name, row.last_name) if part)
    return ClientCompliance(
        relation_id=row.relation_id,
        client_id=row.client_id,
        name=name,
        timezone=row.tz,
        scope=scope,
        week=Completion(int(row.scheduled_7), int(row.done_7)) if logs_ok else None,
        month=Completion(int(row.scheduled_30), int(row.done_30)) if logs_ok else None,
        last_session_at=last_at,
        soreness_recent=_mean(recent),
        soreness_previous=_mean(previous),
        inactive=inactive,
        sore=sum(1 for value in recent if value >= SORE_LEVEL) >= SORE_TIMES,
    )


async def roster(
    session: AsyncSession, *, coach_id: uuid.UUID, now: dt.datetime, page: int = 0
) -> RosterPage:
    """A page of the coach's ACTIVE clients (by first name) with their compliance."""
    page = min(max(page, 0), 10_000)
    rows = (
        await session.execute(
            _statement(coach_id, None, page), {"now": now, "since": now - SORENESS_LOOKBACK}
        )
    ).all()
    clients = [_row(row, now) for row in rows[:PAGE_SIZE]]
    return RosterPage(clients, page, len(rows) > PAGE_SIZE)


async def client_compliance(
    session: AsyncSession, *, coach_id: uuid.UUID, relation_id: uuid.UUID, now: dt.datetime
) -> ClientCompliance:
    """One client's line of the roster; NotAllowed when the relation is not the coach's
    ACTIVE one (a forged or stale button)."""
    rows = (
        await session.execute(
            _statement(coach_id, relation_id, 0), {"now": now, "since": now - SORENESS_LOOKBACK}
        )
    ).all()
    if not rows:
        raise NotAllowed("not an active client of yours", relation_id=str(relation_id))
    return _row(rows[0], now)
