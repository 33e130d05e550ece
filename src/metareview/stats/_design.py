"""Weighted least squares over a batch of meta-analyses, without k x k matrices.

Every quantity the tau2 estimators need -- residuals, RSS, tr(P), tr(P A P B) -- is written
in terms of p x p matrices, where P = W - W X (X'WX)^-1 X'W is the usual residual-maker
(Viechtbauer, 2005, J. Educ. Behav. Stat. 30, 261, eq. 6). Cost is O(B k p^2), memory
O(B k p); the intercept-only model (p = 1) takes a shortcut with plain sums.

Masked-out studies simply carry weight 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
        """X' diag(d) X for each row: (B, p, p)."""
        if self.intercept_only:
            return d.sum(axis=1)[:, None, None]
        if self.X.shape[0] == 1:
            return np.einsum("bk,kp,kq->bpq", d, self.X[0], self.X[0], optimize=True)
        return np.einsum("bk,bkp,bkq->bpq", d, self.X, self.X, optimize=True)

    def xtdy(self, d: np.ndarray, y: np.ndarray) -> np.ndarray:
        """X' diag(d) y for each row: (B, p)."""
        if self.intercept_only:
            return (d * y).sum(axis=1)[:, None]
        if self.X.shape[0] == 1:
            return np.einsum("bk,kp->bp", d * y, self.X[0], optimize=True)
        return np.einsum("bk,bkp->bp", d * y, self.X, optimize=True)

    def fitted(self, beta: np.ndarray) -> np.ndarray:
        """X beta for each row: (B, k)."""
        if self.intercept_only:
            return np.broadcast_to(beta[:, :1], (beta.shape[0], self.X.shape[1]))
        if self.X.shape[0] == 1:
            return beta @ self.X[0].T
        return np.einsum("bkp,bp->bk", self.X, beta)


def _inv(M: np.ndarray) -> np.ndarray:
    if M.shape[1] == 1:
        with np.errstate(divide="ignore"):
            return 1.0 / M
    return np.linalg.inv(M)


def _tr(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """tr(A B) for batches of p x p matrices."""
    return np.einsum("bij,bji->b", A, B)


@dataclass(frozen=True, slots=True)
class WLS:
    """Weighted least-squares fit of y on X with weights w, for each row of a batch.

    ``A`` is (X'WX)^-1, ``beta`` the coefficients, ``resid`` the residuals y - X beta and
    ``rss`` the weighted residual sum of squares y'Py.
    """

    design: Design
    w: np.ndarray
    A: np.ndarray
    beta: np.ndarray
    resid: np.ndarray
    rss: np.ndarray
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def fit(cls, design: Design, w: np.ndarray, y: np.ndarray) -> WLS:
        A = _inv(design.xtdx(w))
        beta = np.einsum("bij,bj->bi", A, design.xtdy(w, y)) if A.shape[1] > 1 else (
            A[:, :, 0] * design.xtdy(w, y))
        resid = y - design.fitted(beta)
        rss = (w * resid**2).sum(axis=1)
        return cls(design, w, A, beta, resid, rss)

    def take(self, rows: np.ndarray) -> WLS:
        """The fits of a subset of the batch's rows."""
        return WLS(self.design.take(rows), self.w[rows], self.A[rows], self.beta[rows],
                   self.resid[rows], self.rss[rows])

    def tr_P(self) -> np.ndarray:
        """tr(P) (computed once per fit: DL and I2 both need it)."""
        if "tr_P" not in self._cache:
            if self.design.intercept_only:
                value = self.w.sum(axis=1) - (self.w**2).sum(axis=1) * self.A[:, 0, 0]
            else:
                value = self.w.sum(axis=1) - _tr(self.A, self.design.xtdx(self.w**2))
            self._cache["tr_P"] = value
        return self._cache["tr_P"]

    def tr_PD(self, a: np.ndarray) -> np.ndarray:
        """tr(P diag(a))."""
        w = self.w
        return (w * a).sum(axis=1) - _tr(self.A, self.design.xtdx(w**2 * a))

    def tr_PaPb(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """tr(P diag(a) P diag(b)); with a = b = 1 this is tr(PP)."""
        w = self.w
        if self.design.intercept_only:  # A = 1/sum(w): plain sums, no p x p algebra
            inv_sw = self.A[:, 0, 0]
            w2 = w * w
            if np.isscalar(a) and np.isscalar(b) and a == b == 1.0:  # tr(PP)
                s2 = w2.sum(axis=1)
                return s2 - 2 * (w2 * w).sum(axis=1) * inv_sw + s2**2 * inv_sw**2
            ga, gb = (w2 * a).sum(axis=1), (w2 * b).sum(axis=1)
            return ((w2 * a * b).sum(axis=1) - 2 * (a * b * w2 * w).sum(axis=1) * inv_sw
                    + ga * gb * inv_sw**2)
        ab = a * b * np.ones_like(w)
        Ga = self.design.xtdx(w**2 * a * np.ones_like(w))
        Gb = Ga if b is a else self.design.xtdx(w**2 * b * np.ones_like(w))
        return ((w**2 * ab).sum(axis=1) - 2 * _tr(self.A, self.design.xtdx(ab * w**3))
                + _tr(self.A @ Ga, self.A @ Gb))

    def yPPy(self) -> np.ndarray:
        """y'PPy = sum (w r)^2, since P y = W r."""
        return ((self.w * self.resid) ** 2).sum(axis=1)

    def logdet_xtwx(self) -> np.ndarray:
        """log |X'WX|."""
        M = self.design.xtdx(self.w)
        if M.shape[1] == 1:
            with np.errstate(divide="ignore"):
                return np.log(M[:, 0, 0])
        return np.linalg.slogdet(M)[1]
