"""Trade-off curves of the stopping rules: share of the records screened against recall.

Reads ``bench/results/stopping_curves.csv.gz`` (written by ``bench_stopping.py``) and draws
one panel per set into ``bench/results/stopping_tradeoff.png``:

- lines: the hypergeometric rule at 95% confidence with bias 1 (assumption-free), 2, 3 and
  5, and bias 1 at 90% and 80% confidence, against the recall target (mean over seeds,
  the band is the seeds' range); a cross marks a target at which some seed's recall fell
  below it, with the count;
- black dashes: the lower bound of any rule valid for every ranking (95% confidence);
- points at the recall they reached (mean over seeds): the heuristics (50, 100, 200
  irrelevant in a row; knee) and the target method; a red edge when some run stayed below
  95% recall.

    .venv/bin/python bench/plot_stopping.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

RESULTS = Path(__file__).parent / "results"
LINES = [  # (rule, confidence, colour, style, label)
    ("bias 1", 0.95, "tab:blue", "-", "bias 1 (assumption-free), 95% conf."),
    ("bias 1", 0.90, "tab:blue", "--", "bias 1, 90% conf."),
    ("bias 1", 0.80, "tab:blue", ":", "bias 1, 80% conf."),
    ("bias 2", 0.95, "tab:orange", "-", "bias 2 (assumed), 95% conf."),
    ("bias 3", 0.95, "tab:green", "-", "bias 3 (assumed), 95% conf."),
    ("bias 5", 0.95, "tab:red", "-", "bias 5 (assumed), 95% conf."),
    ("bound", 0.95, "black", (0, (4, 2)), "bound: any rule valid for every ranking"),
]
POINTS = [  # (rule, marker, label)
    ("50 in a row", "v", "50 irrelevant in a row"),
    ("100 in a row", "<", "100 in a row"),
    ("200 in a row", "^", "200 in a row"),
    ("knee", "s", "knee method"),
    ("target method", "D", "target method, T = 59"),
]
NAMES = {
    "ptsd": "PTSD",
    "kitchenham": "Kitchenham",
    "nudging": "Nudging",
    "virus": "Virus",
    "ace": "ACE",
}


def panel(ax: plt.Axes, table: pd.DataFrame, name: str) -> None:
    data = table[table["set"] == name]
    n_seeds = data["seed"].nunique()
    for rule, confidence, colour, style, label in LINES:
        g = data[(data["rule"] == rule) & (data["confidence"] == confidence)]
        if g.empty:
            continue
        g = g.assign(fail=g["recall"] < g["target"] - 1e-12)
        by = g.groupby("target")
        share = by["share"].agg(["mean", "min", "max"]) * 100
        fails = by["fail"].sum()
        x = share.index.to_numpy() * 100
        ax.plot(x, share["mean"], color=colour, linestyle=style, lw=1.6, label=label)
        if confidence == 0.95:
            ax.fill_between(x, share["min"], share["max"], color=colour, alpha=0.12, lw=0)
        for target, count in fails.items():
            if count > 0:
                y = share.loc[target, "mean"]
                ax.plot(target * 100, y, "x", color=colour, ms=8, mew=2)
                ax.annotate(
                    f"{count}/{n_seeds}",
                    (target * 100, y),
                    textcoords="offset points",
                    xytext=(4, -11),
                    fontsize=7,
                    color=colour,
                )
    never = []
    for rule, marker, label in POINTS:
        g = data[data["rule"] == rule]
        if g.empty:
            continue
        if (g["share"] >= 1.0).all():  # never stopped before the end
            never.append(label)
            continue
        below = bool((g["recall"] < 0.95 - 1e-12).any())
        ax.plot(
            g["recall"].mean() * 100,
            g["share"].mean() * 100,
            marker,
            color="0.35",
            mec="red" if below else "0.35",
            mew=1.8 if below else 0.8,
            ms=7,
            label=label,
            linestyle="none",
        )
    if never:
        ax.text(73, 97, "screens everything: " + ", ".join(never), fontsize=7.5, va="top")
    ax.set_title(NAMES.get(name, name), fontsize=11)
    ax.set_xlim(72, 100.5)
    ax.set_ylim(0, 102)
    ax.grid(alpha=0.3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(RESULTS / "stopping_curves.csv.gz"))
    parser.add_argument("--out", default=str(RESULTS / "stopping_tradeoff.png"))
    args = parser.parse_args()
    table = pd.read_csv(args.csv)
    sets = [s for s in NAMES if s in set(table["set"])]
    fig, axes = plt.subplots(2, 3, figsize=(13, 8.2), sharex=True, sharey=True)
    flat = axes.ravel()
    for ax, name in zip(flat, sets, strict=False):
        panel(ax, table, name)
    for ax in axes[1]:
        ax.set_xlabel("recall target (lines) / recall reached (points), %")
    for ax in axes[:, 0]:
        ax.set_ylabel("records screened at the stop, %")
    legend: dict[str, object] = {}
    for ax in flat[: len(sets)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(label, handle)
    flat[-1].axis("off")
    flat[-1].legend(legend.values(), legend.keys(), loc="center", fontsize=8.5, frameon=False)
    seeds = table["seed"].nunique()
    fig.suptitle(
        f"Stopping rules on five labelled reviews (elas_u4 ranking, {seeds} seeds): share "
        "screened vs recall; x = a seed fell below the target; red edge = some run < 95% recall",
        fontsize=10.5,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(args.out, dpi=110)
    print(args.out)


if __name__ == "__main__":
    main()
