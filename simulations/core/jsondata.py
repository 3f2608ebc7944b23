"""Typed data exchanged as JSON: a base for frozen dataclasses (study summaries, estimates).

A subclass is a frozen dataclass declared with ``eq=False`` (so that it keeps the NaN-safe equality
here) whose fields are numbers, strings, booleans, None, other :class:`JsonData`, or tuples, lists
and dicts of those. :meth:`JsonData.to_json` writes plain JSON types; :meth:`JsonData.from_json`
reads them back using the field annotations, so that ``from_json(to_json(x)) == x``. JSON has no
NaN: a NaN is written as null and read back as NaN where the field is a float; two summaries are
equal when their JSON forms are (NaN equal to NaN). ``to_json`` then ``from_json`` gives back the
same JSON text.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from typing import Any, Union


class JsonData:
    """Mixin of a frozen dataclass with :meth:`to_json` / :meth:`from_json`."""

    def to_json(self) -> dict:
        """The fields as plain JSON types (tuples as lists, NaN as None, dict keys as strings)."""
        return {f.name: encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_json(cls, data: dict):
        """The inverse of :meth:`to_json`; a field missing from ``data`` takes its default."""
        hints = _hints(cls)
        return cls(**{f.name: decode(hints[f.name], data[f.name])
                      for f in dataclasses.fields(cls) if f.init and f.name in data})

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True))


@functools.cache
def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def encode(value: Any) -> Any:
    """``value`` as plain JSON types."""
    if isinstance(value, JsonData):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return encode(value.tolist())
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def decode(tp: Any, value: Any) -> Any:
    """``value`` (plain JSON) as the annotated type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        return decode(rest[0], value) if len(rest) == 1 else value
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, JsonData):
        return tp.from_json(value)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in value)
        return tuple(decode(a, v) for a, v in zip(args, value, strict=True))
    if origin is list:
        return [decode(args[0], v) for v in value]
    if origin is dict:
        key, val = args
        return {decode_key(key, k): decode(val, v) for k, v in value.items()}
    if tp is float:  # an integer written as such stays one (a count of degrees of freedom)
        return math.nan if value is None else value if isinstance(value, int) else float(value)
    if tp is int:
        return int(value)
    if tp is bool:
        return bool(value)
    return value


def decode_key(tp: Any, key: str) -> Any:
    """A dict key written as a string, read back as ``tp`` (str, int or float)."""
    return tp(key) if tp in (int, float) else key
