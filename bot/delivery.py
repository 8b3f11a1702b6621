"""Sending due notifications to Telegram within its limits, at most once each.

``Sender.deliver_due(now)`` (the scheduler's delivery tick) claims due notifications in small
batches (``domain.services.delivery``: claim committed before anything is sent), renders them
in each user's locale, and hands them to a few workers. Each message waits for its chat to be
free (at least ``chat_interval`` since the previous answer to that chat) and for a global slot
(``rate`` per second, shared through Redis when ``REDIS_URL`` is set: ``bot/ratelimit.py``),
then commits a QUEUED attempt row and sends. The answer decides:

- a message id: DELIVERED;
- 429: the attempt DEFERRED, every sender pauses ``retry_after``, then the same claim is tried
  again (or handed back as PENDING when the wait is long or attempts ran out);
- 403: the attempt BLOCKED, a BOT_BLOCKED suppression, the user unreachable, their pending
  notifications SUPPRESSED, and nothing more is sent to them in this run;
- no connection made, or Telegram restarting: DEFERRED and retried with exponential backoff,
  FAILED after ``max_attempts``;
- a lost answer (timeout, connection dropped after the request was written) or another 5xx
  (a gateway error may hide a request that went through): FAILED, not retried — it may have
  been delivered (at-most-once, see domain/services/delivery.py);
- anything else (400 on our text, a bug): FAILED with an ERROR row.

Memory stays flat: nothing is kept per notification once it is settled (the claim queue is
bounded; per-chat spacing entries expire).

Module entry point (used by the crash test; the scheduler calls ``deliver_due`` directly)::

    python -m bot.delivery [--interval S] [--now ISO] [--rate R] [--workers N] [--batch-size N]

reads DATABASE_URL, TELEGRAM_API_BASE, BOT_TOKEN and REDIS_URL like the bot, delivers what is
due and exits (or, with ``--interval``, keeps delivering every S seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import logging
import math
import os
import random
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import aiohttp
from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    RestartingTelegram,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ratelimit import DEFAULT_CHAT_INTERVAL, DEFAULT_RATE, RateLimiter, build_limiter
from domain.models.error import ErrorTypeCode
from domain.models.notification import (
    DeliveryStatusCode,
    NotificationStatusCode,
    SuppressionReason,
)
from domain.services.delivery import (
    STALE_CLAIM_AFTER,
    ClaimedNotification,
    Outgoing,
    TemplateCache,
    begin_attempt,
    block_user,
    claim_due,
    finish,
    prepare_batch,
    record_attempt,
    record_outcome,
    record_send_error,
    release,
    release_stale_claims,
    release_unattempted,
)

__all__ = ["DeliveryOptions", "DeliveryReport", "Sender", "main"]

logger = logging.getLogger(__name__)

KeyboardFactory = Callable[[str, str], InlineKeyboardMarkup]

# HTTP status of each aiogram error (aiogram keeps only the class).
_STATUS: tuple[tuple[type[TelegramAPIError], int], ...] = (
    (TelegramRetryAfter, 429),
    (TelegramBadRequest, 400),
    (TelegramUnauthorizedError, 401),
    (TelegramForbiddenError, 403),
    (TelegramNotFound, 404),
    (TelegramConflictError, 409),
    (TelegramEntityTooLarge, 413),
    (TelegramServerError, 500),
)
_MAYBE_DELIVERED = "; it may have been delivered, so it is not sent again (at-most-once)"


@dataclass(frozen=True)
class DeliveryOptions:
    # Messages per second for the whole bot (Telegram allows about 30).
    rate: float = DEFAULT_RATE
    # Seconds between the answer to one message and the next message to the same chat.
    chat_interval: float = DEFAULT_CHAT_INTERVAL
    # Messages allowed back to back (None: a tenth of a second's worth).
    burst: int | None = None
    # Notifications claimed at a time (None: two seconds' worth at `rate`). Small claims keep
    # what a crash can strand small.
    batch_size: int | None = None
    # Requests in flight at once.
    workers: int = 8
    # Attempts of one notification (429s and retryable errors) before giving up / handing back.
    max_attempts: int = 5
    # Exponential backoff after a retryable error: base × 2^(attempt − 1), at most cap.
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    # A 429 asking to wait longer than this hands the notification back (PENDING, due after
    # the wait) instead of holding the claim.
    max_retry_wait: float = 60.0
    # Seconds before a request without an answer is abandoned (the message may still arrive).
    request_timeout: int = 30
    # Claims older than this are presumed dead and settled (domain.services.delivery).
    stale_after: dt.timedelta = STALE_CLAIM_AFTER
    # How often (seconds) a sender looks for dead claims.
    reap_interval: float = 60.0

    def claim_size(self) -> int:
        if self.batch_size is not None:
            return max(1, self.batch_size)
        return max(10, math.ceil(self.rate * 2))


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` run did."""

    delivered: int = 0
    failed: int = 0
    suppressed: int = 0
    # 429s and retryable errors that were tried again (attempts, not notifications).
    deferred: int = 0
    # Handed back as PENDING (long 429, or the run was stopped before trying them).
    released: int = 0
    # Dead senders' claims found: made PENDING again / FAILED.
    stale_requeued: int = 0
    stale_failed: int = 0


