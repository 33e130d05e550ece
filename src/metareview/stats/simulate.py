"""Simulation studies of meta-analytic methods, as batches on the kernel: :func:`simulate`.

Each scenario draws ``reps`` meta-analyses at once from a random-effects model, every method
fits all of them in one :func:`rma_batch` call, and the result summarises bias, MSE, coverage
of confidence and prediction intervals and rejection rates, each with its Monte Carlo
standard error (Morris, White & Crowther, 2019, Stat. Med. 38, 2074,
https://doi.org/10.1002/sim.8086). Everything is seeded.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from metareview.exceptions import ConvergenceWarning, InputError
from metareview.stats.effects import escalc
from metareview.stats.kernel import METHODS, TESTS, rma_batch

__all__ = ["SimulationResult", "simulate"]

OUTCOMES = ("normal", "proportion")


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """Performance of each method in each scenario (one row per scenario x method)."""

    table: pd.DataFrame
    reps: int
    seed: int

    def plot(self, measure: str = "coverage"):
        """Dot plot of ``measure`` by method and scenario with +/- 1.96 MCSE bars."""
        import matplotlib.pyplot as plt

        from metareview.plots._style import OKABE_ITO

        fig, ax = plt.subplots(figsize=(6.5, 0.35 * len(self.table) + 1.2))
        labels = [f"{r.scenario}: {r.method}" for r in self.table.itertuples()]
        y = np.arange(len(labels))[::-1]
        ax.errorbar(self.table[measure], y, xerr=1.96 * self.table[f"{measure}_mcse"],
                    fmt="o", color=OKABE_ITO["blue"], ecolor="0.4", capsize=2)
        if measure == "coverage":
            ax.axvline(0.95, color="0.5", lw=0.8, ls="--")
        ax.set_yticks(y, labels)
        ax.set_xlabel(f"{measure} (+/- 1.96 Monte Carlo SE, {self.reps:,} reps)")
        fig.tight_layout()
        return fig


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


def _mean_and_se(x: np.ndarray) -> tuple[float, float]:
    x = x[np.isfinite(x)]
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(x.size))


def simulate(
    scenarios: Mapping[str, Mapping[str, Any]],
    methods: Sequence[str] = ("DL", "REML", "REML+knha"),
    *,
    reps: int = 1000,
    seed: int = 1,
    level: float = 95,
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
        Seed of the whole study (scenarios get independent streams).

    Returns
    -------
    SimulationResult
        ``table`` columns: scenario, method, bias, mse, coverage, pi_coverage, rejection
        (H0: effect = 0; type I error when theta = 0, power otherwise), mean_tau2, each with
        ``_mcse``, plus ``failed`` (non-converged fits, excluded) and ``tau2_reset`` (ML/REML
        fits where tau2 = 0 beat a local maximum, kept as metafor keeps them).

    Examples
    --------
    >>> out = simulate({"k5": {"theta": 0.0, "tau2": 0.1, "k": 5}}, ["DL"], reps=200, seed=3)
    >>> list(out.table.columns[:4])
    ['scenario', 'method', 'bias', 'bias_mcse']
    """
    if reps < 2:
        raise InputError(f"reps must be at least 2; got {reps}.")
    parsed = [(spec, *_parse_method(spec)) for spec in methods]
    streams = np.random.SeedSequence(seed).spawn(len(scenarios))
    rows = []
    for (name, scenario), stream in zip(scenarios.items(), streams, strict=True):
        missing = [key for key in ("theta", "tau2", "k") if key not in scenario]
        if missing:
            raise InputError(f"scenario {name!r} needs {', '.join(missing)}.")
        rng = np.random.default_rng(stream)
        Y, V = _draw(scenario, reps, rng)
        theta = float(scenario["theta"])
        for spec, method, test in parsed:
            with warnings.catch_warnings():  # counted in the table instead
                warnings.simplefilter("ignore", ConvergenceWarning)
                fit = rma_batch(Y, V, method=method, test=test, level=level, tau2_ci=False)
            ok = fit.converged
            est = np.where(ok, fit.estimate, np.nan)
            row: dict[str, Any] = {"scenario": name, "method": spec}
            metrics = {
                "bias": est - theta,
                "mse": (est - theta) ** 2,
                "coverage": ((fit.ci_lb[:, 0] <= theta)
                             & (theta <= fit.ci_ub[:, 0])).astype(float),
                "rejection": (fit.pval[:, 0] < 1 - level / 100).astype(float),
                "mean_tau2": fit.tau2,
            }
            if method != "EE":
                # a new study's true effect lies in the PI with probability = level
                new_effect = rng.normal(theta, np.sqrt(float(scenario["tau2"])), size=reps)
                metrics["pi_coverage"] = ((fit.pi_lb <= new_effect)
                                          & (new_effect <= fit.pi_ub)).astype(float)
            for key, values in metrics.items():
                row[key], row[f"{key}_mcse"] = _mean_and_se(np.where(ok, values, np.nan))
            row["failed"] = int((~ok).sum())
            row["tau2_reset"] = int(fit.tau2_reset.sum())
            rows.append(row)
    return SimulationResult(pd.DataFrame(rows), reps, seed)
