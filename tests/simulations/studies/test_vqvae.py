"""The vqvae study: the grid and its control points, the command line's grid flags, the dry run, a
tiny end-to-end run (rows, reuse, resuming an interrupted run from its checkpoint), and claims on
synthetic summaries that must confirm or refute."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from vqmatch.simulations.cli import build_parser, main, study_config
from vqmatch.simulations.core.executors import thread_limit
from vqmatch.simulations.core.registry import StudyResult
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.stats import Estimate, TTest
from vqmatch.simulations.studies import CLAIMS, STUDIES, vqvae
from vqmatch.simulations.studies.vqvae import config as vc
from vqmatch.simulations.studies.vqvae import summary as vs
from vqmatch.simulations.studies.vqvae.plan import format_plan, plan_runs
from vqmatch.simulations.vqvae import TrainConfig, train

TINY = vc.VQVAEConfig(train_preset="quick-cpu", quantizers=("vanilla", "wasserstein"),
                      codebook_sizes=(16,), replicates=2,
                      overrides=("steps=8", "eval_every=4", "checkpoint_every=4", "eval_images=24",
                                 "batch_size=16"),
                      gap_images=6, recon_images=2, power_iterations=3)
TIMING = ("images_per_s", "seconds")


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("vqvae")
    return out, vqvae.STUDY, run_study(vqvae.STUDY, TINY, seed=0, out_dir=out, progress=False)


# ---------------------------------------------------------------------------------------------
# the grid


def test_quick_grid_and_control_points():
    cfg = vc.SCALES["quick"]
    points = cfg.points()
    paper = [p for p in points if p.setting == "paper"]
    control = [p for p in points if p.setting == "control"]
    assert len(paper) == len(cfg.quantizers) * len(cfg.codebook_sizes)
    assert {p.quantizer for p in paper} == {"vanilla", "ema", "online", "wasserstein"}
    by_q = {p.quantizer: p for p in control}
    assert set(by_q) == {"vanilla", "ema", "online", "wasserstein"}
    k = max(cfg.codebook_sizes)
    assert all(p.codebook_size == k for p in control)
    # the baselines get the Wasserstein settings (EMA: beta only) ...
    assert (by_q["vanilla"].beta, by_q["vanilla"].codebook_lr) == (vc.W_BETA, vc.W_CODEBOOK_LR)
    assert (by_q["ema"].beta, by_q["ema"].codebook_lr) == (vc.W_BETA, None)
    # ... and Wasserstein the baselines' (its codebook at the model lr)
    assert (by_q["wasserstein"].beta, by_q["wasserstein"].codebook_lr) == (1.0, cfg.base().lr)
    assert len({p.key for p in points}) == len(points)


def test_gamma_applies_to_matching_quantizers_only():
    cfg = replace(TINY, gammas=(0.1, 0.5), control=False)
    points = cfg.points()
    assert sorted((p.quantizer, p.gamma) for p in points) == [
        ("vanilla", None), ("wasserstein", 0.1), ("wasserstein", 0.5)]
    assert cfg.train_config(points[-1]).gamma == 0.5


@pytest.mark.parametrize(("change", "match"), [
    ({"quantizers": ("nope",)}, "quantizer"),
    ({"replicates": 0}, "replicates"),
    ({"codebook_sizes": ()}, "codebook_sizes"),
    ({"train_preset": "paper-mars"}, "train_preset"),
    ({"overrides": ("no_such_key=1",)}, "no_such_key"),
    ({"gap_images": -1}, "gap_images"),
])
def test_grid_validation(change, match):
    with pytest.raises(ValueError, match=match):
        replace(TINY, **change)


def test_cli_flags_and_grid_file_build_the_grid(tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('codebook_sizes = [32, 64]\nreplicates = 3\n')
    args = build_parser().parse_args(
        ["vqvae", "--quick", "--grid", str(grid), "--quantizer", "vanilla", "--quantizer",
         "wasserstein", "--gamma", "0.1", "--set", "steps=12", "--data-root", "/data/x",
         "--no-control"])
    cfg = study_config(args, STUDIES["vqvae"])
    assert cfg.quantizers == ("vanilla", "wasserstein") and cfg.codebook_sizes == (32, 64)
    assert cfg.replicates == 3 and cfg.gammas == (0.1,) and cfg.control is False
    base = cfg.base()
    assert base.steps == 12 and base.data_root == "/data/x"
    bad = tmp_path / "bad.json"
    bad.write_text('{"colour": "red"}')
    args = build_parser().parse_args(["vqvae", "--quick", "--grid", str(bad)])
    with pytest.raises(ValueError, match="colour"):
        study_config(args, STUDIES["vqvae"])


def test_the_papers_tables_are_named_grids(capsys):
    study = STUDIES["vqvae"]
    cfg = study_config(build_parser().parse_args(["vqvae", "--table", "table6"]), study)
    assert cfg == vc.GRIDS["table6"] == study.config("table6")
    assert cfg.train_preset == "paper-cifar10" and cfg.codebook_sizes == (8192, 16384, 32768)
    changed = study_config(build_parser().parse_args(
        ["vqvae", "--table", "table6", "--replicates", "1", "--train-preset", "paper-svhn"]), study)
    assert (changed.replicates, changed.train_preset) == (1, "paper-svhn")
    with pytest.raises(ValueError, match="--table"):  # a table is a grid of its own, not a scale's
        study_config(build_parser().parse_args(["vqvae", "--quick", "--table", "table6"]), study)
    with pytest.raises(SystemExit) as exc:
        main(["vqvae", "--table", "table5"])
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_errors_are_one_line(capsys, tmp_path):
    assert main(["vqvae", "--quick", "--quantizer", "nope", "--dry-run", "--out",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quantizer" in err[0]
    cases = (("folder", "/nowhere", "'/nowhere' does not exist"),
             ("cifar10", str(tmp_path), "data_batch_1' is missing"),
             ("svhn", None, "needs data_root"))
    for dataset, root, says in cases:
        argv = ["vqvae", "--quick", "--dataset", dataset, "--out", str(tmp_path), "--no-progress"]
        assert main(argv + (["--data-root", root] if root else [])) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "results").exists()  # nothing ran


def test_dry_run_lists_the_cells_and_estimates(tmp_path, capsys):
    entries = plan_runs(TINY, str(tmp_path), 0, vqvae.STUDY.version, measure=True)
    assert [e["key"] for e in entries] == [p.key for p in TINY.points()]
    assert all(e["replicates_todo"] == 2 and e["s_per_step"] > 0 and e["estimated_s"] > 0
               for e in entries)
    text = format_plan(entries, jobs=2)
    assert "with --jobs 2" in text and entries[0]["key"] in text
    assert main(["vqvae", "--quick", "--dry-run", "--out", str(tmp_path), "--quantizer", "vanilla",
                 "--codebook-size", "16", "--replicates", "1", "--no-control",
                 "--set", "batch_size=8"]) == 0
    assert "1 cells, 1 runs to train" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# a tiny end-to-end run


def test_rows_carry_the_grid_and_the_metrics(tiny):
    _, _, res = tiny
    need = {"quantizer", "codebook_size", "codebook_dim", "gamma", "beta", "codebook_lr", "replicate",
            "dataset", "step", "utilization", "perplexity", "error", "psnr", "ssim", "rec_loss",
            "images_per_s", "seconds", "setting"}
    assert all(need <= set(r) for r in res.rows)
    assert {r["step"] for r in res.rows} == {4, 8}
    assert {(r["quantizer"], r["setting"]) for r in res.rows} == {
        ("vanilla", "paper"), ("wasserstein", "paper"), ("vanilla", "control"),
        ("wasserstein", "control")}
    w = [r for r in res.rows if r["quantizer"] == "wasserstein" and r["setting"] == "paper"]
    assert {(r["beta"], r["gamma"], r["codebook_lr"]) for r in w} == {(0.1, 0.5, 0.02)}
    final = [r for r in res.rows if r["step"] == 8]
    assert all(r["gap_images"] == 6 and r["gap_mean"] > 0 and r["bound_mean"] > 0 for r in final)
    assert {r["replicate"] for r in res.rows} == {0, 1}
    assert all(p.replicates == (0, 1) for p in res.summary.points)


def test_common_random_numbers_across_quantizers(tiny):
    """Replicate r of every point trains with the same TrainConfig seed (same data order and
    init)."""
    out, _, _ = tiny
    seeds = {}
    for f in (Path(out) / "results" / "vqvae" / "scratch").glob("*/r*/config.json"):
        seeds.setdefault(f.parent.name, set()).add(json.loads(f.read_text())["seed"])
    assert set(seeds) == {"r0", "r1"} and all(len(v) == 1 for v in seeds.values())
    assert seeds["r0"] != seeds["r1"]


def test_rerun_reuses_and_an_interrupted_cell_resumes(tiny):
    out, study, res = tiny
    again = run_study(study, TINY, seed=0, out_dir=out, progress=False)
    assert again.n_cells_run == 0 and again.rows == res.rows
    # an interrupted run: the stored result of one seed is lost, its checkpoint is not; also one
    # run killed half-way (its checkpoint at step 4 kept, the final one gone)
    cells = Path(out) / "results" / "vqvae" / "cells"
    lost = sorted(cells.glob("builtin_wasserstein-K16-d8.*.r1-1.json"))
    assert len(lost) == 1
    lost[0].unlink()
    scratch = Path(out) / "results" / "vqvae" / "scratch"
    half = next(scratch.glob("builtin_vanilla-K16-d8.*/r0"))
    next(cells.glob("builtin_vanilla-K16-d8.*.r0-0.json")).unlink()
    config = TrainConfig.from_dict(json.loads((half / "config.json").read_text()))
    for name in ("checkpoint.pt", "result.json", "rows.json", "recon.npz"):
        (half / name).unlink(missing_ok=True)
    with thread_limit(1):  # as the executor runs every cell (thread count changes float sums)
        train(config, out_dir=half, resume=False, progress=False, stop_after=4)  # killed at 4
    resumed = run_study(study, TINY, seed=0, out_dir=out, progress=False)
    assert resumed.n_cells_run == 2
    assert _strip(resumed.rows) == _strip(res.rows)


def test_figures_draw_from_the_tiny_run(tiny):
    """make_figures reads the results folder through the summary type; the reconstructions figure
    shows the original and one row per quantizer."""
    out, _, res = tiny
    from vqmatch.figures import make_figures
    from vqmatch.figures import vqvae as fig

    names = {p.name for p in make_figures(out, studies=["vqvae"])["vqvae"]}
    assert {"vqvae_gap.png", "vqvae_recon.png"} <= names
    recon = fig.draw(res.summary, Path(out) / "results" / "vqvae")["vqvae_recon"]
    rows = [ax.get_ylabel() for ax in recon.axes if ax.get_ylabel()]
    assert rows == ["original", "vanilla", "wasserstein"]
    assert len(recon.axes) == 3 * 2 and all(ax.images for ax in recon.axes)  # 2 images per row
    import matplotlib.pyplot as plt

    plt.close("all")


# ---------------------------------------------------------------------------------------------
# claims on synthetic summaries


def _est(m, n=5):
    return Estimate(m, m - 0.01, m + 0.01, 0.01 / n ** 0.5, n - 1, n)


def _point(q, u, psnr, k=1024, setting="paper", beta=None, lr=None, n=5):
    metrics = dict.fromkeys(("perplexity", "ssim", "rec_loss", "bound_mean",
                             "gap_over_bound_median", "violation_rate", "gap_error_slope",
                             "images_per_s", "seconds"))
    return vs.VQVAEPoint(q, k, 8, "builtin", 0.5 if q == "wasserstein" else None, beta, lr,
                         setting, tuple(range(n)), 10, **metrics, utilization=_est(u, n),
                         psnr_y=_est(psnr, n), psnr=_est(psnr, n), error=_est(0.02 + 0.1 * (1 - u), n),
                         gap_mean=_est(0.01, n), recon_file=None)


def _cmp(a, b, n=5, p=1e-6):
    """A summary comparison of two means over n replicates, with a decisive t test (p) if n >= 2."""
    diff = a - b
    test = None if n < 2 else TTest(diff, diff - 0.01, diff + 0.01, 0.004, n - 1, n,
                                    t=diff / 0.004, p=p, a=a, b=b)
    return vs.Paired(a, b, diff, n, test)


def _result(w_u, v_u, ctl_w_u, ctl_v_u, n=5, violations=0, gap=(0.002, 0.004),
            gap_swapped=(0.002, 0.004)):
    points = (_point("wasserstein", w_u, 25.0), _point("vanilla", v_u, 24.0),
              _point("wasserstein", ctl_w_u, 24.5, setting="control"),
              _point("vanilla", ctl_v_u, 24.0, setting="control"))
    comps = (vs.Comparison(1024, 8, "builtin", "vanilla", utilization=_cmp(w_u, v_u, n),
                           psnr=_cmp(25.0, 24.0, n), psnr_y=_cmp(25.0, 24.0, n),
                           ssim=_cmp(0.8, 0.79, n), rec_loss=_cmp(0.01, 0.011, n),
                           gap_mean=_cmp(*gap, n)),)
    control = (vs.Control(1024, 8, "builtin", "vanilla", baseline_control_beta=0.1,
                          baseline_control_codebook_lr=0.02,
                          gain_paper=_cmp(w_u, v_u, n, p=1e-6 if abs(w_u - v_u) > 0.05 else 0.5),
                          baseline_change=_cmp(ctl_v_u, v_u, n), wasserstein_control_beta=1.0,
                          wasserstein_control_codebook_lr=5e-4,
                          gain_swapped=_cmp(ctl_w_u, ctl_v_u, n,
                                            p=1e-6 if abs(ctl_w_u - ctl_v_u) > 0.05 else 0.5),
                          gap_swapped=_cmp(*gap_swapped, n), psnr_swapped=_cmp(24.5, 24.0, n)),)
    images = 1000
    rate = Estimate(violations / images, 0.0 if violations == 0 else 0.5 * violations / images,
                    min(1.0, 7.4 / images + 1.5 * violations / images), float("nan"),
                    float("nan"), images)
    gap = vs.GapSummary(runs=10, images=images, violations=violations, violation_rate=rate,
                        gap_over_bound_median=0.2)
    summary = vs.VQVAESummary("quick-cpu", points, (), comps, control, gap, (), (), 1024)
    return StudyResult("vqvae", "quick", 0, TINY, [], summary, 0.0)


def test_utilization_claim_confirms_and_refutes():
    assert CLAIMS["vqvae.wasserstein_utilization"].evaluate(_result(0.99, 0.1, 0.98, 0.2)
                                                            ).verdict == "confirmed"
    assert CLAIMS["vqvae.wasserstein_utilization"].evaluate(_result(0.5, 0.1, 0.98, 0.2)
                                                            ).verdict == "refuted"
    few = CLAIMS["vqvae.wasserstein_utilization"].evaluate(_result(0.99, 0.1, 0.98, 0.2, n=2))
    assert few.verdict == "inconclusive" and "seed" in few.measured


def test_fair_control_claim_can_go_every_way():
    claim = CLAIMS["vqvae.fair_control"]
    assert claim.evaluate(_result(0.99, 0.1, 0.97, 0.3)).verdict == "confirmed"
    # with the settings swapped the baseline wins: the gain came from the lr and beta
    assert claim.evaluate(_result(0.99, 0.1, 0.2, 0.96)).verdict == "refuted"
    # no gain with the original settings: nothing to attribute
    assert claim.evaluate(_result(0.99, 0.99, 0.99, 0.99)).verdict == "inconclusive"
    few = claim.evaluate(_result(0.99, 0.1, 0.97, 0.3, n=1))
    assert few.verdict == "inconclusive" and "1 seed" in few.measured


def test_gradient_gap_claims():
    bound = CLAIMS["vqvae.gradient_gap_bound"]
    assert bound.evaluate(_result(0.99, 0.1, 0.97, 0.3, violations=0)).verdict == "confirmed"
    assert bound.evaluate(_result(0.99, 0.1, 0.97, 0.3, violations=100)).verdict == "refuted"
    matching = CLAIMS["vqvae.gradient_gap_matching"]
    assert matching.evaluate(_result(0.99, 0.1, 0.97, 0.3)).verdict == "confirmed"
    # smaller gap with its own settings, but larger once the settings are swapped: the settings
    # (beta, lr), not the matching loss, made the difference
    assert matching.evaluate(_result(0.99, 0.1, 0.97, 0.3, gap_swapped=(0.05, 0.003))
                             ).verdict == "refuted"
    # own settings favour it, the swapped comparison is a tie: not enough to attribute it
    tie = matching.evaluate(_result(0.99, 0.1, 0.97, 0.3, gap_swapped=(0.004, 0.004)))
    assert tie.verdict == "inconclusive" and "settings swapped" in tie.measured
    few = matching.evaluate(_result(0.99, 0.1, 0.97, 0.3, n=1))
    assert few.verdict == "inconclusive"


def test_paper_tables_only_at_the_papers_setting(tiny):
    _, _, res = tiny
    m = CLAIMS["vqvae.paper_tables"].evaluate(res)
    assert m.verdict == "inconclusive" and "not one of the paper's settings" in m.measured


def test_a_cell_on_two_processes_with_torchrun(tmp_path):
    """nproc = 2: the cell launches torchrun (gloo on CPU, DDP, the quantizer on the global batch)
    and reads the run's rows; they match a one-process run of the same global batch."""
    from vqmatch.simulations.core.seeding import cell_seed
    from vqmatch.simulations.studies.vqvae.cells import train_cell

    point = vc.GridPoint("vanilla", 16, 8, "builtin")
    config = replace(TINY.train_config(point), eval_images=16)
    args = dict(point=point, config=config, gap_images=0, recon_images=0, power_iterations=1,
                seed=cell_seed(0, "t"), replicate=0)
    with thread_limit(1):
        one = train_cell(nproc=1, scratch_dir=str(tmp_path / "one"), **args)
        two = train_cell(nproc=2, scratch_dir=str(tmp_path / "two"), **args)
    assert [r["step"] for r in two] == [4, 8] and (tmp_path / "two" / "checkpoint.pt").is_file()
    for a, b in zip(one, two, strict=True):
        assert b["utilization"] == pytest.approx(a["utilization"], abs=2 / 16)
        assert b["rec_loss"] == pytest.approx(a["rec_loss"], rel=1e-3)


