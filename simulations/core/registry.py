"""Studies, cells and claims (the data types; :func:`vqmatch.simulations.core.runner.run_study` runs them).

A *study* declares its scales (frozen configuration dataclasses: quick, default, full), splits its
work into *cells*, summarises their rows into a typed summary and lists the claims read from it. A
*cell* is one independent, resumable unit: a module-level function and the parameters it computes
from. Its random stream comes from (study seed, stream key) alone
(:func:`vqmatch.simulations.core.seeding.cell_seed`) and its cache identity from its own parameters,
the study version and the seed (:mod:`vqmatch.simulations.core.store`), so adding grid points,
replicates or parts reuses every finished cell, and any executor
(:mod:`vqmatch.simulations.core.executors`) gives the same rows. A *claim* is a statement of the
paper with a function that reads a study's result and returns what was measured and a verdict
computed from it (:mod:`vqmatch.simulations.core.verdicts`).

Studies are plain objects listed explicitly (``vqmatch.simulations.studies.ALL``), each carrying its
claims; nothing registers itself on import.

A study may read the stored runs of another (``Study.requires``: :class:`Requirement` s): it depends
on that study's results, not on its code. :func:`vqmatch.simulations.core.runner.run_study` runs
(or loads) the required cells first, in the same results store, and hands the study's ``cells``
the :class:`StoredRun` s found.
"""

from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .checks import check_int
from .verdicts import VERDICTS, Verdict

SCALES = ("quick", "default", "full")


@dataclass(frozen=True)
class Cell:
    """One resumable unit of work.

    ``fn`` is a module-level function (so that worker processes and cluster jobs can run it) called
    as ``fn(**params, seed=...)`` with the cell's :class:`numpy.random.SeedSequence`; with
    ``replicates=n`` it is called once per replicate, ``fn(**params, seed=..., replicate=r)`` for
    r = 0..n-1 (the same ``seed`` each time: derive the replicate's stream with
    ``seeding.child(seed, ...)``), and a larger n later reuses the replicates already computed.
    ``seeded=False``: a deterministic cell, called as ``fn(**params)``.

    ``scratch``: the cell keeps files while it runs (checkpoints of a long training run): it is
    called with ``scratch_dir=...``, a folder of its own under the results store (the same folder
    when an interrupted run is started again, so the cell can resume) or a temporary one.

    ``block``: at most this many replicates per task (e.g. 1 for long training runs, so that each
    finished replicate is stored at once); default: as many as the executor likes.

    ``params`` must be JSON-able (numbers, strings, tuples, frozen dataclasses): they are the
    cell's cache identity, so they hold what this cell computes from and nothing of the grid around
    it. ``stream``: the key of the random stream (default ``key``); cells that share a stream see
    the same random numbers (common random numbers across the variants of one replicate).
    """

    key: str
    fn: Callable[..., list[dict]]
    params: Mapping[str, Any] = field(default_factory=dict)
    replicates: int | None = None
    stream: str | None = None
    seeded: bool = True
    block: int | None = None
    scratch: bool = False

    def __post_init__(self):
        if not isinstance(self.key, str) or not self.key:
            raise ValueError(f"key must be a non-empty string, got key={self.key!r}")
        for name in ("replicates", "block"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), f"{name} (cell {self.key})")
        if not self.seeded and self.replicates is not None:
            raise ValueError(f"a deterministic cell has no replicates (cell {self.key})")

    @property
    def part(self) -> str:
        """The sub-study a key ``"<part>/..."`` belongs to ('' when the key has no part)."""
        return self.key.split("/", 1)[0] if "/" in self.key else ""

    def compute(self, study_seed: int | None, replicate: int | None = None,
                scratch_dir: str | None = None) -> list[dict]:
        """Rows of this cell (of one replicate of a replicated cell)."""
        from .seeding import cell_seed

        extra = {"scratch_dir": scratch_dir} if self.scratch else {}
        if not self.seeded:
            return list(self.fn(**self.params, **extra))
        seed = cell_seed(study_seed, self.stream or self.key)
        if self.replicates is None:
            return list(self.fn(**self.params, seed=seed, **extra))
        if replicate is None or not 0 <= replicate:
            raise ValueError(f"cell {self.key} is replicated: pass replicate >= 0, got {replicate!r}")
        return list(self.fn(**self.params, seed=seed, replicate=replicate, **extra))


@dataclass
class StudyResult:
    """Rows and summary of one study run (what claims are evaluated on).

    ``config_name``: the scale or named grid ``config`` is (None for a config of its own);
    ``summary``: the study's typed summary (:attr:`Study.summary`); ``parts``: the parts run, when a
    run was restricted to some (None: all).
    """

    study: str
    config_name: str | None
    seed: int | None
    config: Any
    rows: list[dict]
    summary: Any
    elapsed_s: float
    n_cells_reused: int = 0
    n_cells_run: int = 0
    parts: tuple[str, ...] | None = None

    def select(self, **match: Any) -> list[dict]:
        """Rows whose fields equal all of ``match``."""
        return [r for r in self.rows if all(r.get(k) == v for k, v in match.items())]


