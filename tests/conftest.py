import json
import os
from pathlib import Path

import pytest
import pytest_asyncio

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = ROOT / "contract" / "application.example.json"

# The contract sample and the generated applications list materials by digests of no uploaded file. The
# intake's check that materials[].sha256 name stored files (on by default) is off for the suite and the
# processes it starts; the tests of that check turn it on (tests/api/test_materials.py).
os.environ.setdefault("KAIBAN_MATERIALS_MUST_BE_STORED", "false")


@pytest.fixture
def sample_json() -> dict:
    """The valid sample application of the intake contract, as JSON data (a fresh copy per test)."""
    return json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _logging_configuration_restored():
    """A test that configures logging (the API, the bench's quiet_logging) does not leave it configured for
    the next one: structlog's configuration and the root logger's level are put back after each test."""
    import logging

    import structlog

    saved = structlog.get_config()
    level = logging.getLogger().level
    yield
    structlog.configure(**saved)
    logging.getLogger().setLevel(level)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env():
    """Temporal's dev server (the real server, not the time-skipping one), its search attributes registered,
    shared by the session's tests outside tests/e2e (each uses task queues and workflow ids of its own);
    tests/e2e has one of its own (``tests/e2e/conftest.py``)."""
    from tests.support.temporal import dev_server

    async with dev_server() as env:
        yield env
