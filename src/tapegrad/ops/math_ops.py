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
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import array_ops
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import (
    BINARY,
    UNARY,
    X,
    Y,
    binary,
    call,
    conjugated,
    general,
    nondiff,
    numpy_function,
    raw,
    unary,
)
from tapegrad.ops._shapes import ndim_of, shape_of, unbroadcast

# Binary forwards are Python's operators, not the ufuncs: same NumPy semantics,
# but NumPy scalars take their fast scalar-math path (~10x cheaper than a
# ufunc call on a 0-d value), which is what 0-d tensors hold.


def _zeros(g, ans, x):
    # A zero gradient that no later sweep can trace back to x (TF: zeros_like).
    return np.zeros_like(g)


# ---- binary arithmetic -------------------------------------------------------
# The doc fields (doc=, grad=, at=, gives=, dtypes=) make each public op's docstring
# (ops/_docs.py): `grad` is the derivative in one line, `at`/`gives` the doctest's input and output.
add = binary("add", operator.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g, ufunc=np.add, scalar_vjp="pass",
             factors=(1.0, 1.0),
             doc="x + y, elementwise with broadcasting (the ``+`` operator).",
             grad="d/dx = 1, d/dy = 1 (summed over the axes an input was broadcast along)",
             at=(1.5, 2.0), gives="3.5 1.0 1.0", dtypes="numeric")
subtract = binary("subtract", operator.sub, lambda g, ans, x, y: g, lambda g, ans, x, y: -g, ufunc=np.subtract,
                  forms=("g", (np.negative, "g")),
                  factors=(1.0, -1.0),
                  doc="x - y, elementwise with broadcasting (the ``-`` operator).",
                  grad="d/dx = 1, d/dy = -1", at=(1.5, 2.0), gives="-0.5 1.0 -1.0", dtypes="numeric")
multiply = binary("multiply", operator.mul,
                  lambda g, ans, x, y: g * y,
                  lambda g, ans, x, y: g * x, save="x", reads=(Y, X), ufunc=np.multiply, scalar_vjp="scale",
                  factors=(lambda ans, x, y: y, lambda ans, x, y: x),
                  holomorphic=True, doc="x * y, elementwise with broadcasting (the ``*`` operator).",
                  grad="d/dx = y, d/dy = x", at=(1.5, 2.0), gives="3.0 2.0 1.5", dtypes="numeric")
truediv = binary("truediv", operator.truediv,
                 lambda g, ans, x, y: g / y,
                 lambda g, ans, x, y: g * (-x / y / y), save="x", reads=(Y, X | Y), ufunc=np.true_divide,
                 forms=((np.true_divide, "g", "y"),
                        (np.multiply, "g", (np.true_divide, (np.true_divide, (np.negative, "x"), "y"), "y"))),
                 holomorphic=True,
                 doc="x / y, elementwise with broadcasting (the ``/`` operator; ``divide`` is the same op).",
                 grad="d/dx = 1 / y, d/dy = -x / y**2", at=(1.5, 2.0), gives="0.75 0.5 -0.375", dtypes="divide")
divide = truediv
floordiv = nondiff("floordiv", operator.floordiv, kind=BINARY, ufunc=np.floor_divide,
                   doc="floor(x / y), elementwise with broadcasting (the ``//`` operator).",
                   at=([7.0, -7.0], 2.0), gives="array([ 3., -4.], dtype=float32)", dtypes="real")
mod = binary("mod", operator.mod,
             lambda g, ans, x, y: g,
             lambda g, ans, x, y: -g * np.floor(x / y), save="x", reads=(0, X | Y), ufunc=np.mod,
             doc="The remainder x - floor(x / y) * y, with the sign of y (the ``%`` operator; TensorFlow's "
                 "``floormod``).",
             grad="d/dx = 1, d/dy = -floor(x / y)", at=(7.5, 2.0), gives="1.5 1.0 -3.0", dtypes="real",
             tf="tf.math.floormod")
def _power(x, y):
    try:
        return operator.pow(x, y)
    except ValueError as e:
        # NumPy's ValueError; TensorFlow's kernel raises InvalidArgumentError.
        if "negative integer powers" in str(e):
            raise InvalidArgumentError("Integers to negative integer powers are not allowed [Op:Pow]") from None
        raise


def _pow_grad_x(g, ans, x, y):
    return g * y * x ** (y - 1)


