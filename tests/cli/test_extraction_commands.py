"""`metareview store extraction-form` and `extraction-kappa`: the project's form set from a
protocol file (the ketamine-CRPS review-store example's), errors as one line with exit code
2, and the per-field kappa over complete studies, by exit code and exact output lines."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from metareview.cli import app
from metareview.review import Store
from tests.review.builders import screen_all, write_ris

RUNNER = CliRunner()
PROTOCOL = (
    Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review" / "protocol.toml"
)


def _run(db: Path, *args: str):
    return RUNNER.invoke(app, [*args, "--store", str(db)], terminal_width=100)


def _store_with_studies(tmp_path: Path) -> Path:
    db = tmp_path / "x.sqlite"
    store = Store.open(db)
    try:
        store.create_project("review")
        store.import_file("review", write_ris(tmp_path / "s.ris", 6), database="PubMed")
        for name in ("Ana", "Ben", "Cy"):
            store.add_reviewer("review", name)
        ids = store.records("review")["id"].tolist()
        screen_all(store, ids)
        store.assign_study("review", "Kiefer 2008", [ids[0]], actor="Cy")
        store.assign_study("review", "Goebel 2015", [ids[3]], actor="Cy")
    finally:
        store.close()
    return db


def test_form_then_kappa(tmp_path: Path) -> None:
    db = _store_with_studies(tmp_path)
    done = _run(db, "store", "extraction-form", str(PROTOCOL), "--by", "Cy")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "extraction form set: 5 fields (year, n, immediate_relief_pct, intervention, duration_days)"
    ]
    kept = Store.open(db)
    try:  # the whole protocol, for the analysis page and the report
        assert kept.project_protocol("review") == PROTOCOL.read_text(encoding="utf-8")
    finally:
        kept.close()
    empty = _run(db, "store", "extraction-kappa")
    assert empty.exit_code == 0
    assert "no study is complete yet" in empty.output
    store = Store.open(db)
    try:
        rows = {
            "Kiefer 2008": ("2008", "20", "93.5", "S+ketamine", "5"),
            "Goebel 2015": ("2015", "5", "83.3", "Racemic ketamine", "4.5"),
        }
        for study, row in rows.items():
            for who in ("Ana", "Ben"):
                values = dict(zip(store.extraction_form("review").names, row, strict=True))
                if who == "Ben" and study == "Kiefer 2008":
                    values["n"] = "2"
                store.save_extraction("review", study, who, values)
                store.submit_extraction("review", study, who)
    finally:
        store.close()
    shown = _run(db, "store", "extraction-kappa")
    assert shown.exit_code == 0, shown.output
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in shown.output.splitlines()]
    by_field = {row[0]: row[1:5] for row in cells if row}
    # n: Ana (20, 5), Ben (2, 5): p_o = 1/2, p_e = 1/2 x 1/2 = 1/4, kappa = 1/3 (by hand)
    assert by_field["n"] == ["Ana / Ben", "2", "50.0%", "0.333"]
    assert by_field["year"] == ["Ana / Ben", "2", "100.0%", "1.000"]
    assert by_field["intervention"] == ["Ana / Ben", "2", "100.0%", "1.000"]


def test_a_protocol_without_a_form_is_one_line_and_exit_2(tmp_path: Path) -> None:
    db = _store_with_studies(tmp_path)
    bad = tmp_path / "protocol.toml"
    bad.write_text('[review]\ntitle = "x"\n', encoding="utf-8")
    answer = _run(db, "store", "extraction-form", str(bad), "--by", "Cy")
    assert answer.exit_code == 2
    assert "has no [extraction] section" in answer.output
    assert "Traceback" not in answer.output
