"""Train the paper's VQ-VAE with any quantizer of the library: one readable loop, top to bottom.

    from vqmatch.simulations.vqvae import apply_overrides, preset, train
    config = apply_overrides(preset("quick-cpu"), ["quantizer=ema", "codebook_size=512"])
    result = train(config, out_dir="out/vqvae/ema-512")     # resumes from out_dir/checkpoint.pt
    result.final   # {'step', 'utilization', 'perplexity', 'error', 'psnr', 'psnr_y', 'ssim', ...}

Command line (also under ``torchrun --nproc_per_node=N -m vqmatch.simulations.vqvae`` for DDP)::

    python -m vqmatch.simulations.vqvae --preset=quick-cpu --out=out/run quantizer=ema lr=1e-4

One step: the model's loss ``mse(recon, x) + quantizer loss`` (pixels in [-1, 1]), backward, gradient
clipping of the model group and (separately) of the codebook group, Adam step; the model group's lr
follows ``config.lr_schedule``, the codebook group's is constant. Every ``eval_every`` steps and at the
end the whole held-out split is evaluated (:func:`vqmatch.simulations.vqvae.metrics.evaluate`), one row per
evaluation. Every ``checkpoint_every`` steps and at the end ``out_dir/checkpoint.pt`` is written
atomically; a run killed at any point and started again with the same ``out_dir`` continues from the
last checkpoint and ends with the numbers of an uninterrupted run (bitwise on CPU; the data order,
the crops and the lr are functions of the step). Timing columns (``images_per_s``, ``seconds``) are
the only ones that differ.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..core.store import atomic_write_text
from ..engines.quantizers import make_quantizer
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, apply_overrides, preset, quantizer_settings
from .data import make_loaders
from .distributed import all_reduce_sum, init_from_env, is_distributed, wrap_ddp
from .metrics import evaluate, lpips_status
from .model import VQVAE

__all__ = ["TrainResult", "build_model", "lr_at", "make_optimizer", "train", "train_step"]

ROW_KEYS = ("step", "utilization", "perplexity", "error", "psnr", "psnr_y", "ssim", "rec_loss", "lpips",
            "train_loss", "heldout_tokens", "images_per_s", "seconds")
TIMING_KEYS = ("images_per_s", "seconds")
# config keys that may change between a checkpoint and its resumption (they do not change the numbers)
RESUMABLE = ("steps", "num_workers", "checkpoint_every", "eval_every", "compile", "download", "data_root",
             "fast")


@dataclass
class TrainResult:
    """``rows``: one dict per evaluation (keys :data:`ROW_KEYS`); ``final``: the last row;
    ``settings``: the resolved quantizer options and codebook lr; ``finished``: False when stopped
    early by ``stop_after``; ``data``: what was loaded; ``parameters``: trainable parameter count."""

    rows: list[dict]
    final: dict | None
    config: TrainConfig
    settings: dict
    out_dir: Path | None
    finished: bool
    data: str = ""
    parameters: int = 0
    notes: list[str] = field(default_factory=list)


def build_model(config: TrainConfig, device: torch.device | str = "cpu", *,
                quantizer: torch.nn.Module | None = None) -> tuple[VQVAE, dict]:
    """The VQ-VAE of ``config`` (seeded from ``config.seed``) and its resolved quantizer settings.

    ``quantizer``: a module to use instead of the library's (a benchmark reference); its parameters
    form the codebook group only when ``config.codebook_lr`` is set."""
    torch.manual_seed(config.seed)
    if quantizer is not None:
        settings = {"codebook_lr": config.codebook_lr, "options": {}, "family": "reference"}
        return VQVAE(quantizer, config.shape).to(device), settings
    settings = quantizer_settings(config)
    q = make_quantizer(config.quantizer, config.codebook_size, config.codebook_dim, **settings["options"])
    return VQVAE(q, config.shape).to(device), settings


def make_optimizer(model: VQVAE, config: TrainConfig, settings: dict) -> torch.optim.Adam:
    """Adam (betas ``config.adam_betas``, no weight decay). Group 0: everything trainable except, when
    ``settings['codebook_lr']`` is set, the quantizer's parameters, which form group 1 at that lr.
    ``config.fast``: the foreach implementation (PyTorch picks it by itself on CUDA only; on CPU its
    default is a loop over the parameters, 3x slower for the tiny model's 180 tensors and bitwise
    the same result)."""
    codebook = list(model.quantizer.parameters()) if settings["codebook_lr"] is not None else []
    ids = {id(p) for p in codebook}
    groups = [{"params": [p for p in model.parameters() if p.requires_grad and id(p) not in ids],
               "lr": config.lr}]
    if codebook:
        groups.append({"params": codebook, "lr": settings["codebook_lr"]})
    return torch.optim.Adam(groups, lr=config.lr, betas=config.adam_betas, weight_decay=0.0,
                            foreach=True if config.fast else None)


def lr_at(config: TrainConfig, step: int) -> float:
    """Model-group lr at ``step``: constant, or linear warmup then cosine down to ``min_lr_ratio * lr``
    at ``decay_steps`` and flat after (the authors' ImageNet schedule)."""
    if config.lr_schedule == "constant":
        return config.lr
    if step < config.warmup_steps:
        return config.lr * step / config.warmup_steps
    low = config.lr * config.min_lr_ratio
    if step >= config.decay_steps:
        return low
    t = (step - config.warmup_steps) / max(1, config.decay_steps - config.warmup_steps)
    return low + 0.5 * (config.lr - low) * (1.0 + math.cos(math.pi * t))


def train_step(net, optimizer: torch.optim.Optimizer, x: torch.Tensor, *, grad_clip: float,
               autocast=None, foreach: bool | None = None) -> torch.Tensor:
    """One optimiser step on batch ``x``: loss ``mse(recon, x) + quantizer loss``, backward, clipping of
    each parameter group to norm ``grad_clip`` (model; codebook), Adam step. Returns the loss.
    ``foreach``: the clipping's implementation (None: PyTorch's choice, a loop on CPU; True: the
    foreach kernels, bitwise the same norms and gradients)."""
    with autocast or nullcontext():
        output = net(x)
        loss = F.mse_loss(output.recon.float(), x) + output.quant.loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for group in optimizer.param_groups:
        torch.nn.utils.clip_grad_norm_(group["params"], grad_clip, foreach=foreach)
    optimizer.step()
    return loss.detach()


def resolve_device(config: TrainConfig, local_rank: int = 0) -> torch.device:
    """The device of ``config.device`` ("auto": CUDA when available) for process ``local_rank``."""
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available")
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def precision_context(config: TrainConfig, device: torch.device):
    """Set TF32 on CUDA as ``config.tf32`` says; the bf16 autocast context of ``config.amp`` on CUDA
    (a null context otherwise) and its dtype (None without autocast)."""
    if device.type != "cuda":
        return nullcontext(), None
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = config.tf32
    if not config.amp:
        return nullcontext(), None
    return torch.autocast("cuda", dtype=torch.bfloat16), torch.bfloat16


def _write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1))


