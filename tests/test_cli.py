"""The command line: user management, the flow description, and the terminal chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.router import Router
from bot.terminal import TERMINAL_ID, TerminalChat
from storage import repo
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.delenv("CRM_BOT_TOKEN", raising=False)
    return tmp_path


def test_users_add_list_deactivate(sqlite_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "add", "100", "--name", "Boss", "--role", "manager"]) == 0
    assert main(["users", "add", "200", "--name", "Ann", "--role", "sales", "--manager", "100"]) == 0
    assert main(["users", "add", "300", "--name", "Bob", "--manager", "999"]) == 2  # unknown manager
    assert main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "200\tAnn\tsales\tmanager=100\tactive" in out
    assert "300" not in out.split("registered 200 as sales")[1]
    assert main(["users", "deactivate", "200"]) == 0
    assert main(["users", "deactivate", "404"]) == 2
    main(["users", "list"])
    assert "200\tAnn\tsales\tmanager=100\tdeactivated" in capsys.readouterr().out


def test_flows_are_printed_from_their_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flows"]) == 0
    out = capsys.readouterr().out
    assert "credit_code [text, Later allowed, conditional, duplicate check]" in out
    assert "next_at [text, Later allowed, echo + confirm]" in out
    assert "统一社会信用代码" in out


def test_run_without_a_token_opens_the_terminal_chat(sqlite_env: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRM_BOT_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=sqlite_env,
        env={**env, "PYTHONPATH": str(ROOT)},
        input="/new_customer\n2\n张三\n/cancel\n/quit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "terminal chat" in done.stdout
    assert "客户真实姓名" in done.stdout and "客户状态" in done.stdout and "未保存" in done.stdout


async def test_terminal_chat_numbers_buttons_and_shares_contacts(db: Database) -> None:
    async with db.sessions.begin() as s:
        await repo.add_user(s, TERMINAL_ID, "terminal", "admin")
    chat = TerminalChat(Router(db.sessions))
    out = "\n".join(await chat.feed("/new_contact"))
    assert "属于哪个客户" in out
    out = "\n".join(await chat.feed("/cancel"))
    assert "未保存" in out
    await chat.feed("/new_customer")
    out = "\n".join(await chat.feed("1"))  # [1] 企业客户
    assert "工商注册全称" in out
    out = "\n".join(await chat.feed("/location 22.5 113.9"))
    assert "不需要位置" in out
    assert await chat.feed("/location north south") == []


def test_run_webhook_without_its_settings_says_which_is_missing(
    sqlite_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRM_BOT_TOKEN", "123456789:AAF4ke-T0ken-for-offline-tests-only_xyz")
    monkeypatch.delenv("CRM_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("CRM_WEBHOOK_SECRET", raising=False)
    assert main(["run", "--webhook"]) == 2
    assert "CRM_WEBHOOK_URL" in capsys.readouterr().err
    monkeypatch.setenv("CRM_WEBHOOK_URL", "https://bot.example.com/tg")
    assert main(["run", "--webhook"]) == 2
    assert "CRM_WEBHOOK_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("CRM_WEBHOOK_SECRET", "not allowed: spaces")
    assert main(["run", "--webhook"]) == 2
    assert "CRM_WEBHOOK_SECRET" in capsys.readouterr().err
