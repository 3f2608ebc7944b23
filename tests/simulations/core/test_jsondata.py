"""The JSON form of typed data: nested dataclasses, tuples, optional fields, dict keys, NaN."""

import json
import math
from dataclasses import dataclass

from vqmatch.simulations.core.jsondata import JsonData
from vqmatch.simulations.core.stats import Estimate, TTest


@dataclass(frozen=True, eq=False)
class Inner(JsonData):
    name: str
    values: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Outer(JsonData):
    inner: tuple[Inner, ...]
    by_k: dict[int, float]
    estimate: Estimate
    test: TTest | None
    note: str | None = None
    pair: tuple[int, float] = (0, 0.0)


def _round_trip(x):
    return type(x).from_json(json.loads(json.dumps(x.to_json())))


def test_nested_typed_data_round_trips():
    x = Outer((Inner("a", (1.0, math.nan)),), {64: 0.5, 1024: math.inf},
              Estimate(1.0, 0.5, 1.5, 0.2, 4, 5), None, pair=(3, 2.5))
    back = _round_trip(x)
    assert back == x and isinstance(back.inner[0], Inner) and back.by_k == {64: 0.5, 1024: math.inf}
    assert isinstance(back.inner[0].values, tuple) and math.isnan(back.inner[0].values[1])
    assert back.test is None and back.note is None and back.pair == (3, 2.5)
    assert x.to_json()["inner"][0]["values"] == [1.0, None]  # NaN is JSON null


def test_missing_fields_take_their_defaults_and_equality_sees_values():
    x = Outer((), {}, Estimate(1.0, 0.5, 1.5, 0.2, 4, 5), None, note="n")
    data = x.to_json()
    del data["note"]
    assert Outer.from_json(data).note is None
    assert Outer.from_json(data) != x
    assert hash(_round_trip(x)) == hash(x)
