"""authorize / require / visible, the per-update cache and the PERMISSION_DENIED trail."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import OrderedDict
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String, Uuid

from domain.access.policies import PolicySet, load_policies
from domain.access.predicates import Inputs, Rule, RuleBuilder, combine, input_cte
from domain.access.resources import spec_for
from domain.access.sqlutil import case_when
from domain.access.types import Action, Actor, Decision, ResourceRef, RuleResult
from domain.errors import NotAllowed
from domain.models.audit import EventCategory, EventSeverity, EventType, SecurityEvent
from domain.models.user import User

# At most this many PERMISSION_DENIED rows per actor per rolling minute (all guests share one
# budget): a flood of refused requests cannot fill the table.
DENIALS_PER_MINUTE = 20
PERMISSION_DENIED = "PERMISSION_DENIED"

K = TypeVar("K")
V = TypeVar("V")

DecisionKey = tuple[uuid.UUID | None, str, str, uuid.UUID, dt.datetime]


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AccessCache:
    """What one update has learnt about access: the active policies (loaded once) and every
    decision taken. The bot creates one per update; never share one across updates.

    It also fixes the decision time: every decision of the update is taken at ``now``.
    """

    def __init__(self, *, now: dt.datetime | None = None) -> None:
        self.now = (now or utcnow()).astimezone(dt.UTC)
        self._policies: PolicySet | None = None
        self._decisions: dict[DecisionKey, Decision] = {}
        self._predicates: dict[tuple[uuid.UUID | None, str, str], ColumnElement[bool]] = {}

    async def policies(self, session: AsyncSession) -> PolicySet:
        if self._policies is None:
            self._policies = await load_policies(session)
        return self._policies

    async def visible(
        self,
        session: AsyncSession,
        actor: Actor,
        resource_type: str,
        action: Action | str = Action.READ,
    ) -> ColumnElement[bool]:
        """``visible`` with this update's policies and decision time (memoized)."""
        key = (actor.user_id, str(resource_type).upper(), str(action).upper())
        predicate = self._predicates.get(key)
        if predicate is None:
            policies = await self.policies(session)
            predicate = visible(actor, resource_type, action, now=self.now, policies=policies)
            self._predicates[key] = predicate
        return predicate

    def clear(self) -> None:
        """Forget everything (after the update itself changed roles, grants or policies)."""
        self._policies = None
        self._decisions.clear()
        self._predicates.clear()


def _decision_time(now: dt.datetime | None, cache: AccessCache | None) -> dt.datetime:
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        return now.astimezone(dt.UTC)
    return cache.now if cache is not None else utcnow()


class _Lru(Generic[K, V]):
    """A small least-recently-used map (built expressions are immutable and reusable)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> V:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        self._items.clear()


# Building the rules costs milliseconds of Python; built expressions are reused:
# - authorize: one statement per (type, action, policies, hour) with the actor, the time and
#   the row as bind parameters;
# - visible: one predicate per (type, action, policies, hour or database time) reading the
#   actor and the time from a one-row CTE made per call.
_STATEMENTS: _Lru[tuple[str, str, str, int], tuple[Select[Any], list[Rule]]] = _Lru(256)
_PREDICATES: _Lru[tuple[str, str, str, int | None], ColumnElement[bool]] = _Lru(256)


def _policy_key(policies: PolicySet | None) -> str:
    return "inline" if policies is None else policies.fingerprint


def visible(
    actor: Actor,
    resource_type: str,
    action: Action | str = Action.READ,
    *,
    now: dt.datetime | None = None,
    policies: PolicySet | None = None,
) -> ColumnElement[bool]:
    """A SQL predicate on ``resource_type``'s table: the rows ``actor`` may ``action``.

    ``select(Workout).where(visible(actor, "WORKOUT"))``. With ``policies`` (from
    ``AccessCache.policies`` or ``load_policies``) the policy rules are constants in the
    statement; without, the statement reads the policy tables itself. Either way the rows are
    exactly those ``authorize`` allows. ``now`` defaults to the database's ``now()``.
    One ``visible`` per resource type and actor per statement (its CTEs are named after the
    type).
    """
    kind = spec_for(resource_type).kind.value
    wanted = Action(str(action).upper()).value
    hour = None if now is None else now.astimezone(dt.UTC).hour
    key = (kind, wanted, _policy_key(policies), hour)
    rules = _PREDICATES.get(key)
    if rules is None:
        builder = RuleBuilder(kind, wanted, Inputs.from_input_cte(kind, hour))
        rules = _PREDICATES.put(key, combine(builder.rules(policies)))
    # The actor and the time enter through a one-row CTE: the rules above serve every actor.
    given = input_cte(kind, actor, now)
    return and_(exists(select(literal_column("1")).select_from(given)), rules)


def _authorize_statement(
    resource_type: str, action: str, policies: PolicySet, hour: int
) -> tuple[Select[Any], list[Rule]]:
    key = (resource_type, action, policies.fingerprint, hour)
    cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    builder = RuleBuilder(resource_type, action, Inputs.parameters(hour))
    rules = builder.rules(policies)
    columns: list[ColumnElement[Any]] = []
    for index, rule in enumerate(rules):
        columns.append(rule.condition.label(f"m{index}"))
        if rule.witness is not None:
            columns.append(rule.witness().label(f"w{index}"))
    statement = (
        select(*columns)
        .select_from(builder.spec.table)
        .where(builder.spec.id == bindparam("access_resource_id", type_=Uuid))
    )
    return _STATEMENTS.put(key, (statement, rules))


def _decide(rules: list[Rule], row: RowMapping) -> Decision:
    results: list[RuleResult] = []
    for index, rule in enumerate(rules):
        matched = bool(row[f"m{index}"])
        detail = rule.detail
        if rule.witness is not None:
            detail = row[f"w{index}"]
        results.append(RuleResult(rule.name, rule.effect, matched, detail if matched else None))
    for result in results:
        if result.effect == "deny" and result.matched:
            return Decision(False, f"denied by {result.name}", result.name, tuple(results))
    for result in results:
        if result.effect == "allow" and result.matched:
            because = f": {result.detail}" if result.detail else ""
            return Decision(True, f"allowed by {result.name}{because}", result.name, tuple(results))
    return Decision(False, "no rule allows it", None, tuple(results))


async def authorize(
    session: AsyncSession,
    actor: Actor,
    action: Action | str,
    resource: ResourceRef,
    *,
    now: dt.datetime | None = None,
    cache: AccessCache | None = None,
) -> Decision:
    """May ``actor`` do ``action`` on ``resource``? Deny by default.

    At most two round trips: the active policies (skipped when ``cache`` has them) and ONE
    statement selecting every rule's boolean for the row.
    """
    wanted = Action(str(action).upper())
    when = _decision_time(now, cache)
    key: DecisionKey = (actor.user_id, wanted.value, resource.type, resource.id, when)
    if cache is not None and key in cache._decisions:
        return cache._decisions[key]

    policies = await cache.policies(session) if cache is not None else await load_policies(session)
    statement, rules = _authorize_statement(resource.type, wanted.value, policies, when.hour)
    parameters = {
        "access_actor_id": actor.user_id,
        "access_now": when,
        "access_resource_id": resource.id,
    }
    row = (await session.execute(statement, parameters)).mappings().first()
    if row is None:
        decision = Decision(False, "resource not found", None, ())
    else:
        decision = _decide(rules, row)
    if cache is not None:
        cache._decisions[key] = decision
    return decision


async def require(
    session: AsyncSession,
    actor: Actor,
    action: Action | str,
    resource: ResourceRef,
    *,
    now: dt.datetime | None = None,
    cache: AccessCache | None = None,
) -> None:
    """``authorize`` or raise ``NotAllowed``; a refusal leaves a (rate-limited) SECURITY_EVENT
    PERMISSION_DENIED in the session's transaction."""
    decision = await authorize(session, actor, action, resource, now=now, cache=cache)
    if decision.allowed:
        return
    await record_denial(session, actor, str(action).upper(), resource, decision)
    raise NotAllowed(
        f"{actor} may not {str(action).upper()} {resource}: {decision.reason}",
        action=str(action).upper(),
        resource_type=resource.type,
        resource_id=str(resource.id),
        reason=decision.reason,
    )


