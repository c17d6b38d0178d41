"""Spearman's rank correlation for small samples, with ties, an interval and a permutation test.

Used to ask whether two rankings of the same models agree (:mod:`suite.analysis.real_data`: the
ranking on a synthetic task and the ranking by test loss on real data). Written here rather than
taken from scipy, which the suite does not depend on.

- :func:`average_ranks`: ranks from 1, tied values sharing the mean of the ranks they span
  (``[10, 20, 20, 30]`` → ``[1, 2.5, 2.5, 4]``).
- :func:`spearman`: Pearson's correlation of the two average-rank vectors, which is Spearman's
  rho with ties handled (the ``1 - 6 Σd² / (n(n² - 1))`` shortcut is only exact without ties).
  NaN when either side is constant (every value tied: no ranking to compare).
- :func:`fisher_interval`: a 95% interval from Fisher's z, ``tanh(atanh(rho) ± 1.96 · se)`` with
  ``se = sqrt(1.06 / (n - 3))``, the variance Fieller, Hartley and Pearson (1957) give for Spearman's
  rho. It is an approximation that needs ``n >= 4`` and is rough below about 10; undefined at
  ``|rho| = 1`` (atanh is infinite), where both ends are NaN.
- :func:`permutation_p`: the two-sided p-value of rho under "the rankings are unrelated": the share
  of permutations of one side whose ``|rho|`` is at least the observed one. Exact (every permutation)
  up to :data:`EXACT_UP_TO` values, else :data:`DRAWS` random permutations from a fixed seed, with
  ``(hits + 1) / (draws + 1)``. With four values the smallest possible p is 2/24 ≈ 0.083: no ranking
  of four models can be called significant at 5%.
"""

from __future__ import annotations

import itertools
import math
import random
from typing import NamedTuple

Z_95 = 1.96
FIELLER_VARIANCE = 1.06  # var(atanh(rho_s)) ~ 1.06 / (n - 3) (Fieller, Hartley and Pearson 1957)
EXACT_UP_TO = 7  # 7! = 5,040 permutations
DRAWS = 10_000
SEED = 0


def average_ranks(values) -> list[float]:
    """Ranks from 1 in ascending order; tied values share the mean of the ranks they span."""
    values = [float(v) for v in values]
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        shared = (start + end) / 2 + 1  # ranks start .. end (0-based) → their mean, 1-based
        for position in range(start, end + 1):
            ranks[order[position]] = shared
        start = end + 1
    return ranks


def pearson(x, y) -> float:
    """Pearson's correlation of two equal-length sequences; NaN when either is constant or shorter than 2."""
    n = len(x)
    if n != len(y):
        raise ValueError(f"pearson needs sequences of one length, got {n} and {len(y)}")
    if n < 2:
        return math.nan
    mean_x, mean_y = math.fsum(x) / n, math.fsum(y) / n
    dx, dy = [v - mean_x for v in x], [v - mean_y for v in y]
    sxx, syy = math.fsum(d * d for d in dx), math.fsum(d * d for d in dy)
    if sxx == 0 or syy == 0:
        return math.nan
    return max(-1.0, min(1.0, math.fsum(a * b for a, b in zip(dx, dy)) / math.sqrt(sxx * syy)))


def spearman(x, y) -> float:
    """Spearman's rho of ``x`` and ``y`` with ties (Pearson's correlation of their average ranks)."""
    return pearson(average_ranks(x), average_ranks(y))


def fisher_interval(rho: float, n: int) -> tuple[float, float]:
    """The approximate 95% interval of Spearman's rho over ``n`` pairs (see the module docstring);
    NaN ends when ``n < 4``, rho is NaN or ``|rho| = 1``."""
    if n < 4 or math.isnan(rho) or abs(rho) >= 1:
        return math.nan, math.nan
    half = Z_95 * math.sqrt(FIELLER_VARIANCE / (n - 3))
    z = math.atanh(rho)
    return math.tanh(z - half), math.tanh(z + half)


def permutation_p(x, y) -> tuple[float, str]:
    """The two-sided permutation p-value of Spearman's rho and how it was made (``"exact"`` or
    ``"10000 random permutations"``); NaN when rho is undefined."""
    rank_x, rank_y = average_ranks(x), average_ranks(y)
    observed = pearson(rank_x, rank_y)
    if math.isnan(observed):
        return math.nan, "undefined"
    bar = abs(observed) - 1e-12
    n = len(rank_x)
    if n <= EXACT_UP_TO:
        total = hits = 0
        for permuted in itertools.permutations(rank_y):
            total += 1
            hits += abs(pearson(rank_x, permuted)) >= bar
        return hits / total, "exact"
    generator = random.Random(SEED)
    shuffled = list(rank_y)
    hits = 0
    for _ in range(DRAWS):
        generator.shuffle(shuffled)
        hits += abs(pearson(rank_x, shuffled)) >= bar
    return (hits + 1) / (DRAWS + 1), f"{DRAWS} random permutations"


class RankCorrelation(NamedTuple):
    """Spearman's rho over ``n`` pairs with its approximate 95% interval and permutation p-value."""

    rho: float
    n: int
    ci_low: float
    ci_high: float
    p_value: float
    p_method: str


def rank_correlation(x, y) -> RankCorrelation:
    """Everything of the module docstring for one pair of samples."""
    rho = spearman(x, y)
    low, high = fisher_interval(rho, len(x))
    p_value, method = permutation_p(x, y)
    return RankCorrelation(rho, len(x), low, high, p_value, method)
