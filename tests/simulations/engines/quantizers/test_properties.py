"""Property tests (hypothesis) of every quantizer in QUANTIZERS, over sizes, layouts, codebook dtypes
(float32, float64), input dtypes (float16, bfloat16, float32, float64), options, exact ties and K < d:

* the straight-through output is exactly the nearest code (in the input's dtype) and passes the
  identity gradient to ``z``;
* ``indices`` are nearest codes by a slow float64 brute force (ties and round-off-level near ties
  checked by distance, never by index);
* an eval-mode forward (and backward) changes no parameter, buffer or random stream, bitwise;
* the loss and its gradients are finite, the loss in the compute dtype;
* the metrics E, U, C agree with :func:`vqmatch.theory.criterion_triple` on the same batch and the codebook
  BEFORE the step's update (and E with the brute force).

Each property was checked to fail on a planted bug (search in the input's precision, the
``z + sg(z_q - z)`` output, metrics after the update, an update in eval mode, an eval draw from the
training stream, the MMD median bandwidth collapsing to 0 on duplicated points).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from vqmatch.simulations.engines.quantizers import QUANTIZERS, make_quantizer
from vqmatch.simulations.engines.quantizers._base import compute_dtype
from vqmatch.theory import criterion_triple

CODEBOOK_DTYPES = (torch.float32, torch.float64)
INPUT_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)

_WASSERSTEIN = {"queue_size": st.sampled_from([0, 7, 64]), "squared": st.booleans(),
                "normalize": st.booleans()}
OPTIONS = {
    "vanilla": {"reduction": st.sampled_from(["sum", "mean"]), "alpha": st.sampled_from([0.0, 0.3, 1.0])},
    "ema": {"decay": st.sampled_from([0.0, 0.5, 0.99]), "eps": st.sampled_from([0.0, 1e-5])},
    "online": {"anchor": st.sampled_from(["nearest", "farthest"]),
               "threshold": st.sampled_from([None, 0.5]), "decay": st.sampled_from([0.0, 0.9])},
    "linear": {"map_init": st.sampled_from(["identity", "torch_default"]), "bias": st.booleans()},
    "wasserstein": _WASSERSTEIN,
    "density_wasserstein": _WASSERSTEIN | {"scale": st.sampled_from(["high_resolution", 0.7])},
    "mmd": {"max_features": st.sampled_from([5, 2048]), "max_codes": st.sampled_from([3, 4096]),
            "bandwidth_scales": st.sampled_from([(1.0,), (0.5, 2.0)])},
    "sliced": {"n_projections": st.sampled_from([1, 8])},
    "ste++": {"sync": st.sampled_from([0.0, 0.2, 1.0]), "alternating": st.booleans()},
}


def test_every_quantizer_has_property_options():
    assert set(OPTIONS) == set(QUANTIZERS)


@dataclass(frozen=True)
class Case:
    name: str
    k: int
    shape: tuple[int, ...]
    codebook_dtype: torch.dtype
    input_dtype: torch.dtype
    seed: int
    shift: float
    scale: float
    ties: str  # "none", "exact" (duplicated codes) or "near" (a feature almost equidistant)
    options: dict

    @property
    def d(self) -> int:
        return self.shape[1]

    @property
    def work(self) -> torch.dtype:
        return compute_dtype(self.codebook_dtype)


@st.composite
def cases(draw, name: str) -> Case:
    k, d = draw(st.integers(2, 12)), draw(st.integers(1, 5))
    if draw(st.booleans()):
        shape = (draw(st.integers(2, 40)), d)
    else:
        b, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 4)), draw(st.integers(2, 4))
        shape = (b, d, h, w)
    options = draw(st.fixed_dictionaries(OPTIONS[name]))
    return Case(name=name, k=k, shape=shape, codebook_dtype=draw(st.sampled_from(CODEBOOK_DTYPES)),
                input_dtype=draw(st.sampled_from(INPUT_DTYPES)), seed=draw(st.integers(0, 2**16)),
                shift=draw(st.sampled_from([0.0, 1.5, -3.0])),
                scale=draw(st.sampled_from([0.1, 1.0, 5.0])),
                ties=draw(st.sampled_from(["none", "exact", "near"])),
                options=options)


def degenerate(name: str) -> Case:
    """Always tried first: two identical codes, two features, one of them on the codes (most pairs
    of points coincide: zero covariances, a zero median distance, exact ties)."""
    return Case(name=name, k=2, shape=(2, 1), codebook_dtype=torch.float32, input_dtype=torch.float32,
                seed=2, shift=0.0, scale=0.1, ties="exact", options={})


def _unflat(flat: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if like.ndim == 2:
        return flat
    return flat.reshape(like.shape[0], *like.shape[2:], like.shape[1]).movedim(-1, 1)


def build(case: Case):
    """The quantizer, its features z (input dtype, case layout) and a second batch.

    ``ties="exact"``: codes 0 and 1 coincide and feature 0 sits on them (where representable).
    ``ties="near"``: code 1 is placed so that feature 0 (as the quantizer sees it, in the compute
    dtype) is nearer to code 0 or code 1 by a squared-distance gap of 2e-4 (1 + |x|^2): far above
    the round-off of a search in float32, far below the error of one run on codes or distances
    rounded to bfloat16 or float16."""
    gen = torch.Generator().manual_seed(case.seed)
    codes = torch.randn(case.k, case.d, generator=gen, dtype=torch.float64)
    if case.ties == "exact":
        codes[1] = codes[0]

    def features():
        z = torch.randn(case.shape, generator=gen, dtype=torch.float64) * case.scale + case.shift
        if case.ties == "exact":
            flat = flatten(z)
            flat[0] = codes[0]
            z = _unflat(flat, z)
        return z.to(case.input_dtype)

    z1, z2 = features(), features()
    if case.ties == "near":
        x0 = flatten(z1)[0].to(case.work).double()
        gap = x0 - codes[0]
        if float(gap.norm()) > 1e-3:
            u = gap / gap.norm()
            sign = 1.0 if case.seed % 2 else -1.0
            eta = sign * 1e-4 * (1 + float(x0 @ x0)) / float(gap.norm())
            codes[1] = 2 * x0 - codes[0] + eta * u  # |x0 - c1| = |x0 - c0| + eta
    q = make_quantizer(case.name, case.k, case.d, init=codes.to(case.codebook_dtype), seed=case.seed,
                       dtype=case.codebook_dtype, **case.options)
    return q, z1, z2


def flatten(t: torch.Tensor) -> torch.Tensor:
    return t.movedim(1, -1).reshape(-1, t.shape[1]) if t.ndim == 4 else t


def brute_force(x: torch.Tensor, codes: torch.Tensor):
    """Float64 distance matrix (N, K) of ``x`` and ``codes`` (both in the compute dtype, so exactly
    representable in float64) and the round-off level of a search run in that dtype: the expanded
    distances ``|x|^2 + |c|^2 - 2 x.c`` err by at most about (d + 2) eps (|x|^2 + |c|^2) each."""
    x64, c64 = x.double(), codes.double()
    dist = ((x64[:, None, :] - c64[None]) ** 2).sum(-1)
    eps = torch.finfo(x.dtype).eps
    slack = 4 * (x.shape[1] + 2) * eps * ((x64 * x64).sum(1) + (c64 * c64).sum(1).max())
    return dist, slack


def assert_nearest(x, codes, indices):
    dist, slack = brute_force(x, codes)
    best = dist.min(1).values
    chosen = dist.gather(1, indices.reshape(-1, 1))[:, 0]
    bad = (chosen > best + slack).nonzero().flatten().tolist()
    assert not bad, (f"not the nearest code for features {bad[:5]}: distance {chosen[bad[:5]].tolist()} "
                     f"vs best {best[bad[:5]].tolist()}")
    return dist, slack


def snapshot(q) -> dict[str, torch.Tensor]:
    named = itertools.chain(q.named_parameters(), q.named_buffers())
    return {k: v.detach().clone() for k, v in named}


def bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().reshape(-1).contiguous().view(torch.uint8)


def train_mode_forward(case: Case):
    q, z, _ = build(case)
    before = q.codebook.to(case.work).clone()
    z.requires_grad_(True)
    out = q(z)
    return q, z, before, out


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", QUANTIZERS)
def test_straight_through_is_the_nearest_code_with_identity_gradient(name):
    @given(cases(name))
    @example(degenerate(name))
    def check(case):
        _, z, before, out = train_mode_forward(case)
        assert out.quantized.shape == z.shape and out.quantized.dtype == z.dtype
        quantized, idx = flatten(out.quantized), out.indices.reshape(-1)
        assert torch.equal(quantized.detach(), before[idx].to(case.input_dtype))  # exactly, no round-off
        w = torch.randn(z.shape, generator=torch.Generator().manual_seed(case.seed + 1)).to(z.dtype)
        (out.quantized * w).sum().backward()
        assert z.grad is not None and z.grad.dtype == z.dtype
        assert torch.equal(z.grad, w)

    check()


@pytest.mark.parametrize("name", QUANTIZERS)
def test_indices_are_nearest_codes_by_brute_force(name):
    @given(cases(name))
    @example(degenerate(name))
    def check(case):
        _, z, before, out = train_mode_forward(case)
        assert out.indices.dtype == torch.int64
        spatial = (z.shape[0], *z.shape[2:]) if z.ndim == 4 else (z.shape[0],)
        assert tuple(out.indices.shape) == spatial
        x = flatten(z.detach()).to(case.work)  # the documented rule: the input in the compute dtype
        assert_nearest(x, before, out.indices.reshape(-1))

    check()


@pytest.mark.parametrize("name", QUANTIZERS)
def test_loss_and_gradients_are_finite(name):
    """Finite loss (in the compute dtype) and gradients over a few SGD steps (a gradient that is
    finite but absurd, e.g. a 1/h kernel spike, shows up as non-finite codes one step later)."""
    @given(cases(name))
    @example(degenerate(name))
    def check(case):
        q, z, z2 = build(case)
        opt = torch.optim.SGD(q.parameters(), lr=0.01) if list(q.parameters()) else None
        for batch in (z, z2, z):
            batch = batch.detach().requires_grad_(True)
            out = q(batch)
            assert out.loss.dtype == case.work and out.loss.ndim == 0
            assert torch.isfinite(out.loss), out.losses
            assert all(torch.isfinite(v) for v in out.losses.values())
            torch.testing.assert_close(out.loss, sum(out.losses.values()))
            if out.loss.requires_grad:
                (out.loss + out.quantized.float().sum()).backward()
                assert all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in q.parameters())
                assert batch.grad is None or bool(torch.isfinite(batch.grad).all())
            if opt is not None:
                opt.step()
                opt.zero_grad()
            assert bool(torch.isfinite(q.codebook).all())

    check()


@pytest.mark.parametrize("name", QUANTIZERS)
def test_metrics_are_the_criterion_triple_before_the_update(name):
    @given(cases(name))
    @example(degenerate(name))
    def check(case):
        _, z, before, out = train_mode_forward(case)
        x = flatten(z.detach()).to(case.work)
        triple = criterion_triple(x, before)
        assert out.metrics["utilization"] == triple.utilization
        assert out.metrics["perplexity"] == pytest.approx(triple.perplexity, rel=1e-12)
        assert out.metrics["error"] == pytest.approx(triple.error, rel=1e-6)
        dist, slack = brute_force(x, before)  # E without any tie question
        best = float(dist.min(1).values.mean())
        assert out.metrics["error"] == pytest.approx(best, rel=16 * torch.finfo(case.work).eps * case.d,
                                                     abs=float(slack.mean()))

    check()


@pytest.mark.parametrize("name", QUANTIZERS)
def test_eval_forward_changes_no_state(name):
    @given(cases(name))
    @example(degenerate(name))
    def check(case):
        q, z1, z2 = build(case)
        opt = torch.optim.SGD(q.parameters(), lr=0.01) if list(q.parameters()) else None
        out = q(z1)  # some training history: state updates, queue, one optimiser step
        if opt is not None and out.loss.requires_grad:
            out.loss.backward()
            opt.step()
            opt.zero_grad()
        q.eval()
        state, stream = snapshot(q), q.rng.bit_generator.state
        z2.requires_grad_(True)
        out = q(z2)
        (out.loss + out.quantized.float().sum()).backward()
        if hasattr(q, "codebook_loss"):
            q.codebook_loss(z2)
        after = snapshot(q)
        assert state.keys() == after.keys()
        for key in state:
            assert state[key].dtype == after[key].dtype and state[key].shape == after[key].shape
            assert torch.equal(bits(state[key]), bits(after[key])), key
        assert q.rng.bit_generator.state == stream  # eval draws never consume the training stream
        assert not q.training

    check()
