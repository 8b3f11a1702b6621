"""Recording, grouping and monitoring of application errors.

A failure is recorded as one ERROR_OCCURRENCE (with the reference code the user is shown)
under one ERROR group, found by a fingerprint: sha256 of the error type code, the source and
the message with its ids replaced by placeholders, so "user 123 not found" and "user 456 not
found" are one bug. The group's counters and the per-day frequency are kept by upserts whose
row locks make concurrent recordings add up.

The bot's error middleware records with ``record_error_in_new_transaction`` after rolling back
the update's own transaction; scheduler ticks call ``evaluate_alerts`` and
``rollup_error_trend``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    DateTime,
    Double,
    Integer,
    Interval,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import UUID, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from domain.errors import Conflict, InvalidInput, NotFound
from domain.models.error import (
    REFERENCE_CODE_ALPHABET,
    REFERENCE_CODE_LENGTH,
    AlertScope,
    Error,
    ErrorAlert,
    ErrorAlertTrigger,
    ErrorCategory,
    ErrorFrequency,
    ErrorOccurrence,
    ErrorResolution,
    ErrorStatus,
    ErrorStatusCode,
    ErrorTrend,
    ErrorType,
    SeverityCode,
    SeverityLevel,
)
from domain.models.user import User

# --------------------------------------------------------------------------------------------
# Normalization and fingerprints
# --------------------------------------------------------------------------------------------

# Applied in order: quoted values first (they may contain anything), then the specific id
# shapes, bare numbers last (they would otherwise eat the digits of uuids and hex ids).
_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # 'value' but not the apostrophes of "can't" or "user's": a quote must not touch a letter
    # on its outer side.
    (re.compile(r"(?<!\w)'[^'\n]*'(?!\w)"), "<str>"),
    (re.compile(r'"[^"\n]*"'), "<str>"),
    (re.compile(r"«[^»\n]*»"), "<str>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # Hashes, object ids: 8+ hex digits with at least one digit and one letter (so plain words
    # such as "deadbeef" … and plain numbers are left to other rules).
    (re.compile(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I), "<hex>"),
    # Telegram file_ids, callback tokens, invite tokens: long URL-safe runs with a digit.
    (re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}"), "<token>"),
    # @username mentions (not e-mail addresses: no word character before the @).
    (re.compile(r"(?<!\w)@\w{4,}"), "<username>"),
    # Telegram user and chat ids (chat ids are negative), counts, amounts, durations.
    (re.compile(r"[-+]?\d+(?:\.\d+)?"), "<num>"),
    (re.compile(r"\s+"), " "),
)

# Messages beyond this are cut before anything else: a 1 MB repr in an exception must not
# reach the database, and 10,000 characters identify a bug.
MAX_MESSAGE_CHARS = 10_000
_ERROR_MESSAGE_CHARS = 255
_SOURCE_CHARS = 100
_ERROR_CODE_CHARS = 100


def normalize_message(message: str) -> str:
    """The message with ids, numbers and quoted values replaced by placeholders, so that
    messages differing only by those group together: "user 123 not found" and
    "user 456 not found" both give "user <num> not found"."""
    normalized = message
    for pattern, placeholder in _PLACEHOLDERS:
        normalized = pattern.sub(placeholder, normalized)
    return normalized.strip()


def fingerprint(code: str, source: str, message: str) -> str:
    """The grouping key of an error: sha256 hex of code, source and normalized message."""
    # \x1f (unit separator) cannot be typed into any of the parts, so ("a b", "c") and
    # ("a", "b c") never collide.
    key = "\x1f".join((code, source, normalize_message(message)))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_reference_code() -> str:
    """A fresh reference code: 8 random Crockford base32 characters (40 bits)."""
    return "".join(secrets.choice(REFERENCE_CODE_ALPHABET) for _ in range(REFERENCE_CODE_LENGTH))


# What a person may type for each character of a reference code (Crockford's reading rules).
_REFERENCE_CODE_READING = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalize_reference_code(typed: str) -> str:
    """A reference code as support types it ("abcd-efgh", "ABCDEFGH ", "0" for "O") in its
    stored form."""
    return re.sub(r"[\s-]", "", typed).upper().translate(_REFERENCE_CODE_READING)


def _clean_text(value: str) -> str:
    # PostgreSQL text and jsonb cannot hold NUL characters; exceptions sometimes do.
    return value.replace("\x00", "\ufffd")


def _json_context(context: dict[str, Any] | None) -> dict[str, Any] | None:
    """The context as plain JSON: anything not serialisable becomes its str(), NULs are
    replaced. Recording an error must not fail because of what the error carried."""
    if context is None:
        return None
    encoded = _clean_text(json.dumps(context, default=str, ensure_ascii=False))
    # json.dumps escapes a NUL inside a string as \u0000, which jsonb rejects too.
    decoded: dict[str, Any] = json.loads(encoded.replace("\\u0000", "\\ufffd"))
    return decoded


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedError:
    """What the caller needs after recording: the code to show the user, and the group."""

    reference_code: str
    error_id: uuid.UUID
    occurrence_id: uuid.UUID
    # True when this was the first occurrence of its fingerprint.
    is_new: bool


@dataclass(frozen=True)
class _Vocabulary:
    error_type_id: uuid.UUID
    default_category_id: uuid.UUID | None
    severity_level_id: uuid.UUID
    severity_rank: int
    new_status_id: uuid.UUID
    resolved_status_id: uuid.UUID
    regressed_status_id: uuid.UUID


async def _vocabulary(session: AsyncSession, error_type: str, severity: str) -> _Vocabulary:
    """The lookup ids a recording needs, in one round trip."""

    def status_id(code: ErrorStatusCode) -> Any:
        return select(ErrorStatus.id).where(ErrorStatus.code == code.value).scalar_subquery()

    def of_type(column: Any) -> Any:
        return select(column).where(ErrorType.code == error_type).scalar_subquery()

    def of_severity(column: Any) -> Any:
        return select(column).where(SeverityLevel.code == severity).scalar_subquery()

    row = (
        await session.execute(
            select(
                of_type(ErrorType.id),
                of_type(ErrorType.default_category_id),
                of_severity(SeverityLevel.id),
                of_severity(SeverityLevel.rank),
                status_id(ErrorStatusCode.NEW),
                status_id(ErrorStatusCode.RESOLVED),
                status_id(ErrorStatusCode.REGRESSED),
            )
        )
    ).one()
    type_id, category_id, severity_id, severity_rank, new, resolved, regressed = row
    if type_id is None:
        raise InvalidInput(f"unknown error type {error_type!r} (see ERROR_TYPE codes)")
    if severity_id is None:
        raise InvalidInput(f"unknown severity {severity!r} (see SEVERITY_LEVEL codes)")
    if new is None or resolved is None or regressed is None:
        raise NotFound("error statuses NEW, RESOLVED, REGRESSED are missing: run the seed")
    return _Vocabulary(
        error_type_id=type_id,
        default_category_id=category_id,
        severity_level_id=severity_id,
        severity_rank=severity_rank,
        new_status_id=new,
        resolved_status_id=resolved,
        regressed_status_id=regressed,
    )


def utc_day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a UTC calendar day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _aware(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInput("now must be timezone-aware (UTC)")
    return now


# A fresh 40-bit code collides with an existing one only after millions of occurrences, and
# then rarely twice in a row; more failures mean something else is wrong.
_REFERENCE_CODE_ATTEMPTS = 5


async def record_error(
    session: AsyncSession,
    *,
    code: str,
    source: str,
    message: str,
    severity: str = SeverityCode.ERROR,
    user_id: uuid.UUID | None = None,
    context: dict[str, Any] | None = None,
    trace: str | None = None,
    now: dt.datetime | None = None,
    error_type: str | None = None,
) -> RecordedError:
    """Record one occurrence of an error in the session's transaction (the caller commits).

    ``code`` is the error's code and, unless ``error_type`` is given, also its ERROR_TYPE code
    (UNHANDLED_EXCEPTION, TELEGRAM_API …). ``source`` names where it happened
    ("bot.handlers.training:log_set"); ``severity`` is a SEVERITY_LEVEL code. ``context`` (the
    update, job arguments) and ``trace`` are stored on the occurrence only, never shown.

    The group row is found or created by one INSERT … ON CONFLICT (fingerprint) DO UPDATE:
    concurrent recordings of the same error wait on its row and add up. A RESOLVED error that
    happens again becomes REGRESSED; the group keeps the highest severity reported.
    """
    now = _aware(now)
    message = _clean_text(message)[:MAX_MESSAGE_CHARS]
    source = _clean_text(source)[:_SOURCE_CHARS]
    error_type = error_type or code
    if not code or len(code) > _ERROR_CODE_CHARS:
        raise InvalidInput(f"error code must be 1 to {_ERROR_CODE_CHARS} characters: {code!r}")
    vocabulary = await _vocabulary(session, error_type, severity)
    group_key = fingerprint(code, source, message)

    error_id, occurrence_count = await _upsert_group(
        session, vocabulary, group_key, code, source, message, now
    )
    # The count starts at 1 and only ever grows: 1 means this statement inserted the row.
    is_new = occurrence_count == 1
    if is_new and vocabulary.default_category_id is not None:
        await session.execute(
            insert(ErrorCategory)
            .values(error_id=error_id, category_id=vocabulary.default_category_id)
            .on_conflict_do_nothing()
        )
    occurrence_id, reference_code = await _insert_occurrence(
        session, error_id, user_id, message, _json_context(context), trace, now
    )
    await _count_in_frequency(session, error_id, occurrence_id, now)
    return RecordedError(
        reference_code=reference_code,
        error_id=error_id,
        occurrence_id=occurrence_id,
        is_new=is_new,
    )


async def _upsert_group(
    session: AsyncSession,
    vocabulary: _Vocabulary,
    group_key: str,
    code: str,
    source: str,
    message: str,
    now: dt.datetime,
) -> tuple[uuid.UUID, int]:
    """Create the ERROR row of this fingerprint or count one more occurrence on it."""
    statement = insert(Error).values(
        id=uuid.uuid4(),
        fingerprint=group_key,
        error_code=code,
        error_message=normalize_message(message)[:_ERROR_MESSAGE_CHARS],
        error_type_id=vocabulary.error_type_id,
        severity_level_id=vocabulary.severity_level_id,
        source_component=source,
        error_status_id=vocabulary.new_status_id,
        first_seen_at=now,
        last_seen_at=now,
        occurrence_count=1,
    )
    # Uncorrelated on purpose: SQLAlchemy does not correlate a subquery in ON CONFLICT … SET
    # with the target row (it adds a second ``error`` to the subquery's FROM), so "the current
    # severity ranks lower" is asked as "the current severity is one of those ranking lower".
    lower_severities = select(SeverityLevel.id).where(SeverityLevel.rank < vocabulary.severity_rank)
    statement = statement.on_conflict_do_update(
        index_elements=[Error.fingerprint],
        set_={
            "occurrence_count": Error.occurrence_count + 1,
            # Recordings may arrive out of order (a retried job, a clock passed in).
            "first_seen_at": func.least(Error.first_seen_at, statement.excluded.first_seen_at),
            "last_seen_at": func.greatest(Error.last_seen_at, statement.excluded.last_seen_at),
            "severity_level_id": case(
                (
                    Error.severity_level_id.in_(lower_severities),
                    statement.excluded.severity_level_id,
                ),
                else_=Error.severity_level_id,
            ),
            "error_status_id": case(
                (
                    Error.error_status_id == vocabulary.resolved_status_id,
                    literal(vocabulary.regressed_status_id, UUID(as_uuid=True)),
                ),
                else_=Error.error_status_id,
            ),
            "updated_at": func.now(),
        },
    )
    row = (await session.execute(statement.returning(Error.id, Error.occurrence_count))).one()
    return row.id, row.occurrence_count


async def _insert_occurrence(
    session: AsyncSession,
    error_id: uuid.UUID,
    user_id: uuid.UUID | None,
    message: str,
    context: dict[str, Any] | None,
    trace: str | None,
    now: dt.datetime,
) -> tuple[uuid.UUID, str]:
    # A user created by the update that failed was rolled back with it: keep the occurrence
    # and drop the link rather than fail on the foreign key.
    existing_user = select(User.id).where(User.id == user_id).scalar_subquery() if user_id else None
    for _ in range(_REFERENCE_CODE_ATTEMPTS):
        reference_code = new_reference_code()
        inserted = await session.execute(
            insert(ErrorOccurrence)
            .values(
                id=uuid.uuid4(),
                error_id=error_id,
                reference_code=reference_code,
                user_id=existing_user,
                message=message,
                occurrence_context=context,
                stack_trace=_clean_text(trace) if trace is not None else None,
                occurred_at=now,
            )
            .on_conflict_do_nothing(index_elements=[ErrorOccurrence.reference_code])
            .returning(ErrorOccurrence.id)
        )
        occurrence_id = inserted.scalar_one_or_none()
        if occurrence_id is not None:
            return occurrence_id, reference_code
    raise Conflict(f"no free reference code after {_REFERENCE_CODE_ATTEMPTS} attempts")


async def _count_in_frequency(
    session: AsyncSession, error_id: uuid.UUID, occurrence_id: uuid.UUID, now: dt.datetime
) -> None:
    """Add the occurrence to its error's row for its UTC day."""
    day = now.astimezone(dt.UTC).date()
    start, end = utc_day_bounds(day)
    this = aliased(ErrorOccurrence)
    earlier = aliased(ErrorOccurrence)
    # 1 when this occurrence has a user who had not met this error yet that day. Two first
    # occurrences of one user racing would both count; a user's updates are processed one
    # at a time (event isolation), so that does not happen in practice.
    new_user = (
        select(
            case(
                (
                    and_(
                        this.user_id.is_not(None),
                        ~exists().where(
                            earlier.user_id == this.user_id,
                            earlier.error_id == this.error_id,
                            earlier.occurred_at >= start,
                            earlier.occurred_at < end,
                            earlier.id != this.id,
                        ),
                    ),
                    1,
                ),
                else_=0,
            )
        )
        .where(this.id == occurrence_id)
        .scalar_subquery()
    )
    statement = insert(ErrorFrequency).values(
        error_id=error_id,
        frequency_date=day,
        occurrence_count=1,
        unique_users_affected=new_user,
        first_occurrence=now,
        last_occurrence=now,
    )
    excluded = statement.excluded
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ErrorFrequency.error_id, ErrorFrequency.frequency_date],
            set_={
                "occurrence_count": ErrorFrequency.occurrence_count + 1,
                "unique_users_affected": ErrorFrequency.unique_users_affected
                + excluded.unique_users_affected,
                "first_occurrence": func.least(
                    ErrorFrequency.first_occurrence, excluded.first_occurrence
                ),
                "last_occurrence": func.greatest(
                    ErrorFrequency.last_occurrence, excluded.last_occurrence
                ),
                "calculated_at": func.now(),
            },
        )
    )


