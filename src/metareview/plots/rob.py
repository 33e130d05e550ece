"""Risk-of-bias figures in the style of robvis: traffic-light plot and weighted summary bars.

Tools: RoB 2 (randomised trials, 5 domains), ROBINS-I in its original 2016 version
(non-randomised studies of interventions, 7 domains) and the Newcastle-Ottawa Scale (star
counts in 3 domains). The tools' domains and levels, and the rules for reading an assessment
table, are review-domain data kept in the neutral module :mod:`metareview._rob_tools` (which
the review store uses too); this module only draws what that reader returns, with the
colours and symbols below. It imports nothing of ``metareview.review``.

Colours follow robvis's green / yellow / red convention (McGuinness & Higgins, 2021) in
Okabe-Ito hues (bluish green, yellow, vermillion; a dark vermillion for Critical and a light
grey for No information), and every level also has its own symbol, so colour is never the
only cue (greyscale print, colour-vision deficiency). Black symbols on the light fills and a
white one on the dark fill keep a contrast of at least 4.5:1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Rectangle

from metareview._rob_tools import Assessments, Level, normalise_name, read_assessments
from metareview.exceptions import InputError
from metareview.plots._axes import style_axes
from metareview.plots._style import (
    BLUES,
    DARK_VERMILLION,
    FONT_SIZE,
    GRID_GREY,
    INK,
    LIGHT_GREY,
    LINE_WIDTH,
    OKABE_ITO,
    PALE_GREY,
    TITLE_SIZE,
    check_glyphs,
    font,
    text_height,
    text_width,
    wrap_to_width,
)
from metareview.stats.models import RmaResult

__all__ = ["rob", "rob_summary"]


@dataclass(frozen=True, slots=True)
class LevelLook:
    """How a judgement level is drawn: the symbol on it, its fill and the symbol's colour."""

    symbol: str
    fill: str
    ink: str


_BLACK = OKABE_ITO["black"]
#: the look of every judgement level of the tools, by the level's label
LEVEL_LOOKS = {
    "Low": LevelLook("+", OKABE_ITO["bluish_green"], _BLACK),
    "Some concerns": LevelLook("\u2212", OKABE_ITO["yellow"], _BLACK),
    "High": LevelLook("\u00d7", OKABE_ITO["vermillion"], _BLACK),
    "Moderate": LevelLook("\u2212", OKABE_ITO["yellow"], _BLACK),
    "Serious": LevelLook("\u00d7", OKABE_ITO["vermillion"], _BLACK),
    "Critical": LevelLook("!", DARK_VERMILLION, "white"),
    "No information": LevelLook("?", LIGHT_GREY, _BLACK),
}

# traffic-light geometry (inches)
_MARGIN = 0.12
_ROW = 0.27
_CELL = 0.32  # narrowest column
_RADIUS = 0.105  # judgement circles
_STAR_STEP = 0.15  # spacing of stars in a cell
_GAP = 0.14  # between the label column and the first domain, and before Overall
_KEY_GAP = 0.3  # between the key blocks
_MAX_WIDTH = 7.5
_STAR_FILL = OKABE_ITO["orange"]
_STAR_COLOURS = (LIGHT_GREY, *BLUES[1:])  # 0 .. 4 stars


