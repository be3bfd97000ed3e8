"""tapegrad.custom_gradient and tapegrad.recompute_grad (docs/tensorflow_semantics.md §13)."""
import tracemalloc

import numpy as np
import pytest

import tapegrad as tf

from conftest import raises_exactly


@tf.custom_gradient
def log1pexp(x):
    e = tf.exp(x)

    def grad(upstream):
        return upstream * (1 - 1 / (1 + e))
    return tf.math.log(1 + e), grad


# === §13.1 ========================================================================================

def test_log1pexp_guide_example():
    x = tf.constant(100.)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with np.errstate(over="ignore"):
            y = log1pexp(x)
    assert str(y) == "tapegrad.Tensor(inf, shape=(), dtype=float32)"
    assert str(tape.gradient(y, x)) == "tapegrad.Tensor(1.0, shape=(), dtype=float32)"


def test_captured_variables_need_the_variables_keyword():
    weights = tf.Variable(tf.ones([2]))

    @tf.custom_gradient
    def linear_poly(x):
        poly = weights[1] * x + weights[0]

        def grad_fn(dpoly, variables):
            assert len(variables) == 1 and variables[0] is weights
            dy_dw = dpoly * tf.stack([x ** 1, x ** 0])
            return dpoly * weights[1], [tf.reduce_sum(tf.reshape(dy_dw, [2, -1]), axis=1)]
        return poly, grad_fn

    x = tf.constant([1., 2., 3.])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        poly = linear_poly(x)
    assert poly.numpy().tolist() == [2., 3., 4.]
    assert tape.gradient(poly, x).numpy().tolist() == [1., 1., 1.]
    assert tape.gradient(poly, weights).numpy().tolist() == [6., 3.]


def test_missing_variables_keyword_raises_at_call_time():
    w = tf.Variable(2.0)

    @tf.custom_gradient
    def needs_vars(x):
        def grad(dy):
            return dy * w
        return x * w, grad

    with raises_exactly(TypeError, "@tf.custom_gradient grad_fn must accept keyword argument 'variables', since "
                             "function uses variables: [<tapegrad.Variable 'Variable:0' shape=() dtype=float32, "
                             "numpy=2.0>]"):
        needs_vars(tf.constant(1.0))


def test_unused_outputs_get_zero_upstreams():
    seen = []

    @tf.custom_gradient
    def two_out(x):
        def grad(dy1, dy2):
            seen.append((dy1.numpy(), dy2.numpy()))
            return dy1 * 10. + dy2 * 100.
        return (x * 2., x * 3.), grad

    c = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(c)
        p, q = two_out(c)
    assert str(t.gradient(p, c)) == "tapegrad.Tensor(10.0, shape=(), dtype=float32)"
    assert seen == [(1.0, 0.0)]


def test_wrong_gradient_counts_and_a_python_float_gradient():
    w = tf.Variable(2.0)

    @tf.custom_gradient
    def f(x):
        def grad(dy, variables=None):
            return dy * w, []
        return x * w, grad

    @tf.custom_gradient
    def g(x):
        def grad(_):
            return []
        return x, grad

    @tf.custom_gradient
    def h(x):
        def grad(dy):
            return 5.0
        return x * 1.0, grad

    c = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(c)
        y = f(c)
    with raises_exactly(ValueError, "Must return gradient for each variable from @custom_gradient grad_fn."):
        t.gradient(y, [c, w])
    with tf.GradientTape() as t:
        t.watch(c)
        y = g(c)
    with raises_exactly(ValueError, "custom_gradient function expected to return 1 gradients, but returned 0 instead."):
        t.gradient(y, [c, w])
    with tf.GradientTape() as t:
        t.watch(c)
        y = h(c)
    r = t.gradient(y, [c, w])
    # TensorFlow hands back the Python float; tapegrad converts it to the input's dtype.
    assert repr(r) == "[<tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>, None]"


def test_exceptions_in_grad_fn_propagate_unchanged():
    class Boom(Exception):
        pass

    @tf.custom_gradient
    def f(x):
        def grad(dy):
            raise Boom("from grad_fn")
        return x * 2.0, grad

    x = tf.constant(1.0)
    with tf.GradientTape() as t:
        t.watch(x)
        y = f(x)
    with pytest.raises(Boom, match="from grad_fn"):
        t.gradient(y, x)


