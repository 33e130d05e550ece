"""Simulation studies of meta-analytic methods, as batches on the kernel: :func:`simulate`.

Each scenario draws ``reps`` meta-analyses from a random-effects model in seeded blocks of
``block_reps``, every method fits a whole block in one :func:`rma_batch` call, and the result
summarises bias, MSE, coverage of confidence and prediction intervals and rejection rates,
each with its Monte Carlo standard error (Morris, White & Crowther, 2019, Stat. Med. 38, 2074,
https://doi.org/10.1002/sim.8086). Everything is seeded: block b of scenario s draws from
``SeedSequence(seed).spawn(n_scenarios)[s].spawn(n_blocks)[b]``, and blocks are combined by
their counts, means and sums of squares in block order, so the numbers depend on ``seed`` and
``block_reps`` only, never on where the blocks ran (in memory, or on Dask with
``scheduler=``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metareview._validation import REPS, REPS_PER_BLOCK, SCENARIO, SEED, check_level
from metareview.exceptions import ConvergenceWarning, InputError
from metareview.stats._dask import compute_blocks
from metareview.stats.effects import escalc
from metareview.stats.kernel import METHODS, TESTS, rma_batch

__all__ = ["SimulationResult", "simulate"]

OUTCOMES = ("normal", "proportion")
#: replications per seeded block: the unit of memory and of parallel work
BLOCK_REPS = 10_000


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Performance of each method in each scenario (one row per scenario x method).

    Draw it with :func:`metareview.plots.simulation_plot` (``simulation_plot(result,
    "coverage")``): the statistics layer draws nothing.

    Attributes
    ----------
    table : DataFrame
        One row per scenario and method (columns as :func:`simulate` lists them).
    reps : int
        Meta-analyses per scenario.
    seed : int
        Seed of the whole study.
    level : float
        Confidence level (percent) of the intervals whose coverage was measured.
    """

    table: pd.DataFrame
    reps: int
    seed: int
    level: float = 95


def _parse_method(spec: str) -> tuple[str, str]:
    method, _, test = spec.partition("+")
    return METHODS.check(method), TESTS.check(test or "z")


def _draw(scenario: Mapping[str, Any], reps: int, rng: np.random.Generator):
    k = int(scenario["k"])
    theta, tau2 = float(scenario["theta"]), float(scenario["tau2"])
    outcome = scenario.get("outcome", "normal")
    true_effects = rng.normal(theta, np.sqrt(tau2), size=(reps, k))
    if outcome == "normal":
        lo, hi = scenario.get("vi", (0.01, 0.1))
        V = rng.uniform(lo, hi, size=(reps, k))
        return rng.normal(true_effects, np.sqrt(V)), V
    if outcome == "proportion":  # theta, tau2 on the logit scale; counts from Binomial(n, p)
        lo, hi = scenario.get("n", (20, 100))
        n = rng.integers(lo, hi + 1, size=(reps, k))
        x = rng.binomial(n, 1 / (1 + np.exp(-true_effects)))
        es = escalc("PLO", xi=x.ravel(), ni=n.ravel())
        return es["yi"].to_numpy().reshape(reps, k), es["vi"].to_numpy().reshape(reps, k)
    raise InputError(f"scenario outcome must be one of {OUTCOMES}; got {outcome!r}.")


def _check_scenario(name: str, scenario: Mapping[str, Any]) -> None:
    """A scenario's keys and numbers, each in its range (``SCENARIO`` in _validation)."""
    missing = [key for key in ("theta", "tau2", "k") if key not in scenario]
    if missing:
        raise InputError(f"scenario {name!r} needs {', '.join(missing)}.")
    outcome = scenario.get("outcome", "normal")
    if outcome not in OUTCOMES:
        raise InputError(f"scenario outcome must be one of {OUTCOMES}; got {outcome!r}.")
    for key in ("theta", "tau2", "k"):
        SCENARIO[key].check(scenario[key], f"scenario {name!r}: {key}")
    bounds = "vi" if outcome == "normal" else "n"
    if bounds in scenario:
        pair = scenario[bounds]
        if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
            raise InputError(
                f"scenario {name!r}: {bounds} must be a pair (low, high); got {pair!r}."
            )
        low, high = (SCENARIO[bounds].check(v, f"scenario {name!r}: {bounds}") for v in pair)
        if low > high:
            raise InputError(
                f"scenario {name!r}: {bounds} must be (low, high) with low <= high; got {pair!r}."
            )


