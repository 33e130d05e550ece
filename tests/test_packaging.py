"""The package as a user gets it: the sdist and wheel built from this checkout, the wheel
installed into a fresh virtual environment outside the repository, and the installed
``metareview`` command run there (``--version``, the bundled case study's report, ``seed``,
``serve --help``), with the type information seen by a user's mypy.

Built with ``python -m build --no-isolation`` (``build`` and ``hatchling`` come with the
``dev`` extra), so no network is needed. The fresh environment gets only the wheel; its
third-party dependencies (numpy, pandas, ...) are borrowed from the environment running the
tests through a ``.pth`` line, which adds that ``site-packages`` to ``sys.path`` without
running its own ``.pth`` files, so the editable install of the checkout stays out. Marked
``packaging``; the module takes about 30-40 s (2 shared cores under load).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (ROOT / "src/metareview/_version.py").read_text(), re.M
)[1]
EXAMPLES = sorted(p.parent.name for p in (ROOT / "examples").glob("*/protocol.toml"))
#: the files that are not Python modules and must be in the wheel for the package to work
DATA = [
    "py.typed",
    "report/templates/report.html.j2",
    "review/migrations/env.py",
    "review/migrations/script.py.mako",
    "web/static/app.css",
    "web/static/app.js",
    "web/templates/base.html",
    "web/templates/screen.html",
]


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and, built from it, the wheel."""
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT, cwd=ROOT)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment, outside the repository, with only the wheel installed."""
    env = tmp_path_factory.mktemp("venv") / "env"
    _run(sys.executable, "-m", "venv", "--without-pip", env, cwd=env.parent)
    python = env / "bin" / "python"
    (wheel,) = dist.glob("*.whl")
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "--no-compile",
        "--quiet",
        wheel,
        cwd=env.parent,
    )
    purelib = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=env.parent
        ).strip()
    )
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "zz_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return env


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """An empty working folder outside the repository."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


def _env() -> dict[str, str]:
    """The environment without anything that would point Python at the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_wheel_carries_templates_migrations_static_files_and_examples(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"metareview-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = [f for f in DATA if f"metareview/{f}" not in names]
    assert not missing, f"not in the wheel: {missing}"
    migrations = {n for n in names if re.match(r"metareview/review/migrations/versions/.+\.py$", n)}
    assert len(migrations) == len(
        list((ROOT / "src/metareview/review/migrations/versions").glob("*.py"))
    )
    for example in EXAMPLES:
        folder = ROOT / "examples" / example
        tracked = {
            p.relative_to(folder).as_posix()
            for p in folder.rglob("*")
            if p.is_file()
            and "out" not in p.relative_to(folder).parts
            and "__pycache__" not in p.parts
        }
        shipped = {
            n.removeprefix(f"metareview/examples/{example}/")
            for n in names
            if n.startswith(f"metareview/examples/{example}/")
        }
        assert shipped == tracked, example
    assert not [n for n in names if "/out/" in n or n.startswith("metareview/examples/gallery")]


def test_sdist_carries_the_sources_examples_and_changelog(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "src/metareview/py.typed"):
        assert needed in names
    assert {f"examples/{e}/protocol.toml" for e in EXAMPLES} <= names
    assert {f"src/metareview/{f}" for f in DATA} <= names


def test_installed_version_is_the_single_source(venv: Path, user_dir: Path) -> None:
    out = _run(venv / "bin" / "metareview", "--version", cwd=user_dir, env=_env())
    assert out.strip() == f"metareview {VERSION}"
    code = (
        "import metareview, importlib.metadata as m; print(metareview.__file__); "
        "print(metareview.__version__, m.version('metareview'))"
    )
    where, versions = _run(venv / "bin" / "python", "-c", code, cwd=user_dir, env=_env()).split(
        "\n"
    )[:2]
    assert Path(where).is_relative_to(venv), where  # the wheel's copy, not the checkout
    assert versions == f"{VERSION} {VERSION}"


def test_report_on_the_bundled_case_study(venv: Path, user_dir: Path) -> None:
    metareview = venv / "bin" / "metareview"
    out = _run(
        metareview, "report", "--example", "ketamine-crps", "-o", "report", cwd=user_dir, env=_env()
    )
    assert "report.html" in out
    html = (user_dir / "report" / "report.html").read_text("utf-8")
    assert "68.8" in html  # the paper's 69% (53%, 84%), reproduced as 68.8% (53.5%, 84.1%)
    # a copy of the case study, edited and run as the user's own review folder
    _run(metareview, "example", "ketamine-crps", "my-review", cwd=user_dir, env=_env())
    assert (user_dir / "my-review" / "table1.csv").is_file()
    _run(metareview, "report", "my-review", cwd=user_dir, env=_env())
    assert (user_dir / "my-review" / "out" / "report.html").is_file()
    seed = _run(metareview, "seed", cwd=user_dir, env=_env())
    assert "68.8%" in seed


def test_serve_help(venv: Path, user_dir: Path) -> None:
    out = _run(venv / "bin" / "metareview", "serve", "--help", cwd=user_dir, env=_env())
    assert "--store" in out


def test_a_users_mypy_sees_the_shipped_types(venv: Path, user_dir: Path) -> None:
    """py.typed is honoured: mypy, run as a user would on their own script, reads the
    installed package's annotations (a wrong argument type is caught)."""
    script = user_dir / "analysis.py"
    script.write_text("from metareview.casestudies import example_folder\nexample_folder(3)\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--python-executable",
            str(venv / "bin" / "python"),
            "--no-incremental",
            "--follow-imports",
            "silent",
            str(script),
        ],
        cwd=user_dir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'Argument 1 to "example_folder" has incompatible type "int"' in done.stdout
