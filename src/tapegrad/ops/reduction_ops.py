"""Reductions.  Rules broadcast the gradient back over the reduced axes; the
shape of the input is kept in the params, not the input itself."""
import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import general, nondiff, numpy_function
from tapegrad.ops.array_ops import reshape, broadcast_to, _shape_of, _ensure_tensor
from tapegrad.ops import math_ops


def _axes(axis, ndim):
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
            raise InvalidArgumentError(f"Invalid reduction dimension {a} for input with {ndim} dimensions.")
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(set(out)))


def _kept_shape(in_shape, axes):
    if axes is None:
        return (1,) * len(in_shape)
    return tuple(1 if i in axes else d for i, d in enumerate(in_shape))


def _grad_to_input(g, in_shape, axes, keepdims):
    """Broadcast a reduction's gradient back to the input's shape."""
    if not keepdims:
        g = reshape(g, _kept_shape(in_shape, axes)) if isinstance(g, Tensor) else np.reshape(g, _kept_shape(in_shape, axes))
    return np.broadcast_to(g, in_shape)


def _count(in_shape, axes):
    if axes is None:
        return int(np.prod(in_shape, dtype=np.int64))
    return int(np.prod([in_shape[a] for a in axes], dtype=np.int64))


reduce_sum_op = general(
    "reduce_sum", lambda x, axes, keepdims, in_shape: np.sum(x, axis=axes, keepdims=keepdims),
    (lambda g, ans, x, axes, keepdims, in_shape: _grad_to_input(g, in_shape, axes, keepdims),))
reduce_mean_op = general(
    "reduce_mean", lambda x, axes, keepdims, in_shape: np.mean(x, axis=axes, keepdims=keepdims),
    (lambda g, ans, x, axes, keepdims, in_shape: _grad_to_input(g / _count(in_shape, axes), in_shape, axes, keepdims),))


def _extremum_grad(g, ans, x, axes, keepdims, in_shape):
    # TensorFlow splits the gradient equally between tied extrema.
    kept = _kept_shape(in_shape, axes)
    y = ans if keepdims else np.reshape(ans, kept)
    indicators = math_ops.cast_like(np.equal(x, y), x)
    num = np.sum(indicators, axis=axes, keepdims=True)
    return indicators / num * _grad_to_input(g, in_shape, axes, keepdims)


reduce_max_op = general("reduce_max", lambda x, axes, keepdims, in_shape: np.max(x, axis=axes, keepdims=keepdims),
                        (_extremum_grad,), save="x,ans")
reduce_min_op = general("reduce_min", lambda x, axes, keepdims, in_shape: np.min(x, axis=axes, keepdims=keepdims),
                        (_extremum_grad,), save="x,ans")


