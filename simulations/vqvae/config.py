"""The VQ-VAE training configuration: one frozen dataclass, named presets, ``key=value`` overrides and
the authors' per-quantizer optimiser settings.

Per-quantizer settings (the authors' ``code/VQVAE/train_vqvae.py``, ``config.py`` and training
scripts in github.com/VQ-Research/Wasserstein-VQ; paper Table 5 and §4; :func:`quantizer_settings`):

========================  ======  =====  ========  ==========================  =====================
quantizer                 beta    gamma  cb. lr    codebook init               other
========================  ======  =====  ========  ==========================  =====================
vanilla, online           1.0     -      = lr      U(-1/K, 1/K)                online decay 0.99
ema                       1.0     -      (none)    N(0, 1/K^2)                 decay 0.8, eps 1e-5
wasserstein               0.1     0.5    0.02      N(0, 0.01^2)                queue 65,536, std-norm.
========================  ======  =====  ========  ==========================  =====================

alpha (codebook term) is 1.0 for all; the terms are element-wise means (``reduction="mean"``, as the
authors' ``F.mse_loss``). Not in the paper's VQ-VAE, our choices: ``mmd``, ``sliced``,
``density_wasserstein`` (the names in :data:`MATCHING`) use the Wasserstein setup (beta 0.1,
gamma 0.5, codebook lr 0.02, N(0, 0.01^2); density_wasserstein also the queue; mmd compares the
features with a random 1024 of the codes per step, since its kernel sums cost O((n + m)^2)); ``linear`` and
``ste++`` (and any other name) use vanilla's, except that ``linear``'s frozen codes are N(0, 1/d)
(SimVQ's scale: U(-1/K, 1/K) codes would need a huge map). Online uses the CVQ-VAE (nearest-feature)
anchor; ``quantizer_options={'anchor': 'farthest'}`` reproduces the authors' port.
``codebook_lr`` set explicitly puts the quantizer's parameters in a group of their own at that
constant lr for every quantizer with parameters (ignored for ema, which has none).

Presets: ``paper-cifar10`` / ``paper-svhn`` / ``paper-ffhq`` / ``paper-imagenet`` (the paper's shapes,
batch sizes, lr 5e-5, K = 16384, d = 8, steps = epochs x iterations per epoch; FFHQ and ImageNet read
an image folder: pass ``data_root``; the authors evaluate FFHQ on its training images, here a folder
without ``train/`` + ``val/`` holds out every ``heldout_every``-th file) and ``quick-cpu`` (the
defaults below: builtin photographs, the tiny model, K = 1024, 400 steps of 32, lr 5e-4).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass

from ..core.checks import check_int
from ..core.overrides import apply_overrides as overrides_of
from ..core.overrides import known_keys

__all__ = ["BASELINE_BETA", "MATCHING", "MATCHING_BETA", "MATCHING_CODEBOOK_LR", "MATCHING_GAMMA",
           "PRESETS", "TrainConfig", "apply_overrides", "preset", "quantizer_settings"]

MATCHING = ("wasserstein", "mmd", "sliced", "density_wasserstein")  # the Wasserstein optimiser setup
# the authors' settings (module docstring): commitment weight beta of the matching quantizers and of
# the baselines, and the matching quantizers' codebook lr
MATCHING_BETA, BASELINE_BETA, MATCHING_CODEBOOK_LR = 0.1, 1.0, 0.02
MATCHING_GAMMA = 0.5  # the matching-loss weight gamma of the authors' code
_QUEUED = ("wasserstein", "density_wasserstein")
MMD_CODES = 1024  # codes per step in the MMD term (K above it: an unbiased random subsample)
LR_SCHEDULES = ("constant", "warmup_cosine")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """Everything one VQ-VAE run depends on (the defaults are the ``quick-cpu`` preset's)."""

    # --- data
    dataset: str = "builtin"  # builtin | cifar10 | svhn | folder (vqmatch.simulations.vqvae.data)
    data_root: str | None = None  # folder of cifar10 / svhn / folder data (ignored by builtin)
    download: bool = False  # cifar10 / svhn only: download into data_root with torchvision
    resolution: int = 32  # image side (a multiple of the shape's downsampling factor)
    heldout_every: int = 50  # folder without train/ + val/: every n-th file is held out
    num_workers: int = 0  # DataLoader worker processes (0: main process)
    # --- model and quantizer
    shape: str = "tiny"  # tiny | cifar | imagenet (vqmatch.simulations.vqvae.model.SHAPES)
    quantizer: str = "wasserstein"  # any name of vqmatch.simulations.engines.quantizers.QUANTIZERS
    codebook_size: int = 1024  # K
    codebook_dim: int = 8  # d
    alpha: float = 1.0  # codebook term weight ||z_q - sg(z)||^2
    beta: float | None = None  # commitment weight ||sg(z_q) - z||^2; None: 1.0, matching quantizers 0.1
    gamma: float | None = None  # matching-loss weight (matching quantizers only); None: 0.5
    queue_size: int = 65536  # Wasserstein feature queue (wasserstein, density_wasserstein)
    quantizer_options: tuple = ()  # extra make_quantizer options, a dict or (key, value) pairs
    # --- optimisation (Adam, no weight decay)
    steps: int = 400  # optimizer steps (the paper: epochs x floor(n_train / batch_size))
    batch_size: int = 32  # global batch (split over ranks under torchrun)
    lr: float = 5e-4  # model lr (the paper: 5e-5; at 1e-3 the EMA VQ-VAE collapses to 3 codes in 400 steps)
    codebook_lr: float | None = None  # None: the authors' per-quantizer default (module docstring)
    adam_betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0  # clip_grad_norm_ of the model group and, separately, of the codebook group
    lr_schedule: str = "constant"  # constant | warmup_cosine (model group only; the paper: ImageNet)
    warmup_steps: int = 5000  # warmup_cosine: linear warmup from 0 to lr
    decay_steps: int = 50000  # warmup_cosine: cosine down to min_lr_ratio * lr at this step, then flat
    min_lr_ratio: float = 0.2
    # --- evaluation and checkpoints
    eval_every: int = 200  # evaluate on the whole held-out split every n steps (and at the end)
    eval_batch_size: int = 64  # per rank (the authors: 2 x batch_size)
    eval_images: int = 0  # 0: the whole held-out split (the paper); n: n evenly spaced held-out images
    checkpoint_every: int = 200  # atomic checkpoint every n steps (and at the end); 0: end only
    # --- runtime
    seed: int = 0  # model init, codebook init, data order, random crops
    device: str = "auto"  # auto (CUDA if available, else CPU) | cpu | cuda
    amp: bool = True  # bf16 autocast on CUDA (never on CPU)
    tf32: bool = True  # TF32 matmuls / convolutions on CUDA
    compile: bool = False  # torch.compile the encoder and decoder (CPU: 0.9x the step, ~1 min to compile)
    fast: bool = True  # foreach Adam and clipping (bitwise the rows of fast=False, the previous loop)
    deterministic: bool = False  # torch.use_deterministic_algorithms during the run

    def __post_init__(self):
        from ..engines.quantizers import QUANTIZERS
        from .data import DATASETS
        from .model import SHAPES

        opts = self.quantizer_options
        if isinstance(opts, dict):
            opts = tuple(sorted(opts.items()))
        if not isinstance(opts, tuple) or not all(isinstance(p, tuple) and len(p) == 2 for p in opts):
            raise ValueError(f"quantizer_options must be a dict or (key, value) pairs, got {opts!r}")
        object.__setattr__(self, "quantizer_options", opts)
        for name, choices in (("dataset", DATASETS), ("shape", tuple(SHAPES)), ("quantizer", QUANTIZERS),
                              ("lr_schedule", LR_SCHEDULES), ("device", DEVICES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {name}={getattr(self, name)!r}")
        for name in ("codebook_size", "codebook_dim", "steps", "batch_size", "eval_every", "eval_batch_size",
                     "resolution", "heldout_every", "queue_size"):
            check_int(getattr(self, name), name, 1)
        for name in ("num_workers", "checkpoint_every", "warmup_steps", "decay_steps", "seed", "eval_images"):
            check_int(getattr(self, name), name, 0)
        for name in ("lr", "codebook_lr", "alpha", "beta", "gamma", "grad_clip", "min_lr_ratio"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, got {name}={v!r}")
        if self.gamma is not None and self.quantizer not in MATCHING:
            raise ValueError(f"gamma is the matching-loss weight of {MATCHING}; quantizer "
                             f"{self.quantizer!r} has none (leave gamma=None)")
        if self.resolution % SHAPES[self.shape].factor:
            raise ValueError(f"resolution={self.resolution} must be a multiple of the downsampling factor "
                             f"{SHAPES[self.shape].factor} of shape {self.shape!r}")

    def to_dict(self) -> dict:
        """A JSON-able dict; :meth:`from_dict` inverts it."""
        d = dataclasses.asdict(self)
        d["quantizer_options"] = dict(self.quantizer_options)
        d["adam_betas"] = list(self.adam_betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The config of a :meth:`to_dict` dict (missing keys take the defaults; unknown ones raise)."""
        return cls(**known_keys(cls, d))


def quantizer_settings(config: TrainConfig) -> dict:
    """The resolved quantizer and optimiser settings of ``config``: ``options`` (for make_quantizer),
    ``codebook_lr`` (None: the quantizer's parameters train in the model group at the model lr; a
    number: a group of their own at that constant lr) and ``family`` ("matching" or "baseline")."""
    name, k, d = config.quantizer, config.codebook_size, config.codebook_dim
    matching = name in MATCHING
    beta = config.beta if config.beta is not None else (MATCHING_BETA if matching else BASELINE_BETA)
    opts: dict = {"seed": config.seed, "reduction": "mean", "alpha": config.alpha, "beta": beta}
    if matching:
        opts |= {"init": "gaussian", "init_scale": 0.01,
                 "weight": config.gamma if config.gamma is not None else MATCHING_GAMMA}
        if name in _QUEUED:
            opts["queue_size"] = config.queue_size
        if name == "mmd":  # a random 1024 of the codes per step: the kernel sums cost O((n + m)^2)
            opts["max_codes"] = MMD_CODES
    elif name == "ema":
        opts |= {"init": "gaussian", "init_scale": 1.0 / k, "decay": 0.8, "eps": 1e-5}
    elif name == "linear":
        opts |= {"init": "gaussian", "init_scale": d ** -0.5}
    else:  # vanilla, online, ste++ and any other baseline
        opts |= {"init": "uniform", "init_scale": 1.0 / k}
        if name == "online":
            opts["decay"] = 0.99
    opts |= dict(config.quantizer_options)
    codebook_lr = (config.codebook_lr if config.codebook_lr is not None
                   else (MATCHING_CODEBOOK_LR if matching else None))
    return {"options": opts, "codebook_lr": codebook_lr, "family": "matching" if matching else "baseline"}


_PAPER = {"lr": 5e-5, "codebook_size": 16384, "codebook_dim": 8, "num_workers": 8, "checkpoint_every": 1000}
PRESETS: dict[str, TrainConfig] = {
    # 50 epochs x 390 steps of 128 (50,000 images); eval every 5 epochs
    "paper-cifar10": TrainConfig(dataset="cifar10", shape="cifar", batch_size=128, steps=19_500,
                                 eval_every=1950, eval_batch_size=256, **_PAPER),
    # 50 epochs x 572 steps of 128 (73,257 images)
    "paper-svhn": TrainConfig(dataset="svhn", shape="cifar", batch_size=128, steps=28_600, eval_every=2860,
                              eval_batch_size=256, **_PAPER),
    # 30 epochs x 2,187 steps of 32 (70,000 images), constant lr, eval every 5 epochs
    "paper-ffhq": TrainConfig(dataset="folder", shape="imagenet", resolution=256, batch_size=32, steps=65_610,
                              eval_every=10_935, **_PAPER),
    # 4 epochs x 40,036 steps of 32, warmup 5,000 then cosine to lr/5 at 50,000, eval every epoch
    "paper-imagenet": TrainConfig(dataset="folder", shape="imagenet", resolution=256, batch_size=32,
                                  steps=160_144, eval_every=40_036, lr_schedule="warmup_cosine", **_PAPER),
    # 2 CPU cores, ~1 minute per quantizer: builtin photographs, tiny model, K = 1024
    "quick-cpu": TrainConfig(),
}


def preset(name: str) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {tuple(PRESETS)}, got preset={name!r}")
    return PRESETS[name]


def apply_overrides(config: TrainConfig, overrides: typing.Iterable[str]) -> TrainConfig:
    """A copy of ``config`` with ``key=value`` overrides applied (a leading ``--`` is allowed).

    Values are Python literals (``ast.literal_eval``; a bare word is a string for string fields),
    checked against the field's type: ``lr=1e-4``, ``codebook_size=512``, ``beta=None``,
    ``quantizer=ema``, ``quantizer_options={'anchor': 'farthest'}``. An unknown key, a missing ``=``
    or a value of the wrong type raises ValueError naming it
    (:func:`vqmatch.simulations.core.overrides.apply_overrides`)."""
    return overrides_of(config, overrides)

