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


def top_k(input, k=1, sorted=True, index_type=dtypes.int32, name=None):
    """tf.math.top_k: the k largest entries of the last axis and their
    indices, as ``TopKV2(values, indices)``; equal values keep their order."""
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


def sort(values, axis=-1, direction="ASCENDING", name=None):
    """tf.sort: values sorted along `axis` (stable); differentiable."""
    return _sorted_along(values, axis, direction, False)


def argsort(values, axis=-1, direction="ASCENDING", stable=False, name=None):
    """tf.argsort: the int32 indices that sort `values` along `axis`
    (always stable, whatever `stable` says, as in TensorFlow)."""
    return _sorted_along(values, axis, direction, True)
