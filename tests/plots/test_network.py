"""Network meta-analysis figures: netgraph, league_heatmap and the forest of every treatment
against the reference, read from the NmaResult (structure, not pixels).

Data: netmeta's example 1 (Stowe et al. 2010) and example 3 (Baker et al. 2009), input from
tests/fixtures/make_nma_published_fixtures.R; the numbers checked here are the result's own
(its fit is checked against the published values in tests/stats/test_nma_published.py), and
the edge counts against the published network graphs (Balduzzi et al. 2023, JSS 106(2),
figures 2 and 10).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from metareview import InputError, nma
from metareview.plots import forest, league_heatmap, netgraph
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, effect_text, overlapping_texts, texts

FIX = load_fixture("nma_published")


def _fit(name: str):
    return nma(pd.DataFrame(FIX[name]), yi="TE", sei="seTE", reference="Placebo", method="DL")


@pytest.fixture(scope="module")
def stowe():
    return _fit("stowe2010")


@pytest.fixture(scope="module")
def baker():
    return _fit("baker2009")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------- netgraph


def test_netgraph_edges_and_counts_as_published(stowe):
    fig = netgraph(stowe)
    edges = by_gid(fig, "edge")
    assert len(edges) == 4
    # JSS figure 2: 12 COMTI-placebo, 15 dopamine agonist-placebo, 3 MAOBI-placebo, 1 COMTI-MAOBI
    assert sorted(int(t) for t in texts(fig, "edge-count")) == [1, 3, 12, 15]
    widths = {
        int(n): e.get_linewidth() for n, e in zip(stowe.edges["n_studies"], edges, strict=True)
    }
    assert widths[1] == pytest.approx(1.0) and widths[15] == pytest.approx(7.0)
    assert widths[1] < widths[3] < widths[12] < widths[15]
    assert sorted(texts(fig, "label")) == sorted(stowe.treatments)
    assert overlapping_texts(fig) == []


def test_netgraph_nodes_on_a_circle_sized_by_studies(baker):
    fig = netgraph(baker)
    (nodes,) = by_gid(fig, "nodes")
    xy = nodes.get_offsets()
    assert_close(np.hypot(xy[:, 0], xy[:, 1]), np.ones(8), 1e-12)
    per = baker.studies_per_treatment()
    sizes = nodes.get_sizes()
    # more studies, larger node (placebo has the most)
    assert np.argmax(sizes) == list(baker.treatments).index("Placebo")
    assert np.all(np.diff(sizes[np.argsort(per.to_numpy(), kind="stable")]) >= 0)
    # JSS figure 10: the Baker network's 22 edges hold 15 salmeterol-placebo and 12
    # tiotropium-placebo studies
    counts = sorted(int(t) for t in texts(fig, "edge-count"))
    assert len(counts) == len(baker.edges) and counts[-2:] == [12, 15]
    equal = netgraph(baker, node_size=False, show_counts=False)
    assert len(set(by_gid(equal, "nodes")[0].get_sizes())) == 1
    assert texts(equal, "edge-count") == []


def test_netgraph_order_and_bad_input(stowe):
    order = ["Placebo", "COMTI", "MAOBI", "Dopamine Agonist"]
    fig = netgraph(stowe, order=order)
    (nodes,) = by_gid(fig, "nodes")
    np.testing.assert_allclose(nodes.get_offsets()[0], [0.0, 1.0], atol=1e-12)  # at the top
    with pytest.raises(InputError, match="missing Placebo; not treatments of the network: Plac"):
        netgraph(stowe, order=["Plac", "COMTI", "MAOBI", "Dopamine Agonist"])
    with pytest.raises(InputError, match=r"needs the result of metareview\.nma"):
        netgraph(object())


# ---------------------------------------------------------------------- league heat map


def test_league_heatmap_cells_are_the_pairs_in_pscore_order(stowe):
    fig = league_heatmap(stowe, measure="MD")
    order = [stowe.treatments[i] for i in np.argsort(-stowe.pscore, kind="stable")]
    assert texts(fig, "diagonal") == order
    pairs = stowe.pairs().set_index(["treat1", "treat2"])
    expected = []
    for r in order:
        for c in order:
            if r != c:
                e, lb, ub = pairs.loc[(r, c), ["estimate", "ci_lb", "ci_ub"]]
                expected.append(effect_text(e, lb, ub).replace(" [", "\n(").replace("]", ")"))
    assert texts(fig, "cell-text") == expected
    cells = by_gid(fig, "cell")
    # the dopamine agonist row favours itself against placebo: blue side; the mirror cell
    # favours the column: vermillion side
    first = to_hex(cells[2].get_facecolor())  # row 1 (best), column 4 (placebo)
    mirror = to_hex(cells[-3].get_facecolor())  # row 4 (placebo), column 1
    assert first != mirror
    red, _, blue = cells[2].get_facecolor()[:3]
    assert blue > red  # blue
    red, _, blue = cells[-3].get_facecolor()[:3]
    assert red > blue  # vermillion
    assert overlapping_texts(fig) == []


def test_league_heatmap_ratios_and_bad_input(baker):
    fig = league_heatmap(baker, transf="exp", measure="OR")
    pairs = baker.pairs().set_index(["treat1", "treat2"])
    e, lb, ub = np.exp(pairs.loc[("Tiotropium", "Placebo"), ["estimate", "ci_lb", "ci_ub"]])
    assert effect_text(e, lb, ub).replace(" [", "\n(").replace("]", ")") in texts(fig, "cell-text")
    assert fig.axes[0].get_title(loc="left").startswith("Odds ratio, row vs column")
    with pytest.raises(InputError, match='transf must be None or "exp"'):
        league_heatmap(baker, transf="expit")


# --------------------------------------------------------------------------- forest


def test_nma_forest_rows_are_the_treatments_vs_the_reference(stowe):
    fig = forest(stowe, measure="MD")
    tab = stowe.table().drop(index="Placebo")
    assert texts(fig, "label") == list(tab.index)
    assert texts(fig, "effect") == [
        effect_text(*row) for row in tab[["estimate", "ci_lb", "ci_ub"]].to_numpy()
    ]
    assert texts(fig, "extra0") == [f"{p:.2f}" for p in tab["pscore"]]
    assert texts(fig, "header-label") == ["Treatment (vs Placebo)"]
    (squares,) = by_gid(fig, "studies")
    assert_close(squares.get_offsets()[:, 0], tab["estimate"].to_numpy(), 1e-12)
    notes = " ".join(texts(fig, "note"))
    assert "Random-effects model (DL): τ² = 0.15" in notes
    assert "between designs Q = 1.24 (df = 2" in notes
    assert overlapping_texts(fig) == []


def test_nma_forest_sorting_ratio_scale_and_bad_options(baker):
    fig = forest(baker, measure="OR", transf="exp", sort_by="effect", show_weights=False)
    tab = baker.table().drop(index="Placebo").sort_values("estimate", kind="stable")
    assert texts(fig, "label") == list(tab.index)
    assert texts(fig, "extra0") == []
    assert fig.axes[0].get_xscale() == "log"
    with pytest.raises(InputError, match="sort_by='weight' does not apply"):
        forest(baker, sort_by="weight")
    with pytest.raises(InputError, match="do not apply to a network"):
        forest(baker, extra_columns={"x": ["a"] * 7})
