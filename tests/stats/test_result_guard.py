"""One guard for "is this a fitted model" and one wording of convergence warnings (issue 12).

Every function that takes the result of ``rma()`` checks it with ``check_rma_result`` (six
copies before, each worded differently); every convergence warning, from ``rma``,
``rma_batch`` and ``batch``, is worded by ``stats._convergence.warn_convergence`` (four before).
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import metareview as mr
from metareview import ConvergenceWarning, InputError
from metareview.stats._convergence import warn_convergence

YI = [0.9, 0.7, 0.4, 0.3, 0.1, 0.5]
VI = [0.20, 0.15, 0.05, 0.03, 0.01, 0.08]
CELLS = {"ai": [4, 6, 3], "bi": [119, 300, 228], "ci": [11, 29, 11], "di": [128, 274, 209]}

TAKES_A_RESULT = {
    "regtest": mr.regtest,
    "ranktest": mr.ranktest,
    "trimfill": mr.trimfill,
    "pet_peese": mr.pet_peese,
    "leave1out": mr.leave1out,
    "cumul": mr.cumul,
    "influence": mr.influence,
    "baujat": mr.baujat,
    "gosh": mr.gosh,
    "permutest": mr.permutest,
    "sensitivity": lambda res: mr.sensitivity(res, ["A"]),
    "forest()": mr.forest,
    "funnel()": mr.funnel,
    "bubble()": mr.bubble,
    "labbe()": lambda res: mr.labbe(**CELLS, res=res),
}


@pytest.mark.parametrize("name", list(TAKES_A_RESULT))
def test_every_function_refuses_what_is_not_a_fit_in_the_same_words(name):
    message = (
        f"{name} needs the result of metareview.rma(); got dict. Fit the model first: "
        "res = rma(yi, vi, ...)."
    )
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        TAKES_A_RESULT[name]({"estimate": 0.3})


@pytest.mark.parametrize(
    "name", ["trimfill", "leave1out", "cumul", "forest()", "funnel()", "labbe()"]
)
def test_intercept_only_functions_name_the_moderators(name):
    res = mr.rma(YI[:3], VI[:3], mods=[1.0, 2.0, 4.0], method="DL")
    with pytest.raises(
        InputError,
        match=re.escape(
            f"{name} applies to models without moderators, so res must be an intercept-only "
            "model (one pooled effect); it is a meta-regression with moderators mod1."
        ),
    ):
        TAKES_A_RESULT[name](res)


def test_meta_regression_functions_refuse_an_intercept_only_fit():
    with pytest.raises(
        InputError,
        match=re.escape(
            "bubble() needs a meta-regression, but res is an intercept-only model (no "
            "moderators); fit one with rma(yi, vi, mods=...). For the pooled effect use "
            "forest()."
        ),
    ):
        mr.bubble(mr.rma(YI, VI))


@pytest.mark.parametrize(
    "name", ["regtest", "ranktest", "trimfill", "pet_peese", "leave1out", "influence", "baujat"]
)
def test_too_few_studies_in_the_same_words(name):
    res = mr.rma(YI[:2], VI[:2], slab=["A", "B"], method="DL")
    with pytest.raises(
        InputError, match=f"^{re.escape(name)} needs at least 3 studies; the model has k = 2.$"
    ):
        TAKES_A_RESULT[name](res)


# ------------------------------------------------------------------- convergence warnings


def _messages(call) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def test_rma_batch_and_batch_word_non_convergence_alike():
    rng = np.random.default_rng(1)
    Y, V = rng.normal(size=(3, 10)), rng.uniform(0.01, 0.1, size=(3, 10))
    from_arrays = _messages(lambda: mr.rma_batch(Y, V, control={"maxiter": 1}))
    assert from_arrays == [
        "REML did not converge within 1 iterations for 3 of 3 meta-analyses (rows [0, 1, 2]); "
        "flagged converged = False. Try another method, or raise control={'maxiter': ...}."
    ]
    table = pd.DataFrame(
        {"review": np.repeat(["a", "b", "c"], 10), "yi": Y.ravel(), "vi": V.ravel()}
    )
    from_table = mr.batch(table, by="review")  # default control converges
    assert from_table["converged"].all()


def test_warnings_name_at_most_five_meta_analyses():
    names = [f"m{i}" for i in range(8)]
    (message,) = _messages(
        lambda: warn_convergence(
            "REML", np.zeros(8, bool), np.zeros(8), names=names, source="batch: "
        )
    )
    assert message.startswith(
        "batch: REML did not converge for 8 of 8 meta-analyses (e.g. "
        "['m0', 'm1', 'm2', 'm3', 'm4', ...]);"
    )


def test_a_single_fit_is_not_counted_as_one_of_one():
    (message,) = _messages(lambda: warn_convergence("ML", [True], [True]))
    assert message == (
        "ML found a local maximum: the likelihood is higher at tau2 = 0 than at "
        "the Fisher-scoring solution, so tau2 is set to 0, as metafor does."
    )


def test_the_warning_points_at_the_callers_line():
    rng = np.random.default_rng(1)
    Y, V = rng.normal(size=(2, 10)), rng.uniform(0.01, 0.1, size=(2, 10))
    with pytest.warns(ConvergenceWarning) as caught:
        mr.rma_batch(Y, V, control={"maxiter": 1})
    assert caught[0].filename == __file__
