"""Notification delivery through the local Bot API emulator: the real aiogram client sending
to emulated users, the emulator's flood control (429) and blocks (403) answering as Telegram
does, the session's PostgreSQL keeping the record.

Each test commits its own users (deleted afterwards) and delivers with an injected clock in
1998, when nobody else has anything due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build_bot
from bot.delivery import DeliveryOptions, Sender
from bot.emulator.driver import EmulatedUser
from bot.emulator.server import BotApiEmulator
from bot.ratelimit import RedisRateLimiter
from domain.db import session_factory
from domain.models.error import Error, ErrorOccurrence
from domain.models.notification import (
    DeliveryStatusCode,
    Notification,
    NotificationDelivery,
    NotificationStatusCode,
    NotificationSuppression,
    SuppressionReason,
)
from domain.models.user import User
from domain.services.notifications import notification_type_id, plan_notification

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
TOKEN = BotApiEmulator.default_token
REMINDER = {"first_name": "Ada", "workout_name": "Legs", "time": "18:00"}
PROGRAM = {"coach_name": "Ivan", "program_title": "5x5", "start_date": "1998-03-02"}
_telegram_ids = itertools.count(730_000_001)
_days = itertools.count(1)


def a_day() -> dt.datetime:
    """A 1998 morning of this test's own (tests commit and clean up, days are not shared)."""
    return dt.datetime(1998, 1, 1, 9, tzinfo=UTC) + dt.timedelta(days=next(_days))


@dataclass
class World:
    emulator: BotApiEmulator
    factory: async_sessionmaker[AsyncSession]
    now: dt.datetime = field(default_factory=a_day)
    users: list[uuid.UUID] = field(default_factory=list)
    bots: list[Bot] = field(default_factory=list)

    async def person(self, name: str, locale: str = "en") -> tuple[EmulatedUser, uuid.UUID]:
        telegram_id = next(_telegram_ids)
        person = self.emulator.user(
            f"{name}_{telegram_id}", first_name=name, language_code=locale, user_id=telegram_id
        )
        async with self.factory() as session, session.begin():
            user = User(first_name=name, locale=locale, telegram_user_id=telegram_id)
            session.add(user)
            await session.flush()
        self.users.append(user.id)
        return person, user.id

    async def notify(
        self,
        user_id: uuid.UUID,
        type_code: str = "WORKOUT_REMINDER",
        *,
        variables: dict[str, Any] | None = None,
        due_at: dt.datetime | None = None,
    ) -> uuid.UUID:
        if variables is None:
            variables = REMINDER if type_code == "WORKOUT_REMINDER" else PROGRAM
        async with self.factory() as session, session.begin():
            row = Notification(
                user_id=user_id,
                notification_type_id=await notification_type_id(session, type_code),
                due_at=due_at or self.now - MINUTE,
                variables=variables,
            )
            session.add(row)
            await session.flush()
        return row.id

    def sender(self, *, bot: Bot | None = None, **options: Any) -> Sender:
        if bot is None:
            bot = build_bot(TOKEN, self.emulator.base_url)
        self.bots.append(bot)
        options.setdefault("rate", 1000.0)
        options.setdefault("chat_interval", 0.0)
        return Sender(bot, self.factory, options=DeliveryOptions(**options))

    async def notification(self, notification_id: uuid.UUID) -> Notification:
        async with self.factory() as session:
            row = await session.get(Notification, notification_id)
            assert row is not None
            return row

    async def attempts(self, notification_id: uuid.UUID) -> list[NotificationDelivery]:
        async with self.factory() as session:
            query = (
                select(NotificationDelivery)
                .where(NotificationDelivery.notification_id == notification_id)
                .order_by(NotificationDelivery.attempt_number)
            )
            return list((await session.execute(query)).scalars())

    def stats(self) -> dict[str, Any]:
        return self.emulator.stats(TOKEN)


@asynccontextmanager
async def world(engine: AsyncEngine, **emulator_options: Any) -> AsyncIterator[World]:
    emulator = BotApiEmulator(**emulator_options)
    await emulator.start()
    result = World(emulator, session_factory(engine))
    try:
        yield result
    finally:
        for bot in result.bots:
            await bot.session.close()
        await emulator.stop()
        async with result.factory() as session, session.begin():
            await session.execute(delete(User).where(User.id.in_(result.users)))


