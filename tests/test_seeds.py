"""The TensorFlow snippets of the seed documents (docs/tensorflow_semantics.md §20), run end to end
on tapegrad.

Each test is one seed snippet with `tf` meaning tapegrad, asserting what the seed printed.
Where TensorFlow 2.21 differs from the seed's older TensorFlow (that section's table) the 2.21
behaviour is asserted: no `id=` in reprs, `repr(item())` for float32 scalars, the 2.21
one-shot message. Seeds that drew random values use the values they printed. tapegrad's own
conventions apply on top: reprs say `tapegrad.` where TensorFlow says `tf.`, and NumPy
functions on tensors are recorded (seed 003's `np.sin(x)` has a gradient).
"""
import math

import numpy as np
import pytest

import tapegrad as tf

from conftest import ONE_SHOT, d2l_f

# The (5, 3, 2) and (20, 1) tensors seed 000 drew with tf.random.normal and printed.
SEED000_A532 = np.array(
    [[[1.075387, 0.3135932], [-0.9573184, 0.06560528], [-0.18362595, -0.53352755]],
     [[0.48579827, 0.7452166], [0.08363861, -1.1838139], [-0.23465118, -0.7641606]],
     [[-1.6045334, -0.50408304], [-0.82722497, -0.26551095], [0.5110664, 0.68872666]],
     [[0.9107071, 1.2259225], [0.43528086, -0.36280373], [-1.7287321, -0.54161024]],
     [[0.01597405, -0.01879804], [1.75937, 1.2245483], [0.04912755, 0.9361492]]],
    dtype=np.float32)

SEED000_X20 = np.array(
    [0.7322539, -1.2769327, 0.85455877, -0.96424586, -0.7693011, 0.33113363, -1.3973997,
     -2.1953282, 1.4873, -0.7533999, -0.58519673, -0.94799626, 0.67873853, 0.34689212,
     0.4139984, 0.5342669, -0.06651524, -0.19935435, -0.3597326, -0.24857213],
    dtype=np.float32).reshape(20, 1)

# What seed 000 printed for dy_dx of the sin / 2cos branch function at SEED000_X20.
SEED000_DY_DX20 = np.array(
    [-1.337095, 1.9142638, -1.5085627, 1.6432385, 1.3912666, -0.6502306, 1.9700089,
     1.6224738, -1.9930325, 1.368245, 1.1047268, 1.6244967, -1.2556233, -0.6799534,
     -0.8045463, -1.0184205, 0.13293241, 0.396073, 0.7040479, 0.49204046],
    dtype=np.float32).reshape(20, 1)


# --- seed 000: d2l autograd exercises (TensorFlow) -------------------------------------------

def test_seed000_variable_repr():
    x = tf.range(4, dtype=tf.float32)
    x = tf.Variable(x)
    assert repr(x) == ("<tapegrad.Variable 'Variable:0' shape=(4,) dtype=float32, "
                       "numpy=array([0., 1., 2., 3.], dtype=float32)>")


def test_seed000_second_gradient_call_raises_one_shot_error():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    assert repr(t.gradient(y, x)) == (
        '<tapegrad.Tensor: shape=(4,), dtype=float32, '
        'numpy=array([0., 2., 4., 6.], dtype=float32)>')
    with pytest.raises(RuntimeError) as err:
        t.gradient(y, x)
    # 2.21 fixed the seed's "used tocompute" typo in gradient() (docs/tensorflow_semantics.md §20).
    assert str(err.value).startswith(ONE_SHOT)


def test_seed000_control_flow_on_a_1x2_vector():
    a = tf.Variable([[0.02355854, 0.7092207]])
    assert repr(a) == ("<tapegrad.Variable 'Variable:0' shape=(1, 2) dtype=float32, "
                       "numpy=array([[0.02355854, 0.7092207 ]], dtype=float32)>")
    with tf.GradientTape() as t:
        d = d2l_f(a)
    d_grad = t.gradient(d, a)
    assert repr(d_grad) == ('<tapegrad.Tensor: shape=(1, 2), dtype=float32, '
                            'numpy=array([[2048., 2048.]], dtype=float32)>')


