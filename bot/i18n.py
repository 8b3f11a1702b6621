"""Translations: gettext catalogs in `locales/<lang>/LC_MESSAGES/messages.po`, compiled in memory
when the bot starts (docs/decisions.md: never a stale .mo), used through aiogram's I18n.

Handlers write `_("…")` (current locale, set per update by the locale middleware) and
`__("…")` for strings defined at import time (keyboards, command descriptions).
"""

from __future__ import annotations

import gettext
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from domain.config import SUPPORTED_LOCALES

DOMAIN = "messages"

__all__ = ["DOMAIN", "N_", "CatalogI18n", "_", "__", "locales_dir", "ngettext"]

# Keywords pybabel (and tests/unit/test_catalogs.py) extract: `_`, `__`, `N_`, `ngettext`.
EXTRACT_KEYWORDS = {"_": None, "__": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name
    """Mark a string for translation where it is defined; it is translated where it is used
    (a locale known only later, e.g. in the error middleware)."""
    return message


def locales_dir() -> Path:
    """MOTRIFORGE_LOCALES_DIR when set; else `locales/` of the source tree (editable
    installs); else the copy a wheel installs under `<prefix>/share/motriforge/locales`."""
    configured = os.environ.get("MOTRIFORGE_LOCALES_DIR")
    if configured:
        return Path(configured)
    source_tree = Path(__file__).resolve().parent.parent / "locales"
    if source_tree.is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "motriforge" / "locales"


def compile_catalog(po_path: Path, locale: str) -> gettext.GNUTranslations:
    """Read a .po file and compile it in memory (fuzzy entries left out, as pybabel does)."""
    with po_path.open("rb") as source:
        catalog = read_po(source, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class CatalogI18n(I18n):
    """aiogram's I18n reading .po catalogs (a compiled .mo is neither needed nor trusted)."""

    def __init__(self, path: Path | None = None, default_locale: str = "en") -> None:
        super().__init__(path=path or locales_dir(), default_locale=default_locale, domain=DOMAIN)

    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's `gettext()` looks up `I18n.get_current()`: the context variable is per
        # class, so a subclass must set the base class's, not its own.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale in SUPPORTED_LOCALES:
            po_path = self.path / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
            if po_path.is_file():
                translations[locale] = compile_catalog(po_path, locale)
        if not translations:
            raise RuntimeError(f"no translation catalogs found in {self.path}")
        return translations
