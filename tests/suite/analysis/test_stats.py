"""suite.analysis.stats against published values (t tables; Wilson interval worked examples)."""

import math
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from suite.analysis.stats import T_975, mean_confidence_interval, seed_interval, t_critical, wilson_interval

# Two-sided 95% critical values t_{0.975, df} from standard t tables (to 4 or 3 decimals).
T_TABLE_975 = {
    1: "12.7062",
    2: "4.3027",
    3: "3.182",
    4: "2.7764",
    5: "2.571",
    9: "2.2622",
    10: "2.228",
    20: "2.086",
    29: "2.0452",
    30: "2.042",
    40: "2.021",
    60: "2.000",
    120: "1.980",
}


@pytest.mark.parametrize("df,expected", sorted(T_TABLE_975.items()))
def test_t_critical_matches_the_printed_tables(df, expected):
    decimals = len(expected.partition(".")[2])  # as printed: within half a unit of the last decimal
    assert t_critical(df) == pytest.approx(float(expected), abs=0.5 * 10**-decimals)


def test_the_table_covers_every_df_to_30_and_falls_towards_the_normal():
    assert set(range(1, 31)) <= set(T_975)
    values = [T_975[df] for df in sorted(T_975)]
    assert values == sorted(values, reverse=True) and values[-1] > 1.959964


def test_between_rows_it_interpolates_in_one_over_df():
    # published t_{0.975}: df 35 -> 2.0301, 50 -> 2.0086, 1000 -> 1.9623; beyond, the normal quantile
    assert t_critical(35) == pytest.approx(2.0301, abs=1e-4)
    assert t_critical(50) == pytest.approx(2.0086, abs=1e-4)
    assert t_critical(1000) == pytest.approx(1.9623, abs=1e-4)
    assert t_critical(1e9) == pytest.approx(statistics.NormalDist().inv_cdf(0.975), abs=1e-6)
    assert T_975[30] > t_critical(30.5) > T_975[40]


@pytest.mark.parametrize(
    "df, confidence, message",
    [
        (10, 0.99, "only 95% intervals"),
        (10, 0.9, "only 95% intervals"),
        (0.5, 0.95, "at least 1"),
        (0, 0.95, "at least 1"),
        (float("nan"), 0.95, "at least 1"),
    ],
)
def test_other_confidences_and_too_few_degrees_of_freedom_are_refused(df, confidence, message):
    with pytest.raises(ValueError, match=message):
        t_critical(df, confidence)


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
    halfwidth = 2.7764 * statistics.stdev([1, 2, 3, 4, 5]) / math.sqrt(5)
    assert interval.mean == 3.0 and interval.n == 5
    assert (interval.low, interval.high) == pytest.approx((3 - halfwidth, 3 + halfwidth), abs=1e-4)
    single = mean_confidence_interval([0.5, None, float("nan")])
    assert single.mean == 0.5 and single.n == 1 and math.isnan(single.low) and math.isnan(single.high)
    with pytest.raises(ValueError):
        mean_confidence_interval([])
    with pytest.raises(ValueError, match="only 95% intervals"):
        mean_confidence_interval([1, 2, 3], confidence=0.99)


def test_seed_interval_is_t_over_seeds_clipped_to_zero_and_one():
    interval = seed_interval([0.9, 1.0, float("nan")], n_scored=[100, 100, 100])
    t = mean_confidence_interval([0.9, 1.0])
    assert interval.method == "t over seeds" and interval.mean == pytest.approx(0.95)
    assert interval.low == pytest.approx(t.low) and t.high > 1.0 and interval.high == 1.0


def test_one_seed_has_its_own_wilson_interval_stored_or_recomputed():
    stored = seed_interval([None, 0.8], n_scored=[10, 10], stored=[(0.0, 1.0), (0.5, 0.9)])
    assert tuple(stored) == (0.8, 0.5, 0.9, "wilson")  # the NaN seed is dropped with its entries
    recomputed = seed_interval([0.8], n_scored=[10], stored=[(float("nan"), float("nan"))])
    assert recomputed.method == "wilson" and (recomputed.low, recomputed.high) == wilson_interval(8, 10)
    bare = seed_interval([0.8])
    assert bare.mean == 0.8 and bare.method == "one seed" and math.isnan(bare.low) and math.isnan(bare.high)
    nothing = seed_interval([float("nan")])
    assert nothing.method is None and math.isnan(nothing.mean)


def test_stats_imports_nothing_heavy():
    code = (
        "import sys; import suite.analysis.stats; "
        "heavy = {'torch', 'numpy', 'pandas', 'scipy'} & set(sys.modules); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[3])
