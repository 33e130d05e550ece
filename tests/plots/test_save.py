"""save_figure writes PNG, SVG and PDF (the public surface: tests/test_exported_members.py)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from metareview import InputError
from metareview.plots import save_figure


def test_writes_three_formats(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    paths = save_figure(fig, tmp_path / "sub" / "figure")
    assert [p.name for p in paths] == ["figure.png", "figure.svg", "figure.pdf"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in paths[1].read_bytes()[:2000]
    assert paths[2].read_bytes().startswith(b"%PDF")


def test_png_resolution_defaults_to_300_dpi(tmp_path):
    fig = plt.figure(figsize=(2, 1))
    (png,) = save_figure(fig, tmp_path / "f", formats=("png",))
    header = png.read_bytes()[16:24]
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")
    assert (width, height) == (600, 300)


def test_vector_files_are_reproducible(tmp_path):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    first = [p.read_bytes() for p in save_figure(fig, tmp_path / "a", formats=("svg", "pdf"))]
    second = [p.read_bytes() for p in save_figure(fig, tmp_path / "b", formats=("svg", "pdf"))]
    assert first == second


def test_bad_arguments(tmp_path):
    fig = plt.figure()
    with pytest.raises(InputError, match=r"path_stem must not carry an extension"):
        save_figure(fig, tmp_path / "figure.png")
    with pytest.raises(InputError, match=r"formats must be among png, svg, pdf; got \['tif'\]"):
        save_figure(fig, tmp_path / "figure", formats=("tif",))
    with pytest.raises(InputError, match=r"needs a matplotlib Figure; got str"):
        save_figure("figure", tmp_path / "figure")
