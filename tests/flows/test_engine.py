"""The engine driven through whole flows with no bot and no database."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.engine import Input
from flows.refs import ContactRef, CustomerRef
from tests.flows.fakes import Driver, FakeServices

# (step, a wrong answer, the right answer): a wrong answer at every typed prompt
CUSTOMER_SCRIPT = [
    ("name", "华为", "华为技术有限公司"),
    ("credit_code", "123", "91440300708461136T"),
    ("status", "不知道", "潜在客户"),
    ("industry", "随便", "1"),
    ("grade", "超级", "普通"),
    ("intent", "Z", "A"),
    ("address", "北京", "广东省深圳市南山区科苑路15号"),
    ("phone", "12345", "138 1234 5678"),
    ("email", "qq.com", "ZHANG@Huawei.com"),
    ("source", "路上", "行业展会"),
    ("main_business", "x" * 201, "通信设备"),
    ("current_problem", "y" * 201, "成本高"),
    ("interest", "z" * 201, "数据平台"),
    ("tags", ",".join(f"标签{i}" for i in range(12)), "VIP客户,高风险客户"),
    ("remarks", "备" * 201, "无"),
]


async def test_customer_flow_reasks_every_wrong_answer_and_keeps_earlier_ones() -> None:
    d = Driver()
    await d.start("customer")
    assert d.step == "kind"
    await d.text("maybe")
    assert d.step == "kind" and "❗" in d.text_out
    await d.press("p:enterprise")
    for step, wrong, right in CUSTOMER_SCRIPT:
        assert d.step == step, f"expected {step}, at {d.step}"
        before = dict(d.state.answers)  # type: ignore[union-attr]
        await d.text(wrong)
        assert d.step == step and d.phase == "ask", f"{step} accepted {wrong!r}"
        assert "❗" in d.text_out, f"{step}: no reason given for {wrong!r}"
        assert d.state.answers == before  # type: ignore[union-attr]
        await d.text(right)
    assert d.phase == "summary"
    summary = d.text_out
    for shown in ("华为技术有限公司", "91440300708461136T", "138 1234 5678", "zhang@huawei.com", "VIP客户"):
        assert shown in summary
    await d.press("save")
    assert d.state is None
    flow, answers, pending, _ = d.services.saved[0]
    assert flow == "customer"
    assert answers["phone"] == "+8613812345678"
    assert answers["email"] == "zhang@huawei.com"
    assert answers["industry"] == "manufacturing"
    assert answers["address"]["city"] == "深圳市"
    assert pending == []
    assert "C202611220001" in d.text_out


async def test_individual_is_not_asked_for_a_credit_code_and_later_marks_pending() -> None:
    d = Driver()
    await d.start("customer")
    await d.press("p:individual")
    await d.text("张三")
    assert d.step == "status"  # no credit code for an individual
    await d.press("later")
    assert d.step == "industry"
    await d.press("p:it")
    await d.press("skip")  # grade -> default
    await d.press("skip")  # intent
    await d.press("later")  # address
    await d.text("13812345678")
    await d.press("later")  # email
    await d.press("p:referral")
    for _ in range(5):
        await d.press("skip")
    assert d.phase == "summary"
    assert "待补充" in d.text_out
    await d.press("save")
    _, answers, pending, _ = d.services.saved[0]
    assert sorted(pending) == ["address", "email", "status"]
    assert answers["grade"] == "normal"
    assert "credit_code" not in answers


async def test_back_returns_to_the_previous_question_and_forgets_its_answer() -> None:
    d = Driver()
    await d.start("customer")
    await d.press("p:enterprise")
    await d.text("华为技术有限公司")
    assert d.step == "credit_code"
    await d.press("back")
    assert d.step == "name"
    assert "name" not in d.state.answers  # type: ignore[union-attr]
    await d.press("back")
    assert d.step == "kind"
    await d.press("p:individual")
    await d.text("李四")
    assert d.step == "status"


async def test_edit_one_field_at_the_summary_does_not_reask_the_others() -> None:
    d = Driver(FakeServices(lang="en"))
    await d.start("customer")
    await d.press("p:individual")
    await d.text("Zhang San")
    await d.skip_to_summary()
    asked = len(d.state.trail)  # type: ignore[union-attr]
    await d.press("edit")
    assert d.phase == "edit_pick"
    await d.press("ef:name")
    assert d.step == "name"
    assert "Zhang San" in d.text_out  # the current value is shown
    await d.text("Li Si")
    assert d.phase == "summary"
    assert "Li Si" in d.text_out
    assert len(d.state.trail) == asked  # type: ignore[union-attr]
    # Back from an edit question restores the old value
    await d.press("edit")
    await d.press("ef:name")
    await d.press("back")
    assert d.phase == "summary" and "Li Si" in d.text_out


async def test_changing_kind_at_the_summary_asks_only_what_became_needed() -> None:
    d = Driver()
    await d.start("customer")
    await d.press("p:individual")
    await d.text("张三")
    await d.skip_to_summary()
    await d.press("edit")
    await d.press("ef:kind")
    await d.press("p:enterprise")
    assert d.step == "credit_code"
    await d.text("91440300708461136T")
    assert d.phase == "summary"


async def test_cancel_ends_the_flow_and_says_nothing_was_saved() -> None:
    d = Driver()
    await d.start("customer")
    await d.press("p:individual")
    await d.press("cancel")
    assert d.state is None
    assert "未保存" in d.text_out
    assert d.services.saved == []


async def test_a_button_from_an_earlier_question_is_stale() -> None:
    d = Driver()
    await d.start("customer")
    old_seq = d.state.seq  # type: ignore[union-attr]
    await d.press("p:individual")
    await d.send(Input(kind="button", data="p:enterprise", seq=old_seq))
    assert d.step == "name"
    assert d.state.answers["kind"] == "individual"  # type: ignore[union-attr]
    assert "失效" in d.text_out


async def test_duplicates_visible_one_can_be_opened_foreign_one_shows_only_name_and_owner() -> None:
    mine = CustomerRef(1, "C202611010001", "华为技术有限公司", owner_name="我")
    theirs = CustomerRef(2, "C202611010002", "深圳市华为技术有限公司", owner_name="王五")
    services = FakeServices(customers=[mine, theirs], foreign={2})
    d = Driver(services)
    await d.start("customer")
    await d.press("p:enterprise")
    await d.text("华为技术有限公司")
    assert d.phase == "dup"
    assert "C202611010001" in d.text_out  # visible: number shown, can be opened
    assert "王五" in d.text_out and "C202611010002" not in d.text_out  # foreign: name and owner only
    assert not any("dopen:2" in data for data in d.buttons())
    await d.press("dopen:1")
    assert d.state is None and d.outcome and d.outcome.open_customer == 1


async def test_a_dismissed_name_match_is_checked_again_for_its_phone_then_not_again() -> None:
    services = FakeServices(
        customers=[CustomerRef(1, "C1", "华为技术有限公司", owner_name="我")], phones={1: "+8613812345678"}
    )
    d = Driver(services)
    await d.start("customer")
    await d.press("p:enterprise")
    await d.text("华为技术有限公司")
    await d.press("dnew")
    assert d.step == "credit_code"
    await d.press("later")
    for _ in range(5):
        if d.step == "phone":
            break
        move = next((b.split("|", 2)[2] for b in d.buttons() if b.endswith(("|skip", "|later"))), None)
        await d.press(move)  # type: ignore[arg-type]
    assert d.step == "phone"
    await d.text("13812345678")  # dismissed for its name only: the same phone is another warning
    assert d.phase == "dup" and "电话" in d.text_out
    await d.press("dnew")
    assert d.phase == "ask" and d.step == "email"


def _customers() -> list[CustomerRef]:
    return [
        CustomerRef(
            7,
            "C202611010007",
            "华为技术有限公司",
            owner_name="我",
            contacts=(ContactRef(70, "张伟", "总经理"), ContactRef(71, "李娜", "采购")),
        )
    ]


async def test_followup_flow_with_dates_contacts_and_confirmation() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start("followup")
    assert d.step == "customer"
    await d.text("华为")  # search
    await d.press("o:0")
    assert d.step == "occurred_on"
    await d.text("明天")  # an interaction can't be in the future
    assert d.step == "occurred_on" and "❗" in d.text_out
    await d.text("昨天")
    assert d.state.answers["occurred_on"] == "2026-11-21"  # type: ignore[union-attr]
    await d.press("p:visit")
    assert d.step == "contact"
    assert "张伟 · 总经理" in d.buttons().values()
    await d.press("o:0")
    await d.text("太短了")
    assert d.step == "content" and "❗" in d.text_out
    await d.text("介绍了新版本的数据平台,对方要求下周给出正式报价单和实施计划。")
    await d.press("p:in_progress")
    assert d.step == "next_at"
    await d.text("下周二下午两点")
    assert d.phase == "confirm"
    assert "14:00" in d.text_out and "11月24日" in d.text_out
    await d.press("ok")
    assert d.step == "participants"
    await d.press("skip")
    assert d.step == "location"  # visits offer a location
    assert d.replies[-1].request_location
    await d.send(Input(kind="location", latitude=22.54, longitude=113.95))
    assert d.step == "attachments"
    await d.send(
        Input(kind="file", file={"name": "报价单.pdf", "kind": "document", "path": "/x", "size": 10})
    )
    assert d.step == "attachments" and "报价单.pdf" in d.text_out and "共 1 个" in d.text_out
    await d.text("就这些")  # typing is not a file: re-asked, the file is kept
    await d.press("done")
    assert d.phase == "summary" and "报价单.pdf" in d.text_out
    await d.press("save")
    _, answers, _, _ = d.services.saved[0]
    assert answers["customer"]["id"] == 7
    assert answers["contact"] == {"id": 70, "name": "张伟"}
    assert dt.datetime.fromisoformat(answers["next_at"]["at"]) == dt.datetime(
        2026, 11, 24, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    assert answers["location"] == {"lat": 22.54, "lon": 113.95}
    assert [f["name"] for f in answers["attachments"]] == ["报价单.pdf"]


async def test_next_time_in_the_past_is_refused_and_retype_works() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start(
        "followup", prefill={"customer": {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}}
    )
    assert d.step == "occurred_on"
    await d.press("q:今天")
    await d.press("p:phone")
    await d.press("skip")
    await d.text("电话沟通了下一阶段的合作方式,对方同意下个月安排一次技术交流会。")
    await d.press("later")
    await d.text("昨天下午3点")
    assert d.step == "next_at" and "❗" in d.text_out
    await d.text("3天后")
    assert d.phase == "confirm"
    assert "09:00" in d.text_out  # a day without a time gets the default hour, and the echo says so
    await d.press("retype")
    assert d.phase == "ask" and d.step == "next_at"
    await d.text("明天上午10点")
    await d.press("ok")
    assert d.step == "participants"


async def test_customer_picked_from_a_card_is_fixed_and_back_does_not_reopen_it() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start(
        "contact", prefill={"customer": {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}}
    )
    assert d.step == "name"
    await d.text("王芳")
    await d.press("back")
    assert d.step == "name"
    assert not any(data.endswith("|back") for data in d.buttons())  # nothing before it to go back to


async def test_a_shared_contact_card_fills_name_and_phone() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start(
        "contact", prefill={"customer": {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}}
    )
    await d.send(Input(kind="contact", first_name="芳", last_name="王", phone="+86 139 1234 5678"))
    assert d.state.answers["name"] == "王芳"  # type: ignore[union-attr]
    assert d.state.answers["phone"] == "+8613912345678"  # type: ignore[union-attr]
    assert d.step == "position"


async def test_a_forged_or_vanished_customer_option_is_refused() -> None:
    services = FakeServices(customers=_customers())
    d = Driver(services)
    await d.start("followup")
    services.foreign.add(7)  # reassigned while the question was open
    await d.press("o:0")
    assert d.step == "customer" and "❗" in d.text_out


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_resume_shows_the_same_question_again(lang: str) -> None:
    d = Driver(FakeServices(lang=lang))
    await d.start("customer")
    await d.press("p:individual")
    assert d.state is not None
    again = await d.engine.resume(d.state, d.services)
    assert again.state is not None and again.state.step == "name"
    assert again.replies[-1].text.startswith("(2/")


async def test_an_interaction_date_ambiguous_only_in_the_hour_is_not_asked() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start(
        "followup", prefill={"customer": {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}}
    )
    await d.text("昨天3点")
    assert d.state.answers["occurred_on"] == "2026-11-21"  # type: ignore[union-attr]
    assert d.step == "mode"


async def test_an_ambiguous_next_time_offers_both_readings_as_buttons() -> None:
    d = Driver(FakeServices(customers=_customers()))
    await d.start(
        "followup", prefill={"customer": {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}}
    )
    await d.press("q:今天")
    await d.press("p:phone")
    await d.press("skip")
    await d.text("电话沟通了下一阶段的合作方式,对方同意下个月安排一次技术交流会。")
    await d.press("later")
    await d.text("明天3点")
    assert d.step == "next_at" and "❗" in d.text_out
    labels = [label for label in d.buttons().values() if "11月23日" in label]
    assert len(labels) == 2 and any("15:00" in x for x in labels) and any("03:00" in x for x in labels)
    await d.press_label("15:00")
    assert d.phase == "confirm"
    await d.press("ok")
    assert d.state.answers["next_at"]["at"].startswith("2026-11-23T15:00")  # type: ignore[union-attr]
