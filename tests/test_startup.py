"""What `crm-bot run` loads before its first getUpdates: no library that only some feature needs.

Each of these costs start-up time and idle memory in every process, for a business card, a
spreadsheet, a chart or the metrics port that may never come (issue 15: start-up and memory). The
check runs in a fresh interpreter, as `crm-bot run` does: the command line parsed, the settings,
the logging, the Application built and the runtime opened on a database already at the head
revision (what every start but the first after an upgrade finds). Libraries that import optional
parts when installed are kept out by bot.lean (httpx's command line; PTB's webhook server when
polling), and the webhook mode still gets its server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEAVY = {
    "numpy": "openpyxl pulls it in: spreadsheets",
    "PIL": "business cards (OCR) and openpyxl",
    "pytesseract": "business cards",
    "openpyxl": "import and export",
    "matplotlib": "quality charts",
    "prometheus_client": "the metrics port",
    "alembic": "only when a migration is due",
    "dateparser": "not used at all any more",
    "flows.dates": "the first date read",
    "lunar_python": "the first lunar or holiday date read",
    "phonenumbers": "the first phone number typed",
    "email_validator": "the first e-mail typed",
    "stdnum": "the first credit code typed",
    "rapidfuzz": "the first name compared",
    "tornado": "PTB's webhook server: --webhook only (bot.lean)",
    "rich": "httpx's command-line tool (bot.lean)",
    "click": "httpx's command-line tool (bot.lean)",
    "pygments": "httpx's command-line tool (bot.lean)",
    "apscheduler": "PTB's job queue, not used (no job-queue extra)",
    "pydantic": "not used: the state and the settings are msgspec Structs (~8 MiB less)",
    "pydantic_settings": "not used: bot.config reads the environment itself",
    "dotenv": "only when there is a .env file",
    "sqlalchemy.dialects.postgresql": "a PostgreSQL database (storage.upserts imports it when used)",
}


def _heavy(loaded: set[str]) -> dict[str, str]:
    """The HEAVY modules (or packages) among those loaded."""
    return {
        name: why for name, why in HEAVY.items() if any(m == name or m.startswith(f"{name}.") for m in loaded)
    }


CHILD = """
import asyncio, sys
from bot.lean import skip_unused
skip_unused(webhook=AS_WEBHOOK)
from bot.cli import build_parser
build_parser().parse_args(["run"])
from bot.config import Settings
from bot.runtime import open_runtime, setup_logging
from bot.telegram_app import build_application
settings = Settings.load()
setup_logging(settings.bot_token.get_secret_value())
build_application(settings)

async def main():
    runtime = await open_runtime(settings)
    await runtime.close()

asyncio.run(main())
from telegram.ext import _updater
assert _updater.WEBHOOKS_AVAILABLE is AS_WEBHOOK
print(" ".join(sorted(name for name, module in sys.modules.items() if module is not None)))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_BOT_TOKEN="123456789:AAF4ke-T0ken-for-offline-tests-only_xyz",
        CRM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'start.sqlite3'}",
        CRM_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def _loaded(tmp_path: Path, webhook: bool) -> set[str]:
    env = _env(tmp_path)
    migrated = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    child = CHILD.replace("AS_WEBHOOK", str(webhook))
    done = subprocess.run(
        [sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert {"telegram.ext", "sqlalchemy", "bot.router", "storage.repo", "flows.engine"} <= loaded  # the path
    return loaded


def test_the_run_path_loads_no_library_a_feature_needs_later(tmp_path: Path) -> None:
    assert _heavy(_loaded(tmp_path, webhook=False)) == {}


def test_the_webhook_mode_keeps_its_server(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, webhook=True)
    assert set(_heavy(loaded)) == {"tornado"}


def test_both_http_clients_share_one_tls_context() -> None:
    """PTB would give each of its two clients its own parsed CA bundle (~1 MiB each)."""
    from telegram.ext import Application

    from bot.config import Settings
    from bot.telegram_app import build_application

    app: Application = build_application(Settings.load(bot_token="123:abc"))  # type: ignore[type-arg]
    updates, calls = app.bot._request  # PTB keeps (getUpdates', everything else's)
    pools = [r._client._transport._pool for r in (updates, calls)]
    assert pools[0]._ssl_context is pools[1]._ssl_context
    assert (pools[0]._max_connections, pools[1]._max_connections) == (1, 256)  # PTB's own sizes
