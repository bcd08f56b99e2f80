"""Confidence intervals for speed: a distribution-free CI for a median (:func:`median_ci`) and the speed-up of one
variant over another from interleaved rounds (:func:`ratio_ci`); percentile intervals (:func:`percentile_ci`).

:func:`ratio_ci` takes per-round times from interleaved rounds (each round times the reference and the
variant back to back, so slow drift of the machine cancels in the per-round ratio ref/var). The point estimate
is the median ratio; the default CI is the distribution-free order-statistic (binomial) CI for the median,
``[r_(j), r_(k+1-j)]`` with ``j`` the largest index such that ``P(Binomial(k, 1/2) < j) <= (1 - level)/2``.
It assumes only independent rounds from one continuous distribution, is exact (conservative: the achieved
``coverage`` is reported) for any k, and does not suffer from the bootstrap's known undercoverage for a
median of 8-12 points (a bootstrap median takes only a handful of distinct values). With fewer than 6 rounds
95 % is unreachable; the CI is then [min, max] and ``coverage`` says what it really is.
``method="bootstrap"`` (percentile bootstrap of rounds) is available for comparison.
:func:`fmt` writes a point or an interval bound the way every report line does.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ovyolo.errors import WorkflowError


def fmt(v, spec: str) -> str:
    """``v`` formatted with ``spec`` ("-" for None); a value that rounds to zero carries no minus sign (``-0.000``
    reads as a loss), and keeps a ``+`` when ``spec`` asks for one."""
    if v is None:
        return "-"
    text = format(v, spec)
    return format(0.0, spec) if text.startswith("-") and float(text) == 0 else text


def _binom_cdf_half(k: int, n: int) -> float:
    """P(B <= k) for B ~ Binomial(n, 1/2), exactly (integers, then one division)."""
    if k < 0:
        return 0.0
    return sum(math.comb(n, i) for i in range(min(k, n) + 1)) / 2**n


def median_ci(values, level: float = 0.95) -> dict:
    """Median of ``values`` and a distribution-free confidence interval for the population median.

    Method (order statistics, e.g. Conover, *Practical Nonparametric Statistics*): with the ``n`` values
    sorted, ``[x_(r), x_(n+1-r)]`` covers the median with probability ``1 - 2 P(B <= r-1)``,
    ``B ~ Binomial(n, 1/2)``, for any continuous distribution. ``r`` is the largest rank whose coverage is
    still ``>= level``; since ranks are integers the actual coverage is usually above ``level`` and is
    returned as ``coverage`` (n=10, level 0.95: ranks 2 and 9, coverage 0.9785). If even min..max does not
    reach ``level`` (n <= 5 at 0.95), min..max is returned with its (lower) coverage and
    ``meets_level=False``. Ranks are 1-based.
    """
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    n = int(x.size)
    if not 0 < level < 1:
        raise WorkflowError(f"confidence level must be between 0 and 1, got {level}")
    if n == 0:
        raise WorkflowError("median_ci needs at least one value")
    if not np.all(np.isfinite(x)):
        raise WorkflowError("median_ci got a non-finite value")
    r = 1
    while r + 1 <= (n + 1) // 2 and 1 - 2 * _binom_cdf_half(r, n) >= level:
        r += 1
    coverage = 1 - 2 * _binom_cdf_half(r - 1, n)
    if n == 1:
        coverage = 0.0
    return {
        "median": float(np.median(x)),
        "low": float(x[r - 1]),
        "high": float(x[n - r]),
        "rank_low": r,
        "rank_high": n + 1 - r,
        "n": n,
        "level": float(level),
        "coverage": float(coverage),
        "meets_level": bool(coverage >= level),
        "method": "binomial order statistics (distribution-free CI for the median)",
    }



def percentile_ci(x: np.ndarray, level: float) -> list[float] | None:
    """The central ``level`` percentile interval of ``x`` (NaNs ignored); None if nothing is left."""
    x = x[~np.isnan(x)]
    if not len(x):
        return None
    a = (1.0 - level) / 2.0
    lo, hi = np.percentile(x, [100 * a, 100 * (1 - a)])
    return [float(lo), float(hi)]


def median_ci_rank(k: int, level: float = 0.95) -> tuple[int, float]:
    """(j, coverage): the CI for the median of k iid values is [x_(j), x_(k+1-j)] (1-based order statistics);
    the ranks of :func:`median_ci`, the one implementation."""
    ci = median_ci(np.arange(1.0, k + 1), level)
    return ci["rank_low"], (ci["coverage"] if k > 1 else 0.0)


def ratio_ci(per_round_ref_ms: Sequence[float], per_round_var_ms: Sequence[float], level: float = 0.95,
             n: int = 2000, seed: int = 0, method: str = "binomial") -> dict:
    """Speed-up of a variant over a reference from interleaved rounds: the median of per-round ``ref / var``.

    Returns ``{"ratio": median, "ci": [lo, hi], "rounds": k, "level": level, "coverage": achieved,
    "method": "binomial" | "bootstrap"}``; ratio > 1 means the variant is faster. ``method="binomial"``
    (default) is the distribution-free order-statistic CI for the median (``coverage`` is its exact coverage,
    >= level when k >= 6 for 95 %); ``"bootstrap"`` is a percentile bootstrap of rounds (``n`` resamples, ``seed``;
    ``coverage`` = nominal level). See the module docstring for why binomial is the default.
    """
    ref = np.asarray(per_round_ref_ms, dtype=np.float64).ravel()
    var = np.asarray(per_round_var_ms, dtype=np.float64).ravel()
    if ref.shape != var.shape or not len(ref):
        raise WorkflowError(
            f"ratio_ci needs the same non-zero number of rounds for both, got {len(ref)} and {len(var)}"
        )
    if not (np.isfinite(ref).all() and np.isfinite(var).all() and (ref > 0).all() and (var > 0).all()):
        raise WorkflowError("ratio_ci needs positive finite per-round times")
    r = np.sort(ref / var)
    k = len(r)
    if method == "binomial":
        j, cov = median_ci_rank(k, level)
        ci = [float(r[j - 1]), float(r[k - j])]
    elif method == "bootstrap":
        rng = np.random.default_rng(seed)
        meds = np.median(r[rng.integers(0, k, size=(n, k))], axis=1)
        ci, cov = percentile_ci(meds, level), float(level)
    else:
        raise WorkflowError(f"unknown ratio_ci method '{method}'; use 'binomial' or 'bootstrap'")
    return {"ratio": float(np.median(r)), "ci": ci, "rounds": int(k), "level": float(level),
            "coverage": float(cov), "method": method}
