"""Self-healing: a portal whose form changed gets a proposed field mapping, used once a person approves it.

When the labels a flow expects are not on a wizard step (``PortalChanged`` before the first keystroke),
the robot reads the portal's whole form from its sample page (表单样表, ``BLANK_FORM``: every step, its
labels, control names, input types, options, required marks, in order), types nothing, and matches each
field of its flow to the new form (:func:`propose`): by text similarity (rapidfuzz) of the labels after
the synonyms of ``config/portal_synonyms.yaml`` are applied, and by type (a checkbox for a yes/no value,
a select that offers the value). The result, a :class:`Proposal` for that version of the form (its
``fingerprint``), carries a score per field, the fields below the threshold, the new form's required
fields no flow field fills (a developer's job: never guessed at) and a screenshot of each step. Once an
approved mapping for the fingerprint exists, :func:`apply_mapping` regroups the flow's values into the
new form's steps and labels. Nothing here stores or approves: the activity and the API do.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from playwright.async_api import Page
from rapidfuzz import fuzz

from bots.errors import PortalChanged, playwright_errors
from bots.mappings import FlowStep
from bots.portal_page import FieldValue

__all__ = [
    "BLANK_FORM",
    "COUNTERS",
    "DEFAULT_THRESHOLD",
    "FieldMatch",
    "MappingNeeded",
    "PageField",
    "PageForm",
    "Proposal",
    "Synonyms",
    "apply_mapping",
    "load_synonyms",
    "propose",
    "read_form",
    "row_template",
]

BLANK_FORM = "/apply/form"  # the portal's sample of its whole form (表单样表), one section per step
DEFAULT_THRESHOLD = 85.0  # a field matched below this score needs a person's confirmation
SYNONYMS_FILE = Path(__file__).resolve().parent.parent / "config" / "portal_synonyms.yaml"

#: what the robots did with changed portals in this process (the bench prints them)
COUNTERS: dict[str, int] = {"forms_read": 0, "proposals": 0, "low_confidence": 0, "needs_developer": 0, "applied": 0}

FORM_JS = r"""
() => {
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim();
  return Array.from(document.querySelectorAll('section[data-step]')).map((sec) => {
    const heading = sec.querySelector('h3, h2');
    const fields = [];
    for (const l of sec.querySelectorAll('label')) {
      const c = l.control;
      if (!c) continue;
      const row = c.closest('fieldset[data-legend]');
      const wrap = l.closest('.field');
      const group = c.closest('fieldset.checks');
      fields.push({
        label: norm(l.textContent),
        name: c.getAttribute('name') || '',
        tag: c.tagName.toLowerCase(),
        type: (c.getAttribute('type') || '').toLowerCase(),
        options: c.tagName === 'SELECT' ? Array.from(c.options).filter((o) => o.value).map((o) => norm(o.label)) : null,
        required: !group && !!(wrap && wrap.querySelector('.req')),
        legend: row ? row.dataset.legend : null,
      });
    }
    return { step: Number(sec.dataset.step), title: norm(heading ? heading.textContent : '').replace(/^第\s*\d+\s*步\s*/, ''), fields };
  });
}
"""


@dataclass(frozen=True)
class PageField:
    """One control of the changed form. ``label`` of a repeated row is a template (``股东{n}名称``)."""

    step: int  # 0-based
    label: str
    name: str
    kind: str  # text | textarea | select | date | checkbox
    options: tuple[str, ...] | None = None
    required: bool = False


@dataclass(frozen=True)
class PageForm:
    titles: tuple[str, ...]
    fields: tuple[PageField, ...]

    @property
    def fingerprint(self) -> str:
        """The version of the form: its steps, labels, names, types and required marks (not values)."""
        shape = [self.titles, [(f.step, f.label, f.name, f.kind, f.required) for f in self.fields]]
        return hashlib.sha256(json.dumps(shape, ensure_ascii=False).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FieldMatch:
    """Where one field of the flow goes on the changed form, and how sure the robot is."""

    flow_step: str  # the flow step's slug
    flow_label: str  # a template for repeated rows
    step: int | None  # 0-based step of the new form; None: nothing matched
    label: str | None
    score: float


@dataclass
class Proposal:
    department: str
    fingerprint: str
    threshold: float
    titles: list[str]
    fields: list[FieldMatch]
    unfilled_required: list[str]  # required labels of the new form no flow field fills
    form: list[PageField] = field(default_factory=list)  # every control of the new form, in order
    screenshots: list[bytes] = field(default_factory=list, repr=False)  # one PNG per step of the new form

    @property
    def low_confidence(self) -> list[str]:
        return [m.flow_label for m in self.fields if m.label is None or m.score < self.threshold]

    @property
    def needs_developer(self) -> bool:
        return bool(self.unfilled_required)

    def mapping(self) -> dict[str, Any]:
        """The proposed mapping as approved as is: flow label -> ``{step, label}`` on the new form."""
        return {
            "titles": list(self.titles),
            "fields": {m.flow_label: {"step": m.step, "label": m.label} for m in self.fields if m.label is not None},
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without the screenshots (stored apart)."""
        return {
            "department": self.department,
            "fingerprint": self.fingerprint,
            "threshold": self.threshold,
            "titles": list(self.titles),
            "fields": [asdict(m) for m in self.fields],
            "low_confidence": self.low_confidence,
            "unfilled_required": list(self.unfilled_required),
            "needs_developer": self.needs_developer,
            "form": [asdict(f) for f in self.form],
        }