def _pow_complex_grad_y(g, ans, x, y):
    # TensorFlow's complex rule: conj(x**y * log(x)), taken as 0 where x == 0.
    nonzero = x != 0
    log_x = np.where(nonzero, np.log(np.where(nonzero, x, 1)), 0)
    return g * np.conjugate(ans * log_x)


pow = binary("pow", _power,                                              # noqa: A001 - TensorFlow's name
             _pow_grad_x,
             # TensorFlow: bases <= 0 contribute nothing to the exponent's gradient.
             lambda g, ans, x, y: g * ans * np.where(x > 0, np.log(np.where(x > 0, x, 1)), 0),
             save="x,ans", ufunc=np.power, cvjps=(conjugated(_pow_grad_x), _pow_complex_grad_y),
             doc="x ** y, elementwise with broadcasting (the ``**`` operator).",
             grad="d/dx = y * x**(y - 1), d/dy = x**y * log(x), taken as 0 where x <= 0 (as in TensorFlow)",
             at=(1.5, 2.0), gives="2.25 3.0 0.9122965", dtypes="numeric")
maximum = binary("maximum", np.maximum,                              # ties go to x, as in TensorFlow
                 lambda g, ans, x, y: np.where(x >= y, g, 0),
                 lambda g, ans, x, y: np.where(x >= y, 0, g), save="x", ufunc=np.maximum,
                 doc="The larger of x and y, elementwise with broadcasting.",
                 grad="d/dx = 1 where x >= y else 0, d/dy = 1 where x < y else 0 (a tie goes to x)",
                 at=(1.5, 2.0), gives="2.0 0.0 1.0", dtypes="numeric")
minimum = binary("minimum", np.minimum,
                 lambda g, ans, x, y: np.where(x <= y, g, 0),
                 lambda g, ans, x, y: np.where(x <= y, 0, g), save="x", ufunc=np.minimum,
                 doc="The smaller of x and y, elementwise with broadcasting.",
                 grad="d/dx = 1 where x <= y else 0, d/dy = 1 where x > y else 0 (a tie goes to x)",
                 at=(1.5, 2.0), gives="1.5 1.0 0.0", dtypes="numeric")
atan2 = binary("atan2", np.arctan2,                                  # atan2(y, x), TF's argument names
               lambda g, ans, y, x: g * x / (x * x + y * y),
               lambda g, ans, y, x: -g * y / (x * x + y * y), save="x", ufunc=np.arctan2,
               doc="The angle of the point (y, x) = (second, first argument): arctan(x / y) in the right "
                   "quadrant, in [-pi, pi], elementwise.",
               notes="TensorFlow names the arguments ``atan2(y, x)``; tapegrad's are x (TensorFlow's y) and y "
                     "(TensorFlow's x), so pass them by position as in TensorFlow.",
               grad="d/dx = y / (x**2 + y**2), d/dy = -x / (x**2 + y**2)", at=(1.0, 2.0), gives="0.4636476 0.4 -0.2",
               dtypes="real_to_float")

# ---- unary: the op and its rule first, its doc fields after; rules read what TensorFlow's read
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
_erf_object = np.frompyfunc(math.erf, 1, 1)     # math.erf, vectorised: exact, and no scipy at import


def _erf(x):
    x = np.asarray(x)
    return np.asarray(_erf_object(x), dtype=x.dtype if x.dtype.kind == "f" else np.float64)


negative = unary("negative", np.negative, lambda g, ans, x: -g, ufunc=np.negative, factor=-1.0,
                 form=(np.negative, "g"),
                 doc="-x, elementwise (the unary ``-`` operator).",
                 grad="-1", at=1.5, gives="-1.5 -1.0", dtypes="numeric")
def _abs_vjp(g, ans, x):
    if raw(x).dtype.kind != "c":           # a tensor's value is an ndarray or a NumPy scalar
        return g * np.sign(x)
    # |z| of a complex z: dL/dRe z + i dL/dIm z = g z / |z| (0 at z = 0), written with
    # differentiable ops (sign's own gradient is zero, which is wrong for complex z).
    m, dt = np.abs(x), np.result_type(raw(x))
    return as_dtype(g, dt) * x / as_dtype(np.where(m == 0, 1, m), dt)


def _abs_complex_jvp(t, ans, x):
    m = np.abs(x)
    return np.real(np.conjugate(x) * t) / np.where(m == 0, 1, m)


