"""/tz names: a zone or None, never an exception (issue 10, item 11)."""

from __future__ import annotations

import pytest

from flows.zones import zone_or_none


def test_real_zones_are_found() -> None:
    zone = zone_or_none(" Asia/Shanghai ")
    assert zone is not None and zone.key == "Asia/Shanghai"
    assert zone_or_none("UTC") is not None


@pytest.mark.parametrize(
    "name",
    ["", "Mars/Olympus", "a" * 256, "Asia/" + "x" * 300, "é" * 200, "../../etc/passwd", "/etc/localtime",
     "Asia/Shanghai\x00", "Asia\\Shanghai", "."],
)  # fmt: skip
def test_anything_else_is_none(name: str) -> None:
    assert zone_or_none(name) is None


def test_the_guard_is_needed_zoneinfo_itself_raises_oserror_on_long_names() -> None:
    from zoneinfo import ZoneInfo

    with pytest.raises(OSError):
        ZoneInfo("a" * 300)