@dataclass
class _Run:
    """State of one ``deliver_due`` call; dropped when it returns."""

    start: dt.datetime
    started: float = field(default_factory=time.monotonic)
    templates: TemplateCache = field(default_factory=TemplateCache)
    # Users who answered 403 during this run: nothing more is sent to them.
    blocked: set[uuid.UUID] = field(default_factory=set)
    # Claimed, not yet attempted: handed back if the run stops early.
    unattempted: set[uuid.UUID] = field(default_factory=set)
    # "Unsubscribe" keyboards by (type code, locale).
    keyboards: dict[tuple[str, str], InlineKeyboardMarkup] = field(default_factory=dict)
    report: DeliveryReport = field(default_factory=DeliveryReport)

    # Until when (monotonic) Telegram asked this run to stop sending (429 retry_after).
    paused_until: float = -math.inf

    def clock(self) -> dt.datetime:
        """`now` as given, moving on in real time (claims and attempts get real times)."""
        return self.start + dt.timedelta(seconds=time.monotonic() - self.started)

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def paused_for(self) -> float:
        return max(0.0, self.paused_until - time.monotonic())


def default_keyboard() -> KeyboardFactory:
    """The "unsubscribe from this kind" button of the /reminders feature."""
    from bot.handlers.reminders import unsubscribe_keyboard

    return unsubscribe_keyboard


def _status_of(error: BaseException) -> int | None:
    for error_type, status in _STATUS:
        if isinstance(error, error_type):
            return status
    return None


def _never_reached(error: TelegramNetworkError) -> bool:
    """The connection was never made, so Telegram cannot have seen the request."""
    return isinstance(
        error.__cause__, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError
    )


def _describe(error: BaseException) -> str:
    if isinstance(error, TelegramAPIError):
        return error.message
    return f"{type(error).__name__}: {error}"


