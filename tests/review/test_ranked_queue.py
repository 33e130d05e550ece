"""A reviewer's ranked queue learns only from their own votes and from complete records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from metareview.review import Store

TOPICS = ["ketamine infusion pain trial", "bird song migration spring"]


def write_ris(path: Path, n: int) -> Path:
    lines = []
    for i in range(n):
        topic = TOPICS[i % 2]
        lines += [
            "TY  - JOUR",
            f"TI  - Record {i} on {topic} {i * 7919}",
            f"AB  - A study of {topic}, number {i}.",
            f"AU  - Author{i}, A.",
            f"PY  - {2000 + i % 20}",
            f"JO  - Journal {i}",
            "ER  - ",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def project(store: Store, tmp_path: Path) -> tuple[Store, list[str]]:
    store.import_file("review", write_ris(tmp_path / "search.ris", 20), database="PubMed")
    for name in ("Ana", "Ben"):
        store.add_reviewer("review", name)
    return store, store.records("review")["id"].tolist()


def test_random_order_until_both_classes_are_known(project) -> None:
    store, ids = project
    first = store.ranked_queue("review", "Ana")
    assert first.n_training == 0 and np.isnan(first.queue["score"]).all()
    assert first.notes[0].startswith("Records are shown in random order")
    assert sorted(first.queue["record_id"]) == sorted(ids)
    # the same order on every request (no reshuffle between page loads)
    assert store.ranked_queue("review", "Ana").queue.equals(first.queue)


def test_own_votes_rank_similar_records_first(project) -> None:
    store, ids = project
    store.decide("review", ids[0], "Ana", "include")  # ketamine
    store.decide("review", ids[1], "Ana", "exclude")  # birds
    ranked = store.ranked_queue("review", "Ana")
    assert ranked.n_training == 2 and ranked.n_included == 1
    top = ranked.queue["record_id"].iloc[:9].tolist()
    assert set(top) == set(ids[2::2])  # the nine other ketamine records come first
    assert ids[0] not in ranked.queue["record_id"].tolist()


def test_other_reviewers_pending_votes_never_change_the_order(project) -> None:
    store, ids = project
    store.decide("review", ids[0], "Ana", "include")
    store.decide("review", ids[1], "Ana", "exclude")
    before = store.ranked_queue("review", "Ana")
    # Ben votes against the topic on records Ana has not seen: still pending (2 votes needed)
    for record_id in ids[2:8]:
        store.decide("review", record_id, "Ben", "include" if record_id in ids[3::2] else "exclude")
    after = store.ranked_queue("review", "Ana")
    assert after.n_training == before.n_training
    assert after.queue.equals(before.queue)
    # once a record is complete its outcome may be used: the positive control
    store.decide("review", ids[0], "Ben", "include")
    store.decide("review", ids[3], "Ana", "include")  # complete now, votes disagree
    store.decide("review", ids[2], "Ana", "exclude")
    complete = store.ranked_queue("review", "Ana")
    # ids[0] agreed (1 outcome, was Ana's vote already); ids[2], ids[3]: Ana's own votes
    assert complete.n_training == 4
    ben = store.ranked_queue("review", "Ben")
    # Ben learns from his own six votes and the agreed ids[0]; never from Ana's pending ids[1]
    assert ben.n_training == 7
    assert ids[1] in ben.queue["record_id"].tolist()


def test_blinding_holds_when_the_training_set_is_capped(project, monkeypatch) -> None:
    # a cap of one exclusion (the library default is 2,000): the sample is drawn from what
    # the reviewer may see, so another reviewer's pending votes still change nothing
    from metareview.review import ranked_queue, ranking

    calls: list[list[int]] = []

    def capped(features, labelled, labels, **options):
        calls.append(sorted(labelled))
        return ranking.relevance_scores(features, labelled, labels, max_excluded=1, **options)

    monkeypatch.setattr(ranked_queue, "relevance_scores", capped)
    store, ids = project
    for record_id, decision in [(ids[5], "exclude"), (ids[0], "include"), (ids[1], "exclude")]:
        store.decide("review", record_id, "Ana", decision)
    before = store.ranked_queue("review", "Ana")
    for record_id in ids[2:5] + ids[6:9]:  # Ben's votes, pending
        store.decide("review", record_id, "Ben", "include" if record_id in ids[3::2] else "exclude")
    after = store.ranked_queue("review", "Ana")
    assert calls == [[0, 1, 5], [0, 1, 5]]
    assert after.queue.equals(before.queue)
    assert set(after.queue["record_id"].iloc[:9]) == set(ids[2::2])  # ketamine first


def test_allocated_stage_ranks_only_the_reviewers_records(project) -> None:
    store, ids = project
    store.add_reviewer("review", "Olga", role="owner")
    store.set_reviewers_per_record("review", 1, actor="Olga")
    store.allocate("review", "title_abstract", ["Ana", "Ben"], actor="Olga")
    given = store.assigned_records("review", "title_abstract", "Ana")
    assert given and len(given) < len(ids)
    ranked = store.ranked_queue("review", "Ana")
    assert set(ranked.queue["record_id"]) == given


def test_features_are_fitted_once_per_set_of_records(project, monkeypatch, tmp_path) -> None:
    from metareview.review import ranked_queue

    store, ids = project
    fitted = []
    real = ranked_queue.screening_features
    monkeypatch.setattr(
        ranked_queue, "screening_features", lambda *a, **k: fitted.append(1) or real(*a, **k)
    )
    store.decide("review", ids[0], "Ana", "include")
    store.ranked_queue("review", "Ana")
    store.decide("review", ids[1], "Ana", "exclude")
    store.ranked_queue("review", "Ana")
    store.ranked_queue("review", "Ben")
    assert len(fitted) == 1  # votes change the model, not the features
    store.import_file("review", write_ris(tmp_path / "more.ris", 22), database="Embase")
    store.ranked_queue("review", "Ana")
    assert len(fitted) == 2  # new records: new features


def test_stopping_uses_only_the_reviewers_own_votes_in_order(project) -> None:
    store, ids = project
    for record_id in ids[:6]:
        store.decide("review", record_id, "Ana", "maybe" if record_id == ids[2] else "exclude")
    ana = store.ranked_queue("review", "Ana", n_irrelevant=3)
    rule = ana.stopping["consecutive_irrelevant"]
    # Ana: exclude, exclude, maybe (counts as relevant), exclude x 3; 14 records left for her
    assert (rule.n_screened, rule.relevant_found, rule.n_unscreened, rule.stop) == (6, 1, 14, True)
    assert not ana.stopping["hypergeometric"].stop
    for record_id in ids[6:12]:  # Ben's votes, pending: they change nothing of Ana's
        store.decide("review", record_id, "Ben", "include")
    again = store.ranked_queue("review", "Ana", n_irrelevant=3)
    assert {k: v.to_dict() for k, v in again.stopping.items()} == {
        k: v.to_dict() for k, v in ana.stopping.items()
    }
    ben = store.ranked_queue("review", "Ben").stopping["hypergeometric"]
    assert (ben.n_screened, ben.relevant_found, ben.n_unscreened) == (6, 6, 14)


def test_presumed_irrelevant_records_leak_no_other_reviewers_votes(
    store: Store, tmp_path, monkeypatch
) -> None:
    # the default ranking also trains on unscreened records presumed irrelevant (drawn from
    # the records Ana has not decided, seeded by the records she has); by default only from
    # 1,000 unscreened records on, here 10 at a time from 200 records, so some are drawn, and
    # Ana's scores are exactly those of a model given her own votes only
    from metareview.review import ranking
    from metareview.review.ranking import presumed_irrelevant, relevance_scores

    monkeypatch.setattr(ranking, "PRESUMED_IRRELEVANT", ranking.PresumedIrrelevant(n=10))

    store.import_file("review", write_ris(tmp_path / "search.ris", 200), database="PubMed")
    for name in ("Ana", "Ben"):
        store.add_reviewer("review", name)
    ids = store.records("review")["id"].tolist()
    for i in range(6):  # even = ketamine, odd = birds
        store.decide("review", ids[i], "Ana", "include" if i % 2 == 0 else "exclude")
    before = store.ranked_queue("review", "Ana")
    assert presumed_irrelevant(200, range(6), None, np.random.default_rng(0), n=10).size == 10
    for i in range(6, 120):  # Ben, against the topic, on records Ana has not seen
        store.decide("review", ids[i], "Ben", "exclude" if i % 2 == 0 else "include")
    after = store.ranked_queue("review", "Ana")
    assert after.queue.equals(before.queue)
    features = store._ranking_features("review", store.records("review"))
    own = relevance_scores(features, list(range(6)), [1, 0, 1, 0, 1, 0])
    position = {record_id: i for i, record_id in enumerate(ids)}
    np.testing.assert_array_equal(
        after.queue["score"].to_numpy(), own[[position[r] for r in after.queue["record_id"]]]
    )
