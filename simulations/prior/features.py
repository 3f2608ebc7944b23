"""Sample quality in a feature space that needs no download: Fréchet distance, KID, precision/recall.

The feature space (:func:`random_features`). A fixed, untrained convolutional network whose weights
are a pure function of ``seed`` (a ``torch.Generator``, so of the seed and torch's generator):

* input: RGB images in [-1, 1], (N, 3, H, W) float (the VQ-VAE's convention), or uint8 (N, H, W, 3)
  in [0, 255] (the layout of :func:`vqmatch.simulations.vqvae.data.builtin_patches`);
* three 3 x 3 convolutions, 3 -> 32 (stride 1), 32 -> 64 (stride 2), 64 -> 128 (stride 2), each with
  zero padding, He-normal weights N(0, 2 / fan_in), zero bias and a ReLU;
* after each ReLU, the mean and the standard deviation of every channel over all spatial positions:
  2 x (32 + 64 + 128) = 448 features (:data:`FEATURE_DIM`), float64.

Why random features: a network with random weights is a fixed, generic nonlinear filter bank whose
pooled statistics respond to texture, contrast and colour; unlike Inception features they say nothing
about object semantics, but they are deterministic, offline and fast, and they order image
degradations correctly (the tests check Gaussian noise and Gaussian blur on the built-in
photographs). The first layer runs at full resolution, so high frequencies (noise, blur) are seen.
Numbers in this space are comparable only with each other (same seed, same image size), never
with published FIDs.

Distances between two feature sets (rows are samples):

* :func:`frechet_distance`: the Fréchet distance between the Gaussians of the two sets' means and
  (unbiased) covariances, i.e. the squared Gaussian W2 of :func:`vqmatch.theory.gaussian_w2` (the
  formula FID uses);
* :func:`kernel_distance`: KID (Bińkowski et al. 2018), the unbiased estimate of MMD^2 with the cubic
  polynomial kernel k(x, y) = (x . y / d + 1)^3, averaged over ``subsets`` random subsets of
  ``subset_size`` rows of each set (drawn independently, without replacement), with the spread
  across subsets and its standard error;
* :func:`precision_recall`: the k-nearest-neighbour manifold estimate of Kynkäänniemi et al. (2019):
  each set's manifold is the union of balls around its points with radius the distance to the
  point's k-th nearest neighbour in its own set; precision is the fraction of generated points inside
  the real manifold, recall the fraction of real points inside the generated one.

:func:`inception_fid`: the standard FID and KID (Inception-v3 pool features through torchmetrics and
torch-fidelity), only with Inception weights on disk and those libraries installed; otherwise it
raises naming what is missing, never returns a substitute number.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vqmatch.theory import gaussian_w2

from ..core.checks import check_int

__all__ = ["FEATURE_DIM", "WIDTHS", "as_images", "frechet_distance", "inception_fid", "kernel_distance",
           "precision_recall", "random_features"]

WIDTHS = (32, 64, 128)
STRIDES = (1, 2, 2)
FEATURE_DIM = 2 * sum(WIDTHS)


def as_images(images, name: str = "images") -> torch.Tensor:
    """``images`` as a float32 CPU tensor (N, 3, H, W) in [-1, 1]: float input must be (N, 3, H, W)
    already in [-1, 1] (finite); uint8 input (N, H, W, 3) in [0, 255] is converted."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.array(images))  # a copy: read-only arrays (builtin_patches) too
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a numpy array or a torch tensor, got {type(images).__name__}")
    x = images.detach().cpu()
    if x.dtype == torch.uint8:
        if x.dim() != 4 or x.shape[-1] != 3:
            raise ValueError(f"{name}: uint8 images must have shape (N, H, W, 3), got {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    elif x.is_floating_point():
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{name}: float images must have shape (N, 3, H, W), got {tuple(x.shape)}")
        x = x.float()
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} must be finite")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
            raise ValueError(f"{name} must lie in [-1, 1] (float) or be uint8, got values in "
                             f"[{lo:.4g}, {hi:.4g}]")
    else:
        raise ValueError(f"{name} must be float in [-1, 1] or uint8, got dtype {x.dtype}")
    if x.shape[0] < 1 or x.shape[2] < 4 or x.shape[3] < 4:
        raise ValueError(f"{name} must hold at least one image of at least 4 x 4 pixels, got "
                         f"{tuple(x.shape)}")
    return x.contiguous()


