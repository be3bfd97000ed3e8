"""Tensor-mode sweeps (nested tapes, forward over reverse) take two shortcuts and give the general
path's results.

See docs/internals.md, "Rules no recorder sees": a rule whose cotangent, saved inputs and output
no active recorder tracks runs on raw values (its results are wrapped), and an untracked
cotangent that is a broadcast 1 gives an op with factors its factor instead of ``1 * factor``.
Each test runs a real program with the shortcuts on and off (``_core.structured_cotangents``),
wants the same values within 1 ulp (a float64 scalar op may use NumPy's kernel on one path and
the math module's on the other), and checks them against hand-derived values or finite
differences, so that a shortcut that broke both paths alike would still fail.  The last tests
check that the shortcuts are really taken, so that the comparisons compare two paths.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import OPS, linalg_ops
from tapegrad.test import numerical_jacobian

from conftest import both_paths, grad_and_hvp, logcosh_objective, logcosh_objective_hessian, newton_step_by_cg

RNG = np.random.default_rng(1515)




def close(on, off):
    on, off = np.asarray(on), np.asarray(off)
    assert on.dtype == off.dtype and on.shape == off.shape
    np.testing.assert_array_max_ulp(on, off, 1)


# ---- a PINN-like residual: u(x) by a small network, u'' by nested tapes ------------------------

W1, B1, W2 = RNG.standard_normal(8), RNG.standard_normal(8), RNG.standard_normal(8)


def _u(x):
    """u_i = sum_j W2_j tanh(W1_j x_i + B1_j) for each collocation point x_i."""
    h = tg.tanh(tg.reshape(x, (-1, 1)) * W1 + B1)
    return h @ W2


def _u_xx(x0):
    x = tg.constant(x0)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            u = _u(x)
        u_x = inner.gradient(u, x)            # points are independent: du_i/dx_i
        residual = tg.reduce_sum(tg.sin(u_x) * u_x)
    return u_x.numpy(), outer.gradient(residual, x).numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pinn_residual_gradient_through_nested_tapes(dtype):
    x0 = RNG.uniform(-1, 1, 16).astype(dtype)
    on, off = both_paths(lambda: _u_xx(x0))
    for a, b in zip(on, off):
        close(a, b)
    x = x0.astype(np.float64)
    t = np.tanh(np.outer(x, W1) + B1)
    u_x = (1 - t * t) @ (W1 * W2)
    u_xx = (-2 * t * (1 - t * t)) @ (W1 * W1 * W2)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(on[0], u_x, **tol)
    # d/dx_i of sum_k sin(u_x,k) u_x,k = (cos(u_x,i) u_x,i + sin(u_x,i)) u_xx,i
    np.testing.assert_allclose(on[1], (np.cos(u_x) * u_x + np.sin(u_x)) * u_xx, **tol)


def test_second_derivative_of_a_scalar_chain_w7():
    def d2(x0):
        x = tg.constant(x0)
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = x
                for _ in range(12):
                    y = tg.sin(y) * 1.0001 + 0.1
            g = inner.gradient(y, x)
        return outer.gradient(g, x).numpy()

    on, off = both_paths(lambda: d2(np.float64(0.5)))
    close(on, off)
    num = (_first_derivative(0.5 + 1e-6) - _first_derivative(0.5 - 1e-6)) / 2e-6
    np.testing.assert_allclose(on, num, rtol=1e-7)


def _first_derivative(v):
    """d/dx of the 12-step chain at v by the forward-mode recurrence (hand-derived)."""
    y, d = v, 1.0
    for _ in range(12):
        y, d = np.sin(y) * 1.0001 + 0.1, 1.0001 * np.cos(y) * d
    return d


# ---- a Newton step with Hessian-vector products (forward over reverse) --------------------------

N = 12
W = RNG.standard_normal((N, N)) / np.sqrt(N)


def _f(x):
    return logcosh_objective(lambda w, y: w @ y, W, x)


def _grad_hvp(x0, v0):
    return grad_and_hvp(_f, x0, v0)


def test_hvp_forward_over_reverse_both_paths():
    x0, v0 = RNG.standard_normal(N), RNG.standard_normal(N)
    on, off = both_paths(lambda: _grad_hvp(x0, v0))
    close(on[0], off[0])
    close(on[1], off[1])
    np.testing.assert_allclose(on[1], logcosh_objective_hessian(W, x0) @ v0, rtol=1e-12, atol=1e-12)
    grad = lambda y: _grad_hvp(y, v0)[0]                                  # noqa: E731
    num = (grad(x0 + 1e-6 * v0) - grad(x0 - 1e-6 * v0)) / 2e-6
    np.testing.assert_allclose(on[1], num, rtol=1e-6, atol=1e-7)


def test_newton_step_by_conjugate_gradients_on_hvps():
    """Solve H p = -g with conjugate gradients that only see Hessian-vector products (the
    function is strongly convex near x0: 4 I dominates), on both paths."""
    x0 = RNG.uniform(-0.3, 0.3, N)

    def newton_step():
        return newton_step_by_cg(_f, x0)

    on, off = both_paths(newton_step)
    close(on[0], off[0])
    np.testing.assert_allclose(on[1], off[1], rtol=1e-12, atol=1e-14)
    t = np.tanh(W @ x0)
    g = W.T @ t + np.cos(x0) + 4 * x0
    np.testing.assert_allclose(on[0], g, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(on[1], np.linalg.solve(logcosh_objective_hessian(W, x0), -g), rtol=1e-10, atol=1e-12)


def test_tg_hvp_both_paths():
    x0, v0 = RNG.standard_normal(N), RNG.standard_normal(N)
    f = lambda x: _f(x)                                                   # noqa: E731
    on, off = both_paths(lambda: np.asarray(tg.hvp(f, tg.constant(x0), tg.constant(v0))))
    close(on, off)
    np.testing.assert_allclose(on, logcosh_objective_hessian(W, x0) @ v0, rtol=1e-12, atol=1e-12)


# ---- matrix-vector products: the W @ x path ----------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matvec_operator_matches_matmul_of_a_column(dtype):
    A = RNG.standard_normal((5, 4)).astype(dtype)
    x0 = RNG.standard_normal(4).astype(dtype)
    a, x = tg.constant(A), tg.constant(x0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([a, x])
        y = a @ x
        z = tg.reshape(tg.matmul(a, tg.reshape(x, (-1, 1))), (-1,))
        s = tg.reduce_sum(tg.sin(y))
    assert y.shape == (5,) and y.dtype == tg.as_dtype(dtype)
    np.testing.assert_array_equal(y.numpy(), z.numpy())
    ga, gx = tape.gradient(s, [a, x])
    c = np.cos(A @ x0)
    np.testing.assert_allclose(ga.numpy(), np.outer(c, x0), rtol=1e-5)
    np.testing.assert_allclose(gx.numpy(), A.T @ c, rtol=1e-5)
    J = tape.jacobian(y, x).numpy()
    np.testing.assert_array_equal(J, A)
    a64 = tg.constant(A.astype(np.float64))
    num = numerical_jacobian(lambda v: a64 @ v, [x0.astype(np.float64)], 0)
    np.testing.assert_allclose(num.reshape(5, 4), A, rtol=1e-6)


def test_matvec_keeps_its_errors():
    with pytest.raises(tg.errors.InvalidArgumentError):
        tg.constant(np.ones((3, 2))) @ tg.constant(np.ones(3))
    with pytest.raises(tg.errors.InvalidArgumentError):
        tg.constant(np.ones((3, 2))) @ tg.constant(np.ones(2, dtype=np.float32))


# ---- the shortcuts are taken --------------------------------------------------------------------

def test_unrecorded_rules_make_no_tensors():
    """With the shortcuts, the rules of reduce_sum (whose cotangent is the untracked seed) run on raw
    values: the inner sweep makes fewer Tensors (ids) than with them off."""
    x0, v0 = RNG.standard_normal(N), RNG.standard_normal(N)

    def ids_used():
        start = _core.WengertList.id_clock()
        _grad_hvp(x0, v0)
        return _core.WengertList.id_clock() - start

    on, off = both_paths(ids_used)
    assert on < off


def test_unit_cotangent_in_tensor_mode_skips_the_multiply():
    """sum(sin(x)) under an outer tape: the inner gradient is cos(x) itself (no 1 * cos(x)
    recorded), so the outer tape holds one node fewer."""
    x0 = RNG.standard_normal(6)

    def outer_nodes():
        x = tg.constant(x0)
        with tg.GradientTape(persistent=True) as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = tg.reduce_sum(tg.sin(x))
            g = inner.gradient(y, x)
        h = outer.gradient(g, x)
        return outer._wengert.num_nodes, g.numpy(), h.numpy()

    on, off = both_paths(outer_nodes)
    assert on[0] == off[0] - 1
    close(on[1], off[1])
    close(on[2], off[2])
    np.testing.assert_allclose(on[1], np.cos(x0), rtol=1e-15)
    np.testing.assert_allclose(on[2], -np.sin(x0), rtol=1e-15)


def test_a_raw_rule_that_numpy_would_promote_runs_on_tensors():
    """A rule multiplying by a float64 NumPy scalar: on raw float32 values NumPy promotes the result
    to float64, on Tensors the operand takes the tensor's dtype.  The unrecorded path sees the other
    dtype and runs that rule on Tensors, so the gradient stays float32 on both paths."""
    op = _core.Op("doubled", lambda x: x * np.float32(2), (lambda g, ans, x: g * np.float64(2.0),),
                  kind=_core.UNARY, jvps=(lambda t, ans, x: t * np.float64(2.0),))
    x0 = RNG.standard_normal(4).astype(np.float32)

    def nested():
        x = tg.constant(x0)
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = tg.reduce_sum(op(x)) + tg.reduce_sum(x * x)
            g = inner.gradient(y, x)
        return g.numpy(), outer.gradient(g, x).numpy()

    on, off = both_paths(nested)
    for a, b in zip(on, off):
        assert a.dtype == np.float32
        close(a, b)
    np.testing.assert_allclose(on[0], 2 + 2 * x0, rtol=1e-6)
    np.testing.assert_allclose(on[1], np.full(4, 2.0, np.float32), rtol=1e-6)


# ---- rules the core applies itself in tensor mode (add, multiply, g * factor_op(x)) -------------

def _sin_sinh_chain_nodes(x0, steps=6):
    """The second derivative of a sin/sinh/cosh chain through nested tapes, the ops the outer tape
    recorded (names, in order) and the first derivative."""
    x = tg.constant(x0)
    with tg.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = x
            for _ in range(steps):
                y = tg.sinh(tg.sin(y) * 0.9) + 0.1 * tg.math.cosh(y) + y
        g = inner.gradient(y, x)
    h = outer.gradient(g, x)
    names = [node[0].name for node in outer._wengert.inspect_nodes()]
    return names, g.numpy(), h.numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_direct_rules_record_the_rules_own_ops(dtype):
    """The core's direct rules call the ops the Python rules call, in their order: the outer tape
    records the same nodes and the derivatives are bit for bit the general path's."""
    x0 = np.asarray(RNG.uniform(-0.5, 0.5, 5), dtype=dtype)
    on, off = both_paths(lambda: _sin_sinh_chain_nodes(x0))
    assert on[0] == off[0]
    assert "cos" in on[0] and "sinh" in on[0] and "cosh" in on[0]
    np.testing.assert_array_equal(on[1], off[1])
    np.testing.assert_array_equal(on[2], off[2])
    # against finite differences of the first derivative, taken by a forward-mode recurrence
    def first(v):
        y, d = v.astype(np.float64), np.ones_like(v, dtype=np.float64)
        for _ in range(6):
            s = np.sin(y) * 0.9
            y, d = np.sinh(s) + 0.1 * np.cosh(y) + y, (np.cosh(s) * 0.9 * np.cos(y) + 0.1 * np.sinh(y) + 1) * d
        return d
    x64 = x0.astype(np.float64)
    num = (first(x64 + 1e-6) - first(x64 - 1e-6)) / 2e-6
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == np.float64 else dict(rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(on[1], first(x64), **tol)
    np.testing.assert_allclose(on[2], num, **tol)


def test_direct_rules_third_derivative():
    """Three nested tapes over sin(sinh(x)): the direct rules' nodes are differentiated once more."""
    def d3(x0):
        x = tg.constant(x0)
        with tg.GradientTape() as t3:
            t3.watch(x)
            with tg.GradientTape() as t2:
                t2.watch(x)
                with tg.GradientTape() as t1:
                    t1.watch(x)
                    y = tg.sin(tg.sinh(x))
                d1 = t1.gradient(y, x)
            d2 = t2.gradient(d1, x)
        return d2.numpy(), t3.gradient(d2, x).numpy()

    x0 = np.array([0.3, -0.7, 1.1])
    on, off = both_paths(lambda: d3(x0))
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)

    def second(x):                     # hand-derived: f'' of sin(sinh(x))
        return -np.sin(np.sinh(x)) * np.cosh(x) ** 2 + np.cos(np.sinh(x)) * np.sinh(x)

    np.testing.assert_allclose(on[0], second(x0), rtol=1e-13)
    np.testing.assert_allclose(on[1], (second(x0 + 1e-6) - second(x0 - 1e-6)) / 2e-6, rtol=1e-6)


