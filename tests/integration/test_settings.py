"""Settings service on a real database: resolution, validation, history, templates, export,
the app_user write-through, and the reference section."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput, NotFound
from domain.models.access import Visibility
from domain.models.institution import Institution, InstitutionMember
from domain.models.setting import (
    Setting,
    SettingChangeLog,
    SettingDataType,
    SettingExport,
    SettingGroup,
    SettingGroupMember,
    SettingLevel,
    SettingTemplate,
    SystemSettingValue,
    UserSettingValue,
)
from domain.models.user import User
from domain.reference.loader import DATA_DIR, LoaderContext, ReferenceData, SeedReport
from domain.reference.settings import SECTION
from domain.services.settings import (
    InvalidSettingValue,
    ValueSource,
    apply_template,
    effective_setting,
    effective_setting_with_source,
    effective_settings,
    effective_value_text,
    export_settings,
    reset_user_setting,
    set_institution_setting,
    set_system_setting,
    set_user_setting,
)

NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)


async def load_settings_section(session: AsyncSession) -> SeedReport:
    """The section's own load (the context's catalogue data is not used by it)."""
    report = SeedReport()
    context = LoaderContext(session, cast(ReferenceData, None), report)
    await SECTION.load(context, SECTION.read(DATA_DIR))
    return report


@pytest.fixture
async def db(session: AsyncSession) -> AsyncSession:
    """The rolled-back session with the settings definitions loaded (a no-op once the
    section is part of the seed)."""
    await load_settings_section(session)
    return session


async def new_user(session: AsyncSession) -> User:
    user = User(first_name="Ada", telegram_user_id=uuid.uuid4().int % 10**12)
    session.add(user)
    await session.flush()
    return user


async def new_institution(session: AsyncSession) -> Institution:
    visibility = await session.scalar(
        select(Visibility.id).where(Visibility.resource_type == "INSTITUTION").limit(1)
    )
    assert visibility is not None
    institution = Institution(name=f"Gym {uuid.uuid4().hex[:6]}", visibility_id=visibility)
    session.add(institution)
    await session.flush()
    return institution


async def join(
    session: AsyncSession,
    user: User,
    institution: Institution,
    joined_at: dt.datetime = NOW,
    *,
    active: bool = True,
) -> None:
    session.add(
        InstitutionMember(
            institution_id=institution.id, user_id=user.id, joined_at=joined_at, is_active=active
        )
    )
    await session.flush()


async def setting_id(session: AsyncSession, key: str) -> uuid.UUID:
    found = await session.scalar(select(Setting.id).where(Setting.setting_key == key))
    assert found is not None
    return found


async def user_value_rows(session: AsyncSession, user: User) -> int:
    return int(
        await session.scalar(select(func.count()).where(UserSettingValue.user_id == user.id)) or 0
    )


async def log_rows(session: AsyncSession, key: str) -> list[SettingChangeLog]:
    """This test's log rows: written in its transaction (`now()` is the transaction's start;
    rows other tests committed, e.g. the bot's conversations, are older)."""
    return list(
        await session.scalars(
            select(SettingChangeLog)
            .where(
                SettingChangeLog.setting_id == await setting_id(session, key),
                SettingChangeLog.changed_at >= func.now(),
            )
            .order_by(SettingChangeLog.changed_at, SettingChangeLog.id)
        )
    )


async def user_columns(session: AsyncSession, user: User) -> tuple[str, str]:
    row = (
        await session.execute(select(User.locale, User.timezone).where(User.id == user.id))
    ).one()
    return row.locale, row.timezone


# --------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------


