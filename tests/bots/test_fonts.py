"""Evidence a person can read: the receipt of a name with a rare character (𬱖, outside the BMP) renders
every character with a real glyph, none as the missing-glyph box (install step: CJK fonts)."""

from __future__ import annotations

from bots.flows import dispatch

# Draws each character of the page's text (and a code point no font has) on a canvas in the page's own
# font; a character whose pixels equal the unassigned code point's is drawn as the missing-glyph box.
MISSING_GLYPHS_JS = r"""
() => {
  const font = getComputedStyle(document.body).font;
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const draw = (ch) => {
    ctx.clearRect(0, 0, 64, 64);
    ctx.font = font.replace(/\d+(\.\d+)?px/, '40px');
    ctx.fillStyle = '#000';
    ctx.fillText(ch, 4, 48);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  const missing = draw('\u{2FFFD}');
  const chars = Array.from(new Set(Array.from(document.body.innerText))).filter((c) => c.trim() && c.codePointAt(0) > 0x2E7F);
  return {count: chars.length, missing: chars.filter((c) => draw(c) === missing)};
}
"""


async def test_a_receipt_with_a_rare_character_has_a_glyph_for_every_character(portals, page, make_request):
    def rare(data):
        data["company"]["name"] = "太原𬱖䶮科技有限公司"
        data["legal_representative"]["name"] = "王𬱖"

    request = make_request("amr", edit=rare)
    receipt = await dispatch(page, portals["amr"].access, request)
    assert receipt.receipt_no
    text = await page.inner_text("body")
    assert "𬱖" in text, "the receipt should show the rare name"
    checked = await page.evaluate(MISSING_GLYPHS_JS)
    assert checked["count"] >= 10  # the receipt's Chinese text, not an empty page
    assert checked["missing"] == [], f"drawn as the missing-glyph box: {checked['missing']}"
