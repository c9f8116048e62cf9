"""A local stand-in for the Telegram Bot API, so e2e tests can drive the real PTB Application offline.

The machine has no route to Telegram, so tests point PTB's ``base_url`` / ``base_file_url`` at an
aiohttp server on 127.0.0.1 that answers like Telegram does: same URL scheme, same parameter
encodings (form-urlencoded or multipart with JSON-encoded nested values, as PTB's HTTPXRequest
sends them), same ``{"ok": ..., "result"|"error_code"/"description"/"parameters"}`` envelopes and
HTTP status codes (PTB picks its exception class from the status code). A test plays the user with
``push_*`` / ``press`` and reads what the bot did with ``next_message`` / ``messages`` / ``sent``.

Usage::

    async with FakeBotApi() as api:
        app = api.app_builder().build()
        app.add_handler(CommandHandler("start", start))
        async with started(app):
            api.push_text(42, "/start")
            msg = await api.next_message(42)
            await api.press(42, "Yes")
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import html
import itertools
import json
import logging
import math
import mimetypes
import re
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from telegram import Bot
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import HTTPXRequest

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456789:AAF4ke-T0ken-for-offline-tests-only_xyz"
TEXT_METHODS: tuple[str, ...] = ("sendMessage", "editMessageText")
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does for bots
MAX_UPLOAD = 50 * 1024 * 1024

_log = logging.getLogger(__name__)

# Parameters that PTB sends verbatim (not JSON-encoded); everything else is json.loads'ed when it parses,
# so that "13800138000" sent as a phone number or a caption "true" stays a string.
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "inline_query_id", "inline_message_id",
        "file_id", "action", "emoji", "url", "title", "address", "foursquare_id", "foursquare_type",
        "google_place_id", "google_place_type", "phone_number", "first_name", "last_name", "vcard",
        "description", "short_description", "name", "language_code", "query", "secret_token",
        "ip_address", "business_connection_id", "message_effect_id", "custom_emoji_id", "question",
        "photo", "document", "voice", "audio", "video", "animation", "sticker", "video_note", "thumbnail",
        "data", "filename", "file_name",
    }
)  # fmt: skip

_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_BUTTON_ACTIONS = (
    "callback_data", "url", "login_url", "switch_inline_query", "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat", "callback_game", "pay", "web_app", "copy_text",
)  # fmt: skip
_MEDIA_PREFIX = {
    "document": "BQACAgUAAxkBAAI",
    "photo": "AgACAgUAAxkBAAI",
    "voice": "AwACAgUAAxkBAAI",
    "audio": "CQACAgUAAxkBAAI",
    "video": "BAACAgUAAxkBAAI",
    "animation": "CgACAgUAAxkBAAI",
}
_MEDIA_DIR = {
    "document": "documents",
    "photo": "photos",
    "voice": "voice",
    "audio": "music",
    "video": "videos",
    "animation": "animations",
}
_MEDIA_DEFAULT_MIME = {
    "document": "application/octet-stream",
    "photo": "image/jpeg",
    "voice": "audio/ogg",
    "audio": "audio/mpeg",
    "video": "video/mp4",
    "animation": "video/mp4",
}


class ApiError(Exception):
    """A Telegram error answer; the HTTP status equals error_code because PTB maps exceptions from it."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _default_description(code: int, retry_after: int | None) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {retry_after or 1}"
    return {
        400: "Bad Request: chat not found",
        401: "Unauthorized",
        403: "Forbidden: bot was blocked by the user",
        404: "Not Found",
        409: "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(code, f"Error {code}")


# --------------------------------------------------------------------------- users, calls, files


@dataclass(frozen=True)
class FakeUser:
    """A Telegram user the test plays; language_code defaults to Simplified Chinese like our users."""

    id: int
    first_name: str = "Test"
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "zh-hans"
    phone_number: str | None = None  # shared when a request_contact reply button is pressed
    is_bot: bool = False

    def to_dict(self) -> JSON:
        out: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def coerce(cls, user: FakeUser | Mapping[str, Any]) -> FakeUser:
        if isinstance(user, FakeUser):
            return user
        known = {k: user[k] for k in cls.__dataclass_fields__ if k in user}
        return cls(**known)


UserLike = FakeUser | Mapping[str, Any]


@dataclass(frozen=True)
class Upload:
    """A file that arrived as a multipart part; kept so tests can check what the bot uploaded."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:  # keep assertion output short
        return f"Upload({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass
class Call:
    """One request the bot made, in arrival order of completion; ts is time.monotonic() at arrival."""

    index: int
    method: str
    params: JSON
    token: str
    ts: float
    status: int = 200
    result: Any = None
    description: str | None = None
    performed: bool = True  # False when an injected failure stopped the method from taking effect

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        value = self.params.get("text")
        return value if isinstance(value, str) else None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    declared_size: int | None = None  # what Telegram reports, when a test fakes a big file without bytes

    @property
    def size(self) -> int:
        return self.declared_size if self.declared_size is not None else len(self.data)


@dataclass
class _Queued:
    update: JSON
    delivered: bool = False


@dataclass
class _Chat:
    id: int
    info: JSON
    next_message_id: int = 1
    messages: dict[int, JSON] = field(default_factory=dict)
    reply_keyboard: JSON | None = None


@dataclass
class _Outgoing:
    chat_id: int
    method: str
    message: JSON
    consumed: bool = False


@dataclass
class _FailRule:
    method: str
    chat_id: int | str | None
    error_code: int
    retry_after: int | None
    description: str | None
    remaining: int


@dataclass
class _DelayRule:
    method: str
    chat_id: int | str | None
    seconds: float
    remaining: int


@dataclass
class _NetworkRule:
    mode: Literal["drop", "502"]
    methods: frozenset[str] | None
    remaining: int | None


# --------------------------------------------------------------------------- formatted text


def _u16(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units (an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def _entities_error(detail: str) -> ApiError:
    return _bad(f"can't parse entities: {detail}")


class _TextBuilder:
    """Accumulates plain text and entities while a markup parser walks its input."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[JSON] = []

    def emit(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.pos += _u16(chunk)

    def add(self, kind: str | None, start: int, **extra: Any) -> None:
        if kind and self.pos > start:
            self.entities.append({"type": kind, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[JSON]]:
        ents = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ents


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "tg-spoiler": "spoiler",
    "span": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}  # fmt: skip
_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_HTML_ENTITY_RE = re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|lt|gt|amp|quot);")


def _parse_html(text: str) -> tuple[str, list[JSON]]:
    out = _TextBuilder()
    stack: list[tuple[str, str | None, int, JSON]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            offset = _byte_offset(text, i)
            m = _TAG_RE.match(text, i)
            name_m = re.match(r"/?([^\s>/]*)", text[i + 1 :])
            raw_name = name_m.group(1) if name_m else ""
            if not m:
                if text.startswith("</", i):
                    raise _entities_error(f"Unexpected end tag at byte offset {offset}")
                raise _entities_error(f'Unsupported start tag "{raw_name}" at byte offset {offset}')
            closing, name = m.group(1) == "/", m.group(2).lower()
            if name not in _HTML_TAGS:
                if closing:
                    raise _entities_error(f"Unexpected end tag at byte offset {offset}")
                raise _entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
            if closing:
                if not stack or stack[-1][0] != name:
                    expected = f'"</{stack[-1][0]}>"' if stack else "nothing"
                    raise _entities_error(
                        f'Unmatched end tag at byte offset {offset}, expected {expected}, found "</{name}>"'
                    )
                _, open_kind, open_start, open_extra = stack.pop()
                out.add(open_kind, open_start, **open_extra)
            else:
                attrs = {a.group(1).lower(): next((g for g in a.groups()[1:] if g is not None), "")
                         for a in _ATTR_RE.finditer(m.group(3))}  # fmt: skip
                kind: str | None = _HTML_TAGS[name]
                extra: JSON = {}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise _entities_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
                if name == "a":
                    href = attrs.get("href", "")
                    kind, extra = ("text_link", {"url": href}) if href else (None, {})
                elif name == "code" and stack and stack[-1][0] == "pre" and "class" in attrs:
                    lang = attrs["class"].removeprefix("language-")
                    stack[-1][3]["language"] = lang
                    kind = None
                elif name == "blockquote" and "expandable" in attrs:
                    kind = "expandable_blockquote"
                elif name == "tg-emoji":
                    extra = {"custom_emoji_id": attrs.get("emoji-id", "")}
                stack.append((name, kind, out.pos, extra))
            i = m.end()
            continue
        if ch == "&":
            em = _HTML_ENTITY_RE.match(text, i)
            if em:
                out.emit(html.unescape(em.group(0)))
                i = em.end()
                continue
        out.emit(ch)
        i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_ENTITY_TITLE = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "code": "Code", "pre": "Pre",
}  # fmt: skip


def _find_unescaped(text: str, needle: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(needle, i):
            return i
        i += 1
    return -1


def _unescape_md2(body: str) -> str:
    return re.sub(r"\\([\x01-\x7e])", r"\1", body)


def _parse_markdown_v2(text: str) -> tuple[str, list[JSON]]:
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # marker, start pos, byte offset
    quote_start: int | None = None
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if ch == "\n" and quote_start is not None and not text.startswith(">", i + 1):
            out.add("blockquote", quote_start)
            quote_start = None
        if ch == "\\":
            if i + 1 < n and 0 < ord(text[i + 1]) < 127:
                out.emit(text[i + 1])
                i += 2
                continue
            raise _entities_error("Character '\\' is reserved and must be escaped with the preceding '\\'")
        if ch == ">" and at_line_start:
            if quote_start is None:
                quote_start = out.pos
            i += 1
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = _find_unescaped(text, fence, i + len(fence))
            if end < 0:
                title = "Pre" if fence == "```" else "Code"
                raise _entities_error(
                    f"Can't find end of {title} entity at byte offset {_byte_offset(text, i)}"
                )
            body = text[i + len(fence) : end]
            start = out.pos
            extra: JSON = {}
            if fence == "```":
                first, sep, rest = body.partition("\n")
                if sep and first and " " not in first:
                    extra["language"] = first
                    body = rest
            out.emit(_unescape_md2(body))
            out.add("pre" if fence == "```" else "code", start, **extra)
            i = end + len(fence)
            continue
        if ch == "[":
            stack.append(("[", out.pos, _byte_offset(text, i)))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            _, start, _offset = stack.pop()
            if text.startswith("(", i + 1):
                close = _find_unescaped(text, ")", i + 2)
                if close < 0:
                    raise _entities_error(
                        f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                    )
                out.add("text_link", start, url=_unescape_md2(text[i + 2 : close]))
                i = close + 1
            else:
                i += 1
            continue
        marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else ch
        if marker in _MD2_MARKERS:
            open_at = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == marker), None)
            if open_at is None:
                stack.append((marker, out.pos, _byte_offset(text, i)))
            else:
                _, start, _offset = stack.pop(open_at)
                out.add(_MD2_MARKERS[marker], start)
            i += len(marker)
            continue
        if ch in _MD2_RESERVED:
            raise _entities_error(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        out.emit(ch)
        i += 1
    if quote_start is not None:
        out.add("blockquote", quote_start)
    if stack:
        marker, _start, offset = stack[-1]
        kind = "text_link" if marker == "[" else _MD2_MARKERS[marker]
        raise _entities_error(f"Can't find end of {_ENTITY_TITLE[kind]} entity at byte offset {offset}")
    return out.result()


def _parse_markdown_legacy(text: str) -> tuple[str, list[JSON]]:
    out = _TextBuilder()
    markers = {"*": "bold", "_": "italic"}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "_*`[":
            out.emit(text[i + 1])
            i += 2
            continue
        if ch in markers or ch == "`" or ch == "[":
            fence = "```" if text.startswith("```", i) else ch
            closer = "]" if ch == "[" else fence
            end = text.find(closer, i + len(fence))
            if end < 0:
                raise _entities_error(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}"
                )
            start = out.pos
            out.emit(text[i + len(fence) : end])
            if ch == "[":
                url_end = text.find(")", end) if text.startswith("(", end + 1) else -1
                if url_end >= 0:
                    out.add("text_link", start, url=text[end + 2 : url_end])
                    i = url_end + 1
                else:
                    i = end + 1
                continue
            out.add(markers.get(ch) or ("pre" if fence == "```" else "code"), start)
            i = end + len(fence)
            continue
        out.emit(ch)
        i += 1
    return out.result()


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[JSON]]:
    """Turn text + parse_mode into (plain text, entities) the way Telegram does, or raise its 400 error."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown_legacy(text)
    raise _bad(f"unsupported parse_mode {parse_mode}")


_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[JSON]:
    """bot_command entities, as Telegram attaches them to user text; PTB's CommandHandler needs them."""
    return [
        {"type": "bot_command", "offset": _u16(text[: m.start()]), "length": _u16(m.group(0))}
        for m in _COMMAND_RE.finditer(text)
    ]


