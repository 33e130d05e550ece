"""The overlap check itself: it must see every text and catch a real clash."""

from __future__ import annotations

import matplotlib.pyplot as plt

from tests.plots.helpers import drawn_texts, overlapping_texts, texts_outside_figure


def test_overlap_check_catches_a_clash():
    fig, ax = plt.subplots()
    ax.text(0.5, 0.5, "first text")
    ax.text(0.52, 0.5, "second text")
    ax.text(0.1, 0.1, "far away")
    assert overlapping_texts(fig) == [("first text", "second text")]


def test_only_tick_labels_inside_the_view_are_counted():
    fig, ax = plt.subplots()
    ax.set_xlim(0.05, 0.95)
    ax.set_xticks([0, 0.5, 1])  # 0 and 1 fall outside the view and are not drawn
    ax.set_xlim(0.05, 0.95)
    ax.set_yticks([])
    fig.canvas.draw()
    assert [t.get_text() for t in drawn_texts(fig)] == ["0.5"]


def test_outside_check_catches_a_cut_off_text():
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_axis_off()
    fig.text(0.1, 0.5, "inside")
    fig.text(0.8, 0.5, "sticks out on the right")
    assert texts_outside_figure(fig) == ["sticks out on the right"]