def _moments(x: np.ndarray) -> tuple[float, float, float]:
    """Count, mean and sum of squared deviations of the finite values of ``x``."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return 0.0, 0.0, 0.0
    mean = x.mean()
    return float(x.size), float(mean), float(((x - mean) ** 2).sum())


def _pool_moments(blocks: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Combine per-block (count, mean, M2) triples in block order (Chan, Golub & LeVeque,
    1983, Am. Stat. 37, 242, https://doi.org/10.1080/00031305.1983.10483115)."""
    n, mean, m2 = 0.0, 0.0, 0.0
    for nb, mb, m2b in blocks:
        if n == 0:
            n, mean, m2 = float(nb), float(mb), float(m2b)
        elif nb > 0:
            total = n + nb
            delta = mb - mean
            mean += delta * nb / total
            m2 += m2b + delta**2 * n * nb / total
            n = total
    return n, mean, m2


def _mean_and_se(n: float, mean: float, m2: float) -> tuple[float, float]:
    if n < 2:
        return (mean if n else np.nan), np.nan
    return float(mean), float(np.sqrt(m2 / (n - 1)) / np.sqrt(n))


#: metrics of each fit, in the order of the table's columns
METRICS = ("bias", "mse", "coverage", "rejection", "mean_tau2", "pi_coverage")


def _simulate_block(
    scenario: Mapping[str, Any],
    parsed: Sequence[tuple[str, str, str]],
    reps: int,
    level: float,
    seed: np.random.SeedSequence,
) -> np.ndarray:
    """One block of one scenario: (methods, 3 x metrics + 2) array of per-metric (count,
    mean, M2), then failed and tau2_reset counts. NaN/0 count where a metric does not apply.
    """
    rng = np.random.default_rng(seed)
    Y, V = _draw(scenario, reps, rng)
    theta = float(scenario["theta"])
    out = np.zeros((len(parsed), 3 * len(METRICS) + 2))
    for row, (_, method, test) in enumerate(parsed):
        with warnings.catch_warnings():  # counted in the table instead
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit = rma_batch(Y, V, method=method, test=test, level=level, tau2_ci=False)
        ok = fit.converged
        est = np.where(ok, fit.estimate, np.nan)
        metrics = {
            "bias": est - theta,
            "mse": (est - theta) ** 2,
            "coverage": ((fit.ci_lb[:, 0] <= theta) & (theta <= fit.ci_ub[:, 0])).astype(float),
            "rejection": (fit.pval[:, 0] < 1 - level / 100).astype(float),
            "mean_tau2": fit.tau2,
        }
        if method != "EE":
            # a new study's true effect lies in the PI with probability = level
            new_effect = rng.normal(theta, np.sqrt(float(scenario["tau2"])), size=reps)
            metrics["pi_coverage"] = ((fit.pi_lb <= new_effect) & (new_effect <= fit.pi_ub)).astype(
                float
            )
        for j, key in enumerate(METRICS):
            if key in metrics:
                out[row, 3 * j : 3 * j + 3] = _moments(np.where(ok, metrics[key], np.nan))
        out[row, -2] = (~ok).sum()
        out[row, -1] = fit.tau2_reset.sum()
    return out


