"""Benchmark (not a test): bulk import, rows per second and peak memory, 10,000 and 100,000 rows.

Each run is its own process (so its peak RSS is its own) on a fresh SQLite database, through the
same code as /import and `crm-bot import`: read the CSV, match headers, check every row with the
flows' parsers and look for duplicates (within the file and against the book), write the error
report, insert in one transaction. Customer numbers have a 4-digit counter per day, so at most 9,999
customers can be created in one day: 100,000 customers are checked (a dry run), and 100,000 contacts
(under 1,000 customers) are imported in full. Prints figures; never fails a build.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stdnum.cn import uscc

CITIES = [
    "上海市浦东新区张江路{}号",
    "北京市朝阳区建国路{}号",
    "广东省深圳市南山区科苑路{}号",
    "浙江省杭州市西湖区文三路{}号",
]


def _code(n: int) -> str:
    stem = f"913101{n:08d}".ljust(17, "X")[:17]
    stem = stem[:8] + "MA" + f"{n:07d}"
    return stem + uscc.calc_check_digit(stem)


def customers_csv(path: Path, rows: int, bad_every: int = 50) -> None:
    rnd = random.Random(7)
    with path.open("w", encoding="gb18030") as out:
        out.write("客户名称,统一社会信用代码,手机,邮箱,客户状态,行业,地址,客户来源,备注\n")
        for i in range(rows):
            phone = f"139{i:08d}" if i % bad_every else "139123"  # every 50th row has a wrong phone
            out.write(
                f"测试{i}号科技有限公司,{_code(i)},{phone},sales{i}@example{i % 97}.cn,潜在客户,信息技术,"
                f"{rnd.choice(CITIES).format(i % 500 + 1)},行业展会,导入测试\n"
            )


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰春燕海波志强丹丹晓东文博子涵雨欣浩然梓轩"


def contacts_csv(path: Path, rows: int, customers: int) -> None:
    """`rows` contacts spread over `customers` customers; names unique within each customer."""
    with path.open("w", encoding="utf-8") as out:
        out.write("客户名称,姓名,职位,手机,邮箱,角色\n")
        for i in range(rows):
            j = i // customers
            name = (
                SURNAMES[j % 20] + GIVEN[(j // 20) % len(GIVEN)] + GIVEN[(j // 20 // len(GIVEN)) % len(GIVEN)]
            )
            out.write(f"测试{i % customers}号科技有限公司,{name},经理,138{i:08d},c{i}@example.cn,决策人\n")


async def run(kind: str, rows: int, dry: bool) -> None:
    from flows.imports import Mapping_, check_rows, match_headers
    from storage import imports as store
    from storage import repo
    from storage.db import make_engine, make_sessions, migrate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        engine = make_engine(f"sqlite+aiosqlite:///{root / 'bench.sqlite3'}")
        await migrate(engine)
        sessions = make_sessions(engine)
        now = dt.datetime.now(dt.UTC)
        async with sessions.begin() as s:
            boss = await repo.add_user(s, 1, "Boss", "manager")
        if kind == "contacts":  # their 1,000 customers first
            base = root / "base.csv"
            customers_csv(base, 1000, bad_every=10**9)
            async with sessions.begin() as s:
                table = store.load_table(base)
                m = match_headers(table[0])
                checked = check_rows(
                    table, Mapping_(m.kind, m.columns), await store.book_keys(s, boss, m.kind), "zh"
                )
                await store.insert_customers(s, boss, boss, store.payload(checked), now)
        source = root / "in.csv"
        (contacts_csv(source, rows, 1000) if kind == "contacts" else customers_csv(source, rows))
        t0 = time.perf_counter()
        table = store.load_table(source)
        t_read = time.perf_counter()
        mapping = match_headers(table[0])
        async with sessions.begin() as s:
            keys = await store.book_keys(s, boss, mapping.kind)
            t_keys = time.perf_counter()
            checked = check_rows(table, Mapping_(mapping.kind, mapping.columns), keys, "zh")
            t_check = time.perf_counter()
            store.write_report(root / "errors.xlsx", table, checked, "zh")
            t_report = time.perf_counter()
            count = 0
            if not dry:
                payload = store.payload(checked)
                if kind == "contacts":
                    count = await store.insert_contacts(s, boss, payload, now)
                else:
                    count = await store.insert_customers(s, boss, boss, payload, now)
        t_end = time.perf_counter()  # committed
        await engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = t_end - t0
    what = f"{rows:>7,} {kind:<9} {'dry run' if dry else 'import '}"
    print(
        f"{what}: {rows / total:8,.0f} rows/s, {total:6.1f} s in all "
        f"(read {t_read - t0:.1f}, book keys {t_keys - t_read:.2f}, check {t_check - t_keys:.1f}, "
        f"report {t_report - t_check:.1f}, insert+commit {t_end - t_report:.1f}); "
        f"{len(checked.new):,} new, {len(checked.errors):,} errors, {count:,} inserted; "
        f"peak RSS {peak:,.0f} MB"
    )


def main() -> None:
    if len(sys.argv) == 4:
        asyncio.run(run(sys.argv[1], int(sys.argv[2]), sys.argv[3] == "dry"))
        return
    print("bench_import: SQLite, one process per run (peak memory is that process's)")
    for kind, rows, mode in (
        ("customers", 10_000, "import"),
        ("customers", 100_000, "dry"),
        ("contacts", 10_000, "import"),
        ("contacts", 100_000, "import"),
    ):
        subprocess.run([sys.executable, __file__, kind, str(rows), mode], check=False)


if __name__ == "__main__":
    main()
