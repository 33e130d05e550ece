"""The public surface is explicit: sorted ``__all__`` lists that name only real objects."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["metareview", "metareview.stats", "metareview.exceptions", "metareview.plots",
            "metareview.review"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr), attr


def test_design_contract_names_are_exported():
    import metareview

    for name in ("escalc", "rma", "rma_batch"):
        assert callable(getattr(metareview, name))