def simulate(
    scenarios: Mapping[str, Mapping[str, Any]],
    methods: Sequence[str] = ("DL", "REML", "REML+knha"),
    *,
    reps: int = 1000,
    seed: int = 1,
    level: float = 95,
    block_reps: int = BLOCK_REPS,
    scheduler: Any = None,
) -> SimulationResult:
    """Compare methods by simulation.

    Parameters
    ----------
    scenarios : mapping of name -> scenario
        Each scenario: ``theta`` (true mean effect), ``tau2``, ``k``, and the outcome model:
        ``outcome="normal"`` (default) with ``vi=(low, high)`` (sampling variances drawn
        uniformly), or ``outcome="proportion"`` with ``n=(low, high)`` (study sizes; events
        from a binomial with logit-normal probabilities; analysed as PLO with metafor's 0.5
        correction; ``theta``/``tau2`` on the logit scale).
    methods : sequence of str
        Estimator, optionally with "+knha": "DL", "REML", "REML+knha", "PM", ...
    reps : int
        Meta-analyses per scenario.
    seed : int
        Seed of the whole study (scenarios and blocks get independent streams).
    level : float
        Confidence level (percent) of the intervals whose coverage is measured.
    block_reps : int
        Replications per seeded block (memory is about ``block_reps x k`` floats per
        array). Results depend on it, as on ``seed``.
    scheduler : optional
        Run the blocks as Dask tasks (needs ``pip install 'metareview[dask]'``): a
        ``distributed.Client``, a cluster object, an address such as
        ``"tcp://scheduler:8786"``, or ``"threads"``/``"processes"``/``"synchronous"``.
        The result is identical to the in-memory run (``None``, the default).

    Returns
    -------
    SimulationResult
        ``table`` columns: scenario, method, bias, mse, coverage, pi_coverage, rejection
        (H0: effect = 0; type I error when theta = 0, power otherwise), mean_tau2, each with
        ``_mcse``, plus ``failed`` (non-converged fits, excluded) and ``tau2_reset`` (ML/REML
        fits where tau2 = 0 beat a local maximum, kept as metafor keeps them).

    See Also
    --------
    metareview.plots.simulation_plot : draws one measure of the result, with its MCSE.

    Examples
    --------
    >>> out = simulate({"k5": {"theta": 0.0, "tau2": 0.1, "k": 5}}, ["DL"], reps=200, seed=3)
    >>> list(out.table.columns[:4])
    ['scenario', 'method', 'bias', 'bias_mcse']

    .. versionchanged:: 0.1.0
       Draws are made in seeded blocks of ``block_reps`` (for Dask); for a given seed the
       numbers differ from the earlier single-stream draws.
    """
    reps, block_reps = REPS.check(reps), REPS_PER_BLOCK.check(block_reps)
    seed = SEED.check(seed)
    level = 100 * check_level(level)  # percent, also when given as a proportion
    parsed = [(spec, *_parse_method(spec)) for spec in methods]
    for name, scenario in scenarios.items():
        _check_scenario(name, scenario)
    sizes = [block_reps] * (reps // block_reps) + ([reps % block_reps] if reps % block_reps else [])
    streams = np.random.SeedSequence(seed).spawn(len(scenarios))
    tasks = [
        (dict(scenario), parsed, size, level, block_seed)
        for scenario, stream in zip(scenarios.values(), streams, strict=True)
        for size, block_seed in zip(sizes, stream.spawn(len(sizes)), strict=True)
    ]
    if scheduler is None:
        blocks = [_simulate_block(*task) for task in tasks]
    else:
        blocks = compute_blocks(_simulate_block, tasks, scheduler)
    rows = []
    for index, name in enumerate(scenarios):
        mine = blocks[index * len(sizes) : (index + 1) * len(sizes)]
        for m, (spec, method, _) in enumerate(parsed):
            row: dict[str, Any] = {"scenario": name, "method": spec}
            for j, key in enumerate(METRICS):
                if key == "pi_coverage" and method == "EE":
                    continue
                pooled = _pool_moments([block[m, 3 * j : 3 * j + 3] for block in mine])
                row[key], row[f"{key}_mcse"] = _mean_and_se(*pooled)
            row["failed"] = int(sum(block[m, -2] for block in mine))
            row["tau2_reset"] = int(sum(block[m, -1] for block in mine))
            rows.append(row)
    return SimulationResult(pd.DataFrame(rows), reps, seed, level)
