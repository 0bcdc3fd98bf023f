import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PATH = ROOT / "contract" / "application.example.json"


@pytest.fixture
def sample_json() -> dict:
    """The valid sample application of the intake contract, as JSON data (a fresh copy per test)."""
    return json.loads(SAMPLE_PATH.read_text(encoding="utf-8"))
