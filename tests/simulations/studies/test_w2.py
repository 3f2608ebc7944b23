"""The w2 study: exact truths against closed forms, estimator identities, summary and claims."""

import copy
import math
from dataclasses import replace

import numpy as np
import pytest

from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.stats import Estimate
from vqmatch.simulations.studies import CLAIMS, w2
from vqmatch.simulations.studies.w2 import cells as w2c
from vqmatch.simulations.studies.w2 import truth as wt
from vqmatch.simulations.studies.w2.config import W2Config
from vqmatch.simulations.studies.w2.summary import W2Summary
from vqmatch.theory import gaussian_w2

TINY = W2Config(dims=(1, 8), sizes=(50, 100, 200, 400), ot_max_n=400, replicates=5,
                   pairs=("gauss_shift", "gauss_same", "uniform_laplace"), n_projections=20,
                   sliced_truth_directions=2000, gap_separations=(1.5,), misrank_dims=(1,),
                   misrank_n=300, misrank_replicates=4, translation_n=50,
                   translation_replicates=4)


@pytest.fixture(scope="module")
def tiny_result():
    return run_study(w2.STUDY, TINY, seed=1, out_dir=None, progress=False)


def test_quantile_formula_two_gaussians():
    a, b = wt.base_source("gaussian", var=4.0), wt.base_source("gaussian")
    val, err = wt.quantile_w2sq(wt.Affine1D(a, 1.0, 0.3), wt.Affine1D(b, 1.0, 0.0))
    assert val == pytest.approx(0.3**2 + (2 - 1) ** 2, rel=1e-10) and err < 1e-9


@pytest.mark.parametrize("lo1,hi1,lo2,hi2", [(0, 1, 0, 1), (0, 1, 2, 5), (-1, 3, 0.5, 1)])
def test_quantile_formula_two_uniforms(lo1, hi1, lo2, hi2):
    """U(a,b) vs U(c,e): quantiles a + u(b-a), c + u(e-c), so W2^2 = al^2 + al be + be^2/3."""
    from vqmatch.simulations.sources import make_source

    u1, u2 = make_source("uniform", 1, low=lo1, high=hi1), make_source("uniform", 1, low=lo2, high=hi2)
    al, be = lo1 - lo2, (hi1 - lo1) - (hi2 - lo2)
    val, _ = wt.quantile_w2sq(wt.Affine1D(u1), wt.Affine1D(u2))
    assert val == pytest.approx(al**2 + al * be + be**2 / 3, abs=1e-12)


@pytest.mark.parametrize("d", [1, 3, 7])
def test_product_rotation_truth_equals_lemma3_for_gaussian_products(d):
    rng = np.random.default_rng(d)
    rot, s = wt.haar_rotation(rng, d), wt.default_scales(d)
    p = wt.ProductLaw(wt.base_source("gaussian"), s, 0.0, rot)
    q = wt.ProductLaw(wt.base_source("gaussian", var=2.0), 1.5 * s, 0.4, rot)
    w2sq, _ = wt.product_pair_w2sq(p, q)
    assert w2sq == pytest.approx(float(gaussian_w2(p.mean, p.cov, q.mean, q.cov, squared=True)),
                                 rel=1e-9)
    np.testing.assert_allclose(rot @ rot.T, np.eye(d), atol=1e-12)


def test_product_law_moments_match_samples():
    rng = np.random.default_rng(0)
    law = wt.ProductLaw(wt.base_source("laplace"), wt.default_scales(3), 0.5,
                        wt.haar_rotation(rng, 3))
    x = law.sample(200_000, seed=1)
    np.testing.assert_allclose(x.mean(0), law.mean, atol=0.02)
    np.testing.assert_allclose(np.cov(x.T), law.cov, atol=0.05)


