"""Page objects of the departments' legacy portals: one class per page, verbs as methods.

Locators are built once in ``__init__`` from labels and roles; every page checks its landmarks
on arrival (:class:`~bots.errors.PortalChanged`, or :class:`~bots.errors.SessionExpired` when
the portal sent us back to its login). The base class is :mod:`bots.portal_page`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self
from urllib.parse import urljoin

import structlog
from playwright.async_api import Page

from bots.captcha import DEFAULT_RULES, CaptchaLog, CaptchaRules, captcha_reader
from bots.errors import (
    BusinessRejection,
    CaptchaUnsolved,
    LoginRejected,
    PortalChanged,
    PortalUnavailable,
    SessionExpired,
    WithdrawalRefused,
    playwright_errors,
)
from bots.fill import FILL_MODES, ONE_TRIP, PER_FIELD, FillMode, fill_and_aim, missing_labels
from bots.portal_page import PAGE_RETRY_PAUSES_S, FieldValue, PortalPage
from bots.press import Aim
from bots.snapshot import CAPTCHA_PICTURE_JS, LOGIN_HEADING, Snapshot, picture_bytes
from domain.results import Receipt

__all__ = [
    "ConfirmPage",
    "HomePage",
    "LoginPage",
    "ProgressPage",
    "ReceiptPage",
    "WithdrawalPage",
    "WizardStepPage",
    "parse_time",
    "solve_captcha",
]


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


class LoginPage(PortalPage):
    """The login page: user name, password and, when the portal asks, a captcha (验证码): a question in
    text, answered exactly, or a picture, read by :mod:`bots.captcha` within the portal's
    :class:`~bots.captcha.CaptchaRules`. A refused answer is followed by a new picture, read and answered
    again (never with an answer refused before) up to ``captcha_attempts`` times; then
    :class:`~bots.errors.CaptchaUnsolved` (retried later by Temporal)."""

    HEADING = LOGIN_HEADING
    USERNAME = "用户名"
    PASSWORD = "密码"
    SUBMIT = "登录"
    CAPTCHA = "验证码"
    CAPTCHA_ATTEMPTS = 5

    def __init__(
        self,
        page: Page,
        base_url: str,
        *,
        captcha_attempts: int = CAPTCHA_ATTEMPTS,
        captcha_rules: CaptchaRules = DEFAULT_RULES,
    ) -> None:
        super().__init__(page)
        self.base_url = base_url.rstrip("/")
        self.username = page.get_by_label(self.USERNAME, exact=True)
        self.password = page.get_by_label(self.PASSWORD, exact=True)
        self.submit_button = page.get_by_role("button", name=self.SUBMIT, exact=True)
        self.captcha = page.get_by_label(self.CAPTCHA, exact=True)
        self.main = page.locator("main")  # where the captcha question or picture is
        self.captcha_attempts = max(1, captcha_attempts)
        self.captcha_rules = captcha_rules
        self.captcha_log = CaptchaLog()
        self._landing = "/"
        self._already_in: HomePage | ProgressPage | None = None

    @property
    def already_logged_in(self) -> bool:
        """Whether :meth:`open` found the portal logged in (a reused session): no login needed."""
        return self._already_in is not None

    async def open(self, landing: str = "/") -> LoginPage:
        """Open a page of the portal (``landing``, a path); without a session the portal shows its
        login page first and, after logging in, leads to that page."""
        self._landing = landing
        snap = await self._goto(self.base_url + landing, "opening the portal")
        self._already_in = None
        if not snap.is_login:
            # still logged in (a reused session): the portal shows the page itself
            if ProgressPage.HEADING in snap.main_heading:
                self._already_in = ProgressPage(self.page, snap).expect()
                return self
            if HomePage.HEADING in snap.main_heading:
                self._already_in = HomePage(self.page, snap).expect()
                return self
        self._expect_form()
        return self

    def _expect_form(self) -> None:
        self.expect_landmarks(labels=(self.USERNAME, self.PASSWORD), buttons=(self.SUBMIT,))

    async def _answer_captcha(self) -> str | None:
        """Answer the captcha the login page asks (验证码), if any: the answer entered; ``""`` for a picture
        with no reading left to try (unreadable, or every candidate refused before); None without a captcha."""
        if self.snap is None or self.CAPTCHA not in self.snap.labels:
            return None
        with playwright_errors("reading the captcha"):
            picture = await self.main.evaluate(CAPTCHA_PICTURE_JS)
        if picture is None:  # a question in text
            self.captcha_log.kind = "text"
            with playwright_errors("answering the captcha"):
                answer = solve_captcha(await self.main.inner_text())
                await self.captcha.fill(answer)
            return answer
        self.captcha_log.kind = "image"
        png = picture_bytes(picture)
        if png is None:
            _log().info("robot.captcha_unreadable", detail=str(picture.get("error")))
            return ""
        rules = self.captcha_rules  # the model loads (once per process) and reads in a thread, not in the loop
        reading = await asyncio.to_thread(lambda: captcha_reader().read(png, rules))
        untried = reading.best_untried(self.captcha_log.refused)
        self.captcha_log.read(reading.ms)
        _log().info(
            "robot.captcha_read",
            attempt=self.captcha_log.attempts + 1,
            ocr_ms=round(reading.ms, 1),
            candidates=len(reading.candidates),
            answered=untried is not None,
        )
        if untried is None:
            return ""
        with playwright_errors("answering the captcha"):
            await self.captcha.fill(untried)
        return untried

    async def log_in(self, username: str, password: str) -> HomePage | ProgressPage:
        """Log in (answering the captcha if one is asked, again with a new one if an answer is refused);
        returns the page the portal leads to (the progress page when asked for, else home)."""
        if self._already_in is not None:
            return self._already_in
        log = self.captcha_log
        for attempt in range(1, self.captcha_attempts + 1):
            with playwright_errors("entering credentials"):
                await self.username.fill(username)
                await self.password.fill(password)
            answer = await self._answer_captcha()
            if answer == "":  # nothing to send for this picture: ask for a new one (the page again)
                log.attempts += 1
                await self.open(self._landing)
                if self._already_in is not None:
                    return self._already_in
                continue
            press, _href = await self._click(self.submit_button, "button", self.SUBMIT)
            snap = await self._navigate(press, "logging in")
            if answer is not None:
                log.attempts += 1
            if not snap.is_login:
                break
            captcha_refused = any(self.CAPTCHA in a for a in snap.alerts)
            if captcha_refused and answer:
                log.refused.add(answer)
            if captcha_refused and attempt < self.captcha_attempts:
                self._expect_form()
                continue
            reason = "; ".join(snap.alerts) or "login page shown again"
            if captcha_refused and log.kind == "image":
                log.counted(solved=False)
                raise CaptchaUnsolved(f"the portal refused every captcha answer read: {reason}", attempts=log.attempts)
            if captcha_refused:
                raise PortalChanged(f"the portal refused every captcha answer: {reason}")
            raise LoginRejected(f"the portal refused the robot's credentials: {reason}")
        else:  # every attempt found nothing to send
            log.counted(solved=False)
            raise CaptchaUnsolved(f"no captcha picture could be read in {log.attempts} attempts", attempts=log.attempts)
        if log.kind == "image":
            log.counted(solved=True)
            _log().info(
                "robot.captcha_solved", captcha_attempts=log.attempts, ocr_ms=round(log.ocr_ms, 1), reads=log.reads
            )
        if ProgressPage.HEADING in snap.main_heading:
            return ProgressPage(self.page, snap).expect()
        return HomePage(self.page, snap).expect()


class _MenuPage(PortalPage):
    """A page with the portal's main menu."""

    PROGRESS_LINK = "办理进度查询"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)
        self.menu = page.get_by_role("navigation")

    def expect(self) -> Self:
        self.expect_landmarks()
        return self

    async def open_progress_inquiry(self) -> ProgressPage:
        return ProgressPage(self.page, await self._follow_menu(self.PROGRESS_LINK)).expect()

    async def start_application(self, link: str) -> WizardStepPage:
        """Open a new, empty application form (the menu entry is the department's service name)."""
        return WizardStepPage(self.page, await self._follow_menu(link))

    async def _follow_menu(self, link: str) -> Snapshot:
        """Click an entry of the portal's main menu (present on every page after login); a 5xx answer
        to it is loaded again by its address (a link: a GET)."""
        if self.snap is not None and link not in self.snap.links:
            raise PortalChanged(f"menu entry {link!r} not found")
        target = self.menu.get_by_role("link", name=link, exact=True)
        what = f"opening {link}"
        press, href = await self._click(target, "link", link, within="nav")
        if href is None:
            with playwright_errors(what):
                href = await target.get_attribute("href")
        try:
            return await self._navigate(press, what)
        except PortalUnavailable as exc:
            await self._pause_before_reload(exc, PAGE_RETRY_PAUSES_S[0] if href else None, what)
            return await self._goto(urljoin(self.page.url, href or ""), what)

    # Bookmarks into the application form the portal keeps in the session (its draft): the first
    # step shows what was entered there; the confirmation page sends a form not yet complete on
    # to its first step not done.
    DRAFT_FIRST_STEP = "/apply/step/1"
    DRAFT_CONTINUE = "/apply/confirm"

    async def open_draft(self, base_url: str) -> WizardStepPage:
        """The first step of the form this session holds, with the values entered so far (never a new form)."""
        snap = await self._goto(base_url.rstrip("/") + self.DRAFT_FIRST_STEP, "opening the draft")
        if snap.is_login:
            raise SessionExpired("the portal logged the robot out before the draft was read")
        return WizardStepPage(self.page, snap)

    async def continue_draft(self, base_url: str) -> WizardStepPage | ConfirmPage:
        """Where the form this session holds goes on: its first step not done, or the confirmation."""
        snap = await self._goto(base_url.rstrip("/") + self.DRAFT_CONTINUE, "continuing the draft")
        if snap.is_login:
            raise SessionExpired("the portal logged the robot out before the draft was continued")
        if ConfirmPage.HEADING in snap.main_heading:
            return ConfirmPage(self.page, snap).expect()
        return WizardStepPage(self.page, snap)


