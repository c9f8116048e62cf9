"""What a business card says, from the text OCR read off it, to pre-fill a new contact.

OCR text is noisy (full-width forms, stray spaces and bars, a misread character) and cards
follow no fixed order, so each field is recognised by what it looks like rather than where it
is: phone numbers by phonenumbers' matcher, the e-mail by pattern and email-validator, the
company by its legal form, the position by title words, the address by its place words, and
the person's name by elimination. What cannot be told stays None; the flow then asks for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat, PhoneNumberType

from flows import validators as v
from flows.errors import Invalid
from flows.normalize import has_han, is_han, join_han, normalize

__all__ = ["CardFields", "parse_card"]


@dataclass(frozen=True)
class CardFields:
    """The fields read from one card; Chinese first where a card prints both languages."""

    name: str | None = None
    position: str | None = None
    company: str | None = None
    phones: tuple[str, ...] = ()  # E.164 (";ext=" for an extension), mobiles first; fax excluded
    email: str | None = None
    address: str | None = None
    name_en: str | None = None
    position_en: str | None = None
    company_en: str | None = None
    address_en: str | None = None
    fax: str | None = None
    website: str | None = None


# No card has more or longer lines; the cap keeps a wild OCR result from slowing the regexes.
MAX_LINES = 60
MAX_LINE = 200

# ------------------------------------------------------------------ cleaning a line

# Bars and rules OCR reads as characters; "丨" is a Han character only in dictionaries.
_NOISE = re.compile(r"[|¦│┃‖丨~`^«»]")
_LEADING_JUNK = " -—–·•*.,;:'\"!"
_TRAILING_JUNK = " -—–·•*,;:'\"!"  # not ".": "Co., Ltd." ends with one
_SPACES = re.compile(r"\s+")
_LOOSE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_+|_+(?![A-Za-z0-9])")


def _clean(line: str) -> str:
    s = _NOISE.sub(" ", normalize(line).replace("。", "."))
    s = _LOOSE_UNDERSCORE.sub(" ", s)  # "_Yang Liu"; "john_smith@…" keeps its own
    return _SPACES.sub(" ", s).lstrip(_LEADING_JUNK).rstrip(_TRAILING_JUNK)


def _tidy_han(text: str) -> str:
    """Drop the spaces OCR puts between Chinese characters and around the digits among them."""
    han = "[\u3400-\u9fff\uf900-\ufaff]"
    return re.sub(f"(?<={han}) +| +(?={han})", "", text).strip()


# ------------------------------------------------------------------ labels

_LABELS: dict[str, tuple[str, str]] = {  # kind: (Chinese words, Latin words)
    "mobile": ("手机号码|手机号|手机|移动电话", "mobile|mob|cell(?:phone)?|m"),
    "tel": (
        "公司电话|联系电话|办公电话|电话|座机|固话|热线|总机|直线",
        "tel(?:ephone)?|phone|office|direct|hotline|t|o|p",
    ),
    "fax": ("传真", "fax|f"),
    "email": ("电子邮箱|电子邮件|邮箱|邮件|电邮", "e-?mail|mail|e"),
    "web": ("网址|网站|主页|官网", "web(?:site)?|url|w"),
    "address": ("公司地址|办公地址|通讯地址|联系地址|地址|住址", "address|addr|add|a"),
    "name": ("姓名", "name"),
    "position": ("职位|职务", "title|position"),
    "company": ("公司名称|公司", "company"),
    "other": ("微信|邮编|二维码", "wechat|qq|zip|post ?code|p\\.?o\\.? box"),
}
# A Latin label must be followed by ":" (or by a number, for "Tel 0571…"), so "Mobile
# Solutions Ltd." and "M. Brown" keep their first word; one-letter labels need the colon.
_LABEL_RES = {
    kind: re.compile(
        f"(?:{zh})\\s*[:.]?\\s*|(?<![a-z])(?:{en})\\s*:\\s*|(?<![a-z])(?:{en})(?<=[a-z]{{2}})\\.?\\s+(?=[+(\\d])",
        re.I,
    )
    for kind, (zh, en) in _LABELS.items()
}


def _leading_label(line: str) -> tuple[str | None, str]:
    """The kind of label a line starts with ("地址:", "E-mail:") and the line without it."""
    for kind, pattern in _LABEL_RES.items():
        found = pattern.match(line)
        if found:
            return kind, line[found.end() :].strip()
    return None, line


def _label_before(line: str, pos: int) -> str | None:
    """The kind of the label nearest before `pos`: "T: … F: …" on one line labels each number."""
    best: tuple[int, str] | None = None
    for kind, pattern in _LABEL_RES.items():
        for found in pattern.finditer(line, 0, pos):
            if found.end() <= pos and (best is None or found.end() > best[0]):
                best = (found.end(), kind)
    return best[1] if best else None


# ------------------------------------------------------------------ phones

# Letters OCR confuses with digits, fixed only inside number-like runs ("l39 1234 S678").
_DIGIT_LOOKALIKES = str.maketrans("OoDIl|SsBZz", "00011155822")
_NUMBERISH = re.compile(r"(?<![A-Za-z])[\dOoDIlSsBZz][\dOoDIlSsBZz\s\-]{5,}[\dOoDIlSsBZz](?![A-Za-z])")
_EXTENSION_AFTER = re.compile(r"\s*(?:转|分机号?|ext\.?|x|#|-)\s*(\d{1,6})(?!\d)(?!\s*\d)", re.I)
# Numbers the matcher does not take as one, such as the dash extension "010-12345678-123".
_PHONE_LIKE = re.compile(r"\+?\(?\d[\d\s\-().]{5,}\d")


def _fix_digits(line: str) -> str:
    def fix(found: re.Match[str]) -> str:
        run = found.group()
        return run.translate(_DIGIT_LOOKALIKES) if sum(ch.isdigit() for ch in run) >= 6 else run

    return _NUMBERISH.sub(fix, line)


def _stored(number: PhoneNumber, ext: str | None) -> str | None:
    """The number as parse_phone stores it, or None if parse_phone would not take it."""
    text = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    try:
        return v.parse_phone(f"{text} 转 {ext}" if ext else text)
    except Invalid:
        return None


def _numbers(line: str) -> list[tuple[int, str, bool]]:
    """(position, stored number, looks like a mobile) of each phone number on a line."""
    found: list[tuple[int, str, bool]] = []
    taken: list[tuple[int, int]] = []
    for match in phonenumbers.PhoneNumberMatcher(line, "CN"):
        ext = match.number.extension
        end = match.end
        if not ext and (after := _EXTENSION_AFTER.match(line, end)):
            ext, end = after.group(1), after.end()
        stored = _stored(match.number, ext)
        if stored:
            kind = phonenumbers.number_type(match.number)
            found.append((match.start, stored, kind == PhoneNumberType.MOBILE))
            taken.append((match.start, end))
    for run in _PHONE_LIKE.finditer(line):
        if any(a < run.end() and run.start() < b for a, b in taken):
            continue
        try:
            stored = v.parse_phone(run.group())
        except Invalid:
            continue
        number = phonenumbers.parse(stored.partition(";ext=")[0])
        found.append((run.start(), stored, phonenumbers.number_type(number) == PhoneNumberType.MOBILE))
    return sorted(found)


# ------------------------------------------------------------------ e-mail and website

_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_AROUND_AT = re.compile(r"(?<=[\w.])\s*([@.])\s*(?=\w)")
_WEBSITE = re.compile(
    r"(?:https?://)?(?:www\.)?[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:/\S*)?", re.I
)


# OCR drops a small dot more often than any other character: "name@tfwlcom"
_EMAIL_LOST_DOT = re.compile(
    r"([A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+?)(com(?=cn)|com|net|org|cn)(cn)?(?![A-Za-z0-9.\-])"
)


def _email(line: str) -> str | None:
    if "@" not in line:
        return None
    line = _AROUND_AT.sub(r"\1", line)
    candidates = [found.group() for found in _EMAIL.finditer(line)]
    candidates += [".".join(p for p in found.groups() if p) for found in _EMAIL_LOST_DOT.finditer(line)]
    for candidate in candidates:
        try:
            return v.parse_email(candidate)
        except Invalid:
            continue
    return None


def _website(line: str, label: str | None) -> str | None:
    line = _EMAIL.sub(" ", line)
    if not (label == "web" or re.search(r"www\.|https?://", line, re.I)):
        return None
    found = _WEBSITE.search(line.replace(" ", ""))
    return found.group().lower() if found else None


# ------------------------------------------------------------------ company, position, name

_CN_COMPANY = re.compile(
    "(.*[\u3400-\u9fff].*?(?:股份有限公司|有限责任公司|有限公司|分公司|公司|集团|事务所|研究院|研究所|设计院|"
    "工作室|商行|银行|分行|支行|医院|大学|学院|学校|协会|商会|基金会|合作社|厂))(.*)$"
)
_CO_LTD = re.compile(r"\bco\W*ltd\W*$", re.I)
_CN_TITLES = (
    *("董事长", "董事", "总裁", "总经理", "经理", "总监", "主管", "主任", "工程师", "设计师", "架构师"),
    *("分析师", "销售", "专员", "助理", "顾问", "代表", "秘书", "会计", "出纳", "合伙人", "创始人"),
    *("负责人", "采购", "厂长", "店长", "部长", "科长", "处长", "院长", "校长", "教授", "讲师", "律师"),
    *("医师", "医生", "主编", "编辑", "研究员", "业务员", "客服", "首席", "总工", "行政", "主席"),
)
_EN_TITLES = re.compile(
    r"\b(?:manager|director|engineer|sales|president|vp|vice|officer|head|lead|consultant|specialist|"
    r"representative|rep|assistant|executive|partner|founder|co-founder|owner|chairman|chairwoman|"
    r"chair|supervisor|coordinator|analyst|architect|designer|developer|accountant|secretary|advisor|"
    r"adviser|associate|marketing|account|ceo|cto|cfo|coo|cmo|cio|gm|principal|intern|administrator|"
    r"agent|attorney|lawyer|professor|buyer|purchasing|procurement|technician|counsel|editor|"
    r"researcher|scientist|senior|chief|general manager|business development|hr)\b",
    re.I,
)
# Capitalised words of places, slogans and company names, never of a person's name.
_NOT_NAME_WORDS = re.compile(
    r"\b(?:china|beijing|shanghai|shenzhen|guangzhou|hangzhou|hong|kong|macau|taiwan|asia|pacific|"
    r"global|international|group|holdings|technology|technologies|tech|trading|electronics|software|"
    r"systems|solutions|services|network|science|industrial|industry|company|limited|road|street|"
    r"avenue|district|building|room|floor|tower|plaza|park|centre|center|province|city|region|"
    r"department|the|and|of|for|new|team|office|best|quality|future)\b",
    re.I,
)
_LABEL_WORDS = frozenset(
    (
        *("手机", "电话", "座机", "传真", "邮箱", "邮件", "地址", "网址", "网站"),
        *("姓名", "职位", "职务", "公司", "微信", "邮编", "二维码", "扫码"),
    )
)
_NOT_NAME_ENDINGS = ("部", "处", "科", "室", "组", "中心", "办", "省", "市", "区", "县", "路", "街", "号")
# The most common surnames (more than nine people in ten carry one) and the compound ones.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童"
    "凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项"
    "连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲"
    "虞敖巩明佘池查麻苑迟邝"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "夏侯",
    "令狐",
)


def _cn_company(line: str) -> tuple[str, str] | None:
    """(company, rest of the line) when the line carries a Chinese organisation name."""
    found = _CN_COMPANY.match(line)
    if not found:
        return None
    name = found.group(1)
    # OCR debris or a one-word logo before the name ("AR 杭州…有限公司"); "TCL科技集团" stays whole
    words = name.split(" ")
    while len(words) > 1 and not has_han(words[0]) and len(words[0]) <= 3:
        words.pop(0)
    name = _tidy_han(" ".join(words))
    try:
        return v.parse_enterprise_name(name), found.group(2).strip()
    except Invalid:
        return None


def _en_company(text: str) -> str | None:
    if has_han(text) or not re.search(r"[a-z]{2}", text, re.I):
        return None
    text = _CO_LTD.sub("Co., Ltd.", text)  # OCR reads "Co., Ltd." as "Co.. Ltd," and the like
    try:
        name = v.parse_enterprise_name(text)
    except Invalid:
        return None
    # a two-letter legal form (AB, AG, SA) after a short word is more often OCR debris ("Fal AB")
    last = re.sub(r"\W", "", name.split()[-1])
    if len(last) <= 2 and last.lower() != "co" and sum(ch.isalpha() for ch in name) < 9:
        return None
    return name


def _is_cn_title(text: str) -> bool:
    return any(title in text for title in _CN_TITLES) and len(text) <= 20


def _is_en_title(text: str) -> bool:
    return bool(_EN_TITLES.search(text)) and len(text.split()) <= 8 and not re.search(r"\d", text)


def _cn_name_score(text: str) -> int:
    """0 if `text` cannot be a Chinese personal name, else higher for likelier ones."""
    core = text.replace("·", "")
    if not (2 <= len(core) <= 4 or ("·" in text and len(core) <= 12)) or not all(map(is_han, core)):
        return 0
    if text in _LABEL_WORDS or _is_cn_title(text) or text.endswith(_NOT_NAME_ENDINGS):
        return 0
    try:
        v.parse_person_name(text)
    except Invalid:
        return 0
    surname = text[0] in _SURNAMES or text.startswith(_COMPOUND_SURNAMES)
    return 1 + 2 * surname + (len(core) <= 3)


_EN_WORD = re.compile(r"[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)*\.?|[A-Z]{2,}(?:[-'][A-Z]+)*|[A-Z]\.")


def _en_name_score(text: str) -> int:
    """0 if `text` cannot be a name in Latin letters ("Fang Wang", "John SMITH"), else 1."""
    words = text.split()
    if not 2 <= len(words) <= 3 or not all(_EN_WORD.fullmatch(w) for w in words):
        return 0
    if _NOT_NAME_WORDS.search(text) or _is_en_title(text):
        return 0
    styles = {"upper" if w.isupper() else "title" for w in words if len(w.strip(".")) > 1}
    # "Fal AB" (debris) mixes styles with a short word; "John SMITH" has a real family name
    if len(styles) > 1 and not any(w.isupper() and len(w) >= 3 for w in words):
        return 0
    return 1


# ------------------------------------------------------------------ addresses

_CN_PLACE = re.compile(r"省|市|区|县|镇|乡|路|街|道|巷|弄|号|大厦|大楼|楼|室|层|座|栋|园区|广场|中心")
_EN_PLACE = re.compile(
    r"\b(?:road|rd|street|st|avenue|ave|boulevard|blvd|lane|ln|drive|way|building|bldg|floor|fl|room|"
    r"rm|suite|ste|tower|plaza|park|district|industrial|zone|block|unit|no|village|town|county)\b\.?",
    re.I,
)


# "中关村大街]号": a lone bar or bracket before 号 is the digit one
_ADDRESS_ONE = re.compile(r"(?<![\d\]\[lI|])[\]\[lI|](?=号)")


def _is_address(text: str, label: str | None) -> bool:
    if label == "address":
        return True
    if has_han(text):
        places = len(_CN_PLACE.findall(text))
        return places >= 3 or (places >= 1 and bool(re.search(r"\d", text)) and len(text) >= 6)
    return bool(_EN_PLACE.search(text)) and bool(re.search(r"\d", text))


# ------------------------------------------------------------------ the card


@dataclass
class _Found:
    names: list[tuple[int, int, str]]  # score, -line number, name
    names_en: list[tuple[int, int, str]]
    positions: list[str]
    positions_en: list[str]
    companies: list[str]
    companies_en: list[str]


_CAMEL = re.compile(r"([A-Z][a-z]+)([A-Z][a-z]+)")


def _split_scripts(text: str) -> list[str]:
    """Split "王芳 Fang Wang" or "销售经理 Sales Manager" where Chinese and Latin meet at a space."""
    han = "[\u3400-\u9fff\uf900-\ufaff·]"
    parts = re.split(f"(?<={han}) +(?=[A-Za-z])|(?<=[A-Za-z.]) +(?={han})", text)
    return [p.strip() for p in parts if p.strip()]


def _header_part(part: str, index: int, found: _Found, *, beside_han: bool = False) -> None:
    """Sort one piece of a line that is not contact details: company, position or name."""
    if not has_han(part):
        company = _en_company(part)
        if company:
            found.companies_en.append(company)
            return
        if beside_han and (camel := _CAMEL.fullmatch(part)):
            part = " ".join(camel.groups())  # "王芳 FangWang": OCR lost the space of the small print
        for piece in re.split(r"\s*[,/]\s*|\s+-\s+", part) if "," in part or "/" in part else [part]:
            if _is_en_title(piece):
                found.positions_en.append(piece)
            elif score := _en_name_score(piece):
                found.names_en.append((score, -index, piece))
        return
    words = part.split(" ")
    # "李明 销售总监", or OCR's "李 明 销售总监": a name, then the title after a gap
    for k in range(1, len(words)):
        head, tail = "".join(words[:k]), join_han(" ".join(words[k:]))
        if _cn_name_score(head) and _is_cn_title(tail) and not _is_cn_title(head):
            found.names.append((_cn_name_score(head) + 1, -index, head))
            found.positions.append(tail)
            return
    text = join_han(part)
    if _is_cn_title(text):
        found.positions.append(text)
    elif score := _cn_name_score(text):
        found.names.append((score, -index, text))


def parse_card(text: str) -> CardFields:
    """The fields of a card from its OCR text (one printed line per line); empty text gives
    empty fields, never an error."""
    phones: list[tuple[bool, int, str]] = []  # not a mobile, order, number
    fax: str | None = None
    email: str | None = None
    website: str | None = None
    addresses: list[tuple[int, str, bool]] = []  # line number, text, labelled
    found = _Found([], [], [], [], [], [])
    for index, raw in enumerate(text.splitlines()[:MAX_LINES]):
        line = _clean(raw[:MAX_LINE])
        if not line:
            continue
        label, value = _leading_label(line)
        numbers = _numbers(_fix_digits(line)) if label not in ("email", "web", "other") else []
        for pos, number, mobile in numbers:
            kind = _label_before(line, pos) or label
            if kind == "fax":
                fax = fax or number
            elif kind not in ("other",) and number not in (p for _, _, p in phones):
                phones.append((not (mobile or kind == "mobile"), len(phones), number))
        mail = _email(line)
        email = email or mail
        site = _website(value, label)
        website = website or site
        if numbers or mail or site or not value or label in ("mobile", "tel", "fax", "email", "web", "other"):
            continue
        if _is_address(value, label):
            addresses.append((index, value, label == "address"))
            continue
        if label in ("name", "position", "company"):
            line = value
        if cn := _cn_company(line):
            found.companies.append(cn[0])
            line = cn[1]
            if not line:
                continue
        parts = _split_scripts(re.sub(r"[()\[\]]", " ", line))  # "王芳(Fang Wang)"
        for part in parts:
            _header_part(part, index, found, beside_han=len(parts) > 1)
    cn_addresses = [_ADDRESS_ONE.sub("1", _tidy_han(a)) for a in _join_addresses(addresses) if has_han(a)]
    en_addresses = [a for a in _join_addresses(addresses) if not has_han(a)]
    name_en = max(found.names_en)[2] if found.names_en else None
    return CardFields(
        name=max(found.names)[2] if found.names else name_en,
        position=_first(found.positions, found.positions_en),
        company=_first(found.companies, found.companies_en),
        phones=tuple(number for _, _, number in sorted(phones)),
        email=email,
        address=_first(cn_addresses, en_addresses),
        name_en=name_en,
        position_en=_first(found.positions_en),
        company_en=_first(found.companies_en),
        address_en=_first(en_addresses),
        fax=fax,
        website=website,
    )


def _join_addresses(lines: list[tuple[int, str, bool]]) -> list[str]:
    """An address printed over two lines ("…科技园路18号" then "腾达大厦10楼") is one address."""
    joined: list[tuple[int, str]] = []
    for index, text, labelled in lines:
        if joined and not labelled and index == joined[-1][0] + 1 and has_han(text) == has_han(joined[-1][1]):
            joined[-1] = (index, joined[-1][1] + (" " if has_han(text) else ", ") + text)
        else:
            joined.append((index, text))
    return [text for _, text in joined]


def _first(*candidates: list[str]) -> str | None:
    return next((values[0] for values in candidates if values), None)
