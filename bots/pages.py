"""Page objects of the departments' legacy portals.

One class per page; locators come from labels and roles (``get_by_label``,
``get_by_role``); methods are business verbs and return the page object the
portal leads to. Every page checks its landmarks (main heading, labels, buttons)
on arrival and raises :class:`~bots.errors.PortalChanged` when one is missing, or
:class:`~bots.errors.SessionExpired` when the portal sent us back to its login.

Reading the page uses one ``evaluate`` round trip (a :class:`Snapshot`: headings,
labels with their control type, buttons, alerts, ``data-field`` markup) so the
checks cost no waiting: a missing field fails at once instead of after an action
timeout. Actions then go through Playwright locators.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urljoin

import structlog
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Response

from bots.errors import (
    BusinessRejection,
    LoginRejected,
    PortalChanged,
    PortalUnavailable,
    SessionExpired,
    from_playwright,
)
from domain.results import Receipt


def _log() -> structlog.typing.FilteringBoundLogger:
    # Looked up at call time, so a logging configuration made later (or capture_logs) is honoured.
    return structlog.get_logger(__name__)


# Pauses before loading a page again that the portal answered with a 5xx (GETs only: loading a page
# again changes nothing); then the attempt fails and Temporal's retry policy takes over.
PAGE_RETRY_PAUSES_S = (0.5, 1.5)
MAX_INLINE_WAIT_S = 5.0  # a portal asking for a longer wait (Retry-After) is not waited for here

__all__ = [
    "ConfirmPage",
    "HomePage",
    "LoginPage",
    "PortalPage",
    "ProgressPage",
    "ReceiptPage",
    "Snapshot",
    "WithdrawalPage",
    "WizardStepPage",
    "parse_time",
    "solve_captcha",
]

FieldValue = str | bool
SESSION_EXPIRED = "会话已过期"

_SNAPSHOT_JS = r"""
() => {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  const labels = {};
  for (const l of document.querySelectorAll('label')) {
    const c = l.control;
    if (!c) continue;
    labels[norm(l.textContent)] = {
      tag: c.tagName.toLowerCase(),
      type: (c.getAttribute('type') || '').toLowerCase(),
      options: c.tagName === 'SELECT' ? Array.from(c.options).map((o) => norm(o.label)) : null,
      checked: c.type === 'checkbox' || c.type === 'radio' ? c.checked : null,
    };
  }
  const fieldsOf = (els) => els.map((e) => [e.dataset.field, e.dataset.key ?? null, (e.textContent || '').trim()]);
  const all = Array.from(document.querySelectorAll('[data-field]'));
  const h2 = document.querySelector('main h2') || document.querySelector('h2') || document.querySelector('h1');
  return {
    url: location.href,
    main_heading: h2 ? norm(h2.textContent) : '',
    headings: Array.from(document.querySelectorAll('h1, h2, h3')).map((h) => norm(h.textContent)),
    labels,
    buttons: Array.from(document.querySelectorAll('button, input[type=submit]')).map((b) => norm(b.textContent || b.value)),
    links: Array.from(document.querySelectorAll('a[href]')).map((a) => norm(a.textContent)),
    alerts: Array.from(document.querySelectorAll('[role=alert]')).flatMap((a) => {
      const items = a.querySelectorAll('li');
      return items.length ? Array.from(items).map((i) => norm(i.textContent)) : [norm(a.textContent)];
    }).filter((t) => t),
    records: Array.from(document.querySelectorAll('[data-record]')).map((r) => fieldsOf(Array.from(r.querySelectorAll('[data-field]')))),
    fields: fieldsOf(all.filter((e) => !e.closest('[data-record]'))),
    has_password: !!document.querySelector('input[type=password]'),
    notices: Array.from(document.querySelectorAll('[role=status]')).map((n) => norm(n.textContent)).filter((t) => t),
  };
}
"""


def _group(triples: list[list[Any]]) -> dict[str, Any]:
    """``[[field, key, text], ...]`` -> ``{field: text}``; keyed fields become ``{field: {key: text}}``."""
    out: dict[str, Any] = {}
    for name, key, text in triples:
        if key is None:
            out[name] = text
        else:
            group = out.setdefault(name, {})
            if isinstance(group, dict):
                group[key] = text
    return out


@dataclass(frozen=True)
class Control:
    tag: str
    type: str
    options: tuple[str, ...] | None = None
    checked: bool | None = None

    @property
    def is_checkable(self) -> bool:
        return self.tag == "input" and self.type in ("checkbox", "radio")


@dataclass(frozen=True)
class Snapshot:
    """What a page shows, read in one round trip."""

    url: str
    main_heading: str
    headings: tuple[str, ...]
    labels: Mapping[str, Control]
    buttons: tuple[str, ...]
    links: tuple[str, ...]
    alerts: tuple[str, ...]
    records: tuple[dict[str, Any], ...]
    fields: dict[str, Any] = field(default_factory=dict)
    has_password: bool = False
    notices: tuple[str, ...] = ()

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> Snapshot:
        return cls(
            url=raw["url"],
            main_heading=raw["main_heading"],
            headings=tuple(raw["headings"]),
            labels={
                k: Control(v["tag"], v["type"], tuple(v["options"]) if v["options"] is not None else None, v["checked"])
                for k, v in raw["labels"].items()
            },
            buttons=tuple(raw["buttons"]),
            links=tuple(raw["links"]),
            alerts=tuple(raw["alerts"]),
            records=tuple(_group(r) for r in raw["records"]),
            fields=_group(raw["fields"]),
            has_password=raw["has_password"],
            notices=tuple(raw.get("notices") or ()),
        )

    @property
    def is_login(self) -> bool:
        return self.has_password and LoginPage.HEADING in self.main_heading

    @property
    def says_session_expired(self) -> bool:
        return any(SESSION_EXPIRED in t for t in (*self.notices, *self.alerts))


class PortalPage:
    """Base of every page object: navigation with error mapping, landmark checks."""

    HEADING: str = ""

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        self.page = page
        self.snap = snapshot

    # --- reading -------------------------------------------------------------------

    async def snapshot(self) -> Snapshot:
        try:
            raw = await self.page.evaluate(_SNAPSHOT_JS)
        except PlaywrightError as exc:
            raise from_playwright(exc, what="reading the page") from exc
        self.snap = Snapshot.from_js(raw)
        return self.snap

    def expect_landmarks(
        self, *, heading: str | None = None, labels: tuple[str, ...] = (), buttons: tuple[str, ...] = ()
    ) -> Snapshot:
        """Check that we are on the expected page; raise SessionExpired / PortalChanged otherwise."""
        snap = self.snap
        if snap is None:
            raise PortalChanged("page not read yet")
        heading = self.HEADING if heading is None else heading
        if snap.is_login and heading != LoginPage.HEADING:
            raise SessionExpired(f"expected page {heading!r} but the portal shows its login page")
        if heading and heading not in snap.main_heading:
            raise PortalChanged(f"expected page {heading!r}, found {snap.main_heading or 'no heading'!r} at {snap.url}")
        missing = [label for label in labels if label not in snap.labels]
        missing += [f"button {b}" for b in buttons if b not in snap.buttons]
        if missing:
            raise PortalChanged(f"page {heading!r} lacks {', '.join(missing)}")
        return snap

    # --- moving ----------------------------------------------------------------------

    @staticmethod
    def _check_response(response: Response | None, what: str) -> None:
        if response is None:
            return
        if response.status >= 500 or response.status == 429:
            retry_after = _retry_after_s(response.headers.get("retry-after"))
            detail = f", Retry-After {retry_after:g} s" if retry_after is not None else ""
            raise PortalUnavailable(f"{what}: HTTP {response.status}{detail}", retry_after_s=retry_after)
        if response.status in (404, 405, 410):
            raise PortalChanged(f"{what}: HTTP {response.status} at {response.url}")

    async def _goto(self, url: str, what: str) -> Snapshot:
        """Load a page (a GET: loading it again changes nothing). A 5xx answer is loaded again after a
        short pause, at most ``len(PAGE_RETRY_PAUSES_S)`` times, as a clerk would press F5; a portal
        that stays down, or asks for a longer wait (maintenance), is left to the activity's retry policy."""
        for pause in (*PAGE_RETRY_PAUSES_S, None):
            try:
                response = await self.page.goto(url, wait_until="domcontentloaded")
            except PlaywrightError as exc:
                raise from_playwright(exc, what=what) from exc
            try:
                self._check_response(response, what)
            except PortalUnavailable as exc:
                if pause is None or (exc.retry_after_s or 0) > MAX_INLINE_WAIT_S:
                    raise
                _log().info("robot.page_reloaded", what=what, error=str(exc), pause_s=pause)
                await asyncio.sleep(pause)
                continue
            return await self.snapshot()
        raise AssertionError("unreachable")

    async def _navigate(self, action: Callable[[], Awaitable[Any]], what: str) -> Snapshot:
        """Run ``action`` (a click) and wait for the document it leads to."""
        try:
            async with self.page.expect_navigation(wait_until="domcontentloaded") as nav:
                await action()
            response = await nav.value
        except PlaywrightError as exc:
            raise from_playwright(exc, what=what) from exc
        self._check_response(response, what)
        return await self.snapshot()

    async def _follow_menu(self, link: str) -> Snapshot:
        """Click an entry of the portal's main menu (present on every page after login); a 5xx answer
        to it is loaded again by its address (a link: a GET)."""
        if self.snap is not None and link not in self.snap.links:
            raise PortalChanged(f"menu entry {link!r} not found")
        target = self.page.get_by_role("navigation").get_by_role("link", name=link, exact=True)
        try:
            href = await target.get_attribute("href")
        except PlaywrightError as exc:
            raise from_playwright(exc, what=f"opening {link}") from exc
        try:
            return await self._navigate(target.click, f"opening {link}")
        except PortalUnavailable as exc:
            if not href or (exc.retry_after_s or 0) > MAX_INLINE_WAIT_S:
                raise
            _log().info("robot.page_reloaded", what=f"opening {link}", error=str(exc), pause_s=PAGE_RETRY_PAUSES_S[0])
            await asyncio.sleep(PAGE_RETRY_PAUSES_S[0])
            return await self._goto(urljoin(self.page.url, href), f"opening {link}")

    async def _set(self, label: str, value: FieldValue) -> None:
        """Enter one value in the control labelled ``label`` (text, select by option label, checkbox)."""
        assert self.snap is not None
        control = self.snap.labels.get(label)
        if control is None:
            raise PortalChanged(f"field {label!r} not found on page {self.snap.main_heading!r}")
        locator = self.page.get_by_label(label, exact=True)
        try:
            if control.is_checkable:
                if control.checked != bool(value):  # a click costs more than a look
                    await locator.set_checked(bool(value))
            elif control.tag == "select":
                if value == "":
                    await locator.select_option(value="")
                    return
                if control.options is not None and value not in control.options:
                    raise PortalChanged(f"field {label!r} offers no option {value!r}")
                await locator.select_option(label=str(value))
            else:
                await locator.fill(str(value))
        except PlaywrightError as exc:
            raise from_playwright(exc, what=f"entering {label!r}") from exc


