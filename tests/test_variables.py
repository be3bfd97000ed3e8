"""Variables as state: assignment is not differentiable, reads are.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import math

import numpy as np
import pytest

import tapegrad as tf

from conftest import raises_exactly, str_scalar

# === §15 variables as state ===================================================================

def test_assign_inside_a_tape_is_not_differentiable():
    x = tf.Variable(2.0)
    v = tf.Variable(0.0)
    with tf.GradientTape(persistent=True) as tape:
        v.assign(x * 3.0)
        y = v * v
    assert v.numpy() == 6.0
    assert tape.gradient(y, x) is None
    assert str(tape.gradient(y, v)) == str_scalar(12.0)


def test_every_read_counts_with_its_value_at_read_time():
    w = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y1 = w * 1.0
        w.assign(3.0)
        y2 = w * w
        s = y1 + y2
    assert str(t.gradient(s, w)) == str_scalar(7.0)


def test_assign_add_then_read_gives_no_gradient_to_the_added_value():
    x0 = tf.Variable(3.0)
    x1 = tf.Variable(0.0)
    with tf.GradientTape(persistent=True) as tape:
        x1.assign_add(x0)
        y = x1**2
    assert x1.numpy() == 3.0
    assert tape.gradient(y, x0) is None
    assert tape.gradient(y, x1).numpy() == 6.0


def test_assign_returns_an_unread_variable():
    w = tf.Variable(1.0)
    r = w.assign(5.0)
    assert repr(r) == "<tapegrad.Variable 'UnreadVariable' shape=() dtype=float32, numpy=5.0>"
    assert isinstance(r, tf.Variable)
    assert r is not w
    assert w.numpy() == 5.0


def test_assign_add_and_assign_sub_values_and_reprs():
    v = tf.Variable([1., 2.])
    assert repr(v.assign_add([1., 1.])) == (
        "<tapegrad.Variable 'UnreadVariable' shape=(2,) dtype=float32, "
        "numpy=array([2., 3.], dtype=float32)>")
    v.assign_sub(tf.constant([0.5, 0.5]))
    np.testing.assert_array_equal(v.numpy(), [1.5, 2.5])


def test_using_the_unread_variable_reads_the_variable():
    v = tf.Variable(1.0)
    with tf.GradientTape() as t:
        r = v.assign(2.0)
        y = r * r
    assert y.numpy() == 4.0
    assert t.gradient(y, v).numpy() == 4.0


def test_assign_with_read_value_false_returns_none():
    v = tf.Variable([1., 2.])
    assert v.assign([3., 4.], read_value=False) is None
    np.testing.assert_array_equal(v.numpy(), [3., 4.])


def test_assign_shape_mismatch_raises():
    v = tf.Variable([1., 2.])
    with raises_exactly(ValueError, "Cannot assign value to variable ' Variable:0': Shape "
                         "mismatch.The variable shape (2,), and the assigned value shape (3,) "
                         "are incompatible."):
        v.assign([1., 2., 3.])
    np.testing.assert_array_equal(v.numpy(), [1., 2.])


def test_assign_dtype_mismatch_raises():
    v = tf.Variable([1., 2.])
    with raises_exactly(ValueError, 'Tensor conversion requested dtype float32 for Tensor with '
                         'dtype int32: <tapegrad.Tensor: shape=(2,), dtype=int32, '
                         'numpy=array([1, 2], dtype=int32)>'):
        v.assign(tf.constant([1, 2]))


def test_assigning_a_float_to_an_int_variable_raises():
    # TF: "Cannot convert 0.5 to EagerTensor of dtype int32"; the class name is TF-internal.
    v = tf.Variable(1)
    with pytest.raises(TypeError, match=r'^Cannot convert 0\.5 to .*Tensor of dtype int32$'):
        v.assign_add(0.5)
    assert v.numpy() == 1


def test_variable_item_assignment_raises():
    # TF: "'ResourceVariable' object does not support item assignment"; the class name is
    # TF-internal, the rest of the sentence is Python's.
    w = tf.Variable([1.0, 2.0])
    with pytest.raises(TypeError, match=r"^'[\w.]*Variable' object does not support item "
                                        r"assignment"):
        w[0] = 1.0
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_sliced_assign_works():
    v = tf.Variable([1., 2., 3.])
    v[0].assign(10.)
    v[1:].assign([20., 30.])
    np.testing.assert_array_equal(v.numpy(), [10., 20., 30.])


def test_sliced_assign_in_a_loop_is_not_differentiable():
    x = tf.Variable(tf.range(-2, 2, 1, dtype=tf.float32))
    y = tf.Variable(tf.zeros_like(x))
    with tf.GradientTape() as t:
        for k in range(tf.size(y)):
            y[k].assign(math.sin(x[k]))
    np.testing.assert_allclose(y.numpy(), [-0.9092974, -0.84147096, 0., 0.84147096], rtol=1e-6)
    assert t.gradient(y, x) is None


def test_sliced_assign_with_tf_math_sin_is_not_differentiable_either():
    x = tf.Variable([-1., 0., 1.])
    y = tf.Variable(tf.zeros_like(x))
    with tf.GradientTape() as t:
        for k in range(3):
            y[k].assign(tf.math.sin(x[k]))
    np.testing.assert_allclose(y.numpy(), np.sin([-1., 0., 1.]), rtol=1e-6)
    assert t.gradient(y, x) is None


def test_replacing_a_variable_by_a_tensor_loses_the_gradient():
    x = tf.Variable(2.0)
    grads = []
    for _ in range(2):
        with tf.GradientTape() as tape:
            y = x + 1
        grads.append(tape.gradient(y, x))
        x = x + 1          # should have been x.assign_add(1)
    assert grads[0].numpy() == 1.0
    assert grads[1] is None


# === §15 in-place operators (TensorFlow 2.21's BaseResourceVariable) ===========================
# TensorFlow's ResourceVariable defines __iadd__, __isub__, __imul__, __itruediv__ and __ipow__ to
# raise RuntimeError; every other in-place operator falls back to the plain operator, so the name
# is rebound to a Tensor.  The first sentence of each message is TensorFlow's.

@pytest.mark.parametrize('statement, first_sentence, fix', [
    ('v += 1', '`variable += value` with `tf.Variable`s is not supported.', 'variable.assign_add(value)'),
    ('v -= 1', '`variable -= value` with `tf.Variable`s is not supported.', 'variable.assign_sub(value)'),
    ('v *= 2', '`var *= value` with `tf.Variable`s is not supported.', 'var.assign(var * value)'),
    ('v /= 2', '`var /= value` with `tf.Variable`s is not supported.', 'var.assign(var / value)'),
    ('v **= 2', '`var **= value` with `tf.Variable`s is not supported.', 'var.assign(var ** value)'),
])
def test_in_place_arithmetic_on_a_variable_raises_runtime_error(statement, first_sentence, fix):
    namespace = {'v': tf.Variable(3.0)}
    with pytest.raises(RuntimeError) as info:
        exec(statement, namespace)
    message = str(info.value)
    assert message.startswith(first_sentence)
    assert f'`{fix}`' in message and 'gradients would be None' in message
    assert isinstance(namespace['v'], tf.Variable) and namespace['v'].numpy() == 3.0   # unchanged


@pytest.mark.parametrize('statement', ['v //= 2', 'v %= 2'])
def test_other_in_place_operators_rebind_to_a_tensor_as_in_tensorflow(statement):
    v = tf.Variable(7.0)
    namespace = {'v': v}
    exec(statement, namespace)
    assert isinstance(namespace['v'], tf.Tensor) and v.numpy() == 7.0


def test_in_place_arithmetic_on_a_tensor_rebinds():
    t = tf.constant(1.0)
    t += 1
    assert str(t) == str_scalar(2.0)
