"""Field validators: raw typed text in, the value to store out, or `Invalid` with a reason.

Every validator normalises first (full-width forms, invisible characters), so the same answer
typed on a Chinese or a Latin keyboard is stored the same way. Error keys are `v.<field>.<why>`;
their zh/en texts in flows/messages/validators.py say what is wrong and give an example.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flows.errors import Invalid
from flows.normalize import display_len, has_han, is_han, join_han, normalize

# phonenumbers, email-validator and stdnum are imported by the functions that use them: together
# ~60 ms and ~3 MiB of a bot's start-up, for answers that come later (once per process, ~20 ms each).
if TYPE_CHECKING:
    from phonenumbers import PhoneNumber

__all__ = [
    "Address",
    "format_phone",
    "parse_address",
    "parse_birthday",
    "parse_channel_time",
    "parse_credit_code",
    "parse_email",
    "parse_enterprise_name",
    "parse_person_name",
    "parse_phone",
    "parse_tags",
    "parse_text",
]


def _has_symbol(text: str) -> bool:
    """Emoji and pictographs (category So) or leftover variation selectors: never part of a name."""
    return any(unicodedata.category(ch) == "So" or "\ufe00" <= ch <= "\ufe0f" for ch in text)


# --------------------------------------------------------------------------------------------
# Phone numbers

_PHONE_LABEL = re.compile(
    r"^(?:手机号?码?|电话号?码?|座机|联系电话|tel|phone|mobile|mob|cell)\s*[:.]?\s*", re.I
)
_EXTENSION = re.compile(r"\s*(?:转|分机号?|ext\.?|extension|x|#|;ext=)\s*[:.]?\s*(\d{1,6})$", re.I)
_DASH_EXTENSION = re.compile(r"(.*\d)\s*-\s*(\d{1,5})")
_PHONE_CHARS = re.compile(r"\+?[\d\s\-()./]+")


def _valid_number(text: str, region: str) -> PhoneNumber | None:
    import phonenumbers  # lazily: see the imports above

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    number.extension = None
    return number


def _phone_problem(text: str, digits: str, region: str) -> Invalid:
    """Pick the most helpful reason for a number phonenumbers refused."""
    national = digits
    if text.startswith("+") or digits.startswith("00"):
        international = digits[2:] if digits.startswith("00") else digits
        if not (region == "CN" and international.startswith("86")):
            return Invalid("v.phone.invalid")
        national = international[2:]
    if region != "CN" or not national:
        return Invalid("v.phone.invalid")
    if national.startswith("1"):
        if len(national) < 11:
            return Invalid("v.phone.mobile_short", count=len(national))
        if len(national) > 11:
            return Invalid("v.phone.mobile_long", count=len(national))
        return Invalid("v.phone.mobile_invalid")
    if national.startswith("0"):
        return Invalid("v.phone.landline_invalid")
    if len(national) in (7, 8):
        return Invalid("v.phone.no_area_code")
    return Invalid("v.phone.invalid")


def parse_phone(text: str, region: str = "CN") -> str:
    """A phone number as E.164 ("+8613812345678"), an extension as ";ext=123" (RFC 3966 style).

    Numbers without a country code are read as `region` numbers; +852/+853/+886 and other
    countries are kept as their own regions. "转", "分机", "ext", "x", "#" and the Chinese habit
    "010-12345678-123" mark an extension. Digits without "+" that are only valid with one (a
    Telegram contact card sends "85291234567") are retried as international.
    """
    s = _PHONE_LABEL.sub("", normalize(text))
    ext: str | None = None
    found = _EXTENSION.search(s)
    if found and found.start() > 0:
        ext, s = found.group(1), s[: found.start()].strip()
    if not any(ch.isdigit() for ch in s) or not _PHONE_CHARS.fullmatch(s):
        raise Invalid("v.phone.not_number")
    digits = re.sub(r"\D", "", s)
    if len(digits) > 17:
        raise Invalid("v.phone.invalid")
    number = _valid_number(s, region)
    if number is None and ext is None and (dash := _DASH_EXTENSION.fullmatch(s)):
        number = _valid_number(dash.group(1), region)
        ext = dash.group(2) if number is not None else None
    if number is None and not s.startswith("+") and digits[0] not in "01":
        number = _valid_number("+" + digits, region)
    if number is None:
        raise _phone_problem(s, digits, region)
    import phonenumbers  # lazily: see the imports above

    stored = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{stored};ext={ext}" if ext else stored


def format_phone(stored: str) -> str:
    """National format for mainland numbers ("138 1234 5678", "010 1234 5678 转 123"),
    international for the rest ("+852 2123 4567 ext. 12"); unparseable stored text is shown as is."""
    import phonenumbers  # lazily: see the imports above

    main, _, ext = stored.partition(";ext=")
    try:
        number = phonenumbers.parse(main, None)
    except phonenumbers.NumberParseException:
        return stored
    if phonenumbers.region_code_for_number(number) == "CN":
        shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        return f"{shown} 转 {ext}" if ext else shown
    shown = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return f"{shown} ext. {ext}" if ext else shown


# --------------------------------------------------------------------------------------------
# E-mail

_DISPLAY_NAME = re.compile(r"[^<>]*<([^<>]+)>")
_AROUND_DOTS = re.compile(r"\s*([@.])\s*")


def parse_email(text: str) -> str:
    """A syntactically valid address with a real-looking domain, in email-validator's normal form,
    lower-cased as a whole.

    The common slips get their own reason (no "@", no "." in the domain: "qq.com",
    "customer@company"); "。" typed on a Chinese keyboard is read as "."; no DNS look-up is made.
    The local part is lower-cased too although RFC 5321 lets it be case-sensitive: no mail
    provider our customers use treats it so, and duplicate detection compares stored e-mails.
    """
    s = normalize(text).replace("。", ".")
    s = re.sub(r"^mailto:", "", s, flags=re.I)
    if named := _DISPLAY_NAME.fullmatch(s):
        s = named.group(1)
    s = _AROUND_DOTS.sub(r"\1", s.strip())
    if "@" not in s:
        raise Invalid("v.email.no_at")
    if s.count("@") > 1:
        raise Invalid("v.email.many_at")
    local, domain = s.split("@")
    if not local:
        raise Invalid("v.email.no_local")
    if "." not in domain.strip("."):
        raise Invalid("v.email.domain_no_dot")
    tld = domain.rsplit(".", 1)[-1]
    if len(tld) < 2 or not (tld.isalpha() or tld.lower().startswith("xn--")):
        raise Invalid("v.email.bad_domain")
    from email_validator import EmailNotValidError, validate_email  # lazily: see the imports above

    try:
        result = validate_email(s, check_deliverability=False)
    except EmailNotValidError:
        raise Invalid("v.email.invalid") from None
    return result.normalized.lower()


# --------------------------------------------------------------------------------------------
# Unified Social Credit Code

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015: digits and letters but I O Z S V


def parse_credit_code(text: str) -> str:
    """An 18-character Unified Social Credit Code, upper case, with a correct check digit.

    stdnum's `uscc.validate` insists the first eight characters are digits, which refuses real
    codes of registration departments A, N, Y (and letters in the entity-type position), so only
    its `calc_check_digit` (the GB 32100 weighted mod-31 sum, fine for letters) is reused here.
    Position 1 "0" is refused: no registration department has that code, and 18 zeros would
    otherwise pass the checksum.
    """
    s = re.sub(r"[\s\-]", "", normalize(text)).upper()
    if len(s) != 18:
        raise Invalid("v.uscc.length", count=len(s))
    bad = sorted({ch for ch in s if ch not in _USCC_ALPHABET})
    if bad:
        raise Invalid("v.uscc.chars", chars=" ".join(bad))
    if s[0] == "0":
        raise Invalid("v.uscc.department")
    if not s[2:8].isdigit():
        raise Invalid("v.uscc.region")
    from stdnum.cn import uscc  # lazily: see the imports above

    if uscc.calc_check_digit(s[:17]) != s[17]:
        raise Invalid("v.uscc.checksum")
    return s


# --------------------------------------------------------------------------------------------
# Names

# Endings of registered Chinese organisation names (legal forms and kinds of institution).
_CN_ORG_ENDINGS = (
    *("股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团", "企业", "合伙", "个体工商户"),
    *("厂", "合作社", "联合社", "信用社", "事务所", "研究院", "研究所", "设计院", "院", "所", "中心"),
    *("医院", "卫生院", "诊所", "学校", "大学", "学院", "中学", "小学", "幼儿园", "银行", "分行", "支行"),
    *("商行", "行", "工作室", "门市部", "经营部", "营业部", "办事处", "代表处", "店", "超市", "商场"),
    *("酒店", "宾馆", "饭店", "餐厅", "协会", "学会", "商会", "基金会", "委员会", "联合会", "局", "厅"),
    *("部", "站", "社", "馆", "场", "园", "台", "队", "庄"),
)
_EN_LEGAL_SUFFIX = re.compile(
    r"(?<![a-z])(?:ltd|limited|inc|incorporated|llc|l\.l\.c|llp|lp|corp|corporation|co|company|"
    r"gmbh|ag|kg|plc|s\.?a|s\.?a\.?s|sarl|s\.?r\.?l|s\.?p\.?a|b\.?v|n\.?v|pte|pty|k\.?k|oy|ab|as|"
    r"a/s|aps|bhd|e\.?v|foundation|university|college|school|hospital|bank|institute|association|"
    r"trust|partnership)\.?$",
    re.I,
)
_NAME_PUNCT = frozenset(" ()[]&.,'’-·/+:")
_CN_ORG_ENDINGS_LONGEST_FIRST = sorted(_CN_ORG_ENDINGS, key=len, reverse=True)
_TRAILING_BRACKET = re.compile(r"\(([^()]*)\)$")


def _strip_org_ending(text: str) -> str | None:
    """`text` without its organisation ending, or None if it has none."""
    for ending in _CN_ORG_ENDINGS_LONGEST_FIRST:
        if text.endswith(ending):
            return text[: -len(ending)]
    return None


def _cn_org_stem(name: str) -> str | None:
    """The name before its organisation ending; a trailing "(分公司)"/"(有限合伙)" may carry it."""
    stem = _strip_org_ending(name)
    bracket = _TRAILING_BRACKET.search(name)
    if stem is None and bracket:
        head = name[: bracket.start()]
        stem = _strip_org_ending(head)
        if stem is None and _strip_org_ending(bracket.group(1)) is not None:
            stem = head
    return stem


def parse_enterprise_name(text: str) -> str:
    """The full registered name (工商注册全称) of an organisation.

    A short name ("阿里", "华为") is refused because duplicates are found and contracts are
    matched by the registered name; the test is that a Chinese name ends in a legal form or
    kind of institution (有限公司, 集团, 厂, 医院, 商行, …) and an English one in a legal
    suffix (Ltd, Inc, GmbH, …). The list is generous: a wrong refusal costs more than a
    slightly informal name.
    """
    s = normalize(text)
    if _has_symbol(s) or any(not (ch.isalnum() or ch in _NAME_PUNCT) for ch in s):
        raise Invalid("v.company.bad_chars")
    s = join_han(s)
    if has_han(s):
        stem = _cn_org_stem(s)
        if stem is None:
            raise Invalid("v.company.short_name")
    else:
        suffix = _EN_LEGAL_SUFFIX.search(s.rstrip(" .,)"))
        if suffix is None:
            raise Invalid("v.company.no_legal_form")
        stem = s[: suffix.start()]
    if sum(ch.isalnum() for ch in stem) < 2:
        raise Invalid("v.company.no_name")
    count = display_len(s)
    if count < 4:
        raise Invalid("v.company.too_short", min=4, count=count)
    if count > 100:
        raise Invalid("v.company.too_long", max=100, count=count)
    return s


_MIDDLE_DOTS = re.compile(r"\s*[·・•‧∙⋅.]\s*")
_TITLES = ("总经理", "董事长", "总监", "经理", "主任", "老师", "老板", "先生", "女士", "小姐")


def parse_person_name(text: str) -> str:
    """A real person's name: 2-20 Chinese characters (· joins minority names such as
    阿卜杜·热西提), or 2-60 characters of letters with spaces, hyphens and apostrophes.

    Forms of address ("王总", "李先生") are refused: the CRM needs the name to find the person.
    """
    s = normalize(text)
    if any(ch.isdigit() for ch in s):
        raise Invalid("v.person.digits")
    if _has_symbol(s):
        raise Invalid("v.person.bad_chars")
    if has_han(s):
        s = _MIDDLE_DOTS.sub("·", join_han(s))
        if any(not is_han(ch) and ch != "·" for ch in s):
            latin = any(ch.isalpha() and not is_han(ch) for ch in s)
            raise Invalid("v.person.mixed_script" if latin else "v.person.bad_chars")
        if s.startswith("·") or s.endswith("·") or "··" in s:
            raise Invalid("v.person.bad_chars")
        if len(s) < 2:
            raise Invalid("v.person.too_short", min=2, count=len(s))
        if len(s) > 20:
            raise Invalid("v.person.too_long", max=20, count=len(s))
        for title in (*_TITLES, "总"):
            stem = len(s) - len(title)
            if s.endswith(title) and (stem == 1 or (stem == 2 and len(title) > 1)):
                raise Invalid("v.person.title")
        return s
    s = s.replace("’", "'")
    if any(not (ch.isalpha() or ch in " -'.") for ch in s):
        raise Invalid("v.person.bad_chars")
    letters = sum(ch.isalpha() for ch in s)
    if letters < 2 or not s[0].isalpha():
        raise Invalid("v.person.too_short", min=2, count=letters)
    if len(s) > 60:
        raise Invalid("v.person.too_long", max=60, count=len(s))
    return s


# --------------------------------------------------------------------------------------------
# Free text


def parse_text(text: str, *, min_len: int = 1, max_len: int = 500) -> str:
    """Free text (line breaks kept), its length counted with display_len against the caller's limits."""
    s = normalize(text, multiline=True)
    count = display_len(s)
    if count == 0 and min_len > 0:
        raise Invalid("v.text.empty")
    if count < min_len:
        raise Invalid("v.text.too_short", min=min_len, count=count)
    if count > max_len:
        raise Invalid("v.text.too_long", max=max_len, count=count)
    return s


