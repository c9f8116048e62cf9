"""`crm-bot when`: read a date phrase exactly as the bot would, to check a phrase or script a batch.

Prints the ISO 8601 date-time with its UTC offset, or `ERROR: <reason>` in English. With no phrase
on the command line it reads one phrase per line from stdin and prints one line per input line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Iterable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flows.errors import Ambiguous, Invalid
from flows.i18n import t

DEFAULT_ZONE = "Asia/Shanghai"


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", help="reference time, ISO 8601 (default: the current time); naive = in --tz")
    parser.add_argument("--tz", help=f"the user's time zone (default: $CRM_TIMEZONE or {DEFAULT_ZONE})")
    parser.add_argument("--past", action="store_true", help="read as an interaction date (not in the future)")
    parser.add_argument("--default-hour", type=int, default=9, help="hour used when only a day is given (9)")
    parser.add_argument("text", nargs="*", help="the phrase; without it, one phrase per line from stdin")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `when` on the crm-bot command line."""
    parser = subparsers.add_parser(
        "when",
        help="read a date/time phrase (Chinese or English) and print it as ISO 8601",
        description=__doc__,
    )
    _arguments(parser)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def answer(text: str, *, now: dt.datetime, past: bool, default_hour: int = 9) -> tuple[str, bool]:
    """One result line for one phrase, and whether it was understood."""
    # here, not at the top: every command (`crm-bot run` too) registers `when` on its command line,
    # and the date rules with their lunar tables are ~4.5 MiB a running bot loads at its first date
    from flows.dates import understand_when

    try:
        when = understand_when(text, now=now, past=past, default_hour=default_hour)
    except Ambiguous as amb:
        readings = " or ".join(o.at.isoformat() for o in amb.options if hasattr(o, "at"))
        return f"ERROR: {_one_line(t('en', amb.key, **amb.params))} Readings: {readings}", False
    except Invalid as exc:
        return f"ERROR: {_one_line(t('en', exc.key, **exc.params))}", False
    return when.at.isoformat(), True


def _reference(args: argparse.Namespace) -> dt.datetime:
    """--now in --tz (a naive --now is wall time there; an aware one is converted)."""
    zone = ZoneInfo(args.tz or os.environ.get("CRM_TIMEZONE") or DEFAULT_ZONE)
    if not args.now:
        return dt.datetime.now(zone).replace(microsecond=0)
    now = dt.datetime.fromisoformat(args.now)
    return now.replace(tzinfo=zone) if now.tzinfo is None else now.astimezone(zone)


def _lines(stream: Iterable[str]) -> Iterable[str]:
    for line in stream:
        yield line.rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    """0 when understood (always 0 in stdin mode), 1 when the phrase was refused, 2 on bad options."""
    try:
        now = _reference(args)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        print(f"ERROR: bad --now or --tz: {_one_line(str(exc))}")
        return 2
    default_hour = getattr(args, "default_hour", 9)
    if not 0 <= default_hour <= 23:
        print("ERROR: --default-hour must be 0-23")
        return 2
    if args.text:
        line, ok = answer(" ".join(args.text), now=now, past=args.past, default_hour=default_hour)
        print(line)
        return 0 if ok else 1
    for text in _lines(sys.stdin):
        print(answer(text, now=now, past=args.past, default_hour=default_hour)[0], flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="when", description=__doc__)
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
