"""Gradient checking against finite differences (like ``tf.test.compute_gradient``
and autograd's ``check_grads``).  Public so users can check their own code.

Complex inputs and outputs are checked as pairs of real numbers: directions
are complex, a complex output is read through the real functional
Re(sum(conj(u) * f)), and a complex gradient is taken as dL/dRe + i dL/dIm
(TensorFlow's convention, docs/complex.md), so <grad, v> = Re(sum(conj(grad) * v)).

    theoretical, numerical = tapegrad.test.compute_gradient(f, [x])
    tapegrad.test.check_gradients(f, [x], order=2)                  # forward and reverse mode
    tapegrad.test.check_gradients(f, [x], order=2, modes=("rev",))  # reverse mode only
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad.forward import ForwardAccumulator
from tapegrad.ops.creation import convert_to_tensor
from tapegrad.ops.sparse_ops import IndexedSlices
from tapegrad.tape import GradientTape

__all__ = ["compute_gradient", "check_gradients", "numerical_jacobian"]


def _as_array(x):
    if isinstance(x, (Tensor, Variable)):
        return np.array(x.numpy(), dtype=np.result_type(x._value))
    if isinstance(x, np.ndarray):
        return x.copy()
    a = np.array(x)
    return a if a.dtype.kind == "c" else a.astype(np.float64)


def _tensor(a):
    return _core.wrap(np.array(a))      # a copy: wrap() freezes the array it is given


def _value(y):
    y = np.asarray(y.numpy() if isinstance(y, (Tensor, Variable)) else y)
    return y.astype(np.complex128 if y.dtype.kind == "c" else np.float64)


def _direction(rng, shape, like):
    """A random direction, complex where `like` is complex."""
    d = rng.standard_normal(shape)
    if np.result_type(like).kind == "c":
        d = d + 1j * rng.standard_normal(shape)
    return d


def _inner(a, b):
    """The real inner product of the checks: Re(sum(conj(a) * b))."""
    return float(np.real(np.sum(np.conjugate(a) * b)))


def numerical_jacobian(f: Callable[..., Any], xs: Sequence[Any], i: int, delta: float = 1e-6) -> np.ndarray:
    """d f / d xs[i] by central differences: shape (f.size, xs[i].size).

    Complex values follow the gradient convention (docs/complex.md): row k is
    the gradient of Re(f_k), d Re(f_k)/d Re(x_j) + i d Re(f_k)/d Im(x_j),
    which is what ``GradientTape.jacobian`` computes."""
    xs = [_as_array(x) for x in xs]
    x = xs[i]
    y0 = _value(f(*[_tensor(a) for a in xs]))
    jac = np.zeros((y0.size, x.size), dtype=np.complex128 if x.dtype.kind == "c" else np.float64)
    flat = x.reshape(-1)
    for j in range(x.size):
        old = flat[j]
        for step in ((1, 1j) if x.dtype.kind == "c" else (1,)):
            flat[j] = old + delta * step
            yp = _value(f(*[_tensor(a) for a in xs]))
            flat[j] = old - delta * step
            ym = _value(f(*[_tensor(a) for a in xs]))
            flat[j] = old
            jac[:, j] += np.real(yp - ym).reshape(-1) / (2 * delta) * step
    return jac


def _reverse_jacobian(f, xs, i):
    """d f / d xs[i] by reverse mode, one sweep per output element."""
    ts = [_tensor(_as_array(x)) for x in xs]
    with GradientTape(persistent=True) as tape:
        tape.watch(ts[i])
        y = f(*ts)
    y_shape = np.shape(y._value)
    n_out = int(np.prod(y_shape, dtype=np.int64))
    jac = np.zeros((n_out, ts[i]._value.size), dtype=np.complex128 if np.result_type(ts[i]._value).kind == "c"
                   else np.float64)
    dt = np.result_type(y._value)
    for k in range(n_out):
        seed = np.zeros(n_out, dtype=dt)
        seed[k] = 1
        g = tape.gradient(y, ts[i], output_gradients=_core.wrap(seed.reshape(y_shape)),
                          unconnected_gradients="zero")
        jac[k] = np.asarray(g).reshape(-1)
    return jac


def compute_gradient(f: Callable[..., Any], x: Any,
                     delta: float | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(theoretical, numerical) Jacobians of f at the list of arguments x: two
    lists (one entry per argument) of arrays of shape (f.size, x_i.size)."""
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if delta is None:
        delta = 1e-6 if all(np.result_type(_as_array(a)) == np.float64 for a in xs) else 1e-3
    theoretical = [_reverse_jacobian(f, xs, i) for i in range(len(xs))]
    numerical = [numerical_jacobian(f, xs, i, delta) for i in range(len(xs))]
    return theoretical, numerical


