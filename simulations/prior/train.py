"""Train the autoregressive prior on token grids: one readable loop, top to bottom.

    from vqmatch.simulations.prior import apply_overrides, preset, train_prior
    config = apply_overrides(preset("quick-cpu"), ["steps=500"])
    result = train_prior(config, train_tokens, heldout_tokens, codebook_size=1024, out_dir="out/prior/w")
    result.final  # {'step', 'heldout_nll', 'heldout_bits_per_token', 'heldout_bits_per_image', ...}

Tokens are integer arrays (N, H, W) (or (N, L), read as one row of L tokens) with values in [0, K).

One step: a batch of ``batch_size`` grids, the mean cross-entropy (nats per token) of the model's
``p(t_i | t_<i)`` over all positions, backward, ``clip_grad_norm_`` to ``grad_clip``, AdamW (weight
decay on the weight matrices and embeddings only, not on biases and LayerNorms). The lr rises
linearly over ``warmup_steps`` and then follows a cosine down to ``min_lr_ratio * lr`` at ``steps``.
On CUDA the forward pass runs under bf16 autocast (``precision='bf16'``); the loss is always taken in
float32. On CPU everything is float32.

Batch order: the training grids are read as an endless stream of permutations, permutation e drawn
from ``numpy.random.default_rng((seed, e))``; step s reads stream positions ``s * B .. s * B + B - 1``.
The batch of a step is thus a function of (seed, step), and the dropout masks come from the torch
generator saved in every checkpoint.

Every ``eval_every`` steps and at the end one row (:data:`ROW_KEYS`) is appended:

* ``heldout_nll``: mean negative log-likelihood of the held-out tokens in nats per token;
* ``heldout_bits_per_token`` (= nll / ln 2) and ``heldout_bits_per_image`` (x tokens per grid);
* ``train_loss``: mean training loss (nats per token, with dropout) of the steps since the last row;
* ``lr`` of the last step; ``tokens_per_s`` and ``seconds`` (training time so far): the timing
  columns (:data:`TIMING_KEYS`), the only ones that differ between runs.

Every ``checkpoint_every`` steps and at the end ``out_dir/checkpoint.pt`` is written atomically
(model, optimizer, step, rows, the torch and CUDA generator states, the config and a fingerprint of
the tokens). Run again with the same ``out_dir``, training continues from it and ends with the rows
of an uninterrupted run (bitwise on CPU); a checkpoint of another config or other tokens raises
ValueError.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..core.store import atomic_write, atomic_write_text
from .config import PriorConfig
from .metrics import check_codebook_size, check_tokens
from .model import PriorTransformer, build_prior

__all__ = ["ROW_KEYS", "TIMING_KEYS", "BatchOrder", "PriorResult", "evaluate", "load_prior", "lr_at",
           "make_optimizer", "resolve_device", "train_prior", "train_step"]

ROW_KEYS = ("step", "heldout_nll", "heldout_bits_per_token", "heldout_bits_per_image", "train_loss", "lr",
            "tokens_per_s", "seconds")
TIMING_KEYS = ("tokens_per_s", "seconds")
# config keys that may change between a checkpoint and its resumption (they change no number)
RESUMABLE = ("checkpoint_every", "eval_every", "eval_batch_size")
FORMAT = 1
LN2 = math.log(2.0)


@dataclass
class PriorResult:
    """``rows``: one dict per evaluation (keys :data:`ROW_KEYS`); ``final``: the last row (None when
    stopped early); ``model``: the trained prior (eval mode, on the training device); ``grid``: (H, W)
    of the tokens; ``parameters``: trainable parameter count; ``finished``: False when stopped by
    ``stop_after``."""

    rows: list[dict]
    final: dict | None
    config: PriorConfig
    model: PriorTransformer
    codebook_size: int
    grid: tuple[int, int]
    parameters: int
    out_dir: Path | None
    finished: bool
    device: str = "cpu"
    notes: list[str] = field(default_factory=list)


class BatchOrder:
    """Indices of the training grids of each step: an endless stream of seeded permutations of
    ``range(n)`` (module docstring); a pure function of (seed, step). The last permutation is cached."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self._epoch, self._perm = -1, None

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, np.random.default_rng((self.seed, epoch)).permutation(self.n)
        return self._perm

    def __call__(self, step: int) -> np.ndarray:
        pos, end, out = step * self.batch_size, (step + 1) * self.batch_size, []
        while pos < end:
            epoch, offset = divmod(pos, self.n)
            take = min(end - pos, self.n - offset)
            out.append(self._permutation(epoch)[offset:offset + take])
            pos += take
        return np.concatenate(out)


