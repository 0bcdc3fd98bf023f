"""Instant department activities, registered under the real names (``dispatch_to_department``,
``inquire_department``, ``withdraw_from_department``): every department files at once and
answers ``completed`` with a result that passes its schema. Lets ``bench.orchestration``
measure kaiban's orchestration alone, with no department or browser in the way.

Like the real activity, the dispatch of an API department carries the department's answer to
the question asked right after filing (``Receipt.answer``); a portal department (robot) is
asked by a later inquiry."""

from __future__ import annotations

from datetime import UTC, datetime

from stdnum.cn import uscc as _uscc
from temporalio import activity

from activities.models import ActivityName, DispatchInput, InquireInput, WithdrawInput
from domain.results import Inquiry, Receipt
from domain.status import Channel

_PARTIAL = "91140121MA0KQ7WX3"
USCC = _PARTIAL + _uscc.calc_check_digit(_PARTIAL)


def _result(code: str) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "amr": {"uscc": USCC, "licence_serial": "BENCH-LIC", "approved_at": now},
        "psb_seal": {"seal_codes": {"official": "1401000000001"}},
        "tax": {"taxpayer_id": USCC, "tax_authority": "BENCH", "invoice_types": ["vat_general"]},
        "hrss": {"si_unit_code": "BENCH-SI"},
        "nhsa": {"mi_unit_code": "BENCH-MI"},
        "hpf": {"hpf_unit_account": "BENCH-HPF"},
        "bank": {"account_no": "6222000000000000", "bank_code": "BENCH", "opened_at": now},
    }.get(code, {})


@activity.defn(name=ActivityName.DISPATCH)
async def fake_dispatch(inp: DispatchInput) -> Receipt:
    answer = (
        Inquiry(status="completed", result=_result(inp.endpoint.code)) if inp.endpoint.channel is Channel.API else None
    )
    return Receipt(
        receipt_no=f"FAKE-{inp.endpoint.code}-{inp.request.application_id}",
        submitted_at=datetime.now(UTC),
        answer=answer,
    )


@activity.defn(name=ActivityName.INQUIRE)
async def fake_inquire(inp: InquireInput) -> Inquiry:
    return Inquiry(status="completed", result=_result(inp.endpoint.code))


@activity.defn(name=ActivityName.WITHDRAW)
async def fake_withdraw(inp: WithdrawInput) -> None:
    return None


FAKE_ACTIVITIES = [fake_dispatch, fake_inquire, fake_withdraw]
