"""The rows of a forest plot, built from a fitted result (no drawing, no statistics).

Everything shown is read from the :class:`~metareview.stats.models.RmaResult`: study effects
and CIs from ``study_table()``, pooled estimates and intervals from ``predict()``, weights from
``weights``, heterogeneity and tests from the fields of the fit and of its subgroup fits.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from metareview._validation import Options
from metareview.exceptions import InputError
from metareview.plots._scales import Scale, fmt_num, fmt_p, fmt_stat
from metareview.stats.models import RmaResult

if TYPE_CHECKING:  # pragma: no cover - the modules import pandas or scipy: see plots/_fits.py
    from metareview.stats.glmm import GlmmResult
    from metareview.stats.mh import MhResult
    from metareview.stats.mv import MvResult
    from metareview.stats.nma import NmaResult

__all__ = [
    "SORT_BY",
    "Row",
    "build_glmm_rows",
    "build_mh_rows",
    "build_mv_rows",
    "build_nma_rows",
    "build_rows",
    "check_extra_columns",
]

SORT_BY = Options("sort_by", ("effect", "weight", "precision", "label"), case_sensitive=False)
#: labels longer than this many characters are wrapped over several lines
LABEL_CHARS = 40


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the plot.

    ``kind`` is ``"study"``, ``"group"`` (subgroup heading), ``"pooled"`` (a diamond),
    ``"pi"`` (prediction interval), ``"text"`` (a note spanning the text columns: ``label``
    then ``segments`` joined by ``sep``, wrapped only between segments) or ``"spacer"``.
    ``est``, ``lb``, ``ub`` are on the display scale; ``weight`` is the study's weight as a
    fraction of the largest.
    """

    kind: str
    label: str = ""
    cells: tuple[str, ...] = ()
    weight_text: str = ""
    effect_text: str = ""
    est: float = np.nan
    lb: float = np.nan
    ub: float = np.nan
    weight: float = np.nan
    segments: tuple[str, ...] = field(default=())
    sep: str = ", "
    study: str | None = None


def check_extra_columns(
    extra_columns: Mapping[str, Sequence[object]] | None,
    res: RmaResult | MhResult | GlmmResult | MvResult,
) -> dict[str, list[str]]:
    """Validate ``extra_columns``: a mapping name -> one entry per study (effect size) in
    ``res.slab``."""
    if extra_columns is None:
        return {}
    if not isinstance(extra_columns, Mapping):
        raise InputError(
            "extra_columns must be a mapping of column name -> one text per study, e.g. "
            f"{{'Events/N': ['4/123', ...]}}; got {type(extra_columns).__name__}."
        )
    out = {}
    for name, values in extra_columns.items():
        if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
            raise InputError(
                f"extra_columns[{name!r}] must be a list with one entry per study; "
                f"got {type(values).__name__}."
            )
        if len(values) != res.k:
            omitted = getattr(res, "omitted", ())
            left_out = f"; left out of the fit: {', '.join(omitted)}" if omitted else ""
            raise InputError(
                f"extra_columns[{name!r}] has {len(values)} entries but the fit has "
                f"{res.k} studies (res.slab){left_out}. Give one entry per study in res.slab."
            )
        out[str(name)] = ["" if v is None else str(v) for v in values]
    return out


