"""Delivery of planned notifications: claim the due ones, settle what cannot be sent, record
every send attempt and the outcome. The transport (Telegram, rate limits) is the caller's:
``bot/delivery.py``.

At-most-once. A reminder sent twice is worse than one lost, so:

1. ``claim_due`` moves due PENDING rows to SENDING with ``claimed_at`` (``FOR UPDATE SKIP
   LOCKED``: concurrent senders take disjoint rows) and the caller COMMITS before sending;
2. right before each request the caller commits a QUEUED ``NOTIFICATION_DELIVERY`` row (the
   attempt, ``begin_attempt``: only while the claim is still its own): from then on the
   message may be in the chat;
3. the answer turns that attempt into DELIVERED / DEFERRED / FAILED / BLOCKED and the
   notification into DELIVERED / FAILED / SUPPRESSED (``record_attempt`` + ``finish``, or
   both in one statement: ``record_outcome``), or back to PENDING after a long 429
   (``release``: Telegram said it did not send it).

A sender that dies leaves SENDING rows behind. ``release_stale_claims`` (claims older than
``STALE_CLAIM_AFTER``) tells them apart by their attempts: a row with no attempt, or whose
attempts all ended DEFERRED, was certainly never sent and becomes PENDING again; a row with a
QUEUED attempt (the request may have reached Telegram) becomes FAILED and is never re-sent.
So a crash loses at most the messages in flight at that moment and never doubles one. For the
same reason a request whose answer is lost (read timeout, connection dropped after the request
was written) or answered 5xx (a gateway error may hide a request that went through) is not
retried: only failures after which Telegram did not send are (429, a connection that was
never made, "restarting").

Rendering happens at send time in the user's current locale (``prepare_batch``); a template
variable missing from ``variables`` records a TEMPLATE_VARIABLE_MISSING error and fails the
notification: nothing with a hole in it is sent.

Every function flushes at most; the caller owns the transaction. ``begin_attempt`` and
``record_outcome`` are single statements, atomic on their own: the sender runs them without
BEGIN/COMMIT (autocommit), two round trips per message.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    DateTime,
    Table,
    and_,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.error import ErrorTypeCode
from domain.models.notification import (
    DeliveryStatusCode,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationStatusCode,
    NotificationSuppression,
    NotificationType,
    SuppressionReason,
    UserNotificationPreference,
)
from domain.models.user import User
from domain.services.errors import record_error
from domain.services.notification_templates import (
    MissingTemplateVariable,
    RenderedNotification,
    TemplateText,
    choose_template,
    load_templates,
    render_template,
)
from domain.services.notifications import suppress
from domain.services.users import set_reachable

# A claim older than this belongs to a sender that died (a live one finishes a claim within
# seconds: it claims about two seconds of sending at a time, and waits on long 429s are handed
# back as PENDING rows).
STALE_CLAIM_AFTER = dt.timedelta(minutes=10)

# Attempt outcomes after which the message may be in the chat: never send it again.
_MAYBE_SENT = (DeliveryStatusCode.QUEUED, DeliveryStatusCode.SENT, DeliveryStatusCode.DELIVERED)
# Final statuses ``finish`` accepts.
_FINAL = frozenset(
    {
        NotificationStatusCode.SENT,
        NotificationStatusCode.DELIVERED,
        NotificationStatusCode.FAILED,
        NotificationStatusCode.SUPPRESSED,
        NotificationStatusCode.CANCELLED,
    }
)
_MAX_DESCRIPTION = 2000
_SOURCE = "domain.services.delivery"
STALE_DESCRIPTION = (
    "the sender stopped before Telegram answered; it may have been delivered, so it is not "
    "sent again (at-most-once)"
)


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Core statements: claims and outcomes are set-based and must not synchronise ORM objects.
NOTIFICATION = _table(Notification)
DELIVERY = _table(NotificationDelivery)


def _aware(moment: dt.datetime, name: str = "now") -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{name} must be timezone-aware (UTC)")
    return moment


def _at(moment: dt.datetime) -> Any:
    return literal(_aware(moment), DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    """What a sender needs about one claimed notification (detached from the session)."""

    id: uuid.UUID
    user_id: uuid.UUID
    type_code: str
    variables: dict[str, Any]
    due_at: dt.datetime
    claimed_at: dt.datetime
    # The user's Telegram chat (a private chat's id is the user's id); None: not on Telegram.
    telegram_chat_id: int | None
    # The user's locale now: the message is rendered in it.
    locale: str
    # An active suppression of this type or of every type (bot blocked, unsubscribed), the
    # type switched off in the user's preferences, or a deactivated account: do not send.
    suppressed: bool
    # app_user.is_unreachable (informative: the suppression row is what stops sending).
    unreachable: bool
    # The user may switch this type off: the message carries an "unsubscribe" button.
    unsubscribable: bool
    # Attempts already recorded (a notification handed back after a 429 keeps its history).
    attempts: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed notification ready to send: its text in the user's locale."""

    notification: ClaimedNotification
    rendered: RenderedNotification


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    to_send: list[Outgoing]
    suppressed: int
    failed: int


