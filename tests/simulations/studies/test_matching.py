"""The matching study (static codebooks): closed forms against exact references, the worst-case
estimator against known answers, a tiny end-to-end run, parts, and claims that can go either way."""

import copy
import itertools
import math
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.seeding import cell_seed
from vqmatch.simulations.core.stats import Estimate, mean_ci
from vqmatch.simulations.studies import CLAIMS, matching
from vqmatch.simulations.studies.matching import cells as mc
from vqmatch.simulations.studies.matching import config as mm
from vqmatch.simulations.studies.matching import theory as mt
from vqmatch.theory import criterion_triple, nearest_code
from vqmatch.theory.quantization import expected_utilization

TINY = mm.MatchingConfig(
    theorem1=mm.Theorem1Config(codebook_sizes=(50, 200, 800), features_per_code=10, replicates=3),
    fig3=mm.Fig3Config(replicates=6),
    appf=mm.AppFConfig(n_features=2000, codebook_size=64, d=4, codebook_size_sweep=(16, 64),
                       dims_sweep=(2, 4), features_sweep=(2000,), shifts=(0.0, 1.0),
                       scale_factors=(1.0, 2.0), extra_scale_factors=(0.75,), replicates=6),
    appg=mm.AppGConfig(codebook_size=128, n_features=2000, scale_factors=(1e-3, 1e-1, 1.0),
                       replicates=3),
    utilization=mm.UtilizationConfig(codebook_sizes=(2, 8), features_per_code=(1, 4),
                                     replicates=40, disk_codebook_sizes=(20,),
                                     disk_mass_samples=20_000, disk_replicates=12),
)
IDS = ("matching.theorem1", "matching.fig3", "matching.fig3_error_is_rms", "matching.fig3_optimal",
       "matching.appf_error", "matching.appf_utilization", "matching.appf_perplexity",
       "matching.appg", "matching.appg_table", "matching.expected_utilization")


@pytest.fixture(scope="module")
def tiny_result():
    return run_study(matching.STUDY, TINY, seed=5, out_dir=None, progress=False)


def _with(res, **parts):
    """A copy of a result whose summary has the given parts replaced."""
    fake = copy.copy(res)
    fake.summary = replace(res.summary, **parts)
    return fake


# ---------------------------------------------------------------------------------------------
# expected utilization: closed form against exact rational enumeration


def _exact_expected_utilization(k: int, n: int) -> Fraction:
    """E[U] for P_A = P_B in 1-D by exact enumeration: expand (1 - p_k)^N, p_k linear in the
    Dirichlet(1, ..., 1) spacings S_0..S_K, and use E[prod S_i^a_i] = K! prod a_i! / (K + sum a)!."""
    def moment(powers: dict[int, int]) -> Fraction:
        total = sum(powers.values())
        num = math.factorial(k) * math.prod(math.factorial(a) for a in powers.values())
        return Fraction(num, math.factorial(k + total))

    unused = Fraction(0)
    for code in range(k):  # cell of the code-th order statistic: half of each adjacent spacing
        # spacing S_code is the whole left gap for the first code, S_{code+1} the whole right gap
        # for the last one; otherwise each contributes half
        coeffs = {code: Fraction(1, 1 if code == 0 else 2),
                  code + 1: Fraction(1, 1 if code == k - 1 else 2)}
        # expand (1 - sum c_i S_i)^n
        for j in range(n + 1):
            sign = (-1) ** j * math.comb(n, j)
            idx = list(coeffs)
            for a in range(j + 1):
                powers = {idx[0]: a, idx[1]: j - a}
                term = math.comb(j, a) * coeffs[idx[0]] ** a * coeffs[idx[1]] ** (j - a)
                unused += sign * term * moment({i: p for i, p in powers.items() if p})
    return 1 - unused / k


