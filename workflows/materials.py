"""Reading one material: a short workflow whose one activity runs on the OCR task queue (``kaiban-ai``).

Started by the API at upload (id ``material-read-<material_id>``: one reading per material at a time).
Deterministic: it only schedules the activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.material_models import READ_MATERIAL, MaterialReadingInput, MaterialReadResult


def reading_workflow_id(material_id: str) -> str:
    return f"material-read-{material_id}"


@workflow.defn
class MaterialReadingWorkflow:
    @workflow.run
    async def run(self, inp: MaterialReadingInput) -> MaterialReadResult:
        return await workflow.execute_activity(
            READ_MATERIAL,
            inp.material,
            result_type=MaterialReadResult,
            task_queue=inp.ai_task_queue,
            start_to_close_timeout=timedelta(seconds=inp.timeout_s),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
        )
