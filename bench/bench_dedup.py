"""Deduplication quality and speed: metareview against bib-dedupe, on labelled and grown data.

A benchmark, not a test. Run ``.venv/bin/python bench/bench_dedup.py`` (options below); the
shared test data folder defaults to ``$METAREVIEW_TESTDATA``, else ``shared/testdata`` beside
the repository, else ``/work/shared/testdata``.

Data
----
* **respiratory** (1,988 records) and **haematology** (1,415): Rathbone et al. (2015) Syst Rev
  4:6, doi:10.1186/2046-4053-4-6, as redistributed by bib-dedupe; ``merged_record_ids.csv``
  lists each curated duplicate set. Neither carries a DOI or PMID. The ``number`` column of
  respiratory is a record counter, not the issue, and is not used.
* **grown corpora** of 10,000, 50,000 and 100,000 records (``--sizes``), made by
  :func:`grow`: distinct studies drawn from real records (one per curated set of the two
  benchmarks, with their real bibliographic fields) and from the titles, then the abstract
  sentences, of the screening benchmarks (their authors, journals and years drawn from the
  real records, volume and pages random); each study then appears 1 + Binomial(3, 0.2) times
  (mean 1.6, about 38 % duplicates, as in a search of four or five databases), each copy
  perturbed as databases do: title case, typos, trailing punctuation and brackets, author
  format ("Surname, Given" / "Surname GI" / "G. Surname", list cut to three), journal
  abbreviated or lower-cased, missing volume, pages or journal, page ranges written short
  ("123-9"), year one later (e-pub and print). The truth is known by construction.

Scores
------
Per pair and *after grouping* (every pair inside the connected components that merging the
flagged pairs would make). "auto" is metareview's tier 1 or bib-dedupe's ``duplicate`` label;
"flagged" adds metareview's tier 2 or bib-dedupe's ``maybe``. Time is the wall time of the
deduplication alone (metareview's ``find_duplicates``; bib-dedupe's prep + block + match with
``cpu=1``), each tool in its own process so that peak RSS (``ru_maxrss``, including Python and
pandas) is its own. bib-dedupe runs are stopped after ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from metareview.review._dedup_eval import (
    HAEMATOLOGY_REPORTS,
    grouped,
    read_benchmark,
    scores,
    without_reports,
)
from metareview.review.dedup import find_duplicates

HERE = Path(__file__).resolve().parent


def default_testdata() -> Path:
    """``$METAREVIEW_TESTDATA``, else ``shared/testdata`` beside the repository, else the
    workplace's copy."""
    if "METAREVIEW_TESTDATA" in os.environ:
        return Path(os.environ["METAREVIEW_TESTDATA"])
    for candidate in (HERE.parents[1] / "shared" / "testdata", Path("/work/shared/testdata")):
        if candidate.is_dir():
            return candidate
    return HERE.parents[1] / "shared" / "testdata"


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ``ru_maxrss`` it does not carry
    over the parent's peak through fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- grown corpora ----------------------------------------------------------------------------
