"""The results store: ``<out>/results/<study>/{config.json, rows.csv, summary.json, cells/}``.

Every finished unit of work is one file under ``cells/``, written atomically (temp file, then
``os.replace``), named by the cell key and its *identity*: a hash of the study name and version, the
seed, the cell key, its stream and its own parameters. Nothing of the grid around a cell enters
its identity, so a run with more grid points, more replicates or more parts finds every cell it
shares with an earlier run. A replicated cell is stored in blocks of replicates
(``<key>.<identity>.r<first>-<last>.json``); a larger replicate count computes only the missing ones.
An interrupted run loses no finished file; a damaged file is recomputed.
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


def jsonable(obj: Any) -> Any:
    """``obj`` as plain JSON types (dataclasses as dicts, tuples as lists, numpy as Python)."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy scalars and arrays
        return obj.tolist()
    if isinstance(obj, float) and obj != obj:
        return None
    return obj


def atomic_write(path: Path, write, *, binary: bool = False) -> None:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary file in the same folder, which is
    flushed, synced and moved into place with ``os.replace`` (a reader, or a run killed at any
    moment, sees the old or the new file, never half of one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) \
                as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text))


def load_table(path: str | os.PathLike, what: str) -> dict:
    """The table (dict) of a TOML or JSON file; ``what`` names the file in the one-line errors."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{what} {p} does not exist")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise ValueError(f"reading {p} needs Python >= 3.11 (tomllib); use a JSON file") \
                    from None
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{what} {p} is not valid {p.suffix[1:] or 'JSON'}: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{what} {p} must hold a table of parameters")
    return data


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(Path(path), json.dumps(jsonable(obj), indent=2, sort_keys=False) + "\n")


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


def read_summary(out_dir: str | os.PathLike, study: str, summary_type):
    """The typed summary of a finished run of ``study`` under ``out_dir``
    (``summary_type.from_json`` of its ``summary.json``), or a ValueError saying how to make it."""
    path = Path(out_dir) / "results" / study / "summary.json"
    if not path.is_file():
        raise ValueError(f"no results for study {study!r} under {out_dir}: run "
                         f"`vqmatch {study} --out {out_dir}` first")
    try:
        return summary_type.from_json(json.loads(path.read_text(encoding="utf-8"))["summary"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a summary of this version of study {study!r} ({exc}): "
                         f"run `vqmatch {study} --out {out_dir}` again") from None


def cell_identity(study: str, version: int, seed: int | None, cell) -> str:
    """The cache identity of ``cell``: 16 hex digits of SHA-256 over what its rows depend on (the
    seed only for a seeded cell)."""
    blob = json.dumps({"study": study, "version": version, "seed": seed if cell.seeded else None,
                       "key": cell.key,
                       "stream": cell.stream or cell.key, "seeded": cell.seeded,
                       "replicated": cell.replicates is not None,
                       "params": jsonable(dict(cell.params))}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_=" else "_" for c in key)


class StudyStore:
    """Files of one study's runs under ``<out>/results/<study>/``."""

    def __init__(self, out_dir: str | os.PathLike, study: str, version: int, seed: int | None):
        self.root = Path(out_dir) / "results" / study
        self.cells_dir = self.root / "cells"
        self.study, self.version, self.seed = study, version, seed

    def _stem(self, cell) -> str:
        return f"{_safe(cell.key)}.{cell_identity(self.study, self.version, self.seed, cell)}"

    def path(self, cell, replicates: tuple[int, ...] | None = None) -> Path:
        """The file of a cell, or of one block of its replicates."""
        stem = self._stem(cell)
        if replicates is None:
            return self.cells_dir / f"{stem}.json"
        return self.cells_dir / f"{stem}.r{replicates[0]}-{replicates[-1]}.json"

    def scratch(self, cell, replicate: int | None = None) -> Path:
        """The working folder of a cell (of one replicate) while it runs: the same on every run
        with the same identity, so an interrupted cell can resume from what it left there."""
        folder = self.root / "scratch" / self._stem(cell)
        return folder if replicate is None else folder / f"r{replicate}"

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # a damaged file is recomputed

    def load(self, cell) -> dict[int | None, list[dict]]:
        """What is stored of ``cell``: ``{None: rows}`` for a plain cell, ``{replicate: rows}`` for
        the replicates of a replicated one (empty when nothing is stored)."""
        if self.seed is None and cell.seeded:  # fresh entropy: nothing to reuse
            return {}
        if cell.replicates is None:
            data = self._read(self.path(cell))
            return {None: data["rows"]} if data and "rows" in data else {}
        found: dict[int | None, list[dict]] = {}
        for path in sorted(self.cells_dir.glob(f"{self._stem(cell)}.r*.json")):
            data = self._read(path)
            if data and "replicates" in data and "rows" in data:
                found.update(zip(data["replicates"], data["rows"], strict=True))
        return found

    def save(self, cell, rows, replicates: tuple[int, ...] | None = None) -> Path:
        """Store the rows of a cell (``rows``: a list of rows) or of a block of its replicates
        (``rows``: one list of rows per replicate in ``replicates``)."""
        path = self.path(cell, replicates)
        payload: dict[str, Any] = {"study": self.study, "version": self.version,
                                   "seed": self.seed, "key": cell.key,
                                   "params": dict(cell.params)}
        if replicates is not None:
            payload["replicates"] = list(replicates)
        payload["rows"] = rows
        write_json(path, payload)
        return path

    def write_results(self, config: Any, rows: list[dict], summary, elapsed_s: float,
                      parts: tuple[str, ...] | None = None) -> None:
        """config.json, rows.csv and summary.json (``summary.to_json()``: the study's typed
        summary; ``parts``: the parts run, None for all), each written atomically."""
        meta = {
            "config": config,
            "seed": self.seed,
            "study_version": self.version,
            "versions": versions(),
            "git_commit": git_commit(),
            "elapsed_s": round(elapsed_s, 3),
        }
        write_json(self.root / "config.json", meta)
        write_json(self.root / "summary.json",
                   {**meta, "parts": None if parts is None else list(parts),
                    "summary": summary.to_json()})
        columns: list[str] = []
        seen: set[str] = set()
        for row in rows:
            for k in row:
                if k not in seen:
                    seen.add(k)
                    columns.append(k)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:  # nested values (lists, dicts) as JSON in their cell
            writer.writerow({k: json.dumps(jsonable(v)) if isinstance(v, (dict, list, tuple))
                             else v for k, v in row.items()})
        atomic_write_text(self.root / "rows.csv", buf.getvalue())