def build_rows(
    res: RmaResult,
    scale: Scale,
    *,
    extra_columns: dict[str, list[str]],
    sort_by: str | None,
    show_weights: bool,
    show_pi: bool,
) -> tuple[list[Row], int]:
    """All rows, top to bottom, and the index of the last row drawn in the plot panel."""
    _sei, ci_lb, ci_ub = res.study_intervals()
    est, lb, ub = scale.display(res.yi), scale.display(ci_lb), scale.display(ci_ub)
    weights = res.weights
    relative = weights / weights.max()
    digits = scale.digits

    def study_row(i: int) -> Row:
        return Row(
            kind="study",
            label=_wrap(res.slab[i]),
            cells=tuple(col[i] for col in extra_columns.values()),
            weight_text=f"{weights[i]:.1f}%" if show_weights else "",
            effect_text=_effect_text(est[i], lb[i], ub[i], digits),
            est=est[i],
            lb=lb[i],
            ub=ub[i],
            weight=relative[i],
            study=res.slab[i],
        )

    order_key = None if sort_by is None else SORT_BY.check(sort_by)
    rows: list[Row] = []
    if res.subgroups is None:
        rows += [study_row(i) for i in _order(np.arange(res.k), res, order_key)]
        label = _model_label(res)
    else:
        groups = np.asarray(res.subgroup_labels, dtype=object)
        for name, sub in res.subgroups.items():
            members = np.flatnonzero(groups == name)
            rows.append(Row(kind="group", label=_wrap(name)))
            rows += [study_row(i) for i in _order(members, res, order_key)]
            rows.append(
                _pooled_row(
                    sub,
                    scale,
                    f"Subtotal (k = {sub.k})",
                    weights[members].sum() if show_weights else None,
                )
            )
            rows.append(_text_row(_heterogeneity(sub)))
            rows.append(Row(kind="spacer"))
        label = _model_label(res, overall=True)
    rows.append(_pooled_row(res, scale, label, 100.0 if show_weights else None))
    if show_pi and res.method != "EE":
        pred = scale.predict(res)
        if np.isfinite(pred["pi_lb"]) and np.isfinite(pred["pi_ub"]):
            rows.append(
                Row(
                    kind="pi",
                    label="Prediction interval",
                    effect_text=_interval_text(pred["pi_lb"], pred["pi_ub"], digits),
                    lb=pred["pi_lb"],
                    ub=pred["pi_ub"],
                )
            )
    last_drawn = len(rows) - 1
    rows.append(_text_row(_heterogeneity(res)))
    rows.append(_text_row(_overall_test(res)))
    if res.subgroups is not None:
        rows.append(
            _text_row(
                (
                    "Test for subgroup differences:",
                    _stat("Chi²", res.Q_between),
                    f"df = {res.df_between}",
                    fmt_p(res.p_between),
                )
            )
        )
    if res.omitted:
        rows.append(_text_row(("Left out of the fit:", *res.omitted), sep="; "))
    return rows, last_drawn


def _order(indices: np.ndarray, res: RmaResult, key: str | None) -> np.ndarray:
    if key is None:
        return indices
    values = {
        "effect": res.yi[indices],
        "weight": -res.weights[indices],
        "precision": res.vi[indices],
        "label": np.array([res.slab[i] for i in indices], dtype=object),
    }[key]
    return indices[np.argsort(values, kind="stable")]


def _wrap(label: str) -> str:
    return "\n".join(textwrap.wrap(str(label), LABEL_CHARS)) or str(label)


def _model_label(res: RmaResult, *, overall: bool = False) -> str:
    """'Random-effects model (REML, k = 13)'; shorter, 'Overall (REML, k = 13)', under
    subgroups, where the model is named by the subtotals' heterogeneity lines."""
    knha = ", Hartung-Knapp" if res.test == "knha" else ""
    method = "EE" if res.method == "EE" else f"{res.method}{knha}"
    if overall:
        return f"Overall ({method}, k = {res.k})"
    if res.method == "EE":
        return f"Equal-effects model (k = {res.k})"
    return f"Random-effects model ({method}, k = {res.k})"


def _pooled_row(
    res: RmaResult | MhResult | GlmmResult, scale: Scale, label: str, weight: float | None
) -> Row:
    pred = scale.predict(res)
    return Row(
        kind="pooled",
        label=label,
        weight_text="" if weight is None else f"{weight:.1f}%",
        effect_text=_effect_text(pred["pred"], pred["ci_lb"], pred["ci_ub"], scale.digits),
        est=pred["pred"],
        lb=pred["ci_lb"],
        ub=pred["ci_ub"],
    )


def _text_row(segments: Sequence[str], sep: str = ", ") -> Row:
    return Row(kind="text", label=segments[0], segments=tuple(segments[1:]), sep=sep)


def _heterogeneity(res: RmaResult) -> tuple[str, ...]:
    parts = ["Heterogeneity:"]
    if res.method != "EE":
        parts.append(_stat("τ²", res.tau2))
    parts += [f"I² = {res.I2:.1f}%", _stat("Q", res.QE), f"df = {res.k - 1}", fmt_p(res.QEp)]
    return tuple(parts)


