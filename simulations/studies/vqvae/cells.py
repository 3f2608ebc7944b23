r"""Study ``vqvae``: the paper's VQ-VAE ablations (Tables 1, 2, 6-9 and the gamma table) as a grid of
training runs, with a fair-comparison control and the STE gradient gap.

One cell is one grid point (quantizer, K, d, gamma, beta, codebook lr, dataset); its replicates are
training runs, each with its own seed. Every point of a replicate shares its random stream (model
initialisation, codebook initialisation, data order): the quantizers are compared on common random
numbers, and paired t tests over replicates decide the claims. A run checkpoints into the cell's
scratch folder, so a run killed mid-way resumes from its last checkpoint when the command is started
again, and finished cells are never trained again.

Each run yields one row per evaluation of the held-out split (``step``, ``utilization``,
``perplexity``, ``error``, ``psnr``, ``psnr_y``, ``ssim``, ``rec_loss``, ``lpips``,
``images_per_s``, ``seconds``) labelled with the grid point (``quantizer``, ``codebook_size``,
``codebook_dim``, ``gamma``, ``beta``, ``codebook_lr`` as resolved, ``setting``, ``replicate``,
``dataset``); the final row also carries the STE gradient gap on held-out images
(:func:`vqmatch.simulations.vqvae.gradient_gap.gradient_gap`):
:math:`G = \|\nabla_z L(z_e) - \nabla_z L(z_q)\|` against the later version's first-order bound
:math:`\|H(z_q)\|_2\,\|z_e - z_q\|`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ...core.executors import cell_bars
from ...core.registry import Cell
from ...core.seeding import child, torch_seed
from ...vqvae.config import TrainConfig, quantizer_settings
from .config import GridPoint, VQVAEConfig

LONG_RUN_STEPS = 2000


def _labels(point: GridPoint, config: TrainConfig, replicate: int) -> dict:
    settings = quantizer_settings(config)
    opts = settings["options"]
    return {"quantizer": point.quantizer, "codebook_size": point.codebook_size,
            "codebook_dim": point.codebook_dim, "dataset": point.dataset,
            "gamma": opts.get("weight") if settings["family"] == "matching" else None,
            "beta": opts["beta"],
            "codebook_lr": settings["codebook_lr"] if settings["codebook_lr"] is not None
            else config.lr,
            "setting": point.setting, "replicate": replicate}


def _train_torchrun(config: TrainConfig, scratch: Path, nproc: int) -> list[dict]:
    """Run the training under ``torchrun`` (``nproc`` processes, DDP) and read its rows."""
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "request.json").write_text(json.dumps(config.to_dict()), encoding="utf-8")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "vqmatch.simulations.vqvae",
           f"--config-json={scratch / 'request.json'}", f"--out={scratch}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"torchrun exited with {proc.returncode}: {tail[0]}")
    result = json.loads((scratch / "result.json").read_text(encoding="utf-8"))
    return result["rows"]


def train_cell(point: GridPoint, config: TrainConfig, nproc: int, gap_images: int,
               recon_images: int, power_iterations: int, seed, replicate: int,
               scratch_dir: str, latent_points: int = 0) -> list[dict]:
    """Train one replicate of a grid point (its seed derived from the cell's stream), resuming from
    the scratch folder, and measure it (the reconstructions and the latent picture on the first
    replicate only: the figures show one run)."""
    from ...vqvae.gradient_gap import final_measurements
    from ...vqvae.train import train

    cfg = replace(config, seed=int(torch_seed(child(seed, replicate)) % 2 ** 31))
    scratch = Path(scratch_dir)
    if nproc > 1:
        rows = _train_torchrun(cfg, scratch, nproc)
    else:
        # a bar per run only for long runs (the paper's training presets) computed in this
        # process with progress on; the study has its own bar
        result = train(cfg, out_dir=scratch, resume=True,
                       progress=cfg.steps >= LONG_RUN_STEPS and cell_bars())
        rows = result.rows
    labels = _labels(point, cfg, replicate)
    out = [{**labels, **r} for r in rows]
    if replicate:
        recon_images = latent_points = 0
    if out and (gap_images or recon_images or latent_points):
        extra = final_measurements(cfg, scratch, gap_images=gap_images, recon_images=recon_images,
                                   power_iterations=power_iterations, latent_points=latent_points)
        for name in ("recon_file", "latent_file"):  # relative to the results folder
            if name in extra:  # (scratch/<cell>/r<replicate>)
                extra[name] = str(Path(*scratch.parts[-3:]) / extra[name])
        out[-1].update(extra)
    return out


def list_cells(cfg: VQVAEConfig) -> Iterator[Cell]:
    """One cell per grid point; the end-of-run measurements (gradient gap, reconstructions, latent
    picture) at the largest K only, where the claims and figures read them."""
    largest = max(cfg.codebook_sizes)
    for p in cfg.points():
        at_largest = p.codebook_size == largest
        yield Cell(p.key, train_cell,
                   {"point": p, "config": cfg.train_config(p), "nproc": cfg.nproc,
                    "gap_images": cfg.gap_images if at_largest else 0,
                    "recon_images": cfg.recon_images if at_largest else 0,
                    "latent_points": cfg.latent_points if at_largest and p.setting == "paper" else 0,
                    "power_iterations": cfg.power_iterations},
                   replicates=cfg.replicates, stream=f"{p.dataset}/seed", block=1, scratch=True)
