"""TrainConfig validation, presets, key=value overrides and the per-quantizer settings."""

import pytest

from vqmatch.simulations.engines.quantizers import QUANTIZERS
from vqmatch.simulations.vqvae.config import (
    MATCHING,
    PRESETS,
    TrainConfig,
    apply_overrides,
    preset,
    quantizer_settings,
)


def test_overrides_parse_and_type_check():
    c = apply_overrides(TrainConfig(), ["lr=1e-4", "--codebook_size=512", "quantizer=ema", "beta=None",
                                        "amp=False", "adam_betas=(0.5, 0.9)", "data_root=/tmp/x",
                                        "quantizer_options={'decay': 0.9}", "lr_schedule='warmup_cosine'",
                                        "codebook_lr=1"])
    assert (c.lr, c.codebook_size, c.quantizer, c.beta, c.amp) == (1e-4, 512, "ema", None, False)
    assert c.adam_betas == (0.5, 0.9) and c.data_root == "/tmp/x" and c.lr_schedule == "warmup_cosine"
    assert c.quantizer_options == (("decay", 0.9),)
    assert isinstance(c.codebook_lr, float) and c.codebook_lr == 1.0
    assert hash(c) == hash(apply_overrides(TrainConfig(), ["quantizer_options={'decay': 0.9}", "lr=1e-4",
                                                           "codebook_size=512", "quantizer=ema", "beta=None",
                                                           "amp=False", "adam_betas=(0.5, 0.9)",
                                                           "data_root=/tmp/x", "codebook_lr=1.0",
                                                           "lr_schedule=warmup_cosine"]))


@pytest.mark.parametrize(("item", "message"), [
    ("learning_rate=1", "unknown config key 'learning_rate'"),
    ("lr", "must look like key=value"),
    ("lr=fast", "is not a Python literal"),
    ("codebook_size=1.5", "codebook_size must be <class 'int'>"),
    ("amp=1", "amp must be <class 'bool'>"),
    ("adam_betas=(0.9,)", "adam_betas must be"),
    ("quantizer=3", "quantizer must be <class 'str'>"),
    ("quantizer=nonexistent", "quantizer must be one of"),
    ("steps=0", "steps must be a positive integer"),
    ("lr=-1.0", "lr must be a finite non-negative number"),
    ("lr=__import__('os')", "is not a Python literal"),
])
def test_override_errors_name_the_problem(item, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(TrainConfig(), [item])


def test_config_validation():
    with pytest.raises(ValueError, match="gamma is the matching-loss weight"):
        TrainConfig(quantizer="vanilla", gamma=0.5)
    with pytest.raises(ValueError, match="multiple of the downsampling factor 16 of shape 'imagenet'"):
        TrainConfig(shape="imagenet", resolution=40)
    with pytest.raises(ValueError, match="dataset must be one of"):
        TrainConfig(dataset="mnist")
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("paper-mnist")


def test_presets_are_the_papers_settings():
    assert set(PRESETS) == {"paper-cifar10", "paper-svhn", "paper-ffhq", "paper-imagenet", "quick-cpu"}
    c = preset("paper-cifar10")
    assert (c.shape, c.batch_size, c.lr, c.codebook_dim, c.adam_betas) == ("cifar", 128, 5e-5, 8, (0.9, 0.95))
    assert c.steps == 50 * (50_000 // 128)
    f, i = preset("paper-ffhq"), preset("paper-imagenet")
    assert (f.shape, f.resolution, f.batch_size, f.lr_schedule) == ("imagenet", 256, 32, "constant")
    assert (i.lr_schedule, i.warmup_steps, i.decay_steps) == ("warmup_cosine", 5000, 50_000)
    assert i.min_lr_ratio == 0.2
    assert f.steps == 30 * (70_000 // 32) and i.steps == 4 * 40_036


@pytest.mark.parametrize("name", QUANTIZERS)
def test_quantizer_settings(name):
    s = quantizer_settings(TrainConfig(quantizer=name, codebook_size=128))
    opts = s["options"]
    assert opts["reduction"] == "mean" and opts["alpha"] == 1.0
    if name in MATCHING:
        assert (opts["beta"], opts["weight"], s["codebook_lr"]) == (0.1, 0.5, 0.02)
        assert (opts["init"], opts["init_scale"]) == ("gaussian", 0.01)
    else:
        assert opts["beta"] == 1.0 and s["codebook_lr"] is None and "weight" not in opts
    if name in ("wasserstein", "density_wasserstein"):
        assert opts["queue_size"] == 65536
    if name == "ema":
        assert (opts["decay"], opts["init_scale"]) == (0.8, 1 / 128)
    if name in ("vanilla", "online"):
        assert (opts["init"], opts["init_scale"]) == ("uniform", 1 / 128)


def test_explicit_beta_codebook_lr_and_options_win():
    s = quantizer_settings(TrainConfig(quantizer="vanilla", beta=0.25, codebook_lr=0.02,
                                       quantizer_options={"init_scale": 0.5}))
    assert (s["options"]["beta"], s["codebook_lr"], s["options"]["init_scale"]) == (0.25, 0.02, 0.5)
    s = quantizer_settings(TrainConfig(quantizer="wasserstein", beta=1.0, gamma=2.0, codebook_lr=5e-5))
    assert (s["options"]["beta"], s["options"]["weight"], s["codebook_lr"]) == (1.0, 2.0, 5e-5)


def test_dict_round_trip():
    c = TrainConfig(quantizer="online", quantizer_options={"anchor": "farthest"}, adam_betas=(0.8, 0.9))
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert TrainConfig.from_dict({"lr": 0.1}).lr == 0.1
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['nope'\]"):
        TrainConfig.from_dict({"nope": 1})
