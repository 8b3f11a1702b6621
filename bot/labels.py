"""How setting values read in a chat (translated labels for stored codes)."""

from __future__ import annotations

from typing import Any

from bot.i18n import N_, CatalogI18n

# Languages are named in their own language: someone who cannot read the current one still
# finds theirs.
LOCALE_NAMES = {"en": "English", "fr": "Français", "ru": "Русский"}

CHOICE_LABELS = {
    "kg": N_("kilograms (kg)"),
    "lb": N_("pounds (lb)"),
    "NONE": N_("never"),
    "WEEKLY": N_("weekly"),
    "MONTHLY": N_("monthly"),
    "MON": N_("Monday"),
    "TUE": N_("Tuesday"),
    "WED": N_("Wednesday"),
    "THU": N_("Thursday"),
    "FRI": N_("Friday"),
    "SAT": N_("Saturday"),
    "SUN": N_("Sunday"),
}
ON = N_("on")
OFF = N_("off")
NOTHING_CHOSEN = N_("none")


def value_label(value: Any, i18n: CatalogI18n, locale: str) -> str:
    if isinstance(value, bool):
        return i18n.gettext(ON if value else OFF, locale=locale)
    if isinstance(value, list):
        if not value:
            return i18n.gettext(NOTHING_CHOSEN, locale=locale)
        return ", ".join(value_label(item, i18n, locale) for item in value)
    if isinstance(value, str):
        if value in LOCALE_NAMES:
            return LOCALE_NAMES[value]
        if value in CHOICE_LABELS:
            return i18n.gettext(CHOICE_LABELS[value], locale=locale)
    return str(value)