abs = unary("abs", np.abs, _abs_vjp, save="x", ufunc=np.absolute, cjvp=_abs_complex_jvp,  # noqa: A001
            doc="The absolute value of x, elementwise (for complex x, the modulus).",
            grad="sign(x) (0 at x = 0)", at=-1.5, gives="1.5 -1.0", dtypes="numeric")
sign = unary("sign", np.sign, _zeros, ufunc=np.sign,
             doc="-1, 0 or 1 by the sign of x, elementwise.",
             grad="0 (a zero gradient, as in TensorFlow)", at=-1.5, gives="-1.0 0.0", dtypes="numeric")
exp = unary("exp", np.exp, lambda g, ans, x: g * ans, save="ans", scalar=math.exp, ufunc=np.exp,
            factor=lambda ans, x: ans, form=(np.multiply, "g", "ans"),
            holomorphic=True, doc="e ** x, elementwise.",
            grad="exp(x)", at=0.5, gives="1.6487212 1.6487212", dtypes="float_complex")
expm1 = unary("expm1", np.expm1, lambda g, ans, x: g * np.exp(x), save="x", scalar=math.expm1, ufunc=np.expm1,
              holomorphic=True, doc="exp(x) - 1, elementwise, accurate for small x.",
              grad="exp(x)", at=0.5, gives="0.6487213 1.6487212", dtypes="float_complex")
log = unary("log", np.log, lambda g, ans, x: g / x, save="x", scalar=math.log, ufunc=np.log,
            form=(np.true_divide, "g", "x"),
            holomorphic=True, doc="The natural logarithm, elementwise (log(0) is -inf, a negative x gives nan).",
            grad="1 / x", at=0.5, gives="-0.6931472 2.0", dtypes="float_complex")
log1p = unary("log1p", np.log1p, lambda g, ans, x: g / (1 + x), save="x", scalar=math.log1p, ufunc=np.log1p,
              holomorphic=True, doc="log(1 + x), elementwise, accurate for small x.",
              grad="1 / (1 + x)", at=0.5, gives="0.4054651 0.6666667", dtypes="float_complex")
log2 = unary("log2", np.log2, lambda g, ans, x: g / (x * math.log(2)), save="x", scalar=math.log2, ufunc=np.log2,
             holomorphic=True, doc="The base-2 logarithm, elementwise.",
             grad="1 / (x * log(2))", at=0.5, gives="-1.0 2.88539", dtypes="float_complex")
sqrt = unary("sqrt", np.sqrt, lambda g, ans, x: g * 0.5 / ans, save="ans", scalar=math.sqrt, ufunc=np.sqrt,
             form=(np.true_divide, (np.multiply, "g", 0.5), "ans"),
             holomorphic=True, doc="The square root, elementwise.",
             grad="0.5 / sqrt(x) (inf at x = 0)", at=0.25, gives="0.5 1.0", dtypes="float_complex")
rsqrt = unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, ans, x: g * -0.5 * ans * ans * ans, save="ans",
              holomorphic=True, doc="1 / sqrt(x), elementwise.",
              grad="-0.5 * x**-1.5", at=0.25, gives="2.0 -4.0", dtypes="float_complex")
square = unary("square", np.square, lambda g, ans, x: g * (2 * x), save="x", ufunc=np.square,
               factor=lambda ans, x: 2 * x, form=(np.multiply, "g", (np.multiply, 2, "x")),
               holomorphic=True, doc="x * x, elementwise.",
               grad="2 * x", at=1.5, gives="2.25 3.0", dtypes="numeric")
reciprocal = unary("reciprocal", np.reciprocal, lambda g, ans, x: -g * ans * ans, save="ans", ufunc=np.reciprocal,
                   form=(np.multiply, (np.multiply, (np.negative, "g"), "ans"), "ans"),
                   holomorphic=True, doc="1 / x, elementwise.",
                   grad="-1 / x**2", at=0.5, gives="2.0 -4.0", dtypes="numeric")
sin = unary("sin", np.sin, lambda g, ans, x: g * np.cos(x), save="x", scalar=math.sin, ufunc=np.sin,
            factor=lambda ans, x: np.cos(x), form=(np.multiply, "g", (np.cos, "x")),
            holomorphic=True, doc="The sine of x (in radians), elementwise.",
            grad="cos(x)", at=0.5, gives="0.47942555 0.87758255", dtypes="float_complex")
