"""Portal mappings in kaiban's store: one per department and form version, decided once; only an approved one
is what the robots file through; one needing a developer is never approved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store import Store
from store.mappings import MappingDecided, UnknownMapping, mapping_id_of

PROPOSAL = {
    "threshold": 85.0,
    "titles": ["单位信息"],
    "fields": [{"flow_step": "unit", "flow_label": "单位名称", "step": 0, "label": "单位全称", "score": 90.0}],
    "low_confidence": [],
    "unfilled_required": [],
    "needs_developer": False,
}
AT = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_a_version_has_one_proposal_and_only_an_approved_mapping_is_used(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'kaiban.db'}")
    first, new = store.mappings.propose(department="hpf", fingerprint="v2", proposal=PROPOSAL, screenshots=["a.png"],
                                        proposed_for="KB-1", now=AT)  # fmt: skip
    again, new_again = store.mappings.propose(department="hpf", fingerprint="v2", proposal={}, proposed_for="KB-2")
    assert new and not new_again and again == first and first.mapping_id == mapping_id_of("hpf", "v2")
    assert first.status == "proposed" and first.proposed_for == "KB-1" and first.screenshots == ["a.png"]
    assert store.mappings.approved("hpf") == {}
    with pytest.raises(UnknownMapping):
        store.mappings.get("amr", first.mapping_id)  # another department's
    mapping = {"titles": ["单位信息"], "fields": {"单位名称": {"step": 0, "label": "单位全称"}}}
    decided = store.mappings.decide("hpf", first.mapping_id, approve=True, mapping=mapping, by="admin-1", now=AT)
    assert decided.status == "approved" and decided.decided_by == "admin-1" and decided.decided_at == AT
    assert store.mappings.approved("hpf") == {"v2": {"id": first.mapping_id, **mapping}}
    assert store.mappings.approved("amr") == {}
    with pytest.raises(MappingDecided):
        store.mappings.decide("hpf", first.mapping_id, approve=False, mapping=None, by="admin-2")
    assert [m.mapping_id for m in store.mappings.list("hpf")] == [first.mapping_id]


def test_a_proposal_needing_a_developer_is_never_approved_but_may_be_rejected(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'kaiban.db'}")
    proposal = {**PROPOSAL, "unfilled_required": ["单位电子邮箱"], "needs_developer": True}
    record, _ = store.mappings.propose(department="hpf", fingerprint="v3", proposal=proposal)
    assert record.status == "needs_developer"
    with pytest.raises(MappingDecided):
        store.mappings.decide("hpf", record.mapping_id, approve=True, mapping={"titles": [], "fields": {}}, by="a")
    rejected = store.mappings.decide("hpf", record.mapping_id, approve=False, mapping=None, by="a", note="待开发")
    assert rejected.status == "rejected" and rejected.mapping is None and rejected.note == "待开发"
    assert store.mappings.approved("hpf") == {}
