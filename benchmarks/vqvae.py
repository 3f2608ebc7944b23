"""A full VQ-VAE training step (forward, backward, Adam) per quantizer, and against a dense reference.

    python -m benchmarks.vqvae --preset paper-cifar10 --quantizer vanilla wasserstein --batch 128
    python -m benchmarks.vqvae --preset paper-cifar10 --quantizer vanilla --reference dense
    python -m benchmarks.vqvae ... --device cuda

One line per run: ``quantizer=Q batch=B s_per_step=... images_per_s=... peak_mib=...``. Every run
is timed in a fresh process, so ``peak_mib`` (CPU: the process' peak resident set; CUDA: peak
allocated) belongs to that run alone. ``--reference dense`` times the same model with a quantizer
that computes the full tokens x K distance matrix ``|z|^2 + |e|^2 - 2 z e^T`` in one piece and
takes its argmin, as the authors' VQ-VAE quantizers do (a reference written for this benchmark from
that description, not their code; its Wasserstein variant adds their 65,536-feature queue and the
eigendecomposition-based loss on it); ours searches in bounded chunks (faiss on CPU). Ratios are
printed at the end: ours / dense per step, and each quantizer / vanilla. ``--rounds N`` repeats the
whole sequence of processes N times (alternating ours and dense) and keeps each run's best step;
``--threads N`` runs torch and faiss with N threads (default: the libraries' own default).

The fast path against the previous training loop (``TrainConfig.fast``), and where the time goes::

    python -m benchmarks.vqvae --baseline --preset quick-cpu --threads 1 2
    python -m benchmarks.vqvae --profile --preset quick-cpu --threads 1 2

``--baseline`` builds both models in ONE process and alternates their training steps on the same
real batches (the preset's training split), best of ``--repeats`` per path, and prints the
images/s of each and their ratio (process CPU time and wall clock; CPU time is the robust one on a
shared machine at one thread, it does not count the time other processes hold the core).
``--profile`` prints the breakdown of one step (wall clock per phase, best of ``--repeats``; the
torch.profiler share of each kind of operator) and the per-run costs of a whole run of the preset
(building the dataset in a fresh process, the held-out evaluation, a checkpoint, the final
gradient-gap measurements of the study); benchmarks/README.md holds the measured tables.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace

import torch
from torch import nn


class DenseReference(nn.Module):
    """Nearest codes from one full (N, K) distance matrix; the vanilla VQ loss; optionally the
    Gaussian W2 matching loss on a queue of recent features (codebook gradient only)."""

    def __init__(self, codebook_size: int, codebook_dim: int, *, matching: bool,
                 queue_size: int = 65536, beta: float = 1.0, gamma: float = 0.5):
        super().__init__()
        self.codebook_size, self.codebook_dim = codebook_size, codebook_dim
        self.embedding = nn.Parameter(torch.randn(codebook_size, codebook_dim) * 0.01)
        self.matching, self.beta, self.gamma = matching, beta, gamma
        self.register_buffer("queue", torch.randn(queue_size, codebook_dim) * 0.01)

    def forward(self, z):
        from vqmatch.simulations.engines.quantizers import QuantizerOutput

        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        e = self.embedding
        dist = (flat ** 2).sum(1, keepdim=True) + (e ** 2).sum(1) - 2 * flat @ e.t()  # (N, K)
        idx = dist.argmin(1)
        zq = e[idx]
        loss = self.beta * ((zq.detach() - flat) ** 2).mean() + ((zq - flat.detach()) ** 2).mean()
        if self.matching:
            self.queue = torch.cat([self.queue[flat.shape[0]:], flat.detach()])
            q = self.queue
            std = q.std(0).max() + 1e-8
            qz, qe = q / std, e / std
            mz, me = qz.mean(0), qe.mean(0)
            cz, ce = torch.cov(qz.t()), torch.cov(qe.t())
            lam, vec = torch.linalg.eigh(cz)
            root = (vec * lam.clamp_min(0).add(1e-8).sqrt()) @ vec.t()
            s2 = torch.linalg.eigvalsh(root @ ce @ root).clamp_min(0).add(1e-8).sqrt().sum()
            w2 = ((mz - me) ** 2).sum() + (torch.trace(cz) + torch.trace(ce) - 2 * s2).clamp_min(0)
            loss = loss + self.gamma * torch.sqrt(w2 + 1e-10)
        out = (flat + (zq - flat).detach()).reshape(b, h, w, d).permute(0, 3, 1, 2)
        return QuantizerOutput(out, idx.reshape(b, h, w), loss, {"vq": loss}, {"error": 0.0,
                                                                                "utilization": 0.0,
                                                                                "perplexity": 0.0})


def set_threads(n: int | None) -> None:
    """torch's intra-op threads and faiss' OpenMP threads (the search) to ``n`` (None: unchanged).
    faiss keeps its own OpenMP pool: with torch at one thread it still spins two threads, which on a
    shared machine makes timings erratic."""
    if n is None:
        return
    torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:
        pass


def _one(preset: str, quantizer: str, batch: int, device: str, reference: str | None,
         steps: int, overrides: list[str]) -> dict:
    from vqmatch.simulations.vqvae import apply_overrides, quantizer_settings
    from vqmatch.simulations.vqvae import preset as get_preset
    from vqmatch.simulations.vqvae.timing import time_training_step

    config = apply_overrides(replace(get_preset(preset), quantizer=quantizer, batch_size=batch,
                                     num_workers=0), overrides)
    quantizer_module = None
    if reference == "dense":  # the library's settings for this quantizer (beta, codebook group)
        settings = quantizer_settings(config)
        quantizer_module = DenseReference(config.codebook_size, config.codebook_dim,
                                          matching=quantizer == "wasserstein",
                                          beta=settings["options"]["beta"])
        config = replace(config, codebook_lr=settings["codebook_lr"])
    result = time_training_step(config, steps=steps, device=device, quantizer=quantizer_module)
    return {"quantizer": quantizer, "reference": reference or "ours", "batch": batch, **result}


def _real_batches(config, n: int) -> list[torch.Tensor]:
    """The first ``n`` training batches of ``config`` (its dataset, order and batch size)."""
    from vqmatch.simulations.vqvae.data import make_loaders

    it = iter(make_loaders(replace(config, num_workers=0, steps=n)).train)
    return [next(it) for _ in range(n)]


def _stepper(config, batches):
    """A fresh model and optimiser of ``config`` and a function doing one training step on the next
    batch of ``batches`` (cycled), as the training loop does it."""
    from vqmatch.simulations.vqvae.train import build_model, make_optimizer, train_step

    model, settings = build_model(config)
    optimizer = make_optimizer(model, config, settings)
    model.train()
    state = {"i": 0}

    def step():
        x = batches[state["i"] % len(batches)]
        state["i"] += 1
        loss = train_step(model, optimizer, x, grad_clip=config.grad_clip,
                          foreach=True if config.fast else None)
        return float(loss)

    return step, model, optimizer


def _best_of(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Alternate the calls of ``fns`` ``repeats`` times; best process-CPU and wall seconds of each."""
    cpu = dict.fromkeys(fns, float("inf"))
    wall = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for k, f in fns.items():
            c, t = time.process_time(), time.perf_counter()
            f()
            cpu[k] = min(cpu[k], time.process_time() - c)
            wall[k] = min(wall[k], time.perf_counter() - t)
    return cpu, wall


