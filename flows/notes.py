"""Understand a follow-up note typed in one message: who it is about, how it happened, what's next.

"刚和华为张总通了电话,他们要报价单,下周二下午两点再跟进" or "Visited Acme, met John, they want a
quote, follow up Friday 10am" name a customer (by its full, short or partial name), perhaps a
contact (by name, or by surname and title: 张总, 王经理, Mr Smith), the mode (通了电话 → phone) and
the next follow-up time. Everything here is a guess the person confirms on the draft card, so a
guess that is unsure is left out (the flow then asks) rather than made silently: two customers that
fit equally well are both offered, a date phrase that reads two ways is asked again.

Matching is against the user's own customers only: a note is about someone they look after.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flows.dateformat import FoundWhen, When
from flows.errors import Invalid
from flows.names import core_name, fold, similarity
from flows.normalize import normalize
from flows.refs import ContactRef, CustomerRef

__all__ = ["Note", "detect_mode", "understand_note"]

_MAX_NOTE = 4096  # a Telegram message
_MAX_MATCH = 1000  # names are looked for in the first part of a long note

# ------------------------------------------------------------------ mode

# Strong words name the channel; weak ones ("met", 见了) only count when no strong word is there.
# Longer phrases first at the same place, so 视频电话 is a meeting and 微信电话 a WeChat call.
_MODE_WORDS: dict[str, tuple[str, ...]] = {
    "online_meeting": (
        "视频会议", "线上会议", "网络会议", "在线会议", "远程会议", "腾讯会议", "钉钉会议", "飞书会议",
        "视频通话", "视频电话", "开了个视频", "视频", "zoom", "teams", "google meet", "webex", "skype",
        "video call", "video conference", "online meeting", "virtual meeting", "web meeting",
    ),
    "wechat": ("企业微信", "微信电话", "微信语音", "微信", "wechat", "weixin", "wechat call"),
    "email": ("发邮件", "邮件", "电邮", "邮箱", "e-mail", "email", "emailed", "mailed"),
    "phone": (
        "通了电话", "打了电话", "打电话", "电话沟通", "电话里", "通电话", "电话", "致电", "来电", "通话",
        "phone call", "phoned", "called", "call", "calls", "rang", "on the phone", "over the phone",
    ),
    "visit": (
        "上门拜访", "拜访", "上门", "面谈", "面见", "见面", "走访", "到访", "登门", "去了一趟", "现场",
        "visited", "visit", "visiting", "dropped by", "stopped by", "in person", "on site", "onsite",
        "their office", "went to",
    ),
}  # fmt: skip
_WEAK_MODE_WORDS: dict[str, tuple[str, ...]] = {
    "visit": ("见了", "聊了聊", "met", "meeting with", "met with"),
}


def _mode_regex(words: dict[str, tuple[str, ...]]) -> tuple[re.Pattern[str], dict[str, str]]:
    mode_of = {w: mode for mode, ws in words.items() for w in ws}
    alternatives = sorted(mode_of, key=len, reverse=True)
    # Latin words must stand alone ("teams" not in "steams", "call" not in "recall").
    parts = [rf"(?<![a-z]){re.escape(w)}(?![a-z])" if w.isascii() else re.escape(w) for w in alternatives]
    return re.compile("|".join(parts)), mode_of


_MODE_RE, _MODE_OF = _mode_regex(_MODE_WORDS)
_WEAK_MODE_RE, _WEAK_MODE_OF = _mode_regex(_WEAK_MODE_WORDS)


def detect_mode(text: str) -> str | None:
    """The channel the note describes: the first channel word in it (what happened comes first)."""
    folded = fold(text)
    for regex, mode_of in ((_MODE_RE, _MODE_OF), (_WEAK_MODE_RE, _WEAK_MODE_OF)):
        m = regex.search(folded)
        if m is not None:
            return mode_of[m.group(0)]
    return None


# Words that make a note of a text that names no one and no channel ("下周二下午两点再跟进").
_FOLLOW_WORDS = re.compile(
    r"跟进|回访|再联系|联系|约了|报价|合同|需求|follow[\s-]?up|get back|quote|proposal|contract|demo"
)

_NEXT_STEP = re.compile(
    r"跟进|回访|联系|约|打给|回电|电话|拜访"
    r"|follow[\s-]?up|check back|call back|get back|ping|touch base|revisit"
)
# ...and the words that lead into it: "follow up (on) Friday", "约了下周二", not "拜访了华为,下周三…"
_NEXT_BEFORE = re.compile(
    r"(?:follow[\s-]?up|check back|call (?:them |him |her )?back|get back(?: to (?:them|him|her))?"
    r"|ping (?:them|him|her)|touch base|revisit|跟进|回访|约了?|定在)"
    r"(?:\s*(?:on|at|by|in|for|时间|于))?\s*:?\s*$"
)
_MAX_PHRASES = 4

# ------------------------------------------------------------------ names

_LEGAL_SUFFIXES = (
    "股份有限公司", "有限责任公司", "有限公司", "集团有限公司", "集团公司", "集团", "控股", "分公司", "公司",
)  # fmt: skip
_EN_LEGAL = re.compile(
    r"[\s,.]*\b(co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|pte|sa|ag|"
    r"group|holdings?)\b\.?",
    re.IGNORECASE,
)
_LEADING_PLACE = re.compile(
    r"^(中国|(北京|上海|天津|重庆|深圳|广州|杭州|南京|苏州|成都|武汉|西安)市?|[\u4e00-\u9fff]{2,3}(省|市))"
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z0-9][a-z0-9&'-]*")
# Words too common to identify a company by themselves.
_GENERIC = frozenset((
    "the", "and", "of", "a", "an", "china", "global", "international", "trading", "technology",
    "technologies", "tech", "solutions", "services", "systems", "industries", "industrial", "products",
))  # fmt: skip
_FUZZY_MIN = 86  # one typo in a word of six letters or more


@dataclass(frozen=True)
class _NameForms:
    """A company name as a note may mention it: the CJK base (legal form and city dropped) and its
    identifying core, or the Latin words."""

    base: str
    core: str
    words: tuple[str, ...]


def _forms(name: str) -> _NameForms:
    s = fold(name)
    s = re.sub(r"[((].*?[))]", "", s)
    if _CJK.search(s):
        changed = True
        while changed:
            changed = False
            for suffix in _LEGAL_SUFFIXES:
                if s.endswith(suffix) and len(s) > len(suffix) + 1:
                    s, changed = s[: -len(suffix)], True
        s = _LEADING_PLACE.sub("", s) or s
        base = re.sub(r"[\s\W_]+", "", s)
        return _NameForms(base, core_name(name), ())
    s = _EN_LEGAL.sub(" ", s)
    words = tuple(_LATIN_WORD.findall(s))
    return _NameForms("", "", words)


def _cjk_score(forms: _NameForms, text: str) -> float:
    """How much of the company's CJK name the note contains (0 when it does not name it).

    The longest piece of the base name found in the note counts if it is the whole core (华为 for
    华为技术有限公司) or the start of the name (阿里 for 阿里巴巴): how people shorten names.
    """
    base = forms.base
    n = len(base)
    if n < 2:
        return 0.0
    for length in range(n, 1, -1):
        for i in range(n - length + 1):
            piece = base[i : i + length]
            if piece in text and (i == 0 or (forms.core and forms.core in piece)):
                return length / n
    return 0.0


def _word_match(a: str, b: str) -> bool:
    if a == b:
        return True
    from rapidfuzz import fuzz  # here, not at the top: flows.names says why

    return len(a) >= 6 and len(b) >= 6 and fuzz.ratio(a, b) >= _FUZZY_MIN


def _latin_score(forms: _NameForms, words: Sequence[str]) -> float:
    """1 when the note has the company's distinctive words in a row ("Acme" for Acme Trading Co.,
    "Blue Sky" for Blue Sky Technologies, never "Blue" alone), one typo allowed in long words."""
    name = [w for w in forms.words if w not in _GENERIC and len(w) >= 2] or list(forms.words)
    if not name:
        return 0.0
    k = len(name)
    for j in range(len(words) - k + 1):
        if all(_word_match(name[i], words[j + i]) for i in range(k)):
            return 1.0
    return 0.0


# Titles people put after a surname: 张总, 王经理, 李工, 刘老师; and before it: 小张, 老王.
_TITLES = (
    "总经理", "总监", "总裁", "董事长", "主任", "经理", "老师", "教授", "博士", "先生", "女士", "小姐",
    "处长", "科长", "局长", "部长", "院长", "校长", "主管", "老板", "厂长", "书记", "律师", "医生",
    "总", "董", "工", "姐", "哥", "哥哥", "姐姐",
)  # fmt: skip
_TITLE_RE = "|".join(sorted(_TITLES, key=len, reverse=True))
_COMPOUND_SURNAMES = frozenset((
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "令狐",
    "夏侯", "轩辕", "端木", "南宫", "西门", "独孤",
))  # fmt: skip
_EN_HONORIFIC = re.compile(r"\b(?:mr|mrs|ms|miss|dr|prof)\.?\s+([a-z][a-z'-]+)")


def _surname(name: str) -> str:
    return name[:2] if len(name) >= 3 and name[:2] in _COMPOUND_SURNAMES else name[:1]


def _contact_strength(contact: ContactRef, text: str, words: Sequence[str], honorifics: set[str]) -> float:
    """1 when the note names the contact in full, 0.5 for surname + title or a first name, else 0."""
    name = fold(contact.name)
    if not name:
        return 0.0
    if _CJK.search(name):
        compact = re.sub(r"\s+", "", name)
        if len(compact) >= 2 and compact in text:
            return 1.0
        surname = _surname(compact)
        if len(compact) >= 2 and re.search(
            rf"{re.escape(surname)}(?:{_TITLE_RE})|[小老]{re.escape(surname)}", text
        ):
            return 0.5
        return 0.0
    parts = _LATIN_WORD.findall(name)
    if not parts:
        return 0.0
    if len(parts) >= 2 and any(
        tuple(words[j : j + len(parts)]) == tuple(parts) for j in range(len(words) - len(parts) + 1)
    ):
        return 1.0
    if parts[-1] in honorifics or (len(parts) >= 2 and parts[0] in words and len(parts[0]) >= 3):
        return 0.5
    if len(parts) == 1 and parts[0] in words and len(parts[0]) >= 3:
        return 0.5
    return 0.0


def _is_name(text: str, name: str) -> bool:
    """Whether `text` is (a short form of) the company name itself: "Acme", "华为", "Globex Corp"."""
    typed, stored = core_name(text), core_name(name)
    return len(typed) >= 2 and (typed in stored or similarity(text, name) >= 90)


# ------------------------------------------------------------------ the note


@dataclass(frozen=True)
class Note:
    """What a note says, as far as it can be told; None/empty where the flow must ask."""

    content: str
    customer: CustomerRef | None
    candidates: tuple[CustomerRef, ...]
    contact: ContactRef | None
    mode: str | None
    next_at: When | None
    occurred_on: dt.date
    date_problem: Invalid | None = None  # a date phrase clearly meant but wrong or two-way (asked again)

    @property
    def just_a_name(self) -> bool:
        """Whether the text is only a customer's name ("Acme", "华为"): the person is looking it up."""
        return (
            not self.mode
            and self.next_at is None
            and any(_is_name(self.content, c.name) for c in self.candidates)
        )

    @property
    def recognised(self) -> bool:
        """Whether the text reads as a follow-up note at all (not "hello" or a stray question)."""
        return bool(
            self.candidates or self.mode or (self.next_at and _FOLLOW_WORDS.search(fold(self.content)))
        )


