"""Persistence: the one-shot rule of non-persistent tapes, and gradient() called while the
tape is still recording.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import (
    NOT_RECORDING,
    ONE_SHOT,
    count,
    raises_exactly,
    raises_starting,
    str_scalar,
    warning_texts,
)

TARGET_NONE = ('Argument `target` should be a list or nested structure of Tensors, Variables or '
               'CompositeTensors to be differentiated, but received None.')


# === §6.1 the one-shot rule ====================================================================

def test_second_gradient_on_a_non_persistent_tape_raises():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    assert repr(t.gradient(y, x)) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                                      'numpy=array([0., 2., 4., 6.], dtype=float32)>')
    with raises_starting(RuntimeError, ONE_SHOT):
        t.gradient(y, x)
    with raises_starting(RuntimeError, ONE_SHOT):   # and every later call
        t.gradient(y, x)


def test_jacobian_after_gradient_raises():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    with raises_starting(RuntimeError, ONE_SHOT):
        t.jacobian(y, x)


def test_gradient_after_jacobian_raises():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as t:
        y = x * x
    np.testing.assert_array_equal(t.jacobian(y, x).numpy(), [[2., 0.], [0., 4.]])
    with raises_starting(RuntimeError, ONE_SHOT):
        t.gradient(y, x)


def test_batch_jacobian_after_gradient_raises_with_tfs_typo():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    # TF's typo "tocompute" survives in batch_jacobian only.
    with raises_starting(RuntimeError, 'A non-persistent GradientTape can only be used tocompute '
                         'one set of gradients (or jacobians)'):
        t.batch_jacobian(tf.reshape(y, [4, 1]), tf.reshape(x, [4, 1]))


def test_target_none_raises_and_does_not_consume_the_tape():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y = x * 2
    with raises_exactly(TypeError, TARGET_NONE):
        t.gradient(None, x)
    with raises_exactly(ValueError, "Unknown value for unconnected_gradients: 'nonsense'"):
        t.gradient(y, x, unconnected_gradients='nonsense')
    assert str(t.gradient(y, x)) == str_scalar(2.0)     # still usable once
    with raises_starting(RuntimeError, ONE_SHOT):
        t.gradient(y, x)


def test_persistent_tape_results_are_identical_and_not_accumulated():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    results = [t.gradient(y, x).numpy() for _ in range(3)]
    for r in results:
        np.testing.assert_array_equal(r, [2., 4., 6.])


# === §6.2 gradient() while the tape is still recording ========================================

def test_persistent_tape_records_its_own_gradient_inside_the_context():
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as g:
        y = x ** 3
        dy = g.gradient(y, x)
        d2 = g.gradient(dy, x)
    d3 = g.gradient(d2, x)
    assert (dy.numpy(), d2.numpy(), d3.numpy()) == (27.0, 18.0, 6.0)
    assert g.gradient(d3, x) is None          # d3 was computed after leaving the context


def test_non_persistent_gradient_inside_the_context_pops_the_tape():
    x = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y = x * x
        assert str(t.gradient(y, x)) == str_scalar(6.0)
        w = x * 5.0
        with raises_starting(RuntimeError, ONE_SHOT):
            t.gradient(w, x)
        with raises_exactly(ValueError, NOT_RECORDING):
            t.reset()
    # leaving the block is fine; and the tape is gone for watch()
    with pytest.raises(AttributeError):
        t.watch(x)


def test_non_persistent_gradient_inside_the_context_stops_recording():
    x = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as t:
            y = x * x
            t.gradient(y, x)
            w = x * 5.0      # recorded by outer only
    assert outer.gradient(w, x).numpy() == 5.0


def test_gradient_inside_stop_recording_records_nothing(warning_channels, caplog, recwarn, capsys):
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as g:
        y = x ** 3
        with g.stop_recording():
            dy = g.gradient(y, x)
    assert dy.numpy() == 27.0
    assert g.gradient(dy, x) is None
    assert count(warning_texts(caplog, recwarn, capsys), 'Calling GradientTape.gradient') == 0
