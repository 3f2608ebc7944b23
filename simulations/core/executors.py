"""Executors: how the unfinished cells of a study run.

``local`` with ``jobs=1``
    in this process, one after another.
``local`` with ``jobs=N``
    in N worker processes (``spawn``).
``slurm``
    one submitit job per unfinished task on a Slurm cluster; ``submitit-local`` is submitit's local
    executor (the same path, with jobs as local processes; for trying it without a cluster).

Every task runs with the same number of BLAS / OpenMP / torch threads (``threads``, default 1:
use ``jobs`` for parallelism), since the thread count changes the order of floating-point sums.
Every task writes its own file to the results store as soon as it finishes (a job on a cluster
node does so too), so the rows do not depend on the executor and an interrupted or failed run
keeps what finished. A failed task is reported with its cell key and error after the others have
finished (:class:`CellsFailed`). A cluster run records the job id of every submitted task under
``<study>/pending/``; a rerun while those jobs are still queued or running waits for them instead of
submitting them again, and resubmits the ones that failed or vanished.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import check_int
from .registry import Cell
from .store import load_table

EXECUTORS = ("local", "slurm", "submitit-local")
_ALIVE = {"RUNNING", "PENDING", "REQUEUED", "CONFIGURING", "COMPLETING", "RESIZING", "SUSPENDED"}


@dataclass(frozen=True)
class Task:
    """One unit handed to an executor: a whole cell, or a block of replicates of one, computed with
    ``threads`` BLAS / OpenMP / torch threads."""

    cell: Cell
    replicates: tuple[int, ...] | None
    seed: int | None
    store: Any  # a StudyStore, or None
    threads: int = 1

    @property
    def name(self) -> str:
        if self.replicates is None:
            return self.cell.key
        return f"{self.cell.key} [replicates {self.replicates[0]}-{self.replicates[-1]}]"


class CellsFailed(RuntimeError):
    """Some tasks failed (the others finished and are stored); ``failures``: (task name, error)."""

    def __init__(self, study: str, failures: list[tuple[str, str]]):
        self.study, self.failures = study, failures
        lines = [f"{study}: {len(failures)} cell(s) failed (the others are stored; rerun to retry):"]
        lines += [f"  {name}: {err}" for name, err in failures]
        super().__init__("\n".join(lines))


def _blocks(missing: list[int], jobs: int, block: int | None) -> list[tuple[int, ...]]:
    """Blocks of the missing replicate indices, about one per worker (at most ``block`` each)."""
    size = max(1, -(-len(missing) // max(1, jobs)))
    if block is not None:
        size = min(size, block)
    return [tuple(missing[i:i + size]) for i in range(0, len(missing), size)]


def plan(cells: Iterable[Cell], store, seed: int | None, *, jobs: int = 1, threads: int = 1):
    """The tasks still to run and the rows already stored: ``(tasks, done)`` with
    ``done[(key, replicate or None)] = rows``."""
    tasks: list[Task] = []
    done: dict[tuple[str, int | None], list[dict]] = {}
    for cell in cells:
        stored = store.load(cell) if store is not None else {}
        if cell.replicates is None:
            if None in stored:
                done[(cell.key, None)] = stored[None]
            else:
                tasks.append(Task(cell, None, seed, store, threads))
            continue
        missing = []
        for r in range(cell.replicates):
            if r in stored:
                done[(cell.key, r)] = stored[r]
            else:
                missing.append(r)
        tasks.extend(Task(cell, block, seed, store, threads)
                     for block in _blocks(missing, jobs, cell.block))
    return tasks, done


_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@contextlib.contextmanager
def thread_limit(n: int):
    """Run the block with ``n`` threads in BLAS, OpenMP (faiss) and torch, restored afterwards.

    The thread count changes the order of floating-point reductions, so every task runs with the
    same count whatever the executor: that is what makes rows identical across ``--jobs``.
    Libraries first loaded inside the block read ``n`` from the environment.
    """
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    faiss = sys.modules.get("faiss")
    old_torch = torch.get_num_threads() if torch is not None else None
    old_faiss = faiss.omp_get_max_threads() if faiss is not None else None
    try:
        with _thread_env(n), threadpool_limits(limits=n):
            if torch is not None:
                torch.set_num_threads(n)
            if faiss is not None:
                faiss.omp_set_num_threads(n)
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(old_torch)
        if faiss is not None:
            faiss.omp_set_num_threads(old_faiss)


@contextlib.contextmanager
def _thread_env(n: int):
    """The thread variables of :data:`_THREAD_VARS` set to ``n`` in the block, restored afterwards
    (read by libraries loaded later, and inherited by spawned processes)."""
    saved = {v: os.environ.get(v) for v in _THREAD_VARS}
    os.environ.update({v: str(n) for v in _THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


_CELL_BARS = False


def cell_bars() -> bool:
    """Whether the cell now computing may draw its own progress bars (per training step): only
    when the run shows progress and computes its cells one at a time in this process; under
    ``--no-progress``, ``--jobs N > 1`` or Slurm they would be noise or interleave."""
    return _CELL_BARS


def execute(task: Task, bars: bool = False) -> dict[tuple[str, int | None], list[dict]]:
    """Compute one task (with ``task.threads`` threads), store it, and return its rows by
    (key, replicate). ``bars``: may the cell draw its own progress bars (:func:`cell_bars`)."""
    global _CELL_BARS
    saved, _CELL_BARS = _CELL_BARS, bars
    try:
        with thread_limit(task.threads):
            return _execute(task)
    finally:
        _CELL_BARS = saved


def _compute(task: Task, replicate: int | None) -> list[dict]:
    """One cell (replicate), with its scratch folder when it asks for one."""
    cell = task.cell
    if not cell.scratch:
        return cell.compute(task.seed, replicate)
    if task.store is not None:
        folder = task.store.scratch(cell, replicate)
        folder.mkdir(parents=True, exist_ok=True)
        return cell.compute(task.seed, replicate, scratch_dir=str(folder))
    with tempfile.TemporaryDirectory(prefix="vqmatch-") as folder:
        return cell.compute(task.seed, replicate, scratch_dir=folder)


def _execute(task: Task) -> dict[tuple[str, int | None], list[dict]]:
    cell = task.cell
    if task.replicates is None:
        rows = _compute(task, None)
        if task.store is not None:
            task.store.save(cell, rows)
        return {(cell.key, None): rows}
    per = [_compute(task, r) for r in task.replicates]
    if task.store is not None:
        task.store.save(cell, per, task.replicates)
    return {(cell.key, r): rows for r, rows in zip(task.replicates, per, strict=True)}


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().splitlines()[0]


def run_tasks(tasks: list[Task], *, study: str, label: str = "", executor: str = "local",
              jobs: int = 1, progress: bool = True, slurm: Mapping[str, Any] | None = None,
              store=None) -> dict:
    """Run ``tasks`` with the chosen executor; return their rows by (key, replicate).

    ``label`` names the configuration in the progress bar. Raises :class:`CellsFailed` after every
    other task has finished if some failed.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got executor={executor!r}")
    check_int(jobs, "jobs")
    if not tasks:
        return {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=f"{study} ({label})" if label else study, unit="cell",
               disable=not progress, leave=False)
    try:
        if executor == "local" and jobs == 1:
            results, failures = _run_serial(tasks, bar, bars=progress)
        elif executor == "local":
            results, failures = _run_processes(tasks, jobs, bar)
        else:
            if store is None:
                raise ValueError(f"executor={executor!r} needs a results folder (--out)")
            results, failures = _run_submitit(tasks, executor, dict(slurm or {}), store, bar)
    finally:
        bar.close()
    if failures:
        raise CellsFailed(study, failures)
    return results


