"""The training loop: it learns a deterministic sequence and a Markov chain's context, resumes to
identical rows, checks its inputs, and its schedule and batch order are what the docstring says."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from vqmatch.simulations.prior import (
    ROW_KEYS,
    TIMING_KEYS,
    apply_overrides,
    evaluate,
    load_prior,
    preset,
    train_prior,
    unigram_baselines,
)
from vqmatch.simulations.prior.train import BatchOrder, lr_at

TINY = preset("tiny")


def _random_tokens(n, grid=(4, 4), k=32, seed=0):
    return np.random.default_rng(seed).integers(0, k, (n, *grid))


def _stable(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


def test_the_nll_of_a_deterministic_sequence_goes_to_zero():
    seq = _random_tokens(1, k=32, seed=1)[0]  # every grid the same fixed 4 x 4 sequence
    grids = np.broadcast_to(seq, (64, 4, 4)).copy()
    result = train_prior(apply_overrides(TINY, ["steps=300"]), grids, grids[:8], codebook_size=32)
    assert result.finished and [r["step"] for r in result.rows] == [100, 200, 300]
    final = result.final
    assert final["heldout_bits_per_token"] < 0.05
    assert final["heldout_bits_per_image"] == pytest.approx(16 * final["heldout_bits_per_token"])
    assert final["heldout_nll"] == pytest.approx(final["heldout_bits_per_token"] * math.log(2))
    assert result.rows[0]["heldout_bits_per_token"] > final["heldout_bits_per_token"]
    assert set(result.final) == set(ROW_KEYS)
    # and a prior on random tokens cannot go below the entropy of its data (log2 32 = 5 bits)
    noise = _random_tokens(512, k=32)
    result = train_prior(apply_overrides(TINY, ["steps=100"]), noise, _random_tokens(128, k=32, seed=9), 32)
    assert 4.95 < result.final["heldout_bits_per_token"] < 5.3


def test_the_prior_learns_context_down_to_the_entropy_of_a_markov_chain():
    """Grids read in raster order as a Markov chain (uniform first token, sparse transitions P): the
    true entropy per token is known exactly; a unigram model cannot go below the marginal entropy."""
    k, n_pos = 16, 16
    rng = np.random.default_rng(0)
    trans = rng.dirichlet(np.full(k, 0.2), size=k)

    def chain(n, seed):
        r = np.random.default_rng(seed)
        x = np.empty((n, n_pos), dtype=np.int64)
        x[:, 0] = r.integers(0, k, n)
        for i in range(1, n_pos):
            u = r.random(n)[:, None]
            x[:, i] = np.minimum((trans[x[:, i - 1]].cumsum(1) < u).sum(1), k - 1)
        return x.reshape(n, 4, 4)

    train, heldout = chain(2000, 1), chain(500, 2)
    row_entropy = -(trans * np.log2(np.where(trans > 0, trans, 1.0))).sum(1)
    marginal, truth = np.full(k, 1.0 / k), [4.0]
    for _ in range(n_pos - 1):
        truth.append(float(marginal @ row_entropy))
        marginal = marginal @ trans
    truth = float(np.mean(truth))
    unigram = unigram_baselines(train, heldout, k)["heldout_entropy_bits"]
    result = train_prior(apply_overrides(TINY, ["steps=300"]), train, heldout, k)
    bits = result.final["heldout_bits_per_token"]
    assert unigram > truth + 1.0  # the structure is worth more than a bit per token
    assert truth - 0.05 < bits < truth + 0.1, (bits, truth, unigram)


def test_resume_gives_the_rows_of_an_uninterrupted_run(tmp_path):
    # dropout on, so that the restored torch generator matters; evaluations and checkpoints every 10
    config = apply_overrides(TINY, ["steps=40", "eval_every=10", "checkpoint_every=10", "dropout=0.2"])
    train, heldout = _random_tokens(200), _random_tokens(50, seed=1)
    full = train_prior(config, train, heldout, 32)
    before, finished = torch.get_rng_state(), {}
    for stop in (20, 15):  # at a checkpoint, and 5 steps past one (those steps are done again)
        out = tmp_path / f"stop{stop}"
        part = train_prior(config, train, heldout, 32, out_dir=out, stop_after=stop)
        assert not part.finished and part.final is None
        assert [r["step"] for r in part.rows] == [10, 20][: stop // 10]
        assert (out / "checkpoint.pt").exists()
        resumed = train_prior(config, train, heldout, 32, out_dir=out)
        assert resumed.finished
        finished[stop] = resumed.rows
        assert _stable(resumed.rows) == _stable(full.rows)
        assert json.loads((out / "result.json").read_text())["rows"] == resumed.rows
        for a, b in zip(resumed.model.state_dict().values(), full.model.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's generator is left alone
    # a finished run is returned from its checkpoint without training
    again = train_prior(config, train, heldout, 32, out_dir=tmp_path / "stop20")
    assert again.rows == finished[20]
    # the saved prior reloads and evaluates as the trained one
    model, info = load_prior(tmp_path / "stop20")
    assert info["step"] == 40 and info["grid"] == [4, 4] and info["codebook_size"] == 32
    assert evaluate(model, heldout)["nll"] == pytest.approx(full.final["heldout_nll"], rel=1e-6)


def test_a_checkpoint_of_another_config_or_other_tokens_is_refused(tmp_path):
    config = apply_overrides(TINY, ["steps=10", "eval_every=10"])
    train, heldout = _random_tokens(40), _random_tokens(10, seed=1)
    train_prior(config, train, heldout, 32, out_dir=tmp_path, stop_after=5)
    train_prior(config, train, heldout, 32, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"different config \(keys \['lr'\]\)"):
        train_prior(dataclasses.replace(config, lr=1e-4), train, heldout, 32, out_dir=tmp_path)
    with pytest.raises(ValueError, match="other train_tokens"):
        train_prior(config, _random_tokens(40, seed=5), heldout, 32, out_dir=tmp_path)
    # a resumable key may change; resume=False starts over
    train_prior(dataclasses.replace(config, checkpoint_every=3), train, heldout, 32, out_dir=tmp_path)
    fresh = train_prior(dataclasses.replace(config, lr=1e-4), train, heldout, 32, out_dir=tmp_path,
                        resume=False)
    assert fresh.finished


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"train_tokens": np.full((4, 4, 4), 32)}, r"train_tokens must lie in \[0, codebook_size=32\)"),
    ({"heldout_tokens": np.full((4, 4, 4), -1)}, r"heldout_tokens must lie in \[0, codebook_size=32\)"),
    ({"codebook_size": 16}, r"train_tokens must lie in \[0, codebook_size=16\)"),  # tokens of a larger K
    ({"codebook_size": 0}, "codebook_size must be a positive integer"),
    ({"train_tokens": np.zeros((4, 4, 4), dtype=np.float32)}, "train_tokens must be integer"),
    ({"train_tokens": np.zeros(16, dtype=np.int64)}, r"train_tokens must have shape \(N, H, W\)"),
    ({"heldout_tokens": np.zeros((4, 2, 8), dtype=np.int64)}, "heldout_tokens must have the grid"),
    ({"config": dataclasses.replace(TINY, grid=(8, 8))}, r"grid=\(8, 8\) \(of the config\)"),
    ({"stop_after": -1}, "stop_after must be"),
])
def test_bad_inputs_name_the_parameter(kwargs, message):
    args = {"config": TINY, "train_tokens": _random_tokens(4), "heldout_tokens": _random_tokens(4),
            "codebook_size": 32} | kwargs
    with pytest.raises(ValueError, match=message):
        train_prior(**args)


def test_flat_sequences_are_one_row_grids():
    result = train_prior(apply_overrides(TINY, ["steps=2", "eval_every=2"]), _random_tokens(8, grid=(12,)),
                         _random_tokens(4, grid=(12,)), 32)
    assert result.grid == (1, 12) and result.model.block_size == 12


def test_lr_schedule_warms_up_then_follows_a_cosine_to_the_floor():
    c = dataclasses.replace(TINY, lr=1e-3, warmup_steps=10, steps=110, min_lr_ratio=0.1)
    assert lr_at(c, 0) == pytest.approx(1e-4) and lr_at(c, 9) == pytest.approx(1e-3)
    assert lr_at(c, 10) == pytest.approx(1e-3) and lr_at(c, 60) == pytest.approx(0.55e-3)
    assert lr_at(c, 110) == pytest.approx(1e-4) and lr_at(c, 10_000) == pytest.approx(1e-4)
    assert lr_at(dataclasses.replace(c, warmup_steps=0), 0) == pytest.approx(1e-3)


def test_batch_order_is_a_function_of_seed_and_step_and_covers_every_grid_per_epoch():
    order = BatchOrder(10, 4, seed=3)
    stream = np.concatenate([order(s) for s in range(5)])  # 20 positions = 2 epochs
    assert sorted(stream[:10]) == list(range(10)) and sorted(stream[10:]) == list(range(10))
    assert np.array_equal(BatchOrder(10, 4, seed=3)(3), order(3))  # fresh object, any step first
    assert not np.array_equal(BatchOrder(10, 4, seed=4)(0), order(0))
    assert len(BatchOrder(3, 8, seed=0)(0)) == 8  # batches larger than the data wrap around
