"""Round-off audit: run the float tolerance tests under several thread counts and BLAS / vector
kernels, and report the largest error / bound of every a priori bound (tests/theory/roundoff.py).

    python scripts/roundoff_audit.py                 # the dev hypothesis profile (200 examples)
    python scripts/roundoff_audit.py --profile ci    # what CI runs

Each configuration runs the tests in a fresh process with its environment (thread counts, numpy's
OpenBLAS kernel family ``OPENBLAS_CORETYPE``, torch's vector kernels ``ATEN_CPU_CAPABILITY``, MKL's
reproducible-code-path switch ``MKL_CBWR``) and prints which kernels were really active. A ratio
below 1 means the bound held; the worst ratio says how much room it leaves. Prints Markdown.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/theory/test_loss_properties.py",
    "tests/theory/test_gaussian_w2.py",
    "tests/theory/test_psd_roundoff.py",
    "tests/theory/test_loss.py",
    "tests/simulations/engines/quantizers/test_properties.py",
]
CONFIGS = {
    "1 thread": {},
    "2 threads": {"VQMATCH_TEST_THREADS": "2", "OMP_NUM_THREADS": "2"},
    "OpenBLAS SkylakeX": {"OPENBLAS_CORETYPE": "SkylakeX"},
    "OpenBLAS Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "OpenBLAS Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
    "torch DEFAULT kernels": {"ATEN_CPU_CAPABILITY": "default"},
    "torch AVX2 kernels": {"ATEN_CPU_CAPABILITY": "avx2"},
    "MKL compatible path": {"MKL_CBWR": "COMPATIBLE"},
    "2 threads, Prescott, DEFAULT, MKL compatible": {
        "VQMATCH_TEST_THREADS": "2", "OMP_NUM_THREADS": "2", "OPENBLAS_CORETYPE": "Prescott",
        "ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE"},
}
PROBE = ("import threadpoolctl, numpy, torch; "
         "arch = [i.get('architecture') for i in threadpoolctl.threadpool_info() "
         "if i['internal_api'] == 'openblas']; "
         "print('OpenBLAS', *arch, '/ torch', torch.backends.cpu.get_cpu_capability())")


def run(name: str, extra: dict, profile: str) -> tuple[str, dict, str]:
    env = {**os.environ, **extra, "HYPOTHESIS_PROFILE": profile, "MPLBACKEND": "agg"}
    kernels = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                             text=True).stdout.strip()
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as fh:
        log = fh.name
    env["VQMATCH_ROUNDOFF_LOG"] = log
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    worst: dict[str, float] = collections.defaultdict(float)
    for line in Path(log).read_text().splitlines():
        r = json.loads(line)
        ratio = r["error"] / r["bound"] if r["bound"] > 0 else (0.0 if r["error"] <= 0 else float("inf"))
        worst[r["test"]] = max(worst[r["test"]], ratio)
    os.unlink(log)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-200:]
    print(f"{name}: {kernels}; {summary}", file=sys.stderr)
    return kernels, dict(worst), summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="dev", choices=("ci", "dev"))
    args = parser.parse_args()
    results = {name: run(name, extra, args.profile) for name, extra in CONFIGS.items()}
    checks = sorted({k for _, worst, _ in results.values() for k in worst})
    names = list(results)
    print(f"Hypothesis profile `{args.profile}`; tests: {', '.join(Path(t).name for t in TESTS)}\n")
    print("| configuration | kernels active | pytest |")
    print("|---|---|---|")
    for name in names:
        print(f"| {name} | {results[name][0]} | {results[name][2]} |")
    print("\nLargest error / bound per check (columns: the configurations above, in order)\n")
    print("| check | " + " | ".join(f"c{i + 1}" for i in range(len(names))) + " | worst |")
    print("|---|" + "---|" * (len(names) + 1))
    for k in checks:
        vals = [results[n][1].get(k, float("nan")) for n in names]
        print(f"| `{k}` | " + " | ".join(f"{v:.3g}" for v in vals) + f" | {max(vals):.3g} |")
    failed = [n for n in names if " failed" in results[n][2] or "error" in results[n][2]]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
