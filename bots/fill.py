"""Filling a wizard step: all its fields in one round trip (``one_trip``) or field by field (``per_field``).

``one_trip`` sends the step's ``label: value`` pairs to the page in ONE ``evaluate``. The page finds each
control by the same label rule the snapshot uses (:data:`bots.snapshot.LABELS_JS`: one definition, so what
was checked is what is written), checks EVERY field first (the label is there, names one control only, that
control is still of the kind the snapshot saw, visible and enabled, and takes the value: a select offers it
by the option's text, ``""`` being the empty placeholder; a date input accepts it; a yes/no value goes to a
checkbox or radio only) and writes nothing if any check fails: :class:`~bots.errors.PortalChanged` with what
was wrong, the form's controls as they were. Then it sets each value through the element's native setter
(``HTMLInputElement.prototype.value`` etc., as typing would: frameworks that track the setter see it) and fires
bubbling ``input`` and ``change`` events. The portal's own button is clicked afterwards by the page object, as
before: still the real page, every wizard page, the browser posting the form.

``per_field`` enters each value with Playwright's ``fill`` / ``select_option`` / ``set_checked`` (one or more
round trips each): the control is focused (the one before it blurred), the input is the browser's own
(trusted), a checkbox is clicked. A portal needs it where a page has a script-driven widget that a native-
setter fill would leave behind: a field a script formats or checks when it is left (``blur``), a control that
ignores untrusted events (``isTrusted``), a custom dropdown that reacts to clicks. (A widget listening to key
events would need typing key by key, ``press_sequentially``: no portal the robots know has one.)
:attr:`bots.mappings.PortalFlow.fill` says which mode a portal's flow uses.

Values are never logged and never put in an error message, but for a select's option (as before).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from playwright.async_api import Page

from bots.errors import PortalChanged, playwright_errors
from bots.press import AIM_JS, Aim, Role, aim_from
from bots.snapshot import LABELS_JS, Snapshot

__all__ = [
    "FILL_MODES",
    "FILL_STEP_JS",
    "ONE_TRIP",
    "PER_FIELD",
    "FillMode",
    "fill_and_aim",
    "fill_step",
    "missing_labels",
]

FillMode = Literal["one_trip", "per_field"]
ONE_TRIP: FillMode = "one_trip"
PER_FIELD: FillMode = "per_field"
FILL_MODES: tuple[FillMode, ...] = (ONE_TRIP, PER_FIELD)

# [fields, press]: fields [{label, kind (as the snapshot saw it), value (string, or boolean for a checkbox or
# radio)}], press null or [role, name, within] of the control to aim at once the values are in (bots/press.py)
# -> {set: [label, ...], aim} when every field was written, else {problems: [[label, what], ...]} and nothing
# written.
FILL_STEP_JS = (
    r"""
