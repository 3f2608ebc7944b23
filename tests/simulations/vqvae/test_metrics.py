"""PSNR / Y-PSNR / SSIM against closed forms and scikit-image; the held-out evaluation's accumulators."""

import math

import numpy as np
import pytest
import torch

from vqmatch.simulations.vqvae.metrics import evaluate, lpips_status, psnr, ssim, y_channel


def test_psnr_closed_form():
    a = torch.full((2, 3, 8, 8), 0.5, dtype=torch.float64)
    b = a.clone()
    b[0] += 0.1  # mse 0.01 -> 20 dB
    b[1] += 0.01  # mse 1e-4 -> 40 dB
    np.testing.assert_allclose(psnr(a, b).numpy(), [20.0, 40.0], rtol=1e-12)
    assert float(psnr(a, a)[0]) == pytest.approx(100.0)  # mse floor 1e-10


def test_y_channel_is_bt601_luma():
    rgb = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
                       dtype=torch.float64).reshape(4, 3, 1, 1)
    y = y_channel(rgb).flatten().numpy()
    np.testing.assert_allclose(y, np.array([16 + 65.481, 16 + 128.553, 16 + 24.966, 235.0]) / 255, rtol=1e-12)
    # a uniform grey shift of c changes Y by c * (65.481 + 128.553 + 24.966) / 255 = c * 219 / 255
    a = torch.full((1, 3, 4, 4), 0.3, dtype=torch.float64)
    expected = -10 * math.log10((0.1 * 219 / 255) ** 2)
    assert float(psnr(y_channel(a), y_channel(a + 0.1))[0]) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("size", [32, 40])
def test_ssim_matches_skimage(size):
    from skimage import metrics  # a required dependency (the builtin data): fails, never skips
    rng = np.random.default_rng(size)
    a = rng.random((3, 3, size, size))
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1)
    b[2] = rng.random((3, size, size))  # unrelated image: SSIM near 0
    ours = ssim(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ref = [metrics.structural_similarity(a[i], b[i], channel_axis=0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False, data_range=1.0) for i in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)
    ours32 = ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(ours32, ref, atol=2e-5)
    assert ssim(torch.from_numpy(a), torch.from_numpy(a)).numpy() == pytest.approx(1.0)


def test_ssim_rejects_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        ssim(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 15))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


def test_lpips_is_reported_unavailable_without_package_or_weights():
    status = lpips_status()
    assert status is None or "LPIPS not computed" in status


def test_evaluate_accumulates_usage_over_the_whole_split():
    from vqmatch.simulations.engines.quantizers import make_quantizer
    from vqmatch.simulations.vqvae.model import VQVAE

    torch.manual_seed(0)
    model = VQVAE(make_quantizer("vanilla", 32, 8, seed=0, init_scale=0.05), "tiny")
    x = torch.rand(10, 3, 32, 32) * 2 - 1
    batches = [x[:4], x[4:8], x[8:]]
    got = evaluate(model, batches, torch.device("cpu"))
    assert model.training  # training mode restored
    model.eval()
    with torch.no_grad():
        out = model(x)
    counts = torch.bincount(out.quant.indices.flatten(), minlength=32)
    assert got["utilization"] == pytest.approx(float((counts > 0).float().mean()))
    p = counts[counts > 0].double() / counts.sum()
    assert got["perplexity"] == pytest.approx(math.exp(float(-(p * p.log()).sum())), rel=1e-9)
    err = ((out.z_e - out.quant.quantized) ** 2).sum(1).mean()
    assert got["error"] == pytest.approx(float(err), rel=1e-5)
    rec = out.recon.clamp(-1, 1)
    assert got["rec_loss"] == pytest.approx(float(((rec - x) ** 2).mean()), rel=1e-5)
    a, b = (rec + 1) / 2, (x + 1) / 2
    assert got["psnr"] == pytest.approx(float(psnr(a, b).mean()), rel=1e-6)
    assert got["ssim"] == pytest.approx(float(ssim(a, b).mean()), rel=1e-5)
    assert got["images"] == 10
