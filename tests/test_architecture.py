"""The rules of the tree that a machine checks (also run by `make lint`): layering, a pure domain, file sizes."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION = ("domain", "workflows", "activities", "bots", "ai", "api", "simulators", "runtime", "store", "cli")
MAX_LINES = 600
# calls that read or write files: the caller reads them and hands the domain their text
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink", "iterdir", "glob"}


def python_files(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py"))


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_a_wrong_import_breaks_the_contract(tmp_path):
    """The contract is not vacuous: a copy of the tree whose domain imports temporalio is reported."""
    for pkg in PRODUCTION:
        shutil.copytree(ROOT / pkg, tmp_path / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    status = tmp_path / "domain" / "status.py"
    status.write_text(status.read_text(encoding="utf-8") + "\nimport temporalio  # noqa\n", encoding="utf-8")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "Domain, bots and ai import no temporalio BROKEN" in done.stdout
    assert "domain.status -> temporalio" in done.stdout


@pytest.mark.parametrize("path", python_files("domain"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_touches_no_file(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = [
        node.func.id if isinstance(node.func, ast.Name) else node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute)
    ]
    assert not FILE_CALLS & set(calls), f"{path.name} does file I/O: {sorted(FILE_CALLS & set(calls))}"


def test_no_production_file_is_too_long():
    long = {
        str(p.relative_to(ROOT)): n
        for p in python_files(*PRODUCTION)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"split these where their seams are: {long}"
