"""Shared fixtures of the prior tests: one thread everywhere (CPU, seconds)."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_thread():
    """One torch intra-op thread and one BLAS thread: the tiny models gain nothing from two, and
    threads spinning on a shared 2-core machine can slow a 448 x 448 eigensolve fiftyfold."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)
