"""The @ operator's matrix-times-vector product as one op (``matvec``) against the general path's
three ops (the vector as a column, matmul, the column as a vector), bit for bit: values,
gradients, Jacobians (diagonal seeds and their dense fallback), forward over reverse (W9's
Hessian-vector product, a Newton step, a PINN-style Laplacian), reverse over forward and second
derivatives through nested tapes, each also against hand-derived values or finite differences."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.test import numerical_jacobian

from conftest import (
    both_paths,
    frames_run,
    grad_and_hvp,
    logcosh_objective,
    logcosh_objective_hessian,
    newton_step_by_cg,
)

RNG = np.random.default_rng(915)
DTYPES = [np.float64, np.float32]


def _one_op(a, x):
    return a @ x


def _general(a, x):
    return tg.reshape(tg.matmul(a, tg.reshape(x, (-1, 1))), (-1,))


def _same(p, q):
    p, q = np.asarray(p), np.asarray(q)
    assert p.dtype == q.dtype and p.shape == q.shape
    np.testing.assert_array_equal(p, q)


def _data(m, n, dtype, seed=0):
    r = np.random.default_rng(seed)
    return (r.standard_normal((m, n)) / np.sqrt(n)).astype(dtype), r.standard_normal(n).astype(dtype)


def test_the_operator_records_one_node():
    A, x0 = _data(5, 4, np.float64)
    for fn, names in [(_one_op, ["matvec"]), (_general, ["reshape", "matmul", "reshape"])]:
        a, x = tg.constant(A), tg.constant(x0)
        with tg.GradientTape() as tape:
            tape.watch([a, x])
            fn(a, x)
        assert [node[0].name for node in tape._wengert.inspect_nodes()] == names


def test_the_operator_applies_the_op_from_the_core():
    """A matrix and a vector (Tensors or Variables) of one dtype go from the @ operator to the
    matvec op without linalg_ops._matmul's frame; with the shortcuts off through it, the same
    node and bits; anything else (dtypes that differ, a wrong inner size) still reaches _matmul
    and its errors."""
    A, x0 = _data(6, 3, np.float64)
    for a, x in [(tg.constant(A), tg.constant(x0)), (tg.Variable(A), tg.Variable(x0))]:
        def run(a=a, x=x):
            with tg.GradientTape() as tape:
                tape.watch([a, x])
                y = a @ x
            return y.numpy(), [n[0].name for n in tape._wengert.inspect_nodes()], tape.gradient(y, [a, x])
        (on, n_on), (off, n_off) = both_paths(lambda run=run: frames_run(run, {"_matmul"}))
        assert n_on == 0 and n_off == 1
        _same(on[0], off[0])
        assert on[1] == off[1] == ["matvec"]
        _same(on[0], np.matmul(A, x0.reshape(3, 1)).reshape(6))
        np.testing.assert_allclose(on[2][0].numpy(), np.ones((6, 1)) * x0, rtol=1e-15)   # d(sum)/dA = 1 x^T
        np.testing.assert_allclose(on[2][1].numpy(), A.sum(axis=0), rtol=1e-13)        # d(sum)/dx = A^T 1
    with pytest.raises(tg.errors.InvalidArgumentError):
        tg.constant(A) @ tg.constant(x0.astype(np.float32))
    with pytest.raises(tg.errors.InvalidArgumentError, match="Matrix size-incompatible"):
        tg.constant(A) @ tg.constant(np.ones(4))


@pytest.mark.parametrize("dtype", DTYPES)
def test_values_gradients_and_jacobians_are_the_general_paths(dtype):
    A, x0 = _data(6, 5, dtype)

    def run(fn):
        a, x = tg.constant(A), tg.constant(x0)
        with tg.GradientTape(persistent=True) as tape:
            tape.watch([a, x])
            y = fn(a, x)
            s = tg.reduce_sum(tg.sin(y) * y)
            t = tg.tanh(y)
        ga, gx = tape.gradient(s, [a, x])
        return [y.numpy(), ga.numpy(), gx.numpy(), tape.jacobian(y, x).numpy(), tape.jacobian(y, a).numpy(),
                tape.jacobian(t, x).numpy()]

    one, gen = run(_one_op), run(_general)
    for p, q in zip(one, gen):
        _same(p, q)
    y, ga, gx, jx, ja = one[:5]
    c = (np.cos(A @ x0) * (A @ x0) + np.sin(A @ x0)).astype(dtype)          # d/dy of sin(y) * y
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ga, np.outer(c, x0), **tol)
    np.testing.assert_allclose(gx, A.T @ c, **tol)
    np.testing.assert_array_equal(jx, A)
    np.testing.assert_array_equal(ja, np.einsum("ij,k->ijk", np.eye(6, dtype=dtype), x0))


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_jacobian_with_a_non_finite_matrix_is_the_general_paths(bad):
    """The diagonal rule declines on inf or nan (the dense product differs off the diagonal); the
    batched general rule then gives the general path's bits, warnings included."""
    A, x0 = _data(4, 3, np.float64)
    A[1, 2] = bad

    def run(fn):
        a, x = tg.constant(A), tg.constant(x0)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = fn(a, x)
        with np.errstate(all="ignore"):
            return tape.jacobian(y, x).numpy()

    _same(run(_one_op), run(_general))


