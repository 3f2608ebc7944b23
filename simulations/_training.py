r"""Training and evaluation machinery shared by the ``atomic`` and ``robustness`` studies.

The "atomic setting" of the paper (v1 App. H, later Section 4; reference script ``VariousVQs.py``)
has no encoder: a codebook of ``K`` codes in ``R^d`` is trained alone on *fresh* features drawn at
every step from a known source (infinite data), and is evaluated every few steps on a fresh,
larger sample by the criterion triple (E, U, C) and by the closed-form Gaussian W2 between the
evaluation features' and the codebook's moments.

One training run is one (variant, source, shift, replicate). A *variant* is a quantizer of
:mod:`simulations.quantizers` with fixed options (e.g. ``online_farthest`` is the online quantizer
with ``anchor="farthest"``). The optimiser settings come from ``default_training(name)`` of the
quantizer library (the authors' per-method SGD settings), never from here.

Common random numbers: every variant of the same (source, shift, replicate) starts from the same
initial codebook and sees the same training and evaluation features, so differences between
variants are paired and their standard errors small.

Rows (one per evaluation step) carry ``quantizer`` (the variant label), ``base`` (the library
quantizer), ``source``, ``mu`` (the source's shift parameter: mean shift, uniform offset, or
mixture separation), ``d``, ``n_codes``, ``replicate``, ``step``, ``error``, ``utilization``,
``perplexity``, ``w2`` and ``seconds`` (cumulative training wall time, evaluation excluded).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._random import SeedLike, as_generator
from .stats import mean_ci

# the quantizer names of the library's interface (simulations.quantizers.QUANTIZERS); kept here as
# data so that configurations validate without importing torch
LIBRARY_QUANTIZERS = ("vanilla", "ema", "online", "linear", "wasserstein", "mmd", "sliced",
                      "density_wasserstein")
FEATURE_SOURCES = ("gaussian", "uniform", "bimodal", "student_t")
# codebook initialisation per feature source: N(0, I) for the Gaussian-like sources, U(-1, 1)^d for
# the uniform one (the paper's atomic setting)
INIT_FOR_SOURCE = {"gaussian": "gaussian", "uniform": "uniform", "bimodal": "gaussian",
                   "student_t": "gaussian"}
STUDENT_T_DF = 3.0


@dataclass(frozen=True)
class Variant:
    """A named quantizer configuration: library name plus fixed options (a tuple of pairs so that
    the variant is hashable and JSON-able)."""

    label: str
    quantizer: str
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self):
        if self.quantizer not in LIBRARY_QUANTIZERS:
            raise ValueError(f"quantizer must be one of {LIBRARY_QUANTIZERS}, got "
                             f"quantizer={self.quantizer!r}")


VARIANTS: dict[str, Variant] = {name: Variant(name, name) for name in LIBRARY_QUANTIZERS}
VARIANTS["online"] = Variant("online", "online", (("anchor", "nearest"),))
VARIANTS["online_farthest"] = Variant("online_farthest", "online", (("anchor", "farthest"),))
VARIANTS["density_finite_k"] = Variant("density_finite_k", "density_wasserstein",
                                       (("scale", "finite_k"),))


@dataclass(frozen=True)
class TrainSettings:
    """Sizes of one training run (the paper: K = 16384, d = 8, 2000 steps, 50,000 features per
    step, 200,000 evaluation features every 100 steps)."""

    n_codes: int = 16384
    dim: int = 8
    steps: int = 2000
    batch_size: int = 50_000
    eval_every: int = 100
    eval_samples: int = 200_000
    # torch / faiss threads inside a run: 1 by default, since on a shared or small machine the
    # per-step tensors are small and oversubscribed OpenMP threads cost up to 10x (measured)
    threads: int = 1

    def __post_init__(self):
        for name in ("n_codes", "dim", "steps", "batch_size", "eval_every", "eval_samples",
                     "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
        if self.n_codes < 2:
            raise ValueError(f"n_codes must be >= 2, got n_codes={self.n_codes}")
        if self.batch_size < 2 or self.eval_samples < 2:
            raise ValueError("batch_size and eval_samples must be >= 2, got "
                             f"batch_size={self.batch_size}, eval_samples={self.eval_samples}")


def check_labels(labels: Iterable[str], known: Iterable[str], name: str) -> None:
    """ValueError naming ``name`` if a label is unknown or the tuple is empty / repeated."""
    labels, known = tuple(labels), tuple(known)
    if not labels:
        raise ValueError(f"{name} must not be empty")
    bad = [x for x in labels if x not in known]
    if bad:
        raise ValueError(f"{name} must be drawn from {known}, got unknown {bad}")
    if len(set(labels)) != len(labels):
        raise ValueError(f"{name} must not repeat entries, got {labels}")


def check_shifts(shifts: Iterable[float], name: str) -> None:
    shifts = tuple(shifts)
    if not shifts or not all(isinstance(s, (int, float)) and math.isfinite(s) and s >= 0
                             for s in shifts):
        raise ValueError(f"{name} must be a non-empty tuple of finite numbers >= 0, "
                         f"got {name}={shifts!r}")


def feature_source(kind: str, shift: float, d: int):
    r"""The feature distribution of a run.

    ``gaussian``: :math:`N(\mu\mathbf 1, I)`; ``uniform``: :math:`U(\nu-1, \nu+1)^d`;
    ``bimodal``: :math:`\tfrac12 N(z\mathbf 1, I) + \tfrac12 N(-z\mathbf 1, I)`;
    ``student_t``: i.i.d. Student-t coordinates, 3 degrees of freedom, location ``shift``.
    """
    from .sources import make_source

    if kind == "gaussian":
        return make_source("gaussian", d, mean=float(shift))
    if kind == "uniform":
        return make_source("uniform", d, low=float(shift) - 1.0, high=float(shift) + 1.0)
    if kind == "bimodal":
        return make_source("gaussian_mixture", d, separation=float(shift))
    if kind == "student_t":
        return make_source("student_t", d, df=STUDENT_T_DF, loc=float(shift))
    raise ValueError(f"source must be one of {FEATURE_SOURCES}, got source={kind!r}")


def initial_codebook(kind: str, n_codes: int, d: int, seed: SeedLike) -> np.ndarray:
    """``(n_codes, d)`` float32 initial codebook: N(0, I) (``gaussian``) or U(-1, 1)^d
    (``uniform``)."""
    rng = as_generator(seed)
    if kind == "gaussian":
        return rng.standard_normal((n_codes, d)).astype(np.float32)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, (n_codes, d)).astype(np.float32)
    raise ValueError(f"init must be 'gaussian' or 'uniform', got init={kind!r}")


def evaluate_codebook(features: np.ndarray, codebook: np.ndarray) -> dict[str, float]:
    r"""E, U, C (:func:`theory.criterion_triple`, exact nearest-code search) and the Gaussian W2
    between the moments of the features and of the codebook.

    W2 uses the symmetric closed form :func:`theory.gaussian_w2`,
    :math:`\operatorname{tr}(\Sigma_z+\Sigma_c-2(\Sigma_z^{1/2}\Sigma_c\Sigma_z^{1/2})^{1/2})`,
    with the biased (``ddof = 0``) moments as in the authors' evaluation, not their ``eigh`` of the
    non-symmetric product :math:`\Sigma_z\Sigma_c` (exact only when the two commute).
    """
    from theory import criterion_triple, gaussian_moments, gaussian_w2

    triple = criterion_triple(np.ascontiguousarray(features, dtype=np.float32),
                              np.ascontiguousarray(codebook, dtype=np.float32))
    m_z, c_z = gaussian_moments(np.asarray(features, dtype=np.float64), ddof=0)
    m_c, c_c = gaussian_moments(np.asarray(codebook, dtype=np.float64), ddof=0)
    w2 = float(gaussian_w2(m_z, c_z, m_c, c_c))
    return {"error": float(triple.error), "utilization": float(triple.utilization),
            "perplexity": float(triple.perplexity), "w2": w2}


def eval_steps(settings: TrainSettings) -> list[int]:
    """Steps after which the codebook is evaluated: 0 (the initial codebook), every
    ``eval_every`` steps, and the last step."""
    steps = list(range(0, settings.steps + 1, settings.eval_every))
    if steps[-1] != settings.steps:
        steps.append(settings.steps)
    return steps


def _library():
    from . import quantizers

    return quantizers


def build_quantizer(variant: Variant, settings: TrainSettings, init: np.ndarray, seed: int):
    """The library quantizer of ``variant`` starting from ``init``, and its SGD optimiser (None for
    quantizers without trainable parameters or with a zero learning rate)."""
    import torch

    lib = _library()
    if variant.quantizer not in lib.QUANTIZERS:
        raise ValueError(f"the quantizer library has no {variant.quantizer!r} "
                         f"(it has {lib.QUANTIZERS})")
    training = lib.default_training(variant.quantizer)
    options = {**(training.get("quantizer_options") or {}), **dict(variant.options)}
    q = lib.make_quantizer(variant.quantizer, settings.n_codes, settings.dim,
                           init=torch.from_numpy(init.copy()), seed=seed, **options)
    params = [p for p in q.parameters() if p.requires_grad]
    lr = float(training.get("lr") or 0.0)
    momentum = float(training.get("momentum") or 0.0)
    opt = None
    if params and lr > 0:
        if training.get("optimizer", "sgd") != "sgd":
            raise ValueError(f"default_training({variant.quantizer!r}) asks for optimizer="
                             f"{training.get('optimizer')!r}; the atomic setting uses SGD")
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    return q, opt, {"lr": lr, "momentum": momentum}


def _set_threads(n: int):
    """Set the torch and faiss (OpenMP) thread counts for a run; return a function restoring both.
    (On oversubscribed cores more threads can be many times slower: runs default to one.)"""
    import torch

    old_torch = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        import faiss
    except ImportError:  # the search falls back to BLAS
        return lambda: torch.set_num_threads(old_torch)
    old_faiss = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)

    def restore():
        torch.set_num_threads(old_torch)
        faiss.omp_set_num_threads(old_faiss)

    return restore


def _children(seed, n: int) -> list[np.random.SeedSequence]:
    """``n`` child seeds of ``seed``, the same on every call (``SeedSequence.spawn`` is stateful:
    a shared parent would hand the second variant of a replicate different streams)."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, i),
                                   pool_size=ss.pool_size) for i in range(n)]


def train_run(variant: Variant, source: str, shift: float, settings: TrainSettings, seed,
              *, replicate: int = 0, progress: bool | None = None) -> list[dict]:
    """Train one codebook and return one row per evaluation step (see the module docstring).

    ``seed``: the stream of the (source, shift, replicate), shared by all variants (common random
    numbers): it is split into the initial codebook, the training features and the evaluation
    features. ``progress``: a tqdm bar over steps (None: only for long runs,
    steps x batch_size x n_codes > 1e10, i.e. the default and full presets).
    """
    import torch
    from tqdm.auto import tqdm

    init_ss, train_ss, eval_ss = _children(seed, 3)
    src = feature_source(source, shift, settings.dim)
    init = initial_codebook(INIT_FOR_SOURCE[source], settings.n_codes, settings.dim, init_ss)
    train_rng, eval_rng = np.random.default_rng(train_ss), np.random.default_rng(eval_ss)
    when = set(eval_steps(settings))
    base = {"quantizer": variant.label, "base": variant.quantizer, "source": source,
            "mu": float(shift), "d": settings.dim, "n_codes": settings.n_codes,
            "replicate": int(replicate)}
    restore = _set_threads(settings.threads)
    try:
        q, opt, training = build_quantizer(variant, settings, init,
                                           int(init_ss.generate_state(1)[0]))
        base.update(lr=training["lr"])

        def evaluate(step: int, elapsed: float) -> dict:
            q.eval()
            with torch.no_grad():
                codebook = q.codebook.detach().to(torch.float32).cpu().numpy()
            q.train()
            feats = src.sample(settings.eval_samples, seed=eval_rng).astype(np.float32)
            if not np.isfinite(codebook).all():
                warnings.warn(f"{variant.label} diverged on {source} shift {shift} by step "
                              f"{step}: the codebook has non-finite entries; lower its lr in "
                              "default_training", RuntimeWarning, stacklevel=3)
                return {**base, "step": step, "diverged": True, "seconds": elapsed}
            return {**base, "step": step, **evaluate_codebook(feats, codebook),
                    "seconds": round(elapsed, 4)}

        long_run = settings.steps * settings.batch_size * settings.n_codes > 1e10
        bar = tqdm(total=settings.steps, desc=f"{variant.label} {source} {shift:g}", leave=False,
                   unit="step", disable=(not long_run) if progress is None else not progress)
        rows = [evaluate(0, 0.0)]
        elapsed = 0.0
        q.train()
        for step in range(1, settings.steps + 1):
            start = time.perf_counter()
            z = torch.from_numpy(src.sample(settings.batch_size, seed=train_rng)
                                 .astype(np.float32))
            out = q(z)
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                out.loss.backward()
                opt.step()
            elapsed += time.perf_counter() - start
            bar.update()
            if step in when:
                rows.append(evaluate(step, elapsed))
                if rows[-1].get("diverged"):
                    break
        bar.close()
    finally:
        restore()
    return rows


# ---------------------------------------------------------------------------------------------
# summaries shared by the studies


def final_rows(rows: list[dict]) -> list[dict]:
    """The last evaluation row of every run (variant, source, shift, d, replicate)."""
    last: dict[tuple, dict] = {}
    for r in rows:
        key = (r["quantizer"], r["source"], r["mu"], r["d"], r.get("part", ""), r["replicate"])
        if key not in last or r["step"] > last[key]["step"]:
            last[key] = r
    return list(last.values())


METRICS = ("error", "utilization", "perplexity", "w2")


def final_table(rows: list[dict], group: tuple[str, ...] = ("quantizer", "source", "mu")) \
        -> list[dict]:
    """Mean and 95% CI over replicates of every metric at the final step, one entry per
    ``group`` value. With a single replicate the CI collapses to the value (``n = 1``)."""
    groups: dict[tuple, list[dict]] = {}
    for r in final_rows(rows):
        groups.setdefault(tuple(r[g] for g in group), []).append(r)
    table = []
    for key, g in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        entry = dict(zip(group, key, strict=True))
        entry.setdefault("d", g[0].get("d"))
        entry.setdefault("n_codes", g[0].get("n_codes"))
        entry["n"] = len(g)
        entry["diverged"] = sum(bool(r.get("diverged")) for r in g)
        entry["step"] = max(r["step"] for r in g)
        for m in METRICS:
            vals = [r[m] for r in g if m in r and r[m] is not None]
            if len(vals) >= 2:
                ci = mean_ci(vals)
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = ci.mean, [ci.low, ci.high], ci.stderr
            elif vals:
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = vals[0], [vals[0], vals[0]], math.inf
            else:
                entry[m], entry[f"{m}_ci"], entry[f"{m}_se"] = None, None, None
        table.append(entry)
    return table


def present(summary: dict, names) -> list[str]:
    """Those of ``names`` (in order) that have a final entry in ``summary`` (ran in this study)."""
    have = {e["quantizer"] for e in summary["final"]}
    return [n for n in names if n in have]


def final_entry(summary: dict, quantizer: str, source: str, mu: float) -> dict | None:
    """The ``summary["final"]`` entry (see :func:`final_table`) of one (quantizer, source, shift)."""
    for e in summary["final"]:
        if (e["quantizer"], e["source"], e["mu"]) == (quantizer, source, mu):
            return e
    return None


def paired_difference(rows: list[dict], metric: str, a: dict, b: dict) -> dict | None:
    """Final-step ``metric`` of runs matching ``a`` minus those matching ``b``, paired by
    replicate (common random numbers): mean, CI, standard error and z = mean / stderr. None when
    fewer than two replicate pairs exist."""
    fin = final_rows(rows)

    def pick(match):
        return {r["replicate"]: r[metric] for r in fin
                if all(r.get(k) == v for k, v in match.items()) and r.get(metric) is not None}

    ra, rb = pick(a), pick(b)
    common = sorted(set(ra) & set(rb))
    if len(common) < 2:
        return None
    diffs = [ra[i] - rb[i] for i in common]
    ci = mean_ci(diffs)
    z = ci.mean / ci.stderr if ci.stderr > 0 else (0.0 if ci.mean == 0 else math.copysign(
        math.inf, ci.mean))
    return {"mean": ci.mean, "ci": [ci.low, ci.high], "se": ci.stderr, "z": z, "n": ci.n,
            "a": float(np.mean([ra[i] for i in common])),
            "b": float(np.mean([rb[i] for i in common]))}


Z_SIGNIFICANT = 3.0


def significant(diff: dict | None, sign: int) -> bool:
    """Whether a :func:`paired_difference` is significantly positive (``sign=+1``) or negative
    (``sign=-1``): more than 3 standard errors from 0 AND its 95% t interval excludes 0 (with few
    replicates the t quantile exceeds 3: 12.7 for 2, 4.3 for 3, 3.2 for 4)."""
    if diff is None:
        return False
    if sign > 0:
        return diff["z"] > Z_SIGNIFICANT and diff["ci"][0] > 0
    return diff["z"] < -Z_SIGNIFICANT and diff["ci"][1] < 0


def curves(rows: list[dict], group: tuple[str, ...] = ("quantizer", "source", "mu")) -> list[dict]:
    """Training curves: replicate means of every metric at every evaluation step, per group."""
    groups: dict[tuple, dict[int, list[dict]]] = {}
    for r in rows:
        if r.get("diverged"):
            continue
        groups.setdefault(tuple(r[g] for g in group), {}).setdefault(r["step"], []).append(r)
    out = []
    for key, by_step in sorted(groups.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        steps = sorted(by_step)
        entry = dict(zip(group, key, strict=True))
        entry["step"] = steps
        for m in METRICS:
            entry[m] = [float(np.mean([r[m] for r in by_step[s]])) for s in steps]
        out.append(entry)
    return out
