"""A VQ layer's forward+backward: our quantizers against ``vector_quantize_pytorch.VectorQuantize``.

Same float32 tokens (N = 8192 standard-Gaussian vectors of dimension d = 8, fixed seed), same
machine, one run. The candidates are timed interleaved (each repeat times every candidate once with
``benchmarks._timing.best_time``) and the best of ``--repeats`` is kept, so a change of load on a
shared machine hits all of them alike. On a busy CPU use ``--threads 1`` (multi-threaded torch and
faiss spin-wait badly when cores are oversubscribed).
One step is a training-mode forward (search, losses, metrics, state updates) and a backward of the
quantizer loss plus ``quantized.sum()`` (a stand-in task loss, so the straight-through path is
exercised). Prints, for each K:

* every quantizer of ours, and its cost relative to our vanilla VQ (the paper's Wasserstein
  overhead: 0.774 s vs 0.655 s per 100 iterations at K = 100,000 on its GPU, ratio 1.18);
* ``VectorQuantize`` with a learnable codebook (``ema_update=False``) against our ``vanilla``,
  and with its default EMA codebook against our ``ema``: ratios ours/theirs (< 1: we are faster).

``vector_quantize_pytorch`` is optional (the ``bench`` extra): without it the comparison columns are
skipped with a note.

    python -m benchmarks.quantizers                     # K = 1024, 16384, 100000
    python -m benchmarks.quantizers --codes 1024 16384 --repeats 3
    python -m benchmarks.quantizers --codes 100000 --only vanilla wasserstein --no-reference
    python -m benchmarks.quantizers --device cuda --threads 1
"""

from __future__ import annotations

import argparse
import warnings

from benchmarks._timing import best_time


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _step_ours(q, z):
    out = q(z)
    (out.loss + out.quantized.sum()).backward()
    return out


def _step_theirs(vq, z):
    quantized, _, aux = vq(z[None])  # (1, N, d)
    (aux.sum() + quantized.sum()).backward()
    return quantized


def _timed_step(module, forward, z0, device):
    """One forward+backward of ``module`` on a fresh leaf copy of ``z0``, gradients cleared."""
    z = z0.clone().requires_grad_(True)

    def step():
        forward(module, z)
        module.zero_grad(set_to_none=True)
        z.grad = None
        _sync(device)

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, nargs="+", default=[1024, 16384, 100_000])
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--dim", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and faiss CPU threads (default: the libraries' defaults)")
    parser.add_argument("--no-reference", action="store_true",
                        help="time our quantizers only (skip vector_quantize_pytorch)")
    parser.add_argument("--only", nargs="+", default=None, help="subset of our quantizers")
    args = parser.parse_args(argv)

    import torch

    from vqmatch.simulations.engines.quantizers import QUANTIZERS, make_quantizer

    if args.threads:
        import faiss

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        from vector_quantize_pytorch import VectorQuantize
    except ImportError:
        VectorQuantize = None
        print("note: vector_quantize_pytorch is not installed (pip install vqmatch[bench]); "
              "the comparison columns are skipped")
    versions = f"torch {torch.__version__}"
    if VectorQuantize is not None:
        from importlib.metadata import version

        versions += f", vector-quantize-pytorch {version('vector-quantize-pytorch')}"
    print(f"{versions}; device {device}, threads {torch.get_num_threads()}; "
          f"N = {args.n}, d = {args.dim}; seconds per forward+backward (best of {args.repeats})")
    names = args.only or list(QUANTIZERS)
    gen = torch.Generator().manual_seed(0)
    z0 = torch.randn(args.n, args.dim, generator=gen).to(device)

    for k in args.codes:
        steps = {name: _timed_step(make_quantizer(name, k, args.dim, seed=0).to(device), _step_ours,
                                   z0, device)
                 for name in names}
        theirs_steps = {}
        if VectorQuantize is not None and not args.no_reference:
            warnings.filterwarnings("ignore")
            for label, opts in (("learnable", {"ema_update": False, "learnable_codebook": True}),
                                ("ema", {"decay": 0.99})):
                vq = VectorQuantize(dim=args.dim, codebook_size=k, **opts).to(device).train()
                theirs_steps[label] = _timed_step(vq, _step_theirs, z0, device)
        # interleaved: every repeat times each candidate once, so a change of machine load hits all
        times = dict.fromkeys(steps, float("inf"))
        theirs = dict.fromkeys(theirs_steps, float("inf"))
        for _ in range(args.repeats):
            for table, fns in ((times, steps), (theirs, theirs_steps)):
                for label, fn in list(fns.items()):
                    try:
                        table[label] = min(table[label], best_time(fn, repeats=1, min_seconds=0.0))
                    except RuntimeError as err:  # e.g. out of memory: their search is not chunked
                        print(f"  {label} failed at K = {k}: {str(err)[:80]}")
                        del fns[label], table[label]
        print(f"\nK = {k}")
        print(f"  {'ours':<22}{'s/step':>10}{'/ vanilla':>11}")
        base = times.get("vanilla")
        for name, t in times.items():
            rel = f"{t / base:>10.2f}x" if base else ""
            print(f"  {name:<22}{t:>10.4f}{rel}")
        pairs = (("vanilla", "learnable"), ("ema", "ema"))
        for ours_name, their_name in pairs:
            if ours_name in times and their_name in theirs:
                t_o, t_t = times[ours_name], theirs[their_name]
                print(f"  {ours_name} vs VectorQuantize({their_name}): ours {t_o:.4f} s, theirs "
                      f"{t_t:.4f} s, ours/theirs {t_o / t_t:.2f}")
        if "wasserstein" in times and base:
            print(f"  Wasserstein overhead over vanilla: {times['wasserstein'] / base:.2f}x "
                  f"(paper, GPU, K = 100,000: 0.774 / 0.655 = 1.18x)")


if __name__ == "__main__":
    main()
