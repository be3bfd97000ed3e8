"""Elementwise math: one line per op, read as a table of derivatives.

Rules mirror TensorFlow's registered gradients (which tensors they read), so
second derivatives are None exactly where TensorFlow's are: multiply's rule
uses only the other operand, tanh's and exp's use the output, abs uses
sign(x) whose own gradient is a connected zero.
"""
import builtins
import math
import operator

import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import Tensor
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import array_ops
from tapegrad.ops._registry import BINARY, UNARY, X, Y, binary, call, general, nondiff, numpy_function, raw, unary
from tapegrad.ops._shapes import ndim_of, shape_of, unbroadcast

# Binary forwards are Python's operators, not the ufuncs: same NumPy semantics,
# but NumPy scalars take their fast scalar-math path (~10x cheaper than a
# ufunc call on a 0-d value), which is what 0-d tensors hold.


def _zeros(g, ans, x):
    # A zero gradient that no later sweep can trace back to x (TF: zeros_like).
    return np.zeros_like(g)


# ---- binary arithmetic -------------------------------------------------------
add = binary("add", operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g, ufunc=np.add)
subtract = binary("subtract", operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g, ufunc=np.subtract)
multiply = binary("multiply", operator.mul,
                  lambda g, ans, x, y: g * y,
                  lambda g, ans, x, y: g * x, save="x", reads=(Y, X), ufunc=np.multiply)
truediv = binary("truediv", operator.truediv,
                 lambda g, ans, x, y: g / y,
                 lambda g, ans, x, y: g * (-x / y / y), save="x", reads=(Y, X | Y), ufunc=np.true_divide)
divide = truediv
floordiv = nondiff("floordiv", operator.floordiv, kind=BINARY, ufunc=np.floor_divide)
mod = binary("mod", operator.mod,
             lambda g, ans, x, y: g,
             lambda g, ans, x, y: -g * np.floor(x / y), save="x", reads=(0, X | Y), ufunc=np.mod)
pow = binary("pow", operator.pow,                                        # noqa: A001 - TensorFlow's name
             lambda g, ans, x, y: g * y * x ** (y - 1),
             # TensorFlow: bases <= 0 contribute nothing to the exponent's gradient.
             lambda g, ans, x, y: g * ans * np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0),
             save="x,ans", ufunc=np.power)
maximum = binary("maximum", np.maximum,                              # ties go to x, as in TensorFlow
                 lambda g, ans, x, y: np.where(x >= y, g, 0),
                 lambda g, ans, x, y: np.where(x >= y, 0, g), save="x", ufunc=np.maximum)
minimum = binary("minimum", np.minimum,
                 lambda g, ans, x, y: np.where(x <= y, g, 0),
                 lambda g, ans, x, y: np.where(x <= y, 0, g), save="x", ufunc=np.minimum)
atan2 = binary("atan2", np.arctan2,                                  # atan2(y, x), TF's argument names
               lambda g, ans, y, x: g * x / (x * x + y * y),
               lambda g, ans, y, x: -g * y / (x * x + y * y), save="x", ufunc=np.arctan2)

# ---- unary: one line each; rules read what TensorFlow's read ----------------------------
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_erf_object = np.frompyfunc(math.erf, 1, 1)     # math.erf, vectorised: exact, and no scipy at import


def _erf(x):
    x = np.asarray(x)
    return np.asarray(_erf_object(x), dtype=x.dtype if x.dtype.kind == "f" else np.float64)


