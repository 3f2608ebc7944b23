"""The paper's VQ-VAE (Fang et al., arXiv 2506.15078) with any quantizer of
:mod:`vqmatch.simulations.engines.quantizers`, on CPU or GPU (``torchrun`` for several GPUs).

    from vqmatch.simulations.vqvae import TrainConfig, apply_overrides, preset, train
    result = train(apply_overrides(preset("quick-cpu"), ["quantizer=ema"]), out_dir="out/vqvae/ema")

Modules: ``model`` (encoder/decoder, shapes), ``data`` (builtin photographs, CIFAR-10, SVHN, image
folders; ``make_loaders``), ``config`` (``TrainConfig``, presets, overrides, per-quantizer settings),
``train`` (the loop), ``metrics`` (PSNR, SSIM, held-out evaluation), ``checkpoint`` (atomic
checkpoints), ``distributed`` (DDP with the quantizer on the global batch).
"""

from .config import PRESETS, TrainConfig, apply_overrides, preset, quantizer_settings
from .data import make_loaders
from .model import SHAPES, VQVAE, ModelShape
from .train import TrainResult, train  # (binds the name ``train`` to the function, not the module)

__all__ = ["PRESETS", "SHAPES", "VQVAE", "ModelShape", "TrainConfig", "TrainResult", "apply_overrides",
           "make_loaders", "preset", "quantizer_settings", "train"]

