"""What a portal page shows, read in one ``evaluate`` round trip (:class:`Snapshot`).

Headings, labels with their control type, buttons, links, alerts and ``data-field`` markup:
page objects check their landmarks on it at no waiting cost (a missing field fails at once).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CAPTCHA_PICTURE_JS", "LABELS_JS", "LOGIN_HEADING", "SNAPSHOT_JS", "Control", "Snapshot", "picture_bytes"]

LOGIN_HEADING = "用户登录"  # every portal's login page; a page showing it and a password field is the login

# The one rule naming a page's controls by their labels, shared by the snapshot (what the robot checks) and the
# one-trip fill (bots/fill.py, what it writes), so the check and the fill cannot disagree: a control is named by
# the text of a <label> whose control it is (``for=id`` or wrapped in the label: ``label.control``) and by its
# own ``aria-label``; whitespace runs count as one space. ``controlsByLabel()`` maps each name to the distinct
# controls so named (more than one: the label is ambiguous). ``kindOf`` is what a control is: ``select``,
# ``textarea``, or an input's type attribute (``text`` when it has none): ``checkbox``, ``radio``, ``date``, ...
LABELS_JS = r"""
const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
const kindOf = (c) => {
  const tag = c.tagName.toLowerCase();
  return tag === 'input' ? ((c.getAttribute('type') || '').toLowerCase() || 'text') : tag;
};
const controlsByLabel = () => {
  const named = new Map();
  const add = (name, c) => {
    if (!name) return;
    const cs = named.get(name) || [];
    if (!cs.includes(c)) cs.push(c);
    named.set(name, cs);
  };
  for (const l of document.querySelectorAll('label')) if (l.control) add(norm(l.textContent), l.control);
  for (const c of document.querySelectorAll('input[aria-label], select[aria-label], textarea[aria-label]')) {
    add(norm(c.getAttribute('aria-label')), c);
  }
  return named;
};
"""

SNAPSHOT_JS = (
    r"""
() => {
"""
    + LABELS_JS
    + r"""
  const labels = {};
  for (const [name, cs] of controlsByLabel()) {
    const c = cs[0];
    labels[name] = {
      tag: c.tagName.toLowerCase(),
      type: (c.getAttribute('type') || '').toLowerCase(),
      kind: kindOf(c),
      controls: cs.length,
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
  };
}
"""
)

# The captcha picture (an <img> whose alt text names 验证码) inside an element, as the browser decoded it:
# drawn on a canvas and read back as PNG, so nothing is fetched a second time (a portal serves each
# picture once). ``null`` when the element shows no such picture (a captcha in text).
CAPTCHA_PICTURE_JS = r"""
async (root) => {
  const img = Array.from(root.querySelectorAll('img')).find((i) => (i.alt || i.title || '').includes('验证码'));
  if (!img) return null;
  try { await img.decode(); } catch (e) { return { error: 'the picture did not load: ' + e }; }
  if (!img.naturalWidth) return { error: 'the picture is empty' };
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  canvas.getContext('2d').drawImage(img, 0, 0);
  return { png: canvas.toDataURL('image/png') };
}
"""


def picture_bytes(picture: Mapping[str, Any]) -> bytes | None:
    """The PNG bytes :data:`CAPTCHA_PICTURE_JS` read, or None when it could not read the picture."""
    url = picture.get("png")
    prefix = "data:image/png;base64,"
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    try:
        return base64.b64decode(url[len(prefix) :], validate=True)
    except ValueError:
        return None


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
    """A labelled control as the snapshot found it; ``kind`` by ``kindOf`` (:data:`LABELS_JS`), ``controls``:
    how many distinct controls carry the label (more than one: a label the robot cannot fill by)."""

    tag: str
    type: str
    options: tuple[str, ...] | None = None
    checked: bool | None = None
    kind: str = ""
    controls: int = 1

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

    @classmethod
    def from_js(cls, raw: dict[str, Any]) -> Snapshot:
        return cls(
            url=raw["url"],
            main_heading=raw["main_heading"],
            headings=tuple(raw["headings"]),
            labels={
                k: Control(
                    v["tag"],
                    v["type"],
                    tuple(v["options"]) if v["options"] is not None else None,
                    v["checked"],
                    v["kind"],
                    v["controls"],
                )
                for k, v in raw["labels"].items()
            },
            buttons=tuple(raw["buttons"]),
            links=tuple(raw["links"]),
            alerts=tuple(raw["alerts"]),
            records=tuple(_group(r) for r in raw["records"]),
            fields=_group(raw["fields"]),
            has_password=raw["has_password"],
        )

    @property
    def is_login(self) -> bool:
        return self.has_password and LOGIN_HEADING in self.main_heading
