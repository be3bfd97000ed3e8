"""NumPy interoperability: NumPy functions and operators on tensors stay on the tape (a
deliberate difference from TensorFlow), what leaves the library becomes a constant.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import math

import numpy as np
import pytest

import tapegrad as tf

# === §4.1 NumPy interoperability (tapegrad records NumPy functions) ===========================

def test_numpy_ufunc_on_a_variable_is_recorded():
    # DELIBERATE DIFFERENCE: TensorFlow returns an ndarray here and loses the gradient.
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = np.sin(x)
    assert isinstance(y, tf.Tensor)
    assert y.dtype == tf.float32
    np.testing.assert_allclose(t.gradient(y, x).numpy(),
                               np.cos(np.arange(-10, 10, dtype=np.float32)), rtol=0, atol=1e-6)


def test_numpy_sum_of_numpy_sin_is_recorded():
    x = tf.Variable([0.5, 1.0, 2.0])
    with tf.GradientTape() as t:
        s = np.sum(np.sin(x))
    assert isinstance(s, tf.Tensor)
    assert s.shape == ()
    np.testing.assert_allclose(t.gradient(s, x).numpy(), np.cos([0.5, 1.0, 2.0]), rtol=1e-6)


def test_numpy_add_and_mean_are_recorded():
    x = tf.Variable([1., 2., 3., 4.])
    with tf.GradientTape(persistent=True) as t:
        a = np.add(x, 1)
        m = np.mean(x)
    assert isinstance(a, tf.Tensor) and isinstance(m, tf.Tensor)
    np.testing.assert_array_equal(a.numpy(), [2., 3., 4., 5.])
    assert m.numpy() == 2.5
    np.testing.assert_array_equal(t.gradient(a, x).numpy(), [1., 1., 1., 1.])
    np.testing.assert_array_equal(t.gradient(m, x).numpy(), [0.25, 0.25, 0.25, 0.25])


def test_gradient_of_an_ndarray_target_raises():
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = np.sin(x.numpy())
    assert type(y) is np.ndarray
    with pytest.raises((AttributeError, TypeError)):
        t.gradient(y, x)


def test_ndarray_times_variable_is_a_recorded_tensor():
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        z = np.array(np.arange(20), np.float32) * x
    assert isinstance(z, tf.Tensor)
    g = t.gradient(z, x)
    np.testing.assert_array_equal(g[:3].numpy(), [0., 1., 2.])
    np.testing.assert_array_equal(g.numpy(), np.arange(20, dtype=np.float32))


def test_matplotlib_plots_tensors_without_numpy(pyplot):
    plt = pyplot
    x = tf.Variable(tf.range(-3, 3, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    grad = t.gradient(y, x)
    fig, ax = plt.subplots()
    try:
        line, = ax.plot(x, grad)
        np.testing.assert_array_equal(np.asarray(line.get_xdata(), float), np.arange(-3., 3.))
        np.testing.assert_array_equal(np.asarray(line.get_ydata(), float), 2 * np.arange(-3., 3.))
    finally:
        plt.close(fig)


# === §4.2 things that leave the library =======================================================

def test_numpy_functions_on_tensors_stay_on_the_tape():
    # DELIBERATE DIFFERENCE: TensorFlow returns an ndarray from np.mean and the gradient is None.
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)
        assert isinstance(y, tf.Tensor)
        np.testing.assert_array_equal(y.numpy(), [5., 10.])
        y = tf.reduce_mean(y, axis=0)
    # y = mean of x**2 over all four entries: dy/dx = 2x / 4
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.5, 1.0], [1.5, 2.0]])


def test_math_module_results_are_constants_for_the_tape():
    x = tf.Variable(0.5)
    with tf.GradientTape() as tape:
        s = math.sin(x)                      # a Python float: leaves the library
        y = tf.constant(s) * 2.0
    assert type(s) is float
    assert tape.gradient(y, x) is None


def test_values_converted_to_ndarrays_are_constants_for_the_tape():
    x = tf.Variable([0.5, 1.0])
    with tf.GradientTape() as tape:
        a = x.numpy() * 2.0
        y = tf.constant(a) + 1.0
    assert tape.gradient(y, x) is None
