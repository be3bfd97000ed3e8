"""Reductions.  Rules broadcast the gradient back over the reduced axes; the
shape of the input is kept in the params, not the input itself."""
import math

import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import Tensor, Variable, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs, math_ops
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, nondiff, numpy_function, raw
from tapegrad.ops._shapes import as_tensor, broadcast_scalar, ndim_of, neg_axis, shape_of, unbroadcast
from tapegrad.ops.array_ops import pad_op, reshape, reverse_op, take_slice
from tapegrad.ops.creation import stop_gradient


def _axes(axis, ndim, op="reduce"):
    """Normalised reduction axes (a sorted tuple), or None for all."""
    if axis is None:
        return None
    if isinstance(axis, (Tensor, Variable)):
        axis = np.asarray(axis).tolist()
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise InvalidArgumentError(f"{op}: Invalid reduction dimension {a} for input with {ndim} dimensions.")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(in_shape, axes):
    if axes is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in axes else d for i, d in enumerate(in_shape))


def _out_ndim(in_shape, axes, keepdims):
    if keepdims:
        return len(in_shape)
    return 0 if axes is None else len(in_shape) - len(axes)


def _grad_to_input(g, in_shape, axes, keepdims):
    """Broadcast a reduction's gradient back to the input's shape (keeping
    any leading batch axes of g)."""
    if axes is None and (type(g) is np.float64 or type(g) is not Tensor and ndim_of(g) == 0):
        return broadcast_scalar(g, in_shape)     # a full reduction on raw values: the common case
    lead = shape_of(g)[:ndim_of(g) - _out_ndim(in_shape, axes, keepdims)]
    if not keepdims:
        g = np.reshape(g, lead + _kept_shape(in_shape, axes))
    return np.broadcast_to(g, lead + tuple(in_shape))


def _count(in_shape, axes):
    if axes is None:
        return math.prod(in_shape)
    return math.prod([in_shape[a] for a in axes])


def _mean_forward(x, axes, keepdims, in_shape):
    """np.mean, without its ~5 us of argument handling for real float arrays:
    the same reduction and the same division (by an intp count, as NumPy's
    own _mean divides, so float32 means round as np.mean's do)."""
    if type(x) is not np.ndarray or x.dtype.kind != "f" or x.dtype.itemsize < 4 or x.size == 0:
        return np.mean(x, axis=axes, keepdims=keepdims)
    r = np.add.reduce(x, axes, None, None, keepdims)
    n = np.intp(math.prod(in_shape) if axes is None else _count(in_shape, axes))   # (a loss's mean: no frame)
    if type(r) is np.ndarray:
        return np.true_divide(r, n, out=r, casting="unsafe")
    return r.dtype.type(r / n)


# np.add.reduce is what np.sum calls after ~2 us of argument handling in Python: the
# whole cost of summing a small tensor (benchmarks/numpy_dispatch.py).
reduce_sum_op = general(
    "reduce_sum", lambda x, axes, keepdims, in_shape: np.add.reduce(x, axes, None, None, keepdims),
    (lambda g, ans, x, axes, keepdims, in_shape: _grad_to_input(g, in_shape, axes, keepdims),), linear=True)
_core.install_reduce_sum(reduce_sum_op)


def _mean_vjp(g, ans, x, axes, keepdims, in_shape):
    if axes is None and (type(g) is np.ndarray or type(g) is np.float64 or type(g) is np.float32) and g.ndim == 0:
        # A full mean of raw values (a loss): _grad_to_input's first case, without its frame
        # and _count's.
        return broadcast_scalar(g / math.prod(in_shape), in_shape)
    return _grad_to_input(g / _count(in_shape, axes), in_shape, axes, keepdims)


reduce_mean_op = general("reduce_mean", _mean_forward, (_mean_vjp,), linear=True)


