"""Notifications: planning idempotent reminders, suppressions (bot blocked, unsubscribed) and the
daily analytics rollup. Templates are rendered by ``domain.services.notification_templates``.

Every function flushes at most; the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Float,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.notification import (
    Notification,
    NotificationAnalytics,
    NotificationStatusCode,
    NotificationSuppression,
    NotificationType,
    SuppressionReason,
    planned_dedupe_key,
)

# Statuses of a notification that reached the user's chat (read and clicked ones did too).
_DELIVERED = (
    NotificationStatusCode.DELIVERED,
    NotificationStatusCode.READ,
    NotificationStatusCode.CLICKED,
)


async def notification_type_id(session: AsyncSession, type_code: str) -> uuid.UUID:
    """The id of a notification type by code; NotFound names an unknown code."""
    query = select(NotificationType.id).where(NotificationType.code == type_code)
    found = (await session.execute(query)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"unknown notification type {type_code!r}", type_code=type_code)
    return found


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


async def plan_notification(
    session: AsyncSession,
    user_id: uuid.UUID,
    type_code: str,
    local_date: dt.date,
    due_at: dt.datetime,
    variables: Mapping[str, Any] | None = None,
) -> uuid.UUID | None:
    """Plan the one notification of ``type_code`` for a user's ``local_date``, due at ``due_at``.

    Returns its id, or None when that reminder was already planned (the dedupe key makes a
    second plan a no-op, also under concurrent planners).
    """
    if due_at.tzinfo is None:
        raise InvalidInput("due_at must be timezone-aware", due_at=due_at.isoformat())
    statement = (
        insert(Notification)
        .values(
            user_id=user_id,
            notification_type_id=await notification_type_id(session, type_code),
            dedupe_key=planned_dedupe_key(type_code, user_id, local_date),
            due_at=due_at,
            variables=dict(variables or {}),
        )
        .on_conflict_do_nothing(index_elements=[Notification.dedupe_key])
        .returning(Notification.id)
    )
    return (await session.execute(statement)).scalar_one_or_none()


# --------------------------------------------------------------------------------------------
# Suppression
# --------------------------------------------------------------------------------------------


async def _scope_type_id(session: AsyncSession, type_code: str | None) -> uuid.UUID | None:
    return None if type_code is None else await notification_type_id(session, type_code)


async def suppress(
    session: AsyncSession,
    user_id: uuid.UUID,
    reason: SuppressionReason,
    type_code: str | None = None,
    *,
    details: str | None = None,
    expires_at: dt.datetime | None = None,
    permanent: bool = False,
) -> bool:
    """Stop sending ``type_code`` (None: every type) to the user.

    Idempotent: one row per (user, type); suppressing again with the same values changes
    nothing and returns False, otherwise the row is created or updated and True is returned.
    An expired suppression that is renewed counts from now.
    """
    if permanent and expires_at is not None:
        raise InvalidInput("a permanent suppression cannot expire")
    table = NotificationSuppression.__table__
    statement = insert(NotificationSuppression).values(
        user_id=user_id,
        notification_type_id=await _scope_type_id(session, type_code),
        suppression_reason=reason,
        details=details,
        expires_at=expires_at,
        is_permanent=permanent,
    )
    excluded = statement.excluded
    changing = ("suppression_reason", "details", "expires_at", "is_permanent")
    expired = and_(table.c.expires_at.is_not(None), table.c.expires_at <= func.now())
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.user_id, table.c.notification_type_id],
        set_={
            **{column: excluded[column] for column in changing},
            "suppressed_at": case((expired, func.now()), else_=table.c.suppressed_at),
        },
        where=or_(expired, *(table.c[c].is_distinct_from(excluded[c]) for c in changing)),
    )
    written = await session.execute(statement.returning(table.c.id))
    return written.scalar_one_or_none() is not None


async def is_suppressed(
    session: AsyncSession,
    user_id: uuid.UUID,
    type_code: str | None = None,
    *,
    at: dt.datetime | None = None,
) -> bool:
    """Whether notifications of ``type_code`` must not be sent to the user at ``at`` (now).

    A suppression of every type counts for each type; with ``type_code`` None only those do.
    """
    type_id = await _scope_type_id(session, type_code)
    moment = func.now() if at is None else literal(at, DateTime(timezone=True))
    row = NotificationSuppression
    scope: ColumnElement[bool] = row.notification_type_id.is_(None)
    if type_id is not None:
        scope = or_(scope, row.notification_type_id == type_id)
    query = select(
        exists().where(
            row.user_id == user_id,
            scope,
            or_(row.expires_at.is_(None), row.expires_at > moment),
        )
    )
    return bool((await session.execute(query)).scalar_one())


async def lift_suppression(
    session: AsyncSession, user_id: uuid.UUID, type_code: str | None = None
) -> bool:
    """Remove the suppression of exactly this scope (e.g. the user unblocked the bot).

    Returns whether there was one. A suppression of every type is not lifted by lifting one
    type, nor the reverse.
    """
    type_id = await _scope_type_id(session, type_code)
    row = NotificationSuppression
    scope = (
        row.notification_type_id.is_(None)
        if type_id is None
        else row.notification_type_id == type_id
    )
    deleted = await session.execute(
        delete(row).where(row.user_id == user_id, scope).returning(row.id)
    )
    return deleted.scalar_one_or_none() is not None


# --------------------------------------------------------------------------------------------
# Analytics
# --------------------------------------------------------------------------------------------


def _rate(part: Any, whole: Any) -> Any:
    return func.coalesce(cast(part, Float) / func.nullif(whole, 0), 0.0)


async def rollup_notification_analytics(session: AsyncSession, day: dt.date) -> int:
    """Count, per notification type, what became of the notifications due on ``day`` (UTC).

    One row per type and day (types without notifications get zeros, so a re-run after rows
    disappeared also corrects the day). Idempotent: a second run writes nothing unless the
    notifications changed meanwhile (late retries, reads). Returns the rows written.
    """
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    n = Notification

    def count_where(condition: Any) -> Any:
        return func.count(n.id).filter(condition)

    counts = (
        select(
            NotificationType.id.label("notification_type_id"),
            count_where(n.sent_at.is_not(None)).label("sent_count"),
            count_where(n.status.in_(_DELIVERED)).label("delivered_count"),
            count_where(n.read_at.is_not(None)).label("opened_count"),
            count_where(n.clicked_at.is_not(None)).label("clicked_count"),
            count_where(n.status == NotificationStatusCode.FAILED).label("failed_count"),
            count_where(n.status == NotificationStatusCode.SUPPRESSED).label("suppressed_count"),
        )
        .select_from(NotificationType)
        .outerjoin(
            n,
            and_(
                n.notification_type_id == NotificationType.id,
                n.due_at >= start,
                n.due_at < end,
            ),
        )
        .group_by(NotificationType.id)
        .cte("counts")
    )
    c = counts.c
    rows = select(
        c.notification_type_id,
        literal(day, Date).label("analytics_date"),
        c.sent_count,
        c.delivered_count,
        c.opened_count,
        c.clicked_count,
        c.failed_count,
        c.suppressed_count,
        _rate(c.opened_count, c.delivered_count).label("open_rate"),
        _rate(c.clicked_count, c.delivered_count).label("click_rate"),
        _rate(c.delivered_count, c.sent_count).label("delivery_rate"),
    )
    measures = [
        "sent_count",
        "delivered_count",
        "opened_count",
        "clicked_count",
        "failed_count",
        "suppressed_count",
        "open_rate",
        "click_rate",
        "delivery_rate",
    ]
    table = NotificationAnalytics.__table__
    statement = insert(NotificationAnalytics).from_select(
        ["notification_type_id", "analytics_date", *measures], rows
    )
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.notification_type_id, table.c.analytics_date],
        set_={
            **{column: excluded[column] for column in measures},
            "calculated_at": func.now(),
        },
        where=or_(*(table.c[column].is_distinct_from(excluded[column]) for column in measures)),
    )
    written = await session.execute(statement.returning(table.c.notification_type_id))
    return len(written.all())
