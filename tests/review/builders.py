"""Builders shared by the review tests: export files, screening histories, whole projects.

Test modules import these from here, never from one another.
"""

from __future__ import annotations

from pathlib import Path

from metareview.review import Store
from metareview.review.extraction_form import ExtractionForm

__all__ = ["FORM_TOML", "add_other_project", "build_project", "screen_all", "write_ris"]

FORM_TOML = """
[review]
title = "example"

[extraction.fields.n]
type = "integer"
min = 1
required = true

[extraction.fields.dose]
type = "number"
unit = "mg/kg/h"
min = 0
max = 5

[extraction.fields.design]
type = "choice"
choices = ["RCT", "cohort", "case series"]

[extraction.fields.blinded]
type = "boolean"
"""


def write_ris(path: Path, n: int, prefix: str = "Study") -> Path:
    """``n`` distinct journal articles in RIS."""
    lines = []
    for i in range(1, n + 1):
        lines += [
            "TY  - JOUR",
            f"TI  - {prefix} number {i} of ketamine and pain {i * 7919}",
            f"AU  - Author{i}, A.",
            f"PY  - {2000 + i % 20}",
            f"JO  - Journal {i}",
            f"SP  - {i}",
            "ER  - ",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def screen_all(store: Store, ids: list[str]) -> None:
    """Title/abstract: ids 0-3 included (0 after a conflict), 4-5 excluded; full text:
    1 not retrieved, 2 excluded (wrong population), 0 and 3 included."""
    for rid in ids[1:4]:
        for name in ("Ana", "Ben"):
            store.decide("review", rid, name, "include")
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[0], "Ben", "exclude")
    store.resolve("review", ids[0], "include", by="Cy", reason="adults with CRPS")
    for rid in ids[4:]:
        for name in ("Ana", "Ben"):
            store.decide("review", rid, name, "exclude")
    store.mark_retrieval("review", ids[1], False, actor="Olga", note="conference abstract only")
    for rid in (ids[0], ids[3]):
        for name in ("Ana", "Ben"):
            store.decide("review", rid, name, "include", stage="full_text")
    store.decide("review", ids[2], "Ana", "exclude", stage="full_text", reason="Wrong population")
    store.decide("review", ids[2], "Ben", "exclude", stage="full_text", reason="wrong population ")


def build_project(
    store: Store, tmp_path: Path, form: ExtractionForm, *, rob_answers: bool = True
) -> list[str]:
    """Project "review" through every stage: 6 PubMed records + 1 Embase duplicate (merged),
    a dissolved group, 2 reviewers + a third + an owner + one removed, a revised vote, an
    unblinding, a title/abstract conflict resolved, one full text not retrieved, a full-text
    exclusion with reason, 2 studies, dual extraction with one resolution, RoB 2 with a
    consensus judgement and NOS stars. Returns the record ids (import order)."""
    store.import_file("review", write_ris(tmp_path / "pubmed.ris", 6), database="PubMed")
    store.import_file("review", write_ris(tmp_path / "embase.ris", 1), database="Embase")
    ids = store.records("review")["id"].tolist()
    for name in ("Ana", "Ben", "Cy", "Dee"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    store.set_reviewers_per_record("review", 2, actor="Olga")
    group = store.merge([ids[4], ids[5]], reason="looked alike", actor="Olga")
    store.unmerge(group, reason="different trials", actor="Olga")
    store.merge([ids[0], ids[6]], reason="same trial in Embase", actor="Olga")
    store.decide("review", ids[2], "Ana", "exclude")  # revised to include by screen_all
    store.unblind("review", "title_abstract", owner="Olga", reason="calibration meeting")
    screen_all(store, ids[:6])
    store.mark_retrieval("review", ids[0], True, actor="Olga", note="from the authors")
    store.assign_study("review", "Correll 2004", [ids[0]], actor="Olga")
    store.assign_study("review", "Goebel 2015", [ids[3]], actor="Olga")
    store.extract(
        "review",
        "Correll 2004",
        "Ana",
        {"n": 33, "dose": 0.35, "design": "case series", "blinded": False},
        form,
    )
    store.extract(
        "review",
        "Correll 2004",
        "Ben",
        {"n": "33", "dose": 0.3, "design": "case series", "blinded": "no"},
        form,
    )
    store.extract("review", "Goebel 2015", "Ana", {"n": 20, "design": "RCT"}, form)
    store.extract("review", "Goebel 2015", "Ben", {"n": 21, "design": "RCT"}, form)
    store.extract("review", "Goebel 2015", "Ben", {"n": 20}, form)  # revised
    store.resolve_extraction(
        "review", "Correll 2004", "dose", 0.35, form, by="Cy", reason="Table 2 gives 0.35"
    )
    for study in ("Correll 2004", "Goebel 2015"):
        for domain in ("D1", "D2", "D3", "D4", "D5"):
            store.judge_rob(
                "review",
                study,
                "RoB2",
                domain,
                "low",
                reviewer="Ana",
                support="randomised, concealed",
            )
            store.judge_rob("review", study, "RoB2", domain, "Low", reviewer="Ben")
    store.judge_rob(
        "review",
        "Goebel 2015",
        "RoB2",
        "D3",
        "high risk",
        reviewer="Ben",
        support="30% lost to follow-up",
    )
    store.judge_rob(
        "review",
        "Goebel 2015",
        "RoB2",
        "D3",
        "Some concerns",
        reviewer="Cy",
        consensus=True,
        support="attrition balanced across arms",
    )
    store.judge_rob("review", "Correll 2004", "NOS", "Selection", 3, reviewer="Ana")
    if rob_answers:  # signalling answers kept with the judgement they suggest (0007)
        store.assess_rob(
            "review",
            "Correll 2004",
            "RoB2",
            reviewer="Ana",
            answers={"1.1": "Y", "1.2": "PY", "1.3": "N"},
            judgements={"D1": "Low"},
        )
    store.remove_reviewer("review", "Dee", actor="Olga", reason="left the team")
    return ids


def add_other_project(store: Store, tmp_path: Path, form: ExtractionForm) -> None:
    """A second project sharing a study label and a reviewer name with "review"."""
    store.create_project("other")
    store.import_file("other", write_ris(tmp_path / "other.ris", 2, prefix="Other"))
    store.add_reviewer("other", "Ana")
    store.set_reviewers_per_record("other", 1, actor="Ana")
    rid = store.records("other")["id"].iloc[0]
    store.decide("other", rid, "Ana", "include")
    store.decide("other", rid, "Ana", "include", stage="full_text")
    store.assign_study("other", "Correll 2004", [rid], actor="Ana")
    store.extract("other", "Correll 2004", "Ana", {"n": 99}, form)
    store.judge_rob("other", "Correll 2004", "RoB2", "D1", "high", reviewer="Ana")
