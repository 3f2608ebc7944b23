"""The ``vqmatch`` command line: ``verify`` (the claim registry) and one subcommand per study."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

from . import studies  # noqa: F401  (registers every study and its claims)
from .registry import CLAIMS, PRESETS, STUDIES, run_study, select_claims
from .store import versions, write_json


class _OneLineParser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (no usage dump, no traceback)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_common(p: argparse.ArgumentParser) -> None:
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="preset", action="store_const", const="quick",
                       help="CI scale: minutes on 2 cores")
    scale.add_argument("--full", dest="preset", action="store_const", const="full",
                       help="the paper's scale (may take hours)")
    p.set_defaults(preset="default")
    p.add_argument("--out", default="out", metavar="DIR",
                   help="output folder; finished cells there are reused (default: out)")
    p.add_argument("--seed", type=_nonneg_int, default=0, help="master seed (default: 0)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON to PATH")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


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
    return parser


def _wrap(label: str, text: str) -> str:
    return textwrap.fill(text, width=100, initial_indent=f"  {label:<10}",
                         subsequent_indent=" " * 12)


def cmd_verify(args) -> int:
    claims = select_claims(args.only)
    if not claims:
        raise ValueError(f"no claim matches --only {args.only!r}; see `vqmatch list`")
    start = time.perf_counter()
    results = {}
    for name in sorted({c.study for c in claims}):
        results[name] = run_study(name, args.preset, seed=args.seed, out_dir=args.out,
                                  progress=not args.no_progress)
    records = []
    for c in claims:
        m = c.evaluate(results[c.study])
        records.append({"id": c.id, "source": c.source, "statement": c.statement,
                        "expected": c.expected, "measured": m.measured, "verdict": m.verdict,
                        "details": m.details})
    elapsed = time.perf_counter() - start
    lines = [f"vqmatch verify ({args.preset}, seed {args.seed}): {len(records)} claims"]
    for r in records:
        lines += ["", f"[{r['verdict'].upper()}] {r['id']}  ({r['source']})",
                  _wrap("paper:", r["statement"]), _wrap("expected:", r["expected"]),
                  _wrap("measured:", r["measured"])]
    counts = {v: sum(r["verdict"] == v for r in records)
              for v in ("confirmed", "refuted", "inconclusive")}
    lines += ["", ", ".join(f"{n} {v}" for v, n in counts.items()) + f"; {elapsed:.1f} s"]
    text = "\n".join(lines)
    print(text)
    payload = {"claims": records, "seed": args.seed, "preset": args.preset,
               "versions": versions(), "elapsed_s": round(elapsed, 3)}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_json(Path(args.out) / "verdicts.json", payload)
        (Path(args.out) / "report.md").write_text(_markdown(records, args), encoding="utf-8")
    if args.json:
        write_json(Path(args.json), payload)
    return 0


def _markdown(records: list[dict], args) -> str:
    rows = ["| claim | source | verdict | measured |", "|---|---|---|---|"]
    for r in records:
        rows.append(f"| `{r['id']}` | {r['source']} | **{r['verdict']}** | "
                    f"{r['measured'].replace('|', '/')} |")
    return (f"# vqmatch verify ({args.preset}, seed {args.seed})\n\n" + "\n".join(rows) + "\n")


def cmd_study(args) -> int:
    res = run_study(args.command, args.preset, seed=args.seed, out_dir=args.out,
                    progress=not args.no_progress, parts=getattr(args, "parts", None))
    where = Path(args.out) / "results" / args.command if args.out else None
    print(f"{args.command} ({args.preset}): {len(res.rows)} rows, {res.elapsed_s:.1f} s"
          + (f", {res.n_cells_reused} cells reused" if res.n_cells_reused else "")
          + (f"; results in {where}" if where else ""))
    if args.json:
        write_json(Path(args.json), {"study": res.study, "preset": res.preset, "seed": res.seed,
                                     "config": res.config, "summary": res.summary,
                                     "rows": res.rows, "elapsed_s": res.elapsed_s,
                                     "versions": versions()})
    return 0


def cmd_figures(args) -> int:
    from figures import make_figures

    made = make_figures(args.out)
    for study, paths in made.items():
        print(f"{study}: " + (", ".join(str(p) for p in paths) if paths
                              else f"no results under {args.out} (run `vqmatch {study}` first)"))
    return 0


def cmd_list(_args) -> int:
    for name, study in sorted(STUDIES.items()):
        print(f"{name}: {study.description} (presets: {', '.join(p for p in PRESETS if p in study.presets)})")
        for c in sorted(CLAIMS.values(), key=lambda c: c.id):
            if c.study == name:
                print(f"  {c.id}: {c.statement}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "verify":
            return cmd_verify(args)
        if args.command == "list":
            return cmd_list(args)
        if args.command == "figures":
            return cmd_figures(args)
        if args.command == "reproduce":
            for name in sorted(STUDIES):
                cmd_study(argparse.Namespace(**{**vars(args), "command": name, "json": None,
                                                "parts": None}))
            args.only = None
            cmd_verify(args)
            return cmd_figures(args)
        return cmd_study(args)
    except (ValueError, OSError) as exc:
        print(f"vqmatch: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vqmatch: interrupted; finished cells are kept under {args.out} and reused on the "
              "next run", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
