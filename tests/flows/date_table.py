"""The check behind the dates' phrase tables (rounds two and three, compound forms): one case is a
now, a reading, a phrase and what it must give — "YYYY-MM-DD HH:MM" (a "*" when only a day was
said, " -HH:MM" for the zone's offset), "!key" for a refusal, "?a|b" for a choice."""

from __future__ import annotations

import datetime as dt

import pytest

from flows.dates import When, understand_when
from flows.errors import Ambiguous, Invalid
from flows.i18n import t


def shown(when: When) -> str:
    return when.at.strftime("%Y-%m-%d %H:%M") + ("" if when.has_time else "*")


def check_case(now: dt.datetime, past: bool, phrase: str, expected: str) -> None:
    if expected.startswith("!"):
        with pytest.raises(Invalid) as info:
            understand_when(phrase, now=now, past=past)
        assert not isinstance(info.value, Ambiguous)
        assert info.value.key == "date." + expected[1:]
        for lang in ("zh", "en"):  # every refusal says why, in both languages
            assert "{" not in t(lang, info.value.key, **info.value.params)
    elif expected.startswith("?"):
        with pytest.raises(Ambiguous) as amb:
            understand_when(phrase, now=now, past=past)
        assert [shown(o) for o in amb.value.options] == expected[1:].split("|")
    else:
        text, _, offset = expected.partition(" -")
        when = understand_when(phrase, now=now, past=past)
        assert shown(when) == text
        assert when.at.tzinfo is now.tzinfo
        if offset:
            assert when.at.strftime("%z") == "-" + offset.replace(":", "")
