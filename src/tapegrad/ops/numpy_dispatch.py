"""NumPy's protocols on Tensors: ``np.sin(x)``, ``np.sum(x)`` and ``x @ w`` run
the registered tapegrad op and are recorded (TensorFlow silently returns
ndarrays there and loses the gradient).

A NumPy function with no rule runs on the plain values when nothing tracks
its inputs (no tape has them, no accumulator gives them a tangent): so
``np.isclose(grad, 0)`` or ``np.histogram(grad)`` on finished results just
work.  Only when a tracked input reaches it does it raise a TypeError naming
the function, instead of returning a result silently cut from the tape."""
import sys

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable, tracks
from tapegrad.ops._registry import FUNCTIONS, SCIPY_UFUNCS, UFUNCS

# Functions that only inspect values or return integers/booleans (no
# gradient can flow through their results): they run on the plain arrays,
# tracked or not.
_INSPECTION = {
    np.shape, np.ndim, np.size, np.result_type, np.allclose, np.isclose, np.array_equal,
    np.array_equiv, np.array2string, np.array_repr, np.array_str, np.iscomplexobj, np.isrealobj,
    np.may_share_memory, np.shares_memory, np.argmax, np.argmin, np.argsort, np.nonzero,
    np.count_nonzero, np.any, np.all, np.isscalar, np.searchsorted, np.argwhere, np.argpartition,
    np.flatnonzero,
}


def _to_arrays(x):
    if isinstance(x, (Tensor, Variable)):
        return _core.as_tensor(x)._value      # a non-differentiable use: not the lossy __array__ path
    if isinstance(x, (list, tuple)):
        return type(x)(_to_arrays(e) for e in x)
    if isinstance(x, dict):
        return {k: _to_arrays(v) for k, v in x.items()}
    return x


def _tracked(x):
    """Whether a tape or accumulator tracks x or a tensor nested in it."""
    if isinstance(x, (Tensor, Variable)):
        return tracks(x)
    if isinstance(x, (list, tuple)):
        return any(_tracked(e) for e in x)
    if isinstance(x, dict):
        return any(_tracked(e) for e in x.values())
    return False


def _no_rule(name, args, kwargs, run, module="numpy", advice="use a tapegrad op"):
    if _tracked(args) or _tracked(kwargs):
        raise TypeError(f"tapegrad has no gradient rule for {module}.{name}, and a tensor a tape or accumulator "
                        f"tracks reaches it; {advice}, or call it on t.numpy() to leave the tape explicitly")
    return run(*_to_arrays(args), **_to_arrays(kwargs))


def _is_scipy_special(ufunc):
    """Whether a ufunc is one of SciPy's (they are NumPy ufuncs too; SciPy is
    loaded already if one was passed, so this never imports it)."""
    for name in ("scipy.special", "scipy.special._ufuncs", "scipy.special._special_ufuncs"):
        special = sys.modules.get(name)
        if special is not None and getattr(special, ufunc.__name__, None) is ufunc:
            return True
    return False


def _check_call_kwargs(module, name, kwargs):
    if kwargs.get("out") is not None:
        raise TypeError(f"tapegrad: {module}.{name}(..., out=...) is not supported: Tensors are immutable")
    if set(kwargs) - {"out"}:
        raise TypeError(f"tapegrad: {module}.{name} keyword arguments {sorted(set(kwargs) - {'out'})} "
                        f"are not supported on Tensors")


# The core calls a registered ufunc or function at once (_Operand.__array_ufunc__ /
# __array_function__ look them up in the registry's tables); these hooks get the rest.

def array_ufunc(ufunc, method, inputs, kwargs):
    name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
    if method == "__call__" and ufunc in UFUNCS:
        _check_call_kwargs("numpy", name, kwargs)
        return UFUNCS[ufunc](*inputs)
    if _is_scipy_special(ufunc):
        f = SCIPY_UFUNCS.get(ufunc.__name__) if method == "__call__" else None
        if f is None:
            return _no_rule(name, inputs, kwargs, getattr(ufunc, method), "scipy.special",
                            "use a tapegrad.scipy function")
        _check_call_kwargs("scipy.special", name, kwargs)
        if any(isinstance(x, (Tensor, Variable)) and x.dtype.is_complex for x in inputs):
            raise TypeError(f"tapegrad: scipy.special.{name} is differentiable for real arguments only")
        return f(*inputs)
    return _no_rule(name, inputs, kwargs, getattr(ufunc, method))


def array_function(func, types, args, kwargs):
    f = FUNCTIONS.get(func)
    if f is not None:
        return f(*args, **kwargs)
    if func in _INSPECTION:
        return func(*_to_arrays(args), **_to_arrays(kwargs))
    return _no_rule(func.__name__, args, kwargs, func)
