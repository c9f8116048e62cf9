"""Field validators: good answers give the exact stored value, bad ones the right reason.

The last part feeds generated junk to every validator: an answer may be refused, but only with
`Invalid`, and every refusal must have a filled-in message in both languages.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.cn import uscc

from flows import validators as v
from flows.errors import Invalid
from flows.i18n import LANGS, catalog, t
from flows.validators import Address

TODAY = dt.date(2024, 11, 22)


def key_of(fn: Callable[[str], object], text: str) -> str:
    with pytest.raises(Invalid) as caught:
        fn(text)
    return caught.value.key


# --------------------------------------------------------------------------------------------
# Phone


GOOD_PHONE: list[tuple[str, Any]] = [
    ("13812345678", "+8613812345678"),
    ("１３８１２３４５６７８", "+8613812345678"),  # full-width digits
    ("138-1234-5678", "+8613812345678"),
    ("138 1234 5678", "+8613812345678"),
    ("+86 138 1234 5678", "+8613812345678"),
    ("＋８６　１３８　１２３４　５６７８", "+8613812345678"),
    ("0086 13812345678", "+8613812345678"),
    ("8613812345678", "+8613812345678"),  # contact cards send no "+"
    ("手机:13812345678", "+8613812345678"),
    ("手机：１３８１２３４５６７８", "+8613812345678"),
    ("010-12345678", "+861012345678"),
    ("(010)12345678", "+861012345678"),
    ("（０１０）１２３４５６７８", "+861012345678"),
    ("0755-88889999", "+8675588889999"),
    ("+86 10 1234 5678", "+861012345678"),
    ("400-810-8888", "+864008108888"),
    ("010-12345678转123", "+861012345678;ext=123"),
    ("０１０－１２３４５６７８转１２３", "+861012345678;ext=123"),
    ("010 1234 5678 ext 123", "+861012345678;ext=123"),
    ("010 1234 5678 ext. 123", "+861012345678;ext=123"),
    ("010-12345678 分机 8001", "+861012345678;ext=8001"),
    ("010-12345678-123", "+861012345678;ext=123"),
    ("010-12345678#9", "+861012345678;ext=9"),
    ("+852 2123 4567", "+85221234567"),  # Hong Kong landline
    ("+852 9123 4567", "+85291234567"),  # Hong Kong mobile
    ("85291234567", "+85291234567"),
    ("+853 2888 1234", "+85328881234"),  # Macau
    ("+853 6612 3456", "+85366123456"),
    ("+886 2 2345 6789", "+886223456789"),  # Taiwan landline
    ("+886 912 345 678", "+886912345678"),  # Taiwan mobile
    ("+44 20 7946 0958", "+442079460958"),
    ("+44 20 7946 0958 x12", "+442079460958;ext=12"),
    ("+1 650 253 0000", "+16502530000"),
]


@pytest.mark.parametrize(("text", "stored"), GOOD_PHONE)
def test_phone_good(text: str, stored: str) -> None:
    assert v.parse_phone(text) == stored
    assert v.parse_phone(stored) == stored  # the stored form reads back unchanged


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("1381234567", "v.phone.mobile_short"),
        ("１３８１２３４", "v.phone.mobile_short"),
        ("138123456789", "v.phone.mobile_long"),
        ("+86 138123456789", "v.phone.mobile_long"),
        ("12012345678", "v.phone.mobile_invalid"),
        ("88889999", "v.phone.no_area_code"),
        ("8888999", "v.phone.no_area_code"),
        ("021-1234567", "v.phone.landline_invalid"),
        ("abc", "v.phone.not_number"),
        ("", "v.phone.not_number"),
        ("转123", "v.phone.not_number"),
        ("1-800-FLOWERS", "v.phone.not_number"),  # letters are a typo here, not a vanity number
        ("138 1234 567a", "v.phone.not_number"),
        ("+999 123", "v.phone.invalid"),
        ("+852 1234", "v.phone.invalid"),
        ("12345678901234567890", "v.phone.invalid"),
        ("95588", "v.phone.invalid"),
    ],
)
def test_phone_bad(text: str, key: str) -> None:
    assert key_of(v.parse_phone, text) == key


def test_phone_mobile_length_reports_the_count() -> None:
    with pytest.raises(Invalid) as caught:
        v.parse_phone("1381234567")
    assert caught.value.params == {"count": 10}
    assert (
        t("zh", caught.value.key, **caught.value.params)
        == "手机号应为11位数字,你输入了10位,例如 13812345678。"
    )


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+8613812345678", "138 1234 5678"),
        ("+861012345678", "010 1234 5678"),
        ("+861012345678;ext=123", "010 1234 5678 转 123"),
        ("+85221234567", "+852 2123 4567"),
        ("+886912345678", "+886 912 345 678"),
        ("+442079460958;ext=12", "+44 20 7946 0958 ext. 12"),
        ("not a number", "not a number"),
    ],
)
def test_format_phone(stored: str, shown: str) -> None:
    assert v.format_phone(stored) == shown


# --------------------------------------------------------------------------------------------
# E-mail


GOOD_EMAIL: list[tuple[str, Any]] = [
    ("zhangsan@qq.com", "zhangsan@qq.com"),
    ("ＺｈａｎｇＳａｎ＠ＱＱ．ＣＯＭ", "zhangsan@qq.com"),  # full width; lower-cased for duplicate checks
    ("zhangsan@qq。com", "zhangsan@qq.com"),  # Chinese full stop
    (" zhangsan @ qq.com ", "zhangsan@qq.com"),
    ("mailto:zhangsan@qq.com", "zhangsan@qq.com"),
    ("张三 <zhangsan@163.com>", "zhangsan@163.com"),
    ("li.si+crm@company.com.cn", "li.si+crm@company.com.cn"),
    ("wang@中国.cn", "wang@中国.cn"),
]


@pytest.mark.parametrize(("text", "stored"), GOOD_EMAIL)
def test_email_good(text: str, stored: str) -> None:
    assert v.parse_email(text) == stored
    assert v.parse_email(stored) == stored


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("qq.com", "v.email.no_at"),
        ("", "v.email.no_at"),
        ("customer@company", "v.email.domain_no_dot"),
        ("zhangsan@", "v.email.domain_no_dot"),
        ("a@b@c.com", "v.email.many_at"),
        ("@qq.com", "v.email.no_local"),
        ("zs@qq.c", "v.email.bad_domain"),
        ("zs@qq.123", "v.email.bad_domain"),
        ("zhang san@qq.com", "v.email.invalid"),
        ("zs@qq..com", "v.email.invalid"),
        ("zs@host.invalid", "v.email.invalid"),  # reserved domain
    ],
)
def test_email_bad(text: str, key: str) -> None:
    assert key_of(v.parse_email, text) == key


# --------------------------------------------------------------------------------------------
# Unified Social Credit Code

_GB32100_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def gb32100_check(body: str) -> str:
    """Check character written out from GB 32100-2015 (weights 3^i mod 31), independent of stdnum."""
    total = sum(_GB32100_CHARS.index(ch) * pow(3, i, 31) for i, ch in enumerate(body))
    return _GB32100_CHARS[(31 - total % 31) % 31]


DEPARTMENT_CODES = ["A1110000MA0123456N", "N2110000MA01234567", "Y1440300MA5DXXXX0" + "?"]
DEPARTMENT_CODES[2] = DEPARTMENT_CODES[2][:17] + gb32100_check(DEPARTMENT_CODES[2][:17])


def test_independent_checksum_agrees_with_stdnum() -> None:
    for code in ["91110000600037341L", *DEPARTMENT_CODES]:
        assert gb32100_check(code[:17]) == uscc.calc_check_digit(code[:17]) == code[17]


GOOD_CREDIT_CODE: list[tuple[str, Any]] = [
    ("91110000600037341L", "91110000600037341L"),  # from python-stdnum's documentation
    ("91110000600037341l", "91110000600037341L"),
    ("９１１１００００６０００３７３４１Ｌ", "91110000600037341L"),
    ("9111 0000 6000 3734 1L", "91110000600037341L"),
    ("91110000-600037341L", "91110000600037341L"),
    ("A1110000MA0123456N", "A1110000MA0123456N"),  # department A (military), checksum computed
    ("n2110000ma01234567", "N2110000MA01234567"),  # department N (agriculture)
    (DEPARTMENT_CODES[2], DEPARTMENT_CODES[2]),  # department Y (other)
]


@pytest.mark.parametrize(("text", "stored"), GOOD_CREDIT_CODE)
def test_credit_code_good(text: str, stored: str) -> None:
    assert v.parse_credit_code(text) == stored


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("91110000600037341X", "v.uscc.checksum"),
        ("91110000600037342L", "v.uscc.checksum"),  # one mistyped digit
        ("A1110000MA0123456M", "v.uscc.checksum"),
        ("91110000600037341", "v.uscc.length"),
        ("91110000600037341LL", "v.uscc.length"),
        ("", "v.uscc.length"),
        ("9111000060003734IL", "v.uscc.chars"),
        ("9111000060003734OL", "v.uscc.chars"),
        ("91110000600037ZSVL", "v.uscc.chars"),
        ("91110000600037341!", "v.uscc.chars"),
        ("000000000000000000", "v.uscc.department"),
        ("9111A000600037341L", "v.uscc.region"),
    ],
)
def test_credit_code_bad(text: str, key: str) -> None:
    assert key_of(v.parse_credit_code, text) == key


def test_credit_code_names_the_forbidden_letters() -> None:
    with pytest.raises(Invalid) as caught:
        v.parse_credit_code("91110000600037ZSVL")
    assert caught.value.params == {"chars": "S V Z"}


# --------------------------------------------------------------------------------------------
# Names


GOOD_ENTERPRISE_NAME: list[tuple[str, Any]] = [
    ("阿里巴巴集团控股有限公司", "阿里巴巴集团控股有限公司"),
    ("华为技术有限公司", "华为技术有限公司"),
    ("阿里巴巴（中国）有限公司", "阿里巴巴(中国)有限公司"),
    ("阿里巴巴 集团 控股 有限公司", "阿里巴巴集团控股有限公司"),
    ("中国平安保险(集团)股份有限公司", "中国平安保险(集团)股份有限公司"),
    ("深圳某某科技有限责任公司", "深圳某某科技有限责任公司"),
    ("某某科技有限公司(深圳分公司)", "某某科技有限公司(深圳分公司)"),
    ("深圳某某投资合伙企业(有限合伙)", "深圳某某投资合伙企业(有限合伙)"),
    ("招商银行股份有限公司深圳分行", "招商银行股份有限公司深圳分行"),
    ("北京红星机械厂", "北京红星机械厂"),
    ("某某县果蔬种植专业合作社", "某某县果蔬种植专业合作社"),
    ("北京市某某律师事务所", "北京市某某律师事务所"),
    ("中国科学院计算技术研究所", "中国科学院计算技术研究所"),
    ("北京协和医院", "北京协和医院"),
    ("清华大学", "清华大学"),
    ("某某市第一中学", "某某市第一中学"),
    ("张三个体工商户", "张三个体工商户"),
    ("某某设计工作室", "某某设计工作室"),
    ("SAP(中国)有限公司", "SAP(中国)有限公司"),
    ("Acme Trading Ltd", "Acme Trading Ltd"),
    ("ＡＣＭＥ　ＴＲＡＤＩＮＧ　ＬＴＤ．", "ACME TRADING LTD."),
    ("Alibaba Group Holding Limited", "Alibaba Group Holding Limited"),
    ("Example Inc.", "Example Inc."),
    ("Siemens AG", "Siemens AG"),
    ("Robert Bosch GmbH", "Robert Bosch GmbH"),
    ("Procter & Gamble Co.", "Procter & Gamble Co."),
    ("DBS Bank Pte", "DBS Bank Pte"),
    ("Nestlé S.A.", "Nestlé S.A."),
]


@pytest.mark.parametrize(("text", "stored"), GOOD_ENTERPRISE_NAME)
def test_enterprise_name_good(text: str, stored: str) -> None:
    assert v.parse_enterprise_name(text) == stored
    assert v.parse_enterprise_name(stored) == stored


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("阿里", "v.company.short_name"),
        ("华为", "v.company.short_name"),
        ("阿里巴巴", "v.company.short_name"),
        ("腾讯科技", "v.company.short_name"),
        ("有限公司", "v.company.no_name"),
        ("Inc.", "v.company.no_name"),
        ("Acme", "v.company.no_legal_form"),
        ("Tencent Holdings", "v.company.no_legal_form"),
        ("某厂", "v.company.no_name"),
        ("某某厂", "v.company.too_short"),
        ("某" * 98 + "有限公司", "v.company.too_long"),
        ("😀科技有限公司", "v.company.bad_chars"),
        ("某某科技有限公司\u2764", "v.company.bad_chars"),
        ("某某<科技>有限公司", "v.company.bad_chars"),
        ("", "v.company.no_legal_form"),
    ],
)
def test_enterprise_name_bad(text: str, key: str) -> None:
    assert key_of(v.parse_enterprise_name, text) == key


GOOD_PERSON_NAME: list[tuple[str, Any]] = [
    ("张三", "张三"),
    ("张 三", "张三"),
    ("欧阳娜娜", "欧阳娜娜"),
    ("阿卜杜·热西提", "阿卜杜·热西提"),
    ("阿卜杜・热西提", "阿卜杜·热西提"),  # katakana middle dot
    ("阿卜杜.热西提", "阿卜杜·热西提"),
    ("阿卜杜 · 热西提", "阿卜杜·热西提"),
    ("李总明", "李总明"),  # 总 inside a given name is fine
    ("John Smith", "John Smith"),
    ("Ｊｏｈｎ　Ｓｍｉｔｈ", "John Smith"),
    ("O’Brien", "O'Brien"),
    ("Jean-Luc Picard", "Jean-Luc Picard"),
    ("José Álvarez", "José Álvarez"),
    ("J. R. Smith", "J. R. Smith"),
]


@pytest.mark.parametrize(("text", "stored"), GOOD_PERSON_NAME)
def test_person_name_good(text: str, stored: str) -> None:
    assert v.parse_person_name(text) == stored
    assert v.parse_person_name(stored) == stored


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("张", "v.person.too_short"),
        ("", "v.person.too_short"),
        ("J", "v.person.too_short"),
        ("张" * 21, "v.person.too_long"),
        ("A" * 61, "v.person.too_long"),
        ("张三3", "v.person.digits"),
        ("John Smith 2", "v.person.digits"),
        ("张三😀", "v.person.bad_chars"),
        ("·张三", "v.person.bad_chars"),
        ("张三@", "v.person.bad_chars"),
        ("John_Smith", "v.person.bad_chars"),
        ("张San", "v.person.mixed_script"),
        ("王总", "v.person.title"),
        ("李先生", "v.person.title"),
        ("欧阳经理", "v.person.title"),
        ("陈老师", "v.person.title"),
    ],
)
def test_person_name_bad(text: str, key: str) -> None:
    assert key_of(v.parse_person_name, text) == key


# --------------------------------------------------------------------------------------------
# Free text, contact time, tags


def test_text_counts_cjk_as_one() -> None:
    content = "电话沟通了报价,客户希望下周安排个演示。"
    assert len(content) == 20
    assert v.parse_text(content, min_len=20) == content
    with pytest.raises(Invalid) as caught:
        v.parse_text(content[:-1], min_len=20)
    assert (caught.value.key, caught.value.params) == ("v.text.too_short", {"min": 20, "count": 19})


GOOD_TEXT: list[tuple[str, Any]] = [
    ("客户表示，下周再联系。", "客户表示,下周再联系。"),
    ("第一行\n\n\n\n第二行  有空格 ", "第一行\n\n第二行 有空格"),
    ("ＯＫ\u200b", "OK"),
]


@pytest.mark.parametrize(("text", "stored"), GOOD_TEXT)
def test_text_good(text: str, stored: str) -> None:
    assert v.parse_text(text) == stored


def test_text_limits() -> None:
    assert key_of(v.parse_text, " \u200b ") == "v.text.empty"
    with pytest.raises(Invalid) as caught:
        v.parse_text("字" * 201, max_len=200)
    assert (caught.value.key, caught.value.params) == ("v.text.too_long", {"max": 200, "count": 201})
    assert v.parse_text("字" * 200, max_len=200) == "字" * 200


def test_channel_time() -> None:
    assert v.parse_channel_time(" 工作日上午９－１１点 ") == "工作日上午9-11点"
    assert v.parse_channel_time("weekdays after 2pm") == "weekdays after 2pm"
    assert key_of(v.parse_channel_time, "") == "v.channel_time.empty"
    assert key_of(v.parse_channel_time, "x" * 51) == "v.channel_time.too_long"
    assert v.parse_channel_time("时" * 50) == "时" * 50


GOOD_TAGS: list[tuple[str, Any]] = [
    ("VIP客户,高风险客户", ["VIP客户", "高风险客户"]),
    ("VIP客户，高风险客户、重点；大客户", ["VIP客户", "高风险客户", "重点", "大客户"]),
    ("#VIP客户 #重点  vip客户", ["VIP客户", "重点"]),
    ("ＶＩＰ, vip ,Vip", ["VIP"]),
    ("a,,b;;c", ["a", "b", "c"]),
    (",".join(str(i) for i in range(10)), [str(i) for i in range(10)]),
]


@pytest.mark.parametrize(("text", "tags"), GOOD_TAGS)
def test_tags_good(text: str, tags: list[str]) -> None:
    assert v.parse_tags(text) == tags


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("", "v.tags.empty"),
        (" , 、 ; #", "v.tags.empty"),
        ("好" * 21, "v.tags.too_long"),
        (",".join(str(i) for i in range(11)), "v.tags.too_many"),
    ],
)
def test_tags_bad(text: str, key: str) -> None:
    assert key_of(v.parse_tags, text) == key


# --------------------------------------------------------------------------------------------
# Birthday


GOOD_BIRTHDAY: list[tuple[str, Any]] = [
    ("1990-05-03", "1990-05-03"),
    ("１９９０－０５－０３", "1990-05-03"),
    ("1990/5/3", "1990-05-03"),
    ("1990.5.3", "1990-05-03"),
    ("19900503", "1990-05-03"),
    ("1990年5月3日", "1990-05-03"),
    ("１９９０年５月３日", "1990-05-03"),
    ("一九九〇年五月三日", "1990-05-03"),
    ("公历1990年5月3号", "1990-05-03"),
    ("5月3日", "05-03"),
    ("5月3号", "05-03"),
    ("十二月三十一日", "12-31"),
    ("05-03", "05-03"),
    ("５/３", "05-03"),
    ("3 May", "05-03"),
    ("3rd May 1990", "1990-05-03"),
    ("May 3", "05-03"),
    ("May 3, 1990", "1990-05-03"),
    ("Sept 9", "09-09"),
    ("September 9th", "09-09"),
    ("9 Dec.", "12-09"),
    ("2月29日", "02-29"),  # fine without a year
    ("2000-02-29", "2000-02-29"),
    ("2024-11-22", "2024-11-22"),  # today
]


@pytest.mark.parametrize(("text", "stored"), GOOD_BIRTHDAY)
def test_birthday_good(text: str, stored: str) -> None:
    assert v.parse_birthday(text, today=TODAY) == stored
    assert v.parse_birthday(stored, today=TODAY) == stored


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2月30日", "v.birthday.impossible"),
        ("1990-02-29", "v.birthday.impossible"),
        ("13月1日", "v.birthday.impossible"),
        ("04-31", "v.birthday.impossible"),
        ("2024-11-23", "v.birthday.future"),
        ("2030年1月1日", "v.birthday.future"),
        ("1800-01-01", "v.birthday.too_old"),
        ("农历八月十五", "v.birthday.lunar"),
        ("hello", "v.birthday.format"),
        ("", "v.birthday.format"),
        ("90-05-03", "v.birthday.format"),
        ("3 Foo", "v.birthday.format"),
        ("mayonnaise 3", "v.birthday.format"),
    ],
)
def test_birthday_bad(text: str, key: str) -> None:
    assert key_of(lambda s: v.parse_birthday(s, today=TODAY), text) == key


# --------------------------------------------------------------------------------------------
# Address


GOOD_ADDRESS: list[tuple[str, Any]] = [
    (
        "广东省深圳市南山区科技园科苑路15号",
        Address("广东省", "深圳市", "南山区", "科技园科苑路15号", "广东省深圳市南山区科技园科苑路15号"),
    ),
    (
        "广东省深圳市南山区科技园科苑路１５号",
        Address("广东省", "深圳市", "南山区", "科技园科苑路15号", "广东省深圳市南山区科技园科苑路15号"),
    ),
    (
        "北京市朝阳区建国路88号",
        Address("北京市", "北京市", "朝阳区", "建国路88号", "北京市朝阳区建国路88号"),
    ),
    (
        "北京朝阳区建国路88号",
        Address("北京市", "北京市", "朝阳区", "建国路88号", "北京市朝阳区建国路88号"),
    ),
    (
        "中国上海市 浦东新区，世纪大道100号",
        Address("上海市", "上海市", "浦东新区", "世纪大道100号", "上海市浦东新区世纪大道100号"),
    ),
    (
        "广西壮族自治区南宁市青秀区民族大道100号",
        Address(
            "广西壮族自治区",
            "南宁市",
            "青秀区",
            "民族大道100号",
            "广西壮族自治区南宁市青秀区民族大道100号",
        ),
    ),
    (
        "广西南宁市青秀区民族大道100号",
        Address(
            "广西壮族自治区",
            "南宁市",
            "青秀区",
            "民族大道100号",
            "广西壮族自治区南宁市青秀区民族大道100号",
        ),
    ),
    (
        "内蒙古呼和浩特市新城区新华大街1号",
        Address(
            "内蒙古自治区",
            "呼和浩特市",
            "新城区",
            "新华大街1号",
            "内蒙古自治区呼和浩特市新城区新华大街1号",
        ),
    ),
    (
        "新疆维吾尔自治区伊犁哈萨克自治州伊宁市解放路1号",
        Address(
            "新疆维吾尔自治区",
            "伊犁哈萨克自治州",
            "伊宁市",
            "解放路1号",
            "新疆维吾尔自治区伊犁哈萨克自治州伊宁市解放路1号",
        ),
    ),
    ("深圳市南山区科苑路15号", Address(None, "深圳市", "南山区", "科苑路15号", "深圳市南山区科苑路15号")),
    (
        "吉林省吉林市船营区北京路5号",
        Address("吉林省", "吉林市", "船营区", "北京路5号", "吉林省吉林市船营区北京路5号"),
    ),
    ("吉林市船营区北京路5号", Address(None, "吉林市", "船营区", "北京路5号", "吉林市船营区北京路5号")),
    (
        "江苏省苏州市昆山市花桥镇光明路3号",
        Address("江苏省", "苏州市", "昆山市", "花桥镇光明路3号", "江苏省苏州市昆山市花桥镇光明路3号"),
    ),
    (
        "广东省东莞市长安镇振安路1号",  # Dongguan has towns, no districts
        Address("广东省", "东莞市", None, "长安镇振安路1号", "广东省东莞市长安镇振安路1号"),
    ),
    (
        "海南省澄迈县老城镇南一环路8号",  # a county governed by the province
        Address("海南省", None, "澄迈县", "老城镇南一环路8号", "海南省澄迈县老城镇南一环路8号"),
    ),
    (
        "香港特别行政区中环皇后大道中99号",
        Address(
            "香港特别行政区",
            "香港特别行政区",
            None,
            "中环皇后大道中99号",
            "香港特别行政区中环皇后大道中99号",
        ),
    ),
    (
        "北京市朝阳区建国路八十八号",
        Address("北京市", "北京市", "朝阳区", "建国路八十八号", "北京市朝阳区建国路八十八号"),
    ),
    (
        "221B Baker Street, London NW1 6XE",
        Address(None, None, None, "221B Baker Street, London NW1 6XE", "221B Baker Street, London NW1 6XE"),
    ),
    (
        "１２３ Ｍａｉｎ Ｓｔｒｅｅｔ，Springfield",
        Address(None, None, None, "123 Main Street,Springfield", "123 Main Street,Springfield"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_ADDRESS)
def test_address_good(text: str, expected: Address) -> None:
    assert v.parse_address(text) == expected
    assert v.parse_address(expected.full) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("北京", "v.address.no_district"),
        ("北京市建国路88号", "v.address.no_district"),
        ("广东省深圳市科苑路15号", "v.address.no_district"),
        ("广东省深圳市", "v.address.no_district"),
        ("科苑路15号", "v.address.no_city"),
        ("南山区科苑路15号", "v.address.no_city"),
        ("广东深圳南山区科苑路15号", "v.address.no_city"),  # 深圳 without 市 is not recognised as a city
        ("广东省深圳市南山区科苑路", "v.address.no_number"),
        ("广东省深圳市南山区15号", "v.address.no_street"),
        ("广东省深圳市南山区科苑路15号🏢", "v.address.bad_chars"),
        ("北京市朝阳区建国路" + "8" * 200, "v.address.too_long"),
        ("Baker Street, London", "v.address.no_number"),
        ("12 Ab", "v.address.too_short"),
        ("1234567890 12", "v.address.no_street"),
        ("", "v.address.too_short"),
    ],
)
def test_address_bad(text: str, key: str) -> None:
    assert key_of(v.parse_address, text) == key


# --------------------------------------------------------------------------------------------
# Full-width keyboards

FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)} | {" ": "\u3000"})

GOOD_TABLES: list[tuple[Callable[[str], Any], list[tuple[str, Any]]]] = [
    (v.parse_phone, GOOD_PHONE),
    (v.parse_email, GOOD_EMAIL),
    (v.parse_credit_code, GOOD_CREDIT_CODE),
    (v.parse_enterprise_name, GOOD_ENTERPRISE_NAME),
    (v.parse_person_name, GOOD_PERSON_NAME),
    (v.parse_text, GOOD_TEXT),
    (v.parse_tags, GOOD_TAGS),
    (lambda s: v.parse_birthday(s, today=TODAY), GOOD_BIRTHDAY),
    (v.parse_address, GOOD_ADDRESS),
    (
        v.parse_channel_time,
        [("工作日上午9-11点", "工作日上午9-11点"), ("weekdays after 2pm", "weekdays after 2pm")],
    ),
]


@pytest.mark.parametrize(
    ("fn", "text", "expected"),
    [
        (fn, text, expected)
        for fn, table in GOOD_TABLES
        for text, expected in table
        if text.translate(FULL_WIDTH) != text
    ],
)
def test_full_width_variant_gives_the_same_value(fn: Callable[[str], Any], text: str, expected: Any) -> None:
    """Every good answer typed entirely in full-width forms (ASCII to U+FF01-FF5E, space to U+3000)."""
    assert fn(text.translate(FULL_WIDTH)) == expected


# --------------------------------------------------------------------------------------------
# Every refusal has a message, and junk never crashes a validator

VALIDATORS: dict[str, Callable[[str], Any]] = {
    "phone": v.parse_phone,
    "email": v.parse_email,
    "credit_code": v.parse_credit_code,
    "enterprise_name": v.parse_enterprise_name,
    "person_name": v.parse_person_name,
    "text": v.parse_text,
    "follow_up_content": lambda s: v.parse_text(s, min_len=20, max_len=2000),
    "remarks": lambda s: v.parse_text(s, max_len=200),
    "address": v.parse_address,
    "tags": v.parse_tags,
    "birthday": lambda s: v.parse_birthday(s, today=TODAY),
    "channel_time": v.parse_channel_time,
    "format_phone": v.format_phone,
}


def assert_speakable(error: Invalid) -> None:
    """The key exists in every language and its params fill every placeholder of the template."""
    for lang in LANGS:
        template = catalog()[lang].get(error.key)
        assert template is not None, f"{error.key} missing in {lang}"
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        assert fields <= error.params.keys(), f"{error.key}: {fields - error.params.keys()} not given"
        text = t(lang, error.key, **error.params)
        assert not any("{" + name + "}" in text for name in fields)
        for value in error.params.values():  # user text echoed back may itself contain braces
            text = text.replace(str(value), "")
        assert "{" not in text


def test_every_raised_key_is_in_both_catalogs() -> None:
    """Catches a key added to the code but not to the catalog, even on a path no table reaches."""
    source = (Path(v.__file__)).read_text(encoding="utf-8")
    raised = set(re.findall(r'Invalid\(\s*"(v\.[a-z_.]+)"', source))
    raised |= set(re.findall(r'"(v\.[a-z_]+\.[a-z_]+)"\s+if', source))
    assert len(raised) > 40
    for lang in LANGS:
        assert raised <= catalog()[lang].keys(), raised - catalog()[lang].keys()
    ours = {key for key in catalog()["zh"] if key.startswith("v.")}
    assert ours == {key for key in catalog()["en"] if key.startswith("v.")}
    assert ours == raised, f"unused messages: {ours - raised}"


def test_catalog_examples() -> None:
    """Each message says what is wrong and shows an example (the brief's wording for phones)."""
    for lang, marker in (("zh", "例如"), ("en", "e.g.")):
        for key, text in catalog()[lang].items():
            if key.startswith("v.") and key != "v.text.too_long":
                assert marker in text.lower(), (lang, key)
    assert t("zh", "v.phone.mobile_short", count=10).startswith("手机号应为11位数字")
    assert t("en", "v.phone.mobile_short", count=10).startswith("A mobile number has 11 digits")


NASTY = [
    "'; DROP TABLE customers;--",
    "Robert'); DROP TABLE students;--",
    "<script>alert(1)</script>",
    "{count} {0} {} %s %(x)s",
    "\x00\x01\x02\x1b[31m",
    "\u202e\u200b\ufeff\u2060",
    "😀👨\u200d👩\u200d👧🏳️\u200d🌈",
    "张三John😀١٢٣",
    "１３８１２３４５６７８😀",
    "+86" + "9" * 40,
    "@" * 50,
    "a@" + "b" * 300 + ".com",
    "9" * 10_000,
    "字" * 5_000,
    "\ud800",  # a lone surrogate, as a broken client may send
    "转" * 20,
    "ext 1",
    "(" * 100,
    "年月日",
    "99999999999年99月99日",
    "二十十月三十三十日",
    "广东省" * 50,
    "中国",
    "香港",
    "   ",
]

junk = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=3000),
    st.text(alphabet="0123456789０１２３+-() 转ext#xX@.。,，省市区路号年月日", max_size=40),
    st.lists(
        st.sampled_from([*NASTY, "13812345678", "阿里巴巴", "有限公司", "Ltd", "北京市"]), max_size=4
    ).map("".join),
)


@pytest.mark.parametrize("name", list(VALIDATORS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=junk)
def test_junk_is_refused_or_accepted_never_crashes(name: str, text: str) -> None:
    try:
        value = VALIDATORS[name](text)
    except Invalid as error:
        assert_speakable(error)
    else:
        assert value is not None


@pytest.mark.parametrize("name", [n for n in VALIDATORS if n != "format_phone"])
@pytest.mark.parametrize("text", NASTY)
def test_nasty_strings(name: str, text: str) -> None:
    """The fixed nasty strings on every validator, so they run even when hypothesis samples others."""
    try:
        VALIDATORS[name](text)
    except Invalid as error:
        assert_speakable(error)
