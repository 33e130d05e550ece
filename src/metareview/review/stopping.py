"""Rules for when to stop prioritised screening, each saying what it promises.

Input is the screening history in the order the records were screened (1 = relevant,
0 = irrelevant) and the total number of records; each rule returns a
:class:`StoppingDecision`: stop or not, the promise in words, and the records that stopping
would leave unscreened (PRISMA 2020 counts them as "records marked as ineligible by
automation tools", naming the rule).

``hypergeometric``
    The statistical stopping criterion of Callaghan & Müller-Hansen (2020). It tests the null
    hypothesis that recall is below a target (e.g. 95 %). The last ``n`` records screened are
    treated as a random sample, drawn without replacement, from themselves plus the records
    not yet screened. This is conservative when the ranking is better than random, since a
    prioritised sample holds at least as many relevant records as a random one. Under the
    null, that urn holds at least ``K_tar = floor(r_seen / target - r_before) + 1`` relevant
    records (``r_seen`` relevant found in all, ``r_before`` before the sample). The p-value
    is the hypergeometric probability of finding at most the ``k`` relevant records actually
    found in the sample. The smallest p-value over every sample size ``n`` is compared with
    ``1 - confidence``. When it is below, the rule promises "with 95 % confidence, at least
    95 % of the relevant records have been found".

    :func:`min_certifying_sample` gives the size of random sample that any rule valid for
    every ranking needs: the rule stops where that bound allows (see the user guide's page
    on screening).
``consecutive_irrelevant``
    Stop after ``n`` irrelevant records in a row (the heuristic ASReview LAB offers). It
    makes no promise: in simulations it stops early on sparse reviews.
``knee``
    The knee method of Cormack & Grossman (2016): find the knee of the gain curve (relevant
    found against records screened) and stop once the slope before the knee is at least
    ``156 - min(relevant found, 150)`` times the slope after it, after at least 150
    records. It is a heuristic with no statistical guarantee.

References
----------
Callaghan MW, Müller-Hansen F. Statistical stopping criteria for automated screening in
systematic reviews. Syst Rev 2020;9:273. doi:10.1186/s13643-020-01521-4
Cormack GV, Grossman MR. Engineering quality and reliability in technology-assisted review.
Proc. SIGIR 2016:75-84. doi:10.1145/2911451.2911510
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from metareview._validation import Options
from metareview.exceptions import Argument, InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

__all__ = [
    "CONSECUTIVE_IRRELEVANT_MEASURED",
    "RULE_ASSUMPTIONS",
    "STOPPING_RULES",
    "StoppingDecision",
    "consecutive_irrelevant",
    "current_decisions",
    "first_stops",
    "hypergeometric_stop",
    "knee_stop",
    "min_certifying_sample",
    "recall_p_value",
]

STOPPING_RULES = Options("rule", ("hypergeometric", "consecutive_irrelevant", "knee"))

#: What each rule rests on, for the methods text of a report (one sentence each).
RULE_ASSUMPTIONS = {
    "hypergeometric": "The test treats the records screened last as a random sample of "
    "themselves and the records left unscreened; a ranking that puts relevant records first "
    "only makes it conservative, and no strength of the ranking is assumed.",
    "consecutive_irrelevant": "The rule is a heuristic without a statistical model and "
    "gives no guarantee of recall.",
    "knee": "The rule is a heuristic without a statistical model and gives no guarantee of recall.",
}

#: Recall of the heuristic "n irrelevant records in a row" measured by replaying five
#: published reviews (bench/bench_stopping.py with the default ranking, elas_u4 +
#: presumed-irrelevant records, 10 seeds each; see bench/results/stopping_default_95.md):
#: n -> (runs that stopped below 95% recall, runs, lowest recall).
CONSECUTIVE_IRRELEVANT_MEASURED = {50: (30, 50, 0.778), 100: (10, 50, 0.829), 200: (0, 50, 0.976)}

# r_seen / target is computed in floating point: 19 / 0.95 gives 20.000000000000004 but 57 /
# 0.95 gives 59.99999999999999, whose floor would make K_tar one too small (a less
# conservative test). Nudging up by 1e-9 keeps the exact integer; no ratio of counts below
# 10^6 lies within 1e-9 below an integer without being that integer.
_FLOOR_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class StoppingDecision:
    """Whether a stopping rule says stop now, and what it promises.

    Attributes
    ----------
    rule : str
        ``"hypergeometric"``, ``"consecutive_irrelevant"`` or ``"knee"``.
    stop : bool
        True when the rule says screening may stop.
    promise : str
        What stopping now guarantees (or that it guarantees nothing), in words for the screen
        and the methods text.
    n_records : int
        Records in the review.
    n_screened : int
        Records screened so far.
    relevant_found : int
        Relevant records among them.
    p_value : float or None
        The hypergeometric rule's p-value for "recall is below the target" (None for the
        heuristics).
    """

    rule: str
    stop: bool
    promise: str
    n_records: int
    n_screened: int
    relevant_found: int
    p_value: float | None = None

    @property
    def n_unscreened(self) -> int:
        """Records that stopping now would leave unscreened."""
        return self.n_records - self.n_screened

    def to_dict(self) -> dict[str, object]:
        """JSON-safe dictionary of the decision, with ``n_unscreened``."""
        return {**asdict(self), "n_unscreened": self.n_unscreened}


def _check_history(labels: Sequence[int] | np.ndarray, n_records: int) -> np.ndarray:
    import numpy as np

    y = np.asarray(labels).ravel()
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise InputError(
            f"labels must be 0 (irrelevant) or 1 (relevant); got "
            f"{y[bad][0].item()!r} at position {int(np.flatnonzero(bad)[0]) + 1}."
        )
    if int(n_records) < y.size:
        raise InputError(
            f"n_records ({n_records}) is smaller than the number of records screened ({y.size})."
        )
    return y.astype(np.int64)


def _check_fraction(name: str, value: float) -> float:
    if not 0.0 < float(value) < 1.0:
        raise InputError(
            Argument(name), f" must be strictly between 0 and 1 (e.g. 0.95); got {value!r}."
        )
    return float(value)


def _window_p_values(
    y: np.ndarray, n_records: int, recall_target: float, bias: float = 1.0
) -> np.ndarray:
    """p-values of the samples that can give the smallest p-value (see recall_p_value)."""
    # scipy.stats costs ~0.8 s of start-up: imported when a rule runs, not with the package
    import numpy as np
    from scipy.stats import hypergeom, nchypergeom_wallenius

    screened = y.size
    r_seen = int(y.sum())
    unscreened = n_records - screened
    relevant_at = np.flatnonzero(y)
    k = np.arange(r_seen + 1)
    # The longest sample holding exactly k relevant records starts just after the (k+1)-th
    # most recent relevant record (or at the first record when k = r_seen). For a fixed k,
    # a longer sample gives a smaller p-value (the urn gains one irrelevant record that is
    # drawn), so only these r_seen + 1 samples can hold the minimum.
    start = np.zeros(r_seen + 1, dtype=np.int64)
    if r_seen:
        start[:r_seen] = relevant_at[::-1][k[:r_seen]] + 1
    n = screened - start
    keep = n > 0
    k, n = k[keep], n[keep]
    population = n + unscreened
    k_tar = np.floor(r_seen / recall_target - (r_seen - k) + _FLOOR_EPS) + 1
    possible = k_tar <= population
    p = np.zeros(k.size)
    if bias == 1.0:
        p[possible] = hypergeom.cdf(k[possible], population[possible], k_tar[possible], n[possible])
    else:
        p[possible] = nchypergeom_wallenius.cdf(
            k[possible], population[possible], k_tar[possible], n[possible], bias
        )
    return p


def _check_bias(bias: float) -> float:
    if not float(bias) >= 1.0:
        raise InputError(
            Argument("bias"),
            f" must be at least 1 (1 = no credit for the ranking, the guarantee of the "
            f"original method); got {bias!r}.",
        )
    return float(bias)


def recall_p_value(
    labels: Sequence[int] | np.ndarray,
    n_records: int,
    *,
    recall_target: float = 0.95,
    bias: float = 1.0,
) -> float:
    """p-value of the null hypothesis "recall is below ``recall_target``".

    Parameters
    ----------
    labels : sequence of {0, 1}
        Screening decisions in the order the records were screened (1 = relevant).
    n_records : int
        Records in the review (screened and not).
    recall_target : float
        The recall the review wants to have reached, in (0, 1).
    bias : float
        1 (default): the sample is treated as drawn at random from the urn, which holds
        whatever the ranking (Callaghan & Müller-Hansen 2020). Above 1: assume the ranking
        made each relevant record at least ``bias`` times as likely to be screened as an
        irrelevant one, and use Wallenius' noncentral hypergeometric distribution (the
        "biased urn" of the authors' BUSCAR implementation). The test then stops earlier,
        and its promise holds only if the assumption does.

    Returns
    -------
    float
        ``min over n`` of ``P(X <= k_n)``, ``X ~ Hypergeometric(population = n +
        unscreened, successes = K_tar(n), draws = n)``, where ``k_n`` is the number of
        relevant records among the last ``n`` screened (Callaghan & Müller-Hansen 2020,
        "ranked quasi-sampling"). 1.0 before any record is screened.

    Notes
    -----
    ``K_tar(n) = floor(r_seen / recall_target - (r_seen - k_n)) + 1`` is the smallest number
    of relevant records the urn (the last ``n`` screened plus the unscreened) must hold for
    recall to be below the target. When it exceeds the urn's size the null is impossible and
    that sample's p-value is 0.

    Examples
    --------
    Twenty relevant records found first, then 1,800 irrelevant ones in a row, 180 left:

    >>> round(recall_p_value([1] * 20 + [0] * 1800, 2000), 4)
    0.0082
    """
    target = _check_fraction("recall_target", recall_target)
    odds = _check_bias(bias)
    y = _check_history(labels, n_records)
    if y.size == 0:
        return 1.0
    return float(_window_p_values(y, int(n_records), target, odds).min())


def min_certifying_sample(
    n_unscreened: int,
    relevant_found: int,
    *,
    found_in_sample: int = 0,
    recall_target: float = 0.95,
    confidence: float = 0.95,
) -> int:
    """Fewest records a random sample of the unscreened must hold to certify the recall.

    The lower bound on any stopping rule whose guarantee holds for every ranking. With
    ``r = relevant_found`` relevant records found before the sample and ``k =
    found_in_sample`` in it, recall is below ``recall_target`` exactly when at least
    ``K = floor((r + k) / recall_target - r) + 1`` relevant records were among the ``U =
    n_unscreened`` records the sample was drawn from. A rule that makes no assumption about
    the ranking can learn about those ``U`` records only from a random sample of them, so
    it may stop on a sample of ``n`` holding ``k`` relevant records only if so few are
    unlikely when ``K`` are there: ``P(X <= k) < 1 - confidence``, ``X`` hypergeometric
    (``U`` records, ``K`` relevant, ``n`` drawn); a smaller sample would break the promise
    whenever recall is just below the target (Callaghan & Müller-Hansen 2020 use the same
    test on the last records screened).

    With ``k = 0`` (the best a sample can show), ``m = floor(r (1 / recall_target - 1)) +
    1`` and ``P(X = 0) = C(U - m, n) / C(U, n) = prod_{i=0}^{m-1} (U - n - i) / (U - i)``,
    which lies between ``((U - n - m + 1) / (U - m + 1))^m`` and ``((U - n) / U)^m``: the
    sample needs between ``(U - m + 1) (1 - alpha^(1/m))`` and ``U (1 - alpha^(1/m))``
    records (``alpha = 1 - confidence``), a share ``1 - alpha^(1/m)`` of what is left (63 %
    for ``m = 3``, 39 % for ``m = 6`` at 95 % confidence) however good the ranking was.
    Drawing the sample in batches or testing after every draw cannot lower it: the chance
    that ``n`` draws all miss the ``m`` records is the same.

    Parameters
    ----------
    n_unscreened : int
        Records the sample is drawn from (``U``).
    relevant_found : int
        Relevant records found before the sample (``r``).
    found_in_sample : int
        Relevant records the sample holds (``k``; 0 gives the smallest sample).
    recall_target, confidence : float
        As in :func:`hypergeometric_stop`.

    Returns
    -------
    int
        The smallest ``n`` with ``P(X <= k) < 1 - confidence`` (0 when ``K`` exceeds ``U``:
        the null is impossible).

    Raises
    ------
    InputError
        Negative counts, ``found_in_sample`` above ``n_unscreened``, fractions outside (0, 1).

    Examples
    --------
    Ten records left and one relevant record found, target recall 1/2: the null needs
    ``m = 2`` relevant records among the ten; a sample of 7 misses both with probability
    ``3/10 * 2/9 = 0.067``, a sample of 8 with ``2/10 * 1/9 = 0.022``:

    >>> min_certifying_sample(10, 1, recall_target=0.5)
    8
    """
    from scipy.stats import hypergeom  # see _window_p_values

    target = _check_fraction("recall_target", recall_target)
    alpha = 1.0 - _check_fraction("confidence", confidence)
    for name, value in (
        ("n_unscreened", n_unscreened),
        ("relevant_found", relevant_found),
        ("found_in_sample", found_in_sample),
    ):
        if int(value) < 0:
            raise InputError(Argument(name), f" must be a count (0 or more); got {value!r}.")
    unscreened, r, k = int(n_unscreened), int(relevant_found), int(found_in_sample)
    if k > unscreened:
        raise InputError(
            Argument("found_in_sample"),
            f" ({k}) cannot exceed n_unscreened ({unscreened}).",
        )
    big_k = math.floor((r + k) / target - r + _FLOOR_EPS) + 1
    if big_k > unscreened:
        return 0
    # P(X <= k) falls as n grows and is 0 at n = U (all K drawn, K > k): bisect on n
    low, high = k, unscreened  # P(X <= k) = 1 for n <= k
    while high - low > 1:
        mid = (low + high) // 2
        if hypergeom.cdf(k, unscreened, big_k, mid) < alpha:
            high = mid
        else:
            low = mid
    return high


def hypergeometric_stop(
    labels: Sequence[int] | np.ndarray,
    n_records: int,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
    bias: float = 1.0,
) -> StoppingDecision:
    """Callaghan & Müller-Hansen's (2020) statistical stopping criterion.

    Parameters
    ----------
    labels : sequence of {0, 1}
        Screening decisions in screening order (1 = relevant).
    n_records : int
        Records in the review.
    recall_target, confidence : float
        Stop when recall below ``recall_target`` is rejected at level ``1 - confidence``.
    bias : float
        See :func:`recall_p_value`; above 1 the promise names the assumption.

    Returns
    -------
    StoppingDecision

    Examples
    --------
    >>> d = hypergeometric_stop([1] * 20 + [0] * 1800, 2000)
    >>> d.stop, d.n_unscreened
    (True, 180)
    >>> d.promise
    'with 95% confidence, at least 95% of the relevant records have been found (p = 0.0082 for recall below 95%)'
    """  # noqa: E501
    level = _check_fraction("confidence", confidence)
    target = _check_fraction("recall_target", recall_target)
    y = _check_history(labels, n_records)
    p = recall_p_value(y, n_records, recall_target=target, bias=bias)
    stop = p < 1.0 - level
    assumed = (
        ""
        if float(bias) == 1.0
        else f", assuming the ranking made relevant records at least {float(bias):g} times "
        "as likely to be screened as irrelevant ones"
    )
    if stop:
        promise = (
            f"with {level:.0%} confidence, at least {target:.0%} of the relevant records "
            f"have been found (p = {p:.2g} for recall below {target:.0%}{assumed})"
        )
    else:
        promise = (
            f"cannot yet claim {target:.0%} recall with {level:.0%} confidence "
            f"(p = {p:.2g} for recall below {target:.0%}{assumed}; needs p < {1 - level:.2g})"
        )
    return StoppingDecision(
        "hypergeometric", bool(stop), promise, int(n_records), int(y.size), int(y.sum()), p
    )


def consecutive_irrelevant(
    labels: Sequence[int] | np.ndarray, n_records: int, *, n_irrelevant: int = 50
) -> StoppingDecision:
    """Stop after ``n_irrelevant`` irrelevant records in a row (heuristic, no guarantee).

    Examples
    --------
    >>> consecutive_irrelevant([1] + [0] * 50, 200).stop
    True
    """
    import numpy as np

    if int(n_irrelevant) < 1:
        raise InputError(
            Argument("n_irrelevant"), f" must be a positive integer; got {n_irrelevant!r}."
        )
    y = _check_history(labels, n_records)
    relevant_at = np.flatnonzero(y)
    run = y.size - (int(relevant_at[-1]) + 1 if relevant_at.size else 0)
    stop = run >= n_irrelevant
    promise = (
        f"{run} irrelevant records in a row (rule: {n_irrelevant}); a heuristic with no "
        f"statistical guarantee of recall: {_measured_failures(int(n_irrelevant))}"
    )
    return StoppingDecision(
        "consecutive_irrelevant", bool(stop), promise, int(n_records), int(y.size), int(y.sum())
    )


def _measured_failures(n_irrelevant: int) -> str:
    """The measured recall of "n irrelevant in a row", in words, for the rule's promise."""
    measured = CONSECUTIVE_IRRELEVANT_MEASURED
    if n_irrelevant in measured:
        below, runs, lowest = measured[n_irrelevant]
        return (
            f"replaying five published reviews, stopping after {n_irrelevant} in a row left "
            f"recall below 95% in {below} of {runs} runs (lowest {lowest:.1%})"
        )
    cells = [measured[n] for n in sorted(measured)]
    return (
        "replaying five published reviews, stopping after "
        + " / ".join(str(n) for n in sorted(measured))
        + " in a row left recall below 95% in "
        + " / ".join(str(below) for below, _, _ in cells)
        + f" of {cells[0][1]} runs"
    )


