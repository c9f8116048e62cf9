"""Message lookup in Chinese and English; catalogs live per area in flows/messages/."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache
from typing import Any, Literal

from flows import messages as _messages_pkg

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_LANG: Lang = "zh"

log = logging.getLogger(__name__)


@cache
def catalog() -> dict[str, dict[str, str]]:
    """Merge every flows/messages/*.py MESSAGES table; a key defined twice is a bug."""
    merged: dict[str, dict[str, str]] = {lang: {} for lang in LANGS}
    for info in pkgutil.iter_modules(_messages_pkg.__path__):
        module = importlib.import_module(f"{_messages_pkg.__name__}.{info.name}")
        table: dict[str, dict[str, str]] = getattr(module, "MESSAGES", {})
        for lang, entries in table.items():
            clash = merged[lang].keys() & entries.keys()
            if clash:
                raise RuntimeError(f"message keys defined twice: {sorted(clash)}")
            merged[lang].update(entries)
    return merged


def lang_of(code: str | None) -> Lang:
    """Telegram's language_code (or a /lang answer) to one of our languages."""
    if code and code.lower().startswith("zh"):
        return "zh"
    if code and code.lower().startswith("en"):
        return "en"
    return DEFAULT_LANG if not code else "en"


def t(lang: str, key: str, **params: Any) -> str:
    """The message `key` in `lang`, falling back to the other language, then to the key itself."""
    table = catalog()
    template = table.get(lang, {}).get(key)
    if template is None:
        other = "en" if lang == "zh" else "zh"
        template = table[other].get(key)
    if template is None:
        log.warning("missing message key %s", key)
        return key
    try:
        return template.format(**params) if params else template
    except (KeyError, IndexError, ValueError):
        log.warning("message %s could not be filled", key)
        return template
