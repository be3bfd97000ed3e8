"""TensorFlow 2.21's observable GradientTape behaviour (shared/TF_SEMANTICS.md), pinned on tapegrad.

Each test is one snippet of TF_SEMANTICS.md (section numbers in the headings below) with `tf`
meaning tapegrad, asserting the output TensorFlow printed. tapegrad's documented differences
apply: reprs say `tapegrad.` where TensorFlow says `tf.`; TensorFlow-internal error texts
(`'NoneType' object has no attribute '_tape'`, `... has no attribute '_id'`) are replaced by
clearer messages of the same exception type, so only the type is asserted there; NumPy
functions on tensors are recorded (§1.6, §18 assert tapegrad's gradients, not TF's None).
Behaviour that TF_SEMANTICS flags as TF-specific is not tested.
"""
import enum
import logging
import math
import re
import warnings

import numpy as np
import pytest

import tapegrad as tf
from conftest import (INT_WATCH_WARNING, NOT_RECORDING, ONE_SHOT, TRUTH_VALUE, count, d2l_f, raises_exactly,
                      repr_scalar, str_scalar, warning_texts)

REENTER = 'Tape is still recording, This can happen if you try to re-enter an already-active tape.'
STOP_NOT_RECORDING = 'Trying to stop recording a tape which is not recording.'
TARGET_NONE = ('Argument `target` should be a list or nested structure of Tensors, Variables or '
               'CompositeTensors to be differentiated, but received None.')
PERSISTENT_IN_CONTEXT_WARNING = (
    'Calling GradientTape.gradient on a persistent tape inside its context is significantly '
    'less efficient than calling it outside the context (it causes the gradient ops to be '
    'recorded on the tape, leading to increased CPU and memory usage). Only call '
    'GradientTape.gradient inside the context if you actually want to trace the gradient in '
    'order to compute higher order derivatives.')

# === §1.1 repr / str =========================================================================

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
    # As TF prints jacobians (§9.1): the multi-line str(ndarray) starts on its own line.
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


# === §1.2 numpy() and conversions =============================================================

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


# === §1.3 dtype rules ==========================================================================

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


# === §1.4 __bool__, comparisons, hashing =======================================================

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


# === §1.5 types, shapes, indexing ==============================================================

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


# === §1.6 NumPy interoperability (tapegrad records NumPy functions) ===========================

def test_numpy_ufunc_on_a_variable_is_recorded():
    # DELIBERATE DIFFERENCE: TensorFlow returns an ndarray here and loses the gradient.
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = np.sin(x)
    assert isinstance(y, tf.Tensor)
    assert y.dtype == tf.float32
    np.testing.assert_allclose(t.gradient(y, x).numpy(),
                               np.cos(np.arange(-10, 10, dtype=np.float32)), rtol=0, atol=1e-6)


def test_numpy_sum_of_numpy_sin_is_recorded():
    x = tf.Variable([0.5, 1.0, 2.0])
    with tf.GradientTape() as t:
        s = np.sum(np.sin(x))
    assert isinstance(s, tf.Tensor)
    assert s.shape == ()
    np.testing.assert_allclose(t.gradient(s, x).numpy(), np.cos([0.5, 1.0, 2.0]), rtol=1e-6)


def test_numpy_add_and_mean_are_recorded():
    x = tf.Variable([1., 2., 3., 4.])
    with tf.GradientTape(persistent=True) as t:
        a = np.add(x, 1)
        m = np.mean(x)
    assert isinstance(a, tf.Tensor) and isinstance(m, tf.Tensor)
    np.testing.assert_array_equal(a.numpy(), [2., 3., 4., 5.])
    assert m.numpy() == 2.5
    np.testing.assert_array_equal(t.gradient(a, x).numpy(), [1., 1., 1., 1.])
    np.testing.assert_array_equal(t.gradient(m, x).numpy(), [0.25, 0.25, 0.25, 0.25])


def test_gradient_of_an_ndarray_target_raises():
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = np.sin(x.numpy())
    assert type(y) is np.ndarray
    with pytest.raises((AttributeError, TypeError)):
        t.gradient(y, x)


