"""Properties of screening in the store, on random review histories (hypothesis):
blinding never leaks an incomplete record's other votes, and the PRISMA counts derived from
any finished history satisfy the flow's arithmetic."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metareview.review import Store

from .builders import write_ris

REVIEWERS = ("Ana", "Ben", "Cy")
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _store(n_records: int) -> tuple[Store, list[str]]:
    store = Store.open("sqlite://")
    store.create_project("p")
    with tempfile.TemporaryDirectory() as folder:
        store.import_file("p", write_ris(Path(folder) / "s.ris", n_records))
    for name in REVIEWERS:
        store.add_reviewer("p", name)
    return store, store.records("p")["id"].tolist()


votes = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.sampled_from(REVIEWERS[:2]),
        st.sampled_from(("include", "exclude", "maybe")),
    ),
    max_size=24,
)


@SETTINGS
@given(votes=votes)
def test_blinded_views_never_show_incomplete_records_of_others(votes) -> None:
    store, ids = _store(8)
    cast: dict[tuple[str, str], str] = {}
    for index, reviewer, decision in votes:
        store.decide("p", ids[index], reviewer, decision)
        cast[(ids[index], reviewer)] = decision
        for viewer in REVIEWERS:
            seen = store.decisions("p", viewer)
            for rid, who, what in zip(
                seen["record_id"], seen["reviewer"], seen["decision"], strict=True
            ):
                assert cast[(rid, who)] == what  # the current vote, never a stale one
                if who != viewer:  # another's vote: only on complete records
                    assert sum(r == rid for r, _ in cast) >= 2
    store.close()


@SETTINGS
@given(data=st.data(), n=st.integers(2, 10))
def test_prisma_counts_of_any_finished_history_add_up(data, n: int) -> None:
    store, ids = _store(n)
    draw = data.draw
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3))
    grouped: set[str] = set()
    for a, b in pairs:
        if a != b and not {ids[a], ids[b]} & grouped:
            store.merge([ids[a], ids[b]], reason="same", actor="Cy")
            grouped |= {ids[a], ids[b]}
    for stage in ("title_abstract", "full_text"):
        units = store.screening_status("p", stage)["record_id"].tolist()
        for rid in units:
            for name in REVIEWERS[:2]:
                decision = draw(st.sampled_from(("include", "exclude")))
                reason = draw(st.sampled_from(("Wrong population", "Not ketamine")))
                store.decide(
                    "p",
                    rid,
                    name,
                    decision,
                    stage=stage,
                    reason=reason if stage == "full_text" else None,
                )
        for rid in store.conflicts("p", stage)["record_id"]:
            store.resolve(
                "p",
                rid,
                draw(st.sampled_from(("include", "exclude"))),
                by="Cy",
                reason="Wrong population",
                stage=stage,
            )
        if stage == "title_abstract":
            for rid in store.screening_status("p", stage).query("decision == 'include'")[
                "record_id"
            ]:
                if draw(st.booleans()) and draw(st.booleans()):
                    store.mark_retrieval("p", rid, False, actor="Cy", note="no full text")
    c = store.prisma_counts("p")
    identified = sum(c["records_databases"].values())
    assert identified == n == c["duplicates_removed"] + c["records_screened"]
    assert c["records_screened"] == c["records_excluded"] + c["reports_sought"]
    assert c["reports_sought"] == c["reports_not_retrieved"] + c["reports_assessed"]
    assert c["reports_assessed"] == sum(c["reports_excluded"].values()) + c["reports_included"]
    assert c["studies_included"] == c["reports_included"]  # no study has two reports here
    store.close()
