"""GradientTape.jacobian and batch_jacobian (docs/tensorflow_semantics.md §12): TensorFlow's shapes, errors and
unconnected behaviour; against finite differences for every op in the registry (through the
batched sweep); one sweep when every op batches, one per row otherwise."""
import logging

import numpy as np
import pytest

import tapegrad as tf
from tapegrad import _core
from tapegrad import tape as tape_module
from tapegrad.test import numerical_jacobian

from conftest import ONE_SHOT, raises_exactly, raises_starting
from op_records import COMPLEX_RECORDS, RECORDS


def _counting_op(batching):
    """x * 3 with a VJP rule that counts its calls."""
    calls = []

    def vjp(g, ans, x):
        calls.append(np.shape(g))
        return g * 3.0

    op = _core.Op("times3_" + str(batching), lambda x: x * 3.0, (vjp,), kind=_core.GENERAL,
                  jvps=(lambda t, ans, x: t * 3.0,), batching=batching)
    return op, calls


# === §12.1 ========================================================================================

def test_jacobian_shapes_and_unconnected():
    x = tf.Variable(tf.reshape(tf.range(6, dtype=tf.float32), [2, 3]))
    s = tf.Variable(2.0)
    u = tf.Variable([3., 4., 5.])
    with tf.GradientTape(persistent=True) as g:
        y = tf.matmul(x, tf.transpose(x)) * s
        z = tf.reduce_sum(x) * s
    assert [g.jacobian(y, x).shape, g.jacobian(y, s).shape, g.jacobian(z, x).shape, g.jacobian(z, s).shape] == \
        [(2, 2, 2, 3), (2, 2), (2, 3), ()]
    assert str(g.jacobian(z, s)) == "tapegrad.Tensor(15.0, shape=(), dtype=float32)"
    assert g.jacobian(z, u) is None
    assert str(g.jacobian(z, u, unconnected_gradients='zero')) == \
        "tapegrad.Tensor([0. 0. 0.], shape=(3,), dtype=float32)"
    # closed form: y_ij = s sum_k x_ik x_jk
    X = x.numpy()
    want = np.zeros((2, 2, 2, 3))
    for i in range(2):
        for j in range(2):
            want[i, j, i] += 2 * X[j]
            want[i, j, j] += 2 * X[i]
    np.testing.assert_allclose(g.jacobian(y, x).numpy(), want)
    np.testing.assert_allclose(g.jacobian(y, s).numpy(), X @ X.T)
    # summing the Jacobian over the target axes gives gradient()
    np.testing.assert_allclose(np.sum(g.jacobian(y, x).numpy(), axis=(0, 1)), g.gradient(y, x).numpy())


def test_jacobian_of_a_watched_constant_and_the_pfor_error_on_a_used_tape():
    with tf.GradientTape() as h:
        w = tf.constant([1.0, 2.0])
        h.watch(w)
        q = w * w
    assert str(h.jacobian(q, w)) == ("tapegrad.Tensor(\n[[2. 0.]\n [0. 4.]], shape=(2, 2), dtype=float32)")
    with raises_starting(RuntimeError, ONE_SHOT):
        h.jacobian(q, w, experimental_use_pfor=False)


def test_without_pfor_a_persistent_tape_is_required():
    x = tf.Variable([1., 2.])
    with tf.GradientTape() as g:
        y = x * x
    with raises_exactly(RuntimeError, "GradientTape must be created with persistent=True to compute the jacobian "
                                "with eager execution enabled and with  experimental_use_pfor set to False."):
        g.jacobian(y, x, experimental_use_pfor=False)
    assert g.jacobian(y, x).numpy().tolist() == [[2.0, 0.0], [0.0, 4.0]]    # the failed call did not consume it
    with tf.GradientTape(persistent=True) as g:
        y = x * x
    assert g.jacobian(y, x, experimental_use_pfor=False).numpy().tolist() == [[2.0, 0.0], [0.0, 4.0]]
    assert g.jacobian(y, x, parallel_iterations=1).numpy().tolist() == [[2.0, 0.0], [0.0, 4.0]]


def test_target_must_be_one_tensor():
    x = tf.Variable([1., 2.])
    with tf.GradientTape(persistent=True) as g:
        y = x * x
    with pytest.raises(AttributeError, match="'list' object has no attribute 'shape'"):
        g.jacobian([y, y], x)
    with pytest.raises(ValueError, match="Unknown value for unconnected_gradients: 'ZERO'"):
        g.jacobian(y, x, unconnected_gradients='ZERO')