@dataclass(frozen=True)
class _Scored:
    customer: CustomerRef
    company: float  # how much of its name the note has
    contact: ContactRef | None
    strength: float  # how clearly one of its contacts is named

    @property
    def score(self) -> float:
        return self.company + self.strength / 2


_MARGIN = 0.2  # a customer is "the one" only if it fits this much better than the next
_RECENT_DAYS = 31  # "2019年合作过" is history, not the day of this interaction


def _mask(text: str, spans: Iterable[tuple[int, int]]) -> str:
    out = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(len(out), end)):
            out[i] = " "
    return "".join(out)


def _best_contact(
    customer: CustomerRef, text: str, words: Sequence[str], honorifics: set[str]
) -> tuple[ContactRef | None, float]:
    """The contact the note names, and how clearly; None when two fit equally (张总 with two 张)."""
    best: ContactRef | None = None
    strength = 0.0
    tied = False
    for contact in customer.contacts:
        s = _contact_strength(contact, text, words, honorifics)
        if s > strength:
            best, strength, tied = contact, s, False
        elif s and s == strength:
            tied = True
    return (None if tied else best), strength


def _score(customers: Sequence[CustomerRef], text: str) -> list[_Scored]:
    folded = fold(text)[:_MAX_MATCH]
    compact = re.sub(r"\s+", "", folded)  # typed spaces inside CJK names
    words = _LATIN_WORD.findall(folded)
    honorifics = set(_EN_HONORIFIC.findall(folded))
    scored: list[_Scored] = []
    for customer in customers:
        forms = _forms(customer.name)
        company = _cjk_score(forms, compact) if forms.base else _latin_score(forms, words)
        contact, strength = _best_contact(customer, compact, words, honorifics)
        if company or strength:
            scored.append(_Scored(customer, company, contact, strength))
    # A company named in the note outweighs a surname that happens to fit someone elsewhere.
    if any(s.company for s in scored):
        scored = [s for s in scored if s.company]
    return sorted(scored, key=lambda s: -s.score)