def test_outputs_are_new_tensors_and_python_results_are_converted():
    @tf.custom_gradient
    def ident(x):
        return x, lambda dy: dy * 7.0

    @tf.custom_gradient
    def numpy_forward(x):
        # a NumPy forward pass with a tapegrad gradient (docs/tensorflow_semantics.md §4.2)
        v = x.numpy()
        return np.sin(v), lambda dy: dy * tf.cos(x)

    x = tf.constant(np.array([0.5, 1.0]))
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = ident(x)
        z = numpy_forward(x)
    assert y is not x and isinstance(z, tf.Tensor)
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [7.0, 7.0])
    np.testing.assert_allclose(t.gradient(z, x).numpy(), np.cos([0.5, 1.0]))


def test_a_variable_argument_is_an_input_not_a_captured_variable():
    v = tf.Variable(3.0)

    @tf.custom_gradient
    def sq(x):
        def grad(dy):                          # no `variables` keyword needed
            return dy * 2.0 * x
        return x * x, grad

    with tf.GradientTape() as t:
        y = sq(v)
    assert t.gradient(y, v).numpy() == 6.0


def test_second_order_is_the_derivative_of_grad_fn():
    x = tf.constant(0.5, dtype=tf.float64)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = log1pexp(x)
        d1 = t1.gradient(y, x)
    d2 = t2.gradient(d1, x)
    s = 1 / (1 + np.exp(-0.5))
    assert d1.numpy() == pytest.approx(s, rel=1e-14)
    assert d2.numpy() == pytest.approx(s * (1 - s), rel=1e-14)


def test_a_custom_gradient_inside_grad_fn_overrides_the_second_order():
    @tf.custom_gradient
    def inner_grad(dy, x):
        return dy * 2.0 * x, lambda ddz: (ddz * -2.1, ddz * -2.1)

    @tf.custom_gradient
    def square(x):
        return x * x, lambda dy: inner_grad(dy, x)

    x = tf.constant(3.0)
    with tf.GradientTape() as t2:
        t2.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = square(x)
        d1 = t1.gradient(y, x)
    assert d1.numpy() == 6.0
    assert t2.gradient(d1, x).numpy() == pytest.approx(-2.1)


def test_custom_gradient_in_a_jacobian_sweeps_per_row():
    @tf.custom_gradient
    def scaled(x):
        return x * 1.0, lambda dy: dy * tf.constant([1.0, 2.0, 3.0])

    x = tf.constant([1.0, 1.0, 1.0])
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.exp(scaled(x))
    np.testing.assert_allclose(g.jacobian(y, x).numpy(), np.diag(np.e * np.array([1.0, 2.0, 3.0])), rtol=1e-6)


def test_forward_mode_transposes_grad_fn_at_call_time():
    x = tf.constant(0.5, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(2.0, dtype=tf.float64)) as acc:
        y = log1pexp(x)
    assert acc.jvp(y).numpy() == pytest.approx(2.0 / (1 + np.exp(-0.5)), rel=1e-14)

    w = tf.Variable(np.array([1.0, 2.0]))

    @tf.custom_gradient
    def two(a, b):
        def grad(d1, d2, variables):
            return (d1 * 2.0 + d2 * b, d2 * a), [d1 * 0.0 + d2 * 1.0]
        return (a * 2.0, a * b + w), grad

    a, b = tf.constant(np.array([1.0, -1.0])), tf.constant(np.array([3.0, 4.0]))
    with tf.autodiff.ForwardAccumulator([a, b, w], [np.array([1.0, 0.0]), np.array([0.0, 1.0]),
                                                    np.array([5.0, 5.0])]) as acc:
        p, q = two(a, b)
    np.testing.assert_allclose(acc.jvp(p).numpy(), [2.0, 0.0])
    np.testing.assert_allclose(acc.jvp(q).numpy(), [3.0 + 5.0, -1.0 + 5.0])

    class Boom(Exception):
        pass

    @tf.custom_gradient
    def bad(x):
        def grad(dy):
            raise Boom("transposed")
        return x * 2.0, grad

    with tf.autodiff.ForwardAccumulator(x, 1.0):
        with pytest.raises(Boom):
            bad(x)                              # TensorFlow: the error surfaces at call time