cos = unary("cos", np.cos, lambda g, ans, x: -g * np.sin(x), save="x", scalar=math.cos, ufunc=np.cos,
            factor=lambda ans, x: -np.sin(x), form=(np.multiply, (np.negative, "g"), (np.sin, "x")),
            holomorphic=True, doc="The cosine of x (in radians), elementwise.",
            grad="-sin(x)", at=0.5, gives="0.87758255 -0.47942555", dtypes="float_complex")
tan = unary("tan", np.tan, lambda g, ans, x: g * np.square(np.reciprocal(np.cos(x))), save="x", scalar=math.tan,
            ufunc=np.tan,
            holomorphic=True, doc="The tangent of x (in radians), elementwise.",
            grad="1 / cos(x)**2", at=0.5, gives="0.5463025 1.2984464", dtypes="float_complex")
asin = unary("asin", np.arcsin, lambda g, ans, x: g / np.sqrt(1 - x * x), save="x", scalar=math.asin,
             ufunc=np.arcsin,
             holomorphic=True, doc="The inverse sine, elementwise: the angle in [-pi/2, pi/2] whose sine is x.",
             grad="1 / sqrt(1 - x**2)", at=0.5, gives="0.5235988 1.1547005", dtypes="float_complex")
acos = unary("acos", np.arccos, lambda g, ans, x: -g / np.sqrt(1 - x * x), save="x", scalar=math.acos,
             ufunc=np.arccos,
             holomorphic=True, doc="The inverse cosine, elementwise: the angle in [0, pi] whose cosine is x.",
             grad="-1 / sqrt(1 - x**2)", at=0.5, gives="1.0471976 -1.1547005", dtypes="float_complex")
atan = unary("atan", np.arctan, lambda g, ans, x: g / (1 + x * x), save="x", scalar=math.atan, ufunc=np.arctan,
             holomorphic=True, doc="The inverse tangent, elementwise: the angle in (-pi/2, pi/2) whose tangent is x.",
             grad="1 / (1 + x**2)", at=0.5, gives="0.4636476 0.8", dtypes="float_complex")
sinh = unary("sinh", np.sinh, lambda g, ans, x: g * np.cosh(x), save="x", scalar=math.sinh, ufunc=np.sinh,
             factor=lambda ans, x: np.cosh(x), form=(np.multiply, "g", (np.cosh, "x")),
             holomorphic=True, doc="The hyperbolic sine, elementwise.",
             grad="cosh(x)", at=0.5, gives="0.5210953 1.127626", dtypes="float_complex")
cosh = unary("cosh", np.cosh, lambda g, ans, x: g * np.sinh(x), save="x", scalar=math.cosh, ufunc=np.cosh,
             factor=lambda ans, x: np.sinh(x), form=(np.multiply, "g", (np.sinh, "x")),
             holomorphic=True, doc="The hyperbolic cosine, elementwise.",
             grad="sinh(x)", at=0.5, gives="1.127626 0.5210953", dtypes="float_complex")
# A rule that is exactly g * f(x) for a registered op f: in tensor mode (nested tapes,
# forward over reverse) the core calls f and the multiply itself, the same ops in the
# rule's order, without the rule's frame and NumPy's dispatch of np.cos on a Tensor.
for _op, _f in ((sin, cos), (sinh, cosh), (cosh, sinh)):
    _op.factor_op = _f


def _tanh_factor(ans, x):
    # 1 - ans * ans, the rule's own f, computed into the fresh square (the same IEEE
    # operations, one array fewer: the sweep then multiplies the cotangent into it too).
    t = ans * ans
    if type(t) is np.ndarray:
        return np.subtract(1, t, out=t)
    return 1 - t


# sin and cos of a large float64 array on a tape compute their factor (cos(x), -sin(x)) in the
# same pass as the value (the C library's sincos), so the backward sweep multiplies by it
# instead of calling np.cos again (W5; docs/internals.md, "sin's factor from its forward").
# That is right only where NumPy's float64 sin and cos give sincos's bits, which nothing
# promises: NumPy calls the C library's scalar sin and cos on x86-64 without AVX-512, its own
# SIMD loops elsewhere.  So the first use compares the two on a fixed array and, if one bit
# differs, the ops keep NumPy's forward and the rule's np.cos.
_sincos_matches = None      # None: not probed yet; then True or False for the process


