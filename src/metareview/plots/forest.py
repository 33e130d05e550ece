"""Forest plot of a fitted meta-analysis, with subgroups, weights and prediction interval; of a
multilevel fit (effect sizes grouped by study); of a network meta-analysis (every treatment
against the reference).

Layout as in the Cochrane Handbook / RevMan (text columns on the left, the plot on the right)
with metafor's conventions for numbers (``estimate [lower, upper]``): study labels, optional
extra text columns, weight (%), effect and CI, then squares (area proportional to weight) with
CI whiskers, the pooled diamond, the prediction interval and the heterogeneity line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedLocator, MaxNLocator
from matplotlib.transforms import Affine2D, Transform

from metareview.exceptions import InputError
from metareview.plots._axes import house_ticks, minus_formatter
from metareview.plots._fits import is_fit
from metareview.plots._forest_rows import (
    Row,
    build_glmm_rows,
    build_mh_rows,
    build_mv_rows,
    build_nma_rows,
    build_rows,
    check_extra_columns,
)
from metareview.plots._scales import Scale, reference_line, resolve_scale
from metareview.plots._style import (
    GRID_GREY,
    INK,
    LINE_WIDTH,
    OKABE_ITO,
    TITLE_SIZE,
    check_glyphs,
    font,
    text_height,
    text_width,
    wrap_to_width,
)
from metareview.stats.models import RmaResult, check_rma_result

if TYPE_CHECKING:  # pragma: no cover - the modules import pandas or scipy: see plots/_fits.py
    from metareview.stats.glmm import GlmmResult
    from metareview.stats.mh import MhResult
    from metareview.stats.mv import MvResult
    from metareview.stats.nma import NmaResult

__all__ = ["forest"]

# geometry, in inches
_MARGIN = 0.12
_COL_GAP = 0.18
_PLOT_GAP = 0.3
_PLOT_WIDTH = (2.2, 2.8)  # narrower when the text columns are wide, within these bounds
_TARGET_WIDTH = 7.5  # the figure's width aimed at (a journal's full page width)
_ROW = 0.2
_SPAN_MAX = 3.6  # notes wider than this are wrapped (between their parts)
_AXIS_SPACE = 0.42  # below the panel: ticks, tick labels and the axis label
_SQUARE_MAX = 0.62  # side of the largest square, as a fraction of the row height
_SQUARE_MIN_PT = 2.5  # smallest square side (points) so tiny weights stay visible
_DIAMOND = 0.3  # half-height of diamonds, as a fraction of the row height


@dataclass(frozen=True, slots=True)
class _Column:
    header: str
    align: str
    width: float
    x: float = 0.0  # the anchor: left edge for left-aligned, right edge for right-aligned


def forest(
    res: RmaResult | MhResult | GlmmResult | MvResult | NmaResult,
    *,
    group: Sequence[object] | None = None,
    measure: str | None = None,
    transf: str | None = None,
    xlabel: str | None = None,
    extra_columns: Mapping[str, Sequence[object]] | None = None,
    sort_by: str | None = None,
    show_weights: bool = True,
    show_pi: bool = True,
    refline: float | bool | None = None,
    title: str | None = None,
    digits: int | None = None,
) -> Figure:
    """Draw a forest plot of ``res``.

    The figure is sized to its content (about 0.2 inch per study), so 2 to 200 studies stay
    readable at a constant 8 pt type; that is why it takes no ``ax``. Nothing is recomputed:
    study CIs come from ``res.study_table()``, pooled values from ``res.predict()``, weights
    from ``res.weights``.

    Parameters
    ----------
    res : RmaResult or MhResult
        An intercept-only fit from :func:`metareview.rma`, optionally with ``subgroup=``; or
        a Mantel-Haenszel / Peto fit (:func:`metareview.stats.rma_mh`, ``rma_peto``), drawn
        as RevMan draws one: each study's own estimate, the MH (Peto) weights, the pooled
        diamond, the heterogeneity line (Chi², df, p, I²), the test for the overall effect
        and, for the odds ratio, the Cochran-Mantel-Haenszel test. A GLMM fit
        (``rma_glmm``) shows each study's own estimate (equal squares: a GLMM has no study
        weights, so ``show_weights`` does not apply), the pooled diamond, the prediction
        interval, tau² and the Wald and likelihood-ratio tests for heterogeneity.

        An intercept-only multilevel / multivariate fit (:func:`metareview.rma_mv`) shows
        every effect size with its weight (``res.weights()``, as metafor's
        ``weights.rma.mv``); with ``group=`` they are grouped under their study, and a study
        with several effect sizes gets a subtotal diamond: its effect sizes pooled on their
        own (``res.aggregate(group)``: equal effects within the study and its sampling
        covariance, as metafor's ``aggregate()``); then the model's pooled estimate, its
        variance components and the test for the overall effect.

        A network meta-analysis (:func:`metareview.nma`) shows every treatment against the
        reference (equal squares, as netmeta's forest) with its P-score, then tau² and the
        heterogeneity / inconsistency line (``show_weights`` adds the P-score column here;
        ``show_pi`` and ``extra_columns`` do not apply).
    group : sequence, optional
        For a multilevel fit: one label per effect size (e.g. the study column of the
        data), grouping the rows by study.
    measure : str, optional
        The effect measure (``"MD"``, ``"OR"``, ...) of a multilevel or network fit, which
        do not carry one; names the axis and picks the scale. Not for other results.
    transf : str, optional
        Display scale: ``"exp"`` (ratios, drawn on a log axis), ``"expit"``, ``"ipft.hm"``,
        ``"iarcsin"``, ``"ztor"`` (metafor's back-transformations) or ``"percent"`` (raw
        proportions shown as %). Default: the model scale.
    xlabel : str, optional
        Axis label; default names the measure (``res.measure``) on the display scale.
    extra_columns : mapping of str to sequence, optional
        Text columns between the labels and the weights, e.g. ``{"Events/N": ["4/123", ...]}``,
        one entry per study of the fit (in ``res.slab`` order).
    sort_by : {"effect", "weight", "precision", "label"}, optional
        Order of the studies (within each subgroup); default the order of the data.
    show_weights : bool
        Show the weight column (% of the overall model's weights).
    show_pi : bool
        Show the prediction interval of random-effects models (never for equal-effects).
    refline : float, bool or None
        Reference line on the display scale. None: 0 for differences and log ratios, 1 for
        back-transformed ratios, none for proportions; False: no line.
    title : str, optional
        Figure title, set above the table.
    digits : int, optional
        Decimals of the numbers shown (default 2; 1 for percentages).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``res`` is not an :class:`RmaResult`, is a meta-regression, or an option is invalid.

    Notes
    -----
    Square areas are proportional to the study weights (the smallest squares are enlarged to
    2.5 pt so they stay visible). CIs that run beyond the axis end in an arrowhead. In subgroup
    plots the weight column and the squares use the overall model's weights, and each subgroup
    gets its own diamond (own tau2) and heterogeneity line, as in RevMan (Higgins et al. (eds),
    Cochrane Handbook for Systematic Reviews of Interventions, version 6.4, 2023, ch. 10).
    The prediction interval (Riley, Higgins & Deeks, 2011, BMJ 342:d549) is drawn as a line
    with end ticks in a row of its own below the overall diamond.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from metareview import rma
    >>> res = rma([-0.9, -1.6, -1.3, -0.2], [0.33, 0.19, 0.42, 0.05], slab=list("ABCD"))
    >>> fig = forest(res, transf="exp", title="Example")
    >>> [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "label")]
    ['A', 'B', 'C', 'D']
    >>> plt.close(fig)
    """
    if is_fit(res, "mv", "MvResult") or is_fit(res, "nma", "NmaResult"):
        return _forest_mv_nma(
            res,
            group=group,
            measure=measure,
            transf=transf,
            xlabel=xlabel,
            extra_columns=extra_columns,
            sort_by=sort_by,
            show_weights=show_weights,
            refline=refline,
            title=title,
            digits=digits,
        )
    for name, value in (("group", group), ("measure", measure)):
        if value is not None:
            raise InputError(
                f"{name}= is for multilevel (rma_mv) and network (nma) fits, not for a "
                f"{type(res).__name__}."
            )
    if is_fit(res, "mh", "MhResult"):
        scale = resolve_scale(res.measure, transf, digits=digits)
        extras = check_extra_columns(extra_columns, res)
        rows, _ = build_mh_rows(
            res, scale, extra_columns=extras, sort_by=sort_by, show_weights=bool(show_weights)
        )
        grouped = res.subgroups is not None
    elif is_fit(res, "glmm", "GlmmResult"):
        scale = resolve_scale(res.measure, transf, digits=digits)
        extras = check_extra_columns(extra_columns, res)
        rows, _ = build_glmm_rows(
            res, scale, extra_columns=extras, sort_by=sort_by, show_pi=bool(show_pi)
        )
        grouped, show_weights = res.subgroups is not None, False
    else:
        _check_result(res)
        scale = resolve_scale(res.measure, transf, ni=res.ni, digits=digits)
        extras = check_extra_columns(extra_columns, res)
        rows, _ = build_rows(
            res,
            scale,
            extra_columns=extras,
            sort_by=sort_by,
            show_weights=bool(show_weights),
            show_pi=bool(show_pi),
        )
        grouped = res.subgroups is not None
    headers = {"label": "Study or subgroup" if grouped else "Study", "weight": "Weight"}
    return _draw(res, rows, extras, headers, scale, refline, show_weights, title, xlabel)


def _forest_mv_nma(
    res: MvResult | NmaResult,
    *,
    group: Sequence[object] | None,
    measure: str | None,
    transf: str | None,
    xlabel: str | None,
    extra_columns: Mapping[str, Sequence[object]] | None,
    sort_by: str | None,
    show_weights: bool,
    refline: float | bool | None,
    title: str | None,
    digits: int | None,
) -> Figure:
    scale = resolve_scale(measure, transf, digits=digits)
    if is_fit(res, "nma", "NmaResult"):
        if extra_columns is not None or group is not None:
            raise InputError(
                "extra_columns= and group= do not apply to a network meta-analysis (its rows "
                "are treatments)."
            )
        rows, _, extras = build_nma_rows(
            res, scale, sort_by=sort_by, show_pscores=bool(show_weights)
        )
        headers = {"label": f"Treatment (vs {res.reference})", "weight": ""}
        return _draw(res, rows, extras, headers, scale, refline, False, title, xlabel)
    if res.has_mods:
        raise InputError(
            "forest() draws intercept-only multilevel fits; refit rma_mv() without mods= "
            f"(this fit has coefficients {', '.join(res.coef_names)})."
        )
    if sort_by is not None:
        raise InputError(
            "sort_by= does not apply to a multilevel fit: its rows keep the data's order "
            "within each study."
        )
    extras = check_extra_columns(extra_columns, res)
    rows, _ = build_mv_rows(
        res, scale, group=group, extra_columns=extras, show_weights=bool(show_weights)
    )
    headers = {
        "label": "Effect size",
        "weight": "Weight",
    }
    return _draw(res, rows, extras, headers, scale, refline, show_weights, title, xlabel)


def _draw(
    res: RmaResult | MhResult | GlmmResult | MvResult | NmaResult,
    rows: list[Row],
    extras: dict[str, list[str]],
    headers: dict[str, str],
    scale: Scale,
    refline: float | bool | None,
    show_weights: bool,
    title: str | None,
    xlabel: str | None,
) -> Figure:
    """Lay out and draw the rows: text table on the left, the plot panel on the right."""
    ref = reference_line(refline, scale)
    level = f"{100 * res.level:g}%"
    headers = {**headers, "effect": f"{scale.short} [{level} CI]"}
    layout = _Layout(rows, extras, headers, show_weights=bool(show_weights), title=title)

    fig = plt.figure(figsize=(layout.width, layout.height))
    to_fig = Affine2D().scale(1, -1).translate(0, layout.height) + fig.dpi_scale_trans
    layout.draw_text(fig, to_fig)
    ax = fig.add_axes(
        (
            layout.x_plot / layout.width,
            1 - layout.y_axis / layout.height,
            layout.plot_width / layout.width,
            (layout.y_axis - layout.y_rule) / layout.height,
        )
    )
    ax.set_ylim(layout.y_axis, layout.y_rule)
    last_drawn = layout.last_drawn
    _draw_panel(ax, rows[: last_drawn + 1], layout.centres[: last_drawn + 1], scale, ref)
    ax.set_xlabel(
        xlabel if xlabel is not None else scale.name, fontproperties=font(), parse_math=False
    )
    return check_glyphs(fig)


def _check_result(res: object) -> None:
    check_rma_result(
        res,
        "forest()",
        model="intercept",
        fix="Refit without mods= (or use subgroup= for a categorical moderator).",
    )


# ------------------------------------------------------------------------------ text layout


class _Layout:
    """Positions (inches from the top-left corner) of every column, row and rule."""

    def __init__(
        self,
        rows: list[Row],
        extras: dict[str, list[str]],
        headers: dict[str, str],
        *,
        show_weights: bool,
        title: str | None,
    ) -> None:
        self.rows = rows
        body, bold = font(), font(weight="bold")
        tabular = [r for r in rows if r.kind in {"study", "group", "pooled", "pi"}]

        def width(header: str, texts: list[tuple[str, bool]]) -> float:
            cells = [text_width(t, bold if strong else body) for t, strong in texts]
            return max([text_width(header, bold), *cells])

        label_texts = [(r.label, r.kind in {"group", "pooled"}) for r in tabular]
        columns = {"label": _Column(headers["label"], "left", width(headers["label"], label_texts))}
        for j, name in enumerate(extras):
            texts = [(r.cells[j], False) for r in tabular if r.cells]
            columns[f"extra{j}"] = _Column(name, "right", width(name, texts))
        if show_weights:
            texts = [(r.weight_text, r.kind == "pooled") for r in tabular]
            columns["weight"] = _Column(headers["weight"], "right", width(headers["weight"], texts))
        texts = [(r.effect_text, r.kind == "pooled") for r in tabular]
        columns["effect"] = _Column(headers["effect"], "right", width(headers["effect"], texts))

        # notes span the text columns: widen the label column so they fit (up to a limit),
        # and wrap them between their parts beyond it
        natural = sum(c.width for c in columns.values()) + _COL_GAP * (len(columns) - 1)
        notes = [self._join(r) for r in rows if r.kind == "text"]
        widest_note = max((text_width(n, body) for n in notes), default=0.0)
        span = max(natural, min(widest_note, _SPAN_MAX))
        label = columns["label"]
        columns["label"] = _Column(label.header, "left", label.width + span - natural)

        x = _MARGIN
        placed = {}
        for key, col in columns.items():
            anchor = x if col.align == "left" else x + col.width
            placed[key] = _Column(col.header, col.align, col.width, anchor)
            x += col.width + _COL_GAP
        self.columns = placed
        self.x_text_right = x - _COL_GAP
        self.x_plot = self.x_text_right + _PLOT_GAP
        self.plot_width = float(np.clip(_TARGET_WIDTH - self.x_plot - 0.35, *_PLOT_WIDTH))
        self.width = self.x_plot + self.plot_width + 0.35

        self.note_lines = {
            i: self._wrap_note(r, span, body) for i, r in enumerate(rows) if r.kind == "text"
        }
        title_font = font(TITLE_SIZE, weight="bold")  # wrap with the font it is drawn in
        self.title_lines = (
            wrap_to_width(title, self.width - 2 * _MARGIN, title_font) if title else []
        )
        y = _MARGIN
        self.y_title = y
        if self.title_lines:
            y += text_height(len(self.title_lines), font(TITLE_SIZE)) + 0.1
        self.y_top_rule = y
        header_lines = max(h.count("\n") + 1 for h in (c.header for c in placed.values()))
        header_height = text_height(header_lines, bold) + 0.1
        self.y_header = y + header_height / 2
        y += header_height
        self.y_rule = y
        y += 0.04
        self.centres = []
        line = text_height(1, body)
        # the plot panel ends below the last row drawn in it (a network forest has no
        # pooled row: its treatments are the last)
        last_drawn = max(i for i, r in enumerate(rows) if r.kind in {"study", "pooled", "pi"})
        self.last_drawn = last_drawn
        self.y_axis = y
        for i, row in enumerate(rows):
            if row.kind == "text":
                height = len(self.note_lines[i]) * line + 0.06
            elif row.kind == "spacer":
                height = _ROW / 2
            else:
                height = _ROW + row.label.count("\n") * line
            self.centres.append(y + height / 2)
            y += height
            if i == last_drawn:
                self.y_axis = y + 0.04
        self.height = max(y, self.y_axis + _AXIS_SPACE) + _MARGIN

    @staticmethod
    def _join(row: Row) -> str:
        return row.label + (" " + row.sep.join(row.segments) if row.segments else "")

    @staticmethod
    def _wrap_note(row: Row, width: float, prop) -> list[str]:
        lines = [row.label]
        for k, part in enumerate(row.segments):
            joiner = " " if k == 0 else row.sep
            candidate = lines[-1] + joiner + part
            if text_width(candidate, prop) <= width or not lines[-1].strip():
                lines[-1] = candidate
            else:
                lines[-1] += joiner.rstrip()
                lines.append("    " + part)
        return lines

    def draw_text(self, fig: Figure, to_fig: Transform) -> None:
        body, bold = font(), font(weight="bold")

        def put(x: float, y: float, text: str, prop, ha: str, gid: str) -> None:
            if text:
                fig.text(
                    x,
                    y,
                    text,
                    transform=to_fig,
                    fontproperties=prop,
                    ha=ha,
                    va="center",
                    multialignment=ha,
                    parse_math=False,
                    color=INK,
                    gid=gid,
                )

        if self.title_lines:
            fig.text(
                _MARGIN,
                self.y_title,
                "\n".join(self.title_lines),
                transform=to_fig,
                fontproperties=font(TITLE_SIZE, weight="bold"),
                ha="left",
                va="top",
                parse_math=False,
                gid="title",
            )
        for key, col in self.columns.items():
            put(col.x, self.y_header, col.header, bold, col.align, f"header-{key}")
        right = self.x_plot + self.plot_width
        for y in (self.y_top_rule, self.y_rule):
            fig.add_artist(
                Line2D([_MARGIN, right], [y, y], transform=to_fig, color=INK, linewidth=LINE_WIDTH)
            )
        extra_keys = [k for k in self.columns if k.startswith("extra")]
        for i, (row, y) in enumerate(zip(self.rows, self.centres, strict=True)):
            if row.kind == "text":
                put(self.columns["label"].x, y, "\n".join(self.note_lines[i]), body, "left", "note")
                continue
            strong = row.kind in {"group", "pooled"}
            put(
                self.columns["label"].x,
                y,
                row.label,
                bold if strong else body,
                "left",
                "label" if row.kind == "study" else f"label-{row.kind}",
            )
            for key, cell in zip(extra_keys, row.cells, strict=False):  # only studies have cells
                put(self.columns[key].x, y, cell, body, "right", key)
            if "weight" in self.columns:
                put(
                    self.columns["weight"].x,
                    y,
                    row.weight_text,
                    bold if strong else body,
                    "right",
                    "weight" if row.kind == "study" else f"weight-{row.kind}",
                )
            put(
                self.columns["effect"].x,
                y,
                row.effect_text,
                bold if strong else body,
                "right",
                "effect" if row.kind == "study" else f"effect-{row.kind}",
            )


# ---------------------------------------------------------------------------- plot panel


def _draw_panel(ax, rows: list[Row], centres: list[float], scale: Scale, ref: float | None) -> None:
    xmin, xmax, ticks = _axis_limits(rows, scale, ref)
    ax.set_xscale("log" if scale.log_axis else "linear")
    ax.set_xlim(xmin, xmax)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(FixedLocator([]))
    ax.xaxis.set_major_formatter(minus_formatter())
    house_ticks(ax, "x")
    ax.tick_params(axis="y", left=False, labelleft=False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(LINE_WIDTH)
    ax.spines["bottom"].set_color(INK)
    ax.patch.set_alpha(0)
    if ref is not None:
        ax.axvline(ref, color=GRID_GREY, linewidth=LINE_WIDTH, zorder=1, gid="refline")

    studies = [(r, y) for r, y in zip(rows, centres, strict=True) if r.kind == "study"]
    if studies:
        est = np.array([r.est for r, _ in studies])
        lb = np.array([r.lb for r, _ in studies])
        ub = np.array([r.ub for r, _ in studies])
        ys = np.array([y for _, y in studies])
        ax.hlines(
            ys,
            np.clip(lb, xmin, xmax),
            np.clip(ub, xmin, xmax),
            color=INK,
            linewidth=LINE_WIDTH,
            zorder=2,
            gid="whiskers",
        )
        for side, beyond, edge in (("<", lb < xmin, xmin), (">", ub > xmax, xmax)):
            if beyond.any():
                ax.plot(
                    np.full(beyond.sum(), edge),
                    ys[beyond],
                    linestyle="none",
                    marker=side,
                    markersize=4,
                    color=INK,
                    clip_on=False,
                    zorder=2,
                    gid="clipped",
                )
        side_max = _SQUARE_MAX * _ROW * 72
        weights = np.array([r.weight for r, _ in studies])
        sizes = np.maximum(side_max**2 * weights, _SQUARE_MIN_PT**2)
        ax.scatter(
            est,
            ys,
            s=sizes,
            marker="s",
            color=OKABE_ITO["blue"],
            edgecolors="none",
            zorder=3,
            gid="studies",
        )
    for row, y in zip(rows, centres, strict=True):
        if row.kind == "pooled":
            half = _DIAMOND * _ROW
            ax.add_patch(
                Polygon(
                    [(row.lb, y), (row.est, y - half), (row.ub, y), (row.est, y + half)],
                    closed=True,
                    facecolor=INK,
                    edgecolor=INK,
                    linewidth=0.5,
                    zorder=3,
                    gid="pooled",
                )
            )
        elif row.kind == "pi":
            lo, hi = max(row.lb, xmin), min(row.ub, xmax)
            ax.plot(
                [lo, hi],
                [y, y],
                color=OKABE_ITO["vermillion"],
                linewidth=1.6,
                solid_capstyle="butt",
                zorder=3,
                gid="prediction-interval",
            )
            ax.plot(
                [lo, hi],
                [y, y],
                linestyle="none",
                marker="|",
                markersize=6,
                markeredgewidth=1.2,
                color=OKABE_ITO["vermillion"],
                clip_on=False,
                zorder=3,
            )


def _axis_limits(
    rows: list[Row], scale: Scale, ref: float | None
) -> tuple[float, float, list[float]]:
    """Axis range covering every estimate, pooled interval and PI, and study CIs within reason.

    Study CIs more than the core range beyond it are cut (and drawn with an arrowhead).
    """
    core, full = [], []
    for r in rows:
        if r.kind == "study":
            core.append(r.est)
            full += [r.lb, r.ub]
        elif r.kind in {"pooled", "pi"}:
            core += [r.lb, r.ub] + ([r.est] if r.kind == "pooled" else [])
    if ref is not None:
        core.append(ref)
    to_axis = np.log if scale.log_axis else (lambda v: np.asarray(v, dtype=float))
    core_a = to_axis(np.array([v for v in core if np.isfinite(v)]))
    full_a = to_axis(np.array([v for v in core + full if np.isfinite(v)]))
    lo_core, hi_core = core_a.min(), core_a.max()
    reach = max(hi_core - lo_core, 1e-8 if not scale.log_axis else 0.1)
    lo = max(full_a.min(), lo_core - reach)
    hi = min(full_a.max(), hi_core + reach)
    if scale.log_axis:
        ticks = _log_ticks(float(np.exp(lo)), float(np.exp(hi)))
    else:
        if hi - lo < 1e-12:
            lo, hi = lo - 1, hi + 1
        candidates = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
        first = candidates[candidates <= lo + 1e-12].max()
        last = candidates[candidates >= hi - 1e-12].min()
        ticks = [float(t) for t in candidates if first - 1e-12 <= t <= last + 1e-12]
    return ticks[0], ticks[-1], ticks


def _log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a ratio axis: its ends on the 1-2-5 grid, labels on that grid when few
    enough, else at the powers of ten and the two ends."""
    grid = sorted(m * 10.0**e for e in range(-6, 7) for m in (1, 2, 5))
    first = max(c for c in grid if c <= lo * (1 + 1e-9))
    last = min(c for c in grid if c >= hi * (1 - 1e-9))
    ticks = [c for c in grid if first <= c <= last]
    if len(ticks) <= 7:
        return ticks
    decades = [c for c in ticks if np.isclose(np.log10(c), round(np.log10(c)))]
    return _thin(sorted({first, *decades, last}), 8)


def _thin(ticks: list[float], most: int) -> list[float]:
    if len(ticks) <= most:
        return ticks
    step = int(np.ceil((len(ticks) - 1) / (most - 1)))
    kept = ticks[::step]
    return kept if kept[-1] == ticks[-1] else [*kept, ticks[-1]]
