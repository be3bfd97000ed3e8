"""NumPy's shape, joining, splitting and product functions on tensors
(``np.hstack``, ``np.split``, ``np.roll``, ``np.kron``, ``np.cross``, ...).

Each is a composition of registered ops (concat, getitem, reshape,
transpose, reverse, where, multiply, tensordot), so it needs no rule of its
own: its VJP, JVP, batching and every higher derivative are those of the
ops it is made of.  Static decisions (shapes, split points, sort orders) are
made on the values, never recorded.
"""
import builtins
import functools
import string
import warnings

import numpy as np

from tapegrad import _core
from tapegrad.ops import array_ops, linalg_ops, math_ops, reduction_ops
from tapegrad.ops._registry import numpy_function, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, shape_of
from tapegrad.ops.array_ops import concat, getitem, reshape, reverse, transpose
from tapegrad.ops.math_ops import where

_ALL = builtins.slice(None)


def _no_out(name, out):
    if out is not None:
        raise TypeError(f"tapegrad: numpy.{name}(..., out=...) is not supported: Tensors are immutable")


def _axis(axis, nd, name):
    axis = int(axis)
    if not -nd <= axis < nd:
        raise np.exceptions.AxisError(f"{name}: axis {axis} is out of bounds for array of dimension {nd}")
    return axis % nd


def _along(axis, key):
    """An index that applies `key` along `axis` (all of every axis before it)."""
    return (_ALL,) * axis + (key,)


# ---- reshaping: order='F', the atleast_* family --------------------------------------------

def _reversed_axes(t):
    return transpose(t, tuple(builtins.range(ndim_of(t)))[::-1])


@numpy_function(np.reshape)
def _np_reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = shape if shape is not None else newshape
    if order in ("C", "A"):                   # tensors are C-contiguous: 'A' is 'C'
        return reshape(a, shape)
    if order != "F":
        raise ValueError(f"order must be one of 'C', 'F', 'A', got {order!r}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _reversed_axes(reshape(_reversed_axes(as_tensor(a)), shape[::-1]))


@numpy_function(np.ravel)
def _np_ravel(a, order="C"):
    return _np_reshape(a, (-1,), order="F" if order == "F" else "C")


def _atleast(nd, arys, where_new):
    out = []
    for a in arys:
        t = as_tensor(a)
        s = shape_of(t)
        if len(s) < nd:
            s = where_new(s)
            t = reshape(t, s)
        out.append(t)
    return out[0] if len(out) == 1 else tuple(out)


@numpy_function(np.atleast_1d)
def _np_atleast_1d(*arys):
    return _atleast(1, arys, lambda s: (1,))


@numpy_function(np.atleast_2d)
def _np_atleast_2d(*arys):
    return _atleast(2, arys, lambda s: (1,) * (2 - len(s)) + s)


@numpy_function(np.atleast_3d)
def _np_atleast_3d(*arys):
    return _atleast(3, arys, lambda s: {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)])


def _list(arrays, name):
    if isinstance(arrays, (_core.Tensor, _core.Variable)) or not isinstance(arrays, (list, tuple)):
        raise TypeError(f"tapegrad: numpy.{name} takes a sequence of arrays")
    return list(arrays)


def _as_tensors(arrays, name):
    return _core.operands(_list(arrays, name), name)


# ---- joining ---------------------------------------------------------------------------------

@numpy_function(np.hstack)
def _np_hstack(tup, *, dtype=None, casting="same_kind"):
    ts = [_np_atleast_1d(t) for t in _as_tensors(tup, "hstack")]
    return concat(ts, 0 if ndim_of(ts[0]) == 1 else 1)


@numpy_function(np.vstack, *([np.row_stack] if hasattr(np, "row_stack") else []))
def _np_vstack(tup, *, dtype=None, casting="same_kind"):
    return concat([_np_atleast_2d(t) for t in _as_tensors(tup, "vstack")], 0)


@numpy_function(np.dstack)
def _np_dstack(tup):
    return concat([_np_atleast_3d(t) for t in _as_tensors(tup, "dstack")], 2)


@numpy_function(np.column_stack)
def _np_column_stack(tup):
    ts = _as_tensors(tup, "column_stack")
    return concat([reshape(t, (-1, 1)) if ndim_of(t) < 2 else t for t in ts], 1)