def test_sources_nest_and_dtypes():
    a = tf.constant([1.0, 2.0], dtype=tf.float64)
    b = tf.constant(3.0, dtype=tf.float64)
    i = tf.constant([1, 2])
    with tf.GradientTape() as g:
        g.watch([a, b, i])
        y = a * b
    out = g.jacobian(y, {"a": a, "rest": [b, i]})
    assert out["a"].dtype == tf.float64
    np.testing.assert_array_equal(out["a"].numpy(), [[3.0, 0.0], [0.0, 3.0]])
    np.testing.assert_array_equal(out["rest"][0].numpy(), [1.0, 2.0])
    assert out["rest"][1] is None


def test_integer_target_and_empty_target():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape(persistent=True) as g:
        n = tf.cast(x, tf.int32)
        e = x[:0] * 2.0
    assert g.jacobian(n, x) is None
    assert g.jacobian(e, x).shape == (0, 2)


def test_jacobian_of_a_source_itself_is_the_identity():
    x = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    with tf.GradientTape() as g:
        g.watch(x)
    np.testing.assert_array_equal(g.jacobian(x, x).numpy(), np.eye(4).reshape(2, 2, 2, 2))


def test_jacobian_inside_a_non_persistent_context_consumes_the_tape():
    x = tf.Variable(3.0)
    with tf.GradientTape() as t:
        y = x * x
        assert t.jacobian(y, x).numpy() == 6.0
        w = x * 5.0
        with raises_starting(RuntimeError, ONE_SHOT):
            t.gradient(w, x)


def test_jacobian_of_the_linear_seed_function_is_none_but_zero_with_zero():
    a = tf.Variable(-1.1861123)
    with tf.GradientTape() as t4:
        t4.watch(a)
        with tf.GradientTape() as t3:
            t3.watch(a)
            d = a * 2.0 * 2.0
        dif = t3.gradient(d, a)
    assert t4.jacobian(dif, a, unconnected_gradients='zero').numpy() == 0.0


# === vectorisation ==================================================================================

def test_one_sweep_when_every_op_batches_and_one_per_row_otherwise():
    for batching, want_calls in ((True, 1), (False, 6)):
        op, calls = _counting_op(batching)
        x = tf.constant(np.arange(6.0).reshape(2, 3))
        with tf.GradientTape() as g:
            g.watch(x)
            y = tf.sin(_core.apply(op, (x,))) * x
        j = g.jacobian(y, x).numpy()
        assert len(calls) == want_calls
        xv = np.arange(6.0).reshape(2, 3)
        want = np.diag((3 * np.cos(3 * xv) * xv + np.sin(3 * xv)).ravel()).reshape(2, 3, 2, 3)
        np.testing.assert_allclose(j, want, rtol=1e-12)


def test_a_non_batching_op_off_the_path_keeps_the_batched_sweep():
    op, calls = _counting_op(False)
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        side = _core.apply(op, (x,))          # not between x and y
        y = tf.exp(x)
    assert len(calls) == 0
    np.testing.assert_allclose(g.jacobian(y, x).numpy(), np.diag(np.exp([1.0, 2.0])))
    np.testing.assert_allclose(g.jacobian(side, x).numpy(), 3 * np.eye(2))
    assert len(calls) == 2                   # the side target itself needs rows


def test_per_row_fallback_on_a_non_persistent_tape_keeps_values_until_the_last_row():
    op, calls = _counting_op(False)
    x = tf.constant(np.array([0.5, 1.5, 2.5]))
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.tanh(_core.apply(op, (x,))) * tf.exp(x)
    j = g.jacobian(y, x).numpy()
    xv = np.array([0.5, 1.5, 2.5])
    want = np.diag(3 * (1 - np.tanh(3 * xv) ** 2) * np.exp(xv) + np.tanh(3 * xv) * np.exp(xv))
    np.testing.assert_allclose(j, want, rtol=1e-12)
    assert g._wengert is None                    # consumed


