"""The VQ-VAE evidence layer: the beta sweep and the sensitivity grid, the plateau and the
utilization ceiling of a summary point, the equal-beta comparisons read from rows, and the claims
on small codebooks and on hyperparameter robustness, each able to confirm, refute or stay open."""

import math
from dataclasses import replace

import pytest

from tests.simulations.studies.test_vqvae import _est, _point, _result
from vqmatch.simulations.core.verdicts import PLATEAU_E, PLATEAU_U
from vqmatch.simulations.studies import CLAIMS
from vqmatch.simulations.studies.vqvae import config as vc
from vqmatch.simulations.studies.vqvae import summary as vs


def test_sweep_points_skip_the_paper_points():
    cfg = vc.VQVAEConfig(quantizers=("vanilla", "wasserstein", "ema"), codebook_sizes=(32, 256),
                         beta_sweep=(0.1, 0.5, 1.0), sensitivity=((0.5, 0.02), (0.1, 0.02)),
                         control=False)
    sweep = vc.sweep_points(cfg, "builtin")
    assert {(p.quantizer, p.beta, p.gamma, p.codebook_lr, p.setting) for p in sweep} == {
        ("vanilla", 0.1, None, None, "beta"), ("vanilla", 0.5, None, None, "beta"),
        ("wasserstein", 0.5, None, None, "beta"), ("wasserstein", 1.0, None, None, "beta"),
        ("wasserstein", None, 0.1, 0.02, "sensitivity")}
    assert {p.codebook_size for p in sweep} == {256}  # the largest K only
    assert set(sweep) <= set(cfg.points()) and len(cfg.points()) == len(set(cfg.points()))
    # without the quantizers, no sweep
    assert vc.sweep_points(replace(cfg, quantizers=("ema",)), "builtin") == []


@pytest.mark.parametrize("change, match", [
    (dict(beta_sweep=(-1.0,)), "beta_sweep"),
    (dict(sensitivity=((0.5, 0.0),)), "sensitivity"),
    (dict(sensitivity=((-0.1, 0.02),)), "sensitivity"),
    (dict(latent_points=-1), "latent_points"),
])
def test_sweep_validation(change, match):
    with pytest.raises(ValueError, match=match):
        vc.VQVAEConfig(**change)


def test_scales_hold_the_comparisons_the_claims_make():
    default = vc.SCALES["default"]
    assert default.replicates >= 5 and {32, 64, 128} <= set(default.codebook_sizes)
    assert max(default.codebook_sizes) >= 4096
    settings = {p.setting for p in default.points()}
    assert settings == {"paper", "control", "beta", "sensitivity"}
    assert set(default.quantizers) == {"vanilla", "ema", "online", "wasserstein", "mmd", "ste++"}


def test_utilization_ceiling_is_the_closed_form():
    p = replace(_point("wasserstein", 0.9, 25.0, k=4096), heldout_tokens=39_680)
    assert p.utilization_ceiling == pytest.approx(1 - (1 - 1 / 4096) ** 39_680, rel=1e-12)
    assert p.utilization_ceiling == pytest.approx(1 - math.exp(-39_680 / 4096), rel=1e-3)
    assert replace(p, codebook_size=32).utilization_ceiling == pytest.approx(1.0, abs=1e-12)
    assert replace(p, heldout_tokens=None).utilization_ceiling is None


def _rows(u, e, steps=(100, 200, 300, 400), **extra):
    base = dict(quantizer="wasserstein", codebook_size=64, codebook_dim=8, dataset="builtin",
                gamma=None, beta=None, codebook_lr=None, setting="paper", replicate=0)
    return [dict(base, step=s, utilization=a, error=b, **extra) for s, a, b in zip(steps, u, e,
                                                                                   strict=True)]


def test_plateau_compares_the_last_quarter():
    # the change is final minus the last evaluation at or before 3/4 of the steps (step 300)
    ch = vs._changes(_rows((0.1, 0.5, 0.9, 0.95), (1.0, 0.5, 0.2, 0.19)))
    ((key, (du, de)),) = ch.items()
    assert key == ("wasserstein", 64, 8, "builtin", None, None, None, "paper", 0)
    assert du == pytest.approx(0.05) and de == pytest.approx(-0.05)
    flat = vs._changes(_rows((0.5, 0.9, 0.9, 0.9 + PLATEAU_U / 2), (1.0, 0.5, 0.2, 0.2)))
    moving = vs._changes(_rows((0.5, 0.9, 0.9, 0.9 + 2 * PLATEAU_U), (1.0, 0.5, 0.2, 0.2)))
    e_moving = vs._changes(_rows((0.5, 0.9, 0.9, 0.9), (1.0, 0.5, 0.2, 0.2 * (1 - 2 * PLATEAU_E))))
    assert vs._changes(_rows((0.5,), (1.0,), steps=(100,))) == {}  # one evaluation: unknown
    point = _point("wasserstein", 0.9, 25.0)
    for changes, converged in ((flat, True), (moving, False), (e_moving, False)):
        ((du, de),) = changes.values()
        p = replace(point, utilization_change=_est(du), error_change=_est(de))
        assert p.converged is converged
    assert point.converged is None


