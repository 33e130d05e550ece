"""A PostgreSQL server for the tests: the one in ``METAREVIEW_TEST_POSTGRES_URL``, or a
throwaway cluster started from the local PostgreSQL binaries.

The throwaway cluster lives in a fresh directory under the system temp folder, listens on a
Unix socket in that directory only (no TCP), runs with ``fsync=off`` (test data only) and, when
the tests run as root, as the ``postgres`` user (or ``nobody``), since PostgreSQL refuses to run
as root. :meth:`PostgresServer.fresh_database` gives each test its own empty database.

Used by ``tests/review/conftest.py``; importable by any test folder::

    server = start_throwaway()          # raises PostgresUnavailableError with the reason
    with server.fresh_database() as url:
        ...                             # a SQLAlchemy URL of an empty database
    server.stop()
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy.exc
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

__all__ = [
    "ENV_REQUIRE",
    "ENV_URL",
    "PostgresServer",
    "PostgresUnavailableError",
    "connect_server",
    "find_bindir",
    "start_throwaway",
]

ENV_URL = "METAREVIEW_TEST_POSTGRES_URL"
ENV_REQUIRE = "METAREVIEW_REQUIRE_POSTGRES"


class PostgresUnavailableError(RuntimeError):
    """No PostgreSQL server could be reached or started; the message says why."""


def _psycopg_url(url: str | URL) -> URL:
    """``url`` parsed, with the psycopg 3 driver when none is named."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() != "postgresql":
        raise PostgresUnavailableError(f"{ENV_URL} must be a postgresql:// URL; got {parsed!r}.")
    return parsed


class PostgresServer:
    """A PostgreSQL server reached through ``admin_url``, a role allowed to CREATE DATABASE."""

    def __init__(self, admin_url: str | URL, *, cluster: Path | None = None) -> None:
        self.admin_url = _psycopg_url(admin_url)
        self.cluster = cluster  # our own cluster's directory, removed by stop()
        self._admin = create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )

    def check(self) -> str:
        """The server's version string; PostgresUnavailableError if it cannot be reached."""
        try:
            with self._admin.connect() as conn:
                return str(conn.scalar(text("SHOW server_version")))
        except Exception as exc:
            raise PostgresUnavailableError(
                f"PostgreSQL at {self.admin_url!r} could not be reached: {exc}"
            ) from exc

    @contextmanager
    def fresh_database(self) -> Iterator[str]:
        """Create an empty database, yield its URL, then drop it (closing leftover sessions)."""
        name = f"metareview_test_{uuid.uuid4().hex[:16]}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield self.admin_url.set(database=name).render_as_string(hide_password=False)
        finally:
            self._drop(name)

    def _drop(self, name: str, attempts: int = 10) -> None:
        """DROP DATABASE ... WITH (FORCE), retried: FORCE may not signal a backend the role
        does not own (a server process still leaving the database), which then exits soon."""
        for attempt in range(attempts):
            try:
                with self._admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except sqlalchemy.exc.ProgrammingError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def stop(self) -> None:
        """Release the admin connection; stop and remove the cluster if we started it."""
        self._admin.dispose()
        if self.cluster is None:
            return
        bindir = find_bindir()
        if bindir is not None and (self.cluster / "data" / "postmaster.pid").exists():
            _run_as_owner(
                [
                    str(bindir / "pg_ctl"),
                    "stop",
                    "-D",
                    str(self.cluster / "data"),
                    "-m",
                    "fast",
                    "-w",
                ],
                self.cluster,
                check=False,
            )
        shutil.rmtree(self.cluster, ignore_errors=True)
        self.cluster = None


def find_bindir() -> Path | None:
    """Folder of ``initdb``/``pg_ctl``: on PATH, else Debian's newest /usr/lib/postgresql/*/bin."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The account to run the server as: None when we are not root, else postgres or nobody."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailableError(
        "running as root and neither a 'postgres' nor a 'nobody' account exists; "
        "PostgreSQL refuses to run as root."
    )


def _run_as_owner(cmd: list[str], cluster: Path, *, check: bool = True) -> str:
    """Run ``cmd`` as the owner of ``cluster``; its output, or PostgresUnavailableError on error."""
    owner = cluster.stat()
    as_user = {}
    if os.geteuid() == 0 and owner.st_uid != 0:
        as_user = {"user": owner.st_uid, "group": owner.st_gid, "extra_groups": []}
    done = subprocess.run(
        cmd,
        cwd=cluster,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LC_ALL": "C"},
        **as_user,
    )
    if check and done.returncode != 0:
        log = cluster / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise PostgresUnavailableError(
            f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()} {tail}".strip()
        )
    return done.stdout


def start_throwaway() -> PostgresServer:
    """Start a throwaway PostgreSQL cluster on a Unix socket; stop it with ``.stop()``.

    Raises
    ------
    PostgresUnavailableError
        When the PostgreSQL server binaries are not installed or the cluster does not start.
    """
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailableError(
            "no PostgreSQL server binaries (initdb) found on PATH or in /usr/lib/postgresql; "
            f"install them (Debian: apt-get install postgresql) or set {ENV_URL}."
        )
    user = _unprivileged_user()
    # Short path: a Unix socket path must stay under ~100 characters.
    cluster = Path(tempfile.mkdtemp(prefix="mr-pg-"))
    try:
        if user is not None:
            os.chown(cluster, user.pw_uid, user.pw_gid)
        data = cluster / "data"
        _run_as_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cluster,
        )
        options = (
            f"-k {cluster} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run_as_owner(
            [
                str(bindir / "pg_ctl"),
                "start",
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(cluster / "server.log"),
                "-o",
                options,
            ],
            cluster,
        )
        server = PostgresServer(
            f"postgresql+psycopg://postgres@/postgres?host={cluster}", cluster=cluster
        )
        server.check()
    except BaseException:
        if (cluster / "data" / "postmaster.pid").exists():
            _run_as_owner(
                [str(bindir / "pg_ctl"), "stop", "-D", str(cluster / "data"), "-m", "immediate"],
                cluster,
                check=False,
            )
        shutil.rmtree(cluster, ignore_errors=True)
        raise
    return server


def connect_server() -> PostgresServer:
    """The server of ``METAREVIEW_TEST_POSTGRES_URL`` when set, else a throwaway cluster.

    Raises PostgresUnavailableError, with the reason, when neither works.
    """
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        server = PostgresServer(url)
        try:
            server.check()
        except PostgresUnavailableError:
            server.stop()
            raise
        return server
    return start_throwaway()
