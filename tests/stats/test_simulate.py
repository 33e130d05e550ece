"""Simulation studies: seeded, and right where theory says what the answer is.

- With equal within-study variances the Hartung-Knapp-Sidik-Jonkman interval is an exact
  one-sample t interval, so its coverage must be 95% up to Monte Carlo error.
- With tau2 = 0 and known variances the equal-effects z interval is exact too.
- DerSimonian-Laird with k = 5 heterogeneous studies under-covers (IntHout, Ioannidis & Borm,
  2014, BMC Med. Res. Methodol. 14:25, https://doi.org/10.1186/1471-2288-14-25; Langan et al.,
  2019, Res. Synth. Methods 10, 83).
"""

from __future__ import annotations

import pandas as pd
import pytest

from metareview import InputError, simulate

REPS = 20_000


def _row(out, scenario, method):
    table = out.table.set_index(["scenario", "method"])
    return table.loc[(scenario, method)]


def test_exact_intervals_cover_at_the_nominal_level():
    out = simulate(
        {
            "equal_vi": {"theta": 0.3, "tau2": 0.1, "k": 5, "vi": (0.05, 0.05)},
            "homogeneous": {"theta": 0.0, "tau2": 0.0, "k": 8},
        },
        ["REML+knha", "EE"],
        reps=REPS,
        seed=11,
    )
    hksj = _row(out, "equal_vi", "REML+knha")
    assert abs(hksj["coverage"] - 0.95) < 3 * hksj["coverage_mcse"]
    ee = _row(out, "homogeneous", "EE")
    assert abs(ee["coverage"] - 0.95) < 3 * ee["coverage_mcse"]
    assert abs(ee["rejection"] - 0.05) < 3 * ee["rejection_mcse"]  # type I error
    assert abs(ee["bias"]) < 3 * ee["bias_mcse"]


def test_dl_under_covers_with_few_heterogeneous_studies():
    out = simulate(
        {"k5": {"theta": 0.3, "tau2": 0.1, "k": 5}}, ["DL", "REML+knha"], reps=REPS, seed=12
    )
    dl, hksj = _row(out, "k5", "DL"), _row(out, "k5", "REML+knha")
    assert dl["coverage"] + 3 * dl["coverage_mcse"] < 0.93
    assert hksj["coverage"] > dl["coverage"]


def test_seeded_and_reproducible():
    scenarios = {"prop": {"theta": 0.5, "tau2": 0.2, "k": 10, "outcome": "proportion"}}
    first = simulate(scenarios, ["DL", "PM"], reps=300, seed=5)
    again = simulate(scenarios, ["DL", "PM"], reps=300, seed=5)
    pd.testing.assert_frame_equal(first.table, again.table)


def test_bad_scenarios():
    with pytest.raises(InputError, match="scenario 'x' needs tau2, k"):
        simulate({"x": {"theta": 0.1}}, ["DL"], reps=10)
    with pytest.raises(InputError, match="method must be one of"):
        simulate({"x": {"theta": 0.1, "tau2": 0.1, "k": 3}}, ["XX"], reps=10)
