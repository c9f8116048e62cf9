"""Team data in and out through the real python-telegram-bot Application and the local Bot API
stand-in (issue 13): a manager's /export arrives as an uploaded XLSX document; an admin's /backup
writes an archive. SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.config import Settings
from bot.router import Router
from bot.runtime import Runtime
from storage import backup
from storage.files import FileStore
from tests.conftest import Database
from tests.data.book import ADMIN, BOSS, populate
from tests.e2e.conftest import Chat, application
from tests.e2e.fake_bot_api import DEFAULT_TOKEN, FakeBotApi, FakeUser, busiest, started

BOSS_USER = FakeUser(BOSS, "经理", last_name="李", language_code="zh-hans")
ADMIN_USER = FakeUser(ADMIN, "Admin", language_code="en")


@dataclass
class Bot:
    api: FakeBotApi
    db: Database
    data_dir: Path


@pytest.fixture
async def bot(
    fake_api: FakeBotApi, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Bot]:
    monkeypatch.delenv("CRM_BACKUP_DIR", raising=False)
    data_dir = tmp_path / "data"
    files = FileStore(data_dir / "attachments")
    await populate(db.sessions, files, dt.datetime.now(dt.UTC))
    settings = Settings.load(
        bot_token=DEFAULT_TOKEN,
        bot_api_url=fake_api.base_url,
        bot_file_url=fake_api.base_file_url,
        data_dir=data_dir,
    )
    runtime = Runtime(settings, db.engine, db.sessions, Router(db.sessions, files=files))
    async with started(application(fake_api, settings, runtime, quick_typist=True)):
        yield Bot(fake_api, db, data_dir)


async def test_a_managers_export_arrives_as_a_document_in_the_chat(bot: Bot) -> None:
    chat, api = Chat(bot.api, BOSS_USER), bot.api
    mark = api.mark()
    chat.say("/export")
    await chat.expect("正在生成导出文件:2 个客户")
    await chat.expect("✅ 导出完成")
    upload = await api.wait_for(lambda c: c.method == "sendDocument" and c.ok, since=mark)
    document = upload.params["document"]
    assert document.filename.startswith("crm-export-") and document.filename.endswith(".xlsx")
    book = load_workbook(io.BytesIO(document.data), read_only=True)
    assert book.sheetnames == ["客户", "联系人", "跟进记录"]
    names = sorted(r[2] for r in book["客户"].iter_rows(min_row=2, values_only=True))
    assert names == ["张三", "杭州数澜科技有限公司"]


async def test_an_admins_backup_from_the_chat(bot: Bot) -> None:
    chat = Chat(bot.api, ADMIN_USER)
    chat.say("/backup")
    await chat.expect("Backing up")
    done = await chat.expect("✅ Backup written: crm-backup-", timeout=30)
    assert "2 attachments" in done["text"]
    (archive,) = backup.archives(bot.data_dir / "backups")
    manifest = backup.read_manifest(archive)
    paths = {e["path"] for e in manifest["files"]}
    assert manifest["database"] in paths and len(paths) == 3
    assert manifest["backend"] == ("sqlite" if bot.db.backend == "sqlite" else "postgresql")


async def test_an_import_with_errors_sends_a_report_and_imports_the_rest(bot: Bot) -> None:
    from tests.data.test_import import CSV

    chat, api = Chat(bot.api, BOSS_USER), bot.api
    chat.say("/import")
    await chat.expect("请发送要导入的 CSV")
    mark = api.mark()
    api.push_document(BOSS, CSV.encode("gbk"), "客户.csv", "text/csv", user=BOSS_USER)
    await chat.expect("“微信号”我不认识")
    await chat.tap("忽略这一列")
    preview = await chat.expect("导入预览(客户,共 6 行)")
    assert "将新建 3 条" in preview["text"] and "有错误 1 条" in preview["text"]
    await chat.expect("出错和重复的行在附件里")
    assert [c.params["file_id"] for c in api.calls_to("getFile", ok_only=True)][-1:]  # downloaded via getFile
    upload = await api.wait_for(lambda c: c.method == "sendDocument" and c.ok, since=mark)
    report = upload.params["document"]
    assert report.filename == "客户-errors.xlsx"
    rows = list(
        load_workbook(io.BytesIO(report.data), read_only=True).worksheets[0].iter_rows(values_only=True)
    )
    assert rows[0][-2:] == ("错误原因", "原行号") and len(rows) == 4
    await chat.tap("导入 3 条", preview)
    await chat.expect("✅ 已导入 3 条客户")


async def test_stats_arrive_as_text_and_a_chart(bot: Bot) -> None:
    chat, api = Chat(bot.api, BOSS_USER), bot.api
    mark = api.mark()
    chat.say("/stats month")
    text = await chat.expect("📊 数据质量")
    assert "👤 王芳" in text["text"] and "团队合计" in text["text"]
    await chat.expect("📈 图表")
    upload = await api.wait_for(lambda c: c.method == "sendDocument" and c.ok, since=mark, timeout=30)
    chart = upload.params["document"]
    assert chart.filename.endswith(".png") and chart.data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_an_admin_erases_a_contact_through_the_chat(bot: Bot) -> None:
    from sqlalchemy import select

    from storage.models import Contact, Erasure
    from storage.privacy import ERASED

    chat = Chat(bot.api, ADMIN_USER)
    chat.say("/erase 周杰")
    await chat.expect("Which one?")
    await chat.tap("Contact 周杰")
    await chat.expect("Why is it erased?")
    chat.say("the contact asked by e-mail")
    await chat.expect("Erased 5 personal fields")
    await chat.expect("1 follow-ups mention this person")
    await chat.tap("Remove the 1 texts")
    await chat.expect("Removed the texts of 1 follow-ups")
    async with bot.db.sessions() as s:
        names = [c.name for c in (await s.execute(select(Contact))).scalars()]
        (row,) = (await s.execute(select(Erasure))).scalars()
    assert "周杰" not in names and ERASED in names and row.redacted


async def test_a_big_import_shows_its_progress_in_one_edited_message(bot: Bot) -> None:
    """4,000 rows: while they are checked, and again while they are inserted, one "⏳" message is sent
    and then edited (never more than once a second), ending on the total; preview and result follow."""
    from tests.data.test_import_progress import customers_csv

    chat, api = Chat(bot.api, BOSS_USER), bot.api
    chat.say("/import")
    await chat.expect("请发送要导入的 CSV")
    mark = api.mark()
    api.push_document(BOSS, customers_csv(4000), "客户.csv", "text/csv", user=BOSS_USER)
    preview = await chat.expect("导入预览(客户,共 4000 行)", timeout=60)
    _one_edited_message(api, mark, "⏳ 正在检查第", "⏳ 正在检查第 4000/4000 行…")
    assert api.calls.index(_call_of(api, preview["message_id"])) > max(
        c.index for c in api.calls_to("editMessageText", BOSS)
    )  # the preview comes after the progress message's last edit
    mark = api.mark()
    await chat.tap("导入 4000 条", preview)
    done = await chat.expect("✅ 已导入 4000 条客户", timeout=60)
    _one_edited_message(api, mark, "⏳ 正在导入", "⏳ 正在导入 4000/4000 条…")
    assert api.calls.index(_call_of(api, done["message_id"])) > max(
        c.index for c in api.calls_to("editMessageText", BOSS)
    )  # the result is a new message under the progress, not the preview edited out of sight
    assert "→ 📥 导入 4000 条" in api.message(BOSS, preview["message_id"])["text"]  # closed, no buttons


def _call_of(api: FakeBotApi, message_id: int) -> Any:
    return next(
        c for c in api.calls_to("sendMessage", BOSS, ok_only=True) if c.result["message_id"] == message_id
    )


def _one_edited_message(api: FakeBotApi, since: int, head: str, last: str) -> None:
    sent = [c for c in api.calls_to("sendMessage", BOSS, ok_only=True) if c.index >= since]
    progress = [c for c in sent if (c.text or "").startswith(head)]
    assert len(progress) == 1, [c.text for c in sent]  # one message, not one per report
    message_id = progress[0].result["message_id"]
    edits = [
        c
        for c in api.calls_to("editMessageText", BOSS, ok_only=True)
        if c.index >= since and c.params.get("message_id") == message_id
    ]
    assert edits and edits[-1].text == last and all(e.text.startswith(head) for e in edits)
    stamps = [progress[0].ts] + [e.ts for e in edits]
    assert busiest(stamps) == 1 and min(b - a for a, b in itertools.pairwise(stamps)) >= 1.0
    assert api.message(BOSS, message_id)["text"] == last
