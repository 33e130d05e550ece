"""pytest plugin: how close each comparison with a reference actually is.

Run ``pytest -p tests.measure_tolerances tests/stats -q`` to re-measure before changing a
tolerance: every ``np.testing.assert_allclose`` is recorded and, at the end of the session,
the worst relative error is printed per test, quantity and estimator, with the smallest
rtol that passes at the test's atol (elements whose reference is 0 are reported as an
absolute error), next to the rtol and atol the test uses.
The tolerances in the reference tests are set just above these observed worst cases, which
their comments quote. ``--tolerances-json PATH`` also writes the measurements as JSON (the
documentation's validation page is made from it: docs/_validation.py).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest

_original = np.testing.assert_allclose
# worst relative error, rtol needed at the test's atol, worst |error| where the reference is 0,
# the rtol and atol the test uses, the number of values compared and the worst |error|
_FIELDS = ("worst_rel", "needed", "abs_at_zero", "rtol", "atol", "compared", "worst_abs")
_records: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0] * len(_FIELDS))
_current: list[str] = ["", ""]  # test function, case id


def _quantity(err_msg: str, case_id: str) -> str:
    """The quantity named last in ``err_msg`` (``"<case>: <model> <quantity>"``), with the
    estimator of the test's case (from its id, e.g. ``bcg_RR_REML_z``)."""
    words = err_msg.rpartition(": ")[2].split()
    method = re.search(r"(?:^|_)(EE|DL|REML|ML|PM|HE|HS|SJ|EB)(?:_|$|-)", case_id)
    return f"{words[-1] if words else '(values)'} [{method.group(1) if method else '-'}]"


def _recording(
    actual: Any,
    desired: Any,
    rtol: float = 1e-7,
    atol: float = 0,
    *args: Any,
    err_msg: str = "",
    **kwargs: Any,
) -> None:
    a = np.asarray(actual, dtype=float).ravel()
    d = np.broadcast_to(np.asarray(desired, dtype=float), np.shape(actual)).ravel()
    both = np.isfinite(a) & np.isfinite(d)
    nonzero = both & (d != 0)
    record = _records[(_current[0], _quantity(str(err_msg), _current[1]))]
    error = np.abs(a - d)
    if nonzero.any():
        record[0] = max(record[0], float(np.max(error[nonzero] / np.abs(d[nonzero]))))
        # the smallest rtol that passes with the test's atol
        needed = (error[nonzero] - atol) / np.abs(d[nonzero])
        record[1] = max(record[1], float(np.max(needed)))
    if (both & (d == 0)).any():
        record[2] = max(record[2], float(np.max(error[both & (d == 0)])))
    record[3], record[4] = rtol, atol
    record[5] += int(both.sum())
    if both.any():
        record[6] = max(record[6], float(np.max(error[both])))
    _original(actual, desired, rtol, atol, *args, err_msg=err_msg, **kwargs)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    _current[0] = f"{item.path.name}::{getattr(item, 'originalname', item.name)}"
    _current[1] = item.name.partition("[")[2].rstrip("]")
    np.testing.assert_allclose = _recording
    try:
        return (yield)
    finally:
        np.testing.assert_allclose = _original


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tolerances-json", metavar="PATH", help="also write the measurements as JSON"
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--tolerances-json")
    if path:
        rows = [
            {"test": test, "quantity": quantity, **dict(zip(_FIELDS, values, strict=True))}
            for (test, quantity), values in sorted(_records.items())
        ]
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=1)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    write = terminalreporter.write_line
    write("")
    write(
        f"{'test and quantity [estimator]':<74} {'worst rel':>9} {'needed':>9} "
        f"{'abs at 0':>9} {'rtol':>7} {'atol':>7}"
    )
    for (test, quantity), (rel, needed, at_zero, rtol, atol, *_) in sorted(_records.items()):
        write(
            f"{test + ' ' + quantity:<74.74} {rel:9.1e} {needed:9.1e} {at_zero:9.1e} "
            f"{rtol:7.0e} {atol:7.0e}"
        )
