"""Per-cell caching: a cell's identity is its own parameters, the study version and the seed."""

from dataclasses import replace

from tests.simulations.core.toy import TOY, ToyConfig, calls, point_cell, replicate_cell, toy_study
from vqmatch.simulations.core.registry import Cell
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.core.store import StudyStore, cell_identity


def _cell(**kw):
    return Cell("point-1", point_cell, {"x": 1.0, "log_dir": None}, **kw)


def test_identity_depends_on_what_the_rows_depend_on():
    base = cell_identity("toy", 1, 0, _cell())
    assert base == cell_identity("toy", 1, 0, _cell())
    others = {cell_identity("toy", 2, 0, _cell()), cell_identity("toy", 1, 1, _cell()),
              cell_identity("other", 1, 0, _cell()),
              cell_identity("toy", 1, 0, _cell(stream="shared")),
              cell_identity("toy", 1, 0, Cell("point-2", point_cell, {"x": 1.0, "log_dir": None})),
              cell_identity("toy", 1, 0, Cell("point-1", point_cell, {"x": 2.0, "log_dir": None}))}
    assert base not in others and len(others) == 6


def test_replicate_count_is_not_part_of_the_identity():
    a = Cell("r", replicate_cell, {"x": 0.0, "log_dir": None}, replicates=3)
    b = replace(a, replicates=7, block=1)
    assert cell_identity("toy", 1, 0, a) == cell_identity("toy", 1, 0, b)


def test_deterministic_cells_ignore_the_seed():
    a = Cell("f", point_cell, {"x": 0.0, "log_dir": None}, seeded=False)
    assert cell_identity("toy", 1, 0, a) == cell_identity("toy", 1, 5, a)


def test_adding_a_grid_point_runs_only_the_new_cells(tmp_path):
    log = tmp_path / "log"
    small = run_study(TOY, ToyConfig(log_dir=str(log)), seed=0, out_dir=tmp_path,
                      progress=False)
    before = len(calls(log))
    bigger = run_study(TOY, ToyConfig(log_dir=str(log), xs=(0.0, 1.0, 2.0, 3.0)), seed=0,
                       out_dir=tmp_path, progress=False)
    assert len(calls(log)) - before == 4  # point-3 and its three replicates
    assert sorted(c for c in calls(log) if c.startswith("x3")) == ["x3", "x3-r0", "x3-r1", "x3-r2"]
    assert bigger.n_cells_run == 2 and bigger.n_cells_reused == 7
    # the shared cells' rows are the same numbers
    assert [r for r in bigger.rows if r["x"] != 3.0] == small.rows


def test_adding_replicates_computes_only_the_missing_ones(tmp_path):
    log = tmp_path / "log"
    three = run_study(TOY, ToyConfig(log_dir=str(log)), seed=0, out_dir=tmp_path,
                      progress=False)
    before = len(calls(log))
    five = run_study(TOY, ToyConfig(log_dir=str(log), replicates=5), seed=0, out_dir=tmp_path,
                     progress=False)
    added = len(calls(log)) - before
    assert added == 3 * 2  # replicates 3 and 4 of each x, nothing else
    assert sorted(c for c in calls(log) if c.endswith(("-r3", "-r4"))) == [
        "x0-r3", "x0-r4", "x1-r3", "x1-r4", "x2-r3", "x2-r4"]
    old = [r for r in three.rows if "replicate" in r]
    kept = [r for r in five.rows if r.get("replicate", -1) < 3 and "replicate" in r]
    assert kept == old  # the first three replicates are the same numbers
    # fewer replicates later reuse the stored ones (nothing recomputed)
    two = run_study(TOY, ToyConfig(log_dir=str(log), replicates=2), seed=0, out_dir=tmp_path,
                    progress=False)
    assert len(calls(log)) == before + added and two.n_cells_run == 0


def test_replicate_blocks_are_files(tmp_path):
    study = toy_study(xs=(0.0,), with_fixed=False, replicates=4)
    run_study(study, study.config("quick"), seed=0, out_dir=tmp_path, progress=False)
    store = StudyStore(tmp_path, "toy", study.version, 0)
    cell = next(c for c in study.cells(study.config("quick")) if c.replicates)
    assert sorted(store.load(cell)) == [0, 1, 2, 3]
    assert len(list(store.cells_dir.glob("rep-0.*.r0-3.json"))) == 1
