"""Studies and the claim registry behind ``vqmatch verify``.

A *study* declares presets (frozen dataclasses: quick, default, full), splits its work into *cells*
(independent, resumable units that each return rows) and summarises its rows. A *claim* is a
statement of the paper with a function that reads a study's result and returns what was measured
and a verdict computed from it. ``verify`` runs the studies its claims need and evaluates them; a
verdict is never typed in.
"""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tqdm.auto import tqdm

from .store import StudyStore

Verdict = Literal["confirmed", "refuted", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("confirmed", "refuted", "inconclusive")
PRESETS = ("quick", "default", "full")


@dataclass(frozen=True)
class Cell:
    """One resumable unit of work: ``run()`` returns result rows (list of dicts)."""

    key: str
    run: Callable[[], list[dict]]


@dataclass
class StudyResult:
    """Rows and summary of one study run (what claims are evaluated on)."""

    study: str
    preset: str
    seed: int | None
    config: Any
    rows: list[dict]
    summary: dict
    elapsed_s: float
    n_cells_reused: int = 0

    def select(self, **match: Any) -> list[dict]:
        """Rows whose fields equal all of ``match``."""
        return [r for r in self.rows if all(r.get(k) == v for k, v in match.items())]


@dataclass(frozen=True)
class Study:
    """A numerical study: presets, cells, summary."""

    name: str
    description: str
    presets: dict[str, Any]
    cells: Callable[[Any, int | None], Iterator[Cell]]
    summarize: Callable[[Any, list[dict]], dict]
    version: int = 1  # bump when what a cell computes changes: old cached cells are then ignored
    parts: tuple[str, ...] = ()  # optional sub-studies; a cell's key starts with "<part>/"

    def config(self, preset: str) -> Any:
        if preset not in self.presets:
            raise ValueError(f"preset must be one of {sorted(self.presets)}, got preset={preset!r}")
        return self.presets[preset]


@dataclass(frozen=True)
class Measurement:
    """What a claim evaluator returns: the measurement in words and numbers, and the verdict."""

    measured: str
    verdict: Verdict
    details: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got verdict={self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper (or of its code), tested on one study's result."""

    id: str
    source: str
    statement: str
    expected: str
    study: str
    evaluate: Callable[[StudyResult], Measurement]


STUDIES: dict[str, Study] = {}
CLAIMS: dict[str, Claim] = {}


def register_study(study: Study) -> Study:
    if study.name in STUDIES:
        raise ValueError(f"study {study.name!r} is already registered")
    STUDIES[study.name] = study
    return study


def claim(*, id: str, source: str, statement: str, expected: str, study: str):
    """Decorator registering ``evaluate(result) -> Measurement`` as a claim."""

    def wrap(fn: Callable[[StudyResult], Measurement]):
        if id in CLAIMS:
            raise ValueError(f"claim {id!r} is already registered")
        CLAIMS[id] = Claim(id=id, source=source, statement=statement, expected=expected,
                           study=study, evaluate=fn)
        return fn

    return wrap


def verdict_from_thresholds(value: float, *, confirm_below: float, refute_above: float) -> Verdict:
    """``confirmed`` if value <= confirm_below, ``refuted`` if value > refute_above, else
    ``inconclusive`` (the grey zone between the two thresholds)."""
    if not confirm_below <= refute_above:
        raise ValueError("confirm_below must not exceed refute_above")
    if value <= confirm_below:
        return "confirmed"
    if value > refute_above:
        return "refuted"
    return "inconclusive"


def decide(*, confirmed: bool, refuted: bool) -> Verdict:
    """The verdict of two measured conditions: ``refuted`` wins, then ``confirmed``, otherwise
    ``inconclusive`` (neither condition met by the data)."""
    if refuted:
        return "refuted"
    if confirmed:
        return "confirmed"
    return "inconclusive"


def combine(verdicts: list[Verdict]) -> Verdict:
    """All parts confirmed -> confirmed; any part refuted -> refuted; otherwise inconclusive."""
    if any(v == "refuted" for v in verdicts):
        return "refuted"
    if verdicts and all(v == "confirmed" for v in verdicts):
        return "confirmed"
    return "inconclusive"


def run_study(
    study: Study | str,
    preset: str = "quick",
    *,
    seed: int | None = 0,
    out_dir: str | None = "out",
    progress: bool = True,
    parts: Sequence[str] | None = None,
) -> StudyResult:
    """Run (or resume) a study: cells already finished under ``out_dir`` with the same
    configuration and seed are loaded instead of recomputed. ``out_dir=None`` keeps nothing.

    ``parts`` restricts a study that declares sub-studies to those whose cells it runs (cell keys
    ``"<part>/..."``); the summary then covers those parts only and records them under ``"parts"``.
    """
    if isinstance(study, str):
        if study not in STUDIES:
            raise ValueError(f"unknown study {study!r}; known: {', '.join(sorted(STUDIES))}")
        study = STUDIES[study]
    config = study.config(preset)
    if parts is not None:
        parts = tuple(dict.fromkeys(parts))
        unknown = [p for p in parts if p not in study.parts]
        if not parts or unknown:
            known = ", ".join(study.parts) if study.parts else "none (this study has no parts)"
            raise ValueError(f"parts must be among {known}; got parts={list(parts)!r}")
    store = (StudyStore(out_dir, study.name, config, seed, version=study.version)
             if out_dir is not None else None)
    start = time.perf_counter()
    rows: list[dict] = []
    reused = 0
    cells = list(study.cells(config, seed))
    if parts is not None:
        cells = [c for c in cells if c.key.split("/", 1)[0] in parts]
    for cell in tqdm(cells, desc=f"{study.name} ({preset})", unit="cell", disable=not progress,
                     leave=False):
        cached = store.load_cell(cell.key) if store else None
        if cached is None:
            cached = cell.run()
            if store:
                store.save_cell(cell.key, cached)
        else:
            reused += 1
        rows.extend(cached)
    summary = study.summarize(config, rows)
    if parts is not None:
        summary = {**summary, "parts": list(parts)}
    elapsed = time.perf_counter() - start
    if store:
        store.write_results(rows, summary, elapsed)
    return StudyResult(study=study.name, preset=preset, seed=seed, config=config, rows=rows,
                       summary=summary, elapsed_s=elapsed, n_cells_reused=reused)


def select_claims(pattern: str | None = None) -> list[Claim]:
    """Registered claims whose id matches the glob ``pattern`` (all when None)."""
    claims = [c for c in CLAIMS.values() if pattern is None or fnmatch.fnmatch(c.id, pattern)
              or pattern in c.id]
    return sorted(claims, key=lambda c: c.id)
