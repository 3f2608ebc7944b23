"""The training loop: every quantizer trains, optimiser groups, lr schedule, checkpoints, resume
determinism."""

import dataclasses
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from vqmatch.simulations.engines.quantizers import QUANTIZERS
from vqmatch.simulations.vqvae.checkpoint import load_checkpoint, save_checkpoint
from vqmatch.simulations.vqvae.config import MATCHING
from vqmatch.simulations.vqvae.train import TIMING_KEYS, build_model, lr_at, main, make_optimizer, train


@pytest.mark.parametrize("name", QUANTIZERS)
def test_every_quantizer_trains_with_finite_loss(tiny_config, name):
    config = dataclasses.replace(tiny_config, quantizer=name, steps=3, eval_every=3)
    result = train(config, progress=False)
    assert result.finished and len(result.rows) == 1
    row = result.final
    assert row["step"] == 3 and math.isfinite(row["train_loss"])
    for key in ("utilization", "perplexity", "error", "psnr", "psnr_y", "ssim", "rec_loss"):
        assert math.isfinite(row[key]), key
    assert 0 < row["utilization"] <= 1 and 1 <= row["perplexity"] <= config.codebook_size
    assert row["lpips"] is None or math.isfinite(row["lpips"])


def test_optimizer_groups_follow_the_authors(tiny_config):
    def groups(**kw):
        config = dataclasses.replace(tiny_config, **kw)
        model, settings = build_model(config)
        opt = make_optimizer(model, config, settings)
        return model, opt.param_groups

    model, g = groups(quantizer="wasserstein")
    assert [grp["lr"] for grp in g] == [tiny_config.lr, 0.02]
    assert g[1]["params"] == [model.quantizer.weight]
    assert all(grp["betas"] == (0.9, 0.95) and grp["weight_decay"] == 0 for grp in g)
    model, g = groups(quantizer="vanilla")
    assert len(g) == 1 and any(p is model.quantizer.weight for p in g[0]["params"])
    model, g = groups(quantizer="ema")
    assert len(g) == 1 and not list(model.quantizer.parameters())
    model, g = groups(quantizer="vanilla", codebook_lr=0.02)
    assert [grp["lr"] for grp in g] == [tiny_config.lr, 0.02]
    assert all(p is not model.quantizer.weight for p in g[0]["params"])


def test_lr_schedule(tiny_config):
    c = dataclasses.replace(tiny_config, lr=1e-3, lr_schedule="warmup_cosine", warmup_steps=10,
                            decay_steps=30)
    assert lr_at(c, 0) == 0 and lr_at(c, 5) == pytest.approx(5e-4) and lr_at(c, 10) == pytest.approx(1e-3)
    assert lr_at(c, 20) == pytest.approx(0.6e-3) and lr_at(c, 30) == pytest.approx(2e-4)
    assert lr_at(c, 10_000) == pytest.approx(2e-4)
    assert lr_at(tiny_config, 123) == tiny_config.lr


def _one_step(model, opt, seed=0):
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    out = model(x)
    loss = (out.recon - x).pow(2).mean() + out.quant.loss
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_checkpoint_round_trip(tmp_path, tiny_config):
    config = dataclasses.replace(tiny_config, quantizer="sliced")
    model, settings = build_model(config)
    opt = make_optimizer(model, config, settings)
    for s in range(2):
        _one_step(model, opt, s)
    path = tmp_path / "ck" / "checkpoint.pt"
    save_checkpoint(path, model=model, optimizer=opt, step=2, rows=[{"step": 2}], seconds=1.5,
                    config={"a": 1}, extra={"window": {"loss": 0.5}})
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.pt"]  # no temp file left
    expected_draw = model.quantizer.rng.standard_normal(3)
    fresh, _ = build_model(dataclasses.replace(config, seed=1))
    fresh_opt = make_optimizer(fresh, config, settings)
    payload = load_checkpoint(path, model=fresh, optimizer=fresh_opt, config={"a": 1})
    assert payload["step"] == 2 and payload["rows"] == [{"step": 2}] and payload["window"] == {"loss": 0.5}
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    np.testing.assert_array_equal(fresh.quantizer.rng.standard_normal(3), expected_draw)
    assert str(fresh_opt.state_dict()) == str(opt.state_dict())
    with pytest.raises(ValueError, match=r"different config \(keys \['a'\]\)"):
        load_checkpoint(path, model=fresh, optimizer=fresh_opt, config={"a": 2})
    path.write_bytes(b"torn")
    with pytest.raises(ValueError, match="could not be read"):
        load_checkpoint(path, model=fresh, optimizer=fresh_opt, config={"a": 1})


def _metrics(rows):
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