class HomePage(_MenuPage):
    HEADING = "办事大厅"


class ProgressPage(_MenuPage):
    HEADING = "办理进度查询"
    APPLICATION_ID = "外部业务编号"
    RECEIPT_NO = "受理号"
    SEARCH = "查询"
    RESULTS = "查询结果"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)
        self.search_button = page.get_by_role("button", name=self.SEARCH, exact=True)

    def expect(self) -> ProgressPage:
        self.expect_landmarks(labels=(self.APPLICATION_ID, self.RECEIPT_NO), buttons=(self.SEARCH,))
        return self

    async def search(self, *, application_id: str | None = None, receipt_no: str | None = None) -> list[dict[str, Any]]:
        """Search the portal's cases; every match as ``{data-field: text}`` (oldest first as listed)."""
        assert self.snap is not None
        _set, aimed = await fill_and_aim(
            self.page,
            self.snap,
            {self.APPLICATION_ID: application_id or "", self.RECEIPT_NO: receipt_no or ""},
            ("button", self.SEARCH, None),
        )
        press, _href = await self._click(self.search_button, "button", self.SEARCH, aimed=aimed)
        snap = await self._navigate(press, "searching cases")
        self.expect()
        if snap.alerts:
            raise PortalChanged(f"the progress search was refused: {'; '.join(snap.alerts)}")
        if self.RESULTS not in snap.headings:
            raise PortalChanged("the progress page shows no result section")
        for record in snap.records:
            if "receipt_no" not in record or "status" not in record:
                raise PortalChanged("a case on the progress page lacks its receipt number or status")
        return list(snap.records)

    WITHDRAW = "撤回"
    WITHDRAW_REASON = "撤回原因"

    async def withdraw(self, receipt_no: str, reason: str) -> WithdrawalPage:
        """Withdraw one listed case (its card's 撤回原因 and 撤回 button); returns the confirmation."""
        card = self.page.get_by_role("article", name=f"{self.RECEIPT_NO} {receipt_no}", exact=True)
        reason_box = card.get_by_label(self.WITHDRAW_REASON, exact=True)
        button = card.get_by_role("button", name=self.WITHDRAW, exact=True)
        with playwright_errors("entering the withdrawal"):
            if await card.count() != 1:
                raise PortalChanged(f"case {receipt_no} is not listed once on the progress page")
            if await reason_box.count() != 1 or await button.count() != 1:
                raise PortalChanged(f"case {receipt_no} offers no withdrawal ({self.WITHDRAW_REASON}, {self.WITHDRAW})")
            await reason_box.fill(reason)
        try:
            snap = await self._post(button, "withdrawing", logged_out="before the withdrawal")
        except BusinessRejection as exc:  # e.g. the department completed (approved) the case meanwhile
            raise WithdrawalRefused(exc.reason) from exc
        return WithdrawalPage(self.page, snap).expect()