def _probe_values():
    """Small, medium, huge, subnormal, signed zero, inf and nan float64 values
    (contiguous, as the arrays the paired forward takes)."""
    rng = np.random.default_rng(15)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 1e-310, 2.2250738585072014e-308,
                        1e-300, 1e-20, 1.4901161193847656e-08, 1e-8, 0.5, 1.0, 1.5707963267948966, 3.141592653589793,
                        4.71238898038469, 6.283185307179586, 105414350.0, 1e22, 5.319372648326541e+255, 1e300,
                        1.7976931348623157e308])
    mags = 10.0 ** rng.uniform(-320.0, 308.0, 4096)
    near = np.pi / 2 * rng.integers(-10**6, 10**6, 1024) + rng.uniform(-1e-6, 1e-6, 1024)
    v = np.concatenate([special, -special, mags, -mags, rng.uniform(-3.0, 3.0, 4096), rng.uniform(-1e4, 1e4, 1024),
                        near])
    return v                                 # 14,386 values: not a multiple of a vector's width


def sincos_matches_numpy():
    """Whether the core's one-pass sincos gives NumPy's float64 sin and cos,
    bit for bit, on _probe_values (computed once per process)."""
    global _sincos_matches
    if _sincos_matches is None:
        x = _probe_values()
        pair = _core.sincos(x, checked=False)
        if pair is None:
            _sincos_matches = False          # no kernel on this platform
        else:
            with np.errstate(all="ignore"):
                s, c = np.sin(x), np.cos(x)
            _sincos_matches = bool(np.array_equal(pair[0].view(np.uint64), s.view(np.uint64))
                                   and np.array_equal(pair[1].view(np.uint64), c.view(np.uint64)))
    return _sincos_matches


def _sin_and_cos(x):
    return _core.sincos(x) if sincos_matches_numpy() else None


def _cos_and_minus_sin(x):
    return _core.sincos(x, negated=True) if sincos_matches_numpy() else None


sin.forward_factor = _sin_and_cos
cos.forward_factor = _cos_and_minus_sin

tanh = unary("tanh", np.tanh, lambda g, ans, x: g * (1 - ans * ans), save="ans", scalar=math.tanh, ufunc=np.tanh,
             factor=_tanh_factor,
             form=(np.multiply, "g", (np.subtract, 1, (np.multiply, "ans", "ans"))),
             holomorphic=True, doc="The hyperbolic tangent, elementwise.",
             grad="1 - tanh(x)**2", at=0.5, gives="0.4621172 0.7864477", dtypes="float_complex")
asinh = unary("asinh", np.arcsinh, lambda g, ans, x: g / np.cosh(ans), save="ans", scalar=math.asinh,
              ufunc=np.arcsinh,
              holomorphic=True, doc="The inverse hyperbolic sine, elementwise.",
              grad="1 / sqrt(x**2 + 1)", at=0.5, gives="0.48121184 0.8944272", dtypes="float_complex")
acosh = unary("acosh", np.arccosh, lambda g, ans, x: g / np.sinh(ans), save="ans", scalar=math.acosh,
              ufunc=np.arccosh,
              holomorphic=True, doc="The inverse hyperbolic cosine, elementwise (x >= 1).",
              grad="1 / sqrt(x**2 - 1)", at=1.5, gives="0.9624237 0.89442706", dtypes="float_complex")
atanh = unary("atanh", np.arctanh, lambda g, ans, x: g / (1 - x * x), save="x", scalar=math.atanh,
              ufunc=np.arctanh,
              holomorphic=True, doc="The inverse hyperbolic tangent, elementwise (-1 < x < 1).",
              grad="1 / (1 - x**2)", at=0.5, gives="0.54930615 1.3333334", dtypes="float_complex")
erf = unary("erf", _erf, lambda g, ans, x: g * _TWO_OVER_SQRT_PI * np.exp(-(x * x)), save="x", scalar=math.erf,
            doc="The error function, 2 / sqrt(pi) times the integral of exp(-t**2) from 0 to x, elementwise.",
            numpy="scipy.special.erf (NumPy has none)", grad="2 / sqrt(pi) * exp(-x**2)", at=0.5,
            gives="0.5204999 0.8787826", dtypes="float")


def _sigmoid(x):
    # Numerically stable on both tails (real x; complex x has no tails to order).
    if np.result_type(x).kind == "c":
        return 1 / (1 + np.exp(-x))
    if np.result_type(x).kind == "b":
        x = np.asarray(x, np.float16)   # a float result: the core then rejects the bool input, as for every float op
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x, np.float16), copy=False)


