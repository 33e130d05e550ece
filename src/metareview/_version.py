"""The version of metareview (``metareview.__version__``), recorded in every result's
``to_dict()`` as metafor records its own in each fit.

This line is the single source of the version: the build backend reads it
(``[tool.hatch.version]`` in pyproject.toml) and writes it into the package metadata.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
