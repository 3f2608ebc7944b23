"""An autoregressive prior over VQ-VAE token grids, and the numbers that judge its tokens and samples
(the paper's open question 3: do distributionally matched tokens help or hurt a prior?).

    from vqmatch.simulations.prior import preset, sample, train_prior
    result = train_prior(preset("quick-cpu"), train_tokens, heldout_tokens, codebook_size=1024)
    result.final["heldout_bits_per_token"]
    grids = sample(result.model, 1000, (8, 8), temperature=1.0, top_k=None, seed=0)

Modules: ``model`` (the GPT-shaped transformer), ``config`` (``PriorConfig``, presets, overrides),
``train`` (the loop, held-out evaluation, checkpoints), ``sample`` (seeded ancestral sampling),
``metrics`` (token marginals: entropy, utilisation, unigram baselines, Jensen-Shannon divergence),
``features`` (offline random-conv features, Fréchet distance, KID, precision/recall; Inception FID
when its weights are on disk).
"""

from .config import PRESETS, PriorConfig, apply_overrides, preset
from .features import (
    FEATURE_DIM,
    frechet_distance,
    inception_fid,
    kernel_distance,
    precision_recall,
    random_features,
)
from .metrics import (
    check_tokens,
    entropy_bits,
    histogram,
    js_divergence,
    log2_k,
    perplexity,
    token_stats,
    unigram_baselines,
    utilization,
)
from .model import PriorTransformer, build_prior
from .sample import sample
from .train import ROW_KEYS, TIMING_KEYS, PriorResult, evaluate, load_prior, train_prior

__all__ = ["FEATURE_DIM", "PRESETS", "ROW_KEYS", "TIMING_KEYS", "PriorConfig", "PriorResult",
           "PriorTransformer", "apply_overrides", "build_prior", "check_tokens", "entropy_bits", "evaluate",
           "frechet_distance", "histogram", "inception_fid", "js_divergence", "kernel_distance", "load_prior",
           "log2_k", "perplexity", "precision_recall", "preset", "random_features", "sample", "token_stats",
           "train_prior", "unigram_baselines", "utilization"]
