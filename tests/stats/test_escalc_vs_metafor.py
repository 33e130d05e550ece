"""escalc against metafor 3.8 (tests/fixtures/metafor_escalc.json, made by make_fixtures.R).

Data sets from metadat: dat.bcg (Colditz et al., 1994), dat.normand1999 (Normand, 1999),
dat.pritz1997 (Pritz, 1997), dat.molloy2014 (Molloy et al., 2014), dat.hart1999 (Hart et al.,
1999), dat.hackshaw1998, dat.konstantopoulos2011; pre/post data of Morris (2008).
"""

from __future__ import annotations

import numpy as np
import pytest

from metareview import escalc
from tests.conftest import load_fixture

RTOL = 1e-13  # closed-form formulas, 15 significant digits in the fixture: observed 1.5e-14
ATOL = 1e-13  # for effect sizes that are 0

CASES = load_fixture("metafor_escalc")["cases"]


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_escalc_matches_metafor(case):
    inputs = {name: _arr(vals) for name, vals in case["inputs"].items()}
    out = escalc(case["measure"], slab=case["slab"], **inputs)
    np.testing.assert_allclose(out["yi"], _arr(case["yi"]), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(out["vi"], _arr(case["vi"]), rtol=RTOL, atol=ATOL)


def test_all_measures_are_covered():
    measures = {c["measure"] for c in CASES}
    required = {
        "PR",
        "PLN",
        "PLO",
        "PAS",
        "PFT",
        "RR",
        "OR",
        "RD",
        "PETO",
        "MD",
        "SMD",
        "ROM",
        "MC",
        "SMCC",
        "SMCR",
        "COR",
        "ZCOR",
        "IR",
        "IRLN",
        "GEN",
    }
    assert required <= measures
