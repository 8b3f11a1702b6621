"""`motriforge shell` run end to end from a script file: a real process with the database,
the emulator and the bot in it; the output is the contract the README shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy.engine import URL

SCRIPT = """\
# a newcomer onboards in French, then a second person arrives
@ann fr
/start
tap Français
tokyo
tap 1
@bob
/start
tap 2
/cancel
hello
"""


def test_shell_script_end_to_end(empty_database_url: URL, tmp_path: Path) -> None:
    script = tmp_path / "story.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {**os.environ}
    env.pop("BOT_TOKEN", None)
    env.pop("REDIS_URL", None)
    env["DATABASE_URL"] = empty_database_url.set(drivername="postgresql").render_as_string(
        hide_password=False
    )
    with script.open(encoding="utf-8") as stdin:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "shell"],
            stdin=stdin,
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The empty database was migrated and seeded by the shell itself.
    assert lines[0].startswith("<- @ann: Bienvenue sur MōtriForge, Ann !")
    assert "   [1] English  [2] Français  [3] Русский" in lines
    assert "<- @ann (edited): Langue : Français" in lines
    assert any(
        line.startswith("<- @ann: Fuseau horaire : Asia/Tokyo (UTC+09:00).") for line in lines
    )
    assert "   [1] 🏋 Je m'entraîne" in lines
    assert "<- @ann (edited): 🏋 Je m'entraîne" in lines
    # @bob is another person, in English; `tap 2` picked Français for him.
    assert any(line.startswith("<- @bob: Welcome to MōtriForge, Bob!") for line in lines)
    assert "<- @bob (edited): Langue : Français" in lines
    assert "<- @bob: Annulé. Rien d'autre n'a été modifié." in lines
    assert "<- @bob: Désolé, je n'ai pas compris." in lines
    assert "Traceback" not in result.stdout + result.stderr
