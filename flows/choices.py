"""Every closed list of the CRM, as stored codes with their Chinese and English labels.

Codes are what the database keeps and what buttons carry (short, ASCII, stable); labels are
only for people, so renaming a label never touches stored data.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.normalize import typed_number


@dataclass(frozen=True)
class Option:
    code: str
    zh: str
    en: str

    def label(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Choices:
    name: str
    options: tuple[Option, ...]

    def codes(self) -> list[str]:
        return [o.code for o in self.options]

    def get(self, code: str) -> Option | None:
        return next((o for o in self.options if o.code == code), None)

    def label(self, code: str | None, lang: str) -> str:
        option = self.get(code) if code else None
        return option.label(lang) if option else (code or "")

    def match(self, text: str) -> Option | None:
        """A typed answer that names an option by code, label or number (1-based)."""
        wanted = text.strip().casefold()
        number = typed_number(wanted)
        if number is not None and 1 <= number <= len(self.options):
            return self.options[number - 1]
        for o in self.options:
            if wanted in (o.code.casefold(), o.zh.casefold(), o.en.casefold()):
                return o
        return None


def _c(name: str, *rows: tuple[str, str, str]) -> Choices:
    return Choices(name, tuple(Option(*row) for row in rows))


CUSTOMER_KIND = _c("kind", ("enterprise", "企业客户", "Enterprise"), ("individual", "个人客户", "Individual"))
CUSTOMER_STATUS = _c(
    "status",
    ("potential", "潜在客户", "Potential"),
    ("deal", "成交客户", "Closed deal"),
    ("lost", "流失客户", "Lost"),
    ("partner", "合作伙伴", "Partner"),
)
INDUSTRY = _c(
    "industry",
    ("manufacturing", "制造业", "Manufacturing"),
    ("it", "信息技术", "Information technology"),
    ("retail", "零售业", "Retail"),
    ("finance", "金融", "Finance"),
    ("education", "教育", "Education"),
    ("healthcare", "医疗", "Healthcare"),
    ("real_estate", "房地产", "Real estate"),
    ("logistics", "物流", "Logistics"),
    ("construction", "建筑业", "Construction"),
    ("energy", "能源", "Energy"),
    ("other", "其他", "Other"),
)
GRADE = _c(
    "grade", ("high", "高价值", "High value"), ("normal", "普通", "Normal"), ("low", "低价值", "Low value")
)
INTENT = _c(
    "intent",
    ("A", "A 近期可成交", "A near-term close"),
    ("B", "B 有意向,考虑中", "B interested, considering"),
    ("C", "C 长期跟进", "C long-term"),
    ("D", "D 暂无需求", "D no need now"),
    ("E", "E 已流失/拒绝", "E lost / refused"),
)
SOURCE = _c(
    "source",
    ("online", "线上推广", "Online promotion"),
    ("trade_show", "行业展会", "Trade show"),
    ("referral", "客户转介绍", "Referral"),
    ("walk_in", "自然到访", "Walk-in"),
    ("advertising", "广告投放", "Advertising"),
    ("social_media", "社交媒体", "Social media"),
    ("other", "其他", "Other"),
)
CONTACT_ROLE = _c(
    "role",
    ("decision_maker", "决策人", "Decision maker"),
    ("user", "使用人", "User"),
    ("influencer", "影响者", "Influencer"),
    ("other", "其他", "Other"),
)
CHANNEL = _c(
    "channel",
    ("phone", "电话", "Phone"),
    ("email", "邮件", "E-mail"),
    ("wechat", "微信", "WeChat"),
    ("sms", "短信", "SMS"),
    ("other", "其他", "Other"),
)
FOLLOW_MODE = _c(
    "mode",
    ("phone", "电话沟通", "Phone call"),
    ("visit", "上门拜访", "Visit"),
    ("email", "邮件往来", "E-mail"),
    ("online_meeting", "线上会议", "Online meeting"),
    ("wechat", "微信", "WeChat"),
    ("other", "其他", "Other"),
)
DEMAND_STATUS = _c(
    "demand",
    ("to_confirm", "待确认", "To confirm"),
    ("in_progress", "跟进中", "In progress"),
    ("met", "已满足", "Met"),
    ("lost", "已流失", "Lost"),
)
ROLE = _c(
    "user_role", ("sales", "销售", "Sales"), ("manager", "经理", "Manager"), ("admin", "管理员", "Admin")
)
