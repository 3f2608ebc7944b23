"""Fixtures for the theory tests."""

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run torch single-threaded in these tests (restored afterwards).

    On 2 cores shared with other jobs, torch's 2-thread OpenMP regions stall on descheduled threads:
    a 3 x 3 factorisation then takes milliseconds instead of microseconds. These tests call many
    tiny torch ops, so one thread keeps them fast and their timing independent of the machine load.
    """
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
