"""Forward mode runs an elementwise op's JVP from its VJP form (issue 15, W9).

Where an op's JVP rule for an input is its VJP rule (the same function: ``g * cos(x)`` is also
``t * cos(x)``), the accumulator runs that input's VJP form with the tangent for g on raw values,
without the rule's Python frame (docs/internals.md, "JVPs from forms").  Each test runs a program
with the core's shortcuts on and off (``_core.structured_cotangents``) and wants the same bits,
and checks the values against hand-derived derivatives or finite differences, so that a form
that broke both paths alike would still fail.  The frame-count tests check that the forms are
really taken, so that the comparisons compare two paths.
"""
import sys
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.ops._registry import OPS
from tapegrad.test import numerical_jacobian

from conftest import apply_op, bits_of, both_paths

FORM_OPS = sorted(name for name, op in OPS.items()
                  if op.vjp_forms is not None and any(j is v for j, v in zip(op.jvps, op.vjps)))


def _jvp(op, xs, ts, dtype, const_side=None):
    """The JVP of op at xs along ts (a binary op with const_side 0 or 1 gets a Python float
    constant on that side, whose tangent is None)."""
    prim = [tg.constant(np.asarray(x, dtype=dtype)) for x in xs]
    tans = [tg.constant(np.asarray(t, dtype=dtype)) for t in ts]
    watched, watched_tans = prim, tans
    if const_side is not None:
        keep = 1 - const_side
        watched, watched_tans = [prim[keep]], [tans[keep]]
    with tg.autodiff.ForwardAccumulator(watched, watched_tans) as acc:
        y = apply_op(op, prim, const_side)
    return acc.jvp(y).numpy()


def test_the_hot_ops_have_jvp_forms():
    assert {"add", "subtract", "multiply", "truediv", "sin", "cos", "sinh", "cosh", "log", "tanh"} <= set(FORM_OPS)


