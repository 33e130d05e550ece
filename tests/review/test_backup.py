"""Export of a whole project to JSON + CSV + RIS and its lossless restore (issue 4)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from metareview.exceptions import InputError
from metareview.review import Store, parse_file
from metareview.review.backup import dumps
from metareview.review.extraction_form import ExtractionForm
from metareview.review.screening import STAGES

from .builders import add_other_project, build_project, write_ris

AUDIT_ENTITIES = {
    "project",
    "source",
    "duplicate_group",
    "reviewer",
    "screening_decision",
    "screening_resolution",
    "unblinding",
    "retrieval",
    "study",
    "extraction_value",
    "extraction_resolution",
    "rob_judgement",
    "rob_answer",
}


def assert_round_trip(
    original: Store, restored: Store, first: Path, second: Path, form: ExtractionForm
) -> None:
    """``second`` (re-export of the restored project) is ``first`` plus the restore entry,
    and every view of the two stores agrees."""
    redone = json.loads(second.read_text(encoding="utf-8"))
    entry = redone["audit_log"].pop()
    assert (entry["actor"], entry["entity"], entry["key"], entry["old"]) == (
        "Olga",
        "project",
        None,
        None,
    )
    assert entry["reason"] == f"restored from backup {first}"
    assert dumps(redone) == first.read_text(encoding="utf-8")  # exact on all the rest
    for name in ("records.csv", "decisions.csv", "extraction.csv", "records.ris"):
        assert (second.parent / name).read_bytes() == (first.parent / name).read_bytes(), name
    views: dict[str, Callable[[Store], Any]] = {
        # integer ids (source_id, duplicate_group) are new in the restored store
        "records": lambda st: st.records("review").drop(columns=["source_id", "duplicate_group"]),
        "groups": lambda st: st.duplicate_groups("review").drop(columns="group_id"),
        "reviewers": lambda st: st.reviewers("review"),
        "votes": lambda st: st.decisions("review", "Olga").drop(columns="time"),
        "studies": lambda st: st.studies("review"),
        "extraction": lambda st: st.extraction_values("review"),
        "studies_table": lambda st: st.studies_table("review", form),
        "rob": lambda st: st.rob_judgements("review", "RoB2"),
        "rob_answers": lambda st: st.rob_answers("review", "RoB2"),
        "rob_table": lambda st: st.rob_table("review", "RoB2"),
        "nos_table": lambda st: st.rob_table("review", "NOS"),
        "agreement": lambda st: st.screening_agreement("review").pairs,
        **{
            f"status_{stage}": (lambda st, stage=stage: st.screening_status("review", stage))
            for stage in STAGES
        },
    }
    for name, view in views.items():
        pd.testing.assert_frame_equal(view(original), view(restored), obj=name)
    assert original.prisma_counts("review") == restored.prisma_counts("review")
    assert original.extraction_agreement("review", "Ana", "Ben") == restored.extraction_agreement(
        "review", "Ana", "Ben"
    )


def test_round_trip_is_lossless(store: Store, tmp_path: Path, form: ExtractionForm) -> None:
    """Export (SQLite, then PostgreSQL) -> restore into a fresh SQLite file -> re-export."""
    build_project(store, tmp_path, form)
    n_entries = len(store.audit_log())
    add_other_project(store, tmp_path, form)  # its audit entries must stay out of the export
    path = store.export_project("review", tmp_path / "backup")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert len(doc["audit_log"]) == n_entries
    assert {e["entity"] for e in doc["audit_log"]} == AUDIT_ENTITIES
    assert (len(doc["records"]), len(doc["duplicate_groups"]), len(doc["reviewers"])) == (7, 2, 5)
    assert store.prisma_counts("review")["duplicates_removed"] == 1
    restored = Store.open(tmp_path / "restored.sqlite")
    try:
        assert restored.restore_project(tmp_path / "backup", actor="Olga") == "review"
        log = restored.audit_log()
        assert len(log) == n_entries + 1
        assert log["reason"].iloc[-1] == f"restored from backup {path}"
        again = restored.export_project("review", tmp_path / "again")
        assert_round_trip(store, restored, path, again, form)
    finally:
        restored.close()


def test_restore_into_each_backend(store_url: str, tmp_path: Path, form: ExtractionForm) -> None:
    """Export from a SQLite file -> restore into SQLite, then PostgreSQL -> re-export."""
    original = Store.open(tmp_path / "original.sqlite")
    target = Store.open(store_url)
    try:
        original.create_project("review")
        build_project(original, tmp_path, form)
        path = original.export_project("review", tmp_path / "backup")
        assert target.restore_project(path, actor="Olga") == "review"
        again = target.export_project("review", tmp_path / "again")
        assert_round_trip(original, target, path, again, form)
    finally:
        original.close()
        target.close()


def small_backup(store: Store, tmp_path: Path) -> Path:
    store.import_file("review", write_ris(tmp_path / "search.ris", 3), database="PubMed")
    store.add_reviewer("review", "Ana")
    store.add_reviewer("review", "Ben")
    ids = store.records("review")["id"].tolist()
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[0], "Ben", "exclude")
    return store.export_project("review", tmp_path / "backup")


def test_restore_refuses_conflicts_and_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = small_backup(store, tmp_path)
    before = (store.projects(), len(store.audit_log()))
    with pytest.raises(
        InputError,
        match="name: project 'review' exists already in this "
        r"store; pass name=\.\.\.",
    ):
        store.restore_project(path, actor="Olga")
    with pytest.raises(
        InputError,
        match="records: 3 of the backup's record ids exist already "
        r"in this store \(p1-",
    ):
        store.restore_project(path.parent, actor="Olga", name="review copy")
    assert (store.projects(), len(store.audit_log())) == before
    # a conflict met half-way (after project, sources and records were written) rolls back
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["screening_decisions"].append(doc["screening_decisions"][0])
    broken = tmp_path / "broken.json"
    broken.write_text(dumps(doc), encoding="utf-8")
    fresh = Store.open(tmp_path / "fresh.sqlite")
    try:
        with pytest.raises(InputError, match="inconsistent or conflicts with this store"):
            fresh.restore_project(broken, actor="Olga")
        assert fresh.projects() == [] and fresh.audit_log().empty
        # entity ids of row entries are translated to the new rows' ids
        fresh.create_project("first")
        fresh.add_reviewer("first", "Zoe")
        assert fresh.restore_project(path, actor="Olga", name="review (copy)") == "review (copy)"
        log = fresh.audit_log().iloc[2:]
        rid = store.records("review")["id"].iloc[0]
        assert list(zip(log["entity"], log["entity_id"], strict=True)) == [
            ("project", "2"),
            ("source", "1"),
            ("reviewer", "2"),
            ("reviewer", "3"),
            ("screening_decision", rid),
            ("screening_decision", rid),
            ("project", "2"),
        ]
        assert log["actor"].tolist() == ["metareview"] * 2 + ["metareview"] * 2 + [
            "Ana",
            "Ben",
            "Olga",
        ]
        again = fresh.export_project("review (copy)", tmp_path / "again")
        redone = json.loads(again.read_text(encoding="utf-8"))
        redone["audit_log"].pop()
        redone["project"]["name"] = "review"
        assert dumps(redone) == path.read_text(encoding="utf-8")
    finally:
        fresh.close()


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.pop(key)


def _set(section: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc[section][0].__setitem__(key, value)


CORRUPTIONS = [
    (_drop("records"), r"key 'records' is missing"),
    (_drop("format_version"), r"key 'format_version' is missing"),
    (
        lambda doc: doc.__setitem__("format_version", 2),
        r"key 'format_version' is 2; this metareview reads format_version 1",
    ),
    (
        lambda doc: doc.__setitem__("format", "zotero"),
        r"key 'format' must be "
        r"'metareview-project-backup'",
    ),
    (
        lambda doc: doc["project"].pop("reviewers_per_record"),
        r"project lacks key 'reviewers_per_record'",
    ),
    (
        lambda doc: doc["screening_decisions"][1].pop("reviewer"),
        r"screening_decisions\[1\] lacks key 'reviewer'",
    ),
    (
        _set("screening_decisions", "time", "2024-05-01T09:30:00"),
        r"screening_decisions\[0\]\.time must be an ISO 8601 date-time with a time zone",
    ),
    (
        _set("screening_decisions", "reviewer", "Zed"),
        r"screening_decisions\[0\]\.reviewer 'Zed' is not among the backup's reviewers",
    ),
    (
        _set("records", "source", "0" * 64),
        r"records\[0\]\.source '0{64}' is not among the "
        r"backup's sources",
    ),
    (
        lambda doc: doc["reviewers"].append(dict(doc["reviewers"][0])),
        r"reviewers\[2\]\.name 'Ana' appears twice",
    ),
    (lambda doc: doc.__setitem__("records", {}), r"key 'records' must be a list"),
]


def test_corrupted_backup_gives_clear_errors(tmp_path: Path) -> None:
    source = Store.open(tmp_path / "source.sqlite")
    target = Store.open(tmp_path / "target.sqlite")
    try:
        source.create_project("review")
        path = small_backup(source, tmp_path)
        text = path.read_text(encoding="utf-8")
        for n, (corrupt, message) in enumerate(CORRUPTIONS):
            doc = json.loads(text)
            corrupt(doc)
            bad = tmp_path / f"bad{n}.json"
            bad.write_text(json.dumps(doc), encoding="utf-8")
            with pytest.raises(InputError, match=message):
                target.restore_project(bad, actor="Olga")
        bad.write_text(text[:-10], encoding="utf-8")
        with pytest.raises(InputError, match=r"not valid JSON \(.* at line \d+"):
            target.restore_project(bad, actor="Olga")
        with pytest.raises(InputError, match=r"project\.json: the backup could not be read"):
            target.restore_project(tmp_path, actor="Olga")
        with pytest.raises(InputError, match="actor must be a non-empty string"):
            target.restore_project(path, actor=" ")
        assert target.projects() == [] and target.audit_log().empty
    finally:
        source.close()
        target.close()


def test_csv_and_ris_views(tmp_path: Path, form: ExtractionForm) -> None:
    store = Store.open(tmp_path / "review.sqlite")
    try:
        store.create_project("review")
        ids = build_project(store, tmp_path, form)
        folder = store.export_project("review", tmp_path / "backup").parent
        records = store.records("review")
    finally:
        store.close()
    with (folder / "records.csv").open(encoding="utf-8", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle)}
    assert list(rows) == ids
    outcome = {
        rid: (r["title_abstract"], r["full_text"], r["full_text_reason"], r["study"])
        for rid, r in rows.items()
    }
    assert outcome == {
        ids[0]: ("include", "include", "", "Correll 2004"),
        ids[1]: ("include", "not retrieved", "", ""),
        ids[2]: ("include", "exclude", "Wrong population", ""),
        ids[3]: ("include", "include", "", "Goebel 2015"),
        ids[4]: ("exclude", "", "", ""),
        ids[5]: ("exclude", "", "", ""),
        ids[6]: ("", "", "", ""),
    }
    assert rows[ids[6]]["duplicate_of"] == ids[0] and rows[ids[6]]["database"] == "Embase"
    decisions = pd.read_csv(folder / "decisions.csv", keep_default_na=False)
    assert decisions["kind"].value_counts().to_dict() == {"vote": 18, "third_reviewer": 1}
    assert decisions[decisions["kind"] == "third_reviewer"][
        ["record_id", "reviewer", "decision", "reason"]
    ].values.tolist() == [[ids[0], "Cy", "include", "adults with CRPS"]]
    extraction = pd.read_csv(folder / "extraction.csv", keep_default_na=False, dtype=str)
    assert len(extraction) == 13
    assert extraction[extraction["kind"] == "resolution"][
        ["study", "field", "reviewer", "value"]
    ].values.tolist() == [["Correll 2004", "dose", "Cy", "0.35"]]

    ris = (folder / "records.ris").read_text(encoding="utf-8")
    assert "nan" not in ris and "None" not in ris
    parsed = parse_file(folder / "records.ris")
    assert not parsed.problems
    assert len(parsed.records) == 7
    by_id = {rec.raw["id"]: rec for rec in parsed.records}
    assert list(by_id) == ids
    for row in records.itertuples():
        rec = by_id[row.id]
        assert (rec.title, rec.authors, rec.year, rec.journal, rec.pages) == (
            row.title,
            row.authors,
            row.year,
            row.journal,
            row.pages,
        )
    notes = by_id[ids[0]].raw["notes"]
    assert "metareview title_abstract Ana: include" in notes
    assert "metareview title_abstract Ben: exclude" in notes
    assert (
        "metareview title_abstract resolution by Cy (third_reviewer): include (adults with CRPS)"
    ) in notes
    assert "metareview study: Correll 2004" in notes
    assert "metareview full_text Ana: exclude (Wrong population)" in by_id[ids[2]].raw["notes"]
    assert f"metareview duplicate of {ids[0]}" in by_id[ids[6]].raw["notes"]
    assert by_id[ids[1]].raw["notes"][-2:] == [
        "metareview title_abstract outcome: include",
        "metareview full_text retrieval: not retrieved (conference abstract only)",
    ]
    assert by_id[ids[2]].raw["notes"][-1] == (
        "metareview full_text outcome: exclude (Wrong population)"
    )
