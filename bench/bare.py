"""The floor for orchestration: a bare Temporal workflow of the enterprise-opening shape.

amr first; then psb_seal, tax, hrss, nhsa and hpf in parallel; bank after psb_seal. Each
department is one no-op activity. No deadlines, no escalation ladder, no child workflows,
no state queries: only what any Temporal implementation of the shape must pay for.
Lives in a module (not ``__main__``) so the workflow sandbox can validate it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

PARALLEL = ("psb_seal", "tax", "hrss", "nhsa", "hpf")


@activity.defn(name="bare_noop")
async def bare_noop(department: str) -> str:
    return f"{department}-ok"


@workflow.defn(name="BareOpeningWorkflow")
class BareOpeningWorkflow:
    @workflow.run
    async def run(self, application_id: str) -> dict[str, str]:
        opts = {"start_to_close_timeout": timedelta(seconds=30)}
        results: dict[str, str] = {}
        results["amr"] = await workflow.execute_activity(bare_noop, "amr", **opts)

        async def seal_then_bank() -> None:
            results["psb_seal"] = await workflow.execute_activity(bare_noop, "psb_seal", **opts)
            results["bank"] = await workflow.execute_activity(bare_noop, "bank", **opts)

        async def one(code: str) -> None:
            results[code] = await workflow.execute_activity(bare_noop, code, **opts)

        await asyncio.gather(seal_then_bank(), *(one(c) for c in PARALLEL if c != "psb_seal"))
        return results
