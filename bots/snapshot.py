"""What a portal page shows, read in one ``evaluate`` round trip (:class:`Snapshot`).

Headings, labels with their control type, buttons, links, alerts and ``data-field`` markup:
page objects check their landmarks on it at no waiting cost (a missing field fails at once).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CAPTCHA_PICTURE_JS", "LOGIN_HEADING", "SNAPSHOT_JS", "Control", "Snapshot", "picture_bytes"]

LOGIN_HEADING = "用户登录"  # every portal's login page; a page showing it and a password field is the login

SNAPSHOT_JS = r"""
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
  };
}
"""

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
        )

    @property
    def is_login(self) -> bool:
        return self.has_password and LOGIN_HEADING in self.main_heading
