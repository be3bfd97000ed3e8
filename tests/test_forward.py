"""Forward mode: tapegrad.autodiff.ForwardAccumulator (docs/tensorflow_semantics.md §14), and forward
mode against reverse mode through the engines for every op in the registry:
<u, J v> from a ForwardAccumulator equals <J^T u, v> from a GradientTape, and
forward-over-reverse Hessian-vector products equal reverse-over-reverse ones."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _core
from tapegrad.test import _direction, _inner, check_gradients

from conftest import raises_exactly
from op_records import COMPLEX_RECORDS, RECORDS

DUPLICATE = ("Tensor {} was specified as a primal multiple times. This may indicate an error. If it was "
             "intended, please sum the corresponding tangents.")


# === §14 snippets ===============================================================================

def test_nested_accumulators_outer_sees_inner():
    primal = tf.constant(1.1)
    with tf.autodiff.ForwardAccumulator(primal, tf.constant(1.)) as outer:
        with tf.autodiff.ForwardAccumulator(primal, tf.constant(1.)) as inner:
            primal_out = primal ** tf.constant(3.5)
    inner_jvp = inner.jvp(primal_out)
    # d/dp p^3.5 = 3.5 p^2.5; d2 = 3.5 * 2.5 p^1.5 (TensorFlow prints 4.4417057 10.094786 None)
    assert inner_jvp.numpy() == pytest.approx(3.5 * 1.1 ** 2.5, rel=1e-6)
    assert outer.jvp(inner_jvp).numpy() == pytest.approx(3.5 * 2.5 * 1.1 ** 1.5, rel=1e-6)
    assert str(inner_jvp.numpy()) == "4.4417057" and str(outer.jvp(inner_jvp).numpy()) == "10.094786"
    assert inner.jvp(outer.jvp(primal_out)) is None


def test_forward_over_reverse_hessian_vector_product():
    v = tf.Variable([1., 2.])
    with tf.autodiff.ForwardAccumulator(v, tf.constant([1., 0.])) as acc:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(v ** 3.)
        backward = tape.gradient(y, v)
    assert repr(backward) == ("<tapegrad.Tensor: shape=(2,), dtype=float32, "
                              "numpy=array([ 3., 12.], dtype=float32)>")
    assert repr(acc.jvp(backward)) == ("<tapegrad.Tensor: shape=(2,), dtype=float32, "
                                       "numpy=array([6., 0.], dtype=float32)>")


def test_tape_inside_an_accumulator_ignores_its_jvp_ops():
    x = tf.constant(2.0)
    with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x * x * x
        assert tape.gradient(acc.jvp(y), x) is None      # the tangent was never on the tape
    assert acc.jvp(y).numpy() == 12.0


def test_reverse_over_forward():
    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        with tf.autodiff.ForwardAccumulator(x, tf.constant(1.0)) as acc:
            y = tf.sin(x) * x
        jvp = acc.jvp(y)                                  # cos(x) x + sin(x)
    # d/dx (x cos x + sin x) = 2 cos x - x sin x
    assert tape.gradient(jvp, x).numpy() == pytest.approx(2 * np.cos(2.0) - 2 * np.sin(2.0), rel=1e-6)


def test_reverse_over_forward_through_the_tangent():
    # The tangent itself depends on a watched tensor: the JVP is differentiable w.r.t. it.
    x, s = tf.constant(3.0), tf.constant(0.5)
    with tf.GradientTape() as tape:
        tape.watch(s)
        with tf.autodiff.ForwardAccumulator(x, s * 2.0) as acc:
            y = x * x
        jvp = acc.jvp(y)                                  # 2x * 2s
    assert jvp.numpy() == 6.0
    assert tape.gradient(jvp, s).numpy() == 12.0


def test_stop_recording_does_not_stop_the_accumulator():
    x = tf.constant(1.0)
    with tf.autodiff.ForwardAccumulator(x, 2.0) as acc:
        with tf.GradientTape() as tape:
            with tape.stop_recording():
                y = x * 3.0
    assert acc.jvp(y).numpy() == 6.0


def test_jvp_lookup_rules_and_unconnected_values():
    x = tf.constant(-1.)
    with tf.autodiff.ForwardAccumulator(x, 0.1) as acc:
        z = tf.constant(-2.)
        assert acc.jvp(z) is None
        assert str(acc.jvp(z, unconnected_gradients='zero')) == "tapegrad.Tensor(0.0, shape=(), dtype=float32)"
        assert acc.jvp(z, unconnected_gradients=tf.UnconnectedGradients.ZERO).numpy() == 0.0
        with raises_exactly(ValueError, "Accumulator is already recording."):
            with acc:
                pass
        w = x * 2.0
    outside = x * 5.0                                     # computed while the accumulator is not active
    assert acc.jvp(outside) is None
    assert acc.jvp(w).numpy() == pytest.approx(0.2)
    assert acc.jvp(x).numpy() == pytest.approx(0.1)       # primals: their tangents
    assert [t.numpy() for t in acc.jvp([w, (x,)])[:1]] == [pytest.approx(0.2)]
    with acc:                                             # re-entering after exit works
        again = w * 10.0
    assert acc.jvp(again).numpy() == pytest.approx(2.0)


def test_jvp_of_a_never_entered_accumulator():
    x = tf.constant([1.0, 2.0])
    acc = tf.autodiff.ForwardAccumulator(x, tf.constant([3.0, 4.0]))
    np.testing.assert_array_equal(acc.jvp(x).numpy(), [3.0, 4.0])
    assert acc.jvp(x * 2.0) is None


def test_accumulator_errors():
    x = tf.constant(-2.)
    with raises_exactly(ValueError, DUPLICATE):
        tf.autodiff.ForwardAccumulator([x, x], [1., 2.])
    with tf.autodiff.ForwardAccumulator(x, 1.5) as acc:
        with raises_exactly(ValueError, "'bogus' is not a valid UnconnectedGradients"):
            acc.jvp(x, unconnected_gradients='bogus')
    with pytest.raises(ValueError, match="don't have the same nested structure"):
        tf.autodiff.ForwardAccumulator([x], [1., 2.])
    with pytest.raises(ValueError, match="shape must match"):
        tf.autodiff.ForwardAccumulator(tf.constant([1., 2.]), tf.constant([1., 2., 3.]))


def test_tangent_takes_the_primal_dtype():
    d = tf.constant(2.0, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(d, 1.0) as acc:
        y = d * d
    assert repr(acc.jvp(y)) == "<tapegrad.Tensor: shape=(), dtype=float64, numpy=4.0>"


def test_integer_primal_warns_and_has_no_jvps(caplog):
    i = tf.constant(2)
    with caplog.at_level("WARNING"):
        with tf.autodiff.ForwardAccumulator(i, tf.constant(1)) as acc:
            j = i * i
    assert acc.jvp(j) is None
    assert "The dtype of the watched primal must be floating (e.g. tf.float32), got tf.int32" in caplog.text


def test_variable_primal_keeps_its_tangent_across_assign():
    v = tf.Variable(1.)
    with tf.autodiff.ForwardAccumulator(v, 11.) as acc:
        v.assign_sub(0.5)
        assert v.numpy() == 0.5
        assert acc.jvp(v).numpy() == 11.0
        assert acc.jvp(v * 2.).numpy() == 22.0


def test_integer_outputs_zeros_like_and_stop_gradient_have_no_jvp():
    x = tf.constant([1.5, -2.0])
    with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 1.0])) as acc:
        outs = [tf.cast(x, tf.int32), tf.argmax(x), tf.zeros_like(x), tf.stop_gradient(x), tf.round(x)]
    assert [acc.jvp(o) for o in outs] == [None] * 5


def test_numpy_functions_on_tensors_get_tangents():
    x = tf.constant([0.5, 1.0])
    with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 2.0])) as acc:
        y = np.sum(np.sin(x) * x)
    want = np.sum((np.cos([0.5, 1.0]) * [0.5, 1.0] + np.sin([0.5, 1.0])) * [1.0, 2.0])
    assert acc.jvp(y).numpy() == pytest.approx(want, rel=1e-6)


def test_broadcast_binary_tangent_has_the_output_shape():
    s = tf.constant(2.0)
    with tf.autodiff.ForwardAccumulator(s, 1.0) as acc:
        y = s + tf.constant([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [1.0, 1.0, 1.0])


def test_third_order_with_three_accumulators():
    x = tf.constant(0.7, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(x, 1.0) as a3:
        with tf.autodiff.ForwardAccumulator(x, 1.0) as a2:
            with tf.autodiff.ForwardAccumulator(x, 1.0) as a1:
                y = tf.sin(x) * x ** 4
    d1 = a1.jvp(y)
    d2 = a2.jvp(d1)
    d3 = a3.jvp(d2)
    x0 = 0.7
    want = [np.cos(x0) * x0 ** 4 + 4 * np.sin(x0) * x0 ** 3,
            -np.sin(x0) * x0 ** 4 + 8 * np.cos(x0) * x0 ** 3 + 12 * np.sin(x0) * x0 ** 2,
            -np.cos(x0) * x0 ** 4 - 12 * np.sin(x0) * x0 ** 3 + 36 * np.cos(x0) * x0 ** 2 + 24 * np.sin(x0) * x0]
    assert [d1.numpy(), d2.numpy(), d3.numpy()] == pytest.approx(want, rel=1e-12)


def test_forward_mode_in_a_long_chain_uses_no_recursion():
    x = tf.constant(0.5, dtype=tf.float64)
    with tf.autodiff.ForwardAccumulator(x, 1.0) as acc:
        y = x
        for _ in range(20000):
            y = tf.sin(y) * 1.0001 + 0.1
    d, yv = 1.0, 0.5
    for _ in range(20000):
        d, yv = 1.0001 * np.cos(yv) * d, np.sin(yv) * 1.0001 + 0.1
    assert acc.jvp(y).numpy() == pytest.approx(d, rel=1e-9)


def test_op_without_a_jvp_rule_raises_lookup_error():
    op = _core.Op("no_jvp_here", lambda x: x * 2, (lambda g, ans, x: g * 2,), kind=_core.GENERAL)
    x = tf.constant(1.0)
    with tf.autodiff.ForwardAccumulator(x, 1.0):
        with pytest.raises(LookupError, match="'no_jvp_here' has no JVP rule"):
            _core.apply(op, (x,))


# === forward against reverse, through the engines, for every op ==================================

def _case(rec):
    xs = [tf.constant(x) for x in rec.inputs()]
    rng = np.random.default_rng(7)
    us = [_direction(rng, np.shape(x._value), x._value) for x in xs]
    return xs, us, rng


# Complex values are checked as pairs of reals: complex directions, the inner product Re(sum(conj(a) * b)).
ALL = {**RECORDS, **COMPLEX_RECORDS}


@pytest.mark.parametrize("name", [pytest.param(n, marks=ALL[n].marks) for n in sorted(ALL)])
def test_forward_mode_agrees_with_reverse_mode(name):
    rec = ALL[name]
    xs, us, rng = _case(rec)
    with np.errstate(all="ignore"):
        with tf.autodiff.ForwardAccumulator(xs, [tf.constant(u) for u in us]) as acc:
            y = rec.apply(*xs)
        v = _direction(rng, np.shape(y._value), y._value)
        with tf.GradientTape() as tape:
            tape.watch(xs)
            y2 = rec.apply(*xs)
        grads = tape.gradient(y2, xs, output_gradients=tf.constant(v), unconnected_gradients="zero")
    jv = acc.jvp(y, unconnected_gradients="zero").numpy()
    lhs = _inner(v, jv)
    rhs = sum(_inner(np.asarray(g), u) for g, u in zip(grads, us))      # (gather's is an IndexedSlices)
    assert lhs == pytest.approx(rhs, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("name", [pytest.param(n, marks=ALL[n].marks) for n in sorted(ALL)
                                  if ALL[n].order >= 2])
def test_forward_over_reverse_agrees_with_reverse_over_reverse(name):
    # <w, H u> for the scalar <v, f(x)>: a JVP of the gradient against the
    # gradient of <gradient, u>.
    rec = ALL[name]
    xs, us, rng = _case(rec)
    with np.errstate(all="ignore"):
        y0 = rec.apply(*xs)
        v = tf.constant(_direction(rng, np.shape(y0._value), y0._value))
        with tf.autodiff.ForwardAccumulator(xs, [tf.constant(u) for u in us]) as acc:
            with tf.GradientTape() as tape:
                tape.watch(xs)
                y = rec.apply(*xs)
            g_fwd = tape.gradient(y, xs, output_gradients=v, unconnected_gradients="zero")
        hu_fwd = [np.asarray(acc.jvp(g, unconnected_gradients="zero")) for g in g_fwd]
        with tf.GradientTape() as outer:
            outer.watch(xs)
            with tf.GradientTape() as inner:
                inner.watch(xs)
                y = rec.apply(*xs)
            g = inner.gradient(y, xs, output_gradients=v, unconnected_gradients="zero")
            inner_u = tf.add_n([tf.math.real(tf.reduce_sum(tf.convert_to_tensor(gi) * np.conj(u)))
                                for gi, u in zip(g, us)])
        hu_rev = [h.numpy() for h in outer.gradient(inner_u, xs, unconnected_gradients="zero")]
    for a, b in zip(hu_fwd, hu_rev):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_sparse_cross_entropy_jvp_rule_is_differentiable_in_forward_mode():
    # Its JVP rule multiplies a tensor by an int64 array (np.expand_dims(1, -1)): forward over
    # forward needs that operand converted to the tensor's dtype, as TensorFlow converts it.
    logits = np.random.default_rng(0).standard_normal((3, 4))
    check_gradients(lambda x: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0, 3], logits=x),
                    [logits], order=2, modes=("fwd",))
