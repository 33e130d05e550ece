"""Each package's public surface is exactly its ``__all__`` (httpx's
tests/test_exported_members.py): a public name in a package's namespace that ``__all__``
leaves out, or a name in ``__all__`` that does not resolve, fails. Submodules are reached as
modules, not exported, and helpers are imported under private names. Every other module's
``__all__`` names real objects. That every ``__all__`` is sorted is ruff's rule RUF022
(``make lint``), in its isort-style order (constants, classes, functions).
"""

from __future__ import annotations
import __future__

import importlib
import pkgutil
import types
from pathlib import Path

import pytest

import metareview

# alembic's migration scripts run on import; they export nothing
_NOT_IMPORTED = ("metareview.review.migrations",)
_SUBMODULES = [
    info
    for info in pkgutil.walk_packages(metareview.__path__, "metareview.", onerror=lambda name: None)
    if not info.name.startswith(_NOT_IMPORTED)
]
PACKAGES = ["metareview", *sorted(info.name for info in _SUBMODULES if info.ispkg)]


def _source(info: pkgutil.ModuleInfo) -> str:
    folder = Path(info.module_finder.path) / info.name.rpartition(".")[2]
    return (folder / "__init__.py" if info.ispkg else folder.with_suffix(".py")).read_text("utf-8")


#: modules that declare an ``__all__`` (read from the source: a module whose optional
#: dependencies are missing is reported as skipped by the test, not at collection)
DECLARING = sorted(info.name for info in _SUBMODULES if "\n__all__" in _source(info))


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:  # an optional extra (web, dask, postgres) not installed
        if exc.name and not exc.name.startswith("metareview"):
            pytest.skip(f"{name} needs {exc.name}, an optional dependency")
        raise


def _public_namespace(module: types.ModuleType) -> list[str]:
    """Public names bound in ``module``, less submodules and ``from __future__`` features."""
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    )


@pytest.mark.parametrize("name", PACKAGES)
def test_package_exports_exactly_its_public_names(name):
    package = _import(name)
    exported = list(getattr(package, "__all__", []))
    unresolved = [attr for attr in exported if not hasattr(package, attr)]
    assert unresolved == [], f"{name}.__all__ names what {name} does not have"
    # after the lookups above, names a package imports lazily (PEP 562) are bound too
    not_exported = sorted(set(_public_namespace(package)) - set(exported))
    assert not_exported == [], f"{name} binds public names that __all__ leaves out"


@pytest.mark.parametrize("name", DECLARING)
def test_module_all_resolves(name):
    module = _import(name)
    assert [attr for attr in module.__all__ if not hasattr(module, attr)] == []


def test_design_contract_names_are_exported_at_the_top():
    # DESIGN.md's API contract: users import these from metareview itself
    for name in (
        "escalc",
        "rma",
        "rma_batch",
        "regtest",
        "ranktest",
        "trimfill",
        "fsn",
        "permutest",
        "leave1out",
        "cumul",
        "influence",
        "gosh",
        "batch",
        "simulate",
    ):
        assert name in metareview.__all__ and callable(getattr(metareview, name)), name