negative = unary("negative", np.negative, lambda g, ans, x: -g, ufunc=np.negative)
abs = unary("abs", np.abs, lambda g, ans, x: g * np.sign(x), save="x", ufunc=np.absolute)  # noqa: A001
sign = unary("sign", np.sign, _zeros, ufunc=np.sign)               # a zero gradient, as in TensorFlow
exp = unary("exp", np.exp, lambda g, ans, x: g * ans, save="ans", scalar=math.exp, ufunc=np.exp)
expm1 = unary("expm1", np.expm1, lambda g, ans, x: g * np.exp(x), save="x", scalar=math.expm1, ufunc=np.expm1)
log = unary("log", np.log, lambda g, ans, x: g / x, save="x", scalar=math.log, ufunc=np.log)
log1p = unary("log1p", np.log1p, lambda g, ans, x: g / (1 + x), save="x", scalar=math.log1p, ufunc=np.log1p)
log2 = unary("log2", np.log2, lambda g, ans, x: g / (x * math.log(2)), save="x", scalar=math.log2, ufunc=np.log2)
sqrt = unary("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans, save="ans", scalar=math.sqrt, ufunc=np.sqrt)
rsqrt = unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, ans, x: g * -0.5 * ans * ans * ans, save="ans")
square = unary("square", np.square, lambda g, ans, x: g * (2 * x), save="x", ufunc=np.square)
reciprocal = unary("reciprocal", np.reciprocal, lambda g, ans, x: -g * ans * ans, save="ans", ufunc=np.reciprocal)
sin = unary("sin", np.sin, lambda g, ans, x: g * np.cos(x), save="x", scalar=math.sin, ufunc=np.sin)
cos = unary("cos", np.cos, lambda g, ans, x: -g * np.sin(x), save="x", scalar=math.cos, ufunc=np.cos)
tan = unary("tan", np.tan, lambda g, ans, x: g * np.square(np.reciprocal(np.cos(x))), save="x", scalar=math.tan,
            ufunc=np.tan)
asin = unary("asin", np.arcsin, lambda g, ans, x: g / np.sqrt(1 - x * x), save="x", scalar=math.asin,
             ufunc=np.arcsin)
acos = unary("acos", np.arccos, lambda g, ans, x: -g / np.sqrt(1 - x * x), save="x", scalar=math.acos,
             ufunc=np.arccos)
