"""Customer searches whose cost does not grow with the book: a gram index fetches a few candidates.

Duplicate checks, /find and its fuzzy half used to read every customer's name key and score them all
in Python. Instead every customer keeps a set of short tokens in `search_grams` (name, name key,
e-mail, phone and contact names), and a search reads only the postings of its own tokens, each read
capped at CAP rows: a token shared by more customers than that ("有限", "公司", "ing") names no one
and is skipped. The candidates then go through the same checks as before (the LIKE conditions, and
rapidfuzz on the name keys), so what is found is what the full scan found, from a bounded set.

Why a table of our own and not pg_trgm or an FTS5 trigram table: trigram indexes cannot serve a
two-character needle, and 华为 or 张三 is the usual Chinese search; CJK text gets bigrams here (ASCII
keeps trigrams, bigrams of Latin letters are too common to select anything). One plain table with a
primary key also gives the same candidates on SQLite and PostgreSQL, so one equivalence test covers
both.

Known difference from the full scan (tests/storage/test_search.py measures it): a fuzzy match that
shares only common tokens with the probe (and is not within one edit of a short key) is not found.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from storage import precompiled
from storage.models import Contact, Customer, SearchGram

CAP = 100  # postings read per token at most; a token in more customers than this is too common
_SHORT_KEY = (3, 6)  # name keys this long also index their one-deletion variants (CJK typos)
_TWICE = (5, 8)  # keys from 5 (probes up to 8) characters long: two-deletion variants too
_MAX_TOKEN = 64
_ALWAYS = ("=", "#")  # the exact-key and number rows: never "too common"


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def grams(text: str) -> set[str]:
    """Bigrams where CJK (or other non-ASCII) text is, trigrams of ASCII, over letters and digits only.

    Each gram depends only on its own characters, so a needle's grams are among the grams of any text
    that contains it: a text without one of them cannot match, which is what makes the filter safe.
    """
    s = _letters(text)
    out = {s[i : i + 2] for i in range(len(s) - 1) if not s[i : i + 2].isascii()}
    out.update(s[i : i + 3] for i in range(len(s) - 2) if s[i : i + 3].isascii())
    return out


def _deletions(key: str, twice: bool = False) -> set[str]:
    once = {key[:i] + key[i + 1 :] for i in range(len(key))}
    return once | {v[:i] + v[i + 1 :] for v in once for i in range(len(v))} if twice else once


def _digit_windows(text: str) -> set[str]:
    """Six-digit windows: any searched run of six digits or more contains its last six as one of them
    (digit trigrams are too common to select: every phone and many e-mails have them)."""
    return {w for w in (text[i : i + 6] for i in range(len(text) - 5)) if w.isascii() and w.isdigit()}


def customer_tokens(
    name: str, name_key: str, email: str | None, phone: str | None, contacts: Iterable[str]
) -> set[str]:
    """Every token a customer is found by; kept in sync by `reindex`."""
    texts = [name, name_key, email or "", *contacts]
    tokens = {f"n:{g}" for text in texts for g in grams(text)}
    tokens.update(f"p:{w}" for text in [*texts, phone or ""] for w in _digit_windows(_letters(text)))
    if phone:
        tokens.update(f"p:{w}" for w in _digit_windows(phone))
    n = len(name_key)
    if 0 < n <= _SHORT_KEY[1]:  # "mar" is 75 for "marde": too short to share a selective gram
        tokens.add(f"d:{name_key}")
        if n >= _SHORT_KEY[0]:
            tokens.update(f"d:{v}" for v in _deletions(name_key, twice=n >= _TWICE[0]))
    return {t for t in tokens if len(t) <= _MAX_TOKEN}


async def reindex(session: AsyncSession, customer_id: int) -> None:
    """Recompute a customer's tokens after a create or an edit of a searched field or contact."""
    customer = await session.get(Customer, customer_id)
    await session.execute(delete(SearchGram).where(SearchGram.customer_id == customer_id))
    if customer is None:
        return
    contacts = (
        await session.execute(select(Contact.name).where(Contact.customer_id == customer_id))
    ).scalars()
    tokens = customer_tokens(customer.name, customer.name_key, customer.email, customer.phone, list(contacts))
    if tokens:
        await session.execute(
            insert(SearchGram), [{"gram": t, "customer_id": customer_id} for t in sorted(tokens)]
        )


async def reindex_many(session: AsyncSession, customer_ids: Iterable[int]) -> None:
    """`reindex` for many customers at once (a bulk import): two reads and batched writes."""
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        await session.execute(delete(SearchGram).where(SearchGram.customer_id.in_(chunk)))
        people: dict[int, list[str]] = {i: [] for i in chunk}
        for cid, name in await session.execute(
            select(Contact.customer_id, Contact.name).where(Contact.customer_id.in_(chunk))
        ):
            people[cid].append(name)
        rows = []
        found = await session.execute(
            select(Customer.id, Customer.name, Customer.name_key, Customer.email, Customer.phone).where(
                Customer.id.in_(chunk)
            )
        )
        for cid, name, key, email, phone in found:
            rows += [
                {"gram": t, "customer_id": cid} for t in customer_tokens(name, key, email, phone, people[cid])
            ]
        for at in range(0, len(rows), 5000):
            await session.execute(insert(SearchGram), rows[at : at + 5000])