@pytest.mark.parametrize("name", ["wasserstein", "sliced", "online"])
def test_resume_after_interruption_gives_the_same_numbers(tmp_path, tiny_config, name):
    config = dataclasses.replace(tiny_config, quantizer=name, steps=8, eval_every=4, checkpoint_every=4)
    full = train(config, tmp_path / "full", progress=False)
    part = train(config, tmp_path / "cut", progress=False, stop_after=6)  # killed 2 steps after a checkpoint
    assert not part.finished and part.final is None and len(part.rows) == 1
    resumed = train(config, tmp_path / "cut", progress=False)
    assert resumed.finished and _metrics(resumed.rows) == _metrics(full.rows)  # bitwise
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    # a finished run is returned as is, without training
    again = train(config, tmp_path / "full", progress=False)
    assert again.rows == full.rows
    assert (tmp_path / "full" / "result.json").exists() and (tmp_path / "full" / "rows.json").exists()


def test_resume_refuses_a_different_config(tmp_path, tiny_config):
    config = dataclasses.replace(tiny_config, steps=2, eval_every=2)
    train(config, tmp_path, progress=False)
    longer = train(dataclasses.replace(config, steps=3, eval_every=3), tmp_path, progress=False)
    assert [r["step"] for r in longer.rows] == [2, 3]  # steps may grow: the run is continued
    with pytest.raises(ValueError, match=r"different config \(keys \['lr'\]\)"):
        train(dataclasses.replace(config, lr=0.5), tmp_path, progress=False)
    fresh = train(dataclasses.replace(config, lr=0.5), tmp_path, progress=False, resume=False)
    assert fresh.finished


def test_cli_config_json(capsys, tmp_path, tiny_config):
    import json

    request = tmp_path / "request.json"
    request.write_text(json.dumps(dataclasses.replace(tiny_config, steps=1, eval_every=1).to_dict()))
    assert main([f"--config-json={request}", f"--out={tmp_path / 'run'}", "--no-progress", "seed=3"]) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["steps"] == 1 and saved["seed"] == 3
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["step"] == 1
    assert main([f"--config-json={tmp_path / 'missing.json'}"]) == 2
    assert "could not be read" in capsys.readouterr().err


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["lr=fast"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: override 'lr=fast'")
    assert main(["dataset=folder", f"data_root={tmp_path / 'missing'}"]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_kill_9_then_rerun_finishes_with_the_same_numbers(tmp_path):
    args = ["steps=24", "eval_every=12", "checkpoint_every=4", "batch_size=8", "codebook_size=64",
            "queue_size=512", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "vqmatch.simulations.vqvae"]
    subprocess.run([*cmd, f"--out={tmp_path / 'full'}", *args], check=True, env=env, capture_output=True)
    proc = subprocess.Popen([*cmd, f"--out={tmp_path / 'cut'}", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    subprocess.run([*cmd, f"--out={tmp_path / 'cut'}", *args], check=True, env=env, capture_output=True)
    import json

    full = json.loads((tmp_path / "full" / "result.json").read_text())["rows"]
    cut = json.loads((tmp_path / "cut" / "result.json").read_text())["rows"]
    assert _metrics(cut) == _metrics(full)


def test_matching_family_is_consistent():
    assert set(MATCHING) <= set(QUANTIZERS)


@pytest.mark.parametrize("name", ["wasserstein", "online", "sliced"])
def test_fast_path_gives_the_rows_of_the_previous_loop(tmp_path, tiny_config, name):
    # fast=True changes only the implementation of Adam and of the gradient clipping (foreach
    # kernels instead of a loop over the parameters): the same float32 operations on every
    # element, so the rows and the trained weights must be bitwise those of fast=False
    config = dataclasses.replace(tiny_config, quantizer=name, steps=6, eval_every=3)
    fast = train(config, tmp_path / "fast", progress=False)
    slow = train(dataclasses.replace(config, fast=False), tmp_path / "slow", progress=False)
    assert _metrics(fast.rows) == _metrics(slow.rows) and len(fast.rows) == 2
    a = torch.load(tmp_path / "fast" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "slow" / "checkpoint.pt", weights_only=False)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[i][k], sb[i][k]) for i in sa for k in sa[i])
    # fast does not change the numbers, so a run may be resumed with the other value
    resumed = train(config, tmp_path / "slow", progress=False)
    assert resumed.rows == slow.rows


def test_fast_uses_foreach_adam(tiny_config):
    model, settings = build_model(tiny_config)
    assert make_optimizer(model, tiny_config, settings).defaults["foreach"] is True
    old = dataclasses.replace(tiny_config, fast=False)
    assert make_optimizer(model, old, settings).defaults["foreach"] is None