def test_seed000_control_flow_on_a_5x3x2_tensor():
    a = tf.Variable(SEED000_A532)
    assert repr(a) == """<tapegrad.Variable 'Variable:0' shape=(5, 3, 2) dtype=float32, numpy=
array([[[ 1.075387  ,  0.3135932 ],
        [-0.9573184 ,  0.06560528],
        [-0.18362595, -0.53352755]],

       [[ 0.48579827,  0.7452166 ],
        [ 0.08363861, -1.1838139 ],
        [-0.23465118, -0.7641606 ]],

       [[-1.6045334 , -0.50408304],
        [-0.82722497, -0.26551095],
        [ 0.5110664 ,  0.68872666]],

       [[ 0.9107071 ,  1.2259225 ],
        [ 0.43528086, -0.36280373],
        [-1.7287321 , -0.54161024]],

       [[ 0.01597405, -0.01879804],
        [ 1.75937   ,  1.2245483 ],
        [ 0.04912755,  0.9361492 ]]], dtype=float32)>"""
    with tf.GradientTape() as t:
        d = d2l_f(a)
    d_grad = t.gradient(d, a)
    assert repr(d_grad) == """<tapegrad.Tensor: shape=(5, 3, 2), dtype=float32, numpy=
array([[[256., 256.],
        [256., 256.],
        [256., 256.]],

       [[256., 256.],
        [256., 256.],
        [256., 256.]],

       [[256., 256.],
        [256., 256.],
        [256., 256.]],

       [[256., 256.],
        [256., 256.],
        [256., 256.]],

       [[256., 256.],
        [256., 256.],
        [256., 256.]]], dtype=float32)>"""


def test_seed000_nested_tapes_second_derivative_of_linear_code_is_none():
    a = tf.Variable(-1.1861123, trainable=True)
    # The seed (older TF) printed numpy=-1.1861123; 2.21 prints repr(item()).
    assert repr(a) == ("<tapegrad.Variable 'Variable:0' shape=() dtype=float32, "
                       "numpy=-1.1861122846603394>")
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            d1 = d2l_f(a)
        diff_1 = t1.gradient(d1, a)
    diff_2 = t2.gradient(diff_1, a)
    assert diff_2 is None
    assert repr((diff_1, diff_2)) == (
        '(<tapegrad.Tensor: shape=(), dtype=float32, numpy=102400.0>, None)')


def test_seed000_watch_then_jacobian_second_derivative_is_none():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t4:
        t4.watch(a)
        with tf.GradientTape() as t3:
            t3.watch(a)
            d = d2l_f(a)
        dif = t3.gradient(d, a)
    j_diff = t4.jacobian(dif, a)
    assert repr((dif, j_diff)) == (
        '(<tapegrad.Tensor: shape=(), dtype=float32, numpy=102400.0>, None)')


def test_seed000_exp_gradient_equals_its_value():
    def f(x):
        return tf.math.exp(x)

    x = tf.Variable(1.5236874, trainable=True)
    # The seed printed numpy=1.5236874; 2.21 prints repr(item()) (docs/tensorflow_semantics.md §20).
    assert repr(x) == ("<tapegrad.Variable 'Variable:0' shape=() dtype=float32, "
                       "numpy=1.5236873626708984>")
    with tf.GradientTape() as t:
        y = f(x)
    dy_dx = t.gradient(y, x)
    assert repr(y == dy_dx) == '<tapegrad.Tensor: shape=(), dtype=bool, numpy=True>'


def _sin_or_2cos(x):
    if tf.math.reduce_sum(x) > 0.5:
        x = tf.math.sin(x)
    else:
        x = 2 * tf.math.cos(x)
    return x


def test_seed000_branching_function_on_a_20x1_vector():
    x = tf.Variable(SEED000_X20, trainable=True)
    assert repr(x).startswith("<tapegrad.Variable 'Variable:0' shape=(20, 1) dtype=float32, "
                              "numpy=\narray([[ 0.7322539 ],\n       [-1.2769327 ],\n")
    assert float(tf.math.reduce_sum(x)) < 0.5     # so the 2*cos branch runs
    with tf.GradientTape() as t:
        y = _sin_or_2cos(x)
    dy_dx = t.gradient(y, x)
    assert dy_dx.shape == (20, 1)
    assert dy_dx.dtype == tf.float32
    np.testing.assert_allclose(dy_dx.numpy(), SEED000_DY_DX20, rtol=0, atol=3e-7)
    np.testing.assert_allclose(dy_dx.numpy(), -2 * np.sin(SEED000_X20), rtol=0, atol=3e-7)


