"""The paper's training loss L_W (vqmatch.theory.loss.wasserstein_vq_loss): hand-computed normalised moments,
a re-statement of the reference implementation with its eps guards (the authors' VQ-VAE quantizer,
code/VQVAE/model/wasserstein_quantizer.py in github.com/VQ-Research/Wasserstein-VQ), where gradients
go, scale behaviour and validation."""

import numpy as np
import pytest
import torch

from tests.theory import roundoff as ro
from vqmatch.theory import empirical_gaussian_w2, gaussian_w2
from vqmatch.theory.loss import wasserstein_vq_loss

DT = torch.float64


def features_and_codes(seed, n=512, k=64, d=8, code_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(d, d, generator=g, dtype=DT) * 0.4 + torch.eye(d, dtype=DT)
    feats = torch.randn(n, d, generator=g, dtype=DT) @ mix + 0.3
    codes = torch.randn(k, d, generator=g, dtype=DT) * code_scale
    return feats, codes.requires_grad_(True)


def normalised_moments(feats, codes):
    s = feats.std(dim=0).max() + 1e-8  # unbiased per-coordinate std, largest, plus the guard
    z, c = feats / s, codes / s
    return z.mean(0), torch.cov(z.T), c.mean(0), torch.cov(c.T)  # torch.cov: unbiased


def reference_w_loss(features, codebook):
    """Slow re-statement of the authors' loss (Wasserstein_Quantizer.calc_wasserstein_loss in
    code/VQVAE/model/wasserstein_quantizer.py, github.com/VQ-Research/Wasserstein-VQ): detached
    feature statistics, both sets divided by max_j std_j(features) + 1e-8, unbiased covariances,
    relu(.) + 1e-8 under both eigenvalue square roots, NaN/Inf masking, sqrt(. + 1e-10) outside."""
    z = features.detach()
    std = z.std(dim=0).max().detach() + 1e-8
    z, c = z / std, codebook / std
    mu_z, mu_c = z.mean(0), c.mean(0)
    sigma_z = ((z - mu_z).T @ (z - mu_z)) / (z.shape[0] - 1)
    sigma_c = ((c - mu_c).T @ (c - mu_c)) / (c.shape[0] - 1)
    s1, q1 = torch.linalg.eigh(sigma_z)
    half = q1 @ torch.diag(torch.sqrt(torch.relu(s1) + 1e-8)) @ q1.T
    half = torch.nan_to_num(half, nan=0.0, posinf=0.0, neginf=0.0).detach()
    m = half @ sigma_c @ half
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    s2, _ = torch.linalg.eigh(m)
    tr_sqrt = torch.sqrt(torch.relu(s2) + 1e-8).sum()
    part_cov = torch.relu(torch.trace(sigma_z + sigma_c) - 2.0 * tr_sqrt)
    part_mean = ((mu_z - mu_c) ** 2).sum()
    return torch.sqrt(part_mean + part_cov + 1e-10)


# ----------------------------------------------------------------------------------------------
# definition
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_gaussian_w2_of_normalised_moments(seed):
    feats, codes = features_and_codes(seed)
    expected = gaussian_w2(*normalised_moments(feats, codes))
    loss = wasserstein_vq_loss(feats, codes)
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    sq = wasserstein_vq_loss(feats, codes, squared=True)
    np.testing.assert_allclose(sq.item(), loss.item() ** 2, rtol=1e-13)


def test_unnormalised_equals_empirical_gaussian_w2():
    feats, codes = features_and_codes(3)
    loss = wasserstein_vq_loss(feats, codes, normalize=False)
    np.testing.assert_allclose(loss.item(), empirical_gaussian_w2(feats, codes).item(),
                               rtol=1e-13)
    sq = wasserstein_vq_loss(feats, codes, normalize=False, squared=True)
    np.testing.assert_allclose(sq.item(), loss.item() ** 2, rtol=1e-13)


def test_closed_form_isotropic_case():
    # features exactly N-like with known moments: two point sets with identical spread patterns
    base = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], dtype=DT)
    feats = base * 2.0  # per-coordinate unbiased std = sqrt(8/3): the normaliser
    codes = (base + torch.tensor([3.0, 0.0], dtype=DT)).requires_grad_(True)
    s = float(np.sqrt(8.0 / 3.0)) + 1e-8
    # covariances (8/3) I and (2/3) I, mean shift 3: W^2 = (9 + 2 (sqrt(8/3) - sqrt(2/3))^2) / s^2
    expected = np.sqrt(9.0 + 2.0 * (np.sqrt(8 / 3) - np.sqrt(2 / 3)) ** 2) / s
    np.testing.assert_allclose(wasserstein_vq_loss(feats, codes).item(), expected, rtol=1e-12)


