"""NumPy's protocols on Tensors: ``np.sin(x)``, ``np.sum(x)`` and ``x @ w`` run
the registered tapegrad op and are recorded (TensorFlow silently returns
ndarrays there and loses the gradient).  A NumPy function with no rule raises
a TypeError naming it instead of returning a detached result."""
import sys

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad.ops._registry import FUNCTIONS, SCIPY_UFUNCS, UFUNCS

# Functions that only inspect values or return integers/booleans (no
# gradient can flow through their results): they run on the plain arrays.
_INSPECTION = {
    np.shape, np.ndim, np.size, np.result_type, np.allclose, np.isclose, np.array_equal,
    np.array_equiv, np.array2string, np.array_repr, np.array_str, np.iscomplexobj, np.isrealobj,
    np.may_share_memory, np.shares_memory, np.argmax, np.argmin, np.argsort, np.nonzero,
    np.count_nonzero, np.any, np.all, np.isscalar, np.searchsorted, np.argwhere,
}


def _to_arrays(x):
    if isinstance(x, (Tensor, Variable)):
        return _core.as_tensor(x)._value      # a non-differentiable use: not the lossy __array__ path
    if isinstance(x, (list, tuple)):
        return type(x)(_to_arrays(e) for e in x)
    return x


def _module_of(ufunc):
    """Where a ufunc comes from, for messages: 'numpy', or 'scipy.special' for
    SciPy's (which are NumPy ufuncs too; SciPy is loaded if one was passed)."""
    for name in ("scipy.special", "scipy.special._ufuncs", "scipy.special._special_ufuncs"):
        special = sys.modules.get(name)
        if special is not None and getattr(special, ufunc.__name__, None) is ufunc:
            return "scipy.special"
    return "numpy"


def array_ufunc(ufunc, method, inputs, kwargs):
    f = UFUNCS.get(ufunc)
    module = "numpy" if f is not None else _module_of(ufunc)
    if method != "__call__":
        raise TypeError(f"tapegrad: {module}.{ufunc.__name__}.{method} is not supported on Tensors")
    if kwargs.get("out") is not None:
        raise TypeError(f"tapegrad: {module}.{ufunc.__name__}(..., out=...) is not supported: Tensors are immutable")
    if set(kwargs) - {"out"}:
        raise TypeError(f"tapegrad: {module}.{ufunc.__name__} keyword arguments {sorted(set(kwargs) - {'out'})} "
                        f"are not supported on Tensors")
    if f is None and module == "scipy.special":
        f = SCIPY_UFUNCS.get(ufunc.__name__)
        if f is None:
            raise TypeError(f"tapegrad has no gradient rule for scipy.special.{ufunc.__name__}; use a "
                            f"tapegrad.scipy function, or call it on t.numpy() to leave the tape explicitly")
        if any(isinstance(x, (Tensor, Variable)) and x.dtype.is_complex for x in inputs):
            raise TypeError(f"tapegrad: scipy.special.{ufunc.__name__} is differentiable for real arguments only")
    if f is None:
        raise TypeError(f"tapegrad has no gradient rule for numpy.{ufunc.__name__}; use a tapegrad op, or "
                        f"call it on t.numpy() to leave the tape explicitly")
    return f(*inputs)


def array_function(func, types, args, kwargs):
    f = FUNCTIONS.get(func)
    if f is not None:
        return f(*args, **kwargs)
    if func in _INSPECTION or not _core.any_recording():
        # Nothing records (or the function only inspects values): no gradient can be lost, so the
        # function runs on the plain arrays.  That is how tensors returned by tg.grad /
        # tg.value_and_grad reach SciPy (minimize calls np.atleast_1d on the gradient).
        return func(*_to_arrays(args), **{k: _to_arrays(v) for k, v in kwargs.items()})
    raise TypeError(f"tapegrad has no gradient rule for numpy.{func.__name__}; use a tapegrad op, or "
                    f"call it on t.numpy() to leave the tape explicitly")