@dataclass(frozen=True, slots=True)
class StaleClaims:
    # Never attempted (or only refused by Telegram): PENDING again.
    requeued: int
    # An attempt may have reached the chat: FAILED, never re-sent.
    failed: int


# --------------------------------------------------------------------------------------------
# Claiming
# --------------------------------------------------------------------------------------------


async def claim_due(
    session: AsyncSession, now: dt.datetime, limit: int
) -> list[ClaimedNotification]:
    """Claim up to ``limit`` PENDING notifications due at ``now`` (earliest first).

    They become SENDING with ``claimed_at = now``. Rows other senders are claiming are
    skipped, not waited for. Commit before sending: the commit is what makes the claim
    visible to other senders and to ``release_stale_claims``. One statement.
    """
    if limit < 1:
        raise InvalidInput("claim at least one notification", limit=limit)
    at = _at(now)
    n = NOTIFICATION.c
    due = (
        select(n.id)
        .where(n.status == NotificationStatusCode.PENDING, n.due_at <= at)
        .order_by(n.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("due")
    )
    claimed = (
        update(NOTIFICATION)
        .where(n.id == due.c.id)
        .values(status=NotificationStatusCode.SENDING, claimed_at=at)
        .returning(n.id, n.user_id, n.notification_type_id, n.variables, n.due_at, n.claimed_at)
        .cte("claimed")
    )
    c = claimed.c
    s = NotificationSuppression
    suppressed = exists().where(
        s.user_id == c.user_id,
        or_(s.notification_type_id.is_(None), s.notification_type_id == c.notification_type_id),
        or_(s.expires_at.is_(None), s.expires_at > at),
    )
    p = UserNotificationPreference
    switched_off = and_(
        NotificationType.is_user_configurable,
        exists().where(
            p.user_id == c.user_id,
            p.notification_type_id == c.notification_type_id,
            p.channel == NotificationChannel.TELEGRAM,
            not_(p.is_enabled),
        ),
    )
    attempts = (
        select(func.coalesce(func.max(NotificationDelivery.attempt_number), 0))
        .where(NotificationDelivery.notification_id == c.id)
        .scalar_subquery()
    )
    query = (
        select(
            c.id,
            c.user_id,
            NotificationType.code,
            c.variables,
            c.due_at,
            c.claimed_at,
            User.telegram_user_id,
            User.locale,
            or_(suppressed, switched_off, not_(User.is_active)).label("suppressed"),
            User.is_unreachable,
            NotificationType.is_user_configurable,
            attempts.label("attempts"),
        )
        .select_from(claimed)
        .join(User, User.id == c.user_id)
        .join(NotificationType, NotificationType.id == c.notification_type_id)
        .order_by(c.due_at, c.id)
    )
    rows = (await session.execute(query)).all()
    return [
        ClaimedNotification(
            id=row.id,
            user_id=row.user_id,
            type_code=row.code,
            variables=dict(row.variables or {}),
            due_at=row.due_at,
            claimed_at=row.claimed_at,
            telegram_chat_id=row.telegram_user_id,
            locale=row.locale,
            suppressed=bool(row.suppressed),
            unreachable=bool(row.is_unreachable),
            unsubscribable=bool(row.is_user_configurable),
            attempts=int(row.attempts),
        )
        for row in rows
    ]


async def release_stale_claims(
    session: AsyncSession, now: dt.datetime, older_than: dt.timedelta = STALE_CLAIM_AFTER
) -> StaleClaims:
    """Settle the claims of senders that died (SENDING rows claimed before ``now -
    older_than``): PENDING again when no attempt may have reached the chat, else FAILED, with
    their unanswered (QUEUED) attempts FAILED too. See the module docstring."""
    at = _aware(now)
    n = NOTIFICATION.c
    d = DELIVERY.c
    stale = (
        select(n.id)
        .where(n.status == NotificationStatusCode.SENDING, n.claimed_at < at - older_than)
        .with_for_update(skip_locked=True)
    )
    ids = list((await session.scalars(stale)).all())
    if not ids:
        return StaleClaims(requeued=0, failed=0)
    maybe_sent = exists().where(d.notification_id == n.id, d.status.in_(_MAYBE_SENT))
    failed = list(
        (
            await session.scalars(
                update(NOTIFICATION)
                .where(n.id.in_(ids), maybe_sent)
                .values(status=NotificationStatusCode.FAILED)
                .returning(n.id)
            )
        ).all()
    )
    if failed:
        await session.execute(
            update(DELIVERY)
            .where(d.notification_id.in_(failed), d.status == DeliveryStatusCode.QUEUED)
            .values(
                status=DeliveryStatusCode.FAILED,
                failed_at=_at(at),
                error_description=STALE_DESCRIPTION,
            )
        )
    requeued = await session.execute(
        update(NOTIFICATION)
        .where(n.id.in_(ids), n.status == NotificationStatusCode.SENDING)
        .values(status=NotificationStatusCode.PENDING, claimed_at=None)
    )
    return StaleClaims(requeued=int(getattr(requeued, "rowcount", 0) or 0), failed=len(failed))


# --------------------------------------------------------------------------------------------
# Rendering and what cannot be sent
# --------------------------------------------------------------------------------------------


@dataclass
class TemplateCache:
    """Templates by type code and locale, read once per type (keep one per delivery run)."""

    channel: NotificationChannel = NotificationChannel.TELEGRAM
    _by_type: dict[str, dict[str, TemplateText]] = field(default_factory=dict)

    async def get(self, session: AsyncSession, type_code: str) -> Mapping[str, TemplateText]:
        templates = self._by_type.get(type_code)
        if templates is None:
            templates = await load_templates(session, type_code, self.channel)
            self._by_type[type_code] = templates
        return templates


def render_claimed(
    templates: Mapping[str, TemplateText], claimed: ClaimedNotification
) -> RenderedNotification:
    """The message in the user's locale (English when it has none); raises
    MissingTemplateVariable or NotFound (no template at all)."""
    template = choose_template(templates, claimed.type_code, claimed.locale)
    return render_template(template, claimed.variables)


async def prepare_batch(
    session: AsyncSession,
    claimed: Iterable[ClaimedNotification],
    templates: TemplateCache,
    *,
    now: dt.datetime,
) -> PreparedBatch:
    """Render what can be sent; finish the rest: SUPPRESSED (suppressed, switched off,
    deactivated), FAILED (no Telegram chat; a template that cannot be filled, with an ERROR
    row)."""
    to_send: list[Outgoing] = []
    suppressed = failed = 0
    for item in claimed:
        if item.suppressed:
            await finish(
                session,
                item.id,
                NotificationStatusCode.SUPPRESSED,
                now=now,
                claimed_at=item.claimed_at,
            )
            suppressed += 1
            continue
        if item.telegram_chat_id is None:
            await finish(
                session, item.id, NotificationStatusCode.FAILED, now=now, claimed_at=item.claimed_at
            )
            failed += 1
            continue
        try:
            rendered = render_claimed(await templates.get(session, item.type_code), item)
        except (MissingTemplateVariable, NotFound) as error:
            await fail_unrenderable(session, item, error, now=now)
            failed += 1
            continue
        to_send.append(Outgoing(item, rendered))
    return PreparedBatch(to_send=to_send, suppressed=suppressed, failed=failed)


async def fail_unrenderable(
    session: AsyncSession,
    claimed: ClaimedNotification,
    error: MissingTemplateVariable | NotFound,
    *,
    now: dt.datetime,
) -> str:
    """Record why a notification cannot be rendered (ERROR row) and fail it; returns the
    error's reference code."""
    if isinstance(error, MissingTemplateVariable):
        code = error_type = ErrorTypeCode.TEMPLATE_VARIABLE_MISSING.value
    else:
        code, error_type = "NOTIFICATION_TEMPLATE_MISSING", ErrorTypeCode.SYSTEM.value
    recorded = await record_error(
        session,
        code=code,
        error_type=error_type,
        source=f"{_SOURCE}:render",
        message=str(error),
        user_id=claimed.user_id,
        context={
            "notification_id": str(claimed.id),
            "type_code": claimed.type_code,
            "locale": claimed.locale,
            "variables": sorted(claimed.variables),
        },
        now=now,
    )
    await finish(
        session,
        claimed.id,
        NotificationStatusCode.FAILED,
        now=now,
        claimed_at=claimed.claimed_at,
    )
    return recorded.reference_code


# --------------------------------------------------------------------------------------------
# Attempts and outcomes
# --------------------------------------------------------------------------------------------


# The statements of the per-message path are built once, with bound parameters: building a
# Core statement costs more CPU than running it.
def _build_begin_attempt() -> Any:
    n = NOTIFICATION.c
    owned = (
        select(n.id)
        .where(
            n.id == bindparam("b_notification_id"),
            n.status == NotificationStatusCode.SENDING,
            n.claimed_at == bindparam("b_claimed_at"),
        )
        .with_for_update()
        .cte("owned")
    )
    d = DELIVERY.c
    row = select(
        bindparam("b_id", type_=d.id.type),
        owned.c.id,
        bindparam("b_attempt_number", type_=d.attempt_number.type),
        literal(NotificationChannel.TELEGRAM.value, d.channel.type),
        literal(DeliveryStatusCode.QUEUED.value, d.status.type),
        bindparam("b_telegram_chat_id", type_=d.telegram_chat_id.type),
    )
    columns = ["id", "notification_id", "attempt_number", "channel", "status", "telegram_chat_id"]
    return (
        insert(DELIVERY).from_select(columns, row).on_conflict_do_nothing().returning(DELIVERY.c.id)
    )


_ATTEMPT_OUTCOME = (
    "status",
    "error_code",
    "error_description",
    "retry_after",
    "sent_at",
    "delivered_at",
    "failed_at",
)


def _build_record_attempt() -> Any:
    d = DELIVERY.c
    columns = (
        "id",
        "notification_id",
        "attempt_number",
        "channel",
        "telegram_chat_id",
        "telegram_message_id",
        *_ATTEMPT_OUTCOME,
    )
    statement = insert(DELIVERY).values({name: bindparam(f"a_{name}") for name in columns})
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[d.notification_id, d.attempt_number],
        set_={
            **{name: excluded[name] for name in _ATTEMPT_OUTCOME},
            # Known from the QUEUED row when this outcome does not repeat them.
            "telegram_chat_id": func.coalesce(excluded.telegram_chat_id, d.telegram_chat_id),
            "telegram_message_id": func.coalesce(
                excluded.telegram_message_id, d.telegram_message_id
            ),
        },
    )


