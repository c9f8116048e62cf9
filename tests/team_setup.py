"""The manager's desk cast: a manager, two sales under them, a region manager, an outsider, an admin."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.router import Router
from storage import repo
from tests.conftest import Clock, Database

BOSS, ANN, BEN, REGION, OUT, ADMIN = 2001, 2002, 2003, 2004, 2005, 2006


@dataclass
class Cast:
    router: Router
    ids: dict[str, int]  # customer name → id


async def cast(db: Database, clock: Clock, *, with_region: bool = True) -> Cast:
    """Ann owns 杭州数澜 (A, VIP) and 上海云帆; Ben owns 杭州西湖贸易; the outsider owns 北京远景."""
    now = clock()
    day = now.date()
    async with db.sessions.begin() as s:
        await repo.add_user(s, BOSS, "Boss", "manager")
        ann = await repo.add_user(s, ANN, "Ann", "sales", manager_telegram_id=BOSS)
        ben = await repo.add_user(s, BEN, "Ben", "sales", manager_telegram_id=BOSS)
        await repo.add_user(s, REGION, "Rita", "manager")
        out = await repo.add_user(s, OUT, "Otto", "sales")
        await repo.add_user(s, ADMIN, "Ada", "admin")
        for u in (ann, ben, out):
            u.lang = "zh"
        ids: dict[str, int] = {}
        rows = [
            (ann, "杭州数澜科技有限公司", "浙江省", "杭州市", "A", ["VIP客户"], "13800000001"),
            (ann, "上海云帆信息技术有限公司", "上海市", "上海市", "B", [], "13800000002"),
            (ben, "杭州西湖贸易有限公司", "浙江省", "杭州市", "C", [], "13800000003"),
            (out, "北京远景咨询有限公司", "北京市", "北京市", "A", ["VIP客户"], "13800000004"),
        ]
        for owner, name, province, city, intent, tags, phone in rows:
            answers = {
                "kind": "enterprise",
                "name": name,
                "status": "potential",
                "industry": "it",
                "intent": intent,
                "tags": tags,
                "phone": "+86" + phone,
                "address": {"province": province, "city": city, "district": None, "full": f"{city}某路1号"},
            }
            customer = await repo.create_customer(s, owner, answers, [], now, day)
            ids[name] = customer.id
        if with_region:
            from storage import team

            await team.set_regions(s, REGION, ["浙江省"])
    return Cast(Router(db.sessions, clock=clock), ids)


def local(clock: Clock) -> dt.datetime:
    return clock().astimezone(dt.timezone(dt.timedelta(hours=8)))
