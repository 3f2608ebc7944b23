"""vqmatch.figures: one module per study; each draws the study's typed summary and never computes.

``FIGURES`` maps a study name to its module (imported lazily: matplotlib is only loaded when a
figure is drawn). A module's ``draw(summary) -> {name: Figure}`` makes the figures and
``make(summary, out_dir)`` writes them; :func:`make_figures` reads each study's ``summary.json``
through the study's summary type (``from_json``) and hands it over.
"""

from __future__ import annotations

if not __name__.startswith("vqmatch."):  # this folder imported under its folder name: a second copy
    raise ImportError(f"import vqmatch.{__name__} (the package's only import name), not {__name__}")

import importlib
from pathlib import Path

FIGURES = {
    "atomic": "vqmatch.figures.atomic",
    "density": "vqmatch.figures.density",
    "matching": "vqmatch.figures.matching",
    "prior": "vqmatch.figures.prior",
    "robustness": "vqmatch.figures.robustness",
    "vqvae": "vqmatch.figures.vqvae",
    "w2": "vqmatch.figures.w2",
}


def make_figures(out_dir: str | Path = "out", studies: list[str] | None = None) -> dict[str, list]:
    """Draw the figures of every study that has results under ``out_dir``.

    Returns ``{study: [paths]}``; studies without results are skipped (listed with an empty list).
    """
    from vqmatch.simulations.core.store import read_summary
    from vqmatch.simulations.studies import STUDIES

    made: dict[str, list] = {}
    for study, module in FIGURES.items():
        if studies is not None and study not in studies:
            continue
        if not (Path(out_dir) / "results" / study / "summary.json").exists():
            made[study] = []
            continue
        summary = read_summary(out_dir, study, STUDIES[study].summary)
        made[study] = importlib.import_module(module).make(summary, out_dir)
    return made
