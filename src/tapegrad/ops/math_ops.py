"""Elementwise math: one line per op, read as a table of derivatives.

Rules mirror TensorFlow's registered gradients (which tensors they read), so
second derivatives are None exactly where TensorFlow's are: multiply's rule
uses only the other operand, tanh's and exp's use the output, abs uses
sign(x) whose own gradient is a connected zero.
"""
import math
import operator

import numpy as np

from tapegrad._core import unary as _apply_unary
from tapegrad.ops._registry import unary, binary, nondiff, call, general, UNARY, BINARY


# Binary forwards are Python's operators, not the ufuncs: same NumPy semantics,
# but NumPy scalars take their fast scalar-math path (~10x cheaper than a
# ufunc call on a 0-d value), which is what 0-d tensors hold.


def _zeros(g, ans, x):
    return np.zeros_like(x)


# ---- binary arithmetic -------------------------------------------------------
add = binary("add", operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g, ufunc=np.add)
subtract = binary("subtract", operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g, ufunc=np.subtract)
multiply = binary("multiply", operator.mul,
                  lambda g, ans, x, y: g * y,
                  lambda g, ans, x, y: g * x, save="x", ufunc=np.multiply)
truediv = binary("truediv", operator.truediv,
                 lambda g, ans, x, y: g / y,
                 lambda g, ans, x, y: g * (-x / y / y), save="x", ufunc=np.true_divide)
divide = truediv
floordiv = nondiff("floordiv", operator.floordiv, kind=BINARY, ufunc=np.floor_divide)
mod = binary("mod", operator.mod,
             lambda g, ans, x, y: g,
             lambda g, ans, x, y: -g * np.floor(x / y), save="x", ufunc=np.mod)
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

