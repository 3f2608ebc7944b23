"""Statistics: t intervals, paired and one-sample t tests (against scipy), significance rules."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from vqmatch.simulations.core.stats import (
    Estimate,
    TTest,
    enough,
    loglog_fit,
    loglog_slope,
    mean_ci,
    one_sample_t,
    paired_t,
    significant,
    single_draw_p,
    versus_reference,
    z_score,
)
from vqmatch.simulations.core.verdicts import ALPHA, ALPHA_DISAGREE, MIN_REPLICATES, agrees


def test_mean_ci_matches_t_interval_and_covers():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci.value == 2.5 and ci.df == 3 and ci.n == 4
    se = np.std([1, 2, 3, 4], ddof=1) / 2
    assert math.isclose(ci.se, se)
    assert math.isclose(ci.high - ci.value, 3.182446305284263 * se, rel_tol=1e-9)  # t_{0.975,3}
    rng = np.random.default_rng(0)
    cover = np.mean([(c := mean_ci(rng.normal(size=4))).low <= 0 <= c.high for _ in range(2000)])
    assert 0.935 <= cover <= 0.965  # exact t coverage even with 4 replicates


def test_mean_ci_known_values_and_levels():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci.value == 3.0 and math.isclose(ci.se, math.sqrt(2.5 / 5))
    assert math.isclose(ci.high - ci.value, 2.7764451051977987 * ci.se)  # t_{0.975, 4}
    narrow = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], level=0.9)
    assert ci.low < narrow.low < narrow.high < ci.high


@pytest.mark.parametrize(("values", "level", "match"), [
    ([1.0], 0.95, "at least 2"),
    ([[1.0, 2.0], [3.0, 4.0]], 0.95, "1-D"),
    ([1.0, np.nan, 2.0], 0.95, "NaN"),
    ([1.0, 2.0], 1.0, "level"),
    ([1.0, 2.0], 0.0, "level"),
])
def test_mean_ci_bad_input(values, level, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(values, level=level)


def test_paired_t_equals_scipy():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.3, 1, 7), rng.normal(0, 1, 7)
    t = paired_t(a, b)
    ref = stats.ttest_rel(a, b)
    assert math.isclose(t.t, ref.statistic, rel_tol=1e-12)
    assert math.isclose(t.p, ref.pvalue, rel_tol=1e-9)
    assert t.df == 6 and t.n == 7
    ci = ref.confidence_interval(0.95)
    assert math.isclose(t.low, ci.low, rel_tol=1e-9) and math.isclose(t.high, ci.high, rel_tol=1e-9)
    assert math.isclose(t.a, a.mean()) and math.isclose(t.b, b.mean())
    with pytest.raises(ValueError, match="pair"):
        paired_t([1, 2, 3], [1, 2])


def test_one_sample_t_equals_scipy_and_degenerate_cases():
    x = np.array([1.2, 0.8, 1.1, 0.9, 1.3])
    t = one_sample_t(x, 1.0)
    ref = stats.ttest_1samp(x, 1.0)
    assert math.isclose(t.t, ref.statistic, rel_tol=1e-12) and math.isclose(t.p, ref.pvalue)
    same = one_sample_t([2.0, 2.0, 2.0], 2.0)
    assert same.p == 1.0 and same.t == 0.0
    off = one_sample_t([2.0, 2.0, 2.0], 1.0)
    assert off.p == 0.0 and off.t == math.inf


def test_significant_needs_replicates_sign_and_level():
    rng = np.random.default_rng(2)
    strong = paired_t(rng.normal(5, 1, MIN_REPLICATES), rng.normal(0, 1, MIN_REPLICATES))
    assert significant(strong, +1) and not significant(strong, -1) and enough(strong)
    few = paired_t([5.0, 5.1, 4.9, 5.2][: MIN_REPLICATES - 1], [0.0, 0.1, 0.0, 0.1][
        : MIN_REPLICATES - 1])
    assert few.p < ALPHA and not significant(few, +1) and not enough(few)
    # Bonferroni: a p between ALPHA / m and ALPHA is significant alone, not among m comparisons
    mid = TTest(1.0, 0.5, 1.5, 0.2, 9, 10, t=5.0, p=ALPHA / 2)
    assert significant(mid, +1) and not significant(mid, +1, comparisons=4)
    assert not significant(None, +1)
    with pytest.raises(ValueError, match="sign"):
        significant(strong, 0)


def test_false_positive_rate_is_alpha():
    rng = np.random.default_rng(3)
    hits = sum(significant(paired_t(rng.normal(size=6), rng.normal(size=6)), +1)
               or significant(paired_t(rng.normal(size=6), rng.normal(size=6)), -1)
               for _ in range(3000))
    # two independent tests per draw, each one-sided half of a two-sided level ALPHA test
    assert hits / 3000 < 3 * ALPHA


def test_ttest_text_and_round_trip():
    t = paired_t([3.0, 3.5, 2.5, 3.2, 2.8], [1.0, 1.2, 0.9, 1.1, 0.8])
    text = str(t)
    assert "t(4)" in text and "p =" in text and "[" in text
    assert "%" in t.relative(2.0)
    assert TTest.from_json(json.loads(json.dumps(t.to_json()))) == t


def test_estimate_is_the_one_json_form_of_an_interval():
    """An Estimate and a TTest (an Estimate with its test) share the interval's JSON keys; NaN
    survives the round trip (JSON null) and compares equal."""
    e = mean_ci([1.0, 2.0, 4.0])
    t = one_sample_t([1.0, 2.0, 4.0], 1.0)
    assert set(e.to_json()) == {"value", "low", "high", "se", "df", "n", "level"}
    assert set(e.to_json()) <= set(t.to_json())
    assert (t.value, t.low, t.high, t.se, t.df, t.n) == (e.value, e.low, e.high, e.se, e.df, e.n)
    nan = Estimate(1.0, math.nan, math.nan, math.nan, math.nan, 1)
    assert Estimate.from_json(json.loads(json.dumps(nan.to_json()))) == nan
    assert Estimate.from_json(e.to_json()) != nan
    rel = e.divided_by(2.0)
    assert (rel.value, rel.low, rel.high) == (e.value / 2, e.low / 2, e.high / 2)
    assert e.divided_by(-1.0).ci == (-e.high, -e.low)


def test_loglog_fit_is_the_slope_with_its_t_interval():
    x = np.array([1.0, 2.0, 4.0, 8.0])
    fit = loglog_fit(x, 3 * x ** -0.5 * np.array([1.0, 1.01, 0.99, 1.0]))
    assert fit.value == pytest.approx(-0.5, abs=0.02) and fit.df == 2 and fit.n == 4
    assert fit.low < fit.value < fit.high


def test_z_score_and_slope():
    assert z_score(3.0, 0.5, 2.0) == 2.0
    assert z_score(1.0, 0.0, 1.0) == 0.0 and z_score(2.0, 0.0, 1.0) == math.inf
    n = np.array([10, 20, 40, 80, 160])
    slope, se = loglog_slope(n, 3.0 * n ** -0.5)
    assert math.isclose(slope, -0.5, abs_tol=1e-12) and se < 1e-7
    with pytest.raises(ValueError):
        loglog_slope([1, 2], [1, 2])


def test_versus_reference_any_lower_refutes_all_higher_confirm():
    rng = np.random.default_rng(0)
    higher = paired_t(rng.normal(1.0, 0.1, 8), np.zeros(8))
    lower = paired_t(rng.normal(-1.0, 0.1, 8), np.zeros(8))
    tie = paired_t(rng.normal(0.0, 1.0, 8), np.zeros(8))
    assert versus_reference([higher, higher]) == ("confirmed", [], [0, 1])
    assert versus_reference([higher, lower]) == ("refuted", [1], [0])
    assert versus_reference([higher, tie])[0] == "inconclusive"
    assert versus_reference([])[0] == "inconclusive"
    few = paired_t([1.0, 1.1, 1.2], [0.0, 0.0, 0.0])  # below MIN_REPLICATES: decides nothing
    assert versus_reference([few]) == ("inconclusive", [], [])


def test_single_draw_p_is_the_prediction_interval_test():
    v = np.array([1.0, 1.2, 0.9, 1.1, 1.05])
    m, s, n = v.mean(), v.std(ddof=1), v.size
    x = 1.6
    expected = 2 * stats.t.sf(abs(x - m) / (s * np.sqrt(1 + 1 / n)), n - 1)
    assert single_draw_p(x, m, s, n) == pytest.approx(expected, rel=1e-12)
    assert single_draw_p(x, m, s, n, rounding=1.0) == 1.0  # within the printed rounding


def test_agrees_bonferroni_between_alpha_disagree_and_alpha():
    assert agrees([0.5, ALPHA]) == "confirmed"  # ALPHA / 2 <= every p
    assert agrees([0.5, ALPHA / 3]) == "inconclusive"  # below ALPHA / 2, above ALPHA_DISAGREE
    assert agrees([0.5, ALPHA_DISAGREE / 2]) == "refuted"
    assert agrees(iter([])) == "inconclusive"


def test_replicate_estimate_tolerates_what_a_grid_gives():
    from vqmatch.simulations.core.stats import mean_ci, replicate_estimate

    assert replicate_estimate([None, float("nan")]) is None
    one = replicate_estimate([0.5, None])
    assert (one.value, one.n) == (0.5, 1) and math.isnan(one.low) and math.isnan(one.se)
    same = replicate_estimate([0.25, 0.25, 0.25])
    assert (same.value, same.low, same.high, same.se, same.df, same.n) == (0.25, 0.25, 0.25, 0.0, 2, 3)
    assert replicate_estimate([1.0, 2.0, float("inf"), 4.0]) == mean_ci([1.0, 2.0, 4.0])
