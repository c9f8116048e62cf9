"""Ids that come from outside (typed, button data, old state) are bounded before they reach a query.

A primary key is a signed 64-bit integer on PostgreSQL and SQLite; asyncpg raises OverflowError
(and SQLite OverflowError too) for a Python int outside that range, where "not found" is the answer.
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


def valid_id(value: object) -> int | None:
    """`value` as a row id (1 … 2**63-1) if it is an int or a string of decimal digits, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not text or len(text) > 19 or not text.isascii() or not text.isdecimal():
            return None
        number = int(text)
    else:
        return None
    return number if 1 <= number <= MAX_ID else None
