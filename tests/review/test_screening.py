"""Blinded dual screening, conflicts, resolutions, retrieval and agreement in the store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from metareview.exceptions import InputError
from metareview.review import Store

from .builders import screen_all, write_ris


@pytest.fixture
def screened(store: Store, tmp_path: Path) -> tuple[Store, list[str]]:
    """A project with 6 records and reviewers Ana, Ben (reviewers), Cy (third) and Olga
    (owner)."""
    store.import_file("review", write_ris(tmp_path / "search.ris", 6), database="PubMed")
    for name in ("Ana", "Ben", "Cy"):
        store.add_reviewer("review", name)
    store.add_reviewer("review", "Olga", role="owner")
    return store, store.records("review")["id"].tolist()


def test_blinding_hides_other_votes_until_complete(screened) -> None:
    store, ids = screened
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[1], "Ana", "exclude")
    store.decide("review", ids[1], "Ben", "exclude")
    seen_by_ben = store.decisions("review", "Ben")
    # Ben sees his own vote and both votes on the complete record, never Ana's vote on ids[0]
    assert set(zip(seen_by_ben["record_id"], seen_by_ben["reviewer"], strict=True)) == {
        (ids[1], "Ana"),
        (ids[1], "Ben"),
    }
    assert not ((seen_by_ben["record_id"] == ids[0]) & (seen_by_ben["reviewer"] == "Ana")).any()
    seen_by_cy = store.decisions("review", "Cy")
    assert set(seen_by_cy["record_id"]) == {ids[1]}


def test_owner_unblinding_is_logged_and_shows_all(screened) -> None:
    store, ids = screened
    store.decide("review", ids[0], "Ana", "include")
    with pytest.raises(InputError, match="not an owner"):
        store.unblind("review", "title_abstract", owner="Ben", reason="curious")
    assert store.decisions("review", "Olga").empty
    store.unblind("review", "title_abstract", owner="Olga", reason="calibration meeting")
    assert store.decisions("review", "Ben")["reviewer"].tolist() == ["Ana"]
    log = store.audit_log()
    entry = log[log["entity"] == "unblinding"]
    assert entry["actor"].tolist() == ["Olga"] and entry["reason"].tolist() == [
        "calibration meeting"
    ]
    # the full-text stage stays blinded
    assert store.decisions("review", "Ben", stage="full_text").empty


def test_status_conflict_and_third_reviewer_resolution(screened) -> None:
    store, ids = screened
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[0], "Ben", "exclude")
    store.decide("review", ids[1], "Ana", "include")
    store.decide("review", ids[1], "Ben", "include")
    store.decide("review", ids[2], "Ana", "maybe")
    store.decide("review", ids[2], "Ben", "maybe")
    status = store.screening_status("review").set_index("record_id")
    assert status.loc[ids[0], "status"] == "conflict"
    assert (status.loc[ids[1], "status"], status.loc[ids[1], "decision"]) == ("agreed", "include")
    assert status.loc[ids[2], "status"] == "conflict"  # two "maybe" need a decision
    assert status.loc[ids[3], "status"] == "pending"
    conflicts = store.conflicts("review")
    assert conflicts["record_id"].tolist() == [ids[0], ids[2]]
    assert conflicts["votes"].iloc[0] == {"Ana": "include", "Ben": "exclude"}
    with pytest.raises(InputError, match="cannot be its third reviewer"):
        store.resolve("review", ids[0], "include", by="Ana", reason="I am sure")
    with pytest.raises(InputError, match="only conflicts"):
        store.resolve("review", ids[1], "exclude", by="Cy", reason="no")
    store.resolve("review", ids[0], "include", by="Cy", reason="population is CRPS")
    with pytest.raises(InputError, match="already resolved"):
        store.decide("review", ids[0], "Ben", "include")
    status = store.screening_status("review").set_index("record_id")
    assert (status.loc[ids[0], "status"], status.loc[ids[0], "decision"]) == ("resolved", "include")
    assert store.conflicts("review")["record_id"].tolist() == [ids[2]]


def test_revision_is_audited_and_one_vote_per_reviewer(screened) -> None:
    store, ids = screened
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[0], "Ana", "exclude")
    votes = store.decisions("review", "Ana")
    assert votes["decision"].tolist() == ["exclude"]
    log = store.audit_log()
    revised = log[(log["entity"] == "screening_decision") & (log["reason"] == "revised")]
    assert revised["old"].iloc[0]["decision"] == "include"
    assert revised["new"].iloc[0]["decision"] == "exclude"


def test_bad_votes_are_refused_with_names(screened) -> None:
    store, ids = screened
    with pytest.raises(InputError, match="reviewer 'Zed' is not in project"):
        store.decide("review", ids[0], "Zed", "include")
    with pytest.raises(InputError, match="decision must be one of"):
        store.decide("review", ids[0], "Ana", "yes")
    with pytest.raises(InputError, match="not in project"):
        store.decide("review", "nope", "Ana", "include")
    with pytest.raises(InputError, match="stage must be one of"):
        store.decide("review", ids[0], "Ana", "include", stage="abstract")
    with pytest.raises(InputError, match="not at the full-text stage"):
        store.decide("review", ids[0], "Ana", "include", stage="full_text")
    store.remove_reviewer("review", "Ben", actor="Olga", reason="left the team")
    with pytest.raises(InputError, match="was removed"):
        store.decide("review", ids[0], "Ben", "include")


def test_duplicates_are_screened_once(screened, tmp_path: Path) -> None:
    store, ids = screened
    store.merge([ids[0], ids[1]], reason="same trial", actor="Olga")
    with pytest.raises(InputError, match=f"duplicate of {ids[0]}"):
        store.decide("review", ids[1], "Ana", "include")
    assert ids[1] not in set(store.screening_status("review")["record_id"])


def test_full_text_flow_and_prisma_counts(screened, tmp_path: Path) -> None:
    store, ids = screened
    screen_all(store, ids)
    with pytest.raises(InputError, match="not at the full-text stage"):
        store.decide("review", ids[1], "Ana", "include", stage="full_text")
    with pytest.raises(InputError, match="needs a reason"):
        store.decide("review", ids[0], "Cy", "exclude", stage="full_text")
    counts = store.prisma_counts("review")
    assert counts == {
        "records_databases": {"PubMed": 6},
        "records_registers": 0,
        "duplicates_removed": 0,
        "records_removed_automation": 0,
        "records_removed_other": 0,
        "records_screened": 6,
        "records_excluded": 2,
        "reports_sought": 4,
        "reports_not_retrieved": 1,
        "reports_assessed": 3,
        "reports_excluded": {"Wrong population": 1},
        "reports_included": 2,
        "studies_included": 2,
    }
    store.assign_study("review", "Trial A", [ids[0], ids[3]], actor="Olga")
    assert store.prisma_counts("review")["studies_included"] == 1
    with pytest.raises(InputError, match="not included at full text"):
        store.assign_study("review", "Trial B", [ids[2]], actor="Olga")
    written = pd.read_csv(store.prisma_csv("review", tmp_path / "PRISMA.csv"))
    assert list(written.columns) == [
        "data",
        "node",
        "box",
        "description",
        "boxtext",
        "tooltips",
        "url",
        "n",
    ]
    n = dict(zip(written["data"], written["n"], strict=True))
    assert (
        n["database_results"],
        n["records_screened"],
        n["dbr_assessed"],
        n["dbr_excluded"],
        n["new_studies"],
        n["new_reports"],
    ) == ("6", "6", "3", "Wrong population, 1", "1", "2")


def test_prisma_counts_refuse_open_screening(screened) -> None:
    store, ids = screened
    store.decide("review", ids[0], "Ana", "include")
    with pytest.raises(InputError, match="6 records have no title_abstract outcome"):
        store.prisma_counts("review")


def test_prisma_counts_feed_the_figure(screened) -> None:
    from metareview.plots import prisma

    store, ids = screened
    screen_all(store, ids)
    fig = prisma(store.prisma_counts("review"))
    texts = " ".join(t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text")))
    assert "Wrong population" in texts and "PubMed" in texts
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_pairwise_kappa_matches_hand_worked_table(store: Store, tmp_path: Path) -> None:
    """2 x 2 table yes/yes 20, yes/no 5, no/yes 10, no/no 15: p_o = 0.7, p_e = 0.5,
    kappa = 0.4 (worked by hand)."""
    store.import_file("review", write_ris(tmp_path / "s.ris", 50))
    ids = store.records("review")["id"].tolist()
    store.add_reviewer("review", "A")
    store.add_reviewer("review", "B")
    first = ["include"] * 25 + ["exclude"] * 25
    second = ["include"] * 20 + ["exclude"] * 5 + ["include"] * 10 + ["exclude"] * 15
    for rid, a, b in zip(ids, first, second, strict=True):
        store.decide("review", rid, "A", a)
        store.decide("review", rid, "B", b)
    result = store.screening_agreement("review")
    row = result.pairs.iloc[0]
    assert (row["reviewer_a"], row["reviewer_b"], row["n"]) == ("A", "B", 50)
    assert row["kappa"] == pytest.approx(0.4, rel=1e-12)
    assert row["percent_agreement"] == pytest.approx(0.7, rel=1e-12)
    assert row["pabak"] == pytest.approx(0.4, rel=1e-12)  # 2 * 0.7 - 1
    assert result.percent_agreement == pytest.approx(0.7, rel=1e-12)
    assert result.n_records == 50


def test_agreement_with_varying_reviewers_and_a_removed_one(store: Store, tmp_path: Path) -> None:
    """Records rated by different pairs: each pair's kappa uses only its shared records, and
    removing a reviewer changes nothing already cast."""
    store.import_file("review", write_ris(tmp_path / "s.ris", 8))
    ids = store.records("review")["id"].tolist()
    for name in ("A", "B", "C"):
        store.add_reviewer("review", name)
    plan = {
        ids[0]: {"A": "include", "B": "include"},
        ids[1]: {"A": "exclude", "B": "exclude"},
        ids[2]: {"A": "include", "B": "exclude"},
        ids[3]: {"A": "exclude", "C": "exclude"},
        ids[4]: {"A": "include", "C": "include"},
        ids[5]: {"B": "include", "C": "include"},
        ids[6]: {"B": "exclude", "C": "include"},
        ids[7]: {"A": "include"},
    }
    for rid, votes in plan.items():
        for name, decision in votes.items():
            store.decide("review", rid, name, decision)
    before = store.screening_agreement("review")
    pairs = before.pairs.set_index(["reviewer_a", "reviewer_b"])
    assert pairs["n"].to_dict() == {("A", "B"): 3, ("A", "C"): 2, ("B", "C"): 2}
    # A-B: 2 of 3 agree; p_e = (2/3)(1/3) + (1/3)(2/3) = 4/9 -> kappa = (2/3 - 4/9)/(5/9) = 0.4
    assert pairs.loc[("A", "B"), "kappa"] == pytest.approx(0.4, rel=1e-12)
    assert before.n_records == 7  # ids[7] has one vote: not complete
    store.remove_reviewer("review", "C", actor="A", reason="left")
    after = store.screening_agreement("review")
    pd.testing.assert_frame_equal(before.pairs, after.pairs)
    assert after.krippendorff_alpha == pytest.approx(before.krippendorff_alpha, rel=1e-15)


def test_next_record_walks_the_queue(screened) -> None:
    store, ids = screened
    assert store.next_record("review", "Ana") == ids[0]
    store.decide("review", ids[0], "Ana", "include")
    assert store.next_record("review", "Ana") == ids[1]
    assert store.next_record("review", "Ben") == ids[0]
    for rid in ids[1:]:
        store.decide("review", rid, "Ana", "exclude")
    assert store.next_record("review", "Ana") is None
