"""Shape and indexing ops.  Their gradients only move values around, so
(as in TensorFlow) their second derivatives are None."""
import builtins

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import general, call, numpy_function


def _shape_of(x):
    return tuple(np.shape(x._value if isinstance(x, Tensor) else x))


def _ensure_tensor(x):
    return _core.as_tensor(x)


# ---- reshape / broadcast -----------------------------------------------------------

reshape_op = general("reshape", lambda x, shape, in_shape: np.reshape(x, shape),
                     (lambda g, ans, x, shape, in_shape: reshape(g, in_shape),))


def _static_shape(shape, what="shape"):
    if isinstance(shape, (Tensor, Variable)):
        shape = np.asarray(shape).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{what} must be a list of integers, got {shape!r}") from None


def reshape(tensor, shape, name=None):
    """tf.reshape: same elements, new shape (one dimension may be -1)."""
    t = _ensure_tensor(tensor)
    in_shape = _shape_of(t)
    shape = _static_shape(shape)
    try:
        np.empty(in_shape, dtype=np.bool_).reshape(shape) if 0 in in_shape else np.reshape(t._value, shape)
    except ValueError:
        raise InvalidArgumentError(
            f"Input to reshape is a tensor with {int(np.prod(in_shape))} values, but the requested shape "
            f"{list(shape)} does not match it") from None
    return apply(reshape_op, (t,), (shape, in_shape))


def sum_to_shape(g, shape):
    """Sum a broadcast gradient back to `shape` (the one place where
    un-broadcasting happens; the core calls it for binary ops)."""
    shape = tuple(shape)
    gshape = _shape_of(g)
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, d in enumerate(shape) if d == 1 and gshape[i + lead] != 1)
    if axes:
        g = np.sum(g, axis=axes, keepdims=True)
    if lead or _shape_of(g) != shape:
        g = np.reshape(g, shape)
    return g


def _broadcast_to_forward(x, shape, in_shape):
    return np.broadcast_to(x, shape)


broadcast_to_op = general("broadcast_to", _broadcast_to_forward,
                          (lambda g, ans, x, shape, in_shape: sum_to_shape(g, in_shape),))


@numpy_function(np.broadcast_to)
def broadcast_to(input, shape, name=None, subok=False):
    t = _ensure_tensor(input)
    shape = _static_shape(shape)
    try:
        np.broadcast_shapes(_shape_of(t), shape)
    except ValueError:
        raise InvalidArgumentError(f"Unable to broadcast tensor of shape {list(_shape_of(t))} to {list(shape)}") from None
    return apply(broadcast_to_op, (t,), (shape, _shape_of(t)))


@numpy_function(np.reshape)
def _np_reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise TypeError("tapegrad supports only order='C' in numpy.reshape on Tensors")
    return reshape(a, shape if shape is not None else newshape)


# ---- transpose / expand / squeeze ----------------------------------------------------

transpose_op = general("transpose", lambda x, perm: np.transpose(x, perm),
                       (lambda g, ans, x, perm: transpose(g, tuple(np.argsort(perm))),))


def transpose(a, perm=None, conjugate=False, name=None):
    t = _ensure_tensor(a)
    nd = len(_shape_of(t))
    perm = tuple(range(nd))[::-1] if perm is None else _static_shape(perm, "perm")
    if sorted(builtins.map(lambda p: p % nd if nd else p, perm)) != list(range(nd)):
        raise InvalidArgumentError(f"transpose expects a permutation of 0..{nd - 1}, got {list(perm)}")
    perm = tuple(p % nd for p in perm)
    return apply(transpose_op, (t,), (perm,))


@numpy_function(np.transpose)
def _np_transpose(a, axes=None):
    return transpose(a, axes)


@numpy_function(np.swapaxes)
def _np_swapaxes(a, axis1, axis2):
    nd = len(_shape_of(_ensure_tensor(a)))
    perm = list(range(nd))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return transpose(a, perm)


@numpy_function(np.moveaxis)
def _np_moveaxis(a, source, destination):
    nd = len(_shape_of(_ensure_tensor(a)))
    perm = [i for i in range(nd) if i != source % nd]
    perm.insert(destination % nd, source % nd)
    return transpose(a, perm)


def expand_dims(input, axis, name=None):
    t = _ensure_tensor(input)
    shape = _shape_of(t)
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


def squeeze(input, axis=None, name=None):
    t = _ensure_tensor(input)
    shape = _shape_of(t)
    if axis is None:
        new = [d for d in shape if d != 1]
    else:
        axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
        for a in axes:
            if shape[a] != 1:
                raise InvalidArgumentError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {shape[a]}")
        new = [d for i, d in enumerate(shape) if i not in axes]
    return reshape(t, new)


@numpy_function(np.squeeze)
def _np_squeeze(a, axis=None):
    return squeeze(a, axis)


@numpy_function(np.ravel)
def _np_ravel(a, order="C"):
    return reshape(a, (-1,))


# ---- indexing ---------------------------------------------------------------------------

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


def _scatter_forward(g, key, shape):
    z = np.zeros(shape, dtype=np.result_type(g))
    if _is_basic(key):
        z[key] = g                      # basic indexing never selects an element twice
    else:
        np.add.at(z, key, g)
    return z


