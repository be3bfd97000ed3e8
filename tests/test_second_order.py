"""Nested tapes and higher-order derivatives, and when a second derivative is None rather
than zero.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import d2l_f, repr_scalar, str_scalar

# === §10 nested tapes, higher order, and the "diff_2 is None" rule ============================

def test_second_derivative_with_nested_tapes():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    assert (dy_dx.numpy(), d2y_dx2.numpy()) == (3.0, 6.0)


def test_inner_gradient_computed_outside_the_outer_tape_is_not_recorded():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
    dy_dx = t1.gradient(y, x)   # outside t2
    assert dy_dx.numpy() == 3.0
    assert t2.gradient(dy_dx, x) is None


def test_second_derivative_of_the_linear_seed_function_is_none():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            d1 = d2l_f(a)
        diff_1 = t1.gradient(d1, a)
    diff_2 = t2.gradient(diff_1, a)
    assert repr((diff_1, diff_2)) == f'({repr_scalar(102400.0)}, None)'


def test_second_derivative_of_the_linear_seed_function_with_zero_is_zero():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t6:
        with tf.GradientTape() as t5:
            d = d2l_f(a)
        dif = t5.gradient(d, a)
    assert str(t6.gradient(dif, a, unconnected_gradients='zero')) == str_scalar(0.0)


def test_jacobian_of_the_linear_seed_functions_gradient_is_none():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t4:
        t4.watch(a)
        with tf.GradientTape() as t3:
            t3.watch(a)
            d = d2l_f(a)
        dif = t3.gradient(d, a)
    assert repr((dif, t4.jacobian(dif, a))) == f'({repr_scalar(102400.0)}, None)'


@pytest.mark.parametrize('name, fn, first, second', [
    ('3*x', lambda x: 3.0 * x, [3., 3.], None),
    ('x*x', lambda x: x * x, [2., 4.], [2., 2.]),
    ('abs', lambda x: tf.abs(x), [1., 1.], [0., 0.]),
    ('relu', lambda x: tf.nn.relu(x), [1., 1.], [0., 0.]),
    ('mean', lambda x: tf.reduce_mean(x), [0.5, 0.5], None),
    # every other linear op: its gradient never reads the differentiated input
    ('x+x', lambda x: x + x, [2., 2.], None),
    ('x-c', lambda x: x - tf.constant([5., 7.]), [1., 1.], None),
    ('x/c', lambda x: x / 4.0, [0.25, 0.25], None),
    ('-x', lambda x: -x, [-1., -1.], None),
    ('sum(c*x)', lambda x: tf.reduce_sum(tf.constant([3., 4.]) * x), [3., 4.], None),
    ('matmul', lambda x: tf.matmul(tf.reshape(x, [1, 2]), tf.constant([[1.], [2.]])), [1., 2.],
     None),
    ('reshape', lambda x: tf.reshape(x, [2, 1]), [1., 1.], None),
])
def test_second_order_none_versus_zero(name, fn, first, second):
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as o:
        with tf.GradientTape() as i:
            y = fn(v)
        g = i.gradient(y, v)
    np.testing.assert_array_equal(g.numpy(), first)
    g2 = o.gradient(g, v)
    if second is None:
        assert g2 is None
    else:
        np.testing.assert_array_equal(g2.numpy(), second)


_SECOND_ORDER_POINTS = np.array([0.5, 1.5])
_SIG = 1 / (1 + np.exp(-_SECOND_ORDER_POINTS))


@pytest.mark.parametrize('name, fn, first, second', [
    ('exp', lambda x: tf.exp(x), np.exp, np.exp),
    ('log', lambda x: tf.math.log(x), lambda x: 1 / x, lambda x: -1 / x**2),
    ('sin', lambda x: tf.math.sin(x), np.cos, lambda x: -np.sin(x)),
    ('cos', lambda x: tf.math.cos(x), lambda x: -np.sin(x), lambda x: -np.cos(x)),
    ('tan', lambda x: tf.math.tan(x), lambda x: 1 / np.cos(x)**2,
     lambda x: 2 * np.tan(x) / np.cos(x)**2),
    ('tanh', lambda x: tf.tanh(x), lambda x: 1 - np.tanh(x)**2,
     lambda x: -2 * np.tanh(x) * (1 - np.tanh(x)**2)),
    ('sqrt', lambda x: tf.sqrt(x), lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x**-1.5),
    ('square', lambda x: tf.square(x), lambda x: 2 * x, lambda x: 2 + 0 * x),
    ('sigmoid', lambda x: tf.nn.sigmoid(x), lambda x: _SIG * (1 - _SIG),
     lambda x: _SIG * (1 - _SIG) * (1 - 2 * _SIG)),
    ('x**3', lambda x: x ** 3, lambda x: 3 * x**2, lambda x: 6 * x),
    ('1/x', lambda x: 1.0 / x, lambda x: -1 / x**2, lambda x: 2 / x**3),
])
def test_second_order_of_nonlinear_ops(name, fn, first, second):
    x = tf.Variable(_SECOND_ORDER_POINTS.astype(np.float32))
    with tf.GradientTape() as o:
        with tf.GradientTape() as i:
            y = fn(x)
        g = i.gradient(y, x)
    g2 = o.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), first(_SECOND_ORDER_POINTS), rtol=2e-6)
    np.testing.assert_allclose(g2.numpy(), second(_SECOND_ORDER_POINTS), rtol=2e-5)


def test_hessian_with_a_persistent_tape_has_a_none_entry():
    x = tf.Variable(3.)
    y = tf.Variable(4.)
    with tf.GradientTape(persistent=True) as tape:
        f = x*x*y + y + 2
        df_dx, df_dy = tape.gradient(f, [x, y])
    d2f_d2x, d2f_dydx = tape.gradient(df_dx, [x, y])
    d2f_dxdy, d2f_d2y = tape.gradient(df_dy, [x, y])
    assert repr([[d2f_d2x.numpy(), d2f_dydx.numpy()], [d2f_dxdy.numpy(), d2f_d2y]]) == (
        '[[np.float32(8.0), np.float32(6.0)], [np.float32(6.0), None]]')


def test_two_tapes_in_one_with_statement_are_independent():
    x = tf.Variable(2.0)
    with tf.GradientTape() as a, tf.GradientTape() as b:
        y = x * x
    assert a.gradient(y, x).numpy() == 4.0
    assert b.gradient(y, x).numpy() == 4.0


def test_an_inner_gradient_used_in_further_taped_computation():
    with tf.GradientTape(persistent=True) as g:
        x = tf.constant(3.0)
        g.watch(x)
        y = x * x
        with tf.GradientTape(persistent=True) as gg:
            gg.watch(y)
            z = 2 * y
        for _ in range(2):
            inner_grad = gg.gradient(z, [y])[0]
            assert inner_grad.numpy() == 2.0
        y += inner_grad
        del gg
    assert g.gradient(y, [x])[0].numpy() == 6.0
    assert g.gradient(z, [x])[0].numpy() == 12.0


def test_third_order_derivative():
    x = tf.Variable(2.0)
    with tf.GradientTape() as t3:
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.math.sin(x) * x**4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    np.testing.assert_allclose([d1.numpy(), d2.numpy(), d3.numpy()],
                               [22.439167, 2.464117, -96.91307], rtol=1e-5)
