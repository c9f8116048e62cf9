"""Import progress (issue 13, "one message is edited to show progress") through the router: a big file
reports "⏳ checking row …" while its rows are checked in a thread and "⏳ importing …" per batch while
they are inserted, in increasing order and ending at the total; a small file says nothing; a progress
display that fails does not fail the import. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.router import Result, Router
from bot.turn import Fetch, Incoming, Progress
from flows.imports import Mapping_, check_rows, match_headers
from storage.files import FileStore
from storage.models import Contact, Customer
from tests.conftest import Clock, Database
from tests.data.book import BOSS, populate
from tests.people import Person


def customers_csv(rows: int) -> bytes:
    """`rows` distinct, valid customers (no duplicates among them nor with tests/data/book.py)."""
    lines = ["客户名称,手机,邮箱,客户状态"]
    lines += [f"进度测试{i}号贸易有限公司,139{i:08d},p{i}@progress{i % 89}.cn,潜在客户" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


class Watched(Router):
    """The real router, handed a progress function that writes down what it is told (or fails)."""

    def __init__(self, *args: Any, fail: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[str] = []
        self.fail = fail

    async def _collect(self, text: str) -> None:
        self.seen.append(text)
        if self.fail:
            raise RuntimeError("the progress display broke")

    async def handle(
        self, inc: Incoming, fetch: Fetch | None = None, progress: Progress | None = None
    ) -> Result:
        return await super().handle(inc, fetch, progress or self._collect)


async def _watched(db: Database, tmp_path: Path, clock: Clock, fail: bool = False) -> Watched:
    files = FileStore(tmp_path / "data" / "attachments")
    await populate(db.sessions, files, clock())
    return Watched(db.sessions, clock=clock, files=files, fail=fail)


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def _numbers(texts: list[str], pattern: str) -> list[tuple[int, int]]:
    out = []
    for text in texts:
        found = re.fullmatch(pattern, text)
        assert found, f"{text!r} is no progress text like {pattern!r}"
        out.append((int(found[1].replace(",", "")), int(found[2].replace(",", ""))))
    return out


async def test_a_big_import_reports_checking_then_importing_up_to_the_total(
    db: Database, tmp_path: Path, clock: Clock
) -> None:
    router = await _watched(db, tmp_path, clock)
    boss = Person(router, BOSS)
    before = await _count(db, Customer)
    await boss.command("import")
    await boss.send_file(customers_csv(2500), "document", "客户.csv", "text/csv")
    assert "导入预览(客户,共 2500 行)" in boss.text and "将新建 2500 条" in boss.text
    checking = _numbers(router.seen, r"⏳ 正在检查第 (\d+)/(\d+) 行…")
    assert len(checking) >= 2 and checking[-1] == (2500, 2500)
    assert [d for d, _ in checking] == sorted(set(d for d, _ in checking))  # increasing, no repeats
    assert {total for _, total in checking} == {2500}

    router.seen.clear()
    await boss.tap("导入 2500 条")
    assert "✅ 已导入 2500 条客户" in boss.text
    # one report per batch of 1,000, each after the batch is written and indexed
    assert router.seen == [
        "⏳ 正在导入 1000/2500 条…",
        "⏳ 正在导入 2000/2500 条…",
        "⏳ 正在导入 2500/2500 条…",
    ]
    assert await _count(db, Customer) == before + 2500


async def test_contacts_report_in_english_and_a_small_file_reports_nothing(
    db: Database, tmp_path: Path, clock: Clock
) -> None:
    router = await _watched(db, tmp_path, clock)
    boss = Person(router, BOSS, lang="en")
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰春燕海波"  # names have no digits
    names = [f"{s}{a}{b}" for s in "王李" for a in given for b in given][:1200]
    rows = ["客户名称,姓名,手机"] + [f"杭州数澜科技有限公司,{n},137{i:08d}" for i, n in enumerate(names)]
    before = await _count(db, Contact)
    await boss.command("import")
    await boss.send_file("\n".join(rows).encode(), "document", "contacts.csv", "text/csv")
    assert "Import preview (contacts, 1200 rows)" in boss.text
    checking = _numbers(router.seen, r"⏳ Checking row ([\d,]+) of ([\d,]+)…")
    assert checking[-1] == (1200, 1200) and router.seen[-1] == "⏳ Checking row 1,200 of 1,200…"
    router.seen.clear()
    await boss.tap("Import 1200")
    assert "Imported 1200 contacts" in boss.text
    assert router.seen == ["⏳ Importing 1,000 of 1,200…", "⏳ Importing 1,200 of 1,200…"]
    assert await _count(db, Contact) == before + 1200

    router.seen.clear()
    await boss.command("import")
    await boss.send_file("name,phone\n王五,13912349999\n".encode(), "document", "x.csv", "text/csv")
    await boss.tap("Import 1")
    assert "Imported 1 customers" in boss.text and router.seen == []  # done in a blink: no "⏳"


async def test_a_progress_display_that_fails_does_not_fail_the_import(
    db: Database, tmp_path: Path, clock: Clock
) -> None:
    router = await _watched(db, tmp_path, clock, fail=True)
    boss = Person(router, BOSS)
    before = await _count(db, Customer)
    await boss.command("import")
    await boss.send_file(customers_csv(1500), "document", "客户.csv", "text/csv")
    assert "将新建 1500 条" in boss.text
    await boss.tap("导入 1500 条")
    assert "✅ 已导入 1500 条客户" in boss.text and len(router.seen) >= 3  # told, failed each time
    assert await _count(db, Customer) == before + 1500


def test_check_rows_reports_every_n_rows_and_at_the_end() -> None:
    from flows.imports import BookKeys

    table = [["客户名称", "手机"]] + [[f"测试{i}号有限公司", f"139{i:08d}"] for i in range(1234)]
    m = match_headers(table[0])
    calls: list[tuple[int, int]] = []
    keys = BookKeys({}, {}, {})
    checked = check_rows(table, Mapping_(m.kind, m.columns), keys, "zh", lambda *n: calls.append(n), 500)
    assert len(checked.new) == 1234
    assert calls == [(500, 1234), (1000, 1234), (1234, 1234)]


async def test_the_terminal_prints_progress_lines_at_most_once_a_second(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.terminal import printed_progress

    show = printed_progress(every=60.0)
    for n in (500, 1000, 1500):
        await show(f"⏳ 正在检查第 {n}/1500 行…")
    assert capsys.readouterr().out == "⏳ 正在检查第 500/1500 行…\n"  # the rest came within the minute