sigmoid = unary("sigmoid", _sigmoid, lambda g, ans, x: g * ans * (1 - ans), save="ans",
                holomorphic=True,
                doc="The logistic function 1 / (1 + exp(-x)), elementwise, stable for large positive and negative x.",
                numpy="1 / (1 + numpy.exp(-x))", grad="sigmoid(x) * (1 - sigmoid(x))", at=0.5,
                gives="0.62245935 0.23500371", dtypes="float_complex")


def _softplus(x):
    if np.result_type(x).kind == "c":
        return np.log1p(np.exp(x))
    return (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))).astype(np.result_type(x, np.float16), copy=False)


softplus = unary("softplus", _softplus, lambda g, ans, x: g * call(sigmoid, x), save="x",
                 holomorphic=True, doc="log(1 + exp(x)), elementwise, stable for large positive and negative x.",
                 numpy="numpy.logaddexp(0, x)", tf="tf.nn.softplus", grad="sigmoid(x)", at=0.5,
                 gives="0.974077 0.62245935", dtypes="float_complex")


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
    r = np.maximum(x, 0)
    if type(x) is np.ndarray and r.dtype == x.dtype:
        return r                       # np.result_type(x) is x.dtype: nothing to cast, no dispatch
    return r.astype(np.result_type(x), copy=False)


def _relu_vjp(g, ans, x):
    if type(g) is np.ndarray and type(ans) is np.ndarray:
        return g * (ans > 0)           # raw values: relu_grad's forward, without call()'s dispatch
    return call(relu_grad, g, ans)


relu = unary("relu", _relu, _relu_vjp, save="ans",
             doc="The rectified linear unit max(x, 0), elementwise.",
             numpy="numpy.maximum(x, 0)", tf="tf.nn.relu", grad="1 where x > 0, else 0", at=1.5,
             gives="1.5 1.0", dtypes="numeric")
relu6 = unary("relu6", lambda x: np.clip(x, 0, 6).astype(np.result_type(x), copy=False),
              lambda g, ans, x: call(relu6_grad, g, x), save="x",
              doc="min(max(x, 0), 6), elementwise.",
              numpy="numpy.clip(x, 0, 6)", tf="tf.nn.relu6", grad="1 where 0 < x < 6, else 0", at=1.5,
              gives="1.5 1.0", dtypes="numeric")

# ---- not differentiable (TensorFlow returns None through these) -------------------
round = nondiff("round", np.rint, kind=UNARY, ufunc=np.rint,  # noqa: A001
                doc="x rounded to the nearest integer, halves to even (banker's rounding, as in TensorFlow).",
                at=[0.5, 1.5, 2.7], gives="array([0., 2., 3.], dtype=float32)", dtypes="float_complex")
floor = nondiff("floor", np.floor, kind=UNARY, ufunc=np.floor,
                doc="The largest integer <= x, elementwise.",
                at=[-1.5, 2.5], gives="array([-2.,  2.], dtype=float32)", dtypes="real")
ceil = nondiff("ceil", np.ceil, kind=UNARY, ufunc=np.ceil,
               doc="The smallest integer >= x, elementwise.",
               at=[-1.5, 2.5], gives="array([-1.,  3.], dtype=float32)", dtypes="real")
equal = nondiff("equal", operator.eq, kind=BINARY, ufunc=np.equal,
                doc="x == y, elementwise with broadcasting.",
                at=([1.0, 2.0], 2.0), gives="array([False,  True])", dtypes="any_to_bool")
not_equal = nondiff("not_equal", operator.ne, kind=BINARY, ufunc=np.not_equal,
                    doc="x != y, elementwise with broadcasting.",
                    at=([1.0, 2.0], 2.0), gives="array([ True, False])", dtypes="any_to_bool")
less = nondiff("less", operator.lt, kind=BINARY, ufunc=np.less,
               doc="x < y, elementwise with broadcasting.",
               at=([1.0, 2.0], 2.0), gives="array([ True, False])", dtypes="any_to_bool")
less_equal = nondiff("less_equal", operator.le, kind=BINARY, ufunc=np.less_equal,
                     doc="x <= y, elementwise with broadcasting.",
                     at=([1.0, 2.0], 2.0), gives="array([ True,  True])", dtypes="any_to_bool")
