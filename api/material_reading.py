"""Reading a material at upload: a short workflow runs the OCR activity on the ``kaiban-ai`` task queue.

The API waits up to ``material_read_wait_s`` for it; a reading that takes longer goes on, and
``GET /api/v1/materials/{id}`` shows its fields once the activity has recorded them. When Temporal cannot
be reached the upload is still stored (answered without fields).
"""

from __future__ import annotations

import asyncio

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from activities.material_models import MaterialReadingInput, ReadMaterialInput
from runtime.settings import Settings
from store.materials import MaterialRecord, MaterialStore
from workflows.materials import MaterialReadingWorkflow, reading_workflow_id

log = structlog.get_logger(__name__)


async def read_material_now(
    client: Client, record: MaterialRecord, settings: Settings, materials: MaterialStore
) -> MaterialRecord:
    """The material once read (or as it is, when the reading takes longer than the wait)."""
    inp = MaterialReadingInput(
        material=ReadMaterialInput(material_id=record.material_id, sha256=record.sha256, kind=record.kind),
        ai_task_queue=settings.ai_task_queue,
    )
    try:
        handle = await client.start_workflow(
            MaterialReadingWorkflow.run,
            inp,
            id=reading_workflow_id(record.material_id),
            task_queue=settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,  # reading now: wait for that one
            # a reading that finished without its fields reaching this store (a restored store, another
            # deployment on the same namespace) is read again: only a material still "stored" gets here
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        await asyncio.wait_for(handle.result(), timeout=settings.material_read_wait_s)
    except TimeoutError:
        log.info("material_reading_continues", material_id=record.material_id)
    except Exception as exc:  # Temporal unreachable, the reading failed: the file is stored all the same
        log.warning("material_reading_failed", material_id=record.material_id, error=str(exc))
    return await asyncio.to_thread(materials.get, record.material_id) or record