def sent_to(person: EmulatedUser) -> int:
    return len(person.messages)


# --------------------------------------------------------------------------------------------
# Delivered once, rendered, with the unsubscribe button
# --------------------------------------------------------------------------------------------


async def test_a_due_reminder_arrives_in_the_users_language_with_its_unsubscribe_button(
    app_engine: AsyncEngine,
) -> None:
    async with world(app_engine) as w:
        marie, marie_id = await w.person("Marie", "fr")
        ben, ben_id = await w.person("Ben", "en")
        reminder = await w.notify(marie_id)
        program = await w.notify(ben_id, "PROGRAM_ASSIGNED")
        later = await w.notify(ben_id, due_at=w.now + MINUTE)
        sender = w.sender()

        assert await sender.deliver_due(w.now) == 2

        [message] = marie.messages
        assert message.text.startswith("Séance du jour\nBonjour Ada")
        assert "<b>Legs</b>" in message.raw_text
        [[button]] = message.buttons
        assert button.callback_data == "unsub:WORKOUT_REMINDER"
        [assigned] = ben.messages
        assert "5x5" in assigned.text
        assert assigned.buttons == []  # PROGRAM_ASSIGNED cannot be switched off
        row = await w.notification(reminder)
        assert row.status == NotificationStatusCode.DELIVERED
        assert (row.locale, row.title) == ("fr", "Séance du jour")
        assert row.sent_at is not None
        [attempt] = await w.attempts(reminder)
        assert attempt.status == DeliveryStatusCode.DELIVERED
        assert attempt.attempt_number == 1
        assert (attempt.telegram_chat_id, attempt.telegram_message_id) == (
            marie.chat_id,
            message.message_id,
        )
        assert (await w.notification(program)).status == NotificationStatusCode.DELIVERED
        assert (await w.notification(later)).status == NotificationStatusCode.PENDING

        # Nothing is sent twice: a second run finds nothing due.
        assert await sender.deliver_due(w.now) == 0
        assert (sent_to(marie), sent_to(ben)) == (1, 1)


async def test_a_template_with_a_missing_variable_records_an_error_and_sends_nothing(
    app_engine: AsyncEngine,
) -> None:
    async with world(app_engine) as w:
        ada, ada_id = await w.person("Ada")
        broken = await w.notify(ada_id, variables={"first_name": "Ada", "workout_name": "Legs"})

        assert await w.sender().deliver_due(w.now) == 0

        assert ada.messages == []
        assert w.stats()["methods"].get("sendMessage", 0) == 0
        assert (await w.notification(broken)).status == NotificationStatusCode.FAILED
        assert await w.attempts(broken) == []
        async with w.factory() as session:
            code = await session.scalar(
                select(Error.error_code)
                .join(ErrorOccurrence, ErrorOccurrence.error_id == Error.id)
                .where(ErrorOccurrence.occurrence_context["notification_id"].astext == str(broken))
            )
        assert code == "TEMPLATE_VARIABLE_MISSING"


async def test_a_message_telegram_refuses_fails_with_an_error_row(
    app_engine: AsyncEngine,
) -> None:
    async with world(app_engine) as w:
        ada, ada_id = await w.person("Ada")
        too_long = await w.notify(ada_id, variables={**REMINDER, "workout_name": "x" * 5000})

        assert await w.sender().deliver_due(w.now) == 0

        assert ada.messages == []
        [attempt] = await w.attempts(too_long)
        assert (attempt.status, attempt.error_code) == (DeliveryStatusCode.FAILED, 400)
        assert "too long" in (attempt.error_description or "")
        assert (await w.notification(too_long)).status == NotificationStatusCode.FAILED
        async with w.factory() as session:
            code = await session.scalar(
                select(Error.error_code)
                .join(ErrorOccurrence, ErrorOccurrence.error_id == Error.id)
                .where(
                    ErrorOccurrence.occurrence_context["notification_id"].astext == str(too_long)
                )
            )
        assert code == "TELEGRAM_API"


