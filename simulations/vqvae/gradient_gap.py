r"""The STE gradient gap of a trained VQ-VAE, and what a finished run keeps for the figures.

The straight-through estimator hands the encoder :math:`\nabla_z L(z_q)`, the gradient of the
decoder loss at the quantized latent, where the true gradient of ``L(decode(z))`` at the encoder
output is :math:`\nabla_z L(z_e)`. The later version of the paper (eq. 4, App. C) bounds the gap

.. math:: G = \|\nabla_z L(z_e) - \nabla_z L(z_q)\| \le \|H(z_q)\|_2\,\|z_e - z_q\|,
          \qquad H = \nabla^2_z L,

from a first-order Taylor expansion. Here, per held-out image :math:`i` with
:math:`L_i = \mathrm{mean}((\mathrm{decode}(z) - x_i)^2)` over its pixels (the reconstruction loss;
the decoder treats images independently, so the Hessian of :math:`\sum_i L_i` is block-diagonal
and one batched backward gives every image's gradient): :math:`G_i`, the distance
:math:`\|z_{e,i} - z_{q,i}\|` (Frobenius over the latent grid), :math:`\|H_i\|_2` by power iteration
on Hessian-vector products (double backward) at :math:`z_{q,i}`, and whether :math:`G_i` exceeds
the bound. The model is evaluated in eval mode (no quantizer state changes).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

__all__ = ["final_measurements", "gradient_gap", "load_trained"]


def _per_image_loss(model, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    recon = model.decode(z)
    return ((recon.float() - x) ** 2).flatten(1).mean(1)


def gradient_gap(model, x: torch.Tensor, *, power_iterations: int = 20, seed: int = 0) -> dict:
    """Per-image gradient gap, distance, Hessian norm and bound for the images ``x`` (B, 3, H, W).

    Returns numpy arrays (length B): ``gap``, ``distance`` (``||z_e - z_q||``), ``hessian_norm``,
    ``bound`` (their product)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    was_training = model.training
    model.eval()
    try:
        # double backward through attention needs the math kernel (the fused ones have none)
        with sdpa_kernel([SDPBackend.MATH]):
            return _gradient_gap(model, x, power_iterations, seed)
    finally:
        model.train(was_training)


def _gradient_gap(model, x, power_iterations, seed):
    with torch.no_grad():
        z_e = model.encode(x)
        z_q = model.quantize(z_e).quantized.detach().float()
    z_e = z_e.detach().float()

    def grad_at(z: torch.Tensor, create_graph: bool = False):
        z = z.clone().requires_grad_(True)
        loss = _per_image_loss(model, z, x).sum()
        (g,) = torch.autograd.grad(loss, z, create_graph=create_graph)
        return z, g

    _, g_e = grad_at(z_e)
    zq, g_q = grad_at(z_q, create_graph=True)
    gap = (g_e - g_q.detach()).flatten(1).norm(dim=1)
    dist = (z_e - z_q).flatten(1).norm(dim=1)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(z_q.shape, generator=gen).to(z_q.device)
    v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
    norm = torch.zeros(x.shape[0], device=x.device)
    for it in range(power_iterations):  # per image: v <- H v / ||H v||
        (hv,) = torch.autograd.grad(g_q, zq, grad_outputs=v,
                                    retain_graph=it < power_iterations - 1)
        norm = hv.flatten(1).norm(dim=1)
        v = (hv / norm.clamp_min(1e-30).view(-1, 1, 1, 1)).detach()
    out = {"gap": gap, "distance": dist, "hessian_norm": norm.detach(), "bound": norm.detach() * dist}
    return {k: t.detach().cpu().double().numpy() for k, t in out.items()}


def load_trained(config, out_dir: str | Path, device: str | torch.device = "cpu"):
    """The model of a finished run in ``out_dir`` (its ``checkpoint.pt``) in eval mode."""
    from .train import build_model

    ckpt = Path(out_dir) / "checkpoint.pt"
    if not ckpt.is_file():
        raise ValueError(f"no checkpoint of a finished run under {out_dir}")
    payload = torch.load(ckpt, map_location=device, weights_only=False)
    model, _ = build_model(config, device)
    model.load_state_dict(payload["model"])
    return model.eval()


def final_measurements(config, out_dir: str | Path, *, gap_images: int, recon_images: int,
                       power_iterations: int = 20, latent_points: int = 0) -> dict:
    """What a finished run adds to its last row: the gradient gap on ``gap_images`` evenly spaced
    held-out images (summaries below), ``recon_images`` reconstructions saved to
    ``out_dir/recon.npz`` (uint8 originals and reconstructions, for the figure) and, with
    ``latent_points``, the latent-space picture of the whole held-out split saved to
    ``out_dir/latent.npz`` (:func:`vqmatch.simulations.vqvae.tokens.latent_projection`; its W2 also
    in the row as ``latent_w2``). Runs on the training device of ``config``."""
    from ..core.stats import loglog_slope
    from .data import evenly_spaced, make_datasets
    from .train import resolve_device

    device = resolve_device(config)
    model = load_trained(config, out_dir, device)
    heldout = make_datasets(config)[1]

    def images(n: int) -> torch.Tensor:
        return torch.stack([torch.as_tensor(heldout[int(i)]) for i in evenly_spaced(len(heldout), n)])

    out: dict = {}
    if gap_images:
        x = images(gap_images).to(device)
        parts = [gradient_gap(model, x[i:i + 32], power_iterations=power_iterations, seed=i)
                 for i in range(0, len(x), 32)]
        g = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        live = g["distance"] > 0
        ratio = g["gap"][live] / np.maximum(g["bound"][live], 1e-300)
        ok = live & (g["gap"] > 0)
        slope = loglog_slope(g["distance"][ok], g["gap"][ok])[0] if ok.sum() >= 3 else None
        out.update({"gap_images": len(g["gap"]), "gap_mean": float(g["gap"].mean()),
                    "bound_mean": float(g["bound"].mean()),
                    "gap_violations": int((g["gap"] > g["bound"] * (1 + 1e-6)).sum()),
                    "violation_rate": float((g["gap"] > g["bound"] * (1 + 1e-6)).mean()),
                    "gap_over_bound_median": float(np.median(ratio)) if ratio.size else math.nan,
                    "hessian_norm_mean": float(g["hessian_norm"].mean()),
                    "gap_error_slope": slope,
                    "gap_per_image": [round(float(v), 6) for v in g["gap"]],
                    "distance_per_image": [round(float(v), 6) for v in g["distance"]]})
    if recon_images:
        x = images(recon_images)
        with torch.no_grad():
            rec = model(x.to(device)).recon.float().clamp(-1, 1).cpu()

        def u8(t):
            return ((t.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)

        np.savez_compressed(Path(out_dir) / "recon.npz", original=u8(x), reconstruction=u8(rec))
        out["recon_file"] = "recon.npz"
    if latent_points:
        from .tokens import latent_projection

        everything = torch.stack([torch.as_tensor(heldout[i]) for i in range(len(heldout))])
        lat = latent_projection(model, everything, points=latent_points, seed=config.seed)
        np.savez_compressed(Path(out_dir) / "latent.npz", **{k: np.asarray(v) for k, v in lat.items()})
        out.update({"latent_file": "latent.npz", "latent_w2": lat["w2"]})
    return out