def _extremum_weights(ans, x, axes, keepdims, in_shape):
    # TensorFlow splits the gradient equally between tied extrema.
    y = ans if keepdims else np.reshape(ans, _kept_shape(in_shape, axes))
    indicators = math_ops.cast_like(np.equal(x, y), x)
    return indicators / np.sum(indicators, axis=axes, keepdims=True)


def _extremum_vjp(g, ans, x, axes, keepdims, in_shape):
    return _extremum_weights(ans, x, axes, keepdims, in_shape) * _grad_to_input(g, in_shape, axes, keepdims)


def _extremum_jvp(t, ans, x, axes, keepdims, in_shape):
    return np.sum(_extremum_weights(ans, x, axes, keepdims, in_shape) * t, axis=axes, keepdims=keepdims)


reduce_max_op = general("reduce_max", lambda x, axes, keepdims, in_shape: np.max(x, axis=axes, keepdims=keepdims),
                        (_extremum_vjp,), save="x,ans", jvps=(_extremum_jvp,))
reduce_min_op = general("reduce_min", lambda x, axes, keepdims, in_shape: np.min(x, axis=axes, keepdims=keepdims),
                        (_extremum_vjp,), save="x,ans", jvps=(_extremum_jvp,))


# ---- scans: cumsum, cumprod and the linear recurrence behind cumprod's gradient ----------
# Axes are negative, so leading batch axes never move them.

def _shift(v, axis, fill, right=True):
    """v moved one step along `axis` (right: v[k-1] lands at k), `fill` in the
    vacated slot; on either path (pad and slice are ops)."""
    shape = shape_of(v)[axis:]
    n, tail = shape[0], (slice(None),) * (len(shape) - 1)
    part = take_slice(v, (Ellipsis, slice(0, n - 1) if right else slice(1, n)) + tail, shape)
    pads = ((1, 0) if right else (0, 1),) + ((0, 0),) * (len(shape) - 1)
    return call(pad_op, part, params=(pads, fill, (n - 1,) + shape[1:]))


def _shift_raw(r, axis, fill):
    pads = [(0, 0)] * r.ndim
    pads[axis] = (1, 0)
    return np.pad(np.delete(r, -1, axis=axis), pads, constant_values=fill)


def _cumsum_forward(x, axis, exclusive, reverse):
    x = np.flip(x, axis) if reverse else x
    r = np.cumsum(x, axis=axis)
    r = _shift_raw(r, axis, 0) if exclusive else r
    return np.flip(r, axis) if reverse else r


# TensorFlow's rule: the gradient of a cumsum is the cumsum the other way.
cumsum_op = general("cumsum", _cumsum_forward,
                    (lambda g, ans, x, axis, exclusive, reverse: call(cumsum_op, g, params=(axis, exclusive,
                                                                                            not reverse)),),
                    linear=True)


def _linrec_forward(a, b, axis, reverse):
    """h[k] = a[k] * h[k-1] + b[k] (h[-1] = 0) along axis; reverse runs from
    the end.  Hillis-Steele doubling: log2(n) NumPy steps."""
    a, b = np.broadcast_arrays(a, b)
    dt = np.result_type(a, b)
    A, B = np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)
    if reverse:
        A, B = A[..., ::-1], B[..., ::-1]
    A, B = np.array(A, dtype=dt), np.array(B, dtype=dt)
    n, s = A.shape[-1], 1
    while s < n:
        B[..., s:] = A[..., s:] * B[..., :-s] + B[..., s:]
        A[..., s:] = A[..., s:] * A[..., :-s]
        s *= 2
    return np.moveaxis(B[..., ::-1] if reverse else B, -1, axis)


def _linrec_adjoint(g, h, a, axis, reverse):
    # u[i] = g[i] + a[i+1] u[i+1]: the same recurrence run the other way.
    a_next = _shift(np.broadcast_to(a, shape_of(h)), axis, 0, right=reverse)
    return call(linrec_op, a_next, g, params=(axis, not reverse))


