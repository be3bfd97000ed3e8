"""SciPy's differentiable functions as ops: special functions, the cdfs the
distributions of tapegrad.scipy.stats need, four matrix functions of
scipy.linalg and scipy.signal.convolve.

SciPy is optional.  These ops are declared when tapegrad is imported (so the
registry, the record table and docs/ops.md are the same with or without
SciPy), but SciPy itself is imported only when one of them first runs: `import
tapegrad` stays as cheap as before.  Users reach them through tapegrad.scipy,
which raises ImportError at once when SciPy is missing.

Derivatives are written with registered ops (digamma's derivative is
``polygamma(1, x)``, a Bessel function's derivative is Bessel functions of the
neighbouring orders, sqrtm's VJP solves a Sylvester equation with the
solve_sylvester op), so every rule is differentiable again.  Where a
derivative has no closed form SciPy could evaluate (the order of a Bessel
function, the shape parameters of an incomplete gamma or beta function, the
degrees of freedom of Student's t cdf), the rule raises NotImplementedError
naming the function and the argument: the gradient is never silently zero.
"""
import importlib
import math

import numpy as np

from tapegrad._core import operands
from tapegrad.ops import band_ops, math_ops
from tapegrad.ops._registry import SCIPY_UFUNCS, call, general, raw, unary
from tapegrad.ops._registry import binary as _binary

INSTALL = 'tapegrad.scipy needs SciPy: install it with  pip install "tapegrad[scipy]"'


class _Lazy:
    """scipy.<name>, imported the first time an attribute is read."""

    def __init__(self, name):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        if self._module is None:
            try:
                self._module = importlib.import_module(f"scipy.{self._name}")
            except ImportError as e:
                raise ImportError(INSTALL) from e
        return getattr(self._module, attr)


sc = _Lazy("special")
sl = _Lazy("linalg")
ss = _Lazy("signal")


def _no_derivative(function, argument):
    def rule(*args):
        raise NotImplementedError(
            f"tapegrad.scipy: {function} has no derivative with respect to {argument} (SciPy has no function "
            f"that evaluates it); pass {argument} as a constant, or compute it with differentiable ops")
    return rule


def binary(name, forward, vjp_x, vjp_y, save="x"):
    """The registry's broadcasting op of two inputs; these rules read their inputs (save="x")."""
    return _binary(name, forward, vjp_x, vjp_y, save=save)


_SQRT_PI = math.sqrt(math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)

# ---- gamma and beta functions ------------------------------------------------------------

polygamma = binary("polygamma", lambda n, x: sc.polygamma(n, x),
                   _no_derivative("polygamma", "the order n"),
                   lambda g, ans, n, x: g * call(polygamma, n + 1, x))
digamma = unary("digamma", lambda x: sc.digamma(x), lambda g, ans, x: g * call(polygamma, 1, x), save="x")
gammaln = unary("gammaln", lambda x: sc.gammaln(x), lambda g, ans, x: g * call(digamma, x), save="x")
gamma = unary("gamma", lambda x: sc.gamma(x), lambda g, ans, x: g * ans * call(digamma, x), save="x,ans")
rgamma = unary("rgamma", lambda x: sc.rgamma(x), lambda g, ans, x: -g * ans * call(digamma, x), save="x,ans")
betaln = binary("betaln", lambda a, b: sc.betaln(a, b),
                lambda g, ans, a, b: g * (call(digamma, a) - call(digamma, a + b)),
                lambda g, ans, a, b: g * (call(digamma, b) - call(digamma, a + b)))
beta = binary("beta", lambda a, b: sc.beta(a, b),
              lambda g, ans, a, b: g * ans * (call(digamma, a) - call(digamma, a + b)),
              lambda g, ans, a, b: g * ans * (call(digamma, b) - call(digamma, a + b)), save="x,ans")

# ---- error functions and the logistic function --------------------------------------------

erfc = unary("erfc", lambda x: sc.erfc(x), lambda g, ans, x: g * (-2 / _SQRT_PI) * np.exp(-(x * x)), save="x")
erfinv = unary("erfinv", lambda x: sc.erfinv(x), lambda g, ans, x: g * (_SQRT_PI / 2) * np.exp(ans * ans),
               save="ans")
