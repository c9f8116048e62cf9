"""The command line on a read-only database and with a second terminal chat (issue 10, items 11, 15)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    return {**env, "PYTHONPATH": str(ROOT), "CRM_DATA_DIR": str(tmp_path / "data"), **extra}


def _cli(tmp_path: Path, *args: str, stdin: str = "", **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **extra),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_read_only_database_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    assert _cli(tmp_path, "migrate").returncode == 0
    db = tmp_path / "data" / "crm.sqlite3"
    # SQLite's read-only mode stands for a read-only mount: the tests run as root, whom chmod won't stop
    done = _cli(
        tmp_path,
        "users",
        "add",
        "7",
        "--name",
        "Ann",
        CRM_DATABASE_URL=f"sqlite:///file:{db}?mode=ro&uri=true",
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: cannot write the database at file:{db} (read-only?)"]
    assert "Traceback" not in done.stderr


def _wait_until_locked(lock: Path) -> None:
    """Until another process holds `lock` (we fail to take it), at most 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if lock.exists():
            with lock.open("ab") as probe:
                try:
                    fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return
                fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
        time.sleep(0.1)
    raise AssertionError("the first chat never took the lock")


def test_a_second_terminal_chat_on_the_same_data_folder_is_refused(tmp_path: Path) -> None:
    first = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_locked(tmp_path / "data" / "terminal.lock")
        second = _cli(tmp_path, "chat", stdin="/quit\n")
        assert second.returncode == 2
        assert "a terminal chat is already open" in second.stderr
        first.communicate("/quit\n", timeout=60)
        assert first.returncode == 0
        third = _cli(tmp_path, "chat", stdin="/quit\n")  # the lock went with the first process
        assert third.returncode == 0, third.stderr
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_in_process_chat_is_refused_while_the_lock_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRM_BOT_TOKEN", raising=False)
    with (tmp_path / "terminal.lock").open("ab") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["chat"]) == 2
