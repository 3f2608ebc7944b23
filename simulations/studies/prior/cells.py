r"""Cells of the ``prior`` study: one per tokenizer run (quantizer, K, d, dataset, replicate of the
``vqvae`` study's stored runs).

A cell reads its VQ-VAE from the ``vqvae`` study's scratch folder of that run (``config.json`` and
``checkpoint.pt``, under the same results store: :class:`~vqmatch.simulations.core.registry.StoredRun`)
and

1. encodes the train images (``train_images`` of them, evenly spaced; None: all) and the held-out
   images into token grids (cached as ``tokens_train.npy`` /
   ``tokens_heldout.npy`` in the cell's scratch folder);
2. trains the prior on the train tokens (:func:`vqmatch.simulations.prior.train_prior`, resumable:
   atomic checkpoints in ``<scratch>/prior``) and takes its held-out NLL in bits per token and per
   image, next to log2 K and the unigram baselines of the token marginal;
3. measures the tokenizer on the held-out split: the utilization and perplexity of its tokens and
   its reconstruction distortion (the mean squared pixel error on [-1, 1] of decode(encode(x)));
4. draws ``samples`` grids from the prior, decodes them with the VQ-VAE decoder, and measures the
   sampled tokens (utilization, perplexity, the Jensen-Shannon divergence of their histogram from
   the held-out tokens') and the decoded images against the held-out images in the random-feature
   space (Fréchet distance, KID, precision / recall), with the held-out reconstructions' Fréchet
   distance as the tokenizer's own floor; Inception FID / KID only with weights on disk.

Seeds: the prior's initialisation and batch order, the sampling and the KID subsets come from the
cell's stream, which is the replicate's (``<dataset>-r<replicate>``): every quantizer's prior of a
replicate sees the same random numbers. One row per run (:data:`ROW_KEYS`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from ...core.registry import Cell, Requirement, StoredRun
from ...core.seeding import child, torch_seed
from ...core.store import atomic_write
from .config import PriorStudyConfig

VQVAE = "vqvae"
LABELS = ("quantizer", "codebook_size", "codebook_dim", "dataset", "replicate")
ROW_KEYS = (*LABELS, "tokenizer", "prior_steps", "prior_parameters", "tokens_per_image",
            "bits_per_token", "bits_per_image", "log2_k", "heldout_entropy_bits",
            "train_unigram_bits", "tokenizer_utilization", "tokenizer_perplexity",
            "train_utilization", "distortion", "vqvae_rec_loss", "sample_utilization",
            "sample_perplexity", "sample_js", "frechet", "kid", "kid_std", "precision", "recall",
            "recon_frechet", "inception_fid", "inception_kid", "samples", "heldout_images",
            "samples_file", "prior_seconds", "seconds")
TIMING_KEYS = ("prior_seconds", "seconds")
_ENCODE_CHUNK = 2048


def is_tokenizer(quantizers: Sequence[str], codebook_sizes: Sequence[int] | None, key: str,
                 params: dict) -> bool:
    """Whether a ``vqvae`` cell (its key and the JSON form of its parameters) is a run this study
    reads: the authors' settings ("paper", no gamma / beta / codebook-lr change) of one of
    ``quantizers`` at one of ``codebook_sizes`` (None: any)."""
    p = params.get("point")
    if not isinstance(p, dict):
        return False
    return (p.get("setting") == "paper" and p.get("quantizer") in quantizers
            and (codebook_sizes is None or p.get("codebook_size") in codebook_sizes)
            and all(p.get(name) is None for name in ("gamma", "beta", "codebook_lr")))


def requirements(cfg: PriorStudyConfig) -> tuple[Requirement, ...]:
    """The ``vqvae`` runs a configuration reads (``Study.requires``)."""
    sizes = "" if cfg.codebook_sizes is None else f" at K = {', '.join(map(str, cfg.codebook_sizes))}"
    return (Requirement(VQVAE, cfg.vqvae_scale,
                        partial(is_tokenizer, cfg.quantizers, cfg.codebook_sizes),
                        replicates=cfg.replicates,
                        what=f"runs of {', '.join(cfg.quantizers)}{sizes} (authors' settings)"),)


def _point(run: StoredRun) -> dict:
    return run.params["point"]


def list_cells(cfg: PriorStudyConfig, inputs: Mapping[str, list[StoredRun]]) -> Iterator[Cell]:
    """One cell per stored tokenizer run; a ValueError when a (quantizer, K) the configuration
    asks for has no run at ``cfg.vqvae_scale``."""
    runs = [r for r in inputs.get(VQVAE, ())
            if is_tokenizer(cfg.quantizers, cfg.codebook_sizes, r.key, r.params)]
    have = sorted({_point(r)["codebook_size"] for r in runs})
    sizes = cfg.codebook_sizes or ((have[-1],) if have else ())
    prior = cfg.prior()
    for q in cfg.quantizers:
        for k in sizes:
            found = [r for r in runs if (_point(r)["quantizer"], _point(r)["codebook_size"]) == (q, k)]
            if not found:
                raise ValueError(f"the vqvae study's {cfg.vqvae_scale} scale has no run of {q} at "
                                 f"K = {k} with the authors' settings (it has K in {have or 'none'} "
                                 f"for {', '.join(cfg.quantizers)}); choose codebook_sizes and "
                                 f"quantizers among those")
            for run in sorted(found, key=lambda r: (_point(r)["dataset"], _point(r)["codebook_dim"],
                                                    r.replicate or 0)):
                p, rep = _point(run), run.replicate or 0
                if run.folder is None:
                    raise ValueError(f"vqvae run {run.key} keeps no scratch folder (checkpoint)")
                yield Cell(f"{p['dataset']}-{q}-K{k}-d{p['codebook_dim']}-r{rep}", prior_cell,
                           {"quantizer": q, "codebook_size": k, "codebook_dim": p["codebook_dim"],
                            "dataset": p["dataset"], "replicate": rep, "tokenizer": run.folder,
                            "train_images": cfg.train_images, "prior": prior, "samples": cfg.samples,
                            "temperature": float(cfg.temperature), "top_k": cfg.top_k,
                            "feature_seed": cfg.feature_seed, "kid_subsets": cfg.kid_subsets,
                            "kid_subset_size": cfg.kid_subset_size, "pr_k": cfg.pr_k,
                            "sample_images": cfg.sample_images,
                            "inception_weights": cfg.inception_weights},
                           stream=f"{p['dataset']}-r{rep}", scratch=True)


def prior_config(prior, seed) -> object:
    """The prior's configuration in a cell: ``prior`` with the seed of the cell's stream."""
    return replace(prior, seed=int(torch_seed(child(seed, 0)) % 2 ** 31))


def _int_seed(seed, i: int) -> int:
    return int(torch_seed(child(seed, i)) % 2 ** 31)


def results_root(scratch_dir: str) -> Path:
    """``<out>/results`` of a cell's scratch folder ``<out>/results/prior/scratch/<cell>``."""
    folder = Path(scratch_dir).resolve()
    if folder.parent.name != "scratch" or folder.parents[2].name != "results":
        raise ValueError(f"the prior study reads the vqvae runs of its results store; its cells "
                         f"need a scratch folder under <out>/results/prior/scratch, got {scratch_dir}")
    return folder.parents[2]


