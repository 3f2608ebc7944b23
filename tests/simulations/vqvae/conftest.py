"""Shared tiny configurations for the VQ-VAE tests (CPU, seconds)."""

import pytest
import torch

from vqmatch.simulations.vqvae.config import TrainConfig

# a few steps of 8 builtin patches on the tiny model, evaluated on 64 evenly spaced held-out patches
TINY = TrainConfig(steps=4, batch_size=8, eval_every=4, eval_batch_size=64, eval_images=64,
                   checkpoint_every=0, codebook_size=64, queue_size=512)


@pytest.fixture
def tiny_config():
    return TINY


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: the tiny model gains nothing from two, and OpenMP threads spinning on a
    shared 2-core machine can slow a step down tenfold."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
