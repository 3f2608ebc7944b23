"""The atomic study and its training machinery: sources, evaluation against brute force, a tiny
end-to-end run with the real quantizer library, and claim evaluators on synthetic rows that must
confirm or refute."""

import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.linalg

from simulations import _training as tr
from simulations import atomic
from simulations.registry import CLAIMS, VERDICTS, StudyResult, run_study

TINY_TRAIN = tr.TrainSettings(n_codes=16, steps=10, batch_size=128, eval_every=5,
                              eval_samples=512, threads=1)
TINY = atomic.AtomicConfig(
    quantizers=("vanilla", "online", "online_farthest", "wasserstein"), sources=("gaussian",),
    shifts=(0.0, 3.0), train=TINY_TRAIN, replicates=2, density_dims=(2,),
    density_train=replace(TINY_TRAIN, n_codes=8), density_replicates=2)
FIELDS = {"quantizer", "base", "source", "mu", "d", "n_codes", "replicate", "step", "error",
          "utilization", "perplexity", "w2", "seconds", "part"}


@pytest.fixture(scope="module")
def tiny_result():
    pytest.importorskip("torch")
    study = type(atomic.STUDY)(**{**atomic.STUDY.__dict__, "presets": {"quick": TINY}})
    return run_study(study, "quick", seed=5, out_dir=None, progress=False)


# ---------------------------------------------------------------------------------------------
# machinery


def test_evaluate_codebook_against_brute_force():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 3)).astype(np.float32) + 0.5
    c = (rng.standard_normal((40, 3)) * 1.3).astype(np.float32)
    got = tr.evaluate_codebook(x, c)
    d2 = ((x[:, None, :].astype(float) - c[None, :, :].astype(float)) ** 2).sum(-1)
    idx = d2.argmin(1)
    counts = np.bincount(idx, minlength=len(c))
    p = counts[counts > 0] / counts.sum()
    assert got["error"] == pytest.approx(d2.min(1).mean(), rel=1e-5)
    assert got["utilization"] == pytest.approx((counts > 0).mean())
    assert got["perplexity"] == pytest.approx(math.exp(-(p * np.log(p)).sum()), rel=1e-9)
    # symmetric closed form with biased moments, by an independent scipy sqrtm
    mx, my = x.astype(float).mean(0), c.astype(float).mean(0)
    sx, sy = np.cov(x.T, ddof=0), np.cov(c.T, ddof=0)
    root = scipy.linalg.sqrtm(sx)
    cross = np.real(scipy.linalg.sqrtm(root @ sy @ root))
    w2 = math.sqrt(((mx - my) ** 2).sum() + np.trace(sx + sy - 2 * cross))
    assert got["w2"] == pytest.approx(w2, rel=1e-6)


@pytest.mark.parametrize("z", [0.0, 1.5])
def test_bimodal_source_moments(z):
    d = 4
    src = tr.feature_source("bimodal", z, d)
    np.testing.assert_allclose(src.mean, np.zeros(d), atol=1e-12)
    np.testing.assert_allclose(src.cov, np.eye(d) + z * z * np.ones((d, d)), atol=1e-12)
    x = src.sample(40_000, seed=1)
    np.testing.assert_allclose(x.mean(0), 0.0, atol=5 * math.sqrt((1 + z * z) / 40_000))
    np.testing.assert_allclose(np.cov(x.T), src.cov, atol=0.05 * (1 + z * z))
    # two modes: given x_0 > 0 the mode is +z with probability Phi(z), so that the other
    # coordinates average z (2 Phi(z) - 1); a unimodal law with this covariance would not
    top = x[:, 0] > 0
    from scipy.stats import norm

    assert x[top, 1].mean() == pytest.approx(z * (2 * norm.cdf(z) - 1), abs=0.03)


def test_other_sources_and_inits():
    u = tr.feature_source("uniform", 2.0, 3)
    np.testing.assert_allclose(u.mean, 2.0)
    np.testing.assert_allclose(np.diag(u.cov), 1 / 3)
    g = tr.feature_source("gaussian", 5.0, 2)
    np.testing.assert_allclose(g.mean, 5.0)
    t = tr.feature_source("student_t", 0.0, 2)
    np.testing.assert_allclose(np.diag(t.cov), 3.0)  # df / (df - 2) at df = 3
    init = tr.initial_codebook("uniform", 1000, 2, seed=0)
    assert init.dtype == np.float32 and init.min() >= -1 and init.max() <= 1
    with pytest.raises(ValueError, match="source"):
        tr.feature_source("cauchy", 0.0, 2)
    with pytest.raises(ValueError, match="init"):
        tr.initial_codebook("laplace", 4, 2, seed=0)


def test_eval_steps_include_start_and_end():
    assert tr.eval_steps(replace(TINY_TRAIN, steps=25, eval_every=10)) == [0, 10, 20, 25]
    assert tr.eval_steps(TINY_TRAIN) == [0, 5, 10]


@pytest.mark.parametrize("bad", [{"steps": 0}, {"n_codes": 1}, {"batch_size": 1.5},
                                 {"eval_every": True}])
