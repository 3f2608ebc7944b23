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
printed at the end: ours / dense per step, and each quantizer / vanilla.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="paper-cifar10")
    p.add_argument("--quantizer", nargs="+", default=["vanilla", "wasserstein"])
    p.add_argument("--batch", type=int, nargs="+", default=[128])
    p.add_argument("--device", default="cpu")
    p.add_argument("--reference", choices=("dense",), help="also time the dense reference")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: time one run in this process
    args = p.parse_args(argv)
    if args.one:
        q, b, ref = json.loads(args.one)
        print(json.dumps(_one(args.preset, q, b, args.device, ref, args.steps, args.sets)))
        return 0
    runs = []
    for b in args.batch:
        for q in args.quantizer:
            for ref in ([None, "dense"] if args.reference else [None]):
                cmd = [sys.executable, "-m", "benchmarks.vqvae", "--preset", args.preset,
                       "--device", args.device, "--steps", str(args.steps),
                       "--one", json.dumps([q, b, ref])] + [f"--set={s}" for s in args.sets]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    print(f"quantizer={q} batch={b} reference={ref or 'ours'} failed: "
                          f"{(proc.stderr.strip().splitlines() or ['?'])[-1]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                runs.append(r)
                print(f"quantizer={q} batch={b} reference={r['reference']} s_per_step="
                      f"{r['s_per_step']:.4f} images_per_s={r['images_per_s']:.1f} "
                      f"peak_mib={r['peak_mib']:.0f} ({r['peak_kind']}, {r['device']})", flush=True)
    by = {(r["quantizer"], r["batch"], r["reference"]): r for r in runs}
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
