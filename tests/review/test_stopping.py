"""Stopping rules: hand-worked cases checked against scipy.stats.hypergeom, an independent
all-samples implementation with exact fractions, and a seeded simulation of the promise.

Callaghan MW, Müller-Hansen F. Syst Rev 2020;9:273 (hypergeometric criterion);
Cormack GV, Grossman MR. SIGIR 2016:75-84 (knee method).
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import partial

import numpy as np
import pytest
from scipy.stats import hypergeom

from metareview.exceptions import InputError
from metareview.review.stopping import (
    _first_hypergeometric_stop,
    consecutive_irrelevant,
    first_stops,
    hypergeometric_stop,
    knee_stop,
    min_certifying_sample,
    recall_p_value,
)

RTOL = 1e-12  # same scipy routine on the same integers; observed difference 0


def _reference_p(labels: list[int], n_records: int, target: Fraction) -> float:
    """Every sample of the last n records (n = 1..screened), K_tar in exact arithmetic."""
    y = np.asarray(labels)
    r_seen = int(y.sum())
    unscreened = n_records - y.size
    p_values = []
    for n in range(1, y.size + 1):
        k = int(y[-n:].sum())
        k_tar = math.floor(Fraction(r_seen) / target - (r_seen - k)) + 1
        population = n + unscreened
        p_values.append(0.0 if k_tar > population else hypergeom.cdf(k, population, k_tar, n))
    return float(min(p_values))


def test_hand_worked_small_urn():
    # History 1,0,0,0 of 8 records, target recall 1/2 (r_seen = 1, 4 unscreened).
    # n=1: K_tar = floor(2 - 1) + 1 = 2, urn 5, draw 1, P(X=0) = 3/5
    # n=2: urn 6, draw 2, P(X=0) = C(4,2)/C(6,2) = 6/15
    # n=3: urn 7, draw 3, P(X=0) = C(5,3)/C(7,3) = 10/35
    # n=4: k=1, K_tar = floor(2 - 0) + 1 = 3, urn 8, draw 4,
    #      P(X<=1) = (C(5,4) + 3 C(5,3)) / C(8,4) = 35/70
    by_hand = [3 / 5, 6 / 15, 10 / 35, 35 / 70]
    by_scipy = [
        hypergeom.cdf(0, 5, 2, 1),
        hypergeom.cdf(0, 6, 2, 2),
        hypergeom.cdf(0, 7, 2, 3),
        hypergeom.cdf(1, 8, 3, 4),
    ]
    np.testing.assert_allclose(by_scipy, by_hand, rtol=RTOL)
    assert recall_p_value([1, 0, 0, 0], 8, recall_target=0.5) == pytest.approx(2 / 7, rel=RTOL)
    decision = hypergeometric_stop([1, 0, 0, 0], 8, recall_target=0.5, confidence=0.5)
    assert decision.stop  # 2/7 < 1 - 0.5
    assert decision.n_unscreened == 4
    assert not hypergeometric_stop([1, 0, 0, 0], 8, recall_target=0.5, confidence=0.75).stop


def test_all_screened_means_null_impossible():
    # Every record screened: no urn can hold the K_tar relevant records the null needs.
    assert recall_p_value([1, 0, 1, 1, 0], 5) == 0.0
    assert hypergeometric_stop([1, 0, 1, 1, 0], 5).stop


def test_exact_ratio_is_not_rounded_down():
    # 57 / 0.95 is 60 exactly but 59.99999999999999 in floating point; K_tar of the sample
    # of the 30 irrelevant records must be floor(60 - 57) + 1 = 4, not 3.
    labels = [1] * 57 + [0] * 30
    expected = _reference_p(labels, 200, Fraction(95, 100))
    assert recall_p_value(labels, 200, recall_target=0.95) == pytest.approx(expected, rel=RTOL)
    assert expected == pytest.approx(hypergeom.cdf(0, 30 + 113, 4, 30), rel=RTOL)


def test_matches_every_sample_reference_on_random_histories():
    rng = np.random.default_rng(20201216)
    for _ in range(60):
        screened = int(rng.integers(1, 120))
        n_records = screened + int(rng.integers(0, 150))
        labels = (rng.random(screened) < rng.random() * 0.4).astype(int).tolist()
        for target in (Fraction(95, 100), Fraction(4, 5)):
            expected = _reference_p(labels, n_records, target)
            got = recall_p_value(labels, n_records, recall_target=float(target))
            assert got == pytest.approx(expected, rel=RTOL, abs=1e-300)


def test_first_stops_equals_the_rules_called_after_every_record():
    rng = np.random.default_rng(7)
    for _ in range(15):
        n_records = int(rng.integers(160, 400))
        labels = (rng.random(n_records) < np.linspace(0.3, 0.0, n_records)).astype(int)
        stops = first_stops(labels, n_records, confidence=0.9, n_irrelevant=20)
        calls = {
            "hypergeometric": partial(hypergeometric_stop, n_records=n_records, confidence=0.9),
            "consecutive_irrelevant": partial(
                consecutive_irrelevant, n_records=n_records, n_irrelevant=20
            ),
            "knee": partial(knee_stop, n_records=n_records),
        }
        for rule, call in calls.items():
            expected = next((s for s in range(1, n_records + 1) if call(labels[:s]).stop), None)
            assert stops[rule] == expected, rule


def test_consecutive_irrelevant_counts_the_run():
    assert not consecutive_irrelevant([1] + [0] * 49, 500).stop
    decision = consecutive_irrelevant([1] + [0] * 50, 500)
    assert decision.stop and decision.n_unscreened == 449
    assert "no statistical guarantee" in decision.promise


def test_knee_hand_worked():
    # 10 relevant first, then irrelevant: the knee is at 10 records and the slope ratio after
    # s records is (10/10) / (1/(s - 10)) = s - 10; it must reach 156 - 10 = 146.
    labels = [1] * 10 + [0] * 300
    assert not knee_stop(labels[:155], 1000).stop
    assert knee_stop(labels[:156], 1000).stop
    assert not knee_stop([1] * 10 + [0] * 140, 1000, min_screened=200).stop


def _biased_order(
    rng: np.random.Generator, n_records: int, n_relevant: int, bias: float
) -> np.ndarray:
    """A screening order in which a relevant record is ``bias`` times as likely to come next
    as an irrelevant one (bias = 1: random order)."""
    labels = np.zeros(n_records, dtype=int)
    labels[:n_relevant] = 1
    weights = np.where(labels == 1, bias, 1.0)
    keys = rng.random(n_records) ** (1.0 / weights)  # weighted sampling without replacement
    return labels[np.argsort(-keys)]


@pytest.mark.parametrize("bias", [1.0, 10.0])
def test_promise_holds_in_seeded_simulation(bias):
    # The rule promises recall >= 0.95 with 95% confidence: in seeded runs recall at the stop
    # must reach 0.95 in at least 95% of runs. Observed: 40 of 40 runs for both biases.
    rng = np.random.default_rng(2020)
    n_records, n_relevant, reached = 400, 20, 0
    runs = 40
    for _ in range(runs):
        order = _biased_order(rng, n_records, n_relevant, bias)
        stop = first_stops(order, n_records)["hypergeometric"]
        recall = order[: stop or n_records].sum() / n_relevant
        reached += recall >= 0.95
    assert reached >= 0.95 * runs


def test_bad_input_is_named():
    with pytest.raises(InputError, match=r"labels must be 0 .* got 2 at position 3"):
        recall_p_value([1, 0, 2], 10)
    with pytest.raises(InputError, match=r"n_records .3. is smaller"):
        hypergeometric_stop([1, 0, 0, 0], 3)
    with pytest.raises(InputError, match="recall_target must be strictly between 0 and 1"):
        hypergeometric_stop([1, 0], 10, recall_target=95)
    with pytest.raises(InputError, match="n_irrelevant must be a positive integer"):
        consecutive_irrelevant([0], 10, n_irrelevant=0)


def test_biased_urn_matches_the_sequential_draw_formula():
    # One relevant record found first, then n = 30 irrelevant, U = 5 left: the null needs
    # K_tar = 1 relevant record in the urn of n + U = 35 (see the module docstring). With a
    # bias w (a relevant record w times as likely to be drawn as an irrelevant one, Wallenius
    # 1963), the chance that n sequential weighted draws from 34 irrelevant + 1 relevant all
    # miss it is prod_{i=0}^{n-1} (34 - i) / (34 - i + w), worked out here by hand, and with
    # w = 1 it is U / (n + U) = 5 / 35.
    labels = [1] + [0] * 30
    for w in (1.0, 2.0, 5.0):
        expected = float(np.prod([(34 - i) / (34 - i + w) for i in range(30)]))
        # observed worst relative difference 1.5e-16 (w = 2): rounding only
        assert recall_p_value(labels, 36, bias=w) == pytest.approx(expected, rel=1e-12)
    assert recall_p_value(labels, 36) == pytest.approx(5 / 35, rel=1e-12)
    biased = hypergeometric_stop(labels, 36, bias=5.0)
    assert biased.stop
    assert biased.promise.endswith(
        "assuming the ranking made relevant records at least 5 times as likely to be "
        "screened as irrelevant ones)"
    )
    with pytest.raises(InputError, match="bias must be at least 1"):
        recall_p_value(labels, 36, bias=0.5)


def test_min_certifying_sample_hand_worked():
    # Ten records left, one relevant found, target recall 1/2: recall < 1/2 needs m = 2
    # relevant records among the ten. A random sample of n misses both with probability
    # C(8, n) / C(10, n): n = 7 gives 3/10 * 2/9 = 1/15 (not below 0.05), n = 8 gives
    # 2/10 * 1/9 = 1/45.
    assert min_certifying_sample(10, 1, recall_target=0.5) == 8
    # The same sample holding one relevant record: recall < 1/2 now needs K = floor(2 / 0.5
    # - 1) + 1 = 4 relevant among the ten, and P(X <= 1) with 4 of 10 drawn n times is
    # n = 6: (C(6,6) + 4 C(6,5)) / C(10,6) = 25/210 = 0.119; n = 7: 4 C(6,6) / C(10,7) =
    # 4/120 = 0.033.
    assert min_certifying_sample(10, 1, found_in_sample=1, recall_target=0.5) == 7
    # Three left, one found: m = 2; n = 1 misses both with probability 1/3, n = 2 cannot.
    assert min_certifying_sample(3, 1, recall_target=0.5) == 2
    # The null needs m = floor(20 * (1/0.95 - 1)) + 1 = 2 relevant records, more than the
    # one record left: it cannot hold, no sample is needed.
    assert min_certifying_sample(1, 20) == 0


@pytest.mark.parametrize(("unscreened", "found"), [(4669, 38), (800, 100), (1000, 114), (50, 3)])
def test_min_certifying_sample_lies_between_its_closed_form_bounds(unscreened, found):
    # prod_{i<m} (U - n - i) / (U - i) lies between ((U - n - m + 1) / (U - m + 1))^m and
    # ((U - n) / U)^m, so the sample lies between (U - m + 1)(1 - a^(1/m)) and
    # U (1 - a^(1/m)) + 1 records (a = 0.05).
    m = math.floor(Fraction(found) / Fraction(95, 100) - found) + 1  # exact: 38 -> 3
    n = min_certifying_sample(unscreened, found)
    share = 1 - 0.05 ** (1 / m)
    assert (unscreened - m + 1) * share <= n <= unscreened * share + 1
    # and it is the exact hypergeometric boundary (scipy): n rejects, n - 1 does not
    assert hypergeom.pmf(0, unscreened, m, n) < 0.05 <= hypergeom.pmf(0, unscreened, m, n - 1)


def test_statistical_rule_stops_on_the_certifying_sample():
    # All 20 relevant records first: the records screened after them are the k = 0 sample,
    # and the rule stops as soon as that sample has the size the bound asks for.
    stop = first_stops([1] * 20 + [0] * 1980, 2000)["hypergeometric"]
    assert stop == 20 + min_certifying_sample(1980, 20)


def test_min_certifying_sample_bad_input_is_named():
    with pytest.raises(InputError, match="n_unscreened must be a count"):
        min_certifying_sample(-1, 3)
    with pytest.raises(InputError, match=r"found_in_sample .5. cannot exceed n_unscreened .4."):
        min_certifying_sample(4, 3, found_in_sample=5)
    with pytest.raises(InputError, match="confidence must be strictly between 0 and 1"):
        min_certifying_sample(10, 3, confidence=95)


@pytest.mark.parametrize("bias", [1.0, 3.0])
def test_first_stop_search_equals_the_rule_called_after_every_record(bias):
    # _first_hypergeometric_stop checks each stretch between relevant records at its end and
    # bisects it; calling the rule after every record must give the same first stop.
    rng = np.random.default_rng(16)
    for _ in range(6):
        n_records = int(rng.integers(40, 90))
        screened = int(rng.integers(20, n_records))
        y = (rng.random(screened) < np.linspace(0.5, 0.0, screened)).astype(int)
        by_step = next(
            (
                t
                for t in range(1, screened + 1)
                if hypergeometric_stop(y[:t], n_records, recall_target=0.8, bias=bias).stop
            ),
            None,
        )
        assert _first_hypergeometric_stop(y, n_records, 0.8, 0.95, bias) == by_step
