"""Store.import_file inserts records in batches (issue 17): every record of every batch is
stored once, in order, with its set-aside and audit entries, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from metareview.review import Store
from metareview.review import store as store_module


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
    path = tmp_path / "ten.ris"
    path.write_text("\n".join(entries), encoding="utf-8")
    report = store.import_file("review", path)
    assert (report.n_imported, report.n_set_aside) == (10, 1)
    frame = store.records("review")
    assert frame["ordinal"].tolist() == list(range(1, 11))
    assert frame["title"].tolist()[:3] == ["Trial number 1", "Trial number 2", "Trial number 3"]
    assert frame["authors"].iloc[9] == ["Lee, A."]
    assert frame["id"].str.endswith("-000007").tolist().index(True) == 6
    assert store.set_aside("review")["record_id"].tolist() == [frame["id"].iloc[6]]
    assert store.import_file("review", path).already_imported