def test_train_settings_validation(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        tr.TrainSettings(**bad)


@pytest.mark.parametrize("bad, name", [({"quantizers": ("nope",)}, "quantizers"),
                                       ({"quantizers": ()}, "quantizers"),
                                       ({"sources": ("bimodal",)}, "sources"),
                                       ({"shifts": (-1.0,)}, "shifts"),
                                       ({"replicates": 0}, "replicates"),
                                       ({"density_dims": (0,)}, "density_dims")])
def test_config_validation(bad, name):
    with pytest.raises(ValueError, match=name):
        atomic.AtomicConfig(**bad)
    with pytest.raises(TypeError, match="train"):
        atomic.AtomicConfig(train={"n_codes": 4})


def test_presets_are_valid_and_full_is_the_papers_scale():
    full = atomic.PRESETS["full"].train
    assert (full.n_codes, full.dim, full.steps, full.batch_size, full.eval_every,
            full.eval_samples) == (16384, 8, 2000, 50_000, 100, 200_000)
    assert atomic.PRESETS["full"].shifts == tuple(float(m) for m in range(9))
    assert set(atomic.PRESETS["full"].quantizers) == set(atomic.ATOMIC_VARIANTS)


def test_paired_difference_pairs_by_replicate():
    rows = [{"quantizer": q, "source": "s", "mu": 0.0, "d": 2, "replicate": r, "step": 5,
             "error": base + r + (0.1 * r if q == "a" else 0.0)}
            for q, base in (("a", 2.0), ("b", 1.0)) for r in range(4)]
    rows += [dict(r, step=0, error=99.0) for r in rows]  # earlier steps are ignored
    diff = tr.paired_difference(rows, "error", {"quantizer": "a"}, {"quantizer": "b"})
    assert diff["mean"] == pytest.approx(1.15)
    assert diff["n"] == 4 and diff["z"] > 5
    assert tr.paired_difference(rows[:1], "error", {"quantizer": "a"}, {"quantizer": "b"}) is None


# ---------------------------------------------------------------------------------------------
# tiny end-to-end run (real quantizer library)


def test_rows_carry_the_documented_fields(tiny_result):
    rows = tiny_result.rows
    assert rows and all(FIELDS <= set(r) for r in rows)
    shift = [r for r in rows if r["part"] == "shift"]
    assert {r["quantizer"] for r in shift} == set(TINY.quantizers)
    assert {r["step"] for r in shift} == {0, 5, 10}
    assert {r["base"] for r in shift if r["quantizer"] == "online_farthest"} == {"online"}
    assert {r["quantizer"] for r in rows if r["part"] == "density"} == set(atomic.DENSITY_VARIANTS)
    for r in rows:
        assert 0 < r["utilization"] <= 1 and 1 <= r["perplexity"] <= r["n_codes"]
        assert r["error"] > 0 and r["w2"] >= 0


def test_common_random_numbers_across_variants(tiny_result):
    """Every variant of a (source, shift, replicate) starts from the same codebook and is
    evaluated on the same features, so the step-0 rows agree exactly."""
    start = {}
    for r in tiny_result.rows:
        if r["step"] == 0 and r["part"] == "shift" and r["quantizer"] != "linear":
            start.setdefault((r["mu"], r["replicate"]), set()).add((r["error"], r["w2"]))
    assert all(len(v) == 1 for v in start.values())
    assert len({next(iter(v)) for v in start.values()}) == len(start)  # replicates differ


def test_initial_w2_is_the_mean_shift(tiny_result):
    """At step 0 the codebook is N(0, I) and the features N(mu 1, I): W2 ~ mu sqrt(d)."""
    for r in tiny_result.rows:
        if r["step"] == 0 and r["part"] == "shift" and r["mu"] == 3.0:
            assert r["w2"] == pytest.approx(3.0 * math.sqrt(8), rel=0.1)


def test_claims_evaluate_on_the_tiny_run(tiny_result):
    ids = [c for c in CLAIMS if c.startswith("atomic.")]
    assert len(ids) == 5
    for cid in ids:
        m = CLAIMS[cid].evaluate(tiny_result)
        assert m.verdict in VERDICTS and m.measured


# ---------------------------------------------------------------------------------------------
# claim evaluators on synthetic rows


def _synthetic(values, *, shifts=(0.0, 4.0), reps=4, noise=0.002, density=None, seed=0):
    """Final rows with prescribed means: values[q](mu) -> (E, U, W2); density[target](d) -> E."""
    rng = np.random.default_rng(seed)
    rows = []
    for q, f in values.items():
        for mu in shifts:
            e, u, w = f(mu)
            for r in range(reps):
                rows.append({"part": "shift", "quantizer": q, "base": q, "source": "gaussian",
                             "mu": mu, "d": 8, "n_codes": 64, "replicate": r, "step": 10,
                             "seconds": 1.0, "error": e * (1 + noise * rng.standard_normal()),
                             "utilization": min(1.0, u + noise * rng.standard_normal()),
                             "perplexity": 10.0, "w2": w + noise * rng.standard_normal()})
    for target, f in (density or {}).items():
        for d in (2, 4, 8):
            for r in range(reps):
                rows.append({"part": "density", "quantizer": target, "base": target,
                             "source": "gaussian", "mu": 0.0, "d": d, "n_codes": 64,
                             "replicate": r, "step": 10, "seconds": 1.0,
                             "error": f(d) * (1 + noise * rng.standard_normal()),
                             "utilization": 1.0, "perplexity": 10.0, "w2": 0.1})
    cfg = atomic.PRESETS["quick"]
    return StudyResult("atomic", "quick", 0, cfg, rows, atomic._summarize(cfg, rows), 0.0)


def _paper_like(mu):
    """What the paper reports: W keeps U ~ 1 and E ~ 1; the baselines collapse with the shift."""
    return {"wasserstein": lambda m: (1.0, 0.99, 0.02),
            "vanilla": lambda m: (1.0 + m, 0.99 if m == 0 else 0.01, 0.05 + 2.8 * m),
            "ema": lambda m: (1.0 + 0.5 * m, 0.99 if m == 0 else 0.02, 0.05 + 2.8 * m),
            "online": lambda m: (1.0 + 0.1 * m, 0.99 if m == 0 else 0.23, 0.05 + 0.5 * m),
            "online_farthest": lambda m: (1.0 + 0.3 * m, 0.99 if m == 0 else 0.1, 0.05 + m),
            "linear": lambda m: (1.05 + 0.3 * m, 0.99 if m == 0 else 0.1, 0.05 + 2 * m)}


def _reversed(mu):
    """The opposite world: Wasserstein collapses, the baselines do well."""
    return {"wasserstein": lambda m: (1.0 + m, 0.99 if m == 0 else 0.05, 0.05 + 2 * m),
            "vanilla": lambda m: (1.0, 0.99, 0.02), "ema": lambda m: (1.0, 0.99, 0.02),
            "online": lambda m: (1.0 + 0.3 * m, 0.5, 0.3),
            "online_farthest": lambda m: (1.0 + 0.1 * m, 0.6, 0.2),
            "linear": lambda m: (1.0, 0.99, 0.02)}


def test_shift_claims_confirm_on_paper_like_rows():
    res = _synthetic(_paper_like(None))
    for cid in ("atomic.wasserstein_utilization", "atomic.wasserstein_error", "atomic.alignment",
                "atomic.online_anchor"):
        assert CLAIMS[cid].evaluate(res).verdict == "confirmed", cid


def test_shift_claims_refute_on_reversed_rows():
    res = _synthetic(_reversed(None))
    for cid in ("atomic.wasserstein_utilization", "atomic.wasserstein_error", "atomic.alignment",
                "atomic.online_anchor"):
        assert CLAIMS[cid].evaluate(res).verdict == "refuted", cid


def test_authors_table_is_attached():
    res = _synthetic(_paper_like(None))
    row = next(a for a in res.summary["authors_comparison"]
               if a["quantizer"] == "vanilla" and a["mu"] == 4.0)
    assert row["authors_utilization"] == atomic.AUTHORS_FINAL_STEP2000["gaussian"]["vanilla"][
        "utilization"][4]


@pytest.mark.parametrize("adjusted, verdict", [(0.95, "refuted"), (1.05, "confirmed"),
                                                (1.0, "inconclusive")])
def test_density_claim_follows_the_paired_difference(adjusted, verdict):
    res = _synthetic(_paper_like(None), density={
        "wasserstein": lambda d: 1.0, "density_wasserstein": lambda d: adjusted,
        "density_finite_k": lambda d: adjusted}, noise=0.001 if adjusted != 1.0 else 0.01)
    m = CLAIMS["atomic.density_target"].evaluate(res)
    assert m.verdict == verdict, m.measured


def test_figures_draw_from_the_tiny_run(tiny_result, tmp_path):
    pytest.importorskip("matplotlib")
    from figures import atomic as fig
    from simulations.store import write_json

    write_json(tmp_path / "results" / "atomic" / "summary.json", {"summary": tiny_result.summary})
    paths = fig.make(tmp_path)
    assert {p.name for p in paths} >= {"atomic.png", "atomic.pdf", "atomic_curves.png",
                                       "atomic_density.png"}
    assert all(p.stat().st_size > 0 for p in paths)


@pytest.mark.slow
def test_quick_preset_reproduces_the_collapse_and_the_anchor_effect():
    """The registry's quick preset (minutes): Wasserstein keeps U ~ 1 at mu = 4 while Vanilla and
    EMA collapse, and farthest anchors cost the Online baseline (the authors' CSVs: same signs)."""
    res = run_study("atomic", "quick", seed=0, out_dir=None, progress=False)
    assert CLAIMS["atomic.wasserstein_utilization"].evaluate(res).verdict == "confirmed"
    assert CLAIMS["atomic.online_anchor"].evaluate(res).verdict == "confirmed"
