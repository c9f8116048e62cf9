"""Records that keep their rules, at engine level: duplicates per key, a credit code never twice, edits
that run entry's checks and ask what a changed answer needs, contact duplicates, follow-up edits."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flows import reminders as rules
from flows.definitions import FLOWS
from flows.history import ChangeLine, FollowUpItem, changes_reply, history_reply, page_of
from flows.ports import Saved
from flows.refs import ContactRef, CustomerRef
from tests.flows.fakes import SHANGHAI, Driver, FakeServices

CODE = "91440300708461136T"


def _world(**kw: Any) -> FakeServices:
    return FakeServices(
        customers=[
            CustomerRef(1, "C202611010001", "华为技术有限公司", owner_name="我"),
            CustomerRef(
                2,
                "C202611010002",
                "深圳市腾讯计算机系统有限公司",
                owner_name="王五",
                contacts=(ContactRef(20, "李娜", "采购", "+8613900000000"),),
            ),
        ],
        phones={1: "+8613812345678", 2: "+8613700000000"},
        codes={1: CODE},
        foreign={2},
        **kw,
    )


async def _to_step(d: Driver, step: str) -> None:
    for _ in range(20):
        if d.step == step and d.phase == "ask":
            return
        actions = [data.split("|", 2)[2] for data in d.buttons()]
        move = next((a for a in actions if a in ("dnew", "skip", "later")), None)
        move = move or next((a for a in actions if a.startswith("p:")), None)
        assert move is not None, f"stuck at {d.step}: {d.text_out}"
        await d.press(move)
    raise AssertionError(f"never reached {step}")


async def test_a_credit_code_match_after_a_dismissed_name_match_is_caught_and_cannot_be_waved_through() -> (
    None
):
    d = Driver(_world())
    await d.start("customer")
    await d.press("p:enterprise")
    await d.text("华为技术有限公司")
    assert d.phase == "dup"
    await d.press("dnew")  # "a different customer" for the name
    assert d.step == "credit_code"
    await d.text(CODE)  # the same customer's credit code: checked again, and blocking
    assert d.phase == "dup" and "信用代码" in d.text_out and "不能保存两次" in d.text_out
    actions = [data.split("|", 2)[2] for data in d.buttons()]
    assert "dnew" not in actions and "dretype" in actions and "dopen:1" in actions
    await d.press("dretype")
    assert d.phase == "ask" and d.step == "credit_code" and "credit_code" not in d.state.answers  # type: ignore[union-attr]
    await d.press("later")  # or fill it in later: pending, never the duplicate
    assert d.step == "status"


async def test_dismissing_one_match_dismisses_only_that_match() -> None:
    services = _world()
    services.phones[2] = "+8613812345678"  # the foreign customer has the phone as well
    d = Driver(services)
    await d.start("customer")
    await d.press("p:enterprise")
    await d.text("华为技术有限公司")
    await d.press("dnew")  # customer 1, for its name
    await _to_step(d, "phone")
    await d.text("13812345678")
    assert d.phase == "dup"
    shown = {m["customer_id"]: m["reasons"] for m in d.state.dups}  # type: ignore[union-attr]
    assert set(shown) == {1, 2} and all("phone" in r for r in shown.values())
    assert "王五" in d.text_out and "C202611010002" not in d.text_out  # foreign: name and owner only
    await d.press("dnew")
    assert d.step == "email"


async def test_an_edited_phone_of_another_customer_is_warned_and_the_record_itself_is_not() -> None:
    current = {
        "kind": "enterprise",
        "name": "华为技术有限公司",
        "phone": "+8613812345678",
        "credit_code": CODE,
    }
    services = _world(current=current)
    d = Driver(services)
    context = {"entity": "customer", "entity_id": 1, "customer_id": 1}
    await d.start("edit_customer", prefill={"current": current, "field": "phone"}, context=context)
    await d.text("13812345678")  # its own number: no warning about itself
    assert d.phase == "ask" and d.step == "reason"
    assert services.probes[-1].exclude_id == 1 and services.probes[-1].name is None  # only what changes
    await d.press("back")
    await d.text("13700000000")  # another customer's
    assert d.phase == "dup" and "王五" in d.text_out


async def test_an_edited_credit_code_taken_by_another_customer_is_blocked() -> None:
    current = {"kind": "enterprise", "name": "阿里巴巴集团控股有限公司", "credit_code": None}
    d = Driver(_world(current=current))
    context = {"entity": "customer", "entity_id": 3, "customer_id": 3}
    await d.start("edit_customer", prefill={"current": current, "field": "credit_code"}, context=context)
    await d.text(CODE)
    assert d.phase == "dup" and "dretype" in [x.split("|", 2)[2] for x in d.buttons()]


async def test_switching_a_person_to_enterprise_asks_the_registered_name_and_the_credit_code() -> None:
    current = {"kind": "individual", "name": "张三", "credit_code": None, "phone": None}
    d = Driver(_world(current=current))
    context = {"entity": "customer", "entity_id": 5, "customer_id": 5}
    await d.start("edit_customer", prefill={"current": current, "field": "kind"}, context=context)
    await d.press("p:enterprise")
    assert d.step == "name" and "工商注册全称" in d.text_out and "张三" in d.text_out  # current value shown
    await d.text("张三")
    assert "❗" in d.text_out and d.step == "name"  # a person's name is not a registered company name
    await d.text("杭州数澜科技有限公司")
    assert d.step == "credit_code"
    await d.press("later")
    assert d.step == "reason"
    await d.text("其实是公司客户")
    assert d.phase == "summary" and "⏳" in d.text_out
    await d.press("save")
    flow, answers, pending, _ = d.services.saved[-1]
    assert flow == "edit_customer"
    assert (answers["kind"], answers["name"], pending) == (
        "enterprise",
        "杭州数澜科技有限公司",
        ["credit_code"],
    )


async def test_an_unchanged_kind_asks_nothing_more() -> None:
    current = {"kind": "enterprise", "name": "华为技术有限公司", "credit_code": CODE}
    d = Driver(_world(current=current))
    context = {"entity": "customer", "entity_id": 1, "customer_id": 1}
    await d.start("edit_customer", prefill={"current": current, "field": "kind"}, context=context)
    await d.press("p:enterprise")
    assert d.step == "reason"


async def test_a_contact_with_the_name_and_phone_of_anothers_contact_is_warned_with_minimal_reveal() -> None:
    d = Driver(_world())
    await d.start("contact", prefill={"customer": {"id": 1, "name": "华为技术有限公司", "number": "C1"}})
    await d.text("李娜")
    assert d.phase == "ask"  # a name alone is not a duplicate contact
    await _to_step(d, "phone")
    await d.text("13900000000")
    assert d.phase == "dup" and "可能已有这个联系人" in d.text_out
    assert "王五" in d.text_out and "C202611010002" not in d.text_out
    assert not any(x.split("|", 2)[2].startswith("dopen:") for x in d.buttons())
    await d.press_label("不是同一个人")
    assert d.step == "email"


async def test_a_shared_contact_card_is_checked_for_a_duplicate_contact_too() -> None:
    from flows.engine import Input

    d = Driver(_world())
    await d.start("contact", prefill={"customer": {"id": 1, "name": "华为技术有限公司", "number": "C1"}})
    await d.send(Input(kind="contact", phone="+86 139 0000 0000", first_name="娜", last_name="李"))
    assert d.phase == "dup" and "可能已有这个联系人" in d.text_out


async def test_a_followup_can_be_corrected_and_its_pending_field_filled() -> None:
    current = {
        "customer": {"id": 1, "name": "华为技术有限公司", "number": "C1"},
        "occurred_on": "2026-11-20",
        "mode": "phone",
        "contact": None,
        "content": "电话沟通了报价,对方希望下周二前收到正式报价单。",
        "demand_status": None,
        "next_at": None,
        "participants": None,
        "location": None,
    }
    d = Driver(_world(current=current))
    context = {"entity": "followup", "entity_id": 9, "customer_id": 1}
    await d.start("edit_followup", prefill={"current": current}, context=context)
    fields = [label for data, label in d.buttons().items() if "|o:" in data]
    assert "客户" not in fields and "附件" not in fields and "内容" in fields and "需求状态" in fields
    await d.press_label("方式")
    await d.press("p:visit")
    assert d.step == "location"  # a visit now: its location may be given
    await d.press("skip")
    await d.text("记错了,是上门拜访")
    await d.press("save")
    assert d.services.saved[-1][1]["mode"] == "visit"
    filling = Driver(_world(current=current))
    await filling.start(
        "edit_followup", prefill={"current": current, "field": "demand_status"}, context=context
    )
    await filling.press("p:in_progress")
    await filling.text("补充需求状态")
    await filling.press("save")
    assert filling.services.saved[-1][1]["demand_status"] == "in_progress"


async def test_the_saved_message_says_how_late_an_entry_was() -> None:
    class Late(FakeServices):
        async def save(
            self, flow: str, answers: dict[str, Any], pending: list[str], context: dict[str, Any]
        ) -> Saved:
            await super().save(flow, answers, pending, context)
            return Saved(
                "followup", 1, None, 1, extra={"note": "saved.followup.late", "hours": 30, "what": "拜访"}
            )

    d = Driver(Late(customers=_world().customers))
    await d.start("followup", prefill={"customer": {"id": 1, "name": "华为技术有限公司", "number": "C1"}})
    await d.text("前天")
    await d.press("p:visit")
    await _to_step(d, "content")
    await d.text("拜访了对方采购部门,讨论了报价和实施方案的细节。")
    await d.press("later")
    await d.press("later")
    await _to_step(d, "attachments")
    await d.press("skip")
    await d.press("save")
    assert "拜访后 30 小时才录入" in d.text_out


def test_history_pages_five_newest_first_and_buttons_fit_telegram() -> None:
    items = [FollowUpItem(i, dt.date(2026, 11, 20 - i), "phone", "内容" * 50) for i in range(5, 10)]
    reply = history_reply(123456789, "华为技术有限公司", items, 1, 12, "zh")
    assert "6–10" in reply.text and "共 12 条" in reply.text
    data = [b.data for row in reply.buttons for b in row]
    assert "g|hist|123456789|0" in data and "g|hist|123456789|2" in data and "g|fu|5" in data
    assert all(len(x.encode()) <= 64 for x in data)
    assert page_of("g|hist|42|3", "g|hist|") == (42, 3)
    assert page_of("g|hist|42|x", "g|hist|") is None and page_of("g|hist|0|0", "g|hist|") is None


def test_changes_read_who_when_old_new_and_why() -> None:
    at = dt.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)
    lines = [
        ChangeLine(at, "Ann", "customer", "status", "potential", "deal", "签约了"),
        ChangeLine(at, "Boss", "contact", "phone", None, "+8613900000000", "补充", contact="李娜"),
    ]
    text = changes_reply(1, "华为技术有限公司", lines, 0, 2, "zh").text
    assert "Ann — 状态:潜在客户 → 成交客户" in text and "原因:签约了" in text
    assert "联系人 李娜 · 电话:(空) → +8613900000000" in text


def test_a_birthday_is_reminded_three_days_before_and_on_the_day() -> None:
    assert rules.birthday_key(7, dt.date(2026, 12, 4), 3) != rules.birthday_key(7, dt.date(2026, 12, 4))
    facts = rules.Facts("birthday", 1, 2, "华为", contact="张伟", day=dt.date(2026, 12, 4), ahead=3)
    now = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)
    assert "3 天后" in rules.reminder_reply(facts, "zh", SHANGHAI, now).text
    assert "In 3 days" in rules.reminder_reply(facts, "en", SHANGHAI, now).text
    on_day = rules.Facts("birthday", 1, 2, "华为", contact="张伟", day=dt.date(2026, 12, 4))
    assert "今天是" in rules.reminder_reply(on_day, "zh", SHANGHAI, now).text


def test_a_followups_pending_field_reminder_opens_exactly_that_field() -> None:
    since = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    facts = rules.Facts(
        "pending", 5, 2, "华为", at=since, fields=("next_at",), record="followup", day=since.date()
    )
    reply = rules.reminder_reply(facts, "zh", SHANGHAI, dt.datetime(2026, 11, 9, tzinfo=dt.UTC))
    assert "跟进记录" in reply.text and "下次跟进" in reply.text
    assert next(b.data for row in reply.buttons for b in row) == "r|fill|5|next_at"


def test_every_flow_with_an_edit_has_its_texts() -> None:
    from flows.i18n import t

    for name in ("edit_customer", "edit_contact", "edit_followup"):
        assert name in FLOWS
        for lang in ("zh", "en"):
            for key in (f"summary.{name}", f"saved.{name}", f"bot.flow.{name}"):
                assert t(lang, key) != key


async def test_an_edited_contact_phone_is_checked_with_its_name_and_not_against_itself() -> None:
    current = {"name": "李娜", "phone": "+8613600000000", "active": "yes"}
    services = _world(current=current)
    d = Driver(services)
    context = {"entity": "contact", "entity_id": 21, "customer_id": 1}
    await d.start("edit_contact", prefill={"current": current, "field": "phone"}, context=context)
    await d.text("13900000000")  # the name and phone of customer 2's contact 20
    assert d.phase == "dup" and "可能已有这个联系人" in d.text_out
    probe = services.probes[-1]
    assert (probe.record, probe.name, probe.exclude_id) == ("contact", "李娜", 21)


async def test_industry_changed_to_other_asks_which() -> None:
    current = {"kind": "enterprise", "name": "华为技术有限公司", "industry": "it", "industry_other": None}
    d = Driver(_world(current=current))
    context = {"entity": "customer", "entity_id": 1, "customer_id": 1}
    await d.start("edit_customer", prefill={"current": current, "field": "industry"}, context=context)
    await d.press("p:other")
    assert d.step == "industry_other"


def test_a_conversation_stored_before_per_key_dismissal_still_loads() -> None:
    from flows.engine import State

    state = State.stored({"flow": "customer", "dismissed": [1, 2]})
    assert state.dismissed_keys == []


def test_a_stored_conversation_is_read_leniently_but_never_as_something_else() -> None:
    """Rows written by an older or newer version load (unknown fields ignored, missing ones default);
    a row that is not a conversation is refused as such, for the router to drop, never half-read."""
    import datetime as dt

    import pytest

    from flows.engine import State, UnreadableState

    state = State.stored(
        {
            "flow": "followup",
            "step": "summary",
            "a_retired_field": {"x": 1},
            "updated_at": "2026-12-01T08:00:00Z",
        }
    )
    assert (state.flow, state.step, state.answers) == ("followup", "summary", {})
    assert state.updated_at == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    assert State.stored(state.dump()) == state  # stored and read back unchanged
    for junk in ({"step": "name"}, {"flow": 7}, {"flow": "customer", "phase": "nowhere"}, "text", None):
        with pytest.raises(UnreadableState):
            State.stored(junk)
