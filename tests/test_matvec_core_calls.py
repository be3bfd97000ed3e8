"""The core makes matvec's own NumPy calls itself (docs/internals.md, "Calls the core makes itself
in forward over reverse"): the forward in apply(), the JVPs on raw tangents, and b's gradient on
Tensors in tensor mode.  Each must give the bits of the Python forward and rules it stands in for
(tests/test_matvec_op.py compares the op with the general reshape / matmul / reshape program),
and the derivatives must be the hand-derived ones.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import linalg_ops

from conftest import assert_same_bits, both_paths

RNG = np.random.default_rng(1519)
OP = linalg_ops.matvec_op


def _operands(ta, dtype, m=5, n=4):
    a = RNG.standard_normal((n, m) if ta else (m, n))
    v = RNG.standard_normal(n)
    if np.dtype(dtype).kind == "c":
        a = a + 1j * RNG.standard_normal(a.shape)
        v = v + 1j * RNG.standard_normal(v.shape)
    return a.astype(dtype), v.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("ta", [False, True])
def test_forward_is_the_python_forward(ta, dtype):
    a, v = _operands(ta, dtype)
    got = _core.apply(OP, (tg.constant(a), tg.constant(v)), (ta,)).numpy()
    assert_same_bits(got, linalg_ops._matvec_forward(a, v, ta))
    np.testing.assert_allclose(got, (a.T if ta else a) @ v, rtol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ta", [False, True])
def test_jvps_are_the_python_rules(ta, dtype):
    a, v = _operands(ta, dtype)
    ta_, tv = _operands(ta, dtype)
    at, vt = tg.constant(a), tg.constant(v)
    with tg.autodiff.ForwardAccumulator((at, vt), (tg.constant(ta_), tg.constant(tv))) as acc:
        y = _core.apply(OP, (at, vt), (ta,))
    ans = y.numpy()
    want = OP.jvps[0](ta_, ans, a, v, ta) + OP.jvps[1](tv, ans, a, v, ta)
    assert_same_bits(acc.jvp(y).numpy(), want)
    hand = (ta_.T if ta else ta_) @ v + (a.T if ta else a) @ tv
    np.testing.assert_allclose(acc.jvp(y).numpy(), hand, rtol=1e-4 if dtype == np.float32 else 1e-12)


def _hvp_through_matvec(w0, x0, v0, watch_w):
    """Forward over reverse on sum(tanh(W x)**2 / 2): b's gradient in tensor mode (and, with W
    watched too, a's by the rule)."""
    w, x, v = tg.constant(w0), tg.constant(x0), tg.constant(v0)
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        with tg.GradientTape() as tape:
            tape.watch(x)
            if watch_w:
                tape.watch(w)
            t = tg.tanh(w @ x)
            f = tg.reduce_sum(t * t) / 2.0
        grads = tape.gradient(f, [x, w] if watch_w else x)
    g = grads[0] if watch_w else grads
    out = [g.numpy(), acc.jvp(g).numpy()]
    if watch_w:
        out += [grads[1].numpy(), acc.jvp(grads[1]).numpy()]
    return out


@pytest.mark.parametrize("watch_w", [False, True])
def test_tensor_mode_gradient_both_ways_and_hand_derived(watch_w):
    n = 7
    w0, x0, v0 = RNG.standard_normal((n, n)) / np.sqrt(n), RNG.standard_normal(n), RNG.standard_normal(n)
    on, off = both_paths(lambda: _hvp_through_matvec(w0, x0, v0, watch_w))
    for p, q in zip(on, off):
        assert_same_bits(p, q)
    t = np.tanh(w0 @ x0)
    d = t * (1 - t * t)                                   # d/dz of t^2 / 2
    dd = (1 - t * t) * (1 - 3 * t * t)                    # its derivative
    np.testing.assert_allclose(on[0], w0.T @ d, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(on[1], w0.T @ (dd * (w0 @ v0)), rtol=1e-12, atol=1e-13)
    if watch_w:
        np.testing.assert_allclose(on[2], np.outer(d, x0), rtol=1e-13, atol=1e-14)
        dz = w0 @ v0
        np.testing.assert_allclose(on[3], np.outer(dd * dz, x0) + np.outer(d, v0), rtol=1e-12, atol=1e-13)


def test_second_derivative_through_nested_tapes():
    n = 5
    w0, x0 = RNG.standard_normal((n, n)), RNG.standard_normal(n)
    w, x = tg.constant(w0), tg.constant(x0)

    def run():
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                f = tg.reduce_sum(tg.sin(w @ x))
            g = inner.gradient(f, x)
            s = tg.reduce_sum(g)
        return g.numpy(), outer.gradient(s, x).numpy()

    on, off = both_paths(run)
    for p, q in zip(on, off):
        assert_same_bits(p, q)
    z = w0 @ x0
    np.testing.assert_allclose(on[0], w0.T @ np.cos(z), rtol=1e-13)
    np.testing.assert_allclose(on[1], w0.T @ (-np.sin(z) * (w0 @ np.ones(n))), rtol=1e-12, atol=1e-13)