def test_transposed_op_and_batched_cotangents_on_raw_values():
    """b's gradient is the op with the transpose; a batch of cotangents (a Jacobian's dense
    rows) takes the same NumPy call as the general path's column."""
    A, x0 = _data(5, 3, np.float64)
    op = tg.ops.OPS["matvec"]
    g = RNG.standard_normal((7, 5))
    gb = op.vjp(1, g, None, (A, x0), (False,))
    ga = op.vjp(0, g, None, (A, x0), (False,))
    _same(gb, np.matmul(A.T, g[..., None])[..., 0])
    _same(ga, np.matmul(g[..., None], x0[None, :]))
    np.testing.assert_allclose(gb, g @ A, rtol=1e-13)
    _same(_core.apply(op, (A, g[0]), (True,)).numpy(), np.matmul(A.T, g[0][:, None])[:, 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize("transposed", [False, True])
def test_matrix_times_one_vector_is_the_column_product(dtype, transposed):
    """A matrix and one vector go to np.matmul as they are (no column, no reshape back): the
    same gemv as the general path's column, bit for bit, for contiguous and strided vectors,
    through the forward, the raw JVPs and b's gradient."""
    op = tg.ops.OPS["matvec"]
    for m, n in [(1, 1), (3, 5), (7, 2), (100, 100), (33, 64)]:
        r = np.random.default_rng(m * n)
        A = r.standard_normal((n, m) if transposed else (m, n)).astype(dtype)
        for v in (r.standard_normal(n).astype(dtype), r.standard_normal(2 * n).astype(dtype)[::2]):
            # the general path's column: v.reshape(n, 1) (v[:, None] would have a zero stride,
            # which NumPy may multiply by another kernel)
            column = np.matmul(A.swapaxes(-1, -2) if transposed else A, v.reshape(n, 1)).reshape(m)
            _same(op.jvp(1, v, None, (A, np.zeros(n, dtype)), (transposed,)), column)
            if v.flags.c_contiguous:       # apply() makes its own contiguous copy of a strided v
                _same(_core.apply(op, (A, v), (transposed,)).numpy(), column)
            np.testing.assert_allclose(column, (A.T if transposed else A) @ v.astype(np.complex128),
                                       rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-4 if dtype == np.float32 else 1e-12)
            g = column.copy()          # b's gradient: the product with the transpose flipped
            back = np.matmul(A if transposed else A.swapaxes(-1, -2), g.reshape(m, 1)).reshape(n)
            _same(op.vjp(1, g, None, (A, v), (transposed,)), back)


# ---- forward over reverse: W9's Hessian-vector product, a Newton step, a PINN-style Laplacian ----

N = 12
WN = RNG.standard_normal((N, N)) / np.sqrt(N)


def _grad_hvp(fn, x0, v0):
    w = tg.constant(WN)
    return grad_and_hvp(lambda x: logcosh_objective(fn, w, x), x0, v0)


def test_hvp_is_the_general_paths_and_the_closed_form():
    x0, v0 = RNG.standard_normal(N), RNG.standard_normal(N)
    one, gen = _grad_hvp(_one_op, x0, v0), _grad_hvp(_general, x0, v0)
    _same(one[0], gen[0])
    _same(one[1], gen[1])
    np.testing.assert_allclose(one[1], logcosh_objective_hessian(WN, x0) @ v0, rtol=1e-12, atol=1e-12)
    grad = lambda y: _grad_hvp(_one_op, y, v0)[0]                         # noqa: E731
    num = (grad(x0 + 1e-6 * v0) - grad(x0 - 1e-6 * v0)) / 2e-6
    np.testing.assert_allclose(one[1], num, rtol=1e-6, atol=1e-7)


def test_newton_step_by_conjugate_gradients_on_hvps():
    x0 = RNG.uniform(-0.3, 0.3, N)

    def newton_step(fn):
        w = tg.constant(WN)
        return newton_step_by_cg(lambda x: logcosh_objective(fn, w, x), x0)

    (g, p), (g_gen, p_gen) = newton_step(_one_op), newton_step(_general)
    _same(g, g_gen)
    _same(p, p_gen)
    np.testing.assert_allclose(g, WN.T @ np.tanh(WN @ x0) + np.cos(x0) + 4 * x0, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(p, np.linalg.solve(logcosh_objective_hessian(WN, x0), -g), rtol=1e-10, atol=1e-12)


W1 = RNG.standard_normal((8, 3))
B1, W2 = RNG.standard_normal(8), RNG.standard_normal(8)


def _laplacian(fn, x0):
    """u(x) = W2 . tanh(W1 x + B1) on R^3; its Laplacian as the trace of the Hessian, one
    forward-over-reverse HVP per unit vector (a PINN's residual term)."""
    w1, w2, b1 = tg.constant(W1), tg.constant(W2), tg.constant(B1)
    total = 0.0
    for i in range(3):
        x, e = tg.constant(x0), tg.constant(np.eye(3)[i])
        with tg.autodiff.ForwardAccumulator(x, e) as acc:
            with tg.GradientTape() as tape:
                tape.watch(x)
                u = tg.reduce_sum(w2 * tg.tanh(fn(w1, x) + b1))
            g = tape.gradient(u, x)
        total = total + acc.jvp(g).numpy()[i]
    return total


def test_pinn_laplacian_by_forward_over_reverse():
    x0 = RNG.uniform(-1, 1, 3)
    one, gen = _laplacian(_one_op, x0), _laplacian(_general, x0)
    _same(one, gen)
    t = np.tanh(W1 @ x0 + B1)
    hand = np.sum(W2 * -2 * t * (1 - t * t) * np.sum(W1 * W1, axis=1))
    np.testing.assert_allclose(one, hand, rtol=1e-12)


# ---- reverse over forward and nested tapes: the rules and JVPs on Tensors ------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_reverse_over_forward_and_second_derivatives(dtype):
    A, x0 = _data(5, 4, dtype, seed=3)
    v0, = (np.random.default_rng(4).standard_normal(4).astype(dtype),)

    def run(fn):
        a, x = tg.constant(A), tg.constant(x0)
        with tg.GradientTape(persistent=True) as outer:
            outer.watch([a, x])
            with tg.autodiff.ForwardAccumulator(x, tg.constant(v0)) as acc:
                y = tg.tanh(fn(a, x))
            jv = acc.jvp(y)
            with tg.GradientTape() as inner:
                inner.watch([a, x])
                s = tg.reduce_sum(tg.sin(fn(a, x)))
            ga, gx = inner.gradient(s, [a, x])
            t = tg.reduce_sum(gx * gx) + tg.reduce_sum(ga * ga)
        return [jv.numpy(), *(q.numpy() for q in outer.gradient(jv, [a, x])),
                *(q.numpy() for q in outer.gradient(t, [a, x]))]

    one, gen = run(_one_op), run(_general)
    for p, q in zip(one, gen):
        _same(p, q)
    if dtype == np.float64:
        def t_of(av, xv):
            z = av.reshape(5, 4) @ xv
            c = np.cos(z)
            return np.sum((av.reshape(5, 4).T @ c) ** 2) + np.sum(np.outer(c, xv) ** 2)
        num_a = numerical_jacobian(lambda av: np.atleast_1d(t_of(av, x0)), [A.ravel()], 0).reshape(5, 4)
        num_x = numerical_jacobian(lambda xv: np.atleast_1d(t_of(A.ravel(), xv)), [x0], 0).reshape(4)
        np.testing.assert_allclose(one[3], num_a, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(one[4], num_x, rtol=1e-6, atol=1e-8)
        sech2 = 1 - np.tanh(A @ x0) ** 2
        np.testing.assert_allclose(one[0], sech2 * (A @ v0), rtol=1e-12)
