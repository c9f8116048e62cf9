"""Merging duplicates through the router: the preview, conflicting fields chosen by buttons, a reason;
every child row moves to the survivor (counted before and after, on both backends), the other stays
readable by its old number, never offered again; /duplicates finds the pair; forged buttons refused."""

from __future__ import annotations

from sqlalchemy import func, select

from storage import repo
from storage.merge import CHILDREN, REBUILT
from storage.models import (
    Attachment,
    Base,
    Change,
    ChangeRequest,
    Contact,
    Customer,
    Deal,
    FollowUp,
    Reminder,
    User,
)
from tests.conftest import Clock, Database
from tests.people import Person
from tests.team_setup import ANN, BEN, BOSS, OUT, REGION, cast

SHULAN = "杭州数澜科技有限公司"
DUP = "杭州数澜科技股份有限公司"


async def _duplicate_with_children(db: Database, clock: Clock, survivor_id: int) -> int:
    """Ben's duplicate of Ann's customer (same phone, another e-mail), with a row in every child table,
    and rows under the survivor too, so the counts can tell moved from untouched."""
    now = clock()
    async with db.sessions.begin() as s:
        ben = await repo.user_by_telegram(s, BEN)
        ann = await repo.user_by_telegram(s, ANN)
        assert ben is not None and ann is not None
        answers = {
            "kind": "enterprise",
            "name": DUP,
            "status": "potential",
            "industry": "retail",
            "intent": "B",
            "phone": "+8613800000001",
            "email": "info@shulan.cn",
            "tags": ["老客户"],
            "address": {
                "province": "浙江省",
                "city": "杭州市",
                "district": None,
                "full": "杭州市文一西路1号",
            },
        }
        dup = await repo.create_customer(s, ben, answers, [], now, now.date())
        for cid, who in ((dup.id, ben), (survivor_id, ann)):
            contact = await repo.create_contact(s, who, cid, {"name": f"联系人{cid}"}, [], now)
            followup = FollowUp(
                customer_id=cid,
                contact_id=contact.id,
                occurred_on=now.date(),
                mode="phone",
                content="电话沟通了报价与实施计划的细节",
                next_at=now,
                created_by=who.id,
            )
            s.add(followup)
            await s.flush()
            s.add(
                Deal(
                    customer_id=cid,
                    on=now.date(),
                    product="实施",
                    amount=1000,
                    currency="CNY",
                    created_by=who.id,
                )
            )
            s.add(
                Attachment(
                    customer_id=cid,
                    followup_id=followup.id,
                    kind="photo",
                    file_name=f"{cid}.jpg",
                    size=3,
                    sha256="0" * 64,
                    path=f"/tmp/{cid}.jpg",
                    created_by=who.id,
                )
            )
            s.add(
                Reminder(
                    key=f"m:{cid}", kind="nocontact", user_id=who.id, customer_id=cid, due_at=now, detail={}
                )
            )
            s.add(
                ChangeRequest(
                    entity="customer",
                    entity_id=cid,
                    customer_id=cid,
                    field="remarks",
                    new_value={"value": "x"},
                    reason="r",
                    proposer_id=who.id,
                )
            )
            await repo.apply_edit(s, who, "customer", cid, "remarks", f"备注{cid}", "init", now)
        return dup.id


async def _counts(db: Database, customer_id: int) -> dict[str, int]:
    out = {}
    async with db.sessions() as s:
        for name, table, column, extra in CHILDREN:
            query = select(func.count()).select_from(table).where(column == customer_id)
            if extra is not None:
                query = query.where(extra)
            out[name] = int((await s.execute(query)).scalar_one())
    return out


async def _totals(db: Database) -> dict[str, int]:
    async with db.sessions() as s:
        return {
            t.__tablename__: int((await s.execute(select(func.count()).select_from(t))).scalar_one())
            for t in (Contact, FollowUp, Deal, Attachment, Reminder, ChangeRequest, Change, Customer)
        }