def test_seed000_branching_function_plot_inputs():
    x = tf.Variable(SEED000_X20)
    with tf.GradientTape() as t:
        y = _sin_or_2cos(x)
    dy_dx = t.gradient(y, x)
    x_axis = tf.range(0, 20, 1)
    y_line = tf.reshape(_sin_or_2cos(x), [-1]).numpy()
    g_line = tf.reshape(dy_dx, [-1]).numpy()
    assert x_axis.dtype == tf.int32
    np.testing.assert_array_equal(np.asarray(x_axis), np.arange(20))
    assert y_line.shape == g_line.shape == (20,)
    np.testing.assert_allclose(y_line, 2 * np.cos(SEED000_X20).ravel(), rtol=1e-6)
    np.testing.assert_allclose(g_line, SEED000_DY_DX20.ravel(), rtol=0, atol=3e-7)


def test_seed000_sin_gradient_is_cos():
    f = tf.math.sin
    x = tf.Variable(tf.range(-10, 10, 0.1))
    with tf.GradientTape() as t:
        y = f(x)
    dy_dx = t.gradient(y, x)
    x_axis = tf.range(-10, 10, 0.1)
    xs = x.numpy()
    assert x_axis.shape == (200,) and dy_dx.shape == (200,)
    assert dy_dx.dtype == tf.float32
    np.testing.assert_allclose(f(x).numpy(), np.sin(xs), rtol=0, atol=1e-6)
    np.testing.assert_allclose(dy_dx.numpy(), np.cos(xs), rtol=0, atol=1e-6)


# --- seed 001: TensorFlow / PyTorch autograd notebook (TensorFlow cells) ---------------------

def _watched_ones_chain(persistent=False):
    x = tf.ones(4)
    t = tf.GradientTape(persistent=persistent)
    with t:
        t.watch(x)
        y = x + 2
        y2 = y ** 2
        z = 3 * y2
    return t, x, y, z


def test_seed001_watched_constant():
    t, x, _, z = _watched_ones_chain()
    dz_dx = t.gradient(z, x)
    # The seed's TF 1.14 repr had an id= field; it is gone in 2.21 (docs/tensorflow_semantics.md §20).
    assert repr(dz_dx) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                           'numpy=array([18., 18., 18., 18.], dtype=float32)>')


def test_seed001_variable_needs_no_watch():
    x = tf.Variable(tf.ones(4))
    with tf.GradientTape() as t:
        y = x + 2
        y2 = y ** 2
        z = 3 * y2
    dz_dx = t.gradient(z, x)
    assert repr(dz_dx) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                           'numpy=array([18., 18., 18., 18.], dtype=float32)>')


def test_seed001_gradient_with_respect_to_an_intermediate():
    t, _, y, z = _watched_ones_chain()
    dz_dy = t.gradient(z, y)
    assert repr(dz_dy) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                           'numpy=array([18., 18., 18., 18.], dtype=float32)>')


def test_seed001_gradient_of_an_intermediate():
    t, x, y, _ = _watched_ones_chain()
    dy_dx = t.gradient(y, x)
    assert repr(dy_dx) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                           'numpy=array([1., 1., 1., 1.], dtype=float32)>')


def test_seed001_used_tape_cannot_be_reused():
    t, x, y, z = _watched_ones_chain()
    dy_dx = t.gradient(y, x)
    assert str(dy_dx) == 'tapegrad.Tensor([1. 1. 1. 1.], shape=(4,), dtype=float32)'
    with pytest.raises(RuntimeError) as err:
        t.gradient(z, x)
    # The seed printed TF 1.x's "GradientTape.gradient can only be called once on
    # non-persistent tapes."; 2.21 says:
    assert str(err.value).startswith(ONE_SHOT)


def test_seed001_persistent_tape_gives_the_same_gradients_repeatedly():
    t, x, y, z = _watched_ones_chain(persistent=True)
    assert str(t.gradient(y, x)) == 'tapegrad.Tensor([1. 1. 1. 1.], shape=(4,), dtype=float32)'
    assert str(t.gradient(z, x)) == (
        'tapegrad.Tensor([18. 18. 18. 18.], shape=(4,), dtype=float32)')
    assert str(t.gradient(y, x)) == 'tapegrad.Tensor([1. 1. 1. 1.], shape=(4,), dtype=float32)'


