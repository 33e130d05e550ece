"""Start-up cost of the ``metareview`` command line (issue 21.19): a benchmark, not a test.

Each command runs ``REPEATS`` times in a fresh interpreter; the table gives the median CPU
time (user + system, which a busy machine inflates less than wall time) and its ratio to a
bare ``python -c pass``, and how much of it is the imports the command needs (pandas,
scipy.stats, sqlalchemy, matplotlib), timed the same way.

    .venv/bin/python bench/bench_cli_startup.py            # REPEATS = 7

Measured on the shared 2-core build machine (load 5-9), 7 December 2026, median of 5-7:

    command                 before     after
    --help                  1.51 s     0.12 s
    --version               1.55 s     0.13 s
    rma CSV                 1.54 s     1.35 s   (pandas 0.48 + scipy.stats 0.81, for the fit)
    store reviewer list     2.67 s     1.23 s   (pandas, sqlalchemy, alembic; no scipy, no mpl)
    screen (q at once)      2.76 s     1.38 s

("before" is commit ff48f1f, whose ``import metareview.cli`` imported the whole library.)
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPEATS = 7


def cpu_seconds(argv: list[str], stdin: str = "") -> float:
    """CPU time (user + system) of one run of ``argv``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median(argv: list[str], stdin: str = "") -> float:
    return statistics.median(cpu_seconds(argv, stdin) for _ in range(REPEATS))


def main() -> None:
    python = sys.executable
    cli = [
        python,
        "-c",
        "import sys; sys.argv[0] = 'metareview'; from metareview.cli import main; main()",
    ]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        csv = work / "d.csv"
        csv.write_text("yi,vi\n0.1,0.01\n0.3,0.02\n0.5,0.03\n0.2,0.02\n", encoding="utf-8")
        store = str(work / "s.sqlite")
        subprocess.run(
            [*cli, "store", "init", "--project", "p", "--store", store],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [*cli, "store", "reviewer", "add", "Ana", "--store", store],
            check=True,
            capture_output=True,
        )
        bare = median([python, "-c", "pass"])
        print(f"bare python: {bare:.2f} s CPU (median of {REPEATS})\n")
        print(f"{'command':24s} {'CPU s':>6s} {'x bare':>7s}")
        commands = {
            "--help": ["--help"],
            "--version": ["--version"],
            "rma CSV": ["rma", str(csv)],
            "store reviewer list": ["store", "reviewer", "list", "--store", store],
            "screen (q at once)": ["screen", "--reviewer", "Ana", "--store", store],
        }
        for name, args in commands.items():
            seconds = median([*cli, *args], stdin="q\n")
            print(f"{name:24s} {seconds:6.2f} {seconds / bare:7.1f}")
        print()
        for module in ("pandas", "scipy.stats", "scipy.special", "sqlalchemy", "matplotlib.pyplot"):
            seconds = median([python, "-c", f"import {module}"])
            print(f"import {module:18s} {seconds:6.2f} {seconds / bare:7.1f}")


if __name__ == "__main__":
    main()
