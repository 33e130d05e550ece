"""Shared by the CLI tests: a store built through the command line, and readers of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from metareview.cli import app
from metareview.review import Store

RUNNER = CliRunner()
PROJECT = "crps"
RECORDS = [
    (
        "Ketamine infusion for complex regional pain syndrome",
        "Smith, J.",
        2015,
        "Pain Med",
        "CRPS-I patients received S-ketamine; pain fell. Rats were not studied.",
    ),
    ("Ketamine in rats: a model of neuropathic pain", "Lee, P.", 2012, "Lab Anim", ""),
    ("Magnesium for CRPS", "Roe, R.", 2019, "BMJ", "A randomised trial of magnesium."),
    ("Bisphosphonates for CRPS: a cohort", "Doe, D.", 2020, "Pain", "Rates of pain relief."),
]


def write_ris(path: Path, records=RECORDS, extra: str = "") -> Path:
    lines = []
    for title, author, year, journal, abstract in records:
        lines += (
            ["TY  - JOUR", f"TI  - {title}", f"AU  - {author}", f"PY  - {year}", f"JO  - {journal}"]
            + ([f"AB  - {abstract}"] if abstract else [])
            + ["ER  - ", ""]
        )
    path.write_text(extra + "\n".join(lines), encoding="utf-8")
    return path


def run(db: Path, *args: str, input: str | None = None):
    """Invoke the CLI on the store ``db``; ``--store`` goes after the command's arguments."""
    return RUNNER.invoke(app, [*args, "--store", str(db)], input=input)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A store with project crps, the 4 records of RECORDS, reviewers Ana, Ben, Cy and owner
    Olga."""
    path = tmp_path / "review.sqlite"
    assert run(path, "store", "init", "--project", PROJECT).exit_code == 0
    assert (
        run(
            path, "store", "import", str(write_ris(tmp_path / "search.ris")), "--database", "PubMed"
        ).exit_code
        == 0
    )
    for name in ("Ana", "Ben", "Cy"):
        assert run(path, "store", "reviewer", "add", name).exit_code == 0
    assert run(path, "store", "reviewer", "add", "Olga", "--role", "owner").exit_code == 0
    return path


def ids(db: Path) -> list[str]:
    store = Store.open(db)
    try:
        return store.records(PROJECT)["id"].tolist()
    finally:
        store.close()


def own_votes(db: Path, reviewer: str, stage: str = "title_abstract") -> dict[str, tuple]:
    store = Store.open(db)
    try:
        seen = store.decisions(PROJECT, reviewer, stage)
    finally:
        store.close()
    mine = seen[seen["reviewer"] == reviewer]
    return {
        r.record_id: (r.decision, r.reason if isinstance(r.reason, str) else None)
        for r in mine.itertuples()
    }
