"""scipy.special's functions, differentiable: SciPy computes the values, the
derivatives are tapegrad ops (see tapegrad.ops.scipy_ops), so second and
higher derivatives work too.  Arguments that are orders (n, v) or shape
parameters of incomplete integrals have no derivative: differentiating with
respect to them raises NotImplementedError."""
import math

import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.ops.math_ops import erf as _erf
from tapegrad.ops.math_ops import sigmoid as _sigmoid
from tapegrad.ops.reduction_ops import reduce_logsumexp, reduce_sum
from tapegrad.scipy._convert import tensor, tensors

__all__ = ["gammaln", "digamma", "psi", "polygamma", "multigammaln", "gamma", "rgamma", "beta", "betaln",
           "gammainc", "gammaincc", "betainc", "erf", "erfc", "erfinv", "erfcinv", "expit", "logit", "ndtr",
           "log_ndtr", "stdtr", "logsumexp", "xlogy", "xlog1py", "i0", "i1", "iv", "ive", "j0", "j1", "jv", "jn",
           "y0", "y1", "yn"]


def _unary(op):
    def f(x):
        return op(tensor(x, op.name))
    f.__name__ = f.__qualname__ = op.name
    f.__doc__ = f"scipy.special.{op.name}(x), recorded on the active tapes."
    return f


def _binary(op, first, second):
    def f(a, b):
        return op(*tensors(op.name, a, b))
    f.__name__ = f.__qualname__ = op.name
    f.__doc__ = f"scipy.special.{op.name}({first}, {second}), recorded on the active tapes."
    return f


gammaln = _unary(_ops.gammaln)
digamma = psi = _unary(_ops.digamma)
gamma = _unary(_ops.gamma)
rgamma = _unary(_ops.rgamma)
erf = _unary(_erf)
erfc = _unary(_ops.erfc)
erfinv = _unary(_ops.erfinv)
erfcinv = _unary(_ops.erfcinv)
expit = _unary(_sigmoid)
logit = _unary(_ops.logit)
ndtr = _unary(_ops.ndtr)
log_ndtr = _unary(_ops.log_ndtr)
i0 = _unary(_ops.i0)
i1 = _unary(_ops.i1)
j0 = _unary(_ops.j0)
j1 = _unary(_ops.j1)
y0 = _unary(_ops.y0)
y1 = _unary(_ops.y1)
polygamma = _binary(_ops.polygamma, "n", "x")
beta = _binary(_ops.beta, "a", "b")
betaln = _binary(_ops.betaln, "a", "b")
gammainc = _binary(_ops.gammainc, "a", "x")
gammaincc = _binary(_ops.gammaincc, "a", "x")
stdtr = _binary(_ops.stdtr, "df", "t")
xlogy = _binary(_ops.xlogy, "x", "y")
xlog1py = _binary(_ops.xlog1py, "x", "y")
iv = _binary(_ops.iv, "v", "z")
ive = _binary(_ops.ive, "v", "z")
jv = jn = _binary(_ops.jv, "v", "z")
yn = _binary(_ops.yn, "n", "x")


def betainc(a, b, x):
    """scipy.special.betainc(a, b, x), the regularized incomplete beta
    function; differentiable in x only."""
    return _ops.betainc_of(*tensors("betainc", a, b, x))


def multigammaln(a, d):
    """scipy.special.multigammaln(a, d): the log of the multivariate gamma
    function, sum over j < d of gammaln(a - j / 2) plus d (d - 1) / 4 log(pi);
    differentiable in a (d is an integer)."""
    a = tensor(a, "multigammaln")
    d = int(d)
    if d < 1 or np.any(np.asarray(a.numpy()) <= 0.5 * (d - 1)):
        raise ValueError(f"condition a ({np.asarray(a.numpy())}) > 0.5 * (d-1) ({0.5 * (d - 1)}) not met")
    total = 0.25 * d * (d - 1) * math.log(math.pi)
    for j in range(d):
        total = gammaln(a - 0.5 * j) + total
    return total


def _out_shape(shape, axis, keepdims):
    return np.sum(np.zeros(shape, dtype=bool), axis=axis, keepdims=keepdims).shape


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """scipy.special.logsumexp: log(sum(b * exp(a))) over `axis`, stable for
    large a; with return_sign, (log|sum|, sign of the sum).  Differentiable in
    a and b."""
    if b is None and not return_sign:
        return reduce_logsumexp(tensor(a, "logsumexp"), axis=axis, keepdims=keepdims)
    a, b = tensors("logsumexp", a, 1.0 if b is None else b)
    full = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    a, b = np.broadcast_to(a, full), np.broadcast_to(b, full)
    if isinstance(axis, list):
        axis = tuple(axis)
    m = np.asarray(np.max(a.numpy(), axis=axis, keepdims=True))
    m = np.where(np.isfinite(m), m, 0).astype(m.dtype)          # a constant: the shift needs no gradient
    s = reduce_sum(b * np.exp(a - m), axis=axis, keepdims=True)
    shape = _out_shape(full, axis, keepdims)
    if not return_sign:
        return np.reshape(np.log(s) + m, shape)
    sign = np.sign(s)
    return np.reshape(np.log(sign * s) + m, shape), np.reshape(sign, shape)