def rob(
    assessments: pd.DataFrame | Mapping[str, Any],
    tool: str = "RoB2",
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a traffic-light plot of risk-of-bias assessments (one row per study).

    Each cell is a circle coloured by the judgement and marked with its symbol (RoB 2: ``+``
    Low, ``−`` Some concerns, ``×`` High; ROBINS-I: ``+`` Low, ``−`` Moderate, ``×``
    Serious, ``!`` Critical, ``?`` No information), so colour is never the only cue. The
    overall judgement gets its own column; a key below names the domains and levels. For
    the Newcastle-Ottawa Scale each cell shows its stars (filled: awarded; hollow: not) and
    the last column the total.

    Parameters
    ----------
    assessments : DataFrame or mapping
        One row per study (index = study label, or a ``Study`` column) and one column per
        domain, named by code (``D1`` ... or, for NOS, ``Selection``, ``Comparability``,
        ``Outcome``/``Exposure``) or by the domain's full name, plus an optional
        ``Overall`` column (NOS: ``Total``, checked against the sum of stars) and an
        optional ``Weight`` column (used by :func:`rob_summary` only). A mapping is
        ``{study: {domain: judgement}}`` or ``{study: [D1, D2, ..., Overall]}``.
        Judgements are matched case-insensitively (``"low"``, ``"Some concerns"``,
        ``"high risk"``, ``"NI"``...); NOS cells are star counts (``3`` or ``"***"``).
    tool : {"RoB2", "ROBINS-I", "NOS"}
        The tool of the assessments. ``"ROBINS-I"`` is the original 2016 version with seven
        domains (confounding; selection of participants into the study; classification of
        interventions; deviations from intended interventions; missing data; measurement of
        outcomes; selection of the reported result) and levels Low, Moderate, Serious,
        Critical, No information. ROBINS-I V2 (a draft revision, 2024-25) is not
        implemented.
    ax : matplotlib Axes, optional
        Where to draw. The plot is laid out in inches (data units of the axes, equal
        aspect), so an axes of about the default figure's size keeps the text clear. By
        default a new figure sized to the table (0.27 inch per study).
    title : str, optional
        Title above the table.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        If ``tool`` is unknown, ``assessments`` has missing, unknown or duplicated domain
        columns or study labels, or a cell is not an accepted judgement (the message names
        the study, the domain and the accepted values) or star count.

    Notes
    -----
    Colours follow robvis's green / yellow / red convention in Okabe-Ito hues: bluish
    green (Low), yellow (Some concerns / Moderate), vermillion (High / Serious), dark
    vermillion (Critical) and light grey (No information).

    References
    ----------
    McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization (robvis): an R package and
    Shiny web app for visualizing risk-of-bias assessments. Res Synth Methods 12(1):55-61.
    https://doi.org/10.1002/jrsm.1411

    Sterne JAC, Savović J, Page MJ, et al. (2019). RoB 2: a revised tool for assessing risk
    of bias in randomised trials. BMJ 366:l4898. https://doi.org/10.1136/bmj.l4898

    Sterne JAC, Hernán MA, Reeves BC, et al. (2016). ROBINS-I: a tool for assessing risk of
    bias in non-randomised studies of interventions. BMJ 355:i4919.
    https://doi.org/10.1136/bmj.i4919

    Wells GA, Shea B, O'Connell D, et al. The Newcastle-Ottawa Scale (NOS) for assessing
    the quality of nonrandomised studies in meta-analyses. Ottawa Hospital Research
    Institute. https://www.ohri.ca/programs/clinical_epidemiology/oxford.asp

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> table = {"Trial A": ["low", "low", "some concerns", "low", "low", "some concerns"],
    ...          "Trial B": ["high", "low", "low", "low", "low", "high"]}
    >>> fig = rob(table, tool="RoB2")
    >>> marks = fig.findobj(lambda a: a.get_gid() == "judgement")
    >>> len(marks), [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "label")]
    (12, ['Trial A', 'Trial B'])
    >>> plt.close(fig)
    """
    data = read_assessments(assessments, tool)
    layout = _TrafficLayout(data, title)
    if ax is None:
        fig = plt.figure(figsize=(layout.width, layout.height))
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
    ax.set_xlim(0, layout.width)
    ax.set_ylim(layout.height, 0)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()
    layout.draw(ax)
    return check_glyphs(fig)


def rob_summary(
    assessments: pd.DataFrame | Mapping[str, Any],
    tool: str = "RoB2",
    *,
    weights: Any = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Draw the risk-of-bias summary: per domain, the share of studies at each judgement.

    Stacked horizontal bars, one per domain (the overall judgement last, in bold), from the
    best judgement on the left to the worst on the right; segments wide enough carry their
    percentage. For the Newcastle-Ottawa Scale the segments are star counts per domain (the
    total score has no bar).

    Parameters
    ----------
    assessments : DataFrame or mapping
        As for :func:`rob`.
    tool : {"RoB2", "ROBINS-I", "NOS"}
        As for :func:`rob`.
    weights : optional
        Weight the studies instead of counting them (robvis's weighted summary): a mapping
        study -> weight, a sequence in the order of the studies, a pandas Series indexed by
        study, the name of a column of ``assessments`` (e.g. ``"Weight"``), or an
        :class:`RmaResult` whose ``weights`` (percent, as fitted) are matched to the studies
        by label. Weights must be finite and >= 0 with a positive total.
    ax : matplotlib Axes, optional
        Where to draw; by default a new 7 inch wide figure.
    title : str, optional
        Title above the bars.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        As :func:`rob`, and if ``weights`` does not give one valid weight per study.

    References
    ----------
    McGuinness LA, Higgins JPT (2021). Risk-of-bias VISualization (robvis): an R package and
    Shiny web app for visualizing risk-of-bias assessments. Res Synth Methods 12(1):55-61.
    https://doi.org/10.1002/jrsm.1411

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> table = {"Trial A": ["low", "low", "some concerns", "low", "low", "some concerns"],
    ...          "Trial B": ["high", "low", "low", "low", "low", "high"]}
    >>> fig = rob_summary(table, weights={"Trial A": 3, "Trial B": 1})
    >>> [float(p.get_width()) for p in fig.findobj(lambda a: a.get_gid() == "bar-D1")]
    [75.0, 0.0, 25.0]
    >>> plt.close(fig)
    """
    data = read_assessments(assessments, tool)
    w = _weights(weights, data, assessments)
    shares, categories = _shares(data, w)
    rows = list(data.columns)
    if data.tool.is_star_scale:  # a total of up to 9 stars has no place on a 0-4 star scale
        rows, shares = rows[:-1], shares[:-1]
    names = dict(data.tool.domains)
    labels = [names.get(code, "Overall risk of bias") for code in rows]
    if data.tool.is_star_scale:
        labels = [
            f"{label} (max {m} stars)" for label, m in zip(labels, data.tool.stars, strict=True)
        ]
    own_figure = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 0.34 * len(rows) + 1.25), layout="constrained")
    else:
        fig = ax.figure
    ys = np.arange(len(rows), dtype=float)
    if data.has_overall and not data.tool.is_star_scale:
        ys[-1] += 0.35  # set the overall bar slightly apart
    left = np.zeros(len(rows))
    handles = []
    for c, (label, fill, _ink) in enumerate(categories):
        widths = shares[:, c]
        for r, code in enumerate(rows):
            ax.barh(
                ys[r],
                widths[r],
                left=left[r],
                height=0.7,
                color=fill,
                edgecolor="white",
                linewidth=0.6,
                gid=f"bar-{code}",
            )
        handles.append(Patch(facecolor=fill, edgecolor=GRID_GREY, linewidth=0.4, label=label))
        left += widths
    ax.set_xlim(0, 100)
    ax.set_ylim(ys[-1] + 0.6, -0.6)
    ax.set_yticks(ys, labels)
    for tick, code in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_fontproperties(font(weight="bold" if code == "Overall" else "normal"))
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:g}%")
    n = len(data.studies)
    xlabel = (
        f"Share of total weight ({n} studies)" if w is not None else f"Share of studies (n = {n})"
    )
    style_axes(ax, xlabel, None, spines=("bottom",), linear_ticks=False)
    ax.tick_params(axis="y", length=0)
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.01),
        ncols=len(handles),
        frameon=False,
        prop=font(),
        borderaxespad=0.0,
        handlelength=1.2,
        handletextpad=0.4,
        columnspacing=1.2,
    )
    if title:
        prop = font(TITLE_SIZE, weight="bold")
        if own_figure:  # across the whole figure, above the legend
            lines = wrap_to_width(title, fig.get_figwidth() - 2 * _MARGIN, prop)
            fig.suptitle(
                "\n".join(lines),
                x=_MARGIN / fig.get_figwidth(),
                ha="left",
                fontproperties=prop,
                color=INK,
                gid="title",
            )
        else:
            width = ax.get_position().width * fig.get_figwidth()
            ax.set_title(
                "\n".join(wrap_to_width(title, width, prop)),
                loc="left",
                pad=22,
                fontproperties=prop,
                color=INK,
                gid="title",
            )
    # percentages last: whether one fits its segment depends on the final bar width
    _segment_labels(ax, shares, ys, categories)
    return check_glyphs(fig)


