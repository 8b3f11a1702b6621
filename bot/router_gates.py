"""Skip a feature router at once when none of its handlers can take the update.

aiogram tries every handler of every router in order, and each check copies the update's
context a few times: a free-text set walked past ~85 conversation-step and command handlers
before reaching the set logger, ~0.6 ms per message (docs/benchmarks.md, "Free-text
logging"), and a button of a late feature past up to ~145 callback handlers, each unpacking the
data to find it is not its prefix. Most routers take a message only in one of their own FSM
states or as one of their commands, and a button press only with one of their CallbackData
prefixes. From the handlers' own filters we derive, once at start-up, what a router can take
at all: a message or a button the router cannot take skips it with one cheap check.

A gate is a necessary condition, never a new rule: a message handler is bound by a state
filter (a ``State``, ``StatesGroup`` or ``StateFilter`` naming states) and/or a ``Command``
filter, a callback handler by a state filter and/or a ``CallbackData`` filter; an observer is
gated only when every one of its handlers is bound, and the gate lets through whatever any
handler could accept. A router with sub-routers, or an observer with a handler bound by
nothing the gate understands, is left as it is.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject

ANY = None  # a handler that accepts every state


@dataclass(frozen=True, slots=True)
class HandlerBounds:
    """What a handler can accept at most: ``states`` (ANY when unbounded); when it is bound
    to commands, the characters they may start with; when it is bound to a CallbackData, its
    prefix and separator."""

    states: frozenset[str | None] | None
    command_prefixes: str | None
    callback_prefix: tuple[str, str] | None = None


def _states_of(filter_object: FilterObject) -> frozenset[str | None] | None:
    """The states a state filter accepts; None when it accepts any, or is not one."""
    callback = filter_object.callback
    # inline_pure_filters may have wrapped a bare State: the wrapper keeps it as `original`.
    candidates = [callback, getattr(callback, "original", None)]
    for candidate in candidates:
        if isinstance(candidate, State):
            return None if candidate.state == "*" else frozenset({candidate.state})
        if isinstance(candidate, StateFilter):
            names: set[str | None] = set()
            for allowed in candidate.states:
                if allowed == "*" or (isinstance(allowed, State) and allowed.state == "*"):
                    return None
                if allowed is None or isinstance(allowed, str):
                    names.add(allowed)
                elif isinstance(allowed, State):
                    names.add(allowed.state)
                elif isinstance(allowed, StatesGroup) or (
                    inspect.isclass(allowed) and issubclass(allowed, StatesGroup)
                ):
                    names.update(allowed.__all_states_names__)
                else:
                    return None
            return frozenset(names)
    return None


def bounds_of(handler: HandlerObject) -> HandlerBounds:
    states: frozenset[str | None] | None = ANY
    prefixes: str | None = None
    callback_prefix: tuple[str, str] | None = None
    for filter_object in handler.filters or ():
        accepted = _states_of(filter_object)
        if accepted is not None:
            states = accepted if states is None else states & accepted
        if isinstance(filter_object.callback, Command):
            prefixes = (prefixes or "") + filter_object.callback.prefix
        if isinstance(filter_object.callback, CallbackQueryFilter):
            data = filter_object.callback.callback_data
            callback_prefix = (data.__prefix__, data.__separator__)
    return HandlerBounds(states=states, command_prefixes=prefixes, callback_prefix=callback_prefix)


class MessageGate:
    """Could any of a router's message handlers take this message?"""

    __slots__ = ("command_prefixes", "command_states", "text_states")

    def __init__(
        self,
        *,
        text_states: frozenset[str | None],
        command_states: frozenset[str | None] | None,
        command_prefixes: str,
    ) -> None:
        self.text_states = text_states  # states in which a non-command message may match
        self.command_states = command_states  # states in which a command may (None: any)
        self.command_prefixes = command_prefixes

    def admits(self, message: Message, raw_state: str | None) -> bool:
        if raw_state in self.text_states:
            return True
        if not self.command_prefixes:
            return False
        text = message.text or message.caption
        if not text or text[0] not in self.command_prefixes:
            return False
        return self.command_states is None or raw_state in self.command_states


