"""The results store: ``<out>/results/<study>/{config.json, rows.csv, summary.json, cells/}``.

Finished cells (units of work) are written one file each, atomically (temp file, then
``os.replace``), under a folder named by the hash of the study's configuration and seed. A rerun with
the same configuration skips them, so an interrupted run loses no finished work; a different
configuration never mixes with old cells.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any


def _jsonable(obj: Any) -> Any:
    if is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader sees the old or the new file, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=False) + "\n")


def versions() -> dict[str, str]:
    """Versions of Python and the numerical libraries in use (torch only if already imported)."""
    out = {"python": platform.python_version()}
    for name in ("numpy", "scipy", "ot", "sympy", "torch", "faiss", "matplotlib"):
        mod = sys.modules.get(name)
        if mod is None and name in ("numpy", "scipy"):
            mod = __import__(name)
        if mod is not None:
            out["POT" if name == "ot" else name] = str(getattr(mod, "__version__", "?"))
    return out


def git_commit() -> str | None:
    """The checkout's commit (with ``+dirty`` when the tree has changes), if this is a git clone."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=here, capture_output=True,
                               text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def config_hash(config: Any, seed: int | None, version: int = 1) -> str:
    blob = json.dumps({"config": _jsonable(config), "seed": seed, "version": version},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


class StudyStore:
    """Files of one study's run under ``<out>/results/<study>/``."""

    def __init__(self, out_dir: str | os.PathLike, study: str, config: Any, seed: int | None,
                 *, version: int = 1):
        self.root = Path(out_dir) / "results" / study
        self.config = config
        self.seed = seed
        self.cells_dir = self.root / "cells" / config_hash(config, seed, version)

    def _cell_path(self, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in key)
        return self.cells_dir / f"{safe}.json"

    def load_cell(self, key: str) -> list[dict] | None:
        """Rows of a finished cell, or None if it has not been computed with this config."""
        path = self._cell_path(key)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))["rows"]
        except (OSError, ValueError, KeyError):
            return None  # a damaged cell is recomputed

    def save_cell(self, key: str, rows: list[dict]) -> None:
        write_json(self._cell_path(key), {"key": key, "rows": rows})

    def write_results(self, rows: list[dict], summary: dict, elapsed_s: float) -> None:
        """config.json, rows.csv and summary.json, each written atomically."""
        meta = {
            "config": self.config,
            "seed": self.seed,
            "versions": versions(),
            "git_commit": git_commit(),
            "elapsed_s": round(elapsed_s, 3),
        }
        write_json(self.root / "config.json", meta)
        write_json(self.root / "summary.json", {**meta, "summary": summary})
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:  # nested values (lists, dicts) as JSON in their cell
            writer.writerow({k: json.dumps(_jsonable(v)) if isinstance(v, (dict, list, tuple))
                             else v for k, v in row.items()})
        atomic_write_text(self.root / "rows.csv", buf.getvalue())
