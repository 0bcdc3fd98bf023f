"""Delivering escalation steps to people: a local sink, signed webhooks, and the ``notify`` activity.

- ``NotificationSink``: SQLite (WAL) file written by the worker and read by the API. A step is
  recorded once per ``Notification.key``; per channel it keeps whether delivery got through
  (status, attempts, last status code, last error).
- ``WebhookNotifier``: POSTs the notification as UTF-8 JSON to the audience's URL, signed:

      X-Kaiban-Delivery:  <notification key>          (the same on every retry: receivers drop duplicates)
      X-Kaiban-Timestamp: <unix seconds>
      X-Kaiban-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

  Receivers check it with ``verify_signature``.
- ``NotifierActivities.notify``: record first (the API shows the step even while a webhook is
  down), then deliver; a failed delivery raises a retryable ``ApplicationError`` and the
  caller's retry policy retries it. A step already delivered on a channel is not sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import Notification
from runtime.settings import Settings, WebhookTarget

WEBHOOK = "webhook"
DELIVERY_HEADER = "X-Kaiban-Delivery"
TIMESTAMP_HEADER = "X-Kaiban-Timestamp"
SIGNATURE_HEADER = "X-Kaiban-Signature"
SIGNATURE_PREFIX = "sha256="
WEBHOOK_DELIVERY_FAILED = "WebhookDeliveryFailed"  # ApplicationError type (retryable)
_MAX_ERROR_CHARS = 500
_MAX_RETRY_AFTER_S = 300.0


def _log() -> Any:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# the sink

_SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    key            TEXT NOT NULL UNIQUE,
    application_id TEXT NOT NULL,
    department     TEXT,
    level          TEXT NOT NULL,
    audience       TEXT NOT NULL,
    sequence       INTEGER NOT NULL,
    due_at         TEXT NOT NULL,
    planned_at     TEXT NOT NULL,
    fired_at       TEXT NOT NULL,
    fired_ts       REAL NOT NULL,
    window_id      TEXT NOT NULL,
    message        TEXT NOT NULL,
    recorded_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_notifications_fired ON notifications (fired_ts DESC, seq DESC);
CREATE INDEX IF NOT EXISTS ix_notifications_application ON notifications (application_id, fired_ts DESC);
CREATE INDEX IF NOT EXISTS ix_notifications_audience ON notifications (audience, fired_ts DESC);
CREATE TABLE IF NOT EXISTS deliveries (
    key              TEXT NOT NULL,
    channel          TEXT NOT NULL,
    status           TEXT NOT NULL,       -- delivered | failed
    attempts         INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error       TEXT,
    first_attempt_at TEXT NOT NULL,
    last_attempt_at  TEXT NOT NULL,
    delivered_at     TEXT,
    PRIMARY KEY (key, channel)
);
"""

_NOTIFICATION_COLUMNS = (
    "key", "application_id", "department", "level", "audience", "sequence",
    "due_at", "planned_at", "fired_at", "window_id", "message", "recorded_at",
)  # fmt: skip
_DATETIME_COLUMNS = (
    "due_at",
    "planned_at",
    "fired_at",
    "recorded_at",
    "first_attempt_at",
    "last_attempt_at",
    "delivered_at",
)


