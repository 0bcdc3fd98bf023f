"""A store that already knows one application of window TY-XD-01 (what the API's access checks read)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from store import Store

APP_ID = "KB20261130-AAAAAAAAAA"


def store_with_application(directory: Path, application_id: str = APP_ID) -> str:
    """The SQLite URL of kaiban's store in ``directory``, with ``application_id`` recorded (idempotent)."""
    url = f"sqlite:///{directory / 'kaiban.sqlite3'}"
    store = Store.open(url)
    try:
        store.applications.record(
            application_id=application_id,
            window_id="TY-XD-01",
            submitted_by="clerk-0007",
            company_name="太原示例科技有限公司",
            submitted_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        )
    finally:
        store.close()
    return url
