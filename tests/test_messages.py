"""What tapegrad says when something goes wrong: TensorFlow's text first where TensorFlow has one,
then what happened and what to write instead; reprs that show an object's state; warnings
reported at the user's line, naming the op.  Every message test asserts the exception or
warning type and its key words."""
import inspect
import logging
import warnings

import numpy as np
import pytest

import tapegrad as tf

from conftest import ONE_SHOT, raises_starting

# --- the tape's errors ----------------------------------------------------------------------------


@pytest.mark.parametrize('method', ['gradient', 'jacobian'])
def test_a_used_one_shot_tape_says_to_make_it_persistent(method):
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = x * x
    tape.gradient(y, x)
    with raises_starting(RuntimeError, ONE_SHOT) as info:
        getattr(tape, method)(y, x)
    assert 'GradientTape(persistent=True)' in str(info.value)
    assert 'more than once' in str(info.value)


@pytest.mark.parametrize('method', ['gradient', 'jacobian', 'batch_jacobian'])
def test_a_never_entered_tape_says_so(method):
    x = tf.Variable([[1.0, 2.0]])
    y = x * x
    with pytest.raises(RuntimeError) as info:
        getattr(tf.GradientTape(), method)(y, x)
    message = str(info.value)
    assert message.startswith('A non-persistent GradientTape can only be used')
    assert 'never entered' in message and 'with tape:' in message and 'persistent=True' not in message


def test_a_python_number_as_source_says_how_to_make_it_a_tensor():
    with tf.GradientTape() as tape:
        y = tf.constant(3.0) * 2.0
    with pytest.raises(AttributeError) as info:
        tape.gradient(y, 3.0)
    message = str(info.value)
    assert message.startswith("'float' object has no attribute '_id'")
    assert 'tf.Variable(' in message and 'tape.watch(x)' in message      # this module imports tapegrad as tf


def test_the_fix_names_tapegrad_as_the_caller_imported_it():
    namespace = {'tg': tf}
    with pytest.raises(AttributeError, match=r'`x = tg\.Variable\(\.\.\.\)`'):
        exec('with tg.GradientTape() as tape:\n    y = tg.constant(1.0)\ntape.gradient(y, 1.0)', namespace)
    with pytest.raises(AttributeError, match=r'`x = tapegrad\.Variable\(\.\.\.\)`'):
        exec('with GradientTape() as tape:\n    pass\ntape.gradient(y, [1.0])',
             {'GradientTape': tf.GradientTape, 'y': tf.constant(1.0)})


# --- reprs ----------------------------------------------------------------------------------------


def test_gradient_tape_repr_follows_its_life():
    w = tf.Variable(1.0, name='w')
    tape = tf.GradientTape()
    assert repr(tape) == ("<tapegrad.GradientTape: not entered, persistent=False, 0 ops recorded, "
                          "watched variables: []>")
    with tape:
        assert repr(tape).startswith('<tapegrad.GradientTape: recording, persistent=False, 0 ops')
        y = w * w + 1.0
    assert repr(tape) == ("<tapegrad.GradientTape: not recording, persistent=False, 2 ops recorded, "
                          "watched variables: ['w:0']>")
    tape.gradient(y, w)
    assert repr(tape) == ("<tapegrad.GradientTape: released (its one gradient computed), persistent=False, "
                          "0 ops recorded, watched variables: ['w:0']>")
    with tf.GradientTape(persistent=True) as p:
        p.watch(tf.constant(1.0))
    assert 'persistent=True' in repr(p) and 'not recording' in repr(p)


def test_forward_accumulator_repr():
    v = tf.Variable(1.0, name='v')
    acc = tf.autodiff.ForwardAccumulator(primals=(v, tf.constant([1.0, 2.0])), tangents=(1.0, tf.ones(2)))
    assert repr(acc) == "<tapegrad.autodiff.ForwardAccumulator: not recording, primals: ['v:0', 'Tensor(2,)']>"
    with acc:
        assert repr(acc).startswith('<tapegrad.autodiff.ForwardAccumulator: recording,')


