"""Fixtures of the review tests: the shared real-world test data (skipped when absent), and
stores on every supported database.

``store`` and ``store_url`` run each test once on SQLite and once on PostgreSQL, each time in
a fresh, empty database. PostgreSQL is the server in ``METAREVIEW_TEST_POSTGRES_URL`` (a URL
whose role may CREATE DATABASE; each test gets its own database, dropped afterwards), or else a
throwaway cluster started from the local PostgreSQL binaries (see ``tests/_postgres.py``).
When neither works the PostgreSQL runs are skipped with the reason, or fail when
``METAREVIEW_REQUIRE_POSTGRES=1`` (as in CI). ``pytest -k "not postgresql"`` runs SQLite only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from metareview.review import Store
from metareview.review.extraction_form import ExtractionForm, load_form
from tests._postgres import ENV_REQUIRE, PostgresServer, PostgresUnavailableError, connect_server
from tests.review.builders import FORM_TOML

BACKENDS = ("sqlite", "postgresql")


def _testdata() -> Path:
    """``../shared/testdata`` next to the repository, or the workplace's copy when the
    repository was cloned elsewhere (CI); absent on a user's machine."""
    if "METAREVIEW_TESTDATA" in os.environ:
        return Path(os.environ["METAREVIEW_TESTDATA"])
    for candidate in (
        Path(__file__).resolve().parents[3] / "shared" / "testdata",
        Path("/work/shared/testdata"),
    ):
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The PostgreSQL server of the session (see the module docstring); skips or fails."""
    try:
        server = connect_server()
    except PostgresUnavailableError as exc:
        reason = f"PostgreSQL not available: {exc}"
        if os.environ.get(ENV_REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{reason} ({ENV_REQUIRE} is set)", pytrace=False)
        pytest.skip(reason)
    yield server
    server.stop()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'review.sqlite'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as url:
        yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A fresh store (SQLite file, then PostgreSQL) with one project, ``"review"``."""
    st = Store.open(store_url)
    st.create_project("review")
    yield st
    st.close()


@pytest.fixture
def form(tmp_path: Path) -> ExtractionForm:
    """The extraction form of :data:`tests.review.builders.FORM_TOML`."""
    path = tmp_path / "protocol.toml"
    path.write_text(FORM_TOML, encoding="utf-8")
    return load_form(path)
