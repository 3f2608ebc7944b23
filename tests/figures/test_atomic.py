"""The atomic figures draw from a results folder (summary of synthetic final rows)."""

from tests.simulations.studies.test_atomic import _paper_like, _synthetic
from vqmatch.simulations.core.store import write_json


def test_figures_draw_from_a_summary(tmp_path):
    from vqmatch.figures import atomic as fig

    res = _synthetic(_paper_like(None), density={"wasserstein": lambda d: 1.0,
                                                 "density_wasserstein": lambda d: 0.95,
                                                 "density_finite_k": lambda d: 0.97})
    write_json(tmp_path / "results" / "atomic" / "summary.json", {"summary": res.summary})
    paths = fig.make(tmp_path)
    assert {p.name for p in paths} >= {"atomic.png", "atomic.pdf", "atomic_curves.png",
                                       "atomic_density.png"}
    assert all(p.stat().st_size > 10_000 for p in paths)
