"""The one override parser and dict check of the configuration dataclasses: literals checked against
the field's type hint, floats stored as floats, lists as tuples, one clear error per bad item."""

from dataclasses import dataclass

import pytest

from vqmatch.simulations.core.overrides import apply_overrides, fits, known_keys


@dataclass(frozen=True)
class Config:
    steps: int = 1
    lr: float = 0.1
    beta: float | None = None
    name: str = "a"
    grid: tuple[int, int] | None = None
    sizes: tuple[int, ...] = ()
    options: tuple = ()
    flag: bool = False


@pytest.mark.parametrize(("value", "hint", "ok"), [
    (3, int, True), (True, int, False), (3, float, True), (3.5, int, False), (None, float | None, True),
    ((8, 8), tuple[int, int], True), ((8,), tuple[int, int], False), ([1, 2, 3], tuple[int, ...], True),
    ((1, "x"), tuple[int, ...], False), ({"a": 1}, tuple, True), ({"a": 1}, tuple[int, int], False),
    ("x", str | None, True), (1, bool, False),
])
def test_fits(value, hint, ok):
    assert fits(value, hint) is ok


def test_overrides_parse_coerce_and_keep_the_rest():
    c = apply_overrides(Config(), ["steps=5", "--lr=1", "beta=2", "name=bee", "grid=[4, 4]",
                                   "sizes=(1, 2, 3)", "options={'k': 1}", "flag=True"])
    assert c == Config(5, 1.0, 2.0, "bee", (4, 4), (1, 2, 3), {"k": 1}, True)
    assert isinstance(c.lr, float) and isinstance(c.beta, float) and isinstance(c.steps, int)
    assert apply_overrides(Config(), []) == Config()


@pytest.mark.parametrize(("item", "message"), [
    ("nope=1", "unknown config key 'nope'"), ("steps", "must look like key=value"),
    ("lr=fast", "is not a Python literal"), ("steps=1.5", "steps must be <class 'int'>"),
    ("grid=(1, 2, 3)", "grid must be"),
])
def test_bad_overrides_name_the_item(item, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        apply_overrides(Config(), [item])


def test_bad_arguments():
    with pytest.raises(ValueError, match="a list of 'key=value' strings"):
        apply_overrides(Config(), "steps=2")
    with pytest.raises(TypeError, match="configuration dataclass"):
        apply_overrides(Config, ["steps=2"])


def test_known_keys():
    assert known_keys(Config, {"steps": 2, "sizes": [1, 2]}) == {"steps": 2, "sizes": (1, 2)}
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['x'\]"):
        known_keys(Config, {"x": 1})
    with pytest.raises(ValueError, match="a Config dict must be a JSON object"):
        known_keys(Config, [1])
