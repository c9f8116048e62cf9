"""Change requests through the router and the outbox: a region manager proposes, the owner and the
owner's manager receive it with Approve / Reject, the proposer hears the outcome, a stale request
cannot be approved blindly, and forged buttons get nothing."""

from __future__ import annotations

from sqlalchemy import select

from bot.delivery import Reminders
from flows.engine import Reply
from storage import repo
from storage.models import Change, ChangeRequest, Customer, User
from tests.conftest import Clock, Database
from tests.people import Person
from tests.team_setup import ANN, BEN, BOSS, OUT, REGION, cast

SHULAN = "杭州数澜科技有限公司"


class Inbox:
    def __init__(self) -> None:
        self.sent: list[tuple[int, Reply]] = []

    async def send(self, chat_id: int, reply: Reply) -> int:
        self.sent.append((chat_id, reply))
        return len(self.sent)

    def take(self, chat: int) -> list[Reply]:
        mine = [r for c, r in self.sent if c == chat]
        self.sent = [(c, r) for c, r in self.sent if c != chat]
        return mine


async def _propose(rita: Person, customer_id: int, phone: str, reason: str) -> None:
    await rita.data(f"g|cust|{customer_id}")
    await rita.tap("提议修改")
    assert "修改申请" in rita.text and "要修改哪一项" in rita.text
    await rita.tap("电话")
    await rita.say(phone)
    await rita.say(reason)
    assert "请确认修改申请" in rita.text
    await rita.tap("保存")
    assert "等待 Ann、Boss 审批" in rita.text


async def test_propose_approve_and_the_proposer_is_told(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    inbox = Inbox()
    outbox = Reminders(db.sessions, inbox, clock=clock, chat_interval=0, scan_seconds=0)
    shulan = c.ids[SHULAN]
    rita, ann, boss = Person(c.router, REGION), Person(c.router, ANN), Person(c.router, BOSS)
    await _propose(rita, shulan, "13911112222", "客户换了前台总机号码")
    await outbox.tick()
    (to_ann,) = inbox.take(ANN)
    (to_boss,) = inbox.take(BOSS)
    for notice in (to_ann, to_boss):
        assert "Rita 申请修改“杭州数澜科技有限公司”的电话" in notice.text
        assert "+8613800000001 → +8613911112222" in notice.text and "客户换了前台总机号码" in notice.text
    await ann.press("批准", [to_ann])
    assert "已批准" in ann.text and "139 1111 2222" in ann.text  # the card follows
    await boss.press("批准", [to_boss])
    assert "已经批准过了" in boss.text
    async with db.sessions() as s:
        customer = await s.get(Customer, shulan)
        assert customer is not None and customer.phone == "+8613911112222"
        change = (await s.execute(select(Change).where(Change.field == "phone"))).scalar_one()
        ann_u, rita_u = (await repo.user_by_telegram(s, ANN)), (await repo.user_by_telegram(s, REGION))
        assert ann_u is not None and rita_u is not None
        assert (change.user_id, change.proposed_by) == (ann_u.id, rita_u.id)
        assert (change.old_value, change.new_value, change.reason) == (
            "+8613800000001",
            "+8613911112222",
            "客户换了前台总机号码",
        )
    await outbox.tick()
    (outcome,) = inbox.take(REGION)
    assert "已被 Ann 批准" in outcome.text


async def test_a_stale_request_shows_what_it_overwrites(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    shulan = c.ids[SHULAN]
    rita, boss = Person(c.router, REGION), Person(c.router, BOSS)
    await _propose(rita, shulan, "13911112222", "客户换了前台总机号码")
    async with db.sessions() as s:
        request_id = (await s.execute(select(ChangeRequest.id))).scalar_one()
    async with db.sessions.begin() as s:  # meanwhile the owner changes the phone herself
        ann_u = await repo.user_by_telegram(s, ANN)
        assert ann_u is not None
        await repo.apply_edit(s, ann_u, "customer", shulan, "phone", "+8613733334444", "新号码", clock())
    await boss.data(f"g|crq|a|{request_id}")
    assert "已被改过,现在是:+8613733334444" in boss.text and "仍然批准" in " ".join(boss.labels)
    forged = next(b.data for r in boss.last.replies for row in r.buttons for b in row if "仍然" in b.label)  # type: ignore[union-attr]
    await boss.data(forged.rsplit("|", 1)[0] + "|0000000000")  # a fingerprint of another value
    assert "仍然批准" in " ".join(boss.labels)
    async with db.sessions() as s:
        assert (await s.get(ChangeRequest, request_id)).state == "pending"  # type: ignore[union-attr]
    await boss.tap("仍然批准")
    assert "已批准" in boss.text
    async with db.sessions() as s:
        assert (await s.get(Customer, shulan)).phone == "+8613911112222"  # type: ignore[union-attr]


async def test_reject_with_a_reason(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    inbox = Inbox()
    outbox = Reminders(db.sessions, inbox, clock=clock, chat_interval=0, scan_seconds=0)
    rita, boss = Person(c.router, REGION), Person(c.router, BOSS)
    await _propose(rita, c.ids[SHULAN], "13911112222", "客户换了前台总机号码")
    await boss.command("requests")
    assert "等你审批的修改申请:1 个" in boss.text
    await boss.tap("驳回")
    assert "驳回原因" in boss.text
    await boss.say("这是分机,不是总机")
    await boss.tap("保存")
    assert "已驳回" in boss.text
    await outbox.tick()
    outcome = inbox.take(REGION)[-1]
    assert "被 Boss 驳回" in outcome.text and "这是分机,不是总机" in outcome.text
    async with db.sessions() as s:
        request = (await s.execute(select(ChangeRequest))).scalar_one()
        assert (request.state, request.decision_reason) == ("rejected", "这是分机,不是总机")
        customer = await s.get(Customer, c.ids[SHULAN])
        assert customer is not None and customer.phone == "+8613800000001"


async def test_forged_request_buttons_get_nothing(db: Database, clock: Clock) -> None:
    c = await cast(db, clock)
    shulan = c.ids[SHULAN]
    rita = Person(c.router, REGION)
    await _propose(rita, shulan, "13911112222", "客户换了前台总机号码")
    async with db.sessions() as s:
        request_id = (await s.execute(select(ChangeRequest.id))).scalar_one()
    for who in (OUT, BEN, REGION):  # an outsider, a colleague, the proposer herself
        p = Person(c.router, who)
        for data in (
            f"g|crq|a|{request_id}",
            f"g|crq|r|{request_id}",
            f"g|crq|f|{request_id}|x",
            "g|crq|a|x",
        ):
            await p.data(data)
            assert "无权" in p.text, (who, data)
    async with db.sessions.begin() as s:
        ann = await repo.user_by_telegram(s, ANN)
        assert ann is not None
        contact = await repo.create_contact(s, ann, shulan, {"name": "周杰"}, [], clock())
    for who, data in (
        (ANN, f"g|prop|{shulan}"),
        (OUT, f"g|prop|{shulan}"),
        (OUT, f"g|propx|{shulan}"),
        (OUT, f"g|propc|{contact.id}"),
        (ANN, f"g|propc|{contact.id}"),
        (REGION, "g|propc|999999"),
    ):
        p = Person(c.router, who)  # the owner edits instead; the outsider may not see it at all
        await p.data(data)
        assert "无权" in p.text, (who, data)
    async with db.sessions() as s:
        assert (await s.get(ChangeRequest, request_id)).state == "pending"  # type: ignore[union-attr]
        assert (await s.execute(select(User).where(User.telegram_id == ANN))).scalar_one()