def _run_serial(tasks, bar, *, bars: bool):
    results, failures = {}, []
    for task in tasks:
        bar.set_postfix_str(task.cell.key[-40:], refresh=False)
        try:
            results.update(execute(task, bars))
        except Exception as exc:
            failures.append((task.name, _error(exc)))
        bar.update()
    return results, failures


def _run_processes(tasks, jobs, bar):
    import concurrent.futures as cf
    import multiprocessing

    results, failures = {}, []
    # the thread variables are inherited by the spawned workers before numpy / torch load
    with _thread_env(tasks[0].threads):
        pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(tasks)),
                                      mp_context=multiprocessing.get_context("spawn"))
        try:
            futures = {pool.submit(execute, t): t for t in tasks}
            for fut in cf.as_completed(futures):
                task = futures[fut]
                try:
                    results.update(fut.result())
                except Exception as exc:
                    failures.append((task.name, _error(exc)))
                bar.update()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        finally:
            pool.shutdown(wait=True)
    return results, failures


def load_slurm_config(path: str | os.PathLike | None) -> dict:
    """Extra submitit parameters from a TOML or JSON file (e.g. ``slurm_account``, ``cpus_per_task``,
    ``mem_gb``, ``slurm_additional_parameters``); ``{}`` for None."""
    return {} if path is None else load_table(path, "slurm config file")


def _task_file(store, task: Task) -> Path:
    stem = store.path(task.cell, task.replicates).name[:-len(".json")]
    return store.root / "pending" / f"{stem}.json"


def _submitit_executor(kind: str, folder: Path, options: dict):
    try:
        import submitit
    except ImportError:
        raise ValueError("the slurm executor needs submitit: pip install 'vqmatch[cluster]'") \
            from None
    cluster = "slurm" if kind == "slurm" else "local"
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    params = {k: v for k, v in options.items() if v is not None}
    ex.update_parameters(**params)
    return ex, submitit


def _reattach(submitit, kind: str, folder: Path, job_id: str):
    """A job submitted by an earlier run that is still queued or running, else None."""
    if kind != "slurm":
        return None  # a local job does not outlive the run that started it
    job = submitit.SlurmJob(folder=folder, job_id=job_id)
    try:
        state = job.state
    except Exception:
        return None
    return job if state.upper().split()[0] in _ALIVE else None


def _run_submitit(tasks, kind, options, store, bar):
    import json

    from .store import write_json

    folder = store.root.parent.parent / "submitit" / store.study
    ex, submitit = _submitit_executor(kind, folder, options)
    jobs = []
    for task in tasks:
        marker = _task_file(store, task)
        job = None
        if marker.exists():
            try:
                info = json.loads(marker.read_text(encoding="utf-8"))
                job = _reattach(submitit, kind, folder, str(info["job_id"]))
            except (OSError, ValueError, KeyError):
                job = None
        if job is None:
            ex.update_parameters(name=f"vqmatch-{store.study}-{task.cell.key}"[:120])
            job = ex.submit(execute, task)
            write_json(marker, {"job_id": job.job_id, "executor": kind, "task": task.name})
        jobs.append((task, job, marker))
    results, failures = {}, []
    waiting = list(jobs)
    while waiting:
        still = []
        for task, job, marker in waiting:
            if not job.done():
                still.append((task, job, marker))
                continue
            try:
                results.update(job.result())
            except Exception as exc:
                failures.append((f"{task.name} (job {job.job_id})", _error(exc)))
            marker.unlink(missing_ok=True)
            bar.update()
        waiting = still
        if waiting:
            time.sleep(0.5 if kind != "slurm" else 10.0)
    return results, failures
