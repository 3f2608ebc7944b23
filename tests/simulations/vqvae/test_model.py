"""The VQ-VAE model: token grids per shape, the architecture's layout, float32 quantizer under autocast."""

import pytest
import torch

from vqmatch.simulations.engines.quantizers import make_quantizer
from vqmatch.simulations.vqvae.model import (
    SHAPES,
    VQVAE,
    AttnBlock,
    Downsample,
    ModelShape,
    ResBlock,
    Upsample,
)


def _model(shape, k=16, name="vanilla"):
    torch.manual_seed(0)
    return VQVAE(make_quantizer(name, k, 8, seed=0, reduction="mean"), shape)


@pytest.mark.parametrize(("shape", "tokens"), [("tiny", 8), ("cifar", 8), ("imagenet", 16)])
def test_token_grid_per_shape(shape, tokens):
    model = _model(shape).eval()
    r = SHAPES[shape].resolution
    with torch.no_grad():
        out = model(torch.rand(1, 3, r, r) * 2 - 1)
    assert SHAPES[shape].tokens == tokens
    assert out.z_e.shape == (1, 8, tokens, tokens)
    assert out.quant.indices.shape == (1, tokens, tokens)
    assert out.recon.shape == (1, 3, r, r)
    assert out.z_e.dtype == torch.float32


def _count(module, kind):
    return sum(isinstance(m, kind) for m in module.modules())


def test_cifar_layout_matches_the_authors_description():
    model = _model("cifar")
    enc, dec = model.encoder, model.decoder
    # 3 levels x 2 blocks in the encoder + 2 in the mid block; 3 x 3 + 2 in the decoder
    assert _count(enc, ResBlock) == 3 * 2 + 2
    assert _count(dec, ResBlock) == 3 * 3 + 2
    # attention after every block of the lowest level only, plus the mid block's
    assert _count(enc, AttnBlock) == 2 + 1
    assert _count(dec, AttnBlock) == 3 + 1
    assert _count(enc, Downsample) == 2 and _count(dec, Upsample) == 2
    assert [lvl[0].conv1.out_channels for lvl in enc.levels] == [64, 64, 128]
    assert enc.conv_out.out_channels == 256 and dec.conv_in.in_channels == 256
    assert model.pre_quant.out_channels == 8 and model.post_quant.in_channels == 8
    norms = [m for m in model.modules() if isinstance(m, torch.nn.GroupNorm)]
    assert all(m.num_groups == 32 and m.eps == 1e-6 for m in norms)


def test_model_shape_validation():
    with pytest.raises(ValueError, match="norm_groups"):
        ModelShape(resolution=32, ch=16, ch_mult=(1, 2))
    with pytest.raises(ValueError, match="divisible"):
        ModelShape(resolution=30, ch=32, ch_mult=(1, 2, 2))
    with pytest.raises(ValueError, match="shape must be one of"):
        _model("huge")
    with pytest.raises(ValueError, match=r"x must have shape"):
        _model("tiny")(torch.zeros(1, 3, 18, 16))
    with torch.no_grad():  # any multiple of the factor: 16x24 -> 4x6 tokens
        assert _model("tiny").eval()(torch.zeros(1, 3, 16, 24)).quant.indices.shape == (1, 4, 6)


def test_quantizer_runs_in_float32_under_bf16_autocast():
    model = _model("tiny", name="wasserstein")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.z_e.dtype == torch.float32 and out.quant.quantized.dtype == torch.float32
    loss = (out.recon.float() - x).pow(2).mean() + out.quant.loss
    loss.backward()
    assert torch.isfinite(loss)
    assert model.quantizer.weight.grad is not None


def test_straight_through_gradient_reaches_the_encoder():
    model = _model("tiny")
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = model(x)
    (out.recon - x).pow(2).mean().backward()  # reconstruction loss only
    assert model.encoder.conv_in.weight.grad.abs().sum() > 0
