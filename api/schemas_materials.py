"""What the materials endpoints answer and take (public models, apart from the store's records)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.materials import ReadField, prefill
from store.materials import FindingRecord, MaterialRecord


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindingView(_Model):
    """One pre-review finding and the clerk's decision (``decision`` None: still open)."""

    application_id: str
    material_id: str | None
    kind: str
    concerns: str | None
    field: str = Field(description="申请表字段，如 legal_representative.id_number")
    read_field: str
    form_value: str
    read_value: str | None
    confidence: float
    message: str
    decision: Literal["form_correct", "form_corrected"] | None
    corrected_value: str | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, f: FindingRecord) -> FindingView:
        return cls(
            application_id=f.application_id,
            material_id=f.material_id,
            kind=f.kind,
            concerns=f.concerns,
            field=f.field,
            read_field=f.read_field,
            form_value=f.form_value,
            read_value=f.read_value,
            confidence=f.confidence,
            message=f.message,
            decision=f.decision,
            corrected_value=f.corrected_value,
            note=f.note,
            decided_by=f.decided_by,
            decided_at=f.decided_at,
        )


class MaterialView(_Model):
    material_id: str
    sha256: str
    kind: str
    content_type: str
    size_bytes: int
    filename: str | None
    status: Literal["stored", "read", "unreadable"] = Field(
        description="stored：已保存（未识别或识别中）；read：已识别；unreadable：无法识别"
    )
    fields: dict[str, ReadField] | None = Field(description="识别出的字段及置信度（识别完成后）")
    prefill: dict[str, str] = Field(default_factory=dict, description="身份证可用于预填申请表的姓名和号码")
    read_error: str | None = None
    uploaded_at: datetime
    findings: list[FindingView] = Field(default_factory=list, description="各申请中这份材料的预审发现")
    links: dict[str, str]


def material_view(record: MaterialRecord, findings: list[FindingRecord] | None = None) -> MaterialView:
    fields = {k: ReadField.model_validate(v) for k, v in record.fields.items()} if record.fields else None
    return MaterialView(
        material_id=record.material_id,
        sha256=record.sha256,
        kind=record.kind,
        content_type=record.content_type,
        size_bytes=record.size_bytes,
        filename=record.filename,
        status=record.status,
        fields=fields,
        prefill=prefill(record.kind, fields or {}),
        read_error=record.read_error,
        uploaded_at=record.uploaded_at,
        findings=[FindingView.of(f) for f in findings or []],
        links={"self": f"/api/v1/materials/{record.material_id}"},
    )


class Decision(_Model):
    field: str = Field(min_length=1, max_length=100, description="预审发现的申请表字段")
    decision: Literal["form_correct", "form_corrected"] = Field(
        description="form_correct：经核对申请表无误；form_corrected：申请表已按材料更正（通过补正或重新提交）"
    )
    corrected_value: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)


class ReviewRequest(_Model):
    application_id: str = Field(min_length=1, max_length=64)
    decisions: list[Decision] = Field(min_length=1, max_length=50)


class ReviewView(_Model):
    material_id: str
    application_id: str
    findings: list[FindingView]
    open: int = Field(description="尚未确认的预审发现数")


class PrereviewView(_Model):
    application_id: str
    findings: list[FindingView]
    open: int = Field(description="尚未确认的预审发现数")
