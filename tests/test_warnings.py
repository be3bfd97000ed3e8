"""TensorFlow's warnings and their rate limits, on whichever channel tapegrad uses.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np

import tapegrad as tf

from conftest import INT_WATCH_WARNING, count, warning_texts

PERSISTENT_IN_CONTEXT_WARNING = (
    'Calling GradientTape.gradient on a persistent tape inside its context is significantly '
    'less efficient than calling it outside the context (it causes the gradient ops to be '
    'recorded on the tape, leading to increased CPU and memory usage). Only call '
    'GradientTape.gradient inside the context if you actually want to trace the gradient in '
    'order to compute higher order derivatives.')


# === §18 warnings and their rate limits (and the §6.2 / §7.1 / §10 warnings) ===================

def test_int_watch_warning_is_logged_at_most_five_times_per_line(
        warning_channels, caplog, recwarn, capsys):
    for i in range(7):
        with tf.GradientTape() as g:
            g.watch(tf.constant(i))
    texts = warning_texts(caplog, recwarn, capsys)
    assert count(texts, INT_WATCH_WARNING) == 5


def test_int_watch_warning_counts_per_calling_line(warning_channels, caplog, recwarn, capsys):
    for i in range(6):
        with tf.GradientTape() as g:
            g.watch(tf.constant(i))
    with tf.GradientTape() as g:
        g.watch(tf.constant(7))                # another line: its own budget
    assert count(warning_texts(caplog, recwarn, capsys), INT_WATCH_WARNING) == 6


def test_persistent_in_context_warning_is_logged_once_per_line(
        warning_channels, caplog, recwarn, capsys):
    v = tf.Variable(1.0)
    for _ in range(3):
        with tf.GradientTape(persistent=True) as t:
            y = v * v
            t.gradient(y, v)
    texts = warning_texts(caplog, recwarn, capsys)
    assert count(texts, PERSISTENT_IN_CONTEXT_WARNING) == 1


def test_persistent_in_context_warning_on_two_lines_warns_twice(
        warning_channels, caplog, recwarn, capsys):
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as g:
        y = x ** 3
        dy = g.gradient(y, x)
        d2 = g.gradient(dy, x)
    g.gradient(d2, x)                         # outside the context: no warning
    assert count(warning_texts(caplog, recwarn, capsys), PERSISTENT_IN_CONTEXT_WARNING) == 2


def test_hessian_snippet_warns_once(warning_channels, caplog, recwarn, capsys):
    x = tf.Variable(3.)
    y = tf.Variable(4.)
    with tf.GradientTape(persistent=True) as tape:
        f = x*x*y + y + 2
        df_dx, df_dy = tape.gradient(f, [x, y])
    tape.gradient(df_dx, [x, y])
    tape.gradient(df_dy, [x, y])
    assert count(warning_texts(caplog, recwarn, capsys), PERSISTENT_IN_CONTEXT_WARNING) == 1


def test_no_warning_for_gradients_outside_the_context_or_non_persistent(
        warning_channels, caplog, recwarn, capsys):
    x = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as p:
        y = x * x
    p.gradient(y, x)
    with tf.GradientTape() as t:
        y = x * x
        t.gradient(y, x)                      # non-persistent inside its context: silent
    with tf.GradientTape() as t:
        t.watch(tf.constant(1.0))             # float watch: silent
    texts = warning_texts(caplog, recwarn, capsys)
    assert count(texts, 'Calling GradientTape.gradient') == 0
    assert count(texts, 'must be floating') == 0


def test_jacobian_inside_a_persistent_context_warns(warning_channels, caplog, recwarn, capsys):
    x = tf.Variable([1., 2.])
    with tf.GradientTape(persistent=True) as g:
        y = x * x
        j = g.jacobian(y, x)
    np.testing.assert_array_equal(j.numpy(), [[2., 0.], [0., 4.]])
    assert count(warning_texts(caplog, recwarn, capsys), PERSISTENT_IN_CONTEXT_WARNING) == 1
