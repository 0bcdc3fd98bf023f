"""Input and outcome of the SWEEP activity (``activities/sweeps.py``), which ``workflows/sweeper.py`` runs."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from activities.models import DepartmentEndpoint

#: the application workflow's update a sweep delivers a case's result through (the department callbacks' own)
DEPARTMENT_CALLBACK_UPDATE = "department_callback"
#: the sweeper's signal: a department task filed at its portal (it sweeps at its fast pace)
WAKE_SIGNAL = "wake"


class SweepInput(BaseModel):
    endpoint: DepartmentEndpoint
    since: datetime | None = None  # read down to the cases submitted then (None: as far as max_pages)
    delivered: list[str] = Field(default_factory=list)  # receipt numbers already delivered: never again
    max_pages: int = Field(default=10, ge=1)
    recheck_s: float = 300.0  # a case decided this recently that no application took is read again


class Delivered(BaseModel):
    receipt_no: str
    submitted_at: datetime | None = None


class SweepOutcome(BaseModel):
    pages: int = 0
    cases: int = 0  # cases read
    in_review: int = 0  # of them still in review (the sweeper keeps its fast pace while there are)
    delivered: list[Delivered] = Field(default_factory=list)  # taken by their applications now
    refused: int = 0  # not taken: the application's own checks refused it, or it is not running
    skipped: int = 0  # delivered by an earlier sweep
    since: datetime | None = None  # where the next sweep may stop (bots.sweep.next_since)
    complete: bool = True
