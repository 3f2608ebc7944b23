"""Fixtures for the theory tests."""

import os

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def _one_thread():
    """Run torch and the BLAS/LAPACK libraries single-threaded in these tests (restored afterwards).

    On 2 cores shared with other jobs, 2-thread OpenMP (torch) and OpenBLAS (numpy, scipy) regions
    stall on descheduled threads: a 3 x 3 factorisation then takes milliseconds instead of
    microseconds, and a 64 x 64 eigensolve ten times longer than on one thread (measured while other
    test sessions ran). These tests call many tiny linear-algebra routines, so one thread keeps them
    fast and their timing independent of the machine load. ``VQMATCH_TEST_THREADS=N`` runs them on
    N threads instead (the round-off audit checks its bounds under 1 and 2).
    """
    threads = int(os.environ.get("VQMATCH_TEST_THREADS", "1"))
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads, user_api="blas"):
        yield
    torch.set_num_threads(previous)
