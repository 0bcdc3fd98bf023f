"""Migrations: the schema from empty and from 0001, the same as the models, idempotent, safe from several
processes at once."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from runtime.settings import ROOT
from store import Notice, Store
from store.db import Database, alembic_config, make_engine, upgrade
from store.notices import NoticeStore
from store.tables import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()
# what the models declare is what the migrations make (a table added to one only fails here)
TABLES = {*Base.metadata.tables, "alembic_version"}
assert {"notices", "audit", "calendar_years"} <= TABLES
INDEXES = {
    "notices": {"ix_notices_fired", "ix_notices_application", "ix_notices_audience"},
    "applications": {"ix_applications_idempotency"},
    "audit": {"ix_audit_application", "ix_audit_actor", "ix_audit_outcome", "ix_audit_at"},
    "callback_signatures": {"ix_callback_signatures_seen"},
}


def schema(url: str) -> tuple[set[str], list[str]]:
    """The tables, and the revisions recorded in alembic_version."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            versions = [row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
        return tables, versions
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_of_the_models_from_empty(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
        upgrade(database_url)
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == TABLES
            # the migrations and the models agree (nothing for autogenerate to add)
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            for table, expected in INDEXES.items():
                assert expected <= {ix["name"] for ix in sa.inspect(conn).get_indexes(table)}, table
    finally:
        engine.dispose()
    assert schema(database_url)[1] == [HEAD]


def test_upgrade_from_0001_keeps_the_notices(database_url):
    upgrade(database_url, "0001")
    assert schema(database_url) == ({"notices", "notice_deliveries", "alembic_version"}, ["0001"])
    at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
    notice = Notice(key="KB20261130-AAAA.tax.warn.2.v1", application_id="KB20261130-AAAA", level="warn",
                    audience="department_supervisor", sequence=2, due_at=at, planned_at=at, fired_at=at,
                    window_id="W-07", message="税务登记已超过办理时限的80%", department="tax")  # fmt: skip
    db = Database(database_url)
    try:
        assert NoticeStore(db).record(notice) is True
    finally:
        db.close()
    store = Store.open(database_url)
    try:
        assert schema(database_url) == (TABLES, [HEAD])
        kept = store.notices.get(notice.key)
        assert kept is not None and kept["message"] == notice.message and kept["fired_at"] == at
        assert store.audit.count() == 0 and store.applications.get(notice.application_id) is None
    finally:
        store.close()


def test_downgrade_to_0001_and_back(database_url):
    upgrade(database_url)
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", database_url)
    command.downgrade(config, "0001")
    assert schema(database_url) == ({"notices", "notice_deliveries", "alembic_version"}, ["0001"])
    upgrade(database_url)  # the triggers (and PostgreSQL's function) were dropped: they can be made again
    assert schema(database_url) == (TABLES, [HEAD])


def test_upgrade_is_idempotent(database_url):
    upgrade(database_url)
    first = schema(database_url)
    upgrade(database_url)
    assert schema(database_url) == first
    assert first[1] == [HEAD]


def test_concurrent_upgrades_from_threads(database_url):
    errors: list[BaseException] = []

    def run() -> None:
        try:
            upgrade(database_url)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert schema(database_url)[1] == [HEAD]


def test_concurrent_upgrades_from_processes(database_url):
    """Several API and worker processes starting at once: one migrates, the others find the schema at head."""
    code = "import sys; from store.db import upgrade; upgrade(sys.argv[1]); print('ok')"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, database_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    tables, versions = schema(database_url)
    assert tables == TABLES and versions == [HEAD]


def test_sqlite_runs_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "kaiban.sqlite3"  # the directory is created
    upgrade(f"sqlite:///{path}")
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
