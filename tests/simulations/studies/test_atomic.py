"""The atomic study: configuration, a tiny end-to-end run with the real quantizer library, and
claim evaluators on synthetic rows that must confirm or refute."""

import math
from dataclasses import replace

import numpy as np
import pytest

from vqmatch.simulations.core.registry import StudyResult
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.engines.training import TrainSettings
from vqmatch.simulations.studies import CLAIMS, atomic
from vqmatch.simulations.studies.atomic import config as ac
from vqmatch.simulations.studies.atomic.summary import AtomicSummary

TINY_TRAIN = TrainSettings(codebook_size=16, steps=10, batch_size=128, eval_every=5,
                           eval_samples=512)
TINY = ac.AtomicConfig(
    quantizers=("vanilla", "online", "online_farthest", "wasserstein"), sources=("gaussian",),
    shifts=(0.0, 3.0), train=TINY_TRAIN, replicates=2, density_dims=(2,),
    density_train=replace(TINY_TRAIN, codebook_size=8), density_replicates=2)
FIELDS = {"quantizer", "base", "source", "shift", "separation", "d", "codebook_size", "replicate",
          "step", "error", "utilization", "perplexity", "w2", "seconds", "part"}


@pytest.fixture(scope="module")
def tiny_result():
    return run_study(atomic.STUDY, TINY, seed=5, out_dir=None, progress=False)


# ---------------------------------------------------------------------------------------------
# machinery


@pytest.mark.parametrize("bad, name", [({"quantizers": ("nope",)}, "quantizers"),
                                       ({"quantizers": ()}, "quantizers"),
                                       ({"sources": ("bimodal",)}, "sources"),
                                       ({"shifts": (-1.0,)}, "shifts"),
                                       ({"replicates": 0}, "replicates"),
                                       ({"density_dims": (0,)}, "density_dims")])
def test_config_validation(bad, name):
    with pytest.raises(ValueError, match=name):
        ac.AtomicConfig(**bad)
    with pytest.raises(TypeError, match="train"):
        ac.AtomicConfig(train={"codebook_size": 4})


def test_full_scale_is_the_papers():
    full = ac.SCALES["full"].train
    assert (full.codebook_size, full.dim, full.steps, full.batch_size, full.eval_every,
            full.eval_samples) == (16384, 8, 2000, 50_000, 100, 200_000)
    assert ac.SCALES["full"].shifts == tuple(float(m) for m in range(9))
    assert set(ac.SCALES["full"].quantizers) == set(ac.ATOMIC_VARIANTS)


# ---------------------------------------------------------------------------------------------
# tiny end-to-end run (real quantizer library)


def test_rows_carry_the_documented_fields(tiny_result):
    rows = tiny_result.rows
    assert rows and all(FIELDS <= set(r) for r in rows)
    shift = [r for r in rows if r["part"] == "shift"]
    assert {r["quantizer"] for r in shift} == set(TINY.quantizers)
    assert {r["step"] for r in shift} == {0, 5, 10}
    assert {r["base"] for r in shift if r["quantizer"] == "online_farthest"} == {"online"}
    assert {r["quantizer"] for r in rows if r["part"] == "density"} == set(ac.DENSITY_VARIANTS)
    for r in rows:
        assert 0 < r["utilization"] <= 1 and 1 <= r["perplexity"] <= r["codebook_size"]
        assert r["separation"] == 0.0
        assert r["error"] > 0 and r["w2"] >= 0


def test_common_random_numbers_across_variants(tiny_result):
    """Every variant of a (source, shift, replicate) starts from the same codebook and is
    evaluated on the same features, so the step-0 rows agree exactly."""
    start = {}
    for r in tiny_result.rows:
        if r["step"] == 0 and r["part"] == "shift" and r["quantizer"] != "linear":
            start.setdefault((r["shift"], r["replicate"]), set()).add((r["error"], r["w2"]))
    assert all(len(v) == 1 for v in start.values())
    assert len({next(iter(v)) for v in start.values()}) == len(start)  # replicates differ


