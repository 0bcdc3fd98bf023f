"""Signed HTTP bodies, both ways: kaiban's webhooks and the departments' callbacks.

``X-Kaiban-Timestamp: <unix seconds>`` and ``X-Kaiban-Signature: sha256=<hex HMAC-SHA256(secret,
"<timestamp>." + raw body)>``; a receiver refuses a signature older or newer than its tolerance.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_PREFIX = "sha256="
TIMESTAMP_HEADER = "X-Kaiban-Timestamp"
SIGNATURE_HEADER = "X-Kaiban-Signature"


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
