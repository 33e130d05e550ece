"""metareview.review re-exports a sorted ``__all__`` of real objects."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "name", ["metareview.review", "metareview.review.importers", "metareview.review.store"]
)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), attr
