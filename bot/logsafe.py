"""Logs carry exception types and code locations, never values: no token, no customer data.

Two leaks are closed here. httpx logs every request URL at INFO, and a Bot API URL holds the bot
token; and an exception's text (a database error's DETAIL, a repr of the values) can hold the name,
phone or e-mail being saved. So every record is redacted before any handler sees it: bot tokens
(by shape, and the configured one by value) are masked, exception arguments are logged as their type
only, and tracebacks are reduced to the chain of exception types with file, line and function.
The third-party loggers that log URLs or rows are capped at WARNING.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable
from types import TracebackType
from typing import Any

TOKEN_PATTERN = re.compile(r"\d{6,12}:[A-Za-z0-9_-]{30,}")
MASK = "[redacted]"
# Loggers that log request URLs (httpx, httpcore, telegram's request layer), job arguments
# (apscheduler), statements with their rows (sqlalchemy at INFO/DEBUG) or calls with their
# arguments (aiosqlite at DEBUG).
CAPPED = ("httpx", "httpcore", "telegram", "apscheduler", "sqlalchemy", "aiosqlite", "asyncpg")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def safe_traceback(exc_info: ExcInfo) -> str:
    """The exception chain as types and code locations only: no messages, no local values."""
    lines: list[str] = []
    exc: BaseException | None = exc_info[1]
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        frames = traceback.extract_tb(exc.__traceback__)
        where = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
        lines[:0] = [
            "Traceback (most recent call last):",
            *where,
            f"{type(exc).__module__}.{type(exc).__qualname__}",
        ]
        nxt = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
        if nxt is not None:
            lines[:0] = ["(caused by)"]
        exc = nxt
    return "\n".join(lines)


class Redact(logging.Filter):
    """Masks bot tokens and drops exception values from a record; never refuses a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return TOKEN_PATTERN.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_redacted", False):
            return True
        args: Any = record.args
        if isinstance(args, tuple):
            args = tuple(_plain(a) for a in args)
        elif isinstance(args, dict):
            args = {k: _plain(v) for k, v in args.items()}
        record.args = args
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep its shape, not its values
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(safe_traceback(record.exc_info))
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        setattr(record, "_redacted", True)  # noqa: B010 - LogRecord declares no such attribute
        return True


def _plain(value: Any) -> Any:
    """An exception argument becomes its type name: its text may quote the values that failed."""
    return type(value).__name__ if isinstance(value, BaseException) else value


_installed: Redact | None = None
_previous_factory: Any = None


def install(secrets: Iterable[str] = ()) -> Redact:
    """Redact every record from now on: on every root handler, and at creation for later handlers."""
    global _installed, _previous_factory
    if _installed is None:
        _installed = Redact(secrets)
        previous = _previous_factory = logging.getLogRecordFactory()
        redact = _installed

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            redact.filter(record)
            return record

        logging.setLogRecordFactory(factory)
    else:
        _installed.secrets = list(dict.fromkeys([*_installed.secrets, *(s for s in secrets if s)]))
    for handler in logging.getLogger().handlers:
        if _installed not in handler.filters:
            handler.addFilter(_installed)
    return _installed


def setup_logging(level: int = logging.INFO, token: str | None = None) -> Redact:
    """Our own events at `level`; third-party loggers capped at WARNING; every record redacted."""
    logging.basicConfig(format=FORMAT, level=level)
    logging.getLogger().setLevel(level)
    for name in CAPPED:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    return install([token] if token else [])


def uninstall() -> None:
    """Undo `install` (for tests): the previous record factory back, the filter off root's handlers."""
    global _installed, _previous_factory
    if _installed is None:
        return
    logging.setLogRecordFactory(_previous_factory)
    for handler in logging.getLogger().handlers:
        handler.removeFilter(_installed)
    _installed = _previous_factory = None
