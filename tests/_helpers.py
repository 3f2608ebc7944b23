"""Small helpers shared by the tests (import as ``from tests._helpers import ...``)."""

import numpy as np


def to_lib(x, name, dtype="float64"):
    """Convert a numpy array to the named library (used by backend-parametrized tests)."""
    x = np.asarray(x, dtype=dtype)
    if name == "numpy":
        return x
    import torch

    return torch.from_numpy(x.copy())


def to_numpy(x):
    """Bring a numpy or torch result back to numpy."""
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
