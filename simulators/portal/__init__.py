"""Legacy web portals of the departments that have no API (amr, psb_seal, hrss, hpf).

Each portal is a :class:`PortalSpec` (data) rendered by one generic FastAPI app; how it misbehaves
is a :class:`Behaviour`. Routes, behaviours and counters: ``simulators/README.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulators.portal import store
from simulators.portal.app import create_portal_app
from simulators.portal.behaviour import Behaviour
from simulators.portal.checks import AMR_NAME_TAKEN
from simulators.portal.issuers import issue_uscc
from simulators.portal.specs import PORTAL_CODES, PORTAL_SPECS, FieldSpec, PortalSpec, RepeatSpec, StepSpec
from simulators.portal.state import COUNTERS, SESSION_COOKIE
from simulators.portal.store import count_live_submissions, count_submissions

__all__ = [
    "AMR_NAME_TAKEN",
    "COUNTERS",
    "PORTAL_CODES",
    "PORTAL_SPECS",
    "SESSION_COOKIE",
    "Behaviour",
    "FieldSpec",
    "PortalSpec",
    "RepeatSpec",
    "StepSpec",
    "count_live_submissions",
    "count_submissions",
    "create_portal_app",
    "issue_uscc",
    "list_submissions",
]


def list_submissions(db_path: str | Path) -> list[dict[str, Any]]:
    """Every stored submission, oldest first, with ``data`` and (once processed) ``result`` decoded."""
    return store.find_submissions(db_path)
