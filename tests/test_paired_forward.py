"""sin and cos compute their factor with their forward where a first-order sweep will use it.

On a tape that alone records, sin of a float64 array of 1 MB or more computes sin(x) and cos(x)
in one pass of the C library's sincos, keeps cos(x) in the node and the raw sweep multiplies by it
instead of calling np.cos again (docs/internals.md, "sin's factor from its forward"); cos likewise
keeps -sin(x).  It is used only where a probe at first use found the kernel bit-identical to
NumPy's float64 sin and cos.  Every test runs the program with the shortcut on and with it off
(``structured_cotangents(False)``, or the probe's answer forced to False) and wants the same bits,
and checks the value against a hand-derived one.
"""
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import math_ops

from conftest import both_paths, raises_fp_error_on_both_paths, warned

RNG = np.random.default_rng(1515)
N = 200_000                      # 1.6 MB of float64: above the 1 MB threshold
PAIRED = math_ops.sincos_matches_numpy()


def grad(f, x, **kw):
    xt = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    return y.numpy(), tape.gradient(y, xt, **kw).numpy()


def w5(v):
    return tg.reduce_sum(tg.exp(tg.sin(v)) * v)


def bits(a):
    return np.asarray(a).tobytes()


@pytest.fixture
def probe_off(monkeypatch):
    """The probe's answer forced to 'NumPy's sin differs from the kernel'."""
    monkeypatch.setattr(math_ops, "_sincos_matches", False)


@pytest.fixture
def counted(monkeypatch):
    """The paired forwards of sin and cos, counted: a list of the shapes they were asked for."""
    calls = []
    for op in (math_ops.sin, math_ops.cos):
        def counting(x, _f=op.forward_factor):
            calls.append(x.shape)
            return _f(x)
        monkeypatch.setattr(op, "forward_factor", counting)
    return calls


def test_probe_covers_the_hard_values():
    v = math_ops._probe_values()
    assert v.dtype == np.float64 and v.flags.c_contiguous
    assert np.isnan(v).any() and np.isposinf(v).any() and np.isneginf(v).any()
    assert ((v != 0) & (np.abs(v) < np.finfo(np.float64).tiny)).any()           # subnormal
    assert (np.abs(v) > 1e300).any() and (np.signbit(v) & (v == 0)).any()        # huge, -0.0
    assert isinstance(PAIRED, bool)


@pytest.mark.skipif(not PAIRED, reason="the kernel differs from NumPy's sin here (or is absent): never used")
def test_kernel_bits():
    x = np.concatenate([RNG.uniform(-3, 3, 10_001), RNG.uniform(-1e6, 1e6, 1000), [0.0, -0.0, 1e-300, 1e300]])
    s, c = _core.sincos(x)
    assert bits(s) == bits(np.sin(x)) and bits(c) == bits(np.cos(x))
    c2, ms = _core.sincos(x, negated=True)
    assert bits(c2) == bits(np.cos(x)) and bits(ms) == bits(-np.sin(x))
    for bad in (np.inf, -np.inf, np.nan, 5e-324, -1e-310):
        y = x.copy()
        y[7] = bad
        assert _core.sincos(y) is None                   # flags NumPy would warn about: its own loop runs
    assert _core.sincos(x[::2]) is None and _core.sincos(x[:100].astype(np.float32)) is None
    assert _core.sincos(x.reshape(1, -1))[0].shape == (1, x.size)


@pytest.mark.parametrize("f, derivative", [(tg.sin, np.cos), (tg.cos, lambda v: -np.sin(v))])
def test_sum_both_paths(f, derivative, probe_off, monkeypatch):
    """sum(f(x)): the gradient is the kept factor itself (a broadcast 1); with output_gradients
    (a cotangent the caller holds) the rule's product g * factor.  Same bits with the shortcut,
    without it, and with the probe answering no."""
    x = RNG.uniform(-4, 4, N)
    seed = RNG.uniform(-2, 2, N)
    monkeypatch.setattr(math_ops, "_sincos_matches", PAIRED)
    for prog, kw, want in ((lambda v: tg.reduce_sum(f(v)), {}, derivative(x)),
                           (f, {"output_gradients": tg.constant(seed)}, seed * derivative(x))):
        (y1, g1), (y0, g0) = both_paths(lambda prog=prog, kw=kw: grad(prog, x, **kw))
        monkeypatch.setattr(math_ops, "_sincos_matches", False)
        yp, gp = grad(prog, x, **kw)
        monkeypatch.setattr(math_ops, "_sincos_matches", PAIRED)
        assert bits(y1) == bits(y0) == bits(yp)
        assert bits(g1) == bits(g0) == bits(gp) == bits(want)