# --- warnings at the user's line --------------------------------------------------------------------


def test_a_warning_in_the_backward_pass_names_the_op_at_the_users_line():
    x = tf.constant([0.0, 4.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.sqrt(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        g = tape.gradient(y, x)
    np.testing.assert_array_equal(g.numpy(), [np.inf, 0.25])
    assert len(caught) == 1
    w = caught[0]
    assert w.category is RuntimeWarning
    assert w.filename == __file__
    assert 'divide by zero' in str(w.message) and 'derivative of sqrt' in str(w.message)
    assert 'd/dx sqrt(x) = 0.5 / sqrt(x)' in str(w.message)


def test_jacobian_warnings_are_at_the_users_line_too():
    x = tf.constant([0.0, 1.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.log(x)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        tape.jacobian(y, x)
    assert caught and {w.filename for w in caught} == {__file__}     # 1 / 0, and 0 / 0 in the other row
    assert all('derivative of log' in str(w.message) for w in caught)


def test_numpy_error_settings_of_the_user_are_respected():
    x = tf.constant(0.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.sqrt(x)
    with np.errstate(divide='raise'):
        with pytest.raises(FloatingPointError):
            tape.gradient(y, x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.sqrt(x)
    with np.errstate(all='ignore'), warnings.catch_warnings():
        warnings.simplefilter('error')
        assert tape.gradient(y, x).numpy() == np.inf


def test_the_int_watch_warning_is_logged_at_the_users_line_with_their_import_name(caplog):
    caplog.set_level(logging.WARNING, logger='tapegrad')
    exec(compile('with tg.GradientTape() as t:\n    t.watch(tg.constant(1))\n', 'users_file.py', 'exec'),
         {'tg': tf})
    (record,) = [r for r in caplog.records if 'watched tensor' in r.getMessage()]
    assert record.getMessage() == ('The dtype of the watched tensor must be floating (e.g. tg.float32), '
                                   'got tg.int32')
    assert (record.pathname, record.lineno) == ('users_file.py', 2)


# --- the public methods document themselves ---------------------------------------------------------

DOCUMENTED = [tf.GradientTape.__enter__, tf.GradientTape.__exit__, tf.GradientTape.watch,
              tf.GradientTape.watched_variables, tf.GradientTape.stop_recording, tf.GradientTape.reset,
              tf.GradientTape.gradient, tf.GradientTape.jacobian, tf.GradientTape.batch_jacobian,
              tf.autodiff.ForwardAccumulator.jvp, tf.Tensor.numpy, tf.Variable.numpy, tf.Variable.value,
              tf.Variable.read_value, tf.Variable.assign, tf.Variable.assign_add, tf.Variable.assign_sub,
              tf.TensorShape.as_list, tf.DType.is_floating]


@pytest.mark.parametrize('method', DOCUMENTED, ids=lambda m: getattr(m, '__qualname__', repr(m)))
def test_public_methods_have_their_own_docstrings(method):
    doc = inspect.getdoc(method)
    assert doc and len(doc) > 20 and not doc.startswith('----')


@pytest.mark.parametrize('method', [tf.GradientTape.gradient, tf.GradientTape.jacobian,
                                    tf.GradientTape.batch_jacobian, tf.Variable.assign,
                                    tf.Variable.assign_add, tf.Variable.assign_sub])
def test_methods_document_args_returns_and_raises(method):
    doc = inspect.getdoc(method)
    assert 'Args:' in doc and 'Returns:' in doc and 'Raises:' in doc


def test_the_gradient_methods_say_when_they_return_none():
    def doc(m):
        return ' '.join(inspect.getdoc(m).split())
    assert 'is None when' in doc(tf.GradientTape.gradient)
    assert 'is None when' in doc(tf.GradientTape.jacobian)
    assert 'never None' in doc(tf.GradientTape.batch_jacobian)
    assert 'is None when' in doc(tf.autodiff.ForwardAccumulator.jvp)