_FINISHED = ("status", "title", "message", "locale", "action_url", "action_button_text", "sent_at")


def _build_finish(*, same_claim: bool) -> Any:
    n = NOTIFICATION.c
    where = [n.id == bindparam("n_id"), n.status == NotificationStatusCode.SENDING]
    if same_claim:
        where.append(n.claimed_at == bindparam("n_claimed_at"))
    return (
        update(NOTIFICATION)
        .where(*where)
        .values({name: bindparam(f"n_{name}", type_=n[name].type) for name in _FINISHED})
    )


_BEGIN_ATTEMPT = _build_begin_attempt()
_RECORD_ATTEMPT = _build_record_attempt()
_FINISH = _build_finish(same_claim=False)
_FINISH_CLAIM = _build_finish(same_claim=True)
# Both in one statement (PostgreSQL runs a data-modifying CTE whether or not it is read).
_RECORD_OUTCOME = _FINISH_CLAIM.add_cte(_RECORD_ATTEMPT.cte("attempt"))


def _attempt_params(
    notification_id: uuid.UUID,
    attempt_number: int,
    status: DeliveryStatusCode,
    *,
    now: dt.datetime,
    telegram_chat_id: int | None,
    telegram_message_id: int | None,
    error_code: int | None,
    error_description: str | None,
    retry_after: int | None,
) -> dict[str, Any]:
    if attempt_number < 1:
        raise InvalidInput("attempts are numbered from 1", attempt_number=attempt_number)
    at = _aware(now)
    sent = status in (DeliveryStatusCode.SENT, DeliveryStatusCode.DELIVERED)
    failed = status in (
        DeliveryStatusCode.DEFERRED,
        DeliveryStatusCode.FAILED,
        DeliveryStatusCode.BLOCKED,
    )
    return {
        "a_id": uuid.uuid4(),
        "a_notification_id": notification_id,
        "a_attempt_number": attempt_number,
        "a_channel": NotificationChannel.TELEGRAM.value,
        "a_telegram_chat_id": telegram_chat_id,
        "a_telegram_message_id": telegram_message_id,
        "a_status": status.value,
        "a_error_code": error_code,
        "a_error_description": None
        if error_description is None
        else error_description[:_MAX_DESCRIPTION],
        "a_retry_after": retry_after,
        "a_sent_at": at if sent else None,
        "a_delivered_at": at if status is DeliveryStatusCode.DELIVERED else None,
        "a_failed_at": at if failed else None,
    }


