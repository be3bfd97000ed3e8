"""tf.function: a pass-through decorator.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""


import tapegrad as tf

from conftest import repr_scalar

# === §19 tf.function ==========================================================================

def test_tf_function_is_a_pass_through_decorator():
    @tf.function
    def square(v):
        return v * v

    x = tf.Variable(1.)
    with tf.GradientTape() as t:
        y = square(x)
    assert repr(t.gradient(y, x)) == repr_scalar(2.0)


def test_tf_function_called_directly_behaves_like_the_function():
    def cube(v, k=1.0):
        return v * v * v * k

    fast = tf.function(cube)
    x = tf.Variable(2.)
    with tf.GradientTape() as t:
        y = fast(x, k=2.0)
    assert y.numpy() == 16.0
    assert t.gradient(y, x).numpy() == 24.0
    assert fast(tf.constant(3.0)).numpy() == 27.0