def _knee_ratio(found: np.ndarray, screened: int) -> tuple[int, float]:
    """Knee position and slope ratio of the gain curve ``found[0..screened]``."""
    import numpy as np

    j = np.arange(screened + 1)
    total = found[screened]
    # The knee is the point farthest above the straight line from (0, 0) to the current point.
    height = screened * found[: screened + 1] - total * j
    knee = int(np.argmax(height))
    if knee == 0 or found[knee] == 0:
        return knee, 0.0
    slope_before = found[knee] / knee
    slope_after = (total - found[knee] + 1) / (screened - knee)
    return knee, float(slope_before / slope_after)


def knee_stop(
    labels: Sequence[int] | np.ndarray, n_records: int, *, min_screened: int = 150
) -> StoppingDecision:
    """Cormack & Grossman's (2016) knee method (heuristic, no statistical guarantee).

    Stop when at least ``min_screened`` records are screened and the slope ratio at the knee
    ``rho = (found(i) / i) / ((found(s) - found(i) + 1) / (s - i))`` is at least
    ``156 - min(found(s), 150)``.

    Examples
    --------
    >>> knee_stop([1] * 10 + [0] * 990, 2000).stop
    True
    >>> knee_stop([1, 0] * 100, 2000).stop
    False
    """
    import numpy as np

    y = _check_history(labels, n_records)
    found = np.concatenate([[0], np.cumsum(y)])
    screened = y.size
    stop, rho, needed = False, 0.0, 156 - min(int(found[-1]), 150)
    if screened >= max(int(min_screened), 1):
        _, rho = _knee_ratio(found, screened)
        stop = rho >= needed
    promise = (
        f"knee slope ratio {rho:.3g} (stops at {needed}, after at least {min_screened} "
        "records); a heuristic with no statistical guarantee of recall"
    )
    return StoppingDecision(
        "knee", bool(stop), promise, int(n_records), int(screened), int(found[-1])
    )