async def test_resolution_order_default_system_institution_user(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)

    async def resolved() -> tuple[Any, ValueSource]:
        found = await effective_setting_with_source(db, user.id, "reminder_time")
        assert await effective_setting(db, user.id, "reminder_time") == found.value
        return found.value, found.source

    assert await resolved() == ("18:00", ValueSource.DEFAULT)
    await set_system_setting(db, "reminder_time", "19:00")
    assert await resolved() == ("19:00", ValueSource.SYSTEM)
    await set_institution_setting(db, gym.id, "reminder_time", "20:00")
    assert await resolved() == ("20:00", ValueSource.INSTITUTION)
    await set_user_setting(db, user.id, "reminder_time", "21:00")
    assert await resolved() == ("21:00", ValueSource.USER)
    # Another user of no institution sees the system value.
    stranger = await new_user(db)
    assert await effective_setting(db, stranger.id, "reminder_time") == "19:00"


async def test_the_sender_read_resolves_the_weight_unit_at_every_level(
    db: AsyncSession,
) -> None:
    """``effective_value_text`` (read with the sender on every update) agrees with
    ``effective_setting`` level by level."""
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)

    async def sender_unit() -> str | None:
        unit: str | None = await db.scalar(
            select(effective_value_text("weight_unit", User.id)).where(User.id == user.id)
        )
        assert unit == await effective_setting(db, user.id, "weight_unit")
        return unit

    assert await sender_unit() == "kg"
    await set_system_setting(db, "weight_unit", "lb")
    assert await sender_unit() == "lb"
    await set_institution_setting(db, gym.id, "weight_unit", "kg")
    assert await sender_unit() == "kg"
    await set_user_setting(db, user.id, "weight_unit", "lb")
    assert await sender_unit() == "lb"


async def test_most_recently_joined_institution_that_sets_it_wins(db: AsyncSession) -> None:
    user = await new_user(db)
    old_gym, new_gym, newest_gym, left_gym = [await new_institution(db) for _ in range(4)]
    await join(db, user, old_gym, NOW - dt.timedelta(days=300))
    await join(db, user, new_gym, NOW - dt.timedelta(days=10))
    await join(db, user, newest_gym, NOW - dt.timedelta(days=1))  # sets nothing
    await join(db, user, left_gym, NOW, active=False)  # left: ignored
    await set_institution_setting(db, old_gym.id, "weight_unit", "lb")
    await set_institution_setting(db, left_gym.id, "weight_unit", "kg")
    assert await effective_setting(db, user.id, "weight_unit") == "lb"
    await set_institution_setting(db, new_gym.id, "weight_unit", "kg")
    assert await effective_setting(db, user.id, "weight_unit") == "kg"

    new_gym.is_active = False  # a closed institution no longer speaks for its members
    await db.flush()
    assert await effective_setting(db, user.id, "weight_unit") == "lb"


async def test_levels_a_definition_does_not_allow(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)
    with pytest.raises(InvalidSettingValue) as caught:
        await set_institution_setting(db, gym.id, "coach_can_see_logs", False)
    assert caught.value.rule == "level"
    assert "coach_can_see_logs" in str(caught.value)
    assert await log_rows(db, "coach_can_see_logs") == []

    # Switching a level off hides values already stored there.
    await set_institution_setting(db, gym.id, "digest_frequency", "MONTHLY")
    assert await effective_setting(db, user.id, "digest_frequency") == "MONTHLY"
    definition = await db.scalar(select(Setting).where(Setting.setting_key == "digest_frequency"))
    assert definition is not None
    definition.is_institution_configurable = False
    await db.flush()
    assert await effective_setting(db, user.id, "digest_frequency") == "WEEKLY"


async def test_unknown_setting_and_unknown_user(db: AsyncSession) -> None:
    user = await new_user(db)
    with pytest.raises(NotFound, match="unknown setting 'no_such_key'"):
        await effective_setting(db, user.id, "no_such_key")
    with pytest.raises(NotFound, match="unknown setting"):
        await set_user_setting(db, user.id, "no_such_key", 1)
    with pytest.raises(NotFound, match=r"user .* not found"):
        await set_user_setting(db, uuid.uuid4(), "weight_unit", "lb")