class WizardStepPage(_MenuPage):
    """One step of the application wizard; the flow knows which step it expects."""

    NEXT = "下一步"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)
        self.next_button = page.get_by_role("button", name=self.NEXT, exact=True)
        self._next_at: Aim | None = None  # where the one-trip fill found 下一步, for the click right after it

    def expect_step(self, title: str) -> WizardStepPage:
        self.expect_landmarks(heading=title, buttons=(self.NEXT,))
        return self

    async def fill_in(self, values: Mapping[str, FieldValue], fill: FillMode = ONE_TRIP) -> tuple[str, ...]:
        """Enter every ``label: value`` of this step; all labels are checked before the first keystroke.
        ``fill``: in one round trip, or field by field (bots/fill.py; the portal's ``PortalFlow.fill``).
        Returns the labels entered."""
        assert self.snap is not None
        missing = missing_labels(self.snap, values)
        if missing:
            raise PortalChanged(f"step {self.snap.main_heading!r} lacks fields {', '.join(missing)}")
        if fill == ONE_TRIP:  # and where 下一步 is, for the click that follows (bots/press.py)
            entered, self._next_at = await fill_and_aim(self.page, self.snap, values, ("button", self.NEXT, None))
            return entered
        if fill != PER_FIELD:
            raise ValueError(f"unknown fill mode {fill!r}; known: {', '.join(FILL_MODES)}")
        for label, value in values.items():
            await self._set(label, value)
        return tuple(values)

    async def value_of(self, label: str) -> str:
        """What the text control labelled ``label`` holds now (e.g. a value the portal kept in the draft)."""
        box = self.field(label)
        with playwright_errors(f"reading {label!r}"):
            value = await box.input_value()
        return value.strip()

    async def _advance(self) -> Snapshot:
        title = self.snap.main_heading if self.snap else ""
        aimed, self._next_at = self._next_at, None
        return await self._post(
            self.next_button, "next step", logged_out=f"during step {title!r}", name=self.NEXT, aimed=aimed
        )

    async def proceed_to_next_step(self) -> WizardStepPage:
        return WizardStepPage(self.page, await self._advance())

    async def proceed_to_confirmation(self) -> ConfirmPage:
        return ConfirmPage(self.page, await self._advance()).expect()


