"""Help text, --version, start-up imports and `metareview serve` (issue 21.14, 21.15, 21.19,
and the web app's entry point)."""

from __future__ import annotations

import subprocess
import sys
import types
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from metareview.cli import app
from metareview.cli._common import errors_end_the_command, spell_for_cli
from metareview.exceptions import Argument, InputError, Method
from tests.cli.conftest import ids, own_votes

RUNNER = CliRunner()
HEAVY = (
    "numpy",
    "pandas",
    "scipy",
    "matplotlib",
    "sqlalchemy",
    "metareview.stats",
    "metareview.review",
    "rich.console",
)


def every_command(group=None, path=()):
    """(path, click command) for every command of the app, groups included."""
    group = group or typer.main.get_command(app)
    yield path, group
    for name, sub in getattr(group, "commands", {}).items():
        yield from every_command(sub, (*path, name))


@pytest.mark.parametrize("path", [p for p, _ in every_command()], ids=" ".join)
def test_help_names_values_not_python_types(path) -> None:
    result = RUNNER.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    for python_type in ("<str>", "<bool>", "<int>", "<float>", "<path>", "{"):
        assert python_type not in result.output, (path, python_type)


def test_square_brackets_in_help_are_text() -> None:
    text = " ".join(RUNNER.invoke(app, ["batch", "--help"]).output.split())
    assert "needs pip install 'metareview[dask]'." in text


def test_version() -> None:
    result = RUNNER.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"metareview {version('metareview')}\n"


def test_help_and_the_command_modules_import_nothing_heavy() -> None:
    # start-up time is measured in the report (python -X importtime); this guards its cause
    code = f"import sys, metareview.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_advice_is_spelt_with_the_running_commands_options() -> None:
    error = InputError(
        "pass ",
        Argument("subsets", placeholder="number"),
        " or ",
        Argument("missing", "omit"),
        "; ",
        Method("add_reviewer"),
        " first",
    )
    assert str(error) == "pass subsets=<number> or missing='omit'; add_reviewer first"
    command = typer.main.get_command(app).commands["gosh"]
    ctx = typer.Context(command)
    assert error.render(lambda part: spell_for_cli(part, ctx)) == (
        "pass --subsets N or --missing omit; `metareview store reviewer add NAME` first"
    )
    # what the running command has no option for stays in the library's words
    assert spell_for_cli(Argument("zero_variance", "error"), ctx) == "zero_variance='error'"
    import pickle

    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_serve_without_the_web_app_says_what_to_install(monkeypatch) -> None:
    import metareview

    monkeypatch.setitem(sys.modules, "metareview.web", None)  # import fails as if absent
    monkeypatch.delattr(metareview, "web", raising=False)
    result = RUNNER.invoke(app, ["serve", "--store", "never-opened.sqlite"])
    assert result.exit_code == 2
    assert result.output == "error: the web app needs: pip install 'metareview[web]'\n"


