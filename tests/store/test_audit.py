"""The audit trail on SQLite and PostgreSQL: appended and read back newest first with filters and keyset
paging; the database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from store import ANONYMOUS, AuditEntry, Store
from tests.support.postgres import PostgresServer

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
APP = "KB20261201-AAAA"


def entry(**changes) -> AuditEntry:
    base = AuditEntry(
        at=T0,
        actor="clerk-li",
        role="clerk",
        window_id="W-07",
        action="submit_application",
        target=f"applications/{APP}",
        application_id=APP,
        outcome="allowed",
        status_code=202,
    )
    return dataclasses.replace(base, **changes)


def test_append_and_read_back(store):
    denied = entry(
        at=T0 + timedelta(minutes=1),
        action="extend_deadline",
        target=f"applications/{APP}/departments/tax",
        outcome="denied",
        status_code=403,
        reason="窗口人员不能延长办理时限",
        detail={"department": "tax", "hours": 24, "codes": ["role"]},
    )
    first = store.audit.append(entry())
    second = store.audit.append(denied)
    assert second > first
    got = store.audit.list()
    assert got == [dataclasses.replace(denied, seq=second), dataclasses.replace(entry(), seq=first)]
    assert got[0].at.utcoffset() == timedelta(0)
    assert store.audit.count() == 2


def test_anonymous_and_empty_optionals(store):
    seq = store.audit.append(
        AuditEntry(at=T0, actor=ANONYMOUS, action="submit_application", target="applications",
                   outcome="denied", status_code=401, reason="missing bearer token")
    )  # fmt: skip
    (got,) = store.audit.list()
    assert got.seq == seq and got.actor == "anonymous"
    assert (got.role, got.window_id, got.application_id, got.detail) == (None, None, None, None)


def test_filters_and_count(store):
    store.audit.append(entry())
    store.audit.append(entry(at=T0 + timedelta(hours=1), outcome="denied", status_code=404, actor="clerk-wang",
                             window_id="W-08", action="read_application", reason="not found"))  # fmt: skip
    store.audit.append(entry(at=T0 + timedelta(hours=2), application_id="KB-OTHER", target="applications/KB-OTHER"))
    store.audit.append(entry(at=T0 + timedelta(hours=3), actor="sup-zhao", role="supervisor", window_id=None,
                             action="extend_deadline", status_code=200))  # fmt: skip

    def actions(**filters) -> list[str]:
        listed = store.audit.list(**filters)
        assert store.audit.count(**filters) == len(listed)
        return [e.action for e in listed]

    assert actions() == ["extend_deadline", "submit_application", "read_application", "submit_application"]
    assert actions(application_id=APP) == ["extend_deadline", "read_application", "submit_application"]
    assert actions(actor="clerk-wang") == ["read_application"]
    assert actions(outcome="denied") == ["read_application"]
    assert actions(outcome="allowed", application_id=APP) == ["extend_deadline", "submit_application"]
    assert actions(action="submit_application") == ["submit_application", "submit_application"]
    # since <= at < until
    assert actions(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3)) == [
        "submit_application",
        "read_application",
    ]
    assert actions(since=T0 + timedelta(hours=4)) == []


def test_keyset_paging_newest_first(store):
    seqs = [store.audit.append(entry(at=T0 + timedelta(seconds=i), status_code=200 + i)) for i in range(7)]
    pages: list[list[int]] = []
    before = None
    while page := store.audit.list(limit=3, before_seq=before):
        pages.append([e.seq for e in page])
        before = page[-1].seq
    assert pages == [seqs[6:3:-1], seqs[3:0:-1], seqs[0:1]]
    assert store.audit.list(limit=0) == []
    assert len(store.audit.list(limit=10_000)) == 7  # capped at 1000


def test_refuses_unknown_outcomes_and_large_details(store, database_url):
    with pytest.raises(ValueError):
        store.audit.append(entry(outcome="maybe"))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.audit.append(entry(detail={"blob": "x" * 5000}))
    with store.db.engine.begin() as conn, pytest.raises(sa.exc.IntegrityError):  # the check constraint
        conn.execute(
            sa.text(
                "INSERT INTO audit (at, actor, action, target, outcome, status_code) "
                "VALUES (:at, 'x', 'y', 'z', 'maybe', 200)"
            ),
            {"at": T0.replace(tzinfo=None) if database_url.startswith("sqlite") else T0},
        )
    assert store.audit.count() == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit SET outcome = 'allowed', reason = 'rewritten' WHERE outcome = 'denied'",
        "UPDATE audit SET actor = 'someone-else'",
        "DELETE FROM audit WHERE outcome = 'denied'",
        "DELETE FROM audit",
    ],
)
def test_the_database_refuses_update_and_delete(store, statement):
    store.audit.append(entry())
    store.audit.append(entry(outcome="denied", status_code=403, reason="越权"))
    before = store.audit.list()
    with pytest.raises(sa.exc.DBAPIError, match="audit is append-only"):
        with store.db.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert store.audit.list() == before


def test_postgresql_refuses_truncate(postgres: PostgresServer):
    """SQLite has no TRUNCATE (its DELETE without WHERE is refused above)."""
    name = postgres.create_database()
    store = Store.open(postgres.url(name))
    try:
        store.audit.append(entry())
        with pytest.raises(sa.exc.DBAPIError, match="audit is append-only"):
            with store.db.engine.begin() as conn:
                conn.execute(sa.text("TRUNCATE audit"))
        assert store.audit.count() == 1
    finally:
        store.close()
        postgres.drop_database(name)


def test_the_store_has_no_way_to_change_an_entry(store):
    public = {name for name in dir(store.audit) if not name.startswith("_")}
    assert public == {"append", "count", "db", "list"}