# --------------------------------------------------------------------------------------------
# 429
# --------------------------------------------------------------------------------------------


async def test_a_429_is_waited_out_and_each_notification_delivered_once(
    app_engine: AsyncEngine,
) -> None:
    # The emulator takes 2 messages per second; the sender is configured far above that.
    async with world(app_engine, send_rate=2) as w:
        people = [await w.person(f"P{k}") for k in range(6)]
        ids = [await w.notify(user_id) for _person, user_id in people]

        assert await w.sender(rate=1000.0).deliver_due(w.now) == 6

        assert w.stats()["rate_limited"] >= 1  # the emulator did answer 429
        assert [sent_to(person) for person, _ in people] == [1] * 6
        deferred = 0
        for notification in ids:
            assert (await w.notification(notification)).status == NotificationStatusCode.DELIVERED
            attempts = await w.attempts(notification)
            assert [a.attempt_number for a in attempts] == list(range(1, len(attempts) + 1))
            *refused, last = attempts
            assert last.status == DeliveryStatusCode.DELIVERED
            for attempt in refused:
                assert (attempt.status, attempt.error_code) == (DeliveryStatusCode.DEFERRED, 429)
                assert attempt.retry_after is not None
                assert attempt.retry_after >= 1
            if refused:
                # The retry came after the wait Telegram asked for.
                waited = last.sent_at - refused[-1].failed_at  # type: ignore[operator]
                assert waited >= dt.timedelta(seconds=refused[-1].retry_after or 0)
            deferred += len(refused)
        assert deferred == w.stats()["rate_limited"]


async def test_a_long_429_hands_the_notification_back_for_later(app_engine: AsyncEngine) -> None:
    # One message per 100 s: the second is refused with retry_after ≈ 100.
    async with world(app_engine, send_rate=0.01) as w:
        first_person, first_id = await w.person("First")
        second_person, second_id = await w.person("Second")
        first = await w.notify(first_id, due_at=w.now - 2 * MINUTE)
        second = await w.notify(second_id)

        # One worker: the earlier one goes first.
        report = await w.sender(rate=1000.0, max_retry_wait=60, workers=1).run(w.now)

        assert (report.delivered, report.released) == (1, 1)
        assert (sent_to(first_person), sent_to(second_person)) == (1, 0)
        assert (await w.notification(first)).status == NotificationStatusCode.DELIVERED
        handed_back = await w.notification(second)
        assert handed_back.status == NotificationStatusCode.PENDING
        [refused] = await w.attempts(second)
        assert refused.status == DeliveryStatusCode.DEFERRED
        assert refused.retry_after is not None
        assert refused.retry_after > 60
        assert handed_back.due_at >= w.now + dt.timedelta(seconds=refused.retry_after)


# --------------------------------------------------------------------------------------------
# 403
# --------------------------------------------------------------------------------------------


async def test_a_block_suppresses_the_user_and_nothing_more_is_sent_to_them(
    app_engine: AsyncEngine,
) -> None:
    async with world(app_engine) as w:
        ann, ann_id = await w.person("Ann")
        bob, bob_id = await w.person("Bob")
        ann.block()
        first = await w.notify(ann_id, due_at=w.now - 2 * MINUTE)
        second = await w.notify(ann_id, "PROGRAM_ASSIGNED")
        tomorrow = await w.notify(ann_id, due_at=w.now + dt.timedelta(days=1))
        bobs = await w.notify(bob_id)

        assert await w.sender(workers=4).deliver_due(w.now) == 1

        assert w.stats()["forbidden"] == 1  # one request answered 403, no more
        assert ann.messages == []
        assert sent_to(bob) == 1
        assert (await w.notification(bobs)).status == NotificationStatusCode.DELIVERED
        [blocked] = await w.attempts(first)
        assert (blocked.status, blocked.error_code) == (DeliveryStatusCode.BLOCKED, 403)
        for notification in (first, second, tomorrow):
            row = await w.notification(notification)
            assert row.status == NotificationStatusCode.SUPPRESSED
        assert await w.attempts(second) == []
        async with w.factory() as session:
            user = await session.get(User, ann_id)
            assert user is not None
            assert user.is_unreachable is True
            reason = await session.scalar(
                select(NotificationSuppression.suppression_reason).where(
                    NotificationSuppression.user_id == ann_id,
                    NotificationSuppression.notification_type_id.is_(None),
                )
            )
        assert reason == SuppressionReason.BOT_BLOCKED

        # Planned after the block: suppressed without a request.
        async with w.factory() as session, session.begin():
            later = await plan_notification(
                session, ann_id, "STREAK_AT_RISK", w.now.date(), w.now, {"first_name": "Ann"}
            )
        assert later is not None
        assert await w.sender().deliver_due(w.now) == 0
        assert (await w.notification(later)).status == NotificationStatusCode.SUPPRESSED
        assert w.stats()["forbidden"] == 1


