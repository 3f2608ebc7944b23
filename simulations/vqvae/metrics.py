"""Reconstruction metrics and the held-out evaluation of a VQ-VAE.

Per image, on [0, 1] images (the model's [-1, 1] output clamped, then ``(x + 1) / 2``):

* ``psnr``: RGB PSNR, ``10 log10(1 / mse)`` with the mse over channels and pixels;
* ``psnr_y``: the authors' (pyiqa ``test_y_channel=True``) PSNR of the ITU-R BT.601 luma
  ``Y = 16/255 + (65.481 R + 128.553 G + 24.966 B) / 255``;
* ``ssim``: SSIM with an 11-tap Gaussian window (sigma 1.5), data range 1, K1 = 0.01, K2 = 0.03,
  population covariances, valid positions only, averaged over positions and RGB channels (what
  ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1)`` and ``piq.ssim`` compute);

each averaged over the held-out images (an mse below 1e-10 counts as 1e-10, i.e. 100 dB).
``rec_loss`` is the mse of the clamped reconstruction on [-1, 1] over all elements; ``utilization``
and ``perplexity`` come from the code-usage histogram of the WHOLE split; ``error`` is the mean over
tokens of the squared distance to the nearest code, summed over the d dimensions.
LPIPS needs the ``lpips`` package and its AlexNet weights on disk; nothing is ever downloaded:
without them ``lpips`` is None.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from vqmatch.theory import usage_criteria

from .distributed import all_reduce_sum

__all__ = ["evaluate", "gaussian_window", "lpips_status", "psnr", "ssim", "y_channel"]

MSE_FLOOR = 1e-10
_LUMA = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)


def y_channel(x01: torch.Tensor) -> torch.Tensor:
    """BT.601 luma (B, 1, H, W) of RGB images (B, 3, H, W) in [0, 1]."""
    w = torch.tensor(_LUMA, dtype=x01.dtype, device=x01.device).view(1, 3, 1, 1)
    return (x01 * w).sum(1, keepdim=True) + 16.0 / 255.0


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (B,) of images in [0, 1] (data range 1)."""
    mse = ((a - b) ** 2).flatten(1).mean(1).clamp_min(MSE_FLOOR)
    return -10.0 * torch.log10(mse)


@functools.lru_cache(maxsize=8)
def _window(size: int, sigma: float, dtype: torch.dtype, device: str) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float32, device="cpu") -> torch.Tensor:
    """Normalised 1-D Gaussian window."""
    return _window(size, sigma, dtype, str(device))


def ssim(a: torch.Tensor, b: torch.Tensor, *, window: int = 11, sigma: float = 1.5,
         data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM (B,) of images (B, C, H, W), averaged over channels (see the module docstring)."""
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"a and b must have the same shape (B, C, H, W), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")
    if min(a.shape[-2:]) < window:
        raise ValueError(f"images must be at least {window}x{window}, got {tuple(a.shape[-2:])}")
    c = a.shape[1]
    g = gaussian_window(window, sigma, a.dtype, a.device)
    gh, gw = g.view(1, 1, window, 1).expand(c, 1, -1, -1), g.view(1, 1, 1, window).expand(c, 1, -1, -1)

    def blur(x):
        return F.conv2d(F.conv2d(x, gh, groups=c), gw, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


@functools.lru_cache(maxsize=1)
def lpips_status() -> str | None:
    """None when LPIPS can be computed offline, else the reason it cannot (printed once by train)."""
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("lpips") is None:
        return "LPIPS not computed: the 'lpips' package is not installed (lpips recorded as null)"
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    if not list(hub.glob("alexnet-*.pth")):
        return f"LPIPS not computed: no AlexNet weights in {hub} and nothing is downloaded (lpips: null)"
    return None


@functools.lru_cache(maxsize=1)
def _lpips_net():
    import lpips  # optional: only when its weights are on disk

    return lpips.LPIPS(net="alex", verbose=False).eval()


@torch.no_grad()
def evaluate(model, loader, device: torch.device, *, amp_dtype: torch.dtype | None = None) -> dict:
    """Evaluate ``model`` (a :class:`~vqmatch.simulations.vqvae.model.VQVAE`, put in eval mode and
    restored) on every batch of ``loader``; under torch.distributed every rank passes its shard and
    the sums are all-reduced. Returns utilization, perplexity, error, psnr, psnr_y, ssim, rec_loss,
    lpips, images and tokens (the held-out token count U is measured on)."""
    was_training = model.training
    model.eval()
    k = model.quantizer.codebook_size
    counts = torch.zeros(k, dtype=torch.float64, device=device)
    # sums: images, tokens, token error, squared error, psnr, psnr_y, ssim, lpips, elements
    sums = torch.zeros(9, dtype=torch.float64, device=device)
    use_lpips = lpips_status() is None
    for x in loader:
        x = x.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            out = model(x)
        rec = out.recon.float().clamp(-1.0, 1.0)
        idx = out.quant.indices.reshape(-1)
        counts += torch.bincount(idx, minlength=k).double()
        a, b = (rec + 1) / 2, (x + 1) / 2
        sums[0] += x.shape[0]
        sums[1] += idx.numel()
        sums[2] += out.quant.metrics["error"] * idx.numel()
        sums[3] += ((rec - x) ** 2).double().sum()
        sums[4] += psnr(a, b).double().sum()
        sums[5] += psnr(y_channel(a), y_channel(b)).double().sum()
        sums[6] += ssim(a, b).double().sum()
        if use_lpips:
            sums[7] += _lpips_net().to(device)(rec, x).double().sum()
        sums[8] += x.numel()
    all_reduce_sum(counts)
    all_reduce_sum(sums)
    model.train(was_training)
    n_img, n_tok = float(sums[0]), float(sums[1])
    if n_img == 0:
        raise ValueError("the held-out split is empty")
    utilization, perplexity = usage_criteria(counts.cpu())
    return {"utilization": utilization, "perplexity": perplexity, "error": float(sums[2]) / n_tok,
            "psnr": float(sums[4]) / n_img, "psnr_y": float(sums[5]) / n_img, "ssim": float(sums[6]) / n_img,
            "rec_loss": float(sums[3]) / float(sums[8]),
            "lpips": float(sums[7]) / n_img if use_lpips else None, "images": int(n_img),
            "tokens": int(n_tok)}