def _linrec_vjp_a(g, h, a, b, axis, reverse):
    u = _linrec_adjoint(g, h, a, axis, reverse)
    return unbroadcast(u * _shift(h, axis, 0, right=not reverse), shape_of(a), ndim_of(h))


def _linrec_vjp_b(g, h, a, b, axis, reverse):
    return unbroadcast(_linrec_adjoint(g, h, a, axis, reverse), shape_of(b), ndim_of(h))


# Closed under differentiation: its VJPs and JVPs are linear recurrences too,
# so cumprod (and reduce_prod through it) is exact at every order, zeros included.
linrec_op = general("linear_recurrence", _linrec_forward, (_linrec_vjp_a, _linrec_vjp_b), save="x,ans",
                    jvps=(lambda t, h, a, b, axis, reverse: call(
                              linrec_op, a, t * _shift(h, axis, 0, right=not reverse), params=(axis, reverse)),
                          lambda t, h, a, b, axis, reverse: call(linrec_op, a, t, params=(axis, reverse))),
                    holomorphic=True)


def _cumprod_vjp(g, ans, x, axis):
    # d<g, cumprod x>/dx[k] = (prod_{j<k} x[j]) * sum_{i>=k} g[i] prod_{k<j<=i} x[j]
    return _shift(ans, axis, 1) * call(linrec_op, _shift(x, axis, 0, right=False), g, params=(axis, True))


cumprod_op = general("cumprod", lambda x, axis: np.cumprod(x, axis=axis), (_cumprod_vjp,), save="x,ans",
                     jvps=(lambda t, ans, x, axis: call(linrec_op, x, t * _shift(ans, axis, 1), params=(axis, False)),),
                     holomorphic=True)


def _cumprod(x, axis, exclusive=False, reverse=False):
    """cumprod with TensorFlow's flags, on either path (flags compose ops)."""
    if reverse:
        x = call(reverse_op, x, params=((axis,),))
    if exclusive:
        x = _shift(x, axis, 1)
    y = call(cumprod_op, x, params=(axis,))
    return call(reverse_op, y, params=((axis,),)) if reverse else y


def _scan(op_name):
    def scan(x, axis=0, exclusive=False, reverse=False, name=None):
        t = as_tensor(x)
        if ndim_of(t) == 0:
            raise InvalidArgumentError(f"{op_name}: input must have rank >= 1")
        ax = neg_axis(axis, ndim_of(t), op_name)
        if op_name == "cumsum":
            return apply(cumsum_op, (t,), (ax, bool(exclusive), bool(reverse)))
        return _cumprod(t, ax, bool(exclusive), bool(reverse))
    scan.__name__ = op_name
    scan.__doc__ = f"tf.math.{op_name}(x, axis=0, exclusive=False, reverse=False): differentiable at every order."
    return scan


_SCAN_ARGS = {"x": (_docs.TENSOR, "the input, of rank >= 1."),
              "axis": ("int", "the axis to scan along."),
              "exclusive": ("bool", "leave each element out of its own result (the first result is the "
                                    "identity: 0 for a sum, 1 for a product)."),
              "reverse": ("bool", "scan from the end of the axis towards its start.")}
cumsum = op_doc(
    summary="The cumulative sum of x along an axis: y[k] = x[0] + ... + x[k].",
    tf="``tf.math.cumsum``", numpy="``numpy.cumsum``", args=_SCAN_ARGS,
    returns="A Tensor of x's shape and dtype.",
    derivative="d y[k] / d x[j] = 1 for j <= k (for j >= k with reverse=True), else 0: the gradient is the "
               "reversed cumulative sum of g.",
    dtypes=_docs.NUMERIC, raises="InvalidArgumentError: x is a scalar, or axis is out of range.",
    example="""
        >>> tg.cumsum([1.0, 2.0, 3.0])
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([1., 3., 6.], dtype=float32)>
        >>> tg.cumsum([1.0, 2.0, 3.0], exclusive=True, reverse=True)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([5., 3., 0.], dtype=float32)>
    """)(_scan("cumsum"))
