"""Small helpers with TensorFlow names that are plain compositions."""
import functools

from tapegrad.ops.reduction_ops import norm
from tapegrad.ops.math_ops import maximum
from tapegrad._core import as_tensor


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_relax_shapes=None, **kwargs):
    """tf.function: tapegrad runs eagerly, so this returns the function
    unchanged (TensorFlow's traced graph gives the same values)."""
    if func is None:
        return lambda f: function(f)
    functools.update_wrapper(func, func)
    return func


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(norm(t), clip_norm), differentiable as in TF."""
    t = as_tensor(t)
    n = norm(t, axis=axes, keepdims=True)
    return t * clip_norm / maximum(n, clip_norm)