class MappingNeeded(PortalChanged):
    """The portal's form changed and no approved mapping fits its version: the proposal goes to a person
    (an admin approves it; or a developer, when the form needs something the flow cannot give)."""

    retryable = False

    def __init__(self, message: str, *, proposal: Proposal, department: str | None = None) -> None:
        super().__init__(message, department=department)
        self.proposal = proposal


# --- synonyms ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Synonyms:
    """``terms``: groups of words a portal uses for one thing, the first the canonical one; ``fields``: per
    flow label, other whole labels a portal may give that field."""

    terms: tuple[tuple[str, ...], ...] = ()
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def canonical(self, label: str) -> str:
        text = _plain(label)
        if not self.terms:
            return text
        return _term_pattern(self.terms).sub(lambda m: _term_index(self.terms)[m.group(0)], text)


@lru_cache(maxsize=8)
def _term_pattern(terms: tuple[tuple[str, ...], ...]) -> re.Pattern[str]:
    words = sorted({_plain(w) for group in terms for w in group if _plain(w)}, key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words))


@lru_cache(maxsize=8)
def _term_index(terms: tuple[tuple[str, ...], ...]) -> dict[str, str]:
    return {_plain(w): _plain(group[0]) for group in terms for w in group if _plain(w)}


def _plain(label: str) -> str:
    """Full-width to half-width, no brackets, spaces or colons: 注册资本（万元）-> 注册资本万元."""
    text = unicodedata.normalize("NFKC", label)
    return re.sub(r"[\s()\[\]【】:：*、]", "", text)


def load_synonyms(path: Path = SYNONYMS_FILE) -> Synonyms:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    terms = tuple(tuple(str(w) for w in group) for group in raw.get("terms") or ())
    fields = {str(k): tuple(str(w) for w in v or ()) for k, v in (raw.get("fields") or {}).items()}
    return Synonyms(terms=terms, fields=fields)


# --- reading the changed form ------------------------------------------------------------------------


def row_template(label: str, legend: str | None) -> str:
    """``股东1名称`` in the row ``股东1`` -> ``股东{n}名称``; a label outside a repeated row as it is."""
    if not legend or not label.startswith(legend):
        return label
    return re.sub(r"\d+$", "{n}", legend) + label[len(legend) :]


def _kind(raw: Mapping[str, Any]) -> str:
    if raw["tag"] in ("select", "textarea"):
        return str(raw["tag"])
    return raw["type"] if raw["type"] in ("checkbox", "radio", "date") else "text"


async def read_form(page: Page, base_url: str) -> tuple[PageForm, list[bytes]]:
    """The portal's whole form as its sample page shows it, and a screenshot of each step. Types nothing."""
    url = base_url.rstrip("/") + BLANK_FORM
    with playwright_errors("reading the changed form"):
        response = await page.goto(url, wait_until="domcontentloaded")
        if response is not None and response.status >= 400:
            raise PortalChanged(f"the portal shows no sample of its form at {BLANK_FORM}: HTTP {response.status}")
        sections = await page.evaluate(FORM_JS)
        shots = [
            await page.locator("section[data-step]").nth(i).screenshot(timeout=10_000) for i in range(len(sections))
        ]
    if not sections:
        raise PortalChanged(f"the portal's sample of its form ({BLANK_FORM}) shows no steps")
    fields = tuple(
        PageField(
            step=i,
            label=row_template(f["label"], f["legend"]),
            name=f["name"],
            kind=_kind(f),
            options=tuple(f["options"]) if f["options"] is not None else None,
            required=bool(f["required"]),
        )
        for i, sec in enumerate(sections)
        for f in sec["fields"]
    )
    COUNTERS["forms_read"] += 1
    return PageForm(titles=tuple(sec["title"] for sec in sections), fields=fields), shots


# --- matching ------------------------------------------------------------------------------------------


def _flow_fields(
    step_values: Sequence[tuple[FlowStep, Mapping[str, FieldValue]]], row_prefixes: Iterable[str]
) -> list[tuple[str, str, FieldValue]]:
    """(flow step slug, label template, a value) per field of the flow; rows collapsed to one template."""
    prefixes = sorted(set(row_prefixes), key=len, reverse=True)
    seen: dict[str, tuple[str, str, FieldValue]] = {}
    for fs, values in step_values:
        for label, value in values.items():
            template = label
            for p in prefixes:
                m = re.fullmatch(re.escape(p) + r"(\d+)(\D.*)", label)
                if m:
                    template = f"{p}{{n}}{m.group(2)}"
                    break
            seen.setdefault(template, (fs.slug, template, value))
    return list(seen.values())


