"""Simulated department REST APIs: tax (税务局), nhsa (医疗保障局), bank (商业银行).

One app per department, built by :func:`create_department_api_app`; the wire protocol (bodies,
statuses, callbacks, admin endpoints) is described in ``simulators/README.md``.
"""

from __future__ import annotations

from simulators.department_api.app import DEPARTMENTS, create_department_api_app
from simulators.department_api.behaviour import ApiBehaviour
from simulators.department_api.models import BODY_MODELS
from simulators.department_api.results import tax_authority_for
from simulators.department_api.store import count_live_submissions, count_submissions, init_db, list_submissions

__all__ = [
    "BODY_MODELS",
    "DEPARTMENTS",
    "ApiBehaviour",
    "count_live_submissions",
    "count_submissions",
    "create_department_api_app",
    "init_db",
    "list_submissions",
    "tax_authority_for",
]
