"""PRISMA 2020 flow diagram for new systematic reviews (databases, registers, other methods)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path

from metareview._prisma_flow import PrismaCounts, check_counts
from metareview.plots._style import (
    INK,
    LIGHT_GREY,
    LINE_WIDTH,
    ORANGE_TINT,
    SKY_BLUE_TINTS,
    check_glyphs,
    font,
    text_height,
    text_width,
    wrap_to_width,
)

__all__ = ["prisma"]

# tints of Okabe-Ito orange and sky blue, and a grey, after the template's gold/blue/grey
_HEADER_MAIN = ORANGE_TINT
_HEADER_OTHER = LIGHT_GREY
_BAND = SKY_BLUE_TINTS[1]
# geometry, inches
_MARGIN = 0.12
_WIDTH = {2: 4.8, 4: 7.3}  # figure width by number of box columns (journal page: 7-7.5)
_BAND_WIDTH = 0.26
_BAND_GAP = 0.12
_ARROW_GAP = 0.22
_ROW_GAP = 0.26
_PAD = 0.06
_INDENT = "   "


@dataclass(frozen=True, slots=True)
class _Box:
    key: str
    column: int
    row: int
    lines: tuple[str, ...]


def prisma(counts: Mapping[str, Any]) -> Figure:
    """Draw the PRISMA 2020 flow diagram of a new systematic review.

    Parameters
    ----------
    counts : mapping
        Box counts (whole numbers). Always required: ``records_databases`` (a total, or a
        mapping database -> n) and ``studies_included``. Every other count may be None, or
        left out, when the review does not report it: its box (or line) then reads
        "(n = not reported)" -- nothing is shown as 0 or made up. The other counts are
        ``records_registers`` (total or register -> n), ``duplicates_removed``,
        ``records_removed_automation``, ``records_removed_other`` (a total, or a mapping
        reason -> n, listed under its box), ``records_screened``,
        ``records_excluded``, ``reports_sought``, ``reports_not_retrieved``,
        ``reports_assessed``, ``reports_excluded`` (a mapping reason -> n, or a total; a
        reason's n may be None) and ``reports_included`` (when None or absent: reports
        assessed minus excluded over both branches, if those are known). The other-methods
        branch is drawn when any of its counts is given, even as None:
        ``records_other_methods`` (total or source -> n, e.g. websites, citation searching),
        ``other_reports_sought``, ``other_reports_not_retrieved``, ``other_reports_assessed``
        and ``other_reports_excluded`` (reason -> n, or a total).

    Returns
    -------
    matplotlib.figure.Figure
        7.3 inches wide with the other-methods branch (4.8 without); the height follows
        the content.

    Raises
    ------
    InputError
        Unknown keys, a missing ``records_databases`` or ``studies_included``, counts that
        are not whole numbers >= 0 (or None), or counts that break the flow: identified -
        removed before screening = screened; screened - excluded = sought; sought - not
        retrieved = assessed (in each branch); no step removes more than it starts from;
        assessed - excluded over both branches = reports included; and studies included <=
        reports included. Each check is made only when all the counts it involves are known.
        The message names every inconsistent box.

    References
    ----------
    Page MJ, McKenzie JE, Bossuyt PM, et al. (2021). The PRISMA 2020 statement: an updated
    guideline for reporting systematic reviews. BMJ 372:n71. https://doi.org/10.1136/bmj.n71
    (flow diagram template: "new systematic reviews which included searches of databases,
    registers and other sources").

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = prisma({"records_databases": {"PubMed": 50, "Embase": 32},
    ...     "duplicates_removed": 12, "records_screened": 70, "records_excluded": 40,
    ...     "reports_sought": 30, "reports_not_retrieved": 2, "reports_assessed": 28,
    ...     "reports_excluded": {"Wrong population": 8, "No outcome data": 5},
    ...     "studies_included": 15})
    >>> box = fig.findobj(lambda a: a.get_gid() == "box:studies_included")[0]
    >>> print(box.get_text().replace("\\u00a0", " "))
    Studies included in review
    (n = 15)
    Reports of included studies
    (n = 15)
    >>> plt.close(fig)

    When a review reports only some counts, the others read "not reported":

    >>> fig = prisma({"records_databases": 82, "studies_included": 15})
    >>> box = fig.findobj(lambda a: a.get_gid() == "box:records_screened")[0]
    >>> print(box.get_text().replace("\\u00a0", " "))
    Records screened
    (n = not reported)
    >>> plt.close(fig)
    """
    c = check_counts(counts)
    body = font()
    columns = 4 if c.other else 2
    x_first = _MARGIN + _BAND_WIDTH + _BAND_GAP
    box_width = (_WIDTH[columns] - x_first - _MARGIN - (columns - 1) * _ARROW_GAP) / columns
    xs = [x_first + j * (box_width + _ARROW_GAP) for j in range(columns)]
    width = xs[-1] + box_width + _MARGIN

    boxes = [
        _Box(key, column, row, tuple(_wrap(text, box_width - 2 * _PAD, body)))
        for key, column, row, text in _contents(c)
    ]
    line = text_height(1, body)
    row_heights = [
        max(len(b.lines) * line + 2 * _PAD for b in boxes if b.row == r) for r in range(5)
    ]
    header_lines = {
        j: _wrap(t, 2 * box_width + _ARROW_GAP - 2 * _PAD, font(weight="bold"))
        for j, t in _headers(c).items()
    }
    header_height = max(len(v) for v in header_lines.values()) * line + 2 * _PAD
    y = _MARGIN
    y_header = y
    y += header_height + _ROW_GAP
    row_tops = []
    for h in row_heights:
        row_tops.append(y)
        y += h + _ROW_GAP
    height = y - _ROW_GAP + _MARGIN

    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()

    for j, lines in header_lines.items():
        x = xs[2 * j]
        w = 2 * box_width + _ARROW_GAP
        ax.add_patch(
            FancyBboxPatch(
                (x, y_header),
                w,
                header_height,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=_HEADER_MAIN if j == 0 else _HEADER_OTHER,
                edgecolor=INK,
                linewidth=LINE_WIDTH,
            )
        )
        ax.text(
            x + w / 2,
            y_header + header_height / 2,
            "\n".join(lines),
            fontproperties=font(weight="bold"),
            ha="center",
            va="center",
            multialignment="center",
            parse_math=False,
            gid=f"header:{j}",
        )

    for label, first, last in (("Identification", 0, 0), ("Screening", 1, 3), ("Included", 4, 4)):
        top = row_tops[first]
        bottom = row_tops[last] + row_heights[last]
        ax.add_patch(
            FancyBboxPatch(
                (_MARGIN, top),
                _BAND_WIDTH,
                bottom - top,
                boxstyle="round,pad=0,rounding_size=0.06",
                facecolor=_BAND,
                edgecolor=INK,
                linewidth=LINE_WIDTH,
            )
        )
        ax.text(
            _MARGIN + _BAND_WIDTH / 2,
            (top + bottom) / 2,
            label,
            rotation=90,
            fontproperties=font(weight="bold"),
            ha="center",
            va="center",
            rotation_mode="anchor",
            parse_math=False,
            gid=f"band:{label}",
        )

    frames = {}
    for b in boxes:
        x, top, h = xs[b.column], row_tops[b.row], row_heights[b.row]
        frames[b.key] = (x, top, box_width, h)
        ax.add_patch(
            Rectangle(
                (x, top),
                box_width,
                h,
                facecolor="white",
                edgecolor=INK,
                linewidth=LINE_WIDTH,
                gid=f"frame:{b.key}",
            )
        )
        ax.text(
            x + _PAD,
            top + _PAD,
            "\n".join(b.lines),
            fontproperties=body,
            ha="left",
            va="top",
            parse_math=False,
            gid=f"box:{b.key}",
            color=INK,
        )
    _arrows(ax, frames, c)
    return check_glyphs(fig)


def _n(value: int | None) -> str:
    """``(n = value)``, or ``(n = not reported)`` for None; no-break spaces: never wrapped
    apart."""
    shown = "not\u00a0reported" if value is None else value
    return f"(n\u00a0=\u00a0{shown})"


def _listing(label: str, total: int | None, parts: dict[str, int | None] | None) -> list[str]:
    """``label (n = total)`` and, when given per source, one indented line per source."""
    lines = [f"{_INDENT}{label} {_n(total)}"]
    lines += [f"{_INDENT * 2}{name} {_n(n)}" for name, n in (parts or {}).items()]
    return lines


def _reasons(title: str, total: int | None, reasons: dict[str, int | None] | None) -> str:
    if reasons is None:
        return f"{title}\n{_n(total)}"
    if not reasons:
        return f"{title}\n{_n(0)}"
    return f"{title}:\n" + "\n".join(f"{_INDENT}{r} {_n(n)}" for r, n in reasons.items())


def _contents(c: PrismaCounts) -> list[tuple[str, int, int, str]]:
    identified = [
        "Records identified from:",
        *_listing("Databases", c.records_databases, c.databases),
        *_listing("Registers", c.records_registers, c.registers),
    ]
    boxes = [
        ("records_identified", 0, 0, "\n".join(identified)),
        (
            "records_removed",
            1,
            0,
            "\n".join(
                [
                    "Records removed before screening:",
                    f"{_INDENT}Duplicate records removed {_n(c.duplicates_removed)}",
                    f"{_INDENT}Records marked as ineligible by automation tools "
                    f"{_n(c.records_removed_automation)}",
                    f"{_INDENT}Records removed for other reasons {_n(c.records_removed_other)}",
                    *(
                        f"{_INDENT * 2}{reason} {_n(n)}"
                        for reason, n in (c.removal_reasons or {}).items()
                    ),
                ]
            ),
        ),
        ("records_screened", 0, 1, f"Records screened\n{_n(c.records_screened)}"),
        ("records_excluded", 1, 1, f"Records excluded\n{_n(c.records_excluded)}"),
        ("reports_sought", 0, 2, f"Reports sought for retrieval\n{_n(c.reports_sought)}"),
        ("reports_not_retrieved", 1, 2, f"Reports not retrieved\n{_n(c.reports_not_retrieved)}"),
        ("reports_assessed", 0, 3, f"Reports assessed for eligibility\n{_n(c.reports_assessed)}"),
        (
            "reports_excluded",
            1,
            3,
            _reasons("Reports excluded", c.reports_excluded, c.exclusion_reasons),
        ),
        (
            "studies_included",
            0,
            4,
            f"Studies included in review\n{_n(c.studies_included)}\n"
            f"Reports of included studies\n{_n(c.reports_included)}",
        ),
    ]
    if c.other:
        if c.other_sources is None:
            sources = f"Records identified from other methods\n{_n(c.records_other_methods)}"
        else:
            sources = "Records identified from:\n" + "\n".join(
                f"{_INDENT}{name} {_n(n)}" for name, n in c.other_sources.items()
            )
        boxes += [
            ("other_records_identified", 2, 0, sources),
            (
                "other_reports_sought",
                2,
                2,
                f"Reports sought for retrieval\n{_n(c.other_reports_sought)}",
            ),
            (
                "other_reports_not_retrieved",
                3,
                2,
                f"Reports not retrieved\n{_n(c.other_reports_not_retrieved)}",
            ),
            (
                "other_reports_assessed",
                2,
                3,
                f"Reports assessed for eligibility\n{_n(c.other_reports_assessed)}",
            ),
            (
                "other_reports_excluded",
                3,
                3,
                _reasons("Reports excluded", c.other_reports_excluded, c.other_exclusion_reasons),
            ),
        ]
    return boxes


def _headers(c: PrismaCounts) -> dict[int, str]:
    heads = {0: "Identification of new studies via databases and registers"}
    if c.other:
        heads[1] = "Identification of new studies via other methods"
    return heads


def _wrap(text: str, width: float, prop) -> list[str]:
    """Wrap each line to ``width``; wrapped list items (indented lines) continue one indent
    deeper, so each item stays recognisable."""
    out: list[str] = []
    for raw in text.split("\n"):
        indent = raw[: len(raw) - len(raw.lstrip(" "))]
        hang = indent + _INDENT if indent else ""
        wrapped = wrap_to_width(
            raw.strip(),
            width - text_width(indent, prop),
            prop,
            hanging=text_width(hang, prop) - text_width(indent, prop),
        )
        out.append(indent + wrapped[0])
        out += [hang + rest for rest in wrapped[1:]]
    return out


def _arrows(ax, frames: dict[str, tuple[float, float, float, float]], c: PrismaCounts) -> None:
    def bottom(key: str) -> tuple[float, float]:
        x, top, w, h = frames[key]
        return x + w / 2, top + h

    def top(key: str) -> tuple[float, float]:
        x, y, w, _ = frames[key]
        return x + w / 2, y

    def right(key: str) -> tuple[float, float]:
        x, y, w, h = frames[key]
        return x + w, y + h / 2

    def left(key: str) -> tuple[float, float]:
        x, y, _, h = frames[key]
        return x, y + h / 2

    def arrow(*points: tuple[float, float]) -> None:
        ax.add_patch(
            FancyArrowPatch(
                path=Path(list(points)),
                arrowstyle="-|>",
                mutation_scale=9,
                color=INK,
                linewidth=LINE_WIDTH,
                shrinkA=0,
                shrinkB=0,
                gid="arrow",
            )
        )

    main = [
        "records_identified",
        "records_screened",
        "reports_sought",
        "reports_assessed",
        "studies_included",
    ]
    side = ["records_removed", "records_excluded", "reports_not_retrieved", "reports_excluded"]
    for upper, lower in pairwise(main):
        arrow(bottom(upper), top(lower))
    for key, aside in zip(main, side, strict=False):
        arrow(right(key), (left(aside)[0], right(key)[1]))
    if c.other:
        arrow(bottom("other_records_identified"), top("other_reports_sought"))
        arrow(bottom("other_reports_sought"), top("other_reports_assessed"))
        for key, aside in (
            ("other_reports_sought", "other_reports_not_retrieved"),
            ("other_reports_assessed", "other_reports_excluded"),
        ):
            arrow(right(key), (left(aside)[0], right(key)[1]))
        start = bottom("other_reports_assessed")
        end = right("studies_included")
        arrow(start, (start[0], end[1]), end)
