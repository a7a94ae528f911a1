"""Running `kopplingar` as cron, systemd or an operator does: a child process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLI = [sys.executable, "-m", "kopplingar.cli"]


def clean_env(data_dir: Path) -> dict[str, str]:
    """This environment without any kopplingar setting or .env database, data in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPLINGAR_")}
    env.pop("DATABASE_URL", None)
    env["KOPPLINGAR_DATA_DIR"] = str(data_dir)
    return env


def kopplingar(
    *args: str, env: dict[str, str], cwd: Path, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
