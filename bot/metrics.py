"""What an operator watches: Prometheus `/metrics` and a `/healthz` that asks the database.

Counts and latencies only, never who or what was typed. The HTTP side is tornado (it already serves
python-telegram-bot's webhook), started only when a port is set, so polling without metrics pays no
import for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from tornado.httpserver import HTTPServer

log = logging.getLogger(__name__)

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
REMINDER_OUTCOMES = (
    "created",
    "sent",
    "cancelled",
    "deferred",
    "held",
    "expired",
    "retried",
    "failed",
    "lost",
)


def update_kind(update: object) -> str:
    """A coarse label (bounded: never a chat or a command's argument)."""
    for kind in ("callback_query", "message", "edited_message", "my_chat_member"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"


class Metrics:
    """One registry per process (tests make their own, so nothing is shared between them)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.updates = Counter("crm_updates", "Updates handled", ["kind"], registry=r)
        self.step_seconds = Histogram(
            "crm_step_seconds",
            "Time to handle one update, replies included",
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.errors = Counter("crm_errors", "Updates whose handling raised", ["kind"], registry=r)
        self.in_progress = Gauge("crm_updates_in_progress", "Updates being handled now", registry=r)
        self.reminders = Counter("crm_reminders", "Reminders by what became of them", ["outcome"], registry=r)
        self.reminders_due = Counter("crm_reminders_due", "Due reminders the loop took up", registry=r)
        self.db_seconds = Histogram(
            "crm_db_statement_seconds", "Database statement latency", buckets=DB_BUCKETS, registry=r
        )
        self.db_up = Gauge("crm_db_up", "1 when the last health check reached the database", registry=r)
        self.flood_waits = Counter("crm_flood_waits", "429 answers from Telegram", registry=r)

    def observe_update(self, update: object, seconds: float, error: BaseException | None) -> None:
        kind = update_kind(update)
        self.updates.labels(kind).inc()
        self.step_seconds.observe(seconds)
        if error is not None:
            self.errors.labels(kind).inc()

    def observe_error(self, update: object) -> None:
        self.errors.labels(update_kind(update)).inc()

    def observe_reminders(self, report: Any) -> None:
        """A delivery tick's Report: each outcome counted, and what was due in all."""
        due = 0
        for outcome in REMINDER_OUTCOMES:
            n = int(getattr(report, outcome, 0) or 0)
            if n:
                self.reminders.labels(outcome).inc(n)
                if outcome != "created":
                    due += n
        if due:
            self.reminders_due.inc(due)

    def render(self) -> bytes:
        return generate_latest(self.registry)


Check = Callable[[], Awaitable[None]]


async def serve(metrics: Metrics, listen: str, port: int, health: Check) -> HTTPServer:
    """`/metrics` and `/healthz` on listen:port (a tornado server on the running loop)."""
    import tornado.httpserver
    import tornado.web

    class MetricsHandler(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", CONTENT_TYPE_LATEST)
            self.write(metrics.render())

    class HealthHandler(tornado.web.RequestHandler):
        async def get(self) -> None:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(health(), 5.0)
            except Exception as exc:  # the type only: a driver's message may carry the URL
                metrics.db_up.set(0)
                log.warning("health check failed: %s", type(exc).__name__)
                self.set_status(503)
                self.write({"ok": False, "database": "unreachable"})
                return
            metrics.db_up.set(1)
            self.write({"ok": True, "database_ms": round((time.perf_counter() - started) * 1000, 1)})

    app = tornado.web.Application([(r"/metrics", MetricsHandler), (r"/healthz", HealthHandler)])
    server = tornado.httpserver.HTTPServer(app)
    server.listen(port, address=listen)
    log.info("metrics and health on port %d", port)
    return server
