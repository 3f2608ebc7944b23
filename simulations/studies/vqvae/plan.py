"""``vqmatch vqvae --dry-run``: the runs of a grid, which replicates are finished, and what the rest
will cost, extrapolated from a measured training step of every distinct model on this machine."""

from __future__ import annotations

from dataclasses import replace

from ...core.executors import thread_limit
from ...core.store import StudyStore
from ...vqvae.timing import time_training_step
from .cells import list_cells
from .config import VQVAEConfig


def plan_runs(cfg: VQVAEConfig, out_dir: str | None, seed: int, version: int, *,
              measure: bool = True, threads: int = 1) -> list[dict]:
    """One entry per cell: key, replicates finished / to run, steps, and (``measure``) the seconds per
    step measured with ``threads`` threads (what each cell runs with) and the estimated seconds of
    what is left."""
    store = StudyStore(out_dir, "vqvae", version, seed) if out_dir is not None else None
    timings: dict[tuple, dict] = {}
    out = []
    for cell in list_cells(cfg):
        train = cell.params["config"]
        done = sorted(k for k in (store.load(cell) if store else {}) if k is not None)
        todo = [r for r in range(cell.replicates) if r not in done]
        entry = {"key": cell.key, "replicates_done": len(done), "replicates_todo": len(todo),
                 "steps": train.steps, "batch_size": train.batch_size}
        if measure and todo:
            model_key = (train.quantizer, train.codebook_size, train.codebook_dim, train.shape,
                         train.batch_size, train.device)
            if model_key not in timings:
                with thread_limit(threads):
                    timings[model_key] = time_training_step(replace(train, num_workers=0),
                                                            steps=2)
            t = timings[model_key]
            entry |= {"s_per_step": t["s_per_step"], "device": t["device"],
                      "estimated_s": len(todo) * train.steps * t["s_per_step"]}
        out.append(entry)
    return out


def format_plan(entries: list[dict], jobs: int = 1) -> str:
    """The dry-run table and its total (divided by ``jobs`` parallel workers)."""
    lines = [f"{'cell':60s} {'runs done/to run':>18s} {'steps':>7s} {'s/step':>8s} "
             f"{'estimate':>10s}"]
    total = 0.0
    for e in entries:
        est = e.get("estimated_s")
        total += est or 0.0
        lines.append(f"{e['key']:60s} {e['replicates_done']:>8d}/{e['replicates_todo']:<9d} "
                     f"{e['steps']:>7d} "
                     + (f"{e['s_per_step']:>8.3f} {_hms(est):>10s}" if est is not None
                        else f"{'-':>8s} {'-':>10s}"))
    runs = sum(e["replicates_todo"] for e in entries)
    lines.append(f"{len(entries)} cells, {runs} runs to train; estimated {_hms(total)} of training "
                 f"on {entries[0].get('device', 'this machine') if entries else '-'}"
                 + (f" ({_hms(total / jobs)} with --jobs {jobs})" if jobs > 1 else "")
                 + "; evaluation and the gradient gap add a few percent")
    return "\n".join(lines)


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