erfcinv = unary("erfcinv", lambda x: sc.erfcinv(x), lambda g, ans, x: g * (-_SQRT_PI / 2) * np.exp(ans * ans),
                save="ans")
logit = unary("logit", lambda x: sc.logit(x), lambda g, ans, x: g / (x * (1 - x)), save="x")
xlogy = binary("xlogy", lambda x, y: sc.xlogy(x, y), lambda g, ans, x, y: g * np.log(y),
               lambda g, ans, x, y: g * x / y)
xlog1py = binary("xlog1py", lambda x, y: sc.xlog1py(x, y), lambda g, ans, x, y: g * np.log1p(y),
                 lambda g, ans, x, y: g * x / (1 + y))

# ---- Bessel functions: d/dx of order v is half the difference (J, Y) or sum (I) of orders v -+ 1 ----

jv = binary("jv", lambda v, x: sc.jv(v, x), _no_derivative("jv", "the order v"),
            lambda g, ans, v, x: g * 0.5 * (call(jv, v - 1, x) - call(jv, v + 1, x)))
yn = binary("yn", lambda n, x: sc.yn(n, x), _no_derivative("yn", "the order n"),
            lambda g, ans, n, x: g * 0.5 * (call(yn, n - 1, x) - call(yn, n + 1, x)))
iv = binary("iv", lambda v, x: sc.iv(v, x), _no_derivative("iv", "the order v"),
            lambda g, ans, v, x: g * 0.5 * (call(iv, v - 1, x) + call(iv, v + 1, x)))
# ive(v, x) = iv(v, x) * exp(-|x|)
ive = binary("ive", lambda v, x: sc.ive(v, x), _no_derivative("ive", "the order v"),
             lambda g, ans, v, x: g * (0.5 * (call(ive, v - 1, x) + call(ive, v + 1, x)) - np.sign(x) * ans),
             save="x,ans")
j0 = unary("j0", lambda x: sc.j0(x), lambda g, ans, x: -g * call(j1, x), save="x")
j1 = unary("j1", lambda x: sc.j1(x), lambda g, ans, x: g * 0.5 * (call(j0, x) - call(jv, 2.0, x)), save="x")
y0 = unary("y0", lambda x: sc.y0(x), lambda g, ans, x: -g * call(y1, x), save="x")
y1 = unary("y1", lambda x: sc.y1(x), lambda g, ans, x: g * 0.5 * (call(y0, x) - call(yn, 2.0, x)), save="x")
i0 = unary("i0", lambda x: sc.i0(x), lambda g, ans, x: g * call(i1, x), save="x")
i1 = unary("i1", lambda x: sc.i1(x), lambda g, ans, x: g * 0.5 * (call(i0, x) + call(iv, 2.0, x)), save="x")

# ---- the cdfs behind tapegrad.scipy.stats ------------------------------------------------

ndtr = unary("ndtr", lambda x: sc.ndtr(x), lambda g, ans, x: g * np.exp(-0.5 * (x * x) - _LOG_SQRT_2PI), save="x")
# d/dx log(ndtr(x)) = pdf(x) / cdf(x), formed in logs (stable far in the left tail)
log_ndtr = unary("log_ndtr", lambda x: sc.log_ndtr(x),
                 lambda g, ans, x: g * np.exp(-0.5 * (x * x) - _LOG_SQRT_2PI - ans), save="x,ans")


def _t_logpdf(x, df):
    return (call(gammaln, (df + 1) * 0.5) - call(gammaln, df * 0.5) - 0.5 * np.log(df * math.pi)
            - (df + 1) * 0.5 * np.log1p(x * x / df))


stdtr = binary("stdtr", lambda df, x: sc.stdtr(df, x), _no_derivative("stdtr (t.cdf)", "the degrees of freedom"),
               lambda g, ans, df, x: g * np.exp(_t_logpdf(x, df)))


def _gamma_logpdf(a, x):
    return call(xlogy, a - 1, x) - x - call(gammaln, a)


gammainc = binary("gammainc", lambda a, x: sc.gammainc(a, x), _no_derivative("gammainc", "the shape a"),
                  lambda g, ans, a, x: g * np.exp(_gamma_logpdf(a, x)))
