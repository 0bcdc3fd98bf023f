"""The department API client against the simulators served on loopback."""

from __future__ import annotations

import asyncio
import pickle
import uuid

import httpx
import pytest
from stdnum.cn import uscc as stdnum_uscc

from activities.api_client import (
    DepartmentApiClient,
    DepartmentAuthError,
    DepartmentRejected,
    DepartmentUnavailable,
    build_payload,
)
from domain.form import Application
from domain.requests import DepartmentRequest
from domain.results import Inquiry, Receipt
from simulators.department_api import count_live_submissions, count_submissions, create_department_api_app
from tests.support.servers import free_port, serve_app

TOKEN = "client-test-token"
BASE17 = "91140121MA0KQ7WX5"
USCC = BASE17 + stdnum_uscc.calc_check_digit(BASE17)
BAD_USCC = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
SEAL_CODES = {
    "official": "1401210012345",
    "financial": "1401210012346",
    "invoice": "1401210012347",
    "legal_representative": "1401210012348",
}


def make_request(sample_json: dict, department: str, *, uscc: str = USCC, seal_codes: dict | None = None):
    upstream: dict[str, dict] = {
        "amr": {"uscc": uscc, "licence_serial": "L-1", "approved_at": "2026-03-10T10:00:00+08:00"}
    }
    if department == "bank":
        upstream["psb_seal"] = {"seal_codes": SEAL_CODES if seal_codes is None else seal_codes}
    return DepartmentRequest(
        application_id="APP-" + uuid.uuid4().hex[:12].upper(),
        department=department,
        application=Application.model_validate(sample_json),
        upstream=upstream,
    )


async def until_done(client: DepartmentApiClient, receipt_no: str, timeout: float = 5.0) -> Inquiry:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        inquiry = await client.inquire(receipt_no)
        if inquiry.status != "in_review":
            return inquiry
        assert loop.time() < deadline, "department never finished"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("department", ["tax", "nhsa", "bank"])
async def test_submit_and_inquire(tmp_path, sample_json, department):
    db = tmp_path / f"{department}.db"
    app = create_department_api_app(department, db_path=db, token=TOKEN, process_delay_s=0.2)
    request = make_request(sample_json, department)
    async with serve_app(app) as url:
        client = DepartmentApiClient(url, TOKEN)
        try:
            receipt = await client.submit(request)
            assert isinstance(receipt, Receipt)
            assert receipt.receipt_no.startswith(department.upper() + "-")
            assert receipt.submitted_at is not None and receipt.submitted_at.utcoffset().total_seconds() == 8 * 3600
            first = await client.inquire(receipt.receipt_no)
            assert first.status == "in_review" and first.result is None
            done = await until_done(client, receipt.receipt_no)
        finally:
            await client.aclose()
    assert done.status == "completed"
    assert count_submissions(db, request.application_id) == 1
    if department == "tax":
        assert done.result["taxpayer_id"] == USCC
        assert done.result["tax_authority"] == "国家税务总局太原市清徐县税务局"
        assert done.result["invoice_types"] == sample_json["tax"]["invoice_types"]
    elif department == "nhsa":
        assert done.result["mi_unit_code"].startswith(sample_json["company"]["address"]["division_code"])
    else:
        assert done.result["bank_code"] == sample_json["bank_account"]["bank_code"]
        assert done.result["account_no"].isdigit()
        assert done.result["opened_at"].endswith("+08:00")


async def test_repeated_submit_returns_the_same_receipt(tmp_path, sample_json):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN)
    request = make_request(sample_json, "tax")
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client:
            receipts = [await client.submit(request) for _ in range(3)]
            receipts += await asyncio.gather(*(client.submit(request) for _ in range(3)))
    assert len({r.receipt_no for r in receipts}) == 1
    assert count_submissions(db, request.application_id) == 1


async def test_client_reuses_one_pooled_connection(tmp_path, sample_json):
    connections = 0
    app = create_department_api_app("nhsa", db_path=tmp_path / "nhsa.db", token=TOKEN)

    async with serve_app(app) as url:
        port = int(url.rsplit(":", 1)[1])

        async def count_connection(reader, writer):
            nonlocal connections
            connections += 1
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", port)

            async def pipe(src, dst):
                try:
                    while data := await src.read(65536):
                        dst.write(data)
                        await dst.drain()
                finally:
                    dst.close()

            await asyncio.gather(pipe(reader, upstream_w), pipe(upstream_r, writer), return_exceptions=True)

        proxy = await asyncio.start_server(count_connection, "127.0.0.1", 0)
        proxy_port = proxy.sockets[0].getsockname()[1]
        try:
            async with DepartmentApiClient(f"http://127.0.0.1:{proxy_port}", TOKEN) as client:
                for _ in range(4):
                    receipt = await client.submit(make_request(sample_json, "nhsa"))
                    await client.inquire(receipt.receipt_no)
        finally:
            proxy.close()
    assert connections == 1


