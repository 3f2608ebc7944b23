"""The shared machinery of every quantizer: validation, initial codebooks, nearest-code search,
straight-through output, the vanilla VQ loss terms, the batch criteria (E, U, C) and the precision
rule (inputs of any floating dtype, numerics in float32 or wider, autocast switched off inside)."""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from vqmatch.theory import nearest_code, usage_criteria
from vqmatch.theory.assignment import faiss_search

from ...core.seeding import as_generator

__all__ = ["Quantizer", "QuantizerOutput", "autocast_active", "autocast_disabled", "compute_dtype",
           "farthest_feature", "initial_codebook", "search"]

SEARCH_ENGINES = ("auto", "faiss", "blas")
REDUCTIONS = ("sum", "mean")
INPUT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def compute_dtype(codebook_dtype: torch.dtype) -> torch.dtype:
    """The dtype a quantizer computes in: the wider of float32 and its codebook's dtype (float32 for a
    float32, float16 or bfloat16 codebook; float64 for a float64 one), whatever the input dtype."""
    return torch.promote_types(torch.float32, codebook_dtype)


def autocast_active(device: torch.device) -> bool:
    """Whether ``torch.autocast`` is on for ``device``'s type in this thread."""
    kind = device.type
    return torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind)


def autocast_disabled(device: torch.device):
    """A context in which autocast is off on ``device`` (a no-op context when it is off already).

    An encoder trained under ``torch.autocast`` would otherwise have the quantizer's matrix products
    (the search GEMM, the linear map, the MMD kernels, the sliced projections, the Wasserstein
    moments) recast to bfloat16 or float16, which changes nearest codes, statistics and losses."""
    if autocast_active(device):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


class _AutocastFreeBackward(torch.autograd.Function):
    """``fn(z)`` (a tuple of tensors, built from ``z`` and the module's ``params``) whose backward
    runs with autocast OFF.

    PyTorch runs backward ops under the autocast state of the thread that calls ``backward``: a
    ``loss.backward()`` inside ``torch.autocast`` would recompute the quantizer's matmul gradients
    (linear map, MMD, sliced, Wasserstein moments) in bfloat16. Used only when the forward itself
    runs under autocast: ``fn`` builds its own graph (from a detached copy of ``z`` and the real
    parameters), which this node differentiates with autocast disabled; the gradients are
    bitwise those of a forward and backward outside autocast."""

    @staticmethod
    def forward(ctx, fn, z, *params):
        leaf = z.detach().requires_grad_(z.requires_grad)
        with torch.enable_grad():
            outs = fn(leaf)
        ctx.leaf, ctx.params, ctx.outs = leaf, params, outs
        return tuple(o.detach() for o in outs)

    @staticmethod
    def backward(ctx, *grads):
        leaf, params, outs = ctx.leaf, ctx.params, ctx.outs
        ctx.outs = None  # the inner graph is used once
        pairs = [(o, g) for o, g in zip(outs, grads, strict=True) if o.requires_grad and g is not None]
        wanted = [x for x in (leaf, *params) if x.requires_grad]
        found = iter(())
        if pairs and wanted:
            with autocast_disabled(leaf.device):
                found = iter(torch.autograd.grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                                                 allow_unused=True))
        got = [next(found, None) if x.requires_grad else None for x in (leaf, *params)]
        return (None, *got)


