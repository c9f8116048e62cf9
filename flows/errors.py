"""Validation failures carry a message key, not text, so each adapter can speak the user's language."""

from __future__ import annotations

from typing import Any


class Invalid(Exception):
    """An answer was not accepted; `key` names a catalog message, `params` fill it in."""

    def __init__(self, key: str, **params: Any) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class Ambiguous(Invalid):
    """The answer can mean several things; `options` are the readings to offer as buttons."""

    def __init__(self, key: str, options: list[Any], **params: Any) -> None:
        super().__init__(key, **params)
        self.options = options
