"""``run_study``: what ``vqmatch <study>`` and ``verify`` call. It lists the cells of a study's
configuration, loads the finished ones from the store, runs the others with an executor and
summarises the rows in the order of the cells (so the result does not depend on the executor or on
the order cells finished in)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from .checks import check_int
from .executors import plan, run_tasks
from .registry import StoredRun, Study, StudyResult
from .store import StudyStore, jsonable


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
    compute: bool = True,
    studies: Mapping[str, Study] | None = None,
) -> StudyResult:
    """Run (or resume) ``study`` on ``config`` (one of its scales, ``study.config("quick")``, or any
    configuration of its type): cells already finished under ``out_dir`` (same parameters, study
    version and seed) are loaded instead of recomputed; ``out_dir=None`` keeps nothing.

    ``parts`` restricts a study that declares sub-studies to those parts' cells (keys
    ``"<part>/..."``); the summary then covers those parts only (``StudyResult.parts``).
    ``executor``/``jobs``/``slurm``: how unfinished cells run
    (:func:`vqmatch.simulations.core.executors.run_tasks`); the rows do not depend on it.
    ``threads``: BLAS / OpenMP / torch threads per cell (the rows are identical for the same value).
    ``compute=False``: read a finished results folder (a committed reference run) without
    recomputing or rewriting anything; a missing cell is a ValueError.
    ``studies``: the studies by name, where ``study.requires`` names others (their required cells
    run first, or load, in the same ``out_dir``: :func:`required_runs`).
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
    if study.requires is None:
        cells = list(study.cells(config))
    else:
        inputs = required_runs(study, config, studies=studies, seed=seed, out_dir=out_dir,
                               progress=progress, executor=executor, jobs=jobs, threads=threads,
                               slurm=slurm, compute=compute)
        cells = list(study.cells(config, inputs))
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
    if tasks and not compute:
        raise ValueError(f"{out_dir} lacks {len(pending)} of the {len(cells)} cells of study "
                         f"{study.name} ({name or 'custom configuration'}, seed {seed}): run "
                         f"`vqmatch {study.name} --out {out_dir}` to compute them")
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
    if store and compute:
        store.write_results(config, rows, summary, elapsed, parts=parts)
    return StudyResult(study=study.name, config_name=name, seed=seed, config=config, rows=rows,
                       summary=summary, elapsed_s=elapsed, n_cells_reused=n_reused,
                       n_cells_run=len(cells) - n_reused, parts=parts)


def required_runs(study: Study, config: Any, *, studies: Mapping[str, Study] | None, seed: int | None,
                  out_dir: str | None, compute: bool = True, **execution: Any
                  ) -> dict[str, list[StoredRun]]:
    """The stored runs ``study`` requires for ``config`` (``study.requires(config)``), by required
    study: the selected cells of each required study's configuration are loaded from the store
    under ``out_dir`` or, when missing (and ``compute``), run first with the same seed and
    ``execution`` options (``progress``, ``executor``, ``jobs``, ``threads``, ``slurm``). Nothing of
    the required study's results files (summary, rows.csv) is rewritten. A ValueError names what
    is missing: no ``out_dir``, an unknown study, a selection that keeps no cell, too few
    replicates, or (``compute=False``) unfinished cells."""
    reqs = list(study.requires(config))
    if not reqs:
        return {}
    names = ", ".join(sorted({r.study for r in reqs}))
    if out_dir is None:
        raise ValueError(f"study {study.name} reads the stored runs of {names}: it needs an out dir")
    out: dict[str, list[StoredRun]] = {}
    for req in reqs:
        other = (studies or {}).get(req.study)
        if other is None:
            raise ValueError(f"study {study.name} requires study {req.study!r}, which is not among "
                             f"the studies given ({', '.join(sorted(studies or {})) or 'none'})")
        what = req.what or f"the selected cells of {req.study}"
        cells = [c for c in other.cells(other.config(req.config_name))
                 if req.select(c.key, jsonable(dict(c.params)))]
        if not cells:
            raise ValueError(f"study {req.study} ({req.config_name}) has no {what} that study "
                             f"{study.name} requires")
        if req.replicates is not None:
            short = [c.key for c in cells if c.replicates is not None
                     and c.replicates < req.replicates]
            if short:
                raise ValueError(f"study {study.name} requires {req.replicates} replicates of "
                                 f"{what}; study {req.study} ({req.config_name}) has "
                                 f"{min(c.replicates for c in cells if c.key in short)}")
            cells = [c if c.replicates is None else replace(c, replicates=req.replicates)
                     for c in cells]
        store = StudyStore(out_dir, other.name, other.version, seed)
        tasks, done = plan(cells, store, seed, jobs=execution.get("jobs", 1),
                           threads=execution.get("threads", 1))
        if tasks and not compute:
            raise ValueError(f"{out_dir} lacks {len({t.cell.key for t in tasks})} of the "
                             f"{len(cells)} cells of study {req.study} ({req.config_name}) that "
                             f"study {study.name} reads: run `vqmatch {study.name} --out {out_dir}`")
        done.update(run_tasks(tasks, study=other.name, label=req.config_name, store=store,
                              **{k: v for k, v in execution.items() if k != "threads"}))
        runs = out.setdefault(req.study, [])
        results = store.root.parent
        for cell in cells:
            for r in (None,) if cell.replicates is None else range(cell.replicates):
                folder = (store.scratch(cell, r).relative_to(results).as_posix()
                          if cell.scratch else None)
                runs.append(StoredRun(req.study, cell.key, jsonable(dict(cell.params)), r,
                                      done[(cell.key, r)], folder))
    return out
