"""Small, dependency-free statistics for the report: confidence intervals for a
proportion (Wilson), for a mean (Student's t), and the interval the report gives
a per-seed fraction such as accuracy (:func:`seed_interval`: t over seeds, else Wilson).

Only the standard library is imported, so analysis and the report can use these
on a laptop without torch, numpy or scipy.

Student-t critical values
-------------------------
The suite's intervals are 95% ones, over a handful of seeds. The two-sided 95%
critical value ``t_{0.975, df}`` is read from :data:`T_975`, a table of the
quantiles for ``df`` 1-30, 40, 50, 60, 80, 100 and 120, to 6 decimals (computed
with mpmath by inverting the regularized incomplete beta function; they agree
with printed t tables to the 3 decimals those give), with the normal quantile
1.959964 as ``df -> infinity``. Between two rows the value is interpolated
linearly in ``1 / df`` (harmonic interpolation, the way printed tables are
meant to be read): off by less than 1e-4 everywhere past 30 (at worst 5e-5,
near df 34). Other confidence levels are refused with a ``ValueError`` rather
than approximated.
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple
from collections.abc import Iterable

from suite.analysis.missing import is_present

Z_975 = 1.959964  # the 0.975 quantile of the standard normal: the limit of T_975 as df grows
T_975 = {  # df -> t_{0.975, df}, the 0.975 quantile of Student's t with df degrees of freedom
    1: 12.706205,
    2: 4.302653,
    3: 3.182446,
    4: 2.776445,
    5: 2.570582,
    6: 2.446912,
    7: 2.364624,
    8: 2.306004,
    9: 2.262157,
    10: 2.228139,
    11: 2.200985,
    12: 2.178813,
    13: 2.160369,
    14: 2.144787,
    15: 2.131450,
    16: 2.119905,
    17: 2.109816,
    18: 2.100922,
    19: 2.093024,
    20: 2.085963,
    21: 2.079614,
    22: 2.073873,
    23: 2.068658,
    24: 2.063899,
    25: 2.059539,
    26: 2.055529,
    27: 2.051831,
    28: 2.048407,
    29: 2.045230,
    30: 2.042272,
    40: 2.021075,
    50: 2.008559,
    60: 2.000298,
    80: 1.990063,
    100: 1.983972,
    120: 1.979930,
}


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


def t_critical(df: float, confidence: float = 0.95) -> float:
    """The two-sided Student-t critical value ``t_{(1 + confidence) / 2, df}``
    (``t_critical(10) == 2.228139``), from :data:`T_975` (see the module docstring).

    ``df`` must be at least 1 (it need not be an integer); ``confidence`` must be 0.95.
    """
    if confidence != 0.95:
        raise ValueError(
            f"only 95% intervals are supported (the t table holds 0.975 quantiles), got confidence={confidence}"
        )
    if not df >= 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    if df in T_975:
        return T_975[df]
    rows = sorted(T_975)
    above = next((row for row in rows if row > df), None)
    below = max(row for row in rows if row < df)
    high_inverse, high_value = (1.0 / above, T_975[above]) if above else (0.0, Z_975)
    fraction = (1.0 / below - 1.0 / df) / (1.0 / below - high_inverse)
    return T_975[below] + fraction * (high_value - T_975[below])


class MeanInterval(NamedTuple):
    """A sample mean with the two ends of its confidence interval and the sample size."""

    mean: float
    low: float
    high: float
    n: int


def mean_confidence_interval(values: Iterable[float], confidence: float = 0.95) -> MeanInterval:
    """Mean of ``values`` with a two-sided Student-t confidence interval.

    Method: ``mean +/- t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` where ``s``
    is the sample standard deviation (``n - 1`` denominator) and ``t`` comes from
    :func:`t_critical` (95% only). It assumes the values are independent draws
    (e.g. one per seed) from a roughly normal distribution. ``None`` and NaN
    values are dropped first. With one value the interval is undefined and both
    ends are NaN; with none, ``ValueError``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    kept = [float(v) for v in values if is_present(v)]
    if not kept:
        raise ValueError("mean_confidence_interval needs at least one value that is not None/NaN")
    n = len(kept)
    mean = math.fsum(kept) / n
    if n == 1:
        return MeanInterval(mean, math.nan, math.nan, 1)
    standard_error = statistics.stdev(kept) / math.sqrt(n)
    halfwidth = t_critical(n - 1, confidence) * standard_error
    return MeanInterval(mean, mean - halfwidth, mean + halfwidth, n)


class SeedInterval(NamedTuple):
    """A fraction aggregated over seeds: its mean, 95% interval and how the interval was made
    (``"t over seeds"``, ``"wilson"``, ``"one seed"`` (no interval) or None (no value))."""

    mean: float
    low: float
    high: float
    method: str | None


def seed_interval(values, n_scored=None, stored=None) -> SeedInterval:
    """The report's interval of a per-seed fraction in [0, 1] (accuracy): one value per ok seed.

    - two or more values: their mean with the Student-t 95% interval over seeds
      (:func:`mean_confidence_interval`), clipped to [0, 1] (``"t over seeds"``);
    - one value: the Wilson 95% interval over its scored tokens (``"wilson"``): the seed's own
      ``stored`` ``(low, high)`` where it has both, else recomputed from ``n_scored``; with
      neither, no interval (``"one seed"``, NaN ends);
    - none: NaN everywhere and method None.

    ``n_scored`` and ``stored`` are per seed, aligned with ``values``; a seed whose value is
    None/NaN is dropped with its entries.
    """
    values = list(values)
    counts = list(n_scored) if n_scored is not None else [None] * len(values)
    bounds = list(stored) if stored is not None else [(None, None)] * len(values)
    kept = [(float(v), n, b) for v, n, b in zip(values, counts, bounds) if is_present(v)]
    if len(kept) >= 2:
        interval = mean_confidence_interval([value for value, _, _ in kept])
        return SeedInterval(interval.mean, max(0.0, interval.low), min(1.0, interval.high), "t over seeds")
    if not kept:
        return SeedInterval(math.nan, math.nan, math.nan, None)
    [(value, n, (low, high))] = kept
    if is_present(low) and is_present(high):
        return SeedInterval(value, float(low), float(high), "wilson")
    if is_present(n) and n > 0:
        return SeedInterval(value, *wilson_interval(round(value * float(n)), float(n)), "wilson")
    return SeedInterval(value, math.nan, math.nan, "one seed")


__all__ = [
    "wilson_interval",
    "t_critical",
    "T_975",
    "mean_confidence_interval",
    "MeanInterval",
    "seed_interval",
    "SeedInterval",
]