def train(config: TrainConfig, out_dir: str | Path | None = None, *, resume: bool = True,
          progress: bool = True, stop_after: int | None = None) -> TrainResult:
    """Train (or resume, or just return the rows of a finished run in ``out_dir``) and evaluate.

    ``out_dir=None``: nothing is written, no checkpoint. ``resume=False`` ignores an existing
    checkpoint. ``progress=False``: no bar, no printed rows, no note. ``stop_after=n`` stops after
    global step n as if killed there (for tests; the result has ``finished=False``)."""
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    device = resolve_device(config, int(os.environ.get("LOCAL_RANK", 0)))
    ctx = init_from_env(device.type)
    main = ctx.is_main
    notes = [] if lpips_status() is None else [lpips_status()]
    cuda = device.type == "cuda"
    autocast, amp_dtype = precision_context(config, device)
    prev_deterministic = torch.are_deterministic_algorithms_enabled()
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    try:
        # ---------------------------------------------------------------- model, optimiser, resume
        model, settings = build_model(config, device)
        optimizer = make_optimizer(model, config, settings)
        saved_config = {k: v for k, v in config.to_dict().items() if k not in RESUMABLE}
        out = Path(out_dir) if out_dir is not None else None
        ckpt = out / "checkpoint.pt" if out is not None else None
        step, rows, seconds, window = 0, [], 0.0, {"loss": 0.0, "images": 0, "seconds": 0.0, "steps": 0}
        if ckpt is not None and resume and ckpt.exists():
            payload = load_checkpoint(ckpt, model=model, optimizer=optimizer, config=saved_config)
            step, rows, seconds = payload["step"], payload["rows"], payload["seconds"]
            window = payload["window"]
        if out is not None and main:
            out.mkdir(parents=True, exist_ok=True)
            _write_json(out / "config.json", config.to_dict())
        loaders = make_loaders(config, start_step=step, rank=ctx.rank, world_size=ctx.world_size)
        parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        net = model
        if config.compile:
            model.encoder.compile()
            model.decoder.compile()
        if is_distributed():
            net = wrap_ddp(model, device)
        if main and notes and progress:
            print(f"note: {notes[0]}", file=sys.stderr)

        def checkpoint(done: int) -> None:
            if ckpt is not None and main:
                save_checkpoint(ckpt, model=model, optimizer=optimizer, step=done, rows=rows,
                                seconds=seconds, config=saved_config, extra={"window": window})
            if is_distributed():
                torch.distributed.barrier()

        # ---------------------------------------------------------------- the loop
        model.train()
        bar = tqdm(total=config.steps, initial=step, disable=not (progress and main), unit="step",
                   desc=f"{config.quantizer} K={config.codebook_size}", dynamic_ncols=True)
        batches = iter(loaders.train)
        finished = step >= config.steps
        while step < config.steps:
            if stop_after is not None and step >= stop_after:
                break
            t0 = time.perf_counter()
            x = next(batches).to(device, non_blocking=True)
            optimizer.param_groups[0]["lr"] = lr_at(config, step)
            loss = train_step(net, optimizer, x, grad_clip=config.grad_clip, autocast=autocast,
                              foreach=True if config.fast else None)
            step += 1
            window["loss"] += float(loss.detach())  # (one sync per step: also the finiteness check)
            if not math.isfinite(window["loss"]):
                raise FloatingPointError(f"the training loss became non-finite at step {step} "
                                         f"(quantizer {config.quantizer!r}, lr {config.lr})")
            if cuda:
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t0
            seconds += dt
            window["seconds"] += dt
            window["images"] += x.shape[0] * ctx.world_size
            window["steps"] += 1
            bar.update(1)
            if step % 10 == 0 or step == config.steps:
                bar.set_postfix(loss=f"{window['loss'] / window['steps']:.4f}",
                                img_s=f"{window['images'] / max(window['seconds'], 1e-9):.0f}")
            if step % config.eval_every == 0 or step == config.steps:
                metrics = evaluate(model, loaders.heldout, device, amp_dtype=amp_dtype)
                train_loss = all_reduce_sum(torch.tensor(window["loss"], dtype=torch.float64, device=device))
                rows.append({"step": step, **{k: metrics[k] for k in ROW_KEYS[1:9]},
                             "train_loss": float(train_loss) / (window["steps"] * ctx.world_size),
                             "heldout_tokens": metrics["tokens"],
                             "images_per_s": window["images"] / max(window["seconds"], 1e-9),
                             "seconds": seconds})
                window = {"loss": 0.0, "images": 0, "seconds": 0.0, "steps": 0}
                if main and progress:
                    bar.write(_format_row(rows[-1]))
                if main and out is not None:
                    _write_json(out / "rows.json", rows)
            if (config.checkpoint_every and step % config.checkpoint_every == 0) or step == config.steps:
                checkpoint(step)
            finished = step >= config.steps
        bar.close()
    finally:
        torch.use_deterministic_algorithms(prev_deterministic)
    result = TrainResult(rows=rows, final=rows[-1] if rows and finished else None, config=config,
                         settings=settings, out_dir=out, finished=finished, data=loaders.description,
                         parameters=parameters, notes=notes)
    if out is not None and main and finished:
        _write_json(out / "result.json", {"final": result.final, "rows": rows, "data": result.data,
                                          "settings": _jsonable(settings), "parameters": parameters,
                                          "notes": notes})
    return result


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def _format_row(row: dict) -> str:
    return (f"step {row['step']}: U {row['utilization']:.3f}  C {row['perplexity']:.1f}  "
            f"E {row['error']:.4g}  "
            f"PSNR {row['psnr']:.2f} (Y {row['psnr_y']:.2f})  SSIM {row['ssim']:.3f}  "
            f"rec {row['rec_loss']:.4f}  {row['images_per_s']:.0f} img/s")


def main(argv: list[str] | None = None) -> int:
    """``python -m vqmatch.simulations.vqvae [--preset=NAME | --config-json=PATH] [--out=DIR] [--no-progress]
    key=value ...``: train, print the final row as JSON; a bad argument or dataset prints one line
    ``error: ...`` on stderr and returns 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    name, out, progress, overrides, config_json = "quick-cpu", None, True, [], None
    for a in args:
        if a.startswith("--preset="):
            name = a.split("=", 1)[1]
        elif a.startswith("--config-json="):
            config_json = a.split("=", 1)[1]
        elif a.startswith("--out="):
            out = a.split("=", 1)[1]
        elif a == "--no-progress":
            progress = False
        else:
            overrides.append(a)
    try:
        if config_json is not None:
            try:
                base = TrainConfig.from_dict(json.loads(Path(config_json).read_text(encoding="utf-8")))
            except (OSError, json.JSONDecodeError) as err:
                raise ValueError(f"--config-json {config_json!r} could not be read ({err})") from None
        else:
            base = preset(name)
        result = train(apply_overrides(base, overrides), out, progress=progress)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result.final))
    return 0


if __name__ == "__main__":
    sys.exit(main())
