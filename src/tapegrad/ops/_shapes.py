"""Shape, axis and broadcasting helpers that every op family uses.

A leaf of the op library: it imports only the core, and every family may
import it (families never import each other in a circle; see
tests/test_imports.py)."""
import numpy as np

from tapegrad._core import Tensor, Variable, as_tensor, broadcast_scalar, sum_to_shape
from tapegrad.errors import InvalidArgumentError

__all__ = ["as_tensor", "shape_of", "ndim_of", "static_shape", "neg_axis", "sum_to_shape", "unbroadcast",
           "broadcast_scalar"]


def shape_of(x):
    """The shape of a Tensor, Variable, array or Python value, as a tuple."""
    v = x._value if isinstance(x, (Tensor, Variable)) else x
    try:
        return v.shape               # ndarrays and NumPy scalars: already a tuple
    except AttributeError:
        return tuple(np.shape(v))    # Python numbers and lists (np.shape is slow: ~0.5 us)


def ndim_of(x):
    v = x._value if isinstance(x, (Tensor, Variable)) else x
    try:
        return v.ndim
    except AttributeError:
        return np.ndim(v)


def static_shape(shape, what="shape"):
    """A shape argument (list, tuple, int or integer tensor) as a tuple of ints."""
    if isinstance(shape, (Tensor, Variable)):
        shape = np.asarray(shape).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        dims = list(shape)
    except TypeError:
        raise TypeError(f"{what} must be a list of integers, got {shape!r}") from None
    for d in dims:
        if isinstance(d, (float, np.floating, complex, np.complexfloating, bool, np.bool_)):
            # TensorFlow: an int32/int64-only attr given a float tensor
            raise InvalidArgumentError(f"{what} must be a list of integers (int32 or int64), got {shape!r}")
    try:
        return tuple(int(d) for d in dims)
    except TypeError:
        raise TypeError(f"{what} must be a list of integers, got {shape!r}") from None


def neg_axis(axis, nd, op):
    """An axis as a negative index (so leading batch axes do not move it)."""
    if isinstance(axis, (Tensor, Variable)):
        axis = np.asarray(axis).item()
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}")
    axis = int(axis)
    if not -nd <= axis < nd:
        raise InvalidArgumentError(f"{op}: axis {axis} is out of range for a tensor of rank {nd}")
    return axis - nd if axis >= 0 else axis


def unbroadcast(g, shape, out_ndim):
    """sum_to_shape for a rule whose output has rank out_ndim: the axes of g
    beyond that are batch axes."""
    if shape_of(g) == shape:
        return g                     # the common case: nothing broadcast, no batch axes
    return sum_to_shape(g, shape, ndim_of(g) - out_ndim)
