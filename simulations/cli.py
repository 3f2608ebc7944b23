"""The ``vqmatch`` command line: ``verify`` (the claim registry), ``report`` (the verdict table of a
results folder), one subcommand per study, ``figures``, ``reproduce`` and ``list``."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

from .core.checks import nonneg_int, positive_int
from .core.executors import EXECUTORS, CellsFailed, load_slurm_config
from .core.registry import SCALES, select_claims
from .core.runner import run_study
from .core.store import versions, write_json
from .core.verdicts import VERDICTS
from .studies import CLAIMS, STUDIES

README_START, README_END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (no usage dump, no traceback)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _minutes(text: str) -> int:
    """Slurm time: minutes, or [D-]HH:MM[:SS]."""
    try:
        if ":" not in text:
            return positive_int(text)
        days, _, clock = text.rpartition("-")
        parts = [int(p) for p in clock.split(":")]
        if len(parts) not in (2, 3) or any(p < 0 for p in parts):
            raise ValueError
        h, m = parts[0], parts[1]
        s = parts[2] if len(parts) == 3 else 0
        minutes = (int(days) if days else 0) * 1440 + h * 60 + m + (1 if s else 0)
        if minutes < 1:
            raise ValueError
        return minutes
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected minutes or [D-]HH:MM[:SS], got {text!r}") \
            from None


def _add_common(p: argparse.ArgumentParser) -> None:
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="scale", action="store_const", const="quick",
                       help="CI scale: minutes on 2 cores")
    scale.add_argument("--full", dest="scale", action="store_const", const="full",
                       help="the paper's scale (may take hours)")
    p.set_defaults(scale="default")
    p.add_argument("--out", default="out", metavar="DIR",
                   help="output folder; finished cells there are reused (default: out)")
    p.add_argument("--seed", type=nonneg_int, default=0, help="master seed (default: 0)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    run = p.add_argument_group("execution (the rows do not depend on it)")
    run.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                     help="run unfinished cells in N local worker processes (default: 1)")
    run.add_argument("--threads", type=positive_int, default=1, metavar="T",
                     help="BLAS / OpenMP / torch threads per cell (default: 1; the rows are "
                          "identical for the same value, whatever --jobs)")
    run.add_argument("--executor", choices=EXECUTORS, default="local",
                     help="local processes, one Slurm job per unfinished cell (submitit), or "
                          "submitit's local executor (default: local)")
    run.add_argument("--slurm-partition", metavar="NAME")
    run.add_argument("--slurm-time", type=_minutes, metavar="TIME",
                     help="time limit per job: minutes or [D-]HH:MM[:SS]")
    run.add_argument("--slurm-gpus", type=nonneg_int, metavar="N", help="GPUs per job")
    run.add_argument("--slurm-config", metavar="FILE",
                     help="TOML or JSON file with further submitit parameters (slurm_account, "
                          "cpus_per_task, mem_gb, slurm_additional_parameters, ...)")


def _slurm_options(args) -> dict:
    options = load_slurm_config(args.slurm_config)
    if args.slurm_partition:
        options["slurm_partition"] = args.slurm_partition
    if args.slurm_time:
        options["timeout_min"] = args.slurm_time
    if args.slurm_gpus is not None:
        options["gpus_per_node"] = args.slurm_gpus
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="vqmatch",
        description="Verify the theory of distributional matching for vector quantization "
                    "(Fang et al., arXiv 2506.15078) by measurement.",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    v = sub.add_parser("verify", help="evaluate the paper's claims and print verdicts")
    _add_common(v)
    v.add_argument("--only", metavar="PATTERN", help="claim ids matching this glob / substring")
    v.add_argument("--results", metavar="DIR",
                   help="evaluate the claims on the finished results folder DIR (for example "
                        "docs/reference/default) without computing or writing anything (but "
                        "--json): the claims of the studies it holds, at the scale and seed given")
    rep = sub.add_parser("report", help="write the verdict table (Markdown) of a results folder")
    rep.add_argument("--out", action="append", metavar="DIR",
                     help="results folder holding verdicts.json (default: out); repeat it to merge "
                          "several, a later folder's verdict of a claim replacing an earlier one's")
    rep.add_argument("--readme", metavar="PATH",
                     help=f"replace the table between {README_START} and {README_END} in PATH")
    sub.add_parser("list", help="list the studies and the claims")
    f = sub.add_parser("figures", help="draw the figures of the studies found under --out")
    f.add_argument("--out", default="out", metavar="DIR", help="output folder (default: out)")
    r = sub.add_parser("reproduce", help="run every study, verify every claim, draw every figure")
    _add_common(r)
    for name, study in sorted(STUDIES.items()):
        p = sub.add_parser(name, help=study.description)
        _add_common(p)
        if study.parts:
            p.add_argument("--part", dest="parts", action="append", choices=study.parts,
                           help="run only this sub-study (repeatable; default: all)")
        if study.command is not None:
            study.command.add_arguments(p, study)
    return parser


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=f"  {label:<10}",
                         subsequent_indent=" " * 12)


def study_config(args, study):
    """The configuration ``vqmatch <study>`` runs: built by the study's own options when it has
    some (:class:`~vqmatch.simulations.core.registry.StudyCommand`), else its scale."""
    if study.command is not None and getattr(args, "command", None) == study.name:
        return study.command.config(args, study)
    return study.config(args.scale)


def _run(args, study, config, parts=None):
    return run_study(study, config, seed=args.seed, out_dir=args.out,
                     progress=not args.no_progress, parts=parts, executor=args.executor,
                     jobs=args.jobs, threads=args.threads, slurm=_slurm_options(args),
                     studies=STUDIES)


def cmd_verify(args, results: dict | None = None) -> int:
    """Run the studies of the selected claims (or take them from ``results``: study name ->
    StudyResult, already run) and print, and write, each claim's verdict."""
    claims = select_claims(CLAIMS.values(), args.only)
    if not claims:
        raise ValueError(f"no claim matches --only {args.only!r}; see `vqmatch list`")
    results = dict(results or {})
    start = time.perf_counter() - sum(r.elapsed_s for r in results.values())
    read_from = getattr(args, "results", None)
    if read_from is not None:
        read = _read_results(args, {c.study for c in claims} - set(results))
        start -= sum(r.elapsed_s for r in read.values())
        results.update(read)
        claims = [c for c in claims if c.study in results]
    for name in sorted({c.study for c in claims} - set(results)):
        results[name] = _run(args, STUDIES[name], STUDIES[name].config(args.scale))
    records = []
    for c in claims:
        m = c.evaluate(results[c.study])
        records.append({"id": c.id, "source": c.source, "statement": c.statement,
                        "expected": c.expected, "measured": m.measured, "verdict": m.verdict,
                        "details": m.details})
    elapsed = time.perf_counter() - start
    source = f", read from {read_from}" if read_from is not None else ""
    lines = [f"vqmatch verify ({args.scale}, seed {args.seed}{source}): {len(records)} claims"]
    for r in records:
        lines += ["", f"[{r['verdict'].upper()}] {r['id']}  ({r['source']})",
                  _wrap("paper:", r["statement"]), _wrap("expected:", r["expected"]),
                  _wrap("measured:", r["measured"])]
    lines += ["", _counts(records) + f"; {elapsed:.1f} s"]
    print("\n".join(lines))
    payload = {"claims": records, "seed": args.seed, "scale": args.scale,
               "versions": versions(), "elapsed_s": round(elapsed, 3)}
    if read_from is not None:
        payload["results"] = str(read_from)
    if args.out and read_from is None:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out) / "verdicts.json", payload)
        (Path(args.out) / "report.md").write_text(markdown_report(payload), encoding="utf-8")
    if args.json:
        write_json(Path(args.json), payload)
    return 0


