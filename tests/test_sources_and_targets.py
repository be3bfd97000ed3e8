"""gradient()'s arguments: nests of sources, summed targets, output_gradients, and
intermediate tensors as sources.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import numpy as np
import pytest

import tapegrad as tf

from conftest import repr_scalar, str_scalar

# === §8.1 sources: any nest, same structure back =============================================

def _three_watched_constants():
    x1, x2, x3 = tf.constant(3.0), tf.constant(3.1), tf.constant(3.2)
    g = tf.GradientTape(persistent=True)
    with g:
        g.watch(x1)
        g.watch(x2)
        g.watch(x3)
        y = x1 + 2 * x2 + 3 * x3
    return g, y, x1, x2, x3


def test_single_source_gives_a_single_gradient():
    g, y, x1, _, _ = _three_watched_constants()
    assert str(g.gradient(y, x1)) == str_scalar(1.0)


def test_nested_sources_give_the_same_structure():
    g, y, x1, x2, x3 = _three_watched_constants()
    assert repr(g.gradient(y, {'a': x1, 'b': [x2, (x3,)]})) == (
        f"{{'a': {repr_scalar(1.0)}, 'b': [{repr_scalar(2.0)}, ({repr_scalar(3.0)},)]}}")
    pair = g.gradient(y, (x2, x3))
    assert type(pair) is tuple and [p.numpy() for p in pair] == [2.0, 3.0]


def test_repeated_and_empty_sources():
    g, y, x1, _, _ = _three_watched_constants()
    assert repr(g.gradient(y, [x1, x1])) == f'[{repr_scalar(1.0)}, {repr_scalar(1.0)}]'
    empty_list, empty_tuple = g.gradient(y, []), g.gradient(y, ())
    assert type(empty_list) is list and empty_list == []
    assert type(empty_tuple) is tuple and empty_tuple == ()


def test_a_python_list_times_a_variable_with_matmul():
    w = tf.Variable([[1., 2.], [3., 4.], [5., 6.]])
    b = tf.Variable([0.5, -0.5])
    x = [[1., 2., 3.]]
    with tf.GradientTape() as tape:
        y = x @ w + b
        loss = tf.reduce_mean(y**2)
    np.testing.assert_array_equal(y.numpy(), [[22.5, 27.5]])
    dl_dw, dl_db = tape.gradient(loss, [w, b])
    np.testing.assert_allclose(dl_dw.numpy(), [[22.5, 27.5], [45., 55.], [67.5, 82.5]], rtol=1e-6)
    np.testing.assert_allclose(dl_db.numpy(), [22.5, 27.5], rtol=1e-6)


# === §8.2 targets: nests and non-scalars are summed ===========================================

def test_nested_and_non_scalar_targets_are_summed():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y0 = x**2
        y1 = 1 / x
        y2 = x * [3., 4.]
    assert tape.gradient(y0, x).numpy() == 4.0
    assert tape.gradient(y1, x).numpy() == -0.25
    assert tape.gradient({'y0': y0, 'y1': y1}, x).numpy() == 3.75
    assert tape.gradient([y0, [y1, (y0,)]], x).numpy() == 7.75     # y0 counted twice
    assert tape.gradient(y2, x).numpy() == 7.0
    assert tape.gradient([], x) is None


def test_a_target_that_is_the_source_gives_ones():
    c = tf.constant(2.0)
    with tf.GradientTape(persistent=True) as tape:
        pass                                           # nothing recorded
    assert str(tape.gradient(c, c)) == str_scalar(1.0)
    assert str(tape.gradient([c, c], c)) == str_scalar(2.0)


def test_an_int_target_that_is_the_source_gives_int_ones():
    i = tf.constant([1, 2])
    with tf.GradientTape() as tape:
        pass
    assert repr(tape.gradient(i, i)) == ('<tapegrad.Tensor: shape=(2,), dtype=int32, '
                                         'numpy=array([1, 1], dtype=int32)>')


def test_a_variable_target_is_accepted():
    v = tf.Variable([1., 2.])
    w = tf.Variable(3.0)
    with tf.GradientTape(persistent=True) as tape:
        pass
    np.testing.assert_array_equal(tape.gradient(v, v).numpy(), [1., 1.])
    assert tape.gradient(v, w) is None


def test_a_python_float_target_raises():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        x * 2
    with pytest.raises((AttributeError, TypeError)):
        t.gradient(1.0, x)


def test_none_inside_the_sources_raises_type_error():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t:
        y = x * 2
    with pytest.raises(TypeError):
        t.gradient(y, [x, None])


# === §8.3 output_gradients ====================================================================

def test_output_gradients_weight_the_targets():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        z = x * 2
    np.testing.assert_array_equal(
        t.gradient(y, x, output_gradients=tf.constant([1., 10., 100.])).numpy(), [2., 40., 600.])
    # a plain list for one target is flattened: only its first number is used
    np.testing.assert_array_equal(
        t.gradient(y, x, output_gradients=[1., 10., 100.]).numpy(), [2., 4., 6.])
    # fewer seeds than targets: the rest default to ones
    np.testing.assert_array_equal(
        t.gradient([y, z], x, output_gradients=[tf.ones(3)]).numpy(), [4., 6., 8.])


def test_one_output_gradient_per_flattened_target():
    a = tf.constant(3.0)
    b = tf.constant(2.0)
    with tf.GradientTape() as t2:
        t2.watch([a, b])
        loss = a * b
    assert repr(t2.gradient([loss, a], [a], output_gradients=[1.0, 2.0])) == (
        f'[{repr_scalar(4.0)}]')


def test_output_gradients_may_be_python_or_numpy_numbers():
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    assert t.gradient(y, x, output_gradients=3.0).numpy() == 12.0
    assert t.gradient(y, x, output_gradients=np.float32(3.0)).numpy() == 12.0


def test_output_gradients_shape_mismatch_raises():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    with pytest.raises(tf.errors.InvalidArgumentError):
        t.gradient(y, x, output_gradients=tf.ones(2))


def test_a_none_output_gradient_raises():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    with pytest.raises(ValueError):
        t.gradient(y, x, output_gradients=[None])


# === §8.4 intermediate tensors as sources =====================================================

def test_intermediate_tensors_as_sources():
    x = tf.ones(4)
    with tf.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x + 2
        y2 = y ** 2
        z = 3 * y2
    assert str(t.gradient(z, y)) == 'tapegrad.Tensor([18. 18. 18. 18.], shape=(4,), dtype=float32)'
    assert str(t.gradient(y, x)) == 'tapegrad.Tensor([1. 1. 1. 1.], shape=(4,), dtype=float32)'


def test_an_unrecorded_intermediate_gets_none():
    c = tf.constant(3.0)
    with tf.GradientTape() as t2:
        u = c * c          # c not watched: u is not on the tape
        w = u * u
    assert t2.gradient(w, u) is None
