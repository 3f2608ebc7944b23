"""Executors: local processes and submitit give the rows of a serial run; failures are reported
with their cell key after the others finish; the per-task thread limit is restored."""

import os
from pathlib import Path

import pytest

from tests.simulations.core.toy import TOY, ToyConfig, bars_cell, calls, toy_study
from vqmatch.simulations.core.executors import (
    CellsFailed,
    Task,
    cell_bars,
    load_slurm_config,
    run_tasks,
    thread_limit,
)
from vqmatch.simulations.core.registry import Cell
from vqmatch.simulations.core.runner import run_study

ROOT = str(Path(__file__).resolve().parents[3])


def test_jobs_two_gives_the_rows_of_jobs_one(tmp_path):
    serial = run_study(TOY, ToyConfig(), seed=4, out_dir=tmp_path / "a", progress=False)
    log = tmp_path / "log"
    parallel = run_study(TOY, ToyConfig(log_dir=str(log)), seed=4, out_dir=tmp_path / "b",
                         progress=False, jobs=2)
    assert parallel.rows == serial.rows  # "gram" is a BLAS reduction: same threads, same bits
    assert len(calls(log)) == 13
    assert (tmp_path / "a" / "results" / "toy" / "rows.csv").read_bytes() == \
        (tmp_path / "b" / "results" / "toy" / "rows.csv").read_bytes()


def test_a_failed_cell_is_reported_and_the_others_finish(tmp_path):
    log = tmp_path / "log"
    study = toy_study(log_dir=str(log), fail=True)
    with pytest.raises(CellsFailed) as err:
        run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    assert err.value.failures == [("point-2", "ArithmeticError: cell x=2 exploded")]
    assert "point-2" in str(err.value) and "exploded" in str(err.value)
    # every other cell ran and is stored: a rerun only retries the failed one
    assert len(calls(log)) == 13
    with pytest.raises(CellsFailed):
        run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    assert len(calls(log)) == 14 and calls(log).count("fail2") == 2


def test_failures_in_worker_processes_are_reported(tmp_path):
    with pytest.raises(CellsFailed) as err:
        run_study(TOY, ToyConfig(fail=True), seed=0, out_dir=tmp_path, progress=False, jobs=2)
    assert [name for name, _ in err.value.failures] == ["point-2"]


def test_submitit_local_executor_writes_the_same_store(tmp_path, monkeypatch):
    import submitit  # noqa: F401  (in the 'test' extra: a missing install fails, it does not skip)
    monkeypatch.setenv("PYTHONPATH", ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    serial = run_study(toy_study(xs=(0.0, 1.0), replicates=2), ToyConfig(xs=(0.0, 1.0), replicates=2), seed=5,
                       out_dir=tmp_path / "a", progress=False)
    log = tmp_path / "log"
    study = toy_study(xs=(0.0, 1.0), replicates=2, log_dir=str(log))
    res = run_study(study, study.config("quick"), seed=5, out_dir=tmp_path / "b", progress=False,
                    executor="submitit-local", slurm={"timeout_min": 5})
    assert res.rows == serial.rows and len(calls(log)) == 2 + 4 + 1
    assert not list((tmp_path / "b" / "results" / "toy" / "pending").glob("*.json"))
    # rerun: everything is stored, nothing is submitted
    again = run_study(study, study.config("quick"), seed=5, out_dir=tmp_path / "b", progress=False,
                      executor="submitit-local")
    assert again.n_cells_run == 0 and len(calls(log)) == 7


@pytest.mark.parametrize("progress, jobs, expected", [(True, 1, True), (False, 1, False),
                                                     (True, 2, False)])
def test_cells_draw_their_own_bars_only_serially_with_progress(progress, jobs, expected):
    """A cell's per-step bars (long trainings) follow --no-progress, and stay off in worker
    processes, where they would interleave with each other and with the study's bar."""
    tasks = [Task(Cell(f"c{x}", bars_cell, {"x": x}), None, 0, None) for x in range(2)]
    rows = run_tasks(tasks, study="toy", progress=progress, jobs=jobs)
    assert [r[0]["bars"] for r in rows.values()] == [expected, expected]
    assert cell_bars() is False  # restored outside the cells


def test_executor_arguments_are_checked():
    with pytest.raises(ValueError, match="executor"):
        run_tasks([object()], study="toy", executor="kubernetes")
    with pytest.raises(ValueError, match="jobs"):
        run_tasks([object()], study="toy", jobs=0)
    with pytest.raises(ValueError, match="threads"):
        run_study(TOY, ToyConfig(), out_dir=None, progress=False, threads=0)


def test_slurm_config_files(tmp_path):
    assert load_slurm_config(None) == {}
    toml = tmp_path / "slurm.toml"
    toml.write_text('slurm_account = "lab"\ncpus_per_task = 8\n')
    assert load_slurm_config(toml) == {"slurm_account": "lab", "cpus_per_task": 8}
    js = tmp_path / "slurm.json"
    js.write_text('{"mem_gb": 32}')
    assert load_slurm_config(js) == {"mem_gb": 32}
    with pytest.raises(ValueError, match="does not exist"):
        load_slurm_config(tmp_path / "missing.toml")
    js.write_text("[1, 2]")
    with pytest.raises(ValueError, match="table"):
        load_slurm_config(js)
    toml.write_text("not = = toml")
    with pytest.raises(ValueError, match="not valid"):
        load_slurm_config(toml)


def test_thread_limit_sets_and_restores():
    import torch

    before_torch, before_env = torch.get_num_threads(), os.environ.get("OMP_NUM_THREADS")
    with thread_limit(1):
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    assert torch.get_num_threads() == before_torch
    assert os.environ.get("OMP_NUM_THREADS") == before_env
