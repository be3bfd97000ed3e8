"""Gradient checking against finite differences (like ``tf.test.compute_gradient``
and autograd's ``check_grads``).  Public so users can check their own code.

    theoretical, numerical = tapegrad.test.compute_gradient(f, [x])
    tapegrad.test.check_gradients(f, [x], order=2)
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad.tape import GradientTape

__all__ = ["compute_gradient", "check_gradients", "numerical_jacobian"]


def _as_array(x):
    if isinstance(x, (Tensor, Variable)):
        return np.array(x.numpy(), dtype=np.result_type(x._value))
    return np.array(x, dtype=np.float64) if not isinstance(x, np.ndarray) else x.copy()


def _tensor(a):
    return _core.wrap(np.array(a))      # a copy: wrap() freezes the array it is given


def _value(y):
    return np.asarray(y.numpy() if isinstance(y, (Tensor, Variable)) else y, dtype=np.float64)


def numerical_jacobian(f: Callable[..., Any], xs: Sequence[Any], i: int, delta: float = 1e-6) -> np.ndarray:
    """d f / d xs[i] by central differences: shape (f.size, xs[i].size)."""
    xs = [_as_array(x) for x in xs]
    x = xs[i]
    y0 = _value(f(*[_tensor(a) for a in xs]))
    jac = np.zeros((y0.size, x.size))
    flat = x.reshape(-1)
    for j in range(x.size):
        old = flat[j]
        flat[j] = old + delta
        yp = _value(f(*[_tensor(a) for a in xs]))
        flat[j] = old - delta
        ym = _value(f(*[_tensor(a) for a in xs]))
        flat[j] = old
        jac[:, j] = (yp - ym).reshape(-1) / (2 * delta)
    return jac


def _reverse_jacobian(f, xs, i):
    """d f / d xs[i] by reverse mode, one sweep per output element."""
    ts = [_tensor(_as_array(x)) for x in xs]
    with GradientTape(persistent=True) as tape:
        tape.watch(ts[i])
        y = f(*ts)
    y_shape = np.shape(y._value)
    n_out = int(np.prod(y_shape, dtype=np.int64))
    jac = np.zeros((n_out, ts[i]._value.size))
    dt = np.result_type(y._value)
    for k in range(n_out):
        seed = np.zeros(n_out, dtype=dt)
        seed[k] = 1
        g = tape.gradient(y, ts[i], output_gradients=_core.wrap(seed.reshape(y_shape)),
                          unconnected_gradients="zero")
        jac[k] = np.asarray(g).reshape(-1)
    return jac


def compute_gradient(f: Callable[..., Any], x: Any,
                     delta: Optional[float] = None) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """(theoretical, numerical) Jacobians of f at the list of arguments x: two
    lists (one entry per argument) of arrays of shape (f.size, x_i.size)."""
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if delta is None:
        delta = 1e-6 if all(np.result_type(_as_array(a)) == np.float64 for a in xs) else 1e-3
    theoretical = [_reverse_jacobian(f, xs, i) for i in range(len(xs))]
    numerical = [numerical_jacobian(f, xs, i, delta) for i in range(len(xs))]
    return theoretical, numerical


def check_gradients(f: Callable[..., Any], args: Sequence[Any], order: int = 2, rtol: float = 1e-5, atol: float = 1e-6,
                    delta: float = 1e-6, seed: int = 0, argnums: Optional[Sequence[int]] = None) -> None:
    """Check reverse-mode derivatives of f up to `order` against central
    differences along random directions (float64 recommended).

    For order n the check differentiates x -> <u, grad_{n-1}(x)> again through
    nested tapes, so it exercises exactly what users of nested tapes get.
    Raises AssertionError naming the argument and the order on mismatch.
    """
    rng = np.random.default_rng(seed)
    arrays = [_as_array(a) for a in args]
    argnums = range(len(arrays)) if argnums is None else argnums
    for i in argnums:
        _check_one(f, arrays, i, order, rng, rtol, atol, delta, 1)


def _check_one(f, arrays, i, order, rng, rtol, atol, delta, level):
    x = arrays[i]
    v = rng.standard_normal(x.shape).astype(x.dtype)          # input direction
    y = _value(f(*[_tensor(a) for a in arrays]))
    u = rng.standard_normal(y.shape)                            # output direction

    def directional(xx):
        xs = list(arrays)
        xs[i] = xx
        return float(np.sum(u * _value(f(*[_tensor(a) for a in xs]))))

    numeric = (directional(x + delta * v) - directional(x - delta * v)) / (2 * delta)
    analytic = float(np.sum(_vjp(f, arrays, i, u) * v))
    tol = atol + rtol * max(abs(numeric), abs(analytic))
    if not abs(numeric - analytic) <= max(tol, 1e-4 * max(1.0, abs(numeric))):
        raise AssertionError(f"derivative of order {level} w.r.t. argument {i}: reverse mode gives {analytic!r}, "
                             f"finite differences {numeric!r}")
    if order > 1:
        def grad_f(*xs):
            return _vjp_tensor(f, xs, i, u)
        _check_one(grad_f, arrays, i, order - 1, rng, rtol, atol, delta, level + 1)


def _vjp_tensor(f, xs, i, u):
    """u^T df/dx_i as a Tensor, computed inside whatever tapes are active (so
    it can be differentiated again)."""
    ts = [a if isinstance(a, Tensor) else _tensor(_as_array(a)) for a in xs]
    with GradientTape() as tape:
        tape.watch(ts[i])
        y = f(*ts)
    dt = np.result_type(y._value)
    g = tape.gradient(y, ts[i], output_gradients=_core.wrap(np.asarray(u, dtype=dt)), unconnected_gradients="zero")
    return g


def _vjp(f, arrays, i, u):
    return _value(_vjp_tensor(f, arrays, i, u))
