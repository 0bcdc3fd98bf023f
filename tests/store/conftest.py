"""The store's tests run on SQLite and on a real PostgreSQL (tests/support/postgres.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from store import Store
from tests.support.postgres import database_url, postgres  # noqa: F401  (fixtures)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:  # noqa: F811
    """A migrated, empty store on each backend."""
    s = Store.open(database_url)
    try:
        yield s
    finally:
        s.close()
