"""The compose file's init script creates kaiban's database, and the store migrates it as the kaiban role."""

from __future__ import annotations

import subprocess

import sqlalchemy as sa

from runtime.settings import ROOT
from store import Store
from tests.support.postgres import PostgresServer

SCRIPT = ROOT / "deploy" / "postgres" / "10-kaiban-database.sh"


def test_init_script_creates_the_kaiban_role_and_database(postgres: PostgresServer):
    env = {**postgres.psql_env(), "POSTGRES_USER": "postgres", "POSTGRES_KAIBAN_PASSWORD": "Not-Url-Unsafe-42"}
    try:
        done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        url = f"postgresql+psycopg://kaiban:Not-Url-Unsafe-42@127.0.0.1:{postgres.port}/kaiban"
        store = Store.open(url)  # what the API and the workers do at start, as the kaiban role
        try:
            with store.db.engine.connect() as conn:
                owner = conn.scalar(sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'notices'"))
                encoding = conn.scalar(sa.text("SELECT pg_encoding_to_char(encoding) FROM pg_database "
                                               "WHERE datname = 'kaiban'"))  # fmt: skip
            assert (owner, encoding) == ("kaiban", "UTF8")
            assert store.notices.list() == []
        finally:
            store.close()
        # without the password the script refuses to run
        env.pop("POSTGRES_KAIBAN_PASSWORD")
        assert subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, timeout=60).returncode != 0
    finally:
        postgres.drop_database("kaiban")
        with subprocess.Popen(["psql", "-c", "DROP ROLE IF EXISTS kaiban"], env=postgres.psql_env(),
                              stdout=subprocess.DEVNULL) as p:  # fmt: skip
            p.wait(30)