def test_broadcasting_binary_ops_keep_the_batch_axis():
    x = tf.constant(np.linspace(0.1, 1.0, 12).reshape(3, 4))
    b = tf.constant(np.array([1.0, 2.0, 3.0, 4.0]))
    c = tf.constant(np.array([[2.0], [3.0], [4.0]]))
    with tf.GradientTape(persistent=True) as g:
        g.watch([x, b, c])
        y = (x * b + c) / b - c * 2.0
    for src in (x, b, c):
        def f(v, src=src):
            env = {id(x): x, id(b): b, id(c): c}
            env[id(src)] = v
            xx, bb, cc = env[id(x)], env[id(b)], env[id(c)]
            return (xx * bb + cc) / bb - cc * 2.0
        num = numerical_jacobian(lambda v: f(v), [src.numpy()], 0).reshape((3, 4) + src.shape)
        np.testing.assert_allclose(g.jacobian(y, src).numpy(), num, rtol=1e-6, atol=1e-8)


ALL = {**RECORDS, **COMPLEX_RECORDS}          # complex cases too: numerical_jacobian reads them as pairs of reals


@pytest.mark.parametrize("name", [pytest.param(n, marks=ALL[n].marks) for n in sorted(ALL)])
def test_jacobian_against_finite_differences(name):
    rec = ALL[name]
    xs = rec.inputs()
    ts = [tf.constant(x) for x in xs]
    with np.errstate(all="ignore"):
        with tf.GradientTape(persistent=True) as g:
            g.watch(ts)
            y = rec.apply(*ts)
        for i, t in enumerate(ts):
            j = g.jacobian(y, t, unconnected_gradients="zero").numpy()
            assert j.shape == tuple(y.shape) + tuple(t.shape)
            num = numerical_jacobian(rec.apply, xs, i)
            np.testing.assert_allclose(j.reshape(num.shape), num, rtol=1e-5, atol=1e-6)


def test_hessian_through_nested_tapes_and_a_batched_tensor_mode_sweep():
    x0 = np.array([0.3, -0.7, 1.1])
    x = tf.constant(x0)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = tf.reduce_sum(tf.sin(x) * x[0]) + tf.reduce_sum(x * x * x)
        gr = inner.gradient(y, x)
    h = outer.jacobian(gr, x).numpy()
    want = np.diag(-np.sin(x0) * x0[0] + 6 * x0)
    want[0, :] += np.cos(x0)
    want[:, 0] += np.cos(x0)
    np.testing.assert_allclose(h, want, rtol=1e-12)


def test_jacobian_is_differentiable_when_another_tape_records():
    x = tf.constant([0.5, 2.0])
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        j = inner.jacobian(y, x)                        # diag(3 x^2), recorded on `outer`
        total = tf.reduce_sum(j)
    np.testing.assert_allclose(j.numpy(), np.diag([0.75, 12.0]))
    np.testing.assert_allclose(outer.gradient(total, x).numpy(), [3.0, 12.0])


def test_jacobian_inside_a_persistent_context_warns(caplog):
    x = tf.Variable([1., 2.])
    with caplog.at_level(logging.WARNING):
        with tf.GradientTape(persistent=True) as g:
            y = x * x
            j = g.jacobian(y, x)
    np.testing.assert_array_equal(j.numpy(), [[2., 0.], [0., 4.]])
    assert "Calling GradientTape.gradient on a persistent tape inside its context" in caplog.text


# === §12.2 batch_jacobian ============================================================================

def test_batch_jacobian_values_unconnected_zeros_and_errors():
    with tf.GradientTape(persistent=True) as g:
        x = tf.constant([[1., 2.], [3., 4.]])
        g.watch(x)
        y = x * x
        u = tf.constant([[1.0], [2.0]])
        g.watch(u)
        bad = tf.concat([x, x], axis=0)
    assert str(g.batch_jacobian(y, x)) == ("tapegrad.Tensor(\n[[[2. 0.]\n  [0. 4.]]\n\n [[6. 0.]\n  [0. 8.]]], "
                                           "shape=(2, 2, 2), dtype=float32)")
    assert g.batch_jacobian(y, u).numpy().tolist() == [[[0.0], [0.0]], [[0.0], [0.0]]]
    with raises_exactly(ValueError,
                        "Need first dimension of target shape ((4, 2)) and source shape ((2, 2)) to match."):
        g.batch_jacobian(bad, x)
    with raises_exactly(ValueError, "Shape (2,) must have rank at least 2"):
        g.batch_jacobian(tf.reduce_sum(x, axis=1), x)
    with raises_exactly(ValueError, "Shape (2,) must have rank at least 2"):
        g.batch_jacobian(y, x[0])


