"""Dtypes: what Python and NumPy values become, creation defaults, no implicit promotion
between tensors; integer sources and casts on the tape.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import str_scalar

# === §3.1 dtype rules ==========================================================================

def test_range_dtypes():
    assert tf.range(4).dtype == tf.int32
    assert tf.range(4, dtype=tf.float32).dtype == tf.float32
    r = tf.range(-10, 10, 0.1)
    assert r.dtype == tf.float32
    assert r.shape == (200,)


def test_python_values_become_float32_int32_bool():
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.constant(1).dtype == tf.int32
    assert tf.constant([1, 2.]).dtype == tf.float32
    assert tf.constant(True).dtype == tf.bool


def test_numpy_values_keep_their_dtype():
    assert tf.constant(np.ones(4)).dtype == tf.float64
    assert tf.constant(np.array([1])).dtype == tf.int64
    assert tf.constant(np.float64(1.0)).dtype == tf.float64
    assert tf.constant(np.array([1.0])).dtype == tf.float64


def test_creation_defaults():
    assert tf.ones(4).dtype == tf.float32
    assert tf.zeros(4).dtype == tf.float32
    assert tf.random.normal([3]).dtype == tf.float32
    assert tf.linspace(0., 1., 5).dtype == tf.float32
    assert tf.Variable(1).dtype == tf.int32


def test_integer_true_division_is_float64_and_floor_division_stays_int32():
    assert (tf.constant([3, 4]) / tf.constant([3, 4])).dtype == tf.float64
    half = tf.range(4) / 2
    assert half.dtype == tf.float64
    np.testing.assert_array_equal(half.numpy(), [0., 0.5, 1., 1.5])
    q = tf.constant([1, 2]) // 2
    assert q.dtype == tf.int32
    np.testing.assert_array_equal(q.numpy(), [0, 1])


def test_python_and_numpy_scalars_adopt_the_tensor_dtype():
    assert (tf.constant(1.0, dtype=tf.float64) * 2.0).dtype == tf.float64
    assert (tf.constant([1., 2.]) * np.float64(2.0)).dtype == tf.float32
    assert (tf.constant([1, 2]) + 1).dtype == tf.int32


def test_no_implicit_promotion_between_tensors():
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1) + tf.constant(1.0)
    with pytest.raises(tf.errors.InvalidArgumentError):
        tf.constant(1.0, dtype=tf.float64) * tf.constant(2.0)


def test_a_python_float_cannot_enter_an_int_tensor():
    # TF: "Cannot convert 2.5 to EagerTensor of dtype int32"; the class name is TF-internal.
    with pytest.raises(TypeError, match=r'^Cannot convert 2\.5 to .*Tensor of dtype int32$'):
        tf.constant(1) * 2.5


# === §3.2 integer sources and casts ===========================================================

def test_casts_to_int_cut_the_path_and_float_casts_keep_the_source_dtype():
    x = tf.constant(2.7)
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        i = tf.cast(x, tf.int32)
        z = tf.cast(i, tf.float32) * x
        w = tf.cast(x, tf.float64) * 2
    assert str(g.gradient(z, x)) == str_scalar(2.0)
    assert w.dtype == tf.float64
    assert str(g.gradient(w, x)) == str_scalar(2.0)          # float32, the source's dtype
    assert g.gradient(i, x) is None


def test_integer_sources_get_none():
    i = tf.constant([1, 2])
    with tf.GradientTape() as t:
        t.watch(i)
        y = i * i
    assert t.gradient(y, i) is None
