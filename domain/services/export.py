"""/export: the athlete's whole training log as two documents, CSV (one row per set) and JSON
(sessions with their sets).

The rows are streamed from the database in batches (``yield_per``) and written once into both
documents, so a long log is never held twice as ORM objects. Times are shown in the athlete's
time zone (with the UTC offset in JSON), loads in kilograms and in the athlete's unit.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models.exercise import Exercise
from domain.models.training_log import LoggedSet, TrainingSession
from domain.models.workout import Workout
from domain.parsing.model import tidy
from domain.services.strength import WeightUnit, display_load
from domain.services.training_log import exercise_name

BATCH = 500
CSV_COLUMNS = (
    "date",
    "time",
    "session_id",
    "workout",
    "exercise",
    "set",
    "warmup",
    "reps",
    "load_kg",
    "load",
    "unit",
    "added_load_kg",
    "bodyweight",
    "rpe",
    "duration_seconds",
    "distance_m",
    "soreness",
    "session_notes",
    "set_notes",
)


@dataclass(frozen=True, slots=True)
class LogExport:
    csv: bytes  # UTF-8 with a BOM (spreadsheets then read accents and Cyrillic right)
    json: bytes  # UTF-8
    session_count: int
    set_count: int

    @property
    def empty(self) -> bool:
        return self.session_count == 0


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def _number(value: Decimal | None) -> str:
    return "" if value is None else str(tidy(value))


def _json_number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    value = tidy(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _local(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> dt.datetime | None:
    return value.astimezone(zone) if value is not None else None


# A spreadsheet runs a cell that starts like a formula (OWASP "CSV injection"): typed text
# (names, notes) gets a leading apostrophe there, shown as text. JSON keeps it as typed.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def _iso(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str | None:
    local = _local(value, zone)
    return local.isoformat(timespec="seconds") if local is not None else None


async def export_log(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    timezone: str,
    unit: WeightUnit,
    locale: str = "en",
    now: dt.datetime | None = None,
) -> LogExport:
    """Every session of the athlete (oldest first) with its sets, as CSV and JSON."""
    zone = _zone(timezone)
    name = exercise_name(locale)
    statement = (
        select(
            TrainingSession.id,
            TrainingSession.started_at,
            TrainingSession.finished_at,
            TrainingSession.source,
            TrainingSession.soreness,
            TrainingSession.notes,
            Workout.name.label("workout"),
            LoggedSet.id.label("set_id"),
            LoggedSet.exercise_id,
            name.label("exercise"),
            LoggedSet.set_index,
            LoggedSet.performed_at,
            LoggedSet.reps,
            LoggedSet.load_kg,
            LoggedSet.added_load_kg,
            LoggedSet.is_bodyweight,
            LoggedSet.duration_seconds,
            LoggedSet.distance_m,
            LoggedSet.rpe,
            LoggedSet.rir,
            LoggedSet.is_warmup,
            LoggedSet.notes.label("set_notes"),
        )
        .select_from(TrainingSession)
        .outerjoin(Workout, Workout.id == TrainingSession.workout_id)
        .outerjoin(
            LoggedSet,
            and_(LoggedSet.session_id == TrainingSession.id, LoggedSet.user_id == user_id),
        )
        .outerjoin(Exercise, Exercise.id == LoggedSet.exercise_id)
        .where(TrainingSession.user_id == user_id)
        .order_by(
            TrainingSession.started_at,
            TrainingSession.id,
            LoggedSet.performed_at,
            LoggedSet.set_index,
        )
        .execution_options(yield_per=BATCH)
    )
    text_out = io.StringIO()
    writer = csv.writer(text_out)
    writer.writerow(CSV_COLUMNS)
    sessions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    set_count = 0
    result = await session.stream(statement)
    async for row in result:
        if current is None or current["id"] != str(row.id):
            current = {
                "id": str(row.id),
                "started_at": _iso(row.started_at, zone),
                "finished_at": _iso(row.finished_at, zone),
                "workout": row.workout,
                "source": str(row.source),
                "soreness": row.soreness,
                "notes": row.notes,
                "sets": [],
            }
            sessions.append(current)
        if row.set_id is None:
            continue
        set_count += 1
        performed = row.performed_at.astimezone(zone)
        load = "" if row.load_kg is None else display_load(row.load_kg, unit, step=Decimal("0.01"))
        writer.writerow(
            (
                performed.date().isoformat(),
                performed.strftime("%H:%M"),
                row.id,
                _cell(row.workout or ""),
                _cell(row.exercise),
                row.set_index + 1,
                "yes" if row.is_warmup else "",
                "" if row.reps is None else row.reps,
                _number(row.load_kg),
                load,
                unit.value,
                _number(row.added_load_kg),
                "yes" if row.is_bodyweight else "",
                _number(row.rpe),
                "" if row.duration_seconds is None else row.duration_seconds,
                _number(row.distance_m),
                "" if row.soreness is None else row.soreness,
                _cell(row.notes or ""),
                _cell(row.set_notes or ""),
            )
        )
        current["sets"].append(
            {
                "exercise_id": str(row.exercise_id),
                "exercise": row.exercise,
                "set": row.set_index + 1,
                "performed_at": _iso(row.performed_at, zone),
                "reps": row.reps,
                "load_kg": _json_number(row.load_kg),
                "load": _json_number(Decimal(load)) if load else None,
                "added_load_kg": _json_number(row.added_load_kg),
                "is_bodyweight": row.is_bodyweight,
                "duration_seconds": row.duration_seconds,
                "distance_m": _json_number(row.distance_m),
                "rpe": _json_number(row.rpe),
                "rir": row.rir,
                "is_warmup": row.is_warmup,
                "notes": row.set_notes,
            }
        )
    document = {
        "exported_at": _iso(now or dt.datetime.now(dt.UTC), zone),
        "timezone": zone.key,
        "unit": unit.value,
        "sessions": sessions,
    }
    return LogExport(
        csv=("\ufeff" + text_out.getvalue()).encode("utf-8"),
        json=json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"),
        session_count=len(sessions),
        set_count=set_count,
    )
