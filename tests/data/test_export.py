"""Export (issue 13): managers and admins get what they may see as one XLSX, sheets customers /
contacts / follow-ups, headers in their language; sales are refused; every export is in the audit log
and /audit exports lists them. Through the router, and `crm-bot export` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.router import Router
from storage import export
from storage.files import FileStore
from storage.models import Audit
from storage.sheets import read_xlsx
from tests.conftest import Clock, Database
from tests.data.book import ADMIN, ANN, BOB, BOSS, cli_book, populate
from tests.people import Person


@pytest.fixture
async def router(db: Database, tmp_path: Path, clock: Clock) -> Router:
    files = FileStore(tmp_path / "data" / "attachments")
    await populate(db.sessions, files, clock())
    return Router(db.sessions, clock=clock, files=files)


def _sent(person: Person) -> Path:
    (file,) = [f for r in person.last.replies for f in r.files]  # type: ignore[union-attr]
    path = Path(file["path"])
    assert file["name"] == path.name and path.suffix == ".xlsx"
    return path


async def _audits(db: Database) -> list[Audit]:
    from sqlalchemy import select

    async with db.sessions() as s:
        return list((await s.execute(select(Audit).where(Audit.action == "export"))).scalars())


async def test_a_manager_exports_the_teams_book_in_chinese(router: Router, db: Database) -> None:
    boss = Person(router, BOSS)
    await boss.command("export")
    assert "正在生成导出文件:2 个客户、1 个联系人、1 条跟进记录" in boss.text
    assert "✅ 导出完成" in boss.text and "审计日志" in boss.text
    book = read_xlsx(_sent(boss))
    assert list(book) == ["客户", "联系人", "跟进记录"]
    customers = book["客户"]
    head = customers[0]
    assert head[:3] == ["客户编号", "类型", "名称"] and "负责人" in head and "电话" in head
    rows = {r[head.index("名称")]: dict(zip(head, r, strict=True)) for r in customers[1:]}
    assert set(rows) == {"杭州数澜科技有限公司", "张三"}  # Bob's Acme is not on Boss's team
    shulan = rows["杭州数澜科技有限公司"]
    assert (shulan["类型"], shulan["状态"], shulan["行业"], shulan["来源"]) == (
        "企业客户",
        "潜在客户",
        "信息技术",
        "行业展会",
    )
    assert shulan["电话"] == "139 1234 5678" and shulan["负责人"] == "王芳" and shulan["省份"] == "浙江省"
    assert shulan["标签"] == "VIP客户" and shulan["信用代码"] == "91330106MA27XUWB6P"
    assert rows["张三"]["待补充项"] == "email"
    contacts = book["联系人"]
    assert (
        contacts[1][contacts[0].index("姓名")] == "周杰"
        and contacts[1][contacts[0].index("角色")] == "决策人"
    )
    followups = book["跟进记录"]
    assert len(followups) == 2 and followups[1][followups[0].index("方式")] == "上门拜访"

    (row,) = await _audits(db)
    assert (
        row.user_id is not None
        and '"customers": 2' in (row.detail or "")
        and '"scope": "team"' in (row.detail or "")
    )
    assert "数澜" not in (row.detail or "") and "139" not in (row.detail or "")  # counts, never values


async def test_an_admin_exports_everything_in_english_and_lists_the_exports(
    router: Router, db: Database
) -> None:
    admin = Person(router, ADMIN, lang="en")
    await admin.command("export")
    book = read_xlsx(_sent(admin))
    assert list(book) == ["Customers", "Contacts", "Follow-ups"]
    head = book["Customers"][0]
    assert head[:3] == ["Customer number", "Kind", "Name"]
    names = [r[2] for r in book["Customers"][1:]]
    assert sorted(names) == sorted(["杭州数澜科技有限公司", "Acme Trading Co., Ltd.", "张三"])
    assert len(names) == len(set(names))  # one row per customer
    acme = next(r for r in book["Customers"][1:] if r[2].startswith("Acme"))
    assert acme[head.index("Status")] == "Closed deal"

    await Person(router, BOSS).command("export")
    await admin.command("audit", "exports")
    assert "The last 2 exports" in admin.text
    lines = admin.text.splitlines()[1:]
    assert "李经理" in lines[0] and "own and team's customers" in lines[0] and "customers 2" in lines[0]
    assert "管理员" in lines[1] and "all customers" in lines[1] and "customers 3" in lines[1]
    await admin.command("audit")
    assert "Usage: /audit exports" in admin.text


async def test_sales_are_refused_and_nothing_is_logged(router: Router, db: Database) -> None:
    for who in (ANN, BOB):
        person = Person(router, who)
        await person.command("export")
        assert "只有经理和管理员可以导出数据" in person.text
        assert not [f for r in person.last.replies for f in r.files]  # type: ignore[union-attr]
        await person.command("audit", "exports")
        assert "最近" not in person.text  # not for them: they get /help
    assert await _audits(db) == []


def test_crm_bot_export_writes_the_same_workbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    cli_book(tmp_path, monkeypatch)
    out = tmp_path / "team.xlsx"
    assert main(["export", "--as", str(BOSS), "--to", str(out)]) == 0
    assert "2 customers, 1 contacts, 1 follow-ups" in capsys.readouterr().out
    assert len(read_xlsx(out)["客户"]) == 3
    assert main(["export", "--as", str(ANN), "--to", str(tmp_path / "no.xlsx")]) == 2
    assert "only managers and admins" in capsys.readouterr().err
    assert not (tmp_path / "no.xlsx").exists()
    assert export.EXPORT_ACTION == "export"


def test_files_made_to_be_sent_are_swept_after_a_day(tmp_path: Path) -> None:
    import os
    import time

    old, new = tmp_path / "crm-export-old.xlsx", tmp_path / "stats-new.png"
    old.write_bytes(b"x")
    new.write_bytes(b"y")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    assert export.sweep(tmp_path) == 1
    assert not old.exists() and new.exists()
    assert export.sweep(tmp_path / "missing") == 0
