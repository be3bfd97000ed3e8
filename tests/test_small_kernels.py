"""Small elementwise ufunc calls made by the core itself (csrc/tg_small.h; docs/internals.md,
"Small elementwise calls in C").

The kernel runs NumPy's own inner loop of a registered ufunc on small plain float64/float32 arrays
and declines everything else.  These tests compare it with the ufunc call bit for bit over drawn
arrays with special values, check that it takes a call exactly when NumPy would raise no
floating-point flag (so warnings, ``np.errstate`` errors and ``seterrcall`` callbacks stay
NumPy's), that it declines every operand NumPy could treat otherwise, and run real programs (W9's
Hessian-vector product, a Newton step on HVPs, a gradient through an elementwise chain) with the
core's shortcuts on and off against hand-derived values or central differences.
"""
import operator
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad import _core

from conftest import assert_same_bits, both_paths, logcosh_objective, logcosh_objective_hessian, newton_step_by_cg

UNARY = [np.negative, np.exp, np.log, np.sqrt, np.square, np.reciprocal, np.sin, np.cos, np.sinh, np.cosh,
         np.tanh]
BINARY = [np.add, np.subtract, np.multiply, np.true_divide]
OPERATORS = [(operator.add, np.add), (operator.sub, np.subtract), (operator.mul, np.multiply),
             (operator.truediv, np.true_divide)]
LIMIT = 8192

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1e-310,
            1.7976931308623157e308, -1.7976931308623157e308, 710.0, -710.0, 89.0, 1e300, 1e-300, 1.0, -1.0,
            np.pi, 1e22, 3.4028234663852886e38, 1.401298464324817e-45, 1e-40, 100.0, -100.0]


