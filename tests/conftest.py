"""Shared test helpers: loading the metafor reference fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict[str, Any]:
    """Load ``tests/fixtures/<name>.json`` (made by tests/fixtures/make_fixtures.R)."""
    with open(FIXTURES / f"{name}.json", encoding="utf-8") as fh:
        return json.load(fh)
