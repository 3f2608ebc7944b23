"""Study ``prior``: does distributional matching help the autoregressive prior? An autoregressive
prior (:mod:`vqmatch.simulations.prior`) trained on the tokens of every tokenizer run of the
``vqvae`` study (its stored results, not its code: ``Study.requires``), its held-out bits per image
against the tokenizer's distortion, and its decoded samples against the held-out images (see
:mod:`.cells`). Scales: ``quick`` (over the vqvae quick runs), ``default`` (over the vqvae default
runs at K = 4096, 5 replicates), ``full`` (the paper's grid, GPU)."""

from ...core.registry import Study
from . import cells, claims, config, summary

STUDY = Study(name="prior",
              description="autoregressive prior on the vqvae study's tokens: bits per image at the "
                          "tokenizer's distortion, sample fidelity (Frechet / kernel distance, "
                          "precision / recall), sampled-token utilization",
              scales=config.SCALES, cells=cells.list_cells, summary=summary.PriorSummary,
              claims=claims.CLAIMS, version=1, requires=cells.requirements)
