"""The user aggregate: identity (Telegram first), tagging, global roles and permissions, share
invites, program assignments and progress, personal schedule overrides, ownership of content,
and the professional (coach/physio) <-> client relation behind `cli_<token>` links.

Seed sections: "Core User and Identity", "User Roles & Permissions", "User Activity, Progress,
and Ownership". Every deviation from the seed is a row in docs/schema-decisions.d/user.md.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, CreatedAt, Timestamps, UUIDPk, str_enum

# Length of `secrets.token_urlsafe(32)`: 256 random bits, URL-safe, and `shr_`/`cli_` + 43 chars
# stays well inside Telegram's 64-character /start payload.
LINK_TOKEN_LENGTH = 43


def new_link_token() -> str:
    """A fresh URL-safe token for deep links (`shr_<token>`, `cli_<token>`)."""
    return secrets.token_urlsafe(32)


class ScheduleOverrideAction(enum.StrEnum):
    """What an athlete's override does to the program's default schedule for one day."""

    ADD = "ADD"  # an extra workout on that day
    REMOVE = "REMOVE"  # drop the referenced default SCHEDULE_WORKOUT
    REPLACE = "REPLACE"  # swap the referenced default SCHEDULE_WORKOUT for `workout_id`


class ProfessionalRelationStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    DECLINED = "DECLINED"
    ENDED = "ENDED"
    PENDING = "PENDING"


class ProfessionalRelationType(enum.StrEnum):
    COACH = "COACH"
    PHYSIOTHERAPIST = "PHYSIOTHERAPIST"
    TRAINER = "TRAINER"


# --------------------------------------------------------------------------------------------
# Core user and identity
# --------------------------------------------------------------------------------------------


class User(UUIDPk, Timestamps, Base):
    """A person. Keyed by UUID; the Telegram identity is a unique column, never the key."""

    __tablename__ = "app_user"  # USER is a reserved word

    # Telegram identity. Nullable so that users created by other channels (admin CLI, import,
    # a future web login) can exist before they open the bot.
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    telegram_username: Mapped[str | None] = mapped_column(String(64))
    # IETF tag as reported by Telegram; `locale` is what we actually render in.
    language_code: Mapped[str | None] = mapped_column(String(10))
    timezone: Mapped[str] = mapped_column(String(64), server_default=text("'UTC'"))
    locale: Mapped[str] = mapped_column(String(10), server_default=text("'en'"))

    # Nullable: Telegram users have no e-mail. Still unique when present.
    email: Mapped[str | None] = mapped_column(String(255), unique=True)
    first_name: Mapped[str] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))  # Telegram: optional
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    last_login: Mapped[dt.datetime | None]  # NULL until the first login
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    # Set when Telegram answers 403 (bot blocked / user deactivated): stop sending.
    is_unreachable: Mapped[bool] = mapped_column(server_default=text("false"))
    # Who may see this user's workouts, programs and metrics (e.g. overseeing coaches).
    visibility_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("visibility.id", ondelete="RESTRICT"), index=True
    )
    # seed USER.user_category_id dropped: it pointed at the USER_CATEGORY join table.


class UserPasswordReset(UUIDPk, Base):
    """Password-reset request for a future e-mail/web login. Telegram users never use it.

    Services store a hash of the token here, never the token sent to the user.
    """

    __tablename__ = "user_password_reset"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    reset_token: Mapped[str] = mapped_column(String(255), unique=True)
    requested_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[dt.datetime]
    is_used: Mapped[bool] = mapped_column(default=False)


class UserTag(Base):
    __tablename__ = "user_tag"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tag.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


class UserCategory(Base):
    """Join table USER <-> CATEGORY (replaces the seed's USER.user_category_id)."""

    __tablename__ = "user_category"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------------
# Roles, permissions, sharing
# --------------------------------------------------------------------------------------------


class UserRole(Base):
    """Platform-wide roles. Institution-scoped roles live in INSTITUTION_MEMBER_ROLE."""

    __tablename__ = "user_role"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    role_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("role.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class UserPermission(Base):
    """A permission granted directly to a user (on top of their roles)."""

    __tablename__ = "user_permission"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True
    )
    permission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permission.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    # Seed: NOT NULL. Nullable so erasing the granting admin does not erase the grant, and so
    # grants made by the system (seed data, migrations) need no fake user.
    updated_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))


