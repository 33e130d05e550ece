"""Point labels that overlap neither each other nor the points (greedy candidate search).

Each label is tried at positions around its point (right, left, above, below, then the
diagonals), at growing distances; the first position whose box stays inside the axes and
clears every point and every label placed before it wins. A label set away from its point
gets a thin leader line. Offsets are in points, so the labels keep their place when the
figure is saved at another resolution; they are computed for the axes' size at drawing time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.text import Annotation

from metareview.plots._style import GRID_GREY, INK, font, text_height, text_width

__all__ = ["place_labels"]

# directions tried (degrees), in order of preference: right, left, above, below, the
# diagonals, then the eight directions between those
_ANGLES = (0, 180, 90, 270, 45, 135, 315, 225, 22.5, 157.5, 67.5, 112.5, 337.5, 202.5, 292.5, 247.5)
# clearance between marker edge and label (points), nearest first
_GAPS_PT = (2.0, 7.0, 14.0, 24.0, 36.0, 50.0, 70.0)
_LEADER_FROM_PT = 6.0  # labels further than this from their marker get a leader line
_PAD_PX = 1.0


def place_labels(
    ax: Axes,
    xy: np.ndarray,
    labels: Sequence[str],
    which: Sequence[int],
    *,
    radius_pt: float | np.ndarray,
    gid: str = "label",
) -> list[Annotation]:
    """Label the points ``xy[which]`` (data coordinates) with ``labels[which]``.

    ``radius_pt`` is the marker radius in points (one value, or one per point); every point
    of ``xy`` is an obstacle, labelled or not. Returns the label annotations in the order of
    ``which``. If the figure has a layout engine it is run first, so positions are final.
    """
    fig = ax.figure
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    px_per_pt = fig.dpi / 72
    centres = ax.transData.transform(np.asarray(xy, dtype=float))
    radii = np.broadcast_to(np.asarray(radius_pt, dtype=float), (len(centres),)) * px_per_pt
    frame = ax.get_window_extent()
    prop = font()
    height = text_height(1, prop) * fig.dpi
    placed: list[tuple[float, float, float, float]] = []
    leaders: list[tuple[np.ndarray, np.ndarray]] = []
    out = []
    for i in which:
        text = str(labels[i])
        width = text_width(text, prop) * fig.dpi
        best: tuple = ()
        best_cost = np.inf
        for gap in _GAPS_PT:
            for angle in _ANGLES:
                dx, dy = _side(np.cos(np.radians(angle))), _side(np.sin(np.radians(angle)))
                offset = radii[i] + gap * px_per_pt
                ax_ = centres[i, 0] + offset * np.cos(np.radians(angle))
                ay_ = centres[i, 1] + offset * np.sin(np.radians(angle))
                box = _box(ax_, ay_, width, height, dx, dy)
                leader = None
                if gap > _LEADER_FROM_PT:
                    unit = np.array([np.cos(np.radians(angle)), np.sin(np.radians(angle))])
                    leader = (centres[i] + radii[i] * unit, np.array([ax_, ay_]))
                cost = _cost(box, frame, placed, centres, radii)
                cost += _leader_cost(box, leader, placed, leaders, centres, radii, i)
                if cost < best_cost:
                    best = (dx, dy, ax_ - centres[i, 0], ay_ - centres[i, 1], box, leader)
                    best_cost = cost
                if cost == 0:
                    break
            if best_cost == 0:
                break
        dx, dy, off_x, off_y, box, leader = best
        placed.append(box)
        if leader is not None:
            leaders.append(leader)
        ha = "left" if dx > 0 else "right" if dx < 0 else "center"
        va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
        off_pt = (off_x / px_per_pt, off_y / px_per_pt)
        if leader is not None:
            ax.annotate(
                "",
                xy=tuple(xy[i]),
                xytext=off_pt,
                textcoords="offset points",
                arrowprops={
                    "arrowstyle": "-",
                    "color": GRID_GREY,
                    "linewidth": 0.5,
                    "shrinkA": 0.5,
                    "shrinkB": radii[i] / px_per_pt + 0.5,
                },
                gid=f"{gid}-leader",
                in_layout=False,
            )
        out.append(
            ax.annotate(
                text,
                xy=tuple(xy[i]),
                xytext=off_pt,
                textcoords="offset points",
                ha=ha,
                va=va,
                fontproperties=prop,
                color=INK,
                parse_math=False,
                gid=gid,
                in_layout=False,
                annotation_clip=False,
            )
        )
    return out


def _side(component: float) -> int:
    """-1, 0 or 1: which side of the anchor the label extends to along one axis."""
    return 1 if component > 0.3 else -1 if component < -0.3 else 0


def _box(
    x: float, y: float, width: float, height: float, dx: int, dy: int
) -> tuple[float, float, float, float]:
    x0 = x if dx > 0 else x - width if dx < 0 else x - width / 2
    y0 = y if dy > 0 else y - height if dy < 0 else y - height / 2
    return (x0, y0, x0 + width, y0 + height)


def _cost(box, frame, placed, centres: np.ndarray, radii: np.ndarray) -> float:
    """Overlap (pixels squared) of ``box`` with the outside of the axes, labels and points."""
    x0, y0, x1, y1 = box
    outside = (max(0.0, frame.x0 - x0) + max(0.0, x1 - frame.x1)) * (y1 - y0) + (
        max(0.0, frame.y0 - y0) + max(0.0, y1 - frame.y1)
    ) * (x1 - x0)
    cost = 10 * outside  # leaving the axes is worse than touching a point
    for a0, b0, a1, b1 in placed:
        w = min(x1, a1) - max(x0, a0) + 2 * _PAD_PX
        h = min(y1, b1) - max(y0, b0) + 2 * _PAD_PX
        if w > 0 and h > 0:
            cost += 5 * w * h
    # distance from each point to the box; a point inside its radius is covered
    nx = np.clip(centres[:, 0], x0, x1)
    ny = np.clip(centres[:, 1], y0, y1)
    dist = np.hypot(centres[:, 0] - nx, centres[:, 1] - ny)
    covered = radii + _PAD_PX - dist
    cost += float(np.sum(np.where(covered > 0, 200.0 + 20 * covered**2, 0.0)))
    return cost


def _leader_cost(
    box, leader, placed, leaders, centres: np.ndarray, radii: np.ndarray, own: int
) -> float:
    """Penalty for leader lines crossing labels, points or each other."""
    cost = 0.0
    for segment in leaders:  # the new box must not sit on an earlier leader
        if _segment_hits_box(*segment, box):
            cost += 300.0
    if leader is None:
        return cost
    start, end = leader
    for other in placed:
        if _segment_hits_box(start, end, other):
            cost += 300.0
    for a, b in leaders:
        if _segments_cross(start, end, a, b):
            cost += 300.0
    direction = end - start
    length2 = float(direction @ direction) or 1.0
    t = np.clip(((centres - start) @ direction) / length2, 0, 1)
    nearest = start + t[:, None] * direction
    hit = np.hypot(*(centres - nearest).T) < radii
    hit[own] = False
    return cost + 300.0 * float(hit.sum())


def _segment_hits_box(p: np.ndarray, q: np.ndarray, box) -> bool:
    """Whether segment p-q meets the rectangle ``box`` (Liang-Barsky clipping)."""
    x0, y0, x1, y1 = box
    d = q - p
    lo, hi = 0.0, 1.0
    for delta, start, low, high in ((d[0], p[0], x0, x1), (d[1], p[1], y0, y1)):
        if abs(delta) < 1e-12:
            if start < low or start > high:
                return False
            continue
        t0, t1 = (low - start) / delta, (high - start) / delta
        lo, hi = max(lo, min(t0, t1)), min(hi, max(t0, t1))
        if lo > hi:
            return False
    return True


def _segments_cross(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> bool:
    def turn(u: np.ndarray, v: np.ndarray, w: np.ndarray) -> float:
        return float((v[0] - u[0]) * (w[1] - u[1]) - (v[1] - u[1]) * (w[0] - u[0]))

    return (turn(p, q, a) * turn(p, q, b) < 0) and (turn(a, b, p) * turn(a, b, q) < 0)
