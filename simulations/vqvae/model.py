"""The paper's VQ-VAE: a taming-transformers-style convolutional encoder and decoder around any quantizer
of :mod:`vqmatch.simulations.engines.quantizers` (our own implementation of the architecture of the authors'
``code/VQVAE/model/encoder_decoder.py`` in github.com/VQ-Research/Wasserstein-VQ, itself adapted from
taming-transformers; paper_notes.md, VQ-VAE section, lists its facts).

Encoder: ``conv_in`` (3x3, 3 -> ch); one level per entry of ``ch_mult`` with ``num_res_blocks``
residual blocks of ``ch * ch_mult[i]`` channels, a single-head attention block after each block of the
LOWEST resolution level only, and a stride-2 3x3 downsample (zero padding right/bottom) after every
level but the last; a middle Res-Attn-Res block; GroupNorm, swish, ``conv_out`` to ``z_channels``.
Decoder: the mirror image with ``num_res_blocks + 1`` blocks per level and nearest x2 upsampling +
3x3 conv; no output activation (training uses the raw output, evaluation clamps to [-1, 1]).
A 1x1 conv maps ``z_channels -> codebook_dim`` before the quantizer and back after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SHAPES", "VQVAE", "ModelShape", "VQVAEOutput"]


@dataclass(frozen=True)
class ModelShape:
    """Encoder/decoder hyper-parameters. The token grid is ``resolution / 2**(len(ch_mult) - 1)``."""

    resolution: int  # nominal input side (any multiple of the downsampling factor works)
    ch: int  # base channel count
    ch_mult: tuple[int, ...]  # channels per level, in units of ch
    num_res_blocks: int = 2  # encoder blocks per level (decoder: one more)
    z_channels: int = 256  # encoder output channels, before the 1x1 projection to codebook_dim
    norm_groups: int = 32  # GroupNorm groups (must divide every channel count)
    dropout: float = 0.0

    def __post_init__(self):
        if not self.ch_mult or any(m < 1 for m in self.ch_mult):
            raise ValueError(f"ch_mult must be a non-empty tuple of positive ints, got {self.ch_mult!r}")
        factor = 2 ** (len(self.ch_mult) - 1)
        if self.resolution % factor:
            raise ValueError(f"resolution={self.resolution} is not divisible by the downsampling factor "
                             f"{factor} of ch_mult={self.ch_mult}")
        for c in {self.ch * m for m in self.ch_mult} | {self.z_channels}:
            if c % self.norm_groups:
                raise ValueError(f"norm_groups={self.norm_groups} must divide every channel count, "
                                 f"got {c} channels")

    @property
    def factor(self) -> int:
        """Downsampling factor from pixels to tokens."""
        return 2 ** (len(self.ch_mult) - 1)

    @property
    def tokens(self) -> int:
        """Side of the token grid at the nominal resolution."""
        return self.resolution // self.factor


SHAPES: dict[str, ModelShape] = {
    # CIFAR-10 / SVHN in the paper: 32x32 -> 8x8 tokens
    "cifar": ModelShape(resolution=32, ch=64, ch_mult=(1, 1, 2)),
    # FFHQ / ImageNet in the paper: 256x256 -> 16x16 tokens
    "imagenet": ModelShape(resolution=256, ch=64, ch_mult=(1, 1, 2, 2, 4)),
    # CPU tests and the quick preset: 32x32 -> 8x8 tokens, 16-32 channels, one block per level
    "tiny": ModelShape(resolution=32, ch=16, ch_mult=(1, 2, 2), num_res_blocks=1, z_channels=32,
                       norm_groups=8),
}


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(groups, channels, eps=1e-6, affine=True)


class ResBlock(nn.Module):
    """GroupNorm - swish - 3x3 conv - GroupNorm - swish - dropout - 3x3 conv, plus a (1x1) shortcut."""

    def __init__(self, c_in: int, c_out: int, groups: int, dropout: float):
        super().__init__()
        self.norm1, self.conv1 = _norm(c_in, groups), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = _norm(c_out, groups), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.dropout = nn.Dropout(dropout)
        self.shortcut = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.shortcut(x) + h


class AttnBlock(nn.Module):
    """Single-head self-attention over the spatial positions with 1x1 q/k/v/output projections."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.norm = _norm(channels, groups)
        self.q, self.k, self.v, self.proj = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        y = self.norm(x)
        q, k, v = (f(y).reshape(b, 1, c, h * w).transpose(2, 3) for f in (self.q, self.k, self.v))
        out = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(c)) v
        return x + self.proj(out.transpose(2, 3).reshape(b, c, h, w))


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _level(c_in: int, c_out: int, n_blocks: int, attn: bool, s: ModelShape) -> nn.ModuleList:
    layers = nn.ModuleList()
    for i in range(n_blocks):
        layers.append(ResBlock(c_in if i == 0 else c_out, c_out, s.norm_groups, s.dropout))
        if attn:
            layers.append(AttnBlock(c_out, s.norm_groups))
    return layers