async def record_error_in_new_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    code: str,
    source: str,
    message: str,
    severity: str = SeverityCode.ERROR,
    user_id: uuid.UUID | None = None,
    context: dict[str, Any] | None = None,
    trace: str | None = None,
    now: dt.datetime | None = None,
    error_type: str | None = None,
) -> RecordedError:
    """``record_error`` in a session and transaction of its own, committed here.

    For the error middleware: the update's transaction failed and is rolled back, the record
    must survive. Roll the failed transaction back *before* calling this: while it is open it
    may hold row locks this transaction would wait for.
    """
    async with session_factory() as session, session.begin():
        return await record_error(
            session,
            code=code,
            source=source,
            message=message,
            severity=severity,
            user_id=user_id,
            context=context,
            trace=trace,
            now=now,
            error_type=error_type,
        )


async def find_occurrence(session: AsyncSession, reference_code: str) -> ErrorOccurrence:
    """The occurrence a user's reference code names (support look-up)."""
    code = normalize_reference_code(reference_code)
    occurrence = await session.scalar(
        select(ErrorOccurrence).where(ErrorOccurrence.reference_code == code)
    )
    if occurrence is None:
        raise NotFound(f"no error occurrence with reference code {code!r}")
    return occurrence


# --------------------------------------------------------------------------------------------
# Alerts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertToSend:
    """A new ERROR_ALERT_TRIGGER row to deliver; mark it with ``mark_alert_sent``."""

    trigger_id: uuid.UUID
    alert_id: uuid.UUID
    alert_code: str
    alert_name: str
    alert_name_i18n: dict[str, str]
    scope: AlertScope
    # The error a PER_ERROR alert fired for; None for ALL_MATCHING.
    error_id: uuid.UUID | None
    # Occurrences counted in the window, and the errors they belong to (most frequent first).
    trigger_count: int
    error_ids: tuple[uuid.UUID, ...]
    recipients: dict[str, Any]
    triggered_at: dt.datetime


