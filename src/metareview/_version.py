"""The installed version of metareview (``metareview.__version__``), recorded in every
result's ``to_dict()`` as metafor records its own in each fit."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("metareview")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"
