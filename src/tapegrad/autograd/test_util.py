"""autograd.test_util: ``check_grads(f, argnum=0, *, modes=["fwd", "rev"],
order=2)(*args)``, a random-direction finite-difference check of reverse and
forward mode, recursively to ``order`` (the VJP or JVP function is itself
checked).  Directions come from NumPy's global random state; the central
difference uses EPS = 1e-6 and values are compared with rtol = atol = 1e-6.
Returns None, or raises AssertionError naming what disagreed."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad import _nest
from tapegrad.autograd.differential_operators import _check_argnum, make_jvp, make_vjp
from tapegrad.autograd.misc.flatten import flatten

__all__ = ["check_grads", "check_vjp", "check_jvp", "check_equivalent", "make_numerical_jvp", "scalar_close",
           "TOL", "RTOL", "EPS"]

TOL = 1e-6
RTOL = 1e-6
EPS = 1e-6


def _map(f, *trees):
    first = trees[0]
    if _nest.is_nested(first):
        flats = [_nest.flatten(t) for t in trees]
        return _nest.pack_sequence_as(first, [f(*leaves) for leaves in zip(*flats)])
    return f(*trees)


def _randn(x):
    return _map(lambda leaf: np.random.randn(*np.shape(leaf)) + 0.0, x)


def _inner(a, b):
    return float(np.real(np.dot(flatten(a)[0], np.conj(flatten(b)[0]))))


def scalar_close(a: float, b: float) -> bool:
    return abs(a - b) < TOL or abs(a - b) / abs(a + b) < RTOL


def make_numerical_jvp(f: Callable[[Any], Any], x: Any) -> Callable[[Any], Any]:
    """v -> (f(x + EPS v) - f(x - EPS v)) / (2 EPS), leafwise."""
    y = f(x)

    def jvp(v):
        f_hi = f(_map(lambda a, b: a + EPS / 2 * b, x, v))
        f_lo = f(_map(lambda a, b: a - EPS / 2 * b, x, v))
        return _map(lambda hi, lo: (np.asarray(hi) - np.asarray(lo)) / EPS, f_hi, f_lo)
    del y
    return jvp


def check_equivalent(x: Any, y: Any) -> None:
    fx, fy = flatten(x)[0], flatten(y)[0]
    assert fx.shape == fy.shape and np.allclose(fx, fy, rtol=RTOL, atol=TOL), f"Value mismatch:\nx: {x}\ny: {y}"


def check_vjp(f: Callable[[Any], Any], x: Any) -> None:
    vjp, y = make_vjp(f)(x)
    x_v, y_v = _randn(x), _randn(y)
    vjp_y = vjp(y_v)
    numeric = _inner(y_v, make_numerical_jvp(f, x)(x_v))
    analytic = _inner(x_v, vjp_y)
    assert scalar_close(numeric, analytic), (
        f"Derivative (VJP) check of {getattr(f, '__name__', 'f')} failed with arg {x}:\n"
        f"analytic: {analytic}\nnumeric:  {numeric}")


def check_jvp(f: Callable[[Any], Any], x: Any) -> None:
    x_v = _randn(x)
    check_equivalent(make_jvp(f)(x)(x_v)[1], make_numerical_jvp(f, x)(x_v))


def _check_unary(f, x, modes, order):
    assert all(m in ("fwd", "rev") for m in modes), ""
    if "fwd" in modes:
        check_jvp(f, x)
        if order > 1:                     # the JVP as a function of (x, tangent), checked in turn
            _check_unary(lambda xv: make_jvp(f)(xv[0])(xv[1])[1], (x, _randn(x)), modes, order - 1)
    if "rev" in modes:
        check_vjp(f, x)
        if order > 1:                     # the VJP as a function of (x, cotangent)
            _check_unary(lambda xv: make_vjp(f)(xv[0])[0](xv[1]), (x, _randn(f(x))), modes, order - 1)


def check_grads(f: Callable[..., Any], argnum: Any = 0, *, modes: Any = ("fwd", "rev"),
                order: int = 2) -> Callable[..., None]:
    """A function of f's arguments that checks f's derivatives with respect to
    the argument(s) at argnum (options by keyword, as in autograd)."""
    argnum = _check_argnum(argnum)
    if isinstance(modes, str):
        raise TypeError("tuple indices must be integers or slices, not str")

    def check(*args, **kwargs):
        nums = (argnum,) if isinstance(argnum, int) else argnum

        def unary(x):
            full = list(args)
            for i, xi in zip(nums, (x,) if isinstance(argnum, int) else x):
                full[i] = xi
            return f(*full, **kwargs)
        unary.__name__ = getattr(f, "__name__", "f")
        x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
        _check_unary(unary, x, list(modes), order)
    return check
