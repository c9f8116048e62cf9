"""Clean up typed text before any validator looks at it.

Chinese keyboards send full-width forms (１３８, ＠, ：, （）) and pasted text often carries
invisible characters (zero-width spaces, byte-order marks, direction marks) that make two equal
looking answers compare unequal. Every validator starts from `normalize`, so stored values are
comparable and duplicate detection works on what people see, not on how it was typed.
"""

from __future__ import annotations

import re
import unicodedata

# Categories dropped outright: controls, format characters (zero-width space/joiner, BOM,
# bidi overrides, soft hyphen), lone surrogates and private-use glyphs that render as boxes.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co"})
# Letters that render as nothing (Hangul fillers, braille blank); used to fake "empty" names.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_LINE_BREAKS = frozenset("\n\r\u2028\u2029\x85\x0b\x0c")
_SPACES = re.compile(r"[ \t]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_HAN = "\u3400-\u9fff\uf900-\ufaff\u3007\U00020000-\U0003134f"
_HAN_SPACE = re.compile(f"(?<=[{_HAN}·]) (?=[{_HAN}·])")


def normalize(text: str, *, multiline: bool = False) -> str:
    """Half-width, visible-only, single-spaced text; CJK characters are kept as they are.

    NFKC folds full-width digits, letters and punctuation to ASCII (so "，" becomes "," in free
    text too, matching the house style of our own Chinese messages). `multiline` keeps line
    breaks (at most one blank line in a row) for free-text fields such as follow-up content.
    """
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n"))
    out: list[str] = []
    for ch in text:
        if ch in _LINE_BREAKS:
            out.append("\n" if multiline else " ")
        elif ch.isspace():
            out.append(" ")
        elif ch in _INVISIBLE_LETTERS or unicodedata.category(ch) in _DROP_CATEGORIES:
            continue
        else:
            out.append(ch)
    # Once more: dropping a character can bring a letter and its combining mark together.
    cleaned = unicodedata.normalize("NFKC", "".join(out))
    if not multiline:
        return _SPACES.sub(" ", cleaned).strip()
    lines = [_SPACES.sub(" ", line).strip() for line in cleaned.split("\n")]
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def join_han(text: str) -> str:
    """Drop spaces between two Chinese characters ("张 三" -> "张三"), which are typing noise."""
    return _HAN_SPACE.sub("", text)


def display_len(text: str) -> int:
    """Characters as a person counts them: one per CJK character, letter, digit or space.

    Combining marks (accents typed separately, emoji variation selectors) are not counted.
    Hand-written rather than a grapheme library because none is a declared dependency and
    this approximation is what the length rules of the CRM ("at least 20 characters") need.
    """
    return sum(1 for ch in normalize(text, multiline=True) if unicodedata.category(ch) not in ("Mn", "Me"))


def is_han(ch: str) -> bool:
    """A Chinese (Han) character, including the rare extension blocks used in personal names."""
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x3134F
        or 0xF900 <= code <= 0xFAFF
        or code == 0x3007
    )


def has_han(text: str) -> bool:
    return any(is_han(ch) for ch in text)


def typed_number(text: str, *, max_digits: int = 9) -> int | None:
    """A whole number typed to pick a choice or a page ("2", "２", "②", "²"), or None.

    `isdigit()` is true for circled and superscript digits that `int()` refuses, so the text is
    NFKC-folded first and then must be decimal digits only; the length cap keeps `int()` far from
    its 4,300-digit limit and the result inside any id or index range.
    """
    folded = unicodedata.normalize("NFKC", text).strip()
    if not folded or len(folded) > max_digits or not folded.isdecimal():
        return None
    return int(folded)
