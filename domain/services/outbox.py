"""EVENT_QUEUE as a transactional outbox, delivered at least once by any number of consumers.

``publish`` inserts a message in the caller's transaction, so it exists exactly when the
change that caused it commits. Consumers run ``process_batch``:

1. claim (short transaction): ``SELECT … FOR UPDATE SKIP LOCKED`` picks due messages no other
   consumer is claiming; they become PROCESSING with a lease (``next_retry_at`` = now + lease)
   and the transaction commits, so no lock or connection is held while handlers run;
2. run the handler of each message, outside any transaction;
3. report (second short transaction): COMPLETED, or on an exception one more failure — retried
   after ``base × 2^(failures − 1)`` (capped), dead (FAILED) once failures exceed max_retries.

A consumer that dies between 1 and 3 leaves PROCESSING messages whose lease runs out; the next
claim counts that as a failed attempt and makes them due again (or dead). Delivery is
therefore at least once: a handler must be idempotent by ``OutboxEvent.id``.

Clock: every function takes ``now`` (None = the database's ``now()``), so tests can drive
backoff and leases with an injected clock.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    Table,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from domain.models.audit import EventQueue, QueueStatus
from domain.services.audit import to_json_safe

# "payment.succeeded", "PAYMENT_SUCCEEDED", "reminder.due": letters, digits, '.', '_', '-'.
_TOPIC = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
# Failure reasons are for people reading the dead letters, not full tracebacks.
_MAX_REASON = 2000


def _table_of(model: type[EventQueue]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Core statements on the table: claims and reports are set-based and must not try to
# synchronise ORM objects (none are loaded).
QUEUE = _table_of(EventQueue)

Handler = Callable[["OutboxEvent"], Awaitable[None]]


@dataclass(frozen=True)
class OutboxEvent:
    """A claimed message, detached from the session that claimed it."""

    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    event_id: uuid.UUID | None
    # Failed attempts before this one.
    retry_count: int
    max_retries: int
    created_at: dt.datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: the n-th failure waits base × 2^(n−1), at most `cap`."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    cap: dt.timedelta = dt.timedelta(hours=1)
    # How long a claim lasts before the message is presumed abandoned and reclaimed.
    lease: dt.timedelta = dt.timedelta(minutes=5)

    def delay(self, failures: int) -> dt.timedelta:
        """The wait after the `failures`-th failure (1-based); mirrors the SQL in `_failure`."""
        wait: dt.timedelta = self.base * 2 ** max(failures - 1, 0)
        return min(wait, self.cap)


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True)
class BatchResult:
    claimed: int
    completed: int
    # Failed and scheduled again.
    retried: int
    # Failed for the last time (status FAILED).
    dead: int


def _now(now: dt.datetime | None) -> ColumnElement[dt.datetime]:
    if now is None:
        return func.now()
    if now.tzinfo is None:
        raise InvalidInput("the outbox needs an aware datetime (UTC)")
    return literal(now, type_=QUEUE.c.next_retry_at.type)


def _interval(delta: dt.timedelta) -> ColumnElement[dt.timedelta]:
    return literal(delta, type_=Interval())


async def publish(
    session: AsyncSession,
    topic: str,
    payload: Mapping[str, Any],
    *,
    available_at: dt.datetime | None = None,
    event_id: uuid.UUID | None = None,
    max_retries: int = 3,
) -> uuid.UUID:
    """Queue a message in the caller's transaction; due at `available_at` (default: now)."""
    if not _TOPIC.match(topic):
        raise InvalidInput(
            f"outbox topic {topic!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter",
            topic=topic,
        )
    if max_retries < 0:
        raise InvalidInput("max_retries cannot be negative", max_retries=max_retries)
    message_id = uuid.uuid4()
    await session.execute(
        insert(QUEUE).values(
            id=message_id,
            topic=topic,
            payload=to_json_safe(dict(payload)),
            event_id=event_id,
            status=QueueStatus.PENDING,
            max_retries=max_retries,
            next_retry_at=_now(available_at),
        )
    )
    return message_id


def _failure(reason: str, now: ColumnElement[dt.datetime], policy: RetryPolicy) -> dict[str, Any]:
    """SET clause of "one more failed attempt": backoff, or dead after max_retries.

    In an UPDATE every column on the right-hand side is the old value, so
    ``base × 2^retry_count`` is base × 2^(failures − 1) for the failure being recorded.
    """
    queue = QUEUE.c
    dead = queue.retry_count + 1 > queue.max_retries
    seconds = func.least(
        policy.base.total_seconds() * func.power(2, queue.retry_count), policy.cap.total_seconds()
    )
    # The seventh argument of make_interval is seconds (after years … minutes).
    backoff = func.make_interval(0, 0, 0, 0, 0, 0, seconds, type_=Interval())
    return {
        "retry_count": queue.retry_count + 1,
        "failure_reason": reason[:_MAX_REASON],
        "status": case((dead, QueueStatus.FAILED.value), else_=QueueStatus.PENDING.value),
        "next_retry_at": case((dead, null()), else_=now + backoff),
        "processed_at": case((dead, now), else_=null()),
    }


