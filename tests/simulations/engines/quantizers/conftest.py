"""Shared fixtures of the quantizer tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small tensors on shared cores: one intra-op thread avoids spin-wait contention. Module-scoped
    so that hypothesis tests (which must not use function-scoped fixtures) get it too."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