def load_tokenizer(folder: Path):
    """The VQ-VAE of a finished ``vqvae`` run folder, its TrainConfig and final row."""
    from ...vqvae.config import TrainConfig
    from ...vqvae.gradient_gap import load_trained
    from ...vqvae.train import resolve_device

    if not (folder / "config.json").is_file() or not (folder / "checkpoint.pt").is_file():
        raise ValueError(f"no finished vqvae run under {folder} (config.json and checkpoint.pt): "
                         f"run `vqmatch vqvae` on this results folder first")
    config = TrainConfig.from_dict(json.loads((folder / "config.json").read_text(encoding="utf-8")))
    final = {}
    if (folder / "result.json").is_file():
        final = json.loads((folder / "result.json").read_text(encoding="utf-8")).get("final") or {}
    return load_trained(config, folder, resolve_device(config)), config, final


def _images(dataset):
    """All images of a VQ-VAE dataset: uint8 (N, H, W, 3) where it holds arrays, else a float
    (N, 3, H, W) tensor in [-1, 1]."""
    import torch

    if isinstance(getattr(dataset, "images", None), np.ndarray):
        return np.array(dataset.images)  # a writable copy (torch reads it without a warning)
    return torch.stack([torch.as_tensor(dataset[i]) for i in range(len(dataset))])


def _tokens(model, images, path: Path) -> np.ndarray:
    """The token grids of ``images`` (cached in ``path``)."""
    from ...vqvae.tokens import encode_tokens

    if path.is_file():
        try:
            return np.load(path)
        except (OSError, ValueError):
            pass  # a damaged cache is recomputed
    tokens = np.concatenate([encode_tokens(model, images[i:i + _ENCODE_CHUNK])
                             for i in range(0, len(images), _ENCODE_CHUNK)])
    atomic_write(path, lambda fh: np.save(fh, tokens), binary=True)
    return tokens


def _distortion(model, images, tokens) -> tuple[float, object]:
    """Mean squared pixel error on [-1, 1] of the reconstructions decode(tokens) of ``images``,
    and the reconstructions."""
    from ...vqvae.tokens import as_model_input, decode_tokens

    rec = decode_tokens(model, tokens)
    x = as_model_input(images)
    return float(((rec.double() - x.double()) ** 2).mean()), rec


