"""The matching figures draw the parts present in a tiny run's results folder."""

import pytest

from tests.simulations.studies.test_matching import _tiny_study
from vqmatch.simulations.core.runner import run_study


@pytest.mark.slow  # matplotlib import and drawing: tens of seconds on the shared CI cores
def test_figures_draw_the_parts_present(tmp_path):
    from vqmatch.figures import matching as fig

    run_study(_tiny_study(), "quick", seed=5, out_dir=str(tmp_path), progress=False,
              parts=["theorem1", "appg"])
    paths = fig.make(tmp_path)
    assert sorted(p.name for p in paths) == ["matching_appg.pdf", "matching_appg.png",
                                            "matching_theorem1.pdf", "matching_theorem1.png"]


@pytest.mark.slow
def test_figures_of_every_part(tmp_path):
    from vqmatch.figures import matching as fig

    run_study(_tiny_study(), "quick", seed=5, out_dir=str(tmp_path), progress=False)
    names = {p.stem for p in fig.make(tmp_path)}
    assert names == {"matching_theorem1", "matching_fig3", "matching_appf_gaussian_shift",
                     "matching_appf_gaussian_scale", "matching_appf_uniform_shift",
                     "matching_appf_uniform_scale", "matching_appg", "matching_utilization"}