def message_gate(handlers: list[HandlerObject]) -> MessageGate | None:
    """The gate for these handlers; None when one of them is not bound (no gate possible)."""
    text_states: set[str | None] = set()
    command_states: set[str | None] | None = set()
    prefixes = ""
    for handler in handlers:
        bounds = bounds_of(handler)
        if bounds.command_prefixes is None:
            if bounds.states is None:
                return None
            text_states |= bounds.states
        else:
            prefixes += bounds.command_prefixes
            if bounds.states is None or command_states is None:
                command_states = None
            else:
                command_states |= bounds.states
    return MessageGate(
        text_states=frozenset(text_states),
        command_states=None if command_states is None else frozenset(command_states),
        command_prefixes="".join(sorted(set(prefixes))),
    )


class CallbackGate:
    """Could any of a router's callback handlers take this button press?"""

    __slots__ = ("by_state", "data_prefixes", "pairs")

    def __init__(
        self,
        *,
        data_prefixes: frozenset[tuple[str, str]],
        by_state: frozenset[str | None],
        pairs: frozenset[tuple[str, str, str | None]],
    ) -> None:
        self.data_prefixes = data_prefixes  # (prefix, separator) taken in any state
        self.by_state = by_state  # states in which any data may be taken
        self.pairs = pairs  # (prefix, separator, state) taken only in that state

    def admits(self, query: CallbackQuery, raw_state: str | None) -> bool:
        if raw_state in self.by_state:
            return True
        data = query.data
        if not data:
            return False
        for prefix, separator in self.data_prefixes:
            if data.split(separator, 1)[0] == prefix:
                return True
        return any(
            state == raw_state and data.split(separator, 1)[0] == prefix
            for prefix, separator, state in self.pairs
        )


def callback_gate(handlers: list[HandlerObject]) -> CallbackGate | None:
    """The gate for these callback handlers; None when one of them is bound by neither a
    CallbackData nor a state."""
    data_prefixes: set[tuple[str, str]] = set()
    by_state: set[str | None] = set()
    pairs: set[tuple[str, str, str | None]] = set()
    for handler in handlers:
        bounds = bounds_of(handler)
        if bounds.callback_prefix is None:
            if bounds.states is None:
                return None
            by_state |= bounds.states
        elif bounds.states is None:
            data_prefixes.add(bounds.callback_prefix)
        else:
            pairs |= {(*bounds.callback_prefix, state) for state in bounds.states}
    return CallbackGate(
        data_prefixes=frozenset(data_prefixes),
        by_state=frozenset(by_state),
        pairs=frozenset(pairs),
    )


class FeatureRouter(Router):
    """A feature's router: skipped without a handler check when its gate (set by
    ``gate_routers``) says no handler of it can take the message."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.message_gate: MessageGate | None = None
        self.callback_gate: CallbackGate | None = None

    async def propagate_event(self, update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        if update_type == "message":
            gate = self.message_gate
            if (
                gate is not None
                and isinstance(event, Message)
                and not gate.admits(event, kwargs.get("raw_state"))
            ):
                return UNHANDLED
        elif update_type == "callback_query":
            buttons = self.callback_gate
            if (
                buttons is not None
                and isinstance(event, CallbackQuery)
                and not buttons.admits(event, kwargs.get("raw_state"))
            ):
                return UNHANDLED
        return await super().propagate_event(update_type, event, **kwargs)


def _feature_routers(router: Router) -> Iterator[FeatureRouter]:
    if isinstance(router, FeatureRouter) and not router.sub_routers:
        yield router
    for child in router.sub_routers:
        yield from _feature_routers(child)


def gate_routers(root: Router) -> int:
    """Gate the messages and button presses of every feature router under ``root`` whose
    handlers of that kind are all bound (by a state or a command; by a CallbackData or a
    state); returns how many gates were set. Call once, after every router is included
    (handlers registered later are not seen)."""
    gated = 0
    for router in _feature_routers(root):
        # An outer middleware runs even when no handler matches: such an observer is not
        # gated. An observer without handlers gets a gate that admits nothing.
        if not router.message.outer_middleware:
            router.message_gate = message_gate(router.message.handlers)
            gated += router.message_gate is not None
        if not router.callback_query.outer_middleware:
            router.callback_gate = callback_gate(router.callback_query.handlers)
            gated += router.callback_gate is not None
    return gated
