"""Drafts: answers guessed from a note or a business card, kept only if they pass the typed checks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from flows.errors import Invalid


def keep_valid(target: dict[str, Any], key: str, parse: Callable[[], Any]) -> None:
    """Store `parse()` under `key` unless it is refused the way a typed answer would be."""
    with contextlib.suppress(Invalid):
        target[key] = parse()
