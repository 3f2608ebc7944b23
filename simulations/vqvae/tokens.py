"""A trained VQ-VAE as a tokenizer: images to grids of code indices and back, and the 2-D picture of
its latent space (held-out features against the codes).

``encode_tokens`` gives what an autoregressive prior models (the index of the nearest code of every
latent position, row-major over the H x W grid); ``decode_tokens`` maps sampled grids back to images
through the codebook and the decoder. Both run the model in eval mode under ``torch.no_grad`` in
batches, so any number of images fits in memory.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["decode_tokens", "encode_tokens", "latent_projection"]


def _batches(n: int, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")
    return [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]


def _device(model) -> torch.device:
    return next(model.parameters()).device


def encode_tokens(model, images, *, batch_size: int = 256) -> np.ndarray:
    """Token grids (N, h, w), int64, of ``images`` (N, 3, H, W) float in [-1, 1], or uint8
    (N, H, W, 3), through ``model`` (a :class:`~vqmatch.simulations.vqvae.model.VQVAE`)."""
    x = as_model_input(images)
    device, was_training = _device(model), model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for a, b in _batches(len(x), batch_size):
                out.append(model.quantize(model.encode(x[a:b].to(device))).indices.cpu())
    finally:
        model.train(was_training)
    return torch.cat(out).numpy().astype(np.int64) if out else np.zeros((0, 0, 0), np.int64)


def decode_tokens(model, tokens, *, batch_size: int = 256) -> torch.Tensor:
    """Images (N, 3, H, W), float32 in [-1, 1] (clamped), of token grids (N, h, w): the codes of the
    indices through the decoder. Indices outside [0, K) raise ValueError."""
    t = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    if t.ndim != 3:
        raise ValueError(f"tokens must have shape (N, h, w), got {tuple(t.shape)}")
    codebook = model.quantizer.codebook.float()
    k = codebook.shape[0]
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ValueError(f"tokens must lie in [0, {k}) (the model's codebook_size), got "
                         f"[{int(t.min())}, {int(t.max())}]")
    device, was_training = _device(model), model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for a, b in _batches(len(t), batch_size):
                z_q = codebook[t[a:b].to(codebook.device)].permute(0, 3, 1, 2).to(device)
                out.append(model.decode(z_q).float().clamp(-1, 1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, 3, 0, 0)


def as_model_input(images) -> torch.Tensor:
    """(N, 3, H, W) float32 in [-1, 1] from that layout or from uint8 (N, H, W, 3)."""
    x = torch.as_tensor(np.asarray(images)) if not isinstance(images, torch.Tensor) else images
    if x.dtype == torch.uint8:
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"uint8 images must have shape (N, H, W, 3), got {tuple(x.shape)}")
        return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(x.shape)}")
    return x.float()


def latent_projection(model, images, *, points: int, seed: int = 0, batch_size: int = 256) -> dict:
    """The held-out features of ``images`` and the codebook, projected on the features' first two
    principal axes, for the latent-space figure: ``features`` (a random ``points`` of them, (m, 2)),
    ``codes`` (K, 2), ``counts`` (the number of features whose nearest code each code is, over all
    of them), ``explained`` (the variance share of the two axes) and ``w2`` (the closed-form
    Gaussian W2 between all the features and the codes, in the features' units: the paper's
    surrogate, unnormalised)."""
    from vqmatch.theory import empirical_gaussian_w2

    x = as_model_input(images)
    device, was_training = _device(model), model.training
    model.eval()
    feats, idx = [], []
    try:
        with torch.no_grad():
            for a, b in _batches(len(x), batch_size):
                z_e = model.encode(x[a:b].to(device))
                idx.append(model.quantize(z_e).indices.flatten().cpu())
                feats.append(z_e.permute(0, 2, 3, 1).reshape(-1, z_e.shape[1]).cpu())
    finally:
        model.train(was_training)
    f = torch.cat(feats).double().numpy()
    codes = model.quantizer.codebook.double().cpu().numpy()
    counts = np.bincount(torch.cat(idx).numpy(), minlength=codes.shape[0])
    centre = f.mean(0)
    _, s, vt = np.linalg.svd(f - centre, full_matrices=False)
    axes = vt[:2].T
    pick = np.random.default_rng(seed).choice(len(f), size=min(points, len(f)), replace=False)
    return {"features": ((f[np.sort(pick)] - centre) @ axes).astype(np.float32),
            "codes": ((codes - centre) @ axes).astype(np.float32),
            "counts": counts.astype(np.int64),
            "explained": float((s[:2] ** 2).sum() / (s**2).sum()),
            "w2": float(empirical_gaussian_w2(f, codes))}
