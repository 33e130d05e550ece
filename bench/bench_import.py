"""Import speed: BibTeX reading and ``Store.import_file`` of 100,000 records (issue 17 item 4).

A benchmark, not a test. Run ``.venv/bin/python bench/bench_import.py`` (options below).

* **BibTeX**: the labelled respiratory records (1,988) written as a ``.bib`` file, read by
  ``parse_bibtex`` with its scanner (``fast=True``, the default) and with bibtexparser 1.x
  alone (``fast=False``, the reader before issue 17, less its quadratic line counting, which
  is fixed for both), and the same records as RIS for scale.
* **Store.import_file**: a grown corpus of ``--records`` records (``bench_dedup.grow``, real
  titles and fields) written as RIS, imported into a fresh SQLite file and into PostgreSQL
  (``METAREVIEW_TEST_POSTGRES_URL``, else a throwaway cluster from the local binaries,
  ``tests/_postgres.py``); wall and CPU time of the call and the process's peak RSS.

Each measurement runs in its own process, so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_dedup import default_testdata, grow, peak_rss_mb  # noqa: E402


def _bib(frame: pd.DataFrame) -> str:
    return "\n".join(
        f"@{r['ENTRYTYPE']}{{{r['ID']},\n"
        + ",\n".join(
            f"  {k} = {{{v}}}" for k, v in r.items() if k not in ("ID", "ENTRYTYPE", "number") and v
        )
        + "\n}\n"
        for r in frame.to_dict(orient="records")
    )


def _ris(frame: pd.DataFrame) -> str:
    out = []
    for r in frame.to_dict(orient="records"):
        lines = ["TY  - JOUR", f"TI  - {r['title']}"]
        lines += [f"AU  - {a.strip()}" for a in str(r["author"]).split(" and ") if a.strip()]
        first, _, last = str(r["pages"]).partition("-")
        for tag, value in (("PY", r["year"]), ("JO", r["journal"]), ("VL", r["volume"]),
                           ("SP", first), ("EP", last)):  # fmt: skip
            if value:
                lines.append(f"{tag}  - {value}")
        out.append("\n".join([*lines, "ER  - ", ""]))
    return "\n".join(out)


def child(task: str, path: str, url: str = "") -> dict:
    """One measurement in this process (see the module docstring)."""
    from metareview.review.importers import parse_file
    from metareview.review.importers.bibtex import parse_bibtex

    started, cpu = time.perf_counter(), time.process_time()
    if task == "bibtex-scanner":
        n = len(parse_bibtex(Path(path).read_text(encoding="utf-8"), path).records)
    elif task == "bibtex-bibtexparser":
        n = len(parse_bibtex(Path(path).read_text(encoding="utf-8"), path, fast=False).records)
    elif task == "ris":
        n = len(parse_file(path).records)
    else:
        from metareview.review import Store

        store = Store.open(url)
        store.create_project("bench")
        started, cpu = time.perf_counter(), time.process_time()
        n = store.import_file("bench", path).n_imported
        store.close()
    return {
        "n": n,
        "seconds": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "peak_rss_mb": peak_rss_mb(),
    }


def measure(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_testdata())
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "import.md")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    folder = args.data / "dedup" / "respiratory"
    if not folder.is_dir():
        print(f"benchmark data not found at {args.data}; pass --data or set METAREVIEW_TESTDATA.")
        return 2
    lines = [
        "| what | records | wall s (CPU s) | peak RSS (MB) | load average |",
        "|---|---|---|---|---|",
    ]

    def report(label: str, out: dict) -> None:
        if "error" in out:
            lines.append(f"| {label} | | {out['error']} | | |")
        else:
            lines.append(
                f"| {label} | {out['n']:,} | {out['seconds']:.2f} ({out['cpu']:.2f}) | "
                f"{out['peak_rss_mb']:.0f} | {os.getloadavg()[0]:.1f} |"
            )
        print(lines[-1], flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        raw = pd.read_csv(folder / "records_pre_merged.csv", dtype=str, keep_default_na=False)
        bib, ris = Path(tmp) / "respiratory.bib", Path(tmp) / "respiratory.ris"
        bib.write_text(_bib(raw), encoding="utf-8")
        ris.write_text(_ris(raw), encoding="utf-8")
        scanner = measure("bibtex-scanner", str(bib))
        report("BibTeX, scanner (this version)", scanner)
        alone = measure("bibtex-bibtexparser", str(bib))
        report("BibTeX, bibtexparser 1.x per entry (before)", alone)
        report("RIS, same records", measure("ris", str(ris)))
        if "seconds" in scanner and "seconds" in alone:
            lines.append(
                f"\nBibTeX speed-up: {alone['seconds'] / scanner['seconds']:.1f}x wall, "
                f"{alone['cpu'] / scanner['cpu']:.1f}x CPU"
            )
            print(lines[-1])
            lines.append("")
        grown, _ = grow(args.data, args.records)
        big = Path(tmp) / "grown.ris"
        big.write_text(_ris(grown), encoding="utf-8")
        report(
            "Store.import_file, SQLite file",
            measure("store", str(big), f"sqlite:///{Path(tmp) / 'store.sqlite'}"),
        )
        if not args.no_postgres:
            from tests._postgres import PostgresUnavailableError, connect_server

            try:
                server = connect_server()
            except PostgresUnavailableError as exc:
                lines.append(f"| Store.import_file, PostgreSQL | | not available: {exc} | | |")
            else:
                try:
                    with server.fresh_database() as url:
                        report("Store.import_file, PostgreSQL", measure("store", str(big), url))
                finally:
                    server.stop()
    args.out.write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