# d x[key] / d x scatters the gradient back; the scatter's own gradient
# gathers again, so higher orders work on both paths.
scatter_op = general("scatter_into_zeros", _scatter_forward,
                     (lambda gg, ans, g, key, shape: call(getitem_op, gg, params=(key,)),))
getitem_op = general("getitem", lambda x, key: x[key],
                     (lambda g, ans, x, key: call(scatter_op, g, params=(key, _shape_of(x))),), save="x")


def getitem(x, key):
    t = _ensure_tensor(x)
    key = _normalize_key(key)
    try:
        np.empty(_shape_of(t), dtype=np.bool_)[key]
    except IndexError as e:
        raise IndexError(f"index {key!r} is out of bounds for a tensor of shape {_shape_of(t)}: {e}") from None
    return apply(getitem_op, (t,), (key,))


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


# ---- joining and tiling -----------------------------------------------------------------

def _split_grad(g, ans, i, inputs, axis, sizes):
    start = sum(sizes[:i])
    idx = (slice(None),) * axis + (slice(start, start + sizes[i]),)
    return call(getitem_op, g, params=(idx,))


def _concat_forward(*args):
    *xs, axis, sizes = args
    return np.concatenate(xs, axis=axis)


from tapegrad._core import Op as _Op, GENERAL as _GENERAL  # noqa: E402
from tapegrad.ops._registry import _register  # noqa: E402

concat_op = _register(_Op("concat", _concat_forward, (_split_grad,), kind=_GENERAL, variadic=True))


def _same_dtype_tensors(values, what):
    tensors = [v for v in values if isinstance(v, (Tensor, Variable))]
    dt = np.result_type(_ensure_tensor(tensors[0])._value) if tensors else None
    out = []
    for v in values:
        if not isinstance(v, (Tensor, Variable)) and dt is not None:
            v = _core.raw_from_python(v, dt)
        t = _ensure_tensor(v)
        if dt is not None and np.result_type(t._value) != dt:
            raise InvalidArgumentError(f"{what}: all values must have the same dtype, got {np.result_type(t._value)} and {dt}")
        out.append(t)
    return out


def concat(values, axis, name=None):
    ts = _same_dtype_tensors(list(values), "concat")
    if not ts:
        raise ValueError("concat needs at least one tensor")
    nd = len(_shape_of(ts[0]))
    axis = int(axis) % max(nd, 1)
    for t in ts:
        s = _shape_of(t)
        if len(s) != nd or any(a != b for i, (a, b) in enumerate(zip(s, _shape_of(ts[0]))) if i != axis):
            raise InvalidArgumentError(f"ConcatOp : Dimension mismatch: shapes {_shape_of(ts[0])} and {s} on axis {axis}")
    sizes = tuple(_shape_of(t)[axis] for t in ts)
    return apply(concat_op, tuple(ts), (axis, sizes))


@numpy_function(np.concatenate)
def _np_concatenate(arrays, axis=0, out=None, **kwargs):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    return concat(arrays, axis)


def stack(values, axis=0, name=None):
    ts = _same_dtype_tensors(list(values), "stack")
    if not ts:
        raise ValueError("stack needs at least one tensor")
    s0 = _shape_of(ts[0])
    for t in ts:
        if _shape_of(t) != s0:
            raise InvalidArgumentError(f"Shapes of all inputs must match: values[0].shape = {list(s0)} "
                                       f"!= values[i].shape = {list(_shape_of(t))}")
    axis = int(axis) % (len(s0) + 1)
    return concat([expand_dims(t, axis) for t in ts], axis)


@numpy_function(np.stack)
def _np_stack(arrays, axis=0, out=None, **kwargs):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    return stack(arrays, axis)


def unstack(value, num=None, axis=0, name=None):
    t = _ensure_tensor(value)
    shape = _shape_of(t)
    axis = int(axis) % len(shape)
    return [getitem(t, (slice(None),) * axis + (i,)) for i in builtins.range(shape[axis])]


def tile(input, multiples, name=None):
    """tf.tile: the gradient sums the copies (reshape + reduce)."""
    t = _ensure_tensor(input)
    shape = _shape_of(t)
    mult = _static_shape(multiples, "multiples")
    if len(mult) != len(shape):
        raise InvalidArgumentError(f"Expected multiples argument to be a vector of length {len(shape)} "
                                   f"but got length {len(mult)}")
    # Broadcast an interleaved (m0, d0, m1, d1, ...) view, then merge pairs.
    inter = []
    for m, d in zip(mult, shape):
        inter += [1, d]
    expanded = broadcast_to(reshape(t, inter), [x for m, d in zip(mult, shape) for x in (m, d)])
    return reshape(expanded, [m * d for m, d in zip(mult, shape)])


@numpy_function(np.tile)
def _np_tile(A, reps):
    t = _ensure_tensor(A)
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    nd = max(len(_shape_of(t)), len(reps))
    t = reshape(t, (1,) * (nd - len(_shape_of(t))) + _shape_of(t))
    return tile(t, (1,) * (nd - len(reps)) + reps)


def add_n(inputs, name=None):
    inputs = list(inputs)
    if not inputs:
        raise ValueError("add_n needs at least one tensor")
    total = _ensure_tensor(inputs[0])
    for x in inputs[1:]:
        total = total + x
    return total


def identity(input, name=None):
    from tapegrad.ops.math_ops import identity_op
    return _core.unary(identity_op, input)
