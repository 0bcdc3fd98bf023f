"""Clicking a portal's button or link: one look in the page, then a real mouse click.

Playwright's locator click runs its injected script in a utility world of each new document (about 30 ms of
Chromium CPU per page here, measured against ``page.goto`` alone; a filing loads about eight pages) and checks
the element's actionability in further round trips. ``aim`` instead asks the page once (``PRESS_JS``, in the
page's own world, as the snapshot and the one-trip fill do): the controls of that role whose accessible name is
exactly ``name`` (``aria-label``, else a button's text or value, a link's text: the snapshot's rule), within the
containers ``within`` selects if given. Only when exactly one is found, enabled, with a box, scrolled into view
and the topmost element at its centre (nothing covers it) does it return that centre; the caller then clicks
there with ``page.mouse`` (trusted input events, as Playwright's own click sends after its checks). In every
other case it returns None and the caller uses the locator's click, whose checks, waits and errors are
Playwright's: a page that is not plain is handled as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from playwright.async_api import Page

__all__ = ["AIM_JS", "PRESS_JS", "Aim", "aim", "aim_from"]

Role = Literal["button", "link"]

# aimAt(role, name, within) -> {x, y, href} | {miss}: shared with the one-trip fill (bots/fill.py), which aims at
# the step's button in the trip that fills it
AIM_JS = """
function aimAt(role, name, within) {
  const norm = (s) => (s || '').replace(/\\s+/g, ' ').trim();
  const selector = role === 'button'
    ? 'button, input[type=submit], input[type=button], [role=button]'
    : 'a[href], [role=link]';
  const nameOf = (el) => norm(el.getAttribute('aria-label')
    || (el.tagName === 'INPUT' ? el.value : el.textContent));
  const roots = within ? Array.from(document.querySelectorAll(within)) : [document];
  const found = new Set();
  for (const root of roots) {
    for (const el of root.querySelectorAll(selector)) {
      if (nameOf(el) === name) { found.add(el); }
    }
  }
  if (found.size !== 1) { return { miss: 'count ' + found.size }; }
  const [el] = found;
  if (el.disabled || el.getAttribute('aria-disabled') === 'true') { return { miss: 'disabled' }; }
  if (el.scrollIntoViewIfNeeded) { el.scrollIntoViewIfNeeded(true); } else { el.scrollIntoView({ block: 'center' }); }
  const box = el.getBoundingClientRect();
  if (box.width < 1 || box.height < 1) { return { miss: 'no box' }; }
  const x = box.left + box.width / 2;
  const y = box.top + box.height / 2;
  const top = document.elementFromPoint(x, y);
  if (!top || !(top === el || el.contains(top))) { return { miss: 'covered' }; }
  return { x, y, href: el.getAttribute('href') };
}
"""

PRESS_JS = (
    """
([role, name, within]) => {
"""
    + AIM_JS
    + """
  return aimAt(role, name, within);
}
"""
)


@dataclass(frozen=True)
class Aim:
    """Where to click (viewport CSS pixels), and the link's address (None for a button)."""

    x: float
    y: float
    href: str | None


async def aim(page: Page, role: Role, name: str, within: str | None = None) -> Aim | None:
    """The centre of the one visible, enabled, uncovered control ``role`` named ``name`` (scrolled into view),
    or None when the page does not show exactly such a one (the caller falls back to the locator's click)."""
    return aim_from(await page.evaluate(PRESS_JS, [role, name, within]))


def aim_from(found: object) -> Aim | None:
    """The :class:`Aim` of what ``aimAt`` returned (None for a miss)."""
    if not isinstance(found, dict) or "x" not in found:
        return None
    return Aim(x=float(found["x"]), y=float(found["y"]), href=found.get("href"))