def _weights(weights: Any, data: Assessments, assessments: Any) -> np.ndarray | None:
    if weights is None:
        return None
    studies = list(data.studies)
    if isinstance(weights, str):
        frame = assessments if isinstance(assessments, pd.DataFrame) else None
        if normalise_name(weights) == "weight" and data.weights is not None:
            values = data.weights
        elif frame is not None and weights in frame.columns:
            values = frame[weights].to_numpy()
        else:
            raise InputError(f"weights={weights!r} is not a column of assessments.")
    elif isinstance(weights, RmaResult):
        slab = [str(s) for s in weights.slab]
        missing = [s for s in studies if s not in slab]
        if missing:
            raise InputError(
                f"weights: studies {missing} are not in the model (res.slab); label the "
                "assessments as the model's studies."
            )
        fitted = np.asarray(weights.weights, dtype=float)
        values = np.array([fitted[slab.index(s)] for s in studies])
    elif isinstance(weights, pd.Series | Mapping):
        lookup = {str(k): v for k, v in dict(weights).items()}
        missing = [s for s in studies if s not in lookup]
        if missing:
            raise InputError(f"weights has no weight for studies {missing}.")
        values = np.array([lookup[s] for s in studies])
    else:
        values = np.asarray(weights)
        if values.ndim != 1 or values.size != len(studies):
            raise InputError(
                f"weights needs one value per study ({len(studies)}); got "
                f"{values.size if values.ndim == 1 else f'shape {values.shape}'}."
            )
    try:
        w = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"weights must be numbers; got {list(values)!r}.") from None
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        named = [studies[i] for i in np.flatnonzero(bad)]
        raise InputError(f"weights must be finite and >= 0; not so for studies {named}.")
    if w.sum() <= 0:
        raise InputError("weights add up to 0; give at least one study a positive weight.")
    return w


