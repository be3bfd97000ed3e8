"""autograd.misc.flatten: a pytree as one vector and back.

``flatten(value) -> (vector, unflatten)``: leaves in autograd's order (dict
entries by sorted key, lists and tuples in order, each array raveled in C
order), concatenated; ``unflatten(vector)`` rebuilds the containers with
ndarray leaves (scalars as 0-d arrays).  Both are differentiable: inside a
transform they work on tapegrad tensors."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad import _nest
from tapegrad.autograd.differential_operators import _leaf, _out, _validate
from tapegrad.functional import ravel_pytree

__all__ = ["flatten", "flatten_func"]


def flatten(value: Any) -> tuple[Any, Callable[[Any], Any]]:
    """(vector, unflatten) for a pytree of floats and arrays."""
    _validate(value)
    leaves = [_leaf(x) for x in _nest.flatten(value)]       # autograd's type rules (no ints)
    tree = _nest.pack_sequence_as(value, leaves) if _nest.is_nested(value) else leaves[0]
    vector, unravel = ravel_pytree(tree)
    if not leaves:
        vector = np.zeros(0)

    def unflatten(v):
        return _out(unravel(v), True)
    return _out(vector, True), unflatten


def flatten_func(func: Callable[..., Any], example: Any) -> tuple[Callable[..., Any], Callable[[Any], Any], Any]:
    """(flat_func, unflatten, flat_example): flat_func(v, *args) is
    flatten(func(unflatten(v), *args))[0]."""
    flat_example, unflatten = flatten(example)

    def flat_func(v, *args, **kwargs):
        return flatten(func(unflatten(v), *args, **kwargs))[0]
    return flat_func, unflatten, flat_example
