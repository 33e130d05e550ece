"""Baujat plot: one point per study at metareview.baujat()'s (x, y), labels that never overlap."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from metareview import InputError, baujat, rma
from metareview.plots import baujat_plot
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, overlapping_texts, texts, texts_outside_figure


@pytest.fixture(scope="module")
def bcg():
    case = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z")
    return rma(case["yi"], case["vi"], slab=case["slab"], measure="RR")


def test_one_point_per_study_at_the_baujat_coordinates(bcg):
    frame = baujat(bcg)
    (points,) = by_gid(baujat_plot(bcg), "studies")
    assert_close(points.get_offsets(), frame[["x", "y"]].to_numpy())


def test_frame_is_drawn_as_given(bcg):
    frame = baujat(bcg)
    from_frame = by_gid(baujat_plot(frame), "studies")[0].get_offsets()
    from_result = by_gid(baujat_plot(bcg), "studies")[0].get_offsets()
    assert_close(from_frame, from_result)


def test_the_most_extreme_studies_are_labelled(bcg):
    frame = baujat(bcg)
    scaled = np.hypot(frame["x"] / frame["x"].max(), frame["y"] / frame["y"].max())
    expected = list(scaled.sort_values(ascending=False).index[:5])
    assert texts(baujat_plot(bcg), "label") == expected
    assert texts(baujat_plot(bcg, label_top=0), "label") == []
    assert sorted(texts(baujat_plot(bcg, label_top=50), "label")) == sorted(bcg.slab)


def test_axis_labels(bcg):
    ax = baujat_plot(bcg).axes[0]
    assert ax.get_xlabel() == "Contribution to overall heterogeneity (Q)"
    assert ax.get_ylabel() == "Influence on overall result"


@pytest.mark.parametrize("label_top", [5, 13])
def test_no_overlapping_texts(bcg, label_top):
    fig = baujat_plot(bcg, label_top=label_top)
    assert overlapping_texts(fig) == []
    assert texts_outside_figure(fig) == []


def test_labels_clear_every_point(bcg):
    fig = baujat_plot(bcg, label_top=13)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    (points,) = by_gid(fig, "studies")
    centres = fig.axes[0].transData.transform(points.get_offsets())
    radius = np.sqrt(30.0) / 2 * fig.dpi / 72
    for label in by_gid(fig, "label"):
        box = label.get_window_extent(renderer)
        nx = np.clip(centres[:, 0], box.x0, box.x1)
        ny = np.clip(centres[:, 1], box.y0, box.y1)
        assert np.hypot(centres[:, 0] - nx, centres[:, 1] - ny).min() >= radius - 0.5, (
            label.get_text()
        )


def test_labels_stay_inside_the_axes(bcg):
    fig = baujat_plot(bcg, label_top=13)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.axes[0].get_window_extent(renderer)
    for label in by_gid(fig, "label"):
        box = label.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, label.get_text()
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, label.get_text()


def test_draws_into_a_given_axes(bcg):
    fig, ax = plt.subplots()
    assert baujat_plot(bcg, ax=ax) is fig
    assert len(by_gid(fig, "studies")) == 1


def test_bad_input(bcg):
    with pytest.raises(
        InputError,
        match=r"needs the result of metareview\.rma\(\) or the "
        r"DataFrame from metareview\.baujat\(\); got list",
    ):
        baujat_plot([1, 2])
    with pytest.raises(InputError, match=r"the frame lacks 'y'"):
        baujat_plot(pd.DataFrame({"x": [1.0, 2.0]}))
    bad = baujat(bcg)
    bad.iloc[2, 1] = -1.0
    with pytest.raises(
        InputError,
        match=r"column 'y' must hold finite numbers >= 0.*"
        r"'Rosenthal et al 1960'",
    ):
        baujat_plot(bad)
    with pytest.raises(InputError, match=r"label_top must be a whole number >= 0; got -1"):
        baujat_plot(bcg, label_top=-1)
    with pytest.raises(InputError, match=r"label_top must be a whole number >= 0; got 2\.5"):
        baujat_plot(bcg, label_top=2.5)