def _read_results(args, studies: set[str]) -> dict:
    """The StudyResults of ``studies`` found in the results folder ``args.results`` at
    ``args.scale`` and ``args.seed``, read from its cells without computing anything (the studies
    without a results folder there are left out, with a note on stderr)."""
    root = Path(args.results)
    if not (root / "results").is_dir():
        raise ValueError(f"results must be a folder holding results/<study>/ (a --out folder of "
                         f"a finished run), got results={args.results!r}")
    found = {name for name in studies if (root / "results" / name / "cells").is_dir()}
    if not found:
        raise ValueError(f"{root} holds no results of the studies of these claims "
                         f"({', '.join(sorted(studies))})")
    if studies - found:
        print(f"vqmatch: {root} has no results of {', '.join(sorted(studies - found))}; their "
              "claims are left out", file=sys.stderr)
    out = {}
    for name in sorted(found):
        res = run_study(STUDIES[name], STUDIES[name].config(args.scale), seed=args.seed,
                        out_dir=str(root), progress=False, compute=False, studies=STUDIES)
        meta = root / "results" / name / "config.json"
        try:  # the time the run that wrote the folder took, not the time to read it
            res = replace(res, elapsed_s=float(json.loads(meta.read_text(encoding="utf-8"))["elapsed_s"]))
        except (OSError, ValueError, KeyError, TypeError):
            pass
        out[name] = res
    return out