def test_direct_rules_skip_the_python_rule_and_keep_complex_on_it():
    """A unary op declaring factor_op has its Python rule called in tensor mode only when the
    shortcuts are off, or for a complex cotangent (whose rule conjugates)."""
    calls = []

    def rule(g, ans, x):
        calls.append(type(g) is tg.Tensor)     # True: run on Tensors, by the inner (tensor-mode) sweep
        return g * np.cos(x)

    op = _core.Op("counted_sin", np.sin, (rule,), kind=_core.UNARY, save=_core.SAVE_INPUTS, jvps=(rule,))
    op.factor_op = tg.cos

    def second(x0):
        del calls[:]
        x = tg.constant(x0)
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = op(op(x))
            g = inner.gradient(y, x)
        return outer.gradient(g, x).numpy(), calls.count(True)

    x0 = np.array([0.2, 0.9])
    on, off = both_paths(lambda: second(x0))
    assert (on[1], off[1]) == (0, 2)
    np.testing.assert_array_equal(on[0], off[0])
    np.testing.assert_allclose(on[0], -np.sin(np.sin(x0)) * np.cos(x0) ** 2 - np.cos(np.sin(x0)) * np.sin(x0),
                               rtol=1e-14)
    assert second(x0 + 0.5j)[1] == 2


