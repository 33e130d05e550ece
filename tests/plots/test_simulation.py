"""Simulation-study dot plot: one row per scenario and method, MCSE bars, nominal line."""

from __future__ import annotations

import pytest
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from metareview import InputError, simulate
from metareview.plots import simulation_plot
from tests.plots.helpers import assert_close, by_gid, overlapping_texts


@pytest.fixture(scope="module")
def study():
    scenarios = {
        "k5": {"theta": 0.2, "tau2": 0.1, "k": 5},
        "k10": {"theta": 0.2, "tau2": 0.1, "k": 10},
    }
    return simulate(scenarios, ["DL", "REML+knha"], reps=400, seed=2, level=90)


def test_one_row_per_scenario_and_method_top_down(study):
    ax = simulation_plot(study, "coverage").axes[0]
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    top_down = [t.get_text() for t in ticks]
    assert top_down == ["k5: DL", "k5: REML+knha", "k10: DL", "k10: REML+knha"]


def test_points_and_bars_are_the_table_values(study):
    fig = simulation_plot(study, "bias")
    (points,) = [
        a for a in by_gid(fig, "estimates") if isinstance(a, Line2D) and a.get_marker() == "o"
    ]
    assert_close(points.get_xdata(), study.table["bias"])
    (bars,) = [a for a in by_gid(fig, "estimates") if isinstance(a, LineCollection)]
    widths = [seg[1][0] - seg[0][0] for seg in bars.get_segments()]
    assert_close(widths, 2 * 1.96 * study.table["bias_mcse"])
    assert by_gid(fig, "nominal") == []


def test_coverage_has_a_line_at_the_nominal_level(study):
    (line,) = by_gid(simulation_plot(study, "coverage"), "nominal")
    assert_close(line.get_xdata(), [0.90, 0.90])  # level=90, not a fixed 95%


def test_no_overlapping_texts(study):
    assert overlapping_texts(simulation_plot(study, "pi_coverage")) == []


def test_bad_input(study):
    with pytest.raises(InputError, match=r"simulation_plot\(\) needs the result of"):
        simulation_plot(study.table)
    with pytest.raises(InputError, match=r"measure must be one of bias, mse, coverage"):
        simulation_plot(study, "power")
    only_ee = simulate({"s": {"theta": 0.0, "tau2": 0.0, "k": 3}}, ["EE"], reps=20)
    with pytest.raises(InputError, match=r"no 'pi_coverage' column"):
        simulation_plot(only_ee, "pi_coverage")