def test_equal_beta_pairs_wasserstein_and_vanilla_at_each_beta():
    def final(q, beta, setting, gap, r):
        return dict(quantizer=q, codebook_size=1024, codebook_dim=8, dataset="builtin", beta=beta,
                    setting=setting, replicate=r, gap_mean=gap, psnr_y=20.0 + gap,
                    utilization=0.5)
    rows = [final("wasserstein", 0.1, "paper", 0.01 + 0.001 * r, r) for r in range(3)]
    rows += [final("vanilla", 1.0, "paper", 0.05, r) for r in range(3)]
    rows += [final("vanilla", 0.1, "beta", 0.02 + 0.002 * r, r) for r in range(3)]
    rows += [final("wasserstein", 1.0, "beta", 0.04, r) for r in range(3)]
    rows += [final("vanilla", 0.1, "control", 9.0, r) for r in range(3)]  # not a beta point
    eq = vs._equal_beta(rows, 1024)
    assert [e.beta for e in eq] == [0.1, 1.0]
    assert eq[0].gap_mean.diff == pytest.approx(0.011 - 0.022)  # W(0.1) - V(0.1), paired
    assert eq[0].gap_mean.replicates == 3
    assert eq[1].gap_mean.diff == pytest.approx(0.04 - 0.05)
    assert vs._equal_beta(rows, 64) == ()


def _sensitivity_result(us, n=5):
    base = _result(0.99, 0.1, 0.97, 0.3, n=n)
    pts = [_point("wasserstein", us[0], 25.0, n=n)]
    pts += [replace(_point("wasserstein", u, 25.0, setting="sensitivity", lr=lr, n=n), gamma=g)
            for u, (g, lr) in zip(us[1:], ((0.1, 0.02), (2.0, 0.02), (0.5, 0.005)), strict=False)]
    s = replace(base.summary, points=(*base.summary.points[1:], *pts))
    return replace(base, summary=s)


def test_hyperparameter_robustness_claim():
    claim = CLAIMS["vqvae.hyperparameter_robustness"]
    assert claim.evaluate(_sensitivity_result((0.99, 0.98, 0.97, 0.99))).verdict == "confirmed"
    m = claim.evaluate(_sensitivity_result((0.99, 0.5, 0.97, 0.99)))
    assert m.verdict == "refuted" and "gamma 0.1, codebook lr 0.02" in m.measured
    assert claim.evaluate(_sensitivity_result((0.99, 0.98, 0.97, 0.99), n=1)).verdict == "inconclusive"
    # the interval straddles the threshold: open
    near = _sensitivity_result((0.99, 0.955, 0.97, 0.99))
    assert claim.evaluate(near).verdict == "inconclusive"
    assert claim.evaluate(_result(0.99, 0.1, 0.97, 0.3)).verdict == "inconclusive"  # no grid


def _small_result(us, n=5, converged=True):
    base = _result(0.99, 0.1, 0.97, 0.3, n=n)
    small = []
    for k, u in zip((32, 64, 128), us, strict=True):
        w = _point("wasserstein", u, 25.0, k=k, n=n)
        change = 0.0 if converged else 0.2
        small += [replace(w, utilization_change=_est(change, n), error_change=_est(0.0, n)),
                  _point("vanilla", 0.7, 24.0, k=k, n=n)]
    return replace(base, summary=replace(base.summary, points=(*small, *base.summary.points)))


def test_small_codebook_claim():
    claim = CLAIMS["vqvae.small_codebook_utilization"]
    m = claim.evaluate(_small_result((1.0, 0.99, 0.98)))
    assert m.verdict == "confirmed" and "K=32" in m.measured and "vanilla 0.700" in m.measured
    assert "Not at a plateau" not in m.measured
    assert claim.evaluate(_small_result((1.0, 0.5, 0.98))).verdict == "refuted"
    assert claim.evaluate(_small_result((1.0, 0.99, 0.98), n=1)).verdict == "inconclusive"
    moving = claim.evaluate(_small_result((1.0, 0.99, 0.98), converged=False))
    assert "Not at a plateau" in moving.measured and "wasserstein K=64" in moving.measured


def test_gradient_gap_claim_reads_the_equal_beta_comparisons():
    from tests.simulations.studies.test_vqvae import _cmp

    claim = CLAIMS["vqvae.gradient_gap_matching"]
    base = _result(0.99, 0.1, 0.97, 0.3, gap=(0.002, 0.004), gap_swapped=(0.002, 0.004))
    assert claim.evaluate(base).verdict == "confirmed"

    def with_beta(gap_w, gap_v):
        eq = vs.EqualBeta(1.0, 1024, 8, "builtin", gap_mean=_cmp(gap_w, gap_v),
                          psnr_y=_cmp(24.0, 24.0), utilization=_cmp(0.9, 0.1))
        return replace(base, summary=replace(base.summary, equal_beta=(eq,)))

    m = claim.evaluate(with_beta(0.002, 0.004))
    assert m.verdict == "confirmed" and "at equal beta: beta 1" in m.measured
    # at equal beta Wasserstein's gap is significantly larger: the settings, not the matching
    assert claim.evaluate(with_beta(0.006, 0.004)).verdict == "refuted"