def _stat(name: str, value: float | None) -> str:
    """``name = value`` with :func:`fmt_stat`, or ``name < 0.0001`` for a tiny value."""
    text = fmt_stat(value)
    return f"{name} {text}" if text.startswith("<") else f"{name} = {text}"


def _overall_test(res: RmaResult) -> tuple[str, ...]:
    stat = f"t({res.ddf:g})" if res.test == "knha" else "z"
    return (
        "Test for overall effect:",
        f"{stat} = {fmt_num(float(res.zval[0]), 2)}",
        fmt_p(float(res.pval[0])),
    )


def _effect_text(est: float, lb: float, ub: float, digits: int) -> str:
    return f"{fmt_num(est, digits)} {_interval_text(lb, ub, digits)}"


def _interval_text(lb: float, ub: float, digits: int) -> str:
    return f"[{fmt_num(lb, digits)}, {fmt_num(ub, digits)}]"


def build_mh_rows(
    res: MhResult,
    scale: Scale,
    *,
    extra_columns: dict[str, list[str]],
    sort_by: str | None,
    show_weights: bool,
) -> tuple[list[Row], int]:
    """Rows of a Mantel-Haenszel or Peto forest plot, as RevMan draws one: each study's own
    estimate (``res.study_table()``, "Not estimable" where it has none), the MH/Peto weights
    (``res.weights``), the pooled diamond, and the heterogeneity, overall-effect and (for the
    odds ratio) Cochran-Mantel-Haenszel lines. A fit with ``subgroup=`` shows each subgroup's
    studies (weights as shares of the total), its subtotal diamond and heterogeneity, then
    the total and the test for subgroup differences."""
    if res.subgroups is None:
        rows = _own_estimate_rows(
            res, scale, extra_columns, sort_by, res.weights if show_weights else None
        )
    else:
        total = sum(float(sub.raw_weights().sum()) for sub in res.subgroups.values())
        shares = {name: 100 * sub.raw_weights() / total for name, sub in res.subgroups.items()}
        rows = _grouped_rows(
            res, scale, extra_columns, sort_by, shares if show_weights else None, _mh_heterogeneity
        )
    name = "Mantel-Haenszel" if res.method == "MH" else "Peto"
    rows.append(
        _pooled_row(
            res,
            scale,
            f"Total ({name}, equal effects, k = {res.k})",
            100.0 if show_weights else None,
        )
    )
    last_drawn = len(rows) - 1
    rows.append(_text_row(_mh_heterogeneity(res)))
    rows.append(
        _text_row(("Test for overall effect:", f"z = {fmt_num(res.zval, 2)}", fmt_p(res.pval)))
    )
    if res.CMH is not None and res.CMHp is not None:
        test = "Cochran-Mantel-Haenszel test:" if res.measure == "OR" else "Mantel-Haenszel test:"
        rows.append(_text_row((test, _stat("Chi²", res.CMH), "df = 1", fmt_p(res.CMHp))))
    rows += _subgroup_difference(res)
    if res.omitted:
        rows.append(_text_row(("Left out of the fit:", *res.omitted), sep="; "))
    return rows, last_drawn


def _mh_heterogeneity(res: MhResult) -> tuple[str, ...]:
    return (
        "Heterogeneity:",
        _stat("Chi²", res.QE),
        f"df = {max(res.k_yi - 1, 0)}",
        fmt_p(res.QEp),
        f"I² = {res.I2:.1f}%",
    )


def _glmm_heterogeneity(res: GlmmResult) -> tuple[str, ...]:
    return (
        "Heterogeneity:",
        _stat("τ²", res.tau2),
        f"I² = {res.I2:.1f}%",
        f"Wald Q = {fmt_stat(res.QE)} ({fmt_p(res.QEp)})",
        f"LRT = {fmt_stat(res.QE_LRT)} ({fmt_p(res.QEp_LRT)})",
        f"df = {res.k - 1}",
    )


