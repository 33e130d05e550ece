"""Bubble plot: one bubble per study sized by weight, the fitted line and bands from predict()."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from metareview import InputError, rma
from metareview.plots import bubble
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, overlapping_texts, texts_outside_figure


def _case():
    return next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z_mods")


@pytest.fixture(scope="module")
def ablat():
    case = _case()
    mods = pd.DataFrame(case["mods"]["X"], columns=case["mods"]["names"])
    return rma(case["yi"], case["vi"], mods=mods[["ablat"]], slab=case["slab"], measure="RR")


@pytest.fixture(scope="module")
def two_mods():
    case = _case()
    mods = pd.DataFrame(case["mods"]["X"], columns=case["mods"]["names"])
    return rma(case["yi"], case["vi"], mods=mods, slab=case["slab"], measure="RR")


def test_one_bubble_per_study_area_proportional_to_weight(ablat):
    (points,) = by_gid(bubble(ablat), "studies")
    offsets = points.get_offsets()
    assert len(offsets) == ablat.k
    # drawn largest first; match by position
    order = np.lexsort((offsets[:, 1], offsets[:, 0]))
    expected = np.column_stack([ablat.X[:, 1], ablat.yi])
    assert_close(offsets[order], expected[np.lexsort((expected[:, 1], expected[:, 0]))])
    sizes = points.get_sizes()
    weights = np.asarray(ablat.weights)
    by_position = {tuple(np.round(o, 10)): s for o, s in zip(offsets, sizes, strict=True)}
    drawn = np.array([by_position[tuple(np.round(e, 10))] for e in expected])
    assert_close(drawn / drawn.max(), weights / weights.max())


def test_fitted_line_and_bands_come_from_predict(ablat):
    fig = bubble(ablat)
    (line,) = by_gid(fig, "fitted")
    x = line.get_xdata()
    assert x[0] == ablat.X[:, 1].min() and x[-1] == ablat.X[:, 1].max()
    expected = ablat.predict(newmods=x)
    assert_close(line.get_ydata(), expected["pred"])
    (ci,) = by_gid(fig, "confidence-band")
    lower = ci.get_paths()[0].vertices[:, 1]
    assert np.isclose(lower.min(), min(expected["ci_lb"]))
    (pi,) = by_gid(fig, "prediction-band")
    assert np.isclose(pi.get_paths()[0].vertices[:, 1].min(), min(expected["pi_lb"]))


def test_back_transformed_on_a_log_axis(ablat):
    fig = bubble(ablat, transf="exp")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    (line,) = by_gid(fig, "fitted")
    assert_close(line.get_ydata(), ablat.predict(newmods=line.get_xdata(), transf="exp")["pred"])
    assert ax.get_ylabel() == "Risk ratio"
    assert by_gid(fig, "refline")[0].get_ydata()[0] == 1.0
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len([t for t in labels if t]) >= 3  # a labelled ratio axis, not just "1"


def test_labels_and_legend(ablat):
    ax = bubble(ablat).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("ablat", "Log risk ratio")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [
        "Studies (area proportional\nto weight)",
        "Fitted line",
        "95% CI",
        "95% prediction interval",
    ]
    ax = bubble(ablat, xlabel="Absolute latitude", ylabel="RR").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Absolute latitude", "RR")


def test_other_moderators_held_at_their_mean(two_mods):
    fig = bubble(two_mods, "year")
    (line,) = by_gid(fig, "fitted")
    year = line.get_xdata()
    newmods = np.column_stack([np.full(year.size, two_mods.X[:, 1].mean()), year])
    assert_close(line.get_ydata(), two_mods.predict(newmods=newmods)["pred"])
    title = fig.axes[0].get_legend().get_title().get_text()
    assert title == "Other moderators at\ntheir mean: ablat = 33.5"


def test_equal_effects_model_has_no_prediction_band():
    case = _case()
    res = rma(case["yi"], case["vi"], mods=[row[0] for row in case["mods"]["X"]], method="EE")
    fig = bubble(res)
    assert by_gid(fig, "prediction-band") == []
    assert "95% prediction interval" not in [
        t.get_text() for t in fig.axes[0].get_legend().get_texts()
    ]


@pytest.mark.parametrize("transf", [None, "exp"])
def test_no_overlapping_texts(two_mods, transf):
    fig = bubble(two_mods, "ablat", transf=transf)
    assert overlapping_texts(fig) == []
    assert texts_outside_figure(fig) == []


def test_draws_into_a_given_axes(ablat):
    fig, ax = plt.subplots()
    assert bubble(ablat, ax=ax) is fig


def test_bad_input(ablat, two_mods):
    intercept_only = rma(ablat.yi, ablat.vi)
    with pytest.raises(InputError, match=r"res is an intercept-only model"):
        bubble(intercept_only)
    with pytest.raises(InputError, match=r"needs the result of metareview\.rma\(\); got dict"):
        bubble({})
    with pytest.raises(InputError, match=r"res has 2 moderators \(ablat, year\); pass mod="):
        bubble(two_mods)
    with pytest.raises(
        InputError,
        match=r"mod must be one of the model's moderators "
        r"\['ablat', 'year'\]; got 'latitude'",
    ):
        bubble(two_mods, "latitude")
    with pytest.raises(InputError, match=r"transf must be one of"):
        bubble(ablat, transf="log")
    with pytest.raises(InputError, match=r"refline must be > 0 on a ratio"):
        bubble(ablat, transf="exp", refline=0)
