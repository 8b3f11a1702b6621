"""Router gates: a feature router is skipped only when none of its handlers could take the
message — checked against aiogram's own handler checks for every router of the bot, every
state it knows and a range of messages."""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import itertools
import types
import typing
import uuid
from typing import Any

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Message, User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bot.app import build_dispatcher
from bot.router_gates import (
    FeatureRouter,
    bounds_of,
    callback_gate,
    gate_routers,
    message_gate,
)
from bot.router_gates import _states_of as states_of

TEXTS = (
    "/start",
    "/start shr_abc",
    "/cancel",
    "/programs",
    "/nosuchcommand",
    "squat 5x5 100",
    "hello",
    "!bang",
    "12",
)


class Form(StatesGroup):
    name = State()
    age = State()


def message(text: str | None, *, caption: str | None = None) -> Message:
    return Message(
        message_id=1,
        date=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
        chat=Chat(id=1, type="private"),
        from_user=User(id=1, is_bot=False, first_name="Ada"),
        text=text,
        caption=caption,
    )


def press(data: str | None) -> CallbackQuery:
    return CallbackQuery(
        id="1",
        from_user=User(id=1, is_bot=False, first_name="Ada"),
        chat_instance="1",
        data=data,
        message=message("screen"),
    )


def example_value(annotation: Any) -> Any:
    """A value of a CallbackData field's type, as a button of the bot would carry."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    examples = {int: 1, str: "a1", bool: True, uuid.UUID: uuid.UUID(int=1), float: 1.0}
    return examples.get(annotation, "a1")


def packed_examples(router: Router) -> list[str]:
    packed = []
    for handler in router.callback_query.handlers:
        for filter_object in handler.filters or ():
            if isinstance(filter_object.callback, CallbackQueryFilter):
                data_class = filter_object.callback.callback_data
                values = {
                    name: example_value(field.annotation)
                    for name, field in data_class.model_fields.items()
                }
                with contextlib.suppress(ValueError, TypeError):
                    packed.append(data_class(**values).pack())
    return packed


def messages() -> list[Message]:
    found = [message(text) for text in TEXTS]
    found.append(message(None, caption="/start"))  # a command in a photo's caption
    found.append(message(None, caption="squat 5x5 100"))
    found.append(message(None))  # a sticker, a location: no text at all
    return found


def test_the_gate_of_a_router_is_what_its_handlers_could_take() -> None:
    router = FeatureRouter(name="form")

    @router.message(Command("form"))
    async def start(message: Message) -> None: ...

    @router.message(Form.name, F.text)
    async def name(message: Message) -> None: ...

    @router.message(StateFilter(Form), F.photo)
    async def photo(message: Message) -> None: ...

    gate = message_gate(router.message.handlers)
    assert gate is not None
    assert gate.text_states == {Form.name.state, Form.age.state}
    assert gate.command_states is None
    assert gate.command_prefixes == "/"
    assert gate.admits(message("/form"), None)
    assert not gate.admits(message("hello"), None)
    assert gate.admits(message("hello"), Form.age.state)
    assert not gate.admits(message("hello"), "Other:state")


def test_a_router_with_a_handler_bound_to_nothing_is_not_gated() -> None:
    router = FeatureRouter(name="anything")

    @router.message(Command("x"))
    async def command(message: Message) -> None: ...

    @router.message(F.text)
    async def anything(message: Message) -> None: ...

    assert message_gate(router.message.handlers) is None
    parent = Router()
    parent.include_router(router)
    assert gate_routers(parent) == 1  # its button presses: no handler, a gate that admits none
    assert router.message_gate is None
    assert router.callback_gate is not None
    assert not router.callback_gate.admits(press("any:1"), None)


def test_states_of_reads_every_kind_of_state_filter() -> None:
    router = Router()

    @router.message(StateFilter(None, Form.age, "Raw:state"))
    async def some(message: Message) -> None: ...

    @router.message(StateFilter("*"))
    async def every(message: Message) -> None: ...

    @router.message(CommandStart())
    async def start(message: Message) -> None: ...

    some_filters, every_filters, start_filters = (h.filters for h in router.message.handlers)
    assert some_filters is not None
    assert every_filters is not None
    assert start_filters is not None
    assert states_of(some_filters[0]) == {None, Form.age.state, "Raw:state"}
    assert states_of(every_filters[0]) is None
    assert states_of(start_filters[0]) is None


class Pick(CallbackData, prefix="pk"):
    item: int


class Other(CallbackData, prefix="ot", sep="|"):
    item: int


def test_a_callback_gate_admits_its_prefixes_and_its_states() -> None:
    router = FeatureRouter(name="buttons")

    @router.callback_query(Pick.filter())
    async def pick(query: CallbackQuery) -> None: ...

    @router.callback_query(Other.filter(), Form.name)
    async def other(query: CallbackQuery) -> None: ...

    @router.callback_query(StateFilter(Form.age))
    async def anything_while_age(query: CallbackQuery) -> None: ...

    gate = callback_gate(router.callback_query.handlers)
    assert gate is not None
    assert gate.admits(press(Pick(item=3).pack()), None)
    assert not gate.admits(press("pkx:3"), None)  # a longer prefix is another prefix
    assert not gate.admits(press(Other(item=3).pack()), None)
    assert gate.admits(press(Other(item=3).pack()), Form.name.state)
    assert gate.admits(press("anything"), Form.age.state)
    assert not gate.admits(press(None), None)

    @router.callback_query(F.data == "raw")
    async def raw(query: CallbackQuery) -> None: ...

    assert callback_gate(router.callback_query.handlers) is None


async def test_a_gated_router_never_turns_away_a_message_one_of_its_handlers_takes() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    dispatcher, *_ = build_dispatcher(async_sessionmaker(engine))
    routers = [r for r in dispatcher.sub_routers if isinstance(r, FeatureRouter)]
    gated = [r for r in routers if r.message_gate is not None]
    # Every feature whose message handlers are conversation steps and commands is gated;
    # the set logger (free text in no state) and the fallback (anything) are among the rest.
    assert len(gated) >= 15
    assert {r.name for r in routers if r.message_gate is None} >= {"fallback"}
    states: set[str | None] = {None, "Unknown:state"}
    for router in routers:
        for handler in router.message.handlers:
            for filter_object in handler.filters or ():
                states |= states_of(filter_object) or set()
    bot = Bot("42:TEST")
    checked = 0
    for router, event, raw_state in itertools.product(gated, messages(), sorted(states, key=str)):
        assert router.message_gate is not None
        if router.message_gate.admits(event, raw_state):
            continue
        for handler in router.message.handlers:
            taken, _ = await handler.check(event, bot=bot, raw_state=raw_state)
            assert not taken, (router.name, handler.callback.__name__, event.text, raw_state)
        # Skipped through the router's own entry point as well.
        assert await router.propagate_event("message", event, raw_state=raw_state) is UNHANDLED
        checked += 1
    assert checked > 1000
    await bot.session.close()
    await engine.dispose()


async def test_a_gated_router_never_turns_away_a_button_one_of_its_handlers_takes() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    dispatcher, *_ = build_dispatcher(async_sessionmaker(engine))
    routers = [r for r in dispatcher.sub_routers if isinstance(r, FeatureRouter)]
    gated = [r for r in routers if r.callback_gate is not None and r.callback_query.handlers]
    assert len(gated) >= 15
    states: set[str | None] = {None, "Unknown:state"}
    prefixes: set[tuple[str, str]] = set()
    for router in routers:
        for handler in router.callback_query.handlers:
            bounds = bounds_of(handler)
            states |= bounds.states or set()
            if bounds.callback_prefix is not None:
                prefixes.add(bounds.callback_prefix)
    packed = [one for router in routers for one in packed_examples(router)]
    assert len(packed) >= 100  # most of the bot's buttons, packed as the bot packs them
    data = ["", "unknown:1", "nosep", *(f"{prefix}{sep}1" for prefix, sep in prefixes), *packed]
    bot = Bot("42:TEST")
    checked = taken_and_admitted = 0
    for router, one, raw_state in itertools.product(gated, data, sorted(states, key=str)):
        assert router.callback_gate is not None
        event = press(one or None)
        if router.callback_gate.admits(event, raw_state):
            for handler in router.callback_query.handlers:
                taken_and_admitted += (await handler.check(event, bot=bot, raw_state=raw_state))[0]
            continue
        for handler in router.callback_query.handlers:
            taken, _ = await handler.check(event, bot=bot, raw_state=raw_state)
            assert not taken, (router.name, handler.callback.__name__, one, raw_state)
        assert await router.propagate_event("callback_query", event, raw_state=raw_state) is (
            UNHANDLED
        )
        checked += 1
    assert checked > 1000
    assert taken_and_admitted > 100  # the packed buttons did reach their handlers
    await bot.session.close()
    await engine.dispose()
