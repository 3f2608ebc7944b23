"""Sampling: deterministic for a seed, top-k respected, greedy at temperature 0, and samples of a
trained prior follow what it learnt."""

import numpy as np
import pytest
import torch

from vqmatch.simulations.prior import PriorTransformer, apply_overrides, preset, sample, train_prior


def _model(k=20, n=9):
    torch.manual_seed(0)
    model = PriorTransformer(k, n, n_layer=2, n_head=2, n_embd=32)
    with torch.no_grad():  # spread the logits so that top-k and temperature matter
        model.head.weight.mul_(50.0)
    return model


def test_sampling_is_deterministic_for_a_seed():
    model = _model()
    a = sample(model, 30, (3, 3), seed=7, batch_size=8)
    assert a.shape == (30, 3, 3) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 20
    assert np.array_equal(a, sample(model, 30, (3, 3), seed=7, batch_size=8))
    assert not np.array_equal(a, sample(model, 30, (3, 3), seed=8, batch_size=8))
    assert model.training  # the model's mode is restored


@pytest.mark.parametrize("top_k", [1, 3])
def test_no_token_outside_the_top_k_set(top_k):
    model = _model().eval()
    grids = sample(model, 64, (3, 3), top_k=top_k, seed=1, temperature=2.0)
    flat = torch.from_numpy(grids.reshape(64, 9))
    with torch.no_grad():
        logits = model(flat)  # the logits each position was drawn from (teacher-forced on the sample)
    allowed = torch.topk(logits, top_k, dim=-1).indices
    assert (allowed == flat[..., None]).any(dim=-1).all()
    if top_k == 3:  # and the restriction is not vacuous: more than one candidate was used
        assert len(np.unique(grids[:, 0, 0])) > 1


def test_temperature_zero_is_greedy():
    model = _model().eval()
    greedy = sample(model, 4, (3, 3), temperature=0.0, seed=0)
    assert np.array_equal(greedy, sample(model, 4, (3, 3), top_k=1, seed=5))
    assert (greedy == greedy[0]).all()


def test_samples_of_a_trained_prior_reproduce_a_deterministic_grid():
    seq = np.arange(16).reshape(4, 4) * 3 % 32
    grids = np.broadcast_to(seq, (64, 4, 4)).copy()
    result = train_prior(apply_overrides(preset("tiny"), ["steps=300"]), grids, grids[:4], 32)
    p_exact = 2.0 ** -result.final["heldout_bits_per_image"]  # the prior's probability of the grid
    assert p_exact > 0.97
    samples = sample(result.model, 32, (4, 4), seed=0)
    assert (samples == seq).all(axis=(1, 2)).sum() >= 30


def test_bad_arguments_name_the_parameter():
    model = _model()
    with pytest.raises(ValueError, match="block_size=9"):
        sample(model, 2, (4, 4))
    with pytest.raises(ValueError, match="top_k"):
        sample(model, 2, (3, 3), top_k=21)
    with pytest.raises(ValueError, match="temperature"):
        sample(model, 2, (3, 3), temperature=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        sample(model, 0, (3, 3))
    with pytest.raises(ValueError, match="grid must be"):
        sample(model, 2, (3, 3, 1))