class LoginPage(PortalPage):
    HEADING = "用户登录"
    USERNAME = "用户名"
    PASSWORD = "密码"
    SUBMIT = "登录"
    CAPTCHA = "验证码"
    CAPTCHA_ATTEMPTS = 3

    def __init__(self, page: Page, base_url: str) -> None:
        super().__init__(page)
        self.base_url = base_url.rstrip("/")
        self.username = page.get_by_label(self.USERNAME, exact=True)
        self.password = page.get_by_label(self.PASSWORD, exact=True)
        self.submit_button = page.get_by_role("button", name=self.SUBMIT, exact=True)
        self.captcha = page.get_by_label(self.CAPTCHA, exact=True)
        self._already_in: HomePage | ProgressPage | None = None

    @property
    def already_logged_in(self) -> bool:
        """Whether :meth:`open` found the portal logged in (a reused session): no login needed."""
        return self._already_in is not None

    async def open(self, landing: str = "/") -> LoginPage:
        """Open a page of the portal (``landing``, a path); without a session the portal shows its
        login page first and, after logging in, leads to that page."""
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
        self.expect_landmarks(labels=(self.USERNAME, self.PASSWORD), buttons=(self.SUBMIT,))
        return self

    async def _answer_captcha(self) -> None:
        """When the login page asks for a captcha (验证码), read the question and answer it."""
        if self.snap is None or self.CAPTCHA not in self.snap.labels:
            return
        try:
            text = await self.page.locator("main").inner_text()
            await self.captcha.fill(solve_captcha(text))
        except PlaywrightError as exc:
            raise from_playwright(exc, what="answering the captcha") from exc

    async def log_in(self, username: str, password: str) -> HomePage | ProgressPage:
        """Log in (answering the captcha if one is asked, again with the new one if an answer is
        refused); returns the page the portal leads to (the progress page when asked for, else home)."""
        if self._already_in is not None:
            return self._already_in
        for attempt in range(1, self.CAPTCHA_ATTEMPTS + 1):
            try:
                await self.username.fill(username)
                await self.password.fill(password)
            except PlaywrightError as exc:
                raise from_playwright(exc, what="entering credentials") from exc
            await self._answer_captcha()
            snap = await self._navigate(self.submit_button.click, "logging in")
            if not snap.is_login:
                break
            captcha_refused = any(self.CAPTCHA in a for a in snap.alerts)
            if captcha_refused and attempt < self.CAPTCHA_ATTEMPTS:
                self.expect_landmarks(labels=(self.USERNAME, self.PASSWORD), buttons=(self.SUBMIT,))
                continue
            reason = "; ".join(snap.alerts) or "login page shown again"
            if captcha_refused:
                raise PortalChanged(f"the portal refused every captcha answer: {reason}")
            raise LoginRejected(f"the portal refused the robot's credentials: {reason}")
        if ProgressPage.HEADING in snap.main_heading:
            return ProgressPage(self.page, snap).expect()
        return HomePage(self.page, snap).expect()