def test_seed001_second_order_with_two_tapes():
    x = tf.ones(4)
    with tf.GradientTape() as t0:
        t0.watch(x)
        with tf.GradientTape() as t1:
            t1.watch(x)
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t0.gradient(dy_dx, x)
    assert repr(d2y_dx2) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                             'numpy=array([6., 6., 6., 6.], dtype=float32)>')
    assert repr(dy_dx) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                           'numpy=array([3., 3., 3., 3.], dtype=float32)>')


def test_seed001_tf_function_decorated_square():
    @tf.function
    def square(v):
        return v * v

    x = tf.Variable(1.)
    with tf.GradientTape() as t:
        y = square(x)
    assert repr(t.gradient(y, x)) == '<tapegrad.Tensor: shape=(), dtype=float32, numpy=2.0>'


def test_seed001_ones_is_not_the_same_dtype_as_constant_of_np_ones():
    # The seed's comment "tf.ones(4)  # same as x = tf.constant(np.ones(4))" is wrong about
    # the dtype (docs/tensorflow_semantics.md §3.1, §20).
    assert tf.ones(4).dtype == tf.float32
    assert tf.constant(np.ones(4)).dtype == tf.float64
    np.testing.assert_array_equal(tf.ones(4).numpy(), tf.constant(np.ones(4)).numpy())


# --- seed 002: PyTorch vs TensorFlow autograd notebook (TensorFlow cells) --------------------

def test_seed002_gradient_of_two_x_dot_x_is_four_x():
    x = tf.range(4, dtype=tf.float32)
    x = tf.Variable(x)
    with tf.GradientTape() as t:
        y = 2 * tf.tensordot(x, x, axes=1)
    assert repr(y) == '<tapegrad.Tensor: shape=(), dtype=float32, numpy=28.0>'
    x_grad = t.gradient(y, x)
    assert repr(x_grad) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                            'numpy=array([ 0.,  4.,  8., 12.], dtype=float32)>')
    assert repr(x_grad == 4 * x) == ('<tapegrad.Tensor: shape=(4,), dtype=bool, '
                                     'numpy=array([ True,  True,  True,  True])>')


def test_seed002_gradient_of_reduce_sum():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = tf.reduce_sum(x)
    assert repr(y) == '<tapegrad.Tensor: shape=(), dtype=float32, numpy=6.0>'
    x_grad = t.gradient(y, x)
    assert repr(x_grad) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                            'numpy=array([1., 1., 1., 1.], dtype=float32)>')


def test_seed002_non_scalar_target_needs_no_sum():
    x = tf.range(4, dtype=tf.float32)
    x = tf.Variable(x)
    with tf.GradientTape() as t:
        y = x * x
    assert repr(t.gradient(y, x)) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                                      'numpy=array([0., 2., 4., 6.], dtype=float32)>')


def test_seed002_detaching_with_stop_gradient():
    x = tf.range(4, dtype=tf.float32)
    x = tf.Variable(x)
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        u = tf.stop_gradient(y)
        z = u * x
    x_grad = t.gradient(z, x)
    all_true = ('<tapegrad.Tensor: shape=(4,), dtype=bool, '
                'numpy=array([ True,  True,  True,  True])>')
    assert repr(x_grad == u) == all_true
    assert repr(t.gradient(y, x) == 2 * x) == all_true


def test_seed002_control_flow_scalar():
    # The seed drew `a` with tf.random.normal without printing it; its gradient 409600.0 means
    # -0.488 < a <= -0.244 (twelve doublings, then the 100 * b branch). -0.3 is such a value.
    a = tf.Variable(-0.3)
    with tf.GradientTape(persistent=True) as t:
        d_tf = d2l_f(a)
    d_grad = t.gradient(d_tf, a)
    assert repr(d_grad) == '<tapegrad.Tensor: shape=(), dtype=float32, numpy=409600.0>'
    assert repr(d_grad == d_tf / a) == '<tapegrad.Tensor: shape=(), dtype=bool, numpy=True>'


# --- seed 003: d2l forum thread on the autograd chapter --------------------------------------

def test_seed003_numpy_sin_of_a_variable_is_recorded():
    # DELIBERATE DIFFERENCE from TensorFlow (docs/tensorflow_semantics.md §4.1): np.sin on a Variable
    # stays on the tape, so the user's first attempt works and gives cos(x) instead of an error / None.
    x = tf.range(-10, 10, 1, dtype=tf.float32)
    x = tf.Variable(x)
    with tf.GradientTape() as t:
        y = np.sin(x)
    assert isinstance(y, tf.Tensor)
    x_grad = t.gradient(y, x)
    assert isinstance(x_grad, tf.Tensor)
    assert x_grad.dtype == tf.float32
    np.testing.assert_allclose(x_grad.numpy(), np.cos(np.arange(-10, 10, dtype=np.float32)),
                               rtol=0, atol=1e-6)


