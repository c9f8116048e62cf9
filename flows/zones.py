"""Time-zone names typed by people (/tz): a zone or None, never an exception."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_NAME = 64  # the users.tz column; the longest IANA name is about 30 characters


def zone_or_none(name: str) -> ZoneInfo | None:
    """The IANA zone called `name`, or None for anything that is not one.

    ZoneInfo raises ValueError for paths ("../x", absolute, NUL), ZoneInfoNotFoundError for unknown
    names and OSError (ENAMETOOLONG) for a name of 256+ bytes; all mean "not a zone" here.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        return None
    try:
        return ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError, OSError):
        return None
