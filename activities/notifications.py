"""Delivering escalation steps to people: kaiban's store, signed webhooks, and the ``notify`` activity.

- The store (``store.notices``, one database for every host) records a step once per
  ``Notification.key`` and, per channel, whether delivery got through; the API reads it.
- ``WebhookNotifier``: POSTs the notification as UTF-8 JSON to the audience's URL, signed:

      X-Kaiban-Delivery:  <notification key>          (the same on every retry: receivers drop duplicates)
      X-Kaiban-Timestamp: <unix seconds>
      X-Kaiban-Signature: sha256=<hex HMAC-SHA256(secret, b"<timestamp>." + body)>

  Receivers check it with ``runtime.signing.verify_signature``.
- ``NotifierActivities.notify``: record first (the API shows the step even while a webhook is
  down), then deliver; a failed delivery raises a retryable ``ApplicationError`` and the
  caller's retry policy retries it. A step already delivered on a channel is not sent again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.models import Notification
from runtime.http import retry_after_s
from runtime.settings import Settings, WebhookTarget
from runtime.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from store import Database, Notice, NoticeStore

WEBHOOK = "webhook"
DELIVERY_HEADER = "X-Kaiban-Delivery"
WEBHOOK_DELIVERY_FAILED = "WebhookDeliveryFailed"  # ApplicationError type (retryable)
_MAX_RETRY_AFTER_S = 300.0


def _log() -> Any:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


# ---------------------------------------------------------------------------------------------
# signed webhooks


def notification_body(n: Notification) -> bytes:
    """The webhook body: the notification as compact JSON, UTF-8, Chinese kept as is."""
    return json.dumps(n.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


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
            retry_after_s=(
                retry_after_s(response.headers.get("Retry-After"), cap_s=_MAX_RETRY_AFTER_S)
                if code in (429, 503)
                else None
            ),
        )


def _scrub(text: str, target: WebhookTarget) -> str:
    """An exception's text without the secret or the URL (which may carry a token)."""
    for sensitive in (target.secret, target.url):
        if sensitive:
            text = text.replace(sensitive, "***")
    return text[:200]


# ---------------------------------------------------------------------------------------------
# the activity


def notice(n: Notification) -> Notice:
    """What the store records of ``n``."""
    return Notice(
        key=n.key,
        application_id=n.application_id,
        department=n.department,
        level=n.level,
        audience=n.audience,
        sequence=n.sequence,
        due_at=n.due_at,
        planned_at=n.planned_at,
        fired_at=n.fired_at,
        window_id=n.window_id,
        message=n.message,
    )


class NotifierActivities:
    """The ``notify`` activity with its dependencies: the notice store and the webhook notifier.

    Without ``notices`` it opens ``settings.database_url`` (migrated beforehand: the worker does it
    at start) and closes it in ``aclose``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        notices: NoticeStore | None = None,
        webhooks: WebhookNotifier | None = None,
    ) -> None:
        self._settings = settings
        self._own_db: Database | None = None
        if notices is None:
            self._own_db = Database(settings.database_url)
            notices = NoticeStore(self._own_db)
        self.notices = notices
        self.webhooks = webhooks or WebhookNotifier(settings.webhooks, timeout_s=settings.webhook_timeout_s)

    async def aclose(self) -> None:
        await self.webhooks.aclose()
        if self._own_db is not None:
            self._own_db.close()

    @activity.defn(name="notify")
    async def notify(self, n: Notification) -> None:
        """Record ``n`` in the store, then deliver it to its audience's webhook if one is configured.

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
        new = await asyncio.to_thread(self.notices.record, notice(n))
        if self.webhooks.target(n.audience) is None:
            _log().info("notification_sent", channel="sink", new=new, **fields)
            return
        previous = await asyncio.to_thread(self.notices.delivery, n.key, WEBHOOK)
        if previous is not None and previous["status"] == "delivered":
            _log().info("notification_already_delivered", channel=WEBHOOK, **fields)
            return
        try:
            status_code = await self.webhooks.deliver(n)
        except WebhookDeliveryError as exc:
            await asyncio.to_thread(self.notices.mark_failed, n.key, WEBHOOK, str(exc), status_code=exc.status_code)
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
        await asyncio.to_thread(self.notices.mark_delivered, n.key, WEBHOOK, status_code)
        _log().info("notification_sent", channel=WEBHOOK, status_code=status_code, new=new, **fields)
