"""Bulk import, the pure part: which column is which field (headers in Chinese or English), and each
row checked by the same parsers the customer and contact flows run (flows/definitions.py), with
duplicates found within the file and against the book's keys.

Storage reads the book's keys and inserts the rows; the bot asks about headers it cannot place.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from flows.definitions import CONTACT, CUSTOMER
from flows.engine import Env, Flow
from flows.errors import Invalid
from flows.i18n import t
from flows.names import core_name
from flows.ports import Services

Kind = Literal["customers", "contacts"]
IGNORE = "-"  # a column mapped to nothing

CUSTOMER_HEADERS: dict[str, tuple[str, ...]] = {
    "kind": ("类型", "客户类型", "kind", "type", "customer type"),
    "name": ("客户名称", "名称", "公司名称", "企业名称", "客户", "公司", "name", "customer", "customer name",
             "company", "company name"),
    "credit_code": ("统一社会信用代码", "信用代码", "社会信用代码", "credit code", "uscc",
                    "unified social credit code"),
    "status": ("客户状态", "状态", "status"),
    "industry": ("行业", "所属行业", "industry"),
    "industry_other": ("行业(其他)", "其他行业", "industry (other)", "industry other"),
    "grade": ("等级", "客户等级", "grade"),
    "intent": ("意向", "意向等级", "意向程度", "intent", "intent class"),
    "address": ("地址", "详细地址", "公司地址", "address"),
    "phone": ("电话", "手机", "手机号", "手机号码", "联系电话", "电话号码", "phone", "mobile", "tel",
              "telephone"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件", "email", "e-mail", "mail"),
    "source": ("来源", "客户来源", "source"),
    "main_business": ("主营业务", "main business"),
    "current_problem": ("当前问题", "current problem"),
    "interest": ("兴趣点", "兴趣", "interest"),
    "tags": ("标签", "tags", "tag"),
    "remarks": ("备注", "remarks", "remark", "notes", "note"),
}  # fmt: skip
CONTACT_HEADERS: dict[str, tuple[str, ...]] = {
    "customer": ("客户", "客户名称", "所属客户", "公司", "公司名称", "客户编号", "customer", "customer name",
                 "company", "customer number"),
    "name": ("姓名", "联系人", "联系人姓名", "name", "contact", "contact name"),
    "position": ("职位", "职务", "position", "title", "job title"),
    "phone": CUSTOMER_HEADERS["phone"],
    "email": CUSTOMER_HEADERS["email"],
    "role": ("角色", "联系人角色", "role"),
    "channel": ("偏好方式", "偏好联系方式", "联系方式偏好", "channel", "preferred channel"),
    "channel_time": ("联系时间", "方便联系时间", "channel time", "best time"),
    "birthday": ("生日", "birthday", "date of birth"),
    "remarks": CUSTOMER_HEADERS["remarks"],
}  # fmt: skip
# columns an export writes that an import does not take (so they raise no question)
KNOWN_IGNORED = ("客户编号", "负责人", "省份", "城市", "区县", "待补充项", "创建时间", "更新时间", "最近联系",
                 "customer number", "owner", "province", "city", "district", "pending fields", "created",
                 "updated", "last contact", "在职", "active", "序号", "no", "#")  # fmt: skip
CUSTOMER_ONLY = ("credit_code", "industry", "source", "status", "kind", "grade", "intent")

_SPACES = re.compile(r"[\s*:：_]+")
_COMPANY = re.compile(r"(公司|集团|厂|商行|中心|研究院|研究所|事务所|合作社|学校|医院|银行|"
                      r"\b(co|ltd|inc|llc|gmbh|corp|corporation|limited|company)\b\.?)", re.I)  # fmt: skip
_NUMBER = re.compile(r"^C\d{12}$")


def norm_header(text: str) -> str:
    """'客户名称 *', 'E-Mail:', 'Ｐｈｏｎｅ' → a comparable key."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub("", folded).replace("（", "(").replace("）", ")")