def _mid(c: int, s: ModelShape) -> nn.Sequential:
    return nn.Sequential(ResBlock(c, c, s.norm_groups, s.dropout), AttnBlock(c, s.norm_groups),
                         ResBlock(c, c, s.norm_groups, s.dropout))


class Encoder(nn.Module):
    def __init__(self, s: ModelShape, in_channels: int = 3):
        super().__init__()
        chans = [s.ch * m for m in s.ch_mult]
        last = len(chans) - 1
        self.conv_in = nn.Conv2d(in_channels, s.ch, 3, padding=1)
        self.levels = nn.ModuleList()
        c_in = s.ch
        for i, c in enumerate(chans):
            level = _level(c_in, c, s.num_res_blocks, attn=i == last, s=s)
            if i != last:
                level.append(Downsample(c))
            self.levels.append(level)
            c_in = c
        self.mid = _mid(c_in, s)
        self.norm_out = _norm(c_in, s.norm_groups)
        self.conv_out = nn.Conv2d(c_in, s.z_channels, 3, padding=1)

    def forward(self, x):
        h = self.conv_in(x)
        for level in self.levels:
            for layer in level:
                h = layer(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    def __init__(self, s: ModelShape, out_channels: int = 3):
        super().__init__()
        chans = [s.ch * m for m in s.ch_mult]
        last = len(chans) - 1
        c_in = chans[-1]
        self.conv_in = nn.Conv2d(s.z_channels, c_in, 3, padding=1)
        self.mid = _mid(c_in, s)
        self.levels = nn.ModuleList()
        for i in reversed(range(len(chans))):
            level = _level(c_in, chans[i], s.num_res_blocks + 1, attn=i == last, s=s)
            if i != 0:
                level.append(Upsample(chans[i]))
            self.levels.append(level)
            c_in = chans[i]
        self.norm_out = _norm(c_in, s.norm_groups)
        self.conv_out = nn.Conv2d(c_in, out_channels, 3, padding=1)

    def forward(self, z):
        h = self.mid(self.conv_in(z))
        for level in self.levels:
            for layer in level:
                h = layer(h)
        return self.conv_out(F.silu(self.norm_out(h)))


@dataclass
class VQVAEOutput:
    """``recon``: raw decoder output (B, 3, H, W); ``z_e``: the projected encoder features that the
    quantizer saw (B, codebook_dim, h, w), float32; ``quant``: the quantizer's ``QuantizerOutput``."""

    recon: torch.Tensor
    z_e: torch.Tensor
    quant: object


class VQVAE(nn.Module):
    """Encoder -> 1x1 projection -> ``quantizer`` -> 1x1 projection -> decoder.

    Parameters
    ----------
    quantizer : a quantizer module of :mod:`vqmatch.simulations.engines.quantizers` (``make_quantizer``); its
        ``codebook_dim`` sets the projection width.
    shape : a name in :data:`SHAPES` ("cifar", "imagenet", "tiny") or a :class:`ModelShape`.

    The quantizer always runs in float32 with autocast disabled (its statistics need the precision);
    the convolutions follow the caller's autocast. When ``torch.distributed`` is initialised with
    several ranks and the model is in training mode, the quantizer sees the GLOBAL batch
    (:func:`vqmatch.simulations.vqvae.distributed.global_quantize`; set ``global_batch = False`` to opt out).
    """

    def __init__(self, quantizer: nn.Module, shape: str | ModelShape = "cifar"):
        super().__init__()
        if isinstance(shape, str):
            if shape not in SHAPES:
                raise ValueError(f"shape must be one of {tuple(SHAPES)} or a ModelShape, got shape={shape!r}")
            shape = SHAPES[shape]
        self.shape = shape
        dim = quantizer.codebook_dim
        self.encoder = Encoder(shape)
        self.pre_quant = nn.Conv2d(shape.z_channels, dim, 1)
        self.quantizer = quantizer
        self.post_quant = nn.Conv2d(dim, shape.z_channels, 1)
        self.decoder = Decoder(shape)
        self.global_batch = True

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Projected encoder features (B, codebook_dim, H / f, W / f) in float32 (f = shape.factor)."""
        f = self.shape.factor
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"x must have shape (B, 3, H, W) with H and W multiples of {f}, "
                             f"got {tuple(x.shape)}")
        return self.pre_quant(self.encoder(x)).float()

    def quantize(self, z_e: torch.Tensor):
        from .distributed import global_quantize

        with torch.autocast(z_e.device.type, enabled=False):
            return global_quantize(self.quantizer, z_e, enabled=self.training and self.global_batch)

    def decode(self, z_q: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.post_quant(z_q))

    def forward(self, x: torch.Tensor) -> VQVAEOutput:
        z_e = self.encode(x)
        quant = self.quantize(z_e)
        return VQVAEOutput(recon=self.decode(quant.quantized), z_e=z_e, quant=quant)