cumprod = op_doc(
    summary="The cumulative product of x along an axis: y[k] = x[0] * ... * x[k].",
    tf="``tf.math.cumprod``", numpy="``numpy.cumprod``", args=_SCAN_ARGS,
    returns="A Tensor of x's shape and dtype.",
    derivative="d y[k] / d x[j] = y[k] / x[j] for j <= k, computed without dividing (as products of the "
               "other factors), so zeros in x are handled exactly at every order.",
    dtypes=_docs.NUMERIC, raises="InvalidArgumentError: x is a scalar, or axis is out of range.",
    example="""
        >>> x = tg.constant([1.0, 2.0, 3.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.math.cumprod(x)
        >>> y
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([1., 2., 6.], dtype=float32)>
        >>> tape.gradient(y, x)      # d(x0 + x0 x1 + x0 x1 x2)/dx
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([9., 4., 2.], dtype=float32)>
    """)(_scan("cumprod"))


def _np_scan(f):
    def np_scan(a, axis=None, dtype=None, out=None):
        if out is not None:
            raise TypeError("tapegrad: out= is not supported on Tensors")
        t = as_tensor(a)
        if axis is None:
            t, axis = reshape(t, (-1,)), 0
        r = f(t, axis)
        return r if dtype is None else math_ops.cast(r, dtype)
    return np_scan


numpy_function(np.cumsum)(_np_scan(cumsum))
numpy_function(np.cumprod)(_np_scan(cumprod))


# ---- reduce_prod -------------------------------------------------------------------------

def _prod_others(x, axes, in_shape):
    """The product of the other reduced elements, for every element.  Like
    TensorFlow, as the product of exclusive cumprods from both sides, so
    zeros need no division (and higher orders stay exact)."""
    xv = raw(x)
    if not isinstance(x, Tensor) and np.all(xv != 0):
        return np.prod(xv, axis=axes, keepdims=True) / xv
    nd = len(in_shape)
    red = tuple(range(nd)) if axes is None else axes
    keep = tuple(i for i in range(nd) if i not in red)
    perm = keep + red
    flat = np.reshape(np.transpose(x, perm), tuple(in_shape[i] for i in keep) + (-1,))
    others = _cumprod(flat, -1, exclusive=True) * _cumprod(flat, -1, exclusive=True, reverse=True)
    return np.transpose(np.reshape(others, tuple(in_shape[i] for i in perm)), tuple(np.argsort(perm)))


reduce_prod_op = general(
    "reduce_prod", lambda x, axes, keepdims, in_shape: np.prod(x, axis=axes, keepdims=keepdims),
    (lambda g, ans, x, axes, keepdims, in_shape: _grad_to_input(g, in_shape, axes, keepdims)
     * _prod_others(x, axes, in_shape),), save="x",
    jvps=(lambda t, ans, x, axes, keepdims, in_shape: np.sum(t * _prod_others(x, axes, in_shape), axis=axes,
                                                             keepdims=keepdims),), holomorphic=True)


def _reducer(op):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        t = as_tensor(input_tensor)
        shape = t._value.shape if type(t) is Tensor else shape_of(t)
        return apply(op, (t,), (None if axis is None else _axes(axis, len(shape), op.name), bool(keepdims), shape))
    reduce.__name__ = op.name
    reduce.__doc__ = f"tf.{op.name}(input_tensor, axis=None, keepdims=False): differentiable."
    return reduce


_MATRIX = """
        >>> x = tg.constant([[1.0, 2.0], [3.0, 4.0]])"""