def _u8(images) -> np.ndarray:
    return ((images.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def _inception(weights, real, fake) -> tuple[float | None, float | None]:
    """Inception FID and KID with the weights file ``weights``; (None, None) without it (no
    substitute number)."""
    if weights is None:
        return None, None
    from ...prior.features import inception_fid

    try:
        out = inception_fid(real, fake, weights)
    except (ValueError, ImportError, OSError):
        return None, None
    return float(out["fid"]), float(out["kid"])


def prior_cell(quantizer: str, codebook_size: int, codebook_dim: int, dataset: str, replicate: int,
               tokenizer: str, train_images: int | None, prior, samples: int,
               temperature: float, top_k: int | None, feature_seed: int, kid_subsets: int,
               kid_subset_size: int, pr_k: int, sample_images: int,
               inception_weights: str | None, seed, scratch_dir: str) -> list[dict]:
    """One tokenizer run: its tokens, its prior, the prior's likelihood and samples (module
    docstring); one row."""
    from ...prior import (
        frechet_distance,
        histogram,
        js_divergence,
        kernel_distance,
        precision_recall,
        random_features,
        sample,
        token_stats,
        train_prior,
        unigram_baselines,
    )
    from ...vqvae.data import evenly_spaced, make_datasets
    from ...vqvae.tokens import decode_tokens

    start = time.perf_counter()
    scratch = Path(scratch_dir)
    model, vq_config, vq_final = load_tokenizer(results_root(scratch_dir) / tokenizer)
    if vq_config.codebook_size != codebook_size:
        raise ValueError(f"the vqvae run {tokenizer} has K = {vq_config.codebook_size}, the cell "
                         f"expects codebook_size={codebook_size}")
    train_set, heldout_set, _ = make_datasets(vq_config)
    heldout = _images(heldout_set)
    train = _images(train_set)
    if train_images is not None and train_images < len(train):
        train = train[evenly_spaced(len(train), train_images)]
    tok_train = _tokens(model, train, scratch / "tokens_train.npy")
    tok_heldout = _tokens(model, heldout, scratch / "tokens_heldout.npy")
    del train_set, train

    config = prior_config(prior, seed)
    result = train_prior(config, tok_train, tok_heldout, codebook_size, out_dir=scratch / "prior",
                         resume=True)
    final = result.final
    grid = tuple(tok_heldout.shape[1:])
    base = unigram_baselines(tok_train, tok_heldout, codebook_size)
    held = token_stats(tok_heldout, codebook_size)
    distortion, recon = _distortion(model, heldout, tok_heldout)

    drawn = sample(result.model, samples, grid, temperature=temperature, top_k=top_k,
                   seed=_int_seed(seed, 1))
    sampled = token_stats(drawn, codebook_size)
    images = decode_tokens(model, drawn)
    real = random_features(heldout, seed=feature_seed)
    fake = random_features(images, seed=feature_seed)
    kid = kernel_distance(real, fake, subsets=kid_subsets, subset_size=kid_subset_size,
                          seed=_int_seed(seed, 2))
    pr = precision_recall(real, fake, k=pr_k)
    fid, ikid = _inception(inception_weights, heldout, images)
    samples_file = None
    if replicate == 0 and sample_images:
        path = scratch / "samples.npz"
        picked = _u8(images[:sample_images])
        atomic_write(path, lambda fh: np.savez_compressed(fh, samples=picked), binary=True)
        samples_file = str(Path(*scratch.parts[-2:]) / path.name)  # relative to results/prior
    row = {"quantizer": quantizer, "codebook_size": codebook_size, "codebook_dim": codebook_dim,
           "dataset": dataset, "replicate": replicate, "tokenizer": tokenizer,
           "prior_steps": final["step"], "prior_parameters": result.parameters,
           "tokens_per_image": int(grid[0] * grid[1]),
           "bits_per_token": final["heldout_bits_per_token"],
           "bits_per_image": final["heldout_bits_per_image"], "log2_k": base["log2_k"],
           "heldout_entropy_bits": base["heldout_entropy_bits"],
           "train_unigram_bits": base["train_unigram_bits"],
           "tokenizer_utilization": held["utilization"],
           "tokenizer_perplexity": held["perplexity"],
           "train_utilization": token_stats(tok_train, codebook_size)["utilization"],
           "distortion": distortion, "vqvae_rec_loss": vq_final.get("rec_loss"),
           "sample_utilization": sampled["utilization"],
           "sample_perplexity": sampled["perplexity"],
           "sample_js": js_divergence(histogram(drawn, codebook_size),
                                      histogram(tok_heldout, codebook_size)),
           "frechet": frechet_distance(real, fake), "kid": kid["kid"], "kid_std": kid["kid_std"],
           "precision": pr["precision"], "recall": pr["recall"],
           "recon_frechet": frechet_distance(real, random_features(recon, seed=feature_seed)),
           "inception_fid": fid, "inception_kid": ikid, "samples": samples,
           "heldout_images": len(heldout), "samples_file": samples_file,
           "prior_seconds": final["seconds"], "seconds": time.perf_counter() - start}
    return [row]


__all__ = ["LABELS", "ROW_KEYS", "TIMING_KEYS", "is_tokenizer", "list_cells", "load_tokenizer",
           "prior_cell", "prior_config", "requirements", "results_root"]