def _block_depth(x):
    if isinstance(x, list):
        if not x:
            raise ValueError("numpy.block: lists cannot be empty")
        depths = {_block_depth(e) for e in x}
        if len(depths) != 1:
            raise ValueError("numpy.block: list depths are mismatched")
        return 1 + depths.pop()
    return 0


def _block_leaves(x):
    return [leaf for e in x for leaf in _block_leaves(e)] if isinstance(x, list) else [x]


@numpy_function(np.block)
def _np_block(arrays):
    """Innermost lists join along the last axis, the next ones along the one
    before it, ...; leaves are first given the result's rank by leading 1s."""
    depth = _block_depth(arrays)
    leaves = _core.operands(_block_leaves(arrays), "block")
    nd = builtins.max([depth] + [ndim_of(t) for t in leaves])
    it = iter(reshape(t, (1,) * (nd - ndim_of(t)) + shape_of(t)) for t in leaves)

    def build(x, level):
        if not isinstance(x, list):
            return next(it)
        return concat([build(e, level + 1) for e in x], nd - depth + level)
    return build(arrays, 0)


@numpy_function(np.append)
def _np_append(arr, values, axis=None):
    a, v = _core.operands((arr, values), "append")
    if axis is None:
        return concat([reshape(a, (-1,)), reshape(v, (-1,))], 0)
    return concat([a, v], axis)


# ---- splitting -------------------------------------------------------------------------------

def _split(ary, indices_or_sections, axis, name, equal):
    t = as_tensor(ary)
    axis = _axis(axis, ndim_of(t), name)
    n = shape_of(t)[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError("number sections must be larger than 0.")
        if equal and n % k:
            raise ValueError("array split does not result in an equal division")
        each, extra = divmod(n, k)
        sizes = [each + 1] * extra + [each] * (k - extra)
        bounds = np.cumsum([0] + sizes)
    else:
        bounds = [0] + [int(i) for i in np.asarray(indices_or_sections).reshape(-1)] + [n]
    # Plain slices, as NumPy takes them: negative or decreasing points give empty or shorter parts.
    return [getitem(t, _along(axis, builtins.slice(int(a), int(b)))) for a, b in zip(bounds[:-1], bounds[1:])]


@numpy_function(np.split)
def _np_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, "split", True)


@numpy_function(np.array_split)
def _np_array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, "array_split", False)


@numpy_function(np.hsplit)
def _np_hsplit(ary, indices_or_sections):
    nd = ndim_of(as_tensor(ary))
    if nd == 0:
        raise ValueError("hsplit only works on arrays of 1 or more dimensions")
    return _split(ary, indices_or_sections, 1 if nd > 1 else 0, "hsplit", True)


@numpy_function(np.vsplit)
def _np_vsplit(ary, indices_or_sections):
    if ndim_of(as_tensor(ary)) < 2:
        raise ValueError("vsplit only works on arrays of 2 or more dimensions")
    return _split(ary, indices_or_sections, 0, "vsplit", True)


@numpy_function(np.dsplit)
def _np_dsplit(ary, indices_or_sections):
    if ndim_of(as_tensor(ary)) < 3:
        raise ValueError("dsplit only works on arrays of 3 or more dimensions")
    return _split(ary, indices_or_sections, 2, "dsplit", True)


# ---- rearranging: repeat, roll, rot90, rollaxis, fliplr/flipud ---------------------------------

@numpy_function(np.repeat)
def _np_repeat(a, repeats, axis=None):
    t = as_tensor(a)
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    axis = _axis(axis, ndim_of(t), "repeat")
    idx = np.repeat(np.arange(shape_of(t)[axis]), np.asarray(raw(as_tensor(repeats))))
    return getitem(t, _along(axis, idx))


@numpy_function(np.roll)
def _np_roll(a, shift, axis=None):
    t = as_tensor(a)
    if axis is None:
        return reshape(_np_roll(reshape(t, (-1,)), shift, 0), shape_of(t))
    shifts, axes = np.broadcast_arrays(np.asarray(shift), np.asarray(axis))
    for s, ax in zip(shifts.reshape(-1), axes.reshape(-1)):
        ax = _axis(ax, ndim_of(t), "roll")
        n = shape_of(t)[ax]
        if n:
            t = getitem(t, _along(ax, (np.arange(n) - int(s)) % n))
    return t


