"""The wizard's form mechanics, generic over specs: a step's controls (with repeated rows), reading
and validating a posted step, the stored form of a submission, and how a value is displayed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from simulators.portal.checks import CHECKS, int_or
from simulators.portal.specs import FieldSpec, PortalSpec, RepeatSpec, StepSpec


def row_count(rep: RepeatSpec, draft: dict[str, Any]) -> int:
    """How many rows a repeated group has: the answer to its count field (0 when not a number)."""
    return int_or(draft.get(rep.count_field), 0) or 0


def step_groups(step: StepSpec, draft: dict[str, Any]) -> list[tuple[str | None, list[FieldSpec]]]:
    """The controls of a step: its own fields, then one group per repeated row."""
    groups: list[tuple[str | None, list[FieldSpec]]] = []
    if step.fields:
        groups.append((None, list(step.fields)))
    if step.repeat:
        rep = step.repeat
        for i in range(1, row_count(rep, draft) + 1):
            legend = rep.legend.format(n=i)
            groups.append(
                (legend, [replace(f, name=f"{rep.name}-{i}-{f.name}", label=f"{legend}{f.label}") for f in rep.fields])
            )
    return groups


def read_form(form: Any, groups: list[tuple[str | None, list[FieldSpec]]], prefix: str = "") -> dict[str, Any]:
    values: dict[str, Any] = {}
    for _, fields in groups:
        for f in fields:
            if f.kind == "checkboxes":
                values[f.name] = [str(v) for v in form.getlist(prefix + f.name)]
            else:
                v = form.get(prefix + f.name)
                values[f.name] = v.strip() if isinstance(v, str) else ""
    return values


def validate_field(f: FieldSpec, value: Any) -> str | None:
    if f.kind == "checkboxes":
        allowed = {v for v, _ in f.options}
        if f.required and not value:
            return f"请至少选择一项{f.label}"
        if any(v not in allowed for v in value):
            return f"{f.label}包含无效选项"
        return None
    if not value:
        if f.required:
            return f"请选择{f.label}" if f.kind == "select" else f"{f.label}不能为空"
        return None
    if f.kind == "select" and value not in {v for v, _ in f.options}:
        return f"请选择有效的{f.label}"
    if f.check:
        return CHECKS[f.check](value, f.label)
    return None


def validate_step(step: StepSpec, values: dict[str, Any], draft: dict[str, Any]) -> dict[str, str]:
    groups = step_groups(step, draft)
    errors: dict[str, str] = {}
    for _, fields in groups:
        for f in fields:
            msg = validate_field(f, values.get(f.name))
            if msg:
                errors[f.name] = msg
    rep = step.repeat
    if rep and rep.row_check:
        for i in range(1, row_count(rep, draft) + 1):
            prefix = f"{rep.name}-{i}-"
            row = {f.name: values.get(prefix + f.name, "") for f in rep.fields}
            for key, msg in rep.row_check(row, rep.legend.format(n=i)).items():
                errors.setdefault(prefix + key, msg)
    if step.check and not errors:
        errors.update(step.check({**draft, **values}))
    return errors


def structured(spec: PortalSpec, draft: dict[str, Any]) -> dict[str, Any]:
    """The stored form of a submission: flat fields plus one list per repeated group."""
    data: dict[str, Any] = {}
    for step in spec.steps:
        for f in step.fields:
            data[f.name] = draft.get(f.name, [] if f.kind == "checkboxes" else "")
        if step.repeat:
            rep = step.repeat
            n = row_count(rep, draft)
            data[rep.name] = [
                {f.name: draft.get(f"{rep.name}-{i}-{f.name}", "") for f in rep.fields} for i in range(1, n + 1)
            ]
    return data


def display(f: FieldSpec, value: Any) -> str:
    if f.kind == "select":
        return dict(f.options).get(value, value or "")
    if f.kind == "checkboxes":
        names = dict(f.options)
        return "、".join(names.get(v, v) for v in value or [])
    return value or ""
