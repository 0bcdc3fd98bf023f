"""The application store on SQLite and PostgreSQL: idempotent records, windows for access control,
the newest submission of a window by idempotency key within its lifetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from store import ApplicationRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 1, 9, 30, tzinfo=SHANGHAI)


def submit(store, application_id: str, *, window_id: str = "W-07", at: datetime = T0, key: str | None = None) -> bool:
    return store.applications.record(
        application_id=application_id,
        window_id=window_id,
        submitted_by="clerk-li",
        company_name="杭州示例科技有限公司",
        submitted_at=at,
        idempotency_key=key,
        body_sha256="ab" * 32 if key else None,
    )


def test_record_is_idempotent_and_reads_back(store):
    assert submit(store, "KB20261201-AAAA", key="k-1") is True
    again = store.applications.record(
        application_id="KB20261201-AAAA", window_id="W-99", submitted_by="someone-else",
        company_name="别的公司", submitted_at=T0 + timedelta(hours=1),
    )  # fmt: skip
    assert again is False
    assert store.applications.get("KB20261201-AAAA") == ApplicationRecord(
        application_id="KB20261201-AAAA",
        window_id="W-07",  # the first record wins
        submitted_by="clerk-li",
        company_name="杭州示例科技有限公司",
        submitted_at=T0,
        idempotency_key="k-1",
        body_sha256="ab" * 32,
    )
    got = store.applications.get("KB20261201-AAAA")
    assert got.submitted_at.tzinfo is not None and got.submitted_at.utcoffset() == timedelta(0)
    assert store.applications.get("KB-NONE") is None


def test_window_of_and_windows_of(store):
    submit(store, "KB-A", window_id="W-01")
    submit(store, "KB-B", window_id="W-02")
    assert store.applications.window_of("KB-A") == "W-01"
    assert store.applications.window_of("KB-NONE") is None
    assert store.applications.windows_of(["KB-A", "KB-B", "KB-NONE", "KB-A"]) == {"KB-A": "W-01", "KB-B": "W-02"}
    assert store.applications.windows_of([]) == {}


def test_windows_of_many_ids_in_chunks(store):
    ids = [f"KB-{i:04d}" for i in range(1200)]  # more than one IN (...) and than SQLite's parameter limit
    for i, app_id in enumerate(ids[::3]):
        submit(store, app_id, window_id=f"W-{i % 5}")
    found = store.applications.windows_of(iter(ids))  # any iterable
    assert set(found) == set(ids[::3])
    assert found["KB-0003"] == "W-1"


def test_by_idempotency_key_is_the_newest_of_the_window_within_the_lifetime(store):
    apps = store.applications
    submit(store, "KB-OLD", at=T0, key="k")
    submit(store, "KB-NEW", at=T0 + timedelta(days=2), key="k")  # the key reused after its lifetime
    submit(store, "KB-OTHER-WINDOW", window_id="W-08", at=T0 + timedelta(days=3), key="k")
    submit(store, "KB-NO-KEY", at=T0 + timedelta(days=3))

    assert apps.by_idempotency_key("W-07", "k", since=T0 - timedelta(hours=1)).application_id == "KB-NEW"
    assert apps.by_idempotency_key("W-07", "k", since=T0 + timedelta(days=2)).application_id == "KB-NEW"  # at since
    assert apps.by_idempotency_key("W-07", "k", since=T0 + timedelta(days=2, seconds=1)) is None  # expired
    assert apps.by_idempotency_key("W-08", "k", since=T0).application_id == "KB-OTHER-WINDOW"
    assert apps.by_idempotency_key("W-07", "other", since=T0) is None
    # since in another zone, or naive (taken as UTC): the same instant
    assert apps.by_idempotency_key("W-07", "k", since=(T0 + timedelta(days=2)).astimezone(UTC)) is not None
    naive_utc = (T0 + timedelta(days=2)).astimezone(UTC).replace(tzinfo=None)
    assert apps.by_idempotency_key("W-07", "k", since=naive_utc).application_id == "KB-NEW"
