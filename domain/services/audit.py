"""The audit trail, system and security events, and their retention.

Audit trail
    One SQLAlchemy ``after_flush`` hook (``install_audit``) writes an AUDIT_LOG row for every
    row of an audited table (``AUDITED_TABLES``) that a flush inserts, updates or deletes, on
    the flush's own connection: the audit rows commit and roll back with the change, and no
    service has to remember to write them. The actor and reason come from the session
    (``set_audit_context`` for a whole unit of work, ``audit_context`` for a block).
    Reads of sensitive records are recorded explicitly with ``record_access`` (VIEW/EXPORT).

    Why ``after_flush`` and not ``before_flush``: new rows get their ids (client-side uuid4
    defaults) only while the flush runs, and after it the attribute history still holds the
    old and new values. Why listen on the ``Session`` class (global) rather than one
    sessionmaker: an ``AsyncSession`` always drives a ``Session``, so every session the
    process makes — the bot's per-update session, the CLI, the scheduler, tests — is audited,
    however it was built; an audit that a differently constructed session escapes would not
    be one. The cost for other tables is one set lookup per flushed row.

    What it cannot see: Core/bulk ``insert()/update()/delete()`` statements (e.g. the reference
    loader's upserts) and rows the database deletes by ``ON DELETE CASCADE``; the old value of
    a column that was not loaded before it was changed (left out of ``old_values``). Audited
    tables are therefore changed through the ORM unit of work.

Events
    ``record_system_event`` / ``record_security_event`` write SYSTEM_EVENT / SECURITY_EVENT
    rows typed by the EVENT_TYPE catalogue; ``count_security_events`` answers the rate-limit
    question "how many PERMISSION_DENIED for this user since t".

Analytics
    ``rollup_event_analytics`` recomputes one UTC day of EVENT_ANALYTICS from the event rows.

Retention
    ``purge_expired`` deletes, in three set-based statements, the rows older than their
    retention: AUDIT_LOG by AUDIT_RETENTION_POLICY, the two event tables by EVENT_TYPE.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import math
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sqlalchemy import Date, DateTime, Table, bindparam, event, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstanceState, Session, UOWTransaction

from domain.errors import InvalidInput, NotFound
from domain.models.audit import (
    RESOURCE_TYPE_PATTERN,
    AuditAction,
    AuditLog,
    EventCategory,
    EventSeverity,
    EventType,
    SecurityEvent,
    SystemEvent,
)

# Table → why its changes are audited. Chosen: who may do what (roles, grants, policies),
# who belongs where (memberships, invites, coach-client consent), a person's identity, and
# money. Not audited, on purpose: training content (program, workout — their *_version tables
# already keep content history) and logs (high volume, no authority change); setting values
# (SETTING_CHANGE_LOG is their history, with actor and reason); payments themselves (provider
# callbacks, recorded by INTEGRATION_LOG and PAYMENT_* events); anything in this module.
AUDITED_TABLES: Mapping[str, str] = MappingProxyType(
    {
        "app_user": "a person's identity and contact data; activation and deactivation",
        "role": "what a role is and which role it extends",
        "role_permission": "which permissions a role carries",
        "user_role": "which platform roles a person holds",
        "user_permission": "permissions given to one person directly",
        "permission_grant": "scoped, expiring extra permissions",
        "policy": "access rules",
        "policy_assignment": "where access rules apply",
        "visibility_policy": "which permission a visibility level requires",
        "institution": "an institution's identity and activation",
        "institution_member": "who belongs to an institution",
        "institution_member_role": "a member's roles inside the institution",
        "institution_member_permission": "a member's extra permissions",
        "institution_department_permission": "a department's permissions",
        "institution_policy": "which policies an institution switches on",
        "institution_customer": "customers an institution reaches through a professional",
        "institution_invite": "who was invited in, with which role",
        "user_share_invite": "who was given a program or workout",
        "user_professional_customer_relation": "a client's consent to a coach seeing their data",
        "user_ownership": "who owns and may edit or delete content",
        "user_program": "a coach assigning a program to someone else",
        "subscription": "plan changes and cancellations",
        "payment_refund": "money given back, and by whom",
    }
)

# Columns whose values grant access (invite and reset tokens): recorded as changed, never
# copied into the trail, which more people may read than the tokens' owners.
REDACTED_COLUMNS = frozenset({"token", "invite_token", "reset_token"})
REDACTED = "[redacted]"

_CONTEXT_KEY = "motriforge.audit_context"


# --------------------------------------------------------------------------------------------
# JSON-safe values
# --------------------------------------------------------------------------------------------


def to_json_safe(value: Any) -> Any:
    """`value` as plain JSON: UUIDs and Decimals as strings (exact), dates and times in ISO
    8601, durations in seconds, enums by value, bytes in base64, sets and tuples as lists."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # JSONB has no NaN or infinity.
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return to_json_safe(value.value)
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(key): to_json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_json_safe(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


# --------------------------------------------------------------------------------------------
# Actor and reason
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditContext:
    """Who acts and why, for the audit rows of a session's flushes."""

    actor_id: uuid.UUID | None = None
    reason: str | None = None
    # AUDIT_LOG.session_id: groups every row of one unit of work (one update, one command).
    unit_of_work_id: uuid.UUID = field(default_factory=uuid.uuid4)


def current_audit_context(session: AsyncSession | Session) -> AuditContext:
    """The session's context; a session that never set one acts as the system."""
    context = session.info.get(_CONTEXT_KEY)
    if not isinstance(context, AuditContext):
        # Stored so every flush of this session shares one unit-of-work id.
        context = AuditContext()
        session.info[_CONTEXT_KEY] = context
    return context


def set_audit_context(
    session: AsyncSession | Session,
    *,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> AuditContext:
    """Attribute every later change of this session (the per-update middleware calls this
    once, right after it opens the session)."""
    context = AuditContext(actor_id=actor_id, reason=reason)
    session.info[_CONTEXT_KEY] = context
    return context


@asynccontextmanager
async def audit_context(
    session: AsyncSession,
    *,
    actor_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> AsyncIterator[AuditContext]:
    """Attribute the changes made inside the block; what is not given is inherited from the
    session's context (so a service can add a reason to the update's actor).

    The session is flushed on entry and on a normal exit: audit rows are written at flush
    time, so without this a change made in the block but flushed later (at commit) would be
    attributed to whatever context is current then.
    """
    await session.flush()
    outer = session.info.get(_CONTEXT_KEY)
    inherited = outer if isinstance(outer, AuditContext) else AuditContext()
    inner = AuditContext(
        actor_id=actor_id if actor_id is not None else inherited.actor_id,
        reason=reason if reason is not None else inherited.reason,
        unit_of_work_id=inherited.unit_of_work_id,
    )
    session.info[_CONTEXT_KEY] = inner
    try:
        yield inner
        await session.flush()
    finally:
        if outer is None:
            session.info.pop(_CONTEXT_KEY, None)
        else:
            session.info[_CONTEXT_KEY] = outer


# --------------------------------------------------------------------------------------------
# The flush hook
# --------------------------------------------------------------------------------------------


def _table_name(state: InstanceState[Any]) -> str | None:
    table = state.mapper.local_table
    return table.name if isinstance(table, Table) else None


def _recorded(column: str, value: Any) -> Any:
    return REDACTED if column in REDACTED_COLUMNS and value is not None else to_json_safe(value)


def _entity_key(state: InstanceState[Any]) -> tuple[uuid.UUID | None, dict[str, Any] | None]:
    """(entity_id, entity_key): the UUID id, or the whole key when it is composite."""
    mapper = state.mapper
    key = {
        column.name: state.dict.get(mapper.get_property_by_column(column).key)
        for column in mapper.primary_key
    }
    if len(key) == 1:
        (only,) = key.values()
        if isinstance(only, uuid.UUID):
            return only, None
    return None, {name: to_json_safe(value) for name, value in key.items()}


def _column_changes(
    state: InstanceState[Any],
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """(old values, new values, changed columns) of a flushed update. An old value that was
    never loaded is unknown and left out; assigning an equal value is no change."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    changed: list[str] = []
    for prop in state.mapper.column_attrs:
        history = state.attrs[prop.key].history
        if not (history.added or history.deleted):
            continue
        column = prop.columns[0].name
        changed.append(column)
        new[column] = _recorded(column, history.added[0] if history.added else None)
        if history.deleted:
            old[column] = _recorded(column, history.deleted[0])
    return old, new, sorted(changed)


def _loaded_values(state: InstanceState[Any], *, committed: bool) -> dict[str, Any]:
    """Every loaded column: as now (a new row) or as last committed (a deleted row)."""
    values: dict[str, Any] = {}
    for prop in state.mapper.column_attrs:
        column = prop.columns[0].name
        if not committed:
            if prop.key in state.dict:
                values[column] = _recorded(column, state.dict[prop.key])
            continue
        history = state.attrs[prop.key].history
        before = history.deleted or history.unchanged
        if before:
            values[column] = _recorded(column, before[0])
    return values


def _audit_row(
    state: InstanceState[Any], is_delete: bool, context: AuditContext
) -> dict[str, Any] | None:
    table = _table_name(state)
    if table is None or table not in AUDITED_TABLES:
        return None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    changed: list[str] | None = None
    if is_delete:
        action, old, new = AuditAction.DELETE, _loaded_values(state, committed=True), None
    elif state.key is None:
        # Not persistent yet: the identity key is assigned only after after_flush.
        action, old, new = AuditAction.CREATE, None, _loaded_values(state, committed=False)
    else:
        action = AuditAction.UPDATE
        old, new, changed = _column_changes(state)
        if not changed:
            return None
    entity_id, entity_key = _entity_key(state)
    return _log_row(
        context, table, action, entity_id, entity_key, old=old, new=new, changed=changed
    )


def _log_row(
    context: AuditContext,
    entity_type: str,
    action: AuditAction,
    entity_id: uuid.UUID | None,
    entity_key: dict[str, Any] | None,
    *,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    changed: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "user_id": context.actor_id,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "entity_key": entity_key,
        "action": action,
        "old_values": old,
        "new_values": new,
        "changed_fields": changed,
        "session_id": context.unit_of_work_id,
        "reason": context.reason,
    }


# Core, not ORM objects: audit rows are never themselves flushed, so never audited.
# clock_timestamp(), not the column default now(): now() is the transaction's start, the same
# for every flush of a long unit of work, which would lose the order of its changes.
_INSERT_AUDIT_LOG = insert(AuditLog).values(occurred_at=func.clock_timestamp())


def _write_audit_rows(session: Session, flush_context: UOWTransaction) -> None:
    context = current_audit_context(session)
    rows = [
        row
        for state, (is_delete, list_only) in flush_context.states.items()
        if not list_only and (row := _audit_row(state, is_delete, context)) is not None
    ]
    if rows:
        # On the flush's own connection: the same transaction as the change.
        session.connection().execute(_INSERT_AUDIT_LOG, rows)


async def record_access(
    session: AsyncSession,
    action: AuditAction,
    entity_type: str,
    entity_id: uuid.UUID,
) -> None:
    """Record that the session's actor viewed or exported a record (e.g. a coach opening a
    client's history, a /export). Changes are recorded by the flush hook, not here."""
    if action not in (AuditAction.VIEW, AuditAction.EXPORT):
        raise InvalidInput(
            f"record_access records VIEW or EXPORT, not {action}: changes are audited on flush",
            action=action,
        )
    if not re.fullmatch(r"[a-z][a-z0-9_]*", entity_type) or len(entity_type) > 100:
        raise InvalidInput(
            f"entity_type {entity_type!r} must be a table name", entity_type=entity_type
        )
    row = _log_row(current_audit_context(session), entity_type, action, entity_id, None)
    # Like the hook: a Core insert on the session's connection, in its transaction.
    connection = await session.connection()
    await connection.execute(_INSERT_AUDIT_LOG, [row])


def install_audit(target: type[Session] = Session) -> None:
    """Start auditing flushes of every session of class `target` (idempotent)."""
    if not event.contains(target, "after_flush", _write_audit_rows):
        event.listen(target, "after_flush", _write_audit_rows)


def uninstall_audit(target: type[Session] = Session) -> None:
    if event.contains(target, "after_flush", _write_audit_rows):
        event.remove(target, "after_flush", _write_audit_rows)


def audit_installed(target: type[Session] = Session) -> bool:
    return event.contains(target, "after_flush", _write_audit_rows)


# --------------------------------------------------------------------------------------------
# System and security events
# --------------------------------------------------------------------------------------------


async def _event_type(session: AsyncSession, code: str) -> EventType:
    event_type = await session.scalar(select(EventType).where(EventType.code == code))
    if event_type is None:
        raise NotFound(f"unknown event type {code!r}: not in the EVENT_TYPE catalogue", code=code)
    return event_type


def _check_resource(resource_type: str | None, resource_id: uuid.UUID | None) -> None:
    if (resource_type is None) != (resource_id is None):
        raise InvalidInput("an event names a resource by both resource_type and resource_id")
    if resource_type is not None and (
        len(resource_type) > 50 or not re.fullmatch(RESOURCE_TYPE_PATTERN, resource_type)
    ):
        raise InvalidInput(
            f"resource_type {resource_type!r} must be upper snake case, e.g. PROGRAM",
            resource_type=resource_type,
        )


async def record_system_event(
    session: AsyncSession,
    event_type_code: str,
    *,
    user_id: uuid.UUID | None = None,
    payload: Mapping[str, Any] | None = None,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    severity: EventSeverity | None = None,
    trace_id: uuid.UUID | None = None,
) -> SystemEvent:
    """Record that something happened (LOGIN, INVITE_SENT, ROLE_GRANTED, PAYMENT_SUCCEEDED …)
    in the caller's transaction. Severity defaults to the event type's."""
    event_type = await _event_type(session, event_type_code)
    _check_resource(resource_type, resource_id)
    system_event = SystemEvent(
        event_type_id=event_type.id,
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        event_data=to_json_safe(dict(payload or {})),
        severity=severity or event_type.severity,
        trace_id=trace_id,
    )
    session.add(system_event)
    await session.flush()
    return system_event


async def record_security_event(
    session: AsyncSession,
    event_type_code: str,
    *,
    user_id: uuid.UUID | None,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    action: str | None = None,
    details: Mapping[str, Any] | None = None,
    severity: EventSeverity | None = None,
    requires_review: bool = False,
    ip_address: str | None = None,
) -> SecurityEvent:
    """Record a security event (PERMISSION_DENIED, FAILED_LOGIN …); `user_id` None = a guest.

    Written in the caller's transaction: a caller that denies and then rolls back loses the
    row, so the authorization layer records denials in a transaction that commits.
    """
    event_type = await _event_type(session, event_type_code)
    _check_resource(resource_type, resource_id)
    security_event = SecurityEvent(
        event_type_id=event_type.id,
        user_id=user_id,
        resource_type=resource_type,
        resource_id=resource_id,
        action=action,
        event_details=to_json_safe(dict(details or {})),
        severity=severity or event_type.severity,
        requires_review=requires_review,
        ip_address=ip_address,
    )
    session.add(security_event)
    await session.flush()
    return security_event


async def count_security_events(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    event_type_code: str,
    since: dt.datetime,
) -> int:
    """How many events of this type the user caused since `since` (rate limiting): one range
    scan of ``ix_security_event_user_type_occurred``."""
    type_id = select(EventType.id).where(EventType.code == event_type_code).scalar_subquery()
    count = await session.scalar(
        select(func.count())
        .select_from(SecurityEvent)
        .where(
            SecurityEvent.user_id == user_id,
            SecurityEvent.event_type_id == type_id,
            SecurityEvent.occurred_at >= since,
        )
    )
    return int(count or 0)


# --------------------------------------------------------------------------------------------
# Retention
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted per table."""

    audit_log: int
    system_event: int
    security_event: int

    @property
    def total(self) -> int:
        return self.audit_log + self.system_event + self.security_event


# A table's own active policy for the action wins; otherwise the '*' default; with neither,
# the row is kept. The first condition (the shortest retention of all) is the same for every
# row, so the occurred_at index narrows the scan before the per-row policy is looked up.
_PURGE_AUDIT_LOG = text(
    """
    DELETE FROM audit_log AS a
    WHERE a.occurred_at < CAST(:now AS timestamptz) - make_interval(days => (
            SELECT min(retention_days) FROM audit_retention_policy WHERE is_active))
      AND a.occurred_at < CAST(:now AS timestamptz) - make_interval(days => COALESCE(
            (SELECT p.retention_days FROM audit_retention_policy AS p
              WHERE p.is_active AND p.action = a.action AND p.entity_type = a.entity_type),
            (SELECT p.retention_days FROM audit_retention_policy AS p
              WHERE p.is_active AND p.action = a.action AND p.entity_type = '*')))
    """
)

# Types with requires_retention = false are exempt (kept until archived by hand).
_PURGE_SYSTEM_EVENTS = text(
    """
    DELETE FROM system_event AS e
    USING event_type AS t
    WHERE t.id = e.event_type_id
      AND t.requires_retention
      AND e.occurred_at < CAST(:now AS timestamptz) - make_interval(days => t.retention_days)
    """
)

# A security event still waiting for its review is kept whatever its age.
_PURGE_SECURITY_EVENTS = text(
    """
    DELETE FROM security_event AS e
    USING event_type AS t
    WHERE t.id = e.event_type_id
      AND t.requires_retention
      AND e.occurred_at < CAST(:now AS timestamptz) - make_interval(days => t.retention_days)
      AND NOT (e.requires_review AND e.reviewed_at IS NULL)
    """
)


async def purge_expired(session: AsyncSession, now: dt.datetime) -> PurgeReport:
    """Delete audit and event rows past their retention at `now` (the retention job)."""
    if now.tzinfo is None:
        raise InvalidInput("purge_expired needs an aware datetime (UTC)")

    async def run(statement: Any) -> int:
        result = await session.execute(statement, {"now": now})
        return int(getattr(result, "rowcount", 0) or 0)

    return PurgeReport(
        audit_log=await run(_PURGE_AUDIT_LOG),
        system_event=await run(_PURGE_SYSTEM_EVENTS),
        security_event=await run(_PURGE_SECURITY_EVENTS),
    )


# --------------------------------------------------------------------------------------------
# Analytics
# --------------------------------------------------------------------------------------------

# One row per category for the day, zeros included, so a rolled-up day is complete. Rows
# are rewritten only when a number differs: a second run for the same day changes nothing
# (calculated_at then says when the numbers were last computed differently).
_ROLLUP = text(
    f"""
    WITH day_events AS (
        SELECT event_type_id, user_id, severity, false AS is_security
          FROM system_event WHERE occurred_at >= :start AND occurred_at < :end
        UNION ALL
        SELECT event_type_id, user_id, severity, true
          FROM security_event WHERE occurred_at >= :start AND occurred_at < :end
    ),
    counts AS (
        SELECT t.category,
               count(*) AS total_events,
               count(DISTINCT e.user_id) AS unique_users,
               count(*) FILTER (WHERE e.severity IN ('ERROR', 'CRITICAL')) AS error_events,
               count(*) FILTER (WHERE e.is_security) AS security_events
          FROM day_events AS e JOIN event_type AS t ON t.id = e.event_type_id
         GROUP BY t.category
    ),
    delays AS (
        SELECT t.category,
               avg(extract(epoch FROM q.processed_at - s.occurred_at)) AS seconds
          FROM event_queue AS q
          JOIN system_event AS s ON s.id = q.event_id
          JOIN event_type AS t ON t.id = s.event_type_id
         WHERE q.status = 'COMPLETED'
           AND s.occurred_at >= :start AND s.occurred_at < :end
         GROUP BY t.category
    )
    INSERT INTO event_analytics AS a (
        analytics_date, event_category, total_events, unique_users, error_events,
        security_events, average_processing_time, calculated_at)
    SELECT :day, c.category,
           COALESCE(counts.total_events, 0), COALESCE(counts.unique_users, 0),
           COALESCE(counts.error_events, 0), COALESCE(counts.security_events, 0),
           GREATEST(COALESCE(delays.seconds, 0), 0), now()
      FROM (VALUES {", ".join(f"('{category.value}')" for category in EventCategory)})
           AS c (category)
      LEFT JOIN counts ON counts.category = c.category
      LEFT JOIN delays ON delays.category = c.category
    ON CONFLICT (analytics_date, event_category) DO UPDATE SET
        total_events = excluded.total_events,
        unique_users = excluded.unique_users,
        error_events = excluded.error_events,
        security_events = excluded.security_events,
        average_processing_time = excluded.average_processing_time,
        calculated_at = excluded.calculated_at
    WHERE (a.total_events, a.unique_users, a.error_events, a.security_events,
           a.average_processing_time)
          IS DISTINCT FROM
          (excluded.total_events, excluded.unique_users, excluded.error_events,
           excluded.security_events, excluded.average_processing_time)
    """  # noqa: S608  (the only interpolation is the EventCategory values, not input)
).bindparams(
    bindparam("day", type_=Date()),
    bindparam("start", type_=DateTime(timezone=True)),
    bindparam("end", type_=DateTime(timezone=True)),
)


async def rollup_event_analytics(session: AsyncSession, day: dt.date) -> int:
    """Recompute EVENT_ANALYTICS for one UTC day; returns the rows written (0 when unchanged).

    Run it before the retention job purges the day's events: the rollup reads the rows.
    """
    start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    result = await session.execute(
        _ROLLUP, {"day": day, "start": start, "end": start + dt.timedelta(days=1)}
    )
    return int(getattr(result, "rowcount", 0) or 0)
