"""An escalc frame keeps each row's labels and sample sizes when it is filtered or joined.

Issue 12: ``rma(escalc("PLO", ...).iloc[[0, 2]])`` failed ("yi has 2, ni has 4") because the
sample sizes travelled in ``DataFrame.attrs``, which pandas does not subset. Issue 21.6: labels
given to escalc never reached rma or the forest plot. Reference values: metafor 3.8 fitted to
the same subsets of its escalc objects (``tests/fixtures/make_escalc_frame_fixtures.R`` ->
``metafor_escalc_frame.json``): dat.pritz1997 (PFT, back-transformed with each study's n) and
dat.bcg (RR, labelled "author year").
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview import InputError, escalc, forest, fsn, rma
from tests.conftest import load_fixture
from tests.plots.helpers import texts

CASES = load_fixture("metafor_escalc_frame")["cases"]
# REML fits against metafor at threshold 1e-10 on both sides; observed worst relative
# difference 3.7e-15 (ci_lb of a PFT subset), 2.3e-15 for tau2
RTOL = 1e-13


def _frame(case: dict) -> pd.DataFrame:
    """The case's data set as escalc's ``data``, and the escalc frame of all its rows."""
    data = pd.DataFrame(case["data"])
    if case["measure"] == "PFT":
        return escalc("PFT", data=data, xi="xi", ni="ni", slab="authors")
    return escalc("RR", data=data, ai="tpos", bi="tneg", ci="cpos", di="cneg", slab="label")


def _subsets(es: pd.DataFrame, rows: list[int]) -> dict[str, pd.DataFrame]:
    """The same rows picked out four ways a user filters a table."""
    positions = [r - 1 for r in rows]
    wanted = np.isin(np.arange(len(es)), positions)
    half = len(positions) // 2
    return {
        "mask": es[wanted],
        "iloc": es.iloc[positions],
        "query": es.assign(_row=np.arange(len(es))).query("_row in @positions"),
        "concat": pd.concat([es.iloc[positions[:half]], es.iloc[positions[half:]]]),
    }


def _check_against_metafor(res, case: dict) -> None:
    expected = case["result"]
    for key in ("estimate", "se", "ci_lb", "ci_ub", "tau2", "QE"):
        got = res.to_dict()[key]
        np.testing.assert_allclose(got, expected[key], rtol=RTOL, err_msg=key)
    assert res.k == expected["k"]
    assert list(res.slab) == case["slab"]


@pytest.mark.parametrize("how", ["mask", "iloc", "query", "concat"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_subset_of_escalc_frame_fits_as_metafor(case, how):
    sub = _subsets(_frame(case), case["rows"])[how]
    res = rma(sub)
    _check_against_metafor(res, case)
    if case["measure"] == "PFT":
        assert list(res.ni) == case["ni"]
        pred = res.predict(transf="ipft.hm")
        for key in ("pred", "ci_lb", "ci_ub", "pi_lb", "pi_ub"):
            np.testing.assert_allclose(pred[key], case["predict"][key], rtol=RTOL, err_msg=key)


@pytest.mark.parametrize("how", ["mask", "iloc", "query", "concat"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_subset_equals_escalc_of_the_subset(case, how):
    """Filtering the effect-size table gives the fit of the filtered raw table, exactly."""
    sub = _subsets(_frame(case), case["rows"])[how]
    raw = pd.DataFrame(case["data"]).iloc[[r - 1 for r in case["rows"]]]
    direct = rma(_frame({**case, "data": raw.to_dict("list")}))
    fitted = rma(sub)
    assert fitted.to_dict() == direct.to_dict()
    assert fitted.slab == direct.slab and fitted.ni == direct.ni


def test_the_example_of_issue_12():
    es = escalc("PLO", xi=[4, 10, 7, 12], ni=[20, 40, 25, 30])
    res = rma(es.iloc[[0, 2]])
    direct = rma(escalc("PLO", xi=[4, 7], ni=[20, 25]))
    assert res.to_dict() == direct.to_dict()
    assert res.ni == (20.0, 25.0)


def test_sample_sizes_are_a_column_not_attrs():
    es = escalc("PFT", xi=[4, 10, 7], mi=[16, 30, 18])
    assert es["ni"].tolist() == [20.0, 40.0, 25.0]
    assert dict(es.attrs) == {"measure": "PFT"}


def test_concat_of_different_measures_forgets_the_measure():
    """pandas keeps attrs only when they agree, so a mixed table has no measure to guess
    a back-transformation from (and no sample sizes are taken from it)."""
    mixed = pd.concat(
        [escalc("PLO", xi=[4, 10], ni=[20, 40]), escalc("PFT", xi=[7, 12], ni=[25, 30])]
    )
    res = rma(mixed)
    assert res.measure is None and res.ni is None


def test_labels_given_to_escalc_reach_rma_and_the_forest_plot():
    case = next(c for c in CASES if c["id"].startswith("bcg") and len(c["rows"]) == 13)
    es = _frame(case)
    assert es["slab"].tolist() == case["slab"]
    res = rma(es)
    assert list(res.slab) == case["slab"]
    assert list(res.study_table().index) == case["slab"]
    assert texts(forest(res, transf="exp"), "label") == case["slab"]


def test_labels_as_a_list_with_data():
    data = pd.DataFrame({"x": [4, 10, 7], "n": [20, 40, 25]})
    res = rma(escalc("PLO", data=data, xi="x", ni="n", slab=["A", "B", "C"]).iloc[[2, 0]])
    assert res.slab == ("C", "A")


def test_explicit_slab_in_rma_wins_over_the_column():
    es = escalc("PLO", xi=[4, 10, 7], ni=[20, 40, 25], slab=["A", "B", "C"])
    assert rma(es, slab=["x", "y", "z"]).slab == ("x", "y", "z")


def test_escalc_refuses_to_overwrite_a_different_column():
    data = pd.DataFrame({"x": [4, 10], "n": [20, 40], "ni": [1, 2]})
    with pytest.raises(InputError, match="data already has a different column 'ni'"):
        escalc("PLO", data=data, xi="x", ni="n")
    data = pd.DataFrame({"x": [4, 10], "ni": [20, 40], "slab": ["P", "Q"]})
    with pytest.raises(InputError, match="different column 'slab'"):
        escalc("PLO", data=data, xi="x", ni="ni", slab=["A", "B"])


def test_escalc_keeps_an_identical_column_of_data_untouched():
    data = pd.DataFrame({"xi": [4, 10], "ni": [20, 40]})
    es = escalc("PLO", data=data, xi="xi", ni="ni")
    assert es["ni"].dtype == data["ni"].dtype and list(es.columns) == ["xi", "ni", "yi", "vi"]


def test_fsn_accepts_an_escalc_frame_as_rma_does():
    """Issue 21.18: fsn(es) was refused. metafor 3.8, fsn(yi, vi, data = dat.bcg escalc RR):
    Rosenthal 598, Rosenberg 370 (computed with metafor for this test)."""
    case = next(c for c in CASES if c["id"].startswith("bcg") and len(c["rows"]) == 13)
    es = _frame(case)
    assert fsn(es).fsnum == fsn(es["yi"], es["vi"]).fsnum == fsn(rma(es)).fsnum == 598
    assert fsn(es, type="Rosenberg").fsnum == 370
    assert fsn("yi", "vi", data=es).fsnum == fsn(es).fsnum


def test_fsn_names_the_study_of_a_missing_value():
    es = escalc("PLO", xi=[4, 10, 7], ni=[20, 40, 25], slab=["A", "B", "C"])
    es.loc["B", "vi"] = np.nan
    with pytest.raises(InputError, match=r"vi must be a finite number.*row 2 \(study 'B'\)"):
        fsn(es)


# ---------------------------------------------------------------- row naming (issue 21.12)


def test_rows_count_from_one_and_labels_are_studies():
    with pytest.raises(InputError, match=r"violated at row 2 \(study 'B'\)\.$"):
        escalc("PR", xi=[1, 12, 3], ni=[10, 10, 10], slab=["A", "B", "C"])


def test_a_default_index_is_not_shown_as_a_study_label():
    """Issue 21.12: 'row 2 (study '1')' put a 0-based index label beside a 1-based row.
    Rows of a frame with the default index are named as rma and the figures name them."""
    data = pd.DataFrame({"x": [1, 12, 3], "n": [10, 10, 10]})
    with pytest.raises(InputError, match=r"violated at row 2 \(study 'Study 2'\)\.$"):
        escalc("PR", data=data, xi="x", ni="n")
    with pytest.raises(InputError, match=r"yi missing at row 2 \(study 'Study 2'\)"):
        rma(pd.DataFrame({"yi": [0.1, np.nan, 0.3], "vi": [0.1] * 3}))


def test_a_slab_column_of_data_names_the_rows_in_escalc_too():
    data = pd.DataFrame({"x": [1, 12, 3], "n": [10, 10, 10], "slab": ["A", "B", "C"]})
    with pytest.raises(InputError, match=r"violated at row 2 \(study 'B'\)\.$"):
        escalc("PR", data=data, xi="x", ni="n")


def test_a_filtered_frame_names_rows_by_position_and_index_label():
    data = pd.DataFrame({"x": [1, 2, 12, 3], "n": [10] * 4}).iloc[[0, 2, 3]]
    with pytest.raises(InputError, match=r"violated at row 2 \(index 2\)\.$"):
        escalc("PR", data=data, xi="x", ni="n")


def test_string_index_labels_are_quoted():
    data = pd.DataFrame({"yi": [0.1, np.nan], "vi": [0.1, 0.1]}, index=["s1", "s2"])
    with pytest.raises(InputError, match=r"yi missing at row 2 \(index 's2'\)"):
        rma(data)


def test_rma_on_a_filtered_frame_names_rows_by_index():
    data = pd.DataFrame({"yi": [0.1, 0.2, np.nan, 0.4], "vi": [0.1] * 4}).iloc[[0, 2, 3]]
    with pytest.raises(InputError, match=r"yi missing at row 2 \(index 2\)"):
        rma(data)
