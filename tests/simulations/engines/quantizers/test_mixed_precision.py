"""Mixed precision and rank-deficient codebooks, for every quantizer in QUANTIZERS.

The rule under test (``Quantizer``, "Precision"): the codebook keeps its dtype, the numerics run in
the wider of float32 and the codebook's dtype, ``quantized`` comes back in the input's dtype with an
identity gradient, autocast is switched off inside the quantizer; and K < d codes train.
"""

from __future__ import annotations

import pytest
import torch

from vqmatch.simulations.engines.quantizers import QUANTIZERS, default_training, make_quantizer

LOW = (torch.bfloat16, torch.float16)


def _features(n, d, seed=0, shift=0.5, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, d, generator=g, dtype=torch.float64) + shift).to(dtype)


def _nearest(x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Float64 brute force (the tests below avoid ties)."""
    x, codes = x.double(), codes.double()
    return ((x[:, None, :] - codes[None]) ** 2).sum(-1).argmin(1)


def _finite_grads(*modules) -> bool:
    return all(p.grad is None or bool(torch.isfinite(p.grad).all())
               for m in modules for p in m.parameters())


# ----------------------------------------------------------------------------- the dtype rule


@pytest.mark.parametrize("name", QUANTIZERS)
@pytest.mark.parametrize(("codebook_dtype", "input_dtype", "work"), [
    (torch.float32, torch.bfloat16, torch.float32),
    (torch.float32, torch.float16, torch.float32),
    (torch.float32, torch.float64, torch.float32),
    (torch.float64, torch.float32, torch.float64),
    (torch.float64, torch.bfloat16, torch.float64),
])
def test_dtype_rule(name, codebook_dtype, input_dtype, work):
    q = make_quantizer(name, 16, 4, seed=1, dtype=codebook_dtype)
    dtypes = {k: v.dtype for k, v in q.state_dict().items()}
    z = _features(64, 4, seed=2, dtype=input_dtype).requires_grad_(True)
    before = q.codebook.clone()
    out = q(z)
    assert out.quantized.dtype == input_dtype and out.loss.dtype == work
    assert all(v.dtype == work for v in out.losses.values())
    assert torch.isfinite(out.loss)
    x = z.detach().to(work)  # the input in the compute dtype: rounded for float64 into float32
    assert torch.equal(out.indices, _nearest(x, before.to(work)))
    assert torch.equal(out.quantized.detach(), before.to(work)[out.indices].to(input_dtype))
    assert out.metrics["error"] == pytest.approx(
        float(((x.double() - before.double()[out.indices]) ** 2).sum(1).mean()), rel=1e-5)
    (out.loss + out.quantized.float().square().sum()).backward()
    assert z.grad.dtype == input_dtype and bool(torch.isfinite(z.grad).all())
    for p in q.parameters():
        assert p.grad is None or (p.grad.dtype == p.dtype and bool(torch.isfinite(p.grad).all()))
    if list(q.parameters()):
        torch.optim.SGD(q.parameters(), lr=0.01).step()
    q(z.detach())
    assert {k: v.dtype for k, v in q.state_dict().items()} == dtypes  # storage keeps its dtype


@pytest.mark.parametrize("name", QUANTIZERS)
def test_search_runs_in_the_compute_dtype_not_the_inputs(name):
    """A bfloat16 feature x between two float32 codes closer together than bfloat16's spacing:
    x - 0.0012 is its nearest code, x + 0.0035 the other; rounded to bfloat16 both codes would be x
    (a tie, resolved to index 0). The search must use the float32 codes."""
    x = torch.tensor([[1.0078125], [1.0078125]], dtype=torch.bfloat16)  # exactly representable
    codes = torch.tensor([[1.0078125 + 0.0035], [1.0078125 - 0.0012]], dtype=torch.float32)
    assert torch.equal(codes.to(torch.bfloat16)[0], codes.to(torch.bfloat16)[1])  # the trap is armed
    q = make_quantizer(name, 2, 1, init=codes)
    out = q(x)
    assert out.indices.tolist() == [1, 1]
    assert torch.equal(out.quantized, codes[[1, 1]].to(torch.bfloat16))
    assert out.metrics["error"] == pytest.approx((codes[1, 0].double() - 1.0078125).item() ** 2, rel=1e-6)


# ----------------------------------------------------------------------------- autocast


def _autocast_step(name, z_source, *, autocast: bool):
    torch.manual_seed(0)
    enc = torch.nn.Linear(8, 8)
    q = make_quantizer(name, 32, 8, seed=3)
    target = _features(128, 8, seed=9)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
    with ctx:
        z = enc(z_source) if autocast else enc(z_source).to(torch.bfloat16)
        out = q(z)
        task = (out.quantized.float() - target).square().mean()
        (task + out.loss).backward()
    return enc, q, z, out


@pytest.mark.parametrize("name", QUANTIZERS)
def test_forward_and_backward_under_autocast(name):
    enc, q, z, out = _autocast_step(name, _features(128, 8, seed=4), autocast=True)
    assert z.dtype == torch.bfloat16 and out.quantized.dtype == torch.bfloat16
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    assert _finite_grads(enc, q)
    assert enc.weight.grad is not None and enc.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", QUANTIZERS)
def test_autocast_does_not_reach_the_quantizer_numerics(name):
    """The same bfloat16 input inside and outside ``torch.autocast``: bitwise the same loss, indices,
    output and codebook gradients (autocast would otherwise run the search GEMM, the linear map, the
    MMD kernels and the sliced projections in bfloat16)."""
    z = _features(128, 8, seed=5).to(torch.bfloat16)
    q_in, q_out = make_quantizer(name, 32, 8, seed=3), make_quantizer(name, 32, 8, seed=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        a = q_in(z.clone().requires_grad_(True))
        (a.loss + a.quantized.float().sum()).backward() if a.loss.requires_grad else None
    b = q_out(z.clone().requires_grad_(True))
    (b.loss + b.quantized.float().sum()).backward() if b.loss.requires_grad else None
    assert a.loss.dtype == b.loss.dtype == torch.float32
    assert torch.equal(a.loss, b.loss) and torch.equal(a.indices, b.indices)
    assert torch.equal(a.quantized, b.quantized)
    for (k, pa), (_, pb) in zip(q_in.named_parameters(), q_out.named_parameters(), strict=True):
        assert (pa.grad is None) == (pb.grad is None), k
        assert pa.grad is None or torch.equal(pa.grad, pb.grad), k
    for (k, ba), (_, bb) in zip(q_in.named_buffers(), q_out.named_buffers(), strict=True):
        assert torch.equal(ba, bb), k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", QUANTIZERS)
def test_cuda_bfloat16_under_autocast(name):
    device = torch.device("cuda")
    enc = torch.nn.Linear(8, 8).to(device)
    q = make_quantizer(name, 64, 8, seed=3).to(device)
    x = _features(256, 8, seed=6).to(device)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        z = enc(x)
        before = q.codebook.clone()
        out = q(z)
        ((out.quantized.float() - x).square().mean() + out.loss).backward()
    assert z.dtype == torch.bfloat16 and out.quantized.dtype == torch.bfloat16
    assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
    assert out.indices.device.type == "cuda"
    xz, codes = z.detach().float().cpu().double(), before.cpu().double()
    dist = ((xz[:, None, :] - codes[None]) ** 2).sum(-1)
    chosen = dist.gather(1, out.indices.cpu()[:, None])[:, 0]
    assert bool((chosen <= dist.min(1).values + 1e-4).all())
    assert _finite_grads(enc, q)


@pytest.mark.parametrize("name", QUANTIZERS)
def test_bfloat16_stored_codebook_computes_in_float32(name):
    """``quantizer.to(torch.bfloat16)`` (e.g. a whole model converted) keeps working: the storage is
    bfloat16, the numerics float32."""
    q = make_quantizer(name, 16, 4, seed=1).to(torch.bfloat16)
    for step in range(3):
        z = _features(64, 4, seed=step).requires_grad_(True)
        before = q.codebook.clone()
        out = q(z)
        assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
        assert torch.equal(out.indices, _nearest(z.detach(), before.float()))
        (out.loss + out.quantized.sum()).backward()
        assert _finite_grads(q)
    assert all(v.dtype in (torch.bfloat16, torch.int64) for v in q.state_dict().values())


# ----------------------------------------------------------------------------- K < d


@pytest.mark.parametrize("name", QUANTIZERS)
@pytest.mark.parametrize(("k", "d"), [(4, 8), (16, 32), (8, 64)])
def test_fewer_codes_than_dimensions_train(name, k, d):
    """K < d: the codebook covariance is singular (rank K - 1); 10 SGD steps of an encoder and the
    quantizer (with its default training settings) in float32 give finite losses and gradients."""
    torch.manual_seed(0)
    enc = torch.nn.Linear(d, d)
    cfg = default_training(name)
    q = make_quantizer(name, k, d, seed=0, **cfg["quantizer_options"])
    params = list(enc.parameters()) + list(q.parameters())
    opt = torch.optim.SGD(params, lr=min(cfg["lr"] or 0.1, 0.1), momentum=0.9)
    gen = torch.Generator().manual_seed(1)
    for _ in range(10):
        x = torch.randn(256, d, generator=gen) + 1.0
        out = q(enc(x))
        loss = out.loss + (out.quantized - x).square().mean()
        assert torch.isfinite(loss), out.losses
        opt.zero_grad()
        loss.backward()
        assert _finite_grads(enc, q)
        opt.step()
    assert bool(torch.isfinite(q.codebook).all())