@pytest.mark.parametrize("name", FORM_OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", ["scalar", "vector", "broadcast"])
def test_jvp_forms_give_the_rules_bits(name, dtype, shape):
    op = OPS[name]
    rng = np.random.default_rng(len(name) + 7)
    if shape == "scalar":
        xs = [dtype(v) for v in rng.uniform(0.2, 2.0, op.n_in)]
        ts = [dtype(v) for v in rng.standard_normal(op.n_in)]
    elif shape == "vector":
        xs = [rng.uniform(0.2, 2.0, 16).astype(dtype) for _ in range(op.n_in)]
        ts = [rng.standard_normal(16).astype(dtype) for _ in range(op.n_in)]
    else:
        xs = [rng.uniform(0.2, 2.0, (3, 4)).astype(dtype), rng.uniform(0.2, 2.0, 4).astype(dtype)][:op.n_in]
        ts = [rng.standard_normal(np.shape(x)).astype(dtype) for x in xs]
    for side in [None] if op.n_in == 1 else [None, 0, 1]:
        on, off = both_paths(lambda side=side: _jvp(op, xs, ts, dtype, side))
        assert bits_of(on) == bits_of(off)


@pytest.mark.parametrize("name", FORM_OPS)
def test_jvp_forms_match_finite_differences(name):
    op = OPS[name]
    rng = np.random.default_rng(len(name))
    xs = [rng.uniform(0.5, 1.5, 6) for _ in range(op.n_in)]
    ts = [rng.standard_normal(6) for _ in range(op.n_in)]
    got = _jvp(op, xs, ts, np.float64)
    want = sum(numerical_jacobian(op, xs, k) @ ts[k] for k in range(op.n_in))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def _rule_frames(fn):
    """fn()'s value and how many Python frames of ops/math_ops.py ran."""
    count = [0]

    def prof(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.endswith("math_ops.py"):
            count[0] += 1
    sys.setprofile(prof)
    try:
        value = fn()
    finally:
        sys.setprofile(None)
    return value, count[0]


@pytest.mark.parametrize("x0", [np.float64(0.5), np.linspace(0.1, 1.0, 16)])
def test_forward_mode_runs_no_rule_frame(x0):
    def run():
        x = tg.constant(x0)
        with tg.autodiff.ForwardAccumulator(x, tg.ones_like(x)) as acc:
            y = tg.log(tg.cosh(tg.sin(x) * x + x) / (x + 2.0)) - tg.tanh(x)
        return acc.jvp(y).numpy()
    (on, n_on), (off, n_off) = both_paths(lambda: _rule_frames(run))
    assert bits_of(on) == bits_of(off)
    assert n_on == 0 and n_off >= 8
    # hand-derived: y = log(cosh(u)) - log(x + 2) - tanh(x), u = x sin(x) + x
    u, du = x0 * np.sin(x0) + x0, np.sin(x0) + x0 * np.cos(x0) + 1.0
    np.testing.assert_allclose(on, np.tanh(u) * du - 1.0 / (x0 + 2.0) - (1.0 - np.tanh(x0) ** 2), rtol=1e-13)


def test_complex_and_integer_values_go_to_the_rules():
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
    for prim, tan, want in [(z, np.ones(2, complex), np.cos(z)),
                            (np.array([1.0, 2.0]), np.array([1.0, 1.0]), np.cos([1.0, 2.0]))]:
        def run(prim=prim, tan=tan):
            x = tg.constant(prim)
            with tg.autodiff.ForwardAccumulator(x, tg.constant(tan)) as acc:
                y = tg.sin(x)
            return acc.jvp(y).numpy()
        on, off = both_paths(run)
        assert bits_of(on) == bits_of(off)
        np.testing.assert_allclose(on, want, rtol=1e-15)


@pytest.mark.parametrize("x0", [np.float64(0.0), np.array([0.0, 1.0])])
def test_a_flagged_jvp_warns_as_the_rule_does(x0):
    # log's JVP t / x at x = 0: inf with NumPy's divide warning, on both paths
    def run():
        x = tg.constant(x0)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with tg.autodiff.ForwardAccumulator(x, tg.ones_like(x)) as acc:
                y = tg.log(x)
            t = acc.jvp(y).numpy()
        return bits_of(t), sorted({(w.category, str(w.message)) for w in seen})
    on, off = both_paths(run)
    assert on == off
    want = "divide by zero encountered in " + ("scalar divide" if np.ndim(x0) == 0 else "divide")
    assert (RuntimeWarning, want) in on[1]
    # on arrays, outside gradient(), the form's warning points at the user's line (no rule frame)
    x = tg.constant(np.array([0.0, 1.0]))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with tg.autodiff.ForwardAccumulator(x, tg.ones_like(x)):
            tg.log(x)
    assert {w.filename for w in seen if "divide" in str(w.message)} == {__file__}
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError):
        x = tg.constant(np.array([1.0, 2.0]))
        with tg.autodiff.ForwardAccumulator(x, tg.ones_like(x)):
            tg.log(x - np.array([1.0, 0.0]))


# ---- forward over reverse: W9's Hessian-vector product, and a Newton step ------------------------

RNG = np.random.default_rng(915)
N = 12
W = RNG.standard_normal((N, N)) / np.sqrt(N)


def _hvp(x0, v0):
    x, v = tg.constant(x0), tg.constant(v0)
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        with tg.GradientTape() as tape:
            tape.watch(x)
            f = tg.reduce_sum(tg.log(tg.cosh(W @ x))) + tg.reduce_sum(tg.sin(x))
        g = tape.gradient(f, x)
    return acc.jvp(g).numpy()


def _hvp_closed(x0, v0):
    t = np.tanh(W @ x0)
    return W.T @ ((1.0 - t * t) * (W @ v0)) - np.sin(x0) * v0


def test_w9_hessian_vector_product_both_ways():
    x0, v0 = RNG.standard_normal(N), RNG.standard_normal(N)
    (on, n_on), (off, n_off) = both_paths(lambda: _rule_frames(lambda: _hvp(x0, v0)))
    np.testing.assert_array_max_ulp(on, off, 1)
    np.testing.assert_allclose(on, _hvp_closed(x0, v0), rtol=1e-12, atol=1e-13)
    assert n_on < n_off


def test_newton_step_with_hessian_vector_products():
    # f(x) = sum(log(cosh(W x))) + sum(x**2)/2 is strictly convex (H = W.T D W + I, D > 0);
    # one Newton step solves H p = -grad by conjugate gradients on HVPs.
    x0 = RNG.standard_normal(N) * 0.3

    def newton():
        x = tg.constant(x0)

        def grad_and_hvp(v0):
            with tg.autodiff.ForwardAccumulator(x, tg.constant(v0)) as acc:
                with tg.GradientTape() as tape:
                    tape.watch(x)
                    f = tg.reduce_sum(tg.log(tg.cosh(W @ x))) + tg.reduce_sum(x * x) / 2.0
                g = tape.gradient(f, x)
            return g.numpy(), acc.jvp(g).numpy()
        g, _ = grad_and_hvp(np.zeros(N))
        p, r = np.zeros(N), -g
        d = r.copy()
        for _ in range(3 * N):
            hd = grad_and_hvp(d)[1]
            a = (r @ r) / (d @ hd)
            p, r_new = p + a * d, r - a * hd
            if np.linalg.norm(r_new) < 1e-13:
                break
            d, r = r_new + (r_new @ r_new) / (r @ r) * d, r_new
        return p
    on, off = both_paths(newton)
    np.testing.assert_allclose(on, off, rtol=1e-12, atol=1e-14)
    t = np.tanh(W @ x0)
    hess = W.T @ np.diag(1.0 - t * t) @ W + np.eye(N)
    grad = W.T @ t + x0
    np.testing.assert_allclose(on, np.linalg.solve(hess, -grad), rtol=1e-9, atol=1e-11)
