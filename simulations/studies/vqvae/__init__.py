"""Study ``vqvae``: the paper's VQ-VAE ablations as a grid of training runs (quantizer x K x d x
gamma x beta x codebook lr x replicate x dataset), with the fair-comparison control and the STE
gradient gap (see :mod:`.cells`). Scales: ``quick`` (2 CPU cores), ``default`` (a CPU evening),
``full`` (the paper's CIFAR-10 grid on GPUs); named grids, one per paper table (``table1``,
``table2``, ``table6`` ... ``table9``, ``gamma``; ``vqmatch vqvae --table NAME``); its own
command-line options in :mod:`.cli`."""

from ...core.registry import Study
from . import cells, claims, cli, config, summary

STUDY = Study(name="vqvae",
              description="VQ-VAE ablations: quantizer x K x d x gamma x beta x codebook lr x "
                          "replicate on images (builtin photographs on CPU, CIFAR-10 / SVHN / image "
                          "folders on GPU), the fair-comparison control, the STE gradient gap",
              scales=config.SCALES, grids=config.GRIDS, cells=cells.list_cells,
              summary=summary.VQVAESummary, claims=claims.CLAIMS, version=2,
              command=cli.VQVAECommand())
