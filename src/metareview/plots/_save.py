"""Write a figure as PNG, SVG and PDF in one call."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
from matplotlib.figure import Figure

from metareview.exceptions import InputError

__all__ = ["save_figure"]

FORMATS = ("png", "svg", "pdf")
# reproducible files (no timestamps) so regenerated figures do not show up as changed
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None},
    "pdf": {"CreationDate": None, "ModDate": None},
}


def save_figure(
    fig: Figure,
    path_stem: str | Path,
    *,
    dpi: float = 300,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Save ``fig`` as ``<path_stem>.png`` (raster, ``dpi``), ``.svg`` and ``.pdf`` (vector).

    Parent folders are created. PDF text is embedded as TrueType (``pdf.fonttype`` 42) so it
    stays editable, as journals' production offices ask; files carry no timestamps, so the
    same figure always gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, e.g. from :func:`metareview.plots.forest`.
    path_stem : str or Path
        Output path without extension, e.g. ``"figures/forest_primary"``.
    dpi : float
        Resolution of the PNG (300 by default, the usual journal minimum for line art with
        text is 300-600).
    formats : sequence of {"png", "svg", "pdf"}
        Which files to write.

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Raises
    ------
    InputError
        If ``fig`` is not a Figure, ``path_stem`` already ends in one of the extensions or a
        format is unknown.

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig = plt.figure(figsize=(2, 1))
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     [p.suffix for p in save_figure(fig, f"{folder}/demo", dpi=72)]
    ['.png', '.svg', '.pdf']
    >>> plt.close(fig)
    """
    if not isinstance(fig, Figure):
        raise InputError(f"save_figure() needs a matplotlib Figure; got {type(fig).__name__}.")
    stem = Path(path_stem)
    if stem.suffix.lower().lstrip(".") in FORMATS:
        raise InputError(
            f"path_stem must not carry an extension; got {str(path_stem)!r}. "
            f"Pass {str(stem.with_suffix(''))!r}: .png, .svg and .pdf are added."
        )
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"formats must be among {', '.join(FORMATS)}; got {unknown}.")
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with mpl.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42, "svg.hashsalt": "metareview"}):
        for fmt in formats:
            path = Path(f"{stem}.{fmt}")
            fig.savefig(path, format=fmt, dpi=dpi, metadata=_METADATA[fmt], facecolor="white")
            written.append(path)
    return written
