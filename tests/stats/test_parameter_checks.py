"""Every public numeric parameter is checked against its declared range (issue 12).

The ranges are data (``Interval`` in ``metareview._validation``); a value outside gets an
InputError naming the argument, the value and the allowed range, never a silent run nor a
numpy traceback. Before: ``pet_peese(alpha=2)`` and ``fsn(alpha=1.5)`` ran silently,
``permutest(iter=0)`` and ``control={"threshold": "a"}`` ended in numpy tracebacks.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview import InputError
from metareview._validation import Interval, check_level
from metareview.stats import Control

YI = [0.9, 0.7, 0.4, 0.3, 0.1, 0.5]
VI = [0.20, 0.15, 0.05, 0.03, 0.01, 0.08]


@pytest.fixture(scope="module")
def res():
    return mr.rma(YI, VI, method="DL")


def _raises(message: str):
    return pytest.raises(InputError, match=re.escape(message))


# ------------------------------------------------------------------------ the Interval type


@pytest.mark.parametrize(
    ("closed", "inside", "outside"),
    [
        ("both", [0, 0.5, 1], [-0.1, 1.1]),
        ("left", [0, 0.5], [1, -0.1]),
        ("right", [0.5, 1], [0, 1.1]),
        ("neither", [0.5], [0, 1]),
    ],
)
def test_interval_ends(closed, inside, outside):
    interval = Interval("x", 0, 1, closed=closed)
    for value in inside:
        assert interval.check(value) == value
    for value in outside:
        with pytest.raises(InputError, match=r"^x must be a number in [\[(]0, 1[\])]; got "):
            interval.check(value)


@pytest.mark.parametrize("value", [True, "0.5", None, [0.5], np.nan, np.inf, 1 + 0j])
def test_interval_refuses_what_is_not_a_real_number(value):
    with pytest.raises(InputError, match=r"x must be a number in \(0, 1\); got "):
        Interval("x", 0, 1, closed="neither").check(value)


def test_integer_interval_takes_whole_floats_and_numpy_integers():
    iterations = Interval("iter", 1, None, integer=True)
    assert iterations.check(np.int64(5)) == 5 and isinstance(iterations.check(5.0), int)
    with _raises("iter must be an integer >= 1; got 2.5."):
        iterations.check(2.5)


def test_open_ended_descriptions():
    assert Interval("a", None, 3, closed="neither").describe() == "a number < 3"
    assert Interval("a", 0, None, closed="neither").describe() == "a number > 0"
    assert Interval("a").describe() == "a finite number"


def test_closed_must_be_known():
    with pytest.raises(ValueError, match="closed must be"):
        Interval("a", 0, 1, closed="open")


# ------------------------------------------------------------ the four examples


def test_pet_peese_alpha(res):
    with _raises("alpha must be a number in (0, 1); got 2."):
        mr.pet_peese(res, alpha=2)


def test_fsn_alpha():
    with _raises("alpha must be a number in (0, 1); got 1.5."):
        mr.fsn(YI, VI, alpha=1.5)


def test_permutest_iter(res):
    with _raises("iter must be an integer >= 1; got 0."):
        mr.permutest(res, iter=0)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("threshold", "a", "control['threshold'] must be a number > 0; got 'a'."),
        ("threshold", 0, "control['threshold'] must be a number > 0; got 0."),
        ("maxiter", 0, "control['maxiter'] must be an integer >= 1; got 0."),
        ("maxiter", 2.5, "control['maxiter'] must be an integer >= 1; got 2.5."),
        ("root_tol", -1e-12, "control['root_tol'] must be a number > 0; got -1e-12."),
        ("ll0_tol", np.nan, "control['ll0_tol'] must be a number >= 0; got nan."),
    ],
)
def test_control_settings(setting, value, message):
    with _raises(message):
        mr.rma(YI, VI, control={setting: value})
    with _raises(message):
        mr.rma_batch([YI], [VI], control={setting: value})
    with _raises(message):
        Control(**{setting: value})


def test_control_unknown_setting_is_named():
    with _raises("control has unknown settings ['tol']"):
        mr.rma(YI, VI, control={"tol": 1e-5})


# ------------------------------------------------------------------- the other parameters


@pytest.mark.parametrize("level", [0, 100, 150, -5, "95", True, np.nan])
def test_level_everywhere(res, level):
    message = (
        f"level must lie strictly between 0 and 100 (a percentage such as 95, or a "
        f"proportion such as 0.95 below 1); got {level!r}."
    )
    with _raises(message):
        mr.rma(YI, VI, level=level)
    with _raises(message):
        mr.rma_batch([YI], [VI], level=level)
    with _raises(message):
        mr.batch(pd.DataFrame({"g": ["a"] * 6, "yi": YI, "vi": VI}), by="g", level=level)
    with _raises(message):
        check_level(level)


def test_level_as_percent_or_proportion():
    assert check_level(95) == check_level(0.95) == 0.95


@pytest.mark.parametrize("maxiter", [0, -1, 1.5, "100"])
def test_trimfill_maxiter(res, maxiter):
    with _raises(f"maxiter must be an integer >= 1; got {maxiter!r}."):
        mr.trimfill(res, maxiter=maxiter)


@pytest.mark.parametrize("target", ["a", np.nan, np.inf])
def test_fsn_target(target):
    with _raises(f"target must be a finite number; got {target!r}."):
        mr.fsn(YI, VI, type="Orwin", target=target)


@pytest.mark.parametrize("subsets", [0, -3, 2.5, "10"])
def test_gosh_subsets(res, subsets):
    with _raises(f"subsets must be an integer >= 1; got {subsets!r}."):
        mr.gosh(res, subsets=subsets)


@pytest.mark.parametrize("seed", [-1, 1.5, "abc"])
def test_seeds(res, seed):
    message = f"seed must be an integer >= 0; got {seed!r}."
    with _raises(message):
        mr.gosh(res, subsets=10, seed=seed)
    with _raises(message):
        mr.permutest(res, iter=10, seed=seed)
    with _raises(message):
        mr.simulate({"s": {"theta": 0, "tau2": 0.1, "k": 5}}, ["DL"], reps=10, seed=seed)


@pytest.mark.parametrize("add", [-0.5, "0.5", np.nan])
def test_escalc_add(add):
    with _raises(f"add must be a number >= 0; got {add!r}."):
        mr.escalc("PLO", xi=[0, 3], ni=[10, 10], add=add)


@pytest.mark.parametrize(("option", "value"), [("chunk_rows", 0), ("threads", 0), ("threads", 1.5)])
def test_batch_sizes(option, value):
    data = pd.DataFrame({"g": ["a"] * 6, "yi": YI, "vi": VI})
    with _raises(f"{option} must be an integer >= 1; got {value!r}."):
        mr.batch(data, by="g", **{option: value})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reps": 1}, "reps must be an integer >= 2; got 1."),
        ({"block_reps": 0}, "block_reps must be an integer >= 1; got 0."),
    ],
)
def test_simulate_sizes(kwargs, message):
    with _raises(message):
        mr.simulate({"s": {"theta": 0, "tau2": 0.1, "k": 5}}, ["DL"], **kwargs)


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"theta": 0, "tau2": -0.1, "k": 5}, "scenario 's': tau2 must be a number >= 0; got -0.1."),
        ({"theta": 0, "tau2": 0.1, "k": 1}, "scenario 's': k must be an integer >= 2; got 1."),
        ({"theta": "x", "tau2": 0.1, "k": 5}, "scenario 's': theta must be a finite number; got"),
        (
            {"theta": 0, "tau2": 0.1, "k": 5, "vi": (0, 0.1)},
            "scenario 's': vi must be a number > 0; got 0.",
        ),
        (
            {"theta": 0, "tau2": 0.1, "k": 5, "vi": (0.2, 0.1)},
            "scenario 's': vi must be (low, high) with low <= high; got (0.2, 0.1).",
        ),
        (
            {"theta": 0, "tau2": 0.1, "k": 5, "outcome": "proportion", "n": 50},
            "scenario 's': n must be a pair (low, high); got 50.",
        ),
    ],
)
def test_simulate_scenarios(scenario, message):
    with _raises(message):
        mr.simulate({"s": scenario}, ["DL"], reps=10)


def test_simulate_level_as_a_proportion_is_the_same_level():
    """Bug: level=0.95 counted p < 1 - 0.95/100 as a rejection, so the rejection rate was ~1."""
    scenario = {"s": {"theta": 0.0, "tau2": 0.05, "k": 8}}
    as_percent = mr.simulate(scenario, ["DL"], reps=400, seed=5, level=95).table
    as_proportion = mr.simulate(scenario, ["DL"], reps=400, seed=5, level=0.95).table
    pd.testing.assert_frame_equal(as_percent, as_proportion)
    assert as_proportion["rejection"].iloc[0] < 0.2


@pytest.mark.parametrize("digits", [-1, 2.5, 99, "2"])
def test_figure_digits(res, digits):
    with _raises(f"digits must be an integer in [0, 15]; got {digits!r}."):
        mr.forest(res, digits=digits)


def test_one_assumed_pre_post_correlation_for_every_study():
    cells = {
        "m1i": [5.0, 6.0, 4.0],
        "m2i": [3.0, 4.0, 3.5],
        "sd1i": [2.0, 2.5, 1.5],
        "ni": [20, 30, 25],
    }
    one = mr.escalc("SMCR", **cells, ri=0.5)
    each = mr.escalc("SMCR", **cells, ri=[0.5, 0.5, 0.5])
    pd.testing.assert_frame_equal(one, each)


@pytest.mark.parametrize("r", [1.5, -2, True, np.nan])
def test_assumed_correlation_out_of_range(r):
    with _raises(f"ri must be a number in [-1, 1]; got {r!r}."):
        mr.escalc("SMCR", m1i=[5.0, 6.0], m2i=[3.0, 4.0], sd1i=[2.0, 2.5], ni=[20, 30], ri=r)


@pytest.mark.parametrize("newmods", ["a", [np.nan], [[1.0, "x"]]])
def test_predict_newmods_must_be_numbers(newmods):
    fit = mr.rma(YI, VI, mods=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], method="DL")
    with _raises("newmods must be finite numbers, one per moderator (mod1) in each row; got"):
        fit.predict(newmods=newmods)


def test_sensitivity_mask_of_the_wrong_length():
    fit = mr.rma(YI, VI, slab=list("ABCDEF"), method="DL")
    with _raises(
        "sensitivity: exclude as a mask needs one True/False per study (6); got shape (2,)."
    ):
        mr.sensitivity(fit, np.array([True, False]))


# ------------------------------------------------- other arguments that ended in tracebacks


def test_moderators_of_the_wrong_length():
    with _raises("mods must have one row per study (6); got an array of shape (3,)."):
        mr.rma(YI, VI, mods=[1, 2, 3])


def test_non_numeric_moderator_names_the_row():
    with pytest.raises(InputError, match=r"mods\['mod1'\] must be numeric; got 'x' at row 2"):
        mr.rma(YI, VI, mods=[1, "x", 3, 4, 5, 6])


@pytest.mark.parametrize("kind", ["Rosenthal", "Rosenberg"])
def test_fsn_needs_positive_variances(kind):
    with _raises(
        f"vi must be > 0 (sampling variances) for fsn type {kind!r}; violated at "
        "row 2 (study 'Study 2')."
    ):
        mr.fsn(YI, [0.2, -0.1, 0.05, 0.03, 0.01, 0.08], type=kind)


@pytest.mark.parametrize("function", [mr.gosh, mr.permutest])
def test_progress_must_be_callable(res, function):
    with _raises("progress must be a function called as progress(done, total), or None; got int."):
        function(res, progress=3)


@pytest.mark.parametrize("names", [("yi",), ("y", "y"), "yv", ("y", 2)])
def test_escalc_var_names(names):
    with _raises(
        f"var_names must be two different column names, e.g. ('yi', 'vi'); got {names!r}."
    ):
        mr.escalc("PLO", xi=[4, 10], ni=[20, 40], var_names=names)


def test_kappa_needs_two_sequences():
    with _raises(
        "cohen_kappa: second must be a sequence of ratings, one per record; got NoneType."
    ):
        mr.cohen_kappa(["y", "n"], None)
