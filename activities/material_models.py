"""The input and result of reading a material: light models the workflow and the API import (no OCR here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from domain.materials import ReadField

#: the activity's name (``activities.materials.MaterialActivities.read``), on the ``kaiban-ai`` task queue
READ_MATERIAL = "read_material"


class ReadMaterialInput(BaseModel):
    material_id: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: str


class MaterialReadingInput(BaseModel):
    """The reading workflow's input: the material, and the task queue of the OCR workers."""

    material: ReadMaterialInput
    ai_task_queue: str = "kaiban-ai"
    timeout_s: float = 120.0


class MaterialReadResult(BaseModel):
    material_id: str
    status: Literal["read", "unreadable"]
    fields: dict[str, ReadField] = Field(default_factory=dict)
    error: str | None = None
    cpu_s: float = 0.0
