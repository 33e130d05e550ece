"""nma(method="DL") and P-scores against numbers PUBLISHED by netmeta's authors.

Source of every expected value: Balduzzi S, Rücker G, Nikolakopoulou A, Papakonstantinou T,
Salanti G, Efthimiou O, Schwarzer G (2023). netmeta: An R package for network meta-analysis
using frequentist methods. Journal of Statistical Software 106(2), 1-40.
doi:10.18637/jss.v106.i02 (netmeta's own vignette), section 5, printouts of netmeta's
random-effects model (its default tau2, the method of moments of Rücker 2012):

- Example 1 (Stowe et al. 2010, Parkinson's disease, mean difference in off-time; 29
  studies, one three-arm): ``print(net1)`` p. 19, ``netrank(net1)`` p. 22, the league table
  p. 24 and ``decomp.design(net1)`` p. 24.
- Example 3 (Baker et al. 2009, COPD exacerbations, odds ratio; 38 studies after DalNegro 2003
  is left out): ``print(net3)`` pp. 30-31 and ``netrank(net3)`` pp. 32-33.

- Example 1's ``netsplit(net1)`` p. 25 (back-calculation, netmeta's default) for
  ``NmaResult.netsplit(method="back-calculation")``.

The published numbers are rounded (2 or 4 decimals), so each check allows half a unit of the
last printed digit: ours must round to what is printed. The input is metadat's copy of the
same data turned into netmeta's pairwise format by tests/fixtures/make_nma_published_fixtures.R
(netmeta itself is not installed here). netmeta's league table is compared through the pairs:
our league cell is row minus column, netmeta's lower triangle column vs row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from metareview import InputError, nma
from tests.conftest import load_fixture

FIX = load_fixture("nma_published")


def data(name: str) -> pd.DataFrame:
    return pd.DataFrame(FIX[name])


def fit(name: str, method: str = "DL"):
    return nma(
        data(name), yi="TE", sei="seTE", studlab="studlab", reference="Placebo", method=method
    )


def rounds_to(ours, published, decimals: int) -> None:
    """``ours`` rounds to ``published`` at ``decimals`` (half a unit of the last digit)."""
    ours = np.asarray(ours, dtype=float)
    published = np.asarray(published, dtype=float)
    np.testing.assert_array_less(np.abs(ours - published), 0.5 * 10.0**-decimals + 1e-12)


# Example 1, print(net1): MD vs placebo [95% CI], z
STOWE_EFFECTS = {
    "COMTI": (-0.95, -1.27, -0.63, -5.79),
    "Dopamine Agonist": (-1.49, -1.86, -1.12, -7.88),
    "MAOBI": (-1.03, -1.56, -0.50, -3.81),
}
STOWE_PSCORES = {"Dopamine Agonist": 0.9677, "MAOBI": 0.5664, "COMTI": 0.4659, "Placebo": 0.0}
# league table, lower triangle: column treatment minus row treatment (random effects)
STOWE_LEAGUE = {
    ("Dopamine Agonist", "MAOBI"): -0.46,
    ("Dopamine Agonist", "COMTI"): -0.55,
    ("MAOBI", "COMTI"): -0.09,
    ("Dopamine Agonist", "Placebo"): -1.49,
    ("MAOBI", "Placebo"): -1.03,
    ("COMTI", "Placebo"): -0.95,
}


def test_stowe2010_random_effects_as_published():
    res = fit("stowe2010")
    assert res.n_studies == 29 and len(res.treatments) == 4 and len(res.designs) == 4
    rounds_to(res.tau2, 0.1518, 4)
    tab = res.table()
    for treat, (est, lb, ub, z) in STOWE_EFFECTS.items():
        rounds_to(tab.loc[treat, ["estimate", "ci_lb", "ci_ub"]], [est, lb, ub], 2)
        rounds_to(tab.loc[treat, "estimate"] / tab.loc[treat, "se"], z, 2)
    rounds_to(tab.loc[list(STOWE_PSCORES), "pscore"], list(STOWE_PSCORES.values()), 4)
    # the P-scores order the league table
    assert list(res.league().index) == list(STOWE_PSCORES)
    pairs = res.pairs().set_index(["treat1", "treat2"])
    rounds_to(pairs.loc[list(STOWE_LEAGUE), "estimate"], list(STOWE_LEAGUE.values()), 2)


@pytest.mark.parametrize("method", ["DL", "REML", "EE"])
def test_stowe2010_q_decomposition_as_published(method):
    # decomp.design(net1): the Q statistics come from the common-effect model, so every
    # method gives them
    res = fit("stowe2010", method)
    rounds_to([res.QE, res.Q_within, res.Q_between], [48.15, 46.91, 1.24], 2)
    assert (res.df_QE, res.df_within, res.df_between) == (27, 25, 2)
    rounds_to([res.QEp, res.Q_withinp, res.Q_betweenp], [0.0074, 0.0050, 0.5376], 4)


# Example 3, print(net3): OR vs placebo (95% CI), z
BAKER_EFFECTS = {
    "Budesonide": (0.80, 0.59, 1.10, -1.37),
    "Budesonide+Formoterol": (0.67, 0.49, 0.90, -2.63),
    "Fluticasone": (0.86, 0.75, 0.99, -2.05),
    "Fluticasone+Salmeterol": (0.75, 0.66, 0.86, -4.17),
    "Formoterol": (1.00, 0.80, 1.25, -0.00),
    "Salmeterol": (0.80, 0.72, 0.89, -4.06),
    "Tiotropium": (0.69, 0.61, 0.77, -6.39),
}
BAKER_PSCORES = {
    "Tiotropium": 0.8719,
    "Budesonide+Formoterol": 0.8539,
    "Fluticasone+Salmeterol": 0.6856,
    "Budesonide": 0.5199,
    "Salmeterol": 0.5162,
    "Fluticasone": 0.3523,
    "Formoterol": 0.1132,
    "Placebo": 0.0871,
}


def test_baker2009_random_effects_as_published():
    res = fit("baker2009")
    assert res.n_studies == 38 and len(res.treatments) == 8 and len(res.designs) == 13
    rounds_to(res.tau2, 0.0111, 4)
    tab = res.table()
    for treat, (est, lb, ub, z) in BAKER_EFFECTS.items():
        rounds_to(np.exp(tab.loc[treat, ["estimate", "ci_lb", "ci_ub"]]), [est, lb, ub], 2)
        rounds_to(tab.loc[treat, "estimate"] / tab.loc[treat, "se"], z, 2)
    rounds_to(tab.loc[list(BAKER_PSCORES), "pscore"], list(BAKER_PSCORES.values()), 4)
    rounds_to([res.QE, res.Q_within, res.Q_between], [60.86, 43.20, 17.66], 2)
    assert (res.df_QE, res.df_within, res.df_between) == (46, 34, 12)
    rounds_to([res.QEp, res.Q_withinp, res.Q_betweenp], [0.0700, 0.1340, 0.1264], 4)


def test_dl_differs_from_reml_and_netsplit_runs():
    """The estimator matters here (REML's tau2 is not netmeta's), and node-splitting works
    with DL (tau2 re-estimated by the same method in each split model)."""
    dl, reml = fit("stowe2010"), fit("stowe2010", "REML")
    assert abs(dl.tau2 - reml.tau2) > 1e-3
    split = dl.netsplit()
    # only COMTI vs MAOBI has indirect evidence once the three-arm LARGO study is on the
    # direct side (Dias et al. 2010); netmeta's back-calculation splits differently
    assert list(zip(split["treat1"], split["treat2"], strict=True)) == [("COMTI", "MAOBI")]
    assert np.isfinite(split[["direct", "indirect", "diff_se"]].to_numpy()).all()


# Example 1, netsplit(net1): comparison, k, prop, nma, direct, indirect, diff, z, p
STOWE_NETSPLIT = [
    ("COMTI", "MAOBI", 1, 0.44, 0.09, -0.02, 0.17, -0.19, -0.33, 0.7450),
    ("COMTI", "Placebo", 12, 0.98, -0.95, -0.93, -1.65, 0.72, 0.66, 0.5071),
    ("MAOBI", "Placebo", 3, 0.90, -1.03, -1.03, -1.08, 0.05, 0.06, 0.9544),
]


def test_stowe2010_back_calculation_as_published():
    split = fit("stowe2010").netsplit(method="back-calculation")
    assert list(zip(split["treat1"], split["treat2"], strict=True)) == [
        (a, b) for a, b, *_ in STOWE_NETSPLIT
    ]
    for (_, row), (_, _, k, prop, net, direct, indirect, diff, z, p) in zip(
        split.iterrows(), STOWE_NETSPLIT, strict=True
    ):
        assert row["k"] == k
        rounds_to(
            row[["prop", "network", "direct", "indirect", "diff", "zval"]],
            [prop, net, direct, indirect, diff, z],
            2,
        )
        rounds_to(row["pval"], p, 4)
    with pytest.raises(InputError, match="method must be one of node-splitting"):
        fit("stowe2010").netsplit(method="SIDE")