@numpy_function(np.rot90)
def _np_rot90(m, k=1, axes=(0, 1)):
    t = as_tensor(m)
    nd = ndim_of(t)
    if len(axes) != 2:
        raise ValueError("len(axes) must be 2.")
    a0, a1 = _axis(axes[0], nd, "rot90"), _axis(axes[1], nd, "rot90")
    if a0 == a1:
        raise ValueError("Axes must be different.")
    k %= 4
    if k == 0:
        return t
    if k == 2:
        return reverse(t, [a0, a1])
    perm = list(builtins.range(nd))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    return transpose(reverse(t, [a1]), perm) if k == 1 else reverse(transpose(t, perm), [a1])


@numpy_function(np.rollaxis)
def _np_rollaxis(a, axis, start=0):
    t = as_tensor(a)
    nd = ndim_of(t)
    axis = _axis(axis, nd, "rollaxis")
    if start < 0:
        start += nd
    if not 0 <= start <= nd:
        raise np.exceptions.AxisError(f"rollaxis: start {start} is out of bounds for array of dimension {nd}")
    if axis < start:
        start -= 1
    if axis == start:
        return t
    perm = [i for i in builtins.range(nd) if i != axis]
    perm.insert(start, axis)
    return transpose(t, perm)


@numpy_function(np.fliplr)
def _np_fliplr(m):
    if ndim_of(as_tensor(m)) < 2:
        raise ValueError("Input must be >= 2-d.")
    return reverse(m, [1])


@numpy_function(np.flipud)
def _np_flipud(m):
    if ndim_of(as_tensor(m)) < 1:
        raise ValueError("Input must be >= 1-d.")
    return reverse(m, [0])


# ---- diagonals and triangles ------------------------------------------------------------------

def _offset_diagonal(t, offset, axis1, axis2):
    """The offset-th diagonal of t over (axis1, axis2), as the last axis."""
    nd = ndim_of(t)
    a1, a2 = _axis(axis1, nd, "diagonal"), _axis(axis2, nd, "diagonal")
    if a1 == a2:
        raise ValueError("axis1 and axis2 cannot be the same")
    moved = transpose(t, [i for i in builtins.range(nd) if i not in (a1, a2)] + [a1, a2])
    offset = int(offset)
    key = (Ellipsis, _ALL, builtins.slice(offset, None)) if offset >= 0 else \
        (Ellipsis, builtins.slice(-offset, None), _ALL)
    return linalg_ops.diag_part(getitem(moved, key))


@numpy_function(np.diagonal)
def _np_diagonal(a, offset=0, axis1=0, axis2=1):
    return _offset_diagonal(as_tensor(a), offset, axis1, axis2)


@numpy_function(np.trace)
def _np_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out("trace", out)
    r = reduction_ops.reduce_sum(_offset_diagonal(as_tensor(a), offset, axis1, axis2), axis=-1)
    return r if dtype is None else math_ops.cast(r, dtype)


@numpy_function(np.diag)
def _np_diag(v, k=0):
    t = as_tensor(v)
    s = shape_of(t)
    k = int(k)
    if len(s) == 2:
        return _offset_diagonal(t, k, 0, 1)
    if len(s) != 1:
        raise ValueError("Input must be 1- or 2-d.")
    n, m = s[0] + builtins.abs(k), builtins.abs(k)
    # v[i] goes to (i, i + k): v padded to n is constant along rows (k >= 0) or columns (k < 0).
    # A where, not v times an identity: an inf or nan in v must not spread nans off the diagonal.
    padded = array_ops.pad(t, ((0, m),)) if m else t
    spread = reshape(padded, (n, 1) if k >= 0 else (1, n))
    return where(np.eye(n, k=k, dtype=bool), spread, np.zeros((), dtype=np.result_type(raw(t))))


def _triangle(m, k, lower, name):
    t = as_tensor(m)
    s = shape_of(t)
    if len(s) < 2:
        t = reshape(t, (1,) * (2 - len(s)) + s)            # NumPy broadcasts a vector to a square
        t = array_ops.broadcast_to(t, (shape_of(t)[-1],) * 2)
        s = shape_of(t)
    mask = np.tri(s[-2], s[-1], int(k) if lower else int(k) - 1, dtype=bool)
    # where, not a multiply by the mask: an inf or nan outside the triangle gives 0, as NumPy's does.
    return where(mask if lower else ~mask, t, np.zeros((), dtype=np.result_type(raw(t))))


