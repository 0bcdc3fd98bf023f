"""Temporal's dev server for the tests that need the real server (not the time-skipping one)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from temporalio.testing import WorkflowEnvironment

from cli.worker import ensure_search_attributes
from runtime.settings import Settings
from runtime.temporal import data_converter, temporal_cli_path


@contextlib.asynccontextmanager
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server of its own (no UI), kaiban's data converter on its client, kaiban's search attributes."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_cli_path(), data_converter=data_converter(Settings()), ui=False
    )
    try:
        await ensure_search_attributes(env.client, "default")
        yield env
    finally:
        await env.shutdown()
