"""Oracles for the quantizer library: closed forms (gradients, EMA means, Gaussian W2), slow
references (double-loop MMD, POT's exact 1-D W2, brute-force search) and known behaviour (the
atomic setting: vanilla collapses, Wasserstein VQ keeps the codebook in use)."""

from __future__ import annotations

import math

import numpy as np
import ot
import pytest
import torch

from vqmatch.simulations.engines.quantizers import (
    QUANTIZERS,
    default_training,
    finite_k_gaussian_scale2,
    make_quantizer,
    mmd2,
    sliced_w2,
)
from vqmatch.simulations.engines.quantizers._base import farthest_feature
from vqmatch.theory import gaussian_moments, gaussian_w2
from vqmatch.theory.quantization import best_gaussian_codebook_scale2

MATCHING = ("wasserstein", "mmd", "sliced", "density_wasserstein")
TRAINABLE = tuple(n for n in QUANTIZERS if n != "ema")


def _features(n=96, d=3, seed=0, shift=0.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype) + shift


# ----------------------------------------------------------------------------- interface


@pytest.mark.parametrize("name", QUANTIZERS)
def test_output_contract_and_straight_through(name):
    q = make_quantizer(name, 16, 3, seed=1, dtype=torch.float64)
    z = _features().requires_grad_(True)
    start = q.codebook.clone()  # training-mode updates happen after the step's output
    out = q(z)
    assert out.quantized.shape == z.shape and out.quantized.dtype == z.dtype
    assert out.indices.shape == (96,) and out.indices.dtype == torch.int64
    assert out.loss.ndim == 0
    torch.testing.assert_close(out.loss, sum(out.losses.values()))
    torch.testing.assert_close(out.quantized.detach(), start[out.indices])
    w = _features(seed=5)
    z.grad = None
    (out.quantized * w).sum().backward()
    torch.testing.assert_close(z.grad, w)  # d quantized / d z = identity


@pytest.mark.parametrize("name", QUANTIZERS)
def test_default_training_builds(name):
    cfg = default_training(name)
    assert {"optimizer", "lr", "momentum", "quantizer_options", "source"} <= set(cfg)
    q = make_quantizer(name, 8, 2, **cfg["quantizer_options"])
    has_params = bool(list(q.parameters()))
    assert has_params == (cfg["optimizer"] is not None) == (name != "ema")


def test_default_training_values_are_the_authors():
    lrs = {n: default_training(n)["lr"] for n in ("wasserstein", "vanilla", "linear", "online")}
    assert lrs == {"wasserstein": 3.0, "vanilla": 1.0, "linear": 0.02, "online": 3.0}
    w = default_training("wasserstein")["quantizer_options"]
    assert (w["alpha"], w["weight"]) == (0.1, 10.0)
    assert default_training("ema")["quantizer_options"]["decay"] == 0.9
    cfg = default_training("vanilla")
    cfg["quantizer_options"]["beta"] = 5.0  # a copy: the defaults are not mutated
    assert "beta" not in default_training("vanilla")["quantizer_options"]


@pytest.mark.parametrize(("args", "options", "match"), [
    (("nope", 4, 2), {}, "name"),
    (("vanilla", 0, 2), {}, "codebook_size"),
    (("vanilla", 4, 0), {}, "codebook_dim"),
    (("vanilla", 4, 2), {"gamma": 1.0}, "gamma"),
    (("ema", 4, 2), {"decay": 1.0}, "decay"),
    (("online", 4, 2), {"decay": -0.1}, "decay"),
    (("online", 4, 2), {"anchor": "random"}, "anchor"),
    (("density_wasserstein", 4, 2), {"scale": "big"}, "scale"),
    (("density_wasserstein", 4, 2), {"scale": -1.0}, "scale"),
    (("vanilla", 4, 2), {"init": "zeros"}, "init"),
    (("vanilla", 4, 2), {"init": torch.zeros(3, 2)}, "init"),
    (("vanilla", 4, 2), {"chunk_size": 0}, "chunk_size"),
    (("vanilla", 4, 2), {"search_engine": "annoy"}, "search_engine"),
    (("wasserstein", 4, 2), {"queue_size": -3}, "queue_size"),
    (("mmd", 4, 2), {"bandwidths": [0.0]}, "bandwidths"),
    (("sliced", 4, 2), {"n_projections": 0}, "n_projections"),
])
def test_bad_construction_names_the_parameter(args, options, match):
    with pytest.raises(ValueError, match=match):
        make_quantizer(*args, **options)


