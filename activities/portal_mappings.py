"""The robot dispatch's side of self-healing (bots/healing.py): the approved mappings of a department's
portal, read from kaiban's store for every robot dispatch, and a robot's proposal for a changed form
recorded there (once per form version) with a screenshot of each step, for an admin to decide.

A proposal leaves the activity as a non-retryable ``PortalChanged`` failure whose message (the task's
``manual`` reason, for people: Chinese) names the mapping; the API's approval finds the tasks waiting
for it by that name and sends them back to the robot (api/routers/portal_mappings.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

import structlog
from temporalio.exceptions import ApplicationError

from activities.models import PORTAL_CHANGED
from bots import evidence
from bots.flows import Healing
from bots.healing import MappingNeeded, Synonyms, load_synonyms
from runtime.settings import Settings
from store.db import Database, upgrade
from store.mappings import MappingRecord, MappingStore

__all__ = ["COUNTERS", "PortalMappings", "waiting_marker"]

#: proposals recorded / met again by this worker process, by outcome (the bench prints them)
COUNTERS: Counter[str] = Counter()


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(__name__)


def waiting_marker(mapping_id: str) -> str:
    """The words of a task's manual reason that say it waits for this mapping (the API looks for them)."""
    return f"字段映射 {mapping_id}"


class PortalMappings:
    """The store of portal mappings, opened (and migrated) on first use."""

    def __init__(self, settings: Settings, store: MappingStore | None = None) -> None:
        self._settings = settings
        self._store = store
        self._lock = threading.Lock()
        self._synonyms: Synonyms | None = None

    def _opened(self) -> MappingStore:
        with self._lock:
            if self._store is None:
                upgrade(self._settings.database_url)
                self._store = MappingStore(Database(self._settings.database_url))
            return self._store

    async def healing(self, department: str) -> Healing:
        """What a robot dispatch at ``department`` knows of its changed forms: the approved mappings."""
        approved = await asyncio.to_thread(lambda: self._opened().approved(department))
        if self._synonyms is None:
            self._synonyms = await asyncio.to_thread(load_synonyms)
        return Healing(approved=approved, synonyms=self._synonyms, threshold=self._settings.robot_mapping_threshold)

    async def proposed(self, exc: MappingNeeded, department: str, application_id: str) -> ApplicationError:
        """Record the robot's proposal (its screenshots as evidence) unless this form version has one; the
        failure that sends the task to a person, saying why and which mapping it waits for."""
        p = exc.proposal
        shots = await asyncio.to_thread(self._keep_screenshots, department, p.fingerprint, p.screenshots)
        record, new = await asyncio.to_thread(
            lambda: self._opened().propose(
                department=department,
                fingerprint=p.fingerprint,
                proposal=p.as_dict(),
                screenshots=shots,
                proposed_for=application_id,
            )
        )
        COUNTERS["recorded" if new else "met_again"] += 1
        _log().info(
            "robot.mapping_recorded" if new else "robot.mapping_met_again",
            mapping_id=record.mapping_id,
            fingerprint=p.fingerprint,
            status=record.status,
            fields=len(p.fields),
            low_confidence=len(p.low_confidence),
            unfilled_required=len(p.unfilled_required),
        )
        if record.status == "approved":  # approved since this dispatch read the store: the next attempt uses it
            return ApplicationError(f"mapping {record.mapping_id} was approved meanwhile", type="MappingApproved")
        return ApplicationError(_reason(record), type=PORTAL_CHANGED, non_retryable=True)

    def _keep_screenshots(self, department: str, fingerprint: str, shots: list[bytes]) -> list[str]:
        root = self._settings.evidence_path
        kept = []
        for i, png in enumerate(shots, 1):
            try:
                label = evidence.make_label(department, f"mapping-{fingerprint}", action=f"step{i}")
                path, relative = evidence.reserve(root, label, ".png")
                path.write_bytes(png)
                kept.append(relative)
            except OSError as error:  # evidence is best effort
                _log().warning("robot.mapping_screenshot_failed", error=type(error).__name__)
        return kept


def _reason(record: MappingRecord) -> str:
    """Why the task waits, for the clerk and the admin (Chinese), naming the mapping."""
    p = record.proposal
    head = f"门户表单已变更（版本 {record.fingerprint}）"
    marker = waiting_marker(record.mapping_id)
    if record.status == "needs_developer":
        fields = "、".join(p.get("unfilled_required") or [])
        return f"{head}：新增必填项「{fields}」为现有办理流程无法提供，需开发人员修改流程（证据见{marker}）"
    if record.status == "rejected":
        return f"{head}：{marker} 已被驳回，需人工处理"
    low = p.get("low_confidence") or []
    extra = f"，其中 {len(low)} 项低于置信阈值，需逐项确认" if low else ""
    return f"{head}：{marker} 待管理员审核批准{extra}"
