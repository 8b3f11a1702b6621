"""Recording errors, per-day frequency, alerts and the trend rollup on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain import migrate
from domain.db import create_engine, session_factory
from domain.errors import InvalidInput, NotFound
from domain.models.error import (
    AlertScope,
    Error,
    ErrorAlert,
    ErrorAlertTrigger,
    ErrorCategory,
    ErrorFrequency,
    ErrorOccurrence,
    ErrorResolution,
    ErrorStatus,
    ErrorTrend,
    ErrorType,
    ResolutionType,
    SeverityLevel,
)
from domain.models.lookup import Category
from domain.models.user import User
from domain.reference import errors as error_reference
from domain.reference.loader import (
    DATA_DIR,
    LoaderContext,
    ReferenceData,
    SeedReport,
    read_reference_data,
)
from domain.services.errors import (
    RecordedError,
    evaluate_alerts,
    find_occurrence,
    fingerprint,
    mark_alert_sent,
    record_error,
    record_error_in_new_transaction,
    rollup_error_trend,
)

# A fixed, far-away clock: nothing else in the database happens then.
T0 = dt.datetime(2031, 3, 14, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def reference_data() -> ReferenceData:
    return read_reference_data()


async def load_error_vocabulary(session: AsyncSession, data: ReferenceData) -> SeedReport:
    """The errors section of the seed (idempotent: a no-op where the seed already ran it)."""
    report = SeedReport()
    await error_reference.load(LoaderContext(session, data, report), error_reference.read(DATA_DIR))
    return report


@pytest.fixture
async def db(session: AsyncSession, reference_data: ReferenceData) -> AsyncSession:
    """The rolled-back test session with the error vocabulary present."""
    await load_error_vocabulary(session, reference_data)
    return session


@pytest.fixture
async def own_engine(
    empty_database_url: URL, reference_data: ReferenceData
) -> AsyncIterator[AsyncEngine]:
    """A database of its own (dropped afterwards) for tests that must commit."""
    await migrate.upgrade(empty_database_url, "head")
    engine = create_engine(empty_database_url)
    async with session_factory(engine)() as session, session.begin():
        await load_error_vocabulary(session, reference_data)
    yield engine
    await engine.dispose()


def unique_source() -> str:
    return f"tests.errors:{uuid.uuid4().hex[:12]}"


async def record(session: AsyncSession, source: str, **overrides: Any) -> RecordedError:
    arguments: dict[str, Any] = {
        "code": "UNHANDLED_EXCEPTION",
        "source": source,
        "message": "user 42 not found",
        "now": T0,
    }
    arguments.update(overrides)
    return await record_error(session, **arguments)


async def make_user(session: AsyncSession) -> uuid.UUID:
    user = User(first_name="Test", telegram_user_id=int(uuid.uuid4().int % 10**12))
    session.add(user)
    await session.flush()
    return user.id


async def code_of(session: AsyncSession, model: Any, row_id: uuid.UUID | None) -> str:
    return str(await session.scalar(select(model.code).where(model.id == row_id)))


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


async def test_messages_differing_by_ids_are_one_error_with_counted_occurrences(
    db: AsyncSession,
) -> None:
    source = unique_source()
    user_id = await make_user(db)
    first = await record(db, source, message="user 123 not found", user_id=user_id)
    second = await record(
        db,
        source,
        message="user 456 not found",
        now=T0 + dt.timedelta(minutes=5),
        context={"update_id": 9, "text": "squat 5x5"},
        trace="Traceback (most recent call last): …",
    )
    assert first.is_new
    assert not second.is_new
    assert first.error_id == second.error_id
    assert first.reference_code != second.reference_code

    error = await db.get_one(Error, first.error_id)
    await db.refresh(error)
    assert error.occurrence_count == 2
    assert (error.first_seen_at, error.last_seen_at) == (T0, T0 + dt.timedelta(minutes=5))
    assert error.error_message == "user <num> not found"
    assert error.fingerprint == fingerprint("UNHANDLED_EXCEPTION", source, "user 1 not found")
    assert await code_of(db, ErrorStatus, error.error_status_id) == "NEW"
    assert await code_of(db, ErrorType, error.error_type_id) == "UNHANDLED_EXCEPTION"

    occurrences = (
        await db.scalars(
            select(ErrorOccurrence)
            .where(ErrorOccurrence.error_id == error.id)
            .order_by(ErrorOccurrence.occurred_at)
        )
    ).all()
    assert [o.message for o in occurrences] == ["user 123 not found", "user 456 not found"]
    assert [o.user_id for o in occurrences] == [user_id, None]
    assert occurrences[1].occurrence_context == {"update_id": 9, "text": "squat 5x5"}
    assert occurrences[1].stack_trace is not None
    assert (await find_occurrence(db, second.reference_code.lower())).id == occurrences[1].id


async def test_a_different_source_is_a_different_error(db: AsyncSession) -> None:
    first = await record(db, unique_source())
    second = await record(db, unique_source())
    assert first.error_id != second.error_id
    assert first.is_new
    assert second.is_new


async def test_a_new_error_is_filed_under_its_types_category(db: AsyncSession) -> None:
    recorded = await record(db, unique_source(), code="TELEGRAM_API")
    categories = (
        await db.scalars(
            select(Category.code)
            .join(ErrorCategory, ErrorCategory.category_id == Category.id)
            .where(ErrorCategory.error_id == recorded.error_id)
        )
    ).all()
    assert categories == ["INTEGRATION"]


async def test_a_finer_code_groups_apart_under_its_type(db: AsyncSession) -> None:
    source = unique_source()
    declined = await record(
        db, source, code="CARD_DECLINED", error_type="PAYMENT_PROVIDER", message="declined"
    )
    expired = await record(
        db, source, code="CARD_EXPIRED", error_type="PAYMENT_PROVIDER", message="declined"
    )
    assert declined.error_id != expired.error_id
    error = await db.get_one(Error, declined.error_id)
    assert error.error_code == "CARD_DECLINED"
    assert await code_of(db, ErrorType, error.error_type_id) == "PAYMENT_PROVIDER"


async def test_the_group_keeps_the_highest_severity(db: AsyncSession) -> None:
    source = unique_source()
    recorded = await record(db, source, severity="WARNING")
    await record(db, source, severity="CRITICAL")
    await record(db, source, severity="INFO")
    error = await db.get_one(Error, recorded.error_id)
    await db.refresh(error)
    assert await code_of(db, SeverityLevel, error.severity_level_id) == "CRITICAL"


async def test_a_resolved_error_that_happens_again_regresses(db: AsyncSession) -> None:
    source = unique_source()
    recorded = await record(db, source)
    resolved_id = await db.scalar(select(ErrorStatus.id).where(ErrorStatus.code == "RESOLVED"))
    await db.execute(
        update(Error).where(Error.id == recorded.error_id).values(error_status_id=resolved_id)
    )
    await record(db, source, now=T0 + dt.timedelta(hours=1))
    status_id = await db.scalar(select(Error.error_status_id).where(Error.id == recorded.error_id))
    assert await code_of(db, ErrorStatus, status_id) == "REGRESSED"


async def test_unknown_codes_and_naive_times_are_rejected(db: AsyncSession) -> None:
    with pytest.raises(InvalidInput, match="unknown error type 'NO_SUCH_TYPE'"):
        await record(db, unique_source(), code="NO_SUCH_TYPE")
    with pytest.raises(InvalidInput, match="unknown severity 'FATALISH'"):
        await record(db, unique_source(), severity="FATALISH")
    with pytest.raises(InvalidInput, match="timezone-aware"):
        await record(db, unique_source(), now=dt.datetime(2031, 1, 1))  # noqa: DTZ001 (naive on purpose)


async def test_unserialisable_context_and_nul_characters_are_stored(db: AsyncSession) -> None:
    recorded = await record(
        db,
        unique_source(),
        message="bad\x00byte",
        context={"when": dt.date(2031, 1, 1), "raw": "a\x00b", "thing": object()},
        trace="line\x00two",
    )
    occurrence = await db.get_one(ErrorOccurrence, recorded.occurrence_id)
    assert occurrence.message == "bad\ufffdbyte"
    assert occurrence.occurrence_context is not None
    assert occurrence.occurrence_context["when"] == "2031-01-01"
    assert occurrence.occurrence_context["raw"] == "a\ufffdb"
    assert occurrence.stack_trace == "line\ufffdtwo"


async def test_reference_codes_are_unique_and_well_formed(db: AsyncSession) -> None:
    source = unique_source()
    recorded = [await record(db, source, message=f"item {n} missing") for n in range(200)]
    codes = {r.reference_code for r in recorded}
    assert len(codes) == 200
    assert len({r.error_id for r in recorded}) == 1
    # Crockford base32: digits and capitals without I, L, O, U (an all-digit code is valid).
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{8}", code) for code in codes), codes


async def test_a_reference_code_nobody_was_shown_is_not_found(db: AsyncSession) -> None:
    with pytest.raises(NotFound, match="no error occurrence with reference code"):
        await find_occurrence(db, "zzzz-zzzz")


# --------------------------------------------------------------------------------------------
# Frequency per day
# --------------------------------------------------------------------------------------------


async def test_frequency_is_counted_per_utc_day_across_midnight(db: AsyncSession) -> None:
    source = unique_source()
    anna, boris = await make_user(db), await make_user(db)
    before_midnight = dt.datetime(2031, 3, 14, 23, 59, 30, tzinfo=dt.UTC)
    # 01:00:30 in Paris (UTC+1) is still 00:00:30 UTC: the UTC day decides.
    after_midnight = dt.datetime(2031, 3, 15, 1, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    recorded = await record(db, source, now=before_midnight, user_id=anna)
    await record(db, source, now=before_midnight, user_id=anna)
    await record(db, source, now=before_midnight, user_id=boris)
    await record(db, source, now=after_midnight, user_id=anna)
    await record(db, source, now=after_midnight)

    rows = (
        await db.execute(
            select(
                ErrorFrequency.frequency_date,
                ErrorFrequency.occurrence_count,
                ErrorFrequency.unique_users_affected,
                ErrorFrequency.first_occurrence,
                ErrorFrequency.last_occurrence,
            )
            .where(ErrorFrequency.error_id == recorded.error_id)
            .order_by(ErrorFrequency.frequency_date)
        )
    ).all()
    assert [tuple(row) for row in rows] == [
        (dt.date(2031, 3, 14), 3, 2, before_midnight, before_midnight),
        (dt.date(2031, 3, 15), 2, 1, after_midnight, after_midnight),
    ]
    count = await db.scalar(select(Error.occurrence_count).where(Error.id == recorded.error_id))
    assert count == 5


# --------------------------------------------------------------------------------------------
# Concurrency and recording after a failed transaction (committing: own database)
# --------------------------------------------------------------------------------------------


async def _wait_until_a_session_waits_for_a_lock(engine: AsyncEngine) -> None:
    # Bounded generously: on a loaded machine the second session may take seconds to get there.
    async with engine.connect() as observer:
        for _ in range(3000):
            waiting = await observer.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            if waiting:
                return
            await asyncio.sleep(0.01)
    raise AssertionError("the second recording never waited for the first one's row")


async def test_concurrent_recordings_of_one_error_make_one_group(own_engine: AsyncEngine) -> None:
    factory = session_factory(own_engine)
    source = unique_source()
    async with factory() as first, factory() as second:
        one = await record(first, source, message="user 1 not found")
        # The second upsert hits the first's uncommitted row and must wait for it, then count
        # on top of it instead of inserting a duplicate group.
        other = asyncio.create_task(record(second, source, message="user 2 not found"))
        try:
            await _wait_until_a_session_waits_for_a_lock(own_engine)
        finally:
            await first.commit()  # let the second go on whatever happened (then report it)
        two = await other
        await second.commit()

    assert one.is_new
    assert not two.is_new
    assert one.error_id == two.error_id
    async with factory() as check:
        errors = (await check.scalars(select(Error).where(Error.source_component == source))).all()
        assert len(errors) == 1
        assert errors[0].occurrence_count == 2
        occurrences = await check.scalar(
            select(func.count()).where(ErrorOccurrence.error_id == one.error_id)
        )
        assert occurrences == 2
        per_day = await check.scalar(
            select(ErrorFrequency.occurrence_count).where(ErrorFrequency.error_id == one.error_id)
        )
        assert per_day == 2


async def test_an_error_is_recorded_although_the_updates_transaction_is_rolled_back(
    own_engine: AsyncEngine,
) -> None:
    factory = session_factory(own_engine)
    source = unique_source()
    async with factory() as update_session:
        # The update created its user, then failed: both are rolled back.
        new_user_id = await make_user(update_session)
        await update_session.rollback()

    recorded = await record_error_in_new_transaction(
        factory,
        code="UNHANDLED_EXCEPTION",
        source=source,
        message="ZeroDivisionError: division by zero",
        user_id=new_user_id,
        context={"update_id": 1},
        trace="Traceback …",
        now=T0,
    )

    async with factory() as check:
        occurrence = await find_occurrence(check, recorded.reference_code)
        assert occurrence.error_id == recorded.error_id
        # The user row never existed outside the failed transaction: no dangling link.
        assert occurrence.user_id is None
        assert occurrence.occurrence_context == {"update_id": 1}


# --------------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------------


async def make_alert(
    db: AsyncSession,
    *,
    threshold: int,
    window: int = 10,
    cooldown: int = 60,
    scope: AlertScope = AlertScope.PER_ERROR,
    error_type: str | None = None,
    severity: str | None = None,
) -> str:
    code = f"TEST_{uuid.uuid4().hex[:10].upper()}"
    db.add(
        ErrorAlert(
            code=code,
            alert_name=code,
            alert_name_i18n={"en": code, "fr": code, "ru": code},
            error_type_id=await db.scalar(select(ErrorType.id).where(ErrorType.code == error_type))
            if error_type
            else None,
            severity_level_id=await db.scalar(
                select(SeverityLevel.id).where(SeverityLevel.code == severity)
            )
            if severity
            else None,
            scope=scope,
            threshold_count=threshold,
            threshold_time_minutes=window,
            cooldown_minutes=cooldown,
            alert_recipients={"role_codes": ["ADMIN"]},
        )
    )
    await db.flush()
    return code


async def fired(db: AsyncSession, code: str, now: dt.datetime) -> list[Any]:
    return [alert for alert in await evaluate_alerts(db, now) if alert.alert_code == code]


async def test_a_per_error_alert_fires_at_its_threshold_once_per_cooldown(
    db: AsyncSession,
) -> None:
    code = await make_alert(db, threshold=3, window=10, cooldown=60)
    source = unique_source()
    for minute in range(2):
        await record(db, source, now=T0 + dt.timedelta(minutes=minute))
    assert await fired(db, code, T0 + dt.timedelta(minutes=2)) == []

    recorded = await record(db, source, now=T0 + dt.timedelta(minutes=2))
    [alert] = await fired(db, code, T0 + dt.timedelta(minutes=3))
    assert (alert.error_id, alert.error_ids, alert.trigger_count) == (
        recorded.error_id,
        (recorded.error_id,),
        3,
    )
    assert alert.recipients == {"role_codes": ["ADMIN"]}

    # Still over the threshold, but within the cooldown: quiet.
    for minute in range(3, 6):
        await record(db, source, now=T0 + dt.timedelta(minutes=minute))
    assert await fired(db, code, T0 + dt.timedelta(minutes=6)) == []
    assert await fired(db, code, T0 + dt.timedelta(minutes=59)) == []

    # After the cooldown, only if it is still happening.
    assert await fired(db, code, T0 + dt.timedelta(minutes=64)) == []
    for minute in range(64, 67):
        await record(db, source, now=T0 + dt.timedelta(minutes=minute))
    [again] = await fired(db, code, T0 + dt.timedelta(minutes=67))
    assert again.trigger_id != alert.trigger_id

    triggers = (
        await db.scalars(
            select(ErrorAlertTrigger).where(ErrorAlertTrigger.error_alert_id == alert.alert_id)
        )
    ).all()
    assert len(triggers) == 2
    last_triggered = await db.scalar(
        select(ErrorAlert.last_triggered).where(ErrorAlert.code == code)
    )
    assert last_triggered == T0 + dt.timedelta(minutes=67)


async def test_a_per_error_alert_cools_down_per_error(db: AsyncSession) -> None:
    code = await make_alert(db, threshold=1)
    first = await record(db, unique_source())
    assert [a.error_id for a in await fired(db, code, T0)] == [first.error_id]
    second = await record(db, unique_source(), now=T0 + dt.timedelta(minutes=1))
    assert [a.error_id for a in await fired(db, code, T0 + dt.timedelta(minutes=1))] == [
        second.error_id
    ]


async def test_an_all_matching_alert_counts_errors_together_by_type_and_severity(
    db: AsyncSession,
) -> None:
    code = await make_alert(
        db,
        threshold=4,
        scope=AlertScope.ALL_MATCHING,
        error_type="DATABASE",
        severity="ERROR",
    )
    busy, quiet = unique_source(), unique_source()
    for _ in range(2):
        busy_error = await record(db, busy, code="DATABASE")
    quiet_error = await record(db, quiet, code="DATABASE", severity="CRITICAL")
    # Neither a lower severity nor another type counts.
    await record(db, unique_source(), code="DATABASE", severity="WARNING")
    await record(db, unique_source(), code="TELEGRAM_API")
    assert await fired(db, code, T0) == []

    await record(db, quiet, code="DATABASE")
    [alert] = await fired(db, code, T0)
    assert alert.error_id is None
    assert alert.trigger_count == 4
    # Most frequent first: busy has 2, quiet has 2 as well -> both, ordered by id on ties.
    assert set(alert.error_ids) == {busy_error.error_id, quiet_error.error_id}
    assert await fired(db, code, T0 + dt.timedelta(minutes=1)) == []


async def test_occurrences_outside_the_window_and_ignored_errors_do_not_count(
    db: AsyncSession,
) -> None:
    code = await make_alert(db, threshold=2, window=10)
    source = unique_source()
    await record(db, source, now=T0)
    await record(db, source, now=T0 + dt.timedelta(minutes=11))
    assert await fired(db, code, T0 + dt.timedelta(minutes=11)) == []

    ignored_source = unique_source()
    ignored = await record(db, ignored_source)
    await record(db, ignored_source)
    ignored_id = await db.scalar(select(ErrorStatus.id).where(ErrorStatus.code == "IGNORED"))
    await db.execute(
        update(Error).where(Error.id == ignored.error_id).values(error_status_id=ignored_id)
    )
    assert await fired(db, code, T0) == []


async def test_the_default_critical_alert_fires_for_any_critical_error(db: AsyncSession) -> None:
    recorded = await record(db, unique_source(), severity="CRITICAL")
    [alert] = await fired(db, "CRITICAL_ERROR", T0)
    assert alert.error_id == recorded.error_id
    assert alert.alert_name_i18n["fr"] == "Erreur critique"
    assert await fired(db, "CRITICAL_ERROR", T0 + dt.timedelta(minutes=5)) == []

    await mark_alert_sent(db, alert.trigger_id, T0 + dt.timedelta(seconds=3))
    trigger = await db.get_one(ErrorAlertTrigger, alert.trigger_id)
    await db.refresh(trigger)
    assert trigger.alert_sent
    assert trigger.alert_sent_at == T0 + dt.timedelta(seconds=3)
    with pytest.raises(NotFound):
        await mark_alert_sent(db, uuid.uuid4(), T0)


# --------------------------------------------------------------------------------------------
# Trend rollup
# --------------------------------------------------------------------------------------------


async def trend_rows(db: AsyncSession, day: dt.date) -> list[tuple[Any, ...]]:
    rows = await db.execute(
        select(
            ErrorTrend.id,
            ErrorType.code,
            ErrorTrend.total_errors,
            ErrorTrend.new_errors,
            ErrorTrend.resolved_errors,
            ErrorTrend.resolution_time_avg_hours,
            ErrorTrend.trend_direction,
            ErrorTrend.calculated_at,
        )
        .join(ErrorType, ErrorType.id == ErrorTrend.error_type_id)
        .where(ErrorTrend.trend_date == day)
        .order_by(ErrorType.code)
    )
    return [tuple(row) for row in rows]


async def test_trend_rollup_counts_a_day_per_type_and_is_idempotent(db: AsyncSession) -> None:
    day = dt.date(2031, 3, 14)
    old_source = unique_source()
    # First seen the day before, at 10:00.
    old = await record(
        db, old_source, code="DATABASE", now=dt.datetime(2031, 3, 13, 10, tzinfo=dt.UTC)
    )
    for hour in (1, 2, 3, 4):
        await record(
            db, old_source, code="DATABASE", now=dt.datetime(2031, 3, 14, hour, tzinfo=dt.UTC)
        )
    await record(
        db, unique_source(), code="DATABASE", now=dt.datetime(2031, 3, 14, 9, tzinfo=dt.UTC)
    )
    fixed_id = await db.scalar(select(ResolutionType.id).where(ResolutionType.code == "FIXED"))
    db.add(
        ErrorResolution(
            error_id=old.error_id,
            resolution_type_id=fixed_id,
            resolution_description="added the missing index",
            # First seen 2031-03-13 10:00, resolved 2031-03-14 16:00: 30 hours.
            resolved_at=dt.datetime(2031, 3, 14, 16, tzinfo=dt.UTC),
        )
    )
    await db.flush()

    first_count = await rollup_error_trend(db, day)
    first = await trend_rows(db, day)
    type_count = await db.scalar(select(func.count()).select_from(ErrorType))
    assert first_count == len(first) == type_count
    by_type = {row[1]: row[2:7] for row in first}
    # 5 occurrences (4 of the old error, 1 new error) against 1 the day before: (5 - 1) / 1.
    assert by_type["DATABASE"] == (5, 1, 1, 30.0, 4.0)
    assert by_type["TELEGRAM_API"] == (0, 0, 0, 0.0, 0.0)

    assert await rollup_error_trend(db, day) == 0
    assert await trend_rows(db, day) == first

    # New data is picked up by the next run, into the same rows.
    await record(
        db, unique_source(), code="DATABASE", now=dt.datetime(2031, 3, 14, 20, tzinfo=dt.UTC)
    )
    assert await rollup_error_trend(db, day) == 1
    before = {row[1]: row for row in first}
    after = {row[1]: row for row in await trend_rows(db, day)}
    assert after["DATABASE"][0] == before["DATABASE"][0]
    assert after["DATABASE"][2:4] == (6, 2)
    assert after["TELEGRAM_API"] == before["TELEGRAM_API"]


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


async def test_error_reference_data_loads_and_a_second_load_changes_nothing(
    own_engine: AsyncEngine, reference_data: ReferenceData
) -> None:
    factory = session_factory(own_engine)
    async with factory() as session, session.begin():
        again = await load_error_vocabulary(session, reference_data)
        assert again.total == 0
        alert = await session.scalar(select(ErrorAlert).where(ErrorAlert.code == "ERROR_BURST"))
        assert alert is not None
        assert (alert.threshold_count, alert.threshold_time_minutes) == (21, 10)
        ranks = (await session.execute(select(SeverityLevel.code, SeverityLevel.rank))).all()
        assert dict(ranks)["CRITICAL"] == 50
