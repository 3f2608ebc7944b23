"""``python -m vqmatch``: the command line (same as the ``vqmatch`` console script)."""

from vqmatch.simulations.cli import main

raise SystemExit(main())
