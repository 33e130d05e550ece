"""nma() against metafor 3.8.1's contrast-based network model on dat.senn2013.

Fixture: tests/fixtures/metafor_nma.json from make_nma_fixtures.R, which fits the model exactly
as metadat's documentation of dat.senn2013 does (rma.mv(yi, V, mods = treatment indicators - 1,
random = ~ comp | study, rho = 1/2); REML, ML and the common-effect model), computes every
pairwise difference, the P-scores as that documentation does (Rücker & Schwarzer, 2015; the
documentation notes they differ slightly from the article's Table 3, which used netmeta's
DL-type tau2) and Q within designs from one common-effect model per design. netmeta itself is
not installed on the machine that made the fixture.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from metareview import InputError, NmaResult, nma
from tests.conftest import load_fixture

FIX = load_fixture("metafor_nma")
D = FIX["data"]
# Worst differences observed: tau2 2.8e-9 relative (metafor's nlminb at rel.tol 1e-12), effects
# 5.2e-10 absolute, se 2.9e-9 relative, P-scores 3.3e-10, pairwise se 3e-9; Q 1.6e-13.
RTOL = 1e-7
ATOL = 1e-8


def senn() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "studlab": D["studlab"],
            "treat1": D["treat1"],
            "treat2": D["treat2"],
            "yi": D["yi"],
            "vi": D["vi"],
        }
    )


def by_name(res: NmaResult, values: np.ndarray, names: list[str]) -> np.ndarray:
    return pd.Series(values, index=res.treatments)[names].to_numpy()


@pytest.mark.parametrize("method", ["REML", "ML", "EE"])
def test_nma_matches_metafor(method):
    ref = FIX[method]
    res = nma(senn(), V=np.asarray(D["V"]), reference="placebo", method=method)
    names = ref["treatments"]
    np.testing.assert_allclose(by_name(res, res.estimate, names), ref["beta"], atol=ATOL)
    np.testing.assert_allclose(by_name(res, res.se, names), ref["se"], rtol=RTOL)
    np.testing.assert_allclose(by_name(res, res.ci_lb, names), ref["ci_lb"], atol=ATOL)
    np.testing.assert_allclose(res.tau2, ref["tau2"], rtol=RTOL)
    np.testing.assert_allclose([res.QE, res.QEp], [ref["QE"], ref["QEp"]], rtol=1e-10)
    np.testing.assert_allclose(
        by_name(res, res.pscore, ref["pscore_names"]), ref["pscore"], atol=ATOL
    )
    pairs = res.pairs().set_index(["treat1", "treat2"])
    keys = list(zip(ref["pairs"]["treat1"], ref["pairs"]["treat2"], strict=True))
    np.testing.assert_allclose(pairs.loc[keys, "estimate"], ref["pairs"]["estimate"], atol=ATOL)
    np.testing.assert_allclose(pairs.loc[keys, "se"], ref["pairs"]["se"], rtol=RTOL)


def test_q_decomposition_matches_design_by_design_fits():
    res = nma(senn(), V=np.asarray(D["V"]), reference="placebo", method="EE")
    assert res.Q_within == pytest.approx(FIX["EE"]["Q_within"], rel=1e-10)
    assert res.df_within == FIX["EE"]["df_within"]
    assert res.df_QE == 27 - 9
    assert res.Q_between == pytest.approx(res.QE - res.Q_within)
    assert res.df_between == res.df_QE - res.df_within
    assert len(res.designs) == len(FIX["designs"])


def all_pairs() -> pd.DataFrame:
    """The same data in netmeta's format: the three-arm study gives all three comparisons
    (the third, acarbose vs metformin, from its two contrasts with placebo)."""
    df = senn()
    V = np.asarray(D["V"])
    study = df["studlab"].to_numpy()
    multi = [s for s in dict.fromkeys(study) if (study == s).sum() > 1]
    assert len(multi) == 1
    i, j = np.flatnonzero(study == multi[0])
    assert df.loc[i, "treat2"] == df.loc[j, "treat2"] == "placebo"
    extra = {
        "studlab": multi[0],
        "treat1": df.loc[i, "treat1"],
        "treat2": df.loc[j, "treat1"],
        "yi": df.loc[i, "yi"] - df.loc[j, "yi"],
        "vi": V[i, i] + V[j, j] - 2 * V[i, j],
    }
    return pd.concat([df, pd.DataFrame([extra])], ignore_index=True)


def test_all_pairs_input_gives_the_same_fit():
    ref = FIX["REML"]
    res = nma(all_pairs(), reference="placebo")
    np.testing.assert_allclose(
        by_name(res, res.estimate, ref["treatments"]), ref["beta"], atol=ATOL
    )
    np.testing.assert_allclose(res.tau2, ref["tau2"], rtol=RTOL)
    sei = all_pairs().assign(sei=lambda d: np.sqrt(d["vi"])).drop(columns="vi")
    res_se = nma(sei, sei="sei", reference="placebo")
    np.testing.assert_allclose(res_se.estimate, res.estimate, atol=1e-12)


def test_outputs():
    res = nma(senn(), V=np.asarray(D["V"]), reference="placebo")
    out = res.to_dict()
    json.dumps(out)
    assert out["reference"] == "placebo" and len(out["pscore"]) == 10
    league = res.league()
    assert league.shape == (10, 10)
    best = res.treatments[int(np.argmax(res.pscore))]
    assert league.index[0] == best and league.iloc[0, 0] == best
    text = res.summary()
    assert "Between designs" in text and "Reference treatment: placebo" in text
    assert res.table().loc["placebo", "estimate"] == 0
    # each (study, pair of its arms) once: 25 two-arm studies and one three-arm study
    assert res.edges["n_studies"].sum() == 25 + 3
    # small values bad: the P-scores mirror
    bad = nma(senn(), V=np.asarray(D["V"]), reference="placebo", small_values="bad")
    np.testing.assert_allclose(bad.pscore, 1 - res.pscore, atol=1e-12)


def test_bad_input_names_study_and_column():
    df = all_pairs()
    split = pd.DataFrame(
        {
            "studlab": ["a", "b", "c"],
            "treat1": ["A", "C", "A"],
            "treat2": ["B", "d", "b "],
            "yi": [0.1, 0.2, 0.3],
            "vi": [0.1, 0.1, 0.1],
        }
    )
    with pytest.raises(InputError, match=r"disconnected: 2 sub-networks \{A, B\}; \{C, d\}"):
        nma(split.iloc[:2])
    split.loc[2, "treat2"] = "c"
    with pytest.raises(InputError, match=r"differ only in case or spacing: 'C' / 'c'"):
        nma(split)
    bad = df.copy()
    last = len(bad) - 1
    bad.loc[last, "yi"] += 0.5
    with pytest.raises(
        InputError,
        match=r"multi-arm study .* inconsistent comparisons in column "
        r"'yi'",
    ):
        nma(bad)
    with pytest.raises(InputError, match=r"gives 2 of their 3 comparisons"):
        nma(df.iloc[:-1])
    with pytest.raises(InputError, match=r"name the same treatment at row 2"):
        nma(df.assign(treat1=lambda d: d["treat1"].where(d.index != 1, d["treat2"])))
    with pytest.raises(InputError, match=r"reference='plac' is not a treatment"):
        nma(df, reference="plac")
    with pytest.raises(InputError, match=r"studlab='study' is not a column"):
        nma(df, studlab="study")
    dup = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    with pytest.raises(InputError, match=r"compares metformin and sulfonylurea in more than one"):
        nma(dup)


# node-splitting: worst differences observed: tau2 of the split models 5.8e-7 relative (metafor
# stopped at rel.tol 1e-10 for seven of them), se 2.7e-7 relative, direct/indirect/diff 2e-8
# absolute (1.3e-6 relative on a diff of -0.012), p-values 1e-7 absolute.
RTOL_SPLIT = 5e-6


def test_netsplit_matches_metafor_split_models():
    res = nma(senn(), V=np.asarray(D["V"]), reference="placebo")
    ours = res.netsplit().set_index(["treat1", "treat2"])
    ref = pd.DataFrame(FIX["netsplit"]).set_index(["treat1", "treat2"])
    assert list(ours.index) == list(ref.index)
    assert (ours["k"] == ref["k"]).all()
    for key in (
        "tau2",
        "direct",
        "direct_se",
        "indirect",
        "indirect_se",
        "diff",
        "diff_se",
        "pval",
    ):
        np.testing.assert_allclose(ours[key], ref[key], rtol=RTOL_SPLIT, atol=1e-7, err_msg=key)
    # the three-arm study given as all pairs (no V): the same splits
    again = nma(all_pairs(), reference="placebo").netsplit().set_index(["treat1", "treat2"])
    np.testing.assert_allclose(again["diff"], ours["diff"], rtol=RTOL_SPLIT, atol=1e-7)
