"""Funnel plot structure: points, inverted SE axis, pseudo CI, contours, imputed studies."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.legend import Legend
from scipy import stats

from metareview import InputError, regtest, rma
from metareview.plots import funnel
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, overlapping_texts


@pytest.fixture(scope="module")
def bcg():
    case = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z")
    return rma(case["yi"], case["vi"], slab=case["slab"], measure="RR")


def test_one_point_per_study_at_effect_and_standard_error(bcg):
    fig = funnel(bcg)
    (points,) = by_gid(fig, "studies")
    assert_close(points.get_offsets(), np.column_stack([bcg.yi, np.sqrt(bcg.vi)]))


def test_standard_error_axis_is_inverted_from_zero(bcg):
    ax = funnel(bcg).axes[0]
    bottom, top = ax.get_ylim()
    assert top == 0 and bottom >= np.sqrt(bcg.vi).max()
    assert ax.get_ylabel() == "Standard error"
    assert ax.get_xlabel() == "Log risk ratio"


def test_pseudo_confidence_lines_around_the_estimate(bcg):
    fig = funnel(bcg)
    (line,) = by_gid(fig, "pseudo-ci")
    x, y = line.get_xdata(), line.get_ydata()
    z = stats.norm.isf(0.025)
    assert_close([x[0], y[0]], [bcg.estimate, 0])
    assert_close(x[-1], bcg.estimate - z * y[-1])
    (estimate,) = by_gid(fig, "estimate")
    assert_close(estimate.get_xdata(), [bcg.estimate, bcg.estimate])


def test_contours_at_three_levels_with_one_legend(bcg):
    fig = funnel(bcg)
    regions = [a for p in (0.1, 0.05, 0.01) for a in by_gid(fig, f"contour-{p:g}")]
    assert len(regions) == 3
    # one key (the shading used to be a second legend, far from the first)
    assert not any(isinstance(a, Legend) for a in fig.axes[0].artists)
    legend_texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend_texts == [
        "Pooled estimate",
        "Pseudo 95% CI",
        "Studies",
        "Study significance\n(two-sided, vs 0)",
        "0.10 < p ≤ 1.00",
        "0.05 < p ≤ 0.10",
        "0.01 < p ≤ 0.05",
        "p ≤ 0.01",
    ]
    assert not any(by_gid(funnel(bcg, contours=False), "contour-0.05"))


def test_contour_shading_is_light(bcg):
    # the p <= 0.01 shade fills most of the panel: it used to be a heavy #b8b8b8 grey
    fig = funnel(bcg)
    (outside,) = by_gid(fig, "contour-outside")
    shades = [outside.get_facecolor()] + [
        region.get_facecolor()[0]
        for p in (0.01, 0.05, 0.1)
        for region in by_gid(fig, f"contour-{p:g}")
    ]
    lightness = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b, _ in shades]
    assert min(lightness) >= 0.85
    assert lightness == sorted(lightness)  # from p <= 0.01 out to p > 0.10: lighter inwards


def test_contour_boundaries_are_significance_limits_around_zero(bcg):
    fig = funnel(bcg)
    (region,) = by_gid(fig, "contour-0.05")
    vertices = region.get_paths()[0].vertices
    se = vertices[:, 1].max()
    assert_close(np.abs(vertices[:, 0]).max(), stats.norm.isf(0.025) * se)


def test_filled_studies_are_hollow(bcg):
    fig = funnel(bcg, filled=([0.3, 0.5], [0.2, 0.1]))
    (imputed,) = by_gid(fig, "filled")
    assert_close(imputed.get_offsets(), [[0.3, np.sqrt(0.2)], [0.5, np.sqrt(0.1)]])
    faces = imputed.get_facecolors()
    assert len(faces) == 0 or np.all(faces[:, 3] == 0)
    assert np.all(imputed.get_edgecolors()[:, 3] > 0)


def test_egger_line_in_funnel_coordinates(bcg):
    intercept, slope = -1.5, -0.2
    (line,) = by_gid(funnel(bcg, egger_line=(intercept, slope)), "egger")
    se = np.asarray(line.get_ydata())
    assert_close(line.get_xdata(), slope + intercept * se)
    assert se[0] == 0
    assert by_gid(funnel(bcg), "egger") == []


@pytest.mark.parametrize("model", ["lm", "rma"])
def test_egger_line_true_or_a_regtest_draws_metafors_regression(bcg, model):
    # metafor's regtest(res, model=model, predictor="sei"): yi = b0 + b1 * sei
    case = next(c for c in load_fixture("metafor_bias")["cases"] if c["id"] == "bcg_RR_REML")
    ref = next(r for r in case["regtest"] if r["model"] == model and r["predictor"] == "sei")
    b0, b1 = ref["coef"]
    given = True if model == "lm" else regtest(bcg, predictor="sei", model="rma")
    (line,) = by_gid(funnel(bcg, egger_line=given), "egger")
    se = np.asarray(line.get_ydata())
    np.testing.assert_allclose(line.get_xdata(), b0 + b1 * se, rtol=1e-6)


def test_draws_into_a_given_axes(bcg):
    fig, ax = plt.subplots()
    assert funnel(bcg, ax=ax) is fig
    assert len(by_gid(fig, "studies")) == 1


def test_no_overlapping_texts(bcg):
    assert overlapping_texts(funnel(bcg, filled=([0.3], [0.2]), egger_line=(1.0, -0.5))) == []


def test_bad_input(bcg):
    with pytest.raises(InputError, match=r"funnel\(\) needs the result of metareview\.rma\(\)"):
        funnel([0.1, 0.2])
    with pytest.raises(InputError, match=r"meta-regression"):
        funnel(rma(bcg.yi, bcg.vi, mods=np.arange(bcg.k, dtype=float)))
    with pytest.raises(InputError, match=r"filled must be a pair \(yi, vi\)"):
        funnel(bcg, filled=[0.1, 0.2, 0.3])
    with pytest.raises(InputError, match=r"filled vi must be > 0"):
        funnel(bcg, filled=([0.1], [-0.2]))
    with pytest.raises(InputError, match=r"lengths disagree"):
        funnel(bcg, filled=([0.1, 0.2], [0.2]))
    with pytest.raises(InputError, match=r"egger_line must be True, False, a regtest\(\) result"):
        funnel(bcg, egger_line=(1.0,))
    with pytest.raises(InputError, match=r"predictor='vi'"):
        funnel(bcg, egger_line=regtest(bcg, predictor="vi"))
