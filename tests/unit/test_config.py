from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.config import ConfigError, load_settings

GOOD_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BOT_TOKEN", "DATABASE_URL", "REDIS_URL", "WEBHOOK_URL", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_use_embedded_database() -> None:
    settings = load_settings()
    assert settings.database_url is None
    assert settings.async_database_url() is None
    assert settings.default_locale == "en"
    assert settings.telegram_api_base == "https://api.telegram.org"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "not a url", "DATABASE_URL: not a URL"),
        ("DATABASE_URL", "mysql://u@h/db", "DATABASE_URL: backend 'mysql' is not PostgreSQL"),
        ("DATABASE_URL", "postgresql://u@h", "DATABASE_URL: no database name"),
        ("BOT_TOKEN", "abc", "BOT_TOKEN: expected '<digits>:"),
        ("BOT_TOKEN", "123:short", "BOT_TOKEN: expected"),
        ("REDIS_URL", "http://x", "REDIS_URL: expected redis://"),
        ("TELEGRAM_API_BASE", "ftp://x", "TELEGRAM_API_BASE: expected an http"),
        ("DEFAULT_LOCALE", "de", "DEFAULT_LOCALE:"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN={GOOD_TOKEN}\nDEFAULT_LOCALE=fr\n")
    settings = load_settings()
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == GOOD_TOKEN
    assert settings.default_locale == "fr"


def test_masked_hides_secrets_and_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", GOOD_TOKEN)
    monkeypatch.setenv("DATABASE_URL", "postgresql://bob:hunter2@db:5432/app")
    shown = load_settings().masked()
    assert shown["BOT_TOKEN"] == "********"
    assert "hunter2" not in shown["DATABASE_URL"]
    assert shown["DATABASE_URL"].startswith("postgresql://bob:***@db:5432/app")
    assert load_settings().async_database_url() is not None


@pytest.mark.parametrize(
    ("variable", "value"), [("DATABASE_URL", "nonsense"), ("BOT_TOKEN", "12:x")]
)
def test_cli_fails_fast_with_one_line_and_exit_2(tmp_path: Path, variable: str, value: str) -> None:
    env = {**os.environ, variable: value}
    env.pop("DATABASE_URL" if variable != "DATABASE_URL" else "BOT_TOKEN", None)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: invalid configuration: {variable}:")
    assert "Traceback" not in result.stderr + result.stdout