gammaincc = binary("gammaincc", lambda a, x: sc.gammaincc(a, x), _no_derivative("gammaincc", "the shape a"),
                   lambda g, ans, a, x: -g * np.exp(_gamma_logpdf(a, x)))


def _betainc_x(g, ans, a, b, x):
    return g * np.exp(call(xlogy, a - 1, x) + call(xlog1py, b - 1, -x) - call(betaln, a, b))


# Three inputs of one shape (tapegrad.scipy broadcasts them first).
_betainc_a = _no_derivative("betainc", "the shape a")
_betainc_b = _no_derivative("betainc", "the shape b")
betainc = general("betainc", lambda a, b, x: sc.betainc(a, b, x), (_betainc_a, _betainc_b, _betainc_x), save="x",
                  jvps=(_betainc_a, _betainc_b, _betainc_x))

# ---- scipy.linalg -----------------------------------------------------------------------


def _real(name, value, like):
    """A SciPy result in its input's dtype.  Real matrices only: the rules
    transpose where a complex matrix would need a conjugate, and a complex
    result of a real input (the square root of a matrix with negative
    eigenvalues) is not the real function these rules differentiate."""
    dt = np.result_type(like)
    if dt.kind == "c":
        raise TypeError(f"tapegrad.scipy.linalg.{name} differentiates real matrices only, got {dt}")
    if np.iscomplexobj(value):
        if np.any(np.imag(value) != 0):
            raise ValueError(f"tapegrad.scipy.linalg.{name}: the result is complex for this real input; "
                             f"tapegrad differentiates real results only")
        value = np.real(value)
    return np.asarray(value).astype(dt, copy=False)


def _mT(x):
    return np.swapaxes(x, -1, -2)


def _triangle(x, lower, unit_diagonal):
    """The part of x that solve_triangular reads: its triangle, without the
    diagonal when the diagonal is taken to be ones."""
    part = call(band_ops.band_part_op, x, params=(-1, 0) if lower else (0, -1))
    return part - call(band_ops.band_part_op, x, params=(0, 0)) if unit_diagonal else part


def _outer(u, v):
    """u v^T for the columns (or vectors) u and v."""
    return u[:, None] * v[None, :] if np.ndim(raw(u)) == 1 else u @ _mT(v)


def _tri_forward(a, b, trans, lower, unit_diagonal):
    return _real("solve_triangular", sl.solve_triangular(a, b, trans=trans, lower=lower,
                                                         unit_diagonal=unit_diagonal), b)


def _tri(a, b, trans, lower, unit_diagonal):
    return call(solve_triangular, a, b, params=(trans, lower, unit_diagonal))


def _tri_vjp_a(g, ans, a, b, trans, lower, unit_diagonal):
    gb = _tri(a, g, 1 - trans, lower, unit_diagonal)
    return -_triangle(_outer(ans, gb) if trans else _outer(gb, ans), lower, unit_diagonal)


def _tri_jvp_a(t, ans, a, b, trans, lower, unit_diagonal):
    ta = _triangle(t, lower, unit_diagonal)
    return -_tri(a, (_mT(ta) if trans else ta) @ ans, trans, lower, unit_diagonal)


# trans is 0 (solve a x = b) or 1 (a^T x = b); real matrices only.
solve_triangular = general(
    "solve_triangular", _tri_forward,
    (_tri_vjp_a, lambda g, ans, a, b, trans, lower, unit: _tri(a, g, 1 - trans, lower, unit)), save="x,ans",
    jvps=(_tri_jvp_a, lambda t, ans, a, b, trans, lower, unit: _tri(a, t, trans, lower, unit)), batching=False)


def _sylvester(a, b, q):
    return call(solve_sylvester, a, b, q)


def _sylvester_vjp_q(g, ans, a, b, q):
    return _sylvester(_mT(a), _mT(b), g)


