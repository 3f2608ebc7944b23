"""The measured cost of one full VQ-VAE training step (forward, backward, optimiser): what the
ablation runner's ``--dry-run`` extrapolates from, and what ``benchmarks/vqvae.py`` prints."""

from __future__ import annotations

import resource
import sys
import time

import torch

from .config import TrainConfig
from .train import build_model, make_optimizer, precision_context, resolve_device, train_step

__all__ = ["time_training_step"]


def _rss_mib() -> float:
    """Peak resident memory of this process so far (MiB; Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10)


def time_training_step(config: TrainConfig, *, steps: int = 3, warmup: int = 1,
                       device: str | torch.device | None = None,
                       quantizer: torch.nn.Module | None = None) -> dict:
    """Seconds per training step of ``config``'s model and quantizer on a synthetic batch of
    ``config.batch_size`` images (best of ``steps`` after ``warmup`` steps), images per second and
    peak memory: CUDA ``max_memory_allocated`` on a GPU; on CPU the process' peak resident set
    (``ru_maxrss``: a process-wide peak, so time one configuration per process for a clean number).
    ``quantizer``: a module to use instead of the library's (a benchmark reference); it trains in
    the model group unless ``config.codebook_lr`` is set.
    """
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
    device = resolve_device(config) if device is None else torch.device(device)
    cuda = device.type == "cuda"
    autocast, _ = precision_context(config, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    model, settings = build_model(config, device, quantizer=quantizer)
    optimizer = make_optimizer(model, config, settings)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(config.batch_size, 3, config.resolution, config.resolution, generator=gen)
         * 2 - 1).to(device)
    model.train()
    times = []
    for i in range(warmup + steps):
        if cuda:
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        train_step(model, optimizer, x, grad_clip=config.grad_clip, autocast=autocast,
                   foreach=True if config.fast else None)
        if cuda:
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    best = min(times)
    peak = (torch.cuda.max_memory_allocated(device) / 2 ** 20) if cuda else _rss_mib()
    return {"s_per_step": best, "images_per_s": config.batch_size / best, "peak_mib": peak,
            "device": str(device), "peak_kind": "cuda_allocated" if cuda else "process_rss"}
