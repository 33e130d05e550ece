"""Display scales of forest plots and the formatting of numbers shown in figures.

A display scale says how values on the model scale (``yi``, the pooled estimate) are shown:
unchanged, back-transformed with one of metafor's ``transf`` functions, or, for raw
proportions, as percentages. It also names the measure for axis labels and column headers and
picks the reference line (0 for differences, 1 for ratios, none for proportions).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from metareview._validation import DIGITS, Options, check_optional
from metareview.exceptions import InputError
from metareview.stats.transforms import back_transform

__all__ = ["DISPLAY_TRANSFORMS", "Scale", "fmt_num", "fmt_p", "fmt_stat", "resolve_scale"]

#: accepted ``transf`` values of the plots: metafor's back-transformations and "percent"
DISPLAY_TRANSFORMS = Options(
    "transf",
    ("expit", "exp", "ipft.hm", "iarcsin", "ztor", "percent"),
    aliases={"ilogit": "expit"},
    case_sensitive=False,
)

# measure -> (name on the model scale, short name, name back-transformed, short name)
_NAMES: dict[str, tuple[str, str, str, str]] = {
    "RR": ("Log risk ratio", "log RR", "Risk ratio", "RR"),
    "OR": ("Log odds ratio", "log OR", "Odds ratio", "OR"),
    "PETO": ("Log odds ratio (Peto)", "log OR", "Odds ratio (Peto)", "OR"),
    "RD": ("Risk difference", "RD", "Risk difference", "RD"),
    "MD": ("Mean difference", "MD", "Mean difference", "MD"),
    "SMD": ("Standardized mean difference", "SMD", "Standardized mean difference", "SMD"),
    "ROM": ("Log ratio of means", "log ROM", "Ratio of means", "ROM"),
    "MC": ("Mean change", "MC", "Mean change", "MC"),
    "SMCC": ("Standardized mean change", "SMC", "Standardized mean change", "SMC"),
    "SMCR": ("Standardized mean change", "SMC", "Standardized mean change", "SMC"),
    "COR": ("Correlation", "r", "Correlation", "r"),
    "ZCOR": ("Fisher's z", "z", "Correlation", "r"),
    "PR": ("Proportion", "Proportion", "Proportion", "Proportion"),
    "PLN": ("Log proportion", "log proportion", "Proportion", "Proportion"),
    "PLO": ("Logit proportion", "logit", "Proportion", "Proportion"),
    "PAS": ("Arcsine proportion", "arcsine", "Proportion", "Proportion"),
    "PFT": ("Freeman-Tukey proportion", "PFT", "Proportion", "Proportion"),
    "IR": ("Incidence rate", "IR", "Incidence rate", "IR"),
    "IRLN": ("Log incidence rate", "log IR", "Incidence rate", "IR"),
    "IRR": ("Log incidence rate ratio", "log IRR", "Incidence rate ratio", "IRR"),
    "IRD": ("Incidence rate difference", "IRD", "Incidence rate difference", "IRD"),
}
_PROPORTION_MEASURES = frozenset({"PR", "PLN", "PLO", "PAS", "PFT", "IR", "IRLN"})
_PROPORTION_TRANSFORMS = frozenset({"expit", "ipft.hm", "iarcsin", "percent"})
_TRANSF_NAMES = {
    "exp": ("Ratio", "Ratio"),
    "expit": ("Proportion", "Proportion"),
    "ipft.hm": ("Proportion", "Proportion"),
    "iarcsin": ("Proportion", "Proportion"),
    "ztor": ("Correlation", "r"),
    "percent": ("Percentage", "%"),
}
MINUS = "\u2212"


@dataclass(frozen=True, slots=True)
class Scale:
    """How model-scale values are displayed.

    ``transf`` is None (model scale), a metafor back-transformation or ``"percent"``;
    ``log_axis`` is true for ratios (drawn on a log axis); ``refline`` is the default
    reference line on the display scale (None for none); ``name``/``short`` label the axis and
    the effect column; ``digits`` is the number of decimals shown.
    """

    transf: str | None
    log_axis: bool
    refline: float | None
    name: str
    short: str
    digits: int
    targs: Mapping[str, Any] | None = None

    def display(self, values: Any) -> np.ndarray:
        """Model-scale ``values`` on the display scale."""
        values = np.asarray(values, dtype=float)
        if self.transf is None:
            return values
        if self.transf == "percent":
            return 100 * values
        return back_transform(self.transf, values, self.targs)

    def predict(self, res: Any) -> dict[str, float]:
        """``pred, ci_lb, ci_ub, pi_lb, pi_ub`` of ``res`` on the display scale (read, not fit)."""
        if self.transf == "percent":
            return {key: 100 * value for key, value in res.predict().items()}
        return res.predict(transf=self.transf)


def resolve_scale(
    measure: str | None, transf: str | None, ni: Any = None, digits: int | None = None
) -> Scale:
    """The display scale for results of ``measure`` shown with ``transf``.

    Examples
    --------
    >>> s = resolve_scale("RR", "exp")
    >>> s.log_axis, s.refline, s.name, s.short
    (True, 1.0, 'Risk ratio', 'RR')
    >>> resolve_scale("PR", "percent").refline is None
    True
    """
    canonical = None if transf is None else DISPLAY_TRANSFORMS.check(transf)
    measure = (measure or "").upper()
    if measure in _NAMES:
        model_name, model_short, back_name, back_short = _NAMES[measure]
        name, short = (model_name, model_short) if canonical is None else (back_name, back_short)
        if canonical == "percent":
            name, short = f"{model_name} (%)", f"{model_name}, %"
    elif canonical is not None:
        name, short = _TRANSF_NAMES[canonical]
    else:
        name, short = "Estimate", "Estimate"
    if measure in _PROPORTION_MEASURES or canonical in _PROPORTION_TRANSFORMS:
        refline = None
    elif canonical == "exp":
        refline = 1.0
    else:
        refline = 0.0
    digits = check_optional(DIGITS, digits)
    if digits is None:
        digits = 1 if canonical == "percent" else 2
    targs = {"ni": ni} if ni is not None else None
    return Scale(
        transf=canonical,
        log_axis=canonical == "exp",
        refline=refline,
        name=name,
        short=short,
        digits=digits,
        targs=targs,
    )


def fmt_num(x: float, digits: int) -> str:
    """A number with ``digits`` decimals and a typographic minus sign.

    Examples
    --------
    >>> fmt_num(-0.4312, 2)
    '−0.43'
    """
    if x is None or not np.isfinite(x):
        return "NA"
    text = f"{x:.{digits}f}"
    if text.startswith("-"):
        text = MINUS + text[1:] if float(text) != 0 else text[1:]
    return text


def fmt_stat(x: float) -> str:
    """A test statistic or variance component: 2 decimals, or 2 significant digits below 0.1,
    and "< 0.0001" below that (a REML tau2 of 1.6e-14 is not printed as 0.000000000000016).

    Examples
    --------
    >>> fmt_stat(152.2330), fmt_stat(0.0412), fmt_stat(0.0), fmt_stat(1.6e-14)
    ('152.23', '0.041', '0', '< 0.0001')
    """
    if x is None or not np.isfinite(x):
        return "NA"
    if x == 0:
        return "0"
    if 0 < x < 1e-4:
        return "< 0.0001"
    if abs(x) >= 0.1:
        return fmt_num(x, 2)
    return fmt_num(float(f"{x:.2g}"), max(2, -int(np.floor(np.log10(abs(x)))) + 1))


def fmt_p(p: float) -> str:
    """A p-value as journals print it: 'p < 0.001' or 'p = 0.046'.

    Examples
    --------
    >>> fmt_p(2e-26), fmt_p(0.46376)
    ('p < 0.001', 'p = 0.464')
    """
    if p is None or not np.isfinite(p):
        return "p = NA"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def reference_line(refline: float | bool | None, scale: Scale) -> float | None:
    """The reference (null) line: automatic for the scale (None/True), none (False) or a
    given value, which must be positive on a ratio axis."""
    if refline is None or refline is True:
        return scale.refline
    if refline is False:
        return None
    try:
        value = float(refline)
    except (TypeError, ValueError):
        raise InputError(
            f"refline must be a number, None (automatic) or False (none); got {refline!r}."
        ) from None
    if scale.log_axis and value <= 0:
        raise InputError(f"refline must be > 0 on a ratio (log) axis; got {value:g}.")
    return value