@numpy_function(np.tril)
def _np_tril(m, k=0):
    return _triangle(m, k, True, "tril")


@numpy_function(np.triu)
def _np_triu(m, k=0):
    return _triangle(m, k, False, "triu")


# ---- differences, gradients, selections, linspace ---------------------------------------------

@numpy_function(np.diff)
def _np_diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    t = as_tensor(a)
    nd = ndim_of(t)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, nd, "diff")
    if n < 0:
        raise ValueError(f"order must be non-negative but got {n!r}")
    parts = []
    for extra in (prepend, append):
        if extra is np._NoValue:
            parts.append(None)
            continue
        e = _core.operands((t, extra), "diff")[1]
        if ndim_of(e) == 0:
            shape = list(shape_of(t))
            shape[axis] = 1
            e = array_ops.broadcast_to(e, shape)
        parts.append(e)
    if parts[0] is not None or parts[1] is not None:
        t = concat([p for p in (parts[0], t, parts[1]) if p is not None], axis)
    for _ in builtins.range(int(n)):
        t = getitem(t, _along(axis, builtins.slice(1, None))) - getitem(t, _along(axis, builtins.slice(None, -1)))
    return t


def _coefficient(c, ax, nd, dtype):
    """A vector of per-position coefficients, shaped to broadcast along `ax`."""
    return np.asarray(c, dtype=dtype).reshape([-1 if i == ax else 1 for i in builtins.range(nd)])


def _uniform_gradient(sl, h, n, edge_order):
    inner = (sl(2) - sl(None, -2)) / (2.0 * h) if n > 2 else None
    if edge_order == 1:
        return (sl(1, 2) - sl(0, 1)) / h, inner, (sl(-1) - sl(-2, -1)) / h
    return ((sl(0, 1) * -1.5 + sl(1, 2) * 2.0 - sl(2, 3) * 0.5) / h, inner,
            (sl(-3, -2) * 0.5 - sl(-2, -1) * 2.0 + sl(-1) * 1.5) / h)


def _coordinate_gradient(sl, x, n, edge_order, coef):
    """NumPy's second-order-accurate formulas for sample coordinates x (constants)."""
    dx = np.diff(x)
    d1, d2 = dx[:-1], dx[1:]
    inner = (sl(None, -2) * coef(-d2 / (d1 * (d1 + d2))) + sl(1, -1) * coef((d2 - d1) / (d1 * d2))
             + sl(2) * coef(d1 / (d2 * (d1 + d2)))) if n > 2 else None
    if edge_order == 1:
        return (sl(1, 2) - sl(0, 1)) / dx[0], inner, (sl(-1) - sl(-2, -1)) / dx[-1]
    a, b = dx[0], dx[1]
    first = (sl(0, 1) * (-(2 * a + b) / (a * (a + b))) + sl(1, 2) * ((a + b) / (a * b))
             + sl(2, 3) * (-a / (b * (a + b))))
    a, b = dx[-2], dx[-1]
    last = (sl(-3, -2) * (b / (a * (a + b))) + sl(-2, -1) * (-(a + b) / (a * b))
            + sl(-1) * ((2 * b + a) / (b * (a + b))))
    return first, inner, last


