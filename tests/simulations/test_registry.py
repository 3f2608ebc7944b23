"""The claim registry, the results store (resume, atomic files) and the statistics helpers."""

import json
import math

import numpy as np
import pytest

from simulations.registry import (
    Cell,
    Measurement,
    Study,
    combine,
    decide,
    run_study,
    verdict_from_thresholds,
)
from simulations.stats import loglog_slope, mean_ci, z_score
from simulations.store import StudyStore, config_hash


def _toy_study(calls):
    def cells(cfg, seed):
        for i in range(cfg["n"]):
            def run(i=i):
                calls.append(i)
                return [{"i": i, "value": float(np.random.default_rng([seed, i]).normal())}]
            yield Cell(f"cell-{i}", run)

    return Study(name="toy", description="toy", presets={"quick": {"n": 3}, "full": {"n": 5}},
                 cells=cells, summarize=lambda cfg, rows: {"n_rows": len(rows)})


def test_run_study_writes_results_and_resumes(tmp_path):
    calls = []
    study = _toy_study(calls)
    first = run_study(study, "quick", seed=1, out_dir=tmp_path, progress=False)
    assert calls == [0, 1, 2] and first.summary == {"n_rows": 3}
    root = tmp_path / "results" / "toy"
    assert {p.name for p in root.iterdir()} >= {"config.json", "rows.csv", "summary.json", "cells"}
    meta = json.loads((root / "config.json").read_text())
    assert meta["seed"] == 1 and meta["config"] == {"n": 3} and "numpy" in meta["versions"]
    # a rerun reuses every finished cell and gives identical rows
    again = run_study(study, "quick", seed=1, out_dir=tmp_path, progress=False)
    assert calls == [0, 1, 2] and again.n_cells_reused == 3 and again.rows == first.rows
    # an interrupted run (one cell file lost) recomputes only that cell
    store = StudyStore(tmp_path, "toy", {"n": 3}, 1)
    store._cell_path("cell-1").unlink()
    run_study(study, "quick", seed=1, out_dir=tmp_path, progress=False)
    assert calls == [0, 1, 2, 1]
    # another seed or preset never mixes with the old cells
    run_study(study, "quick", seed=2, out_dir=tmp_path, progress=False)
    assert calls[-3:] == [0, 1, 2]


def test_damaged_cell_is_recomputed(tmp_path):
    calls = []
    study = _toy_study(calls)
    run_study(study, "quick", seed=0, out_dir=tmp_path, progress=False)
    StudyStore(tmp_path, "toy", {"n": 3}, 0)._cell_path("cell-0").write_text("{not json")
    run_study(study, "quick", seed=0, out_dir=tmp_path, progress=False)
    assert calls == [0, 1, 2, 0]


def test_no_temp_files_left(tmp_path):
    run_study(_toy_study([]), "quick", seed=0, out_dir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.tmp"))


def test_unknown_preset_and_study():
    with pytest.raises(ValueError, match="preset"):
        run_study(_toy_study([]), "medium", out_dir=None, progress=False)
    with pytest.raises(ValueError, match="unknown study"):
        run_study("no-such-study", out_dir=None, progress=False)


def test_config_hash_depends_on_config_seed_and_version():
    base = config_hash({"a": 1}, 0)
    assert base == config_hash({"a": 1}, 0)
    assert len({base, config_hash({"a": 2}, 0), config_hash({"a": 1}, 1),
                config_hash({"a": 1}, 0, version=2)}) == 4


def test_verdict_helpers():
    assert verdict_from_thresholds(0.5, confirm_below=1, refute_above=2) == "confirmed"
    assert verdict_from_thresholds(1.5, confirm_below=1, refute_above=2) == "inconclusive"
    assert verdict_from_thresholds(2.5, confirm_below=1, refute_above=2) == "refuted"
    assert combine(["confirmed", "confirmed"]) == "confirmed"
    assert combine(["confirmed", "inconclusive"]) == "inconclusive"
    assert combine(["inconclusive", "refuted"]) == "refuted"
    assert combine([]) == "inconclusive"
    assert decide(confirmed=True, refuted=False) == "confirmed"
    assert decide(confirmed=True, refuted=True) == "refuted"
    assert decide(confirmed=False, refuted=False) == "inconclusive"
    with pytest.raises(ValueError, match="verdict"):
        Measurement("x", "probably")


def test_mean_ci_matches_t_interval_and_covers():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci.mean == 2.5
    se = np.std([1, 2, 3, 4], ddof=1) / 2
    assert math.isclose(ci.stderr, se)
    assert math.isclose(ci.high - ci.mean, 3.182446305284263 * se, rel_tol=1e-9)  # t_{0.975,3}
    rng = np.random.default_rng(0)
    cover = np.mean([(c := mean_ci(rng.normal(size=8))).low <= 0 <= c.high for _ in range(400)])
    assert 0.91 <= cover <= 0.98


def test_mean_ci_known_values_and_levels():
    ci = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert ci.mean == 3.0 and math.isclose(ci.stderr, math.sqrt(2.5 / 5))
    assert math.isclose(ci.high - ci.mean, 2.7764451051977987 * ci.stderr)  # t_{0.975, 4}
    narrow = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0], level=0.9)
    assert ci.low < narrow.low < narrow.high < ci.high