def current_decisions(
    labels: Sequence[int] | np.ndarray,
    n_records: int,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
    n_irrelevant: int = 50,
    min_screened: int = 150,
) -> dict[str, StoppingDecision]:
    """What every stopping rule says now about a screening history, by rule name.

    The screen shows these side by side: the statistical rule's promise, and the heuristics'
    states with their warning that they promise nothing.

    Examples
    --------
    >>> d = current_decisions([1] * 20 + [0] * 1800, 2000)
    >>> [(rule, d[rule].stop) for rule in d]
    [('hypergeometric', True), ('consecutive_irrelevant', True), ('knee', True)]
    """
    return {
        "hypergeometric": hypergeometric_stop(
            labels, n_records, recall_target=recall_target, confidence=confidence
        ),
        "consecutive_irrelevant": consecutive_irrelevant(
            labels, n_records, n_irrelevant=n_irrelevant
        ),
        "knee": knee_stop(labels, n_records, min_screened=min_screened),
    }


def first_stops(
    labels: Sequence[int] | np.ndarray,
    n_records: int,
    *,
    recall_target: float = 0.95,
    confidence: float = 0.95,
    n_irrelevant: int = 50,
    min_screened: int = 150,
) -> dict[str, int | None]:
    """For a complete screening history, the first point at which each rule says stop.

    Used to replay a labelled data set: the same decisions as calling each rule after every
    record, computed at once.

    Returns
    -------
    dict
        ``{"hypergeometric": s, "consecutive_irrelevant": s, "knee": s}``, ``s`` being the
        number of records screened when the rule first says stop, or None if it never does.

    Examples
    --------
    >>> first_stops([1] * 20 + [0] * 1980, 2000)
    {'hypergeometric': 1557, 'consecutive_irrelevant': 70, 'knee': 156}
    """
    import numpy as np

    target = _check_fraction("recall_target", recall_target)
    level = _check_fraction("confidence", confidence)
    y = _check_history(labels, n_records)
    found = np.concatenate([[0], np.cumsum(y)])
    stops: dict[str, int | None] = {rule: None for rule in STOPPING_RULES.values}
    stops["hypergeometric"] = _first_hypergeometric_stop(y, int(n_records), target, level)
    if int(n_irrelevant) < 1:
        raise InputError(
            Argument("n_irrelevant"), f" must be a positive integer; got {n_irrelevant!r}."
        )
    run_ends = np.flatnonzero(found[n_irrelevant:] == found[: max(found.size - n_irrelevant, 0)])
    if run_ends.size:
        stops["consecutive_irrelevant"] = int(run_ends[0]) + n_irrelevant
    for screened in range(max(int(min_screened), 1), y.size + 1):
        if _knee_ratio(found, screened)[1] >= 156 - min(int(found[screened]), 150):
            stops["knee"] = screened
            break
    return stops


