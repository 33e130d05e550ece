"""Where metafor's REML Fisher scoring oscillates and gives up, ours still converges -- to the
maximiser of metafor's own REML log-likelihood (tests/fixtures/metafor_reml_rescue.json).

The benchmark found these data sets: with k = 10 simulated studies, about 0.6% of REML fits
fail in metafor 3.8 ("Fisher scoring algorithm did not converge", also with maxiter = 1000).
"""

from __future__ import annotations

import numpy as np
import pytest

from metareview import rma
from tests.conftest import load_fixture

RTOL = 1e-6  # optimize() on the log-likelihood is accurate to ~1e-9 in tau2 here
CASES = load_fixture("metafor_reml_rescue")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_reml_converges_where_metafor_does_not(case):
    assert "did not converge" in case["metafor_error"]
    res = rma(case["yi"], case["vi"], method="REML")
    np.testing.assert_allclose(res.tau2, case["tau2_reml_max"], rtol=RTOL)