def _counts(records: list[dict]) -> str:
    """``"n confirmed, n refuted, n inconclusive"`` of verdict records."""
    return ", ".join(f"{sum(r['verdict'] == v for r in records)} {v}" for v in VERDICTS)


GIST_CHARS = 100


def gist(measured: str, limit: int = GIST_CHARS) -> str:
    """The first clause of a measured text (up to its first '; ' or '. ' outside brackets), cut at a
    word boundary to at most ``limit`` characters (an ellipsis marks a cut)."""
    text = " ".join(measured.replace("|", "/").split())
    depth, first = 0, text.rstrip(".")
    for i, ch in enumerate(text):  # the first '; ' or '. ' outside brackets
        depth += (ch in "([") - (ch in ")]")
        if depth == 0 and ch in ";." and text[i + 1:i + 2] == " " and i > 0:
            first = text[:i]
            break
    if len(first) <= limit:
        return first
    return first[:limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _reference(source: str) -> str:
    """The paper's place of a claim: its ``source`` up to the first ';', ': ' or parenthesis, in at
    most 40 characters."""
    head = source.split(";")[0].split(": ")[0].split(" (")[0].strip()
    return head if len(head) <= 40 else head[:39].rsplit(" ", 1)[0].rstrip(",") + "…"


def _command(payload: dict) -> str:
    scale = _scale(payload)
    flag = "" if scale == "default" else f" --{scale}"
    where = f" --results {payload['results']}" if payload.get("results") else ""
    return f"vqmatch verify{flag}{where}"


def verdict_table(*payloads: dict, full: bool = False) -> str:
    """The Markdown verdict table of ``verify`` payloads: one line per claim (a claim in several
    payloads: the last one's), with the paper's place, the verdict, the scale it comes from and
    the gist of what was measured (``full``: the whole measured text and no scale column)."""
    records: dict[str, tuple[dict, dict]] = {}
    for payload in payloads:
        for r in payload["claims"]:
            records[r["id"]] = (r, payload)
    head = []
    for payload in payloads:
        mine = [r for r, p in records.values() if p is payload]
        if mine:
            head.append(f"`{_command(payload)}` (seed {payload['seed']}; "
                        f"{payload.get('elapsed_s', 0):.0f} s): {_counts(mine)} of its {len(mine)} "
                        "claims below")
    if full:
        rows = ["| claim | verdict | measured |", "|---|---|---|"]
        rows += [f"| `{r['id']}` | {r['verdict']} | {' '.join(r['measured'].replace('|', '/').split())} |"
                 for r, _ in records.values()]
    else:
        rows = ["| claim | paper | verdict | scale | measured (gist) |", "|---|---|---|---|---|"]
        rows += [f"| `{r['id']}` | {_reference(r.get('source', ''))} | {r['verdict']} | "
                 f"{_scale(p)} | {gist(r['measured'])} |" for r, p in sorted(
                     records.values(), key=lambda x: x[0]["id"])]
    return "; ".join(head) + ".\n\n" + "\n".join(rows) + "\n"


def _scale(payload: dict) -> str:
    """The scale of a ``verify`` payload (files written before the rename call it ``preset``)."""
    return payload["scale"] if "scale" in payload else payload["preset"]


def markdown_report(payload: dict) -> str:
    """``report.md``: the verdict table with the whole measured texts, plus what each claim
    expected."""
    lines = [f"# vqmatch verify ({_scale(payload)}, seed {payload['seed']})", "",
             verdict_table(payload, full=True), "## What each claim expected", ""]
    for r in payload["claims"]:
        lines.append(f"- `{r['id']}` ({r['source']}): {r['expected']}")
    return "\n".join(lines) + "\n"


def cmd_report(args) -> int:
    payloads = []
    for folder in args.out or ["out"]:
        path = Path(folder) / "verdicts.json"
        if not path.is_file():
            raise ValueError(f"no verdicts under {folder}: run `vqmatch verify --out {folder}` "
                             "first")
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            verdict_table(payload)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} is not a vqmatch verdicts file ({exc})") from None
        payloads.append(payload)
    table = verdict_table(*payloads)
    if not args.readme:
        print(table, end="")
        return 0
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} ... {README_END} section")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{table}{README_END}{tail}", encoding="utf-8")
    n = len({r["id"] for p in payloads for r in p["claims"]})
    print(f"wrote the verdict table of {', '.join(args.out or ['out'])} ({n} claims) into {readme}")
    return 0


