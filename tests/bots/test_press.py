"""Clicking a portal's button or link with one look in the page and a mouse click (bots/press.py), in real
Chromium on small pages of our own: where it aims, that the click is the browser's own (trusted), and every
page on which it gives the click back to Playwright's locator."""

from __future__ import annotations

import pytest

from bots.press import aim
from tests.bots.round_trips import counting

# a script notes each click that reaches a control: its name and whether the browser made it (isTrusted)
NOTE_CLICKS = """<script>
window.clicks = [];
document.addEventListener('click', (e) => {
  const el = e.target.closest('button, a');
  if (el) { e.preventDefault(); clicks.push([el.textContent.trim(), e.isTrusted]); }
}, true);
</script>"""

FAR_BELOW = f"""<!doctype html><html><body><main><h2>企业基本信息</h2>
<button type="button">上一步</button>
<div style="height: 3000px"></div>
<button type="submit">下一步</button></main>{NOTE_CLICKS}</body></html>"""


async def test_the_one_named_button_is_scrolled_into_view_and_clicked_by_the_browser(page):
    await page.set_content(FAR_BELOW)
    with counting(page) as seen:
        target = await aim(page, "button", "下一步")
    assert seen.total == 1, "one round trip to find, check and scroll to the button"
    assert target is not None and target.href is None
    viewport = page.viewport_size
    assert 0 <= target.y <= viewport["height"] and 0 <= target.x <= viewport["width"], "scrolled into view"
    await page.mouse.click(target.x, target.y)
    assert await page.evaluate("window.clicks") == [["下一步", True]]  # not 上一步; a trusted click


async def test_a_link_is_found_within_its_navigation_only_with_its_address(page):
    await page.set_content(
        f"""<!doctype html><html><body><nav aria-label="主菜单"><a href="/mine">我的办件</a></nav>
        <main><a href="/elsewhere">我的办件</a></main>{NOTE_CLICKS}</body></html>"""
    )
    target = await aim(page, "link", "我的办件", within='nav[aria-label="主菜单"]')
    assert target is not None and target.href == "/mine"
    await page.mouse.click(target.x, target.y)
    assert await page.evaluate("window.clicks") == [["我的办件", True]]
    assert await aim(page, "link", "我的办件") is None, "two such links in the page: the locator decides"


@pytest.mark.parametrize(
    ("why", "body"),
    [
        ("none", '<button type="submit">提交</button>'),
        ("two", '<button type="submit">下一步</button><button type="button">下一步</button>'),
        ("disabled", '<button type="submit" disabled>下一步</button>'),
        ("aria-disabled", '<button type="submit" aria-disabled="true">下一步</button>'),
        ("hidden", '<button type="submit" style="display: none">下一步</button>'),
        (
            "covered",
            '<button type="submit">下一步</button>'
            '<div style="position: fixed; inset: 0; background: rgba(0,0,0,.4)">请稍候…</div>',
        ),
    ],
)
async def test_a_button_that_is_not_one_plain_visible_enabled_and_uncovered_is_left_to_the_locator(page, why, body):
    await page.set_content(f"<!doctype html><html><body><main>{body}</main>{NOTE_CLICKS}</body></html>")
    assert await aim(page, "button", "下一步") is None, why
    assert await page.evaluate("window.clicks") == [], "nothing clicked while looking"


async def test_an_input_button_and_an_aria_label_name_the_control_as_the_snapshot_does(page):
    await page.set_content(
        """<!doctype html><html><body><main><input type="submit" value="查询">
        <button type="button" aria-label="确认提交"><span>✓</span></button></main></body></html>"""
    )
    assert await aim(page, "button", "查询") is not None
    assert await aim(page, "button", "确认提交") is not None
    assert await aim(page, "button", "✓") is None