@pytest.mark.parametrize("k,n", list(itertools.product((2, 3, 4, 6), (1, 2, 3, 5))))
def test_closed_form_matches_exact_enumeration(k, n):
    exact = _exact_expected_utilization(k, n)
    assert mt.expected_utilization_matched_1d(k, n) == pytest.approx(float(exact), abs=1e-10)


def test_closed_form_is_exact_for_the_uniform_law_only():
    """K = 2, N = 8: E[U | codes] = 1 - ((1 - p)^N + p^N) / 2 with p the mass left of the codes'
    midpoint, averaged over 10^6 code pairs. Uniform law: p is the midpoint itself and the closed
    form holds; Gaussian law: p = Phi(midpoint), which the CDF map does not make uniform-like, and
    E[U] is about 0.940, not the closed form's 0.956."""
    from scipy.stats import norm

    k, n, draws = 2, 8, 1_000_000
    rng = np.random.default_rng(11)

    def expected(p):
        vals = 1.0 - ((1.0 - p) ** n + p ** n) / 2
        return vals.mean(), vals.std() / math.sqrt(draws)

    closed = mt.expected_utilization_matched_1d(k, n)
    uni, uni_se = expected(rng.random((draws, 2)).mean(axis=1))
    gau, gau_se = expected(norm.cdf(rng.standard_normal((draws, 2)).mean(axis=1)))
    assert abs(uni - closed) < 4 * uni_se
    assert closed - gau > 0.01 and closed - gau > 20 * gau_se


def test_utilization_cells_compare_the_closed_form_on_the_uniform_law():
    seed = cell_seed(0, "u")
    uni = mc.util_1d_cell("matched1d", "uniform", 8, 4, 0.0, seed, 0)[0]
    gau = mc.util_1d_cell("shifted1d", "gaussian", 8, 4, 1.0, seed, 0)[0]
    assert uni["closed_form"] == pytest.approx(mt.expected_utilization_matched_1d(8, 32))
    assert gau["closed_form"] is None
    assert 0 < uni["expected_given_codes"] <= 1 and 0 < gau["expected_given_codes"] <= 1
    with pytest.raises(ValueError, match="law"):
        mc.util_1d_cell("matched1d", "cauchy", 8, 4, 0.0, seed, 0)


def test_closed_form_known_values():
    assert mt.expected_utilization_matched_1d(2, 2) == pytest.approx(17 / 24, abs=1e-12)
    assert mt.expected_utilization_matched_1d(7, 1) == pytest.approx(1 / 7, abs=1e-12)
    assert mt.expected_utilization_matched_1d(1, 9) == 1.0
    # many codes, N = 4K: interior cells K p ~ Gamma(2)/2 -> E[U] -> 1 - E exp(-2 X) = 8/9
    assert mt.expected_utilization_matched_1d(100_000, 400_000) == pytest.approx(8 / 9, abs=1e-4)
    with pytest.raises(ValueError, match="codebook_size"):
        mt.expected_utilization_matched_1d(0, 3)


def test_cell_masses_and_conditional_expectation():
    codes = np.array([0.9, 0.1, 0.5])  # uniform on [0, 1]: cells [0, .3], [.3, .7], [.7, 1]
    masses = mt.cell_masses_1d(codes, lambda x: np.clip(x, 0, 1))
    np.testing.assert_allclose(masses, [0.3, 0.3, 0.4])
    expect = 1 - np.mean([(1 - 0.3) ** 4, (1 - 0.3) ** 4, (1 - 0.4) ** 4])
    assert expected_utilization(masses, 4) == pytest.approx(expect)


def test_usage_1d_agrees_with_nearest_code():
    rng = np.random.default_rng(0)
    codes, x = rng.standard_normal(17), rng.standard_normal(500)
    idx, sq = mt.usage_1d(codes, x)
    ref = nearest_code(x[:, None], codes[:, None])
    np.testing.assert_array_equal(idx, ref.indices)
    np.testing.assert_allclose(sq, ref.sq_dist)