def baseline(preset: str, threads: list[int], repeats: int, overrides: list[str]) -> list[dict]:
    """Previous loop (``fast=False``) against the fast path, alternating in this process."""
    from vqmatch.simulations.vqvae import apply_overrides
    from vqmatch.simulations.vqvae import preset as get_preset

    config = apply_overrides(replace(get_preset(preset), device="cpu", num_workers=0), overrides)
    batches = _real_batches(config, 8)
    out = []
    for n in threads:
        set_threads(n)
        fns = {"previous": _stepper(replace(config, fast=False), batches)[0],
               "fast": _stepper(replace(config, fast=True), batches)[0]}
        for f in fns.values():  # warm-up: oneDNN primitives, the Wasserstein queue
            for _ in range(3):
                f()
        cpu, wall = _best_of(fns, repeats)
        b = config.batch_size
        row = {"threads": n, "batch": b, **{f"{k}_img_s_cpu": b / v for k, v in cpu.items()},
               **{f"{k}_img_s_wall": b / v for k, v in wall.items()},
               "ratio_cpu": cpu["previous"] / cpu["fast"], "ratio_wall": wall["previous"] / wall["fast"]}
        out.append(row)
        print(f"threads={n} batch={b} previous {row['previous_img_s_cpu']:.0f} img/s (cpu) "
              f"{row['previous_img_s_wall']:.0f} (wall) | fast {row['fast_img_s_cpu']:.0f} img/s (cpu) "
              f"{row['fast_img_s_wall']:.0f} (wall) | fast/previous images/s: {row['ratio_cpu']:.3f} (cpu) "
              f"{row['ratio_wall']:.3f} (wall), best of {repeats} alternating steps", flush=True)
    return out


_KINDS = (  # torch.profiler operator name -> kind (first match)
    ("conv backward", ("convolution_backward",)),
    ("conv forward", ("mkldnn_convolution", "aten::convolution", "aten::_convolution", "conv2d")),
    ("group norm", ("group_norm",)),
    ("silu", ("silu",)),
    ("attention", ("scaled_dot_product", "_softmax", "aten::bmm")),
    ("optimizer + clipping", ("Optimizer.", "_foreach", "lerp", "addcdiv", "addcmul", "vector_norm",
                              "clip_grad")),
    ("quantizer statistics (std, W2)", ("aten::std", "GaussianW2", "linalg_eigh", "aten::mm")),
)


