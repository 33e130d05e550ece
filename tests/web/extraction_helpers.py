"""The ketamine-CRPS review-store example brought to extraction in the web tests' world:
its included studies (Table 1 of Zhao, Wang & Wang 2018, labelled as its ``studies.csv``),
each report included at both stages by Ana and Ben, and the protocol's extraction form set
by the owner. Also: what an extractor reads off a Table 1 row, as typed (text as printed)."""

from __future__ import annotations

import tomllib

import pandas as pd

from metareview.review import Store
from tests.web.conftest import EXAMPLE, PROJECT, example_ids, example_rows

TABLE1 = EXAMPLE.parent / "ketamine-crps" / "table1.csv"
SECTION = tomllib.loads((EXAMPLE / "protocol.toml").read_text(encoding="utf-8"))["extraction"]


def add_studies(store: Store, limit: int | None = None) -> list[str]:
    """Include the example's studies at both stages and assign them (the first ``limit``);
    set the extraction form. Returns the study labels in ``studies.csv`` order."""
    ids = example_ids(store)
    by_reference = {
        r["seed_reference"]: ids[f"{r['file']}:{r['ordinal']}"]
        for r in example_rows("search/truth.csv")
        if r["seed_reference"] and not r["duplicate_of"]
    }
    studies = example_rows("studies.csv")[:limit]
    for row in studies:
        rid = by_reference[row["seed_reference"]]
        for stage in ("title_abstract", "full_text"):
            for who in ("Ana", "Ben"):
                store.decide(PROJECT, rid, who, "include", stage=stage)
        store.assign_study(PROJECT, row["study"], [rid], actor="Olga")
    store.set_extraction_form(PROJECT, SECTION, actor="olga")
    return [row["study"] for row in studies]


def typed_rows() -> dict[str, dict[str, str]]:
    """Study label -> the form's fields as an extractor types them from Table 1, as printed
    ("19(26)" for Schwartzman's N, "-" for not reported)."""
    table = pd.read_csv(TABLE1, dtype=str, keep_default_na=False)
    out = {}
    for row in example_rows("studies.csv"):
        line = table.iloc[int(row["table1_row"])]
        out[row["study"]] = {
            "year": line["Year"],
            "n": line["N"],
            "immediate_relief_pct": line["Immediate response (% relief)"],
            "intervention": line["Intervention"],
            "duration_days": line["Duration of interventions (day)"],
        }
    return out
