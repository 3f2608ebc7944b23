"""Configurations of the ``prior`` study: which VQ-VAE runs of the ``vqvae`` study become tokenizers,
the prior trained on each one's tokens, and how its samples are judged.

The study reads the stored runs of the ``vqvae`` study (its results, not its code) at the scale
``vqvae_scale``: the runs of the authors' settings (setting "paper", no gamma / beta / codebook-lr
change) of ``quantizers`` at ``codebook_sizes``, replicates ``0 .. replicates - 1``. Replicate r of
every quantizer is the VQ-VAE trained with replicate r's seed, and its prior gets replicate r's
seed too: the quantizers are compared on common random numbers, paired by replicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ...core.checks import check_int
from ...core.registry import SCALES as STUDY_SCALES
from ...prior.config import PRESETS as PRIOR_PRESETS
from ...prior.config import PriorConfig, apply_overrides
from ...prior.config import preset as prior_preset

BASELINES = ("vanilla", "ema", "online")


@dataclass(frozen=True)
class PriorStudyConfig:
    """One prior study (see the module docstring).

    ``vqvae_scale``: the scale of the ``vqvae`` study whose runs are the tokenizers (``vqmatch
    prior`` runs, or loads, those runs first in the same ``--out``); ``quantizers``: which of its
    quantizers (Wasserstein VQ is compared with the others); ``codebook_sizes``: which K (None: the
    largest K that scale trains for these quantizers; every K of the scale is then read);
    ``replicates``: how many of its training runs per point (None: all of them);
    ``train_images``: the prior trains on the tokens of this many evenly spaced training images
    (None: all of them).

    ``prior_preset`` + ``prior_overrides``: the prior's :class:`~vqmatch.simulations.prior.PriorConfig`
    (a :data:`vqmatch.simulations.prior.PRESETS` name and ``key=value`` changes; its seed is set per
    replicate). ``samples``: token grids drawn from each prior (ancestral sampling at
    ``temperature``, ``top_k`` None: all codes), decoded by the VQ-VAE and compared with the held-out
    images in the random-feature space (``feature_seed``) by Fréchet distance, KID (``kid_subsets``
    subsets of up to ``kid_subset_size`` rows) and precision / recall (``pr_k`` neighbours);
    ``sample_images``: decoded samples kept for the figure (first replicate only);
    ``inception_weights``: the Inception-v3 FID weights file (None: no Inception FID / KID; the
    rows hold None).
    """

    vqvae_scale: str = "default"
    quantizers: tuple[str, ...] = ("vanilla", "ema", "online", "wasserstein")
    codebook_sizes: tuple[int, ...] | None = None
    replicates: int | None = None
    train_images: int | None = None
    prior_preset: str = "quick-cpu"
    prior_overrides: tuple[str, ...] = ()
    samples: int = 620
    temperature: float = 1.0
    top_k: int | None = None
    feature_seed: int = 0
    kid_subsets: int = 20
    kid_subset_size: int = 1000
    pr_k: int = 3
    sample_images: int = 16
    inception_weights: str | None = None

    def __post_init__(self):
        if self.vqvae_scale not in STUDY_SCALES:
            raise ValueError(f"vqvae_scale must be one of the vqvae study's scales {STUDY_SCALES}, "
                             f"got vqvae_scale={self.vqvae_scale!r}")
        if (not isinstance(self.quantizers, tuple) or not self.quantizers
                or not all(isinstance(q, str) and q for q in self.quantizers)
                or len(set(self.quantizers)) != len(self.quantizers)):
            raise ValueError(f"quantizers must be a non-empty tuple of distinct names, got "
                             f"quantizers={self.quantizers!r}")
        if self.codebook_sizes is not None:
            if not isinstance(self.codebook_sizes, tuple) or not self.codebook_sizes:
                raise ValueError(f"codebook_sizes must be None or a non-empty tuple, got "
                                 f"codebook_sizes={self.codebook_sizes!r}")
            for k in self.codebook_sizes:
                check_int(k, "codebook_sizes", minimum=2)
        for name in ("replicates", "train_images"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name)
        if self.prior_preset not in PRIOR_PRESETS:
            raise ValueError(f"prior_preset must be one of {tuple(PRIOR_PRESETS)}, got "
                             f"prior_preset={self.prior_preset!r}")
        if not isinstance(self.prior_overrides, tuple):
            raise ValueError(f"prior_overrides must be a tuple of 'key=value' strings, got "
                             f"prior_overrides={self.prior_overrides!r}")
        self.prior()  # validates the overrides
        for name in ("samples", "kid_subsets"):
            check_int(getattr(self, name), name)
        if self.samples < 4:
            raise ValueError(f"samples must be at least 4 (the feature distances need rows), got "
                             f"samples={self.samples}")
        check_int(self.kid_subset_size, "kid_subset_size", minimum=2)
        check_int(self.pr_k, "pr_k")
        check_int(self.feature_seed, "feature_seed", minimum=0)
        check_int(self.sample_images, "sample_images", minimum=0)
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
            raise ValueError(f"temperature must be a finite number > 0, got temperature={t!r}")
        if self.top_k is not None:
            check_int(self.top_k, "top_k")
        if self.inception_weights is not None and not isinstance(self.inception_weights, str):
            raise ValueError(f"inception_weights must be None or a path, got "
                             f"inception_weights={self.inception_weights!r}")

    def prior(self) -> PriorConfig:
        """The prior's training configuration (its seed is set per replicate)."""
        return apply_overrides(prior_preset(self.prior_preset), list(self.prior_overrides))


SCALES = {
    # ``verify --quick``: the vqvae quick runs at K = 1024 (one each), the tiny prior, 256 samples
    "quick": PriorStudyConfig(vqvae_scale="quick", codebook_sizes=(1024,), replicates=1,
                              prior_preset="tiny", prior_overrides=("steps=150", "eval_every=150",
                                                                    "checkpoint_every=150"),
                              samples=256, kid_subsets=10, sample_images=8),
    # the vqvae default runs at K = 4096, 5 replicates each: 20 priors of the quick-cpu shape,
    # 500 steps each, 620 samples (the held-out count)
    "default": PriorStudyConfig(vqvae_scale="default", codebook_sizes=(4096,), replicates=5,
                                prior_preset="quick-cpu",
                                prior_overrides=("steps=500", "warmup_steps=50", "eval_every=100",
                                                 "checkpoint_every=100")),
    # the paper's CIFAR-10 grid at its largest K, the GPT-shaped prior on the 8 x 8 tokens (GPU)
    "full": PriorStudyConfig(vqvae_scale="full", codebook_sizes=(32768,), replicates=5,
                             prior_preset="paper-8x8", samples=10_000, kid_subsets=100,
                             sample_images=16),
}

__all__ = ["BASELINES", "SCALES", "PriorStudyConfig"]
