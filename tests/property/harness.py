"""The harness of the property tests: an event loop of their own, one example per SAVEPOINT,
and the bridge between reference-model keys and engine calls.

How the async engine is driven from hypothesis (pytest-asyncio 1.x, asyncio_mode=auto):
hypothesis calls a *sync* test body once per example. Running the async work with
``asyncio.run`` / ``loop.run_until_complete`` in the test thread is fragile (pytest-asyncio owns
the thread's event loop and its session-scoped loop must stay usable for the other tests), so
the property tests own a dedicated event loop running in a background thread (``LoopThread``)
with their own engine (``create_engine(database_url)``) and submit each example to it with
``asyncio.run_coroutine_threadsafe``: that works whatever pytest-asyncio does with the main
thread. Isolation: one connection per test with an outer transaction (rolled back at the end),
and each example inside a SAVEPOINT (``connection.begin_nested()``) rolled back after the
example, with a fresh AsyncSession, so examples neither leak rows nor share caches.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from domain.access import Action, Actor, ResourceRef, authorize
from domain.models.institution import Institution
from domain.models.program import Program
from domain.models.training_log import TrainingSession
from domain.models.workout import Workout
from tests.property import reference_model as ref
from tests.property.worlds import Catalog, Materialized, Request

T = TypeVar("T")

TABLES: dict[str, Any] = {
    "WORKOUT": Workout,
    "PROGRAM": Program,
    "TRAINING_LOG": TrainingSession,
    "INSTITUTION": Institution,
}


class LoopThread:
    """An event loop of our own, running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 300) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@dataclass
class WorldDatabase:
    """A connection in an outer transaction; `example` runs one example in a savepoint."""

    runner: LoopThread
    engine: AsyncEngine
    connection: AsyncConnection
    catalog: Catalog

    def __repr__(self) -> str:
        return "WorldDatabase()"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def example(self, body: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async def in_savepoint() -> T:
            savepoint = await self.connection.begin_nested()
            session = AsyncSession(
                bind=self.connection,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
            )
            try:
                return await body(session)
            finally:
                await session.close()
                await savepoint.rollback()

        return self.runner.run(in_savepoint())


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def engine_actor(ids: Materialized, actor: str | None) -> Actor:
    return Actor.guest() if actor is None else Actor(ids[actor])


async def engine_decision(
    session: AsyncSession, world: ref.World, ids: Materialized, request: Request
) -> Any:
    resource = world.resources[request.resource]
    return await authorize(
        session,
        engine_actor(ids, request.actor),
        Action[request.action],
        ResourceRef(resource.type, ids[request.resource]),
        now=world.now,
    )


def explain(decision: Any) -> str:
    parts = [f"allowed={decision.allowed}"]
    for name in ("reason", "rule"):
        value = getattr(decision, name, None)
        if value is not None:
            parts.append(f"{name}={value}")
    return ", ".join(parts)


@dataclass
class Mismatch:
    request: Request
    expected: ref.ReferenceDecision
    got: str

    def __str__(self) -> str:
        who = self.request.actor or "guest"
        return (
            f"{who} {self.request.action} {self.request.resource}: reference says "
            f"{'ALLOW' if self.expected.allowed else 'DENY'} ({self.expected.reason}); "
            f"engine: {self.got}"
        )


def report(world: ref.World, mismatches: list[Any], what: str) -> str:
    lines = [f"{len(mismatches)} {what}:", *(f"  {m}" for m in mismatches[:10])]
    lines.append("world:")
    lines.append(world.describe())
    return "\n".join(lines)
