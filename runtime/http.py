"""HTTP details every channel reads the same way (department APIs, portals, webhooks)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


def retry_after_s(value: str | None, *, now: datetime | None = None, cap_s: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    None when absent or unreadable; never negative; at most ``cap_s`` when given.
    """
    if not value or not value.strip():
        return None
    value = value.strip()
    seconds: float
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    seconds = max(0.0, seconds)
    return min(seconds, cap_s) if cap_s is not None else seconds