def test_kdtree_triple_agrees_with_criterion_triple():
    rng = np.random.default_rng(1)
    x, c = rng.random((3000, 2)), rng.random((60, 2)) * 1.3
    ours, ref = mt.triple_kdtree(x, c), criterion_triple(x, c).as_dict()
    for key in ref:
        assert ours[key] == pytest.approx(ref[key], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# worst-case distance


@pytest.mark.parametrize("code,truth", [((0.0, 0.0), 1.0), ((0.3, 0.0), 1.3), ((0.0, -2.0), 3.0)])
def test_worst_case_single_code(code, truth):
    wc = mt.worst_case_distance(np.array([code]), (0.0, 0.0), 1.0, rel_tol=1e-3)
    assert wc.low <= truth + 1e-12 <= wc.high + 2e-12
    assert wc.high - wc.low <= 1e-3 * wc.low + 1e-12


def test_worst_case_codes_on_the_circle():
    """K >= 4 codes evenly on the unit circle: the centre is the farthest point (distance 1)."""
    t = 2 * np.pi * np.arange(8) / 8
    wc = mt.worst_case_distance(np.stack([np.cos(t), np.sin(t)], 1), (0.0, 0.0), 1.0,
                                rel_tol=1e-3)
    assert wc.low <= 1.0 <= wc.high + 1e-12 and wc.low > 0.999


@given(st.integers(0, 10_000), st.integers(1, 12))
def test_worst_case_brackets_a_dense_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    codes = rng.uniform(-1.5, 1.5, (k, 2))
    wc = mt.worst_case_distance(codes, (0.2, -0.1), 0.9, rel_tol=1e-2)
    h = 0.01  # brute force on a grid of the disk plus its boundary circle
    g = np.mgrid[-1:1:h, -1:1:h].reshape(2, -1).T * 0.9
    g = g[np.linalg.norm(g, axis=1) <= 0.9]
    t = np.linspace(0, 2 * np.pi, 4000)
    pts = np.concatenate([g, 0.9 * np.stack([np.cos(t), np.sin(t)], 1)]) + np.array([0.2, -0.1])
    brute = np.sqrt(((pts[:, None] - codes[None]) ** 2).sum(-1).min(1)).max()
    assert brute <= wc.high + 1e-9  # the upper bound is certified
    assert wc.low >= brute - h  # the lower bound is attained, so at most one grid step off


def test_limit_utilization_disk():
    inside = np.array([[0.0, 0.0], [0.5, 0.5], [-0.3, 0.1]])
    assert mt.limit_utilization_disk(inside, (0, 0), 1.0, circle_points=1000) == 1.0
    # a code just outside owns an arc of the circle; one far away behind it does not
    codes = np.array([[0.0, 0.0], [0.9, 0.0], [1.05, 0.4], [3.0, 0.0]])
    assert mt.limit_utilization_disk(codes, (0, 0), 1.0, circle_points=10_000) == 0.75


def test_ball_law_sampling():
    pts = mt.BallLaw((1.0, 0.0), 0.5).sample(20_000, seed=0)
    r = np.linalg.norm(pts - (1.0, 0.0), axis=1)
    assert r.max() <= 0.5
    assert np.mean(r <= 0.25) == pytest.approx(0.25, abs=0.015)  # uniform: P(r <= R/2) = 1/4
    peaked = mt.BallLaw((0.0, 0.0), 1.0, radial_power=1.0).sample(20_000, seed=0)
    assert np.mean(np.linalg.norm(peaked, axis=1) <= 0.5) == pytest.approx(0.5, abs=0.015)


# ---------------------------------------------------------------------------------------------
# configurations


def test_fig3_configurations_are_the_papers_eight():
    confs = {c["label"]: c for c in mm.fig3_configurations() if c["paper"]}
    expected = {"a": (1.4, -0.6, 1.0, 1.19, 0.02, 3.8), "b": (1.4, 0.0, 1.0, 0.70, 0.208, 16.5),
                "c": (1.4, 0.7, 1.0, 0.26, 0.578, 96.9), "d": (1.4, 1.4, 1.0, 0.05, 1.0, 344.9),
                "e": (0.0, 0.0, 0.4, 0.36, 0.933, 63.2), "f": (0.0, 0.0, 0.8, 0.10, 0.998, 250.5),
                "g": (0.0, 0.0, 1.3, 0.07, 0.613, 199.7), "h": (0.0, 0.0, 1.6, 0.08, 0.453, 151.5)}
    assert set(confs) == set(expected)
    for lab, (fc, cc, rad, e, u, c) in expected.items():
        got = confs[lab]
        assert (got["feature_center"], got["code_center"], got["code_radius"]) == (fc, cc, rad)
        assert got["paper"] == {"error_rms": e, "utilization": u, "perplexity": c}
    assert [c["label"] for c in mm.fig3_configurations() if c["matched"]] == ["d", "radius-1.0"]


@pytest.mark.parametrize("build,match", [
    (lambda: mm.Theorem1Config(replicates=1), "replicates"),
    (lambda: mm.Theorem1Config(small_radius=1.2), "small_radius"),
    (lambda: mm.Theorem1Config(codebook_sizes=()), "codebook_sizes"),
    (lambda: mm.Fig3Config(codebook_size=0), "codebook_size"),
    (lambda: mm.AppFConfig(families=("laplace",)), "families"),
    (lambda: mm.AppFConfig(scale_factors=(2.0, 3.0)), "scale_factors"),
    (lambda: mm.AppGConfig(scale_factors=(1.0, 2.0)), "scale_factors"),
    (lambda: mm.UtilizationConfig(disk_mass_samples=-5), "disk_mass_samples"),
])
def test_config_validation(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_full_scale_is_the_papers():
    full = mm.SCALES["full"]
    assert max(full.appf.codebook_size_sweep) == 16384
    assert max(full.appf.features_sweep) == 1_000_000
    assert max(full.appf.dims_sweep) == 256 and full.appf.replicates >= 50
    assert (full.appg.codebook_size, full.appg.n_features, full.appg.d) == (8192, 100_000, 8)
    assert (mm.SCALES["quick"].appg.d, mm.SCALES["quick"].fig3.codebook_size) == (8, 400)


# ---------------------------------------------------------------------------------------------
# end to end (tiny), parts, claims


def test_rows_carry_the_documented_fields(tiny_result):
    need = {"part", "case", "d", "codebook_size", "n_features", "error_mse", "error_rms",
            "utilization", "perplexity", "replicate", "paper"}
    parts = {r["part"] for r in tiny_result.rows}
    assert parts == set(mm.PARTS)
    for r in tiny_result.rows:
        assert need <= set(r)
        assert r["error_rms"] == pytest.approx(math.sqrt(r["error_mse"]))
    fig3 = [r for r in tiny_result.rows if r["part"] == "fig3" and r["case"] == "d"]
    assert fig3[0]["paper"]["perplexity"] == 344.9
    assert tiny_result.summary.fig3.panel("d").paper["perplexity"] == 344.9


def test_parts_selection_and_missing_parts():
    res = run_study(matching.STUDY, TINY, seed=5, out_dir=None, progress=False, parts=["appg"])
    assert {r["part"] for r in res.rows} == {"appg"} and res.parts == ("appg",)
    assert res.summary.parts_present == ("appg",) and res.summary.fig3 is None
    for cid in IDS:
        m = CLAIMS[cid].evaluate(res)
        if cid.startswith("matching.appg"):
            continue
        assert m.verdict == "inconclusive" and m.measured.startswith("not run")


def test_theorem1_verdict_can_go_both_ways(tiny_result):
    good = CLAIMS["matching.theorem1"].evaluate(tiny_result)
    assert good.details["matched"]["full"] and good.details["larger"]["not_full"]
    assert good.details["smaller"]["not_vanishing"] and good.details["shifted"]["fails"]
    t1 = tiny_result.summary.theorem1

    def changed(case: str, change):
        return _with(tiny_result, theorem1=replace(t1, cases=tuple(
            change(c) if c.case == case else c for c in t1.cases)))

    full = Estimate(1.0, 1.0, 1.0, 0.0, 1, 2)  # pretend the larger disk reached U = 1
    fake = changed("larger", lambda c: replace(c, per_k=tuple(
        replace(p, utilization_limit=full) for p in c.per_k)))
    assert CLAIMS["matching.theorem1"].evaluate(fake).verdict == "refuted"
    flat = Estimate(-0.01, -0.03, 0.01, 0.01, 100, 102)  # or the matched disk's stopped decaying
    fake = changed("matched", lambda c: replace(c, sup_slope=flat))
    assert CLAIMS["matching.theorem1"].evaluate(fake).verdict == "refuted"


def test_fig3_claims_can_go_both_ways(tiny_result):
    f3 = tiny_result.summary.fig3
    z = {"error_rms": 0.5, "error_mse": 40.0, "utilization": 1.0, "perplexity": -1.0}
    p = {"error_rms": 0.6, "error_mse": 1e-30, "utilization": 0.3, "perplexity": 0.3}
    panels = tuple(replace(c, z_paper_single_draw=z, p_paper_single_draw=p) if c.paper else c
                   for c in f3.panels)
    fake = _with(tiny_result, fig3=replace(f3, panels=panels))
    assert CLAIMS["matching.fig3"].evaluate(fake).verdict == "confirmed"
    assert CLAIMS["matching.fig3_error_is_rms"].evaluate(fake).verdict == "refuted"
    off = tuple(replace(c, p_paper_single_draw={**p, "perplexity": 1e-9}) if c.label == "c" else c
                for c in panels)
    assert CLAIMS["matching.fig3"].evaluate(
        _with(tiny_result, fig3=replace(f3, panels=off))).verdict == "refuted"
    paired = tuple(replace(d, error_mse=replace(d.error_mse, value=-0.01, t=-10.0, p=1e-8))
                   if d.label == "f" else d for d in f3.paired_vs_matched)  # radius 0.8 wins E
    fake = _with(tiny_result, fig3=replace(f3, panels=panels, paired_vs_matched=paired))
    assert CLAIMS["matching.fig3_optimal"].evaluate(fake).verdict == "refuted"


def test_appf_claims_can_go_both_ways(tiny_result):
    af = tiny_result.summary.appf

    def diff(d, **test):
        return replace(d, test=replace(d.test, **test), advantage_t=test.get("t", -5.0))

    def values(change):
        return replace(af, points=tuple(replace(p, values=tuple(change(i, v) for v in p.values))
                                        for i, p in enumerate(af.points)))

    quiet = values(lambda i, v: replace(v, **{f"diff_{c}": diff(v.diff(c), t=-5.0, p=0.5)
                                              for c in ("error_mse", "utilization",
                                                        "perplexity")}))
    assert CLAIMS["matching.appf_utilization"].evaluate(
        _with(tiny_result, appf=quiet)).verdict == "confirmed"
    target = next(v for v in quiet.points[0].values if v.paper_grid and not v.matched)

    def beat(p_value):  # one grid value beats matched on U
        return replace(quiet, points=(replace(quiet.points[0], values=tuple(
            replace(v, diff_utilization=diff(v.diff_utilization, value=0.2, t=8.0, p=p_value))
            if v is target else v for v in quiet.points[0].values)), *quiet.points[1:]))

    assert CLAIMS["matching.appf_utilization"].evaluate(
        _with(tiny_result, appf=beat(1e-9))).verdict == "refuted"
    # significant alone, not after Holm over the grid
    assert CLAIMS["matching.appf_utilization"].evaluate(
        _with(tiny_result, appf=beat(1e-3))).verdict == "confirmed"


def test_appf_error_effect_at_d2_matches_an_independent_recomputation():
    """The study's s = 2 vs s = 1 effect at d = 2, K = 512, N = 10,000 (the quick scale's cell,
    60 paired replicates) against 300 independent paired draws computed another way (scipy's
    k-d tree, a separate random stream): the study's 95% interval must contain it."""
    from scipy.spatial import cKDTree

    q = mm.SCALES["quick"].appf
    reps = [mc.appf_cell("gaussian", 512, 2, 10_000, (0.0,), (1.0, 2.0), (), cell_seed(0, "t"), r)
            for r in range(q.replicates)]
    diffs = [next(x["error_mse"] for x in rows if x["value"] == 2.0 and x["kind"] == "scale")
             - next(x["error_mse"] for x in rows if x["matched"] and x["kind"] == "scale")
             for rows in reps]
    base = np.mean([next(x["error_mse"] for x in rows if x["matched"]) for rows in reps])
    m = mean_ci(diffs)
    ci = (m.low / base, m.high / base)  # the 95% t interval, relative to E(matched)
    rng = np.random.default_rng(2024)
    indep = []
    for _ in range(300):
        x, c = rng.standard_normal((10_000, 2)), rng.standard_normal((512, 2))
        e1 = np.mean(cKDTree(c).query(x)[0] ** 2)
        e2 = np.mean(cKDTree(2 * c).query(x)[0] ** 2)
        indep.append((e2 - e1) / e1)
    truth = float(np.mean(indep))
    assert -0.09 < truth < -0.03  # s = 2 is better by about 6 %
    assert ci[0] <= truth <= ci[1]


def test_appg_claims_can_go_both_ways(tiny_result):
    assert CLAIMS["matching.appg"].evaluate(tiny_result).verdict == "confirmed"
    table = CLAIMS["matching.appg_table"].evaluate(tiny_result)
    assert table.verdict == "inconclusive" and "paper's size" in table.measured
    ag = tiny_result.summary.appg
    steep = Estimate(1.9, 1.898, 1.902, 0.001, 7, 9)
    fake = _with(tiny_result, appg=replace(ag, families=tuple(
        replace(f, slope=steep) if f.family == "gaussian" else f for f in ag.families)))
    assert CLAIMS["matching.appg"].evaluate(fake).verdict == "refuted"


def test_expected_utilization_claim_can_go_both_ways(tiny_result):
    assert CLAIMS["matching.expected_utilization"].evaluate(tiny_result).verdict == "confirmed"
    ut = tiny_result.summary.utilization
    first, *rest = ut.tests
    off = replace(first, residual=replace(first.residual, t=12.0, p=1e-20))
    fake = _with(tiny_result, utilization=replace(ut, tests=(off, *rest)))
    assert CLAIMS["matching.expected_utilization"].evaluate(fake).verdict == "refuted"


# ---------------------------------------------------------------------------------------------
# paper scale (slow)


@pytest.mark.slow
def test_appg_gaussian_at_the_papers_size():
    """One draw at K = 8192, N = 100,000, d = 8: the paper's E = 1.25, U = 0.994, C = 7.27e3."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100_000, 8), dtype=np.float32)
    c = rng.standard_normal((8192, 8), dtype=np.float32)
    t = criterion_triple(x, c)
    assert t.error == pytest.approx(1.25, rel=0.03)
    assert t.utilization == pytest.approx(0.994, abs=0.003)
    assert t.perplexity == pytest.approx(7265, rel=0.02)


@pytest.mark.slow
def test_closed_form_against_simulation_at_larger_k():
    k, n, reps = 2048, 8192, 300
    rng = np.random.default_rng(3)
    u = [np.unique(mt.usage_1d(rng.random(k), rng.random(n))[0]).size / k for _ in range(reps)]
    se = np.std(u, ddof=1) / math.sqrt(reps)
    assert abs(np.mean(u) - mt.expected_utilization_matched_1d(k, n)) < 4 * se