@pytest.mark.parametrize(("values", "level", "match"), [
    ([1.0], 0.95, "at least 2"),
    ([[1.0, 2.0], [3.0, 4.0]], 0.95, "1-D"),
    ([1.0, np.nan, 2.0], 0.95, "NaN"),
    ([1.0, 2.0], 1.0, "level"),
    ([1.0, 2.0], 0.0, "level"),
])
def test_mean_ci_bad_input(values, level, match):
    with pytest.raises(ValueError, match=match):
        mean_ci(values, level=level)


def test_z_score_and_slope():
    assert z_score(3.0, 0.5, 2.0) == 2.0
    assert z_score(1.0, 0.0, 1.0) == 0.0 and z_score(2.0, 0.0, 1.0) == math.inf
    n = np.array([10, 20, 40, 80, 160])
    slope, se = loglog_slope(n, 3.0 * n ** -0.5)
    # linregress stderr of an exact fit is round-off only
    assert math.isclose(slope, -0.5, abs_tol=1e-12) and se < 1e-7
    with pytest.raises(ValueError):
        loglog_slope([1, 2], [1, 2])


def _parted_study(calls):
    def cells(cfg, seed):
        for part in ("alpha", "beta"):
            for i in range(2):
                def run(part=part, i=i):
                    calls.append((part, i))
                    return [{"part": part, "i": i}]
                yield Cell(f"{part}/{i}", run)

    return Study(name="parted", description="toy with parts", presets={"quick": {}},
                 cells=cells, summarize=lambda cfg, rows: {"n_rows": len(rows)},
                 parts=("alpha", "beta"))


def test_parts_select_cells_and_share_the_cache(tmp_path):
    calls = []
    study = _parted_study(calls)
    only = run_study(study, "quick", seed=0, out_dir=tmp_path, progress=False, parts=["beta"])
    assert calls == [("beta", 0), ("beta", 1)]
    assert {r["part"] for r in only.rows} == {"beta"}
    assert only.summary == {"n_rows": 2, "parts": ["beta"]}
    # the full run reuses the cells the partial run finished
    full = run_study(study, "quick", seed=0, out_dir=tmp_path, progress=False)
    assert calls[2:] == [("alpha", 0), ("alpha", 1)] and full.n_cells_reused == 2
    assert full.summary == {"n_rows": 4}


@pytest.mark.parametrize("parts", [[], ["gamma"], ["alpha", "gamma"]])
def test_unknown_parts_are_rejected(parts):
    with pytest.raises(ValueError, match="parts"):
        run_study(_parted_study([]), "quick", out_dir=None, progress=False, parts=parts)


def test_parts_on_a_study_without_parts():
    with pytest.raises(ValueError, match="no parts"):
        run_study(_toy_study([]), "quick", out_dir=None, progress=False, parts=["x"])