def _kind(name: str) -> str:
    for kind, keys in _KINDS:
        if any(k in name for k in keys):
            return kind
    return "other (elementwise, copies, autograd, python)"


def profile(preset: str, threads: list[int], repeats: int, overrides: list[str]) -> None:
    """Where the time of a step and of a whole run goes (see the module docstring)."""
    import json
    import subprocess
    import tempfile

    import torch.nn.functional as F
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from vqmatch.simulations.vqvae import apply_overrides, make_loaders
    from vqmatch.simulations.vqvae import preset as get_preset
    from vqmatch.simulations.vqvae.checkpoint import save_checkpoint
    from vqmatch.simulations.vqvae.metrics import evaluate

    config = apply_overrides(replace(get_preset(preset), device="cpu", num_workers=0), overrides)
    batches = _real_batches(config, 8)
    cpu_device = torch.device("cpu")
    for n in threads:
        set_threads(n)
        for fast in (False, True):
            cfg = replace(config, fast=fast)
            step, model, opt = _stepper(cfg, batches)
            for _ in range(3):
                step()
            phases = dict.fromkeys(("encoder forward", "quantizer forward", "decoder forward",
                                    "loss + backward", "gradient clipping", "Adam step"), float("inf"))
            foreach = True if fast else None
            for r in range(repeats):
                x = batches[r % len(batches)]
                t = [time.perf_counter()]
                z = model.encode(x)
                t.append(time.perf_counter())
                q = model.quantize(z)
                t.append(time.perf_counter())
                recon = model.decode(q.quantized)
                t.append(time.perf_counter())
                loss = F.mse_loss(recon.float(), x) + q.loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                t.append(time.perf_counter())
                for group in opt.param_groups:
                    torch.nn.utils.clip_grad_norm_(group["params"], cfg.grad_clip, foreach=foreach)
                t.append(time.perf_counter())
                opt.step()
                t.append(time.perf_counter())
                for k, a, b in zip(phases, t[:-1], t[1:], strict=True):
                    phases[k] = min(phases[k], b - a)
            total = sum(phases.values())
            print(f"\n== threads={n} fast={fast}: one step of {cfg.batch_size} (sum of per-phase best of "
                  f"{repeats}: {total * 1e3:.1f} ms, {cfg.batch_size / total:.0f} img/s)")
            for k, v in phases.items():
                print(f"  {k:34s} {v * 1e3:7.2f} ms  {100 * v / total:5.1f} %")
            with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(5):
                    step()
            kinds: dict[str, float] = {}
            for e in prof.key_averages():
                kinds[_kind(e.key)] = kinds.get(_kind(e.key), 0.0) + e.self_cpu_time_total
            whole = sum(kinds.values())
            print(f"  torch.profiler, self CPU time of 5 steps by operator kind (profiled "
                  f"{whole / 5e3:.1f} ms/step, profiler overhead included):")
            for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]):
                print(f"    {k:40s} {100 * v / whole:5.1f} %")
        # ---- the per-run costs, with the fast path
        cfg = replace(config, fast=True)
        step, model, opt = _stepper(cfg, batches)
        step()
        loaders = make_loaders(cfg)
        _, wall_eval = _best_of({"eval": lambda: evaluate(model, loaders.heldout, cpu_device)},
                                max(2, repeats // 5))
        cmd = [sys.executable, "-c", "import time; import PIL.Image, skimage; "
               "from vqmatch.simulations.vqvae.config import preset; "
               "from vqmatch.simulations.vqvae.data import make_datasets; t = time.perf_counter(); "
               f"make_datasets(preset({preset!r})); print(time.perf_counter() - t)"]
        data_s = min(float(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
                     for _ in range(3))
        with tempfile.TemporaryDirectory() as tmp:
            path = f"{tmp}/checkpoint.pt"

            def ckpt():
                save_checkpoint(path, model=model, optimizer=opt, step=1, rows=[], seconds=0.0,
                                config=cfg.to_dict(), extra={"window": {}})

            _, wall_ckpt = _best_of({"ckpt": ckpt}, 3)
            final_s = _final_measurements_seconds(cfg, model, opt, tmp)
        _, wall_step = _best_of({"step": step}, repeats)
        evals = len({*range(cfg.eval_every, cfg.steps + 1, cfg.eval_every), cfg.steps})
        ckpts = len({*(range(cfg.checkpoint_every, cfg.steps + 1, cfg.checkpoint_every)
                       if cfg.checkpoint_every else ()), cfg.steps})
        parts = {f"{cfg.steps} training steps": cfg.steps * wall_step["step"],
                 f"{evals} held-out evaluations ({loaders.n_heldout} images)": evals * wall_eval["eval"],
                 f"{ckpts} checkpoints": ckpts * wall_ckpt["ckpt"],
                 "dataset build (new process, imports excluded)": data_s,
                 "study's final measurements (gradient gap 64 images x 20 power it., 8 recon.)": final_s}
        whole = sum(parts.values())
        print(f"\n== threads={n}: a whole {preset} run (fast path; {whole:.1f} s)")
        for k, v in parts.items():
            print(f"  {k:80s} {v:7.2f} s  {100 * v / whole:5.1f} %")
        print(json.dumps({"threads": n, "run_parts_s": parts}))


def _final_measurements_seconds(config, model, optimizer, folder: str) -> float:
    """Seconds of the vqvae study's end-of-run measurements (its defaults: the gradient gap on 64
    held-out images with 20 power iterations, 8 reconstructions) on this model."""
    from vqmatch.simulations.vqvae.checkpoint import save_checkpoint
    from vqmatch.simulations.vqvae.gradient_gap import final_measurements

    save_checkpoint(f"{folder}/checkpoint.pt", model=model, optimizer=optimizer, step=1, rows=[],
                    seconds=0.0, config=config.to_dict())
    t = time.perf_counter()
    final_measurements(config, folder, gap_images=64, recon_images=8, power_iterations=20)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default=None, help="default: paper-cifar10 (quick-cpu with --baseline, "
                   "--profile)")
    p.add_argument("--quantizer", nargs="+", default=["vanilla", "wasserstein"])
    p.add_argument("--batch", type=int, nargs="+", default=[128])
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference", choices=("dense",), help="also time the dense reference")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--rounds", type=int, default=1, help="repeat every timed process this many times")
    p.add_argument("--threads", type=int, nargs="+", default=None,
                   help="torch + faiss threads (--baseline / --profile: each value in turn; default 1 2)")
    p.add_argument("--baseline", action="store_true",
                   help="time the previous loop (fast=False) against the fast path, alternating")
    p.add_argument("--profile", action="store_true", help="breakdown of a step and of a whole run")
    p.add_argument("--repeats", type=int, default=15, help="--baseline / --profile: steps per path")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: time one run in this process
    args = p.parse_args(argv)
    if args.baseline or args.profile:
        name = args.preset or "quick-cpu"
        threads = args.threads or [1, 2]
        if args.profile:
            profile(name, threads, args.repeats, args.sets)
        if args.baseline:
            baseline(name, threads, args.repeats, args.sets)
        return 0
    args.preset = args.preset or "paper-cifar10"
    threads = args.threads[0] if args.threads else None
    if args.one:
        set_threads(threads)
        q, b, ref = json.loads(args.one)
        print(json.dumps(_one(args.preset, q, b, args.device, ref, args.steps, args.sets)))
        return 0
    by: dict[tuple, dict] = {}
    for _ in range(args.rounds):
        for b in args.batch:
            for q in args.quantizer:
                for ref in ([None, "dense"] if args.reference else [None]):
                    cmd = [sys.executable, "-m", "benchmarks.vqvae", "--preset", args.preset,
                           "--device", args.device, "--steps", str(args.steps),
                           "--one", json.dumps([q, b, ref])] + [f"--set={s}" for s in args.sets]
                    if threads is not None:
                        cmd += ["--threads", str(threads)]
                    proc = subprocess.run(cmd, capture_output=True, text=True)
                    if proc.returncode:
                        print(f"quantizer={q} batch={b} reference={ref or 'ours'} failed: "
                              f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    print(f"quantizer={q} batch={b} reference={r['reference']} s_per_step="
                          f"{r['s_per_step']:.4f} images_per_s={r['images_per_s']:.1f} "
                          f"peak_mib={r['peak_mib']:.0f} ({r['peak_kind']}, {r['device']})", flush=True)
                    key = (q, b, r["reference"])
                    if key not in by or r["s_per_step"] < by[key]["s_per_step"]:
                        by[key] = r
    for (q, b, ref), r in sorted(by.items()):
        if ref == "ours" and (q, b, "dense") in by:
            d = by[(q, b, "dense")]
            print(f"ratio quantizer={q} batch={b}: ours/dense time {r['s_per_step'] / d['s_per_step']:.2f}"
                  f", peak memory {r['peak_mib'] / d['peak_mib']:.2f}")
        if ref == "ours" and q != "vanilla" and ("vanilla", b, "ours") in by:
            v = by[("vanilla", b, "ours")]
            print(f"ratio quantizer={q} batch={b}: {q}/vanilla time "
                  f"{r['s_per_step'] / v['s_per_step']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
