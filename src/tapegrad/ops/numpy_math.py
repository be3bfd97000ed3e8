"""NumPy's elementwise functions that TensorFlow has no name for (exp2, log10,
logaddexp, hypot, fmax, sinc, ...): reached as ``np.exp2(x)`` on tensors.

One line per op where the op needs its own rule; the rest are NumPy names for
compositions of existing ops (``np.degrees(x)`` is ``x * (180 / pi)``), which
are differentiable through them at every order with no rule of their own.
Rules read what autograd's table reads (``exp2`` its output, ``log10`` its
input).
"""
import math

import numpy as np

from tapegrad import _core
from tapegrad.ops import array_ops, math_ops
from tapegrad.ops._registry import UFUNCS, UNARY, binary, nondiff, numpy_function, raw, unary

_LN2, _LN10 = math.log(2), math.log(10)

exp2 = unary("exp2", np.exp2, lambda g, ans, x: g * ans * _LN2, save="ans", ufunc=np.exp2, holomorphic=True)
log10 = unary("log10", np.log10, lambda g, ans, x: g / (x * _LN10), save="x", scalar=math.log10, ufunc=np.log10,
              holomorphic=True)
cbrt = unary("cbrt", np.cbrt, lambda g, ans, x: g / (3 * ans * ans), save="ans", ufunc=np.cbrt)

# log(e**x + e**y): each input's share of the sum, exp(x - ans), reads the output.
logaddexp = binary("logaddexp", np.logaddexp,
                   lambda g, ans, x, y: g * np.exp(x - ans),
                   lambda g, ans, x, y: g * np.exp(y - ans), save="x,ans", ufunc=np.logaddexp)
logaddexp2 = binary("logaddexp2", np.logaddexp2,
                    lambda g, ans, x, y: g * np.exp2(x - ans),
                    lambda g, ans, x, y: g * np.exp2(y - ans), save="x,ans", ufunc=np.logaddexp2)
hypot = binary("hypot", np.hypot,
               lambda g, ans, x, y: g * x / ans,
               lambda g, ans, x, y: g * y / ans, save="x,ans", ufunc=np.hypot)


# fmax/fmin: maximum/minimum that skip a NaN operand.  The gradient goes to the
# operand the result came from: x on ties (as maximum), the other one where an
# operand is NaN.
def _fmax_takes_x(x, y):
    return (x >= y) | np.isnan(y)


def _fmin_takes_x(x, y):
    return (x <= y) | np.isnan(y)


fmax = binary("fmax", np.fmax,
              lambda g, ans, x, y: np.where(_fmax_takes_x(x, y), g, 0),
              lambda g, ans, x, y: np.where(_fmax_takes_x(x, y), 0, g), save="x", ufunc=np.fmax)
fmin = binary("fmin", np.fmin,
              lambda g, ans, x, y: np.where(_fmin_takes_x(x, y), g, 0),
              lambda g, ans, x, y: np.where(_fmin_takes_x(x, y), 0, g), save="x", ufunc=np.fmin)


# ---- sinc: sin(pi x) / (pi x), with its removable singularity at 0 --------------------
# d sinc / dx = (cos(pi x) - sinc(x)) / x cancels badly near 0 (in float32 all
# digits are lost below |x| ~ 1e-3), so there the derivative is its Taylor
# series, sum_k (-1)^k 2k pi^2k x^(2k-1) / (2k+1)!, which also gives the right
# higher derivatives at x = 0 exactly.
_SINC_NEAR = 0.25
_SINC_TAYLOR = [(-1) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1) for k in range(1, 9)]


def _sinc_grad(x):
    near = np.abs(x) < _SINC_NEAR
    x2 = x * x
    series = 0
    for c in reversed(_SINC_TAYLOR):
        series = series * x2 + c
    safe = np.where(near, 1, x)
    return np.where(near, series * x, (np.cos(np.pi * x) - np.sinc(x)) / safe)


sinc = unary("sinc", np.sinc, lambda g, ans, x: g * _sinc_grad(x), save="x")
numpy_function(np.sinc)(lambda x: sinc(x))         # a Python function in NumPy, not a ufunc

# ---- compositions: NumPy's names for scaled copies and for identity -----------------------
_DEG = 180 / math.pi
_RAD = math.pi / 180


def _scaled(c):
    def scale(x):
        t = _core.as_tensor(x)
        if np.result_type(raw(t)).kind not in "fc":
            t = math_ops.cast(t, np.float64)      # NumPy's result for integers
        return math_ops.multiply(t, c)
    return scale


for _u, _c in ((np.degrees, _DEG), (np.rad2deg, _DEG), (np.radians, _RAD), (np.deg2rad, _RAD)):
    UFUNCS[_u] = _scaled(_c)
UFUNCS[np.fabs] = math_ops.abs           # fabs is abs for the real inputs it accepts
UFUNCS[np.positive] = array_ops.identity_op

# ---- not differentiable: rounding towards zero, and rounding to decimals ----------------
trunc = nondiff("trunc", np.trunc, kind=UNARY, ufunc=np.trunc)
round_decimals = nondiff("round_decimals", lambda x, decimals: np.round(x, decimals))


@numpy_function(np.fix)
def _np_fix(x, out=None):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors (they are immutable)")
    return trunc(x)


@numpy_function(np.round, np.around)
def _np_round(a, decimals=0, out=None):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors (they are immutable)")
    if decimals == 0:
        return math_ops.round(a)
    return _core.apply(round_decimals, (_core.as_tensor(a),), (int(decimals),))


@numpy_function(np.nan_to_num)
def _np_nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Finite entries pass their gradient, replaced ones get none (autograd's rule)."""
    t = _core.as_tensor(x)
    v = raw(t)
    kind = np.result_type(v).kind
    if kind == "c":
        raise TypeError("tapegrad: numpy.nan_to_num of a complex Tensor is not supported")
    if kind != "f":
        return t                              # integers and bools are always finite
    fixed = np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf)
    return math_ops.where(np.isfinite(v), t, fixed.astype(np.result_type(v)))


__all__ = ["cbrt", "exp2", "fmax", "fmin", "hypot", "log10", "logaddexp", "logaddexp2", "sinc", "trunc"]
