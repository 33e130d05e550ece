"""Dual blinded extraction with the form stored in the project: drafts, blinding, the third
extractor refused, submission, reconciliation with who and why, saves that would overwrite
an unseen value, per-field kappa, and the integrity checks the form declares.

The form is the ketamine-CRPS review-store example's ``[extraction]`` section; the numbers
typed are that review's Table 1 (Zhao, Wang & Wang 2018), whose "93.5% of 20" no whole
number of patients gives (GRIM: Brown & Heathers 2017, Soc. Psychol. Personal. Sci. 8, 363).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from metareview.exceptions import FieldsError, InputError, StaleExtractionError, StoreError
from metareview.review import Store
from metareview.review.extraction_checks import form_flags
from metareview.review.extraction_form import ExtractionForm

from .builders import screen_all, write_ris

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"
SECTION = tomllib.loads((EXAMPLE / "protocol.toml").read_text(encoding="utf-8"))["extraction"]
KIEFER = {
    "year": "2008",
    "n": "20",
    "immediate_relief_pct": "93.5",
    "intervention": "S+ketamine",
    "duration_days": "5",
}
GOEBEL = {
    "year": "2015",
    "n": "5",
    "immediate_relief_pct": "83.3",
    "intervention": "Racemic ketamine",
    "duration_days": "4.5",
}


@pytest.fixture
def team(store: Store, tmp_path: Path) -> Store:
    store.import_file("review", write_ris(tmp_path / "search.ris", 6), database="PubMed")
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    ids = store.records("review")["id"].tolist()
    screen_all(store, ids)
    store.assign_study("review", "Kiefer 2008", [ids[0]], actor="Olga")
    store.assign_study("review", "Goebel 2015", [ids[3]], actor="Olga")
    store.set_extraction_form("review", SECTION, actor="Olga")
    return store


def test_cells_typed_as_printed_are_read_or_refused_saying_what_was_read() -> None:
    form = ExtractionForm.from_mapping(SECTION)
    assert form.field("n").check("S", "19(26)") == 19
    assert form.field("immediate_relief_pct").check("S", "93.5%") == 93.5
    assert form.field("duration_days").check("S", "4.7 days") == 4.7
    assert form.field("immediate_relief_pct").check("S", "NR") is None
    with pytest.raises(InputError, match=r"'7-8' reads as a range \(7 to 8\); this field takes"):
        form.field("duration_days").check("S", "7-8")
    with pytest.raises(InputError, match=r"'85.1±1.9' reads as a mean ± SD \(mean 85.1, SD"):
        form.field("immediate_relief_pct").check("S", "85.1±1.9")
    with pytest.raises(InputError, match=r"'4.7 weeks' is in 'weeks'; this field is in 'days'"):
        form.field("duration_days").check("S", "4.7 weeks")
    with pytest.raises(InputError, match="field 'n': a value is required"):
        form.field("n").check("S", "-")
    mean_sd = ExtractionForm.from_mapping({"fields": {"pain": {"type": "mean_sd", "max": 10}}})
    assert mean_sd.field("pain").check("S", " 8.97 ±  0.3") == "8.97 ± 0.3"
    with pytest.raises(InputError, match=r"85\.1 is outside the allowed range"):
        mean_sd.field("pain").check("S", "85.1±1.9")


def test_form_declarations_are_checked() -> None:
    with pytest.raises(InputError, match="denominator must name another integer field"):
        ExtractionForm.from_mapping(
            {"fields": {"p": {"type": "number", "unit": "%", "denominator": "n"}}}
        )
    with pytest.raises(InputError, match=r"scale must be \[low, high\]"):
        ExtractionForm.from_mapping({"fields": {"m": {"type": "mean_sd", "scale": [10, 0]}}})


def test_integrity_findings_from_the_form() -> None:
    form = ExtractionForm.from_mapping(
        {
            "fields": {
                "n": {"type": "integer"},
                "resp": {"type": "number", "unit": "%", "denominator": "n", "complement": "non"},
                "non": {"type": "number", "unit": "%"},
                "pain": {"type": "mean_sd", "scale": [0, 10], "denominator": "n"},
            }
        }
    )
    rows = {
        "Kiefer 2008": {"n": "20", "resp": "93.5", "non": "0", "pain": "8.97±0.3"},
        "Dahan 2011": {"n": "30", "resp": "67", "non": "32", "pain": "7.29±0.16"},
        "Schwartzman 2009": {"n": "19(26)", "resp": "26.3", "non": "80", "pain": "85.1±1.9"},
        "Goldberg 2010": {"n": "16", "resp": "0.6", "non": "37.5"},
    }
    found = {(f.study, f.check): f.message for f in form_flags(form, rows)}
    assert found[("Kiefer 2008", "grim")] == (
        "93.5% of n = 20 is 18.7 people; no whole number gives 93.5% "
        "(18/20 = 90%, 19/20 = 95%, 20/20 = 100%)."
    )
    assert "SD 0.16 is below 0.5" in found[("Dahan 2011", "sd_looks_like_se")]
    assert "85.1 is outside the 0-10 scale" in found[("Schwartzman 2009", "scale")]
    assert "N is printed as 19(26)" in found[("Schwartzman 2009", "n_two_counts")]
    assert "26.3% + 80% = 106.3%" in found[("Schwartzman 2009", "complements")]
    assert "0.6 in a percentage column" in found[("Goldberg 2010", "fraction_as_percent")]
    # 26.3% of 19 or of 26 people: 5/19 = 26.3%, so no GRIM finding
    assert ("Schwartzman 2009", "grim") not in found


def test_dual_blinded_extraction_and_reconciliation(team: Store) -> None:
    store = team
    sheet = store.extraction_sheet("review", "Kiefer 2008", "Ana")
    assert (sheet.values, sheet.extractors, sheet.complete) == ({}, 0, False)
    store.save_extraction("review", "Kiefer 2008", "Ana", KIEFER, seen=sheet.tokens)
    # a draft may leave required fields empty; Ben sees only that someone extracts
    store.save_extraction("review", "Kiefer 2008", "Ben", {"immediate_relief_pct": "93.5"}, seen={})
    ben = store.extraction_sheet("review", "Kiefer 2008", "Ben")
    assert ben.values == {"immediate_relief_pct": 93.5}
    assert ben.extractors == 2
    with pytest.raises(StoreError, match="already has 2 extractors"):
        store.save_extraction("review", "Kiefer 2008", "Cy", {"n": "20"})
    with pytest.raises(StoreError, match=r"not complete .* stay blinded"):
        store.reconciliation("review", "Kiefer 2008")
    with pytest.raises(FieldsError, match="field 'n': a value is required") as caught:
        store.submit_extraction("review", "Kiefer 2008", "Ben")
    assert set(caught.value.errors) == {"year", "n"}
    status = store.extraction_status("review", "Ben").set_index("study")
    assert status.loc["Kiefer 2008", "mine"] == "draft"
    assert status.loc["Kiefer 2008", "open_conflicts"] == 0  # blinded: not counted yet

    store.save_extraction(
        "review", "Kiefer 2008", "Ben", {**KIEFER, "n": "02"}, seen=ben.tokens
    )  # the planted disagreement: n = 2
    assert store.submit_extraction("review", "Kiefer 2008", "Ana") is False
    assert store.submit_extraction("review", "Kiefer 2008", "Ben") is True
    with pytest.raises(StoreError, match="extraction is complete"):
        store.save_extraction("review", "Kiefer 2008", "Ana", {"n": "21"})

    side = store.reconciliation("review", "Kiefer 2008").set_index("field")
    assert side.loc["n", "values"] == {"Ana": 20, "Ben": 2}
    assert side["differs"].tolist() == [False, True, False, False, False]
    assert (
        store.extraction_status("review", "Ana")
        .set_index("study")
        .loc["Kiefer 2008", "open_conflicts"]
        == 1
    )
    with pytest.raises(FieldsError, match="outside the allowed range"):
        store.reconcile_extraction(
            "review", "Kiefer 2008", "n", 0, by="Cy", reason="x", seen=side.loc["n", "token"]
        )
    store.reconcile_extraction(
        "review",
        "Kiefer 2008",
        "n",
        "20",
        by="Cy",
        reason="Table 1 says 20",
        seen=side.loc["n", "token"],
    )
    # a second reconciler who loaded the page before Cy's agreement is refused
    with pytest.raises(StaleExtractionError, match="changed since you opened it"):
        store.reconcile_extraction(
            "review", "Kiefer 2008", "n", 2, by="Olga", reason="x", seen=side.loc["n", "token"]
        )
    after = store.reconciliation("review", "Kiefer 2008").set_index("field")
    assert after.loc["year", "resolved_by"] is None and after.loc["year", "agreed"] == 2008
    assert (after.loc["n", "agreed"], after.loc["n", "resolved_by"]) == (20, "Cy")
    assert after.loc["n", "reason"] == "Table 1 says 20"
    history = store.extraction_history("review", "Kiefer 2008", "n")
    assert history[["actor", "old", "new"]].values.tolist() == [
        ["Ana", None, 20],
        ["Ben", None, 2],
        ["Cy", None, 20],
    ]


def test_a_save_over_an_unseen_value_writes_nothing(team: Store) -> None:
    store = team
    first = store.extraction_sheet("review", "Goebel 2015", "Ana")
    store.save_extraction("review", "Goebel 2015", "Ana", {"n": "5"}, seen=first.tokens)
    tab = store.extraction_sheet("review", "Goebel 2015", "Ana")
    # two tabs of Ana's opened on the same version; the first saves, the second is stale
    store.save_extraction("review", "Goebel 2015", "Ana", {"n": "6"}, seen=tab.tokens)
    with pytest.raises(StaleExtractionError, match=r"n = 6 stored meanwhile") as caught:
        store.save_extraction(
            "review", "Goebel 2015", "Ana", {"n": "7", "year": "2015"}, seen=tab.tokens
        )
    assert caught.value.stored == {"n": 6}
    assert store.extraction_sheet("review", "Goebel 2015", "Ana").values == {"n": 6}
    history = store.extraction_history("review", "Goebel 2015", "n")
    assert history["old"].tolist() == [None, 5]  # the previous value is recoverable
    with pytest.raises(FieldsError) as bad:
        store.save_extraction(
            "review", "Goebel 2015", "Ana", {"n": "0", "intervention": "ketamine", "year": "x"}
        )
    assert sorted(bad.value.errors) == ["intervention", "n", "year"]
    assert "is not one of ['S+ketamine', 'Racemic ketamine']" in bad.value.errors["intervention"]


def test_kappa_per_field_over_complete_studies_and_the_agreed_table(team: Store) -> None:
    store = team
    for who, kiefer_n in (("Ana", "20"), ("Ben", "2")):
        store.save_extraction("review", "Kiefer 2008", who, {**KIEFER, "n": kiefer_n})
        store.save_extraction("review", "Goebel 2015", who, GOEBEL)
        store.submit_extraction("review", "Kiefer 2008", who)
    assert store.extraction_kappa("review")["field"].tolist() == list(SECTION["fields"])
    kappa = store.extraction_kappa("review").set_index("field")
    assert kappa.loc["n", "n"] == 1  # Goebel is not complete: blinded, not counted
    store.submit_extraction("review", "Goebel 2015", "Ana")
    store.submit_extraction("review", "Goebel 2015", "Ben")
    kappa = store.extraction_kappa("review").set_index("field")
    # n: Ana (20, 5), Ben (2, 5): categories {2, 5, 20}; p_o = 1/2, p_e = 1/2*1/2 = 1/4
    # (both rated 5 once), kappa = (1/2 - 1/4) / (1 - 1/4) = 1/3
    assert kappa.loc["n", "kappa"] == pytest.approx(1 / 3, abs=1e-12)
    assert kappa.loc["year", "kappa"] == 1.0
    assert kappa.loc["n", "agreement"] == 0.5
    token = store.reconciliation("review", "Kiefer 2008").set_index("field").loc["n", "token"]
    store.reconcile_extraction(
        "review", "Kiefer 2008", "n", 20, by="Olga", reason="Table 1", seen=token
    )
    table = store.studies_table("review", store.extraction_form("review")).set_index("study")
    assert table.loc["Kiefer 2008", "n"] == 20
    assert table.loc["Goebel 2015", "immediate_relief_pct"] == 83.3


def test_live_integrity_flags_use_the_typed_row(team: Store) -> None:
    store = team
    store.save_extraction("review", "Goebel 2015", "Ana", GOEBEL)
    assert store.extraction_flags("review", "Kiefer 2008", "Ana") == []
    flags = store.extraction_flags(
        "review", "Kiefer 2008", "Ana", typed={"n": "20", "immediate_relief_pct": "93.5"}
    )
    assert [(f.column, f.check, f.severity) for f in flags] == [
        ("immediate_relief_pct", "grim", "error")
    ]
    # Goebel's 83.3% of 5 is no whole number either (4/5 = 80%): the saved row is checked
    saved = store.extraction_flags("review", "Goebel 2015", "Ana")
    assert [f.check for f in saved] == ["grim"]


def test_no_form_yet_is_a_clear_error(store: Store) -> None:
    with pytest.raises(InputError, match="has no extraction form yet"):
        store.extraction_form("review")


def test_the_whole_protocol_is_kept_with_the_form(store: Store) -> None:
    """``protocol``: the analysis page and the report read the outcomes from it."""
    text = '[review]\ntitle = "x"\n\n[extraction.fields.n]\ntype = "integer"\n'
    section = {"fields": {"n": {"type": "integer"}}}
    store.set_extraction_form("review", section, actor="Olga")
    assert store.project_protocol("review") is None
    store.set_extraction_form("review", section, actor="Olga", protocol=text)
    assert store.project_protocol("review") == text
    assert store.extraction_form("review").names == ("n",)
    other = {"fields": {"m": {"type": "integer"}}}
    with pytest.raises(InputError, match=r"its \[extraction\] section is not the form"):
        store.set_extraction_form("review", other, actor="Olga", protocol=text)
    with pytest.raises(InputError, match="protocol: not valid TOML"):
        store.set_extraction_form("review", section, actor="Olga", protocol="[review")
    assert store.project_protocol("review") == text  # nothing written by a refused call


def test_a_new_study_label_may_not_collide(team: Store) -> None:
    ids = team.records("review")["id"].tolist()
    with pytest.raises(
        StoreError, match=r"'goebel  2015' collides with the existing study 'Goebel 2015'"
    ):
        team.assign_study("review", "goebel  2015", [ids[1]], actor="Olga", new=True)
    with pytest.raises(InputError, match="choose at least one report"):
        team.assign_study("review", "Lone 2020", [], actor="Olga", new=True)
    assert team.unassigned_reports("review").empty  # ids 0 and 3: both in studies
    with pytest.raises(InputError, match="not included at full text"):
        team.assign_study("review", "Goebel 2015b", [ids[1]], actor="Olga", new=True)


def test_backup_keeps_the_form_submissions_and_agreements(team: Store, tmp_path: Path) -> None:
    import json

    store = team
    for who, n in (("Ana", "20"), ("Ben", "2")):
        store.save_extraction("review", "Kiefer 2008", who, {**KIEFER, "n": n})
        store.submit_extraction("review", "Kiefer 2008", who)
    store.save_extraction("review", "Goebel 2015", "Ana", GOEBEL)
    store.submit_extraction("review", "Goebel 2015", "Ana")
    token = store.reconciliation("review", "Kiefer 2008").set_index("field").loc["n", "token"]
    store.reconcile_extraction("review", "Kiefer 2008", "n", 20, by="Cy", reason="T1", seen=token)
    path = store.export_project("review", tmp_path / "backup")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert [s["study"] for s in doc["extraction_submissions"]] == ["Kiefer 2008"] * 2 + [
        "Goebel 2015"
    ]
    restored = Store.open(tmp_path / "restored.sqlite")
    try:
        restored.restore_project(path, actor="Olga")
        again = json.loads(
            restored.export_project("review", tmp_path / "again").read_text(encoding="utf-8")
        )
        assert again["audit_log"][:-1] == doc["audit_log"]
        assert {k: v for k, v in again.items() if k != "audit_log"} == {
            k: v for k, v in doc.items() if k != "audit_log"
        }
        assert restored.extraction_form("review") == store.extraction_form("review")
        pd.testing.assert_frame_equal(
            restored.reconciliation("review", "Kiefer 2008").drop(columns="token"),
            store.reconciliation("review", "Kiefer 2008").drop(columns="token"),
        )
        assert restored.extraction_sheet("review", "Goebel 2015", "Ana").submitted
        # an older backup, written before forms and submissions were kept, still restores
        for key in ("extraction_forms", "extraction_submissions"):
            del doc[key]
        (tmp_path / "old").mkdir()
        (tmp_path / "old" / "project.json").write_text(json.dumps(doc), encoding="utf-8")
    finally:
        restored.close()
    older = Store.open(tmp_path / "older.sqlite")
    try:
        assert older.restore_project(tmp_path / "old", actor="Olga") == "review"
        assert older.extraction_status("review", "Ana")["submitted"].tolist() == [0, 0]
    finally:
        older.close()