def _array(seed, n, dtype, specials):
    """n values of `dtype`: normals at several scales, a share of special values (signed zeros,
    subnormals, inf, nan with a payload, huge values, arguments overflowing exp and cosh)."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-3, 3, n)
    if specials:
        k = rng.random(n) < specials
        a[k] = rng.choice(np.array(SPECIALS), k.sum())
    with np.errstate(over="ignore"):          # huge values become inf in float32
        a = a.astype(dtype)
    if specials and n > 2:
        bits = a.view(np.uint64 if dtype == np.float64 else np.uint32)
        bits[rng.integers(0, n)] = 0x7FF8000000000123 if dtype == np.float64 else 0x7FC00123   # nan payload
    return a


def _bits(a):
    a = np.asarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32).tobytes()


def _reference(uf, args):
    """uf(*args) with every floating-point flag reported: (result, warnings raised)."""
    with warnings.catch_warnings(record=True) as w, np.errstate(all="warn"):
        warnings.simplefilter("always")
        r = uf(*args)
    return r, [str(x.message) for x in w]


def _check_against_ufunc(key, uf, args):
    """The kernel's result is the ufunc's bit for bit (dtype, shape, strides, flags) where it takes
    the call, and it takes it only where NumPy raises no floating-point flag."""
    r = _core.small_ufunc_call(key, *args)
    ref, raised = _reference(uf, args)
    if r is None:
        return False
    assert not raised, f"{uf.__name__}: kernel took a call NumPy reports: {raised}"
    assert type(r) is np.ndarray and r.dtype == ref.dtype and r.shape == ref.shape
    assert r.strides == ref.strides
    assert r.flags.c_contiguous == ref.flags.c_contiguous and r.flags.f_contiguous == ref.flags.f_contiguous
    assert r.flags.writeable and r.flags.owndata and r.flags.aligned
    assert _bits(r) == _bits(ref), f"{uf.__name__} differs from NumPy"
    return True


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNARY), st.sampled_from([np.float64, np.float32]), st.integers(1, 300),
       st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.1, 0.5]))
def test_unary_bits_are_numpys(uf, dtype, n, seed, specials):
    a = _array(seed, n, dtype, specials)
    for x in (a, a[::2], a[:1]):
        _check_against_ufunc(uf, uf, (x,))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(BINARY), st.sampled_from([np.float64, np.float32]), st.integers(1, 300),
       st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.1, 0.5]), st.booleans())
def test_binary_bits_are_numpys(uf, dtype, n, seed, specials, with_scalar):
    a, b = _array(seed, n, dtype, specials), _array(seed + 1, n, dtype, specials)
    _check_against_ufunc(uf, uf, (a, b))
    _check_against_ufunc(uf, uf, (a[::3], b[::3]))
    if with_scalar and dtype == np.float64:
        c = float(b[0])
        _check_against_ufunc(uf, uf, (a, c))
        _check_against_ufunc(uf, uf, (c, a))
        _check_against_ufunc(uf, uf, (np.float64(c), a))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_ufunc_is_taken_on_plain_values_up_to_the_limit(dtype):
    # SIMD bodies and tails at several lengths, up to the size limit; moderate values raise no flag,
    # so every call must be the kernel's (a kernel that declined everything would fail here)
    for n in (1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 100, 255, 1000, LIMIT - 1, LIMIT):
        a = np.linspace(0.25, 2.5, n).astype(dtype)
        b = np.linspace(-2.0, -0.5, n).astype(dtype)
        for uf in UNARY:
            assert _check_against_ufunc(uf, uf, (a,)), (uf, n)
        for uf in BINARY:
            assert _check_against_ufunc(uf, uf, (a, b)), (uf, n)
            assert _check_against_ufunc(uf, uf, (a.reshape(1, n), b.reshape(1, n))), (uf, n)
        for key, uf in OPERATORS:
            assert _check_against_ufunc(key, uf, (a, b)), (key, n)
        if dtype == np.float64:
            assert _check_against_ufunc(np.multiply, np.multiply, (a, 1.0001))
            assert _check_against_ufunc(np.subtract, np.subtract, (1.0, a))
    assert _check_against_ufunc(operator.neg, np.negative, (a,))
    a2 = np.linspace(0.5, 1.5, 12).astype(dtype).reshape(3, 4)
    assert _check_against_ufunc(np.sin, np.sin, (a2,))
    assert _check_against_ufunc(np.multiply, np.multiply, (a2, a2))


def test_special_values_through_every_ufunc():
    for dtype in (np.float64, np.float32):
        for n in (1, 5, 16, 37, 300):
            for seed in range(4):
                a, b = _array(seed, n, dtype, 0.5), _array(seed + 7, n, dtype, 0.5)
                for uf in UNARY:
                    _check_against_ufunc(uf, uf, (a,))
                for uf in BINARY:
                    _check_against_ufunc(uf, uf, (a, b))


class _Sub(np.ndarray):
    pass


def test_declines():
    a = np.linspace(0.5, 1.5, 12)
    raw = np.zeros(8 * 12 + 1, np.uint8)[1:].view(np.float64)          # misaligned
    raw[:] = a
    assert not raw.flags.aligned
    cases = [
        (np.sin, (np.array(0.5),)),                                 # 0-d: NumPy returns a scalar
        (np.sin, (np.float64(0.5),)),
        (np.sin, (0.5,)),
        (np.sin, (a.reshape(3, 4)[:, ::2],)),                       # not C-contiguous
        (np.sin, (a.reshape(3, 4).T,)),                             # F order
        (np.sin, (a[::-1],)),                                       # negative stride
        (np.sin, (raw,)),
        (np.sin, (a.view(_Sub),)),                                  # subclass
        (np.sin, (a.astype(">f8"),)),                               # big-endian
        (np.sin, (a.astype(np.float16),)),
        (np.sin, (a.astype(np.complex128),)),
        (np.sin, (np.arange(12),)),
        (np.sin, (np.zeros(0),)),
        (np.sin, (np.linspace(0, 1, LIMIT + 1),)),                  # over the size limit
        (np.sin, (np.ones((LIMIT // 2 + 1, 2)),)),
        (np.multiply, (a, a[:6])),                                  # different shapes (broadcast)
        (np.multiply, (a, a.reshape(12, 1))),
        (np.multiply, (a, a.astype(np.float32))),                   # mixed dtypes
        (np.multiply, (a.astype(np.float32), 2.0)),                 # float32 with a Python float
        (np.multiply, (a, 2)),                                      # a Python int
        (np.multiply, (a, np.float32(2.0))),
        (np.multiply, (a, a.view(_Sub))),
        (np.multiply, (2.0, 3.0)),
        (np.add, (a,)),                                             # wrong arity
        (np.sin, (a, a)),
        (np.arctan, (a,)),                                          # not registered
        (np.maximum, (a, a)),
    ]
    for uf, args in cases:
        assert _core.small_ufunc_call(uf, *args) is None, (uf, args)
    was = _core.structured_cotangents(False)
    try:
        assert _core.small_ufunc_call(np.sin, a) is None
    finally:
        _core.structured_cotangents(was)
    assert _core.small_ufunc_call(np.sin, a) is not None


def _ops_program(a):
    """Forwards of unary and binary ops on Tensors (the core's _unary/_binary)."""
    x = tg.constant(a)
    y = tg.math.log(tg.math.cosh(x)) * x + tg.exp(x) / (x * x) - tg.sqrt(x) + tg.sin(x) * 2.0
    return y.numpy()


def _warnings_of(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = fn()
    return out, sorted((x.category.__name__, str(x.message)) for x in w)


@pytest.mark.parametrize("values", [
    [0.5, 1.0, 2.0, 3.0],
    [0.0, 1.0, -1.0, 2.0],                      # divide by zero, invalid (sqrt, log of negatives)
    [800.0, 1.0, 2.0, 3.0],                     # exp and cosh overflow
    [np.nan, 1.0, np.inf, 5e-324],
    [1e-300, 1e-200, 2.0, 3.0],                 # underflow in x * x
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ops_same_values_and_warnings_both_ways(values, dtype):
    a = np.array(values, dtype)
    (on, w_on), (off, w_off) = both_paths(lambda: _warnings_of(lambda: _ops_program(a)))
    assert_same_bits(on, off)
    assert w_on == w_off
    with np.errstate(all="ignore"):
        ref = np.log(np.cosh(a)) * a + np.exp(a) / (a * a) - np.sqrt(a) + np.sin(a) * dtype(2.0)
    assert _bits(on) == _bits(ref.astype(dtype))


@pytest.mark.parametrize("values", [[0.0, 1.0, 2.0], [800.0, 1.0, 2.0], [-1.0, 1.0, 2.0], [1e-300, 1.0, 2.0]])
def test_errstate_raise_and_seterrcall_both_ways(values):
    a = np.array(values)

    def raising():
        with np.errstate(all="raise"):
            try:
                _ops_program(a)
            except FloatingPointError as e:
                return str(e)
        return None

    on, off = both_paths(raising)
    assert on is not None and on == off

    def calls():
        seen = []
        with np.errstate(all="call", call=lambda kind, flag: seen.append((kind, flag))):
            _ops_program(a)
        return seen

    on, off = both_paths(calls)
    assert on and on == off


def test_w9_hvp_both_ways_against_the_closed_form():
    rng = np.random.default_rng(915)
    n = 100
    w, x0, v0 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), rng.standard_normal(n)

    def hvp():
        x, v = tg.constant(x0), tg.constant(v0)
        with tg.autodiff.ForwardAccumulator(x, v) as acc:
            with tg.GradientTape() as tape:
                tape.watch(x)
                f = tg.reduce_sum(tg.math.log(tg.math.cosh(tg.constant(w) @ x))) + tg.reduce_sum(tg.sin(x))
            g = tape.gradient(f, x)
        return g.numpy(), acc.jvp(g).numpy()

    on, off = both_paths(hvp)
    assert_same_bits(on[0], off[0])
    assert_same_bits(on[1], off[1])
    t = np.tanh(w @ x0)
    np.testing.assert_allclose(on[0], w.T @ t + np.cos(x0), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(on[1], w.T @ ((1 - t * t) * (w @ v0)) - np.sin(x0) * v0, rtol=1e-12, atol=1e-13)


def test_newton_step_on_hvps_both_ways():
    rng = np.random.default_rng(916)
    n = 30
    w, x0 = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n) * 0.2
    wt = tg.constant(w)

    on, off = both_paths(lambda: newton_step_by_cg(lambda x: logcosh_objective(lambda a, b: a @ b, wt, x), x0))
    assert_same_bits(on[0], off[0])
    assert_same_bits(on[1], off[1])
    t = np.tanh(w @ x0)
    grad = w.T @ t + np.cos(x0) + 4 * x0
    np.testing.assert_allclose(on[0], grad, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(on[1], np.linalg.solve(logcosh_objective_hessian(w, x0), -grad), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_through_an_elementwise_chain(dtype):
    rng = np.random.default_rng(917)
    a0 = (rng.random(50) + 0.5).astype(dtype)

    def f(x):
        return tg.reduce_sum(tg.tanh(tg.math.log(x * x + 1.0) * tg.sin(x)) / x - tg.exp(-x) * x)

    def grad():
        x = tg.constant(a0)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        return tape.gradient(y, x).numpy()

    on, off = both_paths(grad)
    assert_same_bits(on, off)
    if dtype == np.float64:
        tg.test.check_gradients(f, [a0], order=2)
        h = 1e-6
        num = np.array([(f(tg.constant(a0 + h * e)).numpy() - f(tg.constant(a0 - h * e)).numpy()) / (2 * h)
                        for e in np.eye(50)])
        np.testing.assert_allclose(on, num, rtol=1e-6, atol=1e-8)


def test_result_is_not_kept_alive_or_shared():
    a = np.linspace(0.1, 1.0, 10)
    r1, r2 = _core.small_ufunc_call(np.sin, a), _core.small_ufunc_call(np.sin, a)
    assert r1 is not r2 and not np.shares_memory(r1, r2) and not np.shares_memory(r1, a)
    assert sys.getrefcount(r1) == 2
