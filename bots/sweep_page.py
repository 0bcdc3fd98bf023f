"""The page object of a portal's 我的办件 list: the account's own cases, newest first, page by page.

Reached from the main menu of any page after login (``MinePage.open_from``); each page's cases are read
from the snapshot's ``data-record`` rows (the same ``data-field`` markup as the progress page), the next
page by the portal's own 下一页 link. A 5xx answer to a link is loaded again by its address (a GET).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from playwright.async_api import Page

from bots.errors import PortalChanged, PortalUnavailable, playwright_errors
from bots.portal_page import PAGE_RETRY_PAUSES_S, PortalPage
from bots.snapshot import Snapshot

__all__ = ["MinePage"]


class MinePage(PortalPage):
    HEADING = "我的办件"
    MENU = "主菜单"  # the main navigation (every page after login)
    MENU_LINK = "我的办件"
    LIST = "办件列表"
    PAGING = "分页"
    NEXT = "下一页"

    def __init__(self, page: Page, snapshot: Snapshot | None = None) -> None:
        super().__init__(page, snapshot)

    @classmethod
    async def open_from(cls, menu_page: PortalPage) -> MinePage:
        """Follow the main menu's 我的办件 entry from ``menu_page`` (a page after login)."""
        if menu_page.snap is not None and cls.MENU_LINK not in menu_page.snap.links:
            raise PortalChanged(f"menu entry {cls.MENU_LINK!r} not found")
        page = menu_page.page
        link = page.get_by_role("navigation", name=cls.MENU).get_by_role("link", name=cls.MENU_LINK, exact=True)
        mine = cls(page)
        return (await mine._follow(link, cls.MENU_LINK, cls.MENU, f"opening {cls.MENU_LINK}")).expect()

    def expect(self) -> MinePage:
        snap = self.expect_landmarks()
        if self.LIST not in snap.headings:
            raise PortalChanged("the 我的办件 page shows no list section")
        for record in snap.records:
            if not record.get("receipt_no") or not record.get("status"):
                raise PortalChanged("a case on the 我的办件 page lacks its receipt number or status")
        return self

    @property
    def records(self) -> list[dict[str, Any]]:
        """The cases this page lists, as ``{data-field: text}``, in the portal's order (newest first)."""
        assert self.snap is not None
        return list(self.snap.records)

    @property
    def has_next(self) -> bool:
        return self.snap is not None and self.NEXT in self.snap.links

    async def next_page(self) -> MinePage:
        """The next page of the list (the portal's 下一页 link)."""
        link = self.page.get_by_role("navigation", name=self.PAGING).get_by_role("link", name=self.NEXT, exact=True)
        return (await self._follow(link, self.NEXT, self.PAGING, "opening the next page")).expect()

    async def _follow(self, link: Any, name: str, nav: str, what: str) -> MinePage:
        """Follow the link ``name`` of the navigation labelled ``nav`` (``link``: the same, as a locator)."""
        press, href = await self._click(link, "link", name, within=f'nav[aria-label="{nav}"]')
        if href is None:
            with playwright_errors(what):
                href = await link.get_attribute("href")
        try:
            self.snap = await self._navigate(press, what)
        except PortalUnavailable as exc:
            await self._pause_before_reload(exc, PAGE_RETRY_PAUSES_S[0] if href else None, what)
            self.snap = await self._goto(urljoin(self.page.url, href or ""), what)
        return self
