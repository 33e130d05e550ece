"""GOSH plot: one mark per subset (points or hexagon counts), marginal histograms, highlight."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest

from metareview import ConvergenceWarning, InputError, gosh, rma
from metareview.plots import gosh_plot
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, overlapping_texts, texts, texts_outside_figure


@pytest.fixture(scope="module")
def small():
    """Six studies of dat.bcg: 63 subsets, drawn as points."""
    case = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z")
    res = rma(case["yi"][:6], case["vi"][:6], slab=case["slab"][:6], method="DL")
    return gosh(res)


@pytest.fixture(scope="module")
def bcg():
    """All 13 studies of dat.bcg: 8,191 subsets, drawn as hexagons."""
    case = next(c for c in load_fixture("metafor_rma")["cases"] if c["id"] == "bcg_RR_REML_z")
    res = rma(case["yi"], case["vi"], slab=case["slab"])
    with warnings.catch_warnings():
        # three subsets hit REML's boundary (tau2 = 0), as in metafor; not under test here
        warnings.simplefilter("ignore", ConvergenceWarning)
        return gosh(res)


def test_one_point_per_subset_at_i2_and_estimate(small):
    fig = gosh_plot(small)
    (points,) = by_gid(fig, "subsets-all")
    assert len(points.get_offsets()) == len(small.table) == 63
    assert_close(points.get_offsets(), small.table[["I2", "estimate"]].to_numpy())


def test_auto_draws_hexagons_for_many_subsets(bcg):
    fig = gosh_plot(bcg)
    (hexes,) = by_gid(fig, "subsets-hexbin")
    assert hexes.get_array().sum() == len(bcg.table) == 8191
    assert by_gid(fig, "subsets-all") == []
    assert len(by_gid(gosh_plot(bcg, kind="scatter"), "subsets-all")) == 1


def test_marginal_histograms_count_every_subset(small):
    fig = gosh_plot(small)
    for gid in ("hist-I2-all", "hist-estimate-all"):
        assert len(by_gid(fig, gid)) == 1
    top = next(ax for ax in fig.axes if by_gid(ax, "hist-I2-all"))
    assert top.get_xlim() == fig.axes[0].get_xlim()  # shares the I2 axis


def test_highlight_splits_subsets_by_inclusion(small):
    study = small.slab[3]
    fig = gosh_plot(small, highlight=study)
    with_ = by_gid(fig, "subsets-with")[0].get_offsets()
    without = by_gid(fig, "subsets-without")[0].get_offsets()
    mask = small.incl[:, 3]
    assert_close(with_, small.table.loc[mask, ["I2", "estimate"]].to_numpy())
    assert_close(without, small.table.loc[~mask, ["I2", "estimate"]].to_numpy())
    assert len(with_) == 32 and len(without) == 31
    legend = fig.axes[-1].get_legend()
    assert legend.get_title().get_text() == study
    assert [t.get_text() for t in legend.get_texts()] == ["Contains", "Does not contain"]


def test_labels_and_note(bcg, small):
    fig = gosh_plot(bcg, ylabel="Log risk ratio")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("I² (%)", "Log risk ratio")
    assert texts(fig, "gosh-note") == ["8,191 subsets (all)\nREML fits"]
    assert texts(gosh_plot(small), "gosh-note") == ["63 subsets (all)\nDL fits"]


@pytest.mark.parametrize("kind", ["scatter", "hexbin"])
def test_no_overlapping_texts(bcg, kind):
    fig = gosh_plot(bcg, kind=kind)
    assert overlapping_texts(fig) == []
    assert texts_outside_figure(fig) == []


def test_no_overlapping_texts_with_highlight(bcg):
    fig = gosh_plot(bcg, highlight="TPT Madras 1980")
    assert overlapping_texts(fig) == []
    assert texts_outside_figure(fig) == []


def test_draws_into_a_given_axes(small):
    fig, ax = plt.subplots(figsize=(6, 5))
    assert gosh_plot(small, ax=ax) is fig
    assert len(fig.axes) == 4  # scatter, two histograms, the corner note


def test_bad_input(small):
    with pytest.raises(
        InputError,
        match=r"needs the result of metareview\.gosh\(\); got "
        r"DataFrame",
    ):
        gosh_plot(small.table)
    with pytest.raises(InputError, match=r"kind must be one of auto, hexbin, scatter; got 'dots'"):
        gosh_plot(small, kind="dots")
    with pytest.raises(
        InputError,
        match=r"highlight must be one of the studies of the GOSH "
        r"fit \('Aronson 1948', .*got 'Nobody 2000'",
    ):
        gosh_plot(small, highlight="Nobody 2000")
    with pytest.raises(InputError, match=r"use kind='scatter'"):
        gosh_plot(small, kind="hexbin", highlight=small.slab[0])


def test_non_finite_subsets_are_left_out_and_counted(small):
    table = small.table.copy()
    table.loc[0, "I2"] = np.nan
    damaged = type(small)(
        table=table, incl=small.incl, exact=small.exact, slab=small.slab, method=small.method
    )
    fig = gosh_plot(damaged)
    assert len(by_gid(fig, "subsets-all")[0].get_offsets()) == 62
    assert texts(fig, "gosh-note") == ["62 subsets (all)\nDL fits\n1 not finite, left out"]