async def test_effective_settings_is_one_query(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)
    await set_system_setting(db, "digest_frequency", "MONTHLY")
    await set_institution_setting(db, gym.id, "weight_unit", "lb")
    await set_user_setting(db, user.id, "reminder_days", ["SUN", "SAT"])
    await db.flush()

    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    connection = await db.connection()
    event.listen(connection.sync_engine, "before_cursor_execute", record)
    try:
        values = await effective_settings(db, user.id)
    finally:
        event.remove(connection.sync_engine, "before_cursor_execute", record)

    assert len(statements) == 1, statements
    assert values["digest_frequency"] == "MONTHLY"
    assert values["weight_unit"] == "lb"
    assert values["reminder_days"] == ["SAT", "SUN"]
    assert values["quiet_hours_start"] == "22:00"
    assert {"locale", "timezone", "coach_can_see_logs", "reminders_enabled"} <= set(values)


# --------------------------------------------------------------------------------------------
# Validation and history
# --------------------------------------------------------------------------------------------


async def test_a_bad_value_is_refused_and_nothing_changes(db: AsyncSession) -> None:
    user = await new_user(db)
    with pytest.raises(InvalidSettingValue) as caught:
        await set_user_setting(db, user.id, "reminder_time", "25:00", changed_by=user.id)
    assert str(caught.value) == "reminder_time: expected HH:MM (24 h), got '25:00'"
    assert (caught.value.key, caught.value.rule) == ("reminder_time", "format")
    assert await user_value_rows(db, user) == 0
    assert await log_rows(db, "reminder_time") == []

    with pytest.raises(InvalidSettingValue, match=r"timezone: expected an IANA timezone"):
        await set_user_setting(db, user.id, "timezone", "Mars/Olympus")
    assert await user_columns(db, user) == ("en", "UTC")
    assert await user_value_rows(db, user) == 0

    await set_user_setting(db, user.id, "weight_unit", "lb")
    with pytest.raises(InvalidSettingValue, match=r"weight_unit: expected one of kg, lb"):
        await set_user_setting(db, user.id, "weight_unit", "stone")
    assert await effective_setting(db, user.id, "weight_unit") == "lb"
    assert len(await log_rows(db, "weight_unit")) == 1

    with pytest.raises(InvalidSettingValue, match=r"digest_frequency: expected one of"):
        await set_system_setting(db, "digest_frequency", "DAILY")
    assert (
        await db.scalar(
            select(func.count()).where(
                SystemSettingValue.setting_id == await setting_id(db, "digest_frequency")
            )
        )
        == 0
    )


async def test_every_change_is_logged_per_level(db: AsyncSession) -> None:
    user = await new_user(db)
    admin = await new_user(db)
    gym = await new_institution(db)

    await set_user_setting(db, user.id, "reminder_time", "07:00", changed_by=user.id)
    await set_user_setting(
        db, user.id, "reminder_time", "08:30", changed_by=user.id, reason="later"
    )
    await set_user_setting(db, user.id, "reminder_time", "08:30", changed_by=user.id)  # same
    await set_institution_setting(db, gym.id, "reminder_time", "06:00", changed_by=admin.id)
    await set_system_setting(db, "reminder_time", "17:00", changed_by=admin.id, reason="ops")
    await reset_user_setting(db, user.id, "reminder_time", changed_by=user.id)

    rows = await log_rows(db, "reminder_time")
    summary = [
        (row.scope, row.user_id, row.institution_id, row.old_value, row.new_value, row.changed_by)
        for row in rows
    ]
    assert summary == [
        (SettingLevel.USER, user.id, None, None, "07:00", user.id),
        (SettingLevel.USER, user.id, None, "07:00", "08:30", user.id),
        (SettingLevel.INSTITUTION, None, gym.id, None, "06:00", admin.id),
        (SettingLevel.SYSTEM, None, None, None, "17:00", admin.id),
        (SettingLevel.USER, user.id, None, "08:30", None, user.id),
    ]
    assert [row.change_reason for row in rows] == [None, "later", None, "ops", None]
    assert all(row.changed_at is not None for row in rows)
    # The reset removed the override: the user inherits again.
    assert await user_value_rows(db, user) == 0
    assert await effective_setting(db, user.id, "reminder_time") == "17:00"


