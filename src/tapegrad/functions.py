"""Small helpers with TensorFlow names that are plain compositions
(clip_by_norm lives with the reductions, in tapegrad.ops.reduction_ops)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def function(func: Callable[..., Any] | None = None, input_signature: Any = None, autograph: bool = True,
             jit_compile: bool | None = None, reduce_retracing: bool = False,
             experimental_relax_shapes: bool | None = None, **kwargs: Any) -> Any:
    """tf.function: tapegrad runs eagerly, so this returns the function
    unchanged (TensorFlow's traced graph gives the same values)."""
    if func is None:
        return lambda f: function(f)
    functools.update_wrapper(func, func)
    return func
