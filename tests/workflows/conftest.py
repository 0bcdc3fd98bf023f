import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_test_server_path


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_env():
    """Temporal's time-skipping test server, from the PyPI package (no download)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(), data_converter=data_converter(Settings())
    )
    yield env
    await env.shutdown()