def test_reverse_over_forward_through_a_custom_gradient():
    x = tf.constant(0.5, dtype=tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0, dtype=tf.float64)) as acc:
            y = log1pexp(x)
        d1 = acc.jvp(y)
    s = 1 / (1 + np.exp(-0.5))
    assert tape.gradient(d1, x).numpy() == pytest.approx(s * (1 - s), rel=1e-12)


def test_custom_gradient_without_recorders_is_a_plain_call():
    y = log1pexp(tf.constant(0.0))
    assert y.numpy() == pytest.approx(np.log(2.0))


# === §13.2 recompute_grad ===========================================================================

def test_recompute_grad_calls_f_again_in_the_backward_pass():
    y = tf.Variable(1.0)
    calls = []

    def my_function(x):
        calls.append(1)
        return x * y

    f = tf.recompute_grad(my_function)
    with tf.GradientTape() as tape:
        r = tf.constant(2.0)
        for _ in range(4):
            r = f(r)
    assert len(calls) == 4
    assert repr(tape.gradient(r, [y])) == "[<tapegrad.Tensor: shape=(), dtype=float32, numpy=8.0>]"
    assert len(calls) == 8


def test_recompute_grad_cannot_be_used_in_forward_mode():
    @tf.recompute_grad
    def f(x):
        return tf.reduce_prod(tf.tanh(x) ** 2)

    x = tf.constant([1.])
    with raises_exactly(NotImplementedError, "recompute_grad tried to transpose grad of f. Consider not using "
                                       "recompute_grad in forward modeautodiff"):
        with tf.autodiff.ForwardAccumulator(x, tf.constant([1.])):
            f(x)


def _block(x, w):
    for _ in range(6):
        x = tf.tanh(tf.matmul(x, w)) + x * 0.5
    return x


def test_recompute_grad_gradients_equal_the_plain_ones_first_and_second_order():
    rng = np.random.default_rng(0)
    w = tf.Variable(rng.standard_normal((4, 4)) * 0.5)
    x0 = tf.constant(rng.standard_normal((3, 4)))
    block = tf.recompute_grad(lambda x: _block(x, w))

    def grads(fn):
        with tf.GradientTape() as outer:
            outer.watch(x0)
            with tf.GradientTape() as inner:
                inner.watch(x0)
                loss = tf.reduce_sum(fn(fn(x0)) ** 2)
            gx, gw = inner.gradient(loss, [x0, w])
            probe = tf.reduce_sum(gx * gx)
        return gx.numpy(), gw.numpy(), outer.gradient(probe, x0).numpy()

    for a, b in zip(grads(block), grads(lambda x: _block(x, w))):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_recompute_grad_keeps_only_its_inputs_on_the_tape():
    # The memory saving: the tape holds one node per wrapped call, and the
    # forward values inside the block are freed as soon as the call returns.
    rng = np.random.default_rng(1)
    w = tf.constant(rng.standard_normal((200, 200)) * 0.05)
    x0 = tf.constant(rng.standard_normal((500, 200)))
    block = tf.recompute_grad(lambda x: _block(x, w))

    def held(fn):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            with tf.GradientTape() as tape:
                tape.watch(x0)
                y = tf.reduce_sum(fn(fn(x0)))
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        grad = tape.gradient(y, x0).numpy()
        return tape, after - base, grad

    plain_tape, plain_bytes, plain_grad = held(lambda x: _block(x, w))
    re_tape, re_bytes, re_grad = held(block)
    np.testing.assert_allclose(re_grad, plain_grad, rtol=1e-10)
    array_bytes = 500 * 200 * 8
    assert plain_bytes > 12 * array_bytes       # every activation of 2 x 6 layers is kept
    assert re_bytes < 4 * array_bytes           # the two block inputs and outputs