# --------------------------------------------------------------------------------------------
# app_user write-through
# --------------------------------------------------------------------------------------------


async def test_locale_and_timezone_are_written_through_to_app_user(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)
    await set_institution_setting(db, gym.id, "timezone", "America/New_York")
    # An institution value is inherited, not mirrored: the column is the user's own choice.
    assert await user_columns(db, user) == ("en", "UTC")

    await set_user_setting(db, user.id, "locale", "fr")
    await set_user_setting(db, user.id, "timezone", "Europe/Paris")
    assert await user_columns(db, user) == ("fr", "Europe/Paris")
    assert await effective_setting(db, user.id, "timezone") == "Europe/Paris"

    # Removing the user's own value mirrors what they now inherit.
    assert await reset_user_setting(db, user.id, "timezone") == "America/New_York"
    assert await reset_user_setting(db, user.id, "locale") == "en"
    assert await user_columns(db, user) == ("en", "America/New_York")
    # The ORM object in the session is kept in sync, not stale.
    assert (user.locale, user.timezone) == ("en", "America/New_York")


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


async def test_early_bird_template_applies_all_its_values(db: AsyncSession) -> None:
    user = await new_user(db)
    applied = await apply_template(db, "EARLY_BIRD", user_id=user.id, changed_by=user.id)
    assert applied["reminder_time"] == "07:00"
    values = await effective_settings(db, user.id)
    assert (values["reminder_time"], values["quiet_hours_start"], values["quiet_hours_end"]) == (
        "07:00",
        "21:00",
        "06:00",
    )
    logs = await log_rows(db, "quiet_hours_start")
    assert [(log.new_value, log.change_reason) for log in logs] == [
        ("21:00", "template EARLY_BIRD")
    ]


async def test_a_template_with_one_bad_value_applies_nothing(db: AsyncSession) -> None:
    user = await new_user(db)
    db.add(
        SettingTemplate(
            code="BROKEN_NIGHT_OWL",
            template_name="Broken night owl",
            template_scope=SettingLevel.USER,
            settings_data={
                "reminder_time": "22:00",
                "weight_unit": "lb",
                "quiet_hours_end": "24:30",
            },
        )
    )
    await db.flush()
    with pytest.raises(InvalidSettingValue) as caught:
        await apply_template(db, "BROKEN_NIGHT_OWL", user_id=user.id)
    assert "quiet_hours_end: expected HH:MM (24 h), got '24:30'" in str(caught.value)
    assert (caught.value.key, caught.value.rule) == ("quiet_hours_end", "format")
    assert await user_value_rows(db, user) == 0
    for key in ("reminder_time", "weight_unit", "quiet_hours_end"):
        assert await log_rows(db, key) == []


