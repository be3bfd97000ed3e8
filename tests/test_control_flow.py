"""Python control flow on tensors: the tape records the branch that ran.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import TRUTH_VALUE, d2l_f, raises_exactly

# === §16 Python control flow ==================================================================

@pytest.mark.parametrize('val, grad, equal, ratio', [
    (-1.1861123, 102400.0, True, 102400.0),
    (0.7092207, 2048.0, True, 2048.0),
    (-1.5694, 102400.0, False, 102400.01),      # float32 rounding of d / a
])
def test_control_flow_gradient_is_the_constant_factor(val, grad, equal, ratio):
    a = tf.Variable(val)
    with tf.GradientTape() as t:
        d = d2l_f(a)
    g = t.gradient(d, a)
    assert g.numpy() == grad
    assert bool(g == d / a) is equal
    assert (d / a).numpy() == np.float32(ratio)


def test_control_flow_gradient_has_the_shape_of_the_input():
    a = tf.Variable([[0.02355854, 0.7092207]])
    with tf.GradientTape() as t:
        d = d2l_f(a)
    assert repr(t.gradient(d, a)) == ('<tapegrad.Tensor: shape=(1, 2), dtype=float32, '
                                      'numpy=array([[2048., 2048.]], dtype=float32)>')


def test_if_on_a_two_element_tensor_raises():
    with raises_exactly(ValueError, TRUTH_VALUE):
        if tf.constant([1., 2.]) > 0:
            pass


def test_a_tensor_used_only_in_a_condition_gets_none():
    x = tf.Variable(1.0)
    c = tf.Variable(5.0)
    with tf.GradientTape() as t:
        y = x * 2.0 if c > 3.0 else x * 4.0
    gx, gc = t.gradient(y, [x, c])
    assert gx.numpy() == 2.0
    assert gc is None


def test_while_loop_on_a_tensor_condition():
    x = tf.Variable(1.5)
    with tf.GradientTape() as t:
        y = x
        while y < 10.0:
            y = y * x
    assert y.numpy() == pytest.approx(1.5 ** 6)           # x**6 = 11.39...
    assert t.gradient(y, x).numpy() == pytest.approx(6 * 1.5 ** 5, rel=1e-6)


def test_exp_gradient_equals_the_value():
    x = tf.Variable(1.5236874)
    with tf.GradientTape() as t:
        y = tf.math.exp(x)
    assert bool(y == t.gradient(y, x)) is True


def test_branch_on_a_vector_sum():
    x = tf.Variable([[0.3], [-0.9], [0.2]])           # sum < 0.5: the 2*cos branch
    with tf.GradientTape() as t:
        if tf.math.reduce_sum(x) > 0.5:
            y = tf.math.sin(x)
        else:
            y = 2 * tf.math.cos(x)
    np.testing.assert_allclose(t.gradient(y, x).numpy(), -2 * np.sin(x.numpy()), rtol=1e-6)


def test_iterating_a_range_tensor_yields_int32_scalars():
    items = list(tf.range(3))
    assert len(items) == 3
    for k, item in enumerate(items):
        assert isinstance(item, tf.Tensor)
        assert item.dtype == tf.int32 and item.shape == ()
        assert int(item) == k
