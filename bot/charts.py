"""The /stats chart: a PNG drawn with matplotlib (Agg, no display), CJK labels in Noto Sans CJK.

Blocking and CPU-bound: callers run it in a thread, after the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from flows.i18n import t
from flows.stats import Numbers

log = logging.getLogger(__name__)

CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf"),
)


@cache
def _font() -> Any:
    from matplotlib import font_manager

    for path in CJK_FONTS:
        if path.exists():
            font_manager.fontManager.addfont(str(path))
            return font_manager.FontProperties(fname=str(path))
    log.warning("no CJK font found: Chinese labels in charts will not render (install fonts-noto-cjk)")
    return font_manager.FontProperties()


def stats_chart(numbers: Sequence[Numbers], title: str, lang: str, path: Path) -> Path:
    """Per person (and the team): completeness of customers, contacts, follow-ups and the share
    entered within 24 hours, as grouped bars in percent."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    font = _font()
    series = [
        (t(lang, "data.chart.customer"), [n.completeness("customer") for n in numbers]),
        (t(lang, "data.chart.contact"), [n.completeness("contact") for n in numbers]),
        (t(lang, "data.chart.followup"), [n.completeness("followup") for n in numbers]),
        (t(lang, "data.chart.on_time"), [n.on_time_share for n in numbers]),
    ]
    width = 0.2
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(numbers) + 2), 4.2), dpi=120)
    try:
        for i, (label, values) in enumerate(series):
            xs = [j + (i - 1.5) * width for j in range(len(numbers))]
            bars = ax.bar(xs, [100 * (v or 0) for v in values], width, label=label)
            for bar, v in zip(bars, values, strict=True):
                ax.annotate(
                    "—" if v is None else f"{v * 100:.0f}",
                    (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=7,
                )  # fmt: skip
        ax.set_xticks(range(len(numbers)))
        ax.set_xticklabels([n.name for n in numbers], fontproperties=font)
        ax.set_ylim(0, 110)
        ax.set_ylabel("%")
        ax.set_title(title, fontproperties=font)
        ax.legend(prop=font, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
    finally:
        plt.close(fig)
    return path