def test_every_table_pointing_at_a_customer_is_moved_by_a_merge() -> None:
    pointing = {
        (fk.parent.table.name, fk.parent.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "customers"
    }
    moved = {(table.__tablename__, column.key) for _, table, column, _ in CHILDREN}
    assert pointing - {("customers", "merged_into_id")} - REBUILT <= moved, pointing - moved


async def test_merge_from_the_card_moves_every_child_row(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    survivor = c.ids[SHULAN]
    dup = await _duplicate_with_children(db, clock, survivor)
    before_dup, before_survivor, totals = (
        await _counts(db, dup),
        await _counts(db, survivor),
        await _totals(db),
    )
    assert all(before_dup.values()) and all(before_survivor.values())

    boss = Person(c.router, BOSS)
    await boss.command("duplicates")
    assert f"{DUP} ↔ {SHULAN}" in boss.text and "电话" in boss.text
    await boss.data(f"g|cust|{dup}")
    await boss.tap("合并到")
    assert SHULAN in " ".join(boss.labels)
    await boss.tap(SHULAN)
    assert "转移:联系人 1 · 跟进 1 · 交易 1 · 附件 1 · 提醒 1 · 修改申请 1 · 变更历史 1" in boss.text
    assert "项不同" in boss.text
    # each conflicting field asks which value stays: name, industry, intent, address, remarks
    seen = []
    for _ in range(8):
        if "合并原因" in boss.text:
            break
        seen.append(boss.text.splitlines()[-1])
        if "行业不同" in boss.text:
            assert "零售业 · 合并掉的" in boss.labels and "信息技术 · 保留的" in boss.labels
            await boss.tap("零售业")  # the merged one's industry wins
        else:
            await boss.tap("保留的")  # the survivor's value
    assert any("名称不同" in x for x in seen) and any("行业不同" in x for x in seen)
    await boss.say("同一家公司,两人各建了一条")
    assert "合并预览" in boss.text
    await boss.tap("保存")
    assert "已合并到" in boss.text and SHULAN in boss.text

    after_dup, after_survivor = await _counts(db, dup), await _counts(db, survivor)
    assert set(after_dup.values()) == {0}
    for name in before_dup:
        extra = {"history": 4}.get(name, 0)  # industry, e-mail (empty here) and tags taken over; the merge
        assert after_survivor[name] == before_dup[name] + before_survivor[name] + extra, name
    after_totals = await _totals(db)
    assert after_totals["changes"] == totals["changes"] + 4
    assert {k: v for k, v in after_totals.items() if k != "changes"} == {
        k: v for k, v in totals.items() if k != "changes"
    }  # nothing deleted, nothing created
    async with db.sessions() as s:
        merged = await s.get(Customer, dup)
        kept = await s.get(Customer, survivor)
        assert merged is not None and kept is not None
        assert (merged.merged_into_id, merged.merge_reason) == (survivor, "同一家公司,两人各建了一条")
        assert (kept.name, kept.industry, kept.tags) == (SHULAN, "retail", ["VIP客户", "老客户"])
        assert (kept.email, kept.address, kept.intent) == ("info@shulan.cn", "杭州市某路1号", "A")
        dup_number = merged.number

    # readable by its old number, never offered again
    await boss.command("find", dup_number)
    assert f"已合并到 {kept.number}" in boss.text and "同一家公司" in boss.text
    await boss.command("find", "股份")
    assert DUP not in boss.text
    # the search index follows the move: the survivor is found by the contact it took over
    async with db.sessions() as s:
        ben_boss = await repo.user_by_telegram(s, BOSS)
        assert ben_boss is not None
        found = await repo.search_customers(s, ben_boss, f"联系人{dup}")
        assert [x.id for x in found] == [survivor]
    await boss.data(f"g|cust|{dup}")
    assert "无权" in boss.text
    await boss.command("duplicates")
    assert DUP not in boss.text


async def test_forged_merge_buttons_get_nothing(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    shulan, yuanjing = c.ids[SHULAN], c.ids["北京远景咨询有限公司"]
    for who in (ANN, BEN, REGION, OUT):
        p = Person(c.router, who)
        for data in (f"g|mrg|{shulan}", f"g|mrgt|{c.ids['杭州西湖贸易有限公司']}|{shulan}", "g|mrgt|x|1"):
            await p.data(data)
            assert "可以合并" in p.text, (who, data)
    boss = Person(c.router, BOSS)
    await boss.data(f"g|mrgt|{yuanjing}|{shulan}")  # the outsider's customer is not the boss's
    assert "可以合并" in boss.text
    await boss.data(f"g|mrgt|{shulan}|{shulan}")
    assert "可以合并" in boss.text
    ann = Person(c.router, ANN)
    await ann.command("duplicates")  # a manager's command: sales get the help instead
    assert "/log" in ann.text
    async with db.sessions() as s:
        assert (
            await s.execute(select(func.count()).where(Customer.merged_into_id.is_not(None)))
        ).scalar_one() == 0
        assert (await s.execute(select(User))).scalars().first() is not None