# Serialises evaluations (two scheduler instances during a leadership hand-over would
# otherwise both see "no trigger in cooldown" and both fire). Arbitrary, fixed, documented.
ALERT_EVALUATION_LOCK_KEY = 0x4D46_4552_5241_4C54  # "MFERRALT"

_ONE_MINUTE = literal(dt.timedelta(minutes=1), Interval)


async def evaluate_alerts(session: AsyncSession, now: dt.datetime) -> list[AlertToSend]:
    """Fire every active alert whose threshold is reached at ``now`` and that is not in its
    cooldown; write one ERROR_ALERT_TRIGGER per firing and return them.

    PER_ERROR alerts count each matching error on its own (cooldown per alert and error);
    ALL_MATCHING alerts count the matching errors together. Errors marked IGNORED never count.
    """
    now = _aware(now)
    await session.execute(select(func.pg_advisory_xact_lock(ALERT_EVALUATION_LOCK_KEY)))
    at = literal(now, DateTime(timezone=True))
    error_severity = aliased(SeverityLevel)
    alert_floor = aliased(SeverityLevel)
    ignored = select(ErrorStatus.id).where(ErrorStatus.code == ErrorStatusCode.IGNORED.value)
    counts = (
        select(
            ErrorAlert.id.label("alert_id"),
            ErrorOccurrence.error_id,
            cast(func.count(), Integer).label("occurrences"),
        )
        .select_from(ErrorAlert)
        .join(
            ErrorOccurrence,
            and_(
                ErrorOccurrence.occurred_at > at - ErrorAlert.threshold_time_minutes * _ONE_MINUTE,
                ErrorOccurrence.occurred_at <= at,
            ),
        )
        .join(Error, Error.id == ErrorOccurrence.error_id)
        .join(error_severity, error_severity.id == Error.severity_level_id)
        .outerjoin(alert_floor, alert_floor.id == ErrorAlert.severity_level_id)
        .where(
            ErrorAlert.is_active,
            or_(
                ErrorAlert.error_type_id.is_(None), ErrorAlert.error_type_id == Error.error_type_id
            ),
            or_(alert_floor.id.is_(None), error_severity.rank >= alert_floor.rank),
            Error.error_status_id.not_in(ignored),
        )
        .group_by(ErrorAlert.id, ErrorOccurrence.error_id)
        .cte("counts")
    )
    error_id_text = cast(counts.c.error_id, String)
    per_error = (
        select(
            counts.c.alert_id,
            counts.c.error_id.label("subject_error_id"),
            counts.c.occurrences.label("trigger_count"),
            func.jsonb_build_array(error_id_text).label("trigger_errors"),
        )
        .join(ErrorAlert, ErrorAlert.id == counts.c.alert_id)
        .where(
            ErrorAlert.scope == AlertScope.PER_ERROR,
            counts.c.occurrences >= ErrorAlert.threshold_count,
        )
    )
    total = cast(func.sum(counts.c.occurrences), Integer)
    all_matching = (
        select(
            counts.c.alert_id,
            cast(null(), UUID(as_uuid=True)),
            total,
            func.jsonb_agg(
                aggregate_order_by(error_id_text, counts.c.occurrences.desc(), error_id_text)
            ),
        )
        .join(ErrorAlert, ErrorAlert.id == counts.c.alert_id)
        .where(ErrorAlert.scope == AlertScope.ALL_MATCHING)
        .group_by(counts.c.alert_id, ErrorAlert.threshold_count)
        .having(total >= ErrorAlert.threshold_count)
    )
    candidates = union_all(per_error, all_matching).cte("candidates")
    previous = aliased(ErrorAlertTrigger)
    due = (
        select(
            func.gen_random_uuid(),
            candidates.c.alert_id,
            candidates.c.subject_error_id,
            candidates.c.trigger_count,
            candidates.c.trigger_errors,
            at,
        )
        .join(ErrorAlert, ErrorAlert.id == candidates.c.alert_id)
        .where(
            ~exists().where(
                previous.error_alert_id == candidates.c.alert_id,
                previous.error_id.is_not_distinct_from(candidates.c.subject_error_id),
                previous.triggered_at > at - ErrorAlert.cooldown_minutes * _ONE_MINUTE,
            )
        )
    )
    fired = (
        (
            await session.execute(
                insert(ErrorAlertTrigger)
                .from_select(
                    [
                        "id",
                        "error_alert_id",
                        "error_id",
                        "trigger_count",
                        "trigger_errors",
                        "triggered_at",
                    ],
                    due,
                )
                .returning(ErrorAlertTrigger)
            )
        )
        .scalars()
        .all()
    )
    if not fired:
        return []
    alert_ids = {trigger.error_alert_id for trigger in fired}
    await session.execute(
        update(ErrorAlert).where(ErrorAlert.id.in_(alert_ids)).values(last_triggered=now)
    )
    alerts = {
        alert.id: alert
        for alert in (await session.scalars(select(ErrorAlert).where(ErrorAlert.id.in_(alert_ids))))
    }
    return sorted(
        (
            AlertToSend(
                trigger_id=trigger.id,
                alert_id=trigger.error_alert_id,
                alert_code=alerts[trigger.error_alert_id].code,
                alert_name=alerts[trigger.error_alert_id].alert_name,
                alert_name_i18n=dict(alerts[trigger.error_alert_id].alert_name_i18n),
                scope=alerts[trigger.error_alert_id].scope,
                error_id=trigger.error_id,
                trigger_count=trigger.trigger_count,
                error_ids=tuple(uuid.UUID(value) for value in trigger.trigger_errors),
                recipients=dict(alerts[trigger.error_alert_id].alert_recipients),
                triggered_at=trigger.triggered_at,
            )
            for trigger in fired
        ),
        key=lambda alert: (alert.alert_code, -alert.trigger_count, str(alert.error_id)),
    )


