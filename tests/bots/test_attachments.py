"""The portal's attachment step (上传申请材料): the robot uploads the materials it is given and the portal
keeps what it received; a portal without the step goes straight to its confirmation."""

from __future__ import annotations

import hashlib
from datetime import date

from ai.synthetic import draw_id_card, draw_premises_proof
from bots.attachments import Attachment
from bots.flows import dispatch
from domain.samples import generate_application

TODAY = date(2026, 12, 1)


async def test_the_amr_portal_receives_the_files(portals, page, make_request):
    amr = portals["amr"]
    application = generate_application(41, today=TODAY)
    card = draw_id_card(application["legal_representative"], 41, degraded=True)
    lease = draw_premises_proof(application, 41)
    files = [
        Attachment("法定代表人身份证.jpg", card.content_type, card.data),
        Attachment("租赁合同.png", lease.content_type, lease.data),
    ]
    request = make_request("amr")
    steps: list[str] = []
    receipt = await dispatch(page, amr.access, request, on_step=steps.append, attachments=files)
    assert receipt.receipt_no
    assert steps.index("attachments") == steps.index("submit") - 1
    (stored,) = amr.stored(request.application_id)
    received = stored["data"]["attachments"]
    assert [(a["name"], a["sha256"], a["size"], a["content_type"]) for a in received] == [
        ("法定代表人身份证.jpg", hashlib.sha256(card.data).hexdigest(), len(card.data), "image/jpeg"),
        ("租赁合同.png", hashlib.sha256(lease.data).hexdigest(), len(lease.data), "image/png"),
    ]


async def test_no_files_for_the_portal_is_an_empty_attachment_step(portals, page, make_request):
    amr = portals["amr"]
    request = make_request("amr")
    await dispatch(page, amr.access, request)
    (stored,) = amr.stored(request.application_id)
    assert stored["data"]["attachments"] == []


async def test_a_portal_without_the_step_goes_on_to_confirmation(portals, page, make_request):
    hpf = portals["hpf"]
    request = make_request("hpf")
    steps: list[str] = []
    await dispatch(page, hpf.access, request, on_step=steps.append)
    assert "attachments" not in steps
    (stored,) = hpf.stored(request.application_id)
    assert "attachments" not in stored["data"]
