"""Op-level gradient conventions of the core op set: kinks, ties, bounds, broadcasting,
non-differentiable ops, and first derivatives against hand-derived formulas.

TensorFlow 2.21's behaviour pinned on tapegrad (`tf` is tapegrad); docs/tensorflow_semantics.md
§1 says how to read these tests, and the headings below give its sections.
"""
import math

import numpy as np
import pytest

import tapegrad as tf

# === §17 op-level gradient conventions ========================================================

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
