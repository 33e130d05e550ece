"""Weighted least squares over a batch of meta-analyses, without k x k matrices.

Every quantity the tau2 estimators need -- residuals, RSS, tr(P), tr(P A P B) -- is written
in terms of p x p matrices, where P = W - W X (X'WX)^-1 X'W is the usual residual-maker
(Viechtbauer, 2005, J. Educ. Behav. Stat. 30, 261, eq. 6). Cost is O(B k p^2), memory
O(B k p); the intercept-only model (p = 1) takes a shortcut with plain sums.

Layout: per-study arrays are *study-major*, shape (k, B): entry [i, b] is study i of
meta-analysis b. A per-meta-analysis vector of shape (B,) then broadcasts against them as it
is, and sums over studies (:func:`sum_studies`) run down the first axis, which for small k is
several times faster than summing a short last axis. Masked-out studies simply carry
weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: numpy sums a contiguous run of values pairwise: 8 partial sums over blocks of at most 128
#: values, and halves longer runs (numpy/_core/src/umath/loops_utils.h.src, pairwise_sum)
_PAIRWISE_BLOCK = 128


def sum_studies(a: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Sum a study-major array over its studies: (k, B) -> (B,), or (s, k, B) -> (s, B).

    Each meta-analysis's sum is rounded exactly as numpy rounds the sum of its k values on
    their own (``np.sum`` of a contiguous row, i.e. pairwise summation with 8 partial sums),
    so no result depends on which other meta-analyses share the batch -- why
    :func:`metareview.batch` is bitwise the same whatever its chunking -- and the sums equal
    those of the row-major layout used before. numpy's own reduction down the study axis
    adds the studies one by one when B > 1 but pairwise when B = 1, so it is not used as it
    is. For k <= 128 the partial sums are formed here, vectorised over B (and over a stack
    of s arrays, summed in the same few calls); longer columns are transposed and summed by
    numpy. ``overwrite=True`` lets the partial sums be formed in ``a`` itself.
    """
    k = a.shape[-2]
    if a.shape[-1] == 1 or k > _PAIRWISE_BLOCK:
        return np.ascontiguousarray(np.swapaxes(a, -1, -2)).sum(axis=-1)
    if k < 8:
        out = a[..., 0, :].copy()
        for i in range(1, k):
            out += a[..., i, :]
        return out
    stop = k - k % 8
    r = a[..., :8, :]
    if stop > 8:
        r = np.add(r, a[..., 8:16, :], out=r if overwrite else None)
        for i in range(16, stop, 8):
            r += a[..., i : i + 8, :]
    # numpy's ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest one by one
    if overwrite or stop > 8:  # r is scratch: pair up in place
        np.add(r[..., 0::2, :], r[..., 1::2, :], out=r[..., 0::2, :])
        np.add(r[..., 0::4, :], r[..., 2::4, :], out=r[..., 0::4, :])
        out = r[..., 0, :] + r[..., 4, :]
    else:
        r = r[..., 0::2, :] + r[..., 1::2, :]
        r = r[..., 0::2, :] + r[..., 1::2, :]
        out = r[..., 0, :] + r[..., 1, :]
    for i in range(stop, k):
        out += a[..., i, :]
    return out


def all_ones(m: np.ndarray) -> bool:
    """Whether a 0/1 mask keeps every study (at once for a broadcast 1.0: no mask given)."""
    if m.size and not any(m.strides):
        return bool(m.flat[0] == 1.0)
    return bool(np.all(m == 1.0))


@dataclass(frozen=True, slots=True)
class Design:
    """Design matrices for B meta-analyses of k studies: X has shape (B or 1, k, p)."""

    X: np.ndarray
    intercept_only: bool

    @classmethod
    def intercept(cls, k: int) -> Design:
        return cls(np.ones((1, k, 1)), True)

    @classmethod
    def from_matrix(cls, X: np.ndarray) -> Design:
        X = np.asarray(X, dtype=float)
        if X.ndim == 2:
            X = X[None]
        only = X.shape[2] == 1 and bool(np.all(X == 1.0))
        return cls(X, only)

    @property
    def p(self) -> int:
        return int(self.X.shape[2])

    def take(self, rows: np.ndarray) -> Design:
        """The design of a subset of the batch's rows."""
        if self.X.shape[0] == 1:
            return self
        return Design(self.X[rows], self.intercept_only)

    def xtdx(self, d: np.ndarray) -> np.ndarray:
        """X' diag(d) X for each meta-analysis (d study-major): (B, p, p)."""
        if self.intercept_only:
            return sum_studies(d)[:, None, None]
        d = _row_major(d)
        if self.X.shape[0] == 1:
            return np.einsum("bk,kp,kq->bpq", d, self.X[0], self.X[0], optimize=True)
        return np.einsum("bk,bkp,bkq->bpq", d, self.X, self.X, optimize=True)

    def xtdy(self, d: np.ndarray, y: np.ndarray) -> np.ndarray:
        """X' diag(d) y for each meta-analysis: (B, p)."""
        if self.intercept_only:
            return sum_studies(d * y)[:, None]
        dy = _row_major(d * y)
        if self.X.shape[0] == 1:
            return np.einsum("bk,kp->bp", dy, self.X[0], optimize=True)
        return np.einsum("bk,bkp->bp", dy, self.X, optimize=True)

    def fitted(self, beta: np.ndarray) -> np.ndarray:
        """X beta for each meta-analysis, study-major (k, B) (or (B,), which broadcasts as
        (k, B), for the intercept-only model)."""
        if self.intercept_only:
            return beta[:, 0]
        if self.X.shape[0] == 1:
            return (beta @ self.X[0].T).T
        return np.einsum("bkp,bp->bk", self.X, beta).T