def _prod_grad(g, ans, x, axes, keepdims, in_shape):
    gb = _grad_to_input(g, in_shape, axes, keepdims)
    y = ans if keepdims else np.reshape(ans, _kept_shape(in_shape, axes))
    xv = x._value if isinstance(x, Tensor) else x
    if np.all(xv != 0):
        return gb * (y / x)
    if isinstance(x, Tensor) or isinstance(g, Tensor):
        raise NotImplementedError(
            "tapegrad: the second derivative of reduce_prod at an input containing zeros is not implemented")
    # Product of all the other elements, without dividing by zero: move the
    # reduced axes last, flatten them, and multiply exclusive cumulative
    # products from the left and from the right.
    nd = len(in_shape)
    red = tuple(range(nd)) if axes is None else axes
    keep = tuple(i for i in range(nd) if i not in red)
    perm = keep + red
    xt = np.transpose(xv, perm).reshape(tuple(in_shape[i] for i in keep) + (-1,))
    ones = np.ones(xt.shape[:-1] + (1,), dtype=xt.dtype)
    left = np.cumprod(np.concatenate([ones, xt[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, xt[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = (left * right).reshape(tuple(in_shape[i] for i in perm))
    return gb * np.transpose(others, np.argsort(perm))


reduce_prod_op = general("reduce_prod", lambda x, axes, keepdims, in_shape: np.prod(x, axis=axes, keepdims=keepdims),
                         (_prod_grad,), save="x,ans")


def _reducer(op):
    def reduce(input_tensor, axis=None, keepdims=False, name=None):
        t = _ensure_tensor(input_tensor)
        shape = _shape_of(t)
        return apply(op, (t,), (_axes(axis, len(shape)), bool(keepdims), shape))
    reduce.__name__ = op.name
    reduce.__doc__ = f"tf.{op.name}(input_tensor, axis=None, keepdims=False): differentiable."
    return reduce


reduce_sum = _reducer(reduce_sum_op)
reduce_mean = _reducer(reduce_mean_op)
reduce_max = _reducer(reduce_max_op)
reduce_min = _reducer(reduce_min_op)
reduce_prod = _reducer(reduce_prod_op)


def _np_reduction(reducer):
    def f(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
        if out is not None:
            raise TypeError("tapegrad: out= is not supported on Tensors (they are immutable)")
        if kwargs.get("where", True) is not True or kwargs.get("initial") is not None:
            raise TypeError(f"tapegrad: numpy.{reducer.__name__} on Tensors does not support where=/initial=")
        r = reducer(a, axis=axis, keepdims=keepdims)
        return r if dtype is None else math_ops.cast(r, dtype)
    return f


numpy_function(np.sum)(_np_reduction(reduce_sum))
numpy_function(np.mean)(_np_reduction(reduce_mean))
numpy_function(np.max, np.amax)(_np_reduction(reduce_max))
numpy_function(np.min, np.amin)(_np_reduction(reduce_min))
numpy_function(np.prod)(_np_reduction(reduce_prod))


def reduce_logsumexp(input_tensor, axis=None, keepdims=False, name=None):
    """log(sum(exp(x))) computed stably, as TensorFlow does (composite)."""
    from tapegrad.ops.creation import stop_gradient
    x = _ensure_tensor(input_tensor)
    m = stop_gradient(reduce_max(x, axis=axis, keepdims=True))
    m = np.where(np.isfinite(m), m, 0)     # all -inf rows: keep log(0) = -inf, not nan
    r = math_ops.log(reduce_sum(math_ops.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        axes = _axes(axis, len(_shape_of(x)))
        r = reshape(r, [d for i, d in enumerate(_shape_of(x)) if axes is not None and i not in axes])
    return r


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    x = _ensure_tensor(input_tensor)
    mean = reduce_mean(x, axis=axis, keepdims=True)
    return reduce_mean(math_ops.square(x - mean), axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    return math_ops.sqrt(reduce_variance(input_tensor, axis=axis, keepdims=keepdims))


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """tf.norm: composite like TensorFlow's, so the gradient at 0 is nan too."""
    x = _ensure_tensor(tensor)
    keepdims = bool(keepdims)
    if ord in ("euclidean", "fro", 2, 2.0):
        return math_ops.sqrt(reduce_sum(x * x, axis=axis, keepdims=keepdims))
    if ord in (1, 1.0):
        return reduce_sum(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return reduce_max(math_ops.abs(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"tapegrad.norm: ord={ord!r} is not supported (use 'euclidean', 'fro', 1, 2 or np.inf)")


argmax_op = nondiff("argmax", lambda x, axis, out_type: np.argmax(x, axis=axis).astype(out_type))
argmin_op = nondiff("argmin", lambda x, axis, out_type: np.argmin(x, axis=axis).astype(out_type))


def argmax(input, axis=None, output_type=np.int64, name=None):
    from tapegrad import dtypes
    return apply(argmax_op, (input,), (0 if axis is None else int(axis), dtypes.numpy_dtype(output_type)))


def argmin(input, axis=None, output_type=np.int64, name=None):
    from tapegrad import dtypes
    return apply(argmin_op, (input,), (0 if axis is None else int(axis), dtypes.numpy_dtype(output_type)))
