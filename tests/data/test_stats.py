"""Quality numbers (issue 13): /stats for a sales rep (their own) and a manager (each person and the
team), this week / a month, as text and a PNG chart with CJK labels; `crm-bot stats`; the monthly
report each manager receives on the 1st, once."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import pytest

from bot.quality import MonthlyReports
from bot.router import Router
from flows import stats as rules
from storage.files import FileStore
from tests.conftest import Clock, Database
from tests.data.book import ADMIN, BOB, BOSS, cli_book, populate
from tests.people import Person


@pytest.fixture
async def router(db: Database, tmp_path: Path, clock: Clock) -> Router:
    files = FileStore(tmp_path / "data" / "attachments")
    await populate(db.sessions, files, clock())
    return Router(db.sessions, clock=clock, files=files)


def _png(person: Person) -> Path:
    (file,) = [f for r in person.last.replies for f in r.files]  # type: ignore[union-attr]
    path = Path(file["path"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


async def test_a_manager_sees_each_person_and_the_team_this_month(router: Router) -> None:
    boss = Person(router, BOSS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await boss.command("stats", "month")
    assert not [w for w in caught if "missing from" in str(w.message)], "a CJK label did not render"
    text = boss.text
    assert "📊 数据质量 · 2026-11" in text
    ann = text.split("👤 王芳")[1].split("👤")[0]
    # 数澜 9/9 required fields, 张三 4/8 (industry, address, source empty; e-mail pending) → 13/17
    assert "客户 76%" in ann and "联系人 100%" in ann and "跟进 100%" in ann
    assert "待补充 1 项" in ann and "逾期跟进 0 条" in ann and "24小时内录入 100%(共 1 条跟进)" in ann
    assert "新客户 2 个" in ann
    assert "👤 李经理" in text and "👤 团队合计" in text and "Bob" not in text  # Bob is not on the team
    assert _png(boss).stat().st_size > 5000


async def test_a_sales_rep_sees_only_their_own_and_overdue_counts(router: Router, clock: Clock) -> None:
    bob = Person(router, BOB, lang="en")
    await bob.command("stats")  # this week: Mon 16 - Sun 22 Nov
    text = bob.text
    assert "week from 2026-11-16" in text and text.count("👤") == 1 and "Team" not in text
    # Acme 4/9 (credit code and phone pending), John 3/4, his follow-up 3/5 (no demand status, no next time)
    assert "customers 44%" in text and "contacts 75%" in text and "follow-ups 60%" in text
    assert "3 pending fields" in text and "Within 24 h: 100% of 1 follow-ups" in text
    _png(bob)
    await bob.command("stats", "2026-10")
    assert "customers —" in bob.text and "0 new customers" in bob.text
    await bob.command("stats", "someday")
    assert "Usage: /stats" in bob.text

    clock.advance(days=4)  # Ann's follow-up was due 3 days after the visit: overdue now
    admin = Person(router, ADMIN, lang="en")
    await admin.command("stats", "2026-11")
    ann = admin.text.split("👤 王芳")[1].split("👤")[0]
    assert "1 overdue follow-ups" in ann


def test_periods() -> None:
    today = dt.date(2026, 11, 22)
    assert rules.period("", today) == rules.Period(
        dt.date(2026, 11, 16), dt.date(2026, 11, 23), "2026-11-16+7"
    )
    assert rules.period("本月", today) == rules.month_period(2026, 11)
    assert rules.period("2026-12", today) == rules.Period(
        dt.date(2026, 12, 1), dt.date(2027, 1, 1), "2026-12"
    )
    assert rules.period("2026-13", today) is None
    assert rules.previous_month(dt.date(2026, 1, 1)).label == "2025-12"


class FakeBot:
    def __init__(self) -> None:
        self.sent: list[tuple[str, int, Any]] = []

    async def send_message(self, chat_id: int, text: str) -> None:
        self.sent.append(("text", chat_id, text))

    async def send_photo(self, chat_id: int, photo: Any) -> None:
        self.sent.append(("photo", chat_id, photo.read()[:4]))


async def test_each_manager_gets_last_months_report_on_the_first_once(
    router: Router, db: Database, clock: Clock, tmp_path: Path
) -> None:
    await Person(router, BOSS).command("help")  # the bot knows the manager's chat from here on
    bot = FakeBot()
    monthly = MonthlyReports(db.sessions, bot, tmp_path, "Asia/Shanghai", clock=clock)
    assert await monthly.tick() == 0  # 22 November: not the 1st
    clock.at = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 1 December 09:00 in Shanghai
    assert await monthly.tick() == 1
    (text, photo) = bot.sent
    assert (
        text[1] == BOSS and "上月团队数据质量报告" in text[2] and "2026-11" in text[2] and "王芳" in text[2]
    )
    assert photo[0] == "photo" and photo[2] == b"\x89PNG"
    assert await monthly.tick() == 0 and len(bot.sent) == 2  # once, however often it looks


def test_crm_bot_stats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    cli_book(tmp_path, monkeypatch, dt.datetime(2026, 11, 5, tzinfo=dt.UTC))
    assert main(["stats", "--as", str(BOSS), "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "数据质量 · 2026-11" in out and "客户 76%" in out and "团队合计" in out
    assert main(["stats", "--as", str(BOSS), "--month", "11/2026"]) == 2