def _finish_params(
    notification_id: uuid.UUID,
    status: NotificationStatusCode,
    *,
    now: dt.datetime,
    rendered: RenderedNotification | None,
) -> dict[str, Any]:
    if status not in _FINAL:
        raise InvalidInput(f"{status} is not a final notification status", status=str(status))
    sent = status in (NotificationStatusCode.SENT, NotificationStatusCode.DELIVERED)
    if sent and rendered is None:
        raise InvalidInput("a sent notification records its text")
    # A claimed row has no text yet (planned rows are rendered when sent): nothing to keep.
    params: dict[str, Any] = {
        "n_id": notification_id,
        "n_status": status.value,
        "n_title": None,
        "n_message": None,
        "n_locale": None,
        "n_action_url": None,
        "n_action_button_text": None,
        "n_sent_at": _aware(now) if sent else None,
    }
    if rendered is not None:
        params.update(
            n_title=None if rendered.subject is None else rendered.subject[:255],
            n_message=rendered.body,
            n_locale=rendered.locale,
            n_action_url=rendered.action_url,
            n_action_button_text=rendered.action_button_text,
        )
    return params


async def begin_attempt(
    session: AsyncSession,
    claimed: ClaimedNotification,
    attempt_number: int,
    *,
    telegram_chat_id: int | None = None,
) -> bool:
    """Write attempt ``attempt_number`` as QUEUED — commit it before the request — if the
    notification is still this sender's claim. False: it is not (a stale-claim sweep took it
    after a long stall, another sender may own it now); do not send.

    The notification row is locked while checking, so a concurrent sweep either sees this
    attempt (and fails the row: it may be sent) or runs first (and this returns False).
    """
    if attempt_number < 1:
        raise InvalidInput("attempts are numbered from 1", attempt_number=attempt_number)
    written = await session.execute(
        _BEGIN_ATTEMPT,
        {
            "b_id": uuid.uuid4(),
            "b_notification_id": claimed.id,
            "b_claimed_at": claimed.claimed_at,
            "b_attempt_number": attempt_number,
            "b_telegram_chat_id": telegram_chat_id,
        },
    )
    return written.scalar_one_or_none() is not None


