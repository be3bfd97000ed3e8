"""The C rules of add and multiply for float64 scalar cotangents (Op.scalar_vjp):
the same bits as the Python rules (run with the core's shortcuts off), and the
Python rules wherever NumPy would flag the product."""
import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.test import numerical_jacobian

from conftest import both_paths, raises_fp_error_on_both_paths, warned


def _bits(v):
    return np.asarray(v, dtype=np.float64).view(np.int64).tolist()


def _chain_grad(x0, steps, a, b):
    x = tg.constant(np.float64(x0))
    with tg.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(steps):
            y = tg.sin(y) * a + b
    return t.gradient(y, x).numpy()


def test_the_scalar_chain_gives_the_python_rules_bits_and_the_derivative():
    on, off = both_paths(lambda: _chain_grad(0.5, 200, 1.0001, 0.1))
    assert type(on) is np.float64 and _bits(on) == _bits(off)
    # forward-mode recurrence, independent of any reverse pass
    y, d = 0.5, 1.0
    for _ in range(200):
        d = 1.0001 * math.cos(y) * d
        y = 1.0001 * math.sin(y) + 0.1
    assert on == pytest.approx(d, rel=1e-12)


def test_both_inputs_on_the_tape():
    def grads():
        x = tg.constant(np.float64(1.7))
        w = tg.constant(np.float64(-0.3))
        with tg.GradientTape() as t:
            t.watch([x, w])
            y = x * w + x
            z = w * y * 3.0 + (2.5 + y)
        return [g.numpy() for g in t.gradient(z, [x, w])]
    on, off = both_paths(grads)
    assert _bits(on) == _bits(off)

    def f(x, w):
        y = x * w + x
        return w * y * 3.0 + (2.5 + y)
    num = [numerical_jacobian(f, [1.7, -0.3], i)[0, 0] for i in range(2)]
    np.testing.assert_allclose(on, num, rtol=1e-8)


@pytest.mark.parametrize("a, g_scale, flags", [(1e300, 1e10, True), (1e-300, 1e-20, True), (0.0, 1.0, False),
                                               (np.inf, 1.0, False)])
def test_products_numpy_would_flag_go_to_the_python_rules(a, g_scale, flags):
    # overflow, underflow, 0 * finite, inf: the same bits and the same
    # floating-point errors (errstate raise) on both paths
    def grad():
        x = tg.constant(np.float64(0.5))
        with tg.GradientTape() as t:
            t.watch(x)
            y = x * a
        return t.gradient(y, x, output_gradients=tg.constant(np.float64(g_scale))).numpy()
    (on, seen_on), (off, seen_off) = both_paths(lambda: warned(grad))
    assert _bits(on) == _bits(off)
    assert seen_on == seen_off and bool(seen_on) == (flags and a > 1.0)   # the overflow is reported
    if flags:
        raises_fp_error_on_both_paths(grad)


def test_other_operands_use_the_python_rules():
    # a complex constant, an int array, a float32 cotangent: no C rule, same results
    def grads():
        x = tg.constant(np.float64(0.25))
        with tg.GradientTape(persistent=True) as t:
            t.watch(x)
            y = x * np.float64(3.0)
            z = tg.cast(x, tg.float32) * 2.0 + 1.0
        return t.gradient(y, x).numpy(), t.gradient(z, x).numpy()
    on, off = both_paths(grads)
    assert _bits(on) == _bits(off) and on == (3.0, 2.0)


def test_higher_derivatives_keep_recording_the_rules():
    x = tg.constant(np.float64(0.7))
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = x * x * 2.0 + x
        dy = inner.gradient(y, x)
    assert dy.numpy() == 4.0 * 0.7 + 1.0
    assert outer.gradient(dy, x).numpy() == 4.0


def test_scalar_vjp_is_checked():
    with pytest.raises(ValueError, match="scalar_vjp"):
        _core.Op("bad", np.add, (None, None), kind=_core.BINARY, scalar_vjp="twice")
    with pytest.raises(ValueError, match="scalar_vjp"):
        _core.Op("bad", np.sin, (None,), kind=_core.UNARY, scalar_vjp="pass")
    assert tg.math.add.scalar_vjp and tg.math.multiply.scalar_vjp
