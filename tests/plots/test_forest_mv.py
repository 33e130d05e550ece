"""Forest plot of a multilevel fit (rma_mv): effect sizes grouped by study, each study's own
pooled estimate, the model's diamond; every number read from the MvResult (whose weights and
aggregate() are checked against metafor in tests/stats/test_mv_weights_aggregate.py).

Data: dat.assink2016 (three-level, 100 effect sizes in 17 studies) from
tests/fixtures/metafor_mv_forest.json.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Polygon

from metareview import InputError, rma_mv
from metareview.plots import forest
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, effect_text, overlapping_texts, texts

FIX = load_fixture("metafor_mv_forest")


@pytest.fixture(scope="module")
def assink():
    a = FIX["assink"]
    d = pd.DataFrame({k: a[k] for k in ("yi", "vi", "study", "esid")})
    d["label"] = "ES " + d["esid"]
    res = rma_mv("yi", "vi", random="~ 1 | study/esid", data=d, slab="label")
    return d, res


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_effect_sizes_grouped_by_study_with_study_diamonds(assink):
    d, res = assink
    group = "Study " + d["study"]
    fig = forest(res, group=group, measure="SMD")
    studies = list(dict.fromkeys(group))
    assert texts(fig, "label-group") == studies
    # every effect size once, study by study in the data's order
    order = np.concatenate([np.flatnonzero(group.to_numpy() == s) for s in studies])
    assert texts(fig, "label") == [res.slab[i] for i in order]
    table = res.study_table()
    assert texts(fig, "effect") == [
        effect_text(*table.iloc[i][["yi", "ci_lb", "ci_ub"]]) for i in order
    ]
    w = res.weights()
    assert texts(fig, "weight") == [f"{w[i]:.1f}%" for i in order]
    (squares,) = by_gid(fig, "studies")
    sizes = squares.get_sizes()
    assert_close(sizes / sizes.max(), w[order] / w.max(), 1e-9)
    # a diamond per study with more than one effect size, then the model's
    agg = res.aggregate(group)
    several = agg[agg["k"] > 1]
    diamonds = [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]
    assert len(diamonds) == len(several) + 1
    for diamond, (_, row) in zip(diamonds, several.iterrows(), strict=False):
        xy = diamond.get_xy()
        assert_close([xy[:, 0].min(), xy[:, 0].max()], [row["ci_lb"], row["ci_ub"]], 1e-12)
    xy = diamonds[-1].get_xy()
    assert_close([xy[:, 0].min(), xy[:, 0].max()], [res.ci_lb[0], res.ci_ub[0]], 1e-12)
    labels = texts(fig, "label-pooled")
    assert labels[:2] == [f"Subtotal (k = {several['k'].iloc[j]})" for j in range(2)]
    assert labels[-1] == "Multilevel model (REML, k = 100 in 17 groups)"
    notes = " ".join(texts(fig, "note"))
    assert "(study)" in notes and "(study/esid)" in notes and "df = 99" in notes
    assert overlapping_texts(fig) == []


def test_ungrouped_ratio_scale_and_bad_input(assink):
    d, res = assink
    fig = forest(res, transf="exp")
    assert texts(fig, "label-group") == []
    assert len(texts(fig, "label")) == 100
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(InputError, match="group has 3 labels but the fit has 100"):
        forest(res, group=["a", "b", "c"])
    with pytest.raises(InputError, match="sort_by= does not apply to a multilevel fit"):
        forest(res, sort_by="effect")
    with_mods = rma_mv("yi", "vi", random="~ 1 | study/esid", data=d, mods=np.arange(100.0))
    with pytest.raises(InputError, match="intercept-only multilevel fits"):
        forest(with_mods)


def test_group_and_measure_only_for_multilevel_and_network_fits():
    from metareview import rma

    res = rma([0.1, 0.3, 0.2], [0.01, 0.02, 0.03])
    with pytest.raises(InputError, match="group= is for multilevel"):
        forest(res, group=["a", "b", "c"])
