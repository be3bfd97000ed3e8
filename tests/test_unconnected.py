"""Unconnected sources: None by default, zeros of the source's shape and dtype on request.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import enum

import numpy as np
import pytest

import tapegrad as tf

from conftest import raises_exactly

# === §9 unconnected sources: None vs zeros ====================================================

def test_unconnected_sources_give_none_or_typed_zeros():
    x = tf.Variable([2., 2.])
    y = tf.Variable(3.)
    i = tf.constant([1, 2])
    with tf.GradientTape(persistent=True) as tape:
        z = y**2
    assert tape.gradient(z, x) is None
    assert repr(tape.gradient(z, [x, y, i], unconnected_gradients=tf.UnconnectedGradients.ZERO)) == (
        '[<tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0., 0.], dtype=float32)>, '
        '<tapegrad.Tensor: shape=(), dtype=float32, numpy=6.0>, '
        '<tapegrad.Tensor: shape=(2,), dtype=int32, numpy=array([0, 0], dtype=int32)>]')


@pytest.mark.parametrize('bad', ['nonsense', 'ZERO', 'None'])
def test_unknown_unconnected_gradients_value_raises(bad):
    y = tf.Variable(3.)
    with tf.GradientTape(persistent=True) as tape:
        z = y**2
    with raises_exactly(ValueError, f'Unknown value for unconnected_gradients: {bad!r}'):
        tape.gradient(z, y, unconnected_gradients=bad)


def test_unconnected_gradients_strings_and_enum_members():
    x = tf.Variable([2., 2.])
    y = tf.Variable(3.)
    with tf.GradientTape(persistent=True) as tape:
        z = y**2
    assert tape.gradient(z, x, unconnected_gradients='none') is None
    assert tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.NONE) is None
    zeros = tape.gradient(z, x, unconnected_gradients='zero')
    np.testing.assert_array_equal(zeros.numpy(), [0., 0.])
    assert zeros.dtype == tf.float32


def test_unconnected_gradients_is_an_enum():
    assert issubclass(tf.UnconnectedGradients, enum.Enum)
    assert tf.UnconnectedGradients.NONE.value == 'none'
    assert tf.UnconnectedGradients.ZERO.value == 'zero'
    assert tf.UnconnectedGradients('zero') is tf.UnconnectedGradients.ZERO


def test_zeros_keep_the_source_dtype_for_variables_and_intermediates():
    y = tf.Variable(3.)
    d = tf.constant([1., 2.], dtype=tf.float64)
    iv = tf.Variable([1, 2, 3])
    with tf.GradientTape(persistent=True) as tape:
        u = y * 2.0                      # recorded, but z does not depend on it
        k = tf.cast(y, tf.int32)
        z = y**2
    gd, giv, gu, gk = tape.gradient(z, [d, iv, u, k], unconnected_gradients='zero')
    assert gd.dtype == tf.float64 and gd.shape == (2,)
    assert giv.dtype == tf.int32 and giv.shape == (3,)
    assert gu.dtype == tf.float32 and gu.shape == ()
    assert gk.dtype == tf.int32 and gk.shape == ()
    for g in (gd, giv, gu, gk):
        assert not np.any(g.numpy())