reduce_sum = op_doc(
    summary="The sum of the elements of a tensor over `axis`.", tf="``tf.math.reduce_sum``",
    numpy="``numpy.sum``", returns=_docs.REDUCED, dtypes=_docs.NUMERIC,
    derivative="d y / d x[i] = 1 for every element summed into y: the gradient is g broadcast back to x's shape.",
    raises="InvalidArgumentError: an axis is out of range.",
    example=_MATRIX + """
        >>> tg.reduce_sum(x)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=10.0>
        >>> tg.reduce_sum(x, axis=0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([4., 6.], dtype=float32)>
        >>> tg.reduce_sum(x, axis=1, keepdims=True).shape
        (2, 1)
    """)(_reducer(reduce_sum_op))
reduce_mean = op_doc(
    summary="The mean of the elements of a tensor over `axis`.", tf="``tf.math.reduce_mean``",
    numpy="``numpy.mean``", returns=_docs.REDUCED,
    dtypes="every numeric dtype; the mean of integers is float64 (NumPy's rule; TensorFlow truncates it to an "
           "integer) and has no gradient.",
    derivative="d y / d x[i] = 1 / n for each of the n elements averaged into y.",
    raises="InvalidArgumentError: an axis is out of range.",
    example=_MATRIX + """
        >>> tg.reduce_mean(x, axis=0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([2., 3.], dtype=float32)>
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.reduce_mean(x)
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[0.25, 0.25],
               [0.25, 0.25]], dtype=float32)>
    """)(_reducer(reduce_mean_op))
reduce_max = op_doc(
    summary="The largest element of a tensor over `axis`.", tf="``tf.math.reduce_max``",
    numpy="``numpy.max``", returns=_docs.REDUCED, dtypes=_docs.NUMERIC,
    derivative="d y / d x[i] = 1 / k for the k elements equal to the maximum (tied maxima share the gradient, "
               "as in TensorFlow), 0 for the others.",
    raises="InvalidArgumentError: an axis is out of range.",
    example="""
        >>> x = tg.constant([1.0, 3.0, 3.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.reduce_max(x)
        >>> y
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=3.0>
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([0. , 0.5, 0.5], dtype=float32)>
    """)(_reducer(reduce_max_op))
reduce_min = op_doc(
    summary="The smallest element of a tensor over `axis`.", tf="``tf.math.reduce_min``",
    numpy="``numpy.min``", returns=_docs.REDUCED, dtypes=_docs.NUMERIC,
    derivative="d y / d x[i] = 1 / k for the k elements equal to the minimum, 0 for the others.",
    raises="InvalidArgumentError: an axis is out of range.",
    example=_MATRIX + """
        >>> tg.reduce_min(x, axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 3.], dtype=float32)>
    """)(_reducer(reduce_min_op))
reduce_prod = op_doc(
    summary="The product of the elements of a tensor over `axis`.", tf="``tf.math.reduce_prod``",
    numpy="``numpy.prod``", returns=_docs.REDUCED, dtypes=_docs.NUMERIC,
    derivative="d y / d x[i] = the product of the other elements reduced with x[i] (exact where x has "
               "zeros: no division).",
    raises="InvalidArgumentError: an axis is out of range.",
    example="""
        >>> x = tg.constant([2.0, 0.0, 4.0])
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.reduce_prod(x)
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([0., 8., 0.], dtype=float32)>
    """)(_reducer(reduce_prod_op))


