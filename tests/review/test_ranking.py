"""Relevance ranking, the simulation metrics and simulate_screening.

The naive Bayes scores are checked against the multinomial naive Bayes formulas written out
with numpy (McCallum & Nigam 1998); WSS and RRF against hand-worked orders (Cohen et al.
2006 for WSS). Real labelled sets are read from the shared test data, skipped when absent.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from metareview.exceptions import InputError
from metareview.review.ranking import (
    MAX_TRAINING_EXCLUDED,
    NB_ALPHA,
    PRESUMED_IRRELEVANT,
    fold_single_record_terms,
    next_records,
    presumed_irrelevant,
    relevance_scores,
    screening_features,
    training_rows,
)
from metareview.review.simulation import (
    read_labelled_records,
    screening_metrics,
    simulate_screening,
)
from tests.review.conftest import TESTDATA

SCREENING = TESTDATA / "screening"

RECORDS = pd.DataFrame(
    {
        "title": [
            "Ketamine infusion for pain",
            "Bird song in spring",
            "Ketamine and pain relief",
            "Migration of birds",
            "Pain after ketamine",
            "Spring birds",
        ],
        "abstract": [
            "A randomised trial of ketamine.",
            None,
            "Ketamine trial in pain.",
            "Birds migrate.",
            "",
            "Song and migration.",
        ],
    }
)


def test_features_are_fitted_once_and_note_missing_abstracts():
    feats = screening_features(RECORDS)
    assert feats.matrix.shape == (6, len(feats.terms))
    assert feats.no_abstract.tolist() == [False, True, False, False, True, False]
    assert feats.notes() == [
        "2 of 6 records have no abstract; they are ranked on their title (and keywords) only."
    ]
    before = feats.matrix.copy()
    relevance_scores(feats, [0, 1], [1, 0], classifier="svm")
    assert (feats.matrix != before).nnz == 0  # training never touches the features


@pytest.mark.parametrize("ratio", [1.0, 9.8])
def test_naive_bayes_scores_follow_the_formula(ratio):
    feats = screening_features(RECORDS)
    X = feats.matrix.toarray()
    labelled, y = np.array([0, 1, 3]), np.array([1, 0, 0])
    # ASReview's "balanced" sample weights: 1 for an inclusion, n_incl / (ratio * n_excl) for
    # an exclusion, rescaled to sum to n (ratio 1: each class has total weight n / 2)
    w = np.where(y == 1, 1.0, 1 / (ratio * 2))
    w *= 3 / w.sum()
    counts = [np.sum(w[y == c, None] * X[labelled][y == c], axis=0) for c in (0, 1)]
    log_theta = [np.log((c + NB_ALPHA) / (c.sum() + NB_ALPHA * X.shape[1])) for c in counts]
    log_prior = np.log([w[y == 0].sum(), w[y == 1].sum()])  # differ by log(ratio)
    expected = X @ (log_theta[1] - log_theta[0]) + log_prior[1] - log_prior[0]
    np.testing.assert_allclose(
        relevance_scores(feats, labelled, y, classifier="nb", balance_ratio=ratio),
        expected,
        rtol=1e-10,
    )  # same formula, observed worst 2e-16


def test_default_features_are_asreview_elas_u4s():
    # word 1- and 2-grams, sublinear tf, terms in more than 95% of the records dropped: in
    # two records "the" (in both) goes; every other term is in one record, so all share one
    # idf and record 1's L2-normalised row is proportional to 1 + ln(tf):
    # pain 3 -> 1 + ln 3, "pain pain" 2 -> 1 + ln 2, "pain relief", relief, "the pain" 1 -> 1
    feats = screening_features(
        pd.DataFrame({"title": ["the pain pain pain relief", "the bird song"]}), abstract=None
    )
    assert "the" not in feats.terms
    row = dict(zip(feats.terms, feats.matrix.toarray()[0], strict=True))
    tf = {"pain": 1 + np.log(3), "pain pain": 1 + np.log(2), "pain relief": 1.0}
    tf |= {"relief": 1.0, "the pain": 1.0}
    norm = np.sqrt(sum(v**2 for v in tf.values()))
    assert {t for t, v in row.items() if v} == set(tf)
    for term, value in tf.items():
        assert row[term] == pytest.approx(value / norm, rel=1e-12)  # observed 2e-16


def test_svm_weights_are_asreviews_balance_ratio():
    # the default SVM (elas_u4: C = 0.11, inclusions weighing 9.8 times the exclusions in
    # total, weights summing to n) equals scikit-learn's LinearSVC given the class weights
    # that follow from those two conditions: w0 = n / (n0 (1 + r)), w1 = r n / (n1 (1 + r))
    from sklearn.svm import LinearSVC

    feats = screening_features(RECORDS)
    labelled, y = np.array([0, 1, 2, 3, 5]), np.array([1, 0, 1, 0, 0])
    n, n1, n0, r = 5, 2, 3, 9.8
    svm = LinearSVC(
        C=0.11, class_weight={0: n / (n0 * (1 + r)), 1: r * n / (n1 * (1 + r))}, random_state=0
    ).fit(feats.matrix[labelled], y)
    np.testing.assert_allclose(
        relevance_scores(feats, labelled, y, training="elas_u4"),
        svm.decision_function(feats.matrix),
        rtol=1e-9,
        atol=1e-12,
    )  # observed worst 4e-16 (the same liblinear problem, single-record terms folded)


def test_presumed_irrelevant_draws_unscreened_records_from_the_lowest_scored_pool():
    labelled = np.arange(0, 200, 2)  # 100 of 300 records screened, 200 left
    left = np.setdiff1d(np.arange(300), labelled)
    scores = np.random.default_rng(1).normal(size=300)
    lowest = set(left[np.argsort(scores[left])[:20]].tolist())  # pool: 10 % of 200
    rng = np.random.default_rng(5)
    # n = 20 fills the pool: all of its records, and nothing screened
    drawn = presumed_irrelevant(300, labelled, scores, rng, n=20, pool=0.1)
    assert set(drawn.tolist()) == lowest and drawn.tolist() == sorted(drawn.tolist())
    drawn = presumed_irrelevant(300, labelled, scores, rng, n=5, pool=0.1)
    assert drawn.size == 5 and set(drawn.tolist()) <= lowest
    # without scores: at random among every unscreened record
    union: set[int] = set()
    for seed in range(20):
        drawn = presumed_irrelevant(300, labelled, None, np.random.default_rng(seed), n=20)
        assert drawn.size == 20 and not set(drawn.tolist()) & set(labelled.tolist())
        union |= set(drawn.tolist())
    assert len(union) > 100  # not the same 20 each time
    # a pool smaller than n (fewer than n / pool unscreened records): none
    assert presumed_irrelevant(300, labelled, scores, rng, n=21, pool=0.1).size == 0
    assert presumed_irrelevant(300, labelled, None, rng).size == 0  # default n 100: 1,000


def test_presumed_irrelevant_training_is_a_fit_on_them_as_excluded(monkeypatch):
    # the default for the SVM: three fits, each on the labelled records plus records drawn by
    # presumed_irrelevant (random, then from the 10 % the fit before scored lowest) labelled 0
    # and weighted as excluded records; the rng is seeded by the set of labelled positions
    import zlib

    from sklearn.svm import LinearSVC

    from metareview.review import ranking

    records = _demo()
    feats = screening_features(records)
    y_all = records["label_included"].to_numpy()
    labelled = np.concatenate([np.flatnonzero(y_all)[:3], np.flatnonzero(y_all == 0)[:27]])
    y = y_all[labelled]
    # 70 unscreened records: too few for 100 presumed from a 10 % pool, so the default
    # trains as elas_u4 (on the labelled records only), exactly
    np.testing.assert_array_equal(
        relevance_scores(feats, labelled, y),
        relevance_scores(feats, labelled, y, training="elas_u4"),
    )
    # with 7 presumed per fit (the 10 % pool of the 70 holds 7)
    monkeypatch.setattr(ranking, "PRESUMED_IRRELEVANT", ranking.PresumedIrrelevant(n=7))
    rng = np.random.default_rng([zlib.crc32(np.sort(labelled).astype(np.int64).tobytes()), 30])
    expected = None
    for _ in range(PRESUMED_IRRELEVANT.fits):
        extra = presumed_irrelevant(100, labelled, expected, rng, n=7)
        assert extra.size == 7  # 10 % of the 70 unscreened records
        rows, target = np.concatenate([labelled, extra]), np.concatenate([y, np.zeros(7)])
        n, n1, r = 37, 3, 9.8
        svm = LinearSVC(
            C=0.11,
            class_weight={0: n / ((n - n1) * (1 + r)), 1: r * n / (n1 * (1 + r))},
            random_state=0,
        ).fit(feats.matrix[rows], target)
        expected = svm.decision_function(feats.matrix)
    scores = relevance_scores(feats, labelled, y)
    np.testing.assert_allclose(scores, expected, rtol=1e-9, atol=1e-12)  # observed 3.0e-15
    # reproducible (a reviewer's queue does not change between two requests) and different
    # from the labelled-only fit that ASReview's elas_u4 makes, still selectable by name
    assert np.array_equal(relevance_scores(feats, labelled, y), scores)
    plain = relevance_scores(feats, labelled, y, training="elas_u4")
    assert not np.allclose(plain, scores)
    np.testing.assert_array_equal(plain, relevance_scores(feats, labelled, y, training="labelled"))
    with pytest.raises(InputError, match="training must be one of presumed_irrelevant, labelled"):
        relevance_scores(feats, labelled, y, training="everything")
    sim = simulate_screening(records, label_column="label_included", seeds=1, training="elas_u4")
    assert sim.settings["training"] == "labelled"


def test_folding_single_record_terms_keeps_every_inner_product():
    # a term in one record adds only to that record's squared norm, so folding such terms
    # into one column per record keeps X X' (hand-worked: row 0 has 3 and 4 on its own
    # terms -> one entry 5; row 2 has 5 on its own)
    X = np.array([[3.0, 1.0, 0.0, 4.0], [0.0, 2.0, 0.0, 0.0], [0.0, 1.0, 5.0, 0.0]])
    folded = fold_single_record_terms(X)
    np.testing.assert_array_equal(folded.toarray(), [[1, 5, 0], [2, 0, 0], [1, 0, 5]])
    feats = screening_features(RECORDS)
    matrix, training = feats.matrix, feats.training_matrix
    assert training.shape == (6, 16) and matrix.shape == (6, 44)  # most terms in one record
    np.testing.assert_allclose(
        (training @ training.T).toarray(), (matrix @ matrix.T).toarray(), rtol=0, atol=1e-15
    )  # observed worst 2.2e-16
    # nothing to fold: the matrix comes back as it is
    shared = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(fold_single_record_terms(shared).toarray(), shared)


@pytest.mark.parametrize("classifier", ["svm", "logistic"])
def test_folded_terms_give_the_same_scores_and_screening_order(classifier):
    # the SVM and logistic regression are trained on the folded matrix for speed: the same
    # scores (to rounding) and the same simulated screening order as on the TF-IDF matrix
    # itself (given as a plain matrix, which relevance_scores uses as it is)
    records = _demo().sample(frac=1.0, random_state=4).reset_index(drop=True)
    feats = screening_features(records)
    assert feats.training_matrix.shape[1] < feats.matrix.shape[1] / 4  # 4,138 of 21,349
    unfolded = dataclasses.replace(feats, training_matrix=None)
    runs = [
        simulate_screening(
            records, label_column="label_included", seeds=3, classifier=classifier, features=f
        )
        for f in (feats, unfolded)
    ]
    assert np.array_equal(runs[0].orders, runs[1].orders)
    labelled = runs[0].orders[0][:40]
    folded = relevance_scores(feats, labelled, runs[0].labels[labelled], classifier=classifier)
    plain = relevance_scores(
        feats.matrix, labelled, runs[0].labels[labelled], classifier=classifier
    )
    np.testing.assert_allclose(folded, plain, rtol=1e-12, atol=1e-13)  # observed 7.7e-15
    assert np.array_equal(np.argsort(-folded, kind="stable"), np.argsort(-plain, kind="stable"))


def test_tiny_projects_keep_their_terms():
    # with max_df 0.95 one record (or records sharing every word) would leave no term: then
    # every term is kept rather than failing
    one = screening_features(pd.DataFrame({"title": ["ketamine trial"]}), abstract=None)
    assert one.terms == ("ketamine", "ketamine trial", "trial")
    same = screening_features(pd.DataFrame({"title": ["pain", "pain"]}), abstract=None)
    assert same.terms == ("pain",)


@pytest.mark.parametrize("classifier", ["nb", "logistic", "svm"])
def test_each_classifier_ranks_similar_records_first(classifier):
    feats = screening_features(RECORDS)
    scores = relevance_scores(feats, [0, 1], [1, 0], classifier=classifier)
    assert scores is not None and scores.shape == (6,)
    assert min(scores[2], scores[4]) > max(scores[3], scores[5])


def test_no_model_until_both_classes_are_labelled():
    feats = screening_features(RECORDS)
    assert relevance_scores(feats, [1, 3], [0, 0]) is None
    assert relevance_scores(feats, [], []) is None
    picks = next_records(None, np.ones(6, dtype=bool), n=6, rng=1)
    assert sorted(picks.tolist()) == list(range(6))


def test_queries():
    scores = np.array([0.1, 2.0, -3.0, 3.0, -0.05])
    open_ = np.array([True, True, True, False, True])
    assert next_records(scores, open_, n=2).tolist() == [1, 0]
    assert next_records(scores, open_, n=2, uncertainty_share=1.0).tolist() == [4, 0]
    a = next_records(scores, open_, n=4, random_share=1.0, rng=3)
    b = next_records(scores, open_, n=4, random_share=1.0, rng=3)
    assert a.tolist() == b.tolist() and sorted(a.tolist()) == [0, 1, 2, 4]
    with pytest.raises(InputError, match="random_share \\+ uncertainty_share must be at most 1"):
        next_records(scores, open_, random_share=0.6, uncertainty_share=0.6)


def test_bad_input_is_named():
    with pytest.raises(InputError, match="the data set is empty"):
        screening_features(RECORDS.iloc[:0])
    with pytest.raises(InputError, match="no column 'summary'"):
        screening_features(RECORDS, abstract="summary")
    with pytest.raises(InputError, match=r"labels must be 0 .exclude. or 1 .include.; got 2"):
        relevance_scores(screening_features(RECORDS), [0, 1], [1, 2])
    with pytest.raises(InputError, match="classifier must be one of nb, logistic, svm"):
        relevance_scores(screening_features(RECORDS), [0, 1], [1, 0], classifier="forest")
    with pytest.raises(InputError, match="C must be a positive number; got 0"):
        relevance_scores(screening_features(RECORDS), [0, 1], [1, 0], C=0)
    with pytest.raises(InputError, match="balance_ratio must be a positive number; got -1"):
        relevance_scores(screening_features(RECORDS), [0], [1], balance_ratio=-1)
    with pytest.raises(InputError, match="balance_ratio must be a positive number; got True"):
        simulate_screening(
            RECORDS.assign(included=[1, 0, 1, 0, 0, 0]),
            label_column="included",
            balance_ratio=True,
        )


def test_metrics_hand_worked():
    # 10 records, relevant at positions 1 and 3. 95% recall needs ceil(1.9) = 2 relevant,
    # reached after 3 records: WSS@95 = (10 - 3)/10 - 0.05 = 0.65. 10% of the records is 1
    # record, holding 1 of 2 relevant: RRF@10 = 0.5. Loss: best area 2 * (10 - 1/2) = 19,
    # actual sum of the cumulative curve 1+1+2*8 = 18, normaliser 2 * (10 - 2) = 16: 1/16.
    assert screening_metrics([1, 0, 1, 0, 0, 0, 0, 0, 0, 0]) == pytest.approx(
        {"wss_95": 0.65, "rrf_10": 0.5, "loss": 1 / 16}
    )
    assert screening_metrics([0] * 5 + [1]) == pytest.approx(
        {"wss_95": -0.05, "rrf_10": 0.0, "loss": 1.0}
    )


def test_read_labelled_records_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match=r"empty\.csv: the file is empty; it needs a header line"):
        read_labelled_records(empty, label_column="included")
    header = tmp_path / "header.csv"
    header.write_text("title,abstract,included\n")
    with pytest.raises(InputError, match=r"header\.csv: the file holds no records"):
        read_labelled_records(header, label_column="included")
    bad = tmp_path / "bad.csv"
    bad.write_text("title,included\na,1\nb,yes\nc,0\nd,2\n")
    with pytest.raises(
        InputError,
        match=r"column 'included' must hold 0 .* 1 .* record 2 \('yes'\)"
        r", record 4 \('2'\)",
    ):
        read_labelled_records(bad, label_column="included")
    with pytest.raises(InputError, match="no label column 'label'"):
        read_labelled_records(bad, label_column="label")


def test_simulation_needs_inclusions():
    recs = RECORDS.assign(included=0)
    with pytest.raises(
        InputError,
        match=r"0 included records, fewer than the 1 prior inclusions asked for "
        r"\(n_prior_included=1\)",
    ):
        simulate_screening(recs, label_column="included", seeds=1)


def _demo() -> pd.DataFrame:
    path = SCREENING / "tiny_asreview_demo" / "demo_data.json"
    if not path.is_file():
        pytest.skip(f"shared screening data not found at {path} (set METAREVIEW_TESTDATA)")
    return read_labelled_records(path, label_column="label_included")


def test_simulation_on_demo_set(tmp_path):
    records = _demo()
    # the demo places its 10 inclusions on every 10th row: shuffle so file order cannot help
    records = records.sample(frac=1.0, random_state=4).reset_index(drop=True)
    sim = simulate_screening(records, label_column="label_included", seeds=3)
    assert sim.orders.shape == (3, 100)
    assert all(sorted(order) == list(range(100)) for order in sim.orders.tolist())
    curves = sim.recall_curves()
    assert curves.shape == (3, 101) and np.all(curves[:, -1] == 1.0)
    assert np.all(np.diff(curves, axis=1) >= 0)
    # better than screening in random order (expected WSS@95 of a random order is about 0)
    assert sim.runs["wss_95"].mean() > 0.2
    assert set(sim.summary().index) >= {"wss_95", "rrf_10", "hypergeometric_recall"}
    written = sim.write(tmp_path / "out")
    assert [p.name for p in written] == ["runs.csv", "summary.csv", "simulation.json"]
    settings = json.loads(written[2].read_text())["settings"]
    assert settings["seeds"] == [0, 1, 2]
    # the default model is ASReview's elas_u4 SVM
    assert (settings["classifier"], settings["C"], settings["balance_ratio"]) == ("svm", 0.11, 9.8)
    parallel = simulate_screening(records, label_column="label_included", seeds=3, n_jobs=2)
    assert np.array_equal(parallel.orders, sim.orders)
    assert parallel.runs.equals(sim.runs)


def test_simulation_on_a_real_review():
    path = SCREENING / "nudging_nagtegaal_2019" / "nudging.csv"
    if not path.is_file():
        pytest.skip(f"shared screening data not found at {path} (set METAREVIEW_TESTDATA)")
    records = read_labelled_records(path, label_column="included")
    sim = simulate_screening(records, label_column="included", seeds=[11], batch_size=25)
    run = sim.runs.iloc[0]
    assert run["n_records"] == 1847 and run["n_relevant"] == 100
    assert run["wss_95"] > 0.3  # random order gives about 0
    assert run["hypergeometric_recall"] >= 0.95


def test_simulation_reports_progress_after_each_run():
    recs = pd.DataFrame(
        {"title": ["ketamine pain trial"] * 3 + ["bird song"] * 17, "included": [1] * 3 + [0] * 17}
    )
    calls = []
    simulate_screening(
        recs, label_column="included", seeds=2, abstract=None, progress=lambda *a: calls.append(a)
    )
    assert calls == [(0, 2), (1, 2), (2, 2)]


# -- the training-set cap (max_excluded): every inclusion, at most N exclusions ------------


def _shuffled_demo() -> tuple[pd.DataFrame, np.ndarray]:
    records = _demo().sample(frac=1.0, random_state=4).reset_index(drop=True)
    return records, records["label_included"].to_numpy()


def test_the_capped_training_set_keeps_every_inclusion_and_a_fixed_sample():
    labelled = np.array([7, 3, 9, 4, 5, 12, 2])
    y = np.array([0, 1, 0, 0, 1, 0, 0])
    # "recent": both inclusions and the last two exclusions, in the given order
    assert training_rows(labelled, y, 2, sample="recent").tolist() == [1, 4, 5, 6]
    assert training_rows(labelled, y, 1, sample="recent").tolist() == [1, 4, 6]
    # not biting (5 exclusions, cap 5 or more) or no cap: every row, as given
    for cap in (None, 5, 6, MAX_TRAINING_EXCLUDED):
        assert training_rows(labelled, y, cap).tolist() == list(range(7))
    # "random" (the default): reproducible, every inclusion kept, and the same records
    # whatever the order of the labelled list (the keys belong to row positions)
    rows = training_rows(labelled, y, 2)
    assert rows.tolist() == training_rows(labelled, y, 2, sample="random").tolist()
    assert {1, 4} <= set(rows.tolist()) and rows.size == 4 and (np.diff(rows) > 0).all()
    order = np.array([6, 2, 0, 5, 1, 3, 4])
    again = training_rows(labelled[order], y[order], 2, sample="random")
    assert set(labelled[order][again]) == set(labelled[rows])
    # a bottom-k sample: a later exclusion never brings back one left out before
    more = training_rows(np.append(labelled, 30), np.append(y, 0), 2, sample="random")
    assert set(labelled[rows]) - {30} >= set(np.append(labelled, 30)[more]) - {30}


def test_capped_scores_are_the_svm_on_the_kept_rows_with_asreviews_weights():
    # the expected model is built by hand with scikit-learn: the n1 inclusions and the last
    # m exclusions in decision order, weighted as elas_u4 weights a training set of
    # n = n1 + m records (inclusions together 9.8 times the exclusions, summing to n):
    # r n / (n1 (1 + r)) and n / (m (1 + r))
    from sklearn.svm import LinearSVC

    records, labels = _shuffled_demo()
    feats = screening_features(records)
    labelled = np.arange(60)
    y = labels[labelled]
    n1, n0, r, m = int(y.sum()), int((y == 0).sum()), 9.8, 20
    n = n1 + m
    assert n1 >= 2 and n0 > m
    kept = np.sort(np.concatenate([np.flatnonzero(y == 1), np.flatnonzero(y == 0)[-m:]]))
    weights = np.where(y[kept] == 1, r * n / (n1 * (1 + r)), n / (m * (1 + r)))
    svm = LinearSVC(C=0.11, random_state=0).fit(
        feats.training_matrix[labelled[kept]], y[kept], sample_weight=weights
    )
    capped = relevance_scores(feats, labelled, y, max_excluded=m, training_sample="recent")
    np.testing.assert_allclose(
        capped, svm.decision_function(feats.training_matrix), rtol=1e-9, atol=1e-12
    )  # observed worst 0 (the same rows, order and weights up to rounding)
    assert not np.allclose(capped, relevance_scores(feats, labelled, y, max_excluded=None))


@pytest.mark.parametrize("classifier", ["svm", "logistic", "nb"])
def test_the_cap_bounds_the_rows_the_classifier_is_fitted_on(monkeypatch, classifier):
    import sklearn.linear_model
    import sklearn.naive_bayes
    import sklearn.svm

    fitted: list[tuple[int, int, float]] = []
    module, name = {
        "svm": (sklearn.svm, "LinearSVC"),
        "logistic": (sklearn.linear_model, "LogisticRegression"),
        "nb": (sklearn.naive_bayes, "MultinomialNB"),
    }[classifier]

    class Counting(getattr(module, name)):  # type: ignore[misc]
        def fit(self, X, y, sample_weight=None):
            fitted.append((X.shape[0], int(np.sum(y)), float(np.sum(sample_weight))))
            return super().fit(X, y, sample_weight=sample_weight)

    monkeypatch.setattr(module, name, Counting)
    records, labels = _shuffled_demo()
    feats = screening_features(records)
    labelled = np.arange(80)
    n1 = int(labels[labelled].sum())
    for cap in (5, 30, None):
        relevance_scores(feats, labelled, labels[labelled], classifier=classifier, max_excluded=cap)
    # every inclusion, at most `cap` exclusions, the weights summing to the rows fitted
    assert [f[:2] for f in fitted] == [(n1 + 5, n1), (n1 + 30, n1), (80, n1)]
    expected = [n1 + 5.0, n1 + 30.0, 80.0]
    assert [f[2] for f in fitted] == pytest.approx(expected, rel=1e-12)  # observed 3e-16


@pytest.mark.parametrize("classifier", ["svm", "logistic", "nb"])
def test_a_cap_that_does_not_bite_leaves_the_scores_bit_identical(classifier):
    records, labels = _shuffled_demo()
    feats = screening_features(records)
    labelled = np.arange(70)
    y = labels[labelled]
    n0 = int((y == 0).sum())
    uncapped = relevance_scores(feats, labelled, y, classifier=classifier, max_excluded=None)
    for cap in (n0, n0 + 1, MAX_TRAINING_EXCLUDED):
        scores = relevance_scores(feats, labelled, y, classifier=classifier, max_excluded=cap)
        assert np.array_equal(scores, uncapped)
    assert np.array_equal(relevance_scores(feats, labelled, y, classifier=classifier), uncapped)


def test_simulation_uses_the_cap():
    records, _ = _shuffled_demo()
    common = {"label_column": "label_included", "seeds": 2, "features": screening_features(records)}
    default = simulate_screening(records, **common)
    assert default.settings["max_excluded"] == MAX_TRAINING_EXCLUDED
    assert default.settings["training_sample"] == "random"
    # 100 records: the default cap never bites, so the orders are today's uncapped ones
    assert np.array_equal(
        default.orders, simulate_screening(records, **common, max_excluded=None).orders
    )
    capped = simulate_screening(records, **common, max_excluded=3)
    assert capped.settings["max_excluded"] == 3
    assert not np.array_equal(capped.orders, default.orders)


def test_bad_cap_options_are_named():
    with pytest.raises(InputError, match=r"max_excluded must be an integer >= 1; got 0"):
        training_rows([0, 1], [0, 1], 0)
    with pytest.raises(InputError, match=r"max_excluded must be an integer >= 1; got 2.5"):
        relevance_scores(screening_features(RECORDS), [0, 1], [1, 0], max_excluded=2.5)
    with pytest.raises(InputError, match=r"max_excluded must be an integer >= 1; got 0"):
        relevance_scores(screening_features(RECORDS), [0], [1], max_excluded=0)  # no model yet
    with pytest.raises(InputError, match=r"training_sample must be one of random, recent"):
        training_rows([0, 1], [0, 1], 1, sample="oldest")
    with pytest.raises(InputError, match=r"max_excluded must be an integer >= 1; got -4"):
        simulate_screening(_shuffled_demo()[0], label_column="label_included", max_excluded=-4)
