"""Small, dependency-free statistics for the report: confidence intervals for a
proportion (Wilson) and for a mean (Student's t).

Only the standard library is imported, so analysis and the report can use these
on a laptop without torch, numpy or scipy.
"""
from __future__ import annotations

import math
import statistics
from typing import Iterable, NamedTuple

# Past this many degrees of freedom the t quantile is taken from its asymptotic
# expansion around the normal quantile (error far below 1e-9 there).
_LARGE_DF = 1000.0


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``successes / n``.

    Method (Wilson, 1927): the interval is the set of proportions ``p`` whose
    normal-approximation test ``|p_hat - p| <= z * sqrt(p (1 - p) / n)`` does
    not reject, which solves to::

        centre    = (p_hat + z^2 / (2n)) / (1 + z^2 / n)
        halfwidth = z / (1 + z^2 / n) * sqrt(p_hat (1 - p_hat) / n + z^2 / (4 n^2))

    Unlike the Wald interval ``p_hat +/- z sqrt(p_hat (1 - p_hat) / n)`` it stays
    inside [0, 1] and does not collapse to a point at 0 or 1 accuracy.
    ``z = 1.96`` gives a 95% interval. ``n == 0`` returns ``(0.0, 1.0)``: with
    nothing observed every proportion is consistent with the data.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p_hat = successes / n
    z2 = z * z
    denominator = 1.0 + z2 / n
    centre = (p_hat + z2 / (2.0 * n)) / denominator
    halfwidth = z / denominator * math.sqrt(p_hat * (1.0 - p_hat) / n + z2 / (4.0 * n * n))
    return max(0.0, centre - halfwidth), min(1.0, centre + halfwidth)


def _regularized_incomplete_beta(x: float, a: float, b: float) -> float:
    """``I_x(a, b)``, evaluated from its continued fraction (DLMF 8.17.22).

    ``I_x(a, b) = x^a (1-x)^b / (a B(a, b)) * 1 / (1 + d1 / (1 + d2 / (1 + ...)))`` with
    ``d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))`` and
    ``d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))``; the fraction is
    evaluated with the modified Lentz method. It converges fast for
    ``x < (a + 1) / (a + b + 2)``; beyond that the symmetry
    ``I_x(a, b) = 1 - I_{1-x}(b, a)`` is used.
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _regularized_incomplete_beta(1.0 - x, b, a)
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    # Lentz for 0 + 1 / (1 + d1 / (1 + d2 / ...)): numerators 1, d1, d2, ...; denominators all 1.
    value, c, d = tiny, tiny, 0.0
    for term in range(0, 10_000):
        if term == 0:
            numerator = 1.0
        elif term % 2 == 0:
            m = term // 2
            numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            m = term // 2
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + numerator / c
        c = c if abs(c) > tiny else tiny
        delta = c * d
        value *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(log_front) * value / a


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom, via
    ``P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2)``."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    tail_two_sided = _regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5)
    return 1.0 - 0.5 * tail_two_sided if t >= 0 else 0.5 * tail_two_sided


def student_t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom
    (``student_t_quantile(0.975, 10) == 2.228...``).

    Method: for ``df <= 1000`` the CDF (:func:`student_t_cdf`) is inverted by
    bisection to a relative width of 1e-13; beyond, the Cornish-Fisher expansion
    ``t = z + (z^3 + z) / (4 df) + (5z^5 + 16z^3 + 3z) / (96 df^2)
    + (3z^7 + 19z^5 + 17z^3 - 15z) / (384 df^3)`` around the normal quantile
    ``z`` is used.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, df)
    if p == 0.5:
        return 0.0
    if df > _LARGE_DF:
        z = statistics.NormalDist().inv_cdf(p)
        return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
                + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))
    low, high = 0.0, 1.0
    while student_t_cdf(high, df) < p:
        low, high = high, high * 2.0
    while high - low > 1e-13 * high:
        middle = 0.5 * (low + high)
        if student_t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


class MeanInterval(NamedTuple):
    """A sample mean with the two ends of its confidence interval and the sample size."""

    mean: float
    low: float
    high: float
    n: int


def mean_confidence_interval(values: Iterable[float], confidence: float = 0.95) -> MeanInterval:
    """Mean of ``values`` with a two-sided Student-t confidence interval.

    Method: ``mean +/- t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` where ``s``
    is the sample standard deviation (``n - 1`` denominator). It assumes the
    values are independent draws (e.g. one per seed) from a roughly normal
    distribution. ``None`` and NaN values are dropped first. With one value the
    interval is undefined and both ends are NaN; with none, ``ValueError``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    kept = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not kept:
        raise ValueError("mean_confidence_interval needs at least one value that is not None/NaN")
    n = len(kept)
    mean = math.fsum(kept) / n
    if n == 1:
        return MeanInterval(mean, math.nan, math.nan, 1)
    standard_error = statistics.stdev(kept) / math.sqrt(n)
    halfwidth = student_t_quantile((1.0 + confidence) / 2.0, n - 1) * standard_error
    return MeanInterval(mean, mean - halfwidth, mean + halfwidth, n)


__all__ = ["wilson_interval", "student_t_cdf", "student_t_quantile", "mean_confidence_interval", "MeanInterval"]
