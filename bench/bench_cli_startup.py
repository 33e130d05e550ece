"""Start-up cost of the ``metareview`` command line (issue 21.19): a benchmark, not a test.

Each command runs ``--repeats`` times in a fresh interpreter; the table gives the median CPU
time (user + system, which a busy machine inflates less than wall time), the median wall
time, and the CPU time's ratio to a bare ``python -c pass``; then what the heavy imports
(pandas, scipy, sqlalchemy, alembic, matplotlib, pydantic) cost alone, timed the same way.

With ``--before SRC`` (the ``src`` folder of an older checkout, e.g. from
``git archive <commit> src | tar -x -C /tmp/old``) every command also runs on that code (its
``src`` first on PYTHONPATH, same interpreter and packages), alternating with the current
code run by run, so that the machine's load falls on both alike; the table then sets the two
side by side. The table is printed and written to ``bench/results/cli_startup.md``.

The reference tool is R with metafor, timed the same way and alternating with ours run by
run: ``Rscript`` doing what ``metareview rma CSV`` does (``library(metafor)``, ``read.csv``,
``print(rma(yi, vi, data = d))``), a bare ``Rscript -e 'library(metafor)'``, and
``Rscript -e 0`` (R's own start, as ``python -c pass`` is Python's). Without ``Rscript`` on
the PATH, or without metafor, the reference rows are left out and the file says why.

Beside a few commands runs their floor (``_cli_floor.py``): a bare typer app doing the least
that command does with the same libraries (typer and rich; + SQLAlchemy's ORM; + numpy and
``scipy.special``), started as ``metareview.cli.main`` starts a command. A command's time
minus its floor's is what metareview itself costs.

Each tree's bytecode is cached (in a temporary ``PYTHONPYCACHEPREFIX``, after one warm-up run
of every command), as it is for an installed package: pip compiles the bytecode of what it
installs, whereas ``PYTHONDONTWRITEBYTECODE=1`` in the environment would make every run
compile our modules from source again (~0.07 s more per store command).
``--uncached-bytecode`` keeps the environment's setting instead.

    .venv/bin/python bench/bench_cli_startup.py [--repeats 7] [--before /tmp/old/src]
        [--before-name "commit abc1234"] [--uncached-bytecode]

The import costs behind the figures come from ``python -X importtime``; what each command
must not import is guarded, without timing, by tests/cli/test_help_and_startup.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from _machine import machine

RESULTS = Path(__file__).resolve().parent / "results" / "cli_startup.md"
FLOOR = Path(__file__).resolve().parent / "_cli_floor.py"
CLI = "import sys; sys.argv[0] = 'metareview'; from metareview.cli import main; main()"
MODULES = (
    "pandas",
    "scipy.special",
    "scipy.stats",
    "sqlalchemy.orm",
    "alembic.command",
    "matplotlib.pyplot",
    "pydantic",
)


def timed(argv: list[str], env: dict[str, str], stdin: str = "q\n") -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


#: R doing what ``metareview rma CSV`` does, for the reference rows
R_RMA = (
    "suppressPackageStartupMessages(library(metafor))\n"
    "d <- read.csv(commandArgs(trailingOnly = TRUE)[1])\n"
    "print(rma(yi, vi, data = d))\n"
)


def environment(src: str | None, pycache: Path | None) -> dict[str, str]:
    """The environment of one tree: its ``src`` first on the path; its own bytecode cache."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    if pycache is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def references(work: Path, csv: Path) -> tuple[dict[str, list[str]], str | None]:
    """The R commands timed beside ``rma CSV``, or why there are none."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return {}, "Rscript is not on the PATH"
    check = subprocess.run(
        [rscript, "-e", "library(metafor)"], capture_output=True, text=True, check=False
    )
    if check.returncode != 0:
        return {}, f"R has no metafor ({check.stderr.strip().splitlines()[-1]})"
    script = work / "rma.R"
    script.write_text(R_RMA, encoding="utf-8")
    return {
        "Rscript: library(metafor); read.csv; print(rma(yi, vi))": [rscript, str(script), str(csv)],
        "Rscript -e 'library(metafor)'": [rscript, "-e", "library(metafor)"],
        "Rscript -e 0": [rscript, "-e", "0"],
    }, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", help="src folder of the code to compare with")
    parser.add_argument("--before-name", help="what that code is (default: its folder)")
    parser.add_argument(
        "--uncached-bytecode",
        action="store_true",
        help="keep the environment's PYTHONDONTWRITEBYTECODE (our modules compiled every run)",
    )
    args = parser.parse_args()
    python = sys.executable
    cli = [python, "-c", CLI]
    names = itertools.count()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)

        def cache(tree: str) -> Path | None:
            return None if args.uncached_bytecode else work / f"pycache-{tree}"

        trees = {"after": environment(None, cache("after"))}
        if args.before:
            trees = {"before": environment(args.before, cache("before")), **trees}
        csv = work / "d.csv"
        csv.write_text("yi,vi\n0.1,0.01\n0.3,0.02\n0.5,0.03\n0.2,0.02\n", encoding="utf-8")
        labelled = work / "labelled.csv"
        labelled.write_text(
            'study,yi,vi\n"Smith, 2001",0.1,0.01\nLee 2003,0.3,0.02\nRoe,0.5,0.03\nDoe,0.2,0.02\n',
            encoding="utf-8",
        )
        counts = work / "counts.csv"
        counts.write_text("ai,bi,ci,di\n4,119,11,128\n6,300,29,274\n3,228,11,209\n", "utf-8")
        search = work / "search.ris"
        search.write_text(
            "".join(
                f"TY  - JOUR\nTI  - Trial {i}\nAU  - Roe, A.\nPY  - 2020\nAB  - Abstract {i}.\n"
                "ER  - \n\n"
                for i in range(1, 6)
            ),
            encoding="utf-8",
        )
        store = str(work / "s.sqlite")
        for setup, keys in (  # five records, two reviewers, votes on the first two
            (["store", "init", "--project", "p"], ""),
            (["store", "import", str(search), "--database", "PubMed"], ""),
            (["store", "reviewer", "add", "Ana"], ""),
            (["store", "reviewer", "add", "Ben"], ""),
            (["screen", "--reviewer", "Ana"], "i\ne\nq\n"),
            (["screen", "--reviewer", "Ben"], "i\ni\nq\n"),
        ):
            subprocess.run(
                [*cli, *setup, "--store", store],
                input=keys,
                text=True,
                check=True,
                capture_output=True,
                env=trees["after"],
            )
        commands: dict[str, Callable[[], list[str]]] = {
            "--help": lambda: ["--help"],
            "--version": lambda: ["--version"],
            "rma CSV": lambda: ["rma", str(csv)],
            "rma CSV --slab --json": lambda: ["rma", str(labelled), "--slab", "study", "--json"],
            "bias CSV": lambda: ["bias", str(csv)],
            "store reviewer add": lambda: [
                *("store", "reviewer", "add", f"R{next(names)}", "--store", store)
            ],
            "store reviewer list": lambda: ["store", "reviewer", "list", "--store", store],
            "store votes": lambda: ["store", "votes", "--reviewer", "Ana", "--store", store],
            "store conflicts": lambda: ["store", "conflicts", "--store", store],
            "screen (q at once)": lambda: ["screen", "--reviewer", "Ana", "--store", store],
            "escalc RR CSV -o": lambda: [
                *("escalc", "RR", str(counts), "-o", str(work / "rr.csv")),
                *(f"--col={c}={c}" for c in ("ai", "bi", "ci", "di")),
            ],
            "forest CSV -o PNG": lambda: ["forest", str(csv), "-o", str(work / "f.png")],
        }
        reference, no_reference = references(work, csv)
        floor_store = str(work / "floor.sqlite")
        floors = {  # command -> its floors (see _cli_floor.py)
            "--help": {"floor: typer --help": [python, str(FLOOR), "--help"]},
            "store reviewer list": {
                "floor: typer + rich table": [python, str(FLOOR), "table"],
                "floor: typer + rich + SQLAlchemy ORM query": [
                    *(python, str(FLOOR), "store", "--store", floor_store)
                ],
            },
            "rma CSV": {
                "floor: typer + numpy + scipy.special": [python, str(FLOOR), "pvalue", "x"]
            },
        }
        bare = statistics.median(
            timed([python, "-c", "pass"], trees["after"])[0] for _ in range(args.repeats)
        )
        for argv in commands.values():  # warm-up: each tree compiles its bytecode once
            for env in trees.values():
                timed([*cli, *argv()], env)
        rows = []
        reference_rows: dict[str, tuple[float, float]] = {}
        floor_rows: dict[str, tuple[str, tuple[float, float]]] = {}
        for name, argv in commands.items():
            runs: dict[str, list[tuple[float, float]]] = {tree: [] for tree in trees}
            others = {**(reference if name == "rma CSV" else {}), **floors.get(name, {})}
            for r in others:
                runs[r] = []
            for _ in range(args.repeats):
                for tree, env in trees.items():  # alternate: the load falls on all alike
                    runs[tree].append(timed([*cli, *argv()], env))
                for r, r_argv in others.items():
                    runs[r].append(timed(r_argv, trees["after"]))
            medians = {
                tree: (statistics.median(c for c, _ in r), statistics.median(w for _, w in r))
                for tree, r in runs.items()
            }
            reference_rows.update({r: medians.pop(r) for r in reference if r in medians})
            floor_rows.update({r: (name, medians.pop(r)) for r in floors.get(name, {})})
            rows.append((name, medians))
            print(name, {t: f"{c:.2f} s CPU, {w:.2f} s wall" for t, (c, w) in medians.items()})
        imports = {
            module: statistics.median(
                timed([python, "-c", f"import {module}"], trees["after"])[0]
                for _ in range(args.repeats)
            )
            for module in MODULES
        }
    write(rows, imports, bare, trees, args, load_start, reference_rows, no_reference, floor_rows)


def write(
    rows, imports, bare, trees, args, load_start, reference_rows, no_reference, floor_rows
) -> None:
    import importlib.metadata as md

    versions = [(p, md.version(p)) for p in ("pandas", "scipy", "sqlalchemy", "alembic", "typer")]
    lines = [
        "# Start-up time of the command line (issue 21.19)",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine(*versions)}; 1-min load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end",
        f"- median of {args.repeats} runs of each command in a fresh interpreter; CPU = user + "
        f"system; bare `python -c pass`: {bare:.3f} s CPU",
        "- bytecode: "
        + (
            "as the environment says (PYTHONDONTWRITEBYTECODE="
            f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})"
            if args.uncached_bytecode
            else "cached for each tree after a warm-up run, as for an installed package"
        ),
    ]
    if args.before:
        lines.append(
            f"- before: {args.before_name or args.before}, run alternately with the current code "
            "(same interpreter and packages)"
        )
    header = ["command"]
    for tree in trees:
        header += [f"{tree}: CPU (s)", f"{tree}: wall (s)"]
    header += ["after / before (CPU)"] if args.before else []
    header += ["after: x bare python"]
    lines += ["", "| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for name, medians in rows:
        cells = [f"`{name}`"]
        for cpu, wall in medians.values():
            cells += [f"{cpu:.2f}", f"{wall:.2f}"]
        if args.before:
            cells.append(f"{medians['after'][0] / medians['before'][0]:.2f}")
        cells.append(f"{medians['after'][0] / bare:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Reference: R with metafor, run alternately with `rma CSV` (same repeats)", ""]
    if no_reference:
        lines.append(f"Left out: {no_reference}.")
    else:
        ours = dict(rows)["rma CSV"]["after"]
        lines += [
            "| reference command | CPU (s) | wall (s) | `metareview rma CSV` / it (CPU) "
            "| `metareview rma CSV` / it (wall) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, (cpu, wall) in reference_rows.items():
            ratios = f"{ours[0] / cpu:.2f} | {ours[1] / wall:.2f}"
            lines.append(f"| `{name}` | {cpu:.2f} | {wall:.2f} | {ratios} |")
    lines += [
        "",
        "Floors (`_cli_floor.py`, run alternately with the command they stand under)",
        "",
        "| floor | CPU (s) | wall (s) | under | command after: CPU (s) | command - floor (CPU) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    after = {name: medians["after"] for name, medians in rows}
    for floor, (name, (cpu, wall)) in floor_rows.items():
        ours = after[name][0]
        lines.append(
            f"| {floor} | {cpu:.2f} | {wall:.2f} | `{name}` | {ours:.2f} | {ours - cpu:.2f} |"
        )
    lines += ["", "| import alone | CPU (s) |", "|---|---:|"]
    lines += [f"| `{module}` | {seconds:.2f} |" for module, seconds in imports.items()]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
