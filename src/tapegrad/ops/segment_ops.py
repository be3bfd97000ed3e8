"""Segment reductions (tf.math.segment_sum/mean/max, unsorted_segment_sum)
and bincount.

``unsorted_segment_sum`` is the one scatter-add op: segment_sum and
segment_mean are built on it, and densifying an IndexedSlices is it too.
Its gradient gathers the cotangent's rows back (TensorFlow's rule), which is
itself differentiable (a getitem), so second derivatives are None as in
TensorFlow.

Batching: a cotangent may carry leading axes; the segment axis is counted as
``ndim(g) - <output rank>``.
"""
import builtins

import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, shape_of
from tapegrad.ops.array_ops import getitem_op, index_params

# ---- unsorted_segment_sum: out[ids[i]] += data[i] ------------------------------------------
# params: (ids, num_segments, data_shape); ids is an int array shaped like the
# leading ids.ndim axes of data; negative ids are dropped (TensorFlow's rule).


def _segment_sum_forward(data, ids, num_segments, data_shape):
    data = np.asarray(data)
    nb = data.ndim - len(data_shape)
    rest = data_shape[ids.ndim:]
    flat_ids = ids.reshape(-1)
    flat = data.reshape(data.shape[:nb] + (flat_ids.size,) + rest)
    keep = flat_ids >= 0
    if not keep.all():
        flat_ids = flat_ids[keep]
        flat = flat[(builtins.slice(None),) * nb + (keep,)]
    out = np.zeros(data.shape[:nb] + (num_segments,) + rest, dtype=data.dtype)
    if nb == 0:
        return _core.add_rows(out, flat_ids, flat)          # np.add.at's sums, in vectorised passes
    np.add.at(out, (builtins.slice(None),) * nb + (flat_ids,), flat)
    return out


def _gather_rows(g, ids, num_segments, data_shape):
    """g's rows at ids (a cotangent with any leading axes), zero where an id
    is negative: the VJP of unsorted_segment_sum, on either path."""
    out_shape = (num_segments,) + tuple(data_shape[ids.ndim:])
    safe = np.where(ids < 0, 0, ids)
    gathered = call(getitem_op, g, params=index_params((safe,), out_shape))
    if (ids < 0).any():
        mask = (ids >= 0).reshape(ids.shape + (1,) * (len(data_shape) - ids.ndim))
        gathered = gathered * mask.astype(np.result_type(raw(g)))
    return gathered


unsorted_segment_sum_op = general(
    "unsorted_segment_sum", _segment_sum_forward,
    (lambda g, ans, data, ids, n, data_shape: _gather_rows(g, ids, n, data_shape),), linear=True)


