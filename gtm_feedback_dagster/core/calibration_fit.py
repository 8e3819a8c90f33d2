"""The maths of fitting and judging the calibrated confidence: L2 logistic regression by
Newton's method (IRLS, plain numpy; written by hand rather than adding scikit-learn for two
small models), reliability per bin, expected calibration error, and the attach curve that the
thresholds are chosen from. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))


@dataclass
class LogisticFit:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # on standardised features
    intercept: float
    iterations: int


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    l2: float = 1e-2,
    max_iter: int = 100,
    tol: float = 1e-9,
    nonnegative: Sequence[int] = (),
    prior: LogisticFit | None = None,
    weights: np.ndarray | None = None,
) -> LogisticFit:
    """L2-regularised logistic regression by Newton's method (IRLS) on standardised features.

    `nonnegative` lists feature columns whose coefficient is clamped at >= 0 (an active-set
    refit): similarity-type signals must never lower the confidence, so it stays monotonic in
    similarity even where the data is thin.

    `prior` (a refit on a deployment's labels): the features are standardised as the prior
    was, and the L2 penalty pulls the coefficients towards the prior's instead of towards 0 (a
    Gaussian prior centred on the shipped parameters, `l2` its precision), so a few labels
    move the model a little and many labels move it more. `weights` weigh the rows.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if prior is not None:
        mean, scale = np.asarray(prior.mean, float).copy(), np.asarray(prior.scale, float).copy()
    else:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    row_w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    n, d = z.shape
    design = np.hstack([np.ones((n, 1)), z])
    free = np.ones(d + 1, dtype=bool)
    centre = np.zeros(d + 1)
    if prior is not None:
        centre = np.concatenate([[prior.intercept], np.asarray(prior.coef, dtype=np.float64)])
    beta = np.zeros(d + 1)  # IRLS from 0 converges; starting at a far-off prior can diverge
    penalty = np.full(d + 1, l2)
    penalty[0] = 0.0 if prior is None else l2  # the intercept is shrunk only towards a prior
    iterations = 0
    for _ in range(d + 1):  # active-set passes: at most one per clamped feature
        beta = np.where(free, beta, 0.0)
        for iterations in range(1, max_iter + 1):  # noqa: B007 - reported below
            cols = design[:, free]
            p = sigmoid(cols @ beta[free])
            w = row_w * (p * (1 - p)) + 1e-12
            grad = cols.T @ (row_w * (y - p)) - penalty[free] * (beta[free] - centre[free])
            hess = (cols * w[:, None]).T @ cols + np.diag(penalty[free])
            step = np.linalg.solve(hess, grad)
            beta[free] += step
            if float(np.max(np.abs(step))) < tol:
                break
        clamped = [j for j in nonnegative if free[j + 1] and beta[j + 1] < 0]
        if not clamped:
            break
        for j in clamped:
            free[j + 1] = False
    beta = np.where(free, beta, 0.0)
    return LogisticFit(mean, scale, beta[1:], float(beta[0]), iterations)


# --------------------------------------------------------------------------- judging


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    predicted: float  # mean predicted probability in the bin
    observed: float  # share of the bin's rows whose label is 1


def reliability(
    probabilities: Sequence[float], labels: Sequence[float], bins: int = 10
) -> list[ReliabilityBin]:
    """Predicted vs observed per equal-width bin of the predicted probability (empty bins are
    left out)."""
    p = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                ReliabilityBin(
                    float(edges[b]),
                    float(edges[b + 1]),
                    int(mask.sum()),
                    float(p[mask].mean()),
                    float(y[mask].mean()),
                )
            )
    return out


def expected_calibration_error(
    probabilities: Sequence[float], labels: Sequence[float], bins: int = 10
) -> float:
    """Count-weighted mean |predicted - observed| over the reliability bins."""
    table = reliability(probabilities, labels, bins)
    total = sum(b.count for b in table)
    if not total:
        return 0.0
    return sum(b.count * abs(b.predicted - b.observed) for b in table) / total


def attach_curve(
    p_top: Sequence[float],
    right: Sequence[bool],
    thresholds: Sequence[float] = tuple(round(0.5 + 0.01 * i, 2) for i in range(49))
    + tuple(round(0.99 + 0.001 * i, 3) for i in range(10)),
) -> tuple[tuple[float, float, int], ...]:
    """(threshold, precision of the entries with p_top >= threshold, how many) for each
    threshold; `right[i]`: entry i's top candidate is its request (False for an entry that
    has none). Precision of an empty tier is reported as 0."""
    p = np.asarray(p_top, dtype=np.float64)
    ok = np.asarray(right, dtype=bool)
    out = []
    for t in thresholds:
        mask = p >= t
        n = int(mask.sum())
        out.append((float(t), round(float(ok[mask].mean()), 4) if n else 0.0, n))
    return tuple(out)
