"""The options of ``vqmatch vqvae``: the grid of a run is a scale (``--quick``, default, ``--full``)
or a named grid of the paper's tables (``--table table6``), changed by a grid file (``--grid FILE``)
and then by flags; every flag that takes values is repeatable. ``--dry-run`` lists the runs and
their cost instead of training."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

from ...core.checks import positive_int
from ...core.store import load_table
from .config import VQVAEConfig

# flag dest -> grid field, for the repeatable flags (their values make a tuple)
_TUPLES = ("quantizers", "codebook_sizes", "codebook_dims", "gammas", "betas", "codebook_lrs",
           "datasets")


class VQVAECommand:
    """The :class:`~vqmatch.simulations.core.registry.StudyCommand` of the ``vqvae`` study."""

    def add_arguments(self, p: argparse.ArgumentParser, study) -> None:
        p.add_argument("--table", metavar="NAME", choices=sorted(study.grids),
                       help="the named grid of one of the paper's tables ("
                            + ", ".join(sorted(study.grids)) + "; on GPUs); instead of a scale")
        g = p.add_argument_group("grid (changes the scale's or the table's)")
        g.add_argument("--grid", metavar="FILE", help="TOML or JSON file of grid fields ("
                       + ", ".join(f.name for f in fields(VQVAEConfig)) + ")")
        g.add_argument("--quantizer", dest="quantizers", action="append", metavar="Q")
        g.add_argument("--codebook-size", dest="codebook_sizes", action="append",
                       type=positive_int, metavar="K")
        g.add_argument("--codebook-dim", dest="codebook_dims", action="append", type=positive_int,
                       metavar="D")
        g.add_argument("--gamma", dest="gammas", action="append", type=float, metavar="G",
                       help="matching-loss weight of the matching quantizers")
        g.add_argument("--beta", dest="betas", action="append", type=float, metavar="B")
        g.add_argument("--codebook-lr", dest="codebook_lrs", action="append", type=float,
                       metavar="LR")
        g.add_argument("--dataset", dest="datasets", action="append",
                       choices=("builtin", "cifar10", "svhn", "folder"))
        g.add_argument("--replicates", type=positive_int, metavar="N",
                       help="training runs (each with its own seed) per grid point")
        g.add_argument("--train-preset", dest="train_preset", metavar="NAME",
                       help="training preset (quick-cpu, paper-cifar10, paper-svhn, paper-ffhq, "
                            "paper-imagenet)")
        g.add_argument("--data-root", metavar="PATH",
                       help="folder of the cifar10 / svhn / folder data")
        g.add_argument("--download", action="store_true",
                       help="download CIFAR-10 / SVHN into --data-root (needs torchvision)")
        g.add_argument("--set", dest="sets", action="append", metavar="KEY=VALUE",
                       help="a training-config override, e.g. --set steps=2000 --set lr=1e-4")
        g.add_argument("--no-control", action="store_true",
                       help="leave out the fair-comparison points")
        g.add_argument("--nproc", type=positive_int, metavar="N",
                       help="processes (GPUs) per run: > 1 launches each run with torchrun (DDP)")
        p.add_argument("--dry-run", action="store_true",
                       help="list the runs and estimate their cost from a measured step; train "
                            "nothing")

    def config(self, args: argparse.Namespace, study) -> VQVAEConfig:
        """The scale or ``--table`` grid, then the ``--grid`` file, then the flags."""
        if args.table and args.scale != "default":
            raise ValueError(f"--table {args.table} is a grid of its own: leave out --{args.scale}")
        cfg = study.grids[args.table] if args.table else study.config(args.scale)
        names = {f.name for f in fields(cfg)}
        if args.grid:
            data = load_table(args.grid, "grid file")
            unknown = sorted(set(data) - names)
            if unknown:
                raise ValueError(f"unknown grid field(s) {unknown} in {args.grid}; known: "
                                 f"{sorted(names)}")
            cfg = replace(cfg, **{k: tuple(v) if isinstance(v, list) else v
                                  for k, v in data.items()})
        changes = {k: tuple(getattr(args, k)) for k in _TUPLES if getattr(args, k)}
        for k in ("replicates", "train_preset", "nproc"):
            if getattr(args, k) is not None:
                changes[k] = getattr(args, k)
        if args.no_control:
            changes["control"] = False
        overrides = list(cfg.overrides) + list(args.sets or [])
        if args.data_root:
            overrides.append(f"data_root={args.data_root!r}")
        if args.download:
            overrides.append("download=True")
        if overrides != list(cfg.overrides):
            changes["overrides"] = tuple(overrides)
        return replace(cfg, **changes) if changes else cfg

    def before_run(self, args: argparse.Namespace, study, cfg: VQVAEConfig) -> int | None:
        """Check every dataset's layout before any run (one line on a missing or empty data
        path); ``--dry-run``: print the plan and stop."""
        from ...vqvae.data import check_dataset
        from .plan import format_plan, plan_runs

        for ds in cfg.datasets:
            check_dataset(replace(cfg.base(), dataset=ds))
        if args.dry_run:
            entries = plan_runs(cfg, args.out, args.seed, study.version, threads=args.threads)
            print(format_plan(entries, jobs=args.jobs))
            return 0
        return None
