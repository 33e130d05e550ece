"""Back-transformations for predictions, named as metafor's ``transf.*`` without the prefix."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from metareview._validation import Options
from metareview.exceptions import InputError

__all__ = ["TRANSFORMS", "back_transform"]


def _expit(x: np.ndarray, targs: Mapping[str, Any]) -> np.ndarray:
    """Inverse logit, for PLO and log odds."""
    return 1 / (1 + np.exp(-x))


def _iarcsin(x: np.ndarray, targs: Mapping[str, Any]) -> np.ndarray:
    """sin(x)^2 clipped to [0, 1], for PAS (metafor ``transf.iarcsin``)."""
    out = np.sin(x) ** 2
    out = np.where(x < 0, 0.0, out)
    return np.where(x > np.arcsin(1.0), 1.0, out)


def _pft(p: float, n: float) -> float:
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def _ipft_hm(x: np.ndarray, targs: Mapping[str, Any]) -> np.ndarray:
    """Inverse Freeman-Tukey double arcsine with the harmonic mean of the n's.

    Miller (1978), The American Statistician 32, 138; as metafor ``transf.ipft.hm``: values
    beyond the transform of 0 or 1 map to 0 or 1.
    """
    if targs is None or "ni" not in targs:
        raise InputError(
            "transf='ipft.hm' needs the sample sizes: targs={'ni': [...]} (escalc's ni column)."
        )
    ni = np.asarray(targs["ni"], dtype=float)
    n_hm = float(1 / np.nanmean(1 / ni))
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.sin(2 * x)
        out = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s + (s - 1 / s) / n_hm) ** 2))
    out = np.where(x > _pft(1.0, n_hm), 1.0, out)
    return np.where(x < _pft(0.0, n_hm), 0.0, out)


def _ztor(x: np.ndarray, targs: Mapping[str, Any]) -> np.ndarray:
    """Fisher's z back to r: tanh."""
    return np.tanh(x)


def _exp(x: np.ndarray, targs: Mapping[str, Any]) -> np.ndarray:
    """exp, for log ratios (RR, OR, ROM, PLN, IRLN)."""
    return np.exp(x)


_FUNCTIONS: dict[str, Callable[[np.ndarray, Mapping[str, Any]], np.ndarray]] = {
    "expit": _expit,
    "iarcsin": _iarcsin,
    "ipft.hm": _ipft_hm,
    "ztor": _ztor,
    "exp": _exp,
}
TRANSFORMS = Options("transf", tuple(_FUNCTIONS), aliases={"ilogit": "expit"}, case_sensitive=False)

#: the natural back-transformation of each measure
DEFAULT_FOR_MEASURE = {
    "PLO": "expit",
    "PAS": "iarcsin",
    "PFT": "ipft.hm",
    "ZCOR": "ztor",
    "RR": "exp",
    "OR": "exp",
    "PETO": "exp",
    "ROM": "exp",
    "PLN": "exp",
    "IRLN": "exp",
}


def back_transform(name: str, values: Any, targs: Mapping[str, Any] | None = None) -> np.ndarray:
    """Apply the named back-transformation to ``values``.

    Examples
    --------
    >>> float(back_transform("expit", 0.0))
    0.5
    """
    return _FUNCTIONS[TRANSFORMS.check(name)](np.asarray(values, dtype=float), targs or {})
