"""run_study: results files, resume, parts."""

import json
from dataclasses import replace

import pytest

from tests.simulations.core.toy import TOY, ToyConfig, ToySummary, calls, point_cell, toy_study
from vqmatch.simulations.core.registry import Cell
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.store import read_summary


def test_run_study_writes_results_and_resumes(tmp_path):
    log = tmp_path / "log"
    study = toy_study(log_dir=str(log))
    first = run_study(study, study.config("quick"), seed=1, out_dir=tmp_path, progress=False)
    # 3 point cells, 3 x 3 replicates, 1 fixed cell
    assert len(calls(log)) == 13 and first.summary.n_rows == 13
    assert first.n_cells_run == 7 and first.n_cells_reused == 0
    root = tmp_path / "results" / "toy"
    assert {p.name for p in root.iterdir()} >= {"config.json", "rows.csv", "summary.json", "cells"}
    meta = json.loads((root / "config.json").read_text())
    assert meta["seed"] == 1 and meta["config"]["xs"] == [0.0, 1.0, 2.0]
    assert "numpy" in meta["versions"]
    # a rerun reuses every finished cell and gives identical rows
    again = run_study(study, study.config("quick"), seed=1, out_dir=tmp_path, progress=False)
    assert len(calls(log)) == 13 and again.n_cells_reused == 7 and again.rows == first.rows
    # an interrupted run (one cell file lost) recomputes only that cell
    lost = next((root / "cells").glob("point-1.*.json"))
    lost.unlink()
    third = run_study(study, study.config("quick"), seed=1, out_dir=tmp_path, progress=False)
    assert calls(log).count("x1") == 2 and len(calls(log)) == 14 and third.rows == first.rows
    # another seed never mixes with the old cells (the deterministic cell is reused)
    run_study(study, study.config("quick"), seed=2, out_dir=tmp_path, progress=False)
    assert len(calls(log)) == 14 + 12


def test_damaged_cell_is_recomputed(tmp_path):
    log = tmp_path / "log"
    study = toy_study(log_dir=str(log))
    first = run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    next((tmp_path / "results" / "toy" / "cells").glob("point-0.*.json")).write_text("{not json")
    again = run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    assert calls(log).count("x0") == 2 and again.rows == first.rows


def test_no_temp_files_left(tmp_path):
    run_study(TOY, ToyConfig(), seed=0, out_dir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.tmp"))


def test_without_out_dir_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run_study(TOY, ToyConfig(), seed=0, out_dir=None, progress=False)
    assert res.summary.n_rows == 13 and not list(tmp_path.iterdir())


def test_unknown_scale_and_a_name_for_a_config():
    study = toy_study()
    with pytest.raises(ValueError, match="scale"):
        study.config("medium")
    with pytest.raises(TypeError, match="config"):
        run_study(study, "quick", out_dir=None, progress=False)


def test_any_config_of_the_study_runs_and_is_named_when_it_is_a_scale(tmp_path):
    study = toy_study()
    named = run_study(study, study.config("quick"), seed=0, out_dir=None, progress=False)
    own = run_study(study, ToyConfig(xs=(5.0,)), seed=0, out_dir=None, progress=False)
    assert named.config_name == "quick" and own.config_name is None
    assert {r["x"] for r in own.rows} == {5.0, -1.0}


def test_summary_json_is_the_typed_summary(tmp_path):
    study = toy_study()
    res = run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    assert read_summary(tmp_path, "toy", ToySummary) == res.summary
    with pytest.raises(ValueError, match="no results"):
        read_summary(tmp_path / "none", "toy", ToySummary)


def test_parts_select_cells_and_share_the_cache(tmp_path):
    log = tmp_path / "log"
    study = toy_study(log_dir=str(log), parts=True)
    only = run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False, parts=["b"])
    assert sorted(calls(log)) == ["x2", "x2-r0", "x2-r1", "x2-r2"]
    assert {r["x"] for r in only.rows} == {2.0}
    assert only.parts == ("b",) and only.summary.n_rows == 4
    assert json.loads((tmp_path / "results" / "toy" / "summary.json").read_text())["parts"] == ["b"]
    # the full run reuses the cells the partial run finished
    full = run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    assert len(calls(log)) == 13 and full.n_cells_reused == 2
    assert [r for r in full.rows if r["x"] == 2.0] == only.rows


@pytest.mark.parametrize("parts", [[], ["c"], ["a", "c"]])
def test_unknown_parts_are_rejected(parts):
    with pytest.raises(ValueError, match="parts"):
        run_study(toy_study(parts=True), ToyConfig(parts=True), out_dir=None, progress=False, parts=parts)


def test_parts_on_a_study_without_parts():
    with pytest.raises(ValueError, match="no parts"):
        run_study(TOY, ToyConfig(), out_dir=None, progress=False, parts=["x"])


def test_repeated_cell_keys_are_rejected():
    study = toy_study()
    double = replace(study, cells=lambda cfg: [Cell("k", point_cell, {"x": 0.0, "log_dir": None})] * 2)
    with pytest.raises(ValueError, match="repeats cell keys"):
        run_study(double, double.config("quick"), out_dir=None, progress=False)