greater = nondiff("greater", operator.gt, kind=BINARY, ufunc=np.greater,
                  doc="x > y, elementwise with broadcasting.",
                  at=([1.0, 2.0], 2.0), gives="array([False, False])", dtypes="any_to_bool")
greater_equal = nondiff("greater_equal", operator.ge, kind=BINARY, ufunc=np.greater_equal,
                        doc="x >= y, elementwise with broadcasting.",
                        at=([1.0, 2.0], 2.0), gives="array([False,  True])", dtypes="any_to_bool")
logical_and = nondiff("logical_and", np.logical_and, kind=BINARY, ufunc=np.logical_and,
                      doc="x and y, elementwise with broadcasting (the ``&`` operator on bool tensors).",
                      at=([True, False], True), gives="array([ True, False])", dtypes="any_to_bool")
logical_or = nondiff("logical_or", np.logical_or, kind=BINARY, ufunc=np.logical_or,
                     doc="x or y, elementwise with broadcasting (the ``|`` operator on bool tensors).",
                     at=([True, False], False), gives="array([ True, False])", dtypes="any_to_bool")
logical_xor = nondiff("logical_xor", np.logical_xor, kind=BINARY, ufunc=np.logical_xor,
                      doc="x xor y, elementwise with broadcasting (the ``^`` operator on bool tensors).",
                      at=([True, False], True), gives="array([False,  True])", dtypes="any_to_bool")
logical_not = nondiff("logical_not", np.logical_not, kind=UNARY, ufunc=np.logical_not,
                      doc="not x, elementwise (the ``~`` operator on bool tensors).",
                      at=[True, False], gives="array([False,  True])", dtypes="any_to_bool")
is_nan = nondiff("is_nan", np.isnan, kind=UNARY, ufunc=np.isnan,
                 doc="Whether each element is nan.",
                 at=[1.0, float('nan')], gives="array([False,  True])", dtypes="any_to_bool")
is_inf = nondiff("is_inf", np.isinf, kind=UNARY, ufunc=np.isinf,
                 doc="Whether each element is +inf or -inf.",
                 at=[1.0, float('inf')], gives="array([False,  True])", dtypes="any_to_bool")
is_finite = nondiff("is_finite", np.isfinite, kind=UNARY, ufunc=np.isfinite,
                    doc="Whether each element is neither inf nor nan.",
                    at=[1.0, float('inf')], gives="array([ True, False])", dtypes="any_to_bool")


# ---- cast, where, clip -------------------------------------------------------------------

def _cast_rule(t, ans, x, dtype, in_dtype):
    # Only float -> float casts carry gradients (TensorFlow cuts int paths);
    # the same rule maps a tangent forward (dtype) and a gradient back.
    if in_dtype.kind not in "fc" or dtype.kind not in "fc":
        return None
    return t if dtype == in_dtype else call(cast_op, t, params=(dtype, in_dtype))


def _cast_forward(x, dtype, in_dtype):
    # complex -> real (reached from gradients of real -> complex casts): the real part.
    return (np.real(x) if in_dtype.kind == "c" and dtype.kind != "c" else np.asarray(x)).astype(dtype)


cast_op = general("cast", _cast_forward,
                  (lambda g, ans, x, dtype, in_dtype: _cast_rule(g, ans, x, in_dtype, dtype),),
                  jvps=(_cast_rule,))


@op_doc(
    summary="x converted to another dtype (NumPy's astype): floats to integers truncate towards zero, bools become 0 "
            "and 1.",
    tf="``tf.cast``",
    numpy="``x.astype(dtype)``",
    returns="A Tensor of x's shape with the new dtype.",
    args={"dtype": ("DType or NumPy dtype", "the target dtype.")},
    dtypes="every dtype; complex to real keeps the real part (as TensorFlow and NumPy do).",
    derivative="1 for a floating-to-floating cast (the gradient is cast back to x's dtype); none when either dtype "
               "is not floating, as in TensorFlow.",
    example="""
        >>> tg.cast([1.7, -1.7], tg.int32)
        <tapegrad.Tensor: shape=(2,), dtype=int32, numpy=array([ 1, -1], dtype=int32)>
        >>> x = tg.constant(1.5)
        >>> with tg.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tg.cast(x, tg.float64) * 2.0
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=2.0>
    """)
