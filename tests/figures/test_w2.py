"""Smoke test: the w2 figure draws from a tiny study run's results files."""

from dataclasses import replace

from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.studies import w2


def test_w2_figure_draws(tmp_path):
    cfg = w2.W2Config(dims=(1, 2), sizes=(30, 60, 120), ot_max_n=120, replicates=2,
                      pairs=("gauss_shift", "gauss_same"), n_projections=10,
                      sliced_truth_directions=500, gap_z=(1.5,), misrank_dims=(1,), misrank_n=50,
                      misrank_replicates=2, translation_n=20, translation_replicates=2)
    study = replace(w2.STUDY, presets={"quick": cfg})
    run_study(study, "quick", seed=0, out_dir=str(tmp_path), progress=False)
    from vqmatch.figures import w2 as fig

    paths = fig.make(tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 0 for p in paths)
