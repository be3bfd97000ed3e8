"""tf.nn convolutions and pooling: TensorFlow 2.21's observed values (docs/training.md,
section 6), a loop-by-loop NumPy reference for the forward, finite differences for
the derivatives (reverse and forward mode, second order), and TensorFlow's errors."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError, UnimplementedError
from tapegrad.test import check_gradients, numerical_jacobian

from conftest import raises_exactly

RNG = np.random.default_rng(11)


# ---- a loop-by-loop reference ---------------------------------------------------------------

def same_pads(n, k, s, d):
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def ref_conv2d(x, w, strides, dilations, pads):
    """NHWC cross-correlation, one output entry at a time, in float64."""
    xp = np.pad(x.astype(np.float64), ((0, 0), pads[0], pads[1], (0, 0)))
    n, h, wd, _ = xp.shape
    kh, kw, _, co = w.shape
    (sh, sw), (dh, dw) = strides, dilations
    ho = max((h - (kh - 1) * dh - 1) // sh + 1, 0)
    wo = max((wd - (kw - 1) * dw - 1) // sw + 1, 0)
    out = np.zeros((n, ho, wo, co))
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                window = xp[b, i * sh:i * sh + (kh - 1) * dh + 1:dh, j * sw:j * sw + (kw - 1) * dw + 1:dw, :]
                out[b, i, j] = np.tensordot(window, w.astype(np.float64), axes=3)
    return out


def ref_pool(x, k, s, pads, kind):
    n, h, w, c = x.shape
    ho = (h + sum(pads[0]) - k[0]) // s[0] + 1
    wo = (w + sum(pads[1]) - k[1]) // s[1] + 1
    out = np.zeros((n, ho, wo, c))
    for i in range(ho):
        for j in range(wo):
            r0, c0 = i * s[0] - pads[0][0], j * s[1] - pads[1][0]
            win = x[:, max(r0, 0):r0 + k[0], max(c0, 0):c0 + k[1], :]       # real entries only
            out[:, i, j] = win.max(axis=(1, 2)) if kind == "max" else win.mean(axis=(1, 2))
    return out


CONV_CASES = [  # input shape, filter (kh, kw, out), strides, dilations, padding
    ((2, 7, 6, 3), (3, 3, 4), (1, 1), (1, 1), "SAME"),
    ((2, 7, 6, 3), (3, 2, 2), (2, 3), (1, 1), "SAME"),
    ((1, 8, 9, 2), (2, 3, 3), (2, 2), (1, 1), "VALID"),
    ((1, 9, 8, 2), (3, 3, 2), (1, 1), (2, 3), "SAME"),
    ((1, 9, 8, 2), (2, 2, 2), (2, 1), (2, 2), "VALID"),
    ((2, 5, 5, 3), (1, 1, 4), (1, 1), (1, 1), "VALID"),
    ((1, 6, 5, 2), (3, 2, 3), (1, 2), (1, 1), [[0, 0], [2, 0], [1, 3], [0, 0]]),
]


def pads_of(padding, shape, k, s, d):
    if padding == "VALID":
        return ((0, 0), (0, 0))
    if padding == "SAME":
        return tuple(same_pads(n, kk, ss, dd) for n, kk, ss, dd in zip(shape[1:3], k, s, d))
    return tuple(tuple(p) for p in padding[1:3])


@pytest.mark.parametrize("shape,filt,s,d,padding", CONV_CASES)
def test_conv2d_forward_matches_the_reference(shape, filt, s, d, padding):
    x = RNG.standard_normal(shape)
    w = RNG.standard_normal(filt[:2] + (shape[-1], filt[2]))
    want = ref_conv2d(x, w, s, d, pads_of(padding, shape, filt[:2], s, d))
    got = tf.nn.conv2d(tf.constant(x), tf.constant(w), list(s), padding, dilations=list(d))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    got32 = tf.nn.conv2d(tf.constant(x, tf.float32), tf.constant(w, tf.float32), list(s), padding, dilations=list(d))
    assert got32.dtype == tf.float32
    np.testing.assert_allclose(got32.numpy(), want, rtol=1e-5, atol=1e-5)
    if isinstance(padding, str):
        nchw = tf.nn.conv2d(tf.constant(x.transpose(0, 3, 1, 2)), tf.constant(w), [1, 1] + list(s), padding,
                            data_format="NCHW", dilations=[1, 1] + list(d))
        np.testing.assert_allclose(nchw.numpy(), want.transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape,filt,s,d,padding", CONV_CASES[:5])
def test_conv2d_derivatives_against_finite_differences(shape, filt, s, d, padding):
    x = RNG.standard_normal((1,) + shape[1:])
    w = RNG.standard_normal(filt[:2] + (shape[-1], filt[2]))
    check_gradients(lambda a, b: tf.nn.conv2d(a, b, list(s), padding, dilations=list(d)), [x, w], order=2)


def test_conv2d_transpose_is_the_input_gradient_of_conv2d():
    x = RNG.standard_normal((2, 7, 6, 3))
    w = RNG.standard_normal((3, 2, 3, 4))
    g = RNG.standard_normal((2, 4, 2, 4))
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = tf.nn.conv2d(xt, tf.constant(w), [2, 3], "SAME")
    want = tape.gradient(y, xt, output_gradients=tf.constant(g)).numpy()
    got = tf.nn.conv2d_transpose(tf.constant(g), tf.constant(w), [2, 7, 6, 3], [2, 3], "SAME")
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    # and <conv(x), g> == <x, conv_transpose(g)> (the adjoint identity, no tapegrad gradient involved)
    lhs = np.sum(ref_conv2d(x, w, (2, 3), (1, 1), ((1, 1), (0, 1))) * g)
    assert np.sum(x * got.numpy()) == pytest.approx(lhs, rel=1e-12)
    check_gradients(lambda a, b: tf.nn.conv2d_transpose(a, b, [1, 7, 6, 3], [2, 3], "SAME"),
                    [g[:1], w], order=2)


def test_conv1d_and_depthwise():
    x = RNG.standard_normal((2, 9, 3))
    w = RNG.standard_normal((3, 3, 4))
    got = tf.nn.conv1d(tf.constant(x), tf.constant(w), 2, "SAME", dilations=1)
    want = ref_conv2d(x[:, None], w[None], (1, 2), (1, 1), ((0, 0), same_pads(9, 3, 2, 1)))[:, 0]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    ncw = tf.nn.conv1d(tf.constant(x.transpose(0, 2, 1)), tf.constant(w), 2, "SAME", data_format="NCW")
    np.testing.assert_allclose(ncw.numpy(), want.transpose(0, 2, 1), rtol=1e-12, atol=1e-12)
    check_gradients(lambda a, b: tf.nn.conv1d(a, b, 2, "VALID", dilations=2), [x[:1], w], order=2)
    # depthwise: channel c convolved with filter[..., c, m] lands at output channel c * M + m
    xi = RNG.standard_normal((1, 6, 5, 3))
    f = RNG.standard_normal((2, 3, 3, 2))
    got = tf.nn.depthwise_conv2d(tf.constant(xi), tf.constant(f), [1, 2, 1, 1], "SAME")
    pads = (same_pads(6, 2, 2, 1), same_pads(5, 3, 1, 1))
    for c in range(3):
        for m in range(2):
            want = ref_conv2d(xi[..., c:c + 1], f[:, :, c:c + 1, m:m + 1], (2, 1), (1, 1), pads)[..., 0]
            np.testing.assert_allclose(got.numpy()[..., c * 2 + m], want, rtol=1e-12, atol=1e-12)
    check_gradients(lambda a, b: tf.nn.depthwise_conv2d(a, b, [1, 2, 1, 1], "SAME"), [xi, f], order=2)


@pytest.mark.parametrize("k,s,padding", [((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME"),
                                         ((2, 3), (1, 2), "SAME"), ((3, 2), (3, 1), "VALID")])
def test_pools_forward_and_derivatives(k, s, padding):
    x = RNG.permutation(2 * 7 * 6 * 2).reshape(2, 7, 6, 2) * 0.25 + RNG.uniform(0, 0.1, (2, 7, 6, 2))
    pads = pads_of(padding, x.shape, k, s, (1, 1))
    for kind, fn in (("max", tf.nn.max_pool2d), ("avg", tf.nn.avg_pool2d)):
        got = fn(tf.constant(x), list(k), list(s), padding)
        np.testing.assert_allclose(got.numpy(), ref_pool(x, k, s, pads, kind), rtol=1e-12)
        nchw = fn(tf.constant(x.transpose(0, 3, 1, 2)), list(k), list(s), padding, data_format="NCHW")
        np.testing.assert_allclose(nchw.numpy(), got.numpy().transpose(0, 3, 1, 2), rtol=1e-12)
        check_gradients(lambda a, fn=fn: fn(a, list(k), list(s), padding), [x], order=2)
    check_gradients(lambda a: tf.nn.max_pool1d(a, 3, 2, "SAME"), [x[:, 0]], order=2)
    check_gradients(lambda a: tf.nn.avg_pool1d(a, 3, 2, "SAME"), [x[:, 0]], order=2)


def test_max_pool_gradient_goes_to_the_first_maximum_and_its_second_derivative_is_zero():
    t = tf.Variable(np.array([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]])[None, :, :, None])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.nn.max_pool2d(t, 2, 1, "VALID"))
        g = inner.gradient(y, t)
    assert g.numpy()[0, :, :, 0].tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    h = outer.gradient(g, t)                       # piecewise linear: a connected zero, as in TensorFlow
    assert h is not None and not h.numpy().any()


def test_batch_normalization_values_and_gradients():
    xb = tf.constant([[1.0, 2.0], [3.0, 6.0]])
    got = tf.nn.batch_normalization(xb, tf.constant([2.0, 4.0]), tf.constant([1.0, 4.0]), tf.constant([0.5, 0.0]),
                                    tf.constant([2.0, 1.0]), 0.0)
    assert got.numpy().tolist() == [[-1.5, -1.0], [2.5, 1.0]]
    got = tf.nn.batch_normalization(xb, 2.0, 1.0, None, None, 1e-3)
    # TensorFlow's float32 bits (x * inv - mean * inv, not (x - mean) * inv)
    assert got.numpy().tolist() == [[-0.9995003938674927, 0.0], [0.9995005130767822, 3.99800181388855]]
    x, m, v = RNG.standard_normal((4, 3)), RNG.standard_normal(3), RNG.uniform(0.5, 2.0, 3)
    off, sc = RNG.standard_normal(3), RNG.standard_normal(3)
    want = (x - m) * sc / np.sqrt(v + 1e-3) + off
    got = tf.nn.batch_normalization(tf.constant(x), tf.constant(m), tf.constant(v), tf.constant(off),
                                    tf.constant(sc), 1e-3)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)
    check_gradients(lambda *a: tf.nn.batch_normalization(*a, 1e-3), [x, m, v, off, sc], order=2)


def test_bias_add():
    v = tf.constant(RNG.standard_normal((2, 3, 4)))
    b = tf.constant([1.0, 2.0, 3.0, 4.0], tf.float64)
    np.testing.assert_allclose(tf.nn.bias_add(v, b).numpy(), v.numpy() + b.numpy())
    np.testing.assert_allclose(tf.nn.bias_add(tf.constant(RNG.standard_normal((2, 4, 3))), b, "NCW").numpy().shape,
                               (2, 4, 3))
    with pytest.raises(InvalidArgumentError, match="Must provide as many biases"):
        tf.nn.bias_add(v, tf.constant([1.0, 2.0], tf.float64))


def test_jacobian_and_forward_mode_through_a_small_cnn():
    x = RNG.standard_normal((1, 5, 5, 2))
    w = RNG.standard_normal((3, 3, 2, 2))

    def f(a):
        h = tf.nn.relu(tf.nn.conv2d(a, tf.constant(w), 1, "SAME"))
        return tf.nn.avg_pool2d(tf.nn.max_pool2d(h, 2, 1, "VALID"), 2, 2, "SAME")

    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = f(xt)
    jac = tape.jacobian(y, xt).numpy().reshape(y.numpy().size, -1)
    np.testing.assert_allclose(jac, numerical_jacobian(f, [x], 0), rtol=1e-5, atol=1e-6)
    v = RNG.standard_normal(x.shape)
    with tf.autodiff.ForwardAccumulator(xt, tf.constant(v)) as acc:
        y = f(xt)
    np.testing.assert_allclose(acc.jvp(y).numpy().ravel(), jac @ v.ravel(), rtol=1e-9, atol=1e-12)


# ---- TensorFlow's observed values -------------------------------------------------------------

def test_same_padding_puts_the_extra_pad_after():
    x = tf.constant([1.0, 2.0, 3.0, 4.0, 5.0])[None, :, None]
    assert tf.nn.conv1d(x, tf.ones([4, 1, 1]), stride=1, padding="SAME")[0, :, 0].numpy().tolist() == \
        [6, 10, 14, 12, 9]
    assert tf.nn.conv1d(x, tf.ones([4, 1, 1]), stride=1, padding="VALID")[0, :, 0].numpy().tolist() == [10, 14]
    assert tf.nn.conv1d(x, tf.constant([1.0, 0.0])[:, None, None], stride=2,
                        padding="SAME")[0, :, 0].numpy().tolist() == [1, 3, 5]

    def sizes(n, k, s, d=1):
        x, f = tf.zeros([1, n, n, 1]), tf.zeros([k, k, 1, 1])
        return [tf.nn.conv2d(x, f, s, p, dilations=d).shape[1] for p in ("SAME", "VALID")]
    assert [sizes(*c) for c in [(5, 3, 1), (5, 3, 2), (6, 3, 2), (7, 2, 3), (7, 3, 1, 2)]] == \
        [[5, 3], [3, 2], [3, 2], [3, 2], [7, 3]]
    assert tf.nn.conv2d(tf.zeros([1, 4, 4, 1]), tf.zeros([2, 2, 1, 1]), 2, "VALID", dilations=2).shape == (1, 1, 1, 1)


def test_explicit_padding_stride_forms_and_layouts():
    x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    f = tf.ones([2, 2, 1, 1])
    assert tf.nn.conv2d(x, f, 1, [[0, 0], [1, 0], [0, 1], [0, 0]]).numpy()[0, :, :, 0].tolist() == \
        [[1, 3, 5, 3], [10, 14, 18, 10], [26, 30, 34, 18], [42, 46, 50, 26]]
    assert tf.nn.conv2d(x, f, 1, [[1, 1], [1, 0], [0, 1], [0, 0]]).shape == (1, 4, 4, 1)
    for s in (2, [2], [2, 2], [1, 2, 2, 1]):
        assert tf.nn.conv2d(x, f, s, "VALID").shape == (1, 2, 2, 1)
    assert tf.nn.depthwise_conv2d(x, f, [1, 1, 1, 1], [[0, 0], [1, 0], [0, 1], [0, 0]]).shape == (1, 4, 4, 1)
    assert tf.nn.max_pool2d(x, 2, 2, [[0, 0], [1, 0], [0, 1], [0, 0]]).shape == (1, 2, 2, 1)
    assert tf.nn.max_pool2d(x, 3, 2, "SAME").shape == (1, 2, 2, 1)
    assert tf.nn.max_pool2d(x, [3, 3], [2, 2], "VALID").shape == (1, 1, 1, 1)
    assert tf.nn.max_pool2d(x, [1, 3, 3, 1], [1, 2, 2, 1], "VALID").shape == (1, 1, 1, 1)
    xc = tf.reshape(tf.range(32.0), [1, 2, 4, 4])
    assert tf.nn.conv2d(xc, tf.ones([2, 2, 2, 3]), 1, "VALID", data_format="NCHW").shape == (1, 3, 3, 3)
    assert tf.nn.conv1d(tf.ones([1, 2, 5]), tf.ones([2, 2, 3]), 1, "VALID", data_format="NCW").shape == (1, 3, 4)
    assert tf.nn.max_pool2d(xc, 2, 2, "VALID", data_format="NCHW").shape == (1, 2, 2, 2)
    assert tf.nn.avg_pool2d(xc, 2, 2, "VALID", data_format="NCHW").shape == (1, 2, 2, 2)
    assert tf.nn.depthwise_conv2d(xc, tf.ones([2, 2, 2, 1]), [1, 1, 1, 1], "VALID",
                                  data_format="NCHW").shape == (1, 2, 3, 3)
    assert tf.nn.max_pool(x, 2, 2, "VALID").shape == (1, 2, 2, 1)
    assert tf.nn.avg_pool(tf.ones([1, 6, 2]), 2, 2, "VALID").shape == (1, 3, 2)


def test_pool_borders_and_ties():
    x = tf.constant([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])[None, :, :, None]
    assert tf.nn.avg_pool2d(x, 2, 2, "SAME")[0, :, :, 0].numpy().tolist() == [[3.0, 4.5], [7.5, 9.0]]
    assert tf.nn.avg_pool1d(tf.constant([1.0, 2.0, 3.0, 4.0, 6.0])[None, :, None], 2, 2,
                            "SAME")[0, :, 0].numpy().tolist() == [1.5, 3.5, 6.0]
    assert tf.nn.max_pool2d(-x, 2, 2, "SAME")[0, :, :, 0].numpy().tolist() == [[-1.0, -3.0], [-7.0, -9.0]]
    t = tf.constant([[1.0, 3.0, 3.0], [3.0, 0.0, 3.0]])[None, :, :, None]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(t)
        y = tf.nn.max_pool2d(t, 2, 1, "VALID")
        z = tf.nn.max_pool1d(tf.reshape(t, [1, 6, 1]), 3, 3, "VALID")
        a = tf.nn.avg_pool2d(t, 2, 1, "SAME")
    assert y[0, :, :, 0].numpy().tolist() == [[3.0, 3.0]]
    assert tape.gradient(y, t)[0, :, :, 0].numpy().tolist() == [[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]]
    assert z[0, :, 0].numpy().tolist() == [3.0, 3.0]
    assert tape.gradient(z, t)[0, :, :, 0].numpy().tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    assert tape.gradient(a, t)[0, :, :, 0].numpy().tolist() == [[0.25, 0.5, 0.75], [0.75, 1.5, 2.25]]


def test_transpose_depthwise_values():
    x = tf.reshape(tf.range(1.0, 5.0), [1, 2, 2, 1])
    f = tf.reshape(tf.range(1.0, 5.0), [2, 2, 1, 1])
    assert tf.nn.conv2d_transpose(x, f, [1, 3, 3, 1], 1, "VALID")[0, :, :, 0].numpy().tolist() == \
        [[1, 4, 4], [6, 20, 16], [9, 24, 16]]
    assert tf.nn.conv2d_transpose(x, f, [1, 4, 4, 1], 2, "SAME")[0, :, :, 0].numpy().tolist() == \
        [[1, 2, 2, 4], [3, 4, 6, 8], [3, 6, 4, 8], [9, 12, 12, 16]]
    assert tf.nn.conv2d_transpose(x, f, [1, 3, 3, 1], 2, "SAME").shape == (1, 3, 3, 1)
    assert tf.nn.conv2d_transpose(x, f, tf.constant([1, 3, 3, 1]), 2, "SAME").shape == (1, 3, 3, 1)
    xd = tf.reshape(tf.range(8.0), [1, 2, 2, 2])
    fd = tf.reshape(tf.constant([1.0, 10.0, 100.0, 1000.0]), [1, 1, 2, 2])
    assert tf.nn.depthwise_conv2d(xd, fd, [1, 1, 1, 1], "VALID")[0, 0, 0].numpy().tolist() == [0, 0, 100, 1000]


def test_reference_kernel_results_for_odd_shapes():
    assert tf.nn.conv2d(tf.ones([1, 4, 4, 1]), tf.ones([5, 5, 1, 1]), 1, "VALID").shape == (1, 0, 0, 1)
    assert tf.nn.max_pool2d(tf.ones([1, 4, 4, 1]), 5, 1, "VALID").shape == (1, 0, 0, 1)
    assert tf.nn.avg_pool2d(tf.ones([1, 4, 4, 1]), 5, 1, "VALID").shape == (1, 0, 0, 1)
    r = tf.nn.conv2d(tf.ones([1, 4, 4, 1], tf.int32), tf.ones([2, 2, 1, 1], tf.int32), 1, "VALID")
    assert r.dtype == tf.int32 and r.shape == (1, 3, 3, 1) and r.numpy().ravel()[:4].tolist() == [4, 4, 4, 4]


def test_errors():
    x = tf.reshape(tf.range(16.0), [1, 4, 4, 1])
    f = tf.ones([2, 2, 1, 1])
    with raises_exactly(InvalidArgumentError, "convolution input must be 4-dimensional: [4, 4, 1] [Op:Conv2D]"):
        tf.nn.conv2d(tf.ones([4, 4, 1]), f, 1, "VALID")
    with raises_exactly(InvalidArgumentError, "convolution filter must be 4-dimensional: [2, 2, 1] [Op:Conv2D]"):
        tf.nn.conv2d(x, tf.ones([2, 2, 1]), 1, "VALID")
    with raises_exactly(InvalidArgumentError, "input depth must be evenly divisible by filter depth: 1 vs 3 "
                                              "[Op:Conv2D]"):
        tf.nn.conv2d(x, tf.ones([2, 2, 3, 1]), 1, "VALID")
    with raises_exactly(InvalidArgumentError, "convolution input must be 4-dimensional: [1, 1, 4] [Op:Conv2D]"):
        tf.nn.conv1d(tf.ones([1, 4]), tf.ones([2, 1, 1]), 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="cannot compute Conv2D as input #1"):
        tf.nn.conv2d(tf.ones([1, 4, 4, 1], tf.float64), f, 1, "VALID")
    for bad in ("same", "FULL"):
        with pytest.raises(InvalidArgumentError, match=f"^Value for attr 'padding' of \"{bad}\" is not in the list of "
                                                       f"allowed values: \"SAME\", \"VALID\", \"EXPLICIT\""):
            tf.nn.conv2d(x, f, 1, bad)
        with pytest.raises(InvalidArgumentError, match="Value for attr 'padding'"):
            tf.nn.max_pool2d(x, 2, 2, bad)
    with raises_exactly(ValueError, "When padding is a list, it must be of size 4. Received: padding=[[1, 0], [1, 0]] "
                                    "of size 2"):
        tf.nn.conv2d(x, f, 1, [[1, 0], [1, 0]])
    with raises_exactly(ValueError, "strides should be of length 1, 2 or 4. Received: strides=[2, 2, 2] of length 3"):
        tf.nn.conv2d(x, f, [2, 2, 2], "VALID")
    with pytest.raises(UnimplementedError, match="does not yet support strides in the batch and depth dimensions"):
        tf.nn.conv2d(x, f, [2, 2, 2, 2], "VALID")
    with raises_exactly(TypeError, "Expected string for argument 'padding' not [[0, 0], [1, 1], [0, 0]]."):
        tf.nn.conv1d(x[:, 0], tf.ones([2, 1, 1]), 1, [[0, 0], [1, 1], [0, 0]])
    with raises_exactly(TypeError, "Expected list for 'strides' argument to 'depthwise_conv2d_native' Op, not 1."):
        tf.nn.depthwise_conv2d(x, f, 1, "VALID")
    with pytest.raises(InvalidArgumentError, match="Value for attr 'data_format' of \"CHWN\" is not in the list"):
        tf.nn.conv2d(x, f, 1, "VALID", data_format="CHWN")
    with pytest.raises(InvalidArgumentError, match="must be 4-dimensional"):
        tf.nn.max_pool2d(tf.ones([4, 4, 1]), 2, 2, "VALID")
    x2 = tf.reshape(tf.range(1.0, 5.0), [1, 2, 2, 1])
    with raises_exactly(InvalidArgumentError, "Conv2DCustomBackpropInput: Size of out_backprop doesn't match "
                                              "computed: actual = 2, computed = 3 spatial_dim: 1 input: 5 filter: 2 "
                                              "output: 2 stride: 2 dilation: 1 [Op:Conv2DBackpropInput]"):
        tf.nn.conv2d_transpose(x2, tf.ones([2, 2, 1, 1]), [1, 5, 5, 1], 2, "SAME")
    with raises_exactly(InvalidArgumentError, "Conv2DCustomBackpropInput: filter and out_backprop must have the same "
                                              "out_depth [Op:Conv2DBackpropInput]"):
        tf.nn.conv2d_transpose(x2, tf.ones([2, 2, 3, 2]), [1, 3, 3, 3], 1, "VALID")
