"""Company and person name keys for fuzzy matching: duplicates (撞单), search and note understanding.

"华为技术有限公司", "深圳市华为技术有限公司" and "华为" should meet on the same core, and so should
"Acme Trading Co., Ltd." and "ACME Trading Limited". Legal-form suffixes and leading place names
carry no identity, so they are removed before comparing.
"""

from __future__ import annotations

import re
import unicodedata

# rapidfuzz (~10 ms, ~2.5 MiB at start-up) is imported by the scorers below, on the first name compared.

_CN_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团公司",
    "控股",
    "集团",
    "分公司",
    "公司",
    "科技",
    "技术",
    "信息",
    "网络",
    "实业",
    "贸易",
    "商贸",
    "工作室",
    "事务所",
)
_EN_SUFFIXES = re.compile(
    r"[\s,\.]*\b(co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|pte|sa|ag|group|holdings?)\b\.?",
    re.IGNORECASE,
)
_PLACES = re.compile(
    r"^(中国|(北京|上海|天津|重庆|深圳|广州|杭州|南京|苏州|成都|武汉|西安)市?|[\u4e00-\u9fff]{2,3}(省|市))"
)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Width- and case-insensitive form of a name (full-width letters from Chinese keyboards fold too)."""
    return unicodedata.normalize("NFKC", text).casefold().strip()


def core_name(name: str) -> str:
    """The identifying part of a company (or person) name, for comparisons only, never for display."""
    s = fold(name)
    s = re.sub(r"[((].*?[))]", "", s)  # (深圳) branch notes
    s = _EN_SUFFIXES.sub(" ", s)
    changed = True
    while changed:
        changed = False
        for suffix in _CN_SUFFIXES:
            if s.endswith(suffix) and len(s) > len(suffix) + 1:
                s = s[: -len(suffix)]
                changed = True
    s = _PLACES.sub("", s) or s
    return _PUNCT.sub("", s)


def score_keys(a: str, b: str) -> float:
    """0-100 between two core names (already passed through core_name)."""
    if not a or not b:
        return 0.0
    if a == b:
        return 100.0
    from rapidfuzz import fuzz  # lazily: see the imports above

    return float(max(fuzz.ratio(a, b), fuzz.token_sort_ratio(a, b)))


def best_matches(name: str, keys: dict[int, str], cutoff: float, limit: int = 10) -> list[tuple[int, float]]:
    """(id, score) of the stored core names most like `name`, best first; C-speed over many rows."""
    probe = core_name(name)
    if not probe:
        return []
    from rapidfuzz import fuzz, process  # lazily: see the imports above

    best: dict[int, float] = {}
    for scorer in (fuzz.ratio, fuzz.token_sort_ratio):  # the same two as score_keys, in native code
        for _, score, key in process.extract(probe, keys, scorer=scorer, score_cutoff=cutoff, limit=limit):
            best[int(key)] = max(best.get(int(key), 0.0), float(score))
    return sorted(best.items(), key=lambda kv: -kv[1])[:limit]


def similarity(a: str, b: str) -> float:
    """0-100: how alike two names are once suffixes and places are gone."""
    return score_keys(core_name(a), core_name(b))