def test_ndarray_times_variable_is_a_recorded_tensor():
    x = tf.Variable(tf.range(-10, 10, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        z = np.array(np.arange(20), np.float32) * x
    assert isinstance(z, tf.Tensor)
    g = t.gradient(z, x)
    np.testing.assert_array_equal(g[:3].numpy(), [0., 1., 2.])
    np.testing.assert_array_equal(g.numpy(), np.arange(20, dtype=np.float32))


def test_matplotlib_plots_tensors_without_numpy(pyplot):
    plt = pyplot
    x = tf.Variable(tf.range(-3, 3, 1, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    grad = t.gradient(y, x)
    fig, ax = plt.subplots()
    try:
        line, = ax.plot(x, grad)
        np.testing.assert_array_equal(np.asarray(line.get_xdata(), float), np.arange(-3., 3.))
        np.testing.assert_array_equal(np.asarray(line.get_ydata(), float), 2 * np.arange(-3., 3.))
    finally:
        plt.close(fig)


# === §2 GradientTape construction, context, lifecycle ========================================

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
    assert repr(g.gradient(z, [x])) == '[%s]' % repr_scalar(4.0)


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


# === §3 the one-shot rule ======================================================================

def test_second_gradient_on_a_non_persistent_tape_raises():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    assert repr(t.gradient(y, x)) == ('<tapegrad.Tensor: shape=(4,), dtype=float32, '
                                      'numpy=array([0., 2., 4., 6.], dtype=float32)>')
    with raises_exactly(RuntimeError, ONE_SHOT):
        t.gradient(y, x)
    with raises_exactly(RuntimeError, ONE_SHOT):   # and every later call
        t.gradient(y, x)


def test_jacobian_after_gradient_raises():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    with raises_exactly(RuntimeError, ONE_SHOT):
        t.jacobian(y, x)


def test_gradient_after_jacobian_raises():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as t:
        y = x * x
    np.testing.assert_array_equal(t.jacobian(y, x).numpy(), [[2., 0.], [0., 4.]])
    with raises_exactly(RuntimeError, ONE_SHOT):
        t.gradient(y, x)


def test_batch_jacobian_after_gradient_raises_with_tfs_typo():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    # TF's typo "tocompute" survives in batch_jacobian only.
    with raises_exactly(RuntimeError, 'A non-persistent GradientTape can only be used tocompute '
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
    with raises_exactly(RuntimeError, ONE_SHOT):
        t.gradient(y, x)


def test_persistent_tape_results_are_identical_and_not_accumulated():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape(persistent=True) as t:
        y = x * x
    results = [t.gradient(y, x).numpy() for _ in range(3)]
    for r in results:
        np.testing.assert_array_equal(r, [2., 4., 6.])


# === §4 gradient() while the tape is still recording ==========================================

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
        with raises_exactly(RuntimeError, ONE_SHOT):
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


# === §5.1 watch() ==============================================================================

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


# === §5.2 automatic watching of variables ======================================================

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


# === §5.3 watching is tape-local ===============================================================

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


# === §6.1 sources: any nest, same structure back =============================================

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
    assert repr(g.gradient(y, {'a': x1, 'b': [x2, (x3,)]})) == "{'a': %s, 'b': [%s, (%s,)]}" % (
        repr_scalar(1.0), repr_scalar(2.0), repr_scalar(3.0))
    pair = g.gradient(y, (x2, x3))
    assert type(pair) is tuple and [p.numpy() for p in pair] == [2.0, 3.0]


def test_repeated_and_empty_sources():
    g, y, x1, _, _ = _three_watched_constants()
    assert repr(g.gradient(y, [x1, x1])) == '[%s, %s]' % (repr_scalar(1.0), repr_scalar(1.0))
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


# === §6.2 targets: nests and non-scalars are summed ===========================================

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


# === §6.3 unconnected sources: None vs zeros ==================================================

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
    with raises_exactly(ValueError, 'Unknown value for unconnected_gradients: %r' % bad):
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


# === §6.4 output_gradients ====================================================================

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
        '[%s]' % repr_scalar(4.0))


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


# === §6.5 intermediate tensors as sources =====================================================

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


# === §6.6 integer sources and casts ===========================================================

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


# === §7 nested tapes, higher order, and the "diff_2 is None" rule =============================

def test_second_derivative_with_nested_tapes():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    assert (dy_dx.numpy(), d2y_dx2.numpy()) == (3.0, 6.0)


def test_inner_gradient_computed_outside_the_outer_tape_is_not_recorded():
    x = tf.Variable(1.0)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
    dy_dx = t1.gradient(y, x)   # outside t2
    assert dy_dx.numpy() == 3.0
    assert t2.gradient(dy_dx, x) is None


def test_second_derivative_of_the_linear_seed_function_is_none():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            d1 = d2l_f(a)
        diff_1 = t1.gradient(d1, a)
    diff_2 = t2.gradient(diff_1, a)
    assert repr((diff_1, diff_2)) == '(%s, None)' % repr_scalar(102400.0)


def test_second_derivative_of_the_linear_seed_function_with_zero_is_zero():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t6:
        with tf.GradientTape() as t5:
            d = d2l_f(a)
        dif = t5.gradient(d, a)
    assert str(t6.gradient(dif, a, unconnected_gradients='zero')) == str_scalar(0.0)


def test_jacobian_of_the_linear_seed_functions_gradient_is_none():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t4:
        t4.watch(a)
        with tf.GradientTape() as t3:
            t3.watch(a)
            d = d2l_f(a)
        dif = t3.gradient(d, a)
    assert repr((dif, t4.jacobian(dif, a))) == '(%s, None)' % repr_scalar(102400.0)


@pytest.mark.parametrize('name, fn, first, second', [
    ('3*x', lambda x: 3.0 * x, [3., 3.], None),
    ('x*x', lambda x: x * x, [2., 4.], [2., 2.]),
    ('abs', lambda x: tf.abs(x), [1., 1.], [0., 0.]),
    ('relu', lambda x: tf.nn.relu(x), [1., 1.], [0., 0.]),
    ('mean', lambda x: tf.reduce_mean(x), [0.5, 0.5], None),
    # every other linear op: its gradient never reads the differentiated input
    ('x+x', lambda x: x + x, [2., 2.], None),
    ('x-c', lambda x: x - tf.constant([5., 7.]), [1., 1.], None),
    ('x/c', lambda x: x / 4.0, [0.25, 0.25], None),
    ('-x', lambda x: -x, [-1., -1.], None),
    ('sum(c*x)', lambda x: tf.reduce_sum(tf.constant([3., 4.]) * x), [3., 4.], None),
    ('matmul', lambda x: tf.matmul(tf.reshape(x, [1, 2]), tf.constant([[1.], [2.]])), [1., 2.],
     None),
    ('reshape', lambda x: tf.reshape(x, [2, 1]), [1., 1.], None),
])
def test_second_order_none_versus_zero(name, fn, first, second):
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as o:
        with tf.GradientTape() as i:
            y = fn(v)
        g = i.gradient(y, v)
    np.testing.assert_array_equal(g.numpy(), first)
    g2 = o.gradient(g, v)
    if second is None:
        assert g2 is None
    else:
        np.testing.assert_array_equal(g2.numpy(), second)


_SECOND_ORDER_POINTS = np.array([0.5, 1.5])
_SIG = 1 / (1 + np.exp(-_SECOND_ORDER_POINTS))


@pytest.mark.parametrize('name, fn, first, second', [
    ('exp', lambda x: tf.exp(x), np.exp, np.exp),
    ('log', lambda x: tf.math.log(x), lambda x: 1 / x, lambda x: -1 / x**2),
    ('sin', lambda x: tf.math.sin(x), np.cos, lambda x: -np.sin(x)),
    ('cos', lambda x: tf.math.cos(x), lambda x: -np.sin(x), lambda x: -np.cos(x)),
    ('tan', lambda x: tf.math.tan(x), lambda x: 1 / np.cos(x)**2,
     lambda x: 2 * np.tan(x) / np.cos(x)**2),
    ('tanh', lambda x: tf.tanh(x), lambda x: 1 - np.tanh(x)**2,
     lambda x: -2 * np.tanh(x) * (1 - np.tanh(x)**2)),
    ('sqrt', lambda x: tf.sqrt(x), lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x**-1.5),
    ('square', lambda x: tf.square(x), lambda x: 2 * x, lambda x: 2 + 0 * x),
    ('sigmoid', lambda x: tf.nn.sigmoid(x), lambda x: _SIG * (1 - _SIG),
     lambda x: _SIG * (1 - _SIG) * (1 - 2 * _SIG)),
    ('x**3', lambda x: x ** 3, lambda x: 3 * x**2, lambda x: 6 * x),
    ('1/x', lambda x: 1.0 / x, lambda x: -1 / x**2, lambda x: 2 / x**3),
])
def test_second_order_of_nonlinear_ops(name, fn, first, second):
    x = tf.Variable(_SECOND_ORDER_POINTS.astype(np.float32))
    with tf.GradientTape() as o:
        with tf.GradientTape() as i:
            y = fn(x)
        g = i.gradient(y, x)
    g2 = o.gradient(g, x)
    np.testing.assert_allclose(g.numpy(), first(_SECOND_ORDER_POINTS), rtol=2e-6)
    np.testing.assert_allclose(g2.numpy(), second(_SECOND_ORDER_POINTS), rtol=2e-5)


def test_hessian_with_a_persistent_tape_has_a_none_entry():
    x = tf.Variable(3.)
    y = tf.Variable(4.)
    with tf.GradientTape(persistent=True) as tape:
        f = x*x*y + y + 2
        df_dx, df_dy = tape.gradient(f, [x, y])
    d2f_d2x, d2f_dydx = tape.gradient(df_dx, [x, y])
    d2f_dxdy, d2f_d2y = tape.gradient(df_dy, [x, y])
    assert repr([[d2f_d2x.numpy(), d2f_dydx.numpy()], [d2f_dxdy.numpy(), d2f_d2y]]) == (
        '[[np.float32(8.0), np.float32(6.0)], [np.float32(6.0), None]]')


def test_two_tapes_in_one_with_statement_are_independent():
    x = tf.Variable(2.0)
    with tf.GradientTape() as a, tf.GradientTape() as b:
        y = x * x
    assert a.gradient(y, x).numpy() == 4.0
    assert b.gradient(y, x).numpy() == 4.0


def test_an_inner_gradient_used_in_further_taped_computation():
    with tf.GradientTape(persistent=True) as g:
        x = tf.constant(3.0)
        g.watch(x)
        y = x * x
        with tf.GradientTape(persistent=True) as gg:
            gg.watch(y)
            z = 2 * y
        for _ in range(2):
            inner_grad = gg.gradient(z, [y])[0]
            assert inner_grad.numpy() == 2.0
        y += inner_grad
        del gg
    assert g.gradient(y, [x])[0].numpy() == 6.0
    assert g.gradient(z, [x])[0].numpy() == 12.0


def test_third_order_derivative():
    x = tf.Variable(2.0)
    with tf.GradientTape() as t3:
        with tf.GradientTape() as t2:
            with tf.GradientTape() as t1:
                y = tf.math.sin(x) * x**4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    np.testing.assert_allclose([d1.numpy(), d2.numpy(), d3.numpy()],
                               [22.439167, 2.464117, -96.91307], rtol=1e-5)


# === §8 stop_recording() and reset() ==========================================================

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


# === §10 tf.stop_gradient =====================================================================

def test_stop_gradient_is_a_constant_for_the_tape():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        u = tf.stop_gradient(y)
        z = u * x
    x_grad = t.gradient(z, x)
    all_true = ('<tapegrad.Tensor: shape=(4,), dtype=bool, '
                'numpy=array([ True,  True,  True,  True])>')
    assert repr(x_grad == u) == all_true
    assert repr(t.gradient(y, x) == 2 * x) == all_true
    assert t.gradient(u, x) is None
    assert t.gradient(u, y) is None


def test_stop_gradient_output_can_be_watched_as_a_new_source():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as t:
        u = tf.stop_gradient(x * x)
        t.watch(u)
        z = u * x
    np.testing.assert_array_equal(t.gradient(z, u).numpy(), [1., 2.])


def test_stop_gradient_converts_python_and_numpy_values():
    a = tf.stop_gradient(3.0)
    b = tf.stop_gradient([1, 2])
    c = tf.stop_gradient(np.ones(2))
    assert isinstance(a, tf.Tensor) and not isinstance(tf.stop_gradient(tf.Variable(1.0)),
                                                      tf.Variable)
    assert repr(a) == repr_scalar(3.0)
    assert repr(b) == ('<tapegrad.Tensor: shape=(2,), dtype=int32, '
                       'numpy=array([1, 2], dtype=int32)>')
    assert repr(c) == ('<tapegrad.Tensor: shape=(2,), dtype=float64, '
                       'numpy=array([1., 1.])>')


# === §14 variables as state ===================================================================

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


# === §15 Python control flow ==================================================================

@pytest.mark.parametrize('val, grad, equal, ratio', [
    (-1.1861123, 102400.0, True, 102400.0),
    (0.7092207, 2048.0, True, 2048.0),
    (-1.5694, 102400.0, False, 102400.01),      # float32 rounding of d / a
])
def test_control_flow_gradient_is_the_constant_factor(val, grad, equal, ratio):
    a = tf.Variable(val)
    with tf.GradientTape() as t:
        d = d2l_f(a)
    g = t.gradient(d, a)
    assert g.numpy() == grad
    assert bool(g == d / a) is equal
    assert (d / a).numpy() == np.float32(ratio)


def test_control_flow_gradient_has_the_shape_of_the_input():
    a = tf.Variable([[0.02355854, 0.7092207]])
    with tf.GradientTape() as t:
        d = d2l_f(a)
    assert repr(t.gradient(d, a)) == ('<tapegrad.Tensor: shape=(1, 2), dtype=float32, '
                                      'numpy=array([[2048., 2048.]], dtype=float32)>')


def test_if_on_a_two_element_tensor_raises():
    with raises_exactly(ValueError, TRUTH_VALUE):
        if tf.constant([1., 2.]) > 0:
            pass


def test_a_tensor_used_only_in_a_condition_gets_none():
    x = tf.Variable(1.0)
    c = tf.Variable(5.0)
    with tf.GradientTape() as t:
        y = x * 2.0 if c > 3.0 else x * 4.0
    gx, gc = t.gradient(y, [x, c])
    assert gx.numpy() == 2.0
    assert gc is None


def test_while_loop_on_a_tensor_condition():
    x = tf.Variable(1.5)
    with tf.GradientTape() as t:
        y = x
        while y < 10.0:
            y = y * x
    assert y.numpy() == pytest.approx(1.5 ** 6)           # x**6 = 11.39...
    assert t.gradient(y, x).numpy() == pytest.approx(6 * 1.5 ** 5, rel=1e-6)


def test_exp_gradient_equals_the_value():
    x = tf.Variable(1.5236874)
    with tf.GradientTape() as t:
        y = tf.math.exp(x)
    assert bool(y == t.gradient(y, x)) is True


def test_branch_on_a_vector_sum():
    x = tf.Variable([[0.3], [-0.9], [0.2]])           # sum < 0.5: the 2*cos branch
    with tf.GradientTape() as t:
        if tf.math.reduce_sum(x) > 0.5:
            y = tf.math.sin(x)
        else:
            y = 2 * tf.math.cos(x)
    np.testing.assert_allclose(t.gradient(y, x).numpy(), -2 * np.sin(x.numpy()), rtol=1e-6)


def test_iterating_a_range_tensor_yields_int32_scalars():
    items = list(tf.range(3))
    assert len(items) == 3
    for k, item in enumerate(items):
        assert isinstance(item, tf.Tensor)
        assert item.dtype == tf.int32 and item.shape == ()
        assert int(item) == k


# === §16 op-level gradient conventions ========================================================

def test_conventions_at_kinks_ties_and_bounds():
    x = tf.Variable([0., -1., 2.])
    y = tf.Variable([2., 2., 1.])
    with tf.GradientTape(persistent=True) as t:
        r = tf.nn.relu(x)
        a = tf.abs(x)
        m = tf.maximum(x, 0.)
        mx = tf.reduce_max(y)
        cl = tf.clip_by_value(x, -1., 1.)
        zl = tf.zeros_like(x) + tf.ones_like(x)
        rd = tf.round(x)
        sg = tf.sign(x)
        nrm = tf.norm(x * 0.)
    np.testing.assert_array_equal(t.gradient(r, x).numpy(), [0., 0., 1.])     # relu'(0) = 0
    np.testing.assert_array_equal(t.gradient(a, x).numpy(), [0., -1., 1.])    # sign(0) = 0
    np.testing.assert_array_equal(t.gradient(m, x).numpy(), [1., 0., 1.])     # tie -> x
    np.testing.assert_array_equal(t.gradient(mx, y).numpy(), [0.5, 0.5, 0.])  # ties split
    np.testing.assert_array_equal(t.gradient(cl, x).numpy(), [1., 1., 0.])    # bounds inside
    assert t.gradient(zl, x) is None
    assert t.gradient(rd, x) is None
    np.testing.assert_array_equal(t.gradient(sg, x).numpy(), [0., 0., 0.])    # connected zeros
    assert np.all(np.isnan(t.gradient(nrm, x).numpy()))                       # norm at 0


def test_broadcasting_gradients_are_summed_back():
    b = tf.Variable([[1.], [2.]])
    c = tf.Variable([10., 20., 30.])
    s = tf.Variable(2.0)
    with tf.GradientTape() as t2:
        z = b * c * s
    gb, gc, gs = t2.gradient(z, [b, c, s])
    assert gb.shape == (2, 1) and gc.shape == (3,) and gs.shape == ()
    assert gb.numpy().tolist() == [[120.0], [120.0]]
    assert gc.numpy().tolist() == [6.0, 6.0, 6.0]
    assert gs.numpy() == 180.0


def test_broadcasting_snippet():
    b = tf.Variable([[1.], [2.]])
    c = tf.Variable([10., 20., 30.])
    with tf.GradientTape() as t2:
        z = b * c
    assert [g.numpy().tolist() for g in t2.gradient(z, [b, c])] == [[[60.0], [60.0]],
                                                                   [3.0, 3.0, 3.0]]


def test_maximum_and_minimum_ties_go_to_the_first_argument():
    x = tf.Variable([1., 2., 5.])
    y = tf.Variable([1., 3., 4.])
    with tf.GradientTape(persistent=True) as t:
        hi = tf.maximum(x, y)
        lo = tf.minimum(x, y)
    gx, gy = t.gradient(hi, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [1., 0., 1.])
    np.testing.assert_array_equal(gy.numpy(), [0., 1., 0.])
    gx, gy = t.gradient(lo, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [1., 1., 0.])
    np.testing.assert_array_equal(gy.numpy(), [0., 0., 1.])


def test_reduce_min_ties_split_equally():
    y = tf.Variable([2., 1., 1.])
    with tf.GradientTape() as t:
        mn = tf.reduce_min(y)
    np.testing.assert_array_equal(t.gradient(mn, y).numpy(), [0., 0.5, 0.5])


def test_sqrt_and_power_at_zero_and_below():
    x = tf.Variable([0., -1., 4.])
    with tf.GradientTape(persistent=True) as t:
        s = tf.sqrt(x[0])
        half = x ** 0.5
        sq = x ** 2
    assert t.gradient(s, x).numpy()[0] == np.inf
    g = t.gradient(half, x).numpy()
    assert g[0] == np.inf and np.isnan(g[1]) and g[2] == 0.25
    np.testing.assert_array_equal(t.gradient(sq, x).numpy(), [0., -2., 8.])


def test_power_gradient_with_respect_to_the_exponent_skips_non_positive_bases():
    b = tf.constant([-1., 0., 2.])
    e = tf.Variable(2.0)
    with tf.GradientTape() as t:
        y = tf.reduce_sum(b ** e)
    assert y.numpy() == 5.0
    assert t.gradient(y, e).numpy() == pytest.approx(4 * math.log(2.0), rel=1e-6)


def test_where_routes_the_gradient():
    x = tf.Variable([1., -2., 3.])
    with tf.GradientTape() as t:
        y = tf.where(x > 0, x * x, -x)
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [2., -1., 6.])


def test_where_leaks_nan_from_the_unselected_branch():
    z = tf.Variable([0., 1.])
    with tf.GradientTape() as t:
        y = tf.where(z > 0.5, tf.math.log(z), 0.)
    g = t.gradient(y, z).numpy()
    assert np.isnan(g[0]) and g[1] == 1.0


@pytest.mark.parametrize('name, fn', [
    ('zeros_like', lambda x: tf.zeros_like(x)),
    ('ones_like', lambda x: tf.ones_like(x)),
    ('round', lambda x: tf.round(x)),
    ('floor', lambda x: tf.floor(x)),
    ('cast to int', lambda x: tf.cast(x, tf.int32)),
    ('floordiv', lambda x: x // 2.0),
])
def test_non_differentiable_ops_give_none(name, fn):
    x = tf.Variable([1.5, -2.5])
    with tf.GradientTape() as t:
        y = fn(x)
    assert t.gradient(y, x) is None


def test_argmax_is_not_differentiable():
    x = tf.Variable([1.5, -2.5])
    with tf.GradientTape() as t:
        y = tf.argmax(x)
    assert t.gradient(y, x) is None


def test_gradient_dtype_is_the_source_dtype():
    for dtype in (tf.float64, tf.float16):
        x = tf.constant([1.0, 2.0], dtype=dtype)
        with tf.GradientTape() as t:
            t.watch(x)
            y = x * x * 0.5
        g = t.gradient(y, x)
        assert g.dtype == dtype
        np.testing.assert_array_equal(g.numpy().astype(np.float64), [1., 2.])


def test_indexing_gradients_scatter_back():
    x = tf.Variable([1., 2., 3.])
    with tf.GradientTape() as t:
        y = x[1] * x[2] + tf.reduce_sum(x[::2])
    # d/dx0 = 1 (x[::2]); d/dx1 = x2; d/dx2 = x1 + 1 (x[::2])
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [1., 3., 3.])


def test_indexing_gradients_accumulate_repeated_reads():
    x = tf.Variable([[1., 2.], [3., 4.]])
    with tf.GradientTape() as t:
        y = x[0, 1] * 3.0 + x[0, 1] + tf.reduce_sum(x[:, 0] * x[:, 0])
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [[2., 4.], [6., 0.]])


# First derivatives of the ops this issue covers, against hand-derived formulas (float64 refs).
_P = np.array([0.5, 1.5, 2.5])


@pytest.mark.parametrize('name, fn, grad', [
    ('add', lambda x: x + 3.0, lambda x: np.ones_like(x)),
    ('sub', lambda x: 3.0 - x, lambda x: -np.ones_like(x)),
    ('mul', lambda x: x * x, lambda x: 2 * x),
    ('truediv', lambda x: x / (x + 1.0), lambda x: 1 / (x + 1)**2),
    ('pow', lambda x: x ** 2.5, lambda x: 2.5 * x**1.5),
    ('neg', lambda x: -x, lambda x: -np.ones_like(x)),
    ('abs', lambda x: tf.abs(-x), lambda x: np.ones_like(x)),
    ('exp', lambda x: tf.exp(x), np.exp),
    ('log', lambda x: tf.math.log(x), lambda x: 1 / x),
    ('sin', lambda x: tf.math.sin(x), np.cos),
    ('cos', lambda x: tf.math.cos(x), lambda x: -np.sin(x)),
    ('tan', lambda x: tf.math.tan(x), lambda x: 1 / np.cos(x)**2),
    ('tanh', lambda x: tf.tanh(x), lambda x: 1 - np.tanh(x)**2),
    ('sqrt', lambda x: tf.sqrt(x), lambda x: 0.5 / np.sqrt(x)),
    ('square', lambda x: tf.square(x), lambda x: 2 * x),
    ('sigmoid', lambda x: tf.nn.sigmoid(x), lambda x: np.exp(-x) / (1 + np.exp(-x))**2),
    ('relu', lambda x: tf.nn.relu(x - 1.0), lambda x: (x > 1).astype(float)),
    ('identity', lambda x: tf.identity(x), lambda x: np.ones_like(x)),
    ('convert_to_tensor', lambda x: tf.convert_to_tensor(x) * 2.0, lambda x: 2 + 0 * x),
    ('cast float64', lambda x: tf.cast(x, tf.float64) * 3.0, lambda x: 3 + 0 * x),
    ('clip_by_value', lambda x: tf.clip_by_value(x, 1.0, 2.0), lambda x: ((x >= 1) & (x <= 2)) * 1.),
    ('reduce_sum', lambda x: tf.reduce_sum(x * x), lambda x: 2 * x),
    ('reduce_mean', lambda x: tf.reduce_mean(x), lambda x: np.full_like(x, 1 / 3)),
    ('reduce_prod', lambda x: tf.reduce_prod(x), lambda x: np.prod(x) / x),
    ('reduce_max', lambda x: tf.reduce_max(x), lambda x: np.array([0., 0., 1.])),
    ('reduce_min', lambda x: tf.reduce_min(x), lambda x: np.array([1., 0., 0.])),
    ('norm', lambda x: tf.norm(x), lambda x: x / np.linalg.norm(x)),
    ('tensordot', lambda x: tf.tensordot(x, x, axes=1), lambda x: 2 * x),
    ('maximum', lambda x: tf.maximum(x, 1.0), lambda x: (x >= 1) * 1.),
    ('minimum', lambda x: tf.minimum(x, 1.0), lambda x: (x <= 1) * 1.),
    ('where', lambda x: tf.where(x > 1.0, x * 3.0, x), lambda x: np.where(x > 1, 3., 1.)),
    ('sign', lambda x: tf.sign(x) * x, lambda x: np.sign(x)),
])
def test_first_derivatives(name, fn, grad):
    x = tf.Variable(_P.astype(np.float32))
    with tf.GradientTape() as t:
        y = fn(x)
    g = t.gradient(y, x)
    assert g.dtype == tf.float32 and g.shape == (3,)
    np.testing.assert_allclose(g.numpy(), grad(_P), rtol=2e-6, atol=1e-7)


def test_shape_ops_route_gradients_back():
    x = tf.Variable(np.arange(6, dtype=np.float32))
    w = tf.constant(np.arange(6, dtype=np.float32).reshape(1, 3, 2) + 1.0)
    with tf.GradientTape() as t:
        m = tf.transpose(tf.reshape(x, [2, 3]))                 # (3, 2)
        e = tf.expand_dims(m, 0)                                # (1, 3, 2)
        y = tf.reduce_sum(tf.squeeze(e * w, axis=0) * m)        # sum(w * m**2)
    m_np = np.arange(6, dtype=np.float64).reshape(2, 3).T
    expected = (2 * w.numpy()[0] * m_np).T.reshape(6)
    np.testing.assert_allclose(t.gradient(y, x).numpy(), expected, rtol=1e-6)


def test_matmul_gradients():
    a = tf.Variable([[1., 2.], [3., 4.]])
    b = tf.Variable([[5.], [6.]])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(tf.matmul(a, b))
    ga, gb = t.gradient(y, [a, b])
    np.testing.assert_array_equal(ga.numpy(), [[5., 6.], [5., 6.]])
    np.testing.assert_array_equal(gb.numpy(), [[4.], [6.]])


def test_reductions_along_an_axis():
    x = tf.Variable([[1., 5.], [4., 2.]])
    with tf.GradientTape(persistent=True) as t:
        s = tf.reduce_sum(x, axis=0) * tf.constant([1., 10.])
        mean = tf.reduce_mean(x, axis=1, keepdims=True)
        mx = tf.reduce_max(x, axis=1)
    np.testing.assert_array_equal(t.gradient(s, x).numpy(), [[1., 10.], [1., 10.]])
    np.testing.assert_array_equal(t.gradient(mean, x).numpy(), [[0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_array_equal(t.gradient(mx, x).numpy(), [[0., 1.], [1., 0.]])
    assert mean.shape == (2, 1)


def test_creation_ops_values():
    np.testing.assert_array_equal(tf.fill([2], 3.0).numpy(), [3., 3.])
    assert tf.fill([2], 3.0).dtype == tf.float32
    np.testing.assert_allclose(tf.linspace(0., 1., 5).numpy(), [0., .25, .5, .75, 1.])
    assert tf.zeros([2, 3]).shape == (2, 3) and tf.ones([2, 3]).numpy().sum() == 6.0
    np.testing.assert_array_equal(tf.range(1, 7, 2).numpy(), [1, 3, 5])
    u = tf.random.uniform([1000])
    assert u.dtype == tf.float32 and u.shape == (1000,)
    assert 0.0 <= float(tf.reduce_min(u)) and float(tf.reduce_max(u)) < 1.0
    n = tf.random.normal([2, 3])
    assert n.dtype == tf.float32 and n.shape == (2, 3)


def test_random_set_seed_repeats_the_sequence():
    tf.random.set_seed(1234)
    a1, a2 = tf.random.uniform([3]), tf.random.uniform([3])
    tf.random.set_seed(1234)
    b1, b2 = tf.random.uniform([3]), tf.random.uniform([3])
    np.testing.assert_array_equal(a1.numpy(), b1.numpy())
    np.testing.assert_array_equal(a2.numpy(), b2.numpy())
    assert not np.array_equal(a1.numpy(), a2.numpy())


def test_creation_ops_are_not_connected_to_the_tape():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as t:
        y = tf.ones_like(x) * tf.fill([2], 2.0) + tf.constant(1.0) + x
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [1., 1.])


# === §17 warnings and their rate limits (and the §4 / §5.1 / §7 warnings) ======================

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
    for i in range(3):
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


# === §18 things that leave the library ========================================================

def test_numpy_functions_on_tensors_stay_on_the_tape():
    # DELIBERATE DIFFERENCE: TensorFlow returns an ndarray from np.mean and the gradient is None.
    x = tf.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as tape:
        x2 = x ** 2
        y = np.mean(x2, axis=0)
        assert isinstance(y, tf.Tensor)
        np.testing.assert_array_equal(y.numpy(), [5., 10.])
        y = tf.reduce_mean(y, axis=0)
    # y = mean of x**2 over all four entries: dy/dx = 2x / 4
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0.5, 1.0], [1.5, 2.0]])


def test_math_module_results_are_constants_for_the_tape():
    x = tf.Variable(0.5)
    with tf.GradientTape() as tape:
        s = math.sin(x)                      # a Python float: leaves the library
        y = tf.constant(s) * 2.0
    assert type(s) is float
    assert tape.gradient(y, x) is None


def test_values_converted_to_ndarrays_are_constants_for_the_tape():
    x = tf.Variable([0.5, 1.0])
    with tf.GradientTape() as tape:
        a = x.numpy() * 2.0
        y = tf.constant(a) + 1.0
    assert tape.gradient(y, x) is None


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