def cmd_study(args, study=None) -> int:
    """``vqmatch <study>``: build the configuration (the study's own options, if it has some), let
    the study check it (and stop there, e.g. for a dry run), run it and print the account."""
    study = study or STUDIES[args.command]
    config = study_config(args, study)
    if study.command is not None:
        code = study.command.before_run(args, study, config)
        if code is not None:
            return code
    run_and_print(args, study, config)
    return 0


def run_and_print(args, study, config):
    """Run ``study`` on ``config`` as ``args`` say, print its one-line account (and write
    ``--json``); return its StudyResult."""
    res = _run(args, study, config, getattr(args, "parts", None))
    where = Path(args.out) / "results" / study.name if args.out else None
    print(f"{study.name} ({res.config_name or 'custom configuration'}): {len(res.rows)} rows, "
          f"{res.elapsed_s:.1f} s, {res.n_cells_run} cells run, {res.n_cells_reused} reused"
          + (f"; results in {where}" if where else ""))
    if args.json:
        write_json(Path(args.json), {"study": res.study, "config_name": res.config_name,
                                     "seed": res.seed, "config": res.config,
                                     "parts": res.parts, "summary": res.summary.to_json(),
                                     "rows": res.rows, "elapsed_s": res.elapsed_s,
                                     "versions": versions()})
    return res


def cmd_figures(args) -> int:
    from vqmatch.figures import make_figures

    made = make_figures(args.out)
    for study, paths in made.items():
        print(f"{study}: " + (", ".join(str(p) for p in paths) if paths
                              else f"no results under {args.out} (run `vqmatch {study}` first)"))
    return 0


def cmd_list(_args) -> int:
    for name, study in sorted(STUDIES.items()):
        grids = f"; named grids: {', '.join(sorted(study.grids))}" if study.grids else ""
        print(f"{name}: {study.description} (scales: {', '.join(SCALES)}{grids})")
        for c in sorted(CLAIMS.values(), key=lambda c: c.id):
            if c.study == name:
                print(f"  {c.id}: {c.statement}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "figures":
            return cmd_figures(args)
        if args.command == "reproduce":
            run_args = argparse.Namespace(**{**vars(args), "json": None, "parts": None})
            results = {name: run_and_print(run_args, study, study.config(args.scale))
                       for name, study in sorted(STUDIES.items())}
            args.only = None
            cmd_verify(args, results)
            return cmd_figures(args)
        return cmd_study(args)
    except CellsFailed as exc:
        print(f"vqmatch: {exc}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as exc:
        print(f"vqmatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vqmatch: interrupted; finished cells are kept under {args.out} and reused on the "
              "next run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
