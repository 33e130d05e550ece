"""Dual extraction against a protocol form, and risk-of-bias judgements with consensus."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metareview.exceptions import InputError
from metareview.review import Store
from metareview.review.extraction_form import ExtractionForm

from .builders import screen_all, write_ris


@pytest.fixture
def with_studies(store: Store, tmp_path: Path) -> Store:
    store.import_file("review", write_ris(tmp_path / "search.ris", 6), database="PubMed")
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    ids = store.records("review")["id"].tolist()
    screen_all(store, ids)
    store.assign_study("review", "Correll 2004", [ids[0]], actor="Olga")
    store.assign_study("review", "Goebel 2015", [ids[3]], actor="Olga")
    return store


def test_form_checks_values_naming_study_and_field(form: ExtractionForm) -> None:
    assert form.names == ("n", "dose", "design", "blinded")
    assert form.field("n").check("S", "33") == 33
    assert form.field("blinded").check("S", "yes") is True
    with pytest.raises(InputError, match="study 'S', field 'n': expected a whole number"):
        form.field("n").check("S", 3.5)
    with pytest.raises(InputError, match=r"field 'dose': 7.0 is outside .* mg/kg/h"):
        form.field("dose").check("S", 7)
    with pytest.raises(InputError, match="not one of"):
        form.field("design").check("S", "RCTs")
    with pytest.raises(InputError, match="a value is required"):
        form.field("n").check("S", None)
    with pytest.raises(InputError, match="not on the extraction form"):
        form.field("age")
    with pytest.raises(InputError, match="type must be one of"):
        ExtractionForm.from_mapping({"fields": {"x": {"type": "float"}}})


def test_dual_extraction_conflicts_resolution_and_table(
    with_studies: Store, form: ExtractionForm
) -> None:
    store = with_studies
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
    store.extract("review", "Goebel 2015", "Ben", {"n": 20, "design": "RCT"}, form)
    with pytest.raises(InputError, match="field 'n'"):
        store.extract("review", "Goebel 2015", "Ben", {"n": 0}, form)
    conflicts = store.extraction_conflicts("review")
    assert conflicts[["study", "field"]].values.tolist() == [["Correll 2004", "dose"]]
    assert conflicts["values"].iloc[0] == {"Ana": 0.35, "Ben": 0.3}
    with pytest.raises(InputError, match="1 extraction conflicts are open"):
        store.studies_table("review", form)
    store.resolve_extraction(
        "review", "Correll 2004", "dose", 0.35, form, by="Cy", reason="Table 2 gives 0.35"
    )
    table = store.studies_table("review", form)
    assert table.to_dict(orient="records")[0] == {
        "study": "Correll 2004",
        "n": 33,
        "dose": 0.35,
        "design": "case series",
        "blinded": False,
    }
    goebel = table.iloc[1]
    assert (goebel["n"], goebel["design"]) == (20, "RCT")
    assert pd.isna(goebel["dose"]) and pd.isna(goebel["blinded"])  # not reported
    # items both extracted: Correll n, dose, design, blinded and Goebel n, design: 5 agree
    k = store.extraction_agreement("review", "Ana", "Ben")
    assert k.n == 6 and k.percent_agreement == pytest.approx(5 / 6, rel=1e-12)


def test_rob_judgements_consensus_and_plot_table(with_studies: Store) -> None:
    store = with_studies
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
    with pytest.raises(InputError, match="must be one of Low, Some concerns, High"):
        store.judge_rob("review", "Goebel 2015", "RoB2", "D1", "unclear", reviewer="Ana")
    with pytest.raises(InputError, match="domain must be one of"):
        store.judge_rob("review", "Goebel 2015", "RoB2", "D9", "low", reviewer="Ana")
    conflicts = store.rob_conflicts("review", "RoB2")
    assert conflicts.values.tolist() == [["Goebel 2015", "D3", {"Ana": "Low", "Ben": "High"}]]
    with pytest.raises(InputError, match="in conflict"):
        store.rob_table("review", "RoB2")
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
    table = store.rob_table("review", "RoB2")
    assert table.loc["Goebel 2015", "D3"] == "Some concerns"
    assert table.loc["Correll 2004"].tolist() == ["Low"] * 5

    from metareview.plots import rob

    fig = rob(table, tool="RoB2")
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_nos_stars(with_studies: Store) -> None:
    store = with_studies
    store.judge_rob("review", "Correll 2004", "NOS", "Selection", 3, reviewer="Ana")
    store.judge_rob("review", "Correll 2004", "NOS", "Comparability", "*", reviewer="Ana")
    store.judge_rob("review", "Correll 2004", "NOS", "Outcome", 2, reviewer="Ana")
    with pytest.raises(InputError, match="whole number from 0 to 2"):
        store.judge_rob("review", "Correll 2004", "NOS", "Comparability", 3, reviewer="Ana")
    table = store.rob_table("review", "NOS")
    assert table.loc["Correll 2004"].tolist() == [3, 1, 2]


def test_long_study_labels_are_audited_whole(
    store: Store, tmp_path: Path, form: ExtractionForm
) -> None:
    """Audit keys "<study>/<field>" can pass 64 characters; PostgreSQL enforces VARCHAR
    lengths, so the key column is TEXT (migration 0003)."""
    store.import_file("review", write_ris(tmp_path / "search.ris", 6))
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    ids = store.records("review")["id"].tolist()
    screen_all(store, ids)
    label = "Kiefer RT, Rohr P, Ploppa A, Altemeyer KH, Schwartzman RJ et al. (2008a)" * 2
    store.assign_study("review", label, [ids[0]], actor="Olga")
    store.extract("review", label, "Ana", {"dose": 0.35}, form)
    store.judge_rob("review", label, "RoB2", "D1", "low", reviewer="Ana")
    keys = set(store.audit_log()["entity_id"])
    assert f"{label}/dose" in keys
    assert f"{label}/RoB2/D1" in keys and len(f"{label}/RoB2/D1") > 64
