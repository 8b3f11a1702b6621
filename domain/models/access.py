"""Access control: roles, permissions, grants, policies and visibility levels.

The aggregate answers "may this actor do this action on this resource?":

* ROLE: platform roles (``institution_id`` NULL, e.g. the system COACH role) and an
  institution's own roles, each extending (``parent_role_id``) the system role it refines.
* PERMISSION: one ``ACTOR.RESOURCE.ACTION`` capability, grouped by PERMISSION_GROUP for display.
* ROLE_PERMISSION: what a role carries; PERMISSION_GRANT: an extra, possibly scoped and
  expiring, permission for one user or one role.
* POLICY / POLICY_ASSIGNMENT: rule documents (JSONB) attached to a role or a permission.
* VISIBILITY: the levels a resource can have (PRIVATE, SHARED, PUBLIC …), one row per level and
  resource type; VISIBILITY_POLICY: which permission (and role / institution) a level requires.

Built from the separate permission seed (the fuller one); see docs/schema-decisions.d/access.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Timestamps, UUIDPk, str_enum
from domain.models.enums import ResourceType, RoleType
from domain.models.lookup import code_format_check, i18n_column


def _true() -> Mapped[bool]:
    return mapped_column(Boolean, default=True, server_default=text("true"))


def _false() -> Mapped[bool]:
    return mapped_column(Boolean, default=False, server_default=text("false"))


def _actor_fk() -> Mapped[uuid.UUID | None]:
    """Optional acting user (created_by / updated_by …): NULL when the CLI or a migration
    acts, or once the user is deleted."""
    return mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)


class PermissionScope(enum.StrEnum):
    """How far a permission reaches: the actor's own rows, its institution's, public rows, or
    one resource named by id."""

    INSTITUTION = "INSTITUTION"
    OWN = "OWN"
    PUBLIC = "PUBLIC"
    RESOURCE_ID = "RESOURCE_ID"


class GranteeType(enum.StrEnum):
    """Who receives a PERMISSION_GRANT."""

    ROLE = "ROLE"
    USER = "USER"


class GrantScopeType(enum.StrEnum):
    """What ``permission_grant.scope_id`` names."""

    DEPARTMENT = "DEPARTMENT"
    INSTITUTION = "INSTITUTION"
    RESOURCE = "RESOURCE"


class PolicyType(enum.StrEnum):
    """How a policy's rules are evaluated."""

    CONTEXT_BASED = "CONTEXT_BASED"
    RESOURCE_BASED = "RESOURCE_BASED"
    ROLE_BASED = "ROLE_BASED"


class PolicyTargetType(enum.StrEnum):
    """What a POLICY_ASSIGNMENT attaches its policy to."""

    PERMISSION = "PERMISSION"
    ROLE = "ROLE"


class PolicyScopeType(enum.StrEnum):
    """What ``policy_assignment.scope_id`` names."""

    DEPARTMENT = "DEPARTMENT"
    INSTITUTION = "INSTITUTION"


# --------------------------------------------------------------------------------------
# Roles and permissions
# --------------------------------------------------------------------------------------


class Role(UUIDPk, Timestamps, Base):
    """A role: a platform role (``institution_id`` NULL) or an institution's own role.

    Folds the seed's never-defined INSTITUTION_ROLE: an institution role has
    ``institution_id`` set and ``parent_role_id`` pointing at the system role it extends.
    """

    __tablename__ = "role"
    __table_args__ = (
        # Seed says name UNIQUE worldwide; two gyms may both call a role "Head coach".
        UniqueConstraint("institution_id", "name", postgresql_nulls_not_distinct=True),
        UniqueConstraint("institution_id", "code", postgresql_nulls_not_distinct=True),
        CheckConstraint("parent_role_id <> id", name="parent_not_self"),
        # System roles are the platform's, never one institution's.
        CheckConstraint(
            "NOT is_system_role OR institution_id IS NULL", name="system_role_is_platform"
        ),
        code_format_check(),
    )

    # NULL = platform role. First column of both unique constraints: no separate index.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    # Stable key code uses (COACH, HEAD_COACH …); ``name`` is the human label.
    code: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    type: Mapped[RoleType] = mapped_column(str_enum(RoleType, "role_type"))
    description: Mapped[str | None] = mapped_column(Text)
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    parent_role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("role.id", ondelete="SET NULL"), index=True
    )
    is_system_role: Mapped[bool] = _false()
    # Seed NOT NULL; system roles are created before any user exists.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()

    permissions: Mapped[list[RolePermission]] = relationship(
        "RolePermission", cascade="all, delete-orphan", passive_deletes=True
    )


