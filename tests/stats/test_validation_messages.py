"""Bad input gets a clear error naming the study and the column (never a numpy traceback)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview import (
    ConvergenceError,
    InputError,
    MissingDataWarning,
    StudyOmittedWarning,
    escalc,
    rma,
    rma_batch,
)

LABELS = ["Adams 2001", "Baker 2003", "Chen 2005", "Diaz 2010"]


def test_nan_effect_names_study_and_column():
    with pytest.raises(InputError, match=r"yi missing at row 2 \(study 'Baker 2003'\)"):
        rma([0.1, np.nan, 0.3, 0.4], [0.1] * 4, slab=LABELS)


def test_missing_can_be_omitted_with_a_warning():
    with pytest.warns(StudyOmittedWarning, match="Baker 2003"):
        res = rma([0.1, np.nan, 0.3, 0.4], [0.1] * 4, slab=LABELS, missing="omit")
    assert res.k == 3 and res.omitted == ("Baker 2003",)


def test_infinite_variance_is_refused():
    with pytest.raises(InputError, match=r"vi must be finite; got inf at row 3 .*Chen 2005"):
        rma([0.1, 0.2, 0.3, 0.4], [0.1, 0.1, np.inf, 0.1], slab=LABELS)


def test_negative_variance_names_study():
    with pytest.raises(InputError, match=r"vi must be >= 0.*row 4 \(study 'Diaz 2010'\)"):
        rma([0.1, 0.2, 0.3, 0.4], [0.1, 0.1, 0.1, -0.1], slab=LABELS)


def test_non_numeric_cell_names_study():
    with pytest.raises(InputError, match=r"yi must be numeric; got '0.3a' at row 3"):
        rma(["0.1", "0.2", "0.3a", "0.4"], [0.1] * 4, slab=LABELS)


def test_lengths_that_disagree():
    with pytest.raises(InputError, match="lengths disagree: yi has 3, vi has 2"):
        rma([0.1, 0.2, 0.3], [0.1, 0.2])


def test_no_studies_left():
    with pytest.raises(InputError, match="at least 1 study; got k = 0"):
        rma([], [])


def test_too_few_studies_after_omitting_zero_variance():
    with pytest.warns(StudyOmittedWarning), pytest.raises(InputError, match="after leaving out B"):
        rma([0.0], [0.0], slab=["B"], zero_variance="omit")


def test_meta_regression_needs_more_studies_than_coefficients():
    with pytest.raises(InputError, match=r"more studies than coefficients \(3\)"):
        rma([0.1, 0.2, 0.3], [0.1] * 3, mods=np.array([[1, 2], [3, 4], [5, 7]]))


def test_unknown_method_lists_all_accepted_values():
    with pytest.raises(InputError, match=r"method must be one of EE, DL, REML.*FE \(= EE\)"):
        rma([0.1, 0.2, 0.3], [0.1] * 3, method="XYZ")


def test_missing_column_name():
    data = pd.DataFrame({"yi": [0.1, 0.2], "v": [0.1, 0.1]})
    with pytest.raises(InputError, match=r"vi='vi' is not a column of data"):
        rma(data=data)


def test_non_convergence_is_an_error():
    rng = np.random.default_rng(1)
    yi, vi = rng.normal(size=10), rng.uniform(0.01, 0.1, size=10)
    with pytest.raises(ConvergenceError, match=r"REML .* did not converge within 1 iterations"):
        rma(yi, vi, method="REML", control={"maxiter": 1})


def test_events_above_group_size():
    with pytest.raises(InputError, match=r"xi must be <= ni.*row 2 \(study 'Baker 2003'\)"):
        escalc("PR", xi=[1, 12, 3, 4], ni=[10, 10, 10, 10], slab=LABELS)


def test_negative_counts_name_the_cell():
    with pytest.raises(InputError, match=r"ci must be >= 0 \(counts\).*Chen 2005"):
        escalc(
            "OR", ai=[1, 2, 3, 4], bi=[5, 5, 5, 5], ci=[1, 1, -1, 1], di=[5, 5, 5, 5], slab=LABELS
        )


def test_correlation_out_of_range():
    with pytest.raises(InputError, match=r"ri must be between -1 and 1.*Adams 2001"):
        escalc("ZCOR", ri=[1.2, 0.1, 0.2, 0.3], ni=[20] * 4, slab=LABELS)


def test_percentages_given_as_proportions_are_caught():
    with pytest.raises(InputError, match=r"pi must be between 0 and 1.*divided by 100"):
        escalc("PR", pi=[76, 62], ni=[33, 13])


def test_missing_inputs_warn_and_give_missing_effects():
    with pytest.warns(MissingDataWarning, match=r"row 2 \(study 'Baker 2003'\).*sd1i"):
        out = escalc(
            "MD",
            m1i=[1, 2, 3, 4],
            sd1i=[1, np.nan, 1, 1],
            n1i=[10] * 4,
            m2i=[0] * 4,
            sd2i=[1] * 4,
            n2i=[10] * 4,
            slab=LABELS,
        )
    assert np.isnan(out["vi"].iloc[1]) and np.isfinite(out["vi"].iloc[[0, 2, 3]]).all()


def test_measure_needs_its_inputs():
    with pytest.raises(InputError, match="measure 'SMD' needs m1i, sd1i, n1i, m2i, sd2i, n2i"):
        escalc("SMD", m1i=[1, 2], n1i=[10, 10])


def test_unknown_input_name():
    with pytest.raises(InputError, match="unknown input xx for escalc"):
        escalc("PR", xi=[1], ni=[2], xx=[3])


def test_batch_rejects_zero_variance_inside_mask():
    with pytest.raises(InputError, match=r"V must be > 0 inside the mask.*row 0, study 1"):
        rma_batch([[0.1, 0.2, 0.3]], [[0.1, 0.0, 0.1]])


def test_batch_rows_with_too_few_studies():
    mask = np.array([[True, True, True], [True, False, False]])
    with pytest.raises(InputError, match=r"\(k > 1\); rows \[1\] have fewer"):
        rma_batch(np.ones((2, 3)), np.ones((2, 3)), mask=mask)


def test_level_out_of_range():
    with pytest.raises(InputError, match="level must lie strictly between"):
        rma([0.1, 0.2], [0.1, 0.1], level=0)
