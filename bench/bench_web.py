"""Load benchmark of the web app: concurrent reviewers voting through the JSON API.

uvicorn serves the app in its own process on a loopback port (127.0.0.1 only); each reviewer
is a thread with its own HTTP connection that logs in (``POST /api/v1/session``) and posts
``--votes`` votes (``POST /api/v1/projects/{p}/records/{id}/votes``), one record after another
in its own shuffled order, and re-sends every twentieth vote at once (a retried request).
Every record needs every reviewer's vote (``reviewers_per_record`` = the number of reviewers)
so that all votes are accepted. Afterwards the database is counted: the votes stored must be
exactly reviewers x votes, one per (record, reviewer), with no vote lost or duplicated.

Reported: requests, errors, throughput, and p50 / p95 / max latency per vote request (first
posts and retries apart), measured by the client with ``time.perf_counter``. Bounded: at most
``--votes`` per reviewer and ``--limit`` seconds in all (a run that hits the limit says so).

Usage::

    .venv/bin/python bench/bench_web.py --backend postgresql --reviewers 20 --votes 500
    .venv/bin/python bench/bench_web.py --backend sqlite --reviewers 5 --votes 500

PostgreSQL: the server in ``METAREVIEW_TEST_POSTGRES_URL`` (a role that may CREATE
DATABASE), else a throwaway cluster from the local binaries (``tests/_postgres.py``). This is
a benchmark, not a test: it asserts nothing; it appends its table to ``bench/results/web.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

try:  # the web extra installs httpx2, Starlette's TestClient's client (same API)
    import httpx2 as httpx
except ImportError:  # pragma: no cover
    import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _machine import machine  # noqa: E402
from metareview.review import Store  # noqa: E402
from metareview.review.models import ScreeningDecision  # noqa: E402

PROJECT = "load"
PASSWORD = "load-test-password"


def _ris(n: int) -> str:
    """``n`` synthetic records (distinct titles, so nothing is a duplicate)."""
    rng = random.Random(7)
    words = [
        "ketamine",
        "infusion",
        "pain",
        "trial",
        "cohort",
        "placebo",
        "dose",
        "syndrome",
        "regional",
        "chronic",
        "outcome",
        "randomised",
        "study",
        "patients",
        "relief",
    ]
    rows = []
    for i in range(n):
        title = " ".join(rng.choice(words) for _ in range(8)) + f" number {i}"
        rows.append(
            f"TY  - JOUR\nTI  - {title}\nAU  - Author{i}, A\nPY  - "
            f"{2000 + i % 20}\nAB  - {' '.join(rng.choice(words) for _ in range(60))}"
            "\nER  - \n"
        )
    return "\n".join(rows)


@contextmanager
def _database(backend: str):
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/load.sqlite"
        return
    from tests._postgres import connect_server

    server = connect_server()
    try:
        with server.fresh_database() as url:
            yield str(url) if not isinstance(url, str) else url
    finally:
        server.stop()


def _prepare(url: str, reviewers: int, records: int) -> list[str]:
    store = Store.open(url)
    store.accept_invite(store.bootstrap_invite(), "owner", PASSWORD)
    store.create_project(PROJECT)
    store.add_member(PROJECT, "owner", "owner", by="owner")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "search.ris"
        path.write_text(_ris(records), encoding="utf-8")
        store.import_file(PROJECT, path, database="Synthetic")
    for i in range(reviewers):
        token = store.create_invite(PROJECT, "reviewer", by="owner")
        store.accept_invite(token, f"r{i:02d}", PASSWORD, f"R{i:02d}")
    store.set_reviewers_per_record(PROJECT, reviewers, actor="owner")
    ids = store.records(PROJECT)["id"].tolist()
    store.close()
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(url: str, port: int) -> subprocess.Popen:
    code = (
        "import uvicorn; from metareview.web import create_app; "
        f"uvicorn.run(create_app({url!r}), host='127.0.0.1', port={port}, "
        "log_level='warning')"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    for _ in range(300):  # at most 30 s to start
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("uvicorn did not start")


def _reviewer(base: str, user: str, ids: list[str], votes: int, deadline: float, out: dict) -> None:
    lat, retry_lat, statuses = [], [], []
    order = ids[:]
    random.Random(user).shuffle(order)
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post(
            "/api/v1/session", json={"username": user, "password": PASSWORD}
        ).json()["token"]
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {token}"
        for n, rid in enumerate(order[:votes]):
            if time.perf_counter() > deadline:
                break
            body = {
                "stage": "title_abstract",
                "decision": random.Random(rid + user).choice(["include", "exclude", "maybe"]),
            }
            start = time.perf_counter()
            response = client.post(f"/api/v1/projects/{PROJECT}/records/{rid}/votes", json=body)
            lat.append(time.perf_counter() - start)
            statuses.append(response.status_code)
            if n % 20 == 0:  # a retried request: must store nothing new
                start = time.perf_counter()
                again = client.post(f"/api/v1/projects/{PROJECT}/records/{rid}/votes", json=body)
                retry_lat.append(time.perf_counter() - start)
                statuses.append(900 + again.status_code if again.status_code != 200 else 200)
    out[user] = (lat, retry_lat, statuses)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def run(backend: str, reviewers: int, votes: int, limit: float, servers: int = 1) -> str:
    with _database(backend) as url:
        ids = _prepare(url, reviewers, votes)
        ports = [_free_port() for _ in range(servers)]
        processes = [_serve(url, port) for port in ports]
        try:
            out: dict = {}
            deadline = time.perf_counter() + limit
            threads = [
                threading.Thread(
                    target=_reviewer,
                    args=(
                        f"http://127.0.0.1:{ports[i % servers]}",
                        f"r{i:02d}",
                        ids,
                        votes,
                        deadline,
                        out,
                    ),
                )
                for i in range(reviewers)
            ]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - start
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
        store = Store.open(url)
        with store.session() as s:
            stored = s.scalar(select(func.count()).select_from(ScreeningDecision))
            distinct = s.scalar(
                select(func.count()).select_from(
                    select(ScreeningDecision.record_id, ScreeningDecision.reviewer_id)
                    .distinct()
                    .subquery()
                )
            )
        store.close()
    lat = [x for v in out.values() for x in v[0]]
    retry = [x for v in out.values() for x in v[1]]
    statuses = [x for v in out.values() for x in v[2]]
    created = statuses.count(201)
    errors = len([s for s in statuses if s not in (200, 201)])
    limited = "" if len(lat) == reviewers * votes else " (time limit)"
    return (
        f"| {backend} | {servers} | {reviewers} x {votes} | {len(lat)}{limited}"
        f" | {created} | {stored} | {distinct} | {errors} | {len(lat) / wall:.0f} | "
        f"{_pct(lat, 0.5):.1f} | {_pct(lat, 0.95):.1f} | {max(lat) * 1000:.0f} | "
        f"{_pct(retry, 0.5):.1f} | {_pct(retry, 0.95):.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument("--votes", type=int, default=500)
    parser.add_argument(
        "--limit", type=float, default=600.0, help="seconds for all the votes (default 600)"
    )
    parser.add_argument(
        "--servers",
        type=int,
        default=1,
        help="uvicorn processes on the same database; reviewers split "
        "evenly among them (default 1)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    row = run(args.backend, args.reviewers, args.votes, args.limit, args.servers)
    header = (
        "| database | uvicorn processes | reviewers x votes | vote requests | 201 (new) | "
        "votes stored | distinct (record, reviewer) | errors | requests/s | p50 ms | "
        "p95 ms | max ms | retry p50 ms | retry p95 ms |\n|" + "---|" * 14
    )
    import fastapi
    import uvicorn

    text = (
        f"\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{machine(('fastapi', fastapi.__version__), ('uvicorn', uvicorn.__version__))}"
        f"; 1-minute load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
        f"\n\n{header}\n{row}\n"
    )
    print(text)
    results = ROOT / "bench" / "results" / "web.md"
    if not results.exists():
        results.write_text("# Web app load benchmark (bench/bench_web.py)\n", encoding="utf-8")
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
