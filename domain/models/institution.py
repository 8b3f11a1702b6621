"""Institutions (gyms, clubs, clinics): who belongs, how they are organised, what they may do,
and how people are invited in.

* INSTITUTION with its categories and tags.
* INSTITUTION_MEMBER (staff and members, optionally in an INSTITUTION_DEPARTMENT) and
  INSTITUTION_CUSTOMER (a customer reached through a professional-customer relation).
* Access inside an institution: roles per member (INSTITUTION_MEMBER_ROLE), extra permissions
  per member or department, and the policies the institution switches on.
* INSTITUTION_INVITE: an email or Telegram deep-link (``inv_<token>``) invitation, possibly
  shared with many people (``max_uses``).

Roles, permissions, policies and visibility themselves live in ``access.py``.
Deviations from the seed: docs/schema-decisions.d/institution.md.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Timestamps, UUIDPk

# Bytes of randomness in an invite token: secrets.token_urlsafe(32) is 43 URL-safe characters,
# so "inv_<token>" (47) fits a Telegram deep-link start parameter (64, [A-Za-z0-9_-]).
INVITE_TOKEN_BYTES = 32
INVITE_TOKEN_LENGTH = 43


def new_invite_token() -> str:
    """A fresh, unguessable invite token."""
    return secrets.token_urlsafe(INVITE_TOKEN_BYTES)


def _true() -> Mapped[bool]:
    return mapped_column(Boolean, default=True, server_default=text("true"))


def _false() -> Mapped[bool]:
    return mapped_column(Boolean, default=False, server_default=text("false"))


def _actor_fk() -> Mapped[uuid.UUID | None]:
    """Optional acting user (updated_by …): NULL when the CLI acts or the user is deleted."""
    return mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"), index=True)


# --------------------------------------------------------------------------------------
# Core institution and classification
# --------------------------------------------------------------------------------------


class Institution(UUIDPk, Timestamps, Base):
    """A gym, club, clinic or team that professionals and their customers belong to.

    The seed wants at least one category per institution (``||--|{``); that is the service's
    rule, a table cannot require a child row.
    """

    __tablename__ = "institution"
    __table_args__ = (
        # Slugs end up in deep links and URLs: lower case, digits, '-' and '_'.
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9_-]*$'", name="slug_format"),
    )

    name: Mapped[str] = mapped_column(String(255), server_default="UNNAMED")
    # Short, human handle for links (t.me/<bot>?start=<slug>); NULL until chosen.
    slug: Mapped[str | None] = mapped_column(String(64), unique=True)
    # IANA zone (Europe/Paris): schedules and "today" are computed in it.
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    created_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _true()
    visibility_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )

    departments: Mapped[list[InstitutionDepartment]] = relationship(
        "InstitutionDepartment", cascade="all, delete-orphan", passive_deletes=True
    )
    members: Mapped[list[InstitutionMember]] = relationship(
        "InstitutionMember", cascade="all, delete-orphan", passive_deletes=True
    )


class InstitutionCategory(Base):
    """A category of an institution (join row)."""

    __tablename__ = "institution_category"

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class InstitutionTag(Base):
    """A tag of an institution (join row)."""

    __tablename__ = "institution_tag"

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------
# Organisational structure
# --------------------------------------------------------------------------------------


class InstitutionDepartment(UUIDPk, Base):
    """A part of an institution (e.g. "Weightlifting", "Physio"), grouping members."""

    __tablename__ = "institution_department"
    # Seed has no uniqueness; two departments of one institution with one name are a mistake.
    # First column: serves the institution_id FK.
    __table_args__ = (UniqueConstraint("institution_id", "name"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(String(255))


class InstitutionMember(UUIDPk, Base):
    """A user belonging to an institution (staff or member); what they may do comes from
    their INSTITUTION_MEMBER_ROLE and INSTITUTION_MEMBER_PERMISSION rows."""

    __tablename__ = "institution_member"
    # One membership per person and institution. First column: serves institution_id.
    __table_args__ = (
        UniqueConstraint("institution_id", "user_id"),
        # "Which institutions (and department) is this actor active in": every access check.
        Index(
            "ix_institution_member_active_user",
            "user_id",
            "institution_id",
            postgresql_include=["department_id"],
            postgresql_where=text("is_active"),
        ),
    )

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    # Seed `institution_department` NOT NULL; a member need not be in a department, and
    # removing a department keeps its members.
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution_department.id", ondelete="SET NULL"), index=True
    )
    joined_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    is_active: Mapped[bool] = _true()

    roles: Mapped[list[InstitutionMemberRole]] = relationship(
        "InstitutionMemberRole", cascade="all, delete-orphan", passive_deletes=True
    )
    permissions: Mapped[list[InstitutionMemberPermission]] = relationship(
        "InstitutionMemberPermission", cascade="all, delete-orphan", passive_deletes=True
    )


class InstitutionCustomer(UUIDPk, Base):
    """A customer of the institution, derived from a professional-customer relation with
    one of its professionals."""

    __tablename__ = "institution_customer"
    # First column: serves institution_id.
    __table_args__ = (UniqueConstraint("institution_id", "relation_id"),)

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE")
    )
    # The link is derived from the relation: it ends with it.
    relation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_professional_customer_relation.id", ondelete="CASCADE"), index=True
    )
    # Added: the customer, so "customers of this institution" needs no join through the
    # relation. Must equal the relation's customer (kept by the service).
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    linked_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    is_active: Mapped[bool] = _true()


# --------------------------------------------------------------------------------------
# Access control inside an institution
# --------------------------------------------------------------------------------------


class InstitutionPolicy(Timestamps, Base):
    """A policy an institution has (de)activated (join row)."""

    __tablename__ = "institution_policy"

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), primary_key=True
    )
    # Deleting a policy ends it everywhere.
    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("policy.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Seed NOT NULL; the CLI acts without a user.
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    # Seed default false: a policy is attached first, switched on deliberately.
    is_active: Mapped[bool] = _false()


class InstitutionMemberRole(Timestamps, Base):
    """A role held by a member (join row). Replaces the seed's
    ``institution_member.institution_user_role_id``: a member may hold several roles."""

    __tablename__ = "institution_member_role"

    institution_member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution_member.id", ondelete="CASCADE"), primary_key=True
    )
    # CASCADE, not RESTRICT: deleting an institution reaches these rows both through its
    # members and through its own roles, and PostgreSQL checks RESTRICT / NO ACTION per
    # cascade step, so the delete would fail. Roles are retired with is_active instead.
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # Seed NOT NULL; the CLI acts without a user.
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    # Seed default false (as written): the service activates a role explicitly.
    is_active: Mapped[bool] = _false()


class InstitutionDepartmentPermission(Timestamps, Base):
    """A permission every member of a department gets (join row)."""

    __tablename__ = "institution_department_permission"

    institution_department_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution_department.id", ondelete="CASCADE"), primary_key=True
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _false()


class InstitutionMemberPermission(Timestamps, Base):
    """A permission given to one member beyond their roles (join row)."""

    __tablename__ = "institution_member_permission"

    institution_member_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution_member.id", ondelete="CASCADE"), primary_key=True
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    updated_by: Mapped[uuid.UUID | None] = _actor_fk()
    is_active: Mapped[bool] = _false()


# --------------------------------------------------------------------------------------
# Invitations
# --------------------------------------------------------------------------------------


class InstitutionInvite(UUIDPk, Base):
    """An invitation to join an institution, by email or as a Telegram deep link
    (``inv_<token>``). A link may be shared with many people: ``use_count`` counts
    acceptances up to ``max_uses`` (NULL = unlimited)."""

    __tablename__ = "institution_invite"
    __table_args__ = (
        CheckConstraint("max_uses > 0", name="max_uses_positive"),
        CheckConstraint("use_count >= 0", name="use_count_non_negative"),
        CheckConstraint("max_uses IS NULL OR use_count <= max_uses", name="use_count_within_max"),
        # URL-safe base64 only: the token is pasted into a deep link as is.
        CheckConstraint("token ~ '^[A-Za-z0-9_-]+$'", name="token_format"),
    )

    institution_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution.id", ondelete="CASCADE"), index=True
    )
    # Seed NOT NULL; the CLI invites an institution's first admin before any user exists.
    invited_by: Mapped[uuid.UUID | None] = _actor_fk()
    # Seed NOT NULL; a Telegram invite link carries no email.
    email: Mapped[str | None] = mapped_column(String(255))
    # Department to place the newcomer in; the invite survives the department.
    department_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution_department.id", ondelete="SET NULL"), index=True
    )
    # Role the newcomer receives (the seed's INSTITUTION_MEMBER_ROLE relationship).
    # SET NULL (not RESTRICT, see institution_member_role.role_id): the newcomer then gets
    # no extra role, never more than was meant.
    role_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("role.id", ondelete="SET NULL"), index=True
    )
    message: Mapped[str | None] = mapped_column(Text)
    # Seed UUID; a URL-safe string fits the deep link and is generated here.
    token: Mapped[str] = mapped_column(
        String(INVITE_TOKEN_LENGTH), unique=True, default=new_invite_token
    )
    max_uses: Mapped[int | None] = mapped_column(Integer)
    use_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    sent_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    # First acceptance (for a single-use invite: the acceptance).
    accepted_at: Mapped[dt.datetime | None]
    accepted_by: Mapped[uuid.UUID | None] = _actor_fk()
    expires_at: Mapped[dt.datetime] = mapped_column(
        server_default=text("(now() + interval '7 days')")
    )
    is_active: Mapped[bool] = _true()
    is_revoked: Mapped[bool] = _false()

    categories: Mapped[list[InstitutionInvitationCategory]] = relationship(
        "InstitutionInvitationCategory", cascade="all, delete-orphan", passive_deletes=True
    )


class InstitutionInvitationCategory(Base):
    """A category the invitee is placed in (join row)."""

    __tablename__ = "institution_invitation_category"

    invitation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("institution_invite.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
