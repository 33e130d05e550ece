"""How long the analysis page takes to redraw after a changed choice, for k = 10, 30, 100.

The issue's budget: a changed choice (outcome, measure, model, test, subgroup, moderator)
redraws in under a second for k <= 100. A redraw is what the page's server does per request:
read the agreed table into the protocol (:func:`metareview.report.live.load_agreed`; cached
by the web app while the data do not change, timed here anyway), fit the outcome with the
chosen model plus the report's robustness grid (8 fits for a proportion, one of them a GLMM),
Egger and Begg, leave-one-out, and draw the forest and funnel plots as SVG
(:func:`metareview.report.live.analyse_agreed`), then render the HTML template.

Data: a proportion outcome with the ketamine-CRPS review-store example's protocol and k
simulated studies (fixed seed; n ~ 10-60, logit rate ~ N(0.7, 0.8^2), percentages rounded
to 0.1 as printed). Each choice is timed 3 times; the table gives the median and the worst.
This is a benchmark, not a test: it asserts nothing; it writes ``bench/results/analysis_page.md``.

Usage::

    .venv/bin/python bench/bench_analysis_page.py
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
matplotlib.use("Agg")

from _machine import machine  # noqa: E402
from metareview.report.live import analyse_agreed, load_agreed  # noqa: E402

EXAMPLE = ROOT / "examples" / "ketamine-crps-review"
CHOICES = [
    {},
    {"measure": "PR", "method": "DL", "test": "z"},
    {"method": "DL", "test": "z"},
    {"measure": "PFT", "method": "REML", "test": "knha"},
    {"test": "z", "subgroup": "intervention"},
    {"moderator": "duration_days"},
]


def table(k: int) -> pd.DataFrame:
    rng = np.random.default_rng(20261207)
    n = rng.integers(10, 61, size=k)
    rate = 1 / (1 + np.exp(-rng.normal(0.7, 0.8, size=k)))
    return pd.DataFrame(
        {
            "study": [f"Study {i + 1:03d}" for i in range(k)],
            "year": rng.integers(1995, 2018, size=k),
            "n": n,
            "immediate_relief_pct": np.round(100 * rng.binomial(n, rate) / n, 1),
            "intervention": rng.choice(["S+ketamine", "Racemic ketamine"], size=k),
            "duration_days": np.round(rng.uniform(1, 20, size=k), 1),
        }
    )


def _environment():
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(ROOT / "src" / "metareview" / "web" / "templates"),
        autoescape=select_autoescape(default=True),
    )


ENV = _environment()  # compiled templates are kept, as the app keeps them


def render_page(live) -> None:
    """The template render, as the route does (the figures are already SVG)."""
    env = ENV
    a = live.analysis
    robustness = a.robustness.reset_index().to_dict(orient="records")
    env.get_template("analysis.html").render(
        project="bench",
        session=None,
        caller=None,
        choices={"outcomes": [], "measures": [], "methods": [], "tests": [], "columns": []},
        chosen=live.choices,
        live=live,
        a=a,
        main=a.main.to_dict(),
        robustness=robustness,
        main_label="chosen",
        leave1out=live.leave1out.reset_index().to_dict(orient="records"),
        subgroups=None,
        regression=None,
        regression_rows=[],
        forest="data:",
        funnel="data:",
        pending=[],
        percent=True,
        error=None,
        request=None,
    )


def breakdown(protocol) -> dict[str, float]:
    """CPU time of each step of one redraw (the protocol's model)."""
    from metareview.report.analyses import analyse_outcome
    from metareview.report.build import forest_figure, funnel_figure
    from metareview.report.live import figure_svg

    steps: dict[str, list[float]] = {}

    def timed(name, call, *args, **kwargs):
        begin = time.process_time()
        out = call(*args, **kwargs)
        steps.setdefault(name, []).append(time.process_time() - begin)
        return out

    outcome = protocol.outcome("immediate")
    for _ in range(3):
        a = timed("fits (robustness grid, Egger, Begg)", analyse_outcome, protocol, outcome)
        forest = timed("forest plot built", forest_figure, a)
        timed("forest plot written as SVG", figure_svg, forest)
        funnel = timed("funnel plot built", funnel_figure, a, min_k=3)
        timed("funnel plot written as SVG", figure_svg, funnel)
    return {name: statistics.median(values) for name, values in steps.items()}


def main() -> None:
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in (10, 30, 100):
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                shutil.copy(EXAMPLE / "protocol.toml", folder / "protocol.toml")
                data = table(k)
                analyse_agreed(load_agreed(folder, data), "immediate")  # warm the imports
                for choice in CHOICES:
                    times, cpu = [], []
                    for _ in range(3):
                        start, start_cpu = time.perf_counter(), time.process_time()
                        protocol = load_agreed(folder, data)
                        live = analyse_agreed(protocol, "immediate", **choice)
                        render_page(live)
                        times.append(time.perf_counter() - start)
                        cpu.append(time.process_time() - start_cpu)
                    label = ", ".join(f"{key}={value}" for key, value in choice.items())
                    rows.append(
                        (
                            k,
                            label or "protocol's model",
                            statistics.median(cpu),
                            max(cpu),
                            statistics.median(times),
                            max(times),
                        )
                    )
                if k == 100:
                    parts = breakdown(load_agreed(folder, data))
                    print(rows[-1], flush=True)
    lines = [
        "# Analysis page: redraw time after a changed choice",
        "",
        f"Machine: {machine(('matplotlib', matplotlib.__version__))}; load average "
        f"{os.getloadavg()[0]:.1f} at the end (wall time suffers on a shared machine; CPU time "
        "is the process's own).",
        "",
        "| k | choice | CPU median (s) | CPU worst (s) | wall median (s) | wall worst (s) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {k} | {label} | {cm:.3f} | {cw:.3f} | {wm:.3f} | {ww:.3f} |"
            for k, label, cm, cw, wm, ww in rows
        ),
        "",
        "Where the time goes at k = 100 (protocol's model, CPU seconds, median of 3): "
        + "; ".join(f"{name} {value:.3f}" for name, value in parts.items())
        + ".",
        "",
        f"Budget 1 s for k <= 100; worst CPU time here {max(r[3] for r in rows):.3f} s, worst "
        f"wall time {max(r[5] for r in rows):.3f} s.",
        "",
    ]
    out = ROOT / "bench" / "results" / "analysis_page.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
