"""Every translatable string of bot/ is in every catalog, translated, with the same
placeholders; the catalogs compile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import EXTRACT_KEYWORDS, CatalogI18n, compile_catalog, locales_dir
from domain.config import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


def source_strings() -> set[str]:
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "bot", method_map=[("**.py", "python")], keywords=EXTRACT_KEYWORDS
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.add(text)
    return found


def catalog(locale: str) -> dict[str, str]:
    path = locales_dir() / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=locale)
    found: dict[str, str] = {}
    for message in parsed:
        if not message.id or message.fuzzy:
            continue
        if message.pluralizable:
            # Both ids map to a form (singular → first, plural → last); any empty form
            # leaves the pair untranslated.
            forms = tuple(message.string)
            complete = all(forms)
            found[str(message.id[0])] = str(forms[0]) if complete else ""
            found[str(message.id[1])] = str(forms[-1]) if complete else ""
        else:
            found[str(message.id)] = str(message.string)
    return found


def test_source_has_strings() -> None:
    assert len(source_strings()) > 50


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_catalog_complete(locale: str) -> None:
    translations = catalog(locale)
    missing = sorted(text for text in source_strings() if not translations.get(text))
    assert not missing, f"{locale}: missing or empty translations: {missing}"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_placeholders_match(locale: str) -> None:
    wrong = [
        msgid
        for msgid, msgstr in catalog(locale).items()
        if set(PLACEHOLDER.findall(msgid)) != set(PLACEHOLDER.findall(msgstr))
    ]
    assert not wrong, f"{locale}: placeholders differ in {wrong}"


def test_catalogs_compile_and_translate() -> None:
    i18n = CatalogI18n()
    assert set(i18n.available_locales) == set(SUPPORTED_LOCALES)
    assert i18n.gettext("Saved.", locale="fr") == "Enregistré."
    assert i18n.gettext("Saved.", locale="ru") == "Сохранено."
    path = locales_dir() / "fr" / "LC_MESSAGES" / "messages.po"
    assert compile_catalog(path, "fr").gettext("Saved.") == "Enregistré."


def test_no_stale_compiled_catalogs_committed() -> None:
    # Catalogs are compiled from the .po when the bot starts; a .mo in the tree would rot.
    assert not list(locales_dir().glob("*/LC_MESSAGES/*.mo"))
