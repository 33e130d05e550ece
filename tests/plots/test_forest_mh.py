"""Forest plots and leave-one-out of Mantel-Haenszel and Peto fits, against metafor.

Reference: tests/fixtures/metafor_binary_report.json (make_binary_report_fixtures.R):
``weights()`` of rma.mh / rma.peto fits, the per-study estimates forest.rma.mh draws
(``yi.f``, ``vi.f`` with Wald CIs) and ``leave1out()``, on dat.bcg, dat.nielweise2007 and
(person-time) dat.nielweise2008; and the per-study ``yi``/``vi`` that ``rma.glmm`` stores
(drawn by forest() for GLMM fits).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from matplotlib.patches import Polygon

from metareview import InputError, StudyOmittedWarning, leave1out
from metareview.plots import forest, funnel
from metareview.stats import rma_glmm, rma_mh, rma_peto
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, effect_text, overlapping_texts, texts

RTOL = 1e-10  # closed forms; observed worst case 4e-15 (weights), 4e-14 (study CIs),
#               1e-13 (leave1out, incl. p-values)

ALL = load_fixture("metafor_binary_report")["cases"]
CASES = [c for c in ALL if c["fn"] != "rma.glmm"]
GLMM_CASES = [c for c in ALL if c["fn"] == "rma.glmm"]


def _fit(case):
    names = ("x1i", "t1i", "x2i", "t2i") if "x1i" in case else ("ai", "bi", "ci", "di")
    counts = {k: case[k] for k in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StudyOmittedWarning)
        if case["measure"] == "PETO":
            return rma_peto(**counts, slab=case["slab"])
        return rma_mh(**counts, measure=case["measure"], slab=case["slab"])


def _nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_weights_and_study_estimates_match_metafor(case):
    res = _fit(case)
    assert_close(res.weights, case["weights"], RTOL)
    table = res.study_table()
    for column, key in (("yi", "yi_f"), ("vi", "vi_f"), ("ci_lb", "ci_lb_f"), ("ci_ub", "ci_ub_f")):
        np.testing.assert_allclose(table[column], _nan(case[key]), rtol=RTOL)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_leave1out_matches_metafor(case):
    out = leave1out(_fit(case))
    assert list(out.index) == case["slab"]
    for column, values in case["l1o"].items():
        np.testing.assert_allclose(out[column], _nan(values), rtol=RTOL, atol=1e-12, err_msg=column)
    assert (out["tau2"] == 0).all()


def _bcg(measure):
    return _fit(next(c for c in CASES if c["id"] == f"bcg_{measure}"))


def test_mh_forest_shows_study_estimates_weights_and_diamond():
    res = _bcg("OR")
    fig = forest(res, transf="exp")
    table = res.study_table()
    expected = [effect_text(*np.exp(row)) for row in table[["yi", "ci_lb", "ci_ub"]].to_numpy()]
    assert texts(fig, "effect") == expected
    assert texts(fig, "weight") == [f"{w:.1f}%" for w in res.weights]
    (squares,) = by_gid(fig, "studies")
    sizes = squares.get_sizes()
    big = sizes > sizes.min()  # the smallest squares are enlarged to stay visible
    assert big.sum() >= 6
    assert_close(sizes[big] / sizes.max(), (res.weights / res.weights.max())[big], 1e-9)
    (diamond,) = [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]
    xy = diamond.get_xy()
    assert_close([xy[0, 0], xy[1, 0], xy[2, 0]], np.exp([res.ci_lb, res.estimate, res.ci_ub]))
    assert texts(fig, "label-pooled") == ["Total (Mantel-Haenszel, equal effects, k = 13)"]
    notes = " ".join(texts(fig, "note"))
    assert f"I² = {res.I2:.1f}%" in notes and f"df = {res.k_yi - 1}" in notes
    assert "Cochran-Mantel-Haenszel test" in notes
    assert overlapping_texts(fig) == []


def test_peto_forest_has_no_cmh_line():
    fig = forest(_bcg("PETO"), transf="exp")
    assert texts(fig, "label-pooled") == ["Total (Peto, equal effects, k = 13)"]
    assert texts(fig, "header-effect") == ["OR [95% CI]"]
    assert "Mantel-Haenszel" not in " ".join(texts(fig, "note"))


def test_study_without_estimate_is_marked_not_estimable():
    case = next(c for c in CASES if c["id"] == "nielweise2007_OR")
    res = _fit(case)
    fig = forest(res, transf="exp")
    missing = [i for i, v in enumerate(case["yi_f"]) if v is None]
    assert missing, "the fixture should hold a study without an estimate"
    effects = texts(fig, "effect")
    assert [effects[i] for i in missing] == ["Not estimable"] * len(missing)


def _glmm(case):
    names = [
        n
        for n in ("xi", "ni", "ti", "ai", "bi", "ci", "di", "x1i", "t1i", "x2i", "t2i")
        if n in case
    ]
    return rma_glmm(measure=case["measure"], **{n: case[n] for n in names}, slab=case["slab"])


@pytest.mark.parametrize("case", GLMM_CASES, ids=[c["id"] for c in GLMM_CASES])
def test_glmm_study_estimates_match_metafor(case):
    res = _glmm(case)
    table = res.study_table()
    assert len(table) == len(case["yi"])  # studies without events in either arm left out
    assert_close(table["yi"], case["yi"], RTOL)
    assert_close(table["vi"], case["vi"], RTOL)


def test_glmm_forest_draws_study_estimates_diamond_and_tau2():
    case = next(c for c in GLMM_CASES if c["id"] == "glmm_pritz1997_PLO")
    res = _glmm(case)
    fig = forest(res, transf="expit")
    table = res.study_table()
    expit = lambda v: 1 / (1 + np.exp(-np.asarray(v)))  # noqa: E731
    assert texts(fig, "effect") == [
        effect_text(*expit(row)) for row in table[["yi", "ci_lb", "ci_ub"]].to_numpy()
    ]
    assert texts(fig, "weight") == []  # a GLMM has no study weights: equal squares
    (squares,) = by_gid(fig, "studies")
    assert len(set(squares.get_sizes())) == 1
    (diamond,) = [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]
    pred = res.predict(transf="expit")
    assert_close(diamond.get_xy()[:3, 0], [pred["ci_lb"], pred["pred"], pred["ci_ub"]])
    (pi,) = [line for line in by_gid(fig, "prediction-interval")]
    assert_close(sorted(pi.get_xdata()), [pred["pi_lb"], pred["pi_ub"]])
    notes = " ".join(texts(fig, "note"))
    assert "τ² = " in notes and "LRT" in notes
    assert overlapping_texts(fig) == []


def test_funnel_of_mh_fit_draws_study_estimates_around_the_mh_estimate():
    case = next(c for c in CASES if c["id"] == "nielweise2007_OR")
    res = _fit(case)
    fig = funnel(res)
    (points,) = by_gid(fig, "studies")
    estimable = [v is not None for v in case["yi_f"]]
    xy = points.get_offsets()
    assert_close(xy[:, 0], _nan(case["yi_f"])[estimable], RTOL)
    assert_close(xy[:, 1], np.sqrt(_nan(case["vi_f"])[estimable]), RTOL)
    (centre,) = by_gid(fig, "estimate")
    assert_close(centre.get_xdata(), [res.estimate] * 2)
    with pytest.raises(InputError, match="egger_line=True needs an rma"):
        funnel(res, egger_line=True)


ALLOC = ["random"] * 4 + ["alternate"] * 2 + ["random"] * 3 + ["systematic"] * 4  # dat.bcg


def test_mh_subgroup_forest_shows_shares_of_the_total_and_the_subgroup_test():
    """RevMan's subgroup layout: each subgroup's studies with their share of the total
    Mantel-Haenszel weight (equal to the overall fit's weights), a subtotal diamond per
    subgroup, the total, and the test for subgroup differences."""
    case = next(c for c in CASES if c["id"] == "bcg_RR")
    counts = {k: case[k] for k in ("ai", "bi", "ci", "di")}
    res = rma_mh(**counts, measure="RR", slab=case["slab"], subgroup=ALLOC)
    fig = forest(res, transf="exp", extra_columns={"n": [str(a) for a in case["ai"]]})
    order = [
        i for g in ("random", "alternate", "systematic") for i, a in enumerate(ALLOC) if a == g
    ]
    weights = texts(fig, "weight")
    assert weights[: len(order)] == [f"{res.weights[i]:.1f}%" for i in order]
    assert texts(fig, "label-group") == ["random", "alternate", "systematic"]
    pooled = texts(fig, "label-pooled")
    subtotals = ["Subtotal (k = 7)", "Subtotal (k = 2)", "Subtotal (k = 4)"]
    assert pooled == [*subtotals, "Total (Mantel-Haenszel, equal effects, k = 13)"]
    diamonds = [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]
    for diamond, sub in zip(diamonds, res.subgroups.values(), strict=False):
        assert_close(diamond.get_xy()[1, 0], np.exp(sub.estimate))
    assert texts(fig, "header-label") == ["Study or subgroup"]
    cells = texts(fig, "extra0")
    assert cells[: len(order)] == [str(case["ai"][i]) for i in order]
    notes = " ".join(texts(fig, "note"))
    assert f"Test for subgroup differences: Chi² = {res.Q_between:.2f}" in notes
    assert overlapping_texts(fig) == []


def test_glmm_subgroup_forest_has_a_subtotal_per_subgroup():
    case = next(c for c in CASES if c["id"] == "bcg_OR")
    counts = {k: case[k] for k in ("ai", "bi", "ci", "di")}
    res = rma_glmm(measure="OR", **counts, slab=case["slab"], subgroup=ALLOC)
    fig = forest(res, transf="exp")
    assert texts(fig, "label-pooled")[-1] == "Overall (GLMM, ML, k = 13)"
    diamonds = [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]
    expected = [sub.predict(transf="exp")["pred"] for sub in res.subgroups.values()]
    assert_close([d.get_xy()[1, 0] for d in diamonds[:3]], expected)
    assert texts(fig, "weight") == []
    assert "Test for subgroup differences" in " ".join(texts(fig, "note"))
    assert overlapping_texts(fig) == []