async def test_template_targets(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    with pytest.raises(InvalidInput, match="applies to USER settings, not INSTITUTION"):
        await apply_template(db, "EARLY_BIRD", institution_id=gym.id)
    with pytest.raises(InvalidInput, match="exactly one"):
        await apply_template(db, "EARLY_BIRD", user_id=user.id, institution_id=gym.id)
    with pytest.raises(NotFound, match="unknown setting template"):
        await apply_template(db, "NO_SUCH_TEMPLATE", user_id=user.id)
    db.add(
        SettingTemplate(
            code="GYM_MORNINGS",
            template_name="Gym mornings",
            template_scope=SettingLevel.INSTITUTION,
            settings_data={"reminder_time": "06:30", "reminder_days": ["SAT", "TUE"]},
        )
    )
    await db.flush()
    await join(db, user, gym)
    stored = await apply_template(db, "GYM_MORNINGS", institution_id=gym.id)
    assert stored["reminder_days"] == ["TUE", "SAT"]
    found = await effective_setting_with_source(db, user.id, "reminder_days")
    assert (found.value, found.source) == (["TUE", "SAT"], ValueSource.INSTITUTION)


# --------------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------------


async def test_export_lists_effective_values_with_their_source(db: AsyncSession) -> None:
    user = await new_user(db)
    gym = await new_institution(db)
    await join(db, user, gym)
    await set_system_setting(db, "digest_frequency", "MONTHLY")
    await set_institution_setting(db, gym.id, "weight_unit", "lb")
    await set_user_setting(db, user.id, "locale", "ru")

    payload = await export_settings(db, user.id)

    assert json.loads(json.dumps(payload)) == payload  # JSON-serializable as is
    assert payload["user_id"] == str(user.id)
    dt.datetime.fromisoformat(payload["exported_at"])
    settings = payload["settings"]
    active_keys = set(await db.scalars(select(Setting.setting_key).where(Setting.is_active)))
    assert set(settings) == active_keys
    assert settings["locale"] == {"value": "ru", "source": "USER"}
    assert settings["weight_unit"] == {"value": "lb", "source": "INSTITUTION"}
    assert settings["digest_frequency"] == {"value": "MONTHLY", "source": "SYSTEM"}
    assert settings["reminder_days"] == {"value": ["MON", "WED", "FRI"], "source": "DEFAULT"}

    export = await db.scalar(select(SettingExport).where(SettingExport.user_id == user.id))
    assert export is not None
    assert export.exported_settings == payload
    assert export.export_scope is SettingLevel.USER
    assert export.requested_by == user.id
    assert export.expires_at - export.exported_at == dt.timedelta(hours=24)


async def test_sensitive_settings_are_left_out_of_exports(db: AsyncSession) -> None:
    user = await new_user(db)
    db.add(
        Setting(
            setting_key="integrations.api_token",
            display_name="API token",
            data_type=SettingDataType.STRING,
            default_value="",
            is_sensitive=True,
        )
    )
    await db.flush()
    await set_user_setting(db, user.id, "integrations.api_token", "s3cr3t")
    payload = await export_settings(db, user.id)
    assert "integrations.api_token" not in payload["settings"]
    assert "s3cr3t" not in json.dumps(payload)


# --------------------------------------------------------------------------------------------
# Reference section
# --------------------------------------------------------------------------------------------


async def test_reference_section_loads_once_and_then_changes_nothing(
    session: AsyncSession,
) -> None:
    await load_settings_section(session)
    second = await load_settings_section(session)
    assert second.total == 0, second.changes

    group = await session.scalar(select(SettingGroup).where(SettingGroup.code == "REMINDERS"))
    assert group is not None
    assert group.group_name_i18n["fr"] == "Rappels"
    ordered = list(
        await session.scalars(
            select(Setting.setting_key)
            .join(SettingGroupMember, SettingGroupMember.setting_id == Setting.id)
            .where(SettingGroupMember.setting_group_id == group.id)
            .order_by(SettingGroupMember.display_order)
        )
    )
    assert ordered == [
        "reminders_enabled",
        "reminder_time",
        "reminder_days",
        "quiet_hours_start",
        "quiet_hours_end",
    ]
    locale = await session.scalar(select(Setting).where(Setting.setting_key == "locale"))
    assert locale is not None
    assert locale.display_name_i18n == {"en": "Language", "fr": "Langue", "ru": "Язык"}
    assert locale.validation_rules == {"choices": ["en", "fr", "ru"]}
    consent = await session.scalar(
        select(Setting).where(Setting.setting_key == "coach_can_see_logs")
    )
    assert consent is not None
    assert (consent.is_user_configurable, consent.is_institution_configurable) == (True, False)
