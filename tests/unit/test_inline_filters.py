"""Pure filters (magic filters, FSM states) are checked on the event loop: no worker thread
per check, same answers."""

from __future__ import annotations

import datetime as dt

from aiogram import F, Router
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message, User
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bot.app import build_dispatcher
from bot.inline_filters import _filters, inline_pure_filters


class Step(StatesGroup):
    name = State()


def message(text: str) -> Message:
    return Message(
        message_id=1,
        date=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
        chat=Chat(id=1, type="private"),
        from_user=User(id=1, is_bot=False, first_name="Ada"),
        text=text,
    )


async def test_magic_and_state_filters_run_inline_with_the_same_answers() -> None:
    router = Router()

    @router.message(Step.name, F.text.regexp(r"(?s).*\d"))
    async def step(message: Message) -> None: ...

    [handler] = router.message.handlers
    assert [f.awaitable for f in handler.filters or []] == [False, False]
    assert inline_pure_filters(router) == 2
    assert [f.awaitable for f in handler.filters or []] == [True, True]
    in_step = Step.name.state
    assert (await handler.check(message("squat 5x5"), raw_state=in_step))[0] is True
    assert (await handler.check(message("squat"), raw_state=in_step))[0] is False
    assert (await handler.check(message("squat 5x5"), raw_state=None))[0] is False


def test_the_bot_has_no_filter_left_for_a_worker_thread() -> None:
    engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    dispatcher, *_ = build_dispatcher(async_sessionmaker(engine))
    filters = list(_filters(dispatcher))
    assert len(filters) > 100
    assert [f.callback for f in filters if not f.awaitable] == []
