"""Migrations: the schema from empty, the same as the models, idempotent, safe from several processes at once."""

from __future__ import annotations

import subprocess
import sys
import threading

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from runtime.settings import ROOT
from store.db import alembic_config, make_engine, upgrade
from store.tables import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


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
            assert {"notices", "notice_deliveries", "alembic_version"} <= set(sa.inspect(conn).get_table_names())
            # the migrations and the models agree (nothing for autogenerate to add)
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
            assert diff == []
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("notices")}
            assert {"ix_notices_fired", "ix_notices_application", "ix_notices_audience"} <= indexes
    finally:
        engine.dispose()
    assert schema(database_url)[1] == [HEAD]


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
    assert {"notices", "notice_deliveries"} <= tables and versions == [HEAD]


def test_sqlite_runs_in_wal_mode(tmp_path):
    path = tmp_path / "sub" / "kaiban.sqlite3"  # the directory is created
    upgrade(f"sqlite:///{path}")
    import sqlite3

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
