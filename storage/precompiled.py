"""A step's few hot statements compiled once and run straight on the driver's connection.

Every typed answer runs the same handful of statements (the chat's lock, who is writing and their
open entry, the update id, the duplicate check's postings, the entry written back). Through
SQLAlchemy each one costs far more than SQLite does: measured in the bot after a second's pause,
~0.4–0.7 ms of cache keys, execution contexts, greenlet switches, result metadata and (for the
user) ORM loading, against ~0.05 ms in sqlite3. That was most of the gap between a step and a bare
echo bot on SQLite (in-process typed step 3.3 -> 2.3 ms); on PostgreSQL, whose round trips it cannot
save, ~0.5 ms of ~4.

So `run` compiles a Core statement once per process (its SQL, the order of its parameters and the
type processors SQLAlchemy itself would apply to them and to the result), and runs it on the
session's own connection, in the same transaction, with the engine's statement events fired (the
latency histogram still sees it) and errors raised as SQLAlchemy raises them: on SQLite through the
inline driver (storage/sqlite_inline.py, with its busy-lock handling), on PostgreSQL through the
asyncpg adapter's own coroutine (its transaction start, prepared-statement cache and row count).
On any other driver, or for a statement whose SQL depends on its values (an expanding IN), it is
SQLAlchemy's own `execute`: the fast path changes nothing but time.

Plans are kept for the life of the process, keyed by the statement object: pass module constants
or statements built once per shape (search._postings_query), never one built per call.

Nothing is autoflushed first (as with SQLAlchemy's Connection.execute): statements here read or
write tables only Core writes (the entries, the update ids, the postings), or read the user at the
start of a step, where `attach` hands back the object the session may already hold, pending changes
and all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.sql import Executable
from sqlalchemy.util.concurrency import greenlet_spawn

INLINE_DRIVER = "crm_sqlite_inline"  # storage.sqlite_inline.DRIVER, not imported on PostgreSQL
_DRIVERS = (INLINE_DRIVER, "asyncpg")
_Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class Ran:
    """What a statement gave back: its rows as plain tuples (values already converted) and rowcount."""

    rows: Sequence[tuple[Any, ...]]
    rowcount: int


@dataclass(frozen=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the positional parameters, in order
    binds: tuple[_Processor, ...]
    fixed: dict[str, Any]  # values the statement itself carries (a LIMIT, a literal)
    results: tuple[_Processor, ...]


_PLANS: dict[tuple[Executable, str], _Plan | None] = {}


def _plan(statement: Executable, dialect: Dialect) -> _Plan | None:
    key = (statement, dialect.name)
    if key not in _PLANS:
        compiled: Any = cast(Any, statement).compile(dialect=dialect)
        if compiled.post_compile_params or compiled.literal_execute_params or not compiled.positional:
            _PLANS[key] = None  # its SQL depends on the values: SQLAlchemy renders it each time
        else:
            names = tuple(compiled.positiontup)
            processors = compiled._bind_processors
            _PLANS[key] = _Plan(
                sql=compiled.string,
                names=names,
                binds=tuple(processors.get(n) for n in names),
                fixed={n: compiled.binds[n].effective_value for n in names if not compiled.binds[n].required},
                results=tuple(
                    column.type._cached_result_processor(dialect, None) for column in compiled._result_columns
                ),
            )
    return _PLANS[key]


_HELD = "crm.precompiled.connection"  # session.info: (the transaction, its connection)


async def _connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection in its current transaction, asked of SQLAlchemy once per transaction:
    each `session.connection()` is a greenlet switch and a walk of the session's transaction."""
    current = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if current is not None and held is not None and held[0] is current:
        return cast(AsyncConnection, held[1])
    conn = await session.connection()
    session.info[_HELD] = (session.sync_session.get_transaction(), conn)
    return conn


async def run(session: AsyncSession, statement: Executable, params: dict[str, Any]) -> Ran:
    """`statement` with `params` in the session's transaction; see the module docstring."""
    conn = await _connection(session)
    sync: Connection = conn.sync_connection  # type: ignore[assignment]
    driver_name = sync.dialect.driver
    plan = _plan(statement, sync.dialect) if driver_name in _DRIVERS else None
    driver: Any = sync.connection.dbapi_connection
    cursor = driver.cursor() if plan is not None and driver_name != INLINE_DRIVER else None
    if cursor is not None and not hasattr(cursor, "_prepare_and_execute"):
        plan = None  # an asyncpg adapter of another shape: SQLAlchemy's way, only slower
    if plan is None:
        done: Any = await conn.execute(statement, params)
        rows = [tuple(r) for r in done.all()] if done.returns_rows else []
        return Ran(rows, done.rowcount)
    args = []
    for name, bind in zip(plan.names, plan.binds, strict=True):
        value = params[name] if name in params else plan.fixed[name]
        args.append(bind(value) if bind is not None else value)
    events = sync._has_events or sync.engine._has_events
    if events:
        sync.dispatch.before_cursor_execute(sync, None, plan.sql, args, None, False)
    try:
        if driver_name == INLINE_DRIVER:
            from storage.sqlite_inline import run_statement  # loaded with the SQLite engine already

            _, raw, rowcount, _ = await driver.run_here(lambda db: run_statement(db, plan.sql, args))
        else:
            # the asyncpg adapter's own coroutine, as its cursor runs it inside SQLAlchemy's
            # execute: the transaction begun if it was not yet, the prepared-statement cache, the
            # row count from the status, asyncpg's errors turned into the adapter's
            assert cursor is not None
            await cursor._prepare_and_execute(plan.sql, args)
            raw, rowcount = cursor._rows, cursor._rowcount
    except Exception as error:
        # as SQLAlchemy's execute would have raised it: wrapped, and a lost connection invalidated
        # (errors.py reads both); on its greenlet, as an invalidation closes the connection
        await greenlet_spawn(_raise_wrapped, sync, error, plan.sql, args)
        raise  # not reached: _raise_wrapped always raises
    if events:
        sync.dispatch.after_cursor_execute(sync, None, plan.sql, args, None, False)
    results = plan.results
    rows = [
        tuple(v if p is None else p(v) for p, v in zip(results, row, strict=True)) if results else row
        for row in raw
    ]
    return Ran(rows, rowcount)


def _raise_wrapped(sync: Connection, error: Exception, sql: str, args: list[Any]) -> None:
    try:
        raise error
    except Exception as raised:
        sync._handle_dbapi_exception(raised, sql, tuple(args), None, None)


def attach(session: AsyncSession, cls: type[Any], values: dict[str, Any]) -> Any:
    """The persistent object of `cls` whose columns are `values` (as read just now), in `session`.

    What the ORM's own loading does for one row, without its per-row machinery: an object the session
    already holds is returned as it is (its pending changes are the session's); otherwise a new one
    is filled as loaded (nothing to flush) and added, so that changes to it are flushed at commit.
    """
    mapper: Any = cls.__mapper__
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    held = session.identity_map.get(key)
    if held is not None:
        return held
    obj = mapper.class_manager.new_instance()
    obj.__dict__.update(values)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj
