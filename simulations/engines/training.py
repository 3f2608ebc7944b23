r"""Training and evaluation machinery shared by the ``atomic`` and ``robustness`` studies.

The "atomic setting" of the paper (v1 App. H, later Section 4; reference script ``VariousVQs.py``)
has no encoder: a codebook of ``K`` codes in ``R^d`` is trained alone on *fresh* features drawn at
every step from a known source (infinite data), and is evaluated every few steps on a fresh,
larger sample by the criterion triple (E, U, C) and by the closed-form Gaussian W2 between the
evaluation features' and the codebook's moments.

One training run is one (variant, source, law parameter, replicate). A *variant* is a quantizer of
:mod:`vqmatch.simulations.engines.quantizers` with fixed options (e.g. ``online_farthest`` is the
online quantizer with ``anchor="farthest"``). The optimiser settings come from
``default_training(name)`` of the quantizer library (the authors' per-method SGD settings), never
from here.

Common random numbers: every variant of the same (source, law parameter, replicate) starts from the
same initial codebook and sees the same training and evaluation features, so differences between
variants are paired and their standard errors small.

Rows (one per evaluation step) carry ``quantizer`` (the variant label), ``base`` (the library
quantizer), ``source``, ``shift`` (the translation of the feature law by shift x 1: the Gaussian
mean shift mu, the uniform offset nu, the Student-t location), ``separation`` (the bimodal
mixture's z; 0 for the other sources), ``d``, ``codebook_size``, ``replicate``, ``step``, ``error``,
``utilization``, ``perplexity``, ``w2`` and ``seconds`` (cumulative training wall time, evaluation
excluded).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.checks import check_int, check_positive_ints
from ..core.executors import cell_bars
from ..core.seeding import SeedLike, as_generator, child, torch_seed

# the quantizer names of the library's interface (vqmatch.simulations.engines.quantizers.QUANTIZERS);
# kept here as data so that configurations validate without importing torch
LIBRARY_QUANTIZERS = ("vanilla", "ema", "online", "linear", "wasserstein", "mmd", "sliced",
                      "density_wasserstein", "ste++")
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

    codebook_size: int = 16384
    dim: int = 8
    steps: int = 2000
    batch_size: int = 50_000
    eval_every: int = 100
    eval_samples: int = 200_000

    def __post_init__(self):
        check_positive_ints(self, "dim", "steps", "eval_every")
        for name in ("codebook_size", "batch_size", "eval_samples"):
            check_int(getattr(self, name), name, minimum=2)


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


def feature_source(kind: str, d: int, *, shift: float = 0.0, separation: float = 0.0):
    r"""The feature distribution of a run.

    ``gaussian``: :math:`N(\mu\mathbf 1, I)`; ``uniform``: :math:`U(\nu-1, \nu+1)^d`;
    ``student_t``: i.i.d. Student-t coordinates, 3 degrees of freedom, location (all three:
    ``shift`` = mu, nu or the location); ``bimodal``:
    :math:`\tfrac12 N(z\mathbf 1, I) + \tfrac12 N(-z\mathbf 1, I)` with z = ``separation``.
    """
    from ..sources import make_source

    if kind not in FEATURE_SOURCES:
        raise ValueError(f"source must be one of {FEATURE_SOURCES}, got source={kind!r}")
    if (kind == "bimodal" and shift) or (kind != "bimodal" and separation):
        raise ValueError(f"the {kind} source takes "
                         f"{'a separation' if kind == 'bimodal' else 'a shift'} only, got "
                         f"shift={shift!r}, separation={separation!r}")
    if kind == "gaussian":
        return make_source("gaussian", d, mean=float(shift))
    if kind == "uniform":
        return make_source("uniform", d, low=float(shift) - 1.0, high=float(shift) + 1.0)
    if kind == "bimodal":
        return make_source("gaussian_mixture", d, separation=float(separation))
    return make_source("student_t", d, df=STUDENT_T_DF, loc=float(shift))


def initial_codebook(kind: str, codebook_size: int, d: int, seed: SeedLike) -> np.ndarray:
    """``(codebook_size, d)`` float32 initial codebook: N(0, I) (``gaussian``) or U(-1, 1)^d
    (``uniform``)."""
    rng = as_generator(seed)
    if kind == "gaussian":
        return rng.standard_normal((codebook_size, d)).astype(np.float32)
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, (codebook_size, d)).astype(np.float32)
    raise ValueError(f"init must be 'gaussian' or 'uniform', got init={kind!r}")


def evaluate_codebook(features: np.ndarray, codebook: np.ndarray) -> dict[str, float]:
    r"""E, U, C (:func:`vqmatch.theory.criterion_triple`, exact nearest-code search) and the Gaussian W2
    between the moments of the features and of the codebook.

    W2 uses the symmetric closed form :func:`vqmatch.theory.gaussian_w2`,
    :math:`\operatorname{tr}(\Sigma_z+\Sigma_c-2(\Sigma_z^{1/2}\Sigma_c\Sigma_z^{1/2})^{1/2})`,
    with the biased (``ddof = 0``) moments as in the authors' evaluation, not their ``eigh`` of the
    non-symmetric product :math:`\Sigma_z\Sigma_c` (exact only when the two commute).
    """
    from vqmatch.theory import criterion_triple, gaussian_moments, gaussian_w2

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
    q = lib.make_quantizer(variant.quantizer, settings.codebook_size, settings.dim,
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


def train_run(variant: Variant, source: str, settings: TrainSettings, seed, *,
              shift: float = 0.0, separation: float = 0.0, replicate: int = 0,
              progress: bool | None = None) -> list[dict]:
    """Train one codebook and return one row per evaluation step (see the module docstring).

    ``source`` with ``shift`` / ``separation``: the feature law (:func:`feature_source`).
    ``seed``: the stream of the (source, law parameter, replicate), shared by all variants
    (common random numbers): it is split into the initial codebook, the training features and the
    evaluation features. ``progress``: a tqdm bar over steps (None: only for long runs,
    steps x batch_size x codebook_size > 1e10, i.e. the default and full scales, and only where
    the executor lets a cell draw bars, :func:`vqmatch.simulations.core.executors.cell_bars`).
    """
    import torch
    from tqdm.auto import tqdm

    init_ss, train_ss, eval_ss = child(seed, 0), child(seed, 1), child(seed, 2)
    src = feature_source(source, settings.dim, shift=shift, separation=separation)
    init = initial_codebook(INIT_FOR_SOURCE[source], settings.codebook_size, settings.dim,
                            init_ss)
    train_rng, eval_rng = np.random.default_rng(train_ss), np.random.default_rng(eval_ss)
    when = set(eval_steps(settings))
    base = {"quantizer": variant.label, "base": variant.quantizer, "source": source,
            "shift": float(shift), "separation": float(separation), "d": settings.dim,
            "codebook_size": settings.codebook_size, "replicate": int(replicate)}
    law = f"separation {separation:g}" if source == "bimodal" else f"shift {shift:g}"
    q, opt, training = build_quantizer(variant, settings, init, torch_seed(init_ss))
    base.update(lr=training["lr"])

    def evaluate(step: int, elapsed: float) -> dict:
        q.eval()
        with torch.no_grad():
            codebook = q.codebook.detach().to(torch.float32).cpu().numpy()
        q.train()
        feats = src.sample(settings.eval_samples, seed=eval_rng).astype(np.float32)
        if not np.isfinite(codebook).all():
            warnings.warn(f"{variant.label} diverged on {source} {law} by step "
                          f"{step}: the codebook has non-finite entries; lower its lr in "
                          "default_training", RuntimeWarning, stacklevel=3)
            return {**base, "step": step, "diverged": True, "seconds": elapsed}
        return {**base, "step": step, **evaluate_codebook(feats, codebook),
                "seconds": round(elapsed, 4)}

    long_run = settings.steps * settings.batch_size * settings.codebook_size > 1e10
    bar = tqdm(total=settings.steps, desc=f"{variant.label} {source} {law}", leave=False,
               unit="step",
               disable=not (long_run and cell_bars()) if progress is None else not progress)
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
    return rows