# --------------------------------------------------------------------------------------------
# Rates
# --------------------------------------------------------------------------------------------


async def test_at_the_configured_rate_telegram_never_answers_429(app_engine: AsyncEngine) -> None:
    async with world(app_engine, send_rate=10) as w:
        people = [await w.person(f"R{k}") for k in range(25)]
        for _person, user_id in people:
            await w.notify(user_id)

        assert await w.sender(rate=9.0).deliver_due(w.now) == 25

        assert w.stats()["rate_limited"] == 0
        assert all(sent_to(person) == 1 for person, _ in people)

        # The same emulator does refuse a sender configured above its limit.
        faster = [await w.person(f"F{k}") for k in range(15)]
        for _person, user_id in faster:
            await w.notify(user_id)
        assert await w.sender(rate=40.0).deliver_due(w.now) == 15
        assert w.stats()["rate_limited"] > 0


async def test_two_messages_to_one_chat_are_at_least_a_second_apart(
    app_engine: AsyncEngine,
) -> None:
    # The emulator refuses a second message to a chat within a second.
    async with world(app_engine, per_chat_rate=1) as w:
        ada, ada_id = await w.person("Ada")
        ids = [await w.notify(ada_id, due_at=w.now - k * MINUTE) for k in range(3)]
        sender = w.sender(rate=1000.0, chat_interval=1.0, workers=3)

        assert await sender.deliver_due(w.now) == 3

        assert w.stats()["rate_limited"] == 0
        assert sent_to(ada) == 3
        times = sorted(
            [attempt.sent_at for n in ids for attempt in await w.attempts(n)]  # type: ignore[misc]
        )
        assert len(times) == 3
        assert all(b - a >= dt.timedelta(seconds=1) for a, b in itertools.pairwise(times))


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
async def test_senders_in_two_processes_share_one_rate_through_redis(
    app_engine: AsyncEngine,
) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(os.environ["REDIS_URL"])
    prefix = f"motriforge:test:{uuid.uuid4().hex}"
    try:
        async with world(app_engine, send_rate=10) as w:
            people = [await w.person(f"S{k}") for k in range(30)]
            for _person, user_id in people:
                await w.notify(user_id)
            senders = []
            for _ in range(2):
                bot = build_bot(TOKEN, w.emulator.base_url)
                w.bots.append(bot)
                # Each alone would stay under the emulator's limit; together they would not,
                # unless they share the budget.
                limiter = RedisRateLimiter(redis, prefix, 9.0, chat_interval=0.0)
                senders.append(
                    Sender(
                        bot,
                        w.factory,
                        options=DeliveryOptions(rate=9.0, batch_size=5, workers=2),
                        limiter=limiter,
                    )
                )

            reports = await asyncio.gather(*(sender.run(w.now) for sender in senders))

            assert [report.delivered > 0 for report in reports] == [True, True]
            assert sum(report.delivered for report in reports) == 30
            assert w.stats()["rate_limited"] == 0
            assert all(sent_to(person) == 1 for person, _ in people)
    finally:
        keys = [key async for key in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


# --------------------------------------------------------------------------------------------
# Network errors
# --------------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_network_errors_are_retried_with_backoff_then_fail(app_engine: AsyncEngine) -> None:
    async with world(app_engine) as w:
        _ada, ada_id = await w.person("Ada")
        notification = await w.notify(ada_id)
        # Nothing listens there: every connection is refused, no request ever leaves.
        unreachable = build_bot(TOKEN, f"http://127.0.0.1:{closed_port()}")
        sender = w.sender(bot=unreachable, max_attempts=3, backoff_base=0.01)

        report = await sender.run(w.now)

        assert (report.delivered, report.failed, report.deferred) == (0, 1, 2)
        attempts = await w.attempts(notification)
        assert [a.status for a in attempts] == [
            DeliveryStatusCode.DEFERRED,
            DeliveryStatusCode.DEFERRED,
            DeliveryStatusCode.FAILED,
        ]
        assert all("Connect" in (a.error_description or "") for a in attempts)
        assert (await w.notification(notification)).status == NotificationStatusCode.FAILED


@asynccontextmanager
async def fake_api(
    answer: Callable[[int], Awaitable[web.Response]],
) -> AsyncIterator[tuple[str, Callable[[], int]]]:
    """A Bot API server answering the n-th request (1-based) with ``answer(n)``."""
    received = 0

    async def handle(request: web.Request) -> web.Response:
        nonlocal received
        received += 1
        return await answer(received)

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", handle)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    port = closed_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", lambda: received
    finally:
        await runner.cleanup()


def fake_bot(base: str) -> Bot:
    return Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))


