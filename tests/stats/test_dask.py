"""batch() and simulate() on a Dask cluster give exactly the in-memory numbers.

One ``distributed.LocalCluster`` (2 workers, 1 thread each) serves the module. The
in-memory results are the reference: the Dask path runs the same functions on the same
meta-analyses and seeded blocks, so equality is exact (``check_exact=True``), not approximate.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import metareview
from metareview import ConvergenceWarning, InputError, StudyOmittedWarning, batch, simulate
from metareview.cli import app
from metareview.stats._dask import _warn_from_columns

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

METHODS = ["DL", "REML"]


# Workers are threads of this process (processes=False): worker processes pass the same
# tests but cost ~10 s here (each imports metareview, and the nanny shuts down slowly).
# Worker threads share this process's warning filters, and warnings.catch_warnings() (used
# by the kernel and by batch() around it) is not thread-safe before Python 3.14: two worker
# threads can leave pytest's "error" filter active while the other is inside its block, and
# turn the kernel's ConvergenceWarning (REML resets) into a task failure. So that warning
# alone is ignored here; every other warning still fails the test.
pytestmark = pytest.mark.filterwarnings("ignore::metareview.ConvergenceWarning")


@pytest.fixture(scope="module")
def client():
    # dashboard_address=":0": a free port, so a dashboard already on 8787 (another cluster on
    # this machine) cannot make the scheduler warn "Port 8787 is already in use".
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as dask_client,
    ):
        yield dask_client


def _ragged_table(seed: int, n_groups: int, max_k: int) -> pd.DataFrame:
    """Interleaved rows of meta-analyses of 1..max_k studies (single-study ones included)."""
    rng = np.random.default_rng(seed)
    ks = rng.integers(1, max_k + 1, size=n_groups)
    ks[:3] = 1
    review = np.repeat([f"r{i}" for i in range(n_groups)], ks)
    vi = rng.uniform(0.01, 0.3, size=review.size)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05 * rng.uniform(size=review.size)))
    table = pd.DataFrame({"review": review, "yi": yi, "vi": vi})
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _in_memory(table: pd.DataFrame, **options) -> pd.DataFrame:
    return batch(table, by="review", **options)


@pytest.mark.parametrize("method", METHODS)
def test_batch_of_a_dask_dataframe_equals_in_memory(client, method):
    table = _ragged_table(1, 120, max_k=5)
    expected = _in_memory(table, method=method)
    assert (expected["k"] == 1).sum() >= 3
    for npartitions in (1, 4):
        ddf = dd.from_pandas(table, npartitions=npartitions)
        got = batch(ddf, by="review", method=method, scheduler=client)
        # a Dask DataFrame's own order (partition by partition) is the order of first
        # appearance, as in memory
        pd.testing.assert_frame_equal(
            got, _in_memory(ddf.compute(), method=method), check_exact=True
        )
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


@pytest.mark.parametrize("method", METHODS)
def test_batch_with_a_scheduler_equals_in_memory(client, method):
    table = _ragged_table(2, 100, max_k=6)
    table["review"] = table["review"].astype(object)  # keys keep their dtype on the cluster
    got = batch(table, by="review", method=method, test="knha", scheduler=client)
    by_address = batch(
        table, by="review", method=method, test="knha", scheduler=client.scheduler.address
    )
    expected = _in_memory(table, method=method, test="knha")
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(by_address, expected, check_exact=True)


def test_batch_on_the_local_threaded_scheduler_and_empty_partitions():
    table = _ragged_table(3, 5, max_k=4)  # fewer groups than partitions after the shuffle
    got = batch(dd.from_pandas(table, npartitions=4), by="review", method="DL", scheduler="threads")
    pd.testing.assert_frame_equal(got, _in_memory(table, method="DL"), check_exact=True)


def test_batch_warnings_and_errors_match_in_memory():
    table = pd.DataFrame(
        {
            "review": ["a", "b", "a", "b", "c", "a", "c"],
            "yi": [0.1, 0.2, None, 0.4, 0.5, 0.3, "x"],
            "vi": [0.04] * 7,
        }
    )
    with pytest.warns(StudyOmittedWarning) as on_dask:
        got = batch(table, by="review", method="DL", scheduler="sync")
    with pytest.warns(StudyOmittedWarning) as in_memory:
        expected = batch(table, by="review", method="DL")
    assert [str(w.message) for w in on_dask] == [str(w.message) for w in in_memory]
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    table["yi"] = 0.1
    table["vi"] = [0.04, 0.04, -1.0, 0.04, 0.0, 0.04, 0.04]
    with pytest.raises(InputError) as in_memory_error:
        batch(table, by="review")
    message = str(in_memory_error.value)
    assert "rows 3, 5 (studies 'review=a', 'review=c')" in message
    with pytest.raises(InputError) as dask_error:
        batch(dd.from_pandas(table, npartitions=3), by="review", scheduler="sync")
    assert str(dask_error.value) == message
    with pytest.raises(InputError, match="scheduler must be one of threads, processes"):
        batch(table, by="review", scheduler="gpu")
    with pytest.raises(InputError, match="scheduler must be a distributed Client, a cluster"):
        batch(table, by="review", scheduler=8786)
    with pytest.raises(InputError, match="column 'trial' not found"):
        batch(dd.from_pandas(table, npartitions=2), by="trial")


def test_convergence_warnings_are_reissued_from_the_result_columns():
    # workers do not warn (it would be lost there); the driver warns once for the table
    result = pd.DataFrame(
        {"converged": [True, False], "tau2_reset": [True, False]},
        index=pd.Index(["a", "b"], name="review"),
    )
    with pytest.warns(ConvergenceWarning) as caught:
        _warn_from_columns(result, "REML")
    assert [str(w.message) for w in caught] == [
        "batch: REML did not converge for 1 of 2 meta-analyses (e.g. ['b']); flagged "
        "converged = False. Try another method.",
        "batch: REML found a local maximum for 1 of 2 meta-analyses (e.g. ['a']): the "
        "likelihood is higher at tau2 = 0 than at the Fisher-scoring solution, so tau2 is set "
        "to 0 there, as metafor does (column tau2_reset).",
    ]


def test_simulate_on_the_cluster_equals_in_memory(client):
    scenarios = {
        "k5": {"theta": 0.2, "tau2": 0.1, "k": 5},
        "prop": {"theta": 0.5, "tau2": 0.2, "k": 6, "outcome": "proportion"},
    }
    methods = ["DL", "REML", "REML+knha", "EE"]
    expected = simulate(scenarios, methods, reps=1_050, seed=7, block_reps=250)
    got = simulate(scenarios, methods, reps=1_050, seed=7, block_reps=250, scheduler=client)
    pd.testing.assert_frame_equal(got.table, expected.table, check_exact=True)
    single_block = simulate(scenarios, methods, reps=1_050, seed=7, block_reps=10_000)
    assert not single_block.table.equals(expected.table)  # block_reps is part of the seed


def _run_at_import(node: ast.AST):
    """Statements executed when a module is imported (not those inside functions)."""
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield child
            yield from _run_at_import(child)


def test_no_module_imports_dask_at_import_time():
    # dask is an optional extra: only function bodies may import it (checked on the source:
    # a subprocess importing metareview would cost seconds)
    offenders = []
    for path in Path(metareview.__file__).parent.rglob("*.py"):
        for node in _run_at_import(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in ("dask", "distributed") for name in names):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_missing_dask_gives_an_install_hint(monkeypatch):
    table = _ragged_table(4, 5, max_k=3)
    monkeypatch.setitem(sys.modules, "dask", None)  # what ImportError looks like without it
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(InputError, match=r"pip install 'metareview\[dask\]'"):
        batch(table, by="review", scheduler="threads")
    with pytest.raises(InputError, match=r"simulate\(\.\.\., scheduler=\.\.\.\) needs the opt"):
        simulate({"x": {"theta": 0, "tau2": 0.1, "k": 3}}, ["DL"], reps=10, scheduler="sync")
    assert batch(table, by="review", method="DL")["k"].sum() == len(table)  # in memory: fine


def test_cli_batch_with_a_scheduler(client, tmp_path):
    table = _ragged_table(5, 40, max_k=6)
    source = tmp_path / "studies.parquet"
    table.to_parquet(source)
    out = tmp_path / "results.parquet"
    result = CliRunner().invoke(
        app,
        [
            "batch",
            str(source),
            "--by",
            "review",
            "--method",
            "DL",
            "--scheduler",
            client.scheduler.address,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "wrote 40 meta-analyses" in result.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out), _in_memory(table, method="DL"), check_exact=True
    )
