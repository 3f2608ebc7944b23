"""Closed-form Gaussian W2: ours against POT's ``ot.gaussian.bures_wasserstein_distance``.

Same inputs (float64 SPD covariances), same machine, one run. Prints seconds per call and the
ratio POT/ours (> 1 means we are faster) for each dimension, for numpy and for torch, plus the
torch forward+backward of ours against POT's differentiable torch backend.

    python -m benchmarks.w2            # d = 2, 8, 16, 32, 64, 128, 256
    python -m benchmarks.w2 --dims 2 8 64 256 --repeats 7
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from benchmarks._timing import best_time
from vqmatch.theory import gaussian_w2


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, 2 * d)) / np.sqrt(2 * d)
    return a @ a.T + 0.1 * np.eye(d)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 8, 16, 32, 64, 128, 256])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    import ot
    import torch

    warnings.filterwarnings("ignore", category=UserWarning)
    rng = np.random.default_rng(0)
    print(f"POT {ot.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    header = (f"{'d':>5} {'numpy ours':>11} {'numpy POT':>10} {'POT/ours':>9}  "
              f"{'torch f+b ours':>14} {'torch f+b POT':>13} {'POT/ours':>9}")
    print(header)
    for d in args.dims:
        m_s, m_t = rng.standard_normal(d), rng.standard_normal(d)
        c_s, c_t = _spd(rng, d), _spd(rng, d)
        ours = best_time(lambda: gaussian_w2(m_s, c_s, m_t, c_t), repeats=args.repeats)
        pot = best_time(lambda: ot.gaussian.bures_wasserstein_distance(m_s, m_t, c_s, c_t),
                        repeats=args.repeats)
        tm_s, tm_t = torch.tensor(m_s), torch.tensor(m_t)
        tc_s = torch.tensor(c_s)
        tc_t = torch.tensor(c_t, requires_grad=True)

        def ours_fb():
            gaussian_w2(tm_s, tc_s, tm_t, tc_t).backward()

        def pot_fb():
            ot.gaussian.bures_wasserstein_distance(tm_s, tm_t, tc_s, tc_t).backward()

        t_ours = best_time(ours_fb, repeats=args.repeats)
        t_pot = best_time(pot_fb, repeats=args.repeats)
        print(f"{d:>5} {ours * 1e6:>9.1f}us {pot * 1e6:>8.1f}us {pot / ours:>8.2f}x  "
              f"{t_ours * 1e6:>12.1f}us {t_pot * 1e6:>11.1f}us {t_pot / t_ours:>8.2f}x")


if __name__ == "__main__":
    main()
