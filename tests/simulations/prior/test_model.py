"""The transformer: causal (exactly), the cached sampling path equals the full pass, the uniform prior
pays log2 K bits per token, weight tying and input checks."""

import math

import numpy as np
import pytest
import torch

from vqmatch.simulations.prior import PriorTransformer, evaluate


def _model(k=16, n=12, **kw):
    torch.manual_seed(0)
    return PriorTransformer(k, n, n_layer=2, n_head=2, n_embd=32, **kw).eval()


@pytest.mark.parametrize("tie", [False, True])
def test_a_later_token_never_changes_an_earlier_prediction(tie):
    model = _model(tie_weights=tie)
    gen = torch.Generator().manual_seed(1)
    x = torch.randint(0, 16, (3, 12), generator=gen)
    with torch.no_grad():
        base = model(x)
        for j in (0, 5, 11):
            y = x.clone()
            y[:, j] = (y[:, j] + 7) % 16
            out = model(y)
            # logits at position i predict t_i from t_<i: positions <= j must not move, not by one ulp
            assert torch.equal(out[:, : j + 1], base[:, : j + 1]), j
            if j < 11:  # and every later position does see the change
                assert (out[:, j + 1:] - base[:, j + 1:]).abs().amax(dim=-1).min() > 0, j


def test_the_first_position_is_predicted_from_the_start_token_alone():
    model = _model()
    x = torch.randint(0, 16, (4, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (4, 12, 16)
    assert torch.equal(logits[0, 0], logits[1, 0]) and torch.equal(logits[0, 0], logits[3, 0])


def test_cached_steps_match_the_full_forward_pass():
    model = _model()
    x = torch.randint(0, 16, (2, 12), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(x)
        cache, prev, steps = model.new_cache(), torch.full((2,), model.sos), []
        for pos in range(12):
            steps.append(model.step(prev, pos, cache))
            prev = x[:, pos]
    torch.testing.assert_close(torch.stack(steps, dim=1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [2, 37, 1024])
def test_a_uniform_prior_pays_exactly_log2_k_bits_per_token(k):
    model = _model(k=k, n=16)
    with torch.no_grad():
        model.head.weight.zero_()  # every logit 0: p = 1/K at every position
    tokens = np.random.default_rng(0).integers(0, k, (10, 4, 4))
    ev = evaluate(model, tokens)
    # one float32 log-softmax per token (relative error ~ 6e-8), summed in float64
    assert ev["bits_per_token"] == pytest.approx(math.log2(k), rel=2e-7, abs=1e-12)
    assert ev["bits_per_image"] == pytest.approx(16 * math.log2(k), rel=2e-7)
    assert ev["nll"] == pytest.approx(math.log(k), rel=2e-7, abs=1e-12)
    assert (ev["tokens"], ev["images"]) == (160, 10)


def test_an_untrained_prior_is_close_to_uniform_and_per_position_bits_add_up():
    model = _model(k=64, n=16)
    tokens = np.random.default_rng(0).integers(0, 64, (20, 16))
    ev = evaluate(model, tokens, per_position=True)
    assert abs(ev["bits_per_token"] - 6.0) < 0.1
    assert ev["bits_per_position"].shape == (16,)
    assert ev["bits_per_position"].sum() == pytest.approx(ev["bits_per_image"], rel=1e-12)


def test_weight_tying_shares_the_embedding():
    tied, untied = _model(tie_weights=True), _model()
    assert tied.head is None
    n_tied = sum(p.numel() for p in tied.parameters())
    assert sum(p.numel() for p in untied.parameters()) - n_tied == 16 * 32


def test_dropout_is_active_only_in_training():
    model = _model(dropout=0.5)
    x = torch.randint(0, 16, (2, 12), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        assert not torch.equal(model(x), model(x))


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="codebook_size"):
        PriorTransformer(0, 4)
    with pytest.raises(ValueError, match="n_head"):
        PriorTransformer(8, 4, n_head=3, n_embd=32)
    model = _model()
    with pytest.raises(ValueError, match="block_size=12"):
        model(torch.zeros((1, 13), dtype=torch.long))
    with pytest.raises(ValueError, match="position"):
        model.step(torch.zeros(1, dtype=torch.long), 12, model.new_cache())
    with pytest.raises(ValueError, match="block_size=12"):
        evaluate(model, np.zeros((2, 4, 4), dtype=np.int64))
    with pytest.raises(ValueError, match=r"codebook_size=16"):  # tokens of a larger codebook
        evaluate(model, np.full((2, 12), 16))