def cast(x, dtype, name=None):
    t = _core.as_tensor(x)
    dt = dtypes.numpy_dtype(dtype)
    in_dt = np.result_type(t._value)
    if dt == in_dt:
        return _core.apply(array_ops.identity_op, (t,))
    return _core.apply(cast_op, (t,), (dt, in_dt))


def as_dtype(v, dt):
    """v in dtype dt on either path (a Tensor: the cast op, recorded)."""
    return cast(v, dt) if isinstance(v, Tensor) else np.asarray(v).astype(dt)


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


@op_doc(
    tf="``tf.where``",
    numpy="``numpy.where``",
    returns="With x and y: a Tensor of the broadcast shape of condition, x and y. With the condition only: an int64 "
            "Tensor of shape (number of True entries, condition's rank).",
    args={"condition": ("bool Tensor or array-like", "where to take x."),
          "x": ("Tensor, Variable or array-like or None", "values where condition holds."),
          "y": ("Tensor, Variable or array-like or None", "values elsewhere; x and y take one dtype.")},
    dtypes="any dtype for x and y (one dtype for both); condition must be bool.",
    derivative="d/dx = 1 where condition holds, else 0; d/dy = the opposite; none for condition.",
    raises="TypeError: condition is not bool.\nValueError: only one of x and y is given.\nInvalidArgumentError: "
           "shapes that do not broadcast.",
    example="""
        >>> tg.where([True, False], [1.0, 2.0], [10.0, 20.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([ 1., 20.], dtype=float32)>
        >>> tg.where([[True, False], [False, True]])
        <tapegrad.Tensor: shape=(2, 2), dtype=int64, numpy=
        array([[0, 0],
               [1, 1]])>
    """)
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
        raise InvalidArgumentError(f"cannot compute SelectV2 as input #0(zero-based) was expected to be a bool "
                                   f"tensor but is a {cond.dtype} tensor (where: condition must be bool) [Op:SelectV2]")
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


@op_doc(
    tf="``tf.math.squared_difference``",
    numpy="``numpy.square(x - y)``",
    returns="A Tensor of the broadcast shape of x and y.",
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="d/dx = 2 (x - y), d/dy = -2 (x - y)",
    example="""
        >>> tg.math.squared_difference([1.0, 5.0], 3.0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([4., 4.], dtype=float32)>
    """)
def squared_difference(x, y, name=None):
    """(x - y) ** 2, elementwise with broadcasting."""
    d = subtract(x, y)
    return d * d


@op_doc(
    tf="``tf.math.divide_no_nan``",
    numpy="``numpy.divide(x, y, out=numpy.zeros_like(x), where=y != 0)``",
    returns="A Tensor of the broadcast shape of x and y.",
    dtypes="float16, float32, float64, complex64, complex128.",
    derivative="d/dx = 1 / y, d/dy = -x / y**2 where y != 0; both 0 where y == 0.",
    example="""
        >>> tg.math.divide_no_nan([1.0, 1.0], [2.0, 0.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0.5, 0. ], dtype=float32)>
    """)
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
    # the raw value, not np.asarray(a): __array__ on a recorded tensor warns that a gradient is lost
    dt = np.asarray(_core.as_tensor(a)._value if isinstance(a, (Tensor, Variable)) else a).dtype
    lo = -np.inf if a_min is None else a_min
    hi = np.inf if a_max is None else a_max
    if dt.kind != "f" and (a_min is None or a_max is None):
        raise TypeError("tapegrad: numpy.clip on an integer Tensor needs both bounds")
    return clip_by_value(a, lo, hi)


@op_doc(
    tf="``tf.clip_by_value``",
    numpy="``numpy.clip``",
    returns="A Tensor of t's shape and dtype.",
    args={"clip_value_min": ("number or Tensor", "the lower bound; broadcasts to t's shape."),
          "clip_value_max": ("number or Tensor", "the upper bound.")},
    dtypes="floating and integer dtypes.",
    derivative="d/dt = 1 where clip_value_min <= t <= clip_value_max (the bounds included), else 0; none for the "
               "bounds.",
    raises="InvalidArgumentError: bounds that do not broadcast to t's shape.",
    example="""
        >>> tg.clip_by_value([-1.0, 0.5, 3.0], 0.0, 1.0)
        <tapegrad.Tensor: shape=(3,), dtype=float32, numpy=array([0. , 0.5, 1. ], dtype=float32)>
    """)
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