def _np_reduction(reducer, dtype_arg=True):
    def f(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if out is not None:
            raise TypeError("tapegrad: out= is not supported on Tensors (they are immutable)")
        if kwargs.get("where", True) is not True or kwargs.get("initial") is not None:
            raise TypeError(f"tapegrad: numpy.{reducer.__name__} on Tensors does not support where=/initial=")
        r = reducer(a, axis=axis, keepdims=keepdims)
        return r if dtype is None else math_ops.cast(r, dtype)

    def extremum(a, axis=None, out=None, keepdims=False, **kwargs):   # np.max and np.min take no dtype
        return f(a, axis, None, out, keepdims, **kwargs)
    return f if dtype_arg else extremum


_np_sum_checked = _np_reduction(reduce_sum)


@numpy_function(np.sum)
def np_sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
    """np.sum(x) and x.sum(): with NumPy's defaults, straight to the op (no **kwargs, no
    second function), so they cost what tg.reduce_sum(x) does."""
    if out is None and dtype is None and initial is None and where is True:
        t = as_tensor(a)
        shape = shape_of(t)
        axes = None if axis is None else _axes(axis, len(shape), "reduce_sum")
        return apply(reduce_sum_op, (t,), (axes, keepdims is True or bool(keepdims), shape))
    return _np_sum_checked(a, axis, dtype, out, keepdims, initial=initial, where=where)
numpy_function(np.mean)(_np_reduction(reduce_mean))
numpy_function(np.max, np.amax)(_np_reduction(reduce_max, dtype_arg=False))
numpy_function(np.min, np.amin)(_np_reduction(reduce_min, dtype_arg=False))
numpy_function(np.prod)(_np_reduction(reduce_prod))


@op_doc(tf="``tf.math.reduce_logsumexp``", numpy="``scipy.special.logsumexp`` (NumPy: "
        "``numpy.log(numpy.sum(numpy.exp(x)))``, which overflows)",
        returns=_docs.REDUCED, dtypes="float16, float32, float64.",
        derivative="d y / d x[i] = softmax(x)[i] = exp(x[i] - y) over the reduced elements.",
        raises="InvalidArgumentError: an axis is out of range.",
        example="""
        >>> tg.reduce_logsumexp([1000.0, 1000.0])      # log(2 e**1000), without overflow
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=1000.6931762695312>
    """)
def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) over `axis`, computed stably as TensorFlow does
    (the maximum is subtracted first); composite, differentiable through its
    parts."""
    x = as_tensor(input_tensor)
    m = stop_gradient(reduce_max(x, axis=axis, keepdims=True))
    m = np.where(np.isfinite(m), m, 0)     # all -inf rows: keep log(0) = -inf, not nan
    r = math_ops.log(reduce_sum(math_ops.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        axes = _axes(axis, len(shape_of(x)))
        r = reshape(r, [d for i, d in enumerate(shape_of(x)) if axes is not None and i not in axes])
    return r


@op_doc(tf="``tf.math.reduce_variance``", numpy="``numpy.var``", returns=_docs.REDUCED,
        dtypes="float16, float32, float64, complex64, complex128; integer tensors raise TypeError.",
        derivative="d y / d x[i] = 2 (x[i] - mean) / n over the n reduced elements.",
        raises="TypeError: an integer or bool tensor.\nInvalidArgumentError: an axis is out of range.",
        example="""
        >>> tg.math.reduce_variance([1.0, 2.0, 3.0, 4.0])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=1.25>
    """)
def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """The variance of the elements over `axis`: mean((x - mean(x))**2),
    dividing by n (NumPy's ``ddof=0``)."""
    x = as_tensor(input_tensor)
    if np.result_type(x._value).kind not in "fc":
        raise TypeError(f"reduce_variance: input must be a float or complex tensor, got {np.result_type(x._value)}")
    mean = reduce_mean(x, axis=axis, keepdims=True)
    return reduce_mean(math_ops.square(x - mean), axis=axis, keepdims=keepdims)


@op_doc(tf="``tf.math.reduce_std``", numpy="``numpy.std``", returns=_docs.REDUCED,
        dtypes="float16, float32, float64, complex64, complex128; integer tensors raise TypeError.",
        derivative="d y / d x[i] = (x[i] - mean) / (n y) over the n reduced elements (inf where y = 0).",
        raises="TypeError: an integer or bool tensor.\nInvalidArgumentError: an axis is out of range.",
        example="""
        >>> tg.math.reduce_std([1.0, 2.0, 3.0, 4.0])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=1.1180340051651>
    """)
def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """The standard deviation over `axis`: sqrt(reduce_variance(x))."""
    return math_ops.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


@op_doc(tf="``tf.math.reduce_euclidean_norm``", numpy="``numpy.linalg.norm`` (over one or two axes)",
        returns=_docs.REDUCED, dtypes="float16, float32, float64, complex64, complex128.",
        derivative="d y / d x[i] = x[i] / y (nan where y = 0).",
        raises="InvalidArgumentError: an axis is out of range.",
        example="""
        >>> tg.math.reduce_euclidean_norm([3.0, 4.0])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>
    """)
def reduce_euclidean_norm(input_tensor, axis=None, keepdims=False, name=None):
    """sqrt(sum(x ** 2)) over `axis`."""
    x = as_tensor(input_tensor)
    return math_ops.sqrt(reduce_sum(x * x, axis=axis, keepdims=keepdims))


def _np_moment(f):
    def np_moment(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **kwargs):
        if out is not None or kwargs:
            raise TypeError(f"tapegrad: numpy.{f.__name__} on Tensors supports axis, dtype, ddof and keepdims")
        t = as_tensor(a)
        v = reduce_variance(t, axis=axis, keepdims=keepdims)
        if ddof:
            n = _count(shape_of(t), _axes(axis, ndim_of(t)))
            v = v * (n / (n - ddof))
        r = v if f is reduce_variance else math_ops.sqrt(v)
        return r if dtype is None else math_ops.cast(r, dtype)
    np_moment.__name__ = "var" if f is reduce_variance else "std"
    return np_moment


numpy_function(np.var)(_np_moment(reduce_variance))
numpy_function(np.std)(_np_moment(reduce_std))

reduce_any_op = nondiff("reduce_any", lambda x, axes, keepdims: np.any(x, axis=axes, keepdims=keepdims))
reduce_all_op = nondiff("reduce_all", lambda x, axes, keepdims: np.all(x, axis=axes, keepdims=keepdims))


def _logical_reducer(op):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        t = as_tensor(input_tensor)
        if np.result_type(t._value) != np.bool_:
            raise TypeError(f"{op.name}: input must be a bool tensor, got {np.result_type(t._value)}")
        return apply(op, (t,), (_axes(axis, ndim_of(t), op.name), bool(keepdims)))
    reduce.__name__ = op.name
    reduce.__doc__ = f"tf.{op.name}(input_tensor, axis=None, keepdims=False): bool, not differentiable."
    return reduce


reduce_any = op_doc(
    summary="Whether any element over `axis` is True (a logical or).", tf="``tf.math.reduce_any``",
    numpy="``numpy.any``", returns=_docs.REDUCED.replace("A Tensor", "A bool Tensor"),
    dtypes="bool only; other dtypes raise TypeError.", derivative="none: the result is bool.",
    raises="TypeError: the input is not bool.", args={"input_tensor": (_docs.TENSOR, "a bool tensor.")},
    example="""
        >>> tg.reduce_any([[True, False], [False, False]], axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=bool, numpy=array([ True, False])>
    """)(_logical_reducer(reduce_any_op))
reduce_all = op_doc(
    summary="Whether every element over `axis` is True (a logical and).", tf="``tf.math.reduce_all``",
    numpy="``numpy.all``", returns=_docs.REDUCED.replace("A Tensor", "A bool Tensor"),
    dtypes="bool only; other dtypes raise TypeError.", derivative="none: the result is bool.",
    raises="TypeError: the input is not bool.", args={"input_tensor": (_docs.TENSOR, "a bool tensor.")},
    example="""
        >>> tg.reduce_all([[True, False], [True, True]], axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=bool, numpy=array([False,  True])>
    """)(_logical_reducer(reduce_all_op))


@op_doc(tf="``tf.clip_by_norm``", numpy="has none", returns="A Tensor of t's shape: t rescaled so that its "
        "L2 norm over `axes` is at most clip_norm.", dtypes="float16, float32, float64.",
        args={"clip_norm": ("positive number or scalar Tensor", "the largest norm allowed."),
              "axes": ("int, list of ints or None", "the axes the norm is taken over; None: all.")},
        derivative="that of t * clip_norm / max(norm(t), clip_norm): the identity while norm(t) <= clip_norm; "
                   "at t = 0 the gradient is 1, not nan (TensorFlow's formulation).",
        example="""
        >>> tg.clip_by_norm([3.0, 4.0], 1.0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0.6, 0.8], dtype=float32)>
    """)
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """t * clip_norm / max(norm(t), clip_norm), as TensorFlow computes it: a
    zero t has gradient clip_norm / clip_norm, not nan."""
    t = as_tensor(t)
    l2sum = reduce_sum(t * t, axis=axes, keepdims=True)
    pred = l2sum > 0
    safe = math_ops.where(pred, l2sum, np.ones_like(l2sum._value))
    l2norm = math_ops.where(pred, math_ops.sqrt(safe), l2sum)
    t, cn = _core.operands((t, clip_norm), "ClipByNorm")
    return t * cn / math_ops.maximum(l2norm, cn)


argmax_op = nondiff("argmax", lambda x, axis, out_type: np.argmax(x, axis=axis).astype(out_type))
argmin_op = nondiff("argmin", lambda x, axis, out_type: np.argmin(x, axis=axis).astype(out_type))


def _arg_reducer(op):
    def arg(input, axis=None, output_type=np.int64, name=None):
        t = as_tensor(input)
        if ndim_of(t) == 0:
            raise InvalidArgumentError(f"{op.name}: input must have rank >= 1 [Op:{op.name.capitalize()}]")
        ax = 0 if axis is None else neg_axis(axis, ndim_of(t), op.name) % ndim_of(t)
        if shape_of(t)[ax] == 0:
            raise InvalidArgumentError(f"{op.name}: reduction axis {ax} is empty [Op:{op.name.capitalize()}]")
        return apply(op, (t,), (ax, dtypes.numpy_dtype(output_type)))
    arg.__name__ = op.name
    arg.__doc__ = f"tf.math.{op.name}: integer indices, not differentiable (gradient None)."
    return arg


_ARG_ARGS = {"input": (_docs.TENSOR, "the input, of rank >= 1."),
             "axis": ("int or None", "the axis to search along; None means 0 (TensorFlow's default)."),
             "output_type": ("integer dtype", "the dtype of the indices.")}
argmax = op_doc(
    summary="The index of the largest element along an axis (the first one, for ties).",
    tf="``tf.math.argmax``", numpy="``numpy.argmax``", args=_ARG_ARGS,
    returns="An integer Tensor: x's shape without `axis`.", dtypes="float and integer dtypes.",
    derivative="none: the result is an integer index; gradients through it are None.",
    raises="InvalidArgumentError: a scalar input, an empty axis, or an axis out of range.",
    example="""
        >>> tg.argmax([[1.0, 5.0], [7.0, 2.0]], axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=int64, numpy=array([1, 0])>
    """)(_arg_reducer(argmax_op))
argmin = op_doc(
    summary="The index of the smallest element along an axis (the first one, for ties).",
    tf="``tf.math.argmin``", numpy="``numpy.argmin``", args=_ARG_ARGS,
    returns="An integer Tensor: x's shape without `axis`.", dtypes="float and integer dtypes.",
    derivative="none: the result is an integer index; gradients through it are None.",
    raises="InvalidArgumentError: a scalar input, an empty axis, or an axis out of range.",
    example="""
        >>> tg.argmin([[1.0, 5.0], [7.0, 2.0]], axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=int64, numpy=array([0, 1])>
    """)(_arg_reducer(argmin_op))
