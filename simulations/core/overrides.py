"""``key=value`` overrides and dict round trips of frozen configuration dataclasses (the VQ-VAE's
``TrainConfig``, the prior's ``PriorConfig``): one parser, one type check, one unknown-key check."""

from __future__ import annotations

import ast
import dataclasses
import types
import typing


def fits(value, hint) -> bool:
    """Whether a parsed literal fits a field's type hint: int, float (an int fits), bool, str,
    tuples (fixed length, ``...`` or bare; a dict fits a bare ``tuple``: a mapping field stored as
    items), None and unions of these."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        return isinstance(value, (int,) if hint is int else (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is tuple or origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (tuple, list)):
            return isinstance(value, dict) and hint is tuple
        if len(args) == 2 and args[1] is Ellipsis:
            return all(fits(v, args[0]) for v in value)
        return not args or (len(args) == len(value)
                            and all(fits(v, a) for v, a in zip(value, args, strict=True)))
    return False


def apply_overrides(config, overrides: typing.Iterable[str]):
    """A copy of the dataclass ``config`` with ``key=value`` overrides applied (a leading ``--`` and
    dashes in the key are allowed). Values are Python literals (``ast.literal_eval``; a bare word is
    a string where the field takes one), checked against the field's type hint; floats are stored
    as floats and lists as tuples. An unknown key, a missing ``=`` or a value of the wrong type
    raises ValueError naming it; the new config validates itself as any instance does."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a configuration dataclass, got {type(config).__name__}")
    if isinstance(overrides, str):
        raise ValueError(f"overrides must be a list of 'key=value' strings, got the string {overrides!r}")
    hints = typing.get_type_hints(type(config))
    changes = {}
    for item in overrides:
        key, sep, text = str(item).removeprefix("--").partition("=")
        key, text = key.strip().replace("-", "_"), text.strip()
        if not sep:
            raise ValueError(f"override {item!r} must look like key=value")
        if key not in hints:
            raise ValueError(f"unknown config key {key!r} in override {item!r}; known: {sorted(hints)}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
            if not fits(value, hints[key]):
                raise ValueError(f"override {item!r}: {text!r} is not a Python literal") from None
        if not fits(value, hints[key]):
            raise ValueError(f"override {item!r}: {key} must be {hints[key]}, got {type(value).__name__} "
                             f"{value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and fits(1.5, hints[key]):
            value = float(value)  # a float field given an integer literal
        changes[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(config, **changes)


def known_keys(cls, d) -> dict:
    """``d`` (a ``to_dict`` dict of the dataclass ``cls``) with its lists as tuples; a ValueError
    when it is not a dict or names a key ``cls`` does not have."""
    if not isinstance(d, dict):
        raise ValueError(f"a {cls.__name__} dict must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; known: {sorted(known)}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


__all__ = ["apply_overrides", "fits", "known_keys"]