async def test_invalid_uscc_is_rejected(tmp_path, sample_json):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN)
    request = make_request(sample_json, "tax", uscc=BAD_USCC)
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client:
            with pytest.raises(DepartmentRejected) as info:
                await client.submit(request)
    assert "GB 32100" in info.value.reason
    assert info.value.status_code == 422
    assert "tax" in str(info.value)
    assert count_submissions(db, request.application_id) == 0


async def test_bank_without_seal_codes_is_rejected(tmp_path, sample_json):
    app = create_department_api_app("bank", db_path=tmp_path / "bank.db", token=TOKEN)
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client:
            with pytest.raises(DepartmentRejected, match="bank"):
                await client.submit(make_request(sample_json, "bank", seal_codes={}))
            # the sample asks for a financial seal: the bank needs its code
            without_financial = {k: v for k, v in SEAL_CODES.items() if k != "financial"}
            with pytest.raises(DepartmentRejected) as info:
                await client.submit(make_request(sample_json, "bank", seal_codes=without_financial))
    assert "financial" in info.value.reason


async def test_department_rejection_after_receipt_is_reported(tmp_path, sample_json):
    app = create_department_api_app("nhsa", db_path=tmp_path / "nhsa.db", token=TOKEN, process_delay_s=30)
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client, httpx.AsyncClient(base_url=url) as admin:
            receipt = await client.submit(make_request(sample_json, "nhsa"))
            r = await admin.post(f"/_admin/submissions/{receipt.receipt_no}/reject", json={"reason": "参保人数需补正"})
            assert r.status_code == 200
            inquiry = await client.inquire(receipt.receipt_no)
    assert inquiry.status == "rejected"
    assert inquiry.reason == "参保人数需补正"
    assert inquiry.result is None


async def test_wrong_token_is_an_auth_error(tmp_path, sample_json):
    app = create_department_api_app("nhsa", db_path=tmp_path / "nhsa.db", token=TOKEN)
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, "not-the-token") as client:
            with pytest.raises(DepartmentAuthError) as info:
                await client.submit(make_request(sample_json, "nhsa"))
            with pytest.raises(DepartmentAuthError):
                await client.inquire("NHSA-20260101-ABC")
    assert info.value.status_code == 401
    assert "nhsa" in str(info.value)


async def test_unknown_receipt_is_rejected(tmp_path):
    app = create_department_api_app("tax", db_path=tmp_path / "tax.db", token=TOKEN)
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN, department="tax") as client:
            with pytest.raises(DepartmentRejected) as info:
                await client.inquire("TAX-20260101-NOPE")
    assert info.value.status_code == 404


async def test_closed_port_is_unavailable(sample_json):
    async with DepartmentApiClient(f"http://127.0.0.1:{free_port()}", TOKEN, timeout=2.0) as client:
        with pytest.raises(DepartmentUnavailable) as info:
            await client.submit(make_request(sample_json, "tax"))
    assert "tax" in str(info.value)
    assert not isinstance(info.value, (DepartmentRejected, DepartmentAuthError))


@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_server_errors_are_unavailable(sample_json, status):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json={"error": "busy", "reason": "upstream down"}, headers={"Retry-After": "7"})

    request = make_request(sample_json, "tax")
    async with DepartmentApiClient("http://tax.test", TOKEN, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DepartmentUnavailable) as info:
            await client.submit(request)
    assert info.value.status_code == status
    assert info.value.retry_after_s == 7.0
    assert "tax" in str(info.value) and "upstream down" in str(info.value)
    assert calls[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert calls[0].headers["idempotency-key"] == request.application_id


async def test_timeout_is_unavailable(sample_json):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with DepartmentApiClient("http://tax.test", TOKEN, transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(DepartmentUnavailable, match="timed out"):
            await client.submit(make_request(sample_json, "tax"))


async def test_malformed_result_is_not_a_rejection(sample_json):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"ticket": "TAX-1", "application_id": "X", "status": "completed", "result": {"taxpayer_id": USCC}},
        )

    async with DepartmentApiClient(
        "http://tax.test", TOKEN, department="tax", transport=httpx.MockTransport(handler)
    ) as c:
        with pytest.raises(DepartmentUnavailable, match="malformed result"):
            await c.inquire("TAX-1")