def _shares(
    data: Assessments, w: np.ndarray | None
) -> tuple[np.ndarray, list[tuple[str, str, str]]]:
    """Percent of studies (or weight) per column and category, and the categories."""
    weight = np.ones(len(data.studies)) if w is None else w
    tool = data.tool
    if tool.is_star_scale:
        top = max(tool.stars)
        categories = [
            (
                f"{s} star{'s' if s != 1 else ''}",
                _STAR_COLOURS[min(s, 4)],
                "white" if s >= 3 else INK,
            )
            for s in range(top, -1, -1)
        ]
        shares = np.zeros((len(data.columns), len(categories)))
        for r in range(len(data.columns)):
            if data.columns[r] == "Overall":
                continue  # the total (up to 9 stars) is not summarised on the 0-4 scale
            for values, wt in zip(data.values, weight, strict=True):
                shares[r, top - values[r]] += wt
    else:
        categories = [
            (lv.label, LEVEL_LOOKS[lv.label].fill, LEVEL_LOOKS[lv.label].ink) for lv in tool.levels
        ]
        index = {lv.label: j for j, lv in enumerate(tool.levels)}
        shares = np.zeros((len(data.columns), len(categories)))
        for values, wt in zip(data.values, weight, strict=True):
            for r, level in enumerate(values):
                shares[r, index[level.label]] += wt
    shares = 100 * shares / weight.sum()
    return shares, categories


def _segment_labels(
    ax: Axes, shares: np.ndarray, ys: np.ndarray, categories: list[tuple[str, str, str]]
) -> None:
    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    inches_per_pct = ax.get_window_extent().width / fig.dpi / 100
    prop = font(FONT_SIZE - 1)
    for r in range(shares.shape[0]):
        left = 0.0
        for c, (_, _, ink) in enumerate(categories):
            width = shares[r, c]
            text = f"{width:.0f}%"
            if width > 0 and text_width(text, prop) + 0.06 <= width * inches_per_pct:
                ax.text(
                    left + width / 2,
                    ys[r],
                    text,
                    ha="center",
                    va="center",
                    fontproperties=prop,
                    color=ink,
                    gid="share",
                    in_layout=False,
                )
            left += width


# ----------------------------------------------------------------------- traffic light