def test_w5_both_paths_and_by_hand(counted):
    x = RNG.uniform(-3, 3, N)
    (y1, g1), (y0, g0) = both_paths(lambda: grad(w5, x))
    assert counted == [(N,)]                             # asked once: shortcuts on; off, never
    assert bits(y1) == bits(y0)
    assert bits(g1) == bits(g0)
    e = np.exp(np.sin(x))
    assert bits(y1) == bits(np.sum(e * x))               # the forward is NumPy's sin, bit for bit
    np.testing.assert_allclose(g1, e * (x * np.cos(x) + 1), rtol=1e-13, atol=1e-13)


def test_finite_differences():
    x = RNG.uniform(-3, 3, N)
    _, g = grad(w5, x)
    h = 1e-6                                             # the sum is separable: element i's difference
    p = lambda v: np.exp(np.sin(v)) * v                  # noqa: E731
    np.testing.assert_allclose(g, (p(x + h) - p(x - h)) / (2 * h), rtol=1e-7, atol=1e-8)


def test_only_where_it_pays(counted):
    """Not below 1 MB, not float32, not for an input the tape does not watch, not under a second
    recorder (its sweep runs in tensor mode), not with the shortcuts off."""
    x = RNG.uniform(-3, 3, N)
    grad(w5, x[: (1 << 17) - 1])
    grad(w5, x.astype(np.float32))
    with tg.GradientTape():
        tg.sin(tg.constant(x))
    with tg.GradientTape() as outer:
        xt = tg.constant(x)
        outer.watch(xt)
        with tg.GradientTape() as inner:
            inner.watch(xt)
            tg.sin(xt)
    xt = tg.constant(x)
    with tg.autodiff.ForwardAccumulator(xt, tg.constant(x)):
        tg.sin(xt)
    assert counted == []
    grad(w5, x[: 1 << 17])                               # exactly 1 MB
    assert counted == [(1 << 17,)]


def test_nested_tapes_second_derivative():
    """An outer tape sees the inner one's rules recorded (no kept factor there): d2/dx2 sum(sin x)."""
    x = RNG.uniform(-3, 3, N)

    def second():
        xt = tg.constant(x)
        with tg.GradientTape() as outer:
            outer.watch(xt)
            with tg.GradientTape() as inner:
                inner.watch(xt)
                y = tg.reduce_sum(tg.sin(xt))
            g = inner.gradient(y, xt)
        return g.numpy(), outer.gradient(g, xt).numpy()

    (g1, h1), (g0, h0) = both_paths(second)
    assert bits(g1) == bits(g0) == bits(np.cos(x)) and bits(h1) == bits(h0) == bits(-np.sin(x))


def test_persistent_tape_and_jacobian():
    """The kept factor is only read: a persistent tape gives the same gradient twice, and a
    Jacobian (its identity seed) the same values."""
    x = RNG.uniform(-3, 3, N)

    def run():
        xt = tg.constant(x)
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(xt)
            y = w5(xt)
        a, b = tape.gradient(y, xt).numpy(), tape.gradient(y, xt).numpy()
        return a, b, tape.jacobian(y, xt).numpy()

    (a1, b1, j1), (a0, b0, j0) = both_paths(run)
    assert bits(a1) == bits(b1) == bits(a0) == bits(b0) == bits(j1) == bits(j0)


def test_gradient_of_an_intermediate_and_of_the_input():
    """A tape asked for sin's output gradient as well: the cotangent is held by the caller."""
    x = RNG.uniform(-3, 3, N)

    def run():
        xt = tg.constant(x)
        with tg.GradientTape() as tape:
            tape.watch(xt)
            s = tg.sin(xt)
            y = tg.reduce_sum(tg.square(s))
        gx, gs = tape.gradient(y, [xt, s])
        return gx.numpy(), gs.numpy()

    (gx1, gs1), (gx0, gs0) = both_paths(run)
    assert bits(gs1) == bits(gs0) == bits(2 * np.sin(x))
    assert bits(gx1) == bits(gx0) == bits((2 * np.sin(x)) * np.cos(x))