def test_bad_input_names_the_problem():
    q = make_quantizer("vanilla", 4, 3)
    with pytest.raises(ValueError, match="codebook_dim"):
        q(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="shape"):
        q(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="dtype"):
        q(torch.zeros(5, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="dtype"):
        q(torch.zeros(5, 3, dtype=torch.complex64))
    with pytest.raises(ValueError, match="NaN"):
        q(torch.full((5, 3), float("nan")))


@pytest.mark.parametrize("name", ["vanilla", "wasserstein", "linear"])
def test_float32_and_float64_agree(name):
    z = _features(seed=3)
    q64 = make_quantizer(name, 16, 3, seed=2, dtype=torch.float64)
    q32 = make_quantizer(name, 16, 3, seed=2)
    o64, o32 = q64(z), q32(z.float())
    assert o32.quantized.dtype == torch.float32 and o64.loss.dtype == torch.float64
    assert torch.equal(o64.indices, o32.indices)
    assert float(o32.loss.detach()) == pytest.approx(float(o64.loss.detach()), rel=1e-5)


@pytest.mark.parametrize("name", QUANTIZERS)
def test_image_layout_equals_flat_path(name):
    z = _features(n=2 * 4 * 5, seed=4).reshape(2, 4, 5, 3)  # (B, H, W, d)
    image = z.permute(0, 3, 1, 2).contiguous()  # (B, d, H, W)
    qa = make_quantizer(name, 16, 3, seed=1, dtype=torch.float64).eval()
    qb = make_quantizer(name, 16, 3, seed=1, dtype=torch.float64).eval()
    a, b = qa(image), qb(z.reshape(-1, 3))
    assert a.indices.shape == (2, 4, 5)
    assert torch.equal(a.indices.reshape(-1), b.indices)
    torch.testing.assert_close(a.quantized.permute(0, 2, 3, 1).reshape(-1, 3), b.quantized)
    torch.testing.assert_close(a.loss, b.loss)


@pytest.mark.parametrize("name", QUANTIZERS)
def test_eval_forward_changes_no_state(name):
    options = {"queue_size": 50} if "wasserstein" in name else {}
    q = make_quantizer(name, 16, 3, seed=1, dtype=torch.float64, **options)
    q(_features(seed=7))  # some training history first
    q.eval()
    before = {k: v.clone() for k, v in q.state_dict().items()}
    first = q(_features(seed=8, shift=2.0))
    after = q.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    second = q(_features(seed=8, shift=2.0))  # deterministic in eval mode
    torch.testing.assert_close(first.loss, second.loss)


# ----------------------------------------------------------------------------- search


def test_chunked_search_equals_unchunked_and_brute_force():
    z, codes = _features(n=200, d=4, seed=1), _features(n=37, d=4, seed=2)
    brute = ((z[:, None, :] - codes[None]) ** 2).sum(-1)
    outs = [make_quantizer("vanilla", 37, 4, init=codes, dtype=torch.float64, chunk_size=c,
                           search_engine="blas")(z) for c in (None, 200, 7, 1)]
    outs.append(make_quantizer("vanilla", 37, 4, init=codes.float(), search_engine="faiss")(z.float()))
    for out in outs:
        assert torch.equal(out.indices, brute.argmin(1))
        assert out.metrics["error"] == pytest.approx(float(brute.min(1).values.mean()), rel=1e-6)


def test_farthest_feature_chunked_equals_brute_force():
    codes, z = _features(n=50, d=3, seed=1), _features(n=30, d=3, seed=2)
    brute = ((codes[:, None, :] - z[None]) ** 2).sum(-1).argmax(1)
    for nbytes in (1, 8 * 30 * 7, 1 << 20):
        assert torch.equal(farthest_feature(codes, z, max_chunk_bytes=nbytes), brute)


def test_farthest_feature_float32_search_equals_brute_force():
    codes = _features(n=200, d=8, seed=4).to(torch.float32)
    z = _features(n=500, d=8, seed=5, shift=3.0).to(torch.float32)
    brute = ((codes.double()[:, None, :] - z.double()[None]) ** 2).sum(-1).argmax(1)
    assert torch.equal(farthest_feature(codes, z), brute)


def test_metrics_invariants():
    z = _features(n=300, d=2, seed=3, shift=1.0)
    q = make_quantizer("vanilla", 40, 2, seed=0, dtype=torch.float64)
    m = q(z).metrics
    brute = ((z[:, None, :] - q.codebook[None]) ** 2).sum(-1)
    counts = torch.bincount(brute.argmin(1), minlength=40)
    used = int((counts > 0).sum())
    assert 0 < m["utilization"] <= 1 and m["utilization"] == used / 40
    assert 1 <= m["perplexity"] <= used
    p = counts[counts > 0].double() / 300
    assert m["perplexity"] == pytest.approx(math.exp(-float((p * p.log()).sum())))
    assert m["error"] == pytest.approx(float(brute.min(1).values.mean()))


# ----------------------------------------------------------------------------- classic updates


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_vanilla_codebook_gradient_is_analytic(reduction):
    z = _features(n=60, d=3, seed=2)
    q = make_quantizer("vanilla", 8, 3, seed=3, dtype=torch.float64, alpha=0.7, beta=0.0,
                       reduction=reduction)
    out = q(z)
    out.loss.backward()
    e = q.weight.detach()
    expected = torch.zeros_like(e)
    expected.index_add_(0, out.indices, 2 * 0.7 * (e[out.indices] - z) / 60)
    if reduction == "mean":
        expected /= 3
    torch.testing.assert_close(q.weight.grad, expected)


def test_ema_at_decay_zero_puts_used_codes_at_the_batch_mean():
    z = _features(n=120, d=3, seed=5)
    q = make_quantizer("ema", 10, 3, seed=1, dtype=torch.float64, decay=0.0, eps=0.0)
    start = q.codebook.clone()
    out = q(z)
    for k in range(10):
        members = z[out.indices == k]
        if len(members):
            torch.testing.assert_close(q.codebook[k], members.mean(0))
        else:  # unused code with zero smoothed count keeps its place
            torch.testing.assert_close(q.codebook[k], start[k])
    assert len(out.indices.unique()) >= 5  # the check above covered several codes


def test_ema_laplace_smoothing_is_a_small_correction():
    z = _features(n=120, d=3, seed=5)
    q = make_quantizer("ema", 10, 3, seed=1, dtype=torch.float64, decay=0.0, eps=1e-5)
    out = q(z)
    k = int(torch.bincount(out.indices).argmax())
    torch.testing.assert_close(q.codebook[k], z[out.indices == k].mean(0), rtol=1e-5, atol=1e-6)


def test_ema_running_average_of_two_batches():
    za, zb = _features(n=80, d=2, seed=1), _features(n=80, d=2, seed=2)
    codes = torch.tensor([[0.0, 0.0], [50.0, 50.0]], dtype=torch.float64)  # one used code
    q = make_quantizer("ema", 2, 2, init=codes, dtype=torch.float64, decay=0.5, eps=0.0)
    q(za)
    q(zb)
    # N = 0.5 (0.5*0 + 0.5*80) + 0.5*80; m = 0.5 (0.5 e0 + 0.5 sum_a) + 0.5 sum_b, e0 = 0
    n = 0.25 * 80 + 0.5 * 80
    m = 0.25 * za.sum(0) + 0.5 * zb.sum(0)
    torch.testing.assert_close(q.codebook[0], m / n)


@pytest.mark.parametrize("anchor", ["nearest", "farthest"])
def test_online_moves_a_dead_code_to_its_anchor_feature(anchor):
    z = _features(n=40, d=2, seed=6)
    dead = torch.tensor([8.0, -8.0], dtype=torch.float64)
    codes = torch.cat([z[:3].clone(), dead[None]])  # three live codes on features, one far away
    q = make_quantizer("online", 4, 2, init=codes, dtype=torch.float64, decay=0.0, anchor=anchor,
                       threshold=0.05)  # replace codes used by < 5% of 1/K of the batch
    out = q(z)
    assert 3 not in out.indices.tolist()
    dist = ((z - dead) ** 2).sum(1)
    target = z[dist.argmin()] if anchor == "nearest" else z[dist.argmax()]
    torch.testing.assert_close(q.codebook[3], target)
    torch.testing.assert_close(q.codebook[:3], codes[:3])  # used codes untouched (hard rule)


def test_online_soft_rule_weights():
    q = make_quantizer("online", 4, 2, dtype=torch.float64, decay=0.9)
    q.usage.copy_(torch.tensor([0.0, 0.01, 0.25, 0.74], dtype=torch.float64))
    w = q.anchor_weights()
    torch.testing.assert_close(w, torch.exp(-q.usage * 4 * 10 / 0.1 - 1e-3))
    assert float(w[0]) == pytest.approx(math.exp(-1e-3)) and float(w[3]) < 1e-100


def test_linear_trains_only_the_map_and_starts_at_the_codes():
    codes = _features(n=12, d=3, seed=9)
    q = make_quantizer("linear", 12, 3, init=codes, dtype=torch.float64)
    torch.testing.assert_close(q.codebook, codes)  # identity map
    assert {n for n, _ in q.named_parameters()} == {"proj.weight", "proj.bias"}
    q(_features(seed=1)).loss.backward()
    assert q.proj.weight.grad.abs().sum() > 0
    q2 = make_quantizer("linear", 12, 3, init=codes, dtype=torch.float64, map_init="torch_default")
    assert not torch.allclose(q2.codebook, codes)


# ----------------------------------------------------------------------------- matching losses


@pytest.mark.parametrize("name", MATCHING)
def test_matching_gradient_reaches_the_codebook_only(name):
    q = make_quantizer(name, 20, 3, seed=1, dtype=torch.float64)
    z = _features(seed=2, shift=1.0).requires_grad_(True)
    out = q(z)
    out.losses["matching"].backward()
    assert z.grad is None or float(z.grad.abs().max()) == 0.0
    assert float(q.weight.grad.abs().max()) > 0


@pytest.mark.parametrize("name", MATCHING)
def test_matching_is_zero_when_codes_are_the_features(name):
    z = _features(n=64, d=3, seed=3, shift=0.5)
    codes = z.clone()
    options = {}
    if name == "density_wasserstein":  # the target is N(mu, c Sigma): give the codes that law
        mean = z.mean(0)
        codes = mean + math.sqrt(best_gaussian_codebook_scale2(3)) * (z - mean)
    if name == "mmd":
        options = {"max_features": 64, "max_codes": 64}
    q = make_quantizer(name, 64, 3, init=codes, dtype=torch.float64, **options)
    value = q(z).metrics["matching"]
    assert abs(value) < 1e-6
    shifted = make_quantizer(name, 64, 3, init=codes + 1.0, dtype=torch.float64, **options)
    assert shifted(z).metrics["matching"] > 1e-2


@pytest.mark.parametrize(("squared", "normalize"), [(False, False), (True, False), (False, True)])
def test_wasserstein_equals_closed_form_on_the_moments(squared, normalize):
    z, codes = _features(n=200, d=3, seed=4, shift=2.0), _features(n=30, d=3, seed=5)
    q = make_quantizer("wasserstein", 30, 3, init=codes, dtype=torch.float64, squared=squared,
                       normalize=normalize)
    s = float(z.std(0).max()) + 1e-8 if normalize else 1.0
    mz, cz = gaussian_moments(z / s)
    mc, cc = gaussian_moments(codes / s)
    expected = gaussian_w2(mz, cz, mc, cc, squared=squared)
    assert q(z).metrics["matching"] == pytest.approx(float(expected), rel=1e-10)


@pytest.mark.parametrize("scale", ["high_resolution", 0.7])
def test_density_wasserstein_targets_the_scaled_gaussian(scale):
    d = 3
    z, codes = _features(n=200, d=d, seed=4, shift=1.0), _features(n=30, d=d, seed=5)
    q = make_quantizer("density_wasserstein", 30, d, init=codes, dtype=torch.float64, scale=scale,
                       normalize=False)
    c = (d + 2) / d if scale == "high_resolution" else scale
    assert q.scale2 == pytest.approx(c)
    mz, cz = gaussian_moments(z)
    mc, cc = gaussian_moments(codes)
    expected = gaussian_w2(mz, c * cz, mc, cc)
    assert q(z).metrics["matching"] == pytest.approx(float(expected), rel=1e-10)


def test_finite_k_scale_beats_neighbours_and_is_deterministic():
    from vqmatch.theory import nearest_code

    c = finite_k_gaussian_scale2(2, 32, n_features=2048)
    assert c == finite_k_gaussian_scale2(2, 32, n_features=2048)
    assert 0.2 < c < 5.0
    rng = np.random.default_rng(0)  # the same common random numbers as the function's draw
    g = rng.standard_normal((32, 2)).astype(np.float32)
    z = rng.standard_normal((2048, 2)).astype(np.float32)

    def err(s2):
        return float(nearest_code(z, math.sqrt(s2) * g).sq_dist.mean())

    assert err(c) <= min(err(0.8 * c), err(1.25 * c))


def test_wasserstein_queue_is_a_fifo_of_recent_training_features():
    q = make_quantizer("wasserstein", 8, 2, dtype=torch.float64, queue_size=10)
    batches = [_features(n=4, d=2, seed=s) for s in range(4)]
    for b in batches:
        q(b)
    stored = q.queue[: int(q.queue_count)]
    expected = torch.cat(batches)[-10:]
    assert int(q.queue_count) == 10
    assert sorted(map(tuple, stored.tolist())) == sorted(map(tuple, expected.tolist()))


def _mmd_reference(x, y, hs):
    def k(a, b):
        return sum(math.exp(-float(((a - b) ** 2).sum()) / h) for h in hs)

    xx = sum(k(a, b) for a in x for b in x) / len(x) ** 2
    xy = sum(k(a, b) for a in x for b in y) / (len(x) * len(y))
    yy = sum(k(a, b) for a in y for b in y) / len(y) ** 2
    return xx - 2 * xy + yy


def test_mmd_matches_a_double_loop_reference():
    x, y = _features(n=15, d=2, seed=1), _features(n=9, d=2, seed=2, shift=0.7)
    hs = (0.5, 2.0)
    assert float(mmd2(x, y, hs)) == pytest.approx(_mmd_reference(x.numpy(), y.numpy(), hs), rel=1e-10)
    q = make_quantizer("mmd", 9, 2, init=y, dtype=torch.float64, bandwidths=hs)
    assert q(x).metrics["matching"] == pytest.approx(_mmd_reference(x.numpy(), y.numpy(), hs),
                                                     rel=1e-10)
    q_med = make_quantizer("mmd", 9, 2, init=y, dtype=torch.float64)  # median heuristic
    pooled = np.concatenate([x.numpy(), y.numpy()])
    d2 = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    off = np.sort(d2[~np.eye(len(pooled), dtype=bool)])
    h = float(off[(off.size - 1) // 2])  # the lower median, as torch.median defines it
    assert float(q_med.current_bandwidths(x, y)[0]) == pytest.approx(h, rel=1e-6)


def test_mmd_bandwidth_never_collapses_on_duplicated_points():
    """Two identical codes, one feature on them: 3 of the 6 pairs coincide, the median is 0 and a
    zero-width kernel would have a 1/h gradient (it sent the codes to 1e30 in one step). The
    fallback is the mean pairwise squared distance, then 1 when every point coincides."""
    code = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    z = torch.cat([code, code + torch.tensor([[1.0, 2.0]], dtype=torch.float64)])
    codes = torch.cat([code, code])
    q = make_quantizer("mmd", 2, 2, init=codes, dtype=torch.float64)
    pooled = torch.cat([z, codes])
    d2 = ((pooled[:, None] - pooled[None]) ** 2).sum(-1)
    off = d2[~torch.eye(4, dtype=torch.bool)]
    assert float(off.median()) == 0.0
    assert float(q.current_bandwidths(z, codes)[0]) == pytest.approx(float(off.mean()), rel=1e-12)
    assert float(q.current_bandwidths(codes, codes)[0]) == 1.0
    out = q(z)
    out.loss.backward()
    assert float(q.weight.grad.abs().max()) < 10.0


@pytest.mark.parametrize(("n", "k"), [(40, 40), (50, 20), (37, 11), (13, 29)])
def test_sliced_matches_exact_1d_w2_with_fixed_directions(n, k):
    x, y = _features(n=n, d=3, seed=1), _features(n=k, d=3, seed=2, shift=0.4)
    dirs = _features(n=5, d=3, seed=3)
    unit = (dirs / dirs.norm(dim=1, keepdim=True)).numpy()
    ref = np.mean([ot.wasserstein_1d(x.numpy() @ t, y.numpy() @ t, p=2) for t in unit])
    assert float(sliced_w2(x, y, dirs)) == pytest.approx(ref, rel=1e-8, abs=1e-12)


def test_sliced_gradient_is_the_quantile_block_mean_pull():
    x, y = _features(n=60, d=2, seed=1), _features(n=20, d=2, seed=2).requires_grad_(True)
    theta = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    sliced_w2(x, y, theta).backward()
    xs = torch.sort(x[:, 0]).values.reshape(20, 3).mean(1)  # N = 3K: blocks of 3 features
    order = torch.argsort(y[:, 0].detach())
    expected = torch.zeros_like(y)
    expected[order, 0] = 2 * (y[order, 0].detach() - xs) / 20
    torch.testing.assert_close(y.grad, expected)


# ----------------------------------------------------------------------------- training behaviour


def _train(name, steps=200, d=8, k=64, mu=3.0, n=256):
    cfg = default_training(name)
    q = make_quantizer(name, k, d, seed=0, **cfg["quantizer_options"])
    opt = torch.optim.SGD(q.parameters(), lr=cfg["lr"], momentum=cfg["momentum"])
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        out = q(torch.randn(n, d, generator=gen) + mu)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    return q.eval()(torch.randn(4096, d, generator=gen) + mu).metrics


def test_atomic_setting_vanilla_collapses_wasserstein_does_not():
    """Features N(3*1, I_8), codes from N(0, I): the paper's atomic setting at K = 64."""
    vanilla, wasserstein = _train("vanilla"), _train("wasserstein")
    assert vanilla["utilization"] < 0.2
    assert wasserstein["utilization"] > 0.9
    assert wasserstein["error"] < 0.7 * vanilla["error"]


# ----------------------------------------------------------------------------- scale


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vanilla", "wasserstein", "online", "sliced", "mmd", "linear"])
def test_hundred_thousand_codes_forward_backward(name):
    q = make_quantizer(name, 100_000, 8, seed=0)
    z = torch.randn(8192, 8).requires_grad_(True)
    out = q(z)
    out.loss.backward()
    assert out.indices.shape == (8192,) and torch.isfinite(out.loss)
    assert 0 < out.metrics["utilization"] <= 8192 / 100_000
