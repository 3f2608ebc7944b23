"""``python -m simulations.vqvae [--preset=NAME] [--out=DIR] [--no-progress] key=value ...`` (also under
``torchrun --nproc_per_node=N -m simulations.vqvae ...``); see :func:`simulations.vqvae.train.main`."""

import sys

from .train import main

sys.exit(main())