@pytest.mark.slow
def test_kill_9_and_rerun_gives_the_rows_of_an_uninterrupted_run(tmp_path):
    """`vqmatch vqvae` killed with SIGKILL while training, then started again: finished cells are
    not trained again, the interrupted run resumes from its checkpoint, and the rows equal those
    of an uninterrupted run (timing columns aside)."""
    import csv
    import os
    import signal
    import subprocess
    import sys
    import time

    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"quantizers": ["vanilla", "wasserstein"], "codebook_sizes": [32],
                                "replicates": 2, "control": False, "gap_images": 4,
                                "recon_images": 2,
                                "power_iterations": 2,
                                "overrides": ["steps=60", "eval_every=20", "checkpoint_every=10",
                                              "eval_images=32", "batch_size=16"]}))
    cmd = [sys.executable, "-m", "vqmatch.simulations.cli", "vqvae", "--quick", "--grid", str(grid),
           "--no-progress", "--out"]
    subprocess.run([*cmd, str(tmp_path / "clean")], check=True, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*cmd, str(killed)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    cells = killed / "results" / "vqvae" / "cells"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once one run is stored and the next has a checkpoint
        done = list(cells.glob("*.json")) if cells.exists() else []
        ckpts = list((killed / "results" / "vqvae" / "scratch").glob("*/r*/checkpoint.pt"))
        if len(done) >= 1 and len(ckpts) > len(done):
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p: p.stat().st_mtime_ns for p in cells.glob("*.json")}
    assert 1 <= len(before) < 4  # 2 points x 2 replicates, one file per finished run
    subprocess.run([*cmd, str(killed)], check=True, capture_output=True)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # finished runs not redone
    assert len(list(cells.glob("*.json"))) == 4

    def rows(folder):
        with open(folder / "results" / "vqvae" / "rows.csv") as fh:
            return [{k: v for k, v in r.items() if k not in TIMING} for r in csv.DictReader(fh)]

    assert rows(killed) == rows(tmp_path / "clean")