async def mark_alert_sent(session: AsyncSession, trigger_id: uuid.UUID, now: dt.datetime) -> None:
    """Record that a trigger's alert was delivered."""
    result = await session.execute(
        update(ErrorAlertTrigger)
        .where(ErrorAlertTrigger.id == trigger_id)
        .values(alert_sent=True, alert_sent_at=_aware(now))
        .returning(ErrorAlertTrigger.id)
    )
    if result.scalar_one_or_none() is None:
        raise NotFound(f"no error alert trigger {trigger_id}")


# --------------------------------------------------------------------------------------------
# Trend rollup
# --------------------------------------------------------------------------------------------


async def rollup_error_trend(session: AsyncSession, day: dt.date) -> int:
    """Write ERROR_TREND for one UTC day, one row per error type; return the rows inserted or
    changed. Idempotent: a second run over unchanged data changes nothing."""
    start, end = utc_day_bounds(day)

    def occurrences_on(date: dt.date) -> Any:
        return (
            select(
                Error.error_type_id,
                cast(func.sum(ErrorFrequency.occurrence_count), Integer).label("count"),
            )
            .join(Error, Error.id == ErrorFrequency.error_id)
            .where(ErrorFrequency.frequency_date == date)
            .group_by(Error.error_type_id)
            .subquery()
        )

    today = occurrences_on(day)
    yesterday = occurrences_on(day - dt.timedelta(days=1))
    new = (
        select(Error.error_type_id, cast(func.count(), Integer).label("count"))
        .where(Error.first_seen_at >= start, Error.first_seen_at < end)
        .group_by(Error.error_type_id)
        .subquery()
    )
    hours_to_resolve = (
        func.extract("epoch", ErrorResolution.resolved_at - Error.first_seen_at) / 3600
    )
    resolved = (
        select(
            Error.error_type_id,
            cast(func.count(), Integer).label("count"),
            cast(func.avg(hours_to_resolve), Double).label("hours"),
        )
        .join(Error, Error.id == ErrorResolution.error_id)
        .where(ErrorResolution.resolved_at >= start, ErrorResolution.resolved_at < end)
        .group_by(Error.error_type_id)
        .subquery()
    )
    total = func.coalesce(today.c.count, 0)
    before = func.coalesce(yesterday.c.count, 0)
    rows = (
        select(
            func.gen_random_uuid(),
            ErrorType.id,
            literal(day),
            total,
            func.coalesce(new.c.count, 0),
            func.coalesce(resolved.c.count, 0),
            func.coalesce(resolved.c.hours, 0.0),
            cast(total - before, Double) / func.greatest(before, 1),
        )
        .outerjoin(today, today.c.error_type_id == ErrorType.id)
        .outerjoin(yesterday, yesterday.c.error_type_id == ErrorType.id)
        .outerjoin(new, new.c.error_type_id == ErrorType.id)
        .outerjoin(resolved, resolved.c.error_type_id == ErrorType.id)
    )
    values = [
        "total_errors",
        "new_errors",
        "resolved_errors",
        "resolution_time_avg_hours",
        "trend_direction",
    ]
    statement = insert(ErrorTrend).from_select(["id", "error_type_id", "trend_date", *values], rows)
    excluded = statement.excluded
    written = await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ErrorTrend.error_type_id, ErrorTrend.trend_date],
            set_={**{name: excluded[name] for name in values}, "calculated_at": func.now()},
            # Only rows whose numbers moved: a rerun leaves calculated_at alone too.
            where=or_(
                *(ErrorTrend.__table__.c[name].is_distinct_from(excluded[name]) for name in values)
            ),
        ).returning(ErrorTrend.id)
    )
    return len(written.scalars().all())
