"""tf.stop_gradient: a constant for every tape.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np

import tapegrad as tf

from conftest import repr_scalar

# === §11 tf.stop_gradient =====================================================================

def test_stop_gradient_is_a_constant_for_the_tape():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        u = tf.stop_gradient(y)
        z = u * x
    x_grad = t.gradient(z, x)
    all_true = ('<tapegrad.Tensor: shape=(4,), dtype=bool, '
                'numpy=array([ True,  True,  True,  True])>')
    assert repr(x_grad == u) == all_true
    assert repr(t.gradient(y, x) == 2 * x) == all_true
    assert t.gradient(u, x) is None
    assert t.gradient(u, y) is None


def test_stop_gradient_output_can_be_watched_as_a_new_source():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as t:
        u = tf.stop_gradient(x * x)
        t.watch(u)
        z = u * x
    np.testing.assert_array_equal(t.gradient(z, u).numpy(), [1., 2.])


def test_stop_gradient_converts_python_and_numpy_values():
    a = tf.stop_gradient(3.0)
    b = tf.stop_gradient([1, 2])
    c = tf.stop_gradient(np.ones(2))
    assert isinstance(a, tf.Tensor) and not isinstance(tf.stop_gradient(tf.Variable(1.0)),
                                                      tf.Variable)
    assert repr(a) == repr_scalar(3.0)
    assert repr(b) == ('<tapegrad.Tensor: shape=(2,), dtype=int32, '
                       'numpy=array([1, 2], dtype=int32)>')
    assert repr(c) == ('<tapegrad.Tensor: shape=(2,), dtype=float64, '
                       'numpy=array([1., 1.])>')