def _first_hypergeometric_stop(
    y: np.ndarray, n_records: int, target: float, level: float, bias: float = 1.0
) -> int | None:
    """Smallest number screened at which recall_p_value < 1 - level.

    Between two relevant records the candidate samples keep their starts, relevant counts
    and urn (the sample gains an irrelevant record that the unscreened lose), so each
    sample's p-value, and their minimum, only falls as records are screened. Each stretch
    is therefore checked at its end and, when the rule stops there, bisected for the first
    step: about ``R (log2(N) + 1)`` evaluations of :func:`_window_p_values` instead of ``N``.
    """
    import numpy as np

    alpha = 1.0 - level
    relevant_at = np.flatnonzero(y)
    # stretches of steps (records screened) with the same relevant count: [first, last]
    firsts = np.concatenate([[1], relevant_at + 1])
    lasts = np.concatenate([relevant_at, [y.size]])

    def stops_at(step: int) -> bool:
        return bool(_window_p_values(y[:step], n_records, target, bias).min() < alpha)

    for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True):
        if first > last or not stops_at(last):
            continue
        low, high = first - 1, last  # stops at high; not at low (or low before the stretch)
        while high - low > 1:
            mid = (low + high) // 2
            if stops_at(mid):
                high = mid
            else:
                low = mid
        return high
    return None
