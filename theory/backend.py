"""A two-library dispatch (numpy and torch) for the theory functions.

Every public theory function starts with ``xp = namespace(*arrays)`` and then only calls the small set of
operations below, so that one implementation serves both libraries. torch is imported only when a torch
tensor is actually passed in: numpy users never pay for (or need) torch.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def _is_torch(x: Any) -> bool:
    # Do not import torch to find out: a tensor can only exist if torch is already imported.
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


_EPS = {c: float(np.finfo(c).eps) for c in "efd"}


_LAPACK = []
# Small unbatched float64 matrices call scipy's LAPACK wrappers directly (potrf, syevd): numpy's
# linalg wrappers cost more than the factorisation itself there. Larger ones go through numpy, whose
# BLAS also does the matrix products: alternating between scipy's and numpy's separately bundled
# OpenBLAS thread pools makes mid-size calls several times slower (measured at d = 128).
_DIRECT_LAPACK_MAX_DIM = 16


def _lapack():
    """scipy's LAPACK wrappers, imported on first use and cached (an import statement per call
    costs more than a 2 x 2 factorisation)."""
    if not _LAPACK:
        from scipy.linalg import lapack

        _LAPACK.append(lapack)
    return _LAPACK[0]


class _NumpyOps:
    name = "numpy"
    lib = np

    @staticmethod
    def asarray(x, like=None):
        if like is not None:
            return np.asarray(x, dtype=like.dtype)
        x = np.asarray(x)
        if x.dtype.kind in "biu":
            x = x.astype(np.float64)
        return x

    @staticmethod
    def is_floating(x) -> bool:
        return x.dtype.kind == "f"

    @staticmethod
    def promote(*xs):
        first = xs[0].dtype
        if first.kind == "f" and all(x.dtype == first for x in xs):
            return xs
        dtype = np.result_type(*xs, np.float32)
        return tuple(x if x.dtype == dtype else x.astype(dtype) for x in xs)

    @staticmethod
    def eps(x) -> float:
        return _EPS[x.dtype.char] if x.dtype.char in _EPS else float(np.finfo(x.dtype).eps)

    @staticmethod
    def tiny(x) -> float:
        return float(np.finfo(x.dtype).tiny)

    @staticmethod
    def all_finite(x) -> bool:
        return bool(np.isfinite(x).all())

    @staticmethod
    def mT(x):
        return np.swapaxes(x, -1, -2)

    @staticmethod
    def cholesky(a):
        """Lower Cholesky factor and a boolean success flag per batch element."""
        if a.ndim == 2 and a.dtype == np.float64 and a.shape[0] <= _DIRECT_LAPACK_MAX_DIM:
            factor, info = _lapack().dpotrf(a, lower=1, clean=1)
            return factor, np.bool_(info == 0)
        try:
            return np.linalg.cholesky(a), np.True_
        except np.linalg.LinAlgError:
            pass
        if a.ndim == 2:
            return np.zeros_like(a), np.zeros((), dtype=bool)
        out = np.zeros_like(a)
        ok = np.zeros(a.shape[:-2], dtype=bool)
        for idx in np.ndindex(*a.shape[:-2]):
            try:
                out[idx] = np.linalg.cholesky(a[idx])
                ok[idx] = True
            except np.linalg.LinAlgError:
                pass
        return out, ok

    eigh = staticmethod(np.linalg.eigh)

    @staticmethod
    def eigvalsh(a):
        if a.ndim == 2 and a.dtype == np.float64 and a.shape[0] <= _DIRECT_LAPACK_MAX_DIM:
            w, _, info = _lapack().dsyevd(a, compute_v=0, lower=1)
            if info == 0:
                return w
        return np.linalg.eigvalsh(a)
    where = staticmethod(np.where)
    sqrt = staticmethod(np.sqrt)
    abs = staticmethod(np.abs)

    @staticmethod
    def clamp_min(x, lo):
        return np.maximum(x, lo)

    @staticmethod
    def trace(a):
        return np.trace(a, axis1=-2, axis2=-1)

    @staticmethod
    def to_float(x) -> float:
        return float(x)

    @staticmethod
    def max_abs(x) -> float:
        return float(np.max(np.abs(x))) if x.size else 0.0

    @staticmethod
    def is_symmetric(a) -> bool:
        """Exactly symmetric (the common case; the caller then skips the tolerance check)."""
        return bool((a == np.swapaxes(a, -1, -2)).all())

    @staticmethod
    def min_diagonal(a) -> float:
        return float(a.diagonal(0, -2, -1).min()) if a.size else 0.0

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)

    @staticmethod
    def from_numpy(x, like):
        return np.asarray(x, dtype=like.dtype)


def _cpu_view(x):
    """A zero-copy numpy view of a CPU tensor (None on GPUs or for dtypes numpy lacks): checks on
    small arrays are several times cheaper in numpy than as torch ops."""
    if x.device.type != "cpu":
        return None
    try:
        return x.detach().numpy()
    except (TypeError, RuntimeError):
        return None


class _TorchOps:
    name = "torch"

    def __init__(self):
        import torch

        self.lib = torch

    def asarray(self, x, like=None):
        torch = self.lib
        if like is not None:
            return torch.as_tensor(x, dtype=like.dtype, device=like.device)
        x = torch.as_tensor(x)
        if not (x.is_floating_point() or x.is_complex()):
            x = x.to(torch.get_default_dtype())
        return x

    @staticmethod
    def is_floating(x) -> bool:
        return x.is_floating_point()

    def promote(self, *xs):
        torch = self.lib
        dtype = xs[0].dtype
        for x in xs[1:]:
            dtype = torch.promote_types(dtype, x.dtype)
        devices = {x.device for x in xs}
        if len(devices) > 1:
            raise ValueError(f"all tensors must be on one device, got devices={sorted(map(str, devices))}")
        return tuple(x.to(dtype) for x in xs)

    def eps(self, x) -> float:
        return float(self.lib.finfo(x.dtype).eps)

    def tiny(self, x) -> float:
        return float(self.lib.finfo(x.dtype).tiny)

    def all_finite(self, x) -> bool:
        host = _cpu_view(x)
        if host is not None:
            return _NumpyOps.all_finite(host)
        return bool(self.lib.isfinite(x).all())

    @staticmethod
    def mT(x):
        return x.transpose(-1, -2)

    def cholesky(self, a):
        factor, info = self.lib.linalg.cholesky_ex(a)
        return factor, info == 0

    def eigh(self, a):
        return self.lib.linalg.eigh(a)

    def eigvalsh(self, a):
        return self.lib.linalg.eigvalsh(a)

    def where(self, cond, a, b):
        return self.lib.where(cond, a, b)

    def sqrt(self, x):
        return self.lib.sqrt(x)

    def abs(self, x):
        return self.lib.abs(x)

    def clamp_min(self, x, lo):
        if isinstance(lo, (int, float)):
            return self.lib.clamp(x, min=lo)
        return self.lib.maximum(x, lo)

    @staticmethod
    def trace(a):
        return a.diagonal(dim1=-2, dim2=-1).sum(-1)

    @staticmethod
    def to_float(x) -> float:
        return float(x.detach().cpu())

    @staticmethod
    def max_abs(x) -> float:
        host = _cpu_view(x)
        if host is not None:
            return _NumpyOps.max_abs(host)
        return float(x.detach().abs().max().cpu()) if x.numel() else 0.0

    @staticmethod
    def is_symmetric(a) -> bool:
        host = _cpu_view(a)
        if host is not None:
            return _NumpyOps.is_symmetric(host)
        return bool(a.detach().equal(a.detach().transpose(-1, -2)))

    @staticmethod
    def min_diagonal(a) -> float:
        host = _cpu_view(a)
        if host is not None:
            return _NumpyOps.min_diagonal(host)
        return float(a.detach().diagonal(dim1=-2, dim2=-1).min().cpu()) if a.numel() else 0.0

    @staticmethod
    def to_numpy(x):
        return x.detach().cpu().numpy()

    def from_numpy(self, x, like):
        return self.lib.as_tensor(np.asarray(x), dtype=like.dtype, device=like.device)


_NUMPY = _NumpyOps()
_TORCH: _TorchOps | None = None


def namespace(*arrays: Any, names: tuple[str, ...] | None = None):
    """Return the operations namespace shared by ``arrays`` (numpy or torch).

    ``None`` entries are ignored. Mixing numpy arrays (or Python scalars/lists) with torch tensors is
    refused with a ``ValueError`` naming the parameters, because a silent conversion would drop the
    autograd graph or move data between devices.
    """
    global _TORCH
    kinds = [(_is_torch(a), i) for i, a in enumerate(arrays) if a is not None]
    is_t = {k for k, _ in kinds}
    if len(is_t) > 1:
        label = names or tuple(f"argument {i}" for i in range(len(arrays)))
        torch_args = [label[i] for k, i in kinds if k]
        other = [label[i] for k, i in kinds if not k]
        raise ValueError(
            f"cannot mix torch tensors ({', '.join(torch_args)}) with numpy arrays "
            f"({', '.join(other)}); convert them to one library first"
        )
    if is_t == {True}:
        if _TORCH is None:
            _TORCH = _TorchOps()
        return _TORCH
    return _NUMPY
