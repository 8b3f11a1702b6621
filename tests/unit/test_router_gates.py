"""Router gates: a feature router is skipped only when none of its handlers could take the
message — checked against aiogram's own handler checks for every router of the bot, every
state it knows and a range of messages."""

from __future__ import annotations

import datetime as dt
import itertools

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message, User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bot.app import build_dispatcher
from bot.router_gates import FeatureRouter, gate_routers, message_gate
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
    assert gate_routers(parent) == 0


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
