"""The robustness figure draws from a results folder (summary of synthetic final rows)."""

from tests.simulations.studies.test_robustness import PAPER_LIKE
from vqmatch.simulations.core.store import write_json


def test_figure_draws_from_a_summary(tmp_path):
    from vqmatch.figures import robustness as fig

    write_json(tmp_path / "results" / "robustness" / "summary.json",
               {"summary": PAPER_LIKE.summary})
    paths = fig.make(tmp_path)
    assert {p.name for p in paths} == {"robustness.png", "robustness.pdf"}
    assert all(p.stat().st_size > 10_000 for p in paths)