class NotificationSink:
    """Escalation steps on local disk (SQLite, WAL): one writer process, any number of readers.

    Every call opens its own short-lived connection, so one instance is safe from any thread
    and several processes may share the file. Calls block (briefly): from async code run them
    in a thread (``asyncio.to_thread``).
    """

    def __init__(self, path: Path | str, *, busy_timeout_s: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent in the file; readers never block the writer
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA synchronous=FULL")  # a recorded step survives a power cut
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- writing ----------------------------------------------------------------------------------

    def record(self, n: Notification) -> bool:
        """Store ``n`` unless its key is already there. True when it was new."""
        with self._transaction() as db:
            cur = db.execute(
                "INSERT INTO notifications (key, application_id, department, level, audience, sequence, due_at,"
                " planned_at, fired_at, fired_ts, window_id, message, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (
                    n.key, n.application_id, n.department, n.level, n.audience, n.sequence,
                    n.due_at.isoformat(), n.planned_at.isoformat(), n.fired_at.isoformat(), _timestamp(n.fired_at),
                    n.window_id, n.message, _now().isoformat(),
                ),
            )  # fmt: skip
            return cur.rowcount == 1

    def mark_delivered(self, key: str, channel: str, status_code: int | None) -> None:
        """One attempt on ``channel`` got through (the last error, if any, is kept for the record)."""
        now = _now().isoformat()
        with self._transaction() as db:
            self._require(db, key)
            db.execute(
                "INSERT INTO deliveries (key, channel, status, attempts, last_status_code, last_error,"
                " first_attempt_at, last_attempt_at, delivered_at) VALUES (?, ?, 'delivered', 1, ?, NULL, ?, ?, ?)"
                " ON CONFLICT (key, channel) DO UPDATE SET status = 'delivered', attempts = attempts + 1,"
                " last_status_code = excluded.last_status_code, last_attempt_at = excluded.last_attempt_at,"
                " delivered_at = excluded.delivered_at",
                (key, channel, status_code, now, now, now),
            )

    def mark_failed(self, key: str, channel: str, error: str, *, status_code: int | None = None) -> None:
        """One attempt on ``channel`` failed with ``error`` (a channel once delivered stays delivered)."""
        now = _now().isoformat()
        error = error[:_MAX_ERROR_CHARS]
        with self._transaction() as db:
            self._require(db, key)
            db.execute(
                "INSERT INTO deliveries (key, channel, status, attempts, last_status_code, last_error,"
                " first_attempt_at, last_attempt_at) VALUES (?, ?, 'failed', 1, ?, ?, ?, ?)"
                " ON CONFLICT (key, channel) DO UPDATE SET"
                " status = CASE WHEN status = 'delivered' THEN 'delivered' ELSE 'failed' END,"
                " attempts = attempts + 1, last_status_code = excluded.last_status_code,"
                " last_error = excluded.last_error, last_attempt_at = excluded.last_attempt_at",
                (key, channel, status_code, error, now, now),
            )

    @staticmethod
    def _require(db: sqlite3.Connection, key: str) -> None:
        if db.execute("SELECT 1 FROM notifications WHERE key = ?", (key,)).fetchone() is None:
            raise KeyError(f"no notification {key!r} in the sink")

    # -- reading ----------------------------------------------------------------------------------

    def get(self, key: str) -> dict | None:
        """One notification with its deliveries, or None."""
        with self._connect() as db:
            row = db.execute(
                f"SELECT {', '.join(_NOTIFICATION_COLUMNS)} FROM notifications WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return None
            return self._with_deliveries(db, [row])[0]

    def delivery(self, key: str, channel: str) -> dict | None:
        """The delivery state of one notification on one channel, or None if never attempted."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM deliveries WHERE key = ? AND channel = ?", (key, channel)).fetchone()
            return _delivery_dict(row) if row else None

    def list(
        self,
        *,
        application_id: str | None = None,
        audience: str | None = None,
        department: str | None = None,
        level: str | Iterable[str] | None = None,
        limit: int = 200,
    ) -> list[dict]:
        """Notifications, newest first (by the instant the step fired), each with its deliveries.

        ``level`` may be one level or several. Each dict has the ``Notification`` fields (datetimes
        as ``datetime``), ``recorded_at``, ``deliveries`` (one dict per channel attempted) and
        ``delivery_status``: ``delivered`` (some channel got through), ``failed`` (attempted,
        none got through yet) or ``recorded`` (only in the sink).
        """
        where: list[str] = []
        params: list[Any] = []
        for column, value in (("application_id", application_id), ("audience", audience), ("department", department)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if level is not None:
            levels = [level] if isinstance(level, str) else list(level)
            where.append(f"level IN ({', '.join('?' * len(levels))})" if levels else "0")
            params.extend(levels)
        sql = f"SELECT {', '.join(_NOTIFICATION_COLUMNS)} FROM notifications"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY fired_ts DESC, seq DESC LIMIT ?"
        params.append(max(0, int(limit)))
        with self._connect() as db:
            rows = db.execute(sql, params).fetchall()
            return self._with_deliveries(db, rows)

    @staticmethod
    def _with_deliveries(db: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict]:
        items = [_notification_dict(r) for r in rows]
        if not items:
            return items
        by_key: dict[str, list[dict]] = {item["key"]: [] for item in items}
        keys = list(by_key)
        for start in range(0, len(keys), 500):  # stay below SQLite's bound-parameter limit
            chunk = keys[start : start + 500]
            for d in db.execute(
                f"SELECT * FROM deliveries WHERE key IN ({', '.join('?' * len(chunk))}) ORDER BY channel", chunk
            ):
                by_key[d["key"]].append(_delivery_dict(d))
        for item in items:
            item["deliveries"] = by_key[item["key"]]
            statuses = {d["status"] for d in item["deliveries"]}
            item["delivery_status"] = "delivered" if "delivered" in statuses else "failed" if statuses else "recorded"
        return items


def _timestamp(dt: datetime) -> float:
    if dt.tzinfo is None:  # workflow times are aware; a naive one is taken as UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _notification_dict(row: sqlite3.Row) -> dict:
    out = {k: row[k] for k in _NOTIFICATION_COLUMNS}
    for k in _DATETIME_COLUMNS:
        if k in out:
            out[k] = _parse(out[k])
    return out


def _delivery_dict(row: sqlite3.Row) -> dict:
    out = {k: row[k] for k in row.keys() if k != "key"}
    for k in _DATETIME_COLUMNS:
        if k in out:
            out[k] = _parse(out[k])
    return out


# ---------------------------------------------------------------------------------------------
# signed webhooks


def notification_body(n: Notification) -> bytes:
    """The webhook body: the notification as compact JSON, UTF-8, Chinese kept as is."""
    return json.dumps(n.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(
    secret: str | bytes,
    timestamp: str | int | None,
    body: bytes | str,
    header: str | None,
    *,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """For receivers: is ``header`` the signature of ``body`` at ``timestamp``, made within ``tolerance_s``?

    ``timestamp`` and ``header`` are the raw ``X-Kaiban-Timestamp`` / ``X-Kaiban-Signature``
    values; ``body`` the raw request body. Malformed input is simply not valid.
    """
    if timestamp is None or not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    try:
        ts = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_s:
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else body
    return hmac.compare_digest(sign(secret, ts, raw).encode(), header.strip().encode("utf-8", "replace"))


class WebhookDeliveryError(Exception):
    """A webhook attempt did not get a 2xx answer. Retryable; the message never holds the secret or URL."""

    def __init__(
        self,
        message: str,
        *,
        audience: str,
        status_code: int | None = None,
        configuration_problem: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.audience = audience
        self.status_code = status_code
        self.configuration_problem = configuration_problem
        self.retry_after_s = retry_after_s

    def __reduce__(self):  # keep attributes across pickling (keyword-only args are not in self.args)
        return (type(self), self.args, self.__dict__)


class WebhookNotifier:
    """Signed webhook delivery per audience over one reusable ``httpx.AsyncClient``."""

    def __init__(
        self,
        targets: Mapping[str, WebhookTarget],
        *,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Any = time.time,
    ) -> None:
        self._targets = dict(targets)
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, headers={"User-Agent": "kaiban-notifier/1"}
        )
        self._clock = clock

    def target(self, audience: str) -> WebhookTarget | None:
        return self._targets.get(audience)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def deliver(self, n: Notification) -> int:
        """POST ``n`` to its audience's webhook; the 2xx status code, or ``WebhookDeliveryError``."""
        target = self._targets.get(n.audience)
        if target is None:
            raise LookupError(f"no webhook configured for audience {n.audience!r}")
        body = notification_body(n)
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            DELIVERY_HEADER: n.key,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(target.secret, timestamp, body),
        }
        try:
            response = await self._client.post(target.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise WebhookDeliveryError(
                f"webhook for audience {n.audience!r} timed out ({type(exc).__name__})", audience=n.audience
            ) from None
        except httpx.HTTPError as exc:
            detail = _scrub(str(exc), target)
            raise WebhookDeliveryError(
                f"webhook for audience {n.audience!r} unreachable: {type(exc).__name__}"
                + (f": {detail}" if detail else ""),
                audience=n.audience,
            ) from None
        code = response.status_code
        if 200 <= code < 300:
            return code
        # 3xx (we never follow redirects) and 4xx other than 408/429: the URL or secret is wrong.
        configuration = (300 <= code < 500) and code not in (408, 429)
        raise WebhookDeliveryError(
            f"webhook for audience {n.audience!r} answered HTTP {code}"
            + (" (check the webhook URL and secret)" if configuration else ""),
            audience=n.audience,
            status_code=code,
            configuration_problem=configuration,
            retry_after_s=_retry_after(response) if code in (429, 503) else None,
        )


def _scrub(text: str, target: WebhookTarget) -> str:
    """An exception's text without the secret or the URL (which may carry a token)."""
    for sensitive in (target.secret, target.url):
        if sensitive:
            text = text.replace(sensitive, "***")
    return text[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


# ---------------------------------------------------------------------------------------------
# the activity


class NotifierActivities:
    """The ``notify`` activity with its dependencies: the sink and the webhook notifier."""

    def __init__(
        self,
        settings: Settings,
        *,
        sink: NotificationSink | None = None,
        webhooks: WebhookNotifier | None = None,
    ) -> None:
        self._settings = settings
        self.sink = sink or NotificationSink(settings.notification_sink_path)
        self.webhooks = webhooks or WebhookNotifier(settings.webhooks, timeout_s=settings.webhook_timeout_s)

    async def aclose(self) -> None:
        await self.webhooks.aclose()

    @activity.defn(name="notify")
    async def notify(self, n: Notification) -> None:
        """Record ``n`` in the sink, then deliver it to its audience's webhook if one is configured.

        A failed delivery raises a retryable ``ApplicationError`` (type ``WebhookDeliveryFailed``);
        the caller's retry policy decides how often to try again.
        """
        fields = {
            "notification_key": n.key,
            "application_id": n.application_id,
            "department": n.department,
            "level": n.level,
            "audience": n.audience,
            "sequence": n.sequence,
            "attempt": activity.info().attempt,
        }
        new = await asyncio.to_thread(self.sink.record, n)
        if self.webhooks.target(n.audience) is None:
            _log().info("notification_sent", channel="sink", new=new, **fields)
            return
        previous = await asyncio.to_thread(self.sink.delivery, n.key, WEBHOOK)
        if previous is not None and previous["status"] == "delivered":
            _log().info("notification_already_delivered", channel=WEBHOOK, **fields)
            return
        try:
            status_code = await self.webhooks.deliver(n)
        except WebhookDeliveryError as exc:
            await asyncio.to_thread(self.sink.mark_failed, n.key, WEBHOOK, str(exc), status_code=exc.status_code)
            log_method = _log().error if exc.configuration_problem else _log().warning
            log_method(
                "notification_delivery_failed",
                channel=WEBHOOK,
                status_code=exc.status_code,
                error=str(exc),
                problem="configuration" if exc.configuration_problem else "transient",
                **fields,
            )
            raise ApplicationError(
                str(exc),
                type=WEBHOOK_DELIVERY_FAILED,
                next_retry_delay=timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None,
            ) from None
        await asyncio.to_thread(self.sink.mark_delivered, n.key, WEBHOOK, status_code)
        _log().info("notification_sent", channel=WEBHOOK, status_code=status_code, new=new, **fields)