@numpy_function(np.gradient)
def _np_gradient(f, *varargs, axis=None, edge_order=1):
    """Central differences inside, one-sided (edge_order 1 or 2) at the ends;
    spacings as scalars (differentiable, if tensors) or as sample coordinates
    (constants), as NumPy takes them."""
    t = as_tensor(f)
    nd = ndim_of(t)
    axes = list(builtins.range(nd)) if axis is None else \
        [_axis(a, nd, "gradient") for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis)]
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(raw(varargs[0])) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order not in (1, 2):
        raise ValueError("'edge_order' greater than 2 not supported")
    dtype = np.result_type(raw(t))
    out = []
    for ax, h in zip(axes, spacing):
        n = shape_of(t)[ax]
        if n < edge_order + 1:
            raise ValueError("Shape of array too small to calculate a numerical gradient, at least "
                             "(edge_order + 1) elements are required.")

        def sl(a, b=None, ax=ax):
            return getitem(t, _along(ax, builtins.slice(a, b)))
        if np.ndim(raw(h)) == 0:
            parts = _uniform_gradient(sl, h, n, edge_order)
        else:
            x = np.asarray(raw(h), dtype=np.float64)
            if x.shape != (n,):
                raise ValueError("when 1d, distances must match the length of the corresponding dimension")
            parts = _coordinate_gradient(sl, x, n, edge_order, lambda c, ax=ax: _coefficient(c, ax, nd, dtype))
        out.append(concat([p for p in parts if p is not None], ax))
    return out[0] if len(out) == 1 else tuple(out)


@numpy_function(np.select)
def _np_select(condlist, choicelist, default=0):
    if len(condlist) != len(choicelist):
        raise ValueError("list of cases must be same length as list of conditions")
    if not choicelist:
        raise ValueError("select with an empty condition list is not possible")
    choices = _core.operands(list(choicelist) + [default], "select")
    result = choices[-1]
    for cond, choice in zip(reversed(condlist), reversed(choices[:-1])):
        c = np.asarray(raw(as_tensor(cond)))
        if c.dtype != np.bool_:
            raise TypeError(f"invalid entry in condlist: should be boolean ndarray, got {c.dtype}")
        result = where(c, choice, result)
    return result


@numpy_function(np.linspace)
def _np_linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None):
    """NumPy's values (arange * step + start, the last one exactly stop),
    differentiable in start and stop."""
    num = int(num)
    if num < 0:
        raise ValueError(f"Number of samples, {num}, must be non-negative.")
    a, b = _core.operands((start, stop), "linspace")
    if np.result_type(raw(a)).kind not in "fc":
        a, b = math_ops.cast(a, np.float64), math_ops.cast(b, np.float64)
    div = (num - 1) if endpoint else num
    delta = b - a
    lead = np.broadcast_shapes(shape_of(a), shape_of(b))
    steps = np.arange(num, dtype=np.result_type(raw(a))).reshape((-1,) + (1,) * len(lead))
    step = delta / div if div > 0 else delta * np.nan
    y = steps * step + a if div > 0 else steps * delta + a
    if endpoint and num > 1:
        y = concat([getitem(y, builtins.slice(None, -1)), reshape(array_ops.broadcast_to(b, lead), (1,) + lead)], 0)
    if axis != 0:
        y = np.moveaxis(y, 0, axis)
    if dtype is not None:
        y = math_ops.cast(y, dtype)
    return (y, step) if retstep else y


# ---- sorting ----------------------------------------------------------------------------------

def _gather_along(t, idx, axis):
    nd = ndim_of(t)
    key = tuple(idx if i == axis else np.arange(d).reshape([-1 if j == i else 1 for j in builtins.range(nd)])
                for i, d in enumerate(shape_of(t)))
    return getitem(t, key)


def _reorder_operand(a, axis, order, name):
    """sort's and partition's tensor and axis: NumPy's axis=None flattens first."""
    if order is not None:
        raise TypeError(f"tapegrad: numpy.{name}(order=...) is for structured arrays, which tensors are not")
    t = as_tensor(a)
    if axis is None:
        t, axis = reshape(t, (-1,)), 0
    return t, _axis(axis, ndim_of(t), name)


@numpy_function(np.sort)
def _np_sort(a, axis=-1, kind=None, order=None, *, stable=None):
    t, axis = _reorder_operand(a, axis, order, "sort")
    return _gather_along(t, np.argsort(raw(t), axis=axis, kind="stable"), axis)


@numpy_function(np.partition)
def _np_partition(a, kth, axis=-1, kind="introselect", order=None):
    t, axis = _reorder_operand(a, axis, order, "partition")
    return _gather_along(t, np.argpartition(raw(t), kth, axis=axis), axis)


# ---- products ---------------------------------------------------------------------------------

