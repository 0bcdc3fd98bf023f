"""kaiban's own records in one database (SQLite by default, PostgreSQL in production).

``Store.open(url)`` migrates the schema to the newest revision and opens it; ``store.notices`` holds the
escalation notices and their deliveries, ``store.applications`` the submitted applications (window,
clerk, idempotency key), ``store.audit`` the append-only audit trail and ``store.callbacks`` the
department callback signatures seen (replays refused), ``store.calendars`` the official holiday
arrangements admins loaded, ``store.mappings`` the field mappings of changed portals. Imports only
``runtime``, ``domain`` and third-party libraries.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from store.applications import ApplicationRecord, ApplicationStore
from store.audit import ANONYMOUS, AuditEntry, AuditStore, Outcome
from store.calendars import CalendarStore, LoadedYear
from store.callbacks import CallbackReplayGuard
from store.db import Database, safe_url, upgrade
from store.mappings import MappingRecord, MappingStore
from store.notices import Notice, NoticeStore


class Store:
    """One database per process, with a store object per kind of record."""

    def __init__(self, url: str | URL) -> None:
        self.db = Database(url)
        self.notices = NoticeStore(self.db)
        self.applications = ApplicationStore(self.db)
        self.audit = AuditStore(self.db)
        self.callbacks = CallbackReplayGuard(self.db)
        self.calendars = CalendarStore(self.db)
        self.mappings = MappingStore(self.db)

    @classmethod
    def open(cls, url: str | URL) -> Store:
        """Bring the schema up to date (safe when several processes start at once), then open it."""
        upgrade(url)
        return cls(url)

    def close(self) -> None:
        self.db.close()

    def __repr__(self) -> str:
        return f"Store({safe_url(self.db.url)!r})"


__all__ = [
    "ANONYMOUS",
    "ApplicationRecord",
    "ApplicationStore",
    "AuditEntry",
    "AuditStore",
    "CalendarStore",
    "CallbackReplayGuard",
    "Database",
    "LoadedYear",
    "MappingRecord",
    "MappingStore",
    "Notice",
    "NoticeStore",
    "Outcome",
    "Store",
    "upgrade",
]
