"""Shape and indexing ops.  Their gradients only move values around, so
(as in TensorFlow) their second derivatives are None.

Batching: rules see a cotangent with extra leading axes; they count them as
``ndim(g) - <rank of the op's output>`` (the rank is in the params) and keep
them, or address axes from the end (negative axes).
"""
import builtins

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, numpy_function, raw, unary, variadic
from tapegrad.ops._shapes import as_tensor, ndim_of, neg_axis, shape_of, static_shape, unbroadcast

# ---- reshape / broadcast -----------------------------------------------------------

def _reshape_vjp(g, ans, x, shape, in_shape):
    if type(g) is Tensor:
        # Tensor mode (a nested tape, forward over reverse): the op itself, since
        # the target has g's size (reshape()'s argument checks would only repeat that).
        gs = g._value.shape
        return apply(reshape_op, (g,), (gs[:len(gs) - len(shape)] + in_shape, gs))
    target = shape_of(g)[:ndim_of(g) - len(shape)] + in_shape
    return g.reshape(target) if type(g) is np.ndarray else np.reshape(g, target)


# ndarray.reshape where the value is an ndarray: what np.reshape returns, without its
# Python-level dispatch (two frames).  A Jacobian's diagonal cotangents stay diagonal
# through a reshape (the batch is over flat positions, which a reshape keeps).
reshape_op = general("reshape",
                     lambda x, shape, in_shape: x.reshape(shape) if type(x) is np.ndarray else np.reshape(x, shape),
                     (_reshape_vjp,), linear=True,
                     diag_vjps=(lambda d, ans, x, shape, in_shape: (True, d.reshape(in_shape) if type(d) is np.ndarray
                                                                    else np.reshape(d, in_shape)),))


@op_doc(
    tf="``tf.reshape``",
    numpy="``numpy.reshape``",
    returns="A Tensor with the same elements in the new shape.",
    args={"shape": ("list or tuple of ints, or a 1-d integer Tensor", "the new shape; one entry may be -1 "
                                                                      "(inferred).")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g reshaped back to the input's shape.",
    raises="InvalidArgumentError: a shape with another number of elements.",
    example="""
        >>> tg.reshape(tg.range(6), (2, -1))
        <tapegrad.Tensor: shape=(2, 3), dtype=int32, numpy=
        array([[0, 1, 2],
               [3, 4, 5]], dtype=int32)>
    """)
def reshape(tensor, shape, name=None):
    """tf.reshape: same elements, new shape (one dimension may be -1)."""
    t = as_tensor(tensor)
    in_shape = shape_of(t)
    shape = static_shape(shape)
    for d in shape:
        if d < -1:
            raise InvalidArgumentError(f"Size {shape.index(d)} must be non-negative, not {d} [Op:Reshape]")
    try:
        shape = np.empty(in_shape, dtype=np.bool_).reshape(shape).shape if 0 in in_shape \
            else np.shape(np.reshape(t._value, shape))
    except ValueError:
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {int(np.prod(in_shape))} values, but the requested shape "
            f"{list(shape)} does not match it [Op:Reshape]") from None
    return apply(reshape_op, (t,), (shape, in_shape))


broadcast_to_op = general(
    "broadcast_to", lambda x, shape, in_shape: np.broadcast_to(x, shape),
    (lambda g, ans, x, shape, in_shape: unbroadcast(g, in_shape, len(shape)),), linear=True)