def test_dtype_follows_inputs():
    feats, codes = features_and_codes(4)
    f32, c32 = feats.float(), codes.detach().float()
    out32 = wasserstein_vq_loss(f32, c32)
    assert out32.dtype == torch.float32
    out64 = wasserstein_vq_loss(feats, codes).item()
    # both against the exact W2 of the float64 data, within their a priori round-off bounds
    # (tests.theory.roundoff), compared in the data's units
    f64, k64 = feats.detach().numpy().astype(ro.LD), codes.detach().numpy().astype(ro.LD)
    b32 = ro.loss_bound(f32, c32, ideal_features=f64, ideal_codebook=k64,
                        perturb_features=ro.rounding(f32), perturb_codebook=ro.rounding(c32))
    b64 = ro.loss_bound(feats.detach(), codes.detach(), ideal_features=f64, ideal_codebook=k64,
                        perturb_features=np.zeros(f64.shape), perturb_codebook=np.zeros(k64.shape))
    assert ro.check("loss.dtype", abs(out32.item() * b32.scale - out64 * b64.scale),
                    b32.w2 * b32.scale + b64.w2 * b64.scale)


# ----------------------------------------------------------------------------------------------
# the reference implementation (wasserstein_quantizer.py in github.com/VQ-Research/Wasserstein-VQ)
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_agrees_with_reference_implementation_full_rank(seed):
    # Ours is the exact closed form of the normalised statistics; the reference adds 1e-8 inside the
    # 2d eigenvalue square roots and 1e-10 under the outer one. Worst case (eigenvalues ~0) each
    # +1e-8 adds up to 1e-4, i.e. up to d * 1e-4 per trace. For full-rank statistics the shift is
    # smaller and predictable: to first order the eigenvalues mu_i of M add
    # pred = 2 sum_i (sqrt(mu_i + 1e-8) - sqrt(mu_i)) to the reference's trace term (W^2 down by
    # pred), and the guard on Sigma_z^1/2 (which enlarges M) pushes W^2 further down by a factor
    # (1 + O(lambda_max(Sigma_c))) of that; lambda(Sigma_c) < 1 in these normalised units.
    feats, codes = features_and_codes(seed, k=64)
    ours_sq = wasserstein_vq_loss(feats, codes, squared=True).item()
    ref = reference_w_loss(feats, codes)
    _, c_z, _, c_c = (x.detach() for x in normalised_moments(feats, codes))
    chol = torch.linalg.cholesky(c_z)
    mu = torch.linalg.eigvalsh(chol.T @ c_c @ chol)
    assert float(mu.min()) > 0 and float(torch.linalg.eigvalsh(c_c).max()) < 1.0  # premises
    pred = 2.0 * float((torch.sqrt(mu + 1e-8) - torch.sqrt(mu)).sum())
    shift = ours_sq - (ref.item() ** 2 - 1e-10)
    assert 0.9 * pred <= shift <= 3.0 * pred, (shift, pred)
    assert shift <= 2 * 2 * 8 * 1e-4  # the worst-case bound, d = 8
    ours = wasserstein_vq_loss(feats, codes)
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=0, atol=3.0 * pred / ref.item())
    # and the codebook gradients agree to the same relative order
    (g_ours,) = torch.autograd.grad(ours, codes)
    (g_ref,) = torch.autograd.grad(ref, codes)
    np.testing.assert_allclose(g_ours.numpy(), g_ref.numpy(), rtol=1e-4,
                               atol=1e-5 * float(g_ref.abs().max()))


@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_reference_implementation_singular_codebook(seed):
    # K = 4 codes in d = 8: the unbiased codebook covariance has rank K - 1 = 3, so M has d - 3 = 5
    # zero eigenvalues. The reference adds sqrt(0 + 1e-8) = 1e-4 for each, i.e. its trace term is
    # larger by 5e-4 and its W^2 smaller by 2 * 5e-4 = 1e-3 (plus 1e-10): a known, exact offset
    # (this is the "up to d * 1e-4" of the guard, realised). Ours is the exact closed form.
    d, k = 8, 4
    feats, codes = features_and_codes(seed, k=k, d=d)
    ours_sq = wasserstein_vq_loss(feats, codes, squared=True).item()
    ref_sq = reference_w_loss(feats, codes).item() ** 2
    offset = 2 * (d - (k - 1)) * 1e-4
    assert ours_sq > 10 * offset  # the relu on part_cov is inactive
    np.testing.assert_allclose(ref_sq, ours_sq - offset + 1e-10, rtol=0, atol=1e-6)
    # the un-squared values therefore differ by ~offset / (2 W): bounded by the worst case
    assert abs(np.sqrt(ours_sq) - np.sqrt(ref_sq)) <= 2 * d * 1e-4 / (2 * np.sqrt(ref_sq))