def lr_at(config: PriorConfig, step: int) -> float:
    """The lr of optimiser step ``step`` (0-based): linear warmup ``lr * (step + 1) / warmup_steps``,
    then a cosine from ``lr`` down to ``min_lr_ratio * lr`` at ``config.steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    low = config.lr * config.min_lr_ratio
    t = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return low + 0.5 * (config.lr - low) * (1.0 + math.cos(math.pi * t))


def make_optimizer(model: PriorTransformer, config: PriorConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with ``weight_decay`` on the matrices (linear weights, embeddings) and none on the rest."""
    decay, rest = model.decay_groups()
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    fused = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, **fused)


def resolve_device(config: PriorConfig) -> torch.device:
    """The device of ``config.device`` ("auto": CUDA when available)."""
    if config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available")
        return torch.device("cuda")
    return torch.device("cpu")


def _autocast(config: PriorConfig, device: torch.device):
    if device.type == "cuda" and config.precision == "bf16":
        return torch.autocast("cuda", dtype=torch.bfloat16), torch.bfloat16
    return nullcontext(), None


def token_nll(model: PriorTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Per-token negative log-likelihood (nats, float32, shape (B, n)) of ``tokens`` (B, n) long."""
    logits = model(tokens).float()
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1),
                           reduction="none").view(tokens.shape)


def train_step(model: PriorTransformer, optimizer: torch.optim.Optimizer, tokens: torch.Tensor, *,
               grad_clip: float, autocast=None) -> torch.Tensor:
    """One optimiser step on ``tokens`` (B, n) long: mean cross-entropy, backward, clipping (when
    ``grad_clip`` > 0), AdamW step. Returns the loss (nats per token, detached)."""
    with autocast or nullcontext():
        loss = token_nll(model, tokens).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def evaluate(model: PriorTransformer, tokens, *, batch_size: int = 256, amp_dtype=None,
             per_position: bool = False) -> dict:
    """The prior's held-out likelihood of ``tokens`` ((N, H, W) or (N, L) with H * W or L equal to the
    model's ``block_size``, values in [0, model.codebook_size)).

    Returns ``nll`` (nats per token), ``bits_per_token``, ``bits_per_image`` (bits per token x tokens
    per grid), ``tokens`` and ``images`` (counts) and, with ``per_position=True``,
    ``bits_per_position`` (a (n,) float64 array in raster order). Sums run in float64. The model is
    put in eval mode for the pass and returned to its former mode."""
    if not isinstance(model, PriorTransformer):
        raise TypeError(f"model must be a PriorTransformer, got {type(model).__name__}")
    arr = check_tokens(tokens, model.codebook_size, "tokens")
    flat = arr.reshape(arr.shape[0], -1)
    if flat.shape[1] != model.block_size:
        raise ValueError(f"tokens have {flat.shape[1]} positions per grid (shape {arr.shape}), the model "
                         f"block_size={model.block_size}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got batch_size={batch_size!r}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = torch.zeros(flat.shape[1], dtype=torch.float64, device=device)
    ctx = torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None else nullcontext()
    try:
        for i in range(0, flat.shape[0], batch_size):
            x = torch.from_numpy(flat[i:i + batch_size]).to(device)
            with ctx:
                total += token_nll(model, x).double().sum(0)
    finally:
        model.train(was_training)
    n_img, n_pos = flat.shape
    nll = float(total.sum()) / (n_img * n_pos)
    out = {"nll": nll, "bits_per_token": nll / LN2, "bits_per_image": nll / LN2 * n_pos,
           "tokens": n_img * n_pos, "images": n_img}
    if per_position:
        out["bits_per_position"] = (total / n_img / LN2).cpu().numpy()
    return out


def _fingerprint(train: np.ndarray, heldout: np.ndarray, codebook_size: int) -> str:
    h = hashlib.sha256(f"{codebook_size}|{train.shape}|{heldout.shape}|".encode())
    for a in (train, heldout):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _model_args(config: PriorConfig, codebook_size: int, block_size: int) -> dict:
    return {"codebook_size": codebook_size, "block_size": block_size, "n_layer": config.n_layer,
            "n_head": config.n_head, "n_embd": config.n_embd, "dropout": config.dropout,
            "tie_weights": config.tie_weights}


def _read_checkpoint(path: Path) -> dict:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise ValueError(f"checkpoint {str(path)!r} could not be read ({type(err).__name__}: {err}); "
                         f"delete it or pass resume=False") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("kind") != "prior":
        raise ValueError(f"{str(path)!r} is not a prior checkpoint of format {FORMAT}")
    return payload


def load_prior(path: str | Path, device: str | torch.device = "cpu") -> tuple[PriorTransformer, dict]:
    """The prior saved in a checkpoint (``path`` the file or its ``out_dir``), in eval mode on
    ``device``, and the checkpoint's ``{"step", "rows", "config", "codebook_size", "grid"}``."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a prior checkpoint file")
    payload = _read_checkpoint(path)
    model = PriorTransformer(**payload["model_args"])
    model.load_state_dict(payload["model"])
    info = {k: payload[k] for k in ("step", "rows", "config", "codebook_size", "grid")}
    return model.to(device).eval(), info


def _write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1))


