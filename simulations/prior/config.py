"""The prior's training configuration: one frozen dataclass, named presets and ``key=value`` overrides.

The prior is a decoder-only transformer over a VQ-VAE's token grids (:mod:`.model`); the vocabulary
(K codes, plus a start token) and the sequence length (H x W tokens) come from the data, everything
else from :class:`PriorConfig`.

Presets (parameter counts include the embeddings and the head, which grow with K):

* ``quick-cpu``: 4 layers, 4 heads, width 128 (1.06 M parameters at K = 1024 on an 8 x 8 grid, of
  which 0.26 M are the token embedding and the head); batch 32, 1000 steps, lr 1e-3 with 100 warmup
  steps: sized to train in minutes on one CPU core.
* ``paper-8x8``: the GPT shape on the 8 x 8 grids of the VQ-VAE's ``cifar`` shape (CIFAR-10, SVHN;
  also the ``tiny`` shape's): 12 layers, 8 heads, width 512 (54.6 M at K = 16384, 38.9 M at
  K = 1024), batch 256, 50,000 steps, lr 6e-4, bf16 on CUDA.
* ``paper-16x16``: 12 layers, 12 heads, width 768 (110.4 M at K = 16384) on the 16 x 16 grids of the
  ``imagenet`` shape (FFHQ, ImageNet), batch 128, 100,000 steps, lr 3e-4, dropout 0.1.
* ``tiny``: 2 layers, 2 heads, width 32 (0.09 M at K = 1024); for tests (seconds).

``grid`` pins the token grid a preset is meant for (a mismatch raises); ``None`` takes it from the
data.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass

from ..core.checks import check_int
from ..core.overrides import apply_overrides as overrides_of
from ..core.overrides import known_keys

__all__ = ["DEVICES", "PRECISIONS", "PRESETS", "PriorConfig", "apply_overrides", "preset"]

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("bf16", "fp32")  # bf16: autocast on CUDA (CPU always runs float32)


@dataclass(frozen=True)
class PriorConfig:
    """Everything one prior run depends on besides its tokens (the defaults are ``quick-cpu``'s)."""

    # --- model
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128  # a multiple of n_head
    dropout: float = 0.0  # on the embeddings, the attention weights and every residual branch
    tie_weights: bool = False  # the head reuses the token embedding of the K codes
    grid: tuple[int, int] | None = None  # (H, W) of the token grid; None: the data's
    # --- optimisation (AdamW; weight decay on matrices only)
    batch_size: int = 32
    steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    warmup_steps: int = 100  # linear warmup from 0, then cosine down to min_lr_ratio * lr at `steps`
    min_lr_ratio: float = 0.1
    grad_clip: float = 1.0  # clip_grad_norm_ of all parameters; 0: no clipping
    # --- evaluation and checkpoints
    eval_every: int = 250  # held-out NLL every n steps (and at the end)
    eval_batch_size: int = 256
    checkpoint_every: int = 500  # atomic checkpoint every n steps (and at the end); 0: end only
    # --- runtime
    seed: int = 0  # model init, batch order, dropout
    device: str = "auto"  # auto (CUDA if available, else CPU) | cpu | cuda
    precision: str = "bf16"  # bf16 | fp32: bf16 autocast on CUDA only

    def __post_init__(self):
        for name, choices in (("device", DEVICES), ("precision", PRECISIONS)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {name}={getattr(self, name)!r}")
        for name in ("n_layer", "n_head", "n_embd", "batch_size", "steps", "eval_every", "eval_batch_size"):
            check_int(getattr(self, name), name, 1)
        for name in ("warmup_steps", "checkpoint_every", "seed"):
            check_int(getattr(self, name), name, 0)
        for name in ("lr", "weight_decay", "grad_clip", "min_lr_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, got {name}={v!r}")
        if self.min_lr_ratio > 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got min_lr_ratio={self.min_lr_ratio!r}")
        if not (isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got dropout={self.dropout!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")
        betas = self.betas
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got betas={betas!r}")
        object.__setattr__(self, "betas", tuple(float(b) for b in betas))
        if self.grid is not None:
            g = self.grid
            if (not isinstance(g, (tuple, list)) or len(g) != 2
                    or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in g)):
                raise ValueError(f"grid must be None or two positive integers (H, W), got grid={g!r}")
            object.__setattr__(self, "grid", tuple(g))

    def to_dict(self) -> dict:
        """A JSON-able dict; :meth:`from_dict` inverts it."""
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        d["grid"] = None if self.grid is None else list(self.grid)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> PriorConfig:
        """The config of a :meth:`to_dict` dict (missing keys take the defaults; unknown ones raise)."""
        return cls(**known_keys(cls, d))


PRESETS: dict[str, PriorConfig] = {
    "quick-cpu": PriorConfig(grid=(8, 8)),
    "paper-8x8": PriorConfig(n_layer=12, n_head=8, n_embd=512, grid=(8, 8), batch_size=256, steps=50_000,
                             lr=6e-4, warmup_steps=2000, eval_every=2500, eval_batch_size=1024,
                             checkpoint_every=2500),
    "paper-16x16": PriorConfig(n_layer=12, n_head=12, n_embd=768, dropout=0.1, grid=(16, 16), batch_size=128,
                               steps=100_000, lr=3e-4, warmup_steps=2000, eval_every=5000,
                               eval_batch_size=512, checkpoint_every=5000),
    "tiny": PriorConfig(n_layer=2, n_head=2, n_embd=32, batch_size=16, steps=200, lr=3e-3, warmup_steps=20,
                        eval_every=100, eval_batch_size=256, checkpoint_every=100, weight_decay=0.0,
                        device="cpu"),
}


def preset(name: str) -> PriorConfig:
    """The named preset (:data:`PRESETS`); an unknown name raises ValueError naming ``preset``."""
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got preset={name!r}")
    return PRESETS[name]


def apply_overrides(config: PriorConfig, overrides: typing.Iterable[str]) -> PriorConfig:
    """A copy of ``config`` with ``key=value`` overrides applied (a leading ``--`` is allowed).

    Values are Python literals (``ast.literal_eval``; a bare word is a string for string fields),
    checked against the field's type: ``steps=200``, ``lr=3e-4``, ``grid=(16, 16)``, ``grid=None``,
    ``device=cpu``. An unknown key, a missing ``=`` or a value of the wrong type raises ValueError
    naming it; the new config is validated as any :class:`PriorConfig`
    (:func:`vqmatch.simulations.core.overrides.apply_overrides`)."""
    if not isinstance(config, PriorConfig):
        raise TypeError(f"config must be a PriorConfig, got {type(config).__name__}")
    return overrides_of(config, overrides)
