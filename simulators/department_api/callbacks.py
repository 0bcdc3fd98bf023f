"""Callbacks: the department POSTs a submission's state to its ``callback_url`` (best effort, 3 s), signed:
``X-Kaiban-Timestamp`` and ``X-Kaiban-Signature: sha256=<HMAC-SHA256(secret, timestamp + "." + body)>``."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time

import httpx

from simulators.department_api.state import Department

CALLBACK_TIMEOUT_S = 3.0


async def post_callback(department: Department, ticket: str, delay: float, expect: tuple[str, ...]) -> None:
    """After ``delay``, POST the submission if it has a callback URL and its status is one of ``expect``."""
    try:
        if delay > 0:
            await asyncio.sleep(delay)
        target = await asyncio.to_thread(department.filings.callback_target, ticket)
        if target is None or not target[1] or target[0]["status"] not in expect:
            return
        submission, url = target
        body = json.dumps(submission, ensure_ascii=False).encode("utf-8")
        async with httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S) as client:
            await client.post(
                url,
                content=body,
                headers={"Content-Type": "application/json", "X-Department": department.code, **sign(department, body)},
            )
    except asyncio.CancelledError:
        raise
    except Exception:  # a callback is best effort: the inquiry endpoint stays authoritative
        pass


def sign(department: Department, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The signature headers of one callback body, under the department's callback secret."""
    return sign_bytes(department.callback_secret, body, timestamp)


def sign_bytes(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """``X-Kaiban-Timestamp`` and ``X-Kaiban-Signature: sha256=<HMAC-SHA256(secret, "<ts>." + body)>``."""
    ts = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Kaiban-Timestamp": str(ts), "X-Kaiban-Signature": f"sha256={digest}"}


def schedule_callback(department: Department, ticket: str, delay: float, expect: tuple[str, ...]) -> None:
    task = asyncio.get_running_loop().create_task(post_callback(department, ticket, delay, expect))
    department.pending.add(task)
    task.add_done_callback(department.pending.discard)


async def cancel_pending(department: Department) -> None:
    """On shutdown: the callbacks not yet sent are dropped."""
    for task in list(department.pending):
        task.cancel()
    if department.pending:
        await asyncio.gather(*department.pending, return_exceptions=True)
