"""k-means: our Lloyd iteration and fit against faiss and scikit-learn, on the same data.

Same float32 data (standard Gaussian, fixed seed), same initial centres (distinct random samples),
same machine, one run. Prints medians over ``--repeats`` interleaved repeats and the ratios
ours/other (< 1 means we are faster), plus the distortion each fit reaches.

(a) One Lloyd iteration (assignment + update, as run inside :func:`vqmatch.simulations.engines.kmeans.kmeans`)
    against faiss' exact search alone (``IndexFlatL2``, k=1): the assignment is a lower bound.
(b) A whole fit of ``--iters`` iterations with ``tol=0``: ours against ``faiss.Kmeans`` and
    scikit-learn's ``KMeans(algorithm="lloyd")``. Ours and scikit-learn's end with one more
    assignment so that labels match the centres; faiss' does not.

    python -m benchmarks.kmeans                 # N = 200,000, K = 1,024, d = 8
    python -m benchmarks.kmeans --quick         # N = 50,000, K = 256
    python -m benchmarks.kmeans --n 1000000 --k 4096 --repeats 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np

from vqmatch.simulations.engines.kmeans import ConvergenceWarning, LloydEngine, kmeans
from vqmatch.theory.assignment import nearest_code
from vqmatch.theory.backend import namespace


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int):
    """Median seconds of each function over ``repeats`` rounds, run in turn (fair under load)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    last: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t, last[name] = _timed(fn)
            times[name].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}, last


def _distortion(x: np.ndarray, centers: np.ndarray) -> float:
    return float(nearest_code(x, np.ascontiguousarray(centers, dtype=x.dtype)).sq_dist.mean(
        dtype=np.float64))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000, help="number of samples")
    parser.add_argument("--k", type=int, default=1024, help="number of centres")
    parser.add_argument("--d", type=int, default=8, help="dimension")
    parser.add_argument("--iters", type=int, default=20, help="Lloyd iterations of the fits")
    parser.add_argument("--repeats", type=int, default=3, help="repeats (median reported)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="N = 50,000 and K = 256")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.k = 50_000, 256

    import faiss
    import sklearn
    from sklearn.cluster import KMeans

    n, k, d, iters = args.n, args.k, args.d, args.iters
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    init = x[rng.choice(n, size=k, replace=False)]
    blas = {key: v for key, v in os.environ.items() if "BLAS" in key or "OMP" in key}
    print(f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), scikit-learn "
          f"{sklearn.__version__}, numpy {np.__version__}; {os.cpu_count()} CPUs; env {blas}")
    print(f"data: N={n:,} K={k:,} d={d} float32, seed={args.seed}; median of {args.repeats}")

    # (a) one iteration, exactly as the fit runs it (centred data, float64 centres on the host)
    xc = x - x.mean(axis=0, dtype=np.float64).astype(np.float32)
    engine = LloydEngine(namespace(xc), xc, k, None)
    centers = init.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    parts: dict[str, list[float]] = {"assign": [], "update": []}

    def ours_iteration():
        t_a, (labels, sq_dist, _) = _timed(lambda: engine.assign(centers))
        t_u, _ = _timed(lambda: engine.update(labels, sq_dist))
        parts["assign"].append(t_a)
        parts["update"].append(t_u)

    def faiss_search():
        index = faiss.IndexFlatL2(d)
        index.add(np.ascontiguousarray(init))
        return index.search(xc, 1)

    per_iter, _ = _interleaved({"ours": ours_iteration, "faiss": faiss_search},
                               max(5, 3 * args.repeats))
    ratio_iter = per_iter["ours"] / per_iter["faiss"]

    # (b) whole fits from the same centres
    def ours_fit():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = kmeans(x, k, init=init, max_iter=iters, tol=0.0)
        return res.codebook, res.n_iter

    def faiss_fit():
        km = faiss.Kmeans(d, k, niter=iters, seed=args.seed, verbose=False,
                          max_points_per_centroid=n, min_points_per_centroid=1)
        km.train(x, init_centroids=init)
        return km.centroids, iters

    def sklearn_fit():
        km = KMeans(n_clusters=k, init=init, n_init=1, max_iter=iters, tol=0.0,
                    algorithm="lloyd", random_state=args.seed).fit(x)
        return km.cluster_centers_, km.n_iter_

    fits, last = _interleaved({"ours": ours_fit, "faiss.Kmeans": faiss_fit,
                               "sklearn KMeans": sklearn_fit}, args.repeats)

    print("\n(a) one Lloyd iteration (assignment + update) vs faiss IndexFlatL2 search alone")
    print(f"  {'':28s} {'seconds':>9}")
    print(f"  {'ours: assignment':28s} {statistics.median(parts['assign']):>9.4f}")
    print(f"  {'ours: update':28s} {statistics.median(parts['update']):>9.4f}")
    print(f"  {'ours: iteration':28s} {per_iter['ours']:>9.4f}")
    print(f"  {'faiss IndexFlatL2 search':28s} {per_iter['faiss']:>9.4f}")
    print(f"  ratio ours/faiss-search = {ratio_iter:.2f}  (target <= 1.5)")

    print(f"\n(b) whole fit, {iters} iterations, tol=0, same initial centres")
    print(f"  {'':16s} {'seconds':>9} {'n_iter':>7} {'s/iter':>8} {'distortion':>12} "
          f"{'ours/this':>10}")
    for name, seconds in fits.items():
        centers_out, n_iter = last[name]
        print(f"  {name:16s} {seconds:>9.3f} {n_iter:>7d} {seconds / n_iter:>8.4f} "
              f"{_distortion(x, centers_out):>12.6f} {fits['ours'] / seconds:>10.2f}")
    print(f"\n  RATIOS: iteration ours/faiss-search = {ratio_iter:.2f}; fit ours/faiss.Kmeans = "
          f"{fits['ours'] / fits['faiss.Kmeans']:.2f}; fit ours/sklearn = "
          f"{fits['ours'] / fits['sklearn KMeans']:.2f}  (< 1: ours faster)")


if __name__ == "__main__":
    main()
