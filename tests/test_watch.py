"""What a tape watches: watch(), automatic watching of trainable variables on read, and
watching being local to each tape.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import INT_WATCH_WARNING, count, raises_exactly, str_scalar, warning_texts

# === §7.1 watch() ==============================================================================

@pytest.mark.parametrize('bad, text', [
    (np.array(1.0), "Passed in object 1.0 of type 'ndarray', not tf.Tensor or tf.Variable or "
                    "ExtensionType."),
    (1.0, "Passed in object 1.0 of type 'float', not tf.Tensor or tf.Variable or ExtensionType."),
    ([1.0], "Passed in object 1.0 of type 'float', not tf.Tensor or tf.Variable or "
            "ExtensionType."),
    (None, "Passed in object None of type 'NoneType', not tf.Tensor or tf.Variable or "
           "ExtensionType."),
    ('x', "Passed in object x of type 'str', not tf.Tensor or tf.Variable or ExtensionType."),
])
def test_watch_rejects_non_tensors(bad, text):
    with tf.GradientTape() as t:
        with raises_exactly(ValueError, text):
            t.watch(bad)


def test_watch_reports_the_offending_element_of_a_list():
    with tf.GradientTape() as t:
        with raises_exactly(ValueError, "Passed in object 2.0 of type 'float', not tf.Tensor or "
                             "tf.Variable or ExtensionType."):
            t.watch([tf.constant(1.0), 2.0])


def test_watch_accepts_nests():
    a, b, c = tf.constant(1.0), tf.constant(2.0), tf.constant(3.0)
    with tf.GradientTape(persistent=True) as t:
        t.watch({'a': a, 'rest': [b, (c,)]})
        y = a * b * c
    assert [t.gradient(y, s).numpy() for s in (a, b, c)] == [6.0, 3.0, 2.0]


def test_constants_are_not_watched_unless_asked():
    c = tf.constant(2.0)
    with tf.GradientTape() as t:
        y = c * c
    assert t.gradient(y, c) is None


def test_watching_a_tensor_does_not_add_it_to_watched_variables():
    c = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(c)
        y = c * c
    assert t.watched_variables() == ()
    assert t.gradient(y, c).numpy() == 4.0


def test_watching_an_int_tensor_warns_and_gives_none(warning_channels, caplog, recwarn, capsys):
    x = tf.constant(10)
    with tf.GradientTape() as g:
        g.watch(x)
        y = x * x
    assert g.gradient(y, x) is None
    assert count(warning_texts(caplog, recwarn, capsys), INT_WATCH_WARNING) == 1


def test_watching_a_bool_tensor_warns(warning_channels, caplog, recwarn, capsys):
    with tf.GradientTape() as g:
        g.watch(tf.constant(True))
    texts = warning_texts(caplog, recwarn, capsys)
    assert count(texts, 'The dtype of the watched tensor must be floating (e.g. tf.float32), '
                         'got tf.bool') == 1


def test_gradient_with_int_targets_and_sources_does_not_warn(
        warning_channels, caplog, recwarn, capsys):
    x = tf.constant(2.7)
    k = tf.constant(3)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        i = tf.cast(x, tf.int32)
        y = x * 2.0
    assert t.gradient(i, x) is None
    assert t.gradient(y, k) is None
    assert count(warning_texts(caplog, recwarn, capsys), 'must be floating') == 0


def test_watch_inside_stop_recording_is_ignored():
    c = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as t:
        with t.stop_recording():
            t.watch(c)
        y = c * c
    assert t.gradient(y, c) is None


def test_reset_forgets_watched_tensors():
    c = tf.constant(2.0)
    with tf.GradientTape() as t:
        t.watch(c)
        t.reset()
        y = c * c
    assert t.gradient(y, c) is None


# === §7.2 automatic watching of variables ======================================================

def test_only_trainable_variables_that_are_read_are_watched():
    x0 = tf.Variable(3.0, name='x0')
    x1 = tf.Variable(3.0, name='x1', trainable=False)
    x2 = tf.Variable(2.0, name='x2') + 1.0
    x3 = tf.constant(3.0, name='x3')
    with tf.GradientTape() as tape:
        y = (x0**2) + (x1**2) + (x2**2)
    grads = tape.gradient(y, [x0, x1, x2, x3])
    assert str(grads[0]) == str_scalar(6.0)
    assert grads[1:] == [None, None, None]
    assert [var.name for var in tape.watched_variables()] == ['x0:0']


def test_watched_variables_are_in_construction_order():
    b = tf.Variable(1.0, name='b')
    a = tf.Variable(2.0, name='a')
    c = tf.Variable(3.0, name='c')
    with tf.GradientTape() as t:
        _ = a * c * b
    watched = t.watched_variables()
    assert isinstance(watched, tuple)
    assert [v.name for v in watched] == ['b:0', 'a:0', 'c:0']


def test_creation_alone_does_not_watch_a_variable():
    with tf.GradientTape() as t:
        v = tf.Variable(1.0)
        assert t.watched_variables() == ()
        y = v * 2.0
    assert len(t.watched_variables()) == 1 and t.watched_variables()[0] is v
    assert t.gradient(y, v).numpy() == 2.0


def test_non_trainable_variable_can_be_watched_explicitly():
    v = tf.Variable(3.0, trainable=False)
    with tf.GradientTape() as t:
        t.watch(v)
        y = v * v
    assert t.gradient(y, v).numpy() == 6.0


def test_trainable_is_read_only():
    v = tf.Variable(1.0, trainable=False)
    assert v.trainable is False
    assert tf.Variable(1.0).trainable is True
    with pytest.raises(AttributeError):
        v.trainable = True
    assert v.trainable is False


def test_watch_accessed_variables_false():
    x0 = tf.Variable(0.0)
    x1 = tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        ys = tf.reduce_sum(tf.math.sin(x0) + x1 * x1)
    grad = tape.gradient(ys, {'x0': x0, 'x1': x1})
    assert grad['x0'] is None
    assert grad['x1'].numpy() == 20.0
    assert len(tape.watched_variables()) == 1 and tape.watched_variables()[0] is x1


def test_watch_accessed_variables_false_softplus_snippet():
    x0 = tf.Variable(0.0)
    x1 = tf.Variable(10.0)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        ys = tf.reduce_sum(tf.math.sin(x0) + tf.nn.softplus(x1))
    grad = tape.gradient(ys, {'x0': x0, 'x1': x1})
    assert grad['x0'] is None
    assert grad['x1'].numpy() == pytest.approx(0.9999546, rel=1e-6)
    assert len(tape.watched_variables()) == 1


def test_int_variable_is_auto_watched_silently_with_no_gradient(
        warning_channels, caplog, recwarn, capsys):
    i = tf.Variable(2)
    with tf.GradientTape() as t:
        y = i * 3
    assert len(t.watched_variables()) == 1 and t.watched_variables()[0] is i
    assert t.gradient(y, i) is None
    assert count(warning_texts(caplog, recwarn, capsys), 'must be floating') == 0


def test_every_active_tape_watches_a_read_variable():
    v = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = v * v
    assert inner.watched_variables()[0] is v and outer.watched_variables()[0] is v
    assert inner.gradient(y, v).numpy() == 6.0
    assert outer.gradient(y, v).numpy() == 6.0


def test_a_tape_without_auto_watch_ignores_reads_that_others_watch():
    v = tf.Variable(3.0)
    with tf.GradientTape() as outer:
        with tf.GradientTape(watch_accessed_variables=False) as inner:
            y = v * v
    assert inner.watched_variables() == ()
    assert inner.gradient(y, v) is None
    assert outer.gradient(y, v).numpy() == 6.0


def test_watched_variables_lifecycle():
    v = tf.Variable(3.0)
    assert tf.GradientTape().watched_variables() == ()        # never entered
    with tf.GradientTape() as t:
        y = v * v
        t.reset()
        assert t.watched_variables() == ()                     # cleared by reset
        y = v * v
    t.gradient(y, v)
    assert len(t.watched_variables()) == 1 and t.watched_variables()[0] is v   # still reported


# === §7.3 watching is tape-local ===============================================================

def test_watching_is_tape_local():
    x1 = tf.Variable(2.0, trainable=False)
    x2 = tf.Variable(2.0, trainable=False)
    with tf.GradientTape() as tape1:
        with tf.GradientTape() as tape2:
            tape1.watch(x1)
            tape2.watch([x1, x2])
            y = x1**3
            z = x2**2
            dy, dz = tape2.gradient([y, z], [x1, x2])
        d2y, d2z = tape1.gradient([dy, dz], [x1, x2])
    assert (dy.numpy(), dz.numpy(), d2y.numpy()) == (12.0, 4.0, 12.0)
    assert d2z is None
