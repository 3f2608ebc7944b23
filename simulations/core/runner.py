"""``run_study``: what ``vqmatch <study>`` and ``verify`` call. It lists the cells of a study's
configuration, loads the finished ones from the store, runs the others with an executor and
summarises the rows in the order of the cells (so the result does not depend on the executor or on
the order cells finished in)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from .checks import check_int
from .executors import plan, run_tasks
from .registry import Study, StudyResult
from .store import StudyStore


def run_study(
    study: Study,
    config: Any,
    *,
    seed: int | None = 0,
    out_dir: str | None = "out",
    progress: bool = True,
    parts: Sequence[str] | None = None,
    executor: str = "local",
    jobs: int = 1,
    threads: int = 1,
    slurm: Mapping[str, Any] | None = None,
) -> StudyResult:
    """Run (or resume) ``study`` on ``config`` (one of its scales, ``study.config("quick")``, or any
    configuration of its type): cells already finished under ``out_dir`` (same parameters, study
    version and seed) are loaded instead of recomputed; ``out_dir=None`` keeps nothing.

    ``parts`` restricts a study that declares sub-studies to those parts' cells (keys
    ``"<part>/..."``); the summary then covers those parts only (``StudyResult.parts``).
    ``executor``/``jobs``/``slurm``: how unfinished cells run
    (:func:`vqmatch.simulations.core.executors.run_tasks`); the rows do not depend on it.
    ``threads``: BLAS / OpenMP / torch threads per cell (the rows are identical for the same value).
    """
    if isinstance(config, str):
        raise TypeError(f"config must be a configuration of study {study.name}, not a name; "
                        f"use study.config({config!r})")
    if parts is not None:
        parts = tuple(dict.fromkeys(parts))
        unknown = [p for p in parts if p not in study.parts]
        if not parts or unknown:
            known = ", ".join(study.parts) if study.parts else "none (this study has no parts)"
            raise ValueError(f"parts must be among {known}; got parts={list(parts)!r}")
    check_int(threads, "threads")
    start = time.perf_counter()
    cells = list(study.cells(config))
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"study {study.name} repeats cell keys: "
                         f"{sorted({k for k in keys if keys.count(k) > 1})[:5]}")
    if parts is not None:
        cells = [c for c in cells if c.part in parts]
    store = StudyStore(out_dir, study.name, study.version, seed) if out_dir is not None else None
    name = study.name_of(config)
    tasks, done = plan(cells, store, seed, jobs=jobs, threads=threads)
    pending = {t.cell.key for t in tasks}
    n_reused = sum(1 for c in cells if c.key not in pending)
    computed = run_tasks(tasks, study=study.name, label=name or "", executor=executor, jobs=jobs,
                         progress=progress, slurm=slurm, store=store)
    done.update(computed)
    rows: list[dict] = []
    for cell in cells:  # the rows in the order of the cells, whatever order they ran in
        if cell.replicates is None:
            rows.extend(done[(cell.key, None)])
        else:
            for r in range(cell.replicates):
                rows.extend(done[(cell.key, r)])
    summary = study.summary.from_rows(config, rows)
    elapsed = time.perf_counter() - start
    if store:
        store.write_results(config, rows, summary, elapsed, parts=parts)
    return StudyResult(study=study.name, config_name=name, seed=seed, config=config, rows=rows,
                       summary=summary, elapsed_s=elapsed, n_cells_reused=n_reused,
                       n_cells_run=len(cells) - n_reused, parts=parts)
