"""L'Abbé plot: a circle per study at (control, treatment) proportion; identity and pooled line."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from metareview import InputError, escalc, rma
from metareview.plots import labbe
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, overlapping_texts, texts_outside_figure


@pytest.fixture(scope="module")
def bcg():
    case = next(c for c in load_fixture("metafor_escalc")["cases"] if c["id"] == "bcg_RR")
    return case["inputs"], case["slab"]


def _proportions(cells):
    a, b, c, d = (np.asarray(cells[k], dtype=float) for k in ("ai", "bi", "ci", "di"))
    return c / (c + d), a / (a + b), a + b + c + d


def test_one_circle_per_study_sized_by_total_n(bcg):
    cells, _ = bcg
    (points,) = by_gid(labbe(**cells), "studies")
    p_c, p_t, n = _proportions(cells)
    offsets = points.get_offsets()
    assert len(offsets) == 13
    order = np.argsort(-n, kind="stable")  # drawn largest first
    assert_close(offsets, np.column_stack([p_c, p_t])[order])
    sizes = points.get_sizes()
    assert_close(sizes / sizes.max(), np.maximum(n[order] / n.max(), sizes.min() / sizes.max()))


def test_identity_line_and_axis_labels(bcg):
    cells, _ = bcg
    ax = labbe(**cells).axes[0]
    (identity,) = by_gid(ax, "identity")
    assert_close(identity.get_xdata(), identity.get_ydata())
    assert ax.get_xlabel() == "Event proportion, control group"
    assert ax.get_ylabel() == "Event proportion, treatment group"
    assert ax.get_xlim() == ax.get_ylim()


@pytest.mark.parametrize(
    ("measure", "scale"),
    [("RR", "proportion"), ("RR", "log"), ("OR", "logit"), ("RD", "proportion")],
)
def test_pooled_line_is_implied_by_the_estimate(bcg, measure, scale):
    cells, slab = bcg
    res = rma(escalc(measure, slab=slab, **cells))
    fig = labbe(**cells, res=res, scale=scale)
    (line,) = by_gid(fig, "pooled")
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    if scale == "logit":
        x, y = 1 / (1 + np.exp(-x)), 1 / (1 + np.exp(-y))
    b = res.estimate
    if measure == "RR":
        expected = np.exp(b) * x
    elif measure == "RD":
        expected = x + b
    else:
        expected = 1 / (1 + (1 - x) / (np.exp(b) * x))
    assert_close(y, expected, rtol=1e-9)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    shown = b if measure == "RD" else np.exp(b)
    assert legend[-1] == f"Pooled {measure} = {shown:.2f}\n(REML)".replace("-", "\u2212")


def test_log_and_logit_scales(bcg):
    cells, _ = bcg
    ax = labbe(**cells, scale="log").axes[0]
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    ax = labbe(**cells, scale="LOGIT").axes[0]
    p_c, _, n = _proportions(cells)
    (points,) = by_gid(ax, "studies")
    order = np.argsort(-n, kind="stable")
    assert_close(points.get_offsets()[:, 0], np.log(p_c / (1 - p_c))[order])
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert "0.01" in labels  # log-odds axis labelled in proportions


def test_zero_cells_are_corrected_only_off_the_proportion_scale():
    counts = {"ai": [0, 5], "bi": [20, 15], "ci": [3, 8], "di": [17, 12]}
    (points,) = by_gid(labbe(**counts), "studies")
    assert 0.0 in points.get_offsets()[:, 1]
    (points,) = by_gid(labbe(**counts, scale="log"), "studies")
    assert_close(points.get_offsets()[:, 1].min(), 0.5 / 21)


@pytest.mark.parametrize("scale", ["proportion", "log", "logit"])
def test_no_overlapping_texts(bcg, scale):
    cells, slab = bcg
    res = rma(escalc("OR", slab=slab, **cells))
    fig = labbe(**cells, res=res, scale=scale)
    assert overlapping_texts(fig) == []
    assert texts_outside_figure(fig) == []


def test_draws_into_a_given_axes(bcg):
    cells, _ = bcg
    fig, ax = plt.subplots()
    assert labbe(**cells, ax=ax) is fig


def test_bad_input(bcg):
    cells, slab = bcg
    with pytest.raises(InputError, match=r"lengths disagree"):
        labbe([1, 2], [3, 4], [5], [6, 7])
    with pytest.raises(
        InputError,
        match=r"ai must be counts >= 0; got negative values at row 2 "
        r"\(study 'B'\)",
    ):
        labbe([1, -2], [3, 4], [5, 6], [6, 7], slab=["A", "B"])
    with pytest.raises(
        InputError,
        match=r"control \(ci \+ di\) group has no participants at "
        r"row 1",
    ):
        labbe([1, 2], [3, 4], [0, 6], [0, 7])
    with pytest.raises(
        InputError,
        match=r"scale must be one of proportion, logit, log; "
        r"got 'probit'",
    ):
        labbe(**cells, scale="probit")
    generic = rma(escalc("RR", slab=slab, **cells)["yi"], escalc("RR", **cells)["vi"])
    with pytest.raises(
        InputError,
        match=r"res must be a fit of measure OR, RR, RD, PETO .*got "
        r"measure None",
    ):
        labbe(**cells, res=generic)
    subset = rma(
        escalc("RR", ai=cells["ai"][:5], bi=cells["bi"][:5], ci=cells["ci"][:5], di=cells["di"][:5])
    )
    with pytest.raises(InputError, match=r"res was fitted to 5 studies but the tables hold 13"):
        labbe(**cells, res=subset)
    with pytest.raises(InputError, match=r"res must be an intercept-only model"):
        res = rma(escalc("RR", **cells), mods=np.arange(13.0))
        labbe(**cells, res=res)