class _MenuPage(PortalPage):
    """A page with the portal's main menu."""

    PROGRESS_LINK = "办理进度查询"

    def expect(self) -> Self:
        self.expect_landmarks()
        return self

    async def open_progress_inquiry(self) -> ProgressPage:
        return ProgressPage(self.page, await self._follow_menu(self.PROGRESS_LINK)).expect()

    async def start_application(self, link: str) -> WizardStepPage:
        """Open a new, empty application form (the menu entry is the department's service name)."""
        return WizardStepPage(self.page, await self._follow_menu(link))

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
        self.application_id_box = page.get_by_label(self.APPLICATION_ID, exact=True)
        self.receipt_no_box = page.get_by_label(self.RECEIPT_NO, exact=True)
        self.search_button = page.get_by_role("button", name=self.SEARCH, exact=True)

    def expect(self) -> ProgressPage:
        self.expect_landmarks(labels=(self.APPLICATION_ID, self.RECEIPT_NO), buttons=(self.SEARCH,))
        return self

    async def search(self, *, application_id: str | None = None, receipt_no: str | None = None) -> list[dict[str, Any]]:
        """Search the portal's cases; every match as ``{data-field: text}`` (oldest first as listed)."""
        try:
            await self.application_id_box.fill(application_id or "")
            await self.receipt_no_box.fill(receipt_no or "")
        except PlaywrightError as exc:
            raise from_playwright(exc, what="entering the search") from exc
        snap = await self._navigate(self.search_button.click, "searching cases")
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
        try:
            if await card.count() != 1:
                raise PortalChanged(f"case {receipt_no} is not listed once on the progress page")
            if await reason_box.count() != 1 or await button.count() != 1:
                raise PortalChanged(f"case {receipt_no} offers no withdrawal ({self.WITHDRAW_REASON}, {self.WITHDRAW})")
            await reason_box.fill(reason)
        except PlaywrightError as exc:
            raise from_playwright(exc, what="entering the withdrawal") from exc
        snap = await self._navigate(button.click, "withdrawing")
        if snap.is_login:
            raise SessionExpired("the portal logged the robot out before the withdrawal")
        if snap.alerts:
            raise BusinessRejection("; ".join(snap.alerts))
        return WithdrawalPage(self.page, snap).expect()