_SCREENING = (
    ("kitchenham_2010/Kitchenham_2010.csv", "title", "abstract"),
    ("nudging_nagtegaal_2019/nudging.csv", "title", "abstract"),
    ("virus_kwok_2020/virus.csv", "title", "abstract"),
    ("ace_cohen_2006/ace.csv", "title", "abstract"),
    ("holdout/chou_2004_records.csv", "title", "abstract"),
    ("holdout/wilson_2020_records.csv", "title", "abstract"),
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_JOURNAL_STOP = {"of", "and", "the", "&", "in", "for", "on"}


def _pool(testdata: Path) -> tuple[pd.DataFrame, list[str]]:
    """Real records with all fields (one per curated duplicate set) and more real titles:
    titles of the screening benchmarks first, then sentences of their abstracts."""
    bases = []
    for name in ("respiratory", "haematology"):
        folder = testdata / "dedup" / name
        raw = pd.read_csv(folder / "records_pre_merged.csv", dtype=str, keep_default_na=False)
        merged = pd.read_csv(folder / "merged_record_ids.csv", dtype=str)
        later = {i for ids in merged["merged_ids"] for i in ids.split(";")[1:]}
        bases.append(raw[~raw["ID"].isin(later) & (raw["title"] != "")])
    full = pd.concat(bases, ignore_index=True)[
        ["title", "author", "year", "journal", "volume", "pages"]
    ]
    seen = {_key(t) for t in full["title"]}
    titles, sentences = [], []
    for path, title, abstract in _SCREENING:
        frame = pd.read_csv(testdata / "screening" / path, dtype=str, keep_default_na=False)
        titles.extend(frame[title])
        for text in frame[abstract]:
            sentences.extend(s.strip() for s in _SENTENCE.split(text))
    more = []
    for text in titles + sentences:
        words = text.split()
        if not 6 <= len(words) <= 30 or ":" in text[:15]:
            continue
        key = _key(text)
        if key not in seen:
            seen.add(key)
            more.append(text.rstrip("."))
    return full, more


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 10:
        return text
    k = rng.randrange(1, len(text) - 1)
    what = rng.random()
    if what < 0.4:
        return text[:k] + text[k + 1 :]  # deletion
    if what < 0.7:
        return text[:k] + text[k + 1] + text[k] + text[k + 2 :]  # transposition
    return text[:k] + rng.choice("aeiourstln") + text[k + 1 :]  # substitution


def _authors(value: str, rng: random.Random) -> str:
    names = [n.strip() for n in value.split(" and ") if n.strip()]
    if not names:
        return value
    style = rng.random()
    out = []
    for name in names:
        last, _, given = name.partition(",")
        initials = "".join(w[0] for w in re.split(r"[\s.\-]+", given) if w)
        if style < 0.35:
            out.append(f"{last.strip()} {initials}".strip())
        elif style < 0.6:
            out.append(f"{last.strip()}, {'. '.join(initials)}." if initials else last.strip())
        elif style < 0.7:
            out.append(f"{'. '.join(initials)}. {last.strip()}" if initials else last.strip())
        else:
            out.append(name)
    if rng.random() < 0.1:
        out = out[:3]
    return " and ".join(out)


def _abbreviate(journal: str) -> str:
    words = [w for w in re.split(r"[\s.:]+", journal) if w and w.lower() not in _JOURNAL_STOP]
    return " ".join(w[:4] if len(w) > 5 else w for w in words)


def _short_pages(pages: str) -> str:
    match = re.fullmatch(r"(\d+)-(\d+)", pages)
    if not match or len(match.group(1)) != len(match.group(2)):
        return pages
    first, last = match.groups()
    k = 0
    while k < len(first) - 1 and first[k] == last[k]:
        k += 1
    return f"{first}-{last[k:]}"


def _perturb(record: dict[str, str], rng: random.Random) -> dict[str, str]:
    out = dict(record)
    title = out["title"]
    roll = rng.random()
    if roll < 0.15:
        title = title.upper()
    elif roll < 0.3:
        title = title.lower()
    elif roll < 0.4:
        title = f"[{title}]"
    if rng.random() < 0.25:
        title = _typo(title, rng)
    if rng.random() < 0.3:
        title = title + "."
    out["title"] = title
    out["author"] = _authors(out["author"], rng) if rng.random() < 0.7 else out["author"]
    if rng.random() < 0.3:
        out["journal"] = _abbreviate(out["journal"])
    elif rng.random() < 0.2:
        out["journal"] = out["journal"].lower()
    if rng.random() < 0.3:
        out["pages"] = _short_pages(out["pages"])
    for field, p in (("volume", 0.1), ("pages", 0.15), ("journal", 0.05), ("author", 0.02)):
        if rng.random() < p:
            out[field] = ""
    if rng.random() < 0.05 and out["year"].isdigit():
        out["year"] = str(int(out["year"]) + 1)
    return out


def grow(testdata: Path, n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A corpus of ``n`` records with known duplicates (see the module docstring): the
    records in the labelled benchmarks' CSV layout and their duplicate sets."""
    rng = random.Random(seed)
    full, more = _pool(testdata)
    copies = np.random.default_rng(seed).binomial(3, 0.2, size=n) + 1
    n_studies = int(np.searchsorted(np.cumsum(copies), n)) + 1
    if n_studies > len(full) + len(more):
        raise SystemExit(f"only {len(full) + len(more)} distinct real titles; {n} too many")
    full_rows = full.to_dict(orient="records")
    studies = list(full_rows)
    for title in more[: n_studies - len(studies)]:
        donor = rng.choice(full_rows)
        first = rng.randrange(1, 2500)
        studies.append(
            {
                "title": title,
                "author": donor["author"],
                "year": str(rng.randrange(1975, 2024)),
                "journal": rng.choice(full_rows)["journal"],
                "volume": str(rng.randrange(1, 300)),
                "pages": f"{first}-{first + rng.randrange(0, 15)}",
            }
        )
    rng.shuffle(studies)
    rows, sets = [], []
    for study, k in zip(studies[:n_studies], copies[:n_studies], strict=True):
        ids = []
        for c in range(int(k)):
            if len(rows) == n:
                break
            record = study if c == 0 else _perturb(study, rng)
            ids.append(f"id_{len(rows) + 1:07d}")
            rows.append({"ID": ids[-1], "ENTRYTYPE": "article", **record})
        if len(ids) > 1:
            sets.append(";".join(ids))
    records = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return records, pd.DataFrame({"merged_ids": sets})


# -- running the tools ------------------------------------------------------------------------
def run_metareview(folder: Path) -> dict:
    records, _ = read_benchmark(folder)
    started, cpu = time.perf_counter(), time.process_time()
    result = find_duplicates(records)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    auto = {(p.id_a, p.id_b) for p in result.tier1}
    flagged = {(p.id_a, p.id_b) for p in result.pairs}
    return {"seconds": seconds, "cpu": cpu, "auto": sorted(auto), "flagged": sorted(flagged)}


def run_bib_dedupe(folder: Path) -> dict:
    from bib_dedupe.bib_dedupe import block, match, prep

    raw = pd.read_csv(folder / "records_pre_merged.csv", dtype=str, keep_default_na=False)
    started, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matched = match(block(prep(raw, cpu=1), cpu=1), cpu=1)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    pairs = {
        label: sorted(
            tuple(sorted((a, b)))
            for a, b in zip(
                matched.loc[matched["duplicate_label"] == label, "ID_1"],
                matched.loc[matched["duplicate_label"] == label, "ID_2"],
                strict=True,
            )
        )
        for label in ("duplicate", "maybe")
    }
    return {
        "seconds": seconds,
        "cpu": cpu,
        "auto": pairs["duplicate"],
        "flagged": sorted(set(pairs["duplicate"]) | set(pairs["maybe"])),
    }


def child(tool: str, folder: Path) -> None:
    """Run one tool on one folder and print its pairs, time and peak RSS as JSON."""
    out = run_metareview(folder) if tool == "metareview" else run_bib_dedupe(folder)
    out["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(out))


def measure(tool: str, folder: Path, limit: float) -> dict | None:
    """Run ``child`` in a fresh process; None when it fails or outlives ``limit`` seconds."""
    command = [sys.executable, __file__, "--child", tool, str(folder)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit, check=True)
    except subprocess.TimeoutExpired:
        return {"timeout": limit}
    except subprocess.CalledProcessError as exc:
        return {"error": exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(name: str, n: int, tool: str, out: dict | None, truth: set) -> str:
    if out is None or "seconds" not in out:
        why = f"stopped after {out['timeout']:.0f} s" if out and "timeout" in out else out
        return f"| {name} | {n:,} | {tool} | {why} | | | | | | |"
    auto = {tuple(p) for p in out["auto"]}
    flagged = {tuple(p) for p in out["flagged"]}
    a, g = scores(grouped(auto), truth), scores(grouped(flagged), truth)
    p = scores(flagged, truth)
    return (
        f"| {name} | {n:,} | {tool} | {out['seconds']:.1f} ({out['cpu']:.1f}) | "
        f"{out['peak_rss_mb']:.0f} | "
        f"{a['precision']:.4f} | {a['sensitivity']:.4f} | {g['sensitivity']:.4f} | "
        f"{g['precision']:.4f} | {p['precision']:.4f} |"
    )


HEADER = (
    "| data | records | tool | wall s (CPU s) | peak RSS (MB) | auto precision (grouped) |"
    " auto recall (grouped) | flagged sensitivity (grouped) | flagged precision (grouped) | flagged"
    " precision (pairwise) | load average |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_testdata())
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 50_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=float, default=900.0, help="seconds per bib-dedupe run")
    parser.add_argument("--no-bib-dedupe", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "dedup.md")
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    if not (args.data / "dedup" / "respiratory").is_dir():
        print(f"benchmark data not found at {args.data}; pass --data or set METAREVIEW_TESTDATA.")
        return 2
    tools = ["metareview"] + ([] if args.no_bib_dedupe else ["bib-dedupe"])
    if "bib-dedupe" in tools:
        try:
            import bib_dedupe  # noqa: F401
        except ImportError:
            print("bib-dedupe is not installed (pip install -e '.[bench]'); comparing without it")
            tools.remove("bib-dedupe")
    lines = [HEADER]
    notes = []
    with tempfile.TemporaryDirectory() as tmp:
        cases = [(name, args.data / "dedup" / name) for name in ("respiratory", "haematology")]
        for n in args.sizes:
            folder = Path(tmp) / f"grown_{n}"
            folder.mkdir()
            records, sets = grow(args.data, n, args.seed)
            records.to_csv(folder / "records_pre_merged.csv", index=False)
            sets.to_csv(folder / "merged_record_ids.csv", index=False)
            cases.append((f"grown (seed {args.seed})", folder))
        for name, folder in cases:
            records, truth = read_benchmark(folder)
            for tool in tools:
                limit = args.limit if tool == "bib-dedupe" else 3600.0
                out = measure(tool, folder, limit)
                lines.append(row(name, len(records), tool, out, truth))
                lines[-1] += f" {os.getloadavg()[0]:.1f} |"
                print(lines[-1], flush=True)
                if name == "haematology" and out and "seconds" in out:
                    relabelled = without_reports(truth, HAEMATOLOGY_REPORTS)
                    found = grouped({tuple(p) for p in out["flagged"]})
                    s = scores(found, relabelled)
                    notes.append(
                        f"- haematology, {tool}: flagged sensitivity {s['sensitivity']:.4f}, "
                        f"precision {s['precision']:.4f} (grouped) with the "
                        f"{len(truth - relabelled)} erratum/reply pairs counted as related"
                    )
    text = "\n".join([*lines, "", *notes]) + "\n"
    print("\n".join(notes))
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