def _subgroup_difference(res: MhResult | GlmmResult) -> list[Row]:
    if res.subgroups is None or res.Q_between is None or res.p_between is None:
        return []
    return [
        _text_row(
            (
                "Test for subgroup differences:",
                _stat("Chi²", res.Q_between),
                f"df = {res.df_between}",
                fmt_p(res.p_between),
            )
        )
    ]


def _grouped_rows(
    res: MhResult | GlmmResult,
    scale: Scale,
    extra_columns: dict[str, list[str]],
    sort_by: str | None,
    shares: Mapping[str, np.ndarray] | None,
    heterogeneity: Callable[[Any], tuple[str, ...]],
) -> list[Row]:
    """Per subgroup: a heading, its studies (from the subgroup's own fit), the subtotal
    diamond and its heterogeneity line. ``shares``: each subgroup's study weights as % of
    the total (squares sized against the largest of all), or None for equal squares.
    ``extra_columns`` follow ``res.slab`` and are matched to the subgroups' studies by label."""
    assert res.subgroups is not None
    positions: dict[str, list[int]] = {}
    for i, label in enumerate(res.slab):
        positions.setdefault(label, []).append(i)
    largest = max((float(np.max(w)) for w in shares.values()), default=1.0) if shares else None
    rows: list[Row] = []
    for name, sub in res.subgroups.items():
        index = [positions[label].pop(0) if positions.get(label) else None for label in sub.slab]
        columns = {
            column: ["" if i is None else values[i] for i in index]
            for column, values in extra_columns.items()
        }
        weights = None if shares is None else shares[name]
        rows.append(Row(kind="group", label=_wrap(name)))
        rows += _own_estimate_rows(sub, scale, columns, sort_by, weights, largest=largest)
        rows.append(
            _pooled_row(
                sub,
                scale,
                f"Subtotal (k = {sub.k})",
                None if weights is None else float(weights.sum()),
            )
        )
        rows.append(_text_row(heterogeneity(sub)))
        rows.append(Row(kind="spacer"))
    return rows


def build_glmm_rows(
    res: GlmmResult,
    scale: Scale,
    *,
    extra_columns: dict[str, list[str]],
    sort_by: str | None,
    show_pi: bool,
) -> tuple[list[Row], int]:
    """Rows of a GLMM forest plot: each study's own estimate (``res.study_table()``, equal
    squares: a GLMM has no study weights), the pooled diamond, the prediction interval, and
    tau², I² with the Wald and likelihood-ratio tests for heterogeneity. A fit with
    ``subgroup=`` shows each subgroup's studies, subtotal (own tau²) and heterogeneity, then
    the overall fit and the test for subgroup differences."""
    if res.subgroups is None:
        rows = _own_estimate_rows(res, scale, extra_columns, sort_by, None)
        label = f"Random-effects GLMM (ML, k = {res.k})"
    else:
        rows = _grouped_rows(res, scale, extra_columns, sort_by, None, _glmm_heterogeneity)
        label = f"Overall (GLMM, ML, k = {res.k})"
    rows.append(_pooled_row(res, scale, label, None))
    if show_pi:
        pred = scale.predict(res)
        if np.isfinite(pred["pi_lb"]) and np.isfinite(pred["pi_ub"]):
            rows.append(
                Row(
                    kind="pi",
                    label="Prediction interval",
                    effect_text=_interval_text(pred["pi_lb"], pred["pi_ub"], scale.digits),
                    lb=pred["pi_lb"],
                    ub=pred["pi_ub"],
                )
            )
    last_drawn = len(rows) - 1
    rows.append(_text_row(_glmm_heterogeneity(res)))
    rows.append(
        _text_row(("Test for overall effect:", f"z = {fmt_num(res.zval, 2)}", fmt_p(res.pval)))
    )
    rows += _subgroup_difference(res)
    if res.omitted:
        rows.append(_text_row(("Left out of the fit:", *res.omitted), sep="; "))
    return rows, last_drawn


