"""Kappa's CI is printed within [-1, 1], with a note, while the numbers keep the published
formula (issue 21.21: ``-0.368 to 1.168`` was printed). Reference: R's psych::cohen.kappa
(tests/fixtures/psych_kappa.json, made by tests/fixtures/make_agreement_fixtures.R)."""

from __future__ import annotations

import numpy as np
import pytest

import metareview as mr
from metareview import InputError
from metareview.stats.agreement import KAPPA_CI_NOTE, kappa_ci_shown
from tests.conftest import load_fixture

TEXTBOOK = next(c for c in load_fixture("psych_kappa")["cases"] if c["id"] == "textbook_2x2")
# four records, two raters: kappa = 0.5 with a large-sample CI reaching past 1
FEW = (["y", "y", "n", "y"], ["y", "n", "n", "y"])


def test_an_interval_inside_the_range_is_printed_as_it_is():
    out = mr.cohen_kappa(TEXTBOOK["r1"], TEXTBOOK["r2"])
    text = str(out)
    assert f"95% CI {TEXTBOOK['ci_lb']:.3f} to {TEXTBOOK['ci_ub']:.3f})" in text
    assert text.startswith(f"Cohen's kappa = {TEXTBOOK['kappa']:.3f} ")
    assert "*" not in text and KAPPA_CI_NOTE not in text


def test_an_interval_past_one_is_printed_cut_at_one_with_a_note():
    out = mr.cohen_kappa(*FEW)
    # the kept numbers are the formula's: kappa -/+ z se, symmetric about kappa
    assert out.kappa == pytest.approx(0.5)  # p_o = 0.75, p_e = 0.5 by hand
    assert out.ci_ub > 1
    assert out.ci_ub - out.kappa == pytest.approx(out.kappa - out.ci_lb, rel=1e-12)
    text = out.summary()
    assert f"95% CI {out.ci_lb:.3f} to 1.000 *)" in text
    assert text.splitlines()[-1] == (
        f"* {KAPPA_CI_NOTE} (Formula: {out.ci_lb:.3f} to {out.ci_ub:.3f}.)"
    )
    assert out.to_dict()["ci_ub"] == out.ci_ub  # the numbers are not cut


@pytest.mark.parametrize(
    ("lb", "ub", "shown"),
    [
        (-0.368, 1.168, (-0.368, 1.0, True)),
        (-1.2, 0.3, (-1.0, 0.3, True)),
        (-1.5, 1.5, (-1.0, 1.0, True)),
        (-1.0, 1.0, (-1.0, 1.0, False)),
        (0.2, 0.6, (0.2, 0.6, False)),
    ],
)
def test_kappa_ci_shown(lb, ub, shown):
    assert kappa_ci_shown(lb, ub) == shown


def test_level_is_read_as_95_or_0_95():
    as_percent = mr.cohen_kappa(TEXTBOOK["r1"], TEXTBOOK["r2"], level=95)
    as_proportion = mr.cohen_kappa(TEXTBOOK["r1"], TEXTBOOK["r2"], level=0.95)
    assert as_percent == as_proportion
    np.testing.assert_allclose(
        [as_percent.ci_lb, as_percent.ci_ub], [TEXTBOOK["ci_lb"], TEXTBOOK["ci_ub"]], rtol=1e-9
    )
    narrower = mr.cohen_kappa(TEXTBOOK["r1"], TEXTBOOK["r2"], level=90)
    assert "90% CI" in str(narrower) and narrower.ci_ub < as_percent.ci_ub


@pytest.mark.parametrize("level", [0, 100, "95", True])
def test_level_out_of_range(level):
    with pytest.raises(InputError, match="level must lie strictly between 0 and 100"):
        mr.cohen_kappa(*FEW, level=level)


def test_agreement_lives_in_the_statistics_layer():
    from metareview.stats import agreement

    assert mr.cohen_kappa is agreement.cohen_kappa is mr.stats.cohen_kappa
    with pytest.raises(ModuleNotFoundError):
        __import__("metareview.agreement")