class WizardStepPage(_MenuPage):
    """One step of the application wizard; the flow knows which step it expects."""

    NEXT = "下一步"

    def expect_step(self, title: str) -> WizardStepPage:
        self.expect_landmarks(heading=title, buttons=(self.NEXT,))
        return self

    async def fill_in(self, values: Mapping[str, FieldValue]) -> None:
        """Enter every ``label: value`` of this step; all labels are checked before the first keystroke."""
        assert self.snap is not None
        missing = [label for label in values if label not in self.snap.labels]
        if missing:
            raise PortalChanged(f"step {self.snap.main_heading!r} lacks fields {', '.join(missing)}")
        for label, value in values.items():
            await self._set(label, value)

    async def value_of(self, label: str) -> str:
        """What the text control labelled ``label`` holds now (e.g. a value the portal kept in the draft)."""
        assert self.snap is not None
        if label not in self.snap.labels:
            raise PortalChanged(f"field {label!r} not found on page {self.snap.main_heading!r}")
        try:
            return (await self.page.get_by_label(label, exact=True).input_value()).strip()
        except PlaywrightError as exc:
            raise from_playwright(exc, what=f"reading {label!r}") from exc

    async def _advance(self) -> Snapshot:
        title = self.snap.main_heading if self.snap else ""
        snap = await self._navigate(self.page.get_by_role("button", name=self.NEXT, exact=True).click, "next step")
        if snap.is_login:
            raise SessionExpired(f"the portal logged the robot out during step {title!r}")
        if snap.alerts:
            raise BusinessRejection("; ".join(snap.alerts))
        return snap

    async def proceed_to_next_step(self) -> WizardStepPage:
        return WizardStepPage(self.page, await self._advance())

    async def proceed_to_confirmation(self) -> ConfirmPage:
        return ConfirmPage(self.page, await self._advance()).expect()


