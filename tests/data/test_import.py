"""Import (issue 13) through the router: /import, a CSV (UTF-8 or GBK) or XLSX sent, headers matched in
Chinese or English with a question for an unknown one, every row checked by the flows' parsers, duplicates
within the file and against the book, a preview with Import / Cancel and an XLSX of the rows in error,
all or nothing, and a file sent again after fixing not doubling anything."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.router import Router
from flows.imports import match_headers
from storage.files import FileStore
from storage.models import Audit, Contact, Customer
from storage.sheets import read_xlsx
from tests.conftest import Clock, Database
from tests.data.book import ANN, BOSS, cli_book, populate
from tests.people import Person

GOOD = "91310000MA1FL0AB1P"  # GB 32100 check digit right? computed below instead


def _code(stem: str) -> str:
    """An 18-character credit code with its GB 32100-2015 check digit."""
    from stdnum.cn import uscc

    return stem + uscc.calc_check_digit(stem)


CSV = (
    "客户名称,统一社会信用代码,手机,邮箱,客户状态,行业,地址,微信号\n"
    f"上海云帆信息技术有限公司,{_code('91310115MA1H7GQ3X')},13912340001,info@yunfan.cn,潜在客户,信息技术,上海市浦东新区张江路88号,yf001\n"
    f"北京星河贸易有限公司,{_code('91110105MA01ABCD1')},13912340002,sales@xinghe.cn,成交客户,零售业,北京市朝阳区建国路1号,xh\n"
    "广州南方物流有限公司,,1391234,bad-mail,潜在客户,物流,,gz\n"  # phone and e-mail wrong
    f"上海云帆信息技术有限公司,{_code('91310115MA1H7GQ3X')},13912340001,info@yunfan.cn,潜在客户,信息技术,,dup\n"
    "杭州数澜科技有限公司,,13912345678,,潜在客户,信息技术,,known\n"  # already in the book (Ann's)
    "李四,,13800000009,lisi@qq.com,潜在客户,,,\n"
)


@pytest.fixture
async def router(db: Database, tmp_path: Path, clock: Clock) -> Router:
    files = FileStore(tmp_path / "data" / "attachments")
    await populate(db.sessions, files, clock())
    return Router(db.sessions, clock=clock, files=files)


async def _count(db: Database, model: type) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


def _report(person: Person) -> dict[str, list[list[object]]]:
    (file,) = [f for r in person.last.replies for f in r.files]  # type: ignore[union-attr]
    return read_xlsx(Path(file["path"]))


async def test_a_csv_with_errors_previews_reports_imports_and_is_not_doubled_when_sent_again(
    router: Router, db: Database
) -> None:
    boss = Person(router, BOSS)
    before = await _count(db, Customer)
    await boss.command("import")
    assert "请发送要导入的 CSV" in boss.text
    await boss.send_file(CSV.encode("gbk"), "document", "客户.csv", "text/csv")
    # 微信号 is no field: asked about, and ignored
    assert "第 8 列的表头“微信号”我不认识" in boss.text
    await boss.tap("忽略这一列")
    assert "导入预览(客户,共 6 行)" in boss.text
    assert "将新建 3 条" in boss.text and "有错误 1 条" in boss.text and "重复 2 条" in boss.text
    report = _report(boss)
    (sheet,) = report.values()
    assert sheet[0][-2:] == ["错误原因", "原行号"] and sheet[0][0] == "客户名称"
    why = {row[0]: row[-2] for row in sheet[1:]}
    assert set(why) == {"广州南方物流有限公司", "上海云帆信息技术有限公司", "杭州数澜科技有限公司"}
    assert "电话" in str(why["广州南方物流有限公司"]) and "邮箱" in str(why["广州南方物流有限公司"])
    assert why["上海云帆信息技术有限公司"] == "与第 2 行重复"
    assert str(why["杭州数澜科技有限公司"]).startswith("系统中已有:杭州数澜科技有限公司 · C2026")
    assert await _count(db, Customer) == before  # nothing before Import

    await boss.tap("导入 3 条")
    assert "✅ 已导入 3 条客户(负责人:李经理)" in boss.text
    async with db.sessions() as s:
        yunfan = (
            await s.execute(select(Customer).where(Customer.name == "上海云帆信息技术有限公司"))
        ).scalar_one()
        lisi = (await s.execute(select(Customer).where(Customer.name == "李四"))).scalar_one()
        audit = (await s.execute(select(Audit).where(Audit.action == "import"))).scalar_one()
    assert (yunfan.kind, yunfan.phone, yunfan.status, yunfan.industry, yunfan.city) == (
        "enterprise",
        "+8613912340001",
        "potential",
        "it",
        "上海市",
    )
    assert yunfan.number.startswith("C20261122") and sorted(yunfan.pending) == ["source"]
    assert lisi.kind == "individual" and "industry" in lisi.pending
    assert '"rows": 3' in (audit.detail or "")
    assert await _count(db, Customer) == before + 3

    # the row fixed and the whole file sent again: only the fixed row is new
    fixed = CSV.replace("1391234,bad-mail", "13912340003,ops@nanfang.cn")
    await boss.command("import")
    await boss.send_file(fixed.encode("utf-8"), "document", "客户.csv", "text/csv")
    await boss.tap("忽略这一列")
    assert "将新建 1 条" in boss.text and "重复 5 条" in boss.text and "有错误 0 条" in boss.text
    await boss.tap("导入 1 条")
    assert await _count(db, Customer) == before + 4
    # confirming twice (a stale preview) creates nothing more
    await boss.data("g|imp|go")
    assert "已经结束或过期" in boss.text and await _count(db, Customer) == before + 4


async def test_contacts_from_xlsx_match_their_customers_by_name_or_number(
    router: Router, db: Database
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Customer", "Name", "Position", "Mobile", "E-mail", "Role"])
    sheet.append(["杭州数澜科技有限公司", "陈晨", "采购经理", 13911113333, "chen@shulan.cn", "决策人"])
    sheet.append(["张三", "张三本人", None, None, None, None])
    sheet.append(["Acme Trading Co., Ltd.", "Mary", None, None, None, None])  # Bob's: not Boss's team
    sheet.append(["杭州数澜科技有限公司", "周杰", None, "13911112222", None, None])  # already there
    data = io.BytesIO()
    book.save(data)
    boss = Person(router, BOSS, lang="en")
    before = await _count(db, Contact)
    await boss.command("import")
    await boss.send_file(data.getvalue(), "document", "contacts.xlsx", None)
    assert "Import preview (contacts, 4 rows)" in boss.text
    assert (
        "2 will be created" in boss.text and "1 have errors" in boss.text and "1 are duplicates" in boss.text
    )
    (sheet_rows,) = _report(boss).values()
    why = {row[1]: row[-2] for row in sheet_rows[1:]}
    assert "no customer “Acme Trading Co., Ltd.”" in str(why["Mary"])
    assert why["周杰"] == "this customer has this contact already"
    await boss.tap("Import 2")
    assert "Imported 2 contacts" in boss.text
    async with db.sessions() as s:
        chen = (await s.execute(select(Contact).where(Contact.name == "陈晨"))).scalar_one()
    assert (chen.phone, chen.role, chen.position) == ("+8613911113333", "decision_maker", "采购经理")
    assert await _count(db, Contact) == before + 2


async def test_sales_may_not_import_and_cancel_leaves_nothing(router: Router, db: Database) -> None:
    ann = Person(router, ANN)
    await ann.command("import")
    assert "只有经理和管理员可以批量导入" in ann.text
    boss = Person(router, BOSS)
    before = await _count(db, Customer)
    await boss.command("import")
    await boss.send_file("name,phone\n王五,13912349999\n".encode(), "document", "x.csv", "text/csv")
    assert "将新建 1 条" in boss.text
    await boss.tap("取消")
    assert "已取消导入" in boss.text
    await boss.data("g|imp|go")
    assert await _count(db, Customer) == before
    await boss.command("import")
    await boss.send_file(b"%PDF-1.4", "document", "x.pdf", "application/pdf")
    assert "请发送 .csv 或 .xlsx 文件" in boss.text


def test_headers_are_matched_in_both_languages_and_a_contacts_file_is_told_apart() -> None:
    m = match_headers(["客户名称 *", "E-Mail:", "Ｐｈｏｎｅ", "统一社会信用代码", "whatever"])
    assert (m.kind, m.columns[:4], m.unknown) == ("customers", ["name", "email", "phone", "credit_code"], [4])
    c = match_headers(["客户编号", "姓名", "手机"])
    assert (c.kind, c.columns) == ("contacts", ["customer", "name", "phone"])
    exported = match_headers(["客户编号", "类型", "名称", "负责人", "创建时间"])
    assert exported.kind == "customers" and exported.unknown == []


def test_crm_bot_import_dry_run_then_import_then_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    cli_book(tmp_path, monkeypatch)
    source = tmp_path / "客户.csv"
    source.write_bytes(CSV.encode("gb18030"))
    assert main(["import", str(source), "--as", str(BOSS), "--owner", str(ANN), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "column 8 '微信号': unknown header, ignored" in out
    assert "customers: 6 rows, 3 new, 1 with errors, 2 duplicates" in out and "dry run" in out
    assert (tmp_path / "客户-errors.xlsx").exists()
    assert main(["import", str(source), "--as", str(BOSS), "--owner", str(ANN), "--map", "微信号=-"]) == 0
    out = capsys.readouterr().out
    assert "imported 3 customers" in out and "unknown header" not in out
    assert main(["import", str(source), "--as", str(BOSS)]) == 0
    assert "0 new" in capsys.readouterr().out
    assert main(["import", str(source), "--as", str(ANN)]) == 2
    assert "only managers and admins" in capsys.readouterr().err


async def test_a_csv_sent_with_nothing_open_starts_the_import_for_a_manager_only(
    router: Router, db: Database
) -> None:
    boss = Person(router, BOSS)
    await boss.send_file(CSV.encode("utf-8"), "document", "客户.csv", "text/csv")
    assert "第 8 列的表头“微信号”我不认识" in boss.text  # the import took it, as after /import
    await boss.tap("忽略这一列")
    assert "导入预览(客户,共 6 行)" in boss.text
    ann = Person(router, ANN)  # a sales person: no import, the usual answer about the file
    await ann.send_file(CSV.encode("utf-8"), "document", "客户.csv", "text/csv")
    assert "导入预览" not in ann.text and "表头" not in ann.text


def test_crm_bot_import_of_a_big_file_says_how_far_it_is_on_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A few thousand rows take seconds: the admin sees the checking and the inserting advance."""
    from bot.cli import main

    cli_book(tmp_path, monkeypatch)
    source = tmp_path / "big.csv"
    rows = [f"导入测试{n:05d}贸易有限公司,139{n:08d}" for n in range(2_500)]
    source.write_text("客户名称,手机\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert main(["import", str(source), "--as", str(BOSS), "--owner", str(ANN)]) == 0
    captured = capsys.readouterr()
    assert "imported 2500 customers" in captured.out
    lines = captured.err.splitlines()  # not a terminal here: one line per step
    assert "checking rows: 500 of 2,500" in lines and "checking rows: 2,500 of 2,500" in lines
    assert "importing: 1,000 of 2,500" in lines and lines[-1] == "importing: 2,500 of 2,500"
    assert "checking" not in captured.out and "importing:" not in captured.out  # the report stays clean

    small = tmp_path / "small.csv"
    small.write_text("客户名称,手机\n小文件科技有限公司,13900000001\n", encoding="utf-8")
    assert main(["import", str(small), "--as", str(BOSS), "--owner", str(ANN)]) == 0
    assert capsys.readouterr().err == ""  # a small file says nothing but its result
