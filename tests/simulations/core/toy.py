"""Toy studies for the core tests. Cell functions live at module level so that worker processes
and submitit jobs can run them; each call leaves a file in ``log_dir`` so tests can count calls
made in other processes."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vqmatch.simulations.core.jsondata import JsonData
from vqmatch.simulations.core.registry import SCALES, Cell, Study
from vqmatch.simulations.core.seeding import child_generator


def _log(log_dir: str | None, name: str) -> None:
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        (Path(log_dir) / f"{name}.{uuid.uuid4().hex}").touch()


def calls(log_dir) -> list[str]:
    """Names of the cell calls logged under ``log_dir`` (sorted; one entry per call)."""
    if not Path(log_dir).exists():
        return []
    return sorted(p.name.rsplit(".", 1)[0] for p in Path(log_dir).iterdir())


def point_cell(x: float, log_dir: str | None, seed) -> list[dict]:
    _log(log_dir, f"x{x:g}")
    rng = np.random.default_rng(seed)
    big = rng.standard_normal((200, 16))
    return [{"x": x, "value": float(rng.normal() + x),
             "gram": float((big.T @ big).sum())}]  # a BLAS reduction: thread-count sensitive


def replicate_cell(x: float, log_dir: str | None, seed, replicate: int) -> list[dict]:
    _log(log_dir, f"x{x:g}-r{replicate}")
    rng = child_generator(seed, replicate)
    return [{"x": x, "replicate": replicate, "value": float(rng.normal() + x)}]


def fixed_cell(log_dir: str | None) -> list[dict]:
    _log(log_dir, "fixed")
    return [{"x": -1.0, "value": 0.0}]


def failing_cell(x: float, log_dir: str | None, seed) -> list[dict]:
    _log(log_dir, f"fail{x:g}")
    if x == 2.0:
        raise ArithmeticError(f"cell x={x:g} exploded")
    return point_cell(x, None, seed)


def bars_cell(x: float, seed) -> list[dict]:
    from vqmatch.simulations.core.executors import cell_bars

    return [{"x": x, "bars": cell_bars()}]


def pid_cell(x: float, seed) -> list[dict]:
    return [{"x": x, "pid": os.getpid()}]


@dataclass(frozen=True)
class ToyConfig:
    xs: tuple[float, ...] = (0.0, 1.0, 2.0)
    replicates: int = 3
    log_dir: str | None = None
    with_fixed: bool = True
    parts: bool = False
    fail: bool = False


def toy_cells(cfg: ToyConfig):
    for x in cfg.xs:
        prefix = ("a/" if x < 1.5 else "b/") if cfg.parts else ""
        fn = failing_cell if cfg.fail else point_cell
        yield Cell(f"{prefix}point-{x:g}", fn, {"x": x, "log_dir": cfg.log_dir})
        yield Cell(f"{prefix}rep-{x:g}", replicate_cell, {"x": x, "log_dir": cfg.log_dir},
                   replicates=cfg.replicates)
    if cfg.with_fixed:
        yield Cell(("a/" if cfg.parts else "") + "fixed", fixed_cell, {"log_dir": cfg.log_dir},
                   seeded=False)


@dataclass(frozen=True, eq=False)
class ToySummary(JsonData):
    n_rows: int
    mean: float

    @classmethod
    def from_rows(cls, cfg: ToyConfig, rows: list[dict]) -> ToySummary:
        return cls(len(rows), float(np.mean([r["value"] for r in rows])))


def toy_study(**config) -> Study:
    """A study whose three scales are ``ToyConfig(**config)``."""
    cfg = ToyConfig(**config)
    return Study(name="toy", description="toy", scales={s: cfg for s in SCALES},
                 cells=toy_cells, summary=ToySummary, parts=("a", "b") if cfg.parts else ())


TOY = toy_study()  # runs any ToyConfig (a study without parts)