class UserShareInvite(UUIDPk, Base):
    """A share of one program or one workout, delivered as a `shr_<token>` deep link
    (optionally also to an e-mail address)."""

    __tablename__ = "user_share_invite"
    __table_args__ = (
        # Exactly one shared resource per invite.
        CheckConstraint("num_nonnulls(program_id, workout_id) = 1", name="one_target"),
    )

    invited_by: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    invitee_email: Mapped[str | None] = mapped_column(String(255))  # Telegram links: none
    program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    workout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str | None] = mapped_column(Text)
    # Seed: UUID. A 43-char URL-safe random string fits the deep link `shr_<token>`.
    token: Mapped[str] = mapped_column(
        String(LINK_TOKEN_LENGTH), unique=True, default=new_link_token
    )
    sent_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    accepted_at: Mapped[dt.datetime | None]
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    expires_at: Mapped[dt.datetime] = mapped_column(
        server_default=text("(now() + interval '7 days')")
    )
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    is_revoked: Mapped[bool] = mapped_column(server_default=text("false"))


class UserShareInviteCategory(Base):
    """Limits what a share invite exposes to some categories."""

    __tablename__ = "user_share_invite_category"

    user_share_invite_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_share_invite.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), primary_key=True, index=True
    )


# --------------------------------------------------------------------------------------------
# Program assignments and progress
# --------------------------------------------------------------------------------------------


class UserProgram(UUIDPk, Base):
    """An athlete following a program (self-started or assigned by a coach)."""

    __tablename__ = "user_program"
    __table_args__ = (
        # One running assignment per athlete and program; history rows have is_active = false.
        Index(
            "uq_user_program_active_user_program",
            "user_id",
            "program_id",
            unique=True,
            postgresql_where=text("is_active"),
        ),
    )

    # index=True although the partial unique index starts with user_id: it only covers active rows.
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    # RESTRICT: a program that athletes have followed is archived, not deleted (keeps history).
    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="RESTRICT"), index=True
    )
    # The version the athlete started on; they keep it when the coach publishes a new one.
    program_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("program_version.id", ondelete="RESTRICT"), index=True
    )
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    assigned_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    start_date: Mapped[dt.date] = mapped_column(Date)  # day 0 of the schedule, user's local date
    ended_at: Mapped[dt.datetime | None]
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))

    progress: Mapped[UserProgramProgress | None] = relationship(
        back_populates="user_program",
        cascade="all, delete-orphan",
        passive_deletes=True,
        uselist=False,
    )


class UserProgramProgress(Base):
    """Where an athlete stands in one program assignment (one row per USER_PROGRAM)."""

    __tablename__ = "user_program_progress"
    __table_args__ = (CheckConstraint("current_day_number >= 0", name="current_day_number_min"),)

    # Seed has no key and repeats user_id/program_id; keyed by the assignment instead.
    user_program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_program.id", ondelete="CASCADE"), primary_key=True
    )
    current_day_number: Mapped[int] = mapped_column(Integer, default=0)
    last_completed_date: Mapped[dt.date | None] = mapped_column(Date)
    progress_notes: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())

    user_program: Mapped[UserProgram] = relationship(back_populates="progress")


# USER_EXERCISE_MAP (drawn in both the User and the Exercise sections) lives in exercise.py.


class UserWorkoutSetMap(UUIDPk, CreatedAt, Base):
    """A user's custom set attached to a workout."""

    __tablename__ = "user_workout_set_map"
    __table_args__ = (UniqueConstraint("user_id", "workout_id", "workout_set_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), index=True
    )
    workout_set_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout_set.id", ondelete="CASCADE"), index=True
    )