def _next_step_phrase(text: str, found: FoundWhen) -> bool:
    """Whether a date phrase is the one said with a follow-up word right before or after it."""
    before = fold(text[max(0, found.start - 24) : found.start])
    after = fold(text[found.end : found.end + 8])
    return bool(_NEXT_BEFORE.search(before) or _NEXT_STEP.match(after.lstrip(" ,，再")))


def understand_note(
    text: str, customers: Sequence[CustomerRef], *, now: dt.datetime, default_hour: int = 9
) -> Note:
    """Read one note against the user's customers, relative to `now` (aware, in the user's zone)."""
    from flows.dates import find_when  # the date reader's rules load with the first note or date read

    content = normalize(text[:_MAX_NOTE], multiline=True).strip()
    problem: Invalid | None = None
    spans: list[tuple[int, int]] = []
    futures: list[FoundWhen] = []
    for _ in range(_MAX_PHRASES):  # every future phrase: "下周三之前给订单,下周四10点跟进" has two
        try:
            found = find_when(_mask(content, spans), now=now, default_hour=default_hour)
        except Invalid as exc:  # Ambiguous too: the flow asks the time again, with the reason
            if not futures:
                problem = exc
            start, end = exc.params.get("start"), exc.params.get("end")
            if isinstance(start, int) and isinstance(end, int):
                spans.append((start, end))
            break
        if found is None:
            break
        futures.append(found)
        spans.append((found.start, found.end))
    # the one said with "跟进/follow up" is the next follow-up; else the first
    chosen = next((f for f in futures if _next_step_phrase(content, f)), futures[0] if futures else None)
    next_at = chosen.when if chosen is not None else None
    occurred_on = now.date()
    try:
        past = find_when(_mask(content, spans), now=now, past=True, default_hour=default_hour)
    except Invalid:
        past = None
    if past is not None and (now.date() - past.when.at.date()).days <= _RECENT_DAYS:
        occurred_on = past.when.at.date()
        spans.append((past.start, past.end))
    scored = _score(customers, _mask(content, spans))  # 明天 is a date, not 明天科技
    customer: CustomerRef | None = None
    contact: ContactRef | None = None
    candidates: tuple[CustomerRef, ...] = ()
    if scored:
        top = scored[0].score
        close = [s for s in scored if top - s.score < _MARGIN]
        candidates = tuple(s.customer for s in close)
        if len(close) == 1:
            customer, contact = close[0].customer, close[0].contact
    return Note(content, customer, candidates, contact, detect_mode(content), next_at, occurred_on, problem)