def test_initial_w2_is_the_mean_shift(tiny_result):
    """At step 0 the codebook is N(0, I) and the features N(mu 1, I): W2 ~ mu sqrt(d)."""
    for r in tiny_result.rows:
        if r["step"] == 0 and r["part"] == "shift" and r["shift"] == 3.0:
            assert r["w2"] == pytest.approx(3.0 * math.sqrt(8), rel=0.1)


def test_claims_need_enough_replicates(tiny_result):
    """Two replicates cannot support a t-test verdict: every comparison claim says so."""
    ids = [c for c in CLAIMS if c.startswith("atomic.")]
    assert len(ids) == 5
    for cid in ("atomic.wasserstein_error", "atomic.alignment", "atomic.online_anchor",
                "atomic.density_target"):
        m = CLAIMS[cid].evaluate(tiny_result)
        assert m.verdict == "inconclusive" and "replicate" in m.measured, cid


# ---------------------------------------------------------------------------------------------
# claim evaluators on synthetic rows


def _synthetic(values, *, shifts=(0.0, 4.0), reps=6, noise=0.002, density=None, seed=0):
    """Final rows with prescribed means: values[q](mu) -> (E, U, W2); density[target](d) -> E."""
    rng = np.random.default_rng(seed)
    rows = []
    for q, f in values.items():
        for mu in shifts:
            e, u, w = f(mu)
            for r in range(reps):
                rows.append({"part": "shift", "quantizer": q, "base": q, "source": "gaussian",
                             "shift": mu, "separation": 0.0, "d": 8, "codebook_size": 64,
                             "replicate": r, "step": 10,
                             "seconds": 1.0, "error": e * (1 + noise * rng.standard_normal()),
                             "utilization": min(1.0, u + noise * rng.standard_normal()),
                             "perplexity": 10.0, "w2": w + noise * rng.standard_normal()})
    for target, f in (density or {}).items():
        for d in (2, 4, 8):
            for r in range(reps):
                rows.append({"part": "density", "quantizer": target, "base": target,
                             "source": "gaussian", "shift": 0.0, "separation": 0.0, "d": d,
                             "codebook_size": 64,
                             "replicate": r, "step": 10, "seconds": 1.0,
                             "error": f(d) * (1 + noise * rng.standard_normal()),
                             "utilization": 1.0, "perplexity": 10.0, "w2": 0.1})
    cfg = ac.SCALES["quick"]
    return StudyResult("atomic", "quick", 0, cfg, rows, AtomicSummary.from_rows(cfg, rows), 0.0)


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
    row = next(a for a in res.summary.authors_comparison
               if a.quantizer == "vanilla" and a.shift == 4.0)
    assert row.authors_utilization == ac.AUTHORS_FINAL_STEP2000["gaussian"]["vanilla"][
        "utilization"][4]


@pytest.mark.parametrize("adjusted, verdict", [(0.95, "refuted"), (1.05, "confirmed"),
                                                (1.0, "inconclusive")])
def test_density_claim_follows_the_paired_difference(adjusted, verdict):
    res = _synthetic(_paper_like(None), density={
        "wasserstein": lambda d: 1.0, "density_wasserstein": lambda d: adjusted,
        "density_finite_k": lambda d: adjusted}, noise=0.001 if adjusted != 1.0 else 0.01)
    m = CLAIMS["atomic.density_target"].evaluate(res)
    assert m.verdict == verdict, m.measured


@pytest.mark.slow
def test_quick_scale_reproduces_the_collapse_and_the_anchor_effect():
    """The quick scale (minutes): Wasserstein keeps U ~ 1 at mu = 4 while Vanilla and
    EMA collapse, and farthest anchors cost the Online baseline (the authors' CSVs: same signs)."""
    res = run_study(atomic.STUDY, atomic.STUDY.config("quick"), seed=0, out_dir=None,
                    progress=False)
    assert CLAIMS["atomic.wasserstein_utilization"].evaluate(res).verdict == "confirmed"
    assert CLAIMS["atomic.online_anchor"].evaluate(res).verdict == "confirmed"
