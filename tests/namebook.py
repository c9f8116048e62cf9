"""A generated customer book (Chinese and Latin companies, people), typos of its names, and a bulk loader.

Shared by tests/storage/test_search.py and bench/bench_search.py; seeded, so runs are comparable.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from flows.names import core_name
from storage.models import Contact, Customer, SearchGram, User
from storage.search import customer_tokens

HAN = (
    "华为阿里巴腾讯字节跳动美团京东百度小米网易新浪搜狐携程滴快手拼多蔚来理想比亚迪格力海尔联想中兴万科碧桂园"
    "恒绿地保利招商平安建设工农业银行人寿太洋泰康国君信光大民生兴浦发宁波江苏金铜铁山水火木土日月星辰云天"
    "海河湖春夏秋冬东南西北龙凤虎豹鹰鹏飞翔宏伟盛达旺昌隆瑞祥吉和顺福禄寿喜"
)
INDUSTRY = ("科技", "贸易", "实业", "信息", "网络", "电子", "机械", "化工", "食品", "医药", "物流", "建材")
LEGAL = ("有限公司", "股份有限公司", "有限责任公司", "集团有限公司")
PLACE = ("", "", "", "深圳市", "上海", "北京市", "广东省", "杭州")
SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "ta",
    "ne",
    "so",
    "lu",
    "vi",
    "de",
    "ga",
    "bo",
    "ri",
    "sen",
    "tor",
    "lan",
    "mar",
    "kel",
    "pex",
    "dyn",
    "gal",
    "ver",
    "zon",
    "fin",
    "tex",
    "nor",
    "qua",
]
EN_LEGAL = ("Co., Ltd.", "Inc.", "Limited", "LLC", "Trading Co.", "Group", "Corp.")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红玲芬燕彩春菊凤洁梅琳素云莲真环雪荣爱"
FIRST = [
    "john",
    "mary",
    "james",
    "linda",
    "robert",
    "susan",
    "michael",
    "karen",
    "david",
    "lisa",
    "peter",
    "anna",
    "paul",
    "emma",
    "mark",
    "sarah",
]
LAST = [
    "smith",
    "brown",
    "jones",
    "miller",
    "davis",
    "wilson",
    "moore",
    "taylor",
    "anderson",
    "thomas",
    "jackson",
    "white",
    "harris",
]
NOW = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)


def company_or_person(r: random.Random) -> tuple[str, str]:
    """(kind, name): about half Chinese companies, a fifth Latin ones, the rest people."""
    k = r.random()
    if k < 0.5:
        core = "".join(r.choice(HAN) for _ in range(r.choice((2, 3, 4, 4, 5))))
        return "enterprise", r.choice(PLACE) + core + r.choice(INDUSTRY) + r.choice(LEGAL)
    if k < 0.7:
        words = [
            "".join(r.choice(SYLLABLES) for _ in range(r.choice((1, 2, 2, 3)))).capitalize()
            for _ in range(r.choice((1, 2, 2)))
        ]
        return "enterprise", " ".join(words) + " " + r.choice(EN_LEGAL)
    if k < 0.9:
        return "individual", r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2, 2))))
    return "individual", f"{r.choice(FIRST).capitalize()} {r.choice(LAST).capitalize()}"


def typo(r: random.Random, name: str) -> str:
    """One slip of the finger in the identifying part: a character changed, dropped, doubled or added."""
    core = core_name(name)
    if len(core) < 2:
        return name
    at = name.casefold().find(core[: max(1, len(core) // 2)])
    at = max(0, at) + r.randrange(max(1, len(core) - 1))
    pool = HAN if any("\u4e00" <= ch <= "\u9fff" for ch in core) else "abcdefghijklmnopqrstuvwxyz"
    how = r.choice(("change", "drop", "double", "add"))
    if how == "change":
        return name[:at] + r.choice(pool) + name[at + 1 :]
    if how == "drop":
        return name[:at] + name[at + 1 :]
    if how == "double":
        return name[: at + 1] + name[at] + name[at + 1 :]
    return name[:at] + r.choice(pool) + name[at:]


class Book:
    """`size` customers shared among `owners` sales people (ids 1..owners), each with one contact."""

    def __init__(self, size: int, owners: int = 50, seed: int = 15) -> None:
        self.size, self.owners = size, owners
        r = random.Random(seed)
        self.rows: list[dict[str, Any]] = []
        for i in range(1, size + 1):
            kind, name = company_or_person(r)
            self.rows.append(
                {"id": i, "number": f"C{i:011d}", "kind": kind, "name": name, "name_key": core_name(name)}
                | {"phone": f"+86139{i:08d}", "email": f"sales{i}@{r.choice(SYLLABLES)}{i % 997}.cn"}
                | {"owner_id": 1 + i % owners, "created_by": 1 + i % owners, "tags": [], "pending": []}
                | {"created_at": NOW, "updated_at": NOW - dt.timedelta(seconds=i)}
            )
        self.contacts: list[dict[str, Any]] = [
            {"id": i, "customer_id": i, "name": company_or_person(r)[1] if i % 3 else "张伟"}
            | {"created_by": 1 + i % owners, "pending": [], "active": True}
            | {"created_at": NOW, "updated_at": NOW}
            for i in range(1, size + 1)
        ]

    def users(self) -> list[dict[str, Any]]:
        return [
            {"id": u, "telegram_id": 9_000_000 + u, "name": f"sales {u}", "role": "sales", "active": True}
            | {"quiet_start": "22:00", "quiet_end": "08:00", "created_at": NOW}
            for u in range(1, self.owners + 1)
        ] + [
            {"id": self.owners + 1, "telegram_id": 1, "name": "admin", "role": "admin", "active": True}
            | {"quiet_start": "22:00", "quiet_end": "08:00", "created_at": NOW}
        ]

    def grams(self) -> Iterator[dict[str, Any]]:
        contact_names: dict[int, list[str]] = {}
        for c in self.contacts:
            contact_names.setdefault(c["customer_id"], []).append(c["name"])
        for row in self.rows:
            names = contact_names.get(row["id"], [])
            for token in customer_tokens(row["name"], row["name_key"], row["email"], row["phone"], names):
                yield {"gram": token, "customer_id": row["id"]}


def chunks(rows: Any, size: int = 5000) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def load(session: AsyncSession, book: Book) -> None:
    """Bulk inserts (executemany), grams included: what the app would have written one by one."""
    for model, rows in (
        (User, book.users()),
        (Customer, book.rows),
        (Contact, book.contacts),
        (SearchGram, book.grams()),
    ):
        for chunk in chunks(rows):
            await session.execute(insert(model), chunk)
    if session.get_bind().dialect.name == "postgresql":  # explicit ids: move the sequences past them
        for table in ("users", "customers", "contacts"):
            await session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
            )
