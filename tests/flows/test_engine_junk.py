"""Every typed prompt of every flow: a wrong answer is re-asked with a reason, and junk never crashes."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flows.definitions import FLOWS
from flows.engine import Engine, Input, State
from flows.refs import ContactRef, CustomerRef
from tests.flows.fakes import Driver, FakeServices

CUSTOMER = {"id": 7, "name": "华为技术有限公司", "number": "C202611010007"}


def _services() -> FakeServices:
    contacts = (ContactRef(70, "张伟", "总经理"),)
    return FakeServices(
        customers=[CustomerRef(7, "C202611010007", "华为技术有限公司", owner_name="我", contacts=contacts)]
    )


CONTACT_SCRIPT = [
    ("name", "王总", "王芳"),
    ("position", "p" * 51, "采购经理"),
    ("phone", "1381234", "13912345678"),
    ("email", "wang@", "wang@huawei.com"),
    ("role", "老板", "决策人"),
    ("channel", "飞鸽", "微信"),
    ("channel_time", "t" * 51, "工作日下午"),
    ("birthday", "2月30日", "5月3日"),
    ("remarks", "r" * 201, "喜欢喝茶"),
]

FOLLOWUP_SCRIPT = [
    ("occurred_on", "下周一", "昨天"),
    ("mode", "飞鸽传书", "电话沟通"),
    ("contact", "不存在的人", "张伟 · 总经理"),
    ("content", "聊了聊", "确认了二期项目的预算范围,对方下周内部评审后给答复。"),
    ("demand_status", "还行", "跟进中"),
    ("next_at", "2月30日", "下周三上午10点"),
]


async def _run_script(d: Driver, script: list[tuple[str, str, str]]) -> None:
    for step, wrong, right in script:
        assert d.step == step, f"expected {step}, at {d.step}"
        before = dict(d.state.answers)  # type: ignore[union-attr]
        await d.text(wrong)
        assert (d.step, d.phase) == (step, "ask"), f"{step} accepted {wrong!r}"
        assert "❗" in d.text_out
        assert d.state.answers == before  # type: ignore[union-attr]
        await d.text(right)
        if d.phase == "confirm":
            await d.press("ok")


async def test_contact_flow_reasks_every_wrong_answer() -> None:
    d = Driver(_services())
    await d.start("contact", prefill={"customer": CUSTOMER})
    await _run_script(d, CONTACT_SCRIPT)
    assert d.phase == "summary"
    await d.press("save")
    _, answers, _, _ = d.services.saved[0]
    assert (
        answers["birthday"] == "05-03"
        and answers["role"] == "decision_maker"
        and answers["channel"] == "wechat"
    )


async def test_followup_flow_reasks_every_wrong_answer() -> None:
    d = Driver(_services())
    await d.start("followup", prefill={"customer": CUSTOMER})
    await _run_script(d, FOLLOWUP_SCRIPT)
    assert d.step == "participants"
    await d.text("p" * 201)
    assert d.step == "participants" and "❗" in d.text_out
    await d.text("我和技术总监")
    await d.send(Input(kind="file", file={"name": "a.pdf", "kind": "document"}))
    await d.press("done")
    assert d.phase == "summary"
    await d.press("save")
    _, answers, _, _ = d.services.saved[0]
    assert answers["next_at"]["at"].startswith("2026-11-25T10:00")
    assert answers["contact"] == {"id": 70, "name": "张伟"}


JUNK = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "So", "Cs"]), max_size=50),
    st.sampled_from(
        ["'; DROP TABLE customers;--", "<script>alert(1)</script>", "😀" * 500, "\x00\x1b[2J", "null"]
    ),
    st.text(min_size=5000, max_size=6000),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.sampled_from(["customer", "contact", "followup"]), depth=st.integers(0, 12), junk=JUNK)
async def test_junk_at_any_prompt_gets_an_answer_never_a_crash(flow: str, depth: int, junk: str) -> None:
    d = Driver(_services())
    prefill = {"customer": CUSTOMER} if flow != "customer" else None
    await d.start(flow, prefill=prefill)
    for _ in range(depth):  # walk some way into the flow the quickest way
        if d.phase != "ask":
            break
        moves = [data.split("|", 2)[2] for data in d.buttons()]
        move = next((m for m in moves if m in ("skip", "later")), None) or next(
            (m for m in moves if m.startswith(("p:", "o:", "q:"))), None
        )
        if move is None:
            break
        await d.press(move)
        if d.phase == "confirm":
            await d.press("ok")
    if d.state is None:
        return
    before = d.state
    out = await d.text(junk)
    assert out.replies, "junk got no answer at all"
    assert out.state is not None, "junk ended the flow"
    if out.state.step == before.step and out.state.phase == before.phase == "ask":
        # not accepted: the earlier answers are all still there
        assert {k: v for k, v in out.state.answers.items() if k in before.answers} == before.answers


async def test_state_survives_json_at_every_step() -> None:
    engine = Engine(FLOWS)
    services = _services()
    outcome = await engine.start("followup", services, prefill={"customer": CUSTOMER})
    state = outcome.state
    for text in ("昨天", "3", "张伟 · 总经理", "确认了二期项目的预算范围,对方下周内部评审后给答复。", "2"):
        assert state is not None
        state = State.stored(json.loads(json.dumps(state.dump(), ensure_ascii=False)))
        outcome = await engine.handle(state, Input(kind="text", text=text), services)
        state = outcome.state
    assert state is not None and state.step == "next_at"
