"""Deals through the router: /deal and the card's button, money echoed back, the card's total,
the first deal's status offer, edits with history, and forged buttons refused."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from storage.models import Change, Customer, Deal
from tests.conftest import Clock, Database
from tests.people import Person
from tests.team_setup import ANN, BEN, BOSS, OUT, REGION, cast

SHULAN = "杭州数澜科技有限公司"


async def test_a_deal_from_the_card_with_amount_echoed_and_total_on_the_card(
    db: Database, clock: Clock
) -> None:
    c = await cast(db, clock)
    ann = Person(c.router, ANN)
    await ann.command("find", "数澜")
    await ann.tap("记录交易")
    assert "成交日期" in ann.text and "(2/5)" in ann.text  # the customer is fixed from the card
    await ann.say("昨天")
    await ann.say("数据中台实施")
    await ann.say("12万")
    assert "¥120,000.00(12万)" in ann.text and "CNY" in ann.text  # echoed before it is kept
    await ann.tap("确认")
    assert "付款方式" in ann.text
    await ann.tap("银行转账")
    assert "请核对交易记录" in ann.text and "¥120,000.00" in ann.text
    await ann.tap("保存")
    assert "交易已记录" in ann.text
    assert "交易 1 笔,合计 ¥120,000.00(12万)" in ann.text  # the card follows, with the total
    assert "第一笔交易" in ann.text
    await ann.tap("改为成交客户")
    assert "成交客户" in ann.text
    async with db.sessions() as s:
        deal = (await s.execute(select(Deal))).scalar_one()
        assert (deal.amount, deal.currency, deal.payment_method) == (Decimal("120000.00"), "CNY", "transfer")
        assert str(deal.on) == "2026-11-21"
        customer = await s.get(Customer, c.ids[SHULAN])
        assert customer is not None and customer.status == "deal"
        change = (await s.execute(select(Change).where(Change.field == "status"))).scalar_one()
        assert (change.old_value, change.new_value) == ("potential", "deal")

    # a second deal in dollars: no second status offer, totals per currency
    await ann.command("deal")
    assert "杭州数澜" in ann.text  # starts on the open card
    await ann.say("今天")
    await ann.say("运维服务")
    await ann.say("USD 5k")
    assert "US$5,000.00" in ann.text
    await ann.tap("确认")
    await ann.tap("跳过")
    await ann.tap("保存")
    assert "交易 2 笔,合计 ¥120,000.00(12万) + US$5,000.00" in ann.text
    assert "第一笔交易" not in ann.text


async def test_a_deal_in_the_future_or_a_bad_amount_is_asked_again(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    ann = Person(c.router, ANN, "en")
    await ann.command("lang")
    await ann.tap("English")
    await ann.data(f"g|deal|{c.ids[SHULAN]}")
    await ann.say("tomorrow")
    assert "❗" in ann.text and "When was it closed" in ann.text
    await ann.say("today")
    await ann.say("Pilot")
    await ann.say("a lot")
    assert "couldn't read that amount" in ann.text
    await ann.say("1.2w")
    assert "¥12,000.00 (CNY)" in ann.text


async def test_edits_of_a_deal_keep_history(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    ann = Person(c.router, ANN)
    await ann.data(f"g|deal|{c.ids[SHULAN]}")
    for answer in ("今天", "数据中台实施", "12万"):
        await ann.say(answer)
    await ann.tap("确认")
    await ann.tap("跳过")
    await ann.tap("保存")
    await ann.tap("交易(1)")
    await ann.tap("修改 数据中台实施")
    await ann.tap("金额")
    await ann.say("¥150,000")
    await ann.tap("确认")
    await ann.say("合同补充协议增加了模块")
    await ann.tap("保存")
    assert "交易已修改" in ann.text and "¥150,000.00" in ann.text
    async with db.sessions() as s:
        change = (await s.execute(select(Change).where(Change.entity == "deal"))).scalar_one()
        assert (change.field, change.old_value, change.new_value) == (
            "amount",
            "120000.00 CNY",
            "150000.00 CNY",
        )
        assert change.reason == "合同补充协议增加了模块"


async def test_forged_deal_buttons_get_nothing(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    ann = Person(c.router, ANN)
    await ann.data(f"g|deal|{c.ids[SHULAN]}")
    for answer in ("今天", "实施", "12万"):
        await ann.say(answer)
    await ann.tap("确认")
    await ann.tap("跳过")
    await ann.tap("保存")
    async with db.sessions() as s:
        deal_id = (await s.execute(select(Deal.id))).scalar_one()
    for who in (OUT, REGION, BEN):
        p = Person(c.router, who)
        for data in (
            f"g|deal|{c.ids[SHULAN]}",
            f"g|dedit|{deal_id}",
            f"g|dstat|{c.ids[SHULAN]}",
            "g|deal|99999",
            "g|dedit|x",
        ):
            await p.data(data)
            assert "无权" in p.text, (who, data, p.text)
    for who in (OUT, BEN):  # the deals list is as visible as the card
        p = Person(c.router, who)
        await p.data(f"g|deals|{c.ids[SHULAN]}")
        assert "无权" in p.text
    rita = Person(c.router, REGION)  # who sees the card sees its deals, without Edit
    await rita.data(f"g|deals|{c.ids[SHULAN]}")
    assert "¥120,000.00" in rita.text and not rita.labels
    boss = Person(c.router, BOSS)  # the owner's manager may
    await boss.data(f"g|dedit|{deal_id}")
    assert "要修改哪一项" in boss.text
