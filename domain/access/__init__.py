"""Authorization: who may do what (docs/access.md is the specification).

Deny by default. Every path that can allow or deny (a permission and its scope, a visibility
level, a visibility policy, a policy's allow or deny rule) is a named SQL boolean over the
resource's row, parameterized by the actor (``predicates.py``). ``visible`` combines them into a
predicate for list queries; ``authorize`` evaluates all of them for one row in one statement,
so the two always agree and the decision can be explained rule by rule.

    decision = await authorize(session, actor, Action.READ, ResourceRef("PROGRAM", program_id))
    await require(session, actor, Action.UPDATE, ResourceRef("WORKOUT", workout_id))
    rows = await session.scalars(
        select(Workout).where(visible(actor, "WORKOUT")).order_by(...).limit(literal_limit(20))
    )
"""

from domain.access.engine import (
    DENIALS_PER_MINUTE,
    AccessCache,
    authorize,
    record_denial,
    require,
    visible,
)
from domain.access.policies import InvalidPolicy, PolicyBinding, PolicySet, load_policies
from domain.access.rules import PolicyRule, When, parse_rule, rule_error
from domain.access.sqlutil import literal_limit
from domain.access.types import (
    RESOURCE_TYPES,
    Action,
    Actor,
    Decision,
    ResourceKind,
    ResourceRef,
    RuleResult,
)

__all__ = [
    "DENIALS_PER_MINUTE",
    "RESOURCE_TYPES",
    "AccessCache",
    "Action",
    "Actor",
    "Decision",
    "InvalidPolicy",
    "PolicyBinding",
    "PolicyRule",
    "PolicySet",
    "ResourceKind",
    "ResourceRef",
    "RuleResult",
    "When",
    "authorize",
    "literal_limit",
    "load_policies",
    "parse_rule",
    "record_denial",
    "require",
    "rule_error",
    "visible",
]
