"""The paper's closed-form W2 loss at VQ training sizes against exact and sliced OT (POT).

Features: N = 65,536 (the official code's feature queue), codes K, dimension d. Timed per call
(best of repeats): moments of both point sets + the closed form (``vqmatch.theory.empirical_gaussian_w2``),
POT sliced W2 with L = 50 and 200 directions, and POT exact OT (``ot.emd2``) only where it is
feasible: exact OT needs the N x K cost matrix (8 N K bytes) and network-simplex time that grows
faster than N K, so it is run on a subsample of ``--ot-n`` points of each set (and said so).
Printed as ratios to the closed form (> 1: the closed form is that many times faster).

    python -m benchmarks.w2_estimators          # small: K in {1024, 16384}, d in {8, 32}
    python -m benchmarks.w2_estimators --full   # K up to 100,000, d = 8..64
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from benchmarks._timing import best_time
from vqmatch.theory import empirical_gaussian_w2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="K up to 100,000 and d = 8..64")
    parser.add_argument("--n-features", type=int, default=65_536)
    parser.add_argument("--ot-n", type=int, default=2000,
                        help="subsample size per set for exact OT (the full sizes are infeasible)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    codes = (1024, 16_384, 100_000) if args.full else (1024, 16_384)
    dims = (8, 16, 32, 64) if args.full else (8, 32)

    import ot

    warnings.filterwarnings("ignore", category=UserWarning)
    rng = np.random.default_rng(0)
    print(f"POT {ot.__version__}, numpy {np.__version__}; N = {args.n_features} features; "
          f"exact OT on {args.ot_n} + {args.ot_n} subsampled points (full N x K is infeasible)")
    print(f"{'K':>7} {'d':>3} {'closed form':>12} {'sliced L=50':>12} {'ratio':>7} "
          f"{'sliced L=200':>13} {'ratio':>7} {'emd (sub)':>10} {'ratio':>8}")
    for d in dims:
        x = rng.standard_normal((args.n_features, d)).astype(np.float32)
        for k in codes:
            c = (0.5 * rng.standard_normal((k, d)) + 0.1).astype(np.float32)
            t_cf = best_time(lambda x=x, c=c: empirical_gaussian_w2(x, c), repeats=args.repeats)
            t_s = {}
            for n_proj in (50, 200):
                t_s[n_proj] = best_time(
                    lambda x=x, c=c, n_proj=n_proj: ot.sliced_wasserstein_distance(
                        x, c, n_projections=n_proj, seed=0), repeats=args.repeats, min_seconds=0.0)
            m = min(args.ot_n, k)
            xs, cs = x[:m].astype(np.float64), c[:m].astype(np.float64)
            t_emd = best_time(lambda xs=xs, cs=cs: ot.emd2([], [], ot.dist(xs, cs),
                                                            numItermax=100_000_000),
                              repeats=1, min_seconds=0.0)
            print(f"{k:>7} {d:>3} {t_cf * 1e3:>10.2f}ms {t_s[50] * 1e3:>10.1f}ms "
                  f"{t_s[50] / t_cf:>6.0f}x {t_s[200] * 1e3:>11.1f}ms {t_s[200] / t_cf:>6.0f}x "
                  f"{t_emd * 1e3:>8.0f}ms {t_emd / t_cf:>7.0f}x")


if __name__ == "__main__":
    main()
