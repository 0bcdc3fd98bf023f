import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from cli.worker import ensure_search_attributes
from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_test_server_path


@pytest_asyncio.fixture(loop_scope="session")
async def time_env():
    """Temporal's time-skipping test server, from the PyPI package (no download).

    One per test: time is global to a test server, and work a finished test left behind
    (e.g. a notification with no worker any more) would hold its clock back for the next."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter(Settings())
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()
