"""Self-healing against real Chromium: a redesigned portal (version 2) yields a proposal that maps every field
as the simulator's own rename table says; filed through it once approved, exactly once; version 3 (a new
required field) yields a proposal a developer must handle, and nothing is typed or filed."""

from __future__ import annotations

import pytest

from bots.flows import Healing, dispatch
from bots.healing import MappingNeeded, load_synonyms
from bots.mappings import FLOWS
from domain.labels import SEAL_LABELS
from simulators.portal.specs import PORTAL_SPECS, V3_FIELD_LABEL, v2_steps, version_labels
from tests.bots.test_behaviours import portal_with, set_behaviour


def expected_places(code: str) -> dict[str, tuple[int, str]]:
    """The truth from the simulator: version-1 label (rows as ``股东{n}名称``) -> (step, version-2 label)."""
    steps = PORTAL_SPECS[code].steps
    table = version_labels(steps, 2)
    out: dict[str, tuple[int, str]] = {}
    for step in steps:
        for f in step.fields:
            out[f.label] = table[f.label]
            if f.kind == "checkboxes":  # the flow ticks each option by its label
                for _, option in f.options:
                    out[option] = (table[f.label][0], option)
        if step.repeat:
            legend = step.repeat.legend
            for f in step.repeat.fields:
                i, label = table[f.label]
                out[legend + f.label] = (i, legend + label)
    return out


@pytest.mark.parametrize("code", ["hpf", "amr", "hrss", "psb_seal"])
async def test_version_2_proposal_maps_every_field_as_the_simulator_renamed_it(code, tmp_path, page, make_request):
    async with portal_with(tmp_path, code) as portal:
        await set_behaviour(portal, version=2)
        request = make_request(code)
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, request, healing=Healing())
        proposal = caught.value.proposal
        assert portal.count(request.application_id) == 0  # nothing filed
        truth = expected_places(code)
        got = {m.flow_label: (m.step, m.label) for m in proposal.fields}
        assert got == {label: truth[label] for label in got}, [
            (label, got[label], truth[label]) for label in got if got[label] != truth[label]
        ]
        # every field the flow fills is placed, and the moved field is in the step it moved to
        assert all(m.label is not None for m in proposal.fields)
        assert not proposal.needs_developer and proposal.unfilled_required == []
        assert len(proposal.screenshots) == len(v2_steps(PORTAL_SPECS[code].steps))
        assert all(shot.startswith(b"\x89PNG") for shot in proposal.screenshots)
        if code == "psb_seal":
            assert set(SEAL_LABELS.values()) <= set(got)


async def test_an_approved_mapping_files_once_and_a_second_dispatch_finds_it(tmp_path, page, make_request):
    async with portal_with(tmp_path, "hpf") as portal:
        await set_behaviour(portal, version=2)
        request = make_request("hpf")
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, request, healing=Healing())
        proposal = caught.value.proposal
        approved = {"id": "PM-TEST", **proposal.mapping()}
        healing = Healing(approved={proposal.fingerprint: approved})
        receipt = await dispatch(page, portal.access, request, healing=healing)
        stored = portal.stored(request.application_id)
        assert [s["receipt_no"] for s in stored] == [receipt.receipt_no]
        # the portal received the values where the redesign put them (职工人数 moved to step 2)
        data = stored[0]["data"] if "data" in stored[0] else stored[0]
        assert str(request.application.company.employees_expected) in str(data)
        again = await dispatch(page, portal.access, request, healing=healing)  # idempotent: found, not refiled
        assert again.receipt_no == receipt.receipt_no and portal.count(request.application_id) == 1


async def test_a_mapping_of_another_version_is_not_applied(tmp_path, page, make_request):
    async with portal_with(tmp_path, "hpf") as portal:
        await set_behaviour(portal, version=2)
        request = make_request("hpf")
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, request, healing=Healing())
        v2 = caught.value.proposal
        await set_behaviour(portal, version=3)
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, request, healing=Healing(approved={v2.fingerprint: v2.mapping()}))
        v3 = caught.value.proposal
        assert v3.fingerprint != v2.fingerprint
        assert v3.needs_developer and v3.unfilled_required == [V3_FIELD_LABEL]
        assert "new required fields" in str(caught.value) and V3_FIELD_LABEL in str(caught.value)
        assert portal.count(request.application_id) == 0


async def test_low_scores_are_flagged_below_the_threshold(tmp_path, page, make_request):
    async with portal_with(tmp_path, "hpf") as portal:
        await set_behaviour(portal, version=2)
        request = make_request("hpf")
        bare = Healing(synonyms=type(load_synonyms())(), threshold=85.0)  # no synonyms: renames score low
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, request, healing=bare)
        low = caught.value.proposal.low_confidence
        assert {"外部业务编号", "经办人手机号码", "单位名称"} <= set(low)
        assert len(caught.value.proposal.fields) == sum(len(s.values(request)) for s in FLOWS["hpf"].steps)
    async with portal_with(tmp_path, "hpf") as portal:  # with the configured synonyms: one left to confirm
        await set_behaviour(portal, version=2)
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, make_request("hpf"), healing=Healing())
        assert caught.value.proposal.low_confidence == ["统一社会信用代码"]  # 社会信用代码（18位）: 84.2


async def test_rows_the_flow_does_not_fill_are_not_new_required_fields(tmp_path, page, make_request):
    """hrss with no employee to enrol: the sample's row 参保人1 is required on the page, yet nothing new."""

    def no_employees(data: dict) -> None:
        data["social_insurance"]["enroll_employees"] = []

    async with portal_with(tmp_path, "hrss") as portal:
        await set_behaviour(portal, version=2)
        with pytest.raises(MappingNeeded) as caught:
            await dispatch(page, portal.access, make_request("hrss", edit=no_employees), healing=Healing())
        assert not caught.value.proposal.needs_developer and caught.value.proposal.unfilled_required == []
