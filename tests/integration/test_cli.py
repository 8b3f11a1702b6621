"""The `motriforge` command as a user runs it (a real process, a real database)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from domain import migrate


def run_cli(url: URL | None, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("BOT_TOKEN", None)
    if url is not None:
        env["DATABASE_URL"] = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_help_lists_the_commands_of_the_design(tmp_path: Path) -> None:
    result = run_cli(None, tmp_path, "--help")
    assert result.returncode == 0
    for command in (
        "run",
        "webhook",
        "shell",
        "db",
        "seed",
        "admin",
        "import-program",
        "version",
        "doctor",
    ):
        assert command in result.stdout


def test_version(tmp_path: Path) -> None:
    result = run_cli(None, tmp_path, "version")
    assert result.returncode == 0
    assert result.stdout.startswith("motriforge 0.")


def test_run_needs_a_bot_token(tmp_path: Path) -> None:
    result = run_cli(None, tmp_path, "run")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: invalid configuration: BOT_TOKEN: not set (the token BotFather gave you)"
    )


def test_webhook_refuses_to_start_without_secret(tmp_path: Path) -> None:
    env_token = "123456789:AAEmulatorTokenForTestsOnly_0123456"
    (tmp_path / ".env").write_text(f"BOT_TOKEN={env_token}\nWEBHOOK_URL=https://bot.example\n")
    result = run_cli(None, tmp_path, "webhook")
    assert result.returncode == 2
    assert "WEBHOOK_SECRET: not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_doctor_db_upgrade_current_downgrade(empty_database_url: URL, tmp_path: Path) -> None:
    before = run_cli(empty_database_url, tmp_path, "doctor")
    assert before.returncode == 0, before.stderr
    assert "database: reachable, PostgreSQL" in before.stdout
    assert "migrations: behind (database at empty" in before.stdout
    assert "********" not in before.stdout  # no secret set, nothing to mask

    upgraded = run_cli(empty_database_url, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"database at revision {migrate.head_revision()}" in upgraded.stdout

    after = run_cli(empty_database_url, tmp_path, "doctor")
    assert f"migrations: up to date ({migrate.head_revision()})" in after.stdout

    current = run_cli(empty_database_url, tmp_path, "db", "current")
    assert "(up to date)" in current.stdout

    down = run_cli(empty_database_url, tmp_path, "db", "downgrade", "base")
    assert down.returncode == 0, down.stderr
    assert "base (empty)" in down.stdout


@pytest.mark.parametrize("secret", ["BOT_TOKEN", "WEBHOOK_SECRET"])
def test_doctor_masks_secrets(empty_database_url: URL, tmp_path: Path, secret: str) -> None:
    value = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
    (tmp_path / ".env").write_text(f"{secret}={value}\n")
    result = run_cli(empty_database_url, tmp_path, "doctor")
    assert result.returncode == 0, result.stderr
    assert value not in result.stdout + result.stderr
    assert "********" in result.stdout


def test_unreachable_database_is_one_line_exit_3(tmp_path: Path) -> None:
    unreachable = URL.create("postgresql", username="x", host="127.0.0.1", port=1, database="x")
    result = run_cli(unreachable, tmp_path, "db", "current")
    assert result.returncode == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "database: postgresql://x@127.0.0.1:1/x"  # which database was tried
    assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
    assert "database unreachable" in lines[-1]
    assert "Traceback" not in result.stderr
