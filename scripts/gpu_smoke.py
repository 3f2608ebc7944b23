"""GPU smoke run of the VQ-VAE path: a few hundred steps of the paper's CIFAR-10 model (32x32 inputs,
8x8 tokens, K = 16384, d = 8, batch 128, bf16 autocast, TF32) on the built-in photographs, for every
quantizer; prints images/s, peak memory and the held-out U / PSNR of each.

    python scripts/gpu_smoke.py                 # every quantizer, 300 steps
    python scripts/gpu_smoke.py --steps 100 --quantizer vanilla wasserstein

Without a CUDA device it runs on the CPU (say so, and use --steps 10). The numbers are a smoke
test and a throughput check, not results: the paper's runs are `vqmatch vqvae --table table6`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace


def main(argv: list[str] | None = None) -> int:
    import torch

    from vqmatch.simulations.engines.quantizers import QUANTIZERS
    from vqmatch.simulations.vqvae import preset, train

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--quantizer", nargs="+", default=[q for q in QUANTIZERS if q != "linear"])
    p.add_argument("--batch", type=int, default=128)
    args = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    print(f"device: {torch.cuda.get_device_name(0) if cuda else 'CPU (no CUDA device)'}; torch "
          f"{torch.__version__}; {args.steps} steps of batch {args.batch}, paper-cifar10 model on "
          "the built-in photographs", flush=True)
    base = replace(preset("paper-cifar10"), dataset="builtin", steps=args.steps,
                   eval_every=args.steps, checkpoint_every=0, batch_size=args.batch,
                   num_workers=2 if cuda else 0, device=device)
    for q in args.quantizer:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        try:
            res = train(replace(base, quantizer=q), out_dir=None, progress=False)
        except Exception as err:
            print(f"quantizer={q} FAILED: {type(err).__name__}: {err}", flush=True)
            continue
        f = res.final
        peak = torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else float("nan")
        print(f"quantizer={q} images_per_s={f['images_per_s']:.0f} peak_mib={peak:.0f} "
              f"U={f['utilization']:.4f} PSNR={f['psnr']:.2f} wall_s={time.perf_counter() - start:.0f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