def test_declared_factor_ops_are_the_rules():
    """Every op declaring factor_op has the rule g * factor_op(x) and the factor factor_op(x), bit for bit,
    on real values."""
    declared = [op for op in OPS.values() if op.factor_op is not None]
    assert {op.name for op in declared} >= {"sin", "sinh", "cosh"}
    for op in declared:
        assert op.kind == _core.UNARY
        x, g = RNG.uniform(-2, 2, 7), RNG.standard_normal(7)
        np.testing.assert_array_equal(op.vjp(0, g, None, (x,)), g * op.factor_op.forward(x))
        np.testing.assert_array_equal(op.factors[0](None, x), op.factor_op.forward(x))


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_rules_on_tensor_matrices_apply_the_op(ta, tb):
    """matmul's rules on three 2-d Tensors apply the matmul op directly: the values and the one
    recorded node are those of matmul() with the transposes the general rule asks for."""
    a0, b0 = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
    a0, b0 = (a0.T.copy() if ta else a0), (b0.T.copy() if tb else b0)
    g0 = RNG.standard_normal((3, 5))
    a, b, g = tg.constant(a0), tg.constant(b0), tg.constant(g0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(g)
        ga = linalg_ops._matmul_grad_a(g, None, a, b, ta, tb)
        gb = linalg_ops._matmul_grad_b(g, None, a, b, ta, tb)
        ref_a = tg.matmul(b, g, transpose_a=tb, transpose_b=True) if ta else tg.matmul(g, b, transpose_b=not tb)
        ref_b = tg.matmul(g, a, transpose_a=True, transpose_b=ta) if tb else tg.matmul(a, g, transpose_a=not ta)
    np.testing.assert_array_equal(ga.numpy(), ref_a.numpy())
    np.testing.assert_array_equal(gb.numpy(), ref_b.numpy())
    np.testing.assert_allclose(ga.numpy(), (g0 @ (b0.T if not tb else b0)).T if ta else g0 @ (b0 if tb else b0.T),
                               rtol=1e-13)
    np.testing.assert_allclose(gb.numpy(), ((a0.T if not ta else a0) @ g0).T if tb else (a0 if ta else a0.T) @ g0,
                               rtol=1e-13)
    assert [node[0].name for node in tape._wengert.inspect_nodes()] == ["matmul"] * 4
    np.testing.assert_array_equal(tape.gradient(gb, g).numpy(), tape.gradient(ref_b, g).numpy())
