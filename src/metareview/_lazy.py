"""Packages whose public names are imported on first use (PEP 562).

``metareview.stats``, ``metareview.plots`` and ``metareview.review`` map each public name to
the module that defines it; a module is imported when one of its names is first used, so a
command that draws a forest plot loads neither the network code nor pandas. Each package
keeps a two-line ``__getattr__`` and ``__dir__`` that call these functions.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Mapping


def lazy_attribute(package: str, origin: Mapping[str, str], name: str) -> object:
    """The public ``name`` of ``package``, imported from its module on first use and then
    kept in the package's namespace (so ``__getattr__`` is not called for it again)."""
    if name not in origin:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{package}.{origin[name]}"), name)
    vars(sys.modules[package])[name] = value
    return value


def lazy_dir(package: str) -> list[str]:
    """What ``dir(package)`` lists: what is loaded plus every public name."""
    module = sys.modules[package]
    return sorted(set(vars(module)) | set(getattr(module, "__all__", ())))


class _LazyPackage(types.ModuleType):
    """A package module type. Importing submodule ``<module>`` binds the package attribute
    ``<module>`` to the submodule, which would hide a function of the same name (``forest``
    in ``forest.py``, ``batch`` in ``batch.py``); that binding is skipped, so the name keeps
    meaning the function, as when the package imported every module."""

    named_like_module: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: object) -> None:
        if name in self.named_like_module and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


def keep_functions_named_like_modules(package: str, origin: Mapping[str, str]) -> None:
    """Make the names of ``package`` defined in a module of the same name stay functions
    after that module is imported (see :class:`_LazyPackage`)."""
    names = frozenset(name for name, module in origin.items() if name == module)
    module = sys.modules[package]
    module.__class__ = type(
        "_Package", (_LazyPackage,), {"named_like_module": names, "__module__": package}
    )
