"""Check pure filters on the event loop instead of in a worker thread.

aiogram (3.31) runs every synchronous filter callback through ``asyncio.to_thread``: a
``F.text`` magic filter or a bare FSM ``State`` used as a filter costs a thread hop each time it
is checked. A free-text message walks past every conversation-step handler before reaching the
set logger, so with the coaching screens' ~30 step handlers a message paid ~30 hops, ~10 ms of
CPU (docs/benchmarks.md, "Free-text logging"). Magic filters and States only read the update
and the state they are given: they cannot block, so they are run inline. Any other synchronous
filter keeps aiogram's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.fsm.state import State


def _pure(filter_object: FilterObject) -> bool:
    return filter_object.magic is not None or isinstance(filter_object.callback, State)


def _inline(callback: Callable[..., Any]) -> Callable[..., Any]:
    async def check(*args: Any, **kwargs: Any) -> Any:
        return callback(*args, **kwargs)

    check.original = callback  # type: ignore[attr-defined]  # for bot.router_gates
    return check


def _filters(router: Router) -> Iterator[FilterObject]:
    for observer in router.observers.values():
        yield from observer._handler.filters or ()  # router-level filters (observer.filter())
        for handler in observer.handlers:
            yield from handler.filters or ()
    for child in router.sub_routers:
        yield from _filters(child)


def inline_pure_filters(router: Router) -> int:
    """Make the pure synchronous filters of ``router`` and its sub-routers run inline; returns
    how many were changed. Call once, after every router is included."""
    changed = 0
    for filter_object in _filters(router):
        if filter_object.awaitable or not _pure(filter_object):
            continue
        # The parameters aiogram passes stay those of the original callback.
        filter_object.callback = _inline(filter_object.callback)
        filter_object.awaitable = True
        changed += 1
    return changed
