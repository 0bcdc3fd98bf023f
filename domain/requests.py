"""What a department channel (robot or API) is given for one task."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from domain.form import Application, judged_as_of


class DepartmentRequest(BaseModel):
    """One department's task: the whole application plus what upstream departments answered.

    ``upstream`` maps a prerequisite department's code to its result, e.g.
    ``{"amr": {"uscc": "91140121MA...", ...}, "psb_seal": {"seal_codes": {...}}}``.
    ``application_id`` is the external reference every department stores and is
    searched by, so a retry never files a second submission.
    """

    application_id: str = Field(pattern=r"^[A-Za-z0-9-]{6,64}$")
    department: str
    application: Application
    upstream: dict[str, dict] = Field(default_factory=dict)
    submitted_at: datetime | None = None  # the form's date rules are judged as of this instant

    _as_of_submission = judged_as_of("submitted_at")

    @property
    def uscc(self) -> str | None:
        amr = self.upstream.get("amr") or {}
        return amr.get("uscc")