def _own_estimate_rows(
    res: MhResult | GlmmResult,
    scale: Scale,
    extra_columns: dict[str, list[str]],
    sort_by: str | None,
    weights: np.ndarray | None,
    largest: float | None = None,
) -> list[Row]:
    """Study rows from ``res.study_table()``; squares sized by ``weights`` (%) relative to
    ``largest`` (default their own maximum), or equal."""
    table = res.study_table()
    est = scale.display(table["yi"].to_numpy())
    lb = scale.display(table["ci_lb"].to_numpy())
    ub = scale.display(table["ci_ub"].to_numpy())
    # equal squares (no weights) at a middling size, so that none looks like a heavy study
    relative = (
        np.full(res.k, 0.3)
        if weights is None
        else weights / (weights.max() if largest is None else largest)
    )

    def study_row(i: int) -> Row:
        estimable = bool(np.isfinite(est[i]))
        return Row(
            kind="study",
            label=_wrap(res.slab[i]),
            cells=tuple(col[i] for col in extra_columns.values()),
            weight_text="" if weights is None else f"{weights[i]:.1f}%",
            effect_text=(
                _effect_text(est[i], lb[i], ub[i], scale.digits) if estimable else "Not estimable"
            ),
            est=est[i],
            lb=lb[i],
            ub=ub[i],
            weight=relative[i] if estimable else np.nan,
            study=res.slab[i],
        )

    order = np.arange(res.k)
    if sort_by is not None:
        key = SORT_BY.check(sort_by)
        values = {
            "effect": table["yi"].to_numpy(),
            "weight": -(np.ones(res.k) if weights is None else weights),
            "precision": table["vi"].to_numpy(),
            "label": np.array(res.slab, dtype=object),
        }[key]
        order = order[np.argsort(values, kind="stable")]
    return [study_row(i) for i in order]


def build_nma_rows(
    res: NmaResult, scale: Scale, *, sort_by: str | None, show_pscores: bool
) -> tuple[list[Row], int, dict[str, list[str]]]:
    """Rows of a network forest plot: every treatment against the reference (equal squares,
    as netmeta draws them), the model and tau², and the heterogeneity / inconsistency line;
    plus the P-score column (``{"P-score": [...]}``, empty when not shown)."""
    table = res.table()
    others = [t for t in res.treatments if t != res.reference]
    order = np.arange(len(others))
    if sort_by is not None:
        key = SORT_BY.check(sort_by)
        if key == "weight":
            raise InputError(
                "sort_by='weight' does not apply to a network meta-analysis (its rows are "
                "treatments, not studies); use 'effect', 'precision' or 'label'."
            )
        values = {
            "effect": table.loc[others, "estimate"].to_numpy(),
            "precision": table.loc[others, "se"].to_numpy(),
            "label": np.array(others, dtype=object),
        }[key]
        order = order[np.argsort(values, kind="stable")]
    est = scale.display(table.loc[others, "estimate"].to_numpy())
    lb = scale.display(table.loc[others, "ci_lb"].to_numpy())
    ub = scale.display(table.loc[others, "ci_ub"].to_numpy())
    pscores = [f"{p:.2f}" for p in table.loc[others, "pscore"]]
    rows = [
        Row(
            kind="study",
            label=_wrap(others[i]),
            cells=(pscores[i],) if show_pscores else (),
            effect_text=_effect_text(est[i], lb[i], ub[i], scale.digits),
            est=est[i],
            lb=lb[i],
            ub=ub[i],
            weight=0.3,
            study=others[i],
        )
        for i in order
    ]
    last_drawn = len(rows) - 1
    if res.method == "EE":
        model = ("Common-effect model:", f"{res.n_studies} studies", f"{res.k} contrasts")
    else:
        model = (
            f"Random-effects model ({res.method}):",
            _stat("τ²", res.tau2),
            f"{res.n_studies} studies",
            f"{res.k} contrasts",
        )
    rows.append(_text_row(model))
    rows.append(
        _text_row(
            (
                "Heterogeneity / inconsistency:",
                f"{_stat('Q', res.QE)} (df = {res.df_QE}, {fmt_p(res.QEp)})",
                f"within designs {_stat('Q', res.Q_within)} (df = {res.df_within}, "
                f"{fmt_p(res.Q_withinp)})",
                f"between designs {_stat('Q', res.Q_between)} (df = {res.df_between}, "
                f"{fmt_p(res.Q_betweenp)})",
            ),
            sep="; ",
        )
    )
    columns = {"P-score": pscores} if show_pscores else {}
    return rows, last_drawn, columns


