"""The Tensor and Variable surface: repr and str, numpy() and conversions, truth values,
comparisons and hashing, types, shapes and indexing.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import math

import numpy as np
import pytest

import tapegrad as tf

from conftest import TRUTH_VALUE, raises_exactly, repr_scalar, str_scalar

# === §2.1 repr / str =========================================================================

def test_repr_and_str_of_a_float_vector():
    x = tf.range(4, dtype=tf.float32)
    assert repr(x) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                       'numpy=array([0., 1., 2., 3.], dtype=float32)>')
    assert str(x) == 'tapegrad.Tensor([0. 1. 2. 3.], shape=(4,), dtype=float32)'


def test_repr_and_str_of_a_variable_are_equal():
    v = tf.Variable(tf.range(4, dtype=tf.float32))
    expected = ("<tapegrad.Variable 'Variable:0' shape=(4,) dtype=float32, "
                "numpy=array([0., 1., 2., 3.], dtype=float32)>")
    assert repr(v) == expected
    assert str(v) == expected


def test_repr_of_a_named_variable():
    assert repr(tf.Variable(2.0, name='w')) == (
        "<tapegrad.Variable 'w:0' shape=() dtype=float32, numpy=2.0>")
    assert tf.Variable(2.0, name='w').name == 'w:0'


def test_every_unnamed_variable_is_variable_0():
    a, b = tf.Variable(1.0), tf.Variable(2.0)
    assert a.name == b.name == 'Variable:0'


def test_repr_of_scalars_of_each_dtype():
    assert repr(tf.constant(3)) == repr_scalar(3, 'int32')
    assert repr(tf.constant(True)) == repr_scalar(True, 'bool')
    assert repr(tf.constant(1.5)) == repr_scalar(1.5)


def test_float32_scalar_repr_uses_the_python_float_of_the_value():
    assert repr(tf.constant(0.1)) == repr_scalar('0.10000000149011612')
    assert str(tf.constant(0.1)) == str_scalar('0.1')
    assert repr(tf.constant(0.1, dtype=tf.float64)) == repr_scalar('0.1', 'float64')


def test_matrix_repr_puts_a_newline_after_numpy():
    assert repr(tf.constant([[1., 2.], [3., 4.]])) == (
        '<tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=\n'
        'array([[1., 2.],\n'
        '       [3., 4.]], dtype=float32)>')


def test_matrix_str_puts_a_newline_after_the_parenthesis():
    # As TF prints jacobians (docs/tensorflow_semantics.md §12.1): the multi-line str(ndarray)
    # starts on its own line.
    assert str(tf.constant([[2., 0.], [0., 4.]])) == (
        'tapegrad.Tensor(\n[[2. 0.]\n [0. 4.]], shape=(2, 2), dtype=float32)')


def test_dtype_repr_and_str():
    assert repr(tf.float32) == 'tapegrad.float32'
    assert str(tf.float32) == "<dtype: 'float32'>"
    assert str(tf.constant(1).dtype) == "<dtype: 'int32'>"


def test_dtype_name_and_numpy_equality():
    assert tf.float32.name == 'float32'
    assert tf.float64.name == 'float64'
    assert tf.constant(1.0).dtype == tf.float32
    assert tf.float32 == np.float32
    assert tf.float32 != tf.float64


# === §2.2 numpy() and conversions =============================================================

def test_numpy_returns_a_writable_copy():
    x = tf.constant([1., 2.])
    a = x.numpy()
    a[0] = 100.
    assert type(a) is np.ndarray
    assert a.dtype == np.float32
    np.testing.assert_array_equal(x.numpy(), [1., 2.])


def test_numpy_of_a_variable_is_a_copy():
    v = tf.Variable([1., 2.])
    a = v.numpy()
    a[0] = 100.
    np.testing.assert_array_equal(v.numpy(), [1., 2.])


def test_constant_copies_the_array_it_is_given():
    a = np.ones(3)
    t = tf.constant(a)
    a[0] = 5.0                       # the caller's array stays writable ...
    np.testing.assert_array_equal(t.numpy(), [1., 1., 1.])   # ... and the tensor unchanged


def test_numpy_of_a_scalar_is_a_numpy_scalar():
    f = tf.constant(3.0).numpy()
    i = tf.constant(3).numpy()
    assert type(f) is np.float32 and repr(f) == 'np.float32(3.0)'
    assert type(i) is np.int32 and repr(i) == 'np.int32(3)'


def test_float_and_int_of_scalar_tensors():
    f = float(tf.constant(2.5))
    i = int(tf.constant(7))
    assert type(f) is float and f == 2.5
    assert type(i) is int and i == 7


def test_float_of_a_two_element_tensor_raises():
    # NumPy's own message (its wording depends on the NumPy version; 2.4 says "0-dimensional")
    with pytest.raises(TypeError, match=r'^only (0-dimensional|length-1) arrays can be converted '
                                        r'to Python scalars$'):
        float(tf.constant([1., 2.]))


def test_np_asarray_of_tensors_and_variables():
    t = tf.constant([1., 2.])
    v = tf.Variable([[1, 2]])
    a = np.asarray(t)
    b = np.array(v)
    assert type(a) is np.ndarray and a.dtype == np.float32
    np.testing.assert_array_equal(a, [1., 2.])
    assert b.dtype == np.int32 and b.shape == (1, 2)
    np.testing.assert_array_equal(b, [[1, 2]])


def test_math_module_on_a_scalar_tensor_returns_a_python_float():
    r = math.sin(tf.constant(0.5))
    assert type(r) is float
    assert r == pytest.approx(math.sin(0.5), rel=1e-7)


# === §2.3 __bool__, comparisons, hashing =======================================================

def test_bool_of_one_element_tensors():
    assert bool(tf.constant(3.0) > 2.0) is True
    assert bool(tf.constant(0.0)) is False
    assert bool(tf.constant([1.0])) is True


def test_bool_of_a_two_element_tensor_raises():
    with raises_exactly(ValueError, TRUTH_VALUE):
        bool(tf.constant([1.0, 2.0]))


def test_equality_is_elementwise():
    a = tf.constant([1., 2., 3.])
    assert repr(a == 2.0) == ('<tapegrad.Tensor: shape=(3,), dtype=bool, '
                              'numpy=array([False,  True, False])>')
    assert repr(a != 2.0) == ('<tapegrad.Tensor: shape=(3,), dtype=bool, '
                              'numpy=array([ True, False,  True])>')


def test_comparing_with_none_gives_python_bools():
    a = tf.constant([1., 2., 3.])
    assert (a == None) is False  # noqa: E711
    assert (a != None) is True   # noqa: E711


def test_comparing_incompatible_shapes_gives_a_false_scalar():
    a = tf.constant([1., 2., 3.])
    assert repr(a == tf.constant([1., 2.])) == repr_scalar(False, 'bool')


def test_tensors_are_unhashable():
    with raises_exactly(TypeError, 'Tensor is unhashable. Instead, use tensor.ref() as the key.'):
        hash(tf.constant(1.0))


def test_variables_are_unhashable():
    with raises_exactly(TypeError, "Variable is unhashable. Instead, use variable.ref() as the "
                         "key. (Variable: <tapegrad.Variable 'Variable:0' shape=() "
                         "dtype=float32, numpy=1.0>)"):
        hash(tf.Variable(1.0))


def test_ref_is_a_dict_key():
    t, u = tf.constant(1.0), tf.constant(1.0)
    v = tf.Variable(1.0)
    table = {t.ref(): 't', u.ref(): 'u', v.ref(): 'v'}
    assert len(table) == 3
    assert (table[t.ref()], table[u.ref()], table[v.ref()]) == ('t', 'u', 'v')


# === §2.4 types, shapes, indexing ==============================================================

def test_a_variable_is_not_a_tensor_but_is_tensor_like():
    v = tf.Variable([[1., 2., 3.]])
    assert isinstance(v, tf.Variable)
    assert not isinstance(v, tf.Tensor)
    assert tf.is_tensor(v) and tf.is_tensor(tf.constant(1.0))
    assert not tf.is_tensor(np.ones(2))


def test_arithmetic_on_a_variable_returns_plain_tensors():
    v = tf.Variable([[1., 2., 3.]])
    for result in (v + 1, -v, v * v, v.value(), v.read_value()):
        assert isinstance(result, tf.Tensor)
        assert not isinstance(result, tf.Variable)
    np.testing.assert_array_equal((v * v).numpy(), [[1., 4., 9.]])
    np.testing.assert_array_equal(v.read_value().numpy(), [[1., 2., 3.]])


def test_gradients_are_plain_tensors():
    v = tf.Variable(2.0)
    with tf.GradientTape() as t:
        y = v * v
    g = t.gradient(y, v)
    assert isinstance(g, tf.Tensor) and not isinstance(g, tf.Variable)


def test_shape_compares_with_tuples_and_lists():
    v = tf.Variable([[1., 2., 3.]])
    c = tf.constant([[1., 2.], [3., 4.]])
    assert str(v.shape) == '(1, 3)'
    assert v.shape == (1, 3)
    assert v.shape == [1, 3]
    assert v.shape != (3, 1)
    assert v.shape.as_list() == [1, 3]
    assert v.shape.rank == 2
    assert len(c) == 2
    assert c.ndim == 2
    assert tf.constant(1.0).shape == ()


def test_iterating_a_tensor_yields_rows():
    c = tf.constant([[1., 2.], [3., 4.]])
    rows = list(c)
    assert all(isinstance(r, tf.Tensor) for r in rows)
    assert [r.numpy().tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]


def test_int_scalar_tensors_are_indices():
    assert list(range(tf.constant(3))) == [0, 1, 2]
    assert [10, 20, 30][tf.constant(1)] == 20


def test_range_over_tf_size():
    v = tf.Variable([[1., 2., 3.]])
    assert list(range(tf.size(v))) == [0, 1, 2]


def test_len_and_iter_of_a_scalar_raise():
    with raises_exactly(TypeError, 'Scalar tensor has no `len()`'):
        len(tf.constant(1.0))
    with raises_exactly(TypeError, 'Cannot iterate over a scalar tensor.'):
        iter(tf.constant(1.0))


def test_tensors_are_immutable():
    c = tf.constant([[1., 2.], [3., 4.]])
    with pytest.raises(AttributeError, match='assign'):
        c.assign(c)
    with pytest.raises(TypeError, match='object does not support item assignment'):
        c[0] = 1.0
    np.testing.assert_array_equal(c.numpy(), [[1., 2.], [3., 4.]])


def test_indexing_and_slicing_values():
    c = tf.constant([[1., 2., 3.], [4., 5., 6.]])
    assert isinstance(c[0], tf.Tensor)
    np.testing.assert_array_equal(c[1].numpy(), [4., 5., 6.])
    np.testing.assert_array_equal(c[:, 1:].numpy(), [[2., 3.], [5., 6.]])
    np.testing.assert_array_equal(c[..., ::2].numpy(), [[1., 3.], [4., 6.]])
    assert c[1, 2].numpy() == 6.0
    assert c[:, None].shape == (2, 1, 3)


def test_equality_with_a_foreign_object_defers_to_it():
    # Python's protocol: an operand tapegrad cannot convert gets its reflected __eq__ (pytest.approx
    # compares a tensor SciPy returned), or the identity comparison for a plain object.
    x = tf.constant(0.5, tf.float64)
    assert x == pytest.approx(0.5 + 1e-9)
    assert not (x == pytest.approx(0.6))
    assert (x == object()) is False and (x != object()) is True