class ConfirmPage(_MenuPage):
    HEADING = "确认提交"
    SUBMIT = "确认提交"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)
        self.submit_button = page.get_by_role("button", name=self.SUBMIT, exact=True)

    def expect(self) -> ConfirmPage:
        self.expect_landmarks(buttons=(self.SUBMIT,))
        return self

    async def submit_application(self) -> ReceiptPage:
        snap = await self._post(self.submit_button, "submitting", logged_out="before the submission", name=self.SUBMIT)
        return ReceiptPage(self.page, snap).expect()


class _OutcomePage(_MenuPage):
    """A page showing what the portal did (a receipt, a withdrawal) in ``data-field`` markup."""

    @property
    def shown(self) -> dict[str, Any]:
        """Everything the page shows in structured markup (``data-field`` -> text)."""
        assert self.snap is not None
        return dict(self.snap.fields)


class ReceiptPage(_OutcomePage):
    HEADING = "受理回执"

    def read_receipt(self) -> Receipt:
        fields = self.shown
        if not fields.get("receipt_no"):
            raise PortalChanged("the receipt page shows no receipt number")
        return Receipt(receipt_no=fields["receipt_no"], submitted_at=parse_time(fields.get("submitted_at")))


class WithdrawalPage(_OutcomePage):
    """The confirmation after a withdrawal (办件撤回), showing the case as it now stands."""

    HEADING = "办件撤回"

    def expect(self) -> WithdrawalPage:
        self.expect_landmarks()
        if not self.shown.get("receipt_no") or not self.shown.get("status"):
            raise PortalChanged("the withdrawal page shows no receipt number or status")
        return self


_ARITHMETIC = re.compile(r"(\d+)\s*([+＋\-－−×xX*＊])\s*(\d+)\s*[=＝]\s*[?？]")
_CHARACTERS = re.compile(r"验证码\s*[：:]\s*([A-Za-z0-9]{3,8})")


def solve_captcha(text: str) -> str:
    """The answer to a captcha shown as text: "3 + 4 = ?" -> "7"; "请输入验证码：K7QP" -> "K7QP"."""
    m = _ARITHMETIC.search(text)
    if m:
        a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
        if op in "+＋":
            return str(a + b)
        if op in "-－−":
            return str(a - b)
        return str(a * b)
    m = _CHARACTERS.search(text)
    if m:
        return m.group(1)
    raise PortalChanged("the login page asks for a captcha the robot cannot read")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise PortalChanged(f"unreadable time {text!r}") from exc
