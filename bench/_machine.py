"""A one-line description of the machine a benchmark ran on (CPU, cores, OS, versions)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def machine(*extra: tuple[str, str]) -> str:
    """CPU model, core count, OS, Python and numpy versions, then ``extra`` (name, version)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = [
        f"Python {platform.python_version()}",
        f"numpy {np.__version__}",
        *(f"{name} {version}" for name, version in extra),
    ]
    return (
        f"{cpu}, nproc = {os.cpu_count()}, {platform.system()} {platform.release()}, "
        + ", ".join(versions)
    )
