"""EVENT_QUEUE as a transactional outbox: exactly-once processing by concurrent consumers,
retries with backoff, dead letters and abandoned claims (real PostgreSQL, committed rows)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.errors import InvalidInput
from domain.models.audit import EventQueue, QueueStatus
from domain.services.outbox import (
    OutboxEvent,
    RetryPolicy,
    claim_batch,
    process_batch,
    publish,
    purge_completed,
)

# A fixed clock far from the real one: only the injected `now` makes these messages due.
T0 = dt.datetime(2031, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@pytest.fixture
async def topic(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    """A topic of this test alone; its committed messages are deleted afterwards."""
    name = f"test.outbox.{uuid.uuid4().hex[:12]}"
    yield name
    async with factory() as session, session.begin():
        await session.execute(delete(EventQueue).where(EventQueue.topic == name))


async def publish_committed(
    factory: async_sessionmaker[AsyncSession],
    topic: str,
    count: int,
    *,
    available_at: dt.datetime | None = None,
    max_retries: int = 3,
) -> list[uuid.UUID]:
    async with factory() as session, session.begin():
        return [
            await publish(
                session,
                topic,
                {"n": n},
                available_at=available_at,
                max_retries=max_retries,
            )
            for n in range(count)
        ]


async def message(factory: async_sessionmaker[AsyncSession], message_id: uuid.UUID) -> EventQueue:
    async with factory() as session:
        row = await session.get(EventQueue, message_id)
        assert row is not None
        return row


def failing(calls: Counter[uuid.UUID]) -> Callable[[OutboxEvent], Awaitable[None]]:
    async def handler(event: OutboxEvent) -> None:
        calls[event.id] += 1
        raise RuntimeError(f"provider down (attempt {event.retry_count + 1})")

    return handler


async def test_publish_belongs_to_the_callers_transaction(
    factory: async_sessionmaker[AsyncSession], topic: str
) -> None:
    async with factory() as session:
        await session.begin()
        await publish(session, topic, {"user_id": uuid.uuid4()})
        await session.rollback()
    async with factory() as session, session.begin():
        kept = await publish(session, topic, {"user_id": uuid.UUID(int=7)})
    async with factory() as session:
        rows = (await session.scalars(select(EventQueue).where(EventQueue.topic == topic))).all()
    assert [(row.id, row.payload, row.status) for row in rows] == [
        (kept, {"user_id": str(uuid.UUID(int=7))}, QueueStatus.PENDING)
    ]


async def test_publish_rejects_bad_topics(session: AsyncSession) -> None:
    with pytest.raises(InvalidInput, match="topic"):
        await publish(session, "not a topic!", {})
    with pytest.raises(InvalidInput, match="max_retries"):
        await publish(session, "ok.topic", {}, max_retries=-1)


async def test_two_concurrent_consumers_process_each_event_exactly_once(
    factory: async_sessionmaker[AsyncSession], topic: str
) -> None:
    published = await publish_committed(factory, topic, 1000)
    calls: Counter[uuid.UUID] = Counter()
    by_consumer: Counter[str] = Counter()

    async def consumer(name: str) -> None:
        async def handler(event: OutboxEvent) -> None:
            calls[event.id] += 1
            by_consumer[name] += 1
            await asyncio.sleep(0)  # let the other consumer run in between

        while (await process_batch(factory, handler, limit=50, topics=[topic])).claimed:
            pass

    await asyncio.gather(consumer("a"), consumer("b"))

    assert set(calls) == set(published)
    assert set(calls.values()) == {1}
    assert sum(by_consumer.values()) == 1000
    assert by_consumer["a"] > 0
    assert by_consumer["b"] > 0
    async with factory() as session:
        statuses = Counter(
            (
                await session.scalars(select(EventQueue.status).where(EventQueue.topic == topic))
            ).all()
        )
    assert statuses == Counter({QueueStatus.COMPLETED: 1000})


async def test_failures_back_off_exponentially_then_go_dead(
    factory: async_sessionmaker[AsyncSession], topic: str
) -> None:
    (message_id,) = await publish_committed(factory, topic, 1, available_at=T0, max_retries=3)
    policy = RetryPolicy(base=dt.timedelta(seconds=10), cap=dt.timedelta(seconds=15))
    calls: Counter[uuid.UUID] = Counter()
    handler = failing(calls)

    async def run(at: dt.datetime) -> tuple[int, int, int]:
        result = await process_batch(
            factory, handler, limit=10, now=at, topics=[topic], policy=policy
        )
        return result.claimed, result.retried, result.dead

    # Not due before its time.
    assert await run(T0 - dt.timedelta(seconds=1)) == (0, 0, 0)
    # 1st failure: retry after base (10 s).
    assert await run(T0) == (1, 1, 0)
    row = await message(factory, message_id)
    assert (row.status, row.retry_count, row.next_retry_at) == (
        QueueStatus.PENDING,
        1,
        T0 + dt.timedelta(seconds=10),
    )
    assert row.failure_reason == "RuntimeError: provider down (attempt 1)"
    assert await run(T0 + dt.timedelta(seconds=9)) == (0, 0, 0)
    # 2nd failure: 2 × base = 20 s, capped at 15 s.
    second = T0 + dt.timedelta(seconds=10)
    assert await run(second) == (1, 1, 0)
    row = await message(factory, message_id)
    assert (row.retry_count, row.next_retry_at) == (2, second + dt.timedelta(seconds=15))
    assert policy.delay(2) == dt.timedelta(seconds=15)
    # 3rd failure: still capped.
    third = second + dt.timedelta(seconds=15)
    assert await run(third) == (1, 1, 0)
    row = await message(factory, message_id)
    assert (row.retry_count, row.next_retry_at) == (3, third + dt.timedelta(seconds=15))
    # 4th failure exceeds max_retries = 3: dead.
    fourth = third + dt.timedelta(seconds=15)
    assert await run(fourth) == (1, 0, 1)
    row = await message(factory, message_id)
    assert (row.status, row.retry_count, row.next_retry_at, row.processed_at) == (
        QueueStatus.FAILED,
        4,
        None,
        fourth,
    )
    assert row.failure_reason == "RuntimeError: provider down (attempt 4)"
    # Dead letters are never claimed again.
    assert await run(fourth + dt.timedelta(days=365)) == (0, 0, 0)
    assert calls[message_id] == 4


async def test_a_retry_that_succeeds_completes_the_message(
    factory: async_sessionmaker[AsyncSession], topic: str
) -> None:
    (message_id,) = await publish_committed(factory, topic, 1, available_at=T0)
    attempts: list[int] = []

    async def flaky(event: OutboxEvent) -> None:
        attempts.append(event.retry_count)
        if event.retry_count == 0:
            raise ConnectionError("timeout")

    policy = RetryPolicy(base=dt.timedelta(minutes=1))
    first = await process_batch(factory, flaky, now=T0, topics=[topic], policy=policy)
    later = T0 + dt.timedelta(minutes=1)
    second = await process_batch(factory, flaky, now=later, topics=[topic], policy=policy)

    assert (first.retried, second.completed) == (1, 1)
    assert attempts == [0, 1]
    row = await message(factory, message_id)
    assert (row.status, row.retry_count, row.processed_at, row.next_retry_at) == (
        QueueStatus.COMPLETED,
        1,
        later,
        None,
    )
    # Delivered messages can be purged; the test's clean-up finds nothing left of them.
    async with factory() as session, session.begin():
        assert await purge_completed(session, later) == 0
        assert await purge_completed(session, later + dt.timedelta(seconds=1)) >= 1
        left = await session.scalar(
            select(func.count()).select_from(EventQueue).where(EventQueue.topic == topic)
        )
    assert left == 0


async def test_an_abandoned_claim_is_reclaimed_after_its_lease(
    factory: async_sessionmaker[AsyncSession], topic: str
) -> None:
    (message_id,) = await publish_committed(factory, topic, 1, available_at=T0, max_retries=1)
    policy = RetryPolicy(base=dt.timedelta(seconds=30), lease=dt.timedelta(minutes=5))

    async def claim(at: dt.datetime) -> list[OutboxEvent]:
        async with factory() as session, session.begin():
            return await claim_batch(session, 10, at, topics=[topic], policy=policy)

    # A consumer claims and dies without reporting back.
    assert [event.id for event in await claim(T0)] == [message_id]
    assert await claim(T0 + dt.timedelta(minutes=4)) == []
    # The lease runs out: that counts as a failed attempt, retried after the backoff.
    expired = T0 + dt.timedelta(minutes=5)
    assert await claim(expired) == []
    row = await message(factory, message_id)
    assert (row.status, row.retry_count, row.next_retry_at) == (
        QueueStatus.PENDING,
        1,
        expired + dt.timedelta(seconds=30),
    )
    assert row.failure_reason == "lease expired before the consumer reported back"
    (again,) = await claim(expired + dt.timedelta(seconds=30))
    assert (again.id, again.retry_count) == (message_id, 1)
    # Abandoned again, and max_retries = 1 is exhausted: dead, never claimed again.
    assert await claim(expired + dt.timedelta(minutes=6)) == []
    row = await message(factory, message_id)
    assert (row.status, row.retry_count, row.next_retry_at) == (QueueStatus.FAILED, 2, None)