MODES = ("fwd", "rev")


def check_gradients(f: Callable[..., Any], args: Sequence[Any], order: int = 2, rtol: float = 1e-5, atol: float = 1e-6,
                    delta: float = 1e-6, seed: int = 0, argnums: Sequence[int] | None = None,
                    modes: Sequence[str] = MODES) -> None:
    """Check the derivatives of f up to `order` against central differences
    along random directions (float64 recommended), in forward mode, reverse
    mode or both (``modes``, a subset of ``("fwd", "rev")``; default both).

    For each checked argument x_i, a random input direction v and output
    direction u, order 1 compares d/dt <u, f(x_i + t v)> by central differences
    with

    * "rev": <J^T u, v>, J^T u from a GradientTape (VJP rules);
    * "fwd": <u, J v>, J v from a ForwardAccumulator (JVP rules).

    Higher orders differentiate each mode's own result again in the same mode:
    "rev" checks x -> <J^T u, ...> through nested tapes (reverse over reverse),
    "fwd" checks x -> J v through nested accumulators (forward over forward),
    each with fresh random directions.  So ``modes=("fwd",)`` never calls a
    VJP rule and ``modes=("rev",)`` never calls a JVP rule: each mode's rules
    are checked on their own.  (Forward over reverse, the Hessian-vector
    product, combines the two; tests/test_forward.py checks it per op.)

    Raises AssertionError naming the mode, the argument and the order on a
    mismatch.
    """
    modes = tuple(modes)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty subset of {MODES}, got {modes!r}")
    # One random stream per mode, so the directions one mode draws do not depend on whether the
    # other mode is checked too (the reverse stream is the one this function always used).
    rngs = {"rev": np.random.default_rng(seed), "fwd": np.random.default_rng([seed, 1])}
    arrays = [_as_array(a) for a in args]
    argnums = range(len(arrays)) if argnums is None else argnums
    for i in argnums:
        for mode in modes:
            _check_one(f, arrays, i, order, rngs[mode], rtol, atol, delta, 1, mode)


def _check_one(f, arrays, i, order, rng, rtol, atol, delta, level, mode):
    x = arrays[i]
    v = _direction(rng, x.shape, x).astype(x.dtype)            # input direction
    y = _value(f(*[_tensor(a) for a in arrays]))
    u = _direction(rng, y.shape, y)                             # output direction

    def directional(xx):
        xs = list(arrays)
        xs[i] = xx
        return _inner(u, _value(f(*[_tensor(a) for a in xs])))

    numeric = (directional(x + delta * v) - directional(x - delta * v)) / (2 * delta)
    if mode == "rev":
        analytic = _inner(_vjp(f, arrays, i, u), v)
    else:
        analytic = _inner(u, _value(_jvp_tensor(f, arrays, i, v)))
    tol = atol + rtol * max(abs(numeric), abs(analytic))
    if not abs(numeric - analytic) <= max(tol, 1e-4 * max(1.0, abs(numeric))):
        name = "reverse" if mode == "rev" else "forward"
        raise AssertionError(f"derivative of order {level} w.r.t. argument {i}: {name} mode gives {analytic!r}, "
                             f"finite differences {numeric!r}")
    if order > 1:
        if mode == "rev":
            def derivative(*xs):
                return _vjp_tensor(f, xs, i, u)
        else:
            def derivative(*xs):
                return _jvp_tensor(f, xs, i, v)
        _check_one(derivative, arrays, i, order - 1, rng, rtol, atol, delta, level + 1, mode)


def _vjp_tensor(f, xs, i, u):
    """u^T df/dx_i as a Tensor, computed inside whatever tapes are active (so
    it can be differentiated again)."""
    ts = [a if isinstance(a, Tensor) else _tensor(_as_array(a)) for a in xs]
    with GradientTape() as tape:
        tape.watch(ts[i])
        y = f(*ts)
    dt = np.result_type(y._value)
    g = tape.gradient(y, ts[i], output_gradients=_core.wrap(np.asarray(u, dtype=dt)), unconnected_gradients="zero")
    if isinstance(g, IndexedSlices):
        g = convert_to_tensor(g)           # a sparse gradient is checked as its dense value (recorded)
    return g


def _jvp_tensor(f, xs, i, v):
    """df/dx_i v as a Tensor, computed inside whatever accumulators are active
    (so an enclosing accumulator differentiates it again)."""
    ts = [a if isinstance(a, Tensor) else _tensor(_as_array(a)) for a in xs]
    with ForwardAccumulator(ts[i], _tensor(v)) as acc:
        y = f(*ts)
    return acc.jvp(y, unconnected_gradients="zero")


def _vjp(f, arrays, i, u):
    return _value(_vjp_tensor(f, arrays, i, u))
