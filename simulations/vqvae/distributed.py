"""Multi-GPU training with ``torchrun`` (DistributedDataParallel) where the quantizer sees the GLOBAL
batch.

What must be global, and how it is made global here without touching the quantizer library:

* The quantizer's loss terms, its state updates (EMA statistics, online re-anchoring, the Wasserstein
  feature queue) and its batch metrics. :func:`global_quantize` all-gathers the projected features of
  every rank (rank order, so the global token order is the one a single process sees on the
  concatenated batch) and runs the quantizer on the whole global batch, identically on every rank;
  each rank keeps the rows of its own images. The gather is differentiable: its backward sums the
  gradient of every rank's copy (all-reduce) and keeps the local slice. With DDP averaging the
  parameter gradients this reproduces the single-process gradient exactly: the quantizer loss is
  computed W times (once per rank) on the same global tokens, so its encoder gradient is summed by
  the gather and divided back by DDP's average; its codebook gradient is identical on every rank;
  the reconstruction loss is the local mean, which DDP's average turns into the global mean.
  Cost: every rank searches all global tokens (W times the per-rank search), small next to the
  convolutions at the paper's shapes.
* Evaluation accumulators (usage histogram, error and metric sums): :func:`all_reduce_sum`.

Launch: ``torchrun --nproc_per_node=N -m vqmatch.simulations.vqvae ...`` (or any script calling
:func:`vqmatch.simulations.vqvae.train.train`): :func:`init_from_env` reads ``RANK``/``WORLD_SIZE``/
``LOCAL_RANK`` and starts NCCL on CUDA, gloo on CPU. The global batch is ``config.batch_size``; each
rank loads ``batch_size / world_size`` images of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import torch
import torch.distributed as dist

__all__ = ["DistContext", "all_reduce_sum", "gather_rows", "global_quantize", "init_from_env",
           "is_distributed", "wrap_ddp"]


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env(device_type: str) -> DistContext:
    """Join the process group described by torchrun's environment (no-op for a single process).

    An already initialised group (e.g. by a test harness) is used as is."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank)


@cache
def _gather_group():
    """A process group of its own for the feature gather, so that its collectives never interleave
    with DDP's gradient buckets on the default group."""
    return dist.new_group(backend=dist.get_backend())


class _GatherRows(torch.autograd.Function):
    """All-gather along dim 0 (equal sizes on every rank); backward: all-reduce(sum), local slice."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        ctx.rank, ctx.n = dist.get_rank(group), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad[ctx.rank * ctx.n:(ctx.rank + 1) * ctx.n], None


def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Differentiable all-gather of ``x`` along dim 0 over all ranks, in rank order. Every rank must
    hold the same number of rows (the training sampler gives each rank ``batch_size / world_size``
    images; checking it here would cost a collective and a host sync per step)."""
    if not is_distributed():
        return x
    return _GatherRows.apply(x, _gather_group())


def global_quantize(quantizer, z: torch.Tensor, *, enabled: bool = True):
    """``quantizer(z)``, with the quantizer run on the global batch when distributed and ``enabled``.

    Returns the quantizer's output with ``quantized`` and ``indices`` restricted to this rank's
    images; ``loss``, ``losses`` and ``metrics`` are those of the global batch (the same on all
    ranks)."""
    if not (enabled and is_distributed()):
        return quantizer(z)
    n, rank = z.shape[0], dist.get_rank()
    out = quantizer(gather_rows(z))
    out.quantized = out.quantized[rank * n:(rank + 1) * n]
    out.indices = out.indices[rank * n:(rank + 1) * n]
    return out


def wrap_ddp(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel around ``model`` without the per-forward buffer broadcast (every rank
    updates the quantizer's buffers identically from the global batch)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    params = inspect.signature(DistributedDataParallel.__init__).parameters
    key = "forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, **{key: False})


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """In-place sum over ranks (no-op for one process); returns ``t``."""
    if is_distributed():
        dist.all_reduce(t)
    return t