def button_labels(message: Mapping[str, Any]) -> list[list[str]]:
    """The inline keyboard of a message as rows of labels, for compact assertions."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [[str(b.get("text", "")) for b in row] for row in rows]


# --------------------------------------------------------------------------- the server


def busiest(stamps: list[float]) -> int:
    """Most of these (sorted) times inside any 1-second window: what Telegram's flood control counts."""
    best, lo = 0, 0
    for hi, ts in enumerate(stamps):
        while ts - stamps[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class FakeBotApi:
    """Telegram Bot API stand-in on 127.0.0.1 for PTB e2e tests; see the module docstring."""

    def __init__(
        self,
        *,
        bot_first_name: str = "CRM Test Bot",
        bot_username: str = "crm_test_bot",
        clock: Callable[[], float] = time.time,
        shutdown_timeout: float = 1.0,
    ) -> None:
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.clock = clock  # Telegram "date" fields; replace to pin message dates
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

        self.calls: list[Call] = []
        self.tokens: set[str] = set()
        self.unknown_calls: list[Call] = []
        self.internal_errors: list[str] = []
        self.downloads: list[str] = []
        self.pushed: list[JSON] = []
        self.dropped_updates: list[JSON] = []
        self.callback_answers: dict[str, JSON] = {}

        self._queue: list[_Queued] = []
        self._update_ids = itertools.count(1)
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._webhook_url = ""

        self._chats: dict[int, _Chat] = {}
        self._users: dict[int, FakeUser] = {}
        self._outbox: list[_Outgoing] = []
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._file_seq = itertools.count(1)
        self._query_seq = itertools.count(1)
        self._open_queries: dict[str, JSON] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._settings: dict[tuple[str, str], Any] = {}

        self._fail_rules: list[_FailRule] = []
        self._delay_rules: list[_DelayRule] = []
        self._network: _NetworkRule | None = None
        self._blocked: set[int] = set()
        self._flood_per_chat: float | None = None
        self._flood_overall: float | None = None
        self._flood_log: dict[int | None, deque[float]] = {}

        self._closing = asyncio.Event()
        self._changed = asyncio.Event()  # replaced on every change; waiters hold the one they saw

        self._handlers: dict[str, tuple[str, Callable[[str, JSON], Any]]] = {}
        for name, handler in self._handler_table().items():
            self._handlers[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port; handler_cancellation ends abandoned long polls at once."""
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._handle_not_found)
        self._runner = web.AppRunner(
            app, shutdown_timeout=self._shutdown_timeout, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self._port = int(address[1])

    async def close(self) -> None:
        """Release pending long polls first so the runner does not wait on them."""
        self._closing.set()
        self._notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    def request(self, **kwargs: Any) -> HTTPXRequest:
        """An HTTPXRequest for this server (kwargs as HTTPXRequest's: timeouts, pool size).

        trust_env=False: an HTTP(S)_PROXY in the environment must never reroute loopback traffic.
        verify=False: the server is plain HTTP, so there is no TLS to verify; it only skips loading the
        CA bundle, which costs ~0.2 s per client (a Bot has two) and dominates short tests.
        """
        httpx_kwargs = {"trust_env": False, "verify": False, **kwargs.pop("httpx_kwargs", {})}
        return HTTPXRequest(httpx_kwargs=httpx_kwargs, **kwargs)

    def bot(self, token: str = DEFAULT_TOKEN, **request_kwargs: Any) -> Bot:
        """A plain telegram.Bot aimed at this server (use it as ``async with api.bot() as bot``)."""
        return Bot(
            token,
            base_url=self.base_url,
            base_file_url=self.base_file_url,
            request=self.request(**request_kwargs),
            get_updates_request=self.request(connection_pool_size=1, **request_kwargs),
        )

    def app_builder(
        self, token: str = DEFAULT_TOKEN, *, requests: bool = True
    ) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
        """An ApplicationBuilder aimed at this server; add handlers/persistence/rate limiter, then build().

        requests=True also installs ``api.request()`` objects (PTB's own pool sizes and timeouts). Pass
        False to set timeouts or pool size on the builder itself, which PTB forbids next to .request().
        """
        builder = Application.builder().token(token).base_url(self.base_url).base_file_url(self.base_file_url)
        if requests:
            builder = builder.request(self.request()).get_updates_request(
                self.request(connection_pool_size=1)
            )
        return builder

    def assert_clean(self) -> None:
        """Fail if the bot called a method we do not implement, or the fake itself crashed."""
        problems = [f"unknown Bot API method {c.method} {c.params}" for c in self.unknown_calls]
        problems += [f"fake Bot API crashed:\n{tb}" for tb in self.internal_errors]
        if problems:
            raise AssertionError("\n".join(problems))

    # ------------------------------------------------------------------ HTTP plumbing

    async def _handle_not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        self.tokens.add(request.match_info["token"])
        path = request.match_info["path"]
        self.downloads.append(path)
        stored = self._files_by_path.get(path)
        if stored is None:
            return await self._handle_not_found(request)
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _read_params(self, request: web.Request) -> JSON:
        raw: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise _bad("parameters must be a JSON object")
                return {**{k: _decode_param(k, v) for k, v in raw.items()}, **body}
            try:
                form = await request.post()
            except web.HTTPRequestEntityTooLarge as exc:
                raise ApiError(413, "Request Entity Too Large") from exc
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[key] = value
        params: JSON = {k: _decode_param(k, v) for k, v in raw.items()}
        for key, upload in uploads.items():
            params.setdefault(key, upload)
        for key, value in list(params.items()):
            if isinstance(value, str) and value.startswith("attach://"):
                name = value.removeprefix("attach://")
                if name not in uploads:
                    raise _bad(f"file attach://{name} not found in the request")
                params[key] = uploads[name]
        return params

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        asked = request.match_info["method"]
        self.tokens.add(token)
        arrived = time.monotonic()
        entry = self._handlers.get(asked.lower())
        method = entry[0] if entry else asked
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            call = Call(len(self.calls), method, {}, token, arrived, exc.code, None, exc.description, False)
            self._record(call)
            return web.json_response(exc.payload(), status=exc.code)
        call = Call(len(self.calls), method, params, token, arrived)

        net = self._take_network_failure(method)
        if net is not None:
            call.performed = False
            call.status = 0 if net == "drop" else 502
            call.description = "connection dropped" if net == "drop" else "Bad Gateway"
            self._record(call)
            if net == "drop" and request.transport is not None:
                request.transport.close()
            return web.Response(status=502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")

        status, body = 200, {}
        try:
            if entry is None:
                self.unknown_calls.append(call)
                raise ApiError(404, "Not Found: method not found")
            self._preflight(method, params)
            result = entry[1](token, params)
            if asyncio.iscoroutine(result):
                result = await result
            call.result = result
            body = {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.code, exc.payload()
            call.status, call.description = exc.code, exc.description
            call.performed = False
        except asyncio.CancelledError:
            call.status, call.description, call.performed = 0, "client went away", False
            self._record(call)
            raise
        except Exception:
            tb = traceback.format_exc()
            _log.error("fake Bot API crashed on %s: %s", method, tb)
            self.internal_errors.append(tb)
            status = 500
            body = {"ok": False, "error_code": 500, "description": "Internal Server Error: fake Bot API bug"}
            call.status, call.description, call.performed = 500, "fake Bot API bug", False
        self._record(call)
        delay = self._take_delay(method, params)
        if delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
        return web.json_response(body, status=status, dumps=_dumps)

    def _record(self, call: Call) -> None:
        call.index = len(self.calls)
        self.calls.append(call)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ injected failures

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        error_code: int = 429,
        retry_after: int | None = 1,
        count: int = 1,
        description: str | None = None,
    ) -> None:
        """The next ``count`` calls of method (to chat_id, if given) fail with error_code and take no effect.

        429 carries ``parameters.retry_after`` so PTB raises RetryAfter; 403 → Forbidden, 400 → BadRequest,
        5xx → NetworkError. description overrides Telegram's usual wording for that code.
        """
        self._fail_rules.append(
            _FailRule(method.lower(), chat_id, error_code, retry_after, description, count)
        )

    def delay_next(
        self, method: str, seconds: float, *, chat_id: int | str | None = None, count: int = 1
    ) -> None:
        """Perform the next ``count`` calls but answer ``seconds`` late, so a client read timeout hits after
        the message was already sent (the duplicate-on-retry hazard)."""
        self._delay_rules.append(_DelayRule(method.lower(), chat_id, seconds, count))

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: any call for that chat answers 403 until unblock() or the user writes."""
        self._blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self._blocked.discard(chat_id)

    def network_down(
        self,
        mode: Literal["drop", "502"] = "drop",
        *,
        methods: Iterable[str] | None = None,
        count: int | None = None,
    ) -> None:
        """Requests die: 'drop' closes the connection unanswered, '502' answers a proxy's HTML 502.

        methods=None hits every method except getUpdates (so polling goes on); count=None until network_up().
        """
        names = frozenset(m.lower() for m in methods) if methods is not None else None
        self._network = _NetworkRule(mode, names, count)

    def network_up(self) -> None:
        self._network = None

    def set_flood_limits(self, *, per_chat: float | None = None, overall: float | None = None) -> None:
        """Answer 429 to send* calls beyond these messages-per-second (1 s sliding window); None = no limit.

        Off by default: Telegram tolerates short private-chat bursts, so only benchmarks should turn it on.
        """
        self._flood_per_chat = per_chat
        self._flood_overall = overall
        self._flood_log.clear()

    def _take_network_failure(self, method: str) -> str | None:
        rule = self._network
        if rule is None:
            return None
        lowered = method.lower()
        if rule.methods is None and lowered == "getupdates":
            return None
        if rule.methods is not None and lowered not in rule.methods:
            return None
        if rule.remaining is not None:
            rule.remaining -= 1
            if rule.remaining <= 0:
                self._network = None
        return rule.mode

    def _take_delay(self, method: str, params: JSON) -> float:
        for rule in self._delay_rules:
            if rule.method == method.lower() and rule.chat_id in (None, params.get("chat_id")):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._delay_rules.remove(rule)
                return rule.seconds
        return 0.0

    def _preflight(self, method: str, params: JSON) -> None:
        lowered = method.lower()
        chat_id = params.get("chat_id")
        for rule in self._fail_rules:
            if rule.method == lowered and rule.chat_id in (None, chat_id):
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._fail_rules.remove(rule)
                parameters = {"retry_after": rule.retry_after} if rule.error_code == 429 else None
                desc = rule.description or _default_description(rule.error_code, rule.retry_after)
                raise ApiError(rule.error_code, desc, parameters)
        if isinstance(chat_id, int) and chat_id in self._blocked:
            who = "bot was blocked by the user" if chat_id > 0 else "bot was kicked from the group chat"
            raise ApiError(403, f"Forbidden: {who}")
        if lowered.startswith("send") and lowered != "sendchataction":
            self._check_flood(chat_id)

    def _check_flood(self, chat_id: Any) -> None:
        now = time.monotonic()
        limits = ((chat_id, self._flood_per_chat), (None, self._flood_overall))
        for key, limit in limits:
            if limit is None:
                continue
            window = self._flood_log.setdefault(key, deque())
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(1.0 - (now - window[0])))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        for key, limit in limits:
            if limit is not None:
                self._flood_log[key].append(now)

    # ------------------------------------------------------------------ reading what the bot did

    @property
    def sent(self) -> list[Call]:
        """Every call except getUpdates polling, in order (failed ones included; check .ok)."""
        return [c for c in self.calls if c.method != "getUpdates"]

    def calls_to(self, method: str, chat_id: int | str | None = None, *, ok_only: bool = False) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method.lower() == method.lower()
            and (chat_id is None or c.chat_id == chat_id)
            and (c.ok or not ok_only)
        ]

    def mark(self) -> int:
        """Index to pass as ``since=`` so wait_for ignores calls made before now."""
        return len(self.calls)

    async def _wait(self, check: Callable[[], T | None], timeout: float, what: Callable[[], str]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            found = check()
            if found is not None:
                return found
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out after {timeout}s waiting for {what()}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)

    async def wait_for(
        self, predicate: Callable[[Call], bool], timeout: float = 5.0, *, since: int = 0
    ) -> Call:
        """The first call (from index ``since``) matching predicate, waiting for it if need be."""

        def check() -> Call | None:
            return next((c for c in self.calls[since:] if predicate(c)), None)

        return await self._wait(check, timeout, lambda: f"a matching call; calls so far: {self._summary()}")

    async def next_message(
        self, chat_id: int, timeout: float = 5.0, *, methods: Iterable[str] | None = TEXT_METHODS
    ) -> JSON:
        """The next not-yet-returned message the bot sent or edited in chat_id (the Message as Telegram
        returned it; edits carry ``edit_date``). methods=None also yields media and locations."""
        wanted = {m.lower() for m in methods} if methods is not None else None

        def check() -> JSON | None:
            for out in self._outbox:
                if out.consumed or out.chat_id != chat_id:
                    continue
                if wanted is None or out.method.lower() in wanted:
                    out.consumed = True
                    return copy.deepcopy(out.message)
            return None

        return await self._wait(
            check, timeout, lambda: f"a bot message in {chat_id}\n{self.transcript(chat_id)}"
        )

    def unread(self, chat_id: int) -> list[JSON]:
        """Bot output to chat_id not yet returned by next_message (marks nothing)."""
        return [copy.deepcopy(o.message) for o in self._outbox if o.chat_id == chat_id and not o.consumed]

    def skip_unread(self, chat_id: int) -> None:
        for out in self._outbox:
            if out.chat_id == chat_id:
                out.consumed = True

    async def no_message(self, chat_id: int, within: float = 0.3) -> None:
        """Assert the bot stays silent in chat_id for ``within`` seconds (e.g. after a duplicate update)."""
        try:
            msg = await self.next_message(chat_id, within, methods=None)
        except AssertionError:
            return
        raise AssertionError(f"unexpected bot message in {chat_id}: {msg.get('text', msg)}")

    def messages(self, chat_id: int) -> list[JSON]:
        """The chat as a client would show it now: both sides, edits applied, deleted ones gone."""
        chat = self._chats.get(chat_id)
        return [copy.deepcopy(m) for m in chat.messages.values()] if chat else []

    def texts(self, chat_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.messages(chat_id)]

    def message(self, chat_id: int, message_id: int) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None or message_id not in chat.messages:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return copy.deepcopy(chat.messages[message_id])

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The custom reply keyboard the chat shows (ReplyKeyboardMarkup JSON), or None."""
        chat = self._chats.get(chat_id)
        return copy.deepcopy(chat.reply_keyboard) if chat and chat.reply_keyboard else None

    def keyboard(self, chat_id: int, message_id: int | None = None) -> list[list[JSON]]:
        """Inline keyboard rows of message_id, or of the newest bot message that has one."""
        message = self._keyboard_message(chat_id, message_id)
        return copy.deepcopy(message["reply_markup"]["inline_keyboard"]) if message else []

    def labels(self, chat_id: int, message_id: int | None = None) -> list[list[str]]:
        message = self._keyboard_message(chat_id, message_id)
        return button_labels(message) if message else []

    def _keyboard_message(self, chat_id: int, message_id: int | None) -> JSON | None:
        chat = self._chats.get(chat_id)
        if chat is None:
            return None
        if message_id is not None:
            return chat.messages.get(message_id)
        for message in reversed(chat.messages.values()):
            if self._is_bot_message(message) and (message.get("reply_markup") or {}).get("inline_keyboard"):
                return message
        return None

    def find_button(self, chat_id: int, label: str, *, message_id: int | None = None) -> tuple[JSON, JSON]:
        """(message, button) for the button whose text equals label, else uniquely contains it.

        Searches message_id, or bot messages newest first; ambiguity within one message is an error.
        """
        chat = self._chats.get(chat_id)
        candidates = [] if chat is None else list(reversed(chat.messages.values()))
        if message_id is not None:
            candidates = [m for m in candidates if m["message_id"] == message_id]
        for message in candidates:
            buttons = [
                b for row in (message.get("reply_markup") or {}).get("inline_keyboard", []) for b in row
            ]
            exact = [b for b in buttons if b.get("text") == label]
            partial = exact or [b for b in buttons if label in str(b.get("text", ""))]
            if len(partial) > 1:
                raise AssertionError(f"{label!r} matches several buttons: {[b['text'] for b in partial]}")
            if partial:
                return copy.deepcopy(message), copy.deepcopy(partial[0])
        shown = {m["message_id"]: button_labels(m) for m in candidates if button_labels(m)}
        raise AssertionError(f"no button {label!r} in chat {chat_id}; keyboards by message_id: {shown}")

    async def press(
        self, chat_id: int, label: str, *, user: UserLike | None = None, message_id: int | None = None
    ) -> str:
        """Tap an inline button by (part of) its label; returns the callback query id."""
        message, button = self.find_button(chat_id, label, message_id=message_id)
        if "callback_data" not in button:
            raise AssertionError(f"button {button.get('text')!r} has no callback_data: {button}")
        return self.push_callback(message, button["callback_data"], user=user)

    async def callback_answer(self, query_id: str, timeout: float = 5.0) -> JSON:
        """The answerCallbackQuery parameters the bot sent for query_id (waits for them)."""
        return await self._wait(
            lambda: self.callback_answers.get(query_id),
            timeout,
            lambda: f"answerCallbackQuery for {query_id}; calls so far: {self._summary()}",
        )

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        return copy.deepcopy(self._commands.get((_scope_key(scope), language_code), []))

    def file_bytes(self, file_id: str) -> bytes:
        return self._files[file_id].data

    def rate(self, method: str = "sendMessage", chat_id: int | str | None = None) -> float:
        """Successful calls per second between the first and last such call (0 with fewer than two)."""
        stamps = [c.ts for c in self.calls_to(method, chat_id, ok_only=True)]
        if len(stamps) < 2 or stamps[-1] <= stamps[0]:
            return 0.0
        return (len(stamps) - 1) / (stamps[-1] - stamps[0])

    def rates_by_chat(self, method: str = "sendMessage") -> dict[Any, float]:
        chats = {c.chat_id for c in self.calls_to(method, ok_only=True)}
        return {chat: self.rate(method, chat) for chat in chats}

    def max_per_second(self, method: str = "sendMessage", chat_id: int | str | None = None) -> int:
        """Most successful calls seen inside any 1-second window: what Telegram's flood control counts."""
        return busiest([c.ts for c in self.calls_to(method, chat_id, ok_only=True)])

    def transcript(self, chat_id: int) -> str:
        """Chat as readable lines, for failure messages."""
        lines = []
        for m in self.messages(chat_id):
            who = "bot" if self._is_bot_message(m) else "user"
            body = (
                m.get("text")
                or m.get("caption")
                or next((k for k in ("photo", "document", "voice", "location", "contact") if k in m), "?")
            )
            keys = button_labels(m)
            lines.append(f"  [{m['message_id']}] {who}: {body}" + (f"  buttons={keys}" if keys else ""))
        return "transcript:\n" + ("\n".join(lines) if lines else "  (empty)")

    def _summary(self) -> str:
        return ", ".join(f"{c.method}({c.chat_id})={c.status}" for c in self.sent[-12:]) or "(none)"

    # ------------------------------------------------------------------ playing the user

    def user(self, user_id: int) -> FakeUser:
        return self._users.get(user_id) or FakeUser(id=user_id)

    def add_user(self, user: UserLike) -> FakeUser:
        coerced = FakeUser.coerce(user)
        self._users[coerced.id] = coerced
        return coerced

    def _resolve_user(self, chat_id: int, user: UserLike | None) -> FakeUser:
        if user is not None:
            return self.add_user(user)
        if chat_id > 0:
            return self._users.setdefault(chat_id, FakeUser(id=chat_id))
        raise ValueError(f"chat {chat_id} is a group: pass user=")

    def push_update(self, update: Mapping[str, Any]) -> JSON:
        """Queue a raw update; keeps a given update_id, so re-pushing one simulates duplicate delivery."""
        upd = copy.deepcopy(dict(update))
        if "update_id" not in upd:
            upd["update_id"] = next(self._update_ids)
        self._queue.append(_Queued(upd))
        self.pushed.append(upd)
        self._notify()
        return upd

    def push_message(self, chat_id: int, *, user: UserLike | None = None, **content: Any) -> JSON:
        """Queue a user message with arbitrary content fields (text, sticker, ...); returns the update."""
        sender = self._resolve_user(chat_id, user)
        chat = self._chat(chat_id, sender)
        self._blocked.discard(chat_id)  # writing to the bot again unblocks it
        message: JSON = {
            "message_id": self._next_message_id(chat),
            "from": sender.to_dict(),
            "chat": dict(chat.info),
            "date": int(self.clock()),
            **content,
        }
        chat.messages[message["message_id"]] = message
        return self.push_update({"message": copy.deepcopy(message)})

    def push_edit(self, chat_id: int, message_id: int, text: str, *, user: UserLike | None = None) -> JSON:
        """The user edits one of their messages: Telegram sends `edited_message` with the same id."""
        message = copy.deepcopy(self.message(chat_id, message_id))
        if self._is_bot_message(message):
            raise ValueError(f"message {message_id} was sent by the bot: users edit only their own")
        message["text"] = text
        message["edit_date"] = int(self.clock())
        message.pop("entities", None)
        self._chat(chat_id, self._resolve_user(chat_id, user)).messages[message_id] = message
        return self.push_update({"edited_message": message})

    def restart_update_ids(self, start: int = 1) -> None:
        """After a week without updates Telegram starts update ids again, possibly lower."""
        self._update_ids = itertools.count(start)

    def push_text(
        self, chat_id: int, text: str, *, user: UserLike | None = None, reply_to: int | None = None
    ) -> JSON:
        """A typed message; /commands get bot_command entities so CommandHandler matches."""
        content: JSON = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self.message(chat_id, reply_to)
        return self.push_message(chat_id, user=user, **content)

    def push_callback(
        self,
        message: Mapping[str, Any] | int,
        data: str,
        *,
        user: UserLike | None = None,
        chat_id: int | None = None,
    ) -> str:
        """A tap on an inline button of a bot message (dict or message_id); returns the query id."""
        target = self._find_message(message, chat_id)
        if not self._is_bot_message(target):
            raise ValueError(f"message {target['message_id']} was not sent by the bot: no buttons to tap")
        chat_key = int(target["chat"]["id"])
        sender = self._resolve_user(chat_key, user)
        query_id = str(4_000_000_000_000_000 + next(self._query_seq))
        query = {
            "id": query_id,
            "from": sender.to_dict(),
            "message": copy.deepcopy(target),
            "chat_instance": str(-(abs(chat_key) * 7919 % 10**12 + 1)),
            "data": data,
        }
        self._open_queries[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    def push_contact(
        self,
        chat_id: int,
        phone_number: str,
        first_name: str,
        last_name: str | None = None,
        user_id: int | None = None,
        *,
        vcard: str | None = None,
        user: UserLike | None = None,
    ) -> JSON:
        """A shared contact card (user_id set when it is a Telegram user, e.g. the sender's own number)."""
        contact: JSON = {"phone_number": phone_number, "first_name": first_name}
        for key, value in (("last_name", last_name), ("user_id", user_id), ("vcard", vcard)):
            if value is not None:
                contact[key] = value
        return self.push_message(chat_id, user=user, contact=contact)

    def push_location(
        self, chat_id: int, latitude: float, longitude: float, *, user: UserLike | None = None
    ) -> JSON:
        return self.push_message(chat_id, user=user, location={"latitude": latitude, "longitude": longitude})

    def push_photo(
        self,
        chat_id: int,
        data: bytes,
        caption: str | None = None,
        *,
        user: UserLike | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JSON:
        stored = self._store_file("photo", data, "image/jpeg", None)
        size = {**self._file_ref(stored), "width": width, "height": height}
        extra: JSON = {"caption": caption} if caption is not None else {}
        return self.push_message(chat_id, user=user, photo=[size], **extra)

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        *,
        user: UserLike | None = None,
        file_size: int | None = None,
    ) -> JSON:
        """A sent file; file_size declares a size other than len(data) (a big file without the bytes)."""
        stored = self._store_file("document", data, mime_type, file_name)
        stored.declared_size = file_size
        document = {**self._file_ref(stored), "file_name": file_name, "mime_type": mime_type}
        extra: JSON = {"caption": caption} if caption is not None else {}
        return self.push_message(chat_id, user=user, document=document, **extra)

    def push_voice(
        self,
        chat_id: int,
        data: bytes,
        duration: int,
        mime_type: str = "audio/ogg",
        *,
        user: UserLike | None = None,
    ) -> JSON:
        stored = self._store_file("voice", data, mime_type, None)
        voice = {**self._file_ref(stored), "duration": duration, "mime_type": mime_type}
        return self.push_message(chat_id, user=user, voice=voice)

    def press_reply_button(self, chat_id: int, label: str, *, user: UserLike | None = None) -> JSON:
        """Tap a custom reply-keyboard button: sends its text, or the contact / location it requests."""
        board = self.reply_keyboard(chat_id)
        if not board:
            raise AssertionError(f"chat {chat_id} shows no reply keyboard")
        buttons = [b if isinstance(b, dict) else {"text": b} for row in board["keyboard"] for b in row]
        match = [b for b in buttons if b["text"] == label] or [b for b in buttons if label in b["text"]]
        if len(match) != 1:
            raise AssertionError(f"{label!r} matches {len(match)} of {[b['text'] for b in buttons]}")
        button = match[0]
        if board.get("one_time_keyboard"):
            self._chats[chat_id].reply_keyboard = None
        sender = self._resolve_user(chat_id, user)
        if button.get("request_contact"):
            phone = sender.phone_number or f"86138{sender.id % 10**8:08d}"
            return self.push_contact(
                chat_id, phone, sender.first_name, sender.last_name, sender.id, user=sender
            )
        if button.get("request_location"):
            return self.push_location(chat_id, 31.2304, 121.4737, user=sender)
        return self.push_text(chat_id, button["text"], user=sender)

    # ------------------------------------------------------------------ state helpers

    def _bot_user(self, token: str) -> JSON:
        head = token.split(":", 1)[0]
        bot_id = int(head) if head.isdigit() else 123456789
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _is_bot_message(self, message: Mapping[str, Any]) -> bool:
        return bool((message.get("from") or {}).get("is_bot"))

    def _chat(self, chat_id: int, user: FakeUser | None = None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                who = user or self.user(chat_id)
                info: JSON = {"id": chat_id, "type": "private", "first_name": who.first_name}
                for key in ("last_name", "username"):
                    if getattr(who, key):
                        info[key] = getattr(who, key)
            else:
                kind = "supergroup" if str(chat_id).startswith("-100") else "group"
                info = {"id": chat_id, "type": kind, "title": f"Test group {abs(chat_id)}"}
            chat = self._chats[chat_id] = _Chat(chat_id, info)
        return chat

    def _next_message_id(self, chat: _Chat) -> int:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        return message_id

    def _find_message(self, message: Mapping[str, Any] | int, chat_id: int | None) -> JSON:
        if not isinstance(message, int):
            chat_id = int(message["chat"]["id"])
            message = int(message["message_id"])
        if chat_id is not None:
            return self.message(chat_id, message)
        found = [c.messages[message] for c in self._chats.values() if message in c.messages]
        if len(found) != 1:
            raise ValueError(f"message_id {message} is in {len(found)} chats: pass chat_id=")
        return copy.deepcopy(found[0])

    def _store_file(self, kind: str, data: bytes, mime_type: str | None, file_name: str | None) -> StoredFile:
        seq = next(self._file_seq)
        suffix = (mimetypes.guess_extension(mime_type or "") or "") if not file_name else ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        if kind == "photo":
            suffix = ".jpg"
        elif kind == "voice":
            suffix = ".oga"
        stored = StoredFile(
            file_id=f"{_MEDIA_PREFIX[kind]}{seq:06d}{hashlib.sha1(data).hexdigest()[:20]}",
            file_unique_id=f"AgAD{hashlib.sha1(data).hexdigest()[:12]}",
            kind=kind,
            data=data,
            file_path=f"{_MEDIA_DIR[kind]}/file_{seq}{suffix}",
            mime_type=mime_type,
            file_name=file_name,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    @staticmethod
    def _file_ref(stored: StoredFile) -> JSON:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
        }

    def _bot_message(self, token: str, params: JSON, **content: Any) -> JSON:
        """Store and return a new bot message in params' chat, honouring reply_parameters."""
        chat = self._chat(_chat_id(params))
        message: JSON = {
            "message_id": 0,
            "from": self._bot_user(token),
            "chat": dict(chat.info),
            "date": int(self.clock()),
        }
        reply = params.get("reply_parameters") or (
            {"message_id": params["reply_to_message_id"]} if "reply_to_message_id" in params else None
        )
        if isinstance(reply, dict) and "message_id" in reply:
            replied = chat.messages.get(int(reply["message_id"]))
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            elif not reply.get("allow_sending_without_reply", params.get("allow_sending_without_reply")):
                raise _bad("message to be replied not found")
        markup = params.get("reply_markup")
        inline = _check_markup(markup)
        message.update(content)
        if inline is not None:
            message["reply_markup"] = inline
        elif isinstance(markup, dict):
            if "keyboard" in markup:
                chat.reply_keyboard = copy.deepcopy(markup)
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        message["message_id"] = self._next_message_id(chat)
        chat.messages[message["message_id"]] = message
        return message

    def _emit(self, method: str, message: JSON) -> JSON:
        self._outbox.append(_Outgoing(int(message["chat"]["id"]), method, copy.deepcopy(message)))
        return copy.deepcopy(message)

    def _editable(self, token: str, params: JSON) -> tuple[_Chat, JSON]:
        if "inline_message_id" in params:
            raise _bad("inline messages are not supported by the fake Bot API")
        chat = self._chats.get(_chat_id(params))
        message_id = params.get("message_id")
        message = chat.messages.get(message_id) if chat and isinstance(message_id, int) else None
        if chat is None or message is None:
            raise _bad("message to edit not found")
        if (message.get("from") or {}).get("id") != self._bot_user(token)["id"]:
            raise _bad("message can't be edited")
        return chat, message

    # ------------------------------------------------------------------ Bot API methods

    def _handler_table(self) -> dict[str, Callable[[str, JSON], Any]]:
        return {
            "getMe": self._get_me,
            "logOut": _true,
            "close": _true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._setter("description"),
            "getMyDescription": self._getter("description"),
            "setMyShortDescription": self._setter("short_description"),
            "getMyShortDescription": self._getter("short_description"),
            "setMyName": self._setter("name"),
            "getMyName": self._getter("name"),
            "setChatMenuButton": self._set_menu_button,
            "getChatMenuButton": self._get_menu_button,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "sendDocument": self._media_sender("document"),
            "sendPhoto": self._media_sender("photo"),
            "sendVoice": self._media_sender("voice"),
            "sendAudio": self._media_sender("audio"),
            "sendVideo": self._media_sender("video"),
            "sendAnimation": self._media_sender("animation"),
            "sendLocation": self._send_location,
            "sendContact": self._send_contact,
            "getFile": self._get_file,
        }

    def _get_me(self, token: str, params: JSON) -> JSON:
        return {
            **self._bot_user(token),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, token: str, params: JSON) -> list[JSON]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # wakes an older long poll, which then answers 409 like Telegram does
        offset = params.get("offset") if isinstance(params.get("offset"), int) else None
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(0.0, float(params.get("timeout") or 0))
        if "allowed_updates" in params:
            allowed = params["allowed_updates"] or []
            self._allowed_updates = frozenset(allowed) if allowed else None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            batch = self._take_updates(offset, limit)
            left = deadline - loop.time()
            if batch or left <= 0 or self._closing.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), left)
            if generation != self._poll_generation:
                raise ApiError(409, _default_description(409, None))
        for queued in batch:
            queued.delivered = True
        return [copy.deepcopy(q.update) for q in batch]

    def _take_updates(self, offset: int | None, limit: int) -> list[_Queued]:
        """Confirm (drop) delivered updates below offset; undelivered re-pushes below it still go out."""
        keep: list[_Queued] = []
        for queued in self._queue:
            update = queued.update
            kind = next((k for k in update if k != "update_id"), "")
            allowed = self._allowed_updates
            if (kind not in allowed) if allowed is not None else (kind in _DEFAULT_EXCLUDED_UPDATES):
                self.dropped_updates.append(update)
                continue
            if offset is not None and queued.delivered and update["update_id"] < offset:
                continue
            keep.append(queued)
        self._queue = keep
        eligible = [q for q in keep if offset is None or q.update["update_id"] >= offset or not q.delivered]
        eligible.sort(key=lambda q: int(q.update["update_id"]))
        return eligible[:limit]

    def _set_webhook(self, token: str, params: JSON) -> bool:
        self._webhook_url = str(params.get("url") or "")
        return True

    def _delete_webhook(self, token: str, params: JSON) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self.dropped_updates.extend(q.update for q in self._queue)
            self._queue.clear()
        return True

    def _get_webhook_info(self, token: str, params: JSON) -> JSON:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _set_my_commands(self, token: str, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be a list of at most 100 BotCommand")
        for cmd in commands:
            if not isinstance(cmd, dict) or not re.fullmatch(r"[a-z0-9_]{1,32}", str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands[key] = copy.deepcopy(commands)
        return True

    def _get_my_commands(self, token: str, params: JSON) -> list[JSON]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return copy.deepcopy(self._commands.get(key, []))

    def _delete_my_commands(self, token: str, params: JSON) -> bool:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        self._commands.pop(key, None)
        return True

    def _setter(self, name: str) -> Callable[[str, JSON], bool]:
        def handler(token: str, params: JSON) -> bool:
            self._settings[(name, str(params.get("language_code") or ""))] = params.get(name) or ""
            return True

        return handler

    def _getter(self, name: str) -> Callable[[str, JSON], JSON]:
        def handler(token: str, params: JSON) -> JSON:
            return {name: self._settings.get((name, str(params.get("language_code") or "")), "")}

        return handler

    def _set_menu_button(self, token: str, params: JSON) -> bool:
        self._settings[("menu_button", str(params.get("chat_id", "")))] = params.get("menu_button")
        return True

    def _get_menu_button(self, token: str, params: JSON) -> JSON:
        found = self._settings.get(("menu_button", str(params.get("chat_id", ""))))
        return copy.deepcopy(found) if found else {"type": "commands"}

    def _send_message(self, token: str, params: JSON) -> JSON:
        text, entities = _message_text(params)
        content: JSON = {"text": text}
        if entities:
            content["entities"] = entities
        return self._emit("sendMessage", self._bot_message(token, params, **content))

    def _edit_message_text(self, token: str, params: JSON) -> JSON:
        _chat, message = self._editable(token, params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = _message_text(params)
        markup = _edit_markup(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _not_modified()
        message["text"] = text
        _set_or_drop(message, "entities", entities or None)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self.clock())
        return self._emit("editMessageText", message)

    def _edit_message_caption(self, token: str, params: JSON) -> JSON:
        _chat, message = self._editable(token, params)
        if not any(k in message for k in _MEDIA_DIR):
            raise _bad("there is no caption in the message to edit")
        caption, entities = _caption(params)
        markup = _edit_markup(params)
        if (
            caption == message.get("caption")
            and entities == message.get("caption_entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _not_modified()
        _set_or_drop(message, "caption", caption)
        _set_or_drop(message, "caption_entities", entities or None)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self.clock())
        return self._emit("editMessageCaption", message)

    def _edit_message_reply_markup(self, token: str, params: JSON) -> JSON:
        _chat, message = self._editable(token, params)
        markup = _edit_markup(params)
        if markup == message.get("reply_markup"):
            raise _not_modified()
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(self.clock())
        return self._emit("editMessageReplyMarkup", message)

    def _delete_message(self, token: str, params: JSON) -> bool:
        chat = self._chats.get(_chat_id(params))
        message_id = params.get("message_id")
        if chat is None or not isinstance(message_id, int) or chat.messages.pop(message_id, None) is None:
            raise _bad("message to delete not found")
        return True

    def _delete_messages(self, token: str, params: JSON) -> bool:
        chat = self._chats.get(_chat_id(params))
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _bad("message_ids must be a list of 1-100 message identifiers")
        for message_id in ids:
            if chat is not None:
                chat.messages.pop(message_id, None)
        return True

    def _answer_callback_query(self, token: str, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        if len(str(params.get("text") or "")) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        del self._open_queries[query_id]
        self.callback_answers[query_id] = copy.deepcopy(params)
        return True

    def _send_chat_action(self, token: str, params: JSON) -> bool:
        _chat_id(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _media_sender(self, kind: str) -> Callable[[str, JSON], JSON]:
        def handler(token: str, params: JSON) -> JSON:
            _chat_id(params)
            stored = self._media_input(kind, params.get(kind))
            caption, entities = _caption(params)
            ref = self._file_ref(stored)
            media: Any
            if kind == "photo":
                media = [{**ref, "width": 1280, "height": 960}]
            else:
                media = {**ref, "mime_type": stored.mime_type or _MEDIA_DEFAULT_MIME[kind]}
                if kind in ("document", "audio", "video", "animation") and stored.file_name:
                    media["file_name"] = stored.file_name
                if kind in ("voice", "audio", "video", "animation"):
                    media["duration"] = int(params.get("duration") or 1)
                if kind in ("video", "animation"):
                    media.update(
                        width=int(params.get("width") or 640), height=int(params.get("height") or 360)
                    )
            content: JSON = {kind: media}
            if caption is not None:
                content["caption"] = caption
                if entities:
                    content["caption_entities"] = entities
            return self._emit(f"send{kind.capitalize()}", self._bot_message(token, params, **content))

        return handler

    def _media_input(self, kind: str, value: Any) -> StoredFile:
        if isinstance(value, Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            mime = value.content_type or _MEDIA_DEFAULT_MIME[kind]
            return self._store_file(kind, value.data, mime, value.filename)
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                raise _bad("failed to get HTTP URL content")  # the fake never fetches anything
            stored = self._files.get(value)
            if stored is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            if stored.kind != kind:  # e.g. sendPhoto with the file_id of an image sent as a file
                raise _bad("type of file mismatch")
            return stored
        raise _bad(f"there is no {kind} in the request")

    def _send_location(self, token: str, params: JSON) -> JSON:
        _chat_id(params)
        try:
            lat, lon = float(params["latitude"]), float(params["longitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad("wrong latitude or longitude") from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _bad("wrong latitude or longitude")
        location = {"latitude": lat, "longitude": lon}
        return self._emit("sendLocation", self._bot_message(token, params, location=location))

    def _send_contact(self, token: str, params: JSON) -> JSON:
        _chat_id(params)
        if not params.get("phone_number") or not params.get("first_name"):
            raise _bad("phone_number and first_name are required")
        contact = {k: params[k] for k in ("phone_number", "first_name", "last_name", "vcard") if k in params}
        return self._emit("sendContact", self._bot_message(token, params, contact=contact))

    def _get_file(self, token: str, params: JSON) -> JSON:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad("invalid file_id")
        if stored.size > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {**self._file_ref(stored), "file_path": stored.file_path}


# --------------------------------------------------------------------------- parameter helpers


def _true(token: str, params: JSON) -> bool:
    return True


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _decode_param(key: str, raw: Any) -> Any:
    """Undo PTB's encoding: strings go verbatim, every other value is JSON (numbers, bools, objects)."""
    if not isinstance(raw, str) or key in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _chat_id(params: JSON) -> int:
    chat_id = params.get("chat_id")
    if chat_id is None or chat_id == "":
        raise _bad("chat_id is empty")
    if not isinstance(chat_id, int) or isinstance(chat_id, bool):
        raise _bad("chat not found")  # @usernames of channels are not modelled
    return chat_id


def _scope_key(scope: Any) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


def _message_text(params: JSON) -> tuple[str, list[JSON]]:
    raw = params.get("text")
    if not isinstance(raw, str) or not raw.strip():
        raise _bad("message text is empty")
    text, entities = parse_formatted(raw, params.get("parse_mode"))
    if isinstance(params.get("entities"), list):
        entities = copy.deepcopy(params["entities"])
    if not text.strip():
        raise _bad("message text is empty")
    if len(text) > MAX_TEXT:
        raise _bad("message is too long")
    return text, entities


def _caption(params: JSON) -> tuple[str | None, list[JSON]]:
    raw = params.get("caption")
    if raw is None or raw == "":
        return None, []
    caption, entities = parse_formatted(str(raw), params.get("parse_mode"))
    if isinstance(params.get("caption_entities"), list):
        entities = copy.deepcopy(params["caption_entities"])
    if len(caption) > MAX_CAPTION:
        raise _bad("message caption is too long")
    return caption, entities


def _check_markup(markup: Any) -> JSON | None:
    """Validate reply_markup like Telegram; return it when it is an inline keyboard (kept on the message)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse inline keyboard button: Text must be a String")
                actions = [a for a in _BUTTON_ACTIONS if a in button]
                if len(actions) != 1:
                    raise _bad("can't parse inline keyboard button: Can't find field \"callback_data\"")
                if "callback_data" in button:
                    data = button["callback_data"]
                    if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                        raise _bad("BUTTON_DATA_INVALID")
        return copy.deepcopy({"inline_keyboard": rows})
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad("can't parse reply keyboard markup JSON object")
        for row in rows:
            for button in row:
                label = button.get("text") if isinstance(button, dict) else button
                if not isinstance(label, str) or not label:
                    raise _bad("keyboard button text is empty")
        return None
    if "remove_keyboard" in markup or "force_reply" in markup:
        return None
    raise _bad("can't parse reply keyboard markup JSON object")


def _edit_markup(params: JSON) -> JSON | None:
    markup = params.get("reply_markup")
    if markup is not None and (not isinstance(markup, dict) or "inline_keyboard" not in markup):
        raise _bad("inline keyboard expected")
    return _check_markup(markup)


def _not_modified() -> ApiError:
    return _bad(
        "message is not modified: specified new message content and reply markup are exactly the same "
        "as a current content and reply markup of the message"
    )


def _set_or_drop(message: JSON, key: str, value: Any) -> None:
    if value is None:
        message.pop(key, None)
    else:
        message[key] = value


# --------------------------------------------------------------------------- running an Application


@contextlib.asynccontextmanager
async def started(
    app: Application[Any, Any, Any, Any, Any, Any],
    *,
    poll_timeout: int = 1,
    allowed_updates: list[str] | None = None,
    drop_pending_updates: bool = False,
    fail_on_handler_error: bool = True,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run app with polling for the block and stop it cleanly after, in PTB's documented order.

    poll_timeout is getUpdates' long-poll seconds: short keeps shutdown fast. With fail_on_handler_error,
    an exception a handler raised (that PTB would only log) is re-raised when the block exits.
    """
    errors: list[BaseException] = []

    async def collect(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        if context.error is not None:
            errors.append(context.error)

    if fail_on_handler_error:
        app.add_error_handler(collect)
    updater = app.updater
    if updater is None:
        raise RuntimeError("the Application was built with updater(None); polling needs an Updater")
    try:
        await app.initialize()
        await app.start()
        await updater.start_polling(
            poll_interval=0.0,
            timeout=poll_timeout,
            allowed_updates=allowed_updates,
            drop_pending_updates=drop_pending_updates,
        )
        yield app
    finally:
        if updater.running:
            await updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if fail_on_handler_error:
            app.remove_error_handler(collect)
    if errors:
        raise AssertionError(f"a handler raised {errors[0]!r}") from errors[0]
