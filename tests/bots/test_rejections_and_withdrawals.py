"""Department rejections and withdrawals (撤回) through the robots, in real Chromium against the portal simulators."""

from __future__ import annotations

import pytest

from bots.errors import WithdrawalRefused
from bots.flows import dispatch, inquire, withdraw
from simulators.portal import AMR_NAME_TAKEN


def _name_marked_for_rejection(data: dict) -> None:
    data["company"]["name"] = "太原测试驳回数据科技有限公司"


async def test_amr_rejects_a_name_marked_for_rejection(portals, page, make_request):
    portal = portals["amr"]
    request = make_request("amr", edit=_name_marked_for_rejection)
    receipt = await dispatch(page, portal.access, request)
    assert (await inquire(page, portal.access, "amr", request.application_id, receipt.receipt_no)).status == "in_review"

    await portal.admin("complete", receipt.receipt_no)  # the department finishes processing now
    inquiry = await inquire(page, portal.access, "amr", request.application_id, receipt.receipt_no)

    assert inquiry.status == "rejected" and inquiry.result is None
    assert inquiry.reason == AMR_NAME_TAKEN and inquiry.reason.startswith("名称重复")
    assert portal.live(request.application_id) == 0


async def test_a_department_told_to_reject_an_application_does_so_until_told_otherwise(portals, page, make_request):
    portal = portals["hpf"]
    request = make_request("hpf")
    await portal.reject_application(request.application_id, "单位缴存比例与职工代表大会决议不符，需补正")

    receipt = await dispatch(page, portal.access, request)
    await portal.admin("complete", receipt.receipt_no)
    inquiry = await inquire(page, portal.access, "hpf", request.application_id, receipt.receipt_no)
    assert inquiry.status == "rejected"
    assert inquiry.reason == "单位缴存比例与职工代表大会决议不符，需补正"
    assert portal.live(request.application_id) == 0

    # the clerk corrects the application; the department is told to accept it again
    assert await portal.stop_rejecting(request.application_id)
    corrected = await dispatch(page, portal.access, request)
    assert corrected.receipt_no != receipt.receipt_no
    assert portal.count(request.application_id) == 2 and portal.live(request.application_id) == 1
    await portal.admin("complete", corrected.receipt_no)
    done = await inquire(page, portal.access, "hpf", request.application_id, None)
    assert done.status == "completed" and done.result["hpf_unit_account"]
    # the first case stays rejected: it was received while the rule stood
    assert [s["status"] for s in portal.stored(request.application_id)] == ["rejected", "completed"]


async def test_withdraw_through_the_robot_is_idempotent(portals, page, make_request, new_id):
    portal = portals["psb_seal"]
    request = make_request("psb_seal")
    receipt = await dispatch(page, portal.access, request)
    assert portal.live(request.application_id) == 1

    steps: list[str] = []
    await withdraw(
        page,
        portal.access,
        "psb_seal",
        request.application_id,
        receipt.receipt_no,
        "申请人撤回申请",
        on_step=steps.append,
    )
    assert steps == ["login", "search", "withdraw", "search"]
    assert portal.live(request.application_id) == 0
    [stored] = portal.stored(request.application_id)
    assert stored["status"] == "withdrawn" and stored["withdrawal_reason"] == "申请人撤回申请"

    # again: nothing live, nothing done
    steps.clear()
    await withdraw(page, portal.access, "psb_seal", request.application_id, None, "再次撤回", on_step=steps.append)
    assert steps == ["login", "search"]
    assert portal.stored(request.application_id)[0]["withdrawal_reason"] == "申请人撤回申请"
    inquiry = await inquire(page, portal.access, "psb_seal", request.application_id, receipt.receipt_no)
    assert inquiry.status == "withdrawn" and inquiry.reason == "申请人撤回申请"

    # never filed: nothing to withdraw
    await withdraw(page, portal.access, "psb_seal", new_id(), None, "申请人撤回申请")
    with pytest.raises(ValueError, match="reason"):
        await withdraw(page, portal.access, "psb_seal", request.application_id, None, "  ")


async def test_a_completed_case_is_not_withdrawn_the_robot_reports_the_refusal(portals, page, make_request):
    portal = portals["hrss"]
    request = make_request("hrss")
    receipt = await dispatch(page, portal.access, request)
    await portal.admin("complete", receipt.receipt_no)
    with pytest.raises(WithdrawalRefused) as refused:
        await withdraw(page, portal.access, "hrss", request.application_id, receipt.receipt_no, "企业开办申请已撤回")
    assert "已办结" in refused.value.reason and receipt.receipt_no in refused.value.reason
    assert not refused.value.retryable
    assert portal.live(request.application_id) == 1
    assert portal.stored(request.application_id)[0]["status"] == "completed"