class Sender:
    """Delivers due notifications through ``bot``; one per process (or several sharing the
    rate through a Redis limiter)."""

    def __init__(
        self,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        options: DeliveryOptions | None = None,
        limiter: RateLimiter | None = None,
        keyboard: KeyboardFactory | None = None,
    ) -> None:
        self.bot = bot
        self.options = options or DeliveryOptions()
        self._factory = session_factory
        # Single statements of the per-message path run without BEGIN/COMMIT (each is atomic
        # alone): two round trips per message instead of seven.
        engine = session_factory.kw["bind"]
        self._single = async_sessionmaker(
            engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self.limiter = limiter or build_limiter(
            None,
            bot_id=bot.id,
            rate=self.options.rate,
            chat_interval=self.options.chat_interval,
            burst=self.options.burst,
        )
        self._keyboard = keyboard or default_keyboard()
        self._next_reap = -math.inf

    @classmethod
    def for_bot(
        cls,
        bot: Bot,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        redis_url: str | None,
        options: DeliveryOptions | None = None,
    ) -> Sender:
        """A sender whose rate is shared by every process of the bot when ``redis_url`` is
        set (the way `motriforge run`/`scheduler` build it)."""
        options = options or DeliveryOptions()
        limiter = build_limiter(
            redis_url,
            bot_id=bot.id,
            rate=options.rate,
            chat_interval=options.chat_interval,
            burst=options.burst,
        )
        return cls(bot, session_factory, options=options, limiter=limiter)

    async def close(self) -> None:
        await self.limiter.close()

    # --- the run ----------------------------------------------------------------------------

    async def deliver_due(self, now: dt.datetime | None = None) -> int:
        """Deliver every notification due at ``now`` (default: the current time; it moves on
        in real time during the run), then return how many were delivered."""
        return (await self.run(now)).delivered

    async def run(self, now: dt.datetime | None = None) -> DeliveryReport:
        """``deliver_due`` with the full account of what happened."""
        start = now or dt.datetime.now(dt.UTC)
        if start.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        run = _Run(start=start)
        await self._reap(run)
        queue: asyncio.Queue[Outgoing] = asyncio.Queue(maxsize=self.options.claim_size())
        workers = [
            asyncio.create_task(self._work(run, queue), name=f"delivery-worker-{index}")
            for index in range(max(1, self.options.workers))
        ]
        try:
            await self._produce(run, queue)
            await queue.join()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            if run.unattempted:
                await self._hand_back(run)
        report = run.report
        if any((report.delivered, report.failed, report.suppressed, report.released)):
            logger.info(
                "notifications: %d delivered, %d failed, %d suppressed, %d handed back, %d retries",
                report.delivered,
                report.failed,
                report.suppressed,
                report.released,
                report.deferred,
            )
        return report

    async def _reap(self, run: _Run) -> None:
        if time.monotonic() < self._next_reap:
            return
        self._next_reap = time.monotonic() + self.options.reap_interval
        async with self._factory() as session, session.begin():
            stale = await release_stale_claims(session, run.clock(), self.options.stale_after)
        run.report.stale_requeued += stale.requeued
        run.report.stale_failed += stale.failed
        if stale.requeued or stale.failed:
            logger.warning(
                "dead sender's claims: %d notifications pending again, %d failed (maybe sent)",
                stale.requeued,
                stale.failed,
            )

    async def _produce(self, run: _Run, queue: asyncio.Queue[Outgoing]) -> None:
        size = self.options.claim_size()
        while run.paused_for() <= self.options.max_retry_wait:
            async with self._factory() as session, session.begin():
                claimed = await claim_due(session, run.clock(), size)
            if not claimed:
                return
            run.unattempted.update(item.id for item in claimed)
            async with self._factory() as session, session.begin():
                prepared = await prepare_batch(session, claimed, run.templates, now=run.clock())
            run.report.suppressed += prepared.suppressed
            run.report.failed += prepared.failed
            sending = {outgoing.notification.id for outgoing in prepared.to_send}
            run.unattempted.difference_update(item.id for item in claimed if item.id not in sending)
            for outgoing in prepared.to_send:
                await queue.put(outgoing)

    async def _hand_back(self, run: _Run) -> None:
        ids = list(run.unattempted)
        run.unattempted.clear()
        try:
            async with self._factory() as session, session.begin():
                run.report.released += await release_unattempted(session, ids)
        except Exception:
            # The stale-claim sweep will make them PENDING again (they have no attempt).
            logger.exception("could not hand back %d unattempted notifications", len(ids))

    async def _work(self, run: _Run, queue: asyncio.Queue[Outgoing]) -> None:
        while True:
            outgoing = await queue.get()
            try:
                await self._deliver(run, outgoing)
            except Exception:
                # Most likely the database: the row stays SENDING and the stale-claim sweep
                # settles it (PENDING if never attempted, FAILED if it may have been sent).
                logger.exception("delivery of notification %s failed", outgoing.notification.id)
            finally:
                run.unattempted.discard(outgoing.notification.id)
                queue.task_done()

    # --- one notification ---------------------------------------------------------------------

    async def _deliver(self, run: _Run, outgoing: Outgoing) -> None:
        notification = outgoing.notification
        chat_id = notification.telegram_chat_id
        assert chat_id is not None  # prepare_batch fails those without a chat
        markup = self._markup(run, outgoing)
        attempt = notification.attempts
        while True:
            attempt += 1
            message: Message | None = None
            error: BaseException | None = None
            paused = run.paused_for()
            if paused > self.options.max_retry_wait:
                # Telegram asked for a long pause: hand it back rather than hold the claim.
                due_at = run.clock() + dt.timedelta(seconds=paused)
                await self._transaction(
                    functools.partial(
                        release,
                        notification_id=notification.id,
                        due_at=due_at,
                        claimed_at=notification.claimed_at,
                    )
                )
                run.report.released += 1
                return
            await self.limiter.acquire(chat_id)
            try:
                if notification.user_id in run.blocked:
                    await self._transaction(
                        lambda session: finish(
                            session,
                            notification.id,
                            NotificationStatusCode.SUPPRESSED,
                            now=run.clock(),
                            rendered=outgoing.rendered,
                            claimed_at=notification.claimed_at,
                        )
                    )
                    run.report.suppressed += 1
                    return
                # Committed before the request: if this process dies now, the row says the
                # message may be out, and it is never sent again.
                async with self._single() as session:
                    ours = await begin_attempt(
                        session, notification, attempt, telegram_chat_id=chat_id
                    )
                run.unattempted.discard(notification.id)
                if not ours:
                    logger.warning(
                        "notification %s is no longer this sender's claim: not sent",
                        notification.id,
                    )
                    return
                try:
                    message = await self.bot.send_message(
                        chat_id,
                        outgoing.rendered.html,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup,
                        request_timeout=self.options.request_timeout,
                    )
                except Exception as failure:  # every failure is recorded below
                    error = failure
            finally:
                await self.limiter.release(chat_id)
            if not await self._settle(run, outgoing, attempt, message, error):
                return

    async def _settle(
        self,
        run: _Run,
        outgoing: Outgoing,
        attempt: int,
        message: Message | None,
        error: BaseException | None,
    ) -> bool:
        """Record the answer to one attempt; True when the notification is tried again."""
        notification = outgoing.notification
        options = self.options
        at = run.clock()
        if message is not None:
            async with self._single() as session:
                await record_outcome(
                    session,
                    notification,
                    attempt,
                    DeliveryStatusCode.DELIVERED,
                    NotificationStatusCode.DELIVERED,
                    now=at,
                    rendered=outgoing.rendered,
                    telegram_chat_id=message.chat.id,
                    telegram_message_id=message.message_id,
                )
            run.report.delivered += 1
            return False
        assert error is not None
        description = _describe(error)
        status = _status_of(error)

        if isinstance(error, TelegramRetryAfter):
            wait = error.retry_after
            run.pause(wait)
            await self.limiter.pause(wait)
            hand_back = wait > options.max_retry_wait or attempt >= options.max_attempts

            async def deferred(session: AsyncSession) -> None:
                await record_attempt(
                    session,
                    notification.id,
                    attempt,
                    DeliveryStatusCode.DEFERRED,
                    now=at,
                    error_code=429,
                    error_description=description,
                    retry_after=wait,
                )
                if hand_back:
                    await release(
                        session,
                        notification.id,
                        at + dt.timedelta(seconds=wait),
                        claimed_at=notification.claimed_at,
                    )

            await self._transaction(deferred)
            run.report.deferred += 1
            if hand_back:
                run.report.released += 1
            return not hand_back

        if isinstance(error, TelegramForbiddenError):
            run.blocked.add(notification.user_id)
            reason = (
                SuppressionReason.USER_DEACTIVATED
                if "deactivated" in description
                else SuppressionReason.BOT_BLOCKED
            )

            async def blocked(session: AsyncSession) -> None:
                await record_attempt(
                    session,
                    notification.id,
                    attempt,
                    DeliveryStatusCode.BLOCKED,
                    now=at,
                    error_code=403,
                    error_description=description,
                )
                await finish(
                    session,
                    notification.id,
                    NotificationStatusCode.SUPPRESSED,
                    now=at,
                    rendered=outgoing.rendered,
                    claimed_at=notification.claimed_at,
                )
                await block_user(session, notification.user_id, reason=reason, details=description)

            await self._transaction(blocked)
            run.report.suppressed += 1
            logger.info("user %s blocked the bot: notifications suppressed", notification.user_id)
            return False

        retryable = isinstance(error, RestartingTelegram) or (
            isinstance(error, TelegramNetworkError) and _never_reached(error)
        )
        if retryable:
            last = attempt >= options.max_attempts

            async def retry_or_fail(session: AsyncSession) -> None:
                await record_attempt(
                    session,
                    notification.id,
                    attempt,
                    DeliveryStatusCode.FAILED if last else DeliveryStatusCode.DEFERRED,
                    now=at,
                    error_code=status,
                    error_description=description,
                )
                if last:
                    await finish(
                        session,
                        notification.id,
                        NotificationStatusCode.FAILED,
                        now=at,
                        rendered=outgoing.rendered,
                        claimed_at=notification.claimed_at,
                    )

            await self._transaction(retry_or_fail)
            if last:
                run.report.failed += 1
                logger.warning(
                    "notification %s failed after %d attempts: %s",
                    notification.id,
                    attempt,
                    description,
                )
                return False
            run.report.deferred += 1
            await asyncio.sleep(self._backoff(attempt))
            return True

        maybe_delivered = isinstance(error, TelegramNetworkError | TelegramServerError)

        async def failed(session: AsyncSession) -> None:
            await record_attempt(
                session,
                notification.id,
                attempt,
                DeliveryStatusCode.FAILED,
                now=at,
                error_code=status,
                error_description=description + (_MAYBE_DELIVERED if maybe_delivered else ""),
            )
            await finish(
                session,
                notification.id,
                NotificationStatusCode.FAILED,
                now=at,
                rendered=outgoing.rendered,
                claimed_at=notification.claimed_at,
            )
            if not isinstance(error, TelegramNetworkError):  # ours or Telegram's: worth a look
                await self._record_error(session, notification, error, at)

        await self._transaction(failed)
        run.report.failed += 1
        logger.warning("notification %s failed: %s", notification.id, description)
        return False

    @staticmethod
    async def _record_error(
        session: AsyncSession,
        notification: ClaimedNotification,
        error: BaseException,
        at: dt.datetime,
    ) -> None:
        if isinstance(error, TelegramAPIError):
            code = error_type = ErrorTypeCode.TELEGRAM_API.value
            trace = None
        else:
            code = error_type = ErrorTypeCode.UNHANDLED_EXCEPTION.value
            trace = "".join(traceback.format_exception(error))
        await record_send_error(
            session,
            notification,
            code=code,
            error_type=error_type,
            message=f"sendMessage for {notification.type_code}: {_describe(error)}",
            now=at,
            trace=trace,
        )

    def _backoff(self, attempt: int) -> float:
        wait = min(self.options.backoff_cap, self.options.backoff_base * 2 ** (attempt - 1))
        # Jitter spreads the retries of many senders after the same outage.
        return wait * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret

    def _markup(self, run: _Run, outgoing: Outgoing) -> InlineKeyboardMarkup | None:
        rendered = outgoing.rendered
        notification = outgoing.notification
        url = rendered.action_url
        if rendered.action_button_text and url and url.startswith(("https://", "http://", "tg://")):
            rows = [[InlineKeyboardButton(text=rendered.action_button_text, url=url)]]
            if notification.unsubscribable:
                keyboard = self._keyboard(notification.type_code, notification.locale)
                rows.extend(list(row) for row in keyboard.inline_keyboard)
            return InlineKeyboardMarkup(inline_keyboard=rows)
        if not notification.unsubscribable:
            return None
        # The same few keyboards for thousands of messages: built once per run.
        key = (notification.type_code, notification.locale)
        markup = run.keyboards.get(key)
        if markup is None:
            markup = run.keyboards[key] = self._keyboard(*key)
        return markup

    async def _transaction(self, work: Callable[[AsyncSession], Awaitable[object]]) -> None:
        async with self._factory() as session, session.begin():
            await work(session)


# --------------------------------------------------------------------------------------------
# Module entry point
# --------------------------------------------------------------------------------------------


def _aware_time(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-01-01T08:00:00+00:00")
    return moment


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bot.delivery", description="Deliver due notifications."
    )
    parser.add_argument("--interval", type=float, default=0.0, help="repeat every S seconds")
    parser.add_argument("--now", type=_aware_time, help="ISO time with offset (injected clock)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="messages per second")
    parser.add_argument("--chat-interval", type=float, default=DEFAULT_CHAT_INTERVAL)
    parser.add_argument("--workers", type=int, default=DeliveryOptions.workers)
    parser.add_argument("--batch-size", type=int, default=None)
    return parser.parse_args(argv)


async def _serve(arguments: argparse.Namespace) -> int:
    from bot.app import build_bot
    from bot.runtime import app_database
    from domain.config import load_settings

    settings = load_settings()
    if settings.bot_token is None:
        logger.error("BOT_TOKEN is not set")
        return 2
    options = DeliveryOptions(
        rate=arguments.rate,
        chat_interval=arguments.chat_interval,
        workers=arguments.workers,
        batch_size=arguments.batch_size,
    )
    async with app_database(settings, announce=False) as factory:
        bot = build_bot(settings.bot_token.get_secret_value(), settings.telegram_api_base)
        sender = Sender.for_bot(bot, factory, redis_url=settings.redis_url, options=options)
        try:
            now: dt.datetime | None = arguments.now
            offset = None if now is None else now - dt.datetime.now(dt.UTC)
            while True:
                moment = None if offset is None else dt.datetime.now(dt.UTC) + offset
                report = await sender.run(moment)
                logger.info("delivery run: %s", report)
                if arguments.interval <= 0:
                    return 0
                await asyncio.sleep(arguments.interval)
        finally:
            await sender.close()
            await bot.session.close()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parse(argv)
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The schema check at start-up is not news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return asyncio.run(_serve(arguments))


if __name__ == "__main__":
    raise SystemExit(main())