([fields, press]) => {
"""
    + LABELS_JS
    + AIM_JS
    + r"""
  const named = controlsByLabel();
  const problems = [];
  const plans = [];
  for (const f of fields) {
    const cs = named.get(f.label) || [];
    if (cs.length === 0) { problems.push([f.label, 'missing']); continue; }
    if (cs.length > 1) { problems.push([f.label, `ambiguous: ${cs.length} controls`]); continue; }
    const c = cs[0];
    const kind = kindOf(c);
    if (kind !== f.kind) { problems.push([f.label, `is a ${kind} control, the page showed a ${f.kind}`]); continue; }
    const visible = c.checkVisibility ? c.checkVisibility() : c.getClientRects().length > 0;
    if (!visible) { problems.push([f.label, 'not visible']); continue; }
    if (c.disabled || c.readOnly) { problems.push([f.label, 'not editable']); continue; }
    const checkable = kind === 'checkbox' || kind === 'radio';
    if (checkable !== (typeof f.value === 'boolean')) {
      problems.push([f.label, checkable ? 'a yes/no control for a text value' : 'a text control for a yes/no value']);
      continue;
    }
    if (checkable) {
      if (kind === 'radio' && c.checked && !f.value) { problems.push([f.label, 'a radio button cannot be unchecked']); continue; }
      plans.push({ c, proto: HTMLInputElement.prototype, prop: 'checked', value: f.value, label: f.label });
    } else if (kind === 'select') {
      const options = Array.from(c.options);
      // by the option's text, as a clerk picks it; the empty value is the placeholder (请选择): as per_field does
      const option = f.value === '' ? options.find((o) => o.value === '') : options.find((o) => norm(o.label) === f.value);
      if (!option) { problems.push([f.label, `offers no option ${JSON.stringify(f.value)}`]); continue; }
      plans.push({ c, proto: HTMLSelectElement.prototype, prop: 'selectedIndex', value: option.index, label: f.label });
    } else if (kind === 'textarea') {
      plans.push({ c, proto: HTMLTextAreaElement.prototype, prop: 'value', value: f.value, label: f.label });
    } else if (c instanceof HTMLInputElement && kind !== 'file') {
      // what an input of this type makes of the value (a date input drops a malformed date), on a probe
      const probe = document.createElement('input');
      probe.type = c.type;
      probe.value = f.value;
      if (probe.value !== f.value) { problems.push([f.label, `a ${kind} input does not take the value`]); continue; }
      plans.push({ c, proto: HTMLInputElement.prototype, prop: 'value', value: f.value, label: f.label });
    } else {
      problems.push([f.label, `a ${kind} control cannot be filled`]);
    }
  }
  if (problems.length) return { problems };
  for (const p of plans) {
    if (p.c[p.prop] === p.value && p.prop === 'checked') continue;  // as it should be: nothing to do
    Object.getOwnPropertyDescriptor(p.proto, p.prop).set.call(p.c, p.value);
    p.c.dispatchEvent(new Event('input', { bubbles: true }));
    p.c.dispatchEvent(new Event('change', { bubbles: true }));
  }
  return { set: plans.map((p) => p.label), aim: press ? aimAt(...press) : null };
}
"""
)


def missing_labels(snap: Snapshot, values: Mapping[str, object]) -> list[str]:
    """The labels of ``values`` the snapshot does not show, or shows on more than one control."""
    return [label for label in values if label not in snap.labels or snap.labels[label].controls != 1]


async def fill_step(page: Page, snap: Snapshot, values: Mapping[str, str | bool]) -> tuple[str, ...]:
    """Check and enter every ``label: value`` of the step ``snap`` shows in one round trip; the labels set.

    :class:`~bots.errors.PortalChanged` (nothing entered) when a label is missing or ambiguous, a control
    changed its kind, cannot be written, or refuses the value (a select without that option)."""
    return (await fill_and_aim(page, snap, values, None))[0]


async def fill_and_aim(
    page: Page,
    snap: Snapshot,
    values: Mapping[str, str | bool],
    press: tuple[Role, str, str | None] | None,
) -> tuple[tuple[str, ...], Aim | None]:
    """:func:`fill_step`, and in the same round trip, once the values are in, where to click the control
    ``press`` (role, name, within) names, as :func:`bots.press.aim` finds it (None: not found so, or not asked)."""
    fields: list[dict[str, Any]] = [
        {"label": label, "kind": snap.labels[label].kind, "value": value}
        for label, value in values.items()
        if label in snap.labels
    ]
    if len(fields) != len(values):  # the caller checks the snapshot first; this is the last line
        raise PortalChanged(f"step {snap.main_heading!r} lacks fields {', '.join(missing_labels(snap, values))}")
    with playwright_errors(f"entering step {snap.main_heading!r}"):
        out = await page.evaluate(FILL_STEP_JS, [fields, list(press) if press else None])
    problems = out.get("problems") or []
    if problems:
        what = "; ".join(f"{label}: {problem}" for label, problem in problems)
        raise PortalChanged(f"step {snap.main_heading!r} cannot be filled, nothing was entered ({what})")
    return tuple(out["set"]), aim_from(out.get("aim"))