@op_doc(
    summary="input repeated along new or length-1 axes to reach `shape` (NumPy's broadcasting rules).",
    tf="``tf.broadcast_to``",
    numpy="``numpy.broadcast_to``",
    returns="A Tensor of the given shape.",
    args={"shape": ("list or tuple of ints", "the target shape."),
          "subok": ("bool", "NumPy's argument, accepted when numpy.broadcast_to is called on a Tensor; ignored.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g summed over the broadcast axes.",
    raises="InvalidArgumentError: shapes that do not broadcast.",
    example="""
        >>> tg.broadcast_to([1.0, 2.0], (2, 2)).numpy()
        array([[1., 2.],
               [1., 2.]], dtype=float32)
    """)
@numpy_function(np.broadcast_to)
def broadcast_to(input, shape, name=None, subok=False):
    t = as_tensor(input)
    shape = static_shape(shape)
    try:
        if np.broadcast_shapes(shape_of(t), shape) != shape:
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"Unable to broadcast tensor of shape {list(shape_of(t))} to tensor of shape "
                                   f"{list(shape)} [Op:BroadcastTo]") from None
    return apply(broadcast_to_op, (t,), (shape, shape_of(t)))


# ---- transpose / expand / squeeze ----------------------------------------------------

def _transpose_vjp(g, ans, x, perm):
    nb = ndim_of(g) - len(perm)
    inverse = np.argsort(perm)
    return np.transpose(g, tuple(builtins.range(nb)) + tuple(nb + int(p) for p in inverse))


transpose_op = general("transpose", lambda x, perm: np.transpose(x, perm), (_transpose_vjp,), linear=True)


@op_doc(
    summary="The axes of a permuted: result axis i is a's axis perm[i] (default: all reversed).",
    tf="``tf.transpose``",
    numpy="``numpy.transpose``",
    returns="A Tensor with permuted axes.",
    args={"perm": ("list of ints or None", "the permutation; None reverses the axes."),
          "conjugate": ("bool", "also conjugate complex values.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g transposed back by the inverse permutation.",
    example="""
        >>> tg.transpose([[1.0, 2.0, 3.0]]).shape
        (3, 1)
    """)
def transpose(a, perm=None, conjugate=False, name=None):
    t = as_tensor(a)
    nd = len(shape_of(t))
    perm = tuple(builtins.range(nd))[::-1] if perm is None else static_shape(perm, "perm")
    if len(perm) != nd or sorted(p % nd if nd else p for p in perm) != list(builtins.range(nd)):
        raise InvalidArgumentError(f"transpose: perm must be a permutation of 0..{nd - 1}, got {list(perm)} "
                                   f"[Op:Transpose]")
    return apply(transpose_op, (t,), (tuple(p % nd for p in perm),))


@numpy_function(np.transpose)
def _np_transpose(a, axes=None):
    return transpose(a, axes)


@numpy_function(np.swapaxes)
def _np_swapaxes(a, axis1, axis2):
    nd = ndim_of(as_tensor(a))
    perm = list(builtins.range(nd))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(a, perm)


@numpy_function(np.moveaxis)
def _np_moveaxis(a, source, destination):
    nd = ndim_of(as_tensor(a))
    src = [s % nd for s in ((source,) if isinstance(source, int) else source)]
    dst = [d % nd for d in ((destination,) if isinstance(destination, int) else destination)]
    rest = [i for i in builtins.range(nd) if i not in src]
    perm = [None] * nd
    for s, d in zip(src, dst):
        perm[d] = s
    perm = [p if p is not None else rest.pop(0) for p in perm]
    return transpose(a, perm)


@op_doc(
    tf="``tf.linalg.matrix_transpose``",
    numpy="``numpy.swapaxes(a, -1, -2)``",
    returns="A Tensor (..., N, M).",
    args={"conjugate": ("bool", "also conjugate complex values.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g with its last two axes swapped back.",
    example="""
        >>> tg.linalg.matrix_transpose(tg.zeros((5, 2, 3))).shape
        (5, 3, 2)
    """)
def matrix_transpose(a, name=None, conjugate=False):
    """tf.linalg.matrix_transpose: swap the last two axes."""
    nd = ndim_of(as_tensor(a))
    if nd < 2:
        raise ValueError(f"matrix_transpose: argument must have rank >= 2, got rank {nd}")
    return _np_swapaxes(a, -1, -2)


@op_doc(
    summary="input with a new axis of length 1 inserted at `axis`.",
    tf="``tf.expand_dims``",
    numpy="``numpy.expand_dims``",
    returns="A Tensor of rank input's rank + 1.",
    args={"axis": ("int", "where the new axis goes (negative: from the end).")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g reshaped back to the input's shape.",
    example="""
        >>> tg.expand_dims([1.0, 2.0], 0).shape
        (1, 2)
    """)
def expand_dims(input, axis, name=None):
    t = as_tensor(input)
    shape = shape_of(t)
    axis = int(axis)
    if not -len(shape) - 1 <= axis <= len(shape):
        raise InvalidArgumentError(f"expand_dims: axis {axis} is out of range for a tensor of rank {len(shape)}")
    new = list(shape)
    new.insert(axis % (len(shape) + 1), 1)
    return reshape(t, new)


@numpy_function(np.expand_dims)
def _np_expand_dims(a, axis):
    if isinstance(axis, (tuple, list)):
        for ax in sorted(axis):
            a = expand_dims(a, ax)
        return a
    return expand_dims(a, axis)


@op_doc(
    summary="input without axes of length 1 (all of them, or those listed in `axis`).",
    tf="``tf.squeeze``",
    numpy="``numpy.squeeze``",
    returns="A Tensor with the same elements.",
    args={"axis": ("int, list of ints or None", "the axes to remove; each must have length 1.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g reshaped back to the input's shape.",
    raises="InvalidArgumentError: a listed axis whose length is not 1.",
    example="""
        >>> tg.squeeze(tg.zeros((1, 3, 1))).shape
        (3,)
    """)
def squeeze(input, axis=None, name=None):
    t = as_tensor(input)
    shape = shape_of(t)
    if axis is None:
        new = [d for d in shape if d != 1]
    else:
        axes = {neg_axis(a, len(shape), "squeeze") % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if shape[a] != 1:
                raise InvalidArgumentError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {shape[a]} "
                                           f"[Op:Squeeze]")
        new = [d for i, d in enumerate(shape) if i not in axes]
    return reshape(t, new)


@numpy_function(np.squeeze)
def _np_squeeze(a, axis=None):
    return squeeze(a, axis)


# ---- indexing ---------------------------------------------------------------------------
# Keys index the *trailing* axes: an input (or cotangent) with extra leading
# axes is indexed as x[(:, ..., :) + key].  params = (key, in_shape, out_ndim,
# sep): sep > 0 when NumPy moves the advanced-index axes (sep of them) to the
# front because the advanced indices are not adjacent.

def _normalize_key(key):
    """Indices as NumPy understands them; Tensor indices become their values."""
    if isinstance(key, tuple):
        return tuple(_normalize_key(k) for k in key)
    if isinstance(key, (Tensor, Variable)):
        v = np.asarray(key)
        return v.item() if v.ndim == 0 and v.dtype.kind in "iu" else v
    if isinstance(key, slice):
        return slice(*(_normalize_key(p) if p is not None else None for p in (key.start, key.stop, key.step)))
    if isinstance(key, list):
        return np.asarray(key)
    return key


def _is_basic(key):
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, np.integer, slice)) or k is None or k is Ellipsis for k in parts)


def _basic_out_ndim(key, ndim):
    parts = key if isinstance(key, tuple) else (key,)
    n_int = n_none = 0
    for k in parts:
        if k is None:
            n_none += 1
        elif not isinstance(k, slice) and k is not Ellipsis:
            n_int += 1
    return ndim - n_int + n_none


def index_params(key, in_shape):
    """The params of getitem/scatter for x[key] with x of shape in_shape;
    raises NumPy's IndexError for an invalid key."""
    in_shape = tuple(in_shape)
    if _is_basic(key):                  # the hot case (x[i], x[:, 1:]): counted, not probed
        return (key, in_shape, _basic_out_ndim(key, len(in_shape)), 0)
    out_ndim = np.broadcast_to(np.empty((), np.bool_), in_shape)[key].ndim
    parts = key if isinstance(key, tuple) else (key,)
    arrays = [k for k in parts if isinstance(k, np.ndarray)]
    sep = 0
    if arrays:
        adv = [i for i, k in enumerate(parts) if isinstance(k, (np.ndarray, int, np.integer))
               and not isinstance(k, bool)]
        if adv[-1] - adv[0] + 1 != len(adv):
            sep = len(np.broadcast_shapes(*[(int(np.count_nonzero(k)),) if k.dtype == np.bool_ else k.shape
                                            for k in arrays]))
    return (key, in_shape, out_ndim, sep)


def _lead_key(key, nb):
    if nb == 0:
        return key
    return (slice(None),) * nb + (key if isinstance(key, tuple) else (key,))


def _getitem_forward(x, key, in_shape, out_ndim, sep):
    nb = np.ndim(x) - len(in_shape)
    if nb == 0:
        return x[key]
    r = x[_lead_key(key, nb)]
    return np.moveaxis(r, tuple(builtins.range(sep, sep + nb)), tuple(builtins.range(nb))) if sep else r


def _scatter_forward(g, key, in_shape, out_ndim, sep):
    g = np.asarray(g)
    nb = g.ndim - out_ndim
    z = np.zeros(g.shape[:nb] + in_shape, dtype=g.dtype)
    if nb and sep:
        g = np.moveaxis(g, tuple(builtins.range(nb)), tuple(builtins.range(sep, sep + nb)))
    if _is_basic(key):
        z[_lead_key(key, nb)] = g           # basic indexing never selects an element twice
    else:
        np.add.at(z, _lead_key(key, nb), g)
    return z


# d x[key] / d x scatters the gradient back into zeros; the scatter's own
# gradient gathers again, so higher orders work on both paths.
scatter_op = general("scatter_into_zeros", _scatter_forward,
                     (lambda gg, ans, g, *p: call(getitem_op, gg, params=p),), linear=True)
getitem_op = general("getitem", _getitem_forward,
                     (lambda g, ans, x, *p: call(scatter_op, g, params=p),), linear=True)


class IndexOutOfBoundsError(InvalidArgumentError, IndexError):
    """An index past a tensor's bounds: TensorFlow's InvalidArgumentError (its
    strided-slice kernel raises it), and an IndexError too, so Python's
    protocols and NumPy-style code that catch IndexError keep working."""


def getitem(x, key):
    t = as_tensor(x)
    key = _normalize_key(key)
    shape = shape_of(t)
    try:
        return apply(getitem_op, (t,), index_params(key, shape))
    except IndexError as e:
        if "only integers, slices" in str(e) or "arrays used as indices" in str(e):
            # TensorFlow: a TypeError for an index of the wrong type
            raise TypeError(f"Only integers, slices (`:`), ellipsis (`...`), None and integer or bool arrays "
                            f"and tensors are valid indices, got {key!r}") from None
        raise IndexOutOfBoundsError(f"index {key!r} is out of bounds for a tensor of shape {shape}: {e}") from None


def take_slice(v, key, in_shape):
    """v[key] inside a rule, on either path (v may carry leading batch axes)."""
    return call(getitem_op, v, params=index_params(key, in_shape))


class _VariableSlice(Tensor):
    """``variable[key]``: a tensor read of the slice that can also be assigned
    (``v[i].assign(x)``), which writes into the variable (not differentiable,
    as every assign)."""
    __slots__ = ("_variable", "_key")

    def assign(self, value, use_locking=False, name=None, read_value=True):
        var = self._variable
        new = np.array(var._value)
        cur = new[self._key]
        val = np.asarray(_core.raw_from_python(value, new.dtype))
        if np.shape(val) != np.shape(cur) and not (np.ndim(val) == 0):
            raise ValueError(f"Cannot assign a value of shape {np.shape(val)} to a slice of shape {np.shape(cur)}")
        new[self._key] = val
        var._state_set(_core.raw_from_python(new))
        return var if read_value else None


def variable_slice(var, key):
    sliced = getitem(var, key)
    out = _VariableSlice.__new__(_VariableSlice)
    # Share the recorded tensor's value and id: it is the same read.
    _core.alias_tensor(out, sliced)
    out._variable = var
    out._key = _normalize_key(key)
    return out


def _check_indices(indices, dim, op, allow_negative=False):
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    lo = -dim if allow_negative else 0
    bad = (idx < lo) | (idx >= dim)
    if np.any(bad):
        pos = np.argwhere(bad)[0]
        where = ",".join(str(int(p)) for p in pos)
        raise InvalidArgumentError(f"{op}: indices[{where}] = {int(idx[tuple(pos)])} is not in [0, {dim})")
    return idx


@op_doc(
    tf="``tf.gather``",
    numpy="``numpy.take``",
    returns="A Tensor: params with `axis` replaced by indices' shape.",
    args={"params": ("Tensor, Variable or array-like", "the tensor to take from."),
          "indices": ("integer Tensor or array-like", "positions along `axis`."),
          "validate_indices": ("ignored", "accepted for TensorFlow compatibility."),
          "axis": ("int or None", "the axis to index; None means batch_dims."),
          "batch_dims": ("int", "leading axes shared by params and indices.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g scattered (added) back into zeros of params' shape at the indices, repeated indices adding up; "
               "none for indices.",
    raises="InvalidArgumentError: an index out of range.",
    example="""
        >>> tg.gather([10.0, 20.0, 30.0], [2, 0, 2])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([30., 10., 30.], dtype=float32)>
    """)
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """tf.gather: params[..., indices, ...] along `axis`; the gradient
    scatters (adds) back, duplicates included."""
    t = as_tensor(params)
    shape = shape_of(t)
    if batch_dims:
        raise NotImplementedError("tapegrad.gather: batch_dims != 0 is not supported; use gather_nd or indexing")
    axis = 0 if axis is None else int(axis)
    if not -len(shape) <= axis < len(shape):
        raise InvalidArgumentError(f"gather: axis {axis} is out of range for params of rank {len(shape)}")
    axis %= len(shape)
    idx = _check_indices(indices, shape[axis], "gather")
    return getitem(t, (slice(None),) * axis + (idx,))


@numpy_function(np.take)
def _np_take(a, indices, axis=None, out=None, mode="raise"):
    if out is not None or mode != "raise":
        raise TypeError("tapegrad: numpy.take on Tensors supports neither out= nor mode=")
    t = as_tensor(a)
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    idx = _check_indices(indices, shape_of(t)[axis], "numpy.take", allow_negative=True)
    return getitem(t, (slice(None),) * (axis % ndim_of(t)) + (idx,))


@numpy_function(np.take_along_axis)
def _np_take_along_axis(arr, indices, axis):
    t = as_tensor(arr)
    shape = shape_of(t)
    idx = np.asarray(indices)
    axis %= len(shape)
    nd = len(shape)
    key = tuple(idx if i == axis else np.arange(shape[i]).reshape([-1 if j == i else 1 for j in builtins.range(nd)])
                for i in builtins.range(nd))
    return getitem(t, key)


@op_doc(
    tf="``tf.gather_nd``",
    numpy="``params[tuple(numpy.moveaxis(indices, -1, 0))]``",
    returns="A Tensor: indices' shape without its last axis, then params' remaining axes.",
    args={"params": ("Tensor, Variable or array-like", "the tensor to take from."),
          "indices": ("integer Tensor or array-like", "(..., k) coordinates into params' first k axes."),
          "batch_dims": ("int", "leading axes shared by params and indices.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g scattered (added) back into zeros of params' shape; none for indices.",
    raises="InvalidArgumentError: an index out of range.",
    example="""
        >>> tg.gather_nd([[1.0, 2.0], [3.0, 4.0]], [[1, 0], [0, 1]])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([3., 2.], dtype=float32)>
    """)
def gather_nd(params, indices, batch_dims=0, name=None):
    """tf.gather_nd: indices[..., k] index the first k axes of params."""
    t = as_tensor(params)
    shape = shape_of(t)
    if batch_dims:
        raise NotImplementedError("tapegrad.gather_nd: batch_dims != 0 is not supported")
    idx = np.asarray(indices)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise InvalidArgumentError(f"gather_nd: index innermost dimension length must be <= params rank; saw "
                                   f"indices of shape {list(idx.shape)} for params of shape {list(shape)}")
    for k in builtins.range(idx.shape[-1]):
        _check_indices(idx[..., k], shape[k], "gather_nd")
    return getitem(t, tuple(idx[..., k] for k in builtins.range(idx.shape[-1])))


@op_doc(
    tf="``tf.boolean_mask``",
    numpy="``tensor[mask]``",
    returns="A Tensor whose first masked axis has one entry per True.",
    args={"mask": ("bool Tensor or array-like", "which entries to keep."),
          "axis": ("int or None", "the first axis the mask covers; None means 0.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g placed back at the selected positions, zeros elsewhere; none for mask.",
    example="""
        >>> tg.boolean_mask([1.0, 2.0, 3.0], [True, False, True])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 3.], dtype=float32)>
    """)
def boolean_mask(tensor, mask, axis=None, name=None):
    """tf.boolean_mask: the entries where mask (of shape tensor.shape[axis:axis+k]) is True."""
    t = as_tensor(tensor)
    shape = shape_of(t)
    m = np.asarray(mask)
    if m.dtype != np.bool_:
        m = m != 0                       # TensorFlow 2.21 takes a numeric mask: non-zero selects
    axis = 0 if axis is None else int(axis) % max(len(shape), 1)
    if m.ndim == 0 or shape[axis:axis + m.ndim] != m.shape:
        raise InvalidArgumentError(f"boolean_mask: mask of shape {list(m.shape)} does not match tensor of shape "
                                   f"{list(shape)} at axis {axis}")
    return getitem(t, (slice(None),) * axis + (m,))


@op_doc(
    tf="``tf.slice``",
    numpy="``input_[b0:b0 + s0, b1:b1 + s1, ...]``",
    returns="A Tensor of shape `size` (with -1 resolved).",
    args={"begin": ("list of ints", "the start on each axis."),
          "size": ("list of ints", "the length on each axis; -1: to the end.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g placed back into zeros of the input's shape.",
    example="""
        >>> tg.slice([[1, 2, 3], [4, 5, 6]], [0, 1], [2, -1])
        <tapegrad.Tensor: shape=(2, 2), dtype=int32, numpy=
        array([[2, 3],
               [5, 6]], dtype=int32)>
    """)
def slice_(input_, begin, size, name=None):
    """tf.slice: input_[begin[i] : begin[i] + size[i]] (size -1: to the end)."""
    t = as_tensor(input_)
    shape = shape_of(t)
    begin, size = static_shape(begin, "begin"), static_shape(size, "size")
    if len(begin) != len(shape) or len(size) != len(shape):
        raise InvalidArgumentError(f"slice: expected begin and size of length {len(shape)}, got {list(begin)} "
                                   f"and {list(size)}")
    key = []
    for b, s, d in zip(begin, size, shape):
        e = d if s == -1 else b + s
        if not (0 <= b <= d and b <= e <= d):
            raise InvalidArgumentError(f"slice: expected begin {b} and size {s} to fit in a dimension of {d}")
        key.append(builtins.slice(b, e))
    return getitem(t, tuple(key))


@op_doc(
    tf="``tf.strided_slice`` (without its mask arguments)",
    numpy="``input_[begin:end:strides]``",
    returns="A Tensor: the selected elements.",
    args={"begin": ("list of ints", "the start on each axis."),
          "end": ("list of ints", "the end (excluded) on each axis."),
          "strides": ("list of ints or None", "the step on each axis; None: 1.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g placed back into zeros of the input's shape.",
    example="""
        >>> tg.strided_slice([0, 1, 2, 3, 4, 5], [1], [6], [2])
        <tapegrad.Tensor: shape=(3,), dtype=int32, numpy=array([1, 3, 5], dtype=int32)>
    """)
def strided_slice(input_, begin, end, strides=None, name=None):
    """tf.strided_slice without masks: input_[begin:end:strides]."""
    t = as_tensor(input_)
    begin, end = static_shape(begin, "begin"), static_shape(end, "end")
    strides = (1,) * len(begin) if strides is None else static_shape(strides, "strides")
    if 0 in strides:
        raise ValueError("strided_slice: strides entries must be non-zero")
    return getitem(t, tuple(builtins.slice(b, e, s) for b, e, s in zip(begin, end, strides)))


# ---- joining, splitting, tiling, padding, reversing -------------------------------------

def _concat_forward(*args):
    *xs, axis, sizes, out_shape = args
    return np.concatenate(xs, axis=axis)


def _concat_part(i, axis, sizes):
    start = builtins.sum(sizes[:i])
    return (Ellipsis, builtins.slice(start, start + sizes[i])) + (builtins.slice(None),) * (-axis - 1)


concat_op = variadic(
    "concat", _concat_forward,
    lambda g, ans, i, inputs, axis, sizes, out_shape: take_slice(g, _concat_part(i, axis, sizes), out_shape),
    lambda t, ans, i, inputs, axis, sizes, out_shape: call(
        scatter_op, t, params=index_params(_concat_part(i, axis, sizes), out_shape)))


@op_doc(
    summary="Tensors joined along an existing axis.",
    tf="``tf.concat``",
    numpy="``numpy.concatenate``",
    returns="A Tensor whose `axis` is as long as the inputs' together.",
    args={"values": ("list of Tensors or array-likes", "tensors of one dtype, equal except along `axis`."),
          "axis": ("int", "the axis to join along.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g split back into pieces of each input's length.",
    raises="ValueError: an empty list.\nInvalidArgumentError: shapes that differ off `axis`.",
    example="""
        >>> tg.concat([[1.0, 2.0], [3.0]], axis=0)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([1., 2., 3.], dtype=float32)>
    """)
def concat(values, axis, name=None):
    ts = _core.operands(list(values), "ConcatV2")
    if not ts:
        raise ValueError("concat needs at least one tensor")
    s0 = shape_of(ts[0])
    axis = neg_axis(axis, len(s0), "concat")
    for i, t in enumerate(ts):
        s = shape_of(t)
        if len(s) != len(s0) or any(a != b for i, (a, b) in enumerate(zip(s, s0)) if i != axis % len(s0)):
            raise InvalidArgumentError(f"ConcatOp : Dimensions of inputs should match: shape[0] = {list(s0)} vs. "
                                       f"shape[{i}] = {list(s)} [Op:ConcatV2]")
    sizes = tuple(shape_of(t)[axis] for t in ts)
    out_shape = s0[:axis % len(s0)] + (builtins.sum(sizes),) + s0[axis % len(s0) + 1:]
    return apply(concat_op, tuple(ts), (axis, sizes, out_shape))


@numpy_function(np.concatenate)
def _np_concatenate(arrays, axis=0, out=None, **kwargs):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    return concat(arrays, axis)


def _stack_forward(*args):
    *xs, axis, out_shape = args
    return np.stack(xs, axis=axis)


def _stack_part(i, axis):
    """Input i's place in the stacked value; axis counts from the end, so a
    rule's leading batch axes are kept."""
    return (Ellipsis, i) + (builtins.slice(None),) * (-axis - 1)


# One node for the whole stack, as TensorFlow's Pack (and PyTorch's StackBackward0, whose
# inputs are the stacked tensors themselves, not views of them).
stack_op = variadic(
    "stack", _stack_forward,
    lambda g, ans, i, inputs, axis, out_shape: take_slice(g, _stack_part(i, axis), out_shape),
    lambda t, ans, i, inputs, axis, out_shape: call(
        scatter_op, t, params=index_params(_stack_part(i, axis), out_shape)))


@op_doc(
    summary="Tensors of one shape joined along a new axis.",
    tf="``tf.stack``",
    numpy="``numpy.stack``",
    returns="A Tensor of rank one more than the inputs'.",
    args={"values": ("list of Tensors or array-likes", "tensors of one shape and dtype."),
          "axis": ("int", "where the new axis goes.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g unstacked along `axis`: each input gets its slice.",
    raises="ValueError: an empty list.\nInvalidArgumentError: shapes that differ.",
    example="""
        >>> tg.stack([[1.0, 2.0], [3.0, 4.0]], axis=1).numpy()
        array([[1., 3.],
               [2., 4.]], dtype=float32)
    """)
def stack(values, axis=0, name=None):
    ts = _core.operands(list(values), "Pack")
    if not ts:
        raise ValueError("stack needs at least one tensor")
    s0 = shape_of(ts[0])
    for i, t in enumerate(ts):
        if shape_of(t) != s0:
            raise InvalidArgumentError(f"Shapes of all inputs must match: values[0].shape = {list(s0)} "
                                       f"!= values[{i}].shape = {list(shape_of(t))} [Op:Pack]")
    axis = int(axis) % (len(s0) + 1)
    out_shape = s0[:axis] + (len(ts),) + s0[axis:]
    return apply(stack_op, tuple(ts), (axis - len(out_shape), out_shape))


@numpy_function(np.stack)
def _np_stack(arrays, axis=0, out=None, **kwargs):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    return stack(arrays, axis)


@op_doc(
    summary="A tensor split along an axis into a list of its slices (the axis removed).",
    tf="``tf.unstack``",
    numpy="``list(numpy.moveaxis(value, axis, 0))``",
    returns="A list of Tensors.",
    args={"num": ("int or None", "the expected number of slices."),
          "axis": ("int", "the axis to split along.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="the slices' gradients stacked back (zeros for slices that were not used).",
    example="""
        >>> [t.numpy() for t in tg.unstack([[1.0, 2.0], [3.0, 4.0]])]
        [array([1., 2.], dtype=float32), array([3., 4.], dtype=float32)]
    """)
def unstack(value, num=None, axis=0, name=None):
    t = as_tensor(value)
    shape = shape_of(t)
    axis = neg_axis(axis, len(shape), "unstack") % len(shape)
    if num is not None and num != shape[axis]:
        raise ValueError(f"unstack: num={num} does not match dimension {axis} of size {shape[axis]}")
    return [getitem(t, (builtins.slice(None),) * axis + (i,)) for i in builtins.range(shape[axis])]


@op_doc(
    tf="``tf.split``",
    numpy="``numpy.split``",
    returns="A list of Tensors.",
    args={"num_or_size_splits": ("int or list of ints", "a number of equal parts, or each part's length (one may be "
                                                        "-1)."),
          "axis": ("int", "the axis to split along."),
          "num": ("int or None", "accepted for TensorFlow compatibility.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="the parts' gradients concatenated back (zeros for unused parts).",
    raises="InvalidArgumentError: sizes that do not add up to the axis length.",
    example="""
        >>> [t.numpy() for t in tg.split(tg.range(5), [2, 3])]
        [array([0, 1], dtype=int32), array([2, 3, 4], dtype=int32)]
    """)
def split(value, num_or_size_splits, axis=0, num=None, name=None):
    """tf.split: a list of slices along `axis` (equal parts or given sizes)."""
    t = as_tensor(value)
    shape = shape_of(t)
    axis = neg_axis(axis, len(shape), "split") % len(shape)
    n = shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise InvalidArgumentError(f"split: dimension {axis} of size {n} is not divisible by {k} [Op:Split]")
        sizes = [n // k] * k
    else:
        sizes = list(static_shape(num_or_size_splits, "num_or_size_splits"))
        if sizes.count(-1) == 1:
            sizes[sizes.index(-1)] = n - (builtins.sum(sizes) + 1)
        if builtins.sum(sizes) != n or builtins.min(sizes) < 0:
            raise InvalidArgumentError(f"split: sizes {sizes} do not sum to dimension {axis} of size {n} "
                                       f"[Op:SplitV]")
    starts = np.cumsum([0] + sizes)
    return [getitem(t, (builtins.slice(None),) * axis + (builtins.slice(int(a), int(b)),))
            for a, b in zip(starts[:-1], starts[1:])]


@op_doc(
    tf="``tf.tile``",
    numpy="``numpy.tile``",
    returns="A Tensor: each axis i repeated multiples[i] times.",
    args={"multiples": ("list of ints", "repetitions per axis, one per axis of input.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g summed over the copies.",
    example="""
        >>> tg.tile([1.0, 2.0], [2])
        <tapegrad.Tensor: shape=(4,), dtype=float32, numpy=array([1., 2., 1., 2.], dtype=float32)>
    """)
def tile(input, multiples, name=None):
    """tf.tile: the gradient sums the copies (reshape + broadcast + reshape)."""
    t = as_tensor(input)
    shape = shape_of(t)
    mult = static_shape(multiples, "multiples")
    if len(mult) != len(shape):
        raise InvalidArgumentError(f"Expected multiples argument to be a vector of length {len(shape)} "
                                   f"but got length {len(mult)} [Op:Tile]")
    if builtins.any(m < 0 for m in mult):
        raise InvalidArgumentError(f"tile: multiples must be non-negative, got {list(mult)} [Op:Tile]")
    inter = []
    for d in shape:
        inter += [1, d]
    expanded = broadcast_to(reshape(t, inter), [x for m, d in zip(mult, shape) for x in (m, d)])
    return reshape(expanded, [m * d for m, d in zip(mult, shape)])


@numpy_function(np.tile)
def _np_tile(A, reps):
    t = as_tensor(A)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = builtins.max(len(shape_of(t)), len(reps))
    t = reshape(t, (1,) * (nd - len(shape_of(t))) + shape_of(t))
    return tile(t, (1,) * (nd - len(reps)) + reps)


def _pad_forward(x, pads, value, in_shape):
    nb = np.ndim(x) - len(pads)
    return np.pad(x, ((0, 0),) * nb + pads, constant_values=value)


def _pad_window(pads, in_shape):
    return (Ellipsis,) + tuple(builtins.slice(b, b + d) for (b, _), d in zip(pads, in_shape))


def _padded(pads, in_shape):
    return tuple(b + d + a for (b, a), d in zip(pads, in_shape))


# Constant padding: the gradient is the window of g over the input.
pad_op = general("pad", _pad_forward,
                 (lambda g, ans, x, pads, value, in_shape: take_slice(g, _pad_window(pads, in_shape),
                                                                        _padded(pads, in_shape)),),
                 jvps=(lambda t, ans, x, pads, value, in_shape: call(pad_op, t, params=(pads, 0, in_shape)),))


@op_doc(
    tf="``tf.pad``",
    numpy="``numpy.pad``",
    returns="A Tensor padded on each axis.",
    args={"paddings": ("list of [before, after] pairs", "one pair per axis."),
          "mode": ("str", "'CONSTANT', 'REFLECT' or 'SYMMETRIC' (any case)."),
          "constant_values": ("scalar", "the fill value for CONSTANT.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g with the padding cut off; REFLECT and SYMMETRIC also add the mirrored copies back; none for "
               "constant_values.",
    raises="ValueError: an unknown mode, or paddings of the wrong shape.",
    example="""
        >>> tg.pad([1.0, 2.0], [[1, 2]])
        <tapegrad.Tensor: shape=(5,), dtype=float32, numpy=array([0., 1., 2., 0., 0.], dtype=float32)>
    """)
def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """tf.pad: CONSTANT (an op), REFLECT and SYMMETRIC (gathers, so their
    gradients add the mirrored copies back)."""
    t = as_tensor(tensor)
    shape = shape_of(t)
    p = np.asarray(paddings)
    if p.shape != (len(shape), 2) or p.dtype.kind not in "iu":
        raise InvalidArgumentError(f"pad: paddings must be an integer tensor of shape [{len(shape)}, 2], "
                                   f"got {p.tolist()} [Op:PadV2]")
    if np.any(p < 0):
        raise InvalidArgumentError(f"pad: paddings must be non-negative, got {p.tolist()} [Op:PadV2]")
    pads = tuple((int(b), int(a)) for b, a in p)
    mode = str(mode).upper()
    if mode == "CONSTANT":
        t, value = _core.operands((t, constant_values), "PadV2")
        value = value._value
        return apply(pad_op, (t,), (pads, value, shape))
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad: unknown padding mode {mode!r}; expected CONSTANT, REFLECT or SYMMETRIC")
    np_mode = "reflect" if mode == "REFLECT" else "symmetric"
    for axis, ((b, a), d) in enumerate(zip(pads, shape)):
        limit = d - 1 if mode == "REFLECT" else d
        if b > limit or a > limit:
            raise InvalidArgumentError(f"pad: paddings {[b, a]} must be no greater than {limit} for dimension "
                                       f"{axis} of size {d} in {mode} mode [Op:MirrorPad]")
        if b or a:
            idx = np.pad(np.arange(d), (b, a), mode=np_mode)
            t = getitem(t, (builtins.slice(None),) * axis + (idx,))
    return t


@numpy_function(np.pad)
def _np_pad(array, pad_width, mode="constant", **kwargs):
    t = as_tensor(array)
    nd = ndim_of(t)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (nd, 2))
    if mode == "constant":
        cv = kwargs.get("constant_values", 0)
        if np.ndim(cv):
            raise TypeError("tapegrad: numpy.pad on Tensors supports a single scalar constant_values")
        return pad(t, pw, "CONSTANT", cv)
    if mode in ("reflect", "symmetric") and not kwargs:
        return pad(t, pw, mode.upper())
    raise TypeError(f"tapegrad: numpy.pad mode={mode!r} with {sorted(kwargs)} is not supported on Tensors")


reverse_op = general("reverse", lambda x, axes: np.flip(x, axes),
                     (lambda g, ans, x, axes: call(reverse_op, g, params=(axes,)),), linear=True)


@op_doc(
    tf="``tf.reverse``",
    numpy="``numpy.flip``",
    returns="A Tensor of tensor's shape.",
    args={"axis": ("list of ints", "the axes to reverse.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g reversed along the same axes.",
    example="""
        >>> tg.reverse([1.0, 2.0, 3.0], [0])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([3., 2., 1.], dtype=float32)>
    """)
def reverse(tensor, axis, name=None):
    """tf.reverse: flip the given axes (negative axes, so batching leaves them)."""
    t = as_tensor(tensor)
    nd = ndim_of(t)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(static_shape(axis, "axis"))
    axes = tuple(sorted({neg_axis(a, nd, "reverse") for a in axes}))
    return apply(reverse_op, (t,), (axes,))


@numpy_function(np.flip)
def _np_flip(m, axis=None):
    nd = ndim_of(as_tensor(m))
    return reverse(m, tuple(builtins.range(nd)) if axis is None else axis)


# ---- functional updates ---------------------------------------------------------------

def _scatter_nd_forward(tensor, updates, key, in_shape, out_ndim, sep, add):
    z = np.array(tensor)
    if add:
        np.add.at(z, key, updates)
    else:
        z[key] = updates
    return z


def _kept_mask(key, in_shape, dtype):
    m = np.ones(in_shape, dtype=dtype)
    m[key] = 0
    return m


def _scatter_nd_tensor_rule(g, ans, tensor, updates, key, in_shape, out_ndim, sep, add):
    # update: the overwritten entries get no gradient; add: all of it passes.
    return g if add else g * _kept_mask(key, in_shape, np.result_type(raw(g)))


tensor_scatter_op = general(
    "tensor_scatter_nd", _scatter_nd_forward,
    (_scatter_nd_tensor_rule,
     lambda g, ans, tensor, updates, *p: call(getitem_op, g, params=p[:4])),
    jvps=(_scatter_nd_tensor_rule,
          lambda t, ans, tensor, updates, *p: call(scatter_op, t, params=p[:4])))


def _tensor_scatter(tensor, indices, updates, add, op):
    t = as_tensor(tensor)
    shape = shape_of(t)
    t, u = _core.operands((t, updates), op)
    idx = np.asarray(indices)
    if idx.ndim == 0 or idx.shape[-1] > len(shape):
        raise InvalidArgumentError(f"{op}: indices of shape {list(idx.shape)} do not index a tensor of shape "
                                   f"{list(shape)}")
    for k in builtins.range(idx.shape[-1]):
        _check_indices(idx[..., k], shape[k], op)
    key = tuple(idx[..., k] for k in builtins.range(idx.shape[-1]))
    params = index_params(key, shape)
    want = idx.shape[:-1] + shape[idx.shape[-1]:]
    if shape_of(u) != want:
        raise InvalidArgumentError(f"{op}: updates must have shape {list(want)} for indices of shape "
                                   f"{list(idx.shape)} and tensor of shape {list(shape)}, got {list(shape_of(u))}")
    return apply(tensor_scatter_op, (t, u), params + (add,))


@op_doc(
    summary="A copy of tensor with the entries at `indices` replaced by `updates`.",
    tf="``tf.tensor_scatter_nd_update``",
    numpy="``t = tensor.copy(); t[tuple(numpy.moveaxis(indices, -1, 0))] = updates``",
    returns="A Tensor of tensor's shape.",
    args={"indices": ("integer Tensor or array-like", "(..., k) coordinates into tensor's first k axes."),
          "updates": ("Tensor, Variable or array-like", "the new values, indices' shape without its last axis, then "
                                                        "tensor's remaining axes.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="d/d tensor = g with zeros at the replaced entries; d/d updates = g gathered at indices.",
    example="""
        >>> tg.tensor_scatter_nd_update([0.0, 0.0, 0.0], [[1]], [5.0])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([0., 5., 0.], dtype=float32)>
    """)
def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    return _tensor_scatter(tensor, indices, updates, False, "tensor_scatter_nd_update")


@op_doc(
    summary="A copy of tensor with `updates` added at `indices` (repeated indices add up).",
    tf="``tf.tensor_scatter_nd_add``",
    numpy="``numpy.add.at``",
    returns="A Tensor of tensor's shape.",
    args={"indices": ("integer Tensor or array-like", "(..., k) coordinates into tensor's first k axes."),
          "updates": ("Tensor, Variable or array-like", "the values to add.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="d/d tensor = g; d/d updates = g gathered at indices.",
    example="""
        >>> tg.tensor_scatter_nd_add([1.0, 1.0, 1.0], [[1], [1]], [5.0, 5.0])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([ 1., 11.,  1.], dtype=float32)>
    """)
def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    return _tensor_scatter(tensor, indices, updates, True, "tensor_scatter_nd_add")


# ---- sums of tensors, identity ------------------------------------------------------------

@op_doc(
    summary="The elementwise sum of a list of tensors of one shape and dtype.",
    tf="``tf.math.add_n``",
    numpy="``sum(inputs)``",
    returns="A Tensor of the inputs' shape.",
    args={"inputs": ("list of Tensors or array-likes", "the tensors to add.")},
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="d/d inputs[i] = 1 for every input.",
    raises="ValueError: an empty list, or shapes that differ.",
    example="""
        >>> tg.add_n([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([ 9., 12.], dtype=float32)>
    """)
def add_n(inputs, name=None):
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one tensor")
    total = as_tensor(inputs[0])
    for x in inputs[1:]:
        if shape_of(as_tensor(x)) != shape_of(total):
            raise InvalidArgumentError(f"add_n: all inputs must have the same shape, got {list(shape_of(total))} "
                                       f"and {list(shape_of(as_tensor(x)))} [Op:AddN]")
        total = total + x
    return total


identity_op = unary("identity", lambda x: x, lambda g, ans, x: g)


@op_doc(
    summary="A new Tensor with the same value (a recorded op, unlike stop_gradient).",
    tf="``tf.identity``",
    numpy="``numpy.copy``",
    returns="A Tensor equal to input.",
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="1: g passes through unchanged.",
    example="""
        >>> tg.identity([1.0])
        <tapegrad.Tensor: shape=(1,), dtype=float32, numpy=array([1.], dtype=float32)>
    """)
def identity(input, name=None):
    return _core.apply(identity_op, (input,))
