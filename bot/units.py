"""Training values as the person reads them: loads in their unit, times as a clock, distances
— one wording for every screen (guided sets, free-text replies, history, goals)."""

from __future__ import annotations

from decimal import Decimal

from bot.i18n import _
from domain.services.strength import WeightUnit, display_load, weight_unit
from domain.services.users import UserContext


def user_unit(user: UserContext) -> WeightUnit:
    """The person's ``weight_unit`` setting as read with the update."""
    return weight_unit(user.weight_unit)


def load_text(load_kg: Decimal, unit: WeightUnit, *, step: Decimal = Decimal("0.1")) -> str:
    """ "102.5 kg" / "225 lb" (stored in kg, shown in the person's unit)."""
    value = display_load(load_kg, unit, step=step)
    if unit is WeightUnit.LB:
        return _("{value} lb").format(value=value)
    return _("{value} kg").format(value=value)


def clock_text(seconds: int) -> str:
    """0:45, 25:30, 1:05:00."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def distance_text(meters: Decimal) -> str:
    """ "5 km", "400 m"."""
    if meters >= 1000:
        return _("{value} km").format(value=f"{(meters / 1000).normalize():f}")
    return _("{value} m").format(value=f"{meters.normalize():f}")
