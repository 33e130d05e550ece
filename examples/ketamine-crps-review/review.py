"""The ketamine-CRPS review run end to end in a review store.

Search exports (PubMed nbib + Embase RIS, with planted duplicates, noise and a malformed
record; see ``search/README.md``) -> import -> de-duplication (tier 1 merged automatically;
tier-2 candidates judged by the owner -- here scripted from ``search/truth.csv``) -> blinded
dual screening by Ana and Ben from ``decisions.csv`` -> conflicts settled by Cy from
``resolutions.csv`` -> studies -> dual extraction with the form in ``protocol.toml`` (Ana
and Ben read the seed's Table 1; Ben mistypes one value, Cy resolves it) -> PRISMA 2020
counts, diagram and PRISMA2020 CSV, agreement statistics, and the studies table -- which
``metareview report`` then turns into the pooled analysis (the same ``protocol.toml``).

Run it::

    python examples/ketamine-crps-review/review.py [STORE_URL_OR_PATH] [OUT_DIR]

(default: a fresh SQLite file ``out/review.sqlite`` and ``out/`` next to this file).
"""

from __future__ import annotations

import csv
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pandas as pd

from metareview.cells import parse_cell
from metareview.plots import prisma, save_figure
from metareview.report.build import build_report
from metareview.review import Store
from metareview.review.extraction_form import ExtractionForm

HERE = Path(__file__).resolve().parent
PROJECT = "ketamine-crps"
TABLE1 = HERE.parent / "ketamine-crps" / "table1.csv"


def _rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run(store_url: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Run the review in the store at ``store_url``; write figures and tables to ``out_dir``.

    Returns a summary: import problems, PRISMA counts, agreement per stage and of the
    extraction, the studies table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    protocol = tomllib.loads((HERE / "protocol.toml").read_text(encoding="utf-8"))
    setup = protocol["review"]
    form = ExtractionForm.from_mapping(protocol["extraction"])
    store = Store.open(store_url)
    try:
        return _run(store, setup, form, out)
    finally:
        store.close()


def _run(store: Store, setup: dict[str, Any], form: ExtractionForm,
         out: Path) -> dict[str, Any]:
    store.create_project(PROJECT)
    for name in (*setup["reviewers"], setup["third_reviewer"]):
        store.add_reviewer(PROJECT, name)
    owner = setup["owner"]
    store.add_reviewer(PROJECT, owner, role="owner")
    problems = []
    for search in setup["search"]:
        report = store.import_file(PROJECT, HERE / search["file"], database=search["database"])
        problems += [f"{Path(p.file).name}:{p.line}: {p.message}" for p in report.problems]

    # record ids by "file:ordinal", the key the scripted decisions use
    records = store.records(PROJECT)
    ids = {f"{s}:{o}": rid for s, o, rid in zip(records["source"], records["ordinal"],
                                                records["id"], strict=True)}

    # de-duplication: tier 1 automatically; tier-2 candidates are the owner's call
    store.auto_merge(PROJECT, actor=owner)
    truth = {f"{r['file']}:{r['ordinal']}": r["duplicate_of"] for r in _rows("search/truth.csv")}
    same = {frozenset((ids[k], ids[v])) for k, v in truth.items() if v}
    candidates = store.find_duplicates(PROJECT).tier2
    grouped = set(store.records(PROJECT).dropna(subset=["duplicate_group"])["id"])
    for pair in candidates:
        if frozenset((pair.id_a, pair.id_b)) in same and not {pair.id_a, pair.id_b} & grouped:
            store.merge([pair.id_a, pair.id_b], actor=owner,
                        reason="tier 2 confirmed by the owner: " + ", ".join(pair.reasons))
            grouped |= {pair.id_a, pair.id_b}

    # screening, title/abstract first, then full text (votes, then resolutions per stage)
    decisions = _rows("decisions.csv")
    resolutions = _rows("resolutions.csv")
    for stage in ("title_abstract", "full_text"):
        for row in (r for r in decisions if r["stage"] == stage):
            store.decide(PROJECT, ids[row["record"]], row["reviewer"], row["decision"],
                         stage=stage, reason=row["reason"] or None)
        for row in (r for r in resolutions if r["stage"] == stage):
            store.resolve(PROJECT, ids[row["record"]], row["decision"], by=row["by"],
                          reason=row["reason"], stage=stage)

    # studies: one report each, labelled as in the seed's Table 1
    by_reference = {r["seed_reference"]: f"{r['file']}:{r['ordinal']}"
                    for r in _rows("search/truth.csv")
                    if r["seed_reference"] and not r["duplicate_of"]}
    table1 = pd.read_csv(TABLE1, dtype=str, keep_default_na=False)
    studies = _rows("studies.csv")
    for row in studies:
        store.assign_study(PROJECT, row["study"], [ids[by_reference[row["seed_reference"]]]],
                           actor=owner)

    # dual extraction from Table 1; Ben transposes Webster's N (13 -> 31)
    for row in studies:
        values = _extract(table1.iloc[int(row["table1_row"])])
        store.extract(PROJECT, row["study"], "Ana", values, form)
        if row["study"].startswith("Webster"):
            values = {**values, "n": 31}
        store.extract(PROJECT, row["study"], "Ben", values, form)
    for conflict in store.extraction_conflicts(PROJECT).itertuples():
        truth_value = _extract(table1.iloc[int(next(
            r["table1_row"] for r in studies if r["study"] == conflict.study))])[conflict.field]
        store.resolve_extraction(PROJECT, conflict.study, conflict.field, truth_value, form,
                                 by=setup["third_reviewer"],
                                 reason="checked against the paper's Table 1")

    counts = store.prisma_counts(PROJECT)
    figure = prisma(counts)
    save_figure(figure, out / "prisma", formats=("png", "svg"))
    store.prisma_csv(PROJECT, out / "PRISMA.csv")
    table = store.studies_table(PROJECT, form)
    table.to_csv(out / "studies.csv", index=False)

    # the agreed studies table is what `metareview report` reads, with the same protocol
    report = build_report(HERE, out / "report", table=out / "studies.csv")
    robustness = pd.read_csv(report.folder / "tables" / "immediate_robustness.csv")
    first, second = setup["reviewers"]
    summary = {
        "import_problems": problems,
        "prisma": counts,
        "agreement": {stage: store.screening_agreement(PROJECT, stage).to_dict()
                      for stage in ("title_abstract", "full_text")},
        "extraction_kappa": store.extraction_agreement(PROJECT, first, second).to_dict(),
        "studies": table.to_dict(orient="records"),
        "report": str(report.html),
        "immediate_relief": robustness.iloc[0][["method", "k", "estimate", "ci_lb",
                                                "ci_ub"]].to_dict(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n",
                                      encoding="utf-8")
    return summary


def _extract(row: pd.Series) -> dict[str, Any]:
    """What an extractor reads off one Table 1 row."""
    return {
        "year": int(row["Year"]),
        "n": int(parse_cell(row["N"]).value),
        "immediate_relief_pct": parse_cell(row["Immediate response (% relief)"]).value,
        "intervention": row["Intervention"],
        "duration_days": parse_cell(row["Duration of interventions (day)"]).value,
    }


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else HERE / "out" / "review.sqlite"
    folder = sys.argv[2] if len(sys.argv) > 2 else HERE / "out"
    if len(sys.argv) <= 1:
        Path(target).unlink(missing_ok=True)
    result = run(target, folder)
    print(json.dumps(result["prisma"], indent=2))
