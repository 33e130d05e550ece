"""batch(): many meta-analyses from a long table equal the same fits one by one, whatever
the chunking (hypothesis on random ragged data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from metareview import InputError, StudyOmittedWarning, batch, rma
from metareview.cli import app

pytestmark = pytest.mark.filterwarnings("ignore::metareview.ConvergenceWarning")


def _long_table(seed: int, n_groups: int, max_k: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ks = rng.integers(2, max_k + 1, size=n_groups)
    review = np.repeat([f"r{i}" for i in range(n_groups)], ks)
    vi = rng.uniform(0.01, 0.3, size=review.size)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05))
    table = pd.DataFrame({"review": review, "yi": yi, "vi": vi})
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # interleaved


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_groups=st.integers(1, 12),
    method=st.sampled_from(["DL", "REML", "PM", "SJ", "EB"]),
)
def test_batch_equals_one_by_one(seed, n_groups, method):
    table = _long_table(seed, n_groups, max_k=8)
    out = batch(table, by="review", method=method)
    assert list(out.index) == list(pd.unique(table["review"]))
    for review, group in table.groupby("review", sort=False):
        single = rma(group["yi"].to_numpy(), group["vi"].to_numpy(), method=method)
        row = out.loc[review]
        assert row["k"] == single.k
        np.testing.assert_allclose(row["estimate"], single.estimate, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(row["tau2"], single.tau2, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(row["QEp"], single.QEp, rtol=1e-9, atol=1e-12)


def test_results_do_not_depend_on_chunking():
    table = _long_table(7, 300, max_k=12)
    whole = batch(table, by="review", method="REML")
    for rows in (1, 7, 64):
        chunked = batch(table, by="review", method="REML", chunk_rows=rows)
        pd.testing.assert_frame_equal(whole, chunked, check_exact=True)


def test_single_study_meta_analyses_are_kept():
    table = pd.DataFrame(
        {"review": ["a", "b", "b"], "yi": [0.4, 0.1, 0.3], "vi": [0.04, 0.02, 0.03]}
    )
    out = batch(table, by="review", method="DL")
    assert out.loc["a", "k"] == 1 and out.loc["a", "estimate"] == 0.4
    assert out.loc["a", "tau2"] == 0 and out.loc["a", "QE"] == 0


def test_missing_values_are_left_out_with_a_warning():
    table = pd.DataFrame(
        {"review": ["a", "a", "a", "b", "b"], "yi": [0.1, None, 0.3, 0.2, 0.5], "vi": [0.04] * 5}
    )
    with pytest.warns(StudyOmittedWarning, match="1 rows with missing"):
        out = batch(table, by="review", method="DL")
    assert out.loc["a", "k"] == 2


def test_bad_variance_names_row_and_meta_analysis():
    table = pd.DataFrame(
        {"review": ["a", "a", "b"], "yi": [0.1, 0.2, 0.3], "vi": [0.04, -0.01, 0.04]}
    )
    with pytest.raises(InputError, match=r"vi must be > 0.*row 2 \(study 'review=a'\)"):
        batch(table, by="review")
    with pytest.raises(InputError, match="column 'trial' not found"):
        batch(table, by="trial")


def test_cli_batch_parquet_round_trip(tmp_path):
    table = _long_table(3, 50, max_k=6)
    source = tmp_path / "studies.parquet"
    table.to_parquet(source)
    out = tmp_path / "results.parquet"
    result = CliRunner().invoke(
        app, ["batch", str(source), "--by", "review", "--method", "DL", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 50 meta-analyses" in result.output
    written = pd.read_parquet(out)
    expected = batch(table, by="review", method="DL")
    pd.testing.assert_frame_equal(written, expected)
