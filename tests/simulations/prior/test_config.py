"""PriorConfig validation, presets (and their sizes) and key=value overrides."""

import dataclasses

import pytest

from vqmatch.simulations.prior import PRESETS, PriorConfig, apply_overrides, build_prior, preset


def test_presets_are_valid_and_sized_as_documented():
    assert set(PRESETS) == {"quick-cpu", "paper-8x8", "paper-16x16", "tiny"}
    params = {name: sum(p.numel() for p in build_prior(preset(name), k, 64 if name != "paper-16x16" else 256)
                        .parameters()) for name, k in (("quick-cpu", 1024), ("paper-8x8", 16384),
                                                       ("paper-16x16", 16384), ("tiny", 1024))}
    assert 0.5e6 < params["quick-cpu"] < 1.5e6  # the config docstring's counts
    assert 40e6 < params["paper-8x8"] < 70e6 and 90e6 < params["paper-16x16"] < 130e6
    assert params["tiny"] < 0.2e6
    assert preset("quick-cpu").grid == (8, 8) and preset("paper-16x16").grid == (16, 16)


def test_unknown_preset_names_the_parameter():
    with pytest.raises(ValueError, match="preset must be one of"):
        preset("gpt-4")


def test_overrides_parse_and_type_check():
    c = apply_overrides(preset("quick-cpu"), ["steps=200", "--lr=3e-4", "grid=(16, 16)", "device=cpu",
                                              "betas=(0.9, 0.99)", "tie_weights=True", "dropout=0.1",
                                              "weight_decay=0", "n-layer=2"])
    assert (c.steps, c.lr, c.grid, c.device, c.betas, c.tie_weights, c.n_layer) == \
        (200, 3e-4, (16, 16), "cpu", (0.9, 0.99), True, 2)
    assert isinstance(c.weight_decay, float)
    assert apply_overrides(c, ["grid=None"]).grid is None
    assert PriorConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize(("item", "message"), [
    ("learning_rate=1", "unknown config key 'learning_rate'"),
    ("steps", "must look like key=value"),
    ("lr=fast", "is not a Python literal"),
    ("steps=1.5", "steps must be <class 'int'>"),
    ("tie_weights=1", "tie_weights must be <class 'bool'>"),
    ("betas=(0.9,)", "betas must be"),
    ("grid=(8, 8, 8)", "grid must be"),
    ("device=tpu", "device must be one of"),
    ("precision=fp16", "precision must be one of"),
    ("steps=0", "steps must be a positive integer"),
    ("lr=-1.0", "lr must be a finite non-negative number"),
    ("n_embd=130", "n_embd=130 must be a multiple of n_head=4"),
    ("dropout=1.0", "dropout must be in"),
    ("min_lr_ratio=2.0", "min_lr_ratio must be in"),
    ("grid=(0, 8)", "grid must be None or two positive integers"),
])
def test_override_errors_name_the_parameter(item, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(preset("quick-cpu"), [item])


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown config key"):
        PriorConfig.from_dict({"steps": 3, "layers": 2})
    assert dataclasses.replace(PriorConfig(), steps=3) == PriorConfig.from_dict({"steps": 3})
