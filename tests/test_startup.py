"""What `crm-bot run` loads before its first getUpdates: no library that only some feature needs.

Each of these costs start-up time and idle memory in every process, for a business card, a
spreadsheet, a chart or the metrics port that may never come (issue 15: start-up and memory). The
check runs in a fresh interpreter, as `crm-bot run` does: the command line parsed, the settings,
the logging, the Application built and the runtime opened on a database already at the head
revision (what every start but the first after an upgrade finds). tornado is not in the list:
python-telegram-bot's own telegram.ext imports it (for webhooks) whenever it is installed.
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
    "flows.dates": "the first date read (and the date warm-up, in a thread once polling runs)",
    "lunar_python": "the first lunar or holiday date read",
    "phonenumbers": "the first phone number typed",
    "email_validator": "the first e-mail typed",
    "stdnum": "the first credit code typed",
    "rapidfuzz": "the first name compared",
}

CHILD = """
import asyncio, sys
from bot.cli import build_parser
build_parser().parse_args(["run"])
from bot.config import Settings
from bot.runtime import open_runtime, setup_logging
from bot.telegram_app import build_application
settings = Settings()
setup_logging(settings.bot_token.get_secret_value())
build_application(settings)

async def main():
    runtime = await open_runtime(settings)
    await runtime.close()

asyncio.run(main())
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRM_")}
    env.update(
        CRM_BOT_TOKEN="123456789:AAF4ke-T0ken-for-offline-tests-only_xyz",
        CRM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'start.sqlite3'}",
        CRM_DATA_DIR=str(tmp_path / "data"),
    )
    return env


def test_the_run_path_loads_no_library_a_feature_needs_later(tmp_path: Path) -> None:
    env = _env(tmp_path)
    migrated = subprocess.run(
        [sys.executable, "-m", "bot.cli", "migrate"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert {"telegram", "sqlalchemy", "bot", "storage", "flows"} <= loaded  # it did start the bot's path
    assert {name: why for name, why in HEAVY.items() if name in loaded} == {}