# ----------------------------------------------------------------------------------------------
# where the gradients go
# ----------------------------------------------------------------------------------------------


def test_gradients_reach_codebook_only_by_default():
    feats, codes = features_and_codes(5)
    feats.requires_grad_(True)
    wasserstein_vq_loss(feats, codes).backward()
    assert feats.grad is None or bool((feats.grad == 0).all())
    assert codes.grad is not None and torch.isfinite(codes.grad).all()
    assert float(codes.grad.abs().max()) > 0


def test_detach_features_false_pulls_features_too():
    feats, codes = features_and_codes(6)
    feats.requires_grad_(True)
    wasserstein_vq_loss(feats, codes, detach_features=False).backward()
    assert feats.grad is not None and torch.isfinite(feats.grad).all()
    assert float(feats.grad.abs().max()) > 0
    # the codebook gradient does not depend on whether the features are detached
    feats2, codes2 = features_and_codes(6)
    wasserstein_vq_loss(feats2, codes2).backward()
    np.testing.assert_allclose(codes.grad.numpy(), codes2.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("squared", [False, True])
def test_codebook_gradient_finite_with_fewer_codes_than_dimensions(squared):
    feats, codes = features_and_codes(7, k=4, d=8, code_scale=0.01)  # the authors' init scale
    loss = wasserstein_vq_loss(feats, codes, squared=squared)
    loss.backward()
    assert torch.isfinite(loss.detach())
    assert torch.isfinite(codes.grad).all()
    assert float(codes.grad.abs().max()) > 0


def test_codebook_gradient_finite_when_matching_the_features():
    feats, _ = features_and_codes(8, n=256)
    # equal in distribution: an independent sample of the same Gaussian
    g = torch.Generator().manual_seed(80)
    other = feats[torch.randperm(feats.shape[0], generator=g)[:128]].clone().requires_grad_(True)
    wasserstein_vq_loss(feats, other).backward()
    assert torch.isfinite(other.grad).all()
    # identical sets: W = 0 up to round-off and the (documented) gradient at W = 0 is exactly 0
    same = feats.clone().requires_grad_(True)
    loss = wasserstein_vq_loss(feats, same)
    loss.backward()
    assert loss.item() < 1e-6
    assert torch.isfinite(same.grad).all()
    assert bool((same.grad == 0).all())
    # squared at the minimum: finite and round-off small
    same.grad = None
    wasserstein_vq_loss(feats, same, squared=True).backward()
    assert float(same.grad.abs().max()) < 1e-10


# ----------------------------------------------------------------------------------------------
# scale behaviour
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("c", [1e-3, 0.5, 7.0, 1e4])
def test_normalised_loss_is_scale_invariant(c):
    feats, codes = features_and_codes(9)
    base = wasserstein_vq_loss(feats, codes).item()
    scaled = wasserstein_vq_loss(feats * c, codes.detach() * c).item()
    s = feats.std(dim=0).max().item()
    # exact law: both sets are divided by c s + 1e-8 instead of s + 1e-8, and W is 1-homogeneous
    np.testing.assert_allclose(scaled * (c * s + 1e-8), base * c * (s + 1e-8), rtol=1e-11)
    # so invariance holds up to the guard: scaled / base = (s + 1e-8) / (s + 1e-8 / c), a relative
    # deviation of 1e-8 |1 - 1/c| / s
    np.testing.assert_allclose(scaled, base, rtol=2e-8 * max(1.0, 1.0 / c) / s + 1e-11)
    # without normalisation the loss scales with c
    np.testing.assert_allclose(
        wasserstein_vq_loss(feats * c, codes.detach() * c, normalize=False).item(),
        c * wasserstein_vq_loss(feats, codes, normalize=False).item(), rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------------------------


def test_numpy_input_rejected():
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match="torch"):
        wasserstein_vq_loss(x, x)
    with pytest.raises(ValueError, match="features"):
        wasserstein_vq_loss(x, torch.from_numpy(x))


def test_bad_shapes_rejected():
    x = torch.randn(10, 3, dtype=DT)
    with pytest.raises(ValueError, match="features"):
        wasserstein_vq_loss(x[:1], x)
    with pytest.raises(ValueError, match="codebook"):
        wasserstein_vq_loss(x, x[:1])
    with pytest.raises(ValueError, match="codebook"):
        wasserstein_vq_loss(x, torch.randn(10, 4, dtype=DT))
    with pytest.raises(ValueError, match="features"):
        wasserstein_vq_loss(x[:, 0], x)
    with pytest.raises(ValueError, match="features"):
        wasserstein_vq_loss(torch.full((10, 3), float("nan"), dtype=DT), x)