def _fits(value: FieldValue, f: PageField) -> bool:
    """Whether the control can take the value: a checkbox a yes/no, a select one of its options."""
    if isinstance(value, bool):
        return f.kind in ("checkbox", "radio")
    if f.kind in ("checkbox", "radio"):
        return False
    if f.kind == "select" and value != "":
        return f.options is None or value in f.options
    return True


def score(flow_label: str, page_label: str, synonyms: Synonyms) -> float:
    """0-100: how alike two labels are once synonyms are applied; the best of the field's configured names."""
    names = (flow_label, *synonyms.fields.get(flow_label, ()))
    target = synonyms.canonical(page_label)
    return max(fuzz.ratio(synonyms.canonical(n), target) for n in names)


def propose(
    department: str,
    form: PageForm,
    step_values: Sequence[tuple[FlowStep, Mapping[str, FieldValue]]],
    synonyms: Synonyms,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    screenshots: Sequence[bytes] = (),
) -> Proposal:
    """Match every field of the flow to one control of the changed form (one to one, best pairs first)."""
    prefixes = [re.sub(r"\{n\}.*$", "", f.label) for f in form.fields if "{n}" in f.label]
    wanted = _flow_fields(step_values, prefixes)
    pairs = []
    for i, (_, label, value) in enumerate(wanted):
        for j, f in enumerate(form.fields):
            if _fits(value, f):
                s = 100.0 if label == f.label else score(label, f.label, synonyms)
                pairs.append((s, i, j))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    chosen: dict[int, tuple[int, float]] = {}
    taken: set[int] = set()
    for s, i, j in pairs:
        if i not in chosen and j not in taken and s > 0:
            chosen[i] = (j, s)
            taken.add(j)
    matches = []
    for i, (slug, label, _) in enumerate(wanted):
        if i in chosen:
            j, s = chosen[i]
            f = form.fields[j]
            matches.append(FieldMatch(slug, label, f.step, f.label, round(s, 1)))
        else:
            matches.append(FieldMatch(slug, label, None, None, 0.0))
    # a required field of a repeated row counts only when the flow fills such rows (0 employees: no rows)
    rows_filled = {label.split("{n}")[0] for _, label, _ in wanted if "{n}" in label}
    unfilled = [
        f.label
        for j, f in enumerate(form.fields)
        if f.required and j not in taken and ("{n}" not in f.label or f.label.split("{n}")[0] in rows_filled)
    ]
    proposal = Proposal(
        department=department,
        fingerprint=form.fingerprint,
        threshold=threshold,
        titles=list(form.titles),
        fields=matches,
        unfilled_required=unfilled,
        form=list(form.fields),
        screenshots=list(screenshots),
    )
    COUNTERS["proposals"] += 1
    COUNTERS["low_confidence"] += bool(proposal.low_confidence)
    COUNTERS["needs_developer"] += proposal.needs_developer
    return proposal


# --- using an approved mapping ------------------------------------------------------------------------


def apply_mapping(
    mapping: Mapping[str, Any],
    step_values: Sequence[tuple[FlowStep, Mapping[str, FieldValue]]],
    slugs: Sequence[str] = (),
) -> list[tuple[FlowStep, dict[str, FieldValue]]]:
    """The flow's values regrouped into the steps and labels of the changed form, as ``mapping`` (approved)
    says. A flow field the mapping does not place is ``PortalChanged``: nothing is left out silently."""
    titles: list[str] = list(mapping["titles"])
    places: Mapping[str, Mapping[str, Any]] = mapping["fields"]
    templates = {re.sub(r"\{n\}.*$", "", k) for k in places if "{n}" in k}
    out: list[dict[str, FieldValue]] = [{} for _ in titles]
    missing = []
    for _, values in step_values:
        for label, value in values.items():
            place, n = places.get(label), None
            if place is None:
                for p in sorted(templates, key=len, reverse=True):
                    m = re.fullmatch(re.escape(p) + r"(\d+)(\D.*)", label)
                    if m and f"{p}{{n}}{m.group(2)}" in places:
                        place, n = places[f"{p}{{n}}{m.group(2)}"], m.group(1)
                        break
            if place is None or place.get("label") is None or place.get("step") is None:
                missing.append(label)
                continue
            target = str(place["label"])
            out[int(place["step"])][target.replace("{n}", n) if n is not None else target] = value
    if missing:
        raise PortalChanged(f"the approved mapping places no field for {', '.join(missing)}")
    COUNTERS["applied"] += 1
    steps = []
    for i, title in enumerate(titles):
        slug = slugs[i] if i < len(slugs) else f"step{i + 1}"
        steps.append((FlowStep(slug, title, _fixed(out[i])), out[i]))
    return steps


def _fixed(values: dict[str, FieldValue]) -> Callable[[Any], Mapping[str, FieldValue]]:
    def read(_request: Any) -> Mapping[str, FieldValue]:
        return values

    return read
