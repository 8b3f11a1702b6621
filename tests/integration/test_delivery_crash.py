"""A sender process killed with SIGKILL in the middle of a batch, then restarted: every
notification that was not in flight at the kill is delivered, and none twice.

The emulator runs here on a TCP port; the sender is a real process (``python -m bot.delivery``)
talking to it and to the session's database. Messages are counted per chat in the emulator.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import signal
import sys
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.emulator.server import BotApiEmulator
from domain.db import session_factory
from domain.models.notification import (
    DeliveryStatusCode,
    Notification,
    NotificationDelivery,
    NotificationStatusCode,
)
from domain.models.user import User
from domain.services.delivery import STALE_CLAIM_AFTER, STALE_DESCRIPTION
from domain.services.notifications import notification_type_id

ROOT = Path(__file__).resolve().parents[2]
TOKEN = BotApiEmulator.default_token
# An injected clock in 1997: nobody else has anything due then.
NOW = dt.datetime(1997, 5, 5, 8, 0, tzinfo=dt.UTC)
COUNT = 60
WORKERS = 4
_telegram_ids = itertools.count(760_000_001)


async def start_sender(
    database_url: URL, api_base: str, now: dt.datetime, log: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": database_url.render_as_string(hide_password=False),
        "TELEGRAM_API_BASE": api_base,
        "BOT_TOKEN": TOKEN,
    }
    env.pop("REDIS_URL", None)
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.delivery",
            "--now",
            now.isoformat(),
            "--rate",
            "20",
            "--batch-size",
            "10",
            "--workers",
            str(WORKERS),
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )


async def statuses(engine: AsyncEngine, ids: list[uuid.UUID]) -> Counter[str]:
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(Notification.status, func.count())
            .where(Notification.id.in_(ids))
            .group_by(Notification.status)
        )
        return Counter(dict(rows.all()))


async def test_a_killed_sender_restarted_sends_the_rest_and_nothing_twice(
    engine: AsyncEngine, database_url: URL, tmp_path: Path
) -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    factory = session_factory(engine)
    chats: dict[uuid.UUID, int] = {}  # notification → chat
    users: list[uuid.UUID] = []
    try:
        async with factory() as session, session.begin():
            reminder = await notification_type_id(session, "WORKOUT_REMINDER")
            for k in range(COUNT):
                telegram_id = next(_telegram_ids)
                emulator.user(f"crash_{telegram_id}", user_id=telegram_id)
                user = User(first_name=f"C{k}", telegram_user_id=telegram_id)
                session.add(user)
                await session.flush()
                users.append(user.id)
                row = Notification(
                    user_id=user.id,
                    notification_type_id=reminder,
                    due_at=NOW - dt.timedelta(seconds=COUNT - k),
                    variables={"first_name": f"C{k}", "workout_name": "Legs", "time": "18:00"},
                )
                session.add(row)
                await session.flush()
                chats[row.id] = telegram_id
        ids = list(chats)
        log = tmp_path / "sender.log"

        def sent() -> int:
            return int(emulator.stats(TOKEN)["sent_messages"])

        def per_chat() -> Counter[int]:
            return Counter({chat: len(emulator.messages(chat, TOKEN)) for chat in chats.values()})

        # 1. Kill it a third of the way through (the deadline only turns a hang into a failure).
        process = await start_sender(database_url, emulator.base_url, NOW, log)
        deadline = asyncio.get_running_loop().time() + 60
        while sent() < COUNT // 3:
            assert process.returncode is None, log.read_text()
            assert asyncio.get_running_loop().time() < deadline, log.read_text()
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        assert process.returncode == -signal.SIGKILL

        sent_before_restart = sent()
        assert sent_before_restart < COUNT
        assert max(per_chat().values()) <= 1
        at_kill = await statuses(engine, ids)
        # Killed mid-batch: claimed rows were left behind.
        assert at_kill[NotificationStatusCode.SENDING] > 0, at_kill

        # 2. Restart later than the stale-claim limit (injected clock): the dead claims are
        # settled, everything else is delivered.
        later = NOW + STALE_CLAIM_AFTER + dt.timedelta(minutes=1)
        process = await start_sender(database_url, emulator.base_url, later, log)
        assert await asyncio.wait_for(process.wait(), timeout=120) == 0, log.read_text()

        counts = per_chat()
        assert max(counts.values()) <= 1  # none twice
        after = await statuses(engine, ids)
        assert set(after) <= {NotificationStatusCode.DELIVERED, NotificationStatusCode.FAILED}
        lost = after[NotificationStatusCode.FAILED]
        # Only requests in flight at the kill can be lost: at most one per worker.
        assert lost <= WORKERS
        assert after[NotificationStatusCode.DELIVERED] >= COUNT - WORKERS
        async with factory() as session:
            rows = (
                await session.execute(
                    select(
                        Notification.id,
                        Notification.status,
                        NotificationDelivery.status,
                        NotificationDelivery.error_description,
                    )
                    .join(
                        NotificationDelivery,
                        NotificationDelivery.notification_id == Notification.id,
                    )
                    .where(Notification.id.in_(ids))
                )
            ).all()
            attempts = Counter[uuid.UUID]()
            for notification, status, attempt_status, description in rows:
                attempts[notification] += 1
                chat_count = counts[chats[notification]]
                if status == NotificationStatusCode.DELIVERED:
                    assert attempt_status == DeliveryStatusCode.DELIVERED
                    assert chat_count == 1
                else:  # in flight at the kill: maybe sent, never again
                    assert attempt_status == DeliveryStatusCode.FAILED
                    assert description == STALE_DESCRIPTION
                    assert chat_count <= 1
        assert set(attempts.values()) == {1}
        assert len(attempts) == COUNT
        assert sum(counts.values()) == sent()
        assert sent() > sent_before_restart
    finally:
        await emulator.stop()
        async with factory() as session, session.begin():
            await session.execute(delete(User).where(User.id.in_(users)))