def _row_major(a: np.ndarray) -> np.ndarray:
    """A study-major (k, B) array as a contiguous (B, k) one: einsum's rounding may depend on
    its operands' memory layout (it does for B = 1), so moderator models hand it the same
    layout whatever the batch."""
    return np.ascontiguousarray(np.broadcast_to(a, np.broadcast_shapes(a.shape)).T)


def _inv(M: np.ndarray) -> np.ndarray:
    if M.shape[1] == 1:
        with np.errstate(divide="ignore"):
            return 1.0 / M
    return np.linalg.inv(M)


def _tr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """tr(A B) for batches of p x p matrices."""
    return np.einsum("bij,bji->b", A, B)


class WLS:
    """Weighted least-squares fit of y on X with weights w, for each meta-analysis of a batch.

    ``w`` and ``y`` are study-major (k, B); ``A`` is (X'WX)^-1 (B, p, p) and ``beta`` the
    coefficients (B, p). Everything else -- the residuals ``resid`` = y - X beta, the weighted
    residual sum of squares ``rss`` = y'Py, sums of powers of w -- is computed when first
    asked for (a Fisher-scoring step, for one, never needs ``rss``), and :meth:`sums` computes
    several sums over studies together.
    """

    __slots__ = ("A", "_arrays", "_sums", "beta", "design", "w", "y")

    #: the per-study terms :meth:`sums` knows: w, w y, w^2, w^3, w r^2 (rss), (w r)^2 (y'PPy)
    TERMS = ("w", "wy", "w2", "w3", "rss", "yPPy")

    def __init__(
        self,
        design: Design,
        w: np.ndarray,
        y: np.ndarray,
        A: np.ndarray,
        beta: np.ndarray,
        sums: dict[str, np.ndarray] | None = None,
    ) -> None:
        self.design, self.w, self.y, self.A, self.beta = design, w, y, A, beta
        self._sums: dict[str, np.ndarray] = {} if sums is None else sums
        self._arrays: dict[str, np.ndarray] = {}

    @classmethod
    def fit(cls, design: Design, w: np.ndarray, y: np.ndarray) -> WLS:
        """The fit with weights ``w`` (study-major, like ``y``)."""
        if design.intercept_only:  # X'WX = sum w, X'Wy = sum w y
            return cls._intercept(design, w, y, {})
        A = _inv(design.xtdx(w))
        if A.shape[1] == 1:
            beta = A[:, :, 0] * design.xtdy(w, y)
        else:
            beta = np.einsum("bij,bj->bi", A, design.xtdy(w, y))
        return cls(design, w, y, A, beta)

    @classmethod
    def at(
        cls,
        design: Design,
        y: np.ndarray,
        v: np.ndarray,
        m: np.ndarray | float,
        tau2: np.ndarray | None = None,
    ) -> WLS:
        """The fit with weights m / (v + tau2) (m / v without tau2): the same as
        ``fit(design, m / (v + tau2), y)``, with the weights formed where their sum and that
        of w y are formed together."""
        if not design.intercept_only:
            return cls.fit(design, m / v if tau2 is None else m / (v + tau2), y)
        stack = np.empty((2, *y.shape))
        w = stack[0]
        if tau2 is None:
            np.divide(m, v, out=w)
        else:
            np.add(v, tau2, out=w)
            np.divide(m, w, out=w)
        np.multiply(w, y, out=stack[1])
        sum_w, sum_wy = sum_studies(stack)
        return cls._intercept(design, w, y, {"w": sum_w, "wy": sum_wy})

    @classmethod
    def _intercept(
        cls, design: Design, w: np.ndarray, y: np.ndarray, sums: dict[str, np.ndarray]
    ) -> WLS:
        fit = cls(design, w, y, np.empty(0), np.empty(0), sums)
        sum_w, sum_wy = fit.sums("w", "wy")
        with np.errstate(divide="ignore"):
            fit.A = 1.0 / sum_w[:, None, None]
        fit.beta = fit.A[:, :, 0] * sum_wy[:, None]
        return fit

    def take(self, rows: np.ndarray) -> WLS:
        """The fits of a subset of the batch's meta-analyses."""
        return WLS(
            self.design.take(rows),
            self.w[:, rows],
            self.y[:, rows],
            self.A[rows],
            self.beta[rows],
            {name: value[rows] for name, value in self._sums.items()},
        )

    def sums(self, *names: str) -> list[np.ndarray]:
        """Sums over studies of the named per-study terms (see ``TERMS``), one array (B,)
        each. Those not known yet are formed into one stack and summed together."""
        unknown = set(names) - set(self.TERMS) - set(self._sums)
        if unknown:
            raise ValueError(f"unknown terms {sorted(unknown)}; known are {self.TERMS}")
        missing = sorted(
            {name for name in names if name not in self._sums}, key=self.TERMS.index
        )  # w2 before w3
        if missing:
            stack = np.empty((len(missing), *self.w.shape))
            for name, out in zip(missing, stack, strict=True):
                if name == "w3" and "w2" in missing:  # w^2 w from the w^2 just formed
                    np.multiply(stack[missing.index("w2")], self.w, out=out)
                    continue
                self._term(name, out)
            for name, value in zip(missing, sum_studies(stack, overwrite=True), strict=True):
                self._sums[name] = value
        return [self._sums[name] for name in names]

    def _term(self, name: str, out: np.ndarray) -> None:
        w = self.w
        if name == "w":
            np.copyto(out, w)
        elif name == "wy":
            np.multiply(w, self.y, out=out)
        elif name == "w2":
            np.multiply(w, w, out=out)
        elif name == "w3":
            np.multiply(w, w, out=out)
            np.multiply(out, w, out=out)
        elif name == "rss":
            np.square(self.resid, out=out)
            np.multiply(w, out, out=out)
        else:  # yPPy
            np.multiply(w, self.resid, out=out)
            np.square(out, out=out)

    @property
    def resid(self) -> np.ndarray:
        """Residuals y - X beta, study-major (k, B)."""
        value = self._arrays.get("resid")
        if value is None:
            value = self._arrays["resid"] = self.y - self.design.fitted(self.beta)
        return value

    @property
    def rss(self) -> np.ndarray:
        """Weighted residual sum of squares y'Py = sum w r^2."""
        return self.sums("rss")[0]

    def w2(self) -> np.ndarray:
        """w^2, study-major."""
        value = self._arrays.get("w2")
        if value is None:
            value = self._arrays["w2"] = self.w**2
        return value

    def sum_w(self) -> np.ndarray:
        """sum of the weights, per meta-analysis."""
        return self.sums("w")[0]

    def sum_w2(self) -> np.ndarray:
        """sum of the squared weights, per meta-analysis."""
        return self.sums("w2")[0]

    def tr_P(self) -> np.ndarray:
        """tr(P) (computed once per fit: DL and I2 both need it)."""
        if "tr_P" not in self._sums:
            if self.design.intercept_only:
                sum_w, sum_w2 = self.sums("w", "w2")
                value = sum_w - sum_w2 * self.A[:, 0, 0]
            else:
                value = self.sum_w() - _tr(self.A, self.design.xtdx(self.w2()))
            self._sums["tr_P"] = value
        return self._sums["tr_P"]

    def tr_PD(self, a: np.ndarray) -> np.ndarray:
        """tr(P diag(a))."""
        w = self.w
        return sum_studies(w * a) - _tr(self.A, self.design.xtdx(self.w2() * a))

    def tr_PaPb(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """tr(P diag(a) P diag(b)); with a = b = 1 this is tr(PP)."""
        w = self.w
        if self.design.intercept_only:  # A = 1/sum(w): plain sums, no p x p algebra
            inv_sw = self.A[:, 0, 0]
            if np.isscalar(a) and np.isscalar(b) and a == b == 1.0:  # tr(PP)
                s2, s3 = self.sums("w2", "w3")
                return s2 - 2 * s3 * inv_sw + s2**2 * inv_sw**2
            w2 = self.w2()
            ga, gb = sum_studies(w2 * a), sum_studies(w2 * b)
            return (
                sum_studies(w2 * a * b)
                - 2 * sum_studies(a * b * w2 * w) * inv_sw
                + ga * gb * inv_sw**2
            )
        ab = a * b * np.ones_like(w)
        Ga = self.design.xtdx(self.w2() * a * np.ones_like(w))
        Gb = Ga if b is a else self.design.xtdx(self.w2() * b * np.ones_like(w))
        return (
            sum_studies(self.w2() * ab)
            - 2 * _tr(self.A, self.design.xtdx(ab * w**3))
            + _tr(self.A @ Ga, self.A @ Gb)
        )

    def yPPy(self) -> np.ndarray:
        """y'PPy = sum (w r)^2, since P y = W r."""
        return self.sums("yPPy")[0]

    def logdet_xtwx(self) -> np.ndarray:
        """log |X'WX|."""
        if self.design.intercept_only:
            with np.errstate(divide="ignore"):
                return np.log(self.sum_w())
        return np.linalg.slogdet(self.design.xtdx(self.w))[1]
