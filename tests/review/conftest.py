"""Fixtures of the review tests: the shared real-world test data (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from metareview.review import Store


def _testdata() -> Path:
    """``../shared/testdata`` next to the repository, or the workplace's copy when the
    repository was cloned elsewhere (CI); absent on a user's machine."""
    if "METAREVIEW_TESTDATA" in os.environ:
        return Path(os.environ["METAREVIEW_TESTDATA"])
    for candidate in (Path(__file__).resolve().parents[3] / "shared" / "testdata",
                      Path("/work/shared/testdata")):
        if candidate.is_dir():
            return candidate
    return Path(__file__).resolve().parents[3] / "shared" / "testdata"


TESTDATA = _testdata()
IMPORTS = TESTDATA / "imports"


@pytest.fixture
def imports_dir() -> Path:
    """The folder of real export files; skips the test when it is not there."""
    if not IMPORTS.is_dir():
        pytest.skip(f"shared test data not found at {IMPORTS} (set METAREVIEW_TESTDATA)")
    return IMPORTS


@pytest.fixture
def store(tmp_path: Path):
    """A fresh store in a SQLite file with one project, ``"review"``."""
    st = Store.open(tmp_path / "review.sqlite")
    st.create_project("review")
    yield st
    st.close()
