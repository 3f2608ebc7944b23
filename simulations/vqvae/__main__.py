"""``python -m vqmatch.simulations.vqvae [--preset=NAME] [--out=DIR] [--no-progress] key=value ...``
(also under ``torchrun --nproc_per_node=N -m vqmatch.simulations.vqvae ...``); see
:func:`vqmatch.simulations.vqvae.train.main`."""

import sys

from .train import main

sys.exit(main())
