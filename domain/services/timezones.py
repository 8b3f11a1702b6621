"""Finding a person's IANA time zone from what they type or the location they share."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache

from tzfpy import get_tz

# Offered as one-tap choices during onboarding, most common for each locale first.
COMMON_TIMEZONES: tuple[str, ...] = (
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Moscow",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
)
_LOCALE_FIRST = {"fr": "Europe/Paris", "ru": "Europe/Moscow", "en": "Europe/London"}


def common_timezones(locale: str) -> list[str]:
    first = _LOCALE_FIRST.get(locale)
    return (
        [first, *(zone for zone in COMMON_TIMEZONES if zone != first)]
        if first
        else list(COMMON_TIMEZONES)
    )


@cache
def _zones() -> dict[str, str]:
    """Lower-cased lookups: full names, and city names when only one zone has that city."""
    names = sorted(zoneinfo.available_timezones())
    lookup = {name.lower(): name for name in names}
    cities: dict[str, set[str]] = {}
    for name in names:
        if "/" in name and not name.startswith(("Etc/", "SystemV/")):
            city = name.rsplit("/", 1)[1].lower()
            cities.setdefault(city, set()).add(name)
            cities.setdefault(city.replace("_", " "), set()).add(name)
    for city, zones in cities.items():
        if len(zones) == 1:
            lookup.setdefault(city, next(iter(zones)))
    return lookup


def find_timezone(text: str) -> str | None:
    """`Europe/Berlin`, `europe/berlin`, `Berlin` or `new york` → the IANA name; else None."""
    key = " ".join(text.strip().split()).lower()
    if not key:
        return None
    return _zones().get(key) or _zones().get(key.replace(" ", "_"))


def timezone_at(latitude: float, longitude: float) -> str | None:
    """The IANA zone at a point (None in the open sea or for impossible coordinates)."""
    if not (-90.0 <= latitude <= 90.0 and -180.0 <= longitude <= 180.0):
        return None
    zone = get_tz(longitude, latitude)
    return zone if zone and zone in zoneinfo.available_timezones() else None


def utc_offset_label(zone: str, now: dt.datetime | None = None) -> str:
    """`UTC+05:30` for a zone at `now` (so a list shows what the clock says there today)."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(zoneinfo.ZoneInfo(zone))
    offset = moment.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
