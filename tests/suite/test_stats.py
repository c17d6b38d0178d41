"""suite.analysis.stats against published values (t tables; Wilson interval worked examples)."""
import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from suite.analysis.stats import (mean_confidence_interval, student_t_cdf, student_t_quantile,
                         wilson_interval)

# Two-sided 95% critical values t_{0.975, df} and one 99% value from standard t tables.
T_TABLE_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 10: 2.228, 20: 2.086, 30: 2.042,
               60: 2.000, 120: 1.980}


@pytest.mark.parametrize("df,expected", sorted(T_TABLE_975.items()))
def test_t_quantile_matches_table(df, expected):
    assert student_t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_other_levels_and_symmetry():
    assert student_t_quantile(0.995, 1) == pytest.approx(63.657, abs=1e-3)
    assert student_t_quantile(0.95, 5) == pytest.approx(2.015, abs=1e-3)
    assert student_t_quantile(0.025, 10) == pytest.approx(-2.228, abs=1e-3)
    assert student_t_quantile(0.5, 7) == 0.0


def test_t_quantile_tends_to_normal_and_is_continuous_at_the_switch():
    z = statistics.NormalDist().inv_cdf(0.975)
    assert student_t_quantile(0.975, 1e7) == pytest.approx(z, abs=1e-6)
    # df 1000 uses bisection, df 1001 the expansion: they must agree closely.
    assert student_t_quantile(0.975, 1000) == pytest.approx(1.962339, abs=1e-6)
    assert student_t_quantile(0.975, 1001) == pytest.approx(1.962337, abs=1e-5)


def test_t_cdf_cauchy_closed_form():
    # df = 1 is the Cauchy distribution: CDF = 1/2 + atan(t)/pi.
    for t in (-3.0, -0.5, 0.0, 0.7, 10.0):
        assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)


def test_wilson_known_values():
    # 8 of 10: the textbook Wilson 95% interval is (0.490, 0.943).
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    # 0 of 10 keeps a non-zero upper end (unlike Wald), and is the mirror of 10 of 10.
    low0, high0 = wilson_interval(0, 10)
    low10, high10 = wilson_interval(10, 10)
    assert low0 == 0.0 and high0 == pytest.approx(0.2775, abs=1e-4)
    assert (low10, high10) == pytest.approx((1 - high0, 1.0))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_mean_confidence_interval():
    interval = mean_confidence_interval([1, 2, 3, 4, 5])
    halfwidth = 2.776445 * statistics.stdev([1, 2, 3, 4, 5]) / math.sqrt(5)
    assert interval.mean == 3.0 and interval.n == 5
    assert (interval.low, interval.high) == pytest.approx((3 - halfwidth, 3 + halfwidth), abs=1e-5)
    single = mean_confidence_interval([0.5, None, float("nan")])
    assert single.mean == 0.5 and single.n == 1 and math.isnan(single.low) and math.isnan(single.high)
    with pytest.raises(ValueError):
        mean_confidence_interval([])


def test_stats_imports_nothing_heavy():
    code = ("import sys; import suite.analysis.stats; "
            "heavy = {'torch', 'numpy', 'pandas', 'scipy'} & set(sys.modules); assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
