"""Logs carry exception types and code locations, never values (issue 10, item 2)."""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from bot import logsafe
from storage import repo
from storage.models import User
from tests.conftest import Database

TOKEN = "1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_-"
OTHER = "987654:ZZZdqTcvCH1vGWJxfSeofSAs0K5PALDsaw12"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged at DEBUG after bot.logsafe.setup_logging, as the console would show it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(logsafe.FORMAT))
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *logsafe.CAPPED, "sqlalchemy.engine")}
    root.addHandler(handler)
    logsafe.setup_logging(logging.DEBUG, TOKEN)
    try:
        yield stream
    finally:
        logsafe.uninstall()
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def test_a_token_is_redacted_in_the_message_and_in_the_args(captured: io.StringIO) -> None:
    log = logging.getLogger("crm-bot.test")
    log.info("calling https://api.telegram.org/bot%s/getMe", TOKEN)
    log.warning(f"inline {OTHER} and configured {TOKEN}")
    log.error("as a mapping %(url)s", {"url": f"https://x/bot{OTHER}/sendMessage"})
    text = captured.getvalue()
    assert TOKEN not in text and OTHER not in text
    assert TOKEN.split(":")[1] not in text
    assert text.count(logsafe.MASK) == 4


def test_an_exception_logs_its_type_and_location_not_its_text(captured: io.StringIO) -> None:
    log = logging.getLogger("crm-bot.test")
    try:
        raise ValueError("王小明 +8613812345678 wang@example.com")
    except ValueError as exc:
        log.exception("save failed: %s", exc)
    text = captured.getvalue()
    assert "save failed: ValueError" in text
    assert "builtins.ValueError" in text and "test_logsafe.py" in text
    assert "王小明" not in text and "13812345678" not in text and "wang@example.com" not in text


def test_httpx_requests_at_debug_do_not_show_the_token(captured: io.StringIO) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    with httpx.Client(transport=transport) as client:
        client.get(f"https://api.telegram.org/bot{TOKEN}/getMe")
        logging.getLogger("httpx").setLevel(logging.DEBUG)  # even if someone turns httpx back on
        client.get(f"https://api.telegram.org/bot{OTHER}/getMe")
    text = captured.getvalue()
    assert "HTTP Request" in text  # the second request was logged, and masked
    assert TOKEN not in text and OTHER not in text


async def test_a_failed_save_at_debug_logs_no_customer_data(db: Database, captured: io.StringIO) -> None:
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # echo on: statements are logged
    ghost = User(id=424242, telegram_id=1, name="ghost", role="sales")  # no such row: FK violation
    answers = {
        "kind": "individual",
        "name": "王小明",
        "phone": "+8613812345678",
        "email": "wang.xiaoming@example.com",
    }
    now = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)
    with pytest.raises(Exception) as failed:
        async with db.sessions.begin() as s:
            await repo.create_customer(s, ghost, answers, [], now, now.date())
    logging.getLogger("crm-bot").exception("save failed: %s", failed.value)
    text = captured.getvalue()
    assert "IntegrityError" in text and "INSERT INTO customers" in text
    for field in ("name", "phone", "email"):
        assert answers[field] not in text, field
    assert "王小明" not in str(failed.value)  # hide_parameters: not in the exception text either