async def claim_batch(
    session: AsyncSession,
    limit: int,
    now: dt.datetime | None = None,
    *,
    topics: Sequence[str] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> list[OutboxEvent]:
    """Claim up to `limit` due messages (oldest due first) for this consumer.

    Other consumers' claims in progress are skipped, not waited for (SKIP LOCKED), so two
    consumers never claim the same message. Commit soon after: the claim is what others see.
    """
    if limit < 1:
        raise InvalidInput("claim at least one message", limit=limit)
    current = _now(now)
    queue = QUEUE.c
    in_topics = queue.topic.in_(topics) if topics is not None else true()

    # Leases that ran out: their consumer died or hung, which counts as a failed attempt.
    expired = (
        select(queue.id)
        .where(queue.status == QueueStatus.PROCESSING, queue.next_retry_at <= current, in_topics)
        .with_for_update(skip_locked=True)
    )
    await session.execute(
        update(QUEUE)
        .where(queue.id.in_(expired.scalar_subquery()))
        .values(_failure("lease expired before the consumer reported back", current, policy))
    )

    due = (
        select(queue.id)
        .where(queue.status == QueueStatus.PENDING, queue.next_retry_at <= current, in_topics)
        .order_by(queue.next_retry_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    claimed = await session.execute(
        update(QUEUE)
        .where(queue.id == due.c.id)
        .values(status=QueueStatus.PROCESSING, next_retry_at=current + _interval(policy.lease))
        .returning(
            queue.id,
            queue.topic,
            queue.payload,
            queue.event_id,
            queue.retry_count,
            queue.max_retries,
            queue.created_at,
        )
    )
    rows = sorted(claimed.all(), key=lambda row: (row.created_at, row.id))
    return [
        OutboxEvent(
            id=row.id,
            topic=row.topic,
            payload=row.payload,
            event_id=row.event_id,
            retry_count=row.retry_count,
            max_retries=row.max_retries,
            created_at=row.created_at,
        )
        for row in rows
    ]


async def complete(
    session: AsyncSession, ids: Sequence[uuid.UUID], now: dt.datetime | None = None
) -> int:
    """Mark claimed messages delivered; returns how many were still ours to mark."""
    if not ids:
        return 0
    current = _now(now)
    queue = QUEUE.c
    result = await session.execute(
        update(QUEUE)
        .where(queue.id.in_(ids), queue.status == QueueStatus.PROCESSING)
        .values(
            status=QueueStatus.COMPLETED,
            processed_at=current,
            next_retry_at=None,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def fail(
    session: AsyncSession,
    message_id: uuid.UUID,
    reason: str,
    now: dt.datetime | None = None,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> QueueStatus | None:
    """Record a failed delivery of a claimed message: PENDING again after the backoff, or
    FAILED (dead) once failures exceed max_retries. None if the message was not claimed."""
    queue = QUEUE.c
    status = await session.scalar(
        update(QUEUE)
        .where(queue.id == message_id, queue.status == QueueStatus.PROCESSING)
        .values(_failure(reason, _now(now), policy))
        .returning(queue.status)
    )
    return None if status is None else QueueStatus(status)


async def process_batch(
    session_factory: Callable[[], AsyncSession],
    handler: Handler,
    *,
    limit: int = 100,
    now: dt.datetime | None = None,
    topics: Sequence[str] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
) -> BatchResult:
    """Claim a batch, run `handler` on each message in order, record the outcomes.

    Owns its transactions (unlike other services): the claim must be committed before the
    handlers run so that other consumers see it, and no transaction may stay open across
    handlers that talk to the network.
    """
    async with session_factory() as session, session.begin():
        events = await claim_batch(session, limit, now, topics=topics, policy=policy)
    if not events:
        return BatchResult(claimed=0, completed=0, retried=0, dead=0)

    delivered: list[uuid.UUID] = []
    failures: list[tuple[uuid.UUID, str]] = []
    for message in events:
        try:
            await handler(message)
        except Exception as error:  # any handler failure is recorded, not propagated
            failures.append((message.id, f"{type(error).__name__}: {error}"))
        else:
            delivered.append(message.id)

    dead = 0
    async with session_factory() as session, session.begin():
        completed = await complete(session, delivered, now)
        for message_id, reason in failures:
            if await fail(session, message_id, reason, now, policy=policy) is QueueStatus.FAILED:
                dead += 1
    return BatchResult(
        claimed=len(events), completed=completed, retried=len(failures) - dead, dead=dead
    )


async def purge_completed(session: AsyncSession, before: dt.datetime) -> int:
    """Delete delivered messages processed before `before` (dead ones stay for inspection)."""
    queue = QUEUE.c
    result = await session.execute(
        delete(QUEUE).where(queue.status == QueueStatus.COMPLETED, queue.processed_at < before)
    )
    return int(getattr(result, "rowcount", 0) or 0)