async def record_attempt(
    session: AsyncSession,
    notification_id: uuid.UUID,
    attempt_number: int,
    status: DeliveryStatusCode,
    *,
    now: dt.datetime,
    telegram_chat_id: int | None = None,
    telegram_message_id: int | None = None,
    error_code: int | None = None,
    error_description: str | None = None,
    retry_after: int | None = None,
) -> None:
    """Write attempt ``attempt_number`` (1-based) of a notification, or its outcome when the
    attempt was written QUEUED before the request (one row per attempt)."""
    params = _attempt_params(
        notification_id,
        attempt_number,
        status,
        now=now,
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=telegram_message_id,
        error_code=error_code,
        error_description=error_description,
        retry_after=retry_after,
    )
    await session.execute(_RECORD_ATTEMPT, params)


async def finish(
    session: AsyncSession,
    notification_id: uuid.UUID,
    status: NotificationStatusCode,
    *,
    now: dt.datetime,
    rendered: RenderedNotification | None = None,
    claimed_at: dt.datetime | None = None,
) -> bool:
    """Give a claimed (SENDING) notification its final status, with the text when there is
    one (what was sent, or what could not be). With ``claimed_at``, only if it is still that
    claim. Returns False when it was not claimed (any more): a stale-claim sweep settled it."""
    params = _finish_params(notification_id, status, now=now, rendered=rendered)
    statement = _FINISH
    if claimed_at is not None:
        statement = _FINISH_CLAIM
        params["n_claimed_at"] = _aware(claimed_at, "claimed_at")
    result = await session.execute(statement, params)
    return bool(getattr(result, "rowcount", 0))


