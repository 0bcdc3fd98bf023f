"""Reading a material: the bytes from the object storage, OCR (``ai``), the fields recorded in the store.

``MaterialActivities`` holds one OCR model per worker process (loaded when the worker starts, warmed up in
the background) and runs on the ``kaiban-ai`` task queue, so OCR capacity scales apart from the API and the
robots. A file that cannot be read is recorded as unreadable (no retry: it will not get better); a store or
storage failure is retried by Temporal.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.material_models import READ_MATERIAL, MaterialReadResult, ReadMaterialInput
from ai.fields import fields_of
from ai.ocr import Reader, Unreadable
from runtime.settings import Settings
from store.db import Database
from store.materials import MaterialStore
from store.objects import ObjectNotFound, Objects, open_objects

log = structlog.get_logger(__name__)


class MaterialActivities:
    def __init__(self, settings: Settings, reader: Reader | None = None) -> None:
        self.settings = settings
        self._reader = reader
        self._db = Database(settings.database_url)
        self.materials = MaterialStore(self._db)
        self._objects: Objects | None = None
        self._warm: asyncio.Task[None] | None = None

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = Reader(threads=self.settings.ocr_threads)
        return self._reader

    @property
    def objects(self) -> Objects:
        if self._objects is None:
            self._objects = open_objects(self.settings.objects_url or self.settings.data_dir / "objects")
        return self._objects

    def warm_up(self) -> None:
        """Load the models and run them once in the background: the first reading then takes its usual time."""
        from ai.synthetic import encode, id_card

        async def warm() -> None:
            import random

            img, _ = id_card({"name": "张三", "id_number": "110101199003077777"}, random.Random(0))
            data, _ = encode(img, jpeg_quality=None)
            started = time.monotonic()
            await asyncio.to_thread(self.reader.lines, data)
            log.info("ocr_warmed_up", seconds=round(time.monotonic() - started, 2))

        self._warm = asyncio.create_task(warm())

    @activity.defn(name=READ_MATERIAL)
    async def read(self, inp: ReadMaterialInput) -> MaterialReadResult:
        try:
            data = await asyncio.to_thread(self.objects.get, inp.sha256)
        except ObjectNotFound:
            raise ApplicationError(
                f"material {inp.material_id}: no stored object", type="MaterialMissing", non_retryable=True
            ) from None
        started = time.process_time()
        try:
            lines = await asyncio.to_thread(self.reader.lines, data)
        except Unreadable as exc:
            await asyncio.to_thread(
                self.materials.set_reading, inp.material_id, fields=None, error=str(exc), read_at=datetime.now(UTC)
            )
            log.info("material_unreadable", material_id=inp.material_id, kind=inp.kind, error=str(exc))
            return MaterialReadResult(material_id=inp.material_id, status="unreadable", error=str(exc))
        fields = fields_of(inp.kind, lines)
        cpu = time.process_time() - started
        await asyncio.to_thread(
            self.materials.set_reading,
            inp.material_id,
            fields={k: v.model_dump() for k, v in fields.items()},
            error=None,
            read_at=datetime.now(UTC),
        )
        log.info(
            "material_read",
            material_id=inp.material_id,
            kind=inp.kind,
            fields=sorted(fields),
            lines=len(lines),
            cpu_s=round(cpu, 2),
        )
        return MaterialReadResult(material_id=inp.material_id, status="read", fields=fields, cpu_s=cpu)

    async def aclose(self) -> None:
        if self._warm is not None:
            self._warm.cancel()
        self._db.close()
