"""ndarray's methods and properties on Tensor and Variable: ``x.sum()``,
``x.T``, ``x.reshape(2, 3)``, ``x.astype(np.float64)``, ...

Each is the NumPy function of the same name with the tensor first, taken
straight from the dispatch table (no second trip through NumPy's protocol),
so a method is recorded exactly like the function and costs no more than
the TensorFlow-named op.  The core calls them through one table
(``_core.install_numpy``), which tapegrad.ops installs.
"""
import numpy as np

from tapegrad import _core
from tapegrad.ops import math_ops, numpy_arrays, numpy_math, reduction_ops
from tapegrad.ops._registry import FUNCTIONS, raw
from tapegrad.ops._shapes import as_tensor, ndim_of
from tapegrad.ops.array_ops import identity_op, transpose


def _shape_args(args, name):
    """ndarray's varargs shapes: x.reshape(2, 3) and x.reshape((2, 3)) alike."""
    if len(args) == 1 and (args[0] is None or not isinstance(args[0], (int, np.integer))):
        return args[0]
    return args


def _reshape(x, *shape, order="C", copy=None):
    return numpy_arrays._np_reshape(x, _shape_args(shape, "reshape"), order=order)


def _transpose(x, *axes):
    axes = _shape_args(axes, "transpose") if axes else None
    return transpose(x, axes)


def _function(np_func):
    """The method for a NumPy function: the function's tapegrad entry, x first."""
    f = FUNCTIONS[np_func]

    def method(x, *args, **kwargs):
        return f(x, *args, **kwargs)
    method.__name__ = np_func.__name__
    return method


def _values(np_func):
    """A method whose result carries no gradient (argmax, all, ...): NumPy's, on the value."""
    def method(x, *args, **kwargs):
        return np_func(np.asarray(raw(as_tensor(x))), *args, **kwargs)
    method.__name__ = np_func.__name__
    return method


def _mT(x):
    if ndim_of(as_tensor(x)) < 2:
        raise ValueError("matrix transpose with ndim < 2 is undefined")
    return FUNCTIONS[np.swapaxes](x, -1, -2)


def _complex_part(np_func, of_real):
    """real, imag, conj: of a real tensor, what ndarray gives (itself, or zeros
    that carry no gradient); of a complex one, NumPy's function of that name."""
    def method(x, *args, **kwargs):
        t = as_tensor(x)
        if np.result_type(raw(t)).kind != "c":
            return of_real(t)
        return np_func(t, *args, **kwargs)
    method.__name__ = np_func.__name__
    return method


def _same(t):
    return t


def _zeros_of(t):
    return _core.wrap(np.zeros_like(raw(t)))


def _clip(x, min=None, max=None, out=None, **kwargs):
    return FUNCTIONS[np.clip](x, min, max, out, **kwargs)


def _astype(x, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return math_ops.cast(x, dtype)


def _copy(x, order="C"):
    return _core.apply(identity_op, (as_tensor(x),))


def _item(x, *args):
    return raw(as_tensor(x)).item(*args)


def _tolist(x):
    return np.asarray(raw(as_tensor(x))).tolist()


def _dot(x, b, out=None):
    return FUNCTIONS[np.dot](x, b, out)


def _flatten(x, order="C"):
    return numpy_arrays._np_ravel(x, order)


def _cumulative(np_func):
    f = FUNCTIONS[np_func]

    def method(x, axis=None, dtype=None, out=None):
        return f(x, axis, dtype, out)
    method.__name__ = np_func.__name__
    return method


def _round(x, decimals=0, out=None):
    return numpy_math._np_round(x, decimals, out)


METHODS = {
    "T": lambda x: transpose(x),
    "mT": _mT,
    "real": _complex_part(np.real, _same),
    "imag": _complex_part(np.imag, _zeros_of),
    "conj": _complex_part(np.conjugate, _same),
    "conjugate": _complex_part(np.conjugate, _same),
    "reshape": _reshape,
    "ravel": _flatten,
    "flatten": _flatten,
    "astype": _astype,
    "sum": reduction_ops.np_sum,
    "mean": _function(np.mean),
    "prod": _function(np.prod),
    "max": _function(np.max),
    "min": _function(np.min),
    "std": _function(np.std),
    "var": _function(np.var),
    "cumsum": _cumulative(np.cumsum),
    "cumprod": _cumulative(np.cumprod),
    "dot": _dot,
    "transpose": _transpose,
    "swapaxes": _function(np.swapaxes),
    "squeeze": _function(np.squeeze),
    "clip": _clip,
    "round": _round,
    "all": _values(np.all),
    "any": _values(np.any),
    "argmax": _values(np.argmax),
    "argmin": _values(np.argmin),
    "argsort": _values(np.argsort),
    "diagonal": numpy_arrays._np_diagonal,
    "trace": numpy_arrays._np_trace,
    "repeat": numpy_arrays._np_repeat,
    "item": _item,
    "tolist": _tolist,
    "copy": _copy,
}

__all__ = ["METHODS"]
