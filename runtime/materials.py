"""Settings of materials (issue 15): where uploaded files are kept, how large they may be, the OCR queue.

``Settings`` inherits ``MaterialSettings`` (``KAIBAN_OBJECTS_URL``, ``KAIBAN_MATERIAL_MAX_BYTES`` …).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

MIB = 1024 * 1024


class MaterialSettings(BaseModel):
    # where the files are, by content: a folder (file:///srv/kaiban/objects or a path; default
    # <data_dir>/objects, shared by the API and the workers) or s3://bucket/prefix?endpoint=…&region=… (boto3;
    # credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or boto3's other standard sources)
    objects_url: str | None = None
    # the largest material accepted (bytes of the file); a larger one is 413 with the limit in Chinese
    material_max_bytes: int = Field(default=10 * MIB, ge=1024, le=200 * MIB)
    # an application's materials[].sha256 must name files the window uploaded (422 naming the field)
    materials_must_be_stored: bool = True
    # OCR runs on its own task queue, so its capacity scales apart from the API and the robots
    ai_task_queue: str = "kaiban-ai"
    # how long POST /api/v1/materials waits for the reading before answering without fields
    material_read_wait_s: float = Field(default=10.0, ge=0.0, le=60.0)
    # threads of one OCR model (onnxruntime would take one per core), and materials read at once per worker
    ocr_threads: int = Field(default=1, ge=1, le=16)
    ocr_max_concurrent: int = Field(default=1, ge=1, le=16)
    # how long a signed link to a material (an API department with materials_by: link) serves it
    material_link_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
