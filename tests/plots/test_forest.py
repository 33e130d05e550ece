"""Forest plot structure: squares, whiskers, diamonds, texts and layout, read from the result.

Reference data: dat.bcg (RR, REML) from tests/fixtures/metafor_rma.json and its subgroup
split by allocation from tests/fixtures/metafor_subgroups.json.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.patches import Polygon

from metareview import InputError, StudyOmittedWarning, escalc, rma
from metareview.plots import forest
from tests.conftest import load_fixture
from tests.plots.helpers import assert_close, by_gid, effect_text, overlapping_texts, texts

RTOL = 1e-12  # positions are the result's own numbers, passed through float arithmetic only


def _case(fixture: str, case_id: str) -> dict:
    return next(c for c in load_fixture(fixture)["cases"] if c["id"] == case_id)


@pytest.fixture(scope="module")
def bcg():
    case = _case("metafor_rma", "bcg_RR_REML_z")
    return rma(case["yi"], case["vi"], slab=case["slab"], method="REML", measure="RR")


@pytest.fixture(scope="module")
def bcg_ee():
    case = _case("metafor_rma", "bcg_RR_EE_z")
    return rma(case["yi"], case["vi"], slab=case["slab"], method="EE", measure="RR")


@pytest.fixture(scope="module")
def bcg_alloc():
    case = _case("metafor_subgroups", "bcg_RR_alloc_REML_z")
    return rma(
        case["yi"],
        case["vi"],
        slab=case["slab"],
        method="REML",
        measure="RR",
        subgroup=case["groups"],
    )


def _simulated(k: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    labels = [f"Author {i + 1} et al. ({1990 + i % 30})" for i in range(k)]
    labels[0] = "A deliberately long study label that needs wrapping (multicentre trial, 2019)"
    return rma(rng.normal(0.3, 0.3, k), rng.uniform(0.01, 0.2, k), slab=labels, measure="SMD")


def _diamonds(fig) -> list[Polygon]:
    return [p for p in by_gid(fig, "pooled") if isinstance(p, Polygon)]


# ---------------------------------------------------------------------------- studies


def test_one_square_per_study_at_its_effect(bcg):
    fig = forest(bcg)
    (squares,) = by_gid(fig, "studies")
    offsets = squares.get_offsets()
    assert len(offsets) == bcg.k
    assert_close(offsets[:, 0], bcg.yi, RTOL)


def test_square_areas_are_proportional_to_weights(bcg):
    (squares,) = by_gid(fig := forest(bcg), "studies")
    sizes = squares.get_sizes()
    assert fig is not None
    assert_close(sizes / sizes.max(), bcg.weights / bcg.weights.max(), 1e-9)


def test_whiskers_span_each_study_ci(bcg):
    fig = forest(bcg)
    (whiskers,) = by_gid(fig, "whiskers")
    table = bcg.study_table()
    segments = np.array(whiskers.get_segments())
    assert_close(segments[:, 0, 0], table["ci_lb"], RTOL)
    assert_close(segments[:, 1, 0], table["ci_ub"], RTOL)


def test_study_labels_effects_and_weights_are_read_from_the_result(bcg):
    fig = forest(bcg, transf="exp")
    table = bcg.study_table()
    assert texts(fig, "label") == list(bcg.slab)
    expected = [
        effect_text(np.exp(y), np.exp(lb), np.exp(ub))
        for y, lb, ub in zip(table["yi"], table["ci_lb"], table["ci_ub"], strict=True)
    ]
    assert texts(fig, "effect") == expected
    assert texts(fig, "weight") == [f"{w:.1f}%" for w in bcg.weights]


def test_exp_scale_puts_squares_at_the_ratios_on_a_log_axis(bcg):
    fig = forest(bcg, transf="exp")
    (squares,) = by_gid(fig, "studies")
    assert_close(squares.get_offsets()[:, 0], np.exp(bcg.yi), 1e-12)
    assert fig.axes[0].get_xscale() == "log"


def test_percent_scale_for_raw_proportions():
    data = escalc("PR", xi=[12, 30, 8], ni=[20, 40, 25], slab=["A", "B", "C"])
    res = rma(data, method="DL")
    fig = forest(res, transf="percent")
    (squares,) = by_gid(fig, "studies")
    assert_close(squares.get_offsets()[:, 0], 100 * res.yi, 1e-12)
    assert texts(fig, "effect-pooled")[0].startswith(f"{100 * res.estimate:.1f} [")
    assert not by_gid(fig, "refline")  # no null line for proportions


def test_ci_beyond_the_axis_ends_in_an_arrow():
    res = rma([0.1, 0.2, 0.15, 0.3], [0.01, 0.02, 0.015, 25.0], slab=list("ABCD"))
    fig = forest(res)
    left, right = by_gid(fig, "clipped")  # study D's CI runs off both ends
    assert_close([left.get_xdata()[0], right.get_xdata()[0]], fig.axes[0].get_xlim())
    assert left.get_marker() == "<" and right.get_marker() == ">"


def test_long_labels_are_wrapped():
    fig = forest(_simulated(5))
    first = texts(fig, "label")[0]
    assert "\n" in first
    assert first.replace("\n", " ") == _simulated(5).slab[0]


def test_extra_columns_are_shown_in_order(bcg):
    cells = [f"{i}/{10 * i}" for i in range(1, bcg.k + 1)]
    fig = forest(bcg, extra_columns={"Events/N": cells})
    assert texts(fig, "extra0") == cells
    assert texts(fig, "header-extra0") == ["Events/N"]


def test_sort_by_effect_orders_labels_and_keeps_cells_with_their_study(bcg):
    cells = [f"cell {s}" for s in bcg.slab]
    fig = forest(bcg, sort_by="effect", extra_columns={"x": cells})
    order = np.argsort(bcg.yi, kind="stable")
    assert texts(fig, "label") == [bcg.slab[i] for i in order]
    assert texts(fig, "extra0") == [cells[i] for i in order]


def test_weights_can_be_hidden(bcg):
    fig = forest(bcg, show_weights=False)
    assert texts(fig, "weight") == []
    assert texts(fig, "header-weight") == []


# ----------------------------------------------------------------------------- pooled


def test_diamond_spans_the_ci_at_the_estimate(bcg):
    fig = forest(bcg)
    (diamond,) = _diamonds(fig)
    xy = diamond.get_xy()
    assert_close(xy[:, 0].min(), bcg.ci_lb[0], RTOL)
    assert_close(xy[:, 0].max(), bcg.ci_ub[0], RTOL)
    tips = xy[np.argsort(xy[:, 1])][[0, -1], 0]  # top and bottom vertices
    assert_close(tips, [bcg.estimate, bcg.estimate], RTOL)


def test_diamond_back_transformed_with_predict(bcg):
    fig = forest(bcg, transf="exp")
    pred = bcg.predict(transf="exp")
    xy = _diamonds(fig)[0].get_xy()
    assert_close([xy[:, 0].min(), xy[:, 0].max()], [pred["ci_lb"], pred["ci_ub"]], 1e-12)
    assert texts(fig, "effect-pooled") == [effect_text(pred["pred"], pred["ci_lb"], pred["ci_ub"])]
    assert texts(fig, "weight-pooled") == ["100.0%"]


def test_prediction_interval_for_reml(bcg):
    fig = forest(bcg)
    (line,) = by_gid(fig, "prediction-interval")
    assert_close(line.get_xdata(), [bcg.pi_lb, bcg.pi_ub], RTOL)
    assert texts(fig, "label-pi") == ["Prediction interval"]


def test_no_prediction_interval_for_ee_or_when_switched_off(bcg, bcg_ee):
    assert by_gid(forest(bcg_ee), "prediction-interval") == []
    assert texts(forest(bcg_ee), "label-pi") == []
    assert by_gid(forest(bcg, show_pi=False), "prediction-interval") == []


def test_heterogeneity_and_overall_test_lines(bcg, bcg_ee):
    notes = texts(forest(bcg), "note")
    assert notes[0] == (
        f"Heterogeneity: τ² = {bcg.tau2:.2f}, I² = {bcg.I2:.1f}%, "
        f"Q = {bcg.QE:.2f}, df = {bcg.k - 1}, p < 0.001"
    )
    assert notes[1] == f"Test for overall effect: z = \u2212{abs(bcg.zval[0]):.2f}, p < 0.001"
    assert "τ²" not in texts(forest(bcg_ee), "note")[0]


def test_a_tiny_tau2_is_not_printed_with_fourteen_zeros():
    # REML on these data stops at tau2 ~ 1e-14; the note read "τ² = 0.000000000000016"
    res = rma([0.1, 0.3, 0.25, -0.2, 0.0, 0.4, 0.15], [0.04, 0.02, 0.02, 0.05, 0.03, 0.03, 0.03])
    assert res.tau2 < 1e-4
    heterogeneity = texts(forest(res), "note")[0]
    assert heterogeneity.startswith(("Heterogeneity: τ² < 0.0001, ", "Heterogeneity: τ² = 0, "))


def test_omitted_studies_are_named():
    with pytest.warns(StudyOmittedWarning, match="zero sampling variance"):
        res = rma([0.2, 0.4, 0.3], [0.01, 0.0, 0.02], slab=["A", "B", "C"])
    assert texts(forest(res), "note")[-1] == "Left out of the fit: B"


# ------------------------------------------------------------------------- references


@pytest.mark.parametrize(
    ("transf", "refline", "expected"),
    [
        (None, None, 0.0),
        ("exp", None, 1.0),
        ("exp", 0.8, 0.8),
        (None, False, None),
    ],
)
def test_reference_line(bcg, transf, refline, expected):
    lines = by_gid(forest(bcg, transf=transf, refline=refline), "refline")
    if expected is None:
        assert lines == []
    else:
        assert_close(lines[0].get_xdata(), [expected, expected])


# -------------------------------------------------------------------------- subgroups


def test_subgroup_blocks(bcg_alloc):
    fig = forest(bcg_alloc, transf="exp")
    assert texts(fig, "label-group") == list(bcg_alloc.subgroups)
    diamonds = _diamonds(fig)
    assert len(diamonds) == len(bcg_alloc.subgroups) + 1
    for diamond, sub in zip(diamonds, [*bcg_alloc.subgroups.values(), bcg_alloc], strict=True):
        pred = sub.predict(transf="exp")
        assert_close(
            [diamond.get_xy()[:, 0].min(), diamond.get_xy()[:, 0].max()],
            [pred["ci_lb"], pred["ci_ub"]],
            1e-12,
        )
    # each study appears once, inside its own group's block
    assert sorted(texts(fig, "label")) == sorted(bcg_alloc.slab)
    notes = texts(fig, "note")
    assert sum(n.startswith("Heterogeneity:") for n in notes) == len(bcg_alloc.subgroups) + 1
    assert notes[-1] == (
        f"Test for subgroup differences: Chi² = {bcg_alloc.Q_between:.2f}, "
        f"df = {bcg_alloc.df_between}, p = {bcg_alloc.p_between:.3f}"
    )


def test_subgroup_weights_sum_to_subtotals(bcg_alloc):
    fig = forest(bcg_alloc)
    subtotals = texts(fig, "weight-pooled")
    groups = np.asarray(bcg_alloc.subgroup_labels)
    expected = [f"{bcg_alloc.weights[groups == g].sum():.1f}%" for g in bcg_alloc.subgroups]
    assert subtotals == [*expected, "100.0%"]


# ----------------------------------------------------------------------------- layout


@pytest.mark.parametrize("k", [2, 13, 60])
def test_no_overlapping_texts(k, bcg):
    res = bcg if k == 13 else _simulated(k)
    fig = forest(
        res,
        transf="exp" if k == 13 else None,
        title="A title for the figure",
        extra_columns={"N": [str(10 * (i + 1)) for i in range(k)]},
    )
    assert overlapping_texts(fig) == []


def test_no_overlapping_texts_with_subgroups(bcg_alloc):
    assert overlapping_texts(forest(bcg_alloc, transf="exp")) == []


def test_long_notes_are_wrapped_between_their_parts():
    labels = [f"An omitted study with a long label number {i}" for i in range(6)]
    with pytest.warns(StudyOmittedWarning, match="zero sampling variance"):
        res = rma(
            [0.2, 0.4, 0.3, *[0.1] * 6],
            [0.01, 0.02, 0.03, *[0.0] * 6],
            slab=["A", "B", "C", *labels],
        )
    fig = forest(res)
    note = texts(fig, "note")[-1]
    assert note.count("\n") >= 2
    assert " ".join(note.split()) == "Left out of the fit: " + "; ".join(labels)
    assert overlapping_texts(fig) == []


def test_height_grows_with_the_number_of_studies():
    heights = {k: forest(_simulated(k)).get_figheight() for k in (2, 60, 200)}
    assert heights[2] < heights[60] < heights[200]
    per_row = (heights[200] - heights[60]) / 140
    assert 0.18 <= per_row <= 0.25  # constant row pitch: type stays 8 pt at any k


# ------------------------------------------------------------------------- bad input


def test_rejects_what_is_not_a_result():
    with pytest.raises(
        InputError,
        match=r"forest\(\) needs the result of metareview\.rma\(\); "
        r"got dict",
    ):
        forest({"yi": [0.1, 0.2]})


def test_rejects_meta_regression(bcg):
    res = rma(bcg.yi, bcg.vi, mods=np.arange(bcg.k, dtype=float))
    with pytest.raises(InputError, match=r"meta-regression with moderators mod1"):
        forest(res)


def test_rejects_unknown_transf_and_sort(bcg):
    with pytest.raises(InputError, match=r"transf must be one of expit, exp, .*percent"):
        forest(bcg, transf="log")
    with pytest.raises(InputError, match=r"sort_by must be one of effect, weight"):
        forest(bcg, sort_by="year")


def test_rejects_extra_columns_of_the_wrong_length(bcg):
    with pytest.raises(
        InputError,
        match=r"extra_columns\['N'\] has 3 entries but the fit has "
        r"13 studies",
    ):
        forest(bcg, extra_columns={"N": ["1", "2", "3"]})


def test_rejects_non_positive_refline_on_a_ratio_axis(bcg):
    with pytest.raises(InputError, match=r"refline must be > 0 on a ratio \(log\) axis"):
        forest(bcg, transf="exp", refline=0)
