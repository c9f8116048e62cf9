"""Notes typed in one message: the customer, contact, mode and times they name, on a table of real-ish notes.

The book below is one sales person's own customers. "now" is Sunday 2026-11-22 10:00 in Shanghai
(weeks start on Monday, so 下周二 is 11-24), unless a case says otherwise.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.notes import detect_mode, understand_note
from flows.refs import ContactRef, CustomerRef

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=SH)


def _customer(id: int, name: str, *contacts: tuple[int, str, str | None]) -> CustomerRef:
    return CustomerRef(
        id=id,
        number=f"C2026110{id:05d}",
        name=name,
        contacts=tuple(ContactRef(cid, cname, position) for cid, cname, position in contacts),
    )


BOOK = [
    _customer(1, "华为技术有限公司", (11, "张伟", "总经理"), (12, "李娜", "采购经理")),
    _customer(2, "华为终端有限公司", (21, "王强", "工程师")),
    _customer(3, "阿里巴巴集团控股有限公司", (31, "马丽", "总监")),
    _customer(4, "深圳市腾讯计算机系统有限公司", (41, "刘洋", "经理"), (42, "陈静", "产品经理")),
    _customer(
        5, "Acme Trading Co., Ltd.", (51, "John Smith", "Purchasing Manager"), (52, "Mary Johnson", None)
    ),
    _customer(6, "Globex Corporation", (61, "Hank Scorpio", "CEO")),
    _customer(7, "欧阳娜娜"),  # an individual customer
    _customer(8, "杭州数澜科技有限公司", (81, "周杰", "销售总监")),
    _customer(9, "Initech LLC", (91, "Peter Gibbons", None), (92, "Bill Lumbergh", "VP")),
    _customer(10, "北京字节跳动科技有限公司", (101, "赵敏", "HR经理"), (102, "张强", "技术总监")),
    _customer(11, "Blue Sky Technologies Ltd", (111, "Li Wei", "CTO")),
    _customer(12, "明天科技有限公司"),
]
BY_ID = {c.id: c for c in BOOK}

Case = tuple[str, "int | set[int] | None", "str | None", "str | None", "str | None", "str | None"]

# note, customer (id; a set = "ask which of these"; None = nobody), contact, mode, next follow-up
# ("MM-DD HH:MM" in Shanghai; None = none found), interaction day ("MM-DD"; None = today)
CASES: list[Case] = [
    # --- Chinese: company + contact by title, mode, time
    (
        "刚和华为技术张总通了电话,他们要报价单和实施方案,下周二下午两点再跟进",
        1,
        "张伟",
        "phone",
        "11-24 14:00",
        None,
    ),
    (
        "去华为拜访了一下,聊了新项目的需求和预算,周五上午10点再联系",
        {1, 2},
        None,
        "visit",
        "11-27 10:00",
        None,
    ),
    ("华为终端王工来电,说样机有问题,明天上午10点回电话", 2, "王强", "phone", "11-23 10:00", None),
    (
        "和阿里马总开了视频会议,讨论了年度框架协议,下周一下午3点再跟进",
        3,
        "马丽",
        "online_meeting",
        "11-23 15:00",
        None,
    ),
    ("阿里那边发邮件过来确认了报价,3天后再联系", 3, None, "email", "11-25 09:00", None),
    (
        "腾讯刘经理微信上说预算批下来了,下周三上午九点去他们公司签合同",
        4,
        "刘洋",
        "wechat",
        "11-25 09:00",
        None,
    ),
    ("拜访腾讯,见了陈静和刘洋,演示了新版本", 4, None, "visit", None, None),
    ("欧阳娜娜打电话来咨询课程价格,明天下午再打给她", 7, None, "phone", "11-23 14:00", None),
    (
        "数澜周总监来公司面谈,聊了数据中台的合作,下下周一上午10点再跟进",
        8,
        "周杰",
        "visit",
        "11-30 10:00",
        None,
    ),
    ("字节赵经理通了电话,HR系统要再评估,12月3日下午4点再联系", 10, "赵敏", "phone", "12-03 16:00", None),
    ("和张伟通了电话,确认了合同条款,明天下午3点再约", 1, "张伟", "phone", "11-23 15:00", None),
    (
        "华为技术有限公司李娜发来邮件,要求修改付款条款,周三下午两点电话沟通",
        1,
        "李娜",
        "email",
        "11-25 14:00",
        None,
    ),
    ("昨天拜访了华为终端,王强说下个月15号前给答复", 2, "王强", "visit", "12-15 09:00", "11-21"),
    (
        "上周五和阿里马丽见面,她要一份案例集,下周二上午发给她",
        3,
        "马丽",
        "visit",
        "11-24 09:00",
        "11-13",
    ),  # the week before this one
    ("和腾讯陈经理线上会议,确认了接口文档,两周后再跟进", 4, "陈静", "online_meeting", "12-06 09:00", None),
    ("和腾讯王经理通了电话", 4, None, "phone", None, None),  # no 王 at Tencent: ask the contact
    ("阿里巴巴的人说暂时不需要了", 3, None, None, None, None),
    ("下午去了一趟华为终端,现场测试通过,下周二上午10点验收", 2, None, "visit", "11-24 10:00", None),
    ("刚和数澜周杰微信聊了,他们下周五前决定", 8, "周杰", "wechat", "11-27 09:00", None),
    ("周杰说下周五前决定", 8, "周杰", None, "11-27 09:00", None),  # a contact alone names the customer
    ("马丽发邮件说合同已盖章", 3, "马丽", "email", None, None),
    ("和小刘通了个电话,腾讯那边要准备招标", 4, "刘洋", "phone", None, None),
    ("和数澜科技签约了!下个月15号回访", 8, None, None, "12-15 09:00", None),
    ("见了阿里的马总,聊得不错,大后天下午三点再去拜访", 3, "马丽", "visit", "11-25 15:00", None),
    ("微信联系了欧阳娜娜,她说下周一下午有空", 7, None, "wechat", "11-23 14:00", None),
    ("明天下午3点和华为开视频会议", {1, 2}, None, "online_meeting", "11-23 15:00", None),
    (
        "北京字节跳动的张强来公司面谈,技术方案基本认可,周四下午两点半再沟通",
        10,
        "张强",
        "visit",
        "11-26 14:30",
        None,
    ),
    ("字节跳动张总电话里说要加预算", 10, "张强", "phone", None, None),  # 张伟 is at Huawei, not named
    ("华为李经理说下周三之前给采购订单", 1, "李娜", None, "11-25 09:00", None),  # 李 tips it to 华为技术
    ("华为李经理说下周三之前给采购订单,下周四上午10点再跟进", 1, "李娜", None, "11-26 10:00", None),
    ("Initech wants the draft by Wednesday; follow up Friday 3pm", 9, None, None, "11-27 15:00", None),
    ("拜访了阿里,下周三之前给方案,下周四上午10点再跟进", 3, None, "visit", "11-26 10:00", None),
    (
        "Emailed Globex; they reply by Monday, follow up on Tuesday 11am",
        6,
        None,
        "email",
        "11-24 11:00",
        None,
    ),
    ("和华为终端王强通了电话,明天上午10点再跟进", 2, "王强", "phone", "11-23 10:00", None),  # 明天 ≠ 明天科技
    ("腾讯陈静 企业微信 说下个月再谈", 4, "陈静", "wechat", None, None),
    ("３天后再给华为终端打电话,对方王工在出差", 2, "王强", "phone", "11-25 09:00", None),  # full-width digit
    ("去杭州数澜科技有限公司上门拜访,周总监不在,见了他的助理", 8, "周杰", "visit", None, None),
    ("三年前和腾讯刘洋合作过,今天又打了电话", 4, "刘洋", "phone", None, None),  # history, not the day
    ("前天和腾讯刘洋吃饭聊了续约的事情", 4, "刘洋", None, None, "11-20"),
    # --- Chinese: ask which customer
    (
        "和张总通了电话,确认了合同条款",
        {1, 10},
        None,
        "phone",
        None,
        None,
    ),  # 张伟 at Huawei, 张强 at ByteDance
    ("华为那边说要重新报价", {1, 2}, None, None, None, None),
    # --- Chinese: names nobody in the book, or no note at all
    ("拜访了一家新客户,老板姓黄,对我们的产品很感兴趣", None, None, "visit", None, None),
    ("给一个新线索打了电话,对方是做物流的", None, None, "phone", None, None),
    ("你好啊今天天气不错", None, None, None, None, None),
    ("天气不错,去公园走走", None, None, None, None, None),
    ("明天记得买咖啡", None, None, None, "11-23 09:00", None),
    # --- English
    (
        "Visited Acme, met John, they want a quote, follow up Friday 10am",
        5,
        "John Smith",
        "visit",
        "11-27 10:00",
        None,
    ),
    (
        "Call with Mary from Acme about the renewal, next Tuesday 2pm",
        5,
        "Mary Johnson",
        "phone",
        "11-24 14:00",
        None,
    ),
    (
        "Zoom with Globex (Hank) on the pilot scope; follow up in 3 days",
        6,
        "Hank Scorpio",
        "online_meeting",
        "11-25 09:00",
        None,
    ),
    (
        "Emailed Peter at Initech the revised proposal, follow up next Monday 9am",
        9,
        "Peter Gibbons",
        "email",
        "11-23 09:00",
        None,
    ),
    (
        "Initech: Bill says budget frozen until January, check back in 2 weeks",
        9,
        "Bill Lumbergh",
        None,
        "12-06 09:00",
        None,
    ),
    (
        "Met Li Wei from Blue Sky, they need 20 licences, send quote by Thursday",
        11,
        "Li Wei",
        "visit",
        "11-26 09:00",
        None,
    ),
    ("blue sky called, want a demo next wed 3pm", 11, None, "phone", "11-25 15:00", None),
    (
        "Called Acme yesterday, John wants the contract in English. Follow up Dec 3 at 4:30pm",
        5,
        "John Smith",
        "phone",
        "12-03 16:30",
        "11-21",
    ),
    ("Globex emailed: Hank is out, ping him in 30 days", 6, "Hank Scorpio", "email", "12-22 09:00", None),
    ("Spoke to someone at Acme on the phone, nothing new", 5, None, "phone", None, None),
    ("ACME TRADING wants samples; visit them next Thursday 10:00", 5, None, "visit", "11-26 10:00", None),
    ("Globex Corp: Hank wants a call tomorrow at noon", 6, "Hank Scorpio", "phone", "11-23 12:00", None),
    (
        "Teams call with Initech's Peter and Bill, decided to pilot, follow up 2026-12-10 09:00",
        9,
        None,
        "online_meeting",
        "12-10 09:00",
        None,
    ),
    (
        "Visited Initech. Bill Lumbergh asked about the reports again. Next visit in a month",
        9,
        "Bill Lumbergh",
        "visit",
        "12-22 09:00",
        None,
    ),
    ("Called Mr Smith about the invoice", 5, "John Smith", "phone", None, None),
    ("call with john tomorrow 3pm", 5, "John Smith", "phone", "11-23 15:00", None),
    ("Acme: price too high, lost to a competitor", 5, None, None, None, None),
    ("Quick call with Globex, they'll email the PO on Monday", 6, None, "phone", "11-23 09:00", None),
    ("Emailed Blue Sky Technologies the licence terms", 11, None, "email", None, None),
    ("Video call with Initech, Peter joined late", 9, "Peter Gibbons", "online_meeting", None, None),
    ("Dropped by Globex on the way back, Hank was out", 6, "Hank Scorpio", "visit", None, None),
    (
        "WeChat with Li Wei: Blue Sky signs next month, follow up Dec 15",
        11,
        "Li Wei",
        "wechat",
        "12-15 09:00",
        None,
    ),
    ("Globex and Acme joint call about the distribution deal", {5, 6}, None, "phone", None, None),
    ("Initech's office visit went well", 9, None, "visit", None, None),
    ("Visted Initec yesterday", 9, None, None, None, "11-21"),  # one typo in a long name is forgiven
    ("Visited Initrode yesterday", None, None, "visit", None, "11-21"),  # another company altogether
    # --- English: nobody in the book, or no note
    (
        "Lunch with a new prospect from a bank, seems keen, follow up tomorrow",
        None,
        None,
        None,
        "11-23 09:00",
        None,
    ),
    ("The sky is blue today", None, None, None, None, None),
    ("Called a new lead from the trade show, they make furniture", None, None, "phone", None, None),
    ("thanks!", None, None, None, None, None),
]


def _expect_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    day, time = text.split()
    month, dom = (int(x) for x in day.split("-"))
    hour, minute = (int(x) for x in time.split(":"))
    return dt.datetime(2026, month, dom, hour, minute, tzinfo=SH)


@pytest.mark.parametrize(("text", "customer", "contact", "mode", "next_at", "occurred"), CASES)
def test_note_table(
    text: str,
    customer: int | set[int] | None,
    contact: str | None,
    mode: str | None,
    next_at: str | None,
    occurred: str | None,
) -> None:
    note = understand_note(text, BOOK, now=NOW)
    if isinstance(customer, set):
        assert note.customer is None, f"picked {note.customer} where it should ask"
        assert {c.id for c in note.candidates} == customer
    elif customer is None:
        assert note.customer is None and note.candidates == ()
    else:
        assert note.customer is not None and note.customer.id == customer, note.candidates
        assert [c.id for c in note.candidates] == [customer]
    assert (note.contact.name if note.contact else None) == contact
    assert note.mode == mode
    assert (note.next_at.at if note.next_at else None) == _expect_at(next_at)
    day = dt.date(2026, *(int(x) for x in occurred.split("-"))) if occurred else NOW.date()
    assert note.occurred_on == day
    assert note.content  # the note itself is the content


def test_the_table_is_big_enough_and_covers_both_languages() -> None:
    zh = [c for c in CASES if any("\u4e00" <= ch <= "\u9fff" for ch in c[0])]
    assert len(CASES) >= 60 and len(zh) >= 30 and len(CASES) - len(zh) >= 25
    assert sum(isinstance(c[1], set) for c in CASES) >= 4  # ask which
    assert sum(c[1] is None for c in CASES) >= 8  # nobody


@pytest.mark.parametrize(
    ("text", "recognised"),
    [
        ("你好啊今天天气不错", False),
        ("明天记得买咖啡", False),  # a date alone is no follow-up
        ("thanks!", False),
        ("下周二下午两点再跟进", True),  # no one named, but clearly a follow-up: the flow asks who
        ("follow up tomorrow 10am", True),
        ("拜访了一家新客户", True),
        ("华为", True),
    ],
)
def test_what_reads_as_a_note(text: str, recognised: bool) -> None:
    assert understand_note(text, BOOK, now=NOW).recognised is recognised


@pytest.mark.parametrize(
    ("text", "name_only"),
    [("Acme", True), ("acme trading", True), ("华为", True), ("华为终端", True), ("Globex Corp", True),
     ("华为那边说要重新报价", False), ("Called Acme", False), ("明天华为", False), ("hello", False)],
)  # fmt: skip
def test_a_bare_name_is_a_lookup_not_a_note(text: str, name_only: bool) -> None:
    assert understand_note(text, BOOK, now=NOW).just_a_name is name_only


def test_a_date_that_reads_two_ways_is_asked_not_guessed() -> None:
    note = understand_note("和华为终端王强通了电话,明天3点再打", BOOK, now=NOW)
    assert note.customer is not None and note.customer.id == 2
    assert note.next_at is None and note.date_problem is not None
    assert note.date_problem.key == "date.ambiguous"


def test_an_impossible_date_is_left_for_the_flow_to_ask() -> None:
    note = understand_note("和腾讯刘洋通了电话,下周八再联系", BOOK, now=NOW)
    assert note.customer is not None and note.customer.id == 4
    assert note.next_at is None and note.date_problem is not None


def test_times_are_read_relative_to_another_now() -> None:
    last_day_of_year = dt.datetime(2026, 12, 31, 16, 0, tzinfo=SH)
    note = understand_note("Called Acme, follow up next Tuesday 2pm", BOOK, now=last_day_of_year)
    assert note.next_at is not None and note.next_at.at == dt.datetime(2027, 1, 5, 14, 0, tzinfo=SH)
    assert note.customer is not None and note.customer.id == 5


def test_with_no_customers_a_note_still_reads_mode_and_time() -> None:
    note = understand_note("刚和华为张总通了电话,下周二下午两点再跟进", [], now=NOW)
    assert (note.customer, note.candidates, note.mode) == (None, (), "phone")
    assert note.next_at is not None and note.next_at.at == dt.datetime(2026, 11, 24, 14, 0, tzinfo=SH)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("微信电话聊了半小时", "wechat"),
        ("视频电话过了一遍方案", "online_meeting"),
        ("recalled the numbers", None),  # "call" inside a word is not a call
        ("Teams meeting", "online_meeting"),
        ("steams ahead", None),
        ("e-mail sent", "email"),
        ("met them at the fair", "visit"),
        ("met on Zoom", "online_meeting"),  # a named channel beats the weak "met"
    ],
)
def test_mode_words(text: str, mode: str | None) -> None:
    assert detect_mode(text) == mode


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_reads_without_crashing(text: str) -> None:
    note = understand_note(text, BOOK, now=NOW)
    assert note.customer is None or note.customer in BOOK
    assert all(c in BOOK for c in note.candidates)


def test_a_very_long_note_is_read_quickly_enough_to_stay_usable() -> None:
    text = "刚和华为技术张总通了电话," + "聊了很多细节。" * 600 + "下周二下午两点再跟进"
    others = [_customer(1000 + i, f"远航{i:03d}号物流有限公司", (5000 + i, "孙丽", None)) for i in range(480)]
    note = understand_note(text, BOOK + others, now=NOW)
    assert note.customer is not None and note.customer.id == 1