class _Read:
    """Postings per token as read, and the tokens found too common to read."""

    def __init__(self) -> None:
        self.ids: dict[str, set[int]] = {}
        self.common: set[str] = set()

    def rare(self, tokens: Iterable[str]) -> list[set[int]]:
        """The complete postings of `tokens` (a token nobody has is the rarest: an empty set)."""
        return [self.ids.get(t, set()) for t in tokens if t not in self.common]


# the extra row kinds a postings read may carry: the exact name key ("=") or the customer number ("#")
_EXTRA = {"=": Customer.name_key, "#": Customer.number}


@lru_cache(maxsize=256)
def _postings_query(count: int, extra: str | None) -> Any:
    """The postings read for `count` tokens (bound as t0…tN) plus an optional extra kind (bound as x).

    Built once per shape: constructing and cache-keying a union of a few dozen subqueries cost more
    than running it, on every duplicate check and /find.
    """
    parts: list[Any] = [
        select(sq.c.gram, sq.c.customer_id)
        for sq in (
            select(SearchGram.gram, SearchGram.customer_id)
            .where(SearchGram.gram == bindparam(f"t{i}"))
            .limit(CAP + 1)
            .subquery()
            for i in range(count)
        )
    ]
    if extra is not None:
        parts.append(
            select(literal(extra).label("gram"), Customer.id.label("customer_id")).where(
                _EXTRA[extra] == bindparam("x")
            )
        )
    read = union_all(*parts).subquery()
    counted = select(
        read.c.gram,
        read.c.customer_id,
        func.count().over(partition_by=read.c.gram).label("n"),
        func.row_number().over(partition_by=read.c.gram).label("nth"),
    ).subquery()
    return select(counted.c.gram, counted.c.customer_id, counted.c.n).where(
        or_(
            counted.c.n <= CAP, counted.c.nth == 1, counted.c.gram.in_([literal(g) for g in _ALWAYS])
        )  # not expanding: compiled once
    )


async def _postings(
    session: AsyncSession, tokens: Sequence[str], extra: tuple[str, str] | None = None
) -> _Read:
    """Customer ids per token in one round trip; a token in more than CAP customers is common.

    Each token's read stops at CAP + 1 rows, and the database drops the postings of common tokens
    before sending (one marker row each), so what crosses the wire is bounded by the rare ones.
    `extra` is (kind, value): also the customers whose name key ("=") or number ("#") is value.
    """
    found = _Read()
    if not tokens and extra is None:
        return found
    params: dict[str, Any] = {f"t{i}": token for i, token in enumerate(tokens)}
    if extra is not None:
        params["x"] = extra[1]
    query = _postings_query(len(tokens), extra[0] if extra is not None else None)
    for gram, cid, n in (await precompiled.run(session, query, params)).rows:
        if gram not in _ALWAYS and n > CAP:
            found.common.add(str(gram))
        else:
            found.ids.setdefault(str(gram), set()).add(int(cid))
    return found


async def substring_candidates(
    session: AsyncSession, needle: str, digits: str, number: str | None = None
) -> set[int] | None:
    """Ids that may contain `needle` in a name, e-mail or contact name, or its digits in the phone,
    plus the customer numbered `number`.

    None when the needle has no selective token (one character, two Latin letters, or only common
    grams): the caller then runs its old query unrestricted.
    """
    letters = _letters(needle)
    if len(letters) >= 6 and letters.isascii() and letters.isdigit():
        text_tokens = [f"p:{letters[-6:]}"]  # a number typed as text: its digit windows
    else:
        text_tokens = [f"n:{g}" for g in sorted(grams(needle))]
    phone_token = [f"p:{digits[-6:]}"] if len(digits) >= 6 else []
    by_number = ("#", number) if number is not None else None
    found = await _postings(session, sorted({*text_tokens, *phone_token}), by_number)
    rare = found.rare(text_tokens)
    if not rare:
        return None
    ids = set.intersection(*rare)  # a match has every gram of the needle: the rarest ones suffice
    if phone_token:
        phone_ids = found.rare(phone_token)
        if not phone_ids:
            return None
        ids |= phone_ids[0]
    return ids | found.ids.get("#", set())


async def name_candidates(session: AsyncSession, probe_key: str) -> set[int]:
    """Ids whose name key may score well against `probe_key`: the same key, a shared uncommon gram,
    or (short keys) one insertion, deletion or substitution away."""
    tokens = [f"n:{g}" for g in sorted(grams(probe_key))]
    n = len(probe_key)
    if n <= _TWICE[1]:  # within two insertions or deletions of a short key, or one substitution
        variants = {probe_key} if n <= _SHORT_KEY[1] else set()
        if n >= _SHORT_KEY[0]:
            variants |= _deletions(probe_key, twice=n >= _TWICE[0])
        tokens += [f"d:{v}" for v in sorted(variants) if len(v) >= 2]
    found = await _postings(session, tokens, ("=", probe_key))
    ids = set(found.ids.get("=", set()))
    for posting in found.rare(tokens):
        ids |= posting
    return ids