def test_build_payload_carries_the_upstream_results(sample_json):
    tax = build_payload(make_request(sample_json, "tax"))
    assert tax["uscc"] == USCC
    assert tax["invoice_types"] == ["digital_general"]
    assert tax["expected_monthly_invoice_amount_wan_yuan"] == "50"
    bank = build_payload(make_request(sample_json, "bank"))
    assert bank["seal_codes"] == SEAL_CODES
    assert bank["requested_seal_types"] == sample_json["seal"]["types"]
    assert bank["bank_code"] == "ICBC"
    request = make_request(sample_json, "nhsa")
    request.upstream.pop("amr")
    with pytest.raises(ValueError, match="nhsa.*uscc"):
        build_payload(request)
    with pytest.raises(ValueError, match="no API payload"):
        build_payload(make_request(sample_json, "customs"))


async def test_rare_characters_reach_the_department_unchanged(tmp_path, sample_json):
    sample_json["company"]["name"] = "太原𬱖䶮数据科技有限公司"
    sample_json["legal_representative"]["name"] = "王𬱖"
    app = create_department_api_app("tax", db_path=tmp_path / "tax.db", token=TOKEN)
    request = make_request(sample_json, "tax")
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client, httpx.AsyncClient(base_url=url) as admin:
            await client.submit(request)
            stored = (await admin.get("/_admin/submissions", params={"application_id": request.application_id})).json()
    assert stored[0]["payload"]["company_name"] == "太原𬱖䶮数据科技有限公司"
    assert stored[0]["payload"]["legal_representative"]["name"] == "王𬱖"


def test_errors_survive_pickling():
    err = DepartmentRejected("tax: rejected", department="tax", reason="bad uscc", status_code=422)
    copy = pickle.loads(pickle.dumps(err))
    assert (type(copy), copy.department, copy.reason, copy.status_code, str(copy)) == (
        DepartmentRejected,
        "tax",
        "bad uscc",
        422,
        "tax: rejected",
    )
    unavailable = pickle.loads(pickle.dumps(DepartmentUnavailable("bank: down", department="bank", retry_after_s=3.0)))
    assert unavailable.retry_after_s == 3.0


async def test_withdraw_is_idempotent_and_quiet_about_unknown_receipts(tmp_path, sample_json):
    db = tmp_path / "nhsa.db"
    app = create_department_api_app("nhsa", db_path=db, token=TOKEN, process_delay_s=30)
    request = make_request(sample_json, "nhsa")
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client:
            receipt = await client.submit(request)
            assert count_live_submissions(db, request.application_id) == 1
            await client.withdraw(receipt.receipt_no, "申请人撤回申请")
            assert count_live_submissions(db, request.application_id) == 0
            await client.withdraw(receipt.receipt_no, "再次撤回")  # already withdrawn: done
            inquiry = await client.inquire(receipt.receipt_no)
            await client.withdraw("NHSA-20260101-NOPE", "申请人撤回申请")  # nothing to withdraw: done
            with pytest.raises(ValueError, match="reason"):
                await client.withdraw(receipt.receipt_no, " ")
        async with DepartmentApiClient(url, "not-the-token") as intruder:
            with pytest.raises(DepartmentAuthError):
                await intruder.withdraw(receipt.receipt_no, "申请人撤回申请")
    assert inquiry == Inquiry(status="withdrawn", reason="申请人撤回申请")
    assert count_submissions(db, request.application_id) == 1


async def test_a_department_told_to_reject_an_application_rejects_it(tmp_path, sample_json):
    db = tmp_path / "tax.db"
    app = create_department_api_app("tax", db_path=db, token=TOKEN, process_delay_s=0.2)
    request = make_request(sample_json, "tax")
    async with serve_app(app) as url:
        async with DepartmentApiClient(url, TOKEN) as client, httpx.AsyncClient(base_url=url) as admin:
            rule = {"application_id": request.application_id, "reason": "财务负责人信息需补正"}
            assert (await admin.post("/_admin/rejections", json=rule)).status_code == 200
            receipt = await client.submit(request)
            rejected = await until_done(client, receipt.receipt_no)
            assert (await admin.delete(f"/_admin/rejections/{request.application_id}")).json()["removed"] is True
            corrected = await client.submit(request)
            done = await until_done(client, corrected.receipt_no)
    assert rejected == Inquiry(status="rejected", reason="财务负责人信息需补正")
    assert corrected.receipt_no != receipt.receipt_no and done.status == "completed"
    assert count_submissions(db, request.application_id) == 2
    assert count_live_submissions(db, request.application_id) == 1
