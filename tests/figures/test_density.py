"""The density figure draws from a tiny study run's results folder."""

from dataclasses import replace

from tests.simulations.studies.test_density import TINY
from vqmatch.simulations.core.runner import run_study
from vqmatch.simulations.studies import density


def test_figure_from_results(tmp_path):
    from vqmatch.figures import make_figures

    tiny = replace(density.STUDY, presets={"quick": TINY})
    run_study(tiny, "quick", seed=11, out_dir=tmp_path, progress=False)
    made = make_figures(tmp_path, studies=["density"])
    assert [p.suffix for p in made["density"]] == [".png", ".pdf"]
    assert all(p.stat().st_size > 10_000 for p in made["density"])