# ---- unary ----------------------------------------------------------------------
negative = unary("negative", np.negative, lambda g, ans, x: -g, ufunc=np.negative)
abs = unary("abs", np.abs, lambda g, ans, x: g * np.sign(x), save="x", ufunc=np.absolute)  # noqa: A001
sign = unary("sign", np.sign, _zeros, save="x", ufunc=np.sign)      # a connected zero, as in TensorFlow
exp = unary("exp", np.exp, lambda g, ans, x: g * ans, save="ans", scalar=math.exp, ufunc=np.exp)
log = unary("log", np.log, lambda g, ans, x: g / x, save="x", scalar=math.log, ufunc=np.log)
sin = unary("sin", np.sin, lambda g, ans, x: g * np.cos(x), save="x", scalar=math.sin, ufunc=np.sin)
cos = unary("cos", np.cos, lambda g, ans, x: -g * np.sin(x), save="x", scalar=math.cos, ufunc=np.cos)
tan = unary("tan", np.tan, lambda g, ans, x: g * np.square(np.reciprocal(np.cos(x))), save="x", scalar=math.tan, ufunc=np.tan)
tanh = unary("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans), save="ans", scalar=math.tanh, ufunc=np.tanh)
sqrt = unary("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans, save="ans", scalar=math.sqrt, ufunc=np.sqrt)
square = unary("square", np.square, lambda g, ans, x: g * (2 * x), save="x", ufunc=np.square)
reciprocal = unary("reciprocal", np.reciprocal, lambda g, ans, x: -g * ans * ans, save="ans", ufunc=np.reciprocal)


def _sigmoid(x):
    # Numerically stable on both tails.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x), copy=False)


sigmoid = unary("sigmoid", _sigmoid, lambda g, ans, x: g * ans * (1 - ans), save="ans")


def _relu(x):
    return np.maximum(x, 0).astype(np.result_type(x), copy=False)


def _relu_grad_forward(g, y):
    return np.where(y > 0, g, 0).astype(np.result_type(g), copy=False)


# TensorFlow's ReluGrad(g, y): its own gradient is ReluGrad w.r.t. g and a
# connected zero w.r.t. y, so relu's second derivative is 0 (not None).
relu_grad = general("relu_grad", _relu_grad_forward,
                    (lambda gg, ans, g, y: call(relu_grad, gg, y),
                     lambda gg, ans, g, y: np.zeros_like(y)), save="x")
relu = unary("relu", _relu, lambda g, ans, x: call(relu_grad, g, ans), save="ans")


def _softplus(x):
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(np.result_type(x), copy=False)


softplus = unary("softplus", _softplus, lambda g, ans, x: g * sigmoid_of(x), save="x")


def sigmoid_of(x):
    """sigmoid on either path (recorded for Tensors, plain NumPy otherwise)."""
    return call(sigmoid, x)


identity_op = unary("identity", lambda x: x, lambda g, ans, x: g)

# ---- not differentiable (TensorFlow returns None through these) -------------------
round = nondiff("round", np.round, kind=UNARY, ufunc=np.round)      # noqa: A001 - banker's rounding, as TF
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


# ---- cast, where, clip -------------------------------------------------------------------

def _cast_grad(g, ans, x, dtype, in_dtype):
    # Only float -> float casts carry gradients (TensorFlow cuts int paths).
    if in_dtype.kind not in "fc" or dtype.kind not in "fc":
        return None
    return call(cast_op, g, params=(in_dtype, dtype))


cast_op = general("cast", lambda x, dtype, in_dtype: np.asarray(x).astype(dtype), (_cast_grad,))


def cast(x, dtype, name=None):
    from tapegrad import dtypes, _core
    t = _core.as_tensor(x)
    dt = dtypes.numpy_dtype(dtype)
    in_dt = np.result_type(t._value)
    if dt == in_dt:
        return _core.unary(identity_op, t)
    return _core.apply(cast_op, (t,), (dt, in_dt))


def cast_like(mask, x):
    """A 0/1 mask in x's dtype on either path (Tensor mask -> cast op)."""
    from tapegrad._core import Tensor
    dt = np.result_type(x._value if isinstance(x, Tensor) else x)
    return cast(mask, dt) if isinstance(mask, Tensor) else np.asarray(mask).astype(dt)


def _where_forward(x, y, cond, x_shape, y_shape):
    return np.where(cond, x, y)


where_op = general("where", _where_forward, (
    lambda g, ans, x, y, cond, x_shape, y_shape: _sum_to(np.where(cond, g, 0), x_shape),
    lambda g, ans, x, y, cond, x_shape, y_shape: _sum_to(np.where(cond, 0, g), y_shape)))


def _sum_to(g, shape):
    from tapegrad.ops.array_ops import sum_to_shape
    return sum_to_shape(g, shape)


def where(condition, x=None, y=None, name=None):
    """tf.where: select from x where condition holds, else from y (with
    broadcasting).  The gradient goes only to the selected branch, but a NaN
    in the *other* branch's gradient still leaks through 0 * NaN: guard the
    input of log/sqrt/division too (``log(where(z > 0, z, 1))``)."""
    from tapegrad import _core
    from tapegrad._core import Tensor, Variable
    cond = np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    if x is None and y is None:
        return _core.wrap(np.argwhere(cond).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where: x and y must both be given, or neither")
    # Python scalars adopt the other branch's dtype, as in binary ops.
    if isinstance(x, (Tensor, Variable)) and not isinstance(y, (Tensor, Variable)):
        y = _core.raw_from_python(y, np.result_type(_core.as_tensor(x)._value))
    elif isinstance(y, (Tensor, Variable)) and not isinstance(x, (Tensor, Variable)):
        x = _core.raw_from_python(x, np.result_type(_core.as_tensor(y)._value))
    tx, ty = _core.as_tensor(x), _core.as_tensor(y)
    if np.result_type(tx._value) != np.result_type(ty._value):
        from tapegrad.errors import InvalidArgumentError
        raise InvalidArgumentError(f"where: x and y must have the same dtype, got "
                                   f"{np.result_type(tx._value)} and {np.result_type(ty._value)}")
    return _core.apply(where_op, (tx, ty), (cond, np.shape(tx._value), np.shape(ty._value)))


def _clip_forward(x, lo, hi):
    return np.clip(x, lo, hi)


clip_op = general("clip_by_value", _clip_forward,
                  (lambda g, ans, x, lo, hi: np.where((x >= lo) & (x <= hi), g, 0),), save="x")


def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Gradient 1 inside [min, max] including the bounds, 0 outside (as TF)."""
    from tapegrad import _core
    t = _core.as_tensor(t)
    dt = np.result_type(t._value)
    lo = _core.raw_from_python(clip_value_min, dt)
    hi = _core.raw_from_python(clip_value_max, dt)
    return _core.apply(clip_op, (t,), (lo, hi))
