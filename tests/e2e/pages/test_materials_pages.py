"""Materials on the pages, in Chromium against the whole stack with the real OCR worker: on the one form a
clerk uploads another person's ID card for the legal representative (the row's SHA-256 and file name filled,
the read name and number shown beside it) and a file that is no PDF, JPEG or PNG (refused beside the row);
the submitted application's page lists the pre-review findings, and the clerk confirms one as filled in and
records the other as corrected, each from the page; the API then has no open finding. Axe and screenshots."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

import httpx
from playwright.async_api import expect

from ai.synthetic import draw_id_card
from cli.worker import running_workers
from domain.samples import generate_application
from tests.e2e.conftest import e2e_settings, running_api, running_departments
from tests.e2e.pages.conftest import person, serious_violations, shot
from tests.e2e.pages.pages import FormPage
from tests.e2e.test_end_to_end import CLERK

TODAY = date(2026, 12, 1)


async def test_a_clerk_uploads_materials_on_the_form_and_reviews_the_findings(dev_env, tmp_path, sample_json, browser):
    other = generate_application(22, today=TODAY)["legal_representative"]
    card = draw_id_card(other, 22)
    rep = sample_json["legal_representative"]
    sample_json["materials"] = []
    async with running_departments(tmp_path) as departments:
        settings = e2e_settings(
            departments,
            tmp_path,
            ai_task_queue=f"e2e-ai-{uuid.uuid4().hex[:8]}",
            materials_must_be_stored=True,
            material_read_wait_s=30.0,
        )
        async with running_workers(dev_env.client, settings), running_api(settings, dev_env.client) as api:
            clerk = await person(browser, api, "clerk")
            page = clerk.page
            form = FormPage(page)
            await form.open_new()
            await form.fill(sample_json)

            add = page.get_by_role("button", name="添加材料")
            await add.click()
            await form.field("materials.0.kind").select_option("id_card")
            await form.field("materials.0.concerns").select_option("legal_representative")
            upload = page.get_by_label("上传文件（PDF、JPEG 或 PNG）").first
            await upload.set_input_files({"name": "身份证.png", "mimeType": "image/png", "buffer": card.data})
            read = page.locator("#f-materials-0-file-read")
            await expect(read).to_contain_text("识别结果", timeout=60_000)
            await expect(read).to_contain_text(other["id_number"])
            await expect(read).to_contain_text(other["name"])
            await expect(form.field("materials.0.sha256")).to_have_value(hashlib.sha256(card.data).hexdigest())
            await expect(form.field("materials.0.filename")).to_have_value("身份证.png")

            await add.click()
            await expect(form.field("materials.1.concerns")).to_have_value("")  # whom it concerns: not guessed
            await form.field("materials.1.kind").select_option("premises_proof")
            await page.locator("#f-materials-1-file").set_input_files(
                {"name": "租赁合同.pdf", "mimeType": "application/pdf", "buffer": b"not a scan at all"}
            )
            await expect(page.locator("#f-materials-1-file-error")).to_contain_text("只接受 PDF、JPEG 或 PNG")
            await expect(form.field("materials.1.sha256")).to_have_value("")
            await shot(page, "form-materials")
            assert await serious_violations(page) == []
            await page.locator('.row[data-row="materials"]').nth(1).get_by_role("button", name="删除此材料").click()
            await expect(page.locator('.row[data-row="materials"]')).to_have_count(1)

            await form.submit()
            await page.wait_for_url("**/applications/KB*")
            app_id = page.url.rsplit("/", 1)[1]
            findings = page.locator("#prereview tr.finding")
            await expect(findings).to_have_count(2)
            number = page.locator('#prereview tr.finding[data-field="legal_representative.id_number"]')
            name = page.locator('#prereview tr.finding[data-field="legal_representative.name"]')
            await expect(number).to_contain_text("法定代表人 · 身份证号码")
            await expect(number).to_contain_text(rep["id_number"])
            await expect(number).to_contain_text(other["id_number"])
            await expect(number).to_contain_text("不一致")
            await expect(page.locator("#prereview-h")).to_contain_text("2 项待确认")
            await shot(page, "application-prereview")
            assert await serious_violations(page) == []

            await number.get_by_label("核对无误，以申请表为准").check()
            await number.get_by_label("说明（可选）").fill("已核对申请人身份证原件")
            await number.get_by_role("button", name="确认").click()
            await expect(page.get_by_role("status").filter(has_text="预审发现的核对结果已记录")).to_be_visible()
            await expect(number).to_have_attribute("data-decision", "form_correct")
            await expect(number).to_contain_text("已核对申请人身份证原件")

            await name.get_by_label("申请表已按材料更正").check()
            await name.get_by_label("更正后的值（已更正时填写）").fill(other["name"])
            await name.get_by_role("button", name="确认").click()
            await expect(name).to_have_attribute("data-decision", "form_corrected")
            await expect(page.locator("#prereview-h")).to_contain_text("0 项待确认")
            assert await serious_violations(page) == []
            assert clerk.problems == []
            await clerk.close()

            async with httpx.AsyncClient(base_url=api, timeout=30, headers=CLERK) as http:
                found = (await http.get(f"/api/v1/applications/{app_id}/prereview")).json()
            assert found["open"] == 0
            decided = {f["field"]: (f["decision"], f["decided_by"]) for f in found["findings"]}
            assert decided == {
                "legal_representative.id_number": ("form_correct", "clerk-0007"),
                "legal_representative.name": ("form_corrected", "clerk-0007"),
            }
            await dev_env.client.get_workflow_handle(app_id).terminate("test over")