def _segment_ids(segment_ids, data, op, sorted_ids):
    ids = np.asarray(segment_ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: segment_ids must be an integer tensor, got dtype {ids.dtype}")
    ds = shape_of(data)
    if sorted_ids:
        if ids.ndim != 1 or len(ds) == 0 or ids.shape[0] != ds[0]:
            raise InvalidArgumentError(f"segment_ids should be the same size as dimension 0 of input. "
                                       f"[Op:{op}]")
        if ids.size and (ids[0] < 0 or np.any(np.diff(ids) < 0)):
            raise InvalidArgumentError(f"segment ids are not increasing [Op:{op}]")
    elif tuple(ds[:ids.ndim]) != ids.shape:
        raise InvalidArgumentError(f"data.shape = {list(ds)} does not start with segment_ids.shape = "
                                   f"{list(ids.shape)} [Op:{op}]")
    return ids.astype(np.int64, copy=False)


@op_doc(
    tf="``tf.math.unsorted_segment_sum``",
    numpy="``numpy.add.at(out, segment_ids, data)`` into zeros (``numpy.bincount(ids, weights)`` for 1-d data)",
    returns="A Tensor [num_segments] + data.shape[segment_ids.ndim:], data's dtype.",
    args={"data": (_docs.TENSOR, "the values to add up; its leading axes are segment_ids' shape."),
          "segment_ids": ("integer Tensor or array-like", "for each entry of data's leading axes, the output row "
                                                          "it is added to, in any order; negative ids are "
                                                          "dropped."),
          "num_segments": ("int or integer scalar Tensor", "the number of output rows; every id must be below "
                                                           "it.")},
    dtypes="every dtype NumPy can add: floating, complex, integer (TensorFlow: the numeric ones); only floating "
           "data gets gradients; integer segment_ids.",
    derivative="d/d data = g's rows gathered back at segment_ids (g[segment_ids]; zero where an id is "
               "negative); none for segment_ids.",
    raises="InvalidArgumentError: data's shape does not start with segment_ids', or an id >= num_segments.\n"
           "TypeError: non-integer segment_ids.",
    example="""
        >>> tg.math.unsorted_segment_sum([1.0, 2.0, 3.0], [1, 0, 1], num_segments=3)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([2., 4., 0.], dtype=float32)>
    """)
def unsorted_segment_sum(data, segment_ids, num_segments, name=None):
    """The sum of data's entries per segment: ``out[i] = sum of data[j] where segment_ids[j] == i``, the ids in
    any order; empty segments are 0."""
    t = as_tensor(data)
    ids = _segment_ids(segment_ids, t, "UnsortedSegmentSum", False)
    n = int(np.asarray(num_segments))
    if ids.size and ids.max() >= n:
        j = int(np.argmax(ids.reshape(-1) >= n))
        raise InvalidArgumentError(f"segment_ids[{j}] = {int(ids.reshape(-1)[j])} is out of range [0, {n}) "
                                   f"[Op:UnsortedSegmentSum]")
    return apply(unsorted_segment_sum_op, (t,), (ids, n, shape_of(t)))


@op_doc(
    tf="``tf.math.segment_sum``",
    numpy="``numpy.add.reduceat`` (for non-empty segments)",
    returns="A Tensor [segment_ids[-1] + 1] + data.shape[1:], data's dtype.",
    args={"data": (_docs.TENSOR, "the rows to add up, segmented along axis 0."),
          "segment_ids": ("1-d integer Tensor or array-like", "the segment of each row of data, non-negative and "
                                                              "sorted (non-decreasing), data's length.")},
    dtypes="every dtype NumPy can add: floating, complex, integer (TensorFlow: the numeric ones); only floating "
           "data gets gradients; integer segment_ids.",
    derivative="d/d data = g's rows gathered at segment_ids (each row gets its segment's g); none for "
               "segment_ids.",
    raises="InvalidArgumentError: segment_ids not sorted, negative, or not data's length.\nTypeError: "
           "non-integer segment_ids.",
    example="""
        >>> tg.math.segment_sum([1.0, 2.0, 3.0], [0, 0, 1])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([3., 3.], dtype=float32)>
    """)
def segment_sum(data, segment_ids, name=None):
    """The sum of the rows of data in each segment, the segments given by sorted ids (the output has
    ``segment_ids[-1] + 1`` rows; a segment with no rows is 0)."""
    t = as_tensor(data)
    ids = _segment_ids(segment_ids, t, "SegmentSum", True)
    n = int(ids[-1]) + 1 if ids.size else 0
    return apply(unsorted_segment_sum_op, (t,), (ids, n, shape_of(t)))


@op_doc(
    tf="``tf.math.segment_mean``",
    numpy="``numpy.add.reduceat(data, starts) / counts`` (for non-empty segments)",
    returns="A Tensor [segment_ids[-1] + 1] + data.shape[1:], data's dtype.",
    args={"data": (_docs.TENSOR, "the rows to average, segmented along axis 0."),
          "segment_ids": ("1-d integer Tensor or array-like", "the segment of each row of data, non-negative and "
                                                              "sorted (non-decreasing), data's length.")},
    dtypes="floating and complex dtypes (TensorFlow's); integer data also runs, giving a float64 result "
           "(TensorFlow keeps the integer dtype); only floating data gets gradients; integer segment_ids.",
    derivative="d/d data = g of each row's segment divided by that segment's row count; none for segment_ids.",
    raises="InvalidArgumentError: segment_ids not sorted, negative, or not data's length.\nTypeError: "
           "non-integer segment_ids.",
    example="""
        >>> tg.math.segment_mean([1.0, 2.0, 3.0], [0, 0, 1])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1.5, 3. ], dtype=float32)>
    """)
def segment_mean(data, segment_ids, name=None):
    """The mean of the rows of data in each segment, the segments given by sorted ids (a segment with no rows
    is 0)."""
    t = as_tensor(data)
    ids = _segment_ids(segment_ids, t, "SegmentMean", True)
    n = int(ids[-1]) + 1 if ids.size else 0
    total = apply(unsorted_segment_sum_op, (t,), (ids, n, shape_of(t)))
    counts = np.maximum(np.bincount(ids, minlength=n), 1).astype(np.result_type(t._value))
    return total / counts.reshape((n,) + (1,) * (ndim_of(t) - 1))


# ---- segment_max: ties share the gradient equally (TensorFlow's SegmentMax gradient) ----------

def _segment_max_forward(data, ids, num_segments):
    data = np.asarray(data)
    out = np.full((num_segments,) + data.shape[1:], _lowest(data.dtype), dtype=data.dtype)
    np.maximum.at(out, ids, data)
    if num_segments:
        empty = np.bincount(ids, minlength=num_segments) == 0
        out[empty] = 0                       # TensorFlow: an empty segment's max is 0
    return out


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def _segment_max_vjp(g, ans, data, ids, num_segments):
    x, a = raw(data), raw(ans)
    selected = x == a[ids]
    counts = np.zeros((num_segments,) + x.shape[1:], dtype=np.result_type(raw(g)))
    np.add.at(counts, ids, selected)
    share = g / np.maximum(counts, 1)
    gathered = call(getitem_op, share, params=index_params((ids,), shape_of(a)))
    return np.where(selected, gathered, 0)


def _segment_max_jvp(t, ans, data, ids, num_segments):
    # the tangent of the selected entries, averaged over ties (the transpose of the VJP)
    x, a = raw(data), raw(ans)
    selected = x == a[ids]
    counts = np.zeros((num_segments,) + x.shape[1:], dtype=np.result_type(raw(t)))
    np.add.at(counts, ids, selected)
    picked = np.where(selected, t, 0)
    summed = call(unsorted_segment_sum_op, picked, params=(ids, num_segments, x.shape))
    return summed / np.maximum(counts, 1)


segment_max_op = general("segment_max", _segment_max_forward, (_segment_max_vjp,), save="x,ans",
                         jvps=(_segment_max_jvp,))


@op_doc(
    tf="``tf.math.segment_max``",
    numpy="``numpy.maximum.reduceat`` (for non-empty segments)",
    returns="A Tensor [segment_ids[-1] + 1] + data.shape[1:], data's dtype.",
    args={"data": (_docs.TENSOR, "the rows to take the maximum of, segmented along axis 0."),
          "segment_ids": ("1-d integer Tensor or array-like", "the segment of each row of data, non-negative and "
                                                              "sorted (non-decreasing), data's length.")},
    dtypes="floating and integer dtypes (integers give no gradient); complex and bool data raise an error; "
           "integer segment_ids.",
    derivative="g of each segment goes to the entries equal to its maximum, shared equally when several tie "
               "(TensorFlow's rule); zero for the other entries; none for segment_ids.",
    raises="InvalidArgumentError: segment_ids not sorted, negative, or not data's length.\nTypeError: "
           "non-integer segment_ids.",
    example="""
        >>> x = tg.constant([1.0, 5.0, 5.0, 2.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.math.segment_max(x, [0, 0, 0, 1])
        >>> print(y.numpy(), tape.gradient(y, x).numpy())       # the two 5s share segment 0's gradient
        [5. 2.] [0.  0.5 0.5 1. ]
    """)
def segment_max(data, segment_ids, name=None):
    """The maximum of the rows of data in each segment, the segments given by sorted ids (a segment with no
    rows is 0, as in TensorFlow)."""
    t = as_tensor(data)
    ids = _segment_ids(segment_ids, t, "SegmentMax", True)
    n = int(ids[-1]) + 1 if ids.size else 0
    return apply(segment_max_op, (t,), (ids, n))


# ---- bincount (not differentiable) -------------------------------------------------------------

@op_doc(
    tf="``tf.math.bincount``",
    numpy="``numpy.bincount``",
    returns="A Tensor of length max(arr) + 1 (bounded by minlength and maxlength), or [rows, length] with "
            "axis=-1; dtype `dtype`, or weights' dtype when weights are given.",
    args={"arr": ("integer Tensor or array-like", "the non-negative values to count."),
          "weights": (_docs.TENSOR + " or None", "arr's shape: added at each occurrence instead of 1."),
          "minlength": ("int or None", "the result has at least this length."),
          "maxlength": ("int or None", "the result has at most this length; larger values are dropped."),
          "dtype": ("DType", "the result's dtype without weights."),
          "axis": ("None, 0 or -1", "None or 0 count all of arr; -1 counts each row of a 2-d arr separately."),
          "binary_output": ("bool", "1 where a value occurs at all (not how often); weights are then ignored.")},
    dtypes="integer arr (other dtypes raise an error); weights of any numeric dtype.",
    derivative="none: not differentiable (counts); gradients through it, weights included, are None, as in "
               "TensorFlow.",
    raises="InvalidArgumentError: non-integer or negative arr, weights not of arr's shape, an axis other than "
           "None, 0 or -1.",
    example="""
        >>> tg.math.bincount([1, 1, 3])
        <tapegrad.Tensor: shape=(4,), dtype=int32, numpy=array([0, 2, 0, 1], dtype=int32)>
        >>> tg.math.bincount([1, 1, 3], weights=[0.5, 0.25, 2.0])
        <tapegrad.Tensor: shape=(4,), dtype=float32, numpy=array([0.  , 0.75, 0.  , 2.  ], dtype=float32)>
    """)
def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None, axis=None,
             binary_output=False):
    """How often each value 0, 1, 2, ... occurs in arr, or the sum of `weights` at its occurrences."""
    a = np.asarray(arr)
    if a.dtype.kind not in "iu":
        raise InvalidArgumentError(f"bincount: arr must be an integer tensor, got dtype {a.dtype} [Op:Bincount]")
    if a.size and a.min() < 0:
        raise InvalidArgumentError("Input arr must be non-negative! [Op:Bincount]")
    w = None if weights is None else np.asarray(as_tensor(weights))     # Python floats: float32
    if w is not None and w.shape != a.shape:
        raise InvalidArgumentError(f"bincount: weights of shape {list(w.shape)} must have arr's shape "
                                   f"{list(a.shape)} [Op:Bincount]")
    size = int(a.max()) + 1 if a.size else 0
    if minlength is not None:
        size = builtins.max(size, int(minlength))
    if maxlength is not None:
        size = builtins.min(size, int(maxlength))
    out_dtype = w.dtype if w is not None and not binary_output else dtypes.numpy_dtype(dtype)
    if axis in (None, 0) or a.ndim <= 1:
        rows, a2, w2 = 1, a.reshape(1, -1), None if w is None else w.reshape(1, -1)
    elif axis == -1 and a.ndim == 2:
        rows, a2, w2 = a.shape[0], a, w
    else:
        raise InvalidArgumentError(f"bincount: axis must be None, 0 or -1 for a tensor of rank {a.ndim}")
    # Weighted counts accumulate in the weights' own kind (complex stays complex).
    out = np.zeros((rows, size), dtype=np.result_type(w.dtype, np.float64) if w is not None else np.int64)
    keep = a2 < size
    r = np.broadcast_to(np.arange(rows)[:, None], a2.shape)
    np.add.at(out, (r[keep], a2[keep]), 1 if w2 is None else w2[keep])
    if binary_output:
        out = (out != 0).astype(out.dtype)
    out = out.astype(out_dtype)
    return _core.wrap(out if (axis == -1 and a.ndim == 2) else out[0])
