"""Study ``vqvae``: the paper's VQ-VAE ablations as a grid of training runs (quantizer x K x d x
gamma x beta x codebook lr x seed x dataset), with the fair-comparison control and the STE gradient
gap (see :mod:`.cells`). Presets: ``quick`` (2 CPU cores), ``default`` (a CPU evening), ``full``
(the paper's CIFAR-10 grid on GPUs) and one per paper table (``table1``, ``table2``, ``table6`` ...
``table9``, ``gamma``; ``vqmatch vqvae --preset NAME``)."""

from ...core.registry import Study
from .cells import list_cells
from .claims import CLAIMS
from .config import PRESETS, GridPoint, VQVAEConfig
from .summary import summarize

STUDY = Study(
    name="vqvae",
    description="VQ-VAE ablations: quantizer x K x d x gamma x beta x codebook lr x seed on images "
                "(builtin photographs on CPU, CIFAR-10 / SVHN / image folders on GPU), the "
                "fair-comparison control, the STE gradient gap",
    presets=PRESETS,
    cells=list_cells,
    summarize=summarize,
    version=1,
)

__all__ = ["CLAIMS", "PRESETS", "STUDY", "GridPoint", "VQVAEConfig"]
