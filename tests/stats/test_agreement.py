"""Agreement statistics against R's psych::cohen.kappa (tests/fixtures/psych_kappa.json) and
published worked examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview import InputError
from metareview.stats.agreement import (
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    wide_ratings,
)
from tests.conftest import load_fixture

CASES = load_fixture("psych_kappa")["cases"]
RTOL_PSYCH = 1e-14  # closed-form kappa and its variance: observed 1.3e-15 against psych


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_cohen_kappa_matches_psych(case):
    out = cohen_kappa(case["r1"], case["r2"])
    np.testing.assert_allclose(
        [out.kappa, out.ci_lb, out.ci_ub, out.se**2],
        [case["kappa"], case["ci_lb"], case["ci_ub"], case["var_kappa"]],
        rtol=RTOL_PSYCH,
    )


def test_textbook_percent_agreement_and_pabak():
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15 -> p_o 0.70, p_e 0.50, kappa 0.40
    case = CASES[0]
    out = cohen_kappa(case["r1"], case["r2"])
    assert out.percent_agreement == pytest.approx(0.70)
    assert out.expected_agreement == pytest.approx(0.50)
    assert out.pabak == pytest.approx(0.40)  # 2 p_o - 1 for two categories


def test_missing_ratings_use_records_both_rated():
    out = cohen_kappa(["y", "n", None, "y"], ["y", "n", "y", None])
    assert out.n == 2 and out.kappa == pytest.approx(1.0)


def test_krippendorff_alpha_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal data with
    # missing values: 4 coders, 12 units -> alpha = 0.743
    nan = np.nan
    coders = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
    assert krippendorff_alpha(np.array(coders).T) == pytest.approx(0.743, abs=5e-4)


def test_alpha_is_unchanged_when_a_reviewer_who_rated_nothing_is_removed():
    table = pd.DataFrame(
        {
            "A": ["in", "out", "in", "out"],
            "B": ["in", "out", "out", "out"],
            "C": [None, None, None, None],
        }
    )
    assert krippendorff_alpha(table) == krippendorff_alpha(table[["A", "B"]])


def test_fleiss_kappa_worked_example():
    # Fleiss (1971)-style example (10 subjects, 14 raters, 5 categories) -> kappa = 0.210
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    rows = [[cat for cat, n in enumerate(row, start=1) for _ in range(n)] for row in counts]
    assert fleiss_kappa(np.array(rows)) == pytest.approx(0.210, abs=5e-4)
    ragged = pd.DataFrame([[1, 2, 2], [1, 1, None]])
    with pytest.raises(InputError, match="same number of ratings per record"):
        fleiss_kappa(ragged)


def test_long_to_wide_refuses_duplicate_votes():
    long = pd.DataFrame(
        {"record": [1, 1, 1], "rater": ["a", "b", "a"], "rating": ["in", "in", "out"]}
    )
    with pytest.raises(InputError, match="rater 'a' rated record '1' more than once"):
        wide_ratings(long)