atan = unary("atan", np.arctan, lambda g, ans, x: g / (1 + x * x), save="x", scalar=math.atan, ufunc=np.arctan)
sinh = unary("sinh", np.sinh, lambda g, ans, x: g * np.cosh(x), save="x", scalar=math.sinh, ufunc=np.sinh)
cosh = unary("cosh", np.cosh, lambda g, ans, x: g * np.sinh(x), save="x", scalar=math.cosh, ufunc=np.cosh)
tanh = unary("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans), save="ans", scalar=math.tanh, ufunc=np.tanh)
asinh = unary("asinh", np.arcsinh, lambda g, ans, x: g / np.cosh(ans), save="ans", scalar=math.asinh,
              ufunc=np.arcsinh)
acosh = unary("acosh", np.arccosh, lambda g, ans, x: g / np.sinh(ans), save="ans", scalar=math.acosh,
              ufunc=np.arccosh)
atanh = unary("atanh", np.arctanh, lambda g, ans, x: g / (1 - x * x), save="x", scalar=math.atanh,
              ufunc=np.arctanh)
erf = unary("erf", _erf, lambda g, ans, x: g * _TWO_OVER_SQRT_PI * np.exp(-(x * x)), save="x", scalar=math.erf)


def _sigmoid(x):
    # Numerically stable on both tails.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x, np.float16), copy=False)


sigmoid = unary("sigmoid", _sigmoid, lambda g, ans, x: g * ans * (1 - ans), save="ans")


def _softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(np.result_type(x, np.float16), copy=False)


softplus = unary("softplus", _softplus, lambda g, ans, x: g * call(sigmoid, x), save="x")


# ---- piecewise-linear activations ----------------------------------------------------
# TensorFlow computes their gradients with ReluGrad-style ops of (g, x or y):
# the gradient of such an op is itself w.r.t. g and a *connected* zero
# w.r.t. x, so relu's second derivative is 0, not None.

def _gradient_op(name, mask_forward):
    def zero_for_x(gg, ans, g, x, *p):
        nb = ndim_of(gg) - builtins.max(ndim_of(g), ndim_of(x))
        return np.zeros(shape_of(gg)[:nb] + shape_of(x), dtype=np.result_type(raw(gg)))

    def again(gg, ans, g, x, *p):
        return call(op, gg, x, params=p or None)

    op = general(name, mask_forward, (again, zero_for_x), save="x", jvps=(again, zero_for_x))
    return op


# TensorFlow's kernels multiply by the 0/1 mask (gradients * (features > 0)),
# so a NaN upstream stays NaN; a multiply is also ~7x faster than np.where here.
relu_grad = _gradient_op("relu_grad", lambda g, y: g * (y > 0))
relu6_grad = _gradient_op("relu6_grad", lambda g, x: g * ((x > 0) & (x < 6)))
leaky_relu_grad = _gradient_op("leaky_relu_grad", lambda g, x, alpha: np.where(x > 0, g, alpha * g).astype(
    np.result_type(g), copy=False))


def _relu(x):
    return np.maximum(x, 0).astype(np.result_type(x), copy=False)


relu = unary("relu", _relu, lambda g, ans, x: call(relu_grad, g, ans), save="ans")
relu6 = unary("relu6", lambda x: np.clip(x, 0, 6).astype(np.result_type(x), copy=False),
              lambda g, ans, x: call(relu6_grad, g, x), save="x")

# ---- not differentiable (TensorFlow returns None through these) -------------------
round = nondiff("round", np.rint, kind=UNARY, ufunc=np.rint)        # noqa: A001 - banker's rounding, as TF
floor = nondiff("floor", np.floor, kind=UNARY, ufunc=np.floor)
ceil = nondiff("ceil", np.ceil, kind=UNARY, ufunc=np.ceil)
equal = nondiff("equal", operator.eq, kind=BINARY, ufunc=np.equal)
not_equal = nondiff("not_equal", operator.ne, kind=BINARY, ufunc=np.not_equal)
less = nondiff("less", operator.lt, kind=BINARY, ufunc=np.less)
less_equal = nondiff("less_equal", operator.le, kind=BINARY, ufunc=np.less_equal)
greater = nondiff("greater", operator.gt, kind=BINARY, ufunc=np.greater)
greater_equal = nondiff("greater_equal", operator.ge, kind=BINARY, ufunc=np.greater_equal)
logical_and = nondiff("logical_and", np.logical_and, kind=BINARY, ufunc=np.logical_and)
logical_or = nondiff("logical_or", np.logical_or, kind=BINARY, ufunc=np.logical_or)
logical_xor = nondiff("logical_xor", np.logical_xor, kind=BINARY, ufunc=np.logical_xor)
logical_not = nondiff("logical_not", np.logical_not, kind=UNARY, ufunc=np.logical_not)
is_nan = nondiff("is_nan", np.isnan, kind=UNARY, ufunc=np.isnan)
is_inf = nondiff("is_inf", np.isinf, kind=UNARY, ufunc=np.isinf)
is_finite = nondiff("is_finite", np.isfinite, kind=UNARY, ufunc=np.isfinite)


@numpy_function(np.round, np.around)
def _np_round(a, decimals=0, out=None):
    if decimals or out is not None:
        raise TypeError("tapegrad: numpy.round on Tensors supports neither decimals= nor out=")
    return round(a)


# ---- cast, where, clip -------------------------------------------------------------------

def _cast_rule(t, ans, x, dtype, in_dtype):
    # Only float -> float casts carry gradients (TensorFlow cuts int paths);
    # the same rule maps a tangent forward (dtype) and a gradient back.
    if in_dtype.kind not in "fc" or dtype.kind not in "fc":
        return None
    return t if dtype == in_dtype else call(cast_op, t, params=(dtype, in_dtype))


cast_op = general("cast", lambda x, dtype, in_dtype: np.asarray(x).astype(dtype),
                  (lambda g, ans, x, dtype, in_dtype: _cast_rule(g, ans, x, in_dtype, dtype),),
                  jvps=(_cast_rule,))


def cast(x, dtype, name=None):
    t = _core.as_tensor(x)
    dt = dtypes.numpy_dtype(dtype)
    in_dt = np.result_type(t._value)
    if dt == in_dt:
        return _core.apply(array_ops.identity_op, (t,))
    if in_dt.kind == "c" and dt.kind != "c":
        raise TypeError(f"cast: casting complex to real ({in_dt} to {dt}) discards the imaginary part; "
                        f"use tapegrad.math.real")
    return _core.apply(cast_op, (t,), (dt, in_dt))


def cast_like(mask, x):
    """A 0/1 mask in x's dtype on either path (Tensor mask -> cast op)."""
    dt = np.result_type(x._value if isinstance(x, Tensor) else x)
    return cast(mask, dt) if isinstance(mask, Tensor) else np.asarray(mask).astype(dt)


def _where_forward(x, y, cond, x_shape, y_shape):
    return np.where(cond, x, y)


def _where_rank(cond, x_shape, y_shape):
    return builtins.max(np.ndim(cond), len(x_shape), len(y_shape))


# TensorFlow's SelectV2 gradient: each branch gets g where it was selected.
where_op = general("where", _where_forward, (
    lambda g, ans, x, y, cond, xs, ys: unbroadcast(np.where(cond, g, 0), xs, _where_rank(cond, xs, ys)),
    lambda g, ans, x, y, cond, xs, ys: unbroadcast(np.where(cond, 0, g), ys, _where_rank(cond, xs, ys))),
    jvps=(lambda t, ans, x, y, cond, xs, ys: np.where(cond, t, 0),
          lambda t, ans, x, y, cond, xs, ys: np.where(cond, 0, t)))


def where(condition, x=None, y=None, name=None):
    """tf.where: select from x where condition holds, else from y (with
    broadcasting); with only a condition, the int64 coordinates of its True
    entries.

    The gradient goes only to the selected branch -- but it is *multiplied*
    there: where the other branch's own gradient is inf or NaN, 0 * inf = NaN
    leaks through.  ``where(z > 0, log(z), 0.)`` at z = 0 has gradient NaN
    (as in TensorFlow).  Guard the input of the unsafe op instead::

        safe = where(z > 0, z, 1.)
        y = where(z > 0, log(safe), 0.)      # gradient 0 at z = 0, 1/z elsewhere
    """
    cond = np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    if x is None and y is None:
        return _core.wrap(np.argwhere(cond).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: x and y must both be given, or neither")
    tx, ty = _core.operands((x, y), "SelectV2")
    xs, ys = np.shape(tx._value), np.shape(ty._value)
    try:
        np.broadcast_shapes(cond.shape, xs, ys)
    except ValueError:
        raise InvalidArgumentError(f"where: condition {list(cond.shape)}, x {list(xs)} and y {list(ys)} do not "
                                   f"broadcast [Op:SelectV2]") from None
    return _core.apply(where_op, (tx, ty), (cond, xs, ys))


def squared_difference(x, y, name=None):
    """(x - y) ** 2, elementwise with broadcasting."""
    d = subtract(x, y)
    return d * d


def divide_no_nan(x, y, name=None):
    """x / y, and 0 where y == 0; the gradient there is 0 too (the divisor
    is guarded, so no NaN leaks through where)."""
    tx, ty = _core.operands((x, y), "DivNoNan")
    zero = equal(ty, 0)
    return where(zero, 0.0, truediv(tx, where(zero, 1.0, ty)))


def _clip_forward(x, lo, hi):
    return np.clip(x, lo, hi)


def _clip_rule(g, ans, x, lo, hi):
    return np.where((x >= lo) & (x <= hi), g, 0)


clip_op = general("clip_by_value", _clip_forward, (_clip_rule,), save="x", jvps=(_clip_rule,))


@numpy_function(np.clip)
def _np_clip(a, a_min=None, a_max=None, out=None, **kwargs):
    if out is not None or kwargs:
        raise TypeError("tapegrad: numpy.clip on Tensors supports only a, a_min, a_max")
    dt = np.asarray(a).dtype
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    if dt.kind != "f" and (a_min is None or a_max is None):
        raise TypeError("tapegrad: numpy.clip on an integer Tensor needs both bounds")
    return clip_by_value(a, lo, hi)


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Gradient 1 inside [min, max] including the bounds, 0 outside (as TF);
    the bounds are constants (no gradient flows to them)."""
    t, lo, hi = _core.operands((t, clip_value_min, clip_value_max), "ClipByValue")
    lo, hi = lo._value, hi._value
    shape = np.shape(t._value)
    try:
        if np.broadcast_shapes(shape, np.shape(lo), np.shape(hi)) != shape:
            raise ValueError
    except ValueError:
        raise InvalidArgumentError(f"clip_by_value: clip_value_min {list(np.shape(lo))} and clip_value_max "
                                   f"{list(np.shape(hi))} must broadcast to t's shape {list(shape)}") from None
    return _core.apply(clip_op, (t,), (lo, hi))
