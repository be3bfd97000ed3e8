"""Functional transforms: grad, value_and_grad, jacobian(f), hessian, hvp, jvp, vjp and
tapegrad.hessians, against closed forms and finite differences."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.test import numerical_jacobian

RNG = np.random.default_rng(3)
W = RNG.standard_normal((5, 5)) * 0.4
X0 = RNG.standard_normal(5)


def logcosh(x):
    return tg.reduce_sum(tg.math.log(tg.math.cosh(tg.constant(W) @ x))) + tg.reduce_sum(tg.sin(x))


def logcosh_hessian(x):
    t = np.tanh(W @ x)
    return W.T @ np.diag(1 - t * t) @ W - np.diag(np.sin(x))


def test_grad_and_value_and_grad():
    f = lambda x, y: tg.reduce_sum(tg.sin(x) * y)         # noqa: E731
    x, y = np.array([0.1, 0.2]), np.array([3.0, 4.0])
    np.testing.assert_allclose(tg.grad(f)(x, y).numpy(), np.cos(x) * y)
    gx, gy = tg.grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gy.numpy(), np.sin(x))
    v, g = tg.value_and_grad(f, argnums=1)(x, y)
    assert v.numpy() == pytest.approx(np.sum(np.sin(x) * y))
    np.testing.assert_allclose(g.numpy(), np.sin(x))
    assert tg.grad(lambda a, b: a * 2.0)(1.5, 7.0).numpy() == 2.0        # Python floats work
    with pytest.warns(UserWarning, match="independent"):             # unconnected: zeros, as autograd warns
        assert tg.grad(lambda a, b: a * 2.0, argnums=1)(1.5, 7.0).numpy() == 0.0


def test_grad_nests_for_higher_derivatives():
    f = lambda x: tg.sin(x) * x ** 4                      # noqa: E731
    x0 = 2.0
    d3 = tg.grad(tg.grad(tg.grad(f)))(np.float64(x0)).numpy()
    want = -np.cos(x0) * x0 ** 4 - 12 * np.sin(x0) * x0 ** 3 + 36 * np.cos(x0) * x0 ** 2 + 24 * np.sin(x0) * x0
    assert d3 == pytest.approx(want, rel=1e-12)


def test_grad_errors():
    with pytest.raises(TypeError, match="only defined for scalar-output functions"):
        tg.grad(lambda x: x * 2.0)(np.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="floating-point inputs"):
        tg.grad(lambda x: x * 2)(3)
    with pytest.raises(ValueError, match="out of range"):
        tg.grad(lambda x: x, argnums=2)(1.0)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_of_a_function(mode):
    def f(x):
        return tg.sin(tg.tanh(tg.constant(W) @ x) * 2.0 + x)
    j = tg.jacobian(f, mode=mode)(X0).numpy()
    num = numerical_jacobian(f, [X0], 0)
    np.testing.assert_allclose(j, num, rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_modes_and_argnums():
    def f(x, y):
        return tg.reshape(x, [-1, 1]) * y                  # (2,) , (3,) -> (2, 3)
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])
    for mode in ("forward", "reverse"):
        jx, jy = tg.jacobian(f, argnums=(0, 1), mode=mode)(x, y)
        assert jx.shape == (2, 3, 2) and jy.shape == (2, 3, 3)
        np.testing.assert_array_equal(jx.numpy()[1, :, 1], y)
        np.testing.assert_array_equal(jy.numpy()[1, 2], [0.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="mode must be"):
        tg.jacobian(f, mode="sideways")


def test_hessian_hvp_and_hessians_agree_with_the_closed_form():
    h = tg.hessian(logcosh)(X0).numpy()
    np.testing.assert_allclose(h, logcosh_hessian(X0), rtol=1e-12, atol=1e-14)
    v = RNG.standard_normal(5)
    np.testing.assert_allclose(tg.hvp(logcosh, X0, v).numpy(), logcosh_hessian(X0) @ v, rtol=1e-12)
    (hs,) = tg.hessians(logcosh, [tg.constant(X0)])
    np.testing.assert_allclose(hs.numpy(), logcosh_hessian(X0), rtol=1e-12)


def test_hvp_with_a_nest_of_arguments():
    def f(p):
        return tg.reduce_sum(p["a"] ** 3) * tg.reduce_sum(p["b"])
    a, b = np.array([1.0, 2.0]), np.array([0.5])
    out = tg.hvp(f, {"a": a, "b": b}, {"a": np.array([1.0, 0.0]), "b": np.array([1.0])})
    # d2f/da2 = diag(6a) sum(b); d2f/dadb = 3a^2
    np.testing.assert_allclose(out["a"].numpy(), [6 * 1 * 0.5 + 3.0, 12.0])
    np.testing.assert_allclose(out["b"].numpy(), [3.0])


def test_jvp_and_vjp():
    def f(x, y):
        return tg.tanh(x * y)
    x, y = np.array([0.3, -0.2]), np.array([1.5, 2.0])
    u, w = np.array([1.0, 2.0]), np.array([0.5, -1.0])
    out, tangent = tg.jvp(f, (x, y), (u, w))
    d = 1 - np.tanh(x * y) ** 2
    np.testing.assert_allclose(out.numpy(), np.tanh(x * y))
    np.testing.assert_allclose(tangent.numpy(), d * (u * y + x * w))
    out, vjp_fn = tg.vjp(f, x, y)
    ct = np.array([2.0, 3.0])
    gx, gy = vjp_fn(ct)
    np.testing.assert_allclose(gx.numpy(), ct * d * y)
    np.testing.assert_allclose(gy.numpy(), ct * d * x)
    np.testing.assert_allclose(vjp_fn(tg.constant(ct) * 2.0)[0].numpy(), 2 * ct * d * y)   # callable again
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        tg.jvp(f, (x, y), (u,))


def test_hessians_on_an_active_tape_the_seed_question():
    # The d2l forum's "use tf.hessians" for the second derivative of f(x) = x^3 + sin(x) y.
    x = tg.Variable([1.0, 2.0], dtype=tg.float64)
    y = tg.Variable(3.0, dtype=tg.float64)
    with tg.GradientTape() as tape:
        f = tg.reduce_sum(x ** 3 + tg.sin(x) * y)
        hx, hy = tg.hessians(f, [x, y])
        again = tg.reduce_sum(x * x)
    np.testing.assert_allclose(hx.numpy(), np.diag(6 * np.array([1.0, 2.0]) - np.sin([1.0, 2.0]) * 3.0))
    assert hy.numpy() == 0.0 and hy.shape == ()
    np.testing.assert_allclose(tape.gradient(again, x).numpy(), [2.0, 4.0])    # the tape is still usable
    with pytest.raises(RuntimeError, match="needs the computation of ys recorded"):
        tg.hessians(f, [x])


def test_hessians_of_a_function_of_several_arguments():
    def f(a, b):
        return tg.reduce_sum(a * a * b) + b * b * b
    a, b = tg.constant(np.array([1.0, 2.0])), tg.constant(np.float64(3.0))
    ha, hb = tg.hessians(f, [a, b])
    np.testing.assert_allclose(ha.numpy(), 2 * 3.0 * np.eye(2))
    assert hb.numpy() == pytest.approx(18.0)