def test_batch_jacobian_shapes():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.standard_normal((2, 3, 4)))
    w = tf.constant(rng.standard_normal((4, 5)))
    with tf.GradientTape(persistent=True) as g:
        g.watch(x)
        y = tf.tanh(tf.matmul(x, w))                    # (2, 3, 5): each example independent
        v = tf.reshape(y, [2, 15])
    bj = g.batch_jacobian(y, x)
    assert bj.shape == (2, 3, 5, 3, 4)
    full = g.jacobian(y, x).numpy()                     # (2, 3, 5, 2, 3, 4)
    for b in range(2):
        np.testing.assert_allclose(bj.numpy()[b], full[b, :, :, b], rtol=1e-12)
    assert g.batch_jacobian(v, x).shape == (2, 15, 3, 4)
    z = tf.zeros([1, 0])
    with tf.GradientTape() as g2:
        g2.watch(z)
        q = z * 2.0
    assert g2.batch_jacobian(q, z).shape == (1, 0, 0)


def test_batch_jacobian_one_shot_typo_and_pfor_error():
    x = tf.Variable(tf.range(4, dtype=tf.float32))
    with tf.GradientTape() as t:
        y = x * x
    with raises_exactly(RuntimeError, "GradientTape must be created with persistent=True to compute the batch_jacobian "
                                "with eager execution enabled and  with experimental_use_pfor set to False."):
        t.batch_jacobian(tf.reshape(y, [4, 1]), tf.reshape(x, [4, 1]), experimental_use_pfor=False)
    t.gradient(y, x)
    with raises_starting(RuntimeError, 'A non-persistent GradientTape can only be used tocompute one set of gradients '
                                 '(or jacobians)'):
        t.batch_jacobian(tf.reshape(y, [4, 1]), tf.reshape(x, [4, 1]))


def test_batch_jacobian_of_batch_coupled_rows_is_tensorflows_and_warns(caplog):
    # TensorFlow's silent error: y = x - mean(x, axis=0) has per-example blocks 0.5*I but
    # batch_jacobian returns the batch-summed rows, all zeros.  tapegrad returns the same and warns.
    x = tf.constant([[1.0, 2.0], [3.0, 5.0]])
    with caplog.at_level(logging.WARNING):
        with tf.GradientTape(persistent=True) as g:
            g.watch(x)
            y = x - tf.reduce_mean(x, axis=0)
            ok = x * x
        bj = g.batch_jacobian(y, x)
        np.testing.assert_array_equal(bj.numpy(), np.zeros((2, 2, 2)))
        assert "rows of the target depend on other rows of the source" in caplog.text
        caplog.clear()
        g.batch_jacobian(ok, x)
        g.batch_jacobian(y, x, experimental_check_independence=False)
        assert "rows of the target" not in caplog.text


def test_batch_jacobian_with_a_non_batching_op_on_the_path():
    op, calls = _counting_op(False)
    x = tf.constant(np.arange(6.0).reshape(3, 2))
    with tf.GradientTape() as g:
        g.watch(x)
        y = tf.sin(_core.apply(op, (x,)))
    bj = g.batch_jacobian(y, x, experimental_check_independence=False).numpy()
    assert len(calls) == 2                              # one sweep per target column
    xv = np.arange(6.0).reshape(3, 2)
    want = np.stack([np.diag(3 * np.cos(3 * r)) for r in xv])
    np.testing.assert_allclose(bj, want, rtol=1e-12)


def test_zero_size_targets_need_no_sweep():
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as g:
        g.watch(x)
        e = tf.reshape(x, [-1])[:0] * 2.0
    assert g.jacobian(e, x).shape == (0, 1, 2)
    with raises_starting(RuntimeError, ONE_SHOT):                # still the tape's one use
        g.jacobian(e, x)
    with tf.GradientTape() as g:
        g.watch(x)
        e = tf.reshape(x, [1, 2])[:, :0] * 2.0
    assert g.batch_jacobian(e, x).shape == (1, 0, 2)


@pytest.mark.parametrize("size, shape, dtype", [(0, (0,), np.float64), (1, (), np.float64), (6, (2, 3), np.float32),
                                                (4, (4,), np.int32), (3, (3,), np.complex128)])
def test_identity_rows_are_numpy_eye(size, shape, dtype):
    """A Jacobian's seed rows: NumPy's identity in the target's dtype (float32 for integer targets)."""
    rows = tape_module._identity_rows(size, shape, np.dtype(dtype))
    want = np.eye(size, dtype=dtype if np.dtype(dtype).kind in "fc" else np.float32).reshape((size,) + shape)
    assert rows.dtype == want.dtype and rows.shape == want.shape
    np.testing.assert_array_equal(rows, want)