def test_serve_hands_store_host_and_port_to_the_web_app(monkeypatch) -> None:
    calls = []
    web = types.ModuleType("metareview.web")
    web.serve = lambda store, *, host, port: calls.append((store, host, port))
    monkeypatch.setitem(sys.modules, "metareview.web", web)
    import metareview

    monkeypatch.setattr(metareview, "web", web, raising=False)
    result = RUNNER.invoke(app, ["serve", "--store", "sqlite:///r.db", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert calls == [("sqlite:///r.db", "127.0.0.1", 8123)]


def test_serve_when_a_dependency_of_the_web_app_is_missing(monkeypatch) -> None:
    web = types.ModuleType("metareview.web")

    def serve(store, *, host, port):
        raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")

    web.serve = serve
    monkeypatch.setitem(sys.modules, "metareview.web", web)
    import metareview

    monkeypatch.setattr(metareview, "web", web, raising=False)
    result = RUNNER.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert result.output == "error: the web app needs: pip install 'metareview[web]'\n"


#: what the statistics commands and the store commands need not load: scipy.stats alone costs
#: ~0.8 s of CPU at start-up (it imports scipy.optimize, scipy.spatial and scipy.sparse)
NOT_AT_START = ("scipy.stats", "scipy.optimize", "scipy.sparse", "matplotlib", "sklearn", "dask")


#: what a command loads only when it needs it: pandas (with pyarrow ~0.3 s of CPU), Alembic
#: (~0.2 s: only to migrate a store), the readers of search exports, rapidfuzz (dedup)
LAZY = ("pandas", "pyarrow", "alembic", "bibtexparser", "rispy", "rapidfuzz")


def loaded_after(code: str, modules: tuple[str, ...] = NOT_AT_START, stdin: str = "") -> list[str]:
    """Which of ``modules`` a fresh interpreter holds after running ``code`` (which reads
    ``stdin``)."""
    probe = f"{code}\nimport sys\nprint([m for m in {modules!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], input=stdin, capture_output=True, text=True, check=True
    ).stdout
    return eval(out.strip().splitlines()[-1])  # a list of names printed by repr


def test_the_statistics_layer_loads_no_heavy_module_until_it_needs_one() -> None:
    # every public name of metareview.stats but those of mv.py and nma.py (they import
    # scipy.optimize and scipy.stats when used), and what the `rma` command runs
    code = (
        "import metareview, metareview.stats as s\n"
        "names = [n for n in s.__all__ if s._ORIGIN.get(n) not in ('mv', 'nma')]\n"
        "[getattr(s, n) for n in names]\n"
        "import numpy as np\n"
        "yi, vi = np.array([0.1, 0.3, -0.2, 0.5]), np.array([0.04, 0.02, 0.05, 0.03])\n"
        "res = s.rma(yi, vi, test='knha')\n"
        "res.summary(); res.confint(); res.predict(); s.regtest(res); s.leave1out(res)"
    )
    assert loaded_after(code) == []


def test_the_rma_command_loads_no_heavy_module(tmp_path) -> None:
    table = tmp_path / "effects.csv"
    table.write_text("yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n0.5,0.03\n", encoding="utf-8")
    code = (
        "import sys\nfrom metareview.cli import main\n"
        f"sys.argv = ['metareview', 'rma', {str(table)!r}, '--transf', 'exp']\n"
        "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code"
    )
    assert loaded_after(code) == []


def run_cli(*args: str) -> str:
    """Code that runs ``metareview ARGS`` in the probing interpreter and checks it succeeded."""
    return (
        "import sys\nfrom metareview.cli import main\n"
        f"sys.argv = ['metareview', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as end:\n    assert not end.code, end.code"
    )


def test_help_and_version_load_neither_pandas_nor_alembic() -> None:
    for args in (("--help",), ("--version",), ("store", "--help"), ("rma", "--help")):
        assert loaded_after(run_cli(*args), (*HEAVY, *LAZY)) == [], args


def test_rma_and_bias_read_a_small_csv_without_pandas(tmp_path) -> None:
    # issue 21.19: pandas is imported only when a command needs it; a clean CSV of effect
    # sizes is read with the csv module (read_simple_csv), labels and all
    table = tmp_path / "effects.csv"
    table.write_text(
        'study,yi,vi\n"Smith, 2001",0.1,0.04\nLee 2003,0.3,0.02\nRoe,-0.2,0.05\nDoe,0.5,0.03\n',
        encoding="utf-8",
    )
    european = tmp_path / "effects-eu.csv"
    european.write_text("slab;yi;vi\nA;0,1;0,04\nB;0,3;0,02\nC;-0,2;0,05\n", encoding="utf-8")
    for args in (
        ("rma", str(table), "--slab", "study", "--json"),
        ("rma", str(european), "--sep", ";", "--decimal", ",", "--method", "DL"),
        ("bias", str(table), "--slab", "study"),
    ):
        assert loaded_after(run_cli(*args), (*LAZY, "sqlalchemy")) == [], args


def test_figures_and_effect_sizes_load_only_what_they_draw_with(tmp_path) -> None:
    # issue 21.19: the figures ask whether a fit is a multilevel or network one without
    # importing stats.mv / stats.nma (scipy.optimize, scipy.sparse, scipy.stats: ~0.8 s; see
    # plots/_fits.py), the funnel's contours take the normal quantile from
    # stats._distributions, and escalc loads scipy.special only for the measures whose
    # correction needs the gamma function
    effects = tmp_path / "effects.csv"
    effects.write_text("yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n0.5,0.03\n", encoding="utf-8")
    counts = tmp_path / "counts.csv"
    counts.write_text("ai,bi,ci,di\n4,119,11,128\n6,300,29,274\n3,228,11,209\n", "utf-8")
    out = tmp_path / "out"
    for args in (
        ("forest", str(effects), "-o", str(out / "forest.png")),
        ("funnel", str(effects), "-o", str(out / "funnel.png")),
    ):
        assert loaded_after(run_cli(*args)) == ["matplotlib"], args
    # metareview.plots loads a figure's module when the figure is asked for, so neither
    # figure loads the statistics the other figures draw (pandas with them); the forest
    # plot reads the studies' intervals as arrays (RmaResult.study_intervals)
    for name in ("forest", "funnel"):
        drawn = run_cli(name, str(effects), "-o", str(out / f"{name}.png"))
        assert loaded_after(drawn, ("pandas", "metareview.plots.gosh")) == [], name
    cells = [f"--col={c}={c}" for c in ("ai", "bi", "ci", "di")]
    escalc = run_cli("escalc", "RR", str(counts), *cells, "-o", str(out / "rr.csv"))
    assert loaded_after(escalc, ("scipy", "matplotlib", "sqlalchemy")) == []
    assert (out / "forest.png").exists() and (out / "rr.csv").exists()


def test_a_store_at_the_newest_schema_opens_without_alembic(tmp_path) -> None:
    # Store.open compares the alembic_version row with the newest revision of the scripts
    # (one query); Alembic is imported only to create or upgrade a schema
    store = tmp_path / "review.sqlite"
    assert (
        RUNNER.invoke(app, ["store", "init", "--project", "p", "--store", str(store)]).exit_code
        == 0
    )
    write = run_cli("store", "reviewer", "add", "Ana", "--store", str(store))
    assert loaded_after(write, (*LAZY, "numpy")) == []  # a write that needs no table
    listing = run_cli("store", "reviewer", "list", "--store", str(store))
    assert loaded_after(listing, (*LAZY, "numpy")) == []


def test_the_store_commands_and_the_screener_load_neither_pandas_nor_numpy(db) -> None:
    # issue 21.19: the store's tables reach the command line as rows (Store.reviewer_rows,
    # decision_rows, conflict_rows, set_aside_rows; the screener reads the record it shows
    # with Store.record_view), so a whole review -- screening both stages with a conflict at
    # each, resolving, listing and counting -- runs without pandas. Every command below must
    # succeed (run_cli checks the exit code).
    rid, store = ids(db), ("--store", str(db))
    lazy = (*LAZY, "numpy", "sklearn")
    resolve_full_text = ("store", "resolve", rid[0], "exclude", "--stage", "full_text")
    steps = [
        (("screen", "--reviewer", "Ana", *store), "i\ne\ni\ne\n"),
        (("screen", "--reviewer", "Ben", *store), "i\ne\ne\ne\n"),  # record 3: a conflict
        (("store", "conflicts", *store), ""),
        (("store", "votes", "--reviewer", "Cy", *store), ""),
        (("store", "resolve", rid[2], "exclude", "--by", "Cy", "--reason", "x", *store), ""),
        (("screen", "--reviewer", "Ana", "--stage", "full_text", *store), "e\nwrong dose\n"),
        (("screen", "--reviewer", "Ben", "--stage", "full_text", *store), "i\n"),
        (("store", "votes", "--reviewer", "Ana", "--stage", "full_text", *store), ""),
        (("store", "conflicts", "--stage", "full_text", *store), ""),
        ((*resolve_full_text, "--by", "Cy", "--reason", "wrong dose", *store), ""),
        (("store", "set-aside", *store), ""),
        (("store", "reviewer", "list", *store), ""),
        (("store", "prisma", *store), ""),
    ]
    for args, keys in steps:
        assert loaded_after(run_cli(*args), lazy, keys) == [], args
    # the steps did what they say
    assert own_votes(db, "Ana", "full_text") == {rid[0]: ("exclude", "wrong dose")}
    counts = RUNNER.invoke(app, ["store", "prisma", *store]).output
    assert "Records screened" in counts and "wrong dose" in counts


def test_the_review_layer_loads_no_heavy_module() -> None:
    # a store command's imports: Store and the review package (the stopping rules and the
    # ranking import scipy.stats / scipy.sparse when they are used)
    assert loaded_after("from metareview.review import Store") == []
    assert loaded_after("from metareview.review import Store", (*LAZY, "numpy")) == []


def test_store_commands_do_not_load_the_statistics_or_figures() -> None:
    # the review layer imports the statistics layer (agreement) and matplotlib (PRISMA) only
    # when it computes agreement or draws: `metareview store ...` and the screener start
    # without them
    code = (
        "import sys, metareview.review; "
        "print([m for m in ('metareview.stats', 'matplotlib') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_serve_hands_review_folders_to_the_analysis_page(monkeypatch, tmp_path) -> None:
    calls = []
    web = types.ModuleType("metareview.web")
    web.serve = lambda store, **kw: calls.append(kw)
    monkeypatch.setitem(sys.modules, "metareview.web", web)
    import metareview

    monkeypatch.setattr(metareview, "web", web, raising=False)
    folder = Path(__file__).resolve().parents[2] / "examples" / "ketamine-crps-review"
    result = RUNNER.invoke(app, ["serve", "--protocol", f"crps={folder}"])
    assert result.exit_code == 0, result.output
    assert calls[0]["protocols"] == {"crps": folder}
    result = RUNNER.invoke(app, ["serve", "--protocol", f"crps={tmp_path}"])
    assert result.exit_code == 2
    assert result.output == f"error: --protocol crps={tmp_path}: {tmp_path} has no protocol.toml.\n"
    result = RUNNER.invoke(app, ["serve", "--protocol", "crps"])
    assert result.output == "error: --protocol must be PROJECT=FOLDER; got 'crps'.\n"


def test_functions_named_like_their_module_stay_functions() -> None:
    # metareview.stats and metareview.plots load their modules on first use; importing a
    # module binds the package attribute of that name to the module, which must not hide the
    # function of the same name
    code = (
        "import importlib, metareview.stats as s, metareview.plots as p\n"
        "names = {s: ('batch', 'nma', 'robust', 'sensitivity', 'simulate'),\n"
        "         p: ('bubble', 'forest', 'funnel', 'labbe', 'prisma', 'rob')}\n"
        "[importlib.import_module(f'{m.__name__}.{n}') for m, ns in names.items() for n in ns]\n"
        "print([n for m, ns in names.items() for n in ns if not callable(getattr(m, n))])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_command_line_freezes_what_is_alive_before_the_interpreter_exits(tmp_path) -> None:
    # issue 21.19: the interpreter's shutdown would run the cyclic garbage collector over
    # every object the command's imports made (~0.2 s of a store command); main() freezes
    # them (gc.freeze) when the command is done, whether it succeeded or failed
    table = tmp_path / "effects.csv"
    table.write_text("yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n", encoding="utf-8")
    for args, code in ((("rma", str(table)), 0), (("rma", str(tmp_path / "absent.csv")), 2)):
        probe = (
            "import gc, sys\nfrom metareview.cli import main\n"
            f"sys.argv = ['metareview', *{args!r}]\n"
            "try:\n    main()\nexcept SystemExit as end:\n    code = end.code or 0\n"
            "print(code, gc.get_freeze_count() > 10_000)"
        )
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
        assert out.splitlines()[-1] == f"{code} True", args


def test_the_collector_is_paused_while_a_command_starts_and_runs_during_its_work(
    tmp_path,
) -> None:
    # issue 21.19: main() pauses the cyclic garbage collector while typer sets the command up
    # and while a store command imports and opens the store (cli._common.starting); every
    # command resumes it before its own work, so a long command (serve, simulate-screening,
    # a screening session) collects as usual
    table = tmp_path / "effects.csv"
    table.write_text("yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n", encoding="utf-8")
    store = tmp_path / "review.sqlite"
    init = ("store", "init", "--project", "p", "--store", str(store))
    probe = "\nimport gc\nprint(gc.isenabled())"
    for args, collecting in (
        (("--version",), False),  # ends before any command runs: paused to the end
        (("rma", str(table)), True),
        (init, True),
        (("store", "reviewer", "list", "--store", str(store)), True),
    ):
        out = subprocess.run(
            [sys.executable, "-c", run_cli(*args) + probe],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.splitlines()[-1] == str(collecting), args
    # every command resumes the collector: its callback is errors_end_the_command's wrapper
    resumes = errors_end_the_command(lambda: None).__code__
    for path, command in every_command():
        if not hasattr(command, "commands"):  # a command, not a group
            assert command.callback.__wrapped__.__code__ is resumes, path


def test_commands_run_in_process_leave_the_collector_alone(tmp_path) -> None:
    # the pause and the freezing are main()'s: under typer's CliRunner (the tests, a program
    # calling the app) the collector is neither paused nor frozen
    import gc

    frozen = gc.get_freeze_count()
    store = str(tmp_path / "review.sqlite")
    for args in (["store", "init", "--project", "p", "--store", store], ["--version"]):
        assert RUNNER.invoke(app, args).exit_code == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_main_builds_only_the_command_asked_for(tmp_path) -> None:
    # issue 21.19: typer builds every registered command's click command each run (~0.02 s
    # for all); main() runs the app holding only the one named first (cli.asked_for)
    table = tmp_path / "effects.csv"
    table.write_text("yi,vi\n0.1,0.04\n0.3,0.02\n-0.2,0.05\n", encoding="utf-8")
    counting = (
        "import typer.main as tm\nbuilt = []\nbuild = tm.get_command_from_info\n"
        "tm.get_command_from_info = lambda *a, **k: built.append(1) or build(*a, **k)\n"
    )
    for args, expected in ((("rma", str(table)), 1), (("--version",), 38)):
        probe = counting + run_cli(*args) + "\nprint(len(built))"
        out = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout
        assert out.splitlines()[-1] == str(expected), args


def test_the_command_asked_for_alone_helps_and_fails_as_within_the_whole_app() -> None:
    from metareview.cli import asked_for

    names = {path[0] for path, _ in every_command() if path}
    assert len(names) == 20
    for name in sorted(names):
        for args in ([name, "--help"], [name, "--no-such-option"]):
            alone = RUNNER.invoke(asked_for(args), args)
            whole = RUNNER.invoke(app, args)
            assert (alone.exit_code, alone.output) == (whole.exit_code, whole.output), args
    # anything else is for the whole app: its help, its options, a misspelt command
    for args in ([], ["--help"], ["--version"], ["rmaa", "x.csv"], ["x.csv"]):
        assert asked_for(args) is app, args
