"""GradientTape construction, the context manager and its lifecycle; stop_recording() and
reset().

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import NOT_RECORDING, raises_exactly, repr_scalar, str_scalar

REENTER = 'Tape is still recording, This can happen if you try to re-enter an already-active tape.'
STOP_NOT_RECORDING = 'Trying to stop recording a tape which is not recording.'


# === §5.1 GradientTape construction, context, lifecycle ======================================

def test_autodiff_gradient_tape_is_gradient_tape():
    assert tf.autodiff.GradientTape is tf.GradientTape


def test_enter_returns_the_tape_itself():
    t = tf.GradientTape()
    with t as entered:
        assert entered is t


def test_positional_arguments_are_persistent_then_watch_accessed_variables():
    v = tf.Variable(2.0)
    c = tf.constant(3.0)
    with tf.GradientTape(True, False) as t:
        t.watch(c)
        y = v * v * c
    assert t.gradient(y, v) is None                 # v was not auto-watched
    assert t.gradient(y, c).numpy() == 4.0
    assert t.gradient(y, c).numpy() == 4.0          # persistent


def test_reentering_after_exit_continues_the_same_tape():
    x = tf.constant(3.0)
    g = tf.GradientTape()
    with g:
        g.watch(x)
        y = 2 * x
    with g:
        z = 2 * y
    assert repr(g.gradient(z, [x])) == f'[{repr_scalar(4.0)}]'


def test_reentering_an_active_tape_raises():
    t = tf.GradientTape()
    with t:
        with raises_exactly(ValueError, REENTER):
            with t:
                pass


def test_watch_before_entering_raises_attribute_error():
    with pytest.raises(AttributeError):
        tf.GradientTape().watch(tf.constant(3.0))


def test_watch_after_a_used_non_persistent_tape_raises_attribute_error():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    with pytest.raises(AttributeError):
        t.watch(x)


def test_reset_before_entering_raises():
    with raises_exactly(ValueError, NOT_RECORDING):
        tf.GradientTape().reset()


def test_stop_recording_before_entering_raises():
    t = tf.GradientTape()
    with raises_exactly(RuntimeError, STOP_NOT_RECORDING):
        with t.stop_recording():
            pass


def test_stop_recording_and_reset_after_exit_raise():
    t = tf.GradientTape(persistent=True)
    with t:
        pass
    with raises_exactly(ValueError, NOT_RECORDING):
        with t.stop_recording():
            pass
    with raises_exactly(ValueError, NOT_RECORDING):
        t.reset()


def test_watch_while_not_recording_is_ignored():
    x = tf.constant(1.0)
    with tf.GradientTape(persistent=True) as t:
        y = x * 2
    t.watch(x)          # not recording: ignored, not remembered for the next entry
    with t:
        w = x * 4
    assert t.gradient(w, x) is None
    assert t.gradient(y, x) is None


def test_entering_after_a_non_persistent_gradient_starts_a_fresh_tape():
    v = tf.Variable(2.0)
    t = tf.GradientTape()
    with t:
        y = v * v
    assert str(t.gradient(y, v)) == str_scalar(4.0)
    with t:
        z = v * v * v
    assert str(t.gradient(z, v)) == str_scalar(12.0)
    with pytest.raises(RuntimeError):
        t.gradient(z, v)


def test_an_exception_inside_the_context_pops_the_tape_and_keeps_the_record():
    x = tf.Variable(3.0)
    t = tf.GradientTape(persistent=True)
    with pytest.raises(KeyError):
        with t:
            y = x * x
            raise KeyError('boom')
    z = x * 5.0                                  # after the exception: not recording
    assert t.gradient(y, x).numpy() == 6.0
    assert t.gradient(z, x) is None
    with t:                                      # and the tape can be entered again
        w = x * 2.0
    assert t.gradient(w, x).numpy() == 2.0


def test_operations_before_entering_are_not_recorded():
    v = tf.Variable(1.0)
    y = v * 2
    with tf.GradientTape() as t:
        z = y * 3
    assert t.gradient(z, v) is None


def test_gradients_stay_valid_after_the_tape_is_deleted():
    v = tf.Variable([1., 2.])
    with tf.GradientTape(persistent=True) as t:
        y = v * v
    g = t.gradient(y, v)
    del t
    np.testing.assert_array_equal(g.numpy(), [2., 4.])


# === §5.2 stop_recording() and reset() ========================================================

def test_stop_recording_hides_ops_from_the_tape():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grad = t.gradient(z, {'x': x, 'y': y})
    assert str(grad['x']) == str_scalar(4.0)
    assert grad['y'] is None


def test_reset_forgets_earlier_ops():
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y_sq = y * y
        t.reset()
        z = x * x + y_sq
    grad = t.gradient(z, {'x': x, 'y': y})
    assert str(grad['x']) == str_scalar(4.0)
    assert grad['y'] is None


def test_stop_recording_pops_only_this_tape():
    c = tf.constant(2.0)
    with tf.GradientTape() as outer:
        outer.watch(c)
        with tf.GradientTape() as inner:
            inner.watch(c)
            with inner.stop_recording():
                q = c * c
    assert inner.gradient(q, c) is None
    assert str(outer.gradient(q, c)) == str_scalar(4.0)


def test_recording_resumes_after_stop_recording():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as t:
        with t.stop_recording():
            a = x * 10.0
        b = x * 3.0
    assert t.gradient(a, x) is None
    assert t.gradient(b, x).numpy() == 3.0


def test_reset_outside_the_context_raises():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    with raises_exactly(ValueError, NOT_RECORDING):
        t.reset()
    assert t.gradient(y, x).numpy() == 4.0     # and the record is untouched