def build_mv_rows(
    res: MvResult,
    scale: Scale,
    *,
    group: Sequence[object] | None,
    extra_columns: dict[str, list[str]],
    show_weights: bool,
) -> tuple[list[Row], int]:
    """Rows of a multilevel forest plot: the effect sizes, grouped under their study (in order
    of first appearance) with each group's own pooled estimate (``res.aggregate``) below its
    effect sizes when it has more than one, then the model's pooled estimate, its variance
    components and the tests."""
    weights = res.weights()
    relative = weights / weights.max()
    table = res.study_table()
    est = scale.display(table["yi"].to_numpy())
    lb = scale.display(table["ci_lb"].to_numpy())
    ub = scale.display(table["ci_ub"].to_numpy())

    def es_row(i: int) -> Row:
        return Row(
            kind="study",
            label=_wrap(res.slab[i]),
            cells=tuple(col[i] for col in extra_columns.values()),
            weight_text=f"{weights[i]:.1f}%" if show_weights else "",
            effect_text=_effect_text(est[i], lb[i], ub[i], scale.digits),
            est=est[i],
            lb=lb[i],
            ub=ub[i],
            weight=relative[i],
            study=res.slab[i],
        )

    rows: list[Row] = []
    if group is None:
        rows += [es_row(i) for i in range(res.k)]
    else:
        agg = res.aggregate(group)
        labels = np.asarray([str(g) for g in group], dtype=object)
        for name, sub in agg.iterrows():
            members = np.flatnonzero(labels == name)
            rows.append(Row(kind="group", label=_wrap(str(name))))
            rows += [es_row(int(i)) for i in members]
            if len(members) > 1:
                shown = scale.display(np.array([sub["yi"], sub["ci_lb"], sub["ci_ub"]]))
                rows.append(
                    Row(
                        kind="pooled",
                        label=f"Subtotal (k = {len(members)})",
                        weight_text=f"{weights[members].sum():.1f}%" if show_weights else "",
                        effect_text=_effect_text(*shown, scale.digits),
                        est=shown[0],
                        lb=shown[1],
                        ub=shown[2],
                    )
                )
            rows.append(Row(kind="spacer"))
    pooled = scale.display(np.array([res.beta[0], res.ci_lb[0], res.ci_ub[0]]))
    n_top = "" if group is None else f" in {len(dict.fromkeys(map(str, group)))} groups"
    rows.append(
        Row(
            kind="pooled",
            label=f"Multilevel model ({res.method}, k = {res.k}{n_top})",
            weight_text="100.0%" if show_weights else "",
            effect_text=_effect_text(*pooled, scale.digits),
            est=pooled[0],
            lb=pooled[1],
            ub=pooled[2],
        )
    )
    last_drawn = len(rows) - 1
    parts = ["Heterogeneity:"]
    parts += [
        f"{_stat('σ²', s2)} ({name})" for s2, name in zip(res.sigma2, res.sigma2_names, strict=True)
    ]
    if res.struct is not None:
        many = len(res.tau2) > 1
        parts += [
            f"{_stat('τ²', t2)}" + (f" ({res.g_levels[j]})" if many else "")
            for j, t2 in enumerate(res.tau2)
        ]
        parts += [f"ρ = {fmt_num(float(r), 2)}" for r in res.rho]
    parts += [_stat("Q", res.QE), f"df = {res.k - res.p}", fmt_p(res.QEp)]
    rows.append(_text_row(tuple(parts)))
    stat = f"t({res.ddf:g})" if res.test == "t" else "z"
    rows.append(
        _text_row(
            (
                "Test for overall effect:",
                f"{stat} = {fmt_num(float(res.zval[0]), 2)}",
                fmt_p(float(res.pval[0])),
            )
        )
    )
    if group is not None:
        rows.append(
            _text_row(
                (
                    "Subtotal: the group's effect sizes pooled on their own (equal effects, "
                    "their sampling covariance; metafor's aggregate())",
                ),
            )
        )
    return rows, last_drawn
