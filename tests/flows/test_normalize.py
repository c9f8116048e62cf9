"""normalize/display_len: what every validator sees first."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.normalize import display_len, join_han, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("１３８１２３４５６７８", "13812345678"),
        ("ｚｈａｎｇ＠ｑｑ．ｃｏｍ", "zhang@qq.com"),
        ("（０１０）１２３４：５６７８，", "(010)1234:5678,"),
        ("ＡＢＣ　ｄｅｆ", "ABC def"),  # ideographic space
        ("  a \t\t b  ", "a b"),
        ("a\u200bb\u200c\u200dc\ufeff", "abc"),  # zero-width characters and BOM
        ("a\x00b\x07c\x1bd", "abcd"),  # control characters
        ("\u202eevil\u202c", "evil"),  # bidi override
        ("\u3164\u3164", ""),  # Hangul filler: looks empty, is empty
        ("e\x00\u0301", "\u00e9"),  # a dropped control between letter and accent
        ("张三 李四", "张三 李四"),  # CJK kept, a real space kept
        ("阿卜杜·热西提", "阿卜杜·热西提"),
        ("第一行\n第二行", "第一行 第二行"),
        ("", ""),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_multiline_keeps_paragraphs_but_not_runs() -> None:
    assert normalize("一\r\n二  三\n\n\n\n 四 ", multiline=True) == "一\n二 三\n\n四"


def test_join_han_only_between_chinese() -> None:
    assert join_han("张 三") == "张三"
    assert join_han("阿卜杜 · 热西提") == "阿卜杜·热西提"
    assert join_han("SAP 中国 有限公司") == "SAP 中国有限公司"


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("电话沟通了报价", 7),
        ("１２３", 3),
        ("e\u0301", 1),  # e + combining accent is one character
        ("👍\ufe0f", 1),  # emoji with variation selector
        ("a\u200bb", 2),
        ("a   b", 3),
        ("", 0),
    ],
)
def test_display_len(text: str, count: int) -> None:
    assert display_len(text) == count


@settings(max_examples=150, deadline=None)
@given(st.text())
def test_normalize_is_idempotent_and_visible(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip()
    assert "  " not in once
    assert not any(ch in once for ch in "\x00\n\t\u200b\ufeff")
    assert normalize(normalize(text, multiline=True), multiline=True) == normalize(text, multiline=True)