class PermissionGroup(UUIDPk, Base):
    """A heading permissions are listed under when an admin edits a role."""

    __tablename__ = "permission_group"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    # Shown to institution admins next to the permissions it groups.
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    display_order: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))


class Permission(UUIDPk, Base):
    """One capability, named ``ACTOR.RESOURCE.ACTION`` (e.g. ``USER.WORKOUT.CREATE``)."""

    __tablename__ = "permission"
    __table_args__ = (
        # The name is the three parts joined; code may look a permission up either way.
        CheckConstraint(
            "name = actor || '.' || resource || '.' || action", name="name_matches_parts"
        ),
    )

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    # Grouping is presentation only: removing a group leaves its permissions ungrouped.
    permission_group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("permission_group.id", ondelete="SET NULL"), index=True
    )
    actor: Mapped[str] = mapped_column(String(50))
    resource: Mapped[str] = mapped_column(String(50))
    action: Mapped[str] = mapped_column(String(50))
    scope: Mapped[PermissionScope | None] = mapped_column(
        str_enum(PermissionScope, "permission_scope")
    )
    is_global: Mapped[bool] = _false()
    is_system_permission: Mapped[bool] = _false()


class RolePermission(Timestamps, Base):
    """A permission a role carries (join row of the role)."""

    __tablename__ = "role_permission"

    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True
    )
    # Deleting a permission revokes it from every role.
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Seed NOT NULL; system roles get their permissions before any user exists.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()


class PermissionGrant(UUIDPk, Timestamps, Base):
    """An extra permission for one user or one role, optionally scoped and expiring.

    The seed's polymorphic ``grantee_id`` becomes two real FKs, exactly one set (matching
    ``grantee_type``), so grants disappear with their grantee and cannot dangle.
    """

    __tablename__ = "permission_grant"
    __table_args__ = (
        CheckConstraint(
            "(grantee_type = 'USER' AND grantee_user_id IS NOT NULL"
            " AND grantee_role_id IS NULL)"
            " OR (grantee_type = 'ROLE' AND grantee_role_id IS NOT NULL"
            " AND grantee_user_id IS NULL)",
            name="grantee_matches_type",
        ),
        CheckConstraint("(scope_type IS NULL) = (scope_id IS NULL)", name="scope_complete"),
        # "Does this user hold this permission?" reads active grants only.
        Index(
            "ix_permission_grant_active_user_permission",
            "grantee_user_id",
            "permission_id",
            postgresql_where=text("is_active"),
        ),
    )

    grantee_type: Mapped[GranteeType] = mapped_column(str_enum(GranteeType, "grantee_type"))
    # Own full index besides the partial one: deleting a user must find inactive grants too.
    grantee_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    grantee_role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), index=True
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), index=True
    )
    # Polymorphic on purpose (institution, department or any resource id): no FK possible.
    scope_id: Mapped[uuid.UUID | None]
    scope_type: Mapped[GrantScopeType | None] = mapped_column(
        str_enum(GrantScopeType, "grant_scope_type")
    )
    # Seed NOT NULL; the CLI grants with no acting user.
    granted_by: Mapped[uuid.UUID | None] = _actor_fk()
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    granted_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # NULL = never expires.
    expires_at: Mapped[dt.datetime | None]
    is_active: Mapped[bool] = _true()


# --------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------