def test_product_pair_rejects_mismatched_laws():
    rng = np.random.default_rng(0)
    base = wt.base_source("uniform")
    p = wt.ProductLaw(base, np.ones(2), 0.0, wt.haar_rotation(rng, 2))
    with pytest.raises(ValueError, match="rotation"):
        wt.product_pair_w2sq(p, wt.ProductLaw(base, np.ones(2), 0.0, wt.haar_rotation(rng, 2)))
    with pytest.raises(ValueError, match="proportional"):
        wt.product_pair_w2sq(p, wt.ProductLaw(base, np.array([1.0, 2.0]), 0.0, p.rotation))


def test_gelbrich_simple_case_uniform_vs_gaussian():
    """Same mean and variance: the closed form is 0, the quantile W2 is strictly positive."""
    val, _ = wt.quantile_w2sq(wt.Affine1D(wt.base_source("uniform")),
                              wt.Affine1D(wt.base_source("gaussian")))
    assert val > 1e-3


def test_exact_ot_identical_samples_is_zero_and_translation_is_norm():
    x = np.random.default_rng(0).standard_normal((60, 3))
    assert w2c.exact_ot_w2(x, x) == pytest.approx(0.0, abs=1e-7)
    v = np.array([0.3, -0.4, 1.2])
    assert w2c.exact_ot_w2(x, x + v) == pytest.approx(np.linalg.norm(v), rel=1e-9)
    x1 = x[:, :1]
    assert w2c.exact_ot_w2(x1, x1[::-1] + 2.0) == pytest.approx(2.0, rel=1e-12)


def test_sliced_on_a_translation_is_the_direction_average():
    """sqrt(d) SW2(P, P + v) = sqrt(d mean_l (theta_l . v)^2) exactly for the given directions."""
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal((40, 5)), rng.standard_normal(5)
    proj = w2c.random_directions(rng, 5, 30)
    assert w2c.sliced_w2(x, x + v, proj) == pytest.approx(
        math.sqrt(5 * np.mean((v @ proj) ** 2)), rel=1e-10)
    assert w2c.max_sliced_w2(x, x + v, proj) <= np.linalg.norm(v) + 1e-12


@pytest.mark.parametrize("d", [1, 3])
def test_sliced_by_sorting_equals_pot(d):
    import ot

    rng = np.random.default_rng(d)
    x, y = rng.standard_normal((70, d)), 2 * rng.standard_normal((70, d)) + 1
    proj = w2c.random_directions(rng, d, 15)
    assert w2c.sliced_w2(x, y, proj) == pytest.approx(
        math.sqrt(d) * ot.sliced_wasserstein_distance(x, y, projections=proj), rel=1e-10)
    assert w2c.max_sliced_w2(x, y, proj) == pytest.approx(
        ot.max_sliced_wasserstein_distance(x, y, projections=proj), rel=1e-10)


def test_gaussian_sliced_truth_translation_and_bound():
    d, m = 4, np.array([1.0, 0.0, 0.0, 0.0])
    c = np.diag([1.0, 2.0, 0.5, 1.5])
    val, se = wt.gaussian_sliced_w2sq(np.zeros(d), c, m, c, n_directions=1000, seed=0)
    assert val == pytest.approx(1.0 / d, rel=1e-12) and se == 0.0
    c2 = np.diag([3.0, 1.0, 1.0, 0.2])
    val, se = wt.gaussian_sliced_w2sq(np.zeros(d), c, m, c2, n_directions=20_000, seed=0)
    assert d * val <= float(gaussian_w2(np.zeros(d), c, m, c2, squared=True)) + 4 * d * se


def test_config_validation():
    with pytest.raises(ValueError, match="dims"):
        W2Config(dims=(0, 2))
    with pytest.raises(ValueError, match="sizes"):
        W2Config(sizes=(200, 100))
    with pytest.raises(ValueError, match="pairs"):
        W2Config(pairs=("nope",))
    with pytest.raises(ValueError, match="replicates"):
        W2Config(replicates=1)
    with pytest.raises(ValueError, match="separation"):
        W2Config(gap_separations=(-1.0,))
    with pytest.raises(ValueError, match="label"):
        wt.base_source("cauchy")