@dataclass
class QuantizerOutput:
    """What a quantizer's forward returns (see :class:`Quantizer`).

    Attributes
    ----------
    quantized : Tensor, same shape and dtype as the input
        Straight-through output ``sg(z_q) + (z - sg(z))``: its value is exactly the nearest code
        (rounded to the input dtype), its gradient with respect to ``z`` is the identity.
    indices : LongTensor, (N,) or (B, H, W)
        Index of the nearest code of every feature vector (of the input converted to the compute
        dtype, see :class:`Quantizer`).
    loss : Tensor, 0-dim
        The total quantizer loss to add to the task loss: the sum of ``losses``, in the compute
        dtype (float32, or float64 for a float64 codebook), whatever the input dtype.
    losses : dict[str, Tensor]
        The weighted terms whose sum is ``loss`` (``codebook``, ``commitment``, ``matching``).
    metrics : dict[str, float]
        Batch criteria before any state update of this step: ``error`` (mean squared distance to
        the nearest code, Criterion 1), ``utilization`` and ``perplexity`` (Criteria 2 and 3, as
        :func:`vqmatch.theory.usage_criteria` defines them); matching quantizers add ``matching``, the
        unweighted value of their matching term.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    losses: dict[str, torch.Tensor] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def __iter__(self):
        """``quantized, indices, loss = quantizer(z)``: the three-value contract of a drop-in VQ layer
        (as vector-quantize-pytorch's ``VectorQuantize`` returns); ``losses`` and ``metrics`` stay
        attributes."""
        return iter((self.quantized, self.indices, self.loss))


def check_positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={value!r}")
    return int(value)


def check_nonneg_float(value, name: str, *, positive: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0 or (positive and value == 0):
        kind = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {kind} finite number, got {name}={value!r}")
    return float(value)


def check_decay(value, name: str = "decay") -> float:
    value = check_nonneg_float(value, name)
    if not value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {name}={value!r}")
    return value


def check_choice(value, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {name}={value!r}")
    return value


def initial_codebook(codebook_size: int, codebook_dim: int, init, init_scale: float, seed,
                     dtype: torch.dtype) -> torch.Tensor:
    """The starting (K, d) codebook.

    ``init="gaussian"``: i.i.d. N(0, init_scale^2); ``"uniform"``: U(-init_scale, init_scale);
    a (K, d) tensor or array: copied. Drawn with numpy from ``seed`` so the same seed gives the
    same codebook on every device and for every quantizer (the paper's atomic setting starts all
    methods from one N(0, I) draw).
    """
    if isinstance(init, (torch.Tensor, np.ndarray)):
        codes = torch.as_tensor(init).detach().clone().to(dtype=dtype, device="cpu")
        if tuple(codes.shape) != (codebook_size, codebook_dim):
            raise ValueError(f"init must have shape (codebook_size, codebook_dim) = "
                             f"{(codebook_size, codebook_dim)}, got init.shape={tuple(codes.shape)}")
        if not torch.isfinite(codes).all():
            raise ValueError("init contains NaN or Inf values")
        return codes
    check_choice(init, ("gaussian", "uniform"), "init")
    rng = as_generator(seed)
    shape = (codebook_size, codebook_dim)
    draw = rng.standard_normal(shape) if init == "gaussian" else rng.uniform(-1.0, 1.0, shape)
    return torch.from_numpy(init_scale * draw).to(dtype)


def search(features: torch.Tensor, codebook: torch.Tensor, *, chunk_size: int | None,
           engine: str, max_chunk_bytes: int):
    """Exact nearest code of every row of ``features`` (:func:`vqmatch.theory.nearest_code`).

    Memory stays bounded for any K: faiss' exact flat index on CPU float32 (blocked internally),
    a GEMM over ``chunk_size`` feature rows at a time otherwise (default: as many rows as fit in
    ``max_chunk_bytes`` of distances). No gradient flows through the search.
    """
    return nearest_code(features.detach(), codebook.detach(), chunk_size=chunk_size,
                        max_chunk_bytes=max_chunk_bytes, engine=engine)


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@torch.no_grad()
def farthest_feature(codebook: torch.Tensor, features: torch.Tensor, *,
                     max_chunk_bytes: int = 1 << 26) -> torch.Tensor:
    """Index of the feature FARTHEST from each code, ``argmax_i ||z_i - e_k||^2``, in chunks of codes
    (used only by the online quantizer's ``anchor="farthest"`` variant).

    For float32 CPU tensors this is a maximum-inner-product search that faiss runs as one GEMM:
    ``||z_i - e_k||^2 - ||e_k||^2 = [z_i, ||z_i||^2] . [-2 e_k, 1]`` (4x faster than the torch
    path at K = 2048, N = 8192, measured)."""
    if features.device.type == "cpu" and features.dtype == torch.float32 and _faiss_available():
        z = features.detach().numpy()
        e = codebook.detach().to(torch.float32).numpy()
        base = np.hstack([z, (z * z).sum(1, keepdims=True)])
        queries = np.hstack([-2.0 * e, np.ones((e.shape[0], 1), dtype=np.float32)])
        return torch.from_numpy(faiss_search(queries, base, inner_product=True))
    z_norm = (features * features).sum(-1)
    itemsize = features.element_size()
    rows = max(1, max_chunk_bytes // (itemsize * features.shape[0]))
    out = [(z_norm - 2.0 * codebook[s:s + rows] @ features.T).argmax(-1)
           for s in range(0, codebook.shape[0], rows)]
    return torch.cat(out)


class Quantizer(nn.Module):
    r"""Base class: nearest-code quantizer with a straight-through estimator.

    Forward on ``z`` of shape (N, d) or (B, d, H, W) (channels second, like an encoder output):
    every feature vector is replaced by its nearest code (exact search, :func:`search`), the output
    is the straight-through ``sg(z_q) + (z - sg(z))`` (value ``z_q``, gradient identity) and the
    loss is

    .. math:: \alpha\,\|\mathrm{sg}(z) - z_q\|^2 + \beta\,\|z - \mathrm{sg}(z_q)\|^2
              \;[+\ \text{the subclass' matching term}],

    each squared norm averaged over feature vectors (``reduction="sum"``: summed over the d
    coordinates, the paper's Criterion 1 and the authors' atomic-setting loss; ``"mean"``: averaged
    over coordinates too, like ``F.mse_loss`` in the authors' VQ-VAE code).

    Subclasses set the codebook storage and override ``_codes`` (the effective (K, d) codebook,
    differentiable), ``_matching`` (an extra loss, codebook-only), ``_update`` (state changes,
    called only in training mode, after the output and losses of the step were computed) and, if
    needed, ``_straight_through``. ``_matching`` and ``_update`` receive features and codes in the
    compute dtype.

    Precision. The codebook's parameters and buffers keep their own dtype (``dtype``, float32 by
    default). Inputs may be float16, bfloat16, float32 or float64 (e.g. an encoder under
    ``torch.autocast``). Everything numerical (distances, the nearest-code search, the losses, the
    metrics and the state updates: EMA statistics, online usage, the Wasserstein queue and moments,
    MMD kernels, sliced projections) runs in the compute dtype, the wider of float32 and the
    codebook's dtype (:func:`compute_dtype`), and updated state is stored back in the buffers' own
    dtype. The input is converted to the compute dtype (exactly for float16 and
    bfloat16; a float64 input to a float32 quantizer is rounded to float32: build the quantizer with
    ``dtype=torch.float64`` for float64 numerics), autocast is switched off inside the quantizer
    (:func:`autocast_disabled`), also for its part of a backward called inside ``torch.autocast``
    (the gradients are bitwise those computed outside autocast), ``indices`` are the exact nearest
    codes of the converted input, ``loss`` is in the compute dtype and ``quantized`` in the input's
    dtype (the nearest code rounded to it, identity gradient). Gradients reach the codebook in its
    own dtype. Device-agnostic: the input must be on the codebook's device.

    Parameters (keyword-only, shared by all quantizers)
    ----------
    init : "gaussian" | "uniform" | (K, d) tensor, default "gaussian"
    init_scale : float, default 1.0
        Standard deviation (gaussian) or half-width (uniform) of the initial codes.
    seed : int | numpy.random.Generator | None, default 0
        Initial codebook and, for the stochastic losses, the per-step random draws.
    alpha : float, default 1.0
        Weight of the codebook term ``||sg(z) - z_q||^2`` (the authors' name; the only term that
        moves the codes in the atomic setting, where features carry no gradient).
    beta : float, default 1.0
        Weight of the commitment term ``||z - sg(z_q)||^2`` (pulls the encoder; the authors'
        baselines use 1.0).
    reduction : "sum" | "mean", default "sum"
    chunk_size : int | None, default None
        Feature rows per GEMM chunk of the search (BLAS engine); None: bounded by ``max_chunk_bytes``.
    search_engine : "auto" | "faiss" | "blas", default "auto"
        ``auto``: faiss exact search for CPU float32, chunked torch GEMM otherwise.
    max_chunk_bytes : int, default 64 MiB
    dtype : torch.float32 | torch.float64, default float32
        The codebook's dtype (and so the compute dtype, see Precision above); inputs may differ.
    """

    name = "base"
    uses_codebook_loss = True

    def __init__(self, codebook_size: int, codebook_dim: int, *, init="gaussian",
                 init_scale: float = 1.0, seed=0, alpha: float = 1.0, beta: float = 1.0,
                 reduction: str = "sum", chunk_size: int | None = None, search_engine: str = "auto",
                 max_chunk_bytes: int = 1 << 26, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.codebook_size = check_positive_int(codebook_size, "codebook_size")
        self.codebook_dim = check_positive_int(codebook_dim, "codebook_dim")
        self.init_scale = check_nonneg_float(init_scale, "init_scale", positive=True)
        self.alpha = check_nonneg_float(alpha, "alpha")
        self.beta = check_nonneg_float(beta, "beta")
        self.reduction = check_choice(reduction, REDUCTIONS, "reduction")
        self.chunk_size = None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
        self.search_engine = check_choice(search_engine, SEARCH_ENGINES, "search_engine")
        self.max_chunk_bytes = check_positive_int(max_chunk_bytes, "max_chunk_bytes")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got dtype={dtype!r}")
        self.rng = as_generator(seed)  # initial codebook first, then the per-step draws
        self._init_codes = initial_codebook(self.codebook_size, self.codebook_dim, init,
                                            self.init_scale, self.rng, dtype)
        self._eval_seed = int(self.rng.integers(2**63))

    def step_rng(self) -> np.random.Generator:
        """Generator for a forward's random draws (sliced directions, MMD subsamples): the
        quantizer's own stream in training mode; in eval mode a fresh generator with a fixed seed,
        so evaluation is deterministic and leaves the training stream untouched."""
        return self.rng if self.training else np.random.default_rng(self._eval_seed)

    def _take_init(self) -> torch.Tensor:
        """The initial codebook, handed over once to the subclass' storage."""
        codes, self._init_codes = self._init_codes, None
        return codes

    # ------------------------------------------------------------------ subclass hooks
    def _codes(self) -> torch.Tensor:
        raise NotImplementedError

    def _matching(self, features: torch.Tensor, codes: torch.Tensor) -> torch.Tensor | None:
        return None

    def _update(self, features: torch.Tensor, indices: torch.Tensor, codes: torch.Tensor) -> None:
        return None

    matching_weight = 0.0

    # ------------------------------------------------------------------ public
    @property
    def codebook(self) -> torch.Tensor:
        """The effective (K, d) codebook used by the search (detached; in the dtype it is stored in,
        or, for a derived codebook (linear, ste++), computed in)."""
        with autocast_disabled(self._device()):
            return self._codes().detach()

    def _device(self) -> torch.device:
        return next(itertools.chain(self.parameters(), self.buffers())).device

    def _working_codes(self, device: torch.device) -> torch.Tensor:
        """The effective codebook, differentiable, converted to the compute dtype (call with
        autocast disabled)."""
        codes = self._codes()
        if codes.device != device:
            raise ValueError(f"z is on device={device} but the codebook is on device={codes.device}")
        return codes.to(compute_dtype(codes.dtype))

    def extra_repr(self) -> str:
        return f"codebook_size={self.codebook_size}, codebook_dim={self.codebook_dim}"

    def _flatten(self, z: torch.Tensor):
        if not isinstance(z, torch.Tensor):
            raise ValueError(f"z must be a torch.Tensor, got {type(z).__name__}")
        if z.ndim not in (2, 4):
            raise ValueError(f"z must have shape (N, d) or (B, d, H, W), got z.shape={tuple(z.shape)}")
        if z.shape[1] != self.codebook_dim:
            raise ValueError(f"z must have codebook_dim={self.codebook_dim} channels in dimension 1, "
                             f"got z.shape={tuple(z.shape)}")
        if z.numel() == 0:
            raise ValueError(f"z must hold at least one feature vector, got z.shape={tuple(z.shape)}")
        if z.dtype not in INPUT_DTYPES:
            raise ValueError(f"z must have a floating dtype among {INPUT_DTYPES}, got dtype={z.dtype}")
        if z.ndim == 2:
            return z, None
        b, d, h, w = z.shape
        return z.permute(0, 2, 3, 1).reshape(-1, d), (b, h, w)

    def _sqdist(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        diff = a - b
        per_vector = (diff * diff).sum(-1)
        if self.reduction == "mean":
            per_vector = per_vector / a.shape[-1]
        return per_vector.mean()

    def _straight_through(self, flat_in: torch.Tensor, z_q: torch.Tensor) -> torch.Tensor:
        """``sg(z_q) + (z - sg(z))`` in the input's dtype: the value is exactly the code rounded to
        that dtype (``z - sg(z)`` is exactly 0; ``z + sg(z_q - z)`` would round twice), the
        gradient with respect to ``z`` is the identity."""
        return z_q.detach().to(flat_in.dtype) + (flat_in - flat_in.detach())

    def _differentiable(self, flat_in: torch.Tensor, side: dict) -> tuple[torch.Tensor, ...]:
        """The part of a forward that carries gradients: the nearest codes ``z_q`` and the loss terms
        (returned as a tuple, their names in ``side["names"]``); the search result and the compute-
        dtype features and codes go to ``side``. Runs with autocast disabled."""
        codes = self._working_codes(flat_in.device)
        flat = flat_in.to(codes.dtype)
        found = search(flat, codes, chunk_size=self.chunk_size, engine=self.search_engine,
                       max_chunk_bytes=self.max_chunk_bytes)
        z_q = codes[found.indices]
        losses: dict[str, torch.Tensor] = {}
        if self.uses_codebook_loss:
            losses["codebook"] = self.alpha * self._sqdist(flat.detach(), z_q)
        losses["commitment"] = self.beta * self._sqdist(flat, z_q.detach())
        matching = self._matching(flat, codes)
        if matching is not None:
            side["matching"] = float(matching.detach())
            losses["matching"] = self.matching_weight * matching
        side.update(found=found, flat=flat.detach(), codes=codes.detach(), names=tuple(losses))
        return (z_q, *losses.values())

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        flat_in, spatial = self._flatten(z)  # (finiteness is checked by the search)
        device = flat_in.device
        isolate = torch.is_grad_enabled() and autocast_active(device)
        with autocast_disabled(device):
            side: dict = {}
            if isolate:  # keep autocast out of the backward too (see _AutocastFreeBackward)
                z_q, *terms = _AutocastFreeBackward.apply(
                    functools.partial(self._differentiable, side=side), flat_in, *self.parameters())
            else:
                z_q, *terms = self._differentiable(flat_in, side)
            losses = dict(zip(side["names"], terms, strict=True))
            found = side["found"]
            idx = found.indices
            counts = torch.bincount(idx, minlength=self.codebook_size)
            utilization, perplexity = usage_criteria(counts)
            metrics = {"error": float(found.sq_dist.double().mean()), "utilization": utilization,
                       "perplexity": perplexity}
            if "matching" in side:
                metrics["matching"] = side["matching"]
            loss = sum(losses.values())
            if self.training:
                with torch.no_grad():
                    self._update(side["flat"], idx, side["codes"])
            quantized = self._straight_through(flat_in, z_q)
        if spatial is not None:
            b, h, w = spatial
            quantized = quantized.reshape(b, h, w, -1).permute(0, 3, 1, 2)
            idx = idx.reshape(b, h, w)
        return QuantizerOutput(quantized=quantized, indices=idx, loss=loss, losses=losses,
                               metrics=metrics)