class Policy(UUIDPk, Timestamps, Base):
    """A named rule document; institutions switch policies on via INSTITUTION_POLICY."""

    __tablename__ = "policy"

    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    policy_type: Mapped[PolicyType] = mapped_column(str_enum(PolicyType, "policy_type"))
    policy_rules: Mapped[dict[str, Any]]
    # Seed NOT NULL; platform policies are loaded before any user exists.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()

    assignments: Mapped[list[PolicyAssignment]] = relationship(
        "PolicyAssignment", cascade="all, delete-orphan", passive_deletes=True
    )


class PolicyAssignment(UUIDPk, Timestamps, Base):
    """Attaches a policy to a role or a permission, optionally within an institution or
    department. The seed's polymorphic ``target_id`` becomes two real FKs, exactly one set."""

    __tablename__ = "policy_assignment"
    __table_args__ = (
        CheckConstraint(
            "(target_type = 'ROLE' AND target_role_id IS NOT NULL"
            " AND target_permission_id IS NULL)"
            " OR (target_type = 'PERMISSION' AND target_permission_id IS NOT NULL"
            " AND target_role_id IS NULL)",
            name="target_matches_type",
        ),
        CheckConstraint("(scope_type IS NULL) = (scope_id IS NULL)", name="scope_complete"),
    )

    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("policy.id", ondelete="CASCADE"), index=True
    )
    target_type: Mapped[PolicyTargetType] = mapped_column(
        str_enum(PolicyTargetType, "policy_target_type")
    )
    target_role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), index=True
    )
    target_permission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), index=True
    )
    # Institution or department id (polymorphic): no FK possible.
    scope_id: Mapped[uuid.UUID | None]
    scope_type: Mapped[PolicyScopeType | None] = mapped_column(
        str_enum(PolicyScopeType, "policy_scope_type")
    )
    # Seed NOT NULL; the CLI assigns with no acting user.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()


# --------------------------------------------------------------------------------------
# Visibility
# --------------------------------------------------------------------------------------


class Visibility(UUIDPk, Base):
    """A visibility level for one resource type (PRIVATE workout, PUBLIC exercise …).

    Rows form a levels x resource-types matrix, so ``code`` is unique per ``resource_type``
    (the seed's ``name UNIQUE`` + ``resource UNIQUE`` would allow one row per resource).
    Codes: see ``domain.models.enums.VisibilityCode``.
    """

    __tablename__ = "visibility"
    __table_args__ = (
        UniqueConstraint("code", "resource_type"),
        code_format_check(),
        # A new resource of this type gets the default level: at most one per type.
        Index(
            "uq_visibility_default_per_resource_type",
            "resource_type",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    # A lookup row: VARCHAR, not an enum, so a new level is data, not a migration.
    code: Mapped[str] = mapped_column(String(50))
    resource_type: Mapped[ResourceType] = mapped_column(str_enum(ResourceType, "resource_type"))
    name: Mapped[str] = mapped_column(String(100))
    name_i18n: Mapped[dict[str, str]] = i18n_column()
    description: Mapped[str | None] = mapped_column(Text)
    # Shown when a person picks who can see their workout.
    description_i18n: Mapped[dict[str, str]] = i18n_column()
    is_default: Mapped[bool] = _false()


class VisibilityPolicy(UUIDPk, Timestamps, Base):
    """What it takes to see a resource at a visibility level: a permission, optionally only
    within one institution (NULL = global) or overridden for one role."""

    __tablename__ = "visibility_policy"
    __table_args__ = (
        # One rule per (level, permission, institution, role); NULLs compare equal.
        UniqueConstraint(
            "visibility_id",
            "permission_id",
            "institution_id",
            "role_id",
            postgresql_nulls_not_distinct=True,
            name="uq_visibility_policy_rule",
        ),
    )

    # Rules belong to their level. First column of the unique constraint: no extra index.
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="CASCADE")
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), index=True
    )
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), index=True
    )
    allow_guest: Mapped[bool] = _false()
    is_default: Mapped[bool] = _false()
    notes: Mapped[str | None] = mapped_column(Text)
    # Seed NOT NULL; reference data is loaded before any user exists.
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()