def train_prior(config: PriorConfig, train_tokens, heldout_tokens, codebook_size: int,
                out_dir: str | Path | None = None, resume: bool = True, progress: bool = False, *,
                stop_after: int | None = None) -> PriorResult:
    """Train (or resume, or return the rows of a finished run in ``out_dir``) and evaluate the prior.

    ``train_tokens`` / ``heldout_tokens``: integer arrays (N, H, W) or (N, L) of the same grid, values
    in [0, ``codebook_size``). ``out_dir=None``: nothing written, no checkpoint. ``resume=False``
    ignores an existing checkpoint (and overwrites it). ``progress``: a tqdm bar and the rows printed.
    ``stop_after=n`` stops after step n as if killed there (the result has ``finished=False``).
    The caller's torch generator is left as it was."""
    if not isinstance(config, PriorConfig):
        raise TypeError(f"config must be a PriorConfig, got {type(config).__name__}")
    k = check_codebook_size(codebook_size)
    train = check_tokens(train_tokens, k, "train_tokens", grid=True)
    heldout = check_tokens(heldout_tokens, k, "heldout_tokens", grid=True)
    grid = tuple(int(s) for s in train.shape[1:])
    if tuple(heldout.shape[1:]) != grid:
        raise ValueError(f"heldout_tokens must have the grid of train_tokens {grid}, got shape "
                         f"{heldout.shape}")
    if config.grid is not None and config.grid != grid:
        raise ValueError(f"grid={config.grid} (of the config) does not match the tokens' grid {grid}; "
                         f"pass grid=None or tokens of that grid")
    if stop_after is not None and (isinstance(stop_after, bool) or not isinstance(stop_after, int)
                                   or stop_after < 0):
        raise ValueError(f"stop_after must be None or a non-negative integer, got stop_after={stop_after!r}")
    block = grid[0] * grid[1]
    device = resolve_device(config)
    cuda = device.type == "cuda"
    autocast, amp_dtype = _autocast(config, device)
    fingerprint = _fingerprint(train, heldout, k)
    saved_config = {key: v for key, v in config.to_dict().items() if key not in RESUMABLE}
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / "checkpoint.pt" if out is not None else None
    with torch.random.fork_rng(devices=[device] if cuda else []):
        # ---------------------------------------------------------------- model, optimiser, resume
        torch.manual_seed(config.seed)
        model = build_prior(config, k, block).to(device)
        optimizer = make_optimizer(model, config, device)
        step, rows, seconds = 0, [], 0.0
        window = {"loss": 0.0, "steps": 0, "tokens": 0, "seconds": 0.0}
        if ckpt is not None and resume and ckpt.exists():
            payload = _read_checkpoint(ckpt)
            diff = sorted(key for key in set(payload["config"]) | set(saved_config)
                          if payload["config"].get(key) != saved_config.get(key))
            if diff:
                raise ValueError(f"checkpoint {str(ckpt)!r} was written by a different config (keys {diff}); "
                                 f"use another out_dir or pass resume=False")
            if payload["fingerprint"] != fingerprint:
                raise ValueError(f"checkpoint {str(ckpt)!r} was trained on other train_tokens / "
                                 f"heldout_tokens / codebook_size; use another out_dir or pass resume=False")
            model.load_state_dict(payload["model"])
            optimizer.load_state_dict(payload["optimizer"])
            _set_rng_state(payload["rng"], device)
            step, rows, seconds = payload["step"], payload["rows"], payload["seconds"]
            window = payload["window"]
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            _write_json(out / "config.json", {"config": config.to_dict(), "codebook_size": k,
                                              "grid": list(grid)})
        parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
        # tokens stay on the CPU in the smallest dtype that holds K; a batch is moved per step
        store = torch.from_numpy(train.reshape(len(train), -1).astype(np.int16 if k <= 2 ** 15 else np.int32))
        order = BatchOrder(len(train), config.batch_size, config.seed)

        def checkpoint(done: int) -> None:
            if ckpt is None:
                return
            payload = {"format": FORMAT, "kind": "prior", "step": done, "rows": rows, "seconds": seconds,
                       "window": window, "config": saved_config, "fingerprint": fingerprint,
                       "codebook_size": k, "grid": list(grid), "model_args": _model_args(config, k, block),
                       "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "rng": _rng_state(device)}
            atomic_write(ckpt, lambda fh: torch.save(payload, fh), binary=True)

        # ---------------------------------------------------------------- the loop
        model.train()
        bar = tqdm(total=config.steps, initial=step, disable=not progress, unit="step",
                   desc=f"prior K={k} {grid[0]}x{grid[1]}", dynamic_ncols=True)
        finished = step >= config.steps
        while step < config.steps:
            if stop_after is not None and step >= stop_after:
                break
            t0 = time.perf_counter()
            x = store[torch.from_numpy(order(step))].to(device, non_blocking=True).long()
            lr = lr_at(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = float(train_step(model, optimizer, x, grad_clip=config.grad_clip, autocast=autocast))
            step += 1
            if not math.isfinite(loss):
                raise FloatingPointError(f"the training loss became non-finite at step {step} (lr {lr})")
            if cuda:
                torch.cuda.synchronize(device)
            dt = time.perf_counter() - t0
            seconds += dt
            window = {"loss": window["loss"] + loss, "steps": window["steps"] + 1,
                      "tokens": window["tokens"] + x.numel(), "seconds": window["seconds"] + dt}
            bar.update(1)
            if step % 10 == 0 or step == config.steps:
                bar.set_postfix(loss=f"{window['loss'] / window['steps']:.4f}")
            if step % config.eval_every == 0 or step == config.steps:
                ev = evaluate(model, heldout, batch_size=config.eval_batch_size, amp_dtype=amp_dtype)
                model.train()
                rows.append({"step": step, "heldout_nll": ev["nll"],
                             "heldout_bits_per_token": ev["bits_per_token"],
                             "heldout_bits_per_image": ev["bits_per_image"],
                             "train_loss": window["loss"] / window["steps"], "lr": lr,
                             "tokens_per_s": window["tokens"] / max(window["seconds"], 1e-9),
                             "seconds": seconds})
                window = {"loss": 0.0, "steps": 0, "tokens": 0, "seconds": 0.0}
                if progress:
                    r = rows[-1]
                    bar.write(f"step {r['step']}: held-out {r['heldout_bits_per_token']:.4f} bits/token "
                              f"({r['heldout_bits_per_image']:.1f} bits/image)  train {r['train_loss']:.4f} "
                              f"nats  {r['tokens_per_s']:.0f} tok/s")
                if out is not None:
                    _write_json(out / "rows.json", rows)
            if (config.checkpoint_every and step % config.checkpoint_every == 0) or step == config.steps:
                checkpoint(step)
            finished = step >= config.steps
        bar.close()
    model.eval()
    result = PriorResult(rows=rows, final=rows[-1] if rows and finished else None, config=config, model=model,
                         codebook_size=k, grid=grid, parameters=parameters, out_dir=out, finished=finished,
                         device=str(device))
    if out is not None and finished:
        _write_json(out / "result.json", {"final": result.final, "rows": rows, "parameters": parameters,
                                          "codebook_size": k, "grid": list(grid), "device": str(device)})
    return result
