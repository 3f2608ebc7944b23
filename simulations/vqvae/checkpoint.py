"""Atomic, complete training checkpoints.

A checkpoint holds everything the next step depends on: the model (encoder, decoder, projections and
the quantizer's parameters AND buffers: EMA statistics, online usage, the Wasserstein feature queue),
the optimiser, the quantizer's own numpy generator (the per-step draws of sliced / MMD), the python,
numpy, torch and CUDA generator states, the step (the data order and the learning rate are functions
of the step), the evaluation rows so far, the training seconds so far and the config. It is written
to a temporary file in the same folder and moved into place with ``os.replace``: a kill at any
moment leaves either the previous or the new checkpoint, never a torn one.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from ..core.store import atomic_write

__all__ = ["load_checkpoint", "save_checkpoint"]

FORMAT = 1


def rng_state() -> dict:
    # the global numpy state is saved for user code that draws from it (this package does not)
    state = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, *, model, optimizer, step: int, rows: list, seconds: float,
                    config: dict, extra: dict | None = None) -> None:
    """Write the checkpoint of ``model`` (unwrapped, not DDP) atomically to ``path``; ``extra`` entries
    are stored alongside (and returned by :func:`load_checkpoint`)."""
    payload = {
        "format": FORMAT, "step": step, "rows": rows, "seconds": seconds, "config": config,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "quantizer_rng": model.quantizer.rng.bit_generator.state, "rng": rng_state(), **(extra or {}),
    }
    atomic_write(path, lambda fh: torch.save(payload, fh), binary=True)


def load_checkpoint(path: str | Path, *, model, optimizer, config: dict) -> dict:
    """Restore ``model``, ``optimizer`` and every generator from ``path``; returns the payload (``step``,
    ``rows``, ``seconds``). A checkpoint of a different config raises ValueError naming the keys."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} could not be read ({type(err).__name__}: {err}); "
                         f"delete it or pass resume=False") from None
    if payload.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} has format {payload.get('format')!r}, expected {FORMAT}")
    saved = payload["config"]
    diff = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
    if diff:
        raise ValueError(f"checkpoint {str(path)!r} was written by a different config (keys {diff}); "
                         f"use another out_dir or pass resume=False")
    model.load_state_dict(payload["model"])
    optimizer.load_state_dict(payload["optimizer"])
    model.quantizer.rng.bit_generator.state = payload["quantizer_rng"]
    set_rng_state(payload["rng"])
    return payload