class _TrafficLayout:
    """Positions, in inches from the top-left corner, of every part of the traffic light."""

    def __init__(self, data: Assessments, title: str | None) -> None:
        self.data = data
        tool = data.tool
        body, bold = font(), font(weight="bold")
        self.label_width = max(text_width(s, body) for s in (*data.studies, "Study"))
        x = _MARGIN + self.label_width + _GAP
        self.columns: list[tuple[str, str, float, float]] = []  # code, header, centre, width
        for j, code in enumerate(data.columns):
            overall = j == len(data.columns) - 1 and code == "Overall"
            header = tool.overall if overall else code
            if tool.is_star_scale and not overall:
                content = tool.stars[j] * _STAR_STEP + 0.08
            elif tool.is_star_scale:
                content = text_width(f"{sum(tool.stars)}/{sum(tool.stars)}", bold) + 0.1
            else:
                content = _CELL
            width = max(content, text_width(header, bold) + 0.1, _CELL)
            if overall:
                x += _GAP
            self.columns.append((code, header, x + width / 2, width))
            x += width
        self.grid_right = x
        domain_cols = [c for c in self.columns if c[0] != "Overall"]
        self.domains_left = domain_cols[0][2] - domain_cols[0][3] / 2
        self.domains_right = domain_cols[-1][2] + domain_cols[-1][3] / 2

        # key: domain names (left) and the judgement levels (right, or below if too wide)
        self.key_title = "Domains:" if not tool.is_star_scale else "Newcastle\u2013Ottawa Scale:"
        if tool.is_star_scale:
            self.key_lines = [
                f"{name} (max {m} stars)"
                for (_, name), m in zip(tool.domains, tool.stars, strict=True)
            ]
            self.key_lines.append(f"{tool.overall}: stars awarded, of {sum(tool.stars)}")
        else:
            self.key_lines = [f"{code}: {name}" for code, name in tool.domains]
        key_width = max(text_width(t, body) for t in (*self.key_lines, self.key_title))
        if tool.is_star_scale:
            self.legend_items = ["Star awarded", "Star not awarded"]
        else:
            self.legend_items = [level.label for level in tool.levels]
        self.legend_title = "Judgement:" if not tool.is_star_scale else "Stars:"
        legend_width = 0.3 + max(text_width(t, body) for t in self.legend_items)
        legend_width = max(legend_width, text_width(self.legend_title, bold))
        side_by_side = _MARGIN + key_width + _KEY_GAP + legend_width + _MARGIN <= max(
            self.grid_right + _MARGIN, _MAX_WIDTH
        )
        self.width = max(
            self.grid_right + _MARGIN,
            _MARGIN
            + (
                key_width + _KEY_GAP + legend_width
                if side_by_side
                else max(key_width, legend_width)
            )
            + _MARGIN,
        )
        self.title_lines = (
            wrap_to_width(title, self.width - 2 * _MARGIN, font(TITLE_SIZE, weight="bold"))
            if title
            else []
        )
        line = text_height(1, body)
        y = _MARGIN
        self.y_title = y
        if self.title_lines:
            y += text_height(len(self.title_lines), font(TITLE_SIZE)) + 0.08
        self.y_span = y + line / 2  # "Risk of bias domains" over the domains
        y += line + 0.06
        self.y_rule = y - 0.03
        self.y_header = y + _ROW / 2
        y += _ROW
        self.y_rows = [y + (i + 0.5) * _ROW for i in range(len(data.studies))]
        y += len(data.studies) * _ROW
        self.y_grid_bottom = y
        y += 0.18
        self.x_key = _MARGIN
        self.y_key = y
        key_height = (len(self.key_lines) + 1) * line
        if side_by_side:
            self.x_legend = _MARGIN + key_width + _KEY_GAP
            self.y_legend = y
            legend_height = (len(self.legend_items) + 1) * max(line, 0.2)
            y += max(key_height, legend_height)
        else:
            self.x_legend = _MARGIN
            self.y_legend = y + key_height + 0.1
            y = self.y_legend + (len(self.legend_items) + 1) * max(line, 0.2)
        self.height = y + _MARGIN

    def draw(self, ax: Axes) -> None:
        data, tool = self.data, self.data.tool
        body, bold = font(), font(weight="bold")

        def put(
            x: float,
            y: float,
            text: str,
            prop,
            ha: str = "left",
            gid: str | None = None,
            color: str = INK,
        ) -> None:
            ax.text(
                x,
                y,
                text,
                ha=ha,
                va="center",
                fontproperties=prop,
                color=color,
                parse_math=False,
                gid=gid,
            )

        if self.title_lines:
            ax.text(
                _MARGIN,
                self.y_title,
                "\n".join(self.title_lines),
                ha="left",
                va="top",
                fontproperties=font(TITLE_SIZE, weight="bold"),
                color=INK,
                parse_math=False,
                gid="title",
            )
        span = "Risk of bias domains" if not tool.is_star_scale else "Domains (stars)"
        put(
            (self.domains_left + self.domains_right) / 2,
            self.y_span,
            span,
            bold,
            "center",
            "span-header",
        )
        ax.plot(
            [self.domains_left, self.domains_right],
            [self.y_rule, self.y_rule],
            color=INK,
            linewidth=LINE_WIDTH / 2,
        )
        put(_MARGIN, self.y_header, "Study", bold, gid="header-study")
        for _code, header, centre, _width in self.columns:
            put(centre, self.y_header, header, bold, "center", "header")
        for i, (study, values) in enumerate(zip(data.studies, data.values, strict=True)):
            y = self.y_rows[i]
            put(_MARGIN, y, study, body, gid="label")
            for (code, _header, centre, width), value in zip(self.columns, values, strict=True):
                ax.add_patch(
                    Rectangle(
                        (centre - width / 2, y - _ROW / 2),
                        width,
                        _ROW,
                        facecolor=PALE_GREY,
                        edgecolor="white",
                        linewidth=1.2,
                        zorder=1,
                        gid="cell",
                    )
                )
                if tool.is_star_scale and code != "Overall":
                    self._stars(ax, centre, y, int(value), tool.stars[tool.codes.index(code)])
                elif tool.is_star_scale:
                    put(centre, y, f"{value}/{sum(tool.stars)}", bold, "center", "total")
                else:
                    self._circle(ax, centre, y, value, gid="judgement")
        # key
        put(self.x_key, self.y_key, self.key_title, bold, gid="key-title")
        line = text_height(1, body)
        for n, text in enumerate(self.key_lines, start=1):
            put(self.x_key, self.y_key + n * line, text, body, gid="key")
        put(self.x_legend, self.y_legend, self.legend_title, bold, gid="legend-title")
        step = max(line, 0.2)
        for n, label in enumerate(self.legend_items, start=1):
            y = self.y_legend + n * step
            if tool.is_star_scale:
                self._star(ax, self.x_legend + 0.08, y, filled=label == "Star awarded")
            else:
                level = tool.levels[n - 1]
                self._circle(ax, self.x_legend + 0.08, y, level, radius=0.08, gid="legend-mark")
            put(self.x_legend + 0.22, y, label, body, gid="legend")

    @staticmethod
    def _circle(
        ax: Axes, x: float, y: float, level: Level, *, radius: float = _RADIUS, gid: str
    ) -> None:
        look = LEVEL_LOOKS[level.label]
        ax.add_patch(
            Circle(
                (x, y),
                radius,
                facecolor=look.fill,
                edgecolor=INK,
                linewidth=0.4,
                zorder=2,
                gid=gid,
                label=level.label,
            )
        )
        size = FONT_SIZE + 1 if radius >= _RADIUS else FONT_SIZE - 0.5
        ax.text(
            x,
            y,
            look.symbol,
            ha="center",
            va="center_baseline",
            fontproperties=font(size, weight="bold"),
            color=look.ink,
            zorder=3,
            parse_math=False,
            gid="symbol",
        )

    @staticmethod
    def _star(ax: Axes, x: float, y: float, *, filled: bool) -> None:
        ax.add_line(
            Line2D(
                [x],
                [y],
                marker="*",
                markersize=9,
                markerfacecolor=_STAR_FILL if filled else "white",
                markeredgecolor=INK,
                markeredgewidth=0.5,
                linestyle="none",
                zorder=3,
                gid="star-awarded" if filled else "star-not-awarded",
            )
        )

    def _stars(self, ax: Axes, centre: float, y: float, awarded: int, most: int) -> None:
        first = centre - (most - 1) * _STAR_STEP / 2
        for s in range(most):
            self._star(ax, first + s * _STAR_STEP, y, filled=s < awarded)