class Summary(Protocol):
    """What a study's summary type provides: a frozen dataclass (:class:`~.jsondata.JsonData`) built
    from the rows of a run, written to and read from ``summary.json``."""

    @classmethod
    def from_rows(cls, config: Any, rows: list[dict]) -> Summary: ...

    def to_json(self) -> dict: ...

    @classmethod
    def from_json(cls, data: dict) -> Summary: ...


class StudyCommand(Protocol):
    """What a study adds to its subcommand ``vqmatch <study>`` beyond the common options (scale,
    ``--out``, ``--seed``, execution): its own options and how they build its configuration."""

    def add_arguments(self, parser: argparse.ArgumentParser, study: Study) -> None: ...

    def config(self, args: argparse.Namespace, study: Study) -> Any:
        """The configuration the parsed ``args`` ask for (ValueError on bad input)."""

    def before_run(self, args: argparse.Namespace, study: Study, config: Any) -> int | None:
        """Checks before any cell runs; an exit status to stop there (e.g. a dry run), else None."""


@dataclass(frozen=True)
class Requirement:
    """Runs of another study whose stored results a study's cells read: the cells of study
    ``study`` at its scale (or named grid) ``config_name`` that ``select(key, params)`` keeps
    (``params``: the JSON form of the cell's parameters, as its results file holds them), their
    first ``replicates`` replicates (None: all of them). ``what``: the runs in words, for errors."""

    study: str
    config_name: str
    select: Callable[[str, dict], bool]
    replicates: int | None = None
    what: str = ""


@dataclass(frozen=True)
class StoredRun:
    """One finished run of a required study's cell (one replicate of a replicated cell): its key,
    parameters (JSON form), replicate, rows and its scratch folder relative to ``<out>/results``
    (``None`` for a cell without one)."""

    study: str
    key: str
    params: dict
    replicate: int | None
    rows: list[dict]
    folder: str | None


@dataclass(frozen=True)
class Study:
    """A numerical study: its scales, cells, summary type and claims.

    ``scales``: the quick / default / full configurations (frozen dataclasses);
    ``cells(config)`` yields the :class:`Cell` s of a configuration and ``summary.from_rows(config,
    rows)`` reduces their rows to the study's typed summary, which its ``claims`` read.
    ``grids``: further named configurations (the paper's tables). ``version``: bump when what a cell
    computes changes (old cached cells are then ignored). ``parts``: optional sub-studies; a cell's
    key starts with ``"<part>/"``. ``command``: the study's own command-line options
    (:class:`StudyCommand`; None: the common options only). ``requires(config)``: the
    :class:`Requirement` s of a configuration (None: none); a study with requirements lists its
    cells as ``cells(config, inputs)``, ``inputs`` mapping each required study's name to its
    :class:`StoredRun` s.
    """

    name: str
    description: str
    scales: Mapping[str, Any]
    cells: Callable[[Any], Iterable[Cell]]
    summary: type
    claims: tuple[Claim, ...] = ()
    version: int = 1
    parts: tuple[str, ...] = ()
    grids: Mapping[str, Any] = field(default_factory=dict)
    command: StudyCommand | None = None
    requires: Callable[[Any], Sequence[Requirement]] | None = None

    def __post_init__(self):
        missing = [s for s in SCALES if s not in self.scales]
        if missing:
            raise ValueError(f"study {self.name} must declare the scales {SCALES}, "
                             f"missing {missing}")
        strays = [c.id for c in self.claims if c.study != self.name]
        if strays:
            raise ValueError(f"claims {strays} are not claims of study {self.name}")

    def config(self, name: str) -> Any:
        """The configuration of a scale (or of a named grid)."""
        named = {**self.scales, **self.grids}
        if name not in named:
            raise ValueError(f"scale must be one of {sorted(named)}, got scale={name!r}")
        return named[name]

    def name_of(self, config: Any) -> str | None:
        """The scale or named grid that ``config`` is, else None."""
        return next((n for n, c in {**self.scales, **self.grids}.items() if c == config), None)


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


def claim(*, id: str, source: str, statement: str, expected: str, study: str):
    """Decorator turning ``evaluate(result) -> Measurement`` into a :class:`Claim` (registers
    nothing: list the claim in its study's ``claims``)."""

    def wrap(fn: Callable[[StudyResult], Measurement]) -> Claim:
        return Claim(id=id, source=source, statement=statement, expected=expected, study=study,
                     evaluate=fn)

    return wrap


def check_unique(studies: Sequence[Study]) -> None:
    """ValueError on a repeated study name or claim id."""
    names = [s.name for s in studies]
    ids = [c.id for s in studies for c in s.claims]
    for kind, values in (("study name", names), ("claim id", ids)):
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise ValueError(f"repeated {kind}: {dup}")


def select_claims(claims: Iterable[Claim], pattern: str | None = None) -> list[Claim]:
    """Claims whose id matches the glob ``pattern`` or contains it (all when None), sorted by id."""
    out = [c for c in claims if pattern is None or fnmatch.fnmatch(c.id, pattern)
           or pattern in c.id]
    return sorted(out, key=lambda c: c.id)