def parse_channel_time(text: str) -> str:
    """When the contact prefers to be reached, in their words ("工作日上午"), kept short."""
    s = normalize(text)
    count = display_len(s)
    if count == 0:
        raise Invalid("v.channel_time.empty")
    if count > 50:
        raise Invalid("v.channel_time.too_long", max=50, count=count)
    return s


_TAG_SPLIT = re.compile(r"[,、;\s]+")


def parse_tags(text: str) -> list[str]:
    """Labels split on commas (, ，、;) and spaces, "#" dropped, de-duplicated ignoring case."""
    tags: list[str] = []
    seen: set[str] = set()
    for part in _TAG_SPLIT.split(normalize(text)):
        tag = part.lstrip("#")
        if not tag or tag.casefold() in seen:
            continue
        if display_len(tag) > 20:
            raise Invalid("v.tags.too_long", tag=tag[:30], max=20)
        seen.add(tag.casefold())
        tags.append(tag)
    if not tags:
        raise Invalid("v.tags.empty")
    if len(tags) > 10:
        raise Invalid("v.tags.too_many", count=len(tags), max=10)
    return tags


# --------------------------------------------------------------------------------------------
# Birthday

_CN_DIGIT = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMERAL = re.compile(r"[零〇一二两三四五六七八九十]+")
_MONTH_NAMES = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTHS = {
    **{name: i for i, name in enumerate(_MONTH_NAMES, 1)},
    **{name[:3]: i for i, name in enumerate(_MONTH_NAMES, 1)},
    "sept": 9,
}
_YMD = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_YMD_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_MD = re.compile(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?")
_D_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?([a-z]+)\.?,?(?:\s+(\d{4}))?")
_MONTH_D = re.compile(r"([a-z]+)\.?\s*(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?")


def _cn_numerals(text: str) -> str:
    """Chinese numerals in dates to digits ("五月三十一日" -> "5月31日", "一九九〇年" -> "1990年").

    Hand-written: dates need only 1-31 and digit-by-digit years, and cn2an's general converter
    raises on inputs it cannot read, which junk answers would trigger.
    """

    def convert(match: re.Match[str]) -> str:
        run = match.group(0)
        if "十" not in run:
            return "".join(str(_CN_DIGIT[ch]) for ch in run)
        tens, _, units = run.partition("十")
        if (tens and tens not in _CN_DIGIT) or (units and units not in _CN_DIGIT):
            return run  # not a number of 1-99 ("二十十", "三百"): left for the date check to refuse
        return str((_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[units] if units else 0))

    return _CN_NUMERAL.sub(convert, text)


def _birthday_parts(s: str) -> tuple[int | None, int, int] | None:
    if m := _YMD.fullmatch(s) or _YMD_COMPACT.fullmatch(s):
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    if m := _MD.fullmatch(s):
        return None, int(m.group(1)), int(m.group(2))
    if (m := _D_MONTH.fullmatch(s)) and (month := _MONTHS.get(m.group(2))):
        return (int(m.group(3)) if m.group(3) else None), month, int(m.group(1))
    if (m := _MONTH_D.fullmatch(s)) and (month := _MONTHS.get(m.group(1))):
        return (int(m.group(3)) if m.group(3) else None), month, int(m.group(2))
    return None


def parse_birthday(text: str, *, today: dt.date | None = None) -> str:
    """A (Gregorian) birthday as "YYYY-MM-DD", or "MM-DD" when the year is not known.

    Accepts 1990-05-03, 1990/5/3, 19900503, 1990年5月3日, 5月3日/号, 五月三日, 05-03, 3 May,
    May 3, 1990. Month comes before day in numeric forms (the Chinese and ISO order). Lunar
    birthdays are refused: reminders are computed on the Gregorian calendar.
    """
    today = today or dt.date.today()
    s = normalize(text).lower()
    if "农历" in s or "阴历" in s:
        raise Invalid("v.birthday.lunar")
    s = re.sub(r"^(?:公历|阳历|新历)\s*", "", s)
    parts = _birthday_parts(_cn_numerals(s))
    if parts is None:
        raise Invalid("v.birthday.format")
    year, month, day = parts
    try:
        date = dt.date(year or 2000, month, day)  # 2000 is a leap year, so 02-29 stays possible
    except ValueError:
        raise Invalid("v.birthday.impossible", month=month, day=day) from None
    if year is None:
        return f"{month:02d}-{day:02d}"
    if year < 1900:
        raise Invalid("v.birthday.too_old", year=year)
    if date > today:
        raise Invalid("v.birthday.future")
    return date.isoformat()


# --------------------------------------------------------------------------------------------
# Addresses


@dataclass(frozen=True)
class Address:
    """An address split for filtering by region; `full` is what is shown and stored as text."""

    province: str | None
    city: str | None
    district: str | None
    detail: str
    full: str


# The 34 provincial-level divisions: registered name and the short form people type.
_PROVINCES = (
    *(("北京市", "北京"), ("天津市", "天津"), ("上海市", "上海"), ("重庆市", "重庆")),
    *(("河北省", "河北"), ("山西省", "山西"), ("辽宁省", "辽宁"), ("吉林省", "吉林"), ("黑龙江省", "黑龙江")),
    *(("江苏省", "江苏"), ("浙江省", "浙江"), ("安徽省", "安徽"), ("福建省", "福建"), ("江西省", "江西")),
    *(("山东省", "山东"), ("河南省", "河南"), ("湖北省", "湖北"), ("湖南省", "湖南"), ("广东省", "广东")),
    *(("海南省", "海南"), ("四川省", "四川"), ("贵州省", "贵州"), ("云南省", "云南"), ("陕西省", "陕西")),
    *(("甘肃省", "甘肃"), ("青海省", "青海"), ("台湾省", "台湾"), ("内蒙古自治区", "内蒙古")),
    *(("广西壮族自治区", "广西"), ("西藏自治区", "西藏"), ("宁夏回族自治区", "宁夏")),
    *(("新疆维吾尔自治区", "新疆"), ("香港特别行政区", "香港"), ("澳门特别行政区", "澳门")),
)
_MUNICIPALITIES = frozenset({"北京市", "天津市", "上海市", "重庆市"})
_SARS = frozenset({"香港特别行政区", "澳门特别行政区"})
# Cities with no district level: prefecture-level cities without counties, and county-level
# units governed directly by their province. Here an address rightly has no district.
_NO_DISTRICT_CITIES = frozenset(
    {
        "东莞市",
        "中山市",
        "儋州市",
        "嘉峪关市",
        "仙桃市",
        "潜江市",
        "天门市",
        "神农架林区",
        "济源市",
        "五指山市",
        "文昌市",
        "琼海市",
        "万宁市",
        "东方市",
        "石河子市",
        "阿拉尔市",
        "图木舒克市",
        "五家渠市",
        "北屯市",
        "铁门关市",
        "双河市",
        "可克达拉市",
        "昆玉市",
        "胡杨河市",
        "新星市",
        "白杨市",
    }
)
_COUNTRY_PREFIX = re.compile(r"^(?:中华人民共和国|中国)[\s,]*")
_CITY = re.compile(r"[^\d\s,;区县路街道号巷弄]{1,10}?(?:自治州|地区|林区|盟|市)")
_DISTRICT = re.compile(r"[^\d\s,;路街道号巷弄镇乡]{1,12}?(?:自治县|自治旗|新区|林区|特区|区|县|市|旗)")
_CN_HOUSE_NUMBER = re.compile(r"\d|[一二三四五六七八九十百千零〇]+\s*[号號栋幢楼室弄]")
_NUMBER_WORDS = re.compile(r"[\d\s号號栋幢座楼层室弄单元#\-]")
_SEPARATORS = " ,;:、-"
_NOT_AFTER_SHORT_PROVINCE = frozenset("市县区州盟路街道巷")


def _take_province(s: str) -> tuple[str | None, str]:
    """Split a leading province (full or short form) off the address."""
    for full, _ in _PROVINCES:
        if s.startswith(full):
            return full, s[len(full) :]
    for full, short in _PROVINCES:
        for written in (short + "省", short + "自治区", short):
            if not s.startswith(written):
                continue
            rest = s[len(written) :]
            # "吉林市…", "北京路…", "海南藏族自治州…" name a city or a street, not the province.
            if written == short and (rest[:1] in _NOT_AFTER_SHORT_PROVINCE or rest.startswith("藏族")):
                continue
            return full, rest
    return None, s


def _chinese_address(s: str) -> Address:
    """Split a Chinese address into province / city / district / detail by their suffixes.

    Hand-written: the PyPI option (cpca) pulls in pandas, ships 2020 division data and was last
    released in 2021; suffix rules plus the 34 provinces cover what people type, and the parts
    are only used for filtering and region reports.
    """
    s = join_han(_COUNTRY_PREFIX.sub("", s))
    province, rest = _take_province(s)
    rest = rest.lstrip(_SEPARATORS)
    city: str | None = None
    if province in _MUNICIPALITIES or province in _SARS:
        city = province
        rest = rest.removeprefix(province).lstrip(_SEPARATORS)
    elif found := _CITY.match(rest):
        city = found.group(0)
        rest = rest[found.end() :].lstrip(_SEPARATORS)
    district: str | None = None
    if found := _DISTRICT.match(rest):
        district = found.group(0)
        rest = rest[found.end() :].lstrip(_SEPARATORS)
    # Only a county (Hainan's 澄迈县 …) may follow its province directly; "广东深圳南山区" lacks the 市.
    if city is None and not (province and district and district.endswith("县")):
        raise Invalid("v.address.no_city")
    if district is None and city is not None and city not in _NO_DISTRICT_CITIES and province not in _SARS:
        raise Invalid("v.address.no_district")
    if not _CN_HOUSE_NUMBER.search(rest):
        raise Invalid("v.address.no_number")
    if len(_NUMBER_WORDS.sub("", rest)) < 2:
        raise Invalid("v.address.no_street")
    region = [province, city if city != province else None, district]
    full = "".join(part for part in region if part) + rest
    return Address(province, city, district, rest, full)


def parse_address(text: str) -> Address:
    """A detailed address: Chinese ones must name the city and district (区/县) and a street
    with a number; others need a number, a street name and some length."""
    s = normalize(text)
    if _has_symbol(s):
        raise Invalid("v.address.bad_chars")
    count = display_len(s)
    if count > 200:
        raise Invalid("v.address.too_long", max=200, count=count)
    if has_han(s):
        return _chinese_address(s)
    if count < 10:
        raise Invalid("v.address.too_short", min=10, count=count)
    if not any(ch.isdigit() for ch in s):
        raise Invalid("v.address.no_number")
    if not re.search(r"[^\W\d_]{2,}", s):
        raise Invalid("v.address.no_street")
    return Address(None, None, None, s, s)
