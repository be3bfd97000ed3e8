"""Sorting: tf.math.top_k, tf.sort, tf.argsort.

TensorFlow sorts with its TopKV2 kernel (ascending order sorts the negated
values), so both directions are stable: equal values keep their original
order.  The one differentiable op is top_k along the last axis; its gradient
scatters the cotangent back to the positions the values came from (a
scatter, linear in the cotangent: second derivatives are None, as in
TensorFlow).
"""
import builtins
import collections

import numpy as np

from tapegrad import dtypes
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, neg_axis, shape_of
from tapegrad.ops.array_ops import getitem_op, index_params, scatter_op, transpose

TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def _order(x, ascending):
    """Stable sort order along the last axis, in either direction (equal
    values keep their original order)."""
    if ascending:
        return np.argsort(x, axis=-1, kind="stable")
    n = x.shape[-1]
    # stable descending: sort the reversed array stably, then map back and reverse
    return (n - 1) - np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1]


def _top_k_forward(x, k, ascending, index_dtype):
    idx = _order(np.asarray(x), ascending)[..., :k]
    return np.take_along_axis(x, idx, axis=-1), idx.astype(index_dtype)


def _last_axis_key(indices, in_shape):
    """The index tuple picking x[..., indices] (indices shaped like the
    output), as getitem/scatter take it."""
    lead = in_shape[:-1]
    grids = np.meshgrid(*[np.arange(d) for d in lead], indexing="ij") if lead else []
    key = tuple(g[..., None] for g in grids) + (np.asarray(indices, dtype=np.int64),)
    return index_params(key, in_shape)


def _top_k_vjp(g, ans, x, k, ascending, index_dtype):
    g_values = g[0]
    if g_values is None:
        return None
    in_shape = shape_of(x)
    return call(scatter_op, g_values, params=_last_axis_key(raw(ans[1]), in_shape))


def _top_k_jvp(t, ans, x, k, ascending, index_dtype):
    return call(getitem_op, t, params=_last_axis_key(raw(ans[1]), shape_of(x))), None


top_k_op = general("top_k", _top_k_forward, (_top_k_vjp,), save="x,ans", n_out=2, jvps=(_top_k_jvp,))


@op_doc(
    tf="``tf.math.top_k`` (also ``tf.nn.top_k``)",
    numpy="``numpy.argsort(-x, kind='stable')[..., :k]`` and ``numpy.take_along_axis``",
    returns="A named tuple TopKV2(values, indices), each input.shape[:-1] + [k]: the values largest first, and "
            "their positions along the last axis.",
    args={"input": (_docs.TENSOR, "a tensor of rank at least 1; its last axis is searched."),
          "k": ("int or integer scalar Tensor", "how many entries to keep, at most the last axis' length."),
          "sorted": ("bool", "accepted for TensorFlow compatibility; the values always come largest first."),
          "index_type": ("DType", "the dtype of indices (int32 or int64).")},
    dtypes="every real dtype; only floating inputs get gradients (tapegrad also orders complex and bool "
           "inputs, which TensorFlow refuses).",
    derivative="d/d input = g of values scattered back to the positions in indices, zero at the entries not "
               "kept; none for indices.",
    raises="InvalidArgumentError: a scalar input, k < 0 or k larger than the last axis.",
    example="""
        >>> x = tg.constant([[1.0, 3.0, 2.0]])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     values, indices = tg.math.top_k(x, k=2)
        >>> print(values.numpy(), indices.numpy(), tape.gradient(values, x).numpy())
        [[3. 2.]] [[1 2]] [[0. 1. 1.]]
    """)
def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """The k largest entries along the last axis and their indices; equal values keep their original order
    (the lower index first)."""
    t = as_tensor(input)
    shape = shape_of(t)
    if len(shape) == 0:
        raise InvalidArgumentError(f"input must be >= 1-D, got shape {list(shape)} [Op:TopKV2]")
    k = int(np.asarray(k))
    if k < 0:
        raise InvalidArgumentError(f"Need k >= 0, got {k} [Op:TopKV2]")
    if shape[-1] < k:
        raise InvalidArgumentError(f"input must have at least k columns. Had {shape[-1]}, needed {k} [Op:TopKV2]")
    values, indices = apply(top_k_op, (t,), (k, False, dtypes.numpy_dtype(index_type)))
    return TopKV2(values, indices)


