"""Response bodies of the API (request bodies are the domain's own models)."""

from __future__ import annotations

from pydantic import BaseModel

from workflows.models import ApplicationView, DepartmentState


class SubmissionAccepted(BaseModel):
    application_id: str
    status: str
    message: str
    links: dict[str, str]


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ValidationProblem(BaseModel):
    detail: str
    errors: list[FieldError]


class Problem(BaseModel):
    detail: str
    code: str


class Health(BaseModel):
    status: str
    temporal: str


ApplicationDetail = ApplicationView
DepartmentDetail = DepartmentState