# a x + x b = q:  a dx + dx b = dq - da x - x db
solve_sylvester = general(
    "solve_sylvester", lambda a, b, q: _real("solve_sylvester", sl.solve_sylvester(a, b, q), q),
    (lambda g, ans, a, b, q: -(_sylvester_vjp_q(g, ans, a, b, q) @ _mT(ans)),
     lambda g, ans, a, b, q: -(_mT(ans) @ _sylvester_vjp_q(g, ans, a, b, q)),
     _sylvester_vjp_q), save="x,ans",
    jvps=(lambda t, ans, a, b, q: _sylvester(a, b, -(t @ ans)),
          lambda t, ans, a, b, q: _sylvester(a, b, -(ans @ t)),
          lambda t, ans, a, b, q: _sylvester(a, b, t)), batching=False)

# x x = a:  x dx + dx x = da
sqrtm = general("sqrtm", lambda a: _real("sqrtm", sl.sqrtm(a), a),
                (lambda g, ans, a: _sylvester(_mT(ans), _mT(ans), g),), save="ans",
                jvps=(lambda t, ans, a: _sylvester(ans, ans, t),), batching=False)


def _expm_block(a, e):
    """The Frechet derivative of expm at a in direction e: the upper right
    block of expm([[a, e], [0, a]]) (Mathias, 1996)."""
    n = np.shape(raw(a))[-1]
    top = np.concatenate([a, e], axis=1)
    bottom = np.concatenate([np.zeros_like(a), a], axis=1)
    return call(expm, np.concatenate([top, bottom], axis=0))[:n, n:]


expm = general("expm", lambda a: _real("expm", sl.expm(a), a),
               (lambda g, ans, a: _expm_block(_mT(a), g),), save="x",
               jvps=(lambda t, ans, a: _expm_block(a, t),), batching=False)

# ---- scipy.signal.convolve --------------------------------------------------------------


def _full(g, a, b, mode):
    """The cotangent of the 'full' convolution whose slice (mode 'valid' or
    'same') the output is: g placed in zeros at the slice's position."""
    if mode == "full":
        return g
    pads = []
    for na, nb, n in zip(np.shape(raw(a)), np.shape(raw(b)), np.shape(raw(g))[-np.ndim(raw(a)):]):
        start = min(na, nb) - 1 if mode == "valid" else (nb - 1) // 2
        pads.append((start, na + nb - 1 - start - n))
    return np.pad(g, pads)


def _conv(x, y, mode, method):
    return call(convolve, x, y, params=(mode, method))


def _flip(x):
    return np.flip(x, axis=tuple(range(np.ndim(raw(x)))))


# The output is bilinear in (a, b); a full convolution's VJP for a is the
# valid convolution of its cotangent with b reversed (and likewise for b).
convolve = general(
    "convolve", lambda a, b, mode, method: ss.convolve(a, b, mode=mode, method=method),
    (lambda g, ans, a, b, mode, method: _conv(_full(g, a, b, mode), _flip(b), "valid", method),
     lambda g, ans, a, b, mode, method: _conv(_full(g, a, b, mode), _flip(a), "valid", method)), save="x",
    jvps=(lambda t, ans, a, b, mode, method: _conv(t, b, mode, method),
          lambda t, ans, a, b, mode, method: _conv(a, t, mode, method)), batching=False)

# ---- SciPy's ufuncs applied to tensors (numpy_dispatch): name -> what runs ----------------


def betainc_of(a, b, x):
    """betainc on operands of any shapes: broadcast to one shape first."""
    a, b, x = operands([a, b, x], "betainc")
    shape = np.broadcast_shapes(a.shape, b.shape, x.shape)
    return call(betainc, *(np.broadcast_to(v, shape) for v in (a, b, x)))


SCIPY_UFUNCS.update(
    gammaln=gammaln, psi=digamma, gamma=gamma, rgamma=rgamma, beta=beta, betaln=betaln, erf=math_ops.erf, erfc=erfc,
    erfinv=erfinv, erfcinv=erfcinv, expit=math_ops.sigmoid, logit=logit, xlogy=xlogy, xlog1py=xlog1py, i0=i0, i1=i1,
    iv=iv, ive=ive, j0=j0, j1=j1, jv=jv, y0=y0, y1=y1, yn=yn, ndtr=ndtr, log_ndtr=log_ndtr, stdtr=stdtr,
    gammainc=gammainc, gammaincc=gammaincc, betainc=betainc_of)