_DIRECTIONS = ("ASCENDING", "DESCENDING")


def _sorted_along(values, axis, direction, want_indices):
    if direction not in _DIRECTIONS:
        raise ValueError(f"{direction} should be one of {', '.join(_DIRECTIONS)}")
    if not isinstance(axis, (int, np.integer)):
        raise ValueError("axis must be a constant scalar")
    t = as_tensor(values)
    nd = ndim_of(t)
    if nd == 0:
        raise InvalidArgumentError("input must be >= 1-D, got shape [] [Op:TopKV2]")
    axis = neg_axis(axis, nd, "sort") % nd
    perm = list(builtins.range(nd))
    perm[axis], perm[-1] = perm[-1], perm[axis]         # swapping two axes is its own inverse
    moved = t if axis == nd - 1 else transpose(t, perm)
    out = apply(top_k_op, (moved,), (shape_of(moved)[-1], direction == "ASCENDING", np.dtype(np.int32)))
    out = out[1] if want_indices else out[0]
    return out if axis == nd - 1 else transpose(out, perm)


@op_doc(
    tf="``tf.sort``",
    numpy="``numpy.sort(values, axis, kind='stable')`` (descending: the reverse order, ties kept in order)",
    returns="A Tensor of values' shape and dtype.",
    args={"values": (_docs.TENSOR, "a tensor of rank at least 1."),
          "axis": ("int", "the axis to sort along; negative counts from the end."),
          "direction": ("str", "'ASCENDING' or 'DESCENDING'.")},
    dtypes="every real dtype; only floating inputs get gradients (tapegrad also orders complex and bool "
           "inputs, which TensorFlow refuses).",
    derivative="d/d values = g permuted back: each entry gets the gradient of the position it was sorted to.",
    raises="ValueError: a direction other than the two, or an axis that is not a Python int.\n"
           "InvalidArgumentError: a scalar input.",
    example="""
        >>> x = tg.constant([3.0, 1.0, 2.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.sort(x)
        ...     z = y * [1.0, 10.0, 100.0]      # weight each sorted position differently
        >>> print(y.numpy(), tape.gradient(z, x).numpy())
        [1. 2. 3.] [100.   1.  10.]
    """)
def sort(values, axis=-1, direction="ASCENDING", name=None):
    """values sorted along `axis`, in either direction; the sort is stable (equal values keep their
    order)."""
    return _sorted_along(values, axis, direction, False)


@op_doc(
    tf="``tf.argsort``",
    numpy="``numpy.argsort(values, axis, kind='stable')``",
    returns="An int32 Tensor of values' shape: along `axis`, the positions of the entries in sorted order.",
    args={"values": (_docs.TENSOR, "a tensor of rank at least 1."),
          "axis": ("int", "the axis to sort along; negative counts from the end."),
          "direction": ("str", "'ASCENDING' or 'DESCENDING'."),
          "stable": ("bool", "accepted for TensorFlow compatibility: the order is always stable.")},
    dtypes="every real dtype (tapegrad also orders complex and bool inputs, which TensorFlow refuses); the "
           "result is int32.",
    derivative="none: the result is integer positions; gradients through it are None, as in TensorFlow.",
    raises="ValueError: a direction other than the two, or an axis that is not a Python int.\n"
           "InvalidArgumentError: a scalar input.",
    example="""
        >>> tg.argsort([3.0, 1.0, 2.0])
        <tapegrad.Tensor: shape=(3,), dtype=int32, numpy=array([1, 2, 0], dtype=int32)>
        >>> tg.argsort([3.0, 1.0, 2.0], direction="DESCENDING")
        <tapegrad.Tensor: shape=(3,), dtype=int32, numpy=array([0, 2, 1], dtype=int32)>
    """)
def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """The indices that sort values along `axis`, in either direction; always stable (equal values keep their
    order), whatever `stable` says, as in TensorFlow."""
    return _sorted_along(values, axis, direction, True)