class UserWorkoutProgress(UUIDPk, Base):
    """One athlete's status for one (scheduled) workout: done / skipped / partial …"""

    __tablename__ = "user_workout_progress"
    __table_args__ = (
        CheckConstraint(
            "soreness_post_workout BETWEEN 0 AND 10", name="soreness_post_workout_range"
        ),
        # "how did I do on workout W lately", and serves the user_id FK.
        Index(
            "ix_user_workout_progress_user_workout_completed",
            "user_id",
            "workout_id",
            "last_completed_date",
        ),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"))
    # RESTRICT: workouts with athlete history are archived, not deleted.
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="RESTRICT"), index=True
    )
    user_program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_program.id", ondelete="CASCADE"), index=True
    )
    # Seed COMPLETION_STATUS is never defined: STATUS rows of type COMPLETION.
    completion_status_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("status.id", ondelete="RESTRICT"), index=True
    )
    scheduled_date: Mapped[dt.date | None] = mapped_column(Date)
    last_completed_date: Mapped[dt.date | None] = mapped_column(Date)
    progress_notes: Mapped[str | None] = mapped_column(Text)
    soreness_post_workout: Mapped[int | None] = mapped_column(SmallInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --------------------------------------------------------------------------------------------
# Personal schedules and overrides
# --------------------------------------------------------------------------------------------


class UserProgramScheduleMap(UUIDPk, CreatedAt, Base):
    """The athlete's instance of a PROGRAM_SCHEDULE, day 0 = `scheduled_date`.

    This is also the seed's never-defined USER_PROGRAM_SCHEDULE.
    """

    __tablename__ = "user_program_schedule_map"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    program_schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program_schedule.id", ondelete="RESTRICT"), index=True
    )
    user_program_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_program.id", ondelete="CASCADE"), index=True
    )
    scheduled_date: Mapped[dt.date] = mapped_column(Date)

    workout_overrides: Mapped[list[UserScheduleWorkoutMap]] = relationship(
        back_populates="user_program_schedule",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(UserScheduleWorkoutMap.day_number, UserScheduleWorkoutMap.order_index)",
    )


class UserScheduleWorkoutMap(UUIDPk, Base):
    """A per-athlete override of one day of their schedule (add / replace / remove a workout)."""

    __tablename__ = "user_schedule_workout_map"
    __table_args__ = (
        CheckConstraint("day_number >= 0", name="day_number_min"),
        # ADD stands alone; REPLACE and REMOVE name the default SCHEDULE_WORKOUT they act on.
        CheckConstraint(
            "(action = 'ADD') = (replaces_schedule_workout_id IS NULL)",
            name="replaces_matches_action",
        ),
        # "today's overrides" for one athlete schedule; also serves the FK.
        Index(
            "ix_user_schedule_workout_map_schedule_day",
            "user_program_schedule_id",
            "day_number",
        ),
    )

    # Seed: references USER_PROGRAM_SCHEDULE.id, which is this module's USER_PROGRAM_SCHEDULE_MAP.
    user_program_schedule_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_program_schedule_map.id", ondelete="CASCADE")
    )
    day_number: Mapped[int] = mapped_column(SmallInteger)
    action: Mapped[ScheduleOverrideAction] = mapped_column(
        str_enum(ScheduleOverrideAction, "schedule_override_action")
    )
    # ADD/REPLACE: the workout to do. REMOVE: the workout being removed (kept NOT NULL as seed).
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="RESTRICT"), index=True
    )
    replaces_schedule_workout_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("schedule_workout.id", ondelete="CASCADE"), index=True
    )
    order_index: Mapped[int] = mapped_column(SmallInteger)
    is_optional: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)

    user_program_schedule: Mapped[UserProgramScheduleMap] = relationship(
        back_populates="workout_overrides"
    )