def test_slopes_on_synthetic_rows():
    """Rows whose error is exactly 3 n^-0.5 (and 2 n^-0.1) give those slopes back."""
    rows = []
    for n in (100, 400, 1600):
        for r in range(3):
            for est, err in (("closed_form_emp", 3 * n**-0.5), ("exact_ot", 2 * n**-0.1)):
                rows.append({"part": "sweep", "pair": "gauss_same", "d": 8, "n": n, "estimator": est,
                             "replicate": r, "value": err, "truth": 0.0, "abs_error": err,
                             "seconds": 1e-3 * n, "target": 0.0, "target_error": err})
    s = W2Summary.from_rows(TINY, rows)
    slopes = {x.estimator: x for x in s.slopes}
    assert slopes["closed_form_emp"].slope.value == pytest.approx(-0.5, abs=1e-9)
    assert slopes["exact_ot"].slope.value == pytest.approx(-0.1, abs=1e-9)
    assert slopes["exact_ot"].slope.df == 1 and slopes["exact_ot"].n_range == (100, 1600)
    assert slopes["exact_ot"].theory == pytest.approx(-1 / 8)


def test_tiny_run_rows_and_claims(tiny_result):
    rows = tiny_result.rows
    assert {r["part"] for r in rows} == {"truth", "sweep", "translation", "gap", "misrank"}
    for r in rows:
        assert {"pair", "d", "n", "estimator", "value", "truth", "abs_error", "seconds",
                "replicate"} <= set(r)
    ests = {r["estimator"] for r in rows if r["part"] == "sweep" and r["d"] == 8}
    assert ests == {"closed_form_emp", "exact_ot", "sliced", "max_sliced"}
    assert CLAIMS["w2.gelbrich_every_pair"].evaluate(tiny_result).verdict == "confirmed"
    assert all(m.misranked for m in tiny_result.summary.misrank)
    assert {g.separation for g in tiny_result.summary.gap} == {1.5}
    for cid in ("w2.lemma3_large_sample", "w2.rates_closed_form_vs_exact_ot", "w2.sliced_relation",
                "w2.surrogate_misranks"):
        assert CLAIMS[cid].evaluate(tiny_result).verdict != "refuted", cid


def test_same_pair_in_every_cell_of_one_pair_and_d(tiny_result):
    truths = {(r["pair"], r["d"], r["truth"]) for r in tiny_result.rows if r["part"] == "sweep"}
    assert len(truths) == len({(p, d) for p, d, _ in truths})


def test_gelbrich_claim_refutes_a_violation(tiny_result):
    bad = copy.copy(tiny_result)
    first, *rest = tiny_result.summary.gelbrich
    bad.summary = replace(tiny_result.summary, gelbrich=(replace(first, holds=False), *rest))
    assert CLAIMS["w2.gelbrich_every_pair"].evaluate(bad).verdict == "refuted"


def test_misrank_claim_refutes_when_rankings_agree(tiny_result):
    bad = copy.copy(tiny_result)
    bad.summary = replace(tiny_result.summary, misrank=tuple(
        replace(m, misranked=False) for m in tiny_result.summary.misrank))
    assert CLAIMS["w2.surrogate_misranks"].evaluate(bad).verdict == "refuted"


def test_rates_claim_refutes_a_cursed_closed_form(tiny_result):
    bad = copy.copy(tiny_result)
    flat = Estimate(-0.05, -0.08, -0.02, 0.01, 2, 4)
    bad.summary = replace(tiny_result.summary, slopes=tuple(
        replace(x, slope=flat) if x.estimator == "closed_form_emp" else x
        for x in tiny_result.summary.slopes))
    assert CLAIMS["w2.rates_closed_form_vs_exact_ot"].evaluate(bad).verdict == "refuted"


@pytest.mark.slow
def test_quick_scale_claims_confirmed():
    res = run_study(w2.STUDY, w2.STUDY.config("quick"), seed=0, out_dir=None, progress=False)
    for cid in ("w2.rates_closed_form_vs_exact_ot", "w2.gelbrich_every_pair",
                "w2.surrogate_misranks", "w2.sliced_relation", "w2.lemma3_large_sample"):
        assert CLAIMS[cid].evaluate(res).verdict == "confirmed", cid