async def record_denial(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource: ResourceRef,
    decision: Decision,
    *,
    limit: int = DENIALS_PER_MINUTE,
) -> bool:
    """Write one PERMISSION_DENIED security event unless the actor already has ``limit`` in
    the last minute. One INSERT … SELECT: the count runs on
    ``ix_security_event_user_type_occurred`` and stops at ``limit``. True when written."""
    for _attempt in range(2):
        written = (
            await session.execute(_denial_insert(actor, action, resource, decision, limit))
        ).first()
        if written is not None:
            return True
        if not await _ensure_event_type(session):
            return False  # the type exists: the budget is spent
    return False


def _denial_insert(
    actor: Actor, action: str, resource: ResourceRef, decision: Decision, limit: int
) -> Any:
    events = _table(SecurityEvent)
    types = _table(EventType)
    users = _table(User)
    user_id: ColumnElement[Any] = (
        cast(null(), Uuid) if actor.user_id is None else literal(actor.user_id, Uuid)
    )
    known = exists(select(1).select_from(users).where(users.c.id == user_id))

    def recent(who: ColumnElement[bool]) -> ColumnElement[int]:
        window = (
            select(1)
            .select_from(events)
            .where(
                who,
                events.c.event_type_id == types.c.id,
                events.c.occurred_at > func.now() - text("interval '1 minute'"),
            )
            .limit(limit)
            .subquery()
        )
        return select(func.count()).select_from(window).scalar_subquery()

    spent = case_when(
        (known, recent(events.c.user_id == user_id)), else_=recent(events.c.user_id.is_(None))
    )
    details = {"reason": decision.reason, "decided_by": decision.decided_by}
    source = select(
        case_when((known, user_id), else_=cast(null(), Uuid)),
        types.c.id,
        literal(EventSeverity.WARNING.value, String),
        literal(resource.type, String),
        literal(resource.id, Uuid),
        literal(action, String),
        cast(literal(details, JSONB), JSONB),
    ).where(types.c.code == PERMISSION_DENIED, spent < limit)
    return (
        insert(events)
        .from_select(
            [
                "user_id",
                "event_type_id",
                "severity",
                "resource_type",
                "resource_id",
                "action",
                "event_details",
            ],
            source,
        )
        .returning(events.c.id)
    )


async def _ensure_event_type(session: AsyncSession) -> bool:
    """Create the PERMISSION_DENIED event type when the reference data lacks it; True when
    it was missing."""
    types = _table(EventType)
    present = await session.scalar(select(types.c.id).where(types.c.code == PERMISSION_DENIED))
    if present is not None:
        return False
    await session.execute(
        pg_insert(types)
        .values(
            id=uuid.uuid4(),
            code=PERMISSION_DENIED,
            name="Permission denied",
            description="The authorization engine refused an action.",
            category=EventCategory.SECURITY,
            severity=EventSeverity.WARNING,
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    return True