def test_seed003_gradient_of_an_ndarray_raises():
    # The thread says `tape.gradient(ndarray, x)` "returns None"; TF 2.21 raises AttributeError
    # (docs/tensorflow_semantics.md §4.1, §20). tapegrad raises too (the message may differ from TF's).
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = np.sin(x.numpy())
    with pytest.raises((AttributeError, TypeError)):
        t.gradient(y, x)


def test_seed003_plot_x_grad_directly(pyplot):
    # "you can plot x_grad directly" — matplotlib converts tensors through np.asarray.
    plt = pyplot
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = tf.math.sin(x)
    x_grad = t.gradient(y, x)
    fig, ax = plt.subplots()
    try:
        line, = ax.plot(x, x_grad, 'g')
        np.testing.assert_array_equal(line.get_xdata(), np.arange(-10, 10, dtype=np.float32))
        np.testing.assert_allclose(line.get_ydata(), np.cos(np.arange(-10, 10)), atol=1e-6)
    finally:
        plt.close(fig)


def test_seed003_assigning_elements_in_a_loop_gives_no_gradient():
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    y = tf.Variable(tf.zeros_like(x))
    with tf.GradientTape() as t:
        for i in range(tf.size(y)):
            y[i].assign(math.sin(x[i]))
    np.testing.assert_allclose(y.numpy(), np.sin(np.arange(-10, 10, dtype=np.float32)),
                               rtol=0, atol=1e-6)
    assert t.gradient(y, x) is None


def test_seed003_tf_math_sin_answer():
    x = tf.range(-10, 10, 0.1)
    x = tf.Variable(x)
    with tf.GradientTape() as t:
        y = tf.math.sin(x)
    x_grad = t.gradient(y, x)
    # The answer plots x_grad.numpy() against np.arange(-10, 10, 0.1): same length.
    x_plot = np.arange(-10, 10, 0.1)
    assert x_grad.numpy().shape == x_plot.shape == (200,)
    np.testing.assert_allclose(x_grad.numpy(), np.cos(x.numpy()), rtol=0, atol=1e-6)


def test_seed003_gradient_of_a_vector_function_has_the_shape_of_its_input():
    # Question 3: the "gradient" of the vector f(a) is the gradient of sum(f(a)), shaped like a.
    a = tf.Variable([[0.5, -0.25], [1.0, 2.0]])
    with tf.GradientTape() as t:
        d = d2l_f(a)
    d_grad = t.gradient(d, a)
    assert d_grad.shape == (2, 2)
    np.testing.assert_array_equal(d_grad.numpy(), np.full((2, 2), 512., np.float32))
    np.testing.assert_array_equal((d / a).numpy(), d_grad.numpy())


# --- seed 004: Géron's autodiff notebook (the TensorFlow Hessian) ----------------------------

def test_seed004_hessian_with_a_persistent_tape():
    x = tf.Variable(3.)
    y = tf.Variable(4.)
    with tf.GradientTape(persistent=True) as tape:
        f = x*x*y + y + 2
        df_dx, df_dy = tape.gradient(f, [x, y])
    d2f_d2x, d2f_dydx = tape.gradient(df_dx, [x, y])
    d2f_dxdy, d2f_d2y = tape.gradient(df_dy, [x, y])
    assert (df_dx.numpy(), df_dy.numpy()) == (24.0, 10.0)
    hessian = [[d2f_d2x.numpy(), d2f_dydx.numpy()], [d2f_dxdy.numpy(), d2f_d2y]]
    assert repr(hessian) == '[[np.float32(8.0), np.float32(6.0)], [np.float32(6.0), None]]'


def test_seed004_gradient_with_respect_to_an_unrelated_variable_is_none():
    # "when we compute the derivative of a tensor with regards to a variable that it does not
    # depend on, instead of returning 0.0, the gradient() function returns None."
    x = tf.Variable(3.)
    y = tf.Variable(4.)
    with tf.GradientTape() as tape:
        f = x * x + 2
    grads = tape.gradient(f, [x, y])
    assert grads[0].numpy() == 6.0
    assert grads[1] is None
