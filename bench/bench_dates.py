"""Benchmark of flows.dates (issues 3 and 14): first-call cost, the first phrase of each kind after
warm_up() in a fresh interpreter, per-phrase p50/p99 after start-up with the worst phrase, and the
same over a corpus of ~400 English follow-up phrases (bench/dates_corpus_en.txt, both readings),
and whether dateparser (no longer used) was imported by any of it.

Not a test: timings depend on the machine. Targets: p99 under 2 ms per phrase after warm_up(),
and no multi-second first call.
Run: .venv/bin/python bench/bench_dates.py [--runs N] [--corpus-runs N]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.dates import find_when, understand_when, warm_up  # noqa: E402
from flows.errors import Invalid  # noqa: E402

CORPUS = [
    line.strip()
    for line in (ROOT / "bench" / "dates_corpus_en.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
# Corpus calls (phrase x reading) that reached dateparser at commit 4d61b03, before issue 14's last
# round gave those shapes rules (same corpus and now); the fallback has since been removed.
BEFORE_REACHED = 134

NOW = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
PHRASES: list[tuple[str, bool]] = [
    ("下周二下午两点", False),
    ("明天上午10点", False),
    ("后天下午3点", False),
    ("本周五下午4点", False),
    ("下周一", False),
    ("3天后", False),
    ("三天后下午两点半", False),
    ("半小时后", False),
    ("一个月后", False),
    ("12月3号", False),
    ("下个月15号", False),
    ("明年1月10号", False),
    ("下周二 14:00", False),
    ("明天10am", False),
    ("今晚", False),
    ("１４：００", False),
    ("明天3点", False),
    ("2月30日", False),
    ("下周八", False),
    ("3月", False),
    ("昨天", True),
    ("上周五", True),
    ("3天前", True),
    ("next Tuesday 2pm", False),
    ("Friday 10:00", False),
    ("tomorrow at noon", False),
    ("in 3 days at 10am", False),
    ("in 2 hours", False),
    ("December 3rd at 4:30pm", False),
    ("3 Dec 2026", False),
    ("12/3", False),
    ("2pm", True),
    ("last Friday", True),
    ("3 days ago", True),
    ("2 weeks from tomorrow", False),  # compound forms: the rules' since issue 14 (p99)
    ("a week from friday", False),
    ("3 weeks from next monday", False),
    ("the first monday of next month", False),
    ("the 3rd of next month", False),
    ("from tomorrow", False),  # dateparser's until the third round, now the rules'
    ("2 days before christmas", False),
    ("the day after the 15th", False),
    ("国庆后三天", False),
    ("下周一之后两周", False),
    ("quarter past ten tomorrow", False),
    ("2 weeks", True),
    ("in 1 day and 2 hours", False),
    ("1 day and 2 hours", False),
    ("1 week & 2 days", False),  # a sum of units (dateparser's until '&' read as 'and')
    ("first week of next month", False),  # refused
    ("hello there", False),  # refused: unknown
    ("随便写点什么", False),
    ("x" * 80, False),
    # issue 14
    ("下周末", False),
    ("下个月底", False),
    ("春节后", False),
    ("正月初八", False),
    ("中秋", False),
    ("圣诞节", True),
    ("午饭后", False),
    ("明天下午三点差一刻", False),
    ("一刻钟后", False),
    ("明天10.30", False),
    ("5号", False),
    ("nxt tue", False),
    ("next 周二", False),
    ("let's say tomorrow 10am", False),
    ("我看明天下午3点吧", False),
    ("明天下午3点，带上报价单", False),
    ("下周二下午两点到三点", False),
    ("明天上午10点或者周五下午3点", False),
    ("COB Friday", False),
    ("end of the month", False),
    ("first thing Monday", False),
    ("过几天", False),
    ("3点", True),
]
# The first phrase of each kind, timed once in a fresh interpreter right after warm_up().
FIRST_OF_KIND = [
    "下周末", "下个月初", "春节后", "国庆后", "元宵节", "清明", "端午", "正月初八", "农历八月十五",
    "Christmas", "午饭后", "tonight 8", "EOD", "差五分三点", "一刻钟后", "a fortnight", "明天10.30",
    "the 15th", "nxt tue",
    "next 周二", "maybe thursday afternoon", "下周二下午两点到三点", "soon", "next week", "Monday week",
    "2 weeks from tomorrow", "a week from friday", "3 weeks from next monday",
    "the first monday of next month", "the 3rd of next month", "from tomorrow",
    "2 days before christmas", "the day after friday", "国庆后三天", "春节前一周", "下周一之后两周",
    "ten am tomorrow", "quarter past ten tomorrow", "3 days after", "2 weeks", "in 1 day and 2 hours",
    "1 day and 2 hours", "1 week & 2 days",
]  # fmt: skip
FIRST_KIND_CALL = """
import time, datetime as dt
from zoneinfo import ZoneInfo
from flows.dates import understand_when, warm_up
warm_up()
now = dt.datetime(2026, 1, 26, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
for phrase in {phrases!r}:
    t0 = time.perf_counter()
    try:
        understand_when(phrase, now=now)
    except Exception:
        pass
    print((time.perf_counter() - t0) * 1000, phrase)
"""
NOTE = "刚和华为张总通了电话,他们要报价单,下周二下午两点再跟进。Visited Acme, follow up Friday 10am"

FIRST_CALL = """
import sys, time, datetime as dt
from zoneinfo import ZoneInfo
t0 = time.perf_counter()
from flows.dates import understand_when, warm_up
t1 = time.perf_counter()
if {warm}:
    warm_up()
t2 = time.perf_counter()
now = dt.datetime(2026, 11, 22, 10, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
understand_when("下周二下午两点", now=now)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, int("dateparser" in sys.modules))
"""


def _fresh(warm: bool) -> list[float]:
    """Timings from a new interpreter, so that nothing is cached yet (and 1 if dateparser got imported)."""
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL.format(warm=warm)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [float(x) * 1000 for x in out.split()]


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _time(fn: object, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds per call; CPU time leaves out waiting for a busy machine."""
    assert callable(fn)
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        with contextlib.suppress(Invalid):
            fn()
        cpu.append((time.thread_time_ns() - start_cpu) / 1e6)
        wall.append((time.perf_counter_ns() - start) / 1e6)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300, help="calls per phrase (default 300)")
    parser.add_argument("--corpus-runs", type=int, default=60, help="calls per corpus phrase (default 60)")
    args = parser.parse_args()
    runs, corpus_runs = args.runs, args.corpus_runs

    cold = _fresh(False)
    warm = _fresh(True)
    print("start-up (fresh interpreter, ms)")
    print(f"  import flows.dates                     {cold[0]:8.1f}")
    print(f"  first call, no warm_up: 下周二下午两点   {cold[2]:8.1f}")
    print(f"  warm_up()                              {warm[1]:8.1f}")
    print(f"  first call after warm_up               {warm[2]:8.1f}")
    print("  dateparser imported at start-up:", "yes" if cold[3] or warm[3] else "no")

    out = subprocess.run(
        [sys.executable, "-c", FIRST_KIND_CALL.format(phrases=FIRST_OF_KIND)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    firsts = [(float(ms), phrase) for ms, phrase in (line.split(" ", 1) for line in out.splitlines())]
    ms, phrase = max(firsts)
    print(f"\nfirst phrase of each kind after warm_up (fresh interpreter, {len(firsts)} kinds, ms)")
    print(f"  median {statistics.median(m for m, _ in firsts):.3f}; worst {ms:.3f} ({phrase})")
    for ms, phrase in sorted(firsts, reverse=True)[:5]:
        print(f"  {ms:8.3f}  {phrase}")

    warm_up()
    print(f"\nper phrase after warm_up, {runs} calls each (ms; load average {os.getloadavg()[0]:.1f})")
    print(f"  {'phrase':<34} {'p50':>7} {'p99':>7} {'cpu p50':>8} {'cpu p99':>8}")
    all_wall: list[float] = []
    all_cpu: list[float] = []
    worst_wall = worst_cpu = 0.0
    worst_phrase = ""
    for phrase, past in PHRASES:
        wall, cpu = _time(lambda p=phrase, b=past: understand_when(p, now=NOW, past=b), runs)
        (w50, w99), (c50, c99) = _percentiles(wall), _percentiles(cpu)
        all_wall += wall
        all_cpu += cpu
        if c99 > worst_cpu:
            worst_phrase = phrase
        worst_wall, worst_cpu = max(worst_wall, w99), max(worst_cpu, c99)
        label = (phrase if len(phrase) <= 30 else phrase[:27] + "...") + (" (past)" if past else "")
        print(f"  {label:<34} {w50:7.3f} {w99:7.3f} {c50:8.3f} {c99:8.3f}")
    wall, cpu = _time(lambda: find_when(NOTE, now=NOW), runs)
    (w50, w99), (c50, c99) = _percentiles(wall), _percentiles(cpu)
    print(f"  {'find_when on a 75-char note':<34} {w50:7.3f} {w99:7.3f} {c50:8.3f} {c99:8.3f}")
    (w50, w99), (c50, c99) = _percentiles(all_wall), _percentiles(all_cpu)
    print(f"\nall {len(PHRASES)} phrases:")
    print(f"all calls (ms): wall p50 {w50:.3f}, p99 {w99:.3f}; cpu p50 {c50:.3f}, p99 {c99:.3f}")
    print(f"worst phrase p99: wall {worst_wall:.3f} ms, cpu {worst_cpu:.3f} ms ({worst_phrase})")
    print("target p99 < 2 ms per phrase (cpu):", "met" if worst_cpu < 2.0 else "NOT met")
    _corpus(corpus_runs)
    return 0


def _corpus(runs: int) -> None:
    """p50/p99 over every corpus phrase in both readings, the worst, and whether dateparser got
    imported along the way (nothing in flows.dates should import it any more)."""
    calls = 2 * len(CORPUS)
    print(f"\ncorpus: {len(CORPUS)} English phrases x 2 readings = {calls} calls, {runs} runs each (cpu ms)")
    rows: list[tuple[float, float, str, bool]] = []
    samples: list[float] = []
    first_import = ""
    for past in (False, True):
        for phrase in CORPUS:
            _, cpu = _time(lambda p=phrase, b=past: understand_when(p, now=NOW, past=b), runs)
            if not first_import and "dateparser" in sys.modules:
                first_import = phrase + (" (past)" if past else "")
            c50, c99 = _percentiles(cpu)
            samples.extend(cpu)
            rows.append((c99, c50, phrase, past))
    c50, c99 = _percentiles(samples)
    print(f"  all calls p50 {c50:.3f}, p99 {c99:.3f}")
    rows.sort(reverse=True)
    print("  worst phrases by p99:")
    for c99, c50, phrase, past in rows[:6]:
        print(f"    {c99:7.3f} (p50 {c50:.3f})  {phrase}{' (past)' if past else ''}")
    worst = rows[0]
    verdict = "met" if worst[0] < 2.0 else "NOT met"
    print(f"target p99 < 2 ms for every corpus phrase: {verdict} (worst {worst[0]:.3f}, {worst[2]})")
    if "dateparser" in sys.modules:
        print(f"dateparser: IMPORTED (first seen after {first_import or 'the per-phrase run'})")
    else:
        print(f"dateparser: not used (0 of {calls} corpus calls; {BEFORE_REACHED} at 4d61b03)")


if __name__ == "__main__":
    sys.exit(main())
