"""Benchmark what ``keep_freed_memory()`` buys: the kernel with and without the opt-in.

Until this change the kernel raised glibc's mmap and trim thresholds on every call (issue 12);
now the library leaves the allocator alone and a program opts in with
``metareview.stats.keep_freed_memory()`` (or ``GLIBC_TUNABLES``). Each workload below runs in
a fresh process (the thresholds are per process and cannot be lowered again) in three modes:

* ``default``: nothing changed (the library's behaviour now);
* ``opt-in``: ``keep_freed_memory()`` called first (what every fit did before);
* ``tunables``: no call, ``GLIBC_TUNABLES`` set in the environment to the same thresholds
  (``TUNABLES`` below).

Workloads on 1,000,000 meta-analyses of k = 10 (data of ``bench_scale.py``): ``batch()`` on
the long table (default threads), ``rma_batch`` in one call (``tau2_ci=False``) and the kernel
in chunks of 65,536 meta-analyses, each with DL and REML. Per run: wall time, CPU time (user
+ system: page faults are system time) and minor page faults; the first run in a process
and the median of ``--repeats`` more.

Usage::

    .venv/bin/python bench/bench_malloc.py [--n 1000000] [--repeats 3]

A benchmark, not a test: it asserts nothing. It writes ``bench/results/malloc.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _machine import machine

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "malloc.md"
TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"
MODES = ("default", "opt-in", "tunables")
WORKLOADS = ("batch", "rma_batch", "chunks")

CHILD = """
import json, resource, sys, time, warnings
sys.path.insert(0, {here!r})
import metareview as mr
if {mode!r} == "opt-in":
    mr.stats.keep_freed_memory()
from bench_scale import kernel_in_chunks, long_table, simulate
Y, V = simulate({n}, 10, 1)
table = long_table(Y, V) if {workload!r} == "batch" else None

def run():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if {workload!r} == "batch":
            mr.batch(table, by="study_set", method={method!r})
        elif {workload!r} == "rma_batch":
            mr.rma_batch(Y, V, method={method!r}, tau2_ci=False)
        else:
            kernel_in_chunks(Y, V, {method!r})

runs = []
for _ in range({repeats} + 1):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    run()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    runs.append({{"wall": wall,
                  "cpu": after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime,
                  "sys": after.ru_stime - usage.ru_stime,
                  "faults": after.ru_minflt - usage.ru_minflt}})
print(json.dumps(runs))
"""


def measure(mode: str, workload: str, method: str, n: int, repeats: int) -> list[dict]:
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    if mode == "tunables":
        env["GLIBC_TUNABLES"] = TUNABLES
    code = CHILD.format(
        here=str(HERE), mode=mode, workload=workload, method=method, n=n, repeats=repeats
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    rows = []
    for method in ("DL", "REML"):
        for workload in WORKLOADS:
            for mode in MODES:
                runs = measure(mode, workload, method, args.n, args.repeats)
                first, rest = runs[0], runs[1:]
                row = {
                    "workload": workload,
                    "method": method,
                    "mode": mode,
                    "first_wall": first["wall"],
                    "first_faults": first["faults"],
                    **{
                        key: statistics.median(r[key] for r in rest)
                        for key in ("wall", "cpu", "sys", "faults")
                    },
                }
                rows.append(row)
                print(
                    f"{workload:9} {method:4} {mode:8} first {row['first_wall']:6.2f} s "
                    f"{row['first_faults']:7,d} faults | median wall {row['wall']:6.2f} s "
                    f"cpu {row['cpu']:6.2f} s sys {row['sys']:5.2f} s "
                    f"{int(row['faults']):7,d} faults",
                    flush=True,
                )
    lines = [
        "# keep_freed_memory(): the kernel with and without the allocator opt-in",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}; 1-min load average {load_start:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end (the machine is shared: compare CPU seconds)",
        f"- data: {args.n:,} meta-analyses of k = 10; each line a fresh process, the first "
        f"run and the median of {args.repeats} more",
        "",
        "| workload | method | mode | first run (s) | first-run faults | median wall (s) "
        "| median CPU (s) | of which system (s) | median minor faults |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['workload']} | {row['method']} | {row['mode']} | "
            f"{row['first_wall']:.2f} | {row['first_faults']:,} | {row['wall']:.2f} | "
            f"{row['cpu']:.2f} | {row['sys']:.2f} | {int(row['faults']):,} |"
        )
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
