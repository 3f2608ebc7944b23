"""vqmatch.figures: one module per figure; each reads results files only (never computes).

``FIGURES`` maps a study name to the module (imported lazily: matplotlib is only loaded when a
figure is drawn).
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
    "robustness": "vqmatch.figures.robustness",
    "vqvae": "vqmatch.figures.vqvae",
    "w2": "vqmatch.figures.w2",
}

def make_figures(out_dir: str | Path = "out", studies: list[str] | None = None) -> dict[str, list]:
    """Draw the figure of every study that has results under ``out_dir``.

    Returns ``{study: [paths]}``; studies without results are skipped (listed with an empty list).
    """
    made: dict[str, list] = {}
    for study, module in FIGURES.items():
        if studies is not None and study not in studies:
            continue
        if not (Path(out_dir) / "results" / study / "summary.json").exists():
            made[study] = []
            continue
        made[study] = importlib.import_module(module).make(out_dir)
    return made
