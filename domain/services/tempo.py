"""Tempo: "3-1-X-0" as TEMPO rows and back — the one place that spells it.

A tempo has up to four phases in the usual order: eccentric (lowering), pause at the bottom,
concentric (lifting), pause at the top. Each TEMPO row names its phase's TEMPO_TYPE and its own
``seconds`` (migration 0007; NULL on rows written before it: the type's default applies). "X" is
as fast as possible (usually the concentric): TEMPO_TYPE EXPLOSIVE with 0 seconds, its
position kept by ``order_index``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import InvalidInput
from domain.models.workout import Tempo, TempoType

PHASE_KINDS = ("ECCENTRIC", "PAUSE_BOTTOM", "CONCENTRIC", "PAUSE_TOP")
EXPLOSIVE = "EXPLOSIVE"
MAX_PHASE_SECONDS = 60
TEMPO_TEXT = re.compile(r"^(\d{1,2}|[xX])(-(\d{1,2}|[xX])){1,3}$")


@dataclass(frozen=True, slots=True)
class Phase:
    kind: str  # a TEMPO_TYPE code
    seconds: int

    @property
    def text(self) -> str:
        return "X" if self.kind == EXPLOSIVE else str(self.seconds)


def parse_tempo(text: str) -> tuple[Phase, ...]:
    """ "3-1-X-0" → four phases; InvalidInput for anything else (2 to 4 phases, each 0–60 s
    or X: as fast as possible, usually the concentric)."""
    cleaned = text.strip()
    if not TEMPO_TEXT.fullmatch(cleaned):
        raise InvalidInput(f"tempo {text!r} is not like 3-1-1-0", tempo=text)
    phases = []
    for position, part in enumerate(cleaned.split("-")):
        if part.upper() == "X":
            phases.append(Phase(EXPLOSIVE, 0))
            continue
        seconds = int(part)
        if seconds > MAX_PHASE_SECONDS:
            raise InvalidInput(f"tempo {text!r}: a phase of {seconds} s", tempo=text)
        phases.append(Phase(PHASE_KINDS[position], seconds))
    return tuple(phases)


def tempo_text(phases: Sequence[Phase]) -> str:
    return "-".join(phase.text for phase in phases)


def tempo_rows(
    instruction_id: uuid.UUID, phases: Iterable[Phase], type_ids: dict[str, uuid.UUID]
) -> list[Tempo]:
    """The TEMPO rows of one instruction (``type_ids``: TEMPO_TYPE code → id)."""
    return [
        Tempo(
            exercise_instruction_id=instruction_id,
            order_index=position,
            tempo_type_id=type_ids[phase.kind],
            seconds=phase.seconds,
        )
        for position, phase in enumerate(phases)
    ]


async def tempo_type_ids(session: AsyncSession) -> dict[str, uuid.UUID]:
    rows = await session.execute(select(TempoType.code, TempoType.id))
    return dict(rows.all())


async def tempos_of(
    session: AsyncSession, instruction_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[Phase, ...]]:
    """instruction id → its phases (instructions without a tempo are absent). One statement."""
    if not instruction_ids:
        return {}
    rows = await session.execute(
        select(
            Tempo.exercise_instruction_id,
            TempoType.code,
            func.coalesce(Tempo.seconds, TempoType.time_under_tension_seconds, 0),
        )
        .join(TempoType, TempoType.id == Tempo.tempo_type_id)
        .where(Tempo.exercise_instruction_id.in_(list(instruction_ids)))
        .order_by(Tempo.exercise_instruction_id, Tempo.order_index)
    )
    found: dict[uuid.UUID, list[Phase]] = {}
    for instruction_id, kind, seconds in rows:
        found.setdefault(instruction_id, []).append(Phase(kind, int(seconds)))
    return {key: tuple(phases) for key, phases in found.items()}


async def tempo_texts(
    session: AsyncSession, instruction_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """instruction id → "3-1-X-0", for display."""
    return {
        key: tempo_text(phases)
        for key, phases in (await tempos_of(session, instruction_ids)).items()
    }