@numpy_function(np.inner)
def _np_inner(a, b):
    a, b = _core.operands((a, b), "inner")
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return a * b
    if shape_of(a)[-1] != shape_of(b)[-1]:
        raise ValueError(f"shapes {shape_of(a)} and {shape_of(b)} not aligned: {shape_of(a)[-1]} (dim "
                         f"{ndim_of(a) - 1}) != {shape_of(b)[-1]} (dim {ndim_of(b) - 1})")
    return linalg_ops.tensordot(a, b, ([ndim_of(a) - 1], [ndim_of(b) - 1]))


@numpy_function(np.outer)
def _np_outer(a, b, out=None):
    _no_out("outer", out)
    a, b = _core.operands((a, b), "outer")
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


@numpy_function(np.kron)
def _np_kron(a, b):
    """Interleave the axes of a and b: (a0, b0, a1, b1, ...) -> (a0 b0, a1 b1, ...)."""
    a, b = _core.operands((a, b), "kron")
    nd = builtins.max(ndim_of(a), ndim_of(b))
    sa = (1,) * (nd - ndim_of(a)) + shape_of(a)
    sb = (1,) * (nd - ndim_of(b)) + shape_of(b)
    ra = reshape(a, [d for x in sa for d in (x, 1)])
    rb = reshape(b, [d for x in sb for d in (1, x)])
    return reshape(ra * rb, [x * y for x, y in zip(sa, sb)])


@functools.cache
def _numpy_takes_2d_cross():
    """Whether the installed NumPy still accepts 2-element vectors in np.cross
    (deprecated in NumPy 2.0 and since removed): np.cross on tensors follows it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            np.cross(np.ones(2), np.ones(2))
    except ValueError:
        return False
    return True


@numpy_function(np.cross)
def _np_cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _core.operands((a, b), "cross")
    a = np.moveaxis(a, _axis(axisa, ndim_of(a), "cross"), -1)
    b = np.moveaxis(b, _axis(axisb, ndim_of(b), "cross"), -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError("incompatible dimensions for cross product\n(dimension must be 2 or 3)")
    if (na == 2 or nb == 2) and not _numpy_takes_2d_cross():
        raise ValueError(f"Both input arrays must be (arrays of) 3-dimensional vectors, but they are {na} and {nb} "
                         f"dimensional instead.")

    def comp(x, i, n):
        return getitem(x, (Ellipsis, i)) if i < n else None
    a0, a1, a2 = (comp(a, i, na) for i in builtins.range(3))
    b0, b1, b2 = (comp(b, i, nb) for i in builtins.range(3))
    z = a0 * b1 - a1 * b0
    if na == nb == 2:
        return z

    def mul(x, y):
        return None if x is None or y is None else x * y

    def sub(p, q):                               # never both None: one of the vectors has 3 components
        return p if q is None else (-q if p is None else p - q)
    cx, cy = sub(mul(a1, b2), mul(a2, b1)), sub(mul(a2, b0), mul(a0, b2))
    shape = np.broadcast_shapes(shape_of(cx), shape_of(cy), shape_of(z))
    c = array_ops.stack([array_ops.broadcast_to(v, shape) for v in (cx, cy, z)], -1)
    return np.moveaxis(c, -1, _axis(axisc, ndim_of(c), "cross"))


def _sublist(sub):
    letters = string.ascii_letters
    out = ""
    for s in sub:
        if s is Ellipsis:
            out += "..."
        else:
            if not 0 <= int(s) < len(letters):
                raise ValueError(f"einsum: subscript {s!r} is not in [0, 52)")
            out += letters[int(s)]
    return out


def einsum_operands(args):
    """numpy.einsum's operand-list form, einsum(a, [0, 1], b, [1, 2], [0, 2]),
    as (equation, operands)."""
    args = list(args)
    if len(args) % 2:                           # an output sublist at the end
        ops, subs, out = args[0:-1:2], args[1:-1:2], _sublist(args[-1])
        return ",".join(_sublist(s) for s in subs) + "->" + out, ops
    ops, subs = args[0::2], args[1::2]
    return ",".join(_sublist(s) for s in subs), ops


@numpy_function(np.einsum)
def _np_einsum(*operands, **kwargs):
    if operands and isinstance(operands[0], str):
        return linalg_ops.einsum(*operands, **kwargs)
    equation, ops = einsum_operands(operands)
    return linalg_ops.einsum(equation, *ops, **kwargs)


__all__ = ["einsum_operands"]