async def record_outcome(
    session: AsyncSession,
    claimed: ClaimedNotification,
    attempt_number: int,
    attempt_status: DeliveryStatusCode,
    status: NotificationStatusCode,
    *,
    now: dt.datetime,
    rendered: RenderedNotification | None = None,
    telegram_chat_id: int | None = None,
    telegram_message_id: int | None = None,
    error_code: int | None = None,
    error_description: str | None = None,
) -> bool:
    """``record_attempt`` and ``finish`` (of this claim) in ONE statement: atomic without a
    transaction, one round trip (the sender's common case, a delivered message)."""
    params = _attempt_params(
        claimed.id,
        attempt_number,
        attempt_status,
        now=now,
        telegram_chat_id=telegram_chat_id,
        telegram_message_id=telegram_message_id,
        error_code=error_code,
        error_description=error_description,
        retry_after=None,
    )
    params.update(_finish_params(claimed.id, status, now=now, rendered=rendered))
    params["n_claimed_at"] = claimed.claimed_at
    result = await session.execute(_RECORD_OUTCOME, params)
    return bool(getattr(result, "rowcount", 0))


async def release(
    session: AsyncSession,
    notification_id: uuid.UUID,
    due_at: dt.datetime,
    *,
    claimed_at: dt.datetime | None = None,
) -> bool:
    """Hand a claimed notification back (PENDING, due at ``due_at``): Telegram refused it
    without sending (a long 429), or the sender stops before trying. Its attempts stay."""
    n = NOTIFICATION.c
    result = await session.execute(
        update(NOTIFICATION)
        .where(n.id == notification_id, *_claimed(claimed_at))
        .values(
            status=NotificationStatusCode.PENDING,
            claimed_at=None,
            due_at=_at(_aware(due_at, "due_at")),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def _claimed(claimed_at: dt.datetime | None) -> list[Any]:
    """Still claimed (by that claim, when its time is given)."""
    n = NOTIFICATION.c
    conditions: list[Any] = [n.status == NotificationStatusCode.SENDING]
    if claimed_at is not None:
        conditions.append(n.claimed_at == _aware(claimed_at, "claimed_at"))
    return conditions


async def release_unattempted(session: AsyncSession, ids: Sequence[uuid.UUID]) -> int:
    """Hand back claimed notifications that were never attempted (a sender stopping)."""
    if not ids:
        return 0
    n = NOTIFICATION.c
    d = DELIVERY.c
    result = await session.execute(
        update(NOTIFICATION)
        .where(
            n.id.in_(ids),
            n.status == NotificationStatusCode.SENDING,
            ~exists().where(d.notification_id == n.id, d.status.in_(_MAYBE_SENT)),
        )
        .values(status=NotificationStatusCode.PENDING, claimed_at=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def block_user(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    reason: SuppressionReason = SuppressionReason.BOT_BLOCKED,
    details: str | None = None,
) -> int:
    """Telegram answered 403 for this user: suppress every type (the suppression row is what
    stops sending), mark the user unreachable, and suppress their PENDING notifications.
    Returns how many PENDING ones became SUPPRESSED. Lifting it is the bot's job when the
    user unblocks (``notifications.lift_suppression`` + ``users.set_reachable``)."""
    await suppress(session, user_id, reason, None, details=details)
    await set_reachable(session, user_id, reachable=False)
    n = NOTIFICATION.c
    result = await session.execute(
        update(NOTIFICATION)
        .where(n.user_id == user_id, n.status == NotificationStatusCode.PENDING)
        .values(status=NotificationStatusCode.SUPPRESSED)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def record_send_error(
    session: AsyncSession,
    claimed: ClaimedNotification,
    *,
    code: str,
    error_type: str,
    message: str,
    now: dt.datetime,
    trace: str | None = None,
) -> str:
    """An ERROR row for a send that failed for a reason worth a look (a 400 on our text, an
    unexpected exception); returns the reference code."""
    recorded = await record_error(
        session,
        code=code,
        error_type=error_type,
        source=f"{_SOURCE}:send",
        message=message,
        user_id=claimed.user_id,
        context={"notification_id": str(claimed.id), "type_code": claimed.type_code},
        trace=trace,
        now=now,
    )
    return recorded.reference_code