def test_variable_changed_after_the_forward():
    """The kept factor is of the value the forward saw, as the saved x is."""
    x, later = RNG.uniform(-3, 3, N), RNG.uniform(-3, 3, N)

    def run():
        v = tg.Variable(x)
        with tg.GradientTape() as tape:
            y = tg.reduce_sum(tg.sin(v) * 2.0)
        v.assign(later)
        return tape.gradient(y, v).numpy()

    on, off = both_paths(run)
    assert bits(on) == bits(off) == bits(2.0 * np.cos(x))


def test_inf_and_nan_warn_as_numpy_does():
    """x with inf and nan: NumPy's own loop runs (its warning in the forward), nothing is kept,
    and the backward is the general path's, warnings included."""
    x = RNG.uniform(-3, 3, N)
    x[[3, 1000]] = [np.inf, np.nan]
    (r1, w1), (r0, w0) = both_paths(lambda: warned(lambda: grad(tg.sin, x)))
    assert w1 == w0 and any("invalid value encountered in sin" in m for m in w1)
    assert bits(r1[0]) == bits(r0[0]) and bits(r1[1]) == bits(r0[1])
    raises_fp_error_on_both_paths(lambda: grad(tg.sin, x))
    x[[3, 1000]] = [1.0, 2.0]                            # finite: no warning under any error state
    with np.errstate(all="raise"):
        (y1, g1), (y0, g0) = both_paths(lambda: grad(tg.sin, x))
    assert bits(g1) == bits(g0) == bits(np.cos(x))


def test_probe_answering_no_keeps_numpy(probe_off, monkeypatch):
    """The guard's off path: the kernel is never called and the results are NumPy's."""
    def refuse(*args, **kw):
        raise AssertionError("the kernel ran though the probe said no")
    monkeypatch.setattr(_core, "sincos", refuse)
    x = RNG.uniform(-3, 3, N)
    y, g = grad(w5, x)
    e = np.exp(np.sin(x))
    assert bits(y) == bits(np.sum(e * x))
    assert bits(g) == bits((x * e) * np.cos(x) + e)      # the chain rule's products, in the sweep's order


def test_threads():
    """Tapes in two threads at once, each with its own kept factors."""
    xs = [RNG.uniform(-3, 3, N) for _ in range(4)]
    want = [grad(w5, x)[1] for x in xs]
    got = [None] * 4

    def work(i):
        for j in range(i, 4, 2):
            got[j] = grad(w5, xs[j])[1]

    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(bits(a) == bits(b) for a, b in zip(got, want))


def test_core_uses_a_kept_factor_instead_of_the_factor():
    """The core's side, with an op of its own: a factor given by the forward is what the sweep
    multiplies by (the op's factor is not asked for), and the result is the rule's."""
    asked = []

    def factor(ans, x):
        asked.append(x.shape)
        return np.cos(x)

    op = _core.Op("paired_sin", np.sin, (lambda g, ans, x: g * np.cos(x),), kind=_core.UNARY,
                  save=_core.SAVE_INPUTS, jvps=(lambda t, ans, x: t * np.cos(x),), factors=(factor,))
    x = RNG.uniform(-3, 3, N)
    prog = lambda v: tg.reduce_sum(tg.exp(op(v)) * v)    # noqa: E731
    _, plain = grad(prog, x)
    assert asked                                          # blocks of the factor
    asked.clear()
    _, plain_sum = grad(lambda v: tg.reduce_sum(op(v)), x)
    asked.clear()
    op.forward_factor = lambda v: (np.sin(v), np.cos(v))
    _, kept = grad(prog, x)
    assert asked == [] and bits(kept) == bits(plain)
    _, kept_sum = grad(lambda v: tg.reduce_sum(op(v)), x)          # a broadcast 1: the kept factor
    assert asked == [] and bits(kept_sum) == bits(plain_sum) == bits(np.cos(x))
    op.forward_factor = lambda v: None                    # declined: the forward and the factor run
    _, declined = grad(prog, x)
    assert asked and bits(declined) == bits(plain)
