"""Field types: each returns a Step with its parser, display and prompt conventions filled in.

A flow declaration is then a list of one-liners such as `Phone("phone", deferrable=True)`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flows import validators as v
from flows.choices import Choices
from flows.dateformat import When, format_date, format_when
from flows.engine import Answers, Env, OptionsFn, Step
from flows.errors import Ambiguous
from flows.i18n import t


def Text(name: str, *, min_len: int = 1, max_len: int = 500, **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_text(text, min_len=min_len, max_len=max_len), **kw)


def Choice(name: str, choices: Choices, **kw: Any) -> Step:
    return Step(name, kind="choice", choices=choices, **kw)


def Phone(name: str = "phone", **kw: Any) -> Step:
    return Step(
        name, parse=lambda text, env: v.parse_phone(text), show=lambda val, lang: v.format_phone(val), **kw
    )


def Email(name: str = "email", **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_email(text), **kw)


def CreditCode(name: str = "credit_code", **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_credit_code(text), **kw)


def PersonName(name: str = "name", **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_person_name(text), **kw)


def address_answer(text: str) -> dict[str, Any]:
    """An address as an answer is stored: its parts for filtering, and the full text to show."""
    a = v.parse_address(text)
    return {
        "province": a.province,
        "city": a.city,
        "district": a.district,
        "detail": a.detail,
        "full": a.full,
    }


def Address(name: str = "address", **kw: Any) -> Step:
    return Step(
        name,
        parse=lambda text, env: address_answer(text),
        show=lambda val, lang: str(val.get("full", "")),
        **kw,
    )


def Tags(name: str = "tags", **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_tags(text), show=lambda val, lang: "、".join(val), **kw)


def Birthday(name: str = "birthday", **kw: Any) -> Step:
    return Step(name, parse=lambda text, env: v.parse_birthday(text), **kw)


def _readings(amb: Ambiguous, lang: str, *, day_only: bool = False) -> Ambiguous:
    """Turn the date parser's alternative readings into (label, value) options for buttons."""
    options: list[tuple[str, Any]] = []
    for when in amb.options:
        if not isinstance(when, When):
            continue
        if day_only:
            options.append((format_date(when.at.date(), lang), when.at.date().isoformat()))
        else:
            options.append((format_when(when, lang), {"at": when.at.isoformat(), "has_time": when.has_time}))
    return Ambiguous(amb.key, options, **amb.params)


def _show_when(value: Any, lang: str) -> str:
    when = When(dt.datetime.fromisoformat(value["at"]), bool(value["has_time"]))
    return format_when(when, lang)


def _confirm_when(value: Any, lang: str) -> str:
    text = t(lang, "when.confirm", when=_show_when(value, lang))
    if not value["has_time"]:
        at = dt.datetime.fromisoformat(value["at"])
        text += "\n" + t(lang, "date.default_hour_note", hour=f"{at.hour:02d}:{at.minute:02d}")
    return text


def NextTime(
    name: str = "next_at",
    *,
    default_hour: Callable[[Env], int] = lambda env: env.services.default_hour,
    **kw: Any,
) -> Step:
    """A future date and time typed naturally, always echoed back as an absolute time to confirm."""

    def parse(text: str, env: Env) -> dict[str, Any]:
        from flows.dates import understand_when  # the reader's rules load with the first date read

        try:
            when = understand_when(text, now=env.services.now(), past=False, default_hour=default_hour(env))
        except Ambiguous as amb:
            raise _readings(amb, env.lang) from None
        return {"at": when.at.isoformat(), "has_time": when.has_time}

    def quick(env: Env) -> list[tuple[str, str]]:
        if env.lang == "zh":
            return [("明天上午9点", "明天上午9点"), ("3天后", "3天后"), ("下周一上午9点", "下周一上午9点")]
        return [
            ("Tomorrow 9am", "tomorrow 9am"),
            ("In 3 days", "in 3 days"),
            ("Next Monday 9am", "next Monday 9am"),
        ]

    return Step(name, parse=parse, show=_show_when, confirm=_confirm_when, quick=quick, **kw)


def PastDate(name: str = "occurred_on", **kw: Any) -> Step:
    """The day an interaction happened: today by default, never in the future."""

    def parse(text: str, env: Env) -> str:
        from flows.dates import understand_when  # the reader's rules load with the first date read

        try:
            when = understand_when(text, now=env.services.now(), past=True)
        except Ambiguous as amb:
            days = {w.at.date() for w in amb.options if isinstance(w, When)}
            if len(days) == 1:  # "昨天3点": am or pm, it is the same day, and only the day is kept
                return days.pop().isoformat()
            raise _readings(amb, env.lang, day_only=True) from None
        return when.at.date().isoformat()

    def quick(env: Env) -> list[tuple[str, str]]:
        return [(t(env.lang, "when.today"), "today"), (t(env.lang, "when.yesterday"), "yesterday")]

    def show(value: Any, lang: str) -> str:
        return format_date(dt.date.fromisoformat(value), lang)

    return Step(name, parse=parse, show=show, quick=quick, **kw)


def CustomerPick(name: str = "customer", **kw: Any) -> Step:
    return Step(name, kind="customer", show=lambda val, lang: f"{val['name']} · {val['number']}", **kw)


def Pick(name: str, options: OptionsFn, **kw: Any) -> Step:
    return Step(name, kind="pick", options=options, **kw)


def Location(name: str = "location", **kw: Any) -> Step:
    return Step(name, kind="location", show=lambda val, lang: f"{val['lat']:.5f}, {val['lon']:.5f}", **kw)


def Files(name: str = "attachments", **kw: Any) -> Step:
    """Photos, documents and voice notes, any number, until Done; staged by the adapter on arrival."""

    def show(value: Any, lang: str) -> str:
        return ", ".join(str(f.get("name") or f.get("kind")) for f in value)

    return Step(name, kind="files", show=show, **kw)


def is_(field: str, *values: str) -> Callable[[Answers], bool]:
    """ask_if helper: ask this step only when `field` holds one of `values`."""
    return lambda answers: answers.get(field) in values