class ConfirmPage(_MenuPage):
    HEADING = "确认提交"
    SUBMIT = "确认提交"

    def expect(self) -> ConfirmPage:
        self.expect_landmarks(buttons=(self.SUBMIT,))
        return self

    async def submit_application(self) -> ReceiptPage:
        button = self.page.get_by_role("button", name=self.SUBMIT, exact=True)
        snap = await self._navigate(button.click, "submitting")
        if snap.is_login:
            raise SessionExpired("the portal logged the robot out before the submission")
        if snap.alerts:
            raise BusinessRejection("; ".join(snap.alerts))
        return ReceiptPage(self.page, snap).expect()


class ReceiptPage(_MenuPage):
    HEADING = "受理回执"

    @property
    def shown(self) -> dict[str, Any]:
        """Everything the receipt page shows in structured markup (``data-field`` -> text)."""
        assert self.snap is not None
        return dict(self.snap.fields)

    def read_receipt(self) -> Receipt:
        fields = self.shown
        if not fields.get("receipt_no"):
            raise PortalChanged("the receipt page shows no receipt number")
        return Receipt(receipt_no=fields["receipt_no"], submitted_at=parse_time(fields.get("submitted_at")))


class WithdrawalPage(_MenuPage):
    """The confirmation after a withdrawal (办件撤回), showing the case as it now stands."""

    HEADING = "办件撤回"

    @property
    def shown(self) -> dict[str, Any]:
        assert self.snap is not None
        return dict(self.snap.fields)

    def expect(self) -> WithdrawalPage:
        self.expect_landmarks()
        if not self.shown.get("receipt_no") or not self.shown.get("status"):
            raise PortalChanged("the withdrawal page shows no receipt number or status")
        return self


def _retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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
