"""The portal's attachment step (上传申请材料): after the wizard's last step, a portal that asks for the
application's materials gets the files the catalog names for it, uploaded as a clerk would.

The files come from the activity (kaiban's object storage is not the robot's business): ``Attachment`` holds
a name, a type and the bytes. A portal without the step goes straight to its confirmation page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playwright.async_api import Page

from bots.errors import PortalChanged, playwright_errors
from bots.pages import ConfirmPage, WizardStepPage, _MenuPage
from bots.snapshot import Snapshot


@dataclass(frozen=True)
class Attachment:
    name: str  # the file name the portal shows, e.g. "法定代表人身份证.jpg"
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # never the bytes (an ID card is personal data)
        return f"Attachment({self.name!r}, {self.content_type}, {len(self.data)} bytes)"


class AttachmentPage(_MenuPage):
    HEADING = "上传申请材料"
    FILES = "申请材料"
    NEXT = "下一步"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)
        self.next_button = page.get_by_role("button", name=self.NEXT, exact=True)

    def expect(self) -> AttachmentPage:
        self.expect_landmarks(labels=(self.FILES,), buttons=(self.NEXT,))
        return self

    async def attach(self, files: Sequence[Attachment]) -> ConfirmPage:
        """Choose every file in the portal's file control (none: the portal asks for none of ours), go on."""
        control = self.field(self.FILES)
        if files:
            payload = [{"name": f.name, "mimeType": f.content_type, "buffer": f.data} for f in files]
            with playwright_errors(f"attaching {len(files)} files"):
                await control.set_input_files(payload)  # type: ignore[arg-type]
        snap = await self._post(
            self.next_button, "attaching the materials", logged_out="during the attachments", name=self.NEXT
        )
        return ConfirmPage(self.page, snap).expect()


def attachment_page_or(page: WizardStepPage | ConfirmPage) -> WizardStepPage | ConfirmPage | AttachmentPage:
    """``page`` as what it shows: the attachment step when its heading says so."""
    snap = page.snap
    if snap is not None and AttachmentPage.HEADING in snap.main_heading:
        return AttachmentPage(page.page, snap).expect()
    return page


async def past_last_step(step: WizardStepPage) -> ConfirmPage | AttachmentPage:
    """Submit the wizard's last step: the confirmation page, or the attachment step where the portal has one."""
    snap = await step._advance()
    if AttachmentPage.HEADING in snap.main_heading:
        return AttachmentPage(step.page, snap).expect()
    if ConfirmPage.HEADING not in snap.main_heading:
        raise PortalChanged(f"after the last step: expected {ConfirmPage.HEADING!r}, found {snap.main_heading!r}")
    return ConfirmPage(step.page, snap).expect()
