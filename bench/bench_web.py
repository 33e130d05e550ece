"""Load benchmark of the web app: concurrent reviewers voting through the JSON API.

uvicorn serves the app in its own process on a loopback port (127.0.0.1 only); each reviewer
is a thread with its own HTTP connection that logs in (``POST /api/v1/session``) and posts
votes (``POST /api/v1/projects/{p}/records/{id}/votes``), one record after another in its
own shuffled order, and re-sends every twentieth vote at once (a retried request). Every
record needs every reviewer's vote (``reviewers_per_record`` = the number of reviewers) so
that all votes are accepted. After each run the database is counted: the votes stored must
be exactly the votes sent, one per (record, reviewer), none lost or duplicated.

Two runs, each on a fresh database:

- **saturation** (closed loop): every reviewer sends its next vote as soon as the last one is
  answered, ``--votes`` each. With the clients on the same 2 cores as the server this
  measures throughput; its latency is set by Little's law, mean latency = reviewers /
  throughput (the table prints both), so a p95 under 100 ms at 20 reviewers would need more
  than 200 votes/s, client CPU included.
- **paced** (open loop): every reviewer votes on its own schedule, the gaps drawn uniformly
  from ``--interval`` (default 0.5 to 1 s: a fast human, who reads a title and an abstract
  between votes), ``--paced-votes`` each. Latency is measured from the scheduled moment,
  so a vote sent late because the previous one was slow counts its wait (no coordinated
  omission).

Reported per run: requests, errors, throughput, p50 / p95 / p99 / max latency per vote
request (first posts; retries apart), measured by the client with ``time.perf_counter``,
the CPU time per vote of the server process and of the client process (``/proc``,
``time.process_time``) and the 1-minute load average of the machine before and after.
Bounded: at most the given votes per reviewer and ``--limit`` seconds per run (a run that
hits the limit says so).

Usage::

    .venv/bin/python bench/bench_web.py --backend postgresql --reviewers 20 --votes 500
    .venv/bin/python bench/bench_web.py --backend sqlite --reviewers 5 --votes 500

PostgreSQL: the server in ``METAREVIEW_TEST_POSTGRES_URL`` (a role that may CREATE
DATABASE), else a throwaway cluster from the local binaries (``tests/_postgres.py``, which
runs with ``fsync=off``: its commits do not wait for the disk; SQLite's do, in WAL mode with
its default ``synchronous=FULL``). This is a benchmark, not a test: it asserts nothing; it
appends its table to ``bench/results/web.md``.
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
def _databases(backend: str):
    """A factory of fresh empty databases of ``backend`` (a context manager per URL)."""
    if backend == "sqlite":

        @contextmanager
        def fresh():
            with tempfile.TemporaryDirectory() as folder:
                yield f"sqlite:///{folder}/load.sqlite"

        yield fresh
        return
    from tests._postgres import connect_server

    server = connect_server()
    try:
        yield server.fresh_database
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


def _reviewer(
    base: str,
    user: str,
    ids: list[str],
    votes: int,
    deadline: float,
    pace: tuple[float, float] | None,
    ready: threading.Barrier,
    out: dict,
) -> None:
    lat, retry_lat, statuses = [], [], []
    order = ids[:]
    random.Random(user).shuffle(order)
    gaps = random.Random("pace" + user)
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post(
            "/api/v1/session", json={"username": user, "password": PASSWORD}
        ).json()["token"]
        client.cookies.clear()
        client.headers["Authorization"] = f"Bearer {token}"
        client.get(f"/api/v1/projects/{PROJECT}/next")  # warm up the server's code paths
        ready.wait()  # the clock starts once every reviewer has logged in (argon2: ~0.2 s)
        due = time.perf_counter() + (gaps.uniform(0, pace[1]) if pace else 0.0)
        for n, rid in enumerate(order[:votes]):
            if pace:  # open loop: wait for the scheduled moment, and time from it
                time.sleep(max(0.0, due - time.perf_counter()))
            if time.perf_counter() > deadline:
                break
            body = {
                "stage": "title_abstract",
                "decision": random.Random(rid + user).choice(["include", "exclude", "maybe"]),
            }
            start = due if pace else time.perf_counter()
            response = client.post(f"/api/v1/projects/{PROJECT}/records/{rid}/votes", json=body)
            lat.append(time.perf_counter() - start)
            statuses.append(response.status_code)
            if n % 20 == 0:  # a retried request: must store nothing new
                start = time.perf_counter()
                again = client.post(f"/api/v1/projects/{PROJECT}/records/{rid}/votes", json=body)
                retry_lat.append(time.perf_counter() - start)
                statuses.append(900 + again.status_code if again.status_code != 200 else 200)
            if pace:
                due += gaps.uniform(*pace)
    out[user] = (lat, retry_lat, statuses)


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (Linux ``/proc``), or None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


HEADER = (
    "| database | run | reviewers x votes | vote requests | 201 (new) | votes stored | "
    "distinct (record, reviewer) | errors | votes/s | reviewers / (votes/s) ms | mean ms | "
    "p50 ms | p95 ms | p99 ms | max ms | retry p50 ms | retry p95 ms | server CPU ms/vote | "
    "client CPU ms/vote | load before, after |\n|" + "---|" * 20
)


def run(
    backend: str,
    url: str,
    reviewers: int,
    votes: int,
    limit: float,
    pace: tuple[float, float] | None,
) -> str:
    """One run on the empty database ``url``: its row of the results table."""
    load_before = os.getloadavg()[0]
    ids = _prepare(url, reviewers, votes)
    port = _free_port()
    process = _serve(url, port)
    try:
        out: dict = {}
        clock: dict[str, float] = {}

        def start_clock() -> None:
            clock["start"] = time.perf_counter()
            clock["server"], clock["client"] = _cpu_seconds(process.pid), time.process_time()

        ready = threading.Barrier(reviewers, action=start_clock)
        deadline = time.perf_counter() + limit + 60  # + the logins
        threads = [
            threading.Thread(
                target=_reviewer,
                args=(
                    f"http://127.0.0.1:{port}",
                    f"r{i:02d}",
                    ids,
                    votes,
                    deadline,
                    pace,
                    ready,
                    out,
                ),
            )
            for i in range(reviewers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - clock["start"]
        client_cpu = time.process_time() - clock["client"]
        after, server_cpu = _cpu_seconds(process.pid), clock["server"]
        server_cpu = None if server_cpu is None or after is None else after - server_cpu
    finally:
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
    rate = len(lat) / wall
    requests = len(lat) + len(retry)  # CPU per vote: retries are requests too
    kind = "saturation" if pace is None else f"paced {pace[0]:g}-{pace[1]:g} s"
    cpu = "n/a" if server_cpu is None else f"{server_cpu / requests * 1000:.1f}"
    little = f"{reviewers / rate * 1000:.0f}" if pace is None else "-"  # closed loop only
    return (
        f"| {backend} | {kind} | {reviewers} x {votes} | {len(lat)}{limited}"
        f" | {created} | {stored} | {distinct} | {errors} | {rate:.1f} | "
        f"{little} | {sum(lat) / len(lat) * 1000:.1f} | "
        f"{_pct(lat, 0.5):.1f} | {_pct(lat, 0.95):.1f} | {_pct(lat, 0.99):.1f} | "
        f"{max(lat) * 1000:.0f} | {_pct(retry, 0.5):.1f} | {_pct(retry, 0.95):.1f} | "
        f"{cpu} | {client_cpu / requests * 1000:.1f} | "
        f"{load_before:.1f}, {os.getloadavg()[0]:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument(
        "--votes", type=int, default=500, help="votes per reviewer, saturation run (500)"
    )
    parser.add_argument(
        "--paced-votes", type=int, default=150, help="votes per reviewer, paced run (150)"
    )
    parser.add_argument(
        "--interval",
        type=float,
        nargs=2,
        default=(0.5, 1.0),
        metavar=("MIN", "MAX"),
        help="seconds between a reviewer's votes in the paced run, drawn uniformly "
        "(default 0.5 1.0)",
    )
    parser.add_argument(
        "--runs",
        choices=["both", "saturation", "paced"],
        default="both",
        help="which runs (default both)",
    )
    parser.add_argument(
        "--limit", type=float, default=600.0, help="seconds per run at most (default 600)"
    )
    parser.add_argument("--note", default="", help="a note for the results heading")
    args = parser.parse_args()
    if not 0 < args.interval[0] <= args.interval[1]:
        parser.error("--interval: give MIN and MAX seconds with 0 < MIN <= MAX.")
    plan = []
    if args.runs in ("both", "saturation"):
        plan.append((args.votes, None))
    if args.runs in ("both", "paced"):
        plan.append((args.paced_votes, tuple(args.interval)))
    rows = []
    with _databases(args.backend) as fresh:
        for votes, pace in plan:
            with fresh() as url:
                rows.append(run(args.backend, url, args.reviewers, votes, args.limit, pace))
                print(rows[-1], flush=True)
    import fastapi
    import uvicorn

    text = (
        f"\n{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
        f"{machine(('fastapi', fastapi.__version__), ('uvicorn', uvicorn.__version__))}"
        f"{'; ' + args.note if args.note else ''}\n\n{HEADER}\n" + "\n".join(rows) + "\n"
    )
    print(text)
    results = ROOT / "bench" / "results" / "web.md"
    if not results.exists():
        results.write_text("# Web app load benchmark (bench/bench_web.py)\n", encoding="utf-8")
    with results.open("a", encoding="utf-8") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
