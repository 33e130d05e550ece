"""Store.import_file inserts records in batches (issue 17): every record of every batch is
stored once, in order, with its set-aside and audit entries, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.review import Store, parse_file
from metareview.review import store as store_module
from metareview.review.models import Record


def test_records_across_batch_boundaries(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "_BATCH", 3)  # 10 records: batches of 3, 3, 3 and 1
    entries = [
        f"TY  - JOUR\nTI  - Trial number {k}\nAU  - Lee, A.\nPY  - 2001\nER  - \n"
        if k != 7
        else "TY  - JOUR\nPY  - 2001\nER  - \n"  # nothing to screen on: set aside
        for k in range(1, 11)
    ]
    hostile = 'Tab\there, \\N (COPY\'s null), back\\slash, "quotes" and ünïcode'
    entries[4] = f"TY  - JOUR\nTI  - {hostile}\nAU  - O'Brien, J\\N\nPY  - 2001\nER  - \n"
    path = tmp_path / "ten.ris"
    path.write_text("\n".join(entries), encoding="utf-8")
    report = store.import_file("review", path)
    assert (report.n_imported, report.n_set_aside) == (10, 1)
    frame = store.records("review")
    assert frame["ordinal"].tolist() == list(range(1, 11))
    assert frame["title"].tolist()[:3] == ["Trial number 1", "Trial number 2", "Trial number 3"]
    assert frame["authors"].iloc[9] == ["Lee, A."]
    # PostgreSQL reads records by COPY: its escapes (tab, \\N, backslash) must not leak
    assert (frame["title"].iloc[4], frame["authors"].iloc[4]) == (hostile, ["O'Brien, J\\N"])
    with store.session() as s:
        stored = [s.get(Record, rid).raw for rid in frame["id"]]
    assert stored == [r.raw for r in parse_file(path).records]
    assert frame["id"].str.endswith("-000007").tolist().index(True) == 6
    assert store.set_aside("review")["record_id"].tolist() == [frame["id"].iloc[6]]
    assert store.import_file("review", path).already_imported