def _aliases(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    return {norm_header(alias): name for name, names in table.items() for alias in names}


@dataclass
class Mapping_:
    """Which field each column holds (IGNORE: none), and the headers nobody could place."""

    kind: Kind
    columns: list[str]
    unknown: list[int] = field(default_factory=list)


def guess_kind(headers: Sequence[str]) -> Kind:
    """A contacts file names a customer in one column and a person in another, and has none of the
    customer-only fields (credit code, industry, source, status, …)."""
    contact = _aliases(CONTACT_HEADERS)
    customer = _aliases(CUSTOMER_HEADERS)
    keys = [norm_header(h) for h in headers]
    refs = [i for i, k in enumerate(keys) if contact.get(k) == "customer"]
    people = [i for i, k in enumerate(keys) if contact.get(k) == "name"]
    distinct = bool(refs) and any(p != refs[0] for p in people)
    customer_only = any(customer.get(k) in CUSTOMER_ONLY for k in keys)
    return "contacts" if distinct and not customer_only else "customers"


def match_headers(headers: Sequence[str], kind: Kind | None = None) -> Mapping_:
    kind = kind or guess_kind(headers)
    aliases = _aliases(CONTACT_HEADERS if kind == "contacts" else CUSTOMER_HEADERS)
    ignored = {norm_header(h) for h in KNOWN_IGNORED}
    columns: list[str] = []
    unknown: list[int] = []
    for i, header in enumerate(headers):
        key = norm_header(header)
        name = aliases.get(key)
        if kind == "contacts" and key in (norm_header("客户编号"), norm_header("customer number")):
            name = "customer"
        if name is not None and name not in columns:
            columns.append(name)
        elif not key or key in ignored or name is not None:
            columns.append(IGNORE)  # empty header, an export's own column, or a field named twice
        else:
            columns.append(IGNORE)
            unknown.append(i)
    return Mapping_(kind, columns, unknown)


def fields_of(kind: Kind) -> list[str]:
    return list(CONTACT_HEADERS if kind == "contacts" else CUSTOMER_HEADERS)


def field_label(kind: Kind, name: str, lang: str) -> str:
    if name == "customer":
        return t(lang, "f.contact.customer")
    return t(lang, f"f.{'contact' if kind == 'contacts' else 'customer'}.{name}")


# ---------------------------------------------------------------- the rows


@dataclass(frozen=True)
class BookKeys:
    """The book's duplicate keys (credit code, phone, e-mail, core name) → (customer id, how to name it
    to this user: name and number if visible, name and owner if not), and the customers a contact row
    may name (visible ones, by number and by name)."""

    customers: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    refs: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # number / name / core name → id
    contacts: Mapping[str, int] = field(default_factory=dict)  # "<customer id>|<key>" → contact id


@dataclass
class Row:
    number: int  # the row in the file, 1 = the header
    raw: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duplicate: str | None = None  # in words: "row 3" or "in the CRM: …"
    keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.duplicate is None


@dataclass
class Checked:
    kind: Kind
    rows: list[Row]

    @property
    def new(self) -> list[Row]:
        return [r for r in self.rows if r.ok]

    @property
    def errors(self) -> list[Row]:
        return [r for r in self.rows if r.errors]

    @property
    def duplicates(self) -> list[Row]:
        return [r for r in self.rows if not r.errors and r.duplicate is not None]


class _NoServices:
    """The row parsers of customer and contact fields need no services (no I/O, no clock)."""


_ENV_SERVICES = cast(Services, _NoServices())


def _parse_field(flow: Flow, name: str, text: str, answers: dict[str, Any]) -> Any:
    step = flow.step(name)
    if step.choices is not None:
        option = step.choices.match(text)
        if option is None:
            raise Invalid("data.import.bad_choice", choices=" / ".join(o.zh for o in step.choices.options))
        return option.code
    assert step.parse is not None
    return step.parse(text, Env(_ENV_SERVICES, answers))


def _message(flow: Flow, lang: str, name: str, bad: Invalid) -> str:
    label = t(lang, f"f.{flow.key}.{name}") if name != "customer" else t(lang, "f.contact.customer")
    return f"{label}: {t(lang, bad.key, **bad.params)}"


def _customer_values(raw: dict[str, str], lang: str, row: Row) -> None:
    answers: dict[str, Any] = {}
    kind_text = raw.get("kind", "")
    if kind_text:
        if kind_text in ("企业", "公司", "company"):
            kind_text = "enterprise"
        elif kind_text in ("个人",):
            kind_text = "individual"
        try:
            answers["kind"] = _parse_field(CUSTOMER, "kind", kind_text, answers)
        except Invalid as bad:
            row.errors.append(_message(CUSTOMER, lang, "kind", bad))
            return
    else:
        company = raw.get("credit_code") or _COMPANY.search(raw.get("name", ""))
        answers["kind"] = "enterprise" if company else "individual"
    for step in CUSTOMER.steps:
        name = step.name
        if name == "kind" or not step.applies(answers):
            continue
        text = raw.get(name, "").strip()
        if not text:
            if name == "name":
                row.errors.append(_message(CUSTOMER, lang, name, Invalid("data.import.required")))
            elif step.deferrable:
                row.pending.append(name)
            elif step.default is not None:
                answers[name] = step.default
            continue
        try:
            answers[name] = _parse_field(CUSTOMER, name, text, answers)
        except Invalid as bad:
            row.errors.append(_message(CUSTOMER, lang, name, bad))
    row.values = answers


def _contact_values(raw: dict[str, str], lang: str, row: Row, keys: BookKeys) -> None:
    answers: dict[str, Any] = {}
    ref = raw.get("customer", "").strip()
    target = (
        keys.refs.get(ref) or keys.refs.get(ref.upper()) or keys.refs.get(core_name(ref)) if ref else None
    )
    if not ref:
        row.errors.append(_message(CONTACT, lang, "customer", Invalid("data.import.required")))
    elif target is None:
        row.errors.append(
            _message(CONTACT, lang, "customer", Invalid("data.import.no_customer", name=ref[:40]))
        )
    else:
        answers["customer"] = {"id": target[0], "name": target[1]}
    for step in CONTACT.steps:
        name = step.name
        if name in ("customer", "active") or not step.on_create:
            continue
        text = raw.get(name, "").strip()
        if not text:
            if name == "name":
                row.errors.append(_message(CONTACT, lang, name, Invalid("data.import.required")))
            elif step.deferrable:
                row.pending.append(name)
            continue
        try:
            answers[name] = _parse_field(CONTACT, name, text, answers)
        except Invalid as bad:
            row.errors.append(_message(CONTACT, lang, name, bad))
    row.values = answers


def customer_keys(values: Mapping[str, Any]) -> list[str]:
    """What makes two customers the same one (as entry's duplicate check, exact matches only)."""
    keys = []
    for name in ("credit_code", "phone", "email"):
        if values.get(name):
            keys.append(f"{name}:{str(values[name]).casefold()}")
    if values.get("name") and core_name(str(values["name"])):
        keys.append(f"name:{core_name(str(values['name']))}")
    return keys


def contact_keys(values: Mapping[str, Any]) -> list[str]:
    customer = values.get("customer") or {}
    cid = customer.get("id")
    out = []
    for name in ("phone", "email"):
        if values.get(name):
            out.append(f"{cid}|{name}:{str(values[name]).casefold()}")
    if values.get("name"):
        out.append(f"{cid}|name:{str(values['name']).casefold()}")
    return out


OnProgress = Callable[[int, int], None]  # (rows checked, rows in all)
PROGRESS_EVERY = 500  # rows between two progress calls of check_rows


def check_rows(
    table: Sequence[Sequence[str]],
    mapping: Mapping_,
    keys: BookKeys,
    lang: str,
    on_progress: OnProgress | None = None,
    every: int = PROGRESS_EVERY,
) -> Checked:
    """Every data row parsed and checked; the first of two equal rows is the one that counts.

    `on_progress(done, total)` is called every `every` rows and once at the end (done == total), from
    whatever thread checks: it must only hand the numbers on (this stays free of I/O).
    """
    seen: dict[str, int] = {}
    rows: list[Row] = []
    total = len(table) - 1
    for offset, cells in enumerate(table[1:], start=2):
        if on_progress is not None and offset > 2 and (offset - 2) % every == 0:
            on_progress(offset - 2, total)
        raw = {
            name: str(cells[i]).strip() if i < len(cells) and cells[i] is not None else ""
            for i, name in enumerate(mapping.columns)
            if name != IGNORE
        }
        row = Row(offset, [str(c) if c is not None else "" for c in cells])
        if mapping.kind == "contacts":
            _contact_values(raw, lang, row, keys)
            row.keys = contact_keys(row.values) if not row.errors else []
            book = next((k for k in row.keys if k in keys.contacts), None)
            if book is not None:
                row.duplicate = t(lang, "data.import.dup_contact")
        else:
            _customer_values(raw, lang, row)
            row.keys = customer_keys(row.values) if not row.errors else []
            hit = next((keys.customers[k] for k in row.keys if k in keys.customers), None)
            if hit is not None:
                row.duplicate = t(lang, "data.import.dup_book", name=hit[1])
        if row.duplicate is None and not row.errors:
            earlier = next((seen[k] for k in row.keys if k in seen), None)
            if earlier is not None:
                row.duplicate = t(lang, "data.import.dup_row", row=earlier)
            else:
                for k in row.keys:
                    seen[k] = offset
        rows.append(row)
    if on_progress is not None and total > 0:
        on_progress(total, total)
    return Checked(mapping.kind, rows)


def error_sheet(
    table: Sequence[Sequence[str]], checked: Checked, lang: str
) -> tuple[list[str], list[list[str]]]:
    """The rows that were not imported, as they were, plus one column saying why in words."""
    header = [*table[0], t(lang, "data.import.error_col"), t(lang, "data.import.row_col")]
    width = len(table[0])
    out = []
    for row in checked.rows:
        if row.ok:
            continue
        why = "; ".join(e.rstrip("。.") for e in row.errors) if row.errors else str(row.duplicate)
        cells = (row.raw + [""] * width)[:width]
        out.append([*cells, why, str(row.number)])
    return header, out
