"""Records with no title, abstract or authors: kept, set aside for an owner outside the
screening queue, released or discarded (audited), and counted by PRISMA as removed before
screening for that reason (issue 21, item 11)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from alembic import command
from sqlalchemy import create_engine, text

from metareview.exceptions import InputError
from metareview.plots import prisma
from metareview.review import Store
from metareview.review.backup import dumps
from metareview.review.migrate import _config, upgrade

from .builders import write_ris

NO_CONTENT = "no title, abstract or authors"
#: the real export (EndNote's reference types, one record each, no fields) of shared testdata
REAL_EXPORT = "baseline_reference_types.ris"


def write_with_blanks(path: Path) -> Path:
    """3 articles, then a record with a type only, one with a DOI only and one whose title,
    abstract and author are blank."""
    text_ = write_ris(path, 3).read_text(encoding="utf-8")
    text_ += "TY  - GEN\nER  - \n\nTY  - JOUR\nDO  - 10.1000/xyz\nER  - \n\n"
    text_ += "TY  - JOUR\nTI  -   \nAB  - \nAU  -  \nER  - \n"
    path.write_text(text_, encoding="utf-8")
    return path


@pytest.fixture
def blanks(store: Store, tmp_path: Path) -> tuple[Store, list[str]]:
    report = store.import_file("review", write_with_blanks(tmp_path / "search.ris"))
    assert (report.n_imported, report.n_set_aside) == (6, 3)
    assert str(report).endswith(f"3 of them set aside for an owner ({NO_CONTENT}).")
    for name in ("Ana", "Ben"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    return store, store.records("review")["id"].tolist()


def _screen(store: Store, ids: list[str]) -> None:
    for rid in ids:
        for name in ("Ana", "Ben"):
            store.decide("review", rid, name, "exclude")


def test_blank_records_are_kept_but_not_queued_nor_counted_as_screened(blanks) -> None:
    store, ids = blanks
    assert len(store.records("review")) == 6  # nothing lost
    aside = store.set_aside("review")
    assert aside["record_id"].tolist() == ids[3:]
    assert aside["status"].tolist() == ["held"] * 3
    assert aside["reason"].tolist() == [NO_CONTENT] * 3
    assert aside["doi"].tolist()[1] == "10.1000/xyz"
    assert store.screening_status("review")["record_id"].tolist() == ids[:3]
    with pytest.raises(
        InputError,
        match=rf"record {ids[3]} is set aside \({NO_CONTENT}\): "
        "held for an owner to release or discard",
    ):
        store.decide("review", ids[3], "Ana", "include")
    _screen(store, ids[:3])
    assert store.next_record("review", "Ana") is None
    counts = store.prisma_counts("review")
    assert counts["records_databases"] == {"search.ris": 6}
    assert counts["records_removed_other"] == {NO_CONTENT: 3}
    assert (counts["records_screened"], counts["records_excluded"]) == (3, 3)


def test_owner_releases_or_discards_with_a_reason_audited(blanks, tmp_path: Path) -> None:
    store, ids = blanks
    with pytest.raises(
        InputError,
        match="'Ana' is not an owner of 'review'; only owners may release records set aside",
    ):
        store.release_set_aside("review", [ids[4]], owner="Ana", reason="DOI resolves")
    with pytest.raises(InputError, match=r"record_ids: \['nope'\] are not set aside"):
        store.discard_set_aside("review", [ids[3], "nope"], owner="Olga", reason="empty")
    with pytest.raises(InputError, match="reason must be a non-empty string"):
        store.discard_set_aside("review", [ids[3]], owner="Olga", reason=" ")
    assert store.set_aside("review", "held")["record_id"].tolist() == ids[3:]
    store.release_set_aside("review", [ids[4]], owner="Olga", reason="the DOI resolves")
    store.discard_set_aside(
        "review", [ids[3], ids[5]], owner="Olga", reason="empty entry in the export"
    )
    with pytest.raises(InputError, match=rf"{ids[4]} \(released\) were decided already"):
        store.discard_set_aside("review", [ids[4]], owner="Olga", reason="changed my mind")
    aside = store.set_aside("review")
    assert aside["status"].tolist() == ["discarded", "released", "discarded"]
    assert aside["decided_by"].tolist() == ["Olga"] * 3
    log = store.audit_log()
    mine = log[(log["entity"] == "set_aside") & (log["actor"] == "Olga")]
    assert list(zip(mine["entity_id"], mine["reason"], strict=True)) == [
        (ids[4], "the DOI resolves"),
        (ids[3], "empty entry in the export"),
        (ids[5], "empty entry in the export"),
    ]
    # the released record is screened like any other; the discarded ones are counted apart
    assert store.screening_status("review")["record_id"].tolist() == [*ids[:3], ids[4]]
    _screen(store, ids[:3])
    with pytest.raises(InputError, match=f"1 records have no title_abstract outcome yet.*{ids[4]}"):
        store.prisma_counts("review")
    _screen(store, [ids[4]])
    counts = store.prisma_counts("review")
    assert counts["records_removed_other"] == {"empty entry in the export": 2}
    assert counts["records_screened"] == 4
    with (store.prisma_csv("review", tmp_path / "prisma.csv")).open(encoding="utf-8") as f:
        rows = {row["data"]: row["n"] for row in csv.DictReader(f)}
    assert (rows["excluded_other"], rows["records_screened"]) == ("2", "4")
    fig = prisma(counts)
    shown = [" ".join(t.get_text().split()) for t in fig.findobj(lambda a: hasattr(a, "get_text"))]
    assert any("other reasons (n = 2) empty entry in the export (n = 2)" in s for s in shown)
    plt.close(fig)


def test_the_real_export_of_61_empty_records(imports_dir: Path, store: Store) -> None:
    """The export whose 61 records have no title, abstract or authors (one per reference
    type) gives 61 records set aside, an empty queue and a PRISMA flow that says so."""
    report = store.import_file("review", imports_dir / REAL_EXPORT, database="EndNote")
    assert (report.n_records, report.n_set_aside) == (61, 61)
    store.add_reviewer("review", "Ana")
    assert store.next_record("review", "Ana") is None
    assert len(store.set_aside("review", "held")) == 61
    counts = store.prisma_counts("review")
    assert (
        counts["records_databases"],
        counts["records_removed_other"],
        counts["records_screened"],
    ) == ({"EndNote": 61}, {NO_CONTENT: 61}, 0)


def test_backup_keeps_records_set_aside(blanks, tmp_path: Path) -> None:
    store, ids = blanks
    store.discard_set_aside("review", [ids[3]], owner="Olga", reason="empty")
    path = store.export_project("review", tmp_path / "backup")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [(x["record"], x["status"], x["decided_by"]) for x in doc["set_aside"]] == [
        (ids[3], "discarded", "Olga"),
        (ids[4], "held", None),
        (ids[5], "held", None),
    ]
    restored = Store.open(tmp_path / "restored.sqlite")
    try:
        restored.restore_project(path, actor="Olga")
        again = restored.export_project("review", tmp_path / "again")
        assert json.loads(again.read_text(encoding="utf-8"))["set_aside"] == doc["set_aside"]
        pd.testing.assert_frame_equal(  # times: naive on SQLite, aware on PostgreSQL
            restored.set_aside("review").drop(columns=["source_id", "time", "decided_at"]),
            store.set_aside("review").drop(columns=["source_id", "time", "decided_at"]),
        )
        # a backup written before records were set aside: its empty records are held
        doc.pop("set_aside")
        old = tmp_path / "old.json"
        old.write_text(dumps(doc), encoding="utf-8")
    finally:
        restored.close()
    fresh = Store.open(tmp_path / "fresh.sqlite")
    try:
        fresh.restore_project(old, actor="Olga")
        aside = fresh.set_aside("review")
        assert (aside["record_id"].tolist(), aside["status"].tolist()) == (ids[3:], ["held"] * 3)
    finally:
        fresh.close()


def test_migration_0004_sets_aside_the_empty_records_of_old_stores(
    store_url: str, tmp_path: Path
) -> None:
    store = Store.open(store_url)
    try:
        store.create_project("review")
        store.import_file("review", write_with_blanks(tmp_path / "search.ris"))
        ids = store.records("review")["id"].tolist()
    finally:
        store.close()
    engine = create_engine(store_url)
    try:
        with engine.begin() as conn:
            command.downgrade(_config(conn), "0003")  # as an older metareview left it
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT record_id, status, reason FROM set_aside ORDER BY record_id")
            ).all()
            entries = conn.execute(
                text(
                    "SELECT entity_id, project_id, reason FROM audit_log WHERE reason LIKE "
                    "'set aside by migration%' ORDER BY entity_id"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [(rid, "held", NO_CONTENT) for rid in sorted(ids[3:])]
    assert [tuple(e) for e in entries] == [
        (rid, 1, f"set aside by migration 0004: {NO_CONTENT}") for rid in sorted(ids[3:])
    ]