# --------------------------------------------------------------------------------------------
# Ownership (joined-table style: subtype rows share the id of their USER_OWNERSHIP row)
# --------------------------------------------------------------------------------------------


class UserOwnership(UUIDPk, CreatedAt, Base):
    """Who owns a piece of content and what they may do with it (bought, created, granted)."""

    __tablename__ = "user_ownership"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    # NULL = granted by the system (seed: "USER.id or SYSTEM").
    granted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
    # The purchase that granted this ownership (Data model II added the FK). SET NULL: erasing
    # a payment record for data-retention reasons must not revoke what was bought.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payment.id", ondelete="SET NULL"), index=True
    )
    is_primary_owner: Mapped[bool] = mapped_column(server_default=text("true"))
    can_edit: Mapped[bool] = mapped_column(server_default=text("false"))
    can_delete: Mapped[bool] = mapped_column(server_default=text("false"))
    is_revoked: Mapped[bool] = mapped_column(server_default=text("false"))

    program_ownership: Mapped[UserProgramOwnership | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )
    workout_ownership: Mapped[UserWorkoutOwnership | None] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, uselist=False
    )


class UserProgramOwnership(Base):
    __tablename__ = "user_program_ownership"

    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_ownership.id", ondelete="CASCADE"), primary_key=True
    )
    program_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    # Seed: program_category_id -> PROGRAM_CATEGORY (a join table); point at CATEGORY instead.
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )


class UserWorkoutOwnership(Base):
    __tablename__ = "user_workout_ownership"

    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_ownership.id", ondelete="CASCADE"), primary_key=True
    )
    workout_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workout.id", ondelete="CASCADE"), index=True
    )
    # Seed: workout_category_id -> WORKOUT_CATEGORY (a join table); point at CATEGORY instead.
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("category.id", ondelete="RESTRICT"), index=True
    )


# --------------------------------------------------------------------------------------------
# Professional <-> client relation (seed: USER_PROFESSIONNAL_CUSTOMER_RELATION, never defined)
# --------------------------------------------------------------------------------------------


class ProfessionalClientRelation(UUIDPk, Timestamps, Base):
    """A coach/physio/trainer following a client, with the client's consent.

    Created PENDING by the professional with an `invite_token` (deep link `cli_<token>`);
    `customer_id` is filled when the client opens the link, then ACTIVE on consent or DECLINED.
    """

    __tablename__ = "user_professional_customer_relation"
    __table_args__ = (
        CheckConstraint("professional_id <> customer_id", name="not_self"),
        CheckConstraint(
            "status <> 'ACTIVE' OR customer_id IS NOT NULL", name="active_has_customer"
        ),
        # At most one open (pending or active) relation per professional and client.
        Index(
            "uq_user_professional_customer_relation_open",
            "professional_id",
            "customer_id",
            unique=True,
            postgresql_where=text("status IN ('PENDING', 'ACTIVE') AND customer_id IS NOT NULL"),
        ),
    )

    # index=True although the partial unique index starts with it: that one is partial.
    professional_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), index=True
    )
    # SET NULL: the person-to-person relation (and its consent) outlives the institution row.
    institution_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("institution.id", ondelete="SET NULL"), index=True
    )
    relation_type: Mapped[ProfessionalRelationType] = mapped_column(
        str_enum(ProfessionalRelationType, "relation_type")
    )
    status: Mapped[ProfessionalRelationStatus] = mapped_column(
        str_enum(ProfessionalRelationStatus, "relation_status"),
        default=ProfessionalRelationStatus.PENDING,
        server_default=text("'PENDING'"),
    )
    invite_token: Mapped[str | None] = mapped_column(String(LINK_TOKEN_LENGTH), unique=True)
    invite_expires_at: Mapped[dt.datetime | None]
    # What the professional may see, e.g. {"logs": true, "charts": true, "goals": false,
    # "soreness": true}. Checked by domain/access.
    consent_scope: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    consented_at: Mapped[dt.datetime | None]
    declined_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    ended_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True
    )