def _weights(seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out, c_in = [], 3
    for c_out in WIDTHS:
        fan_in = c_in * 9
        out.append(torch.randn((c_out, c_in, 3, 3), generator=gen) * math.sqrt(2.0 / fan_in))
        c_in = c_out
    return out


@torch.no_grad()
def random_features(images, *, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """Features (N, :data:`FEATURE_DIM`) float64 of ``images`` in the fixed random conv net of
    ``seed`` (module docstring). Runs in float32 on the CPU, one batch at a time."""
    check_int(seed, "seed", 0)
    check_int(batch_size, "batch_size")
    x_all = as_images(images)
    weights = _weights(seed)
    feats = []
    for i in range(0, x_all.shape[0], batch_size):
        x, parts = x_all[i:i + batch_size], []
        for w, stride in zip(weights, STRIDES, strict=True):
            x = F.relu(F.conv2d(x, w, stride=stride, padding=1))
            flat = x.flatten(2).double()
            parts += [flat.mean(-1), flat.std(-1, correction=0)]
        feats.append(torch.cat(parts, dim=1))
    return torch.cat(feats).numpy()


def _feats(x, name: str, min_rows: int = 2) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] < min_rows or a.shape[1] < 1:
        raise ValueError(f"{name} must be a 2-D array (samples, features) with at least {min_rows} rows, "
                         f"got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite")
    return a


def _pair(a, b, min_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    a, b = _feats(a, "feats_a", min_rows), _feats(b, "feats_b", min_rows)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feats_a and feats_b must have the same number of features, got {a.shape[1]} "
                         f"and {b.shape[1]}")
    return a, b


def frechet_distance(feats_a, feats_b) -> float:
    """||m_a - m_b||^2 + tr(C_a + C_b - 2 (C_a^1/2 C_b C_a^1/2)^1/2) of the two sets' means and
    unbiased covariances (float64), via :func:`vqmatch.theory.gaussian_w2` (``squared=True``).
    A round-off negative is returned as 0."""
    a, b = _pair(feats_a, feats_b)
    value = gaussian_w2(a.mean(0), np.cov(a, rowvar=False).reshape(a.shape[1], a.shape[1]),
                        b.mean(0), np.cov(b, rowvar=False).reshape(b.shape[1], b.shape[1]), squared=True)
    return max(0.0, float(value))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kernel_distance(feats_a, feats_b, *, subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> dict:
    """KID between two feature sets (module docstring): ``{"kid", "kid_std", "kid_se", "subsets",
    "subset_size"}``. ``kid``: mean over subsets of the unbiased MMD^2; ``kid_std``: its standard
    deviation across subsets (what torch-fidelity reports as KID std); ``kid_se``: ``kid_std /
    sqrt(subsets)``, the standard error of the subset average given the two sets (the sets' own
    sampling noise is not in it). ``subset_size`` is capped at the smaller set's size (at least 2 rows
    each). Comparing a set with itself, the two sides' subsets share points, and the cross term then
    averages some k(x, x): the expected value is -(2 / N) (mean k(x, x) - mean k(x, x')), slightly
    negative, not 0; two independent samples of one distribution give 0 in expectation."""
    check_int(subsets, "subsets")
    check_int(subset_size, "subset_size", 2)
    a, b = _pair(feats_a, feats_b)
    size = min(subset_size, len(a), len(b))
    rng = np.random.default_rng(seed)
    values = np.array([_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                                      b[rng.choice(len(b), size, replace=False)]) for _ in range(subsets)])
    std = float(values.std(ddof=1)) if subsets > 1 else float("nan")
    return {"kid": float(values.mean()), "kid_std": std, "kid_se": std / math.sqrt(subsets),
            "subsets": subsets, "subset_size": size}


def _kth_radii(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance of every row of ``x`` to its k-th nearest other row (the row itself excluded)."""
    out = []
    for i in range(0, len(x), chunk):
        d = torch.cdist(x[i:i + chunk], x)
        out.append(d.kthvalue(k + 1, dim=1).values)  # the smallest is the row itself (0)
    return torch.cat(out)


def _coverage(points: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor, chunk: int) -> float:
    """Fraction of ``points`` within ``radii[j]`` of some ``centres[j]``."""
    inside = 0
    for i in range(0, len(points), chunk):
        d = torch.cdist(points[i:i + chunk], centres)
        inside += int((d <= radii[None, :]).any(dim=1).sum())
    return inside / len(points)


def precision_recall(real_feats, fake_feats, *, k: int = 3, chunk: int = 1024) -> dict:
    """Improved precision and recall (Kynkäänniemi et al. 2019; module docstring) of ``fake_feats``
    against ``real_feats``: ``{"precision", "recall", "k"}``. Distances are Euclidean, in float64;
    each set needs more than ``k`` rows."""
    check_int(k, "k")
    real, fake = _pair(real_feats, fake_feats, min_rows=k + 1)
    real_t, fake_t = torch.from_numpy(real), torch.from_numpy(fake)
    r_real, r_fake = _kth_radii(real_t, k, chunk), _kth_radii(fake_t, k, chunk)
    return {"precision": _coverage(fake_t, real_t, r_real, chunk),
            "recall": _coverage(real_t, fake_t, r_fake, chunk), "k": k}


def _uint8_nchw(images, name: str) -> torch.Tensor:
    x = as_images(images, name)
    return ((x.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


def inception_fid(images_a, images_b, weights_path, *, batch_size: int = 50, device: str = "cpu",
                  kid_subsets: int = 100, kid_subset_size: int = 1000) -> dict:
    """The standard FID and KID between two image sets (``images_a`` the reference), in the
    Inception-v3 pool features (2048-d) of torchmetrics' ``FrechetInceptionDistance`` and
    ``KernelInceptionDistance`` (torch-fidelity's port of the TF FID network; images resized to 299 by
    it), with the weights read from ``weights_path`` (torch-fidelity's
    ``weights-inception-2015-12-05-6726825d.pth``; nothing is downloaded).

    Returns ``{"fid", "kid", "kid_std", "images_a", "images_b"}``. Images as :func:`as_images`.
    Raises ValueError when ``weights_path`` is None or not a readable file, ImportError when
    torchmetrics / torch-fidelity / torchvision are missing (``pip install 'vqmatch[fid]'``)."""
    if weights_path is None:
        raise ValueError("weights_path is None: inception_fid needs the Inception-v3 FID weights on disk "
                         "(torch-fidelity's weights-inception-2015-12-05-6726825d.pth); not computed")
    path = Path(weights_path)
    if not path.is_file():
        raise ValueError(f"weights_path {str(path)!r} is not a file: the Inception-v3 FID weights are "
                         f"missing; not computed")
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
        fid = FrechetInceptionDistance(feature=2048, normalize=False,
                                       feature_extractor_weights_path=str(path))
    except ImportError as err:
        raise ImportError(f"inception_fid needs torchmetrics with torch-fidelity and torchvision "
                          f"(pip install 'vqmatch[fid]'): {err}; not computed") from None
    except TypeError as err:  # a torchmetrics before 1.7 has no feature_extractor_weights_path
        raise ImportError(f"inception_fid needs torchmetrics >= 1.7 (pip install 'vqmatch[fid]'): {err}; "
                          f"not computed") from None
    except (RuntimeError, OSError, KeyError, ValueError, EOFError) as err:
        raise ValueError(f"weights_path {str(path)!r} could not be loaded as the Inception-v3 FID weights "
                         f"({type(err).__name__}: {err}); not computed") from None
    a, b = _uint8_nchw(images_a, "images_a"), _uint8_nchw(images_b, "images_b")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"images_a and images_b need at least 2 images each, got {len(a)} and {len(b)}")
    kid = KernelInceptionDistance(feature=fid.inception, subsets=kid_subsets,
                                  subset_size=min(kid_subset_size, len(a), len(b)), normalize=False)
    fid, kid = fid.to(device), kid.to(device)
    with torch.no_grad():
        for real, x in ((True, a), (False, b)):
            for i in range(0, len(x), batch_size):
                batch = x[i:i + batch_size].to(device)
                fid.update(batch, real=real)
                kid.update(batch, real=real)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std),
            "images_a": len(a), "images_b": len(b)}
