"""Strength arithmetic shared by logging, records, charts and goals: estimated one-rep max,
set volume, and loads in the athlete's unit.

Estimated 1RM (e1RM): Epley ``w × (1 + r/30)`` and Brzycki ``w × 36 / (37 − r)``. Both are
only meaningful for low rep counts; above ``MAX_E1RM_REPS`` no estimate is made (a set of 20
says little about a single). A single (r = 1) is its own 1RM under both.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_UP, Decimal

from domain.parsing.model import KG_PER_LB, tidy

# Above this many reps neither formula is trusted (Brzycki diverges at 37).
MAX_E1RM_REPS = 12


class WeightUnit(enum.StrEnum):
    KG = "kg"
    LB = "lb"


def weight_unit(value: str | None) -> WeightUnit:
    """The ``weight_unit`` setting's value; anything unknown reads as kg (the default)."""
    return WeightUnit.LB if value == WeightUnit.LB.value else WeightUnit.KG


def epley(load_kg: Decimal, reps: int) -> Decimal | None:
    if reps < 1 or reps > MAX_E1RM_REPS or load_kg <= 0:
        return None
    if reps == 1:
        return load_kg
    return load_kg * (1 + Decimal(reps) / 30)


def brzycki(load_kg: Decimal, reps: int) -> Decimal | None:
    if reps < 1 or reps > MAX_E1RM_REPS or load_kg <= 0:
        return None
    return load_kg * 36 / (37 - Decimal(reps))


def estimated_1rm(load_kg: Decimal, reps: int) -> Decimal | None:
    """The e1RM used for records and charts: the mean of Epley and Brzycki (they bracket
    each other: Brzycki is lower below 10 reps, higher above)."""
    first, second = epley(load_kg, reps), brzycki(load_kg, reps)
    if first is None or second is None:
        return None
    return (first + second) / 2


# The same mean as a SQL expression over logged_set columns (``load``, ``reps`` are column
# expressions of the caller's statement); NULL where no estimate is made.
def estimated_1rm_sql(load: str = "load_kg", reps: str = "reps") -> str:
    return (
        f"(CASE WHEN {reps} BETWEEN 1 AND {MAX_E1RM_REPS} AND {load} > 0 THEN "
        f"CASE WHEN {reps} = 1 THEN {load} ELSE "
        f"({load} * (1 + {reps} / 30.0) + {load} * 36.0 / (37 - {reps})) / 2 END END)"
    )


def set_volume_kg(load_kg: Decimal | None, reps: int | None) -> Decimal:
    """Volume load of one set (load × reps); bodyweight-only and timed sets count zero."""
    if load_kg is None or reps is None or load_kg <= 0:
        return Decimal(0)
    return load_kg * reps


def to_unit(load_kg: Decimal, unit: WeightUnit) -> Decimal:
    return load_kg if unit is WeightUnit.KG else load_kg / KG_PER_LB


def from_unit(load: Decimal, unit: WeightUnit) -> Decimal:
    return load if unit is WeightUnit.KG else load * KG_PER_LB


def display_load(load_kg: Decimal, unit: WeightUnit, *, step: Decimal = Decimal("0.1")) -> str:
    """``102.5`` / ``225``: a load in the user's unit, rounded to ``step``, no needless zeros,
    without the unit (the caller's translated template places it)."""
    value = to_unit(load_kg, unit)
    rounded = (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step
    return str(tidy(rounded))


# Load steps of the ± buttons in a guided set, per unit.
LOAD_STEP = {WeightUnit.KG: Decimal("2.5"), WeightUnit.LB: Decimal(5)}
