"""Which backup archives to keep: the newest of each of the last N days and of the last M months.

Pure, so the rule is tested without a file system. The newest archive is always kept, so a
retention run can never leave no backup at all.
"""

from __future__ import annotations

import datetime as dt
import re

ARCHIVE_RE = re.compile(r"^crm-backup-(\d{8}T\d{6}Z)\.tar\.gz$")


def archive_name(at: dt.datetime) -> str:
    """The archive's file name for a backup taken at `at` (UTC): it sorts by time."""
    return f"crm-backup-{at.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}.tar.gz"


def archive_time(name: str) -> dt.datetime | None:
    """When an archive was taken, from its name; None for any other file (left alone)."""
    match = ARCHIVE_RE.match(name)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def to_keep(times: list[dt.datetime], daily: int = 7, monthly: int = 12) -> set[dt.datetime]:
    """The newest backup of each of the `daily` most recent days that have one, and of each of the
    `monthly` most recent months that have one (grandfather-father-son); the others may go."""
    ordered = sorted(set(times), reverse=True)
    keep: set[dt.datetime] = set(ordered[:1])
    days: set[dt.date] = set()
    months: set[tuple[int, int]] = set()
    for at in ordered:
        if at.date() not in days and len(days) < daily:
            days.add(at.date())
            keep.add(at)
        month = (at.year, at.month)
        if month not in months and len(months) < monthly:
            months.add(month)
            keep.add(at)
    return keep