def api_error(code: int, description: str) -> web.Response:
    body = {"ok": False, "error_code": code, "description": description}
    return web.json_response(body, status=code)


async def test_a_request_whose_answer_is_lost_is_not_sent_again(app_engine: AsyncEngine) -> None:
    async def never_in_time(_n: int) -> web.Response:
        await asyncio.sleep(30)
        return web.json_response({"ok": True, "result": True})

    async with world(app_engine) as w, fake_api(never_in_time) as (base, received):
        _ada, ada_id = await w.person("Ada")
        notification = await w.notify(ada_id)
        sender = w.sender(bot=fake_bot(base), request_timeout=1, max_attempts=5)

        report = await sender.run(w.now)

        # The request reached the server, so the message may be out: at most once.
        assert received() == 1
        assert (report.delivered, report.failed, report.deferred) == (0, 1, 0)
        [attempt] = await w.attempts(notification)
        assert attempt.status == DeliveryStatusCode.FAILED
        assert "at-most-once" in (attempt.error_description or "")
        assert (await w.notification(notification)).status == NotificationStatusCode.FAILED


async def test_a_server_error_is_not_retried_but_a_restart_is(app_engine: AsyncEngine) -> None:
    async def gateway_error(_n: int) -> web.Response:
        return api_error(502, "Bad Gateway")

    async with world(app_engine) as w:
        ada, ada_id = await w.person("Ada")
        failing = await w.notify(ada_id)
        async with fake_api(gateway_error) as (base, received):
            report = await w.sender(bot=fake_bot(base), backoff_base=0.01).run(w.now)
        # A 5xx may hide a request that went through: not sent again.
        assert received() == 1
        assert (report.delivered, report.failed) == (0, 1)
        [attempt] = await w.attempts(failing)
        assert (attempt.status, attempt.error_code) == (DeliveryStatusCode.FAILED, 500)
        assert "at-most-once" in (attempt.error_description or "")

        async def restarting_then_sent(n: int) -> web.Response:
            if n <= 2:
                return api_error(500, "Internal Server Error: restart")
            message = {
                "message_id": 7,
                "date": 0,
                "chat": {"id": ada.chat_id, "type": "private"},
                "text": "sent",
            }
            return web.json_response({"ok": True, "result": message})

        retried = await w.notify(ada_id)
        async with fake_api(restarting_then_sent) as (base, received):
            report = await w.sender(bot=fake_bot(base), backoff_base=0.01).run(w.now)
        assert received() == 3
        assert (report.delivered, report.deferred) == (1, 2)
        statuses = [a.status for a in await w.attempts(retried)]
        assert statuses == [
            DeliveryStatusCode.DEFERRED,
            DeliveryStatusCode.DEFERRED,
            DeliveryStatusCode.DELIVERED,
        ]
        assert (await w.notification(retried)).status == NotificationStatusCode.DELIVERED
