"""The smaller functions TensorFlow training programs call: Tensor.__format__,
numeric boolean_mask masks, clip_by_global_norm, segment reductions, top_k /
sort / argsort, band_part, bincount and sigmoid_cross_entropy_with_logits.
Values are TensorFlow 2.21's (docs/training.md, section 4) or NumPy's;
gradients are derived by hand here."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError

from conftest import raises_exactly


def grad(f, x):
    x = tg.Variable(np.asarray(x, dtype=np.float64))
    with tg.GradientTape() as tape:
        y = f(x)
    return tape.gradient(y, x).numpy()


# ---- Tensor.__format__ ---------------------------------------------------------------------------

def test_format_specs_on_scalars_and_their_errors():
    s, v, mat = tg.constant(3.14159), tg.Variable(2.5), tg.constant([1.0, 2.0])
    assert f"{s:.2f}|{s:>8.3f}|{tg.constant(7):04d}|{s}" == "3.14|   3.142|0007|3.141590118408203"
    assert f"{mat}" == "[1. 2.]"
    assert f"{tg.constant(7):.2f}" == "7.00"
    with raises_exactly(TypeError, "unsupported format string passed to numpy.ndarray.__format__"):
        f"{mat:.2f}"
    with raises_exactly(ValueError, "Unknown format code 'd' for object of type 'float'"):
        f"{tg.constant(1.5):d}"
    for var in (v, tg.Variable([1.0, 2.0])):
        with pytest.raises(TypeError, match="^unsupported format string passed to .*Variable.__format__$"):
            f"{var:.2f}"
    assert f"{v}" == repr(v)


# ---- boolean_mask with numeric masks ----------------------------------------------------------------

def test_boolean_mask_takes_numeric_masks():
    t = tg.constant([10.0, 20.0, 30.0])
    for mask in ([True, False, True], np.array([1, 0, 1], bool), tg.constant([1.0, 0.0, 1.0]),
                 tg.constant([1, 0, 1]), [1, 0, 1], tg.constant([0.5, 0.0, -2.0]), tg.constant([2, 0, 1])):
        assert tg.boolean_mask(t, mask).numpy().tolist() == [10.0, 30.0]
    m = tg.reshape(tg.range(4), [2, 2])
    assert tg.boolean_mask(m, [1, 0]).numpy().tolist() == [[0, 1]]
    # d2l's cross-entropy: pick y_hat[i, y[i]] with a one-hot mask, differentiable
    y_hat = tg.Variable([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    with tg.GradientTape() as tape:
        picked = tg.boolean_mask(y_hat, tg.one_hot([0, 2], 3))
        loss = tg.reduce_sum(-tg.math.log(picked))
    np.testing.assert_allclose(picked.numpy(), [0.1, 0.5])
    np.testing.assert_allclose(tape.gradient(loss, y_hat).numpy(), [[-10, 0, 0], [0, 0, -2]], rtol=1e-6)


# ---- clip_by_global_norm ---------------------------------------------------------------------

def test_clip_by_global_norm_values():
    a, b = tg.constant([3.0, 4.0]), tg.constant([[12.0]])
    out, n = tg.clip_by_global_norm([a, b], 6.5)
    assert type(out) is list and [o.numpy().tolist() for o in out] == [[1.5, 2.0], [[6.0]]]
    assert repr(n) == "<tapegrad.Tensor: shape=(), dtype=float32, numpy=13.0>"
    out, n = tg.clip_by_global_norm((a, b), 100.0)
    assert [o.numpy().tolist() for o in out] == [[3.0, 4.0], [[12.0]]] and n.numpy() == 13.0
    out, n = tg.clip_by_global_norm([a, None, b], 6.5, use_norm=tg.constant(26.0))
    assert [None if o is None else o.numpy().tolist() for o in out] == [[0.75, 1.0], None, [[3.0]]]
    assert n.numpy() == 26.0
    out, n = tg.clip_by_global_norm([tg.constant([np.inf, 1.0]), b], 1.0)
    assert all(np.isnan(o.numpy()).all() for o in out) and n.numpy() == np.inf
    out, n = tg.clip_by_global_norm([tg.zeros([2])], 1.0)
    assert out[0].numpy().tolist() == [0.0, 0.0] and n.numpy() == 0.0
    out, n = tg.clip_by_global_norm([], 1.0)
    assert out == [] and n.numpy() == 0.0
    out, n = tg.clip_by_global_norm([tg.constant([3.0, 4.0], tg.float64)], 1.0)
    assert out[0].dtype == tg.float64 and n.dtype == tg.float64
    out, n = tg.clip_by_global_norm([np.array([3.0, 4.0], np.float32), [6.0, 8.0]], 5.0)
    np.testing.assert_allclose([o.numpy().tolist() for o in out],
                               [[1.341640830039978, 1.7888544797897339], [2.683281660079956, 3.5777089595794678]],
                               rtol=1e-6)
    assert n.numpy() == pytest.approx(11.18034) and out[0].dtype == tg.float32
    assert tg.linalg.global_norm([a, None, b]).numpy() == 13.0
    assert tg.clip_by_global_norm([a], -1.0)[0][0].numpy().tolist() == [3.0, 4.0]
    assert tg.clip_by_global_norm([a], 0.0)[0][0].numpy().tolist() == [0.0, 0.0]
    with pytest.raises(TypeError, match=r"^`t_list` should be a sequence of tensors\. Received <class "):
        tg.clip_by_global_norm(a, 1.0)
    with pytest.raises(InvalidArgumentError):
        tg.clip_by_global_norm([a, tg.constant([1.0], tg.float64)], 1.0)
    with pytest.raises(InvalidArgumentError, match="Value for attr 'T' of int32"):
        tg.clip_by_global_norm([tg.constant([1, 2])], 1.0)


def test_clip_by_global_norm_gradient_by_hand():
    # y = sum(a * c / |a|) for |a| = 5 > c = 1: dy/da = 1/|a| - sum(a) a / |a|^3
    g = grad(lambda a: tg.reduce_sum(tg.clip_by_global_norm([a], 1.0)[0][0]), [3.0, 4.0])
    np.testing.assert_allclose(g, [0.2 - 7 * 3 / 125, 0.2 - 7 * 4 / 125], rtol=1e-12)
    g = grad(lambda a: tg.reduce_sum(tg.clip_by_global_norm([a], 10.0)[0][0]), [3.0, 4.0])
    np.testing.assert_allclose(g, [1.0, 1.0])


# ---- segment reductions ------------------------------------------------------------------------

C = np.array([[1, 2, 3, 4], [4, 3, 2, 1], [5, 6, 7, 8]])


def test_segment_values():
    assert tg.math.segment_sum(tg.constant(C), [0, 0, 1]).numpy().tolist() == [[5, 5, 5, 5], [5, 6, 7, 8]]
    assert tg.math.segment_max(tg.constant(C), [0, 0, 1]).numpy().tolist() == [[4, 3, 3, 4], [5, 6, 7, 8]]
    assert tg.math.segment_mean(tg.constant(C.astype(np.float32)), [0, 0, 1]).numpy().tolist() == \
        [[2.5, 2.5, 2.5, 2.5], [5, 6, 7, 8]]
    assert tg.math.unsorted_segment_sum(tg.constant(C), [0, 1, 0], num_segments=2).numpy().tolist() == \
        [[6, 8, 10, 12], [4, 3, 2, 1]]
    # empty segments: 0 for sum, mean and max; negative unsorted ids are dropped
    assert tg.math.segment_sum(tg.constant([1.0, 2.0]), [0, 2]).numpy().tolist() == [1.0, 0.0, 2.0]
    assert tg.math.segment_mean(tg.constant([1.0, 2.0]), [1, 1]).numpy().tolist() == [0.0, 1.5]
    assert tg.math.segment_max(tg.constant([-1.0, -2.0]), [0, 2]).numpy().tolist() == [-1.0, 0.0, -2.0]
    assert tg.math.unsorted_segment_sum(tg.constant([1.0, 2.0, 4.0]), [1, -1, 1], 3).numpy().tolist() == \
        [0.0, 5.0, 0.0]
    big = np.random.default_rng(0).standard_normal((50, 20))
    ids = np.random.default_rng(1).integers(-1, 7, 50)
    want = np.zeros((7, 20))
    for i, s in enumerate(ids):
        if s >= 0:
            want[s] += big[i]
    np.testing.assert_allclose(tg.math.unsorted_segment_sum(tg.constant(big), ids, 7).numpy(), want, rtol=1e-12)


def test_segment_errors():
    with pytest.raises(InvalidArgumentError, match="segment ids are not increasing"):
        tg.math.segment_sum(tg.constant([1.0, 2.0]), [1, 0])
    with pytest.raises(InvalidArgumentError, match="segment_ids should be the same size as dimension 0 of input"):
        tg.math.segment_sum(tg.constant([1.0, 2.0]), [0])
    with raises_exactly(InvalidArgumentError, "segment_ids[1] = 5 is out of range [0, 3) [Op:UnsortedSegmentSum]"):
        tg.math.unsorted_segment_sum(tg.constant([1.0, 2.0]), [0, 5], 3)


def test_segment_gradients_by_hand():
    w = np.array([1.0, 10.0])
    # max: the tied maxima 3, 3 share their segment's gradient
    g = grad(lambda x: tg.reduce_sum(tg.math.segment_max(x, [0, 0, 0, 1]) * w), [1.0, 3.0, 3.0, 2.0])
    assert g.tolist() == [0.0, 0.5, 0.5, 10.0]
    g = grad(lambda x: tg.reduce_sum(tg.math.segment_mean(x, [0, 0, 1]) * w), [1.0, 3.0, 2.0])
    assert g.tolist() == [0.5, 0.5, 10.0]
    g = grad(lambda x: tg.reduce_sum(tg.math.unsorted_segment_sum(x, [1, -1, 0], 2) * w), [1.0, 3.0, 2.0])
    assert g.tolist() == [10.0, 0.0, 1.0]


# ---- top_k, sort, argsort ----------------------------------------------------------------------

def test_top_k_sort_argsort_values():
    r = tg.math.top_k([1, 2, 98, 1, 1, 99, 3, 1, 3, 96, 4, 1], k=3)
    assert type(r).__name__ == "TopKV2" and r._fields == ("values", "indices")
    assert r.values.numpy().tolist() == [99, 98, 96] and r.indices.numpy().tolist() == [5, 2, 9]
    assert r.indices.dtype == tg.int32 and tg.nn.top_k is tg.math.top_k
    ties = tg.math.top_k(tg.constant([[1.0, 3.0, 3.0, 2.0]]), 3)
    assert ties.indices.numpy().tolist() == [[1, 2, 3]]                   # equal values: lower index first
    a = [1, 10, 26.9, 2.8, 166.32, 62.3]
    np.testing.assert_allclose(tg.sort(a).numpy(), [1, 2.8, 10, 26.9, 62.3, 166.32], rtol=1e-6)
    np.testing.assert_allclose(tg.sort(a, direction="DESCENDING").numpy(), [166.32, 62.3, 26.9, 10, 2.8, 1],
                               rtol=1e-6)
    assert tg.argsort(a).numpy().tolist() == [0, 3, 1, 2, 5, 4] and tg.argsort(a).dtype == tg.int32
    mat = [[3, 2, 1], [2, 1, 3], [1, 3, 2]]
    assert tg.sort(mat, axis=0).numpy().tolist() == [[1, 1, 1], [2, 2, 2], [3, 3, 3]]
    assert tg.argsort([[30, 20, 10], [20, 10, 30], [10, 30, 20]]).numpy().tolist() == \
        [[2, 1, 0], [1, 0, 2], [0, 2, 1]]
    assert tg.argsort([2, 1, 2, 1], direction="DESCENDING").numpy().tolist() == [0, 2, 1, 3]   # stable
    x = np.random.default_rng(2).standard_normal((3, 4, 5))
    np.testing.assert_array_equal(tg.sort(tg.constant(x), axis=1).numpy(), np.sort(x, axis=1))
    with raises_exactly(ValueError, "up should be one of ASCENDING, DESCENDING"):
        tg.sort(a, direction="up")
    with raises_exactly(InvalidArgumentError, "input must have at least k columns. Had 3, needed 5 [Op:TopKV2]"):
        tg.math.top_k([1, 2, 3], 5)
    with raises_exactly(InvalidArgumentError, "Need k >= 0, got -1 [Op:TopKV2]"):
        tg.math.top_k([1, 2, 3], -1)


def test_sort_and_top_k_gradients_by_hand():
    g = grad(lambda x: tg.reduce_sum(tg.math.top_k(x, 2).values * [1.0, 10.0]), [1.0, 5.0, 3.0])
    assert g.tolist() == [0.0, 1.0, 10.0]
    g = grad(lambda x: tg.reduce_sum(tg.sort(x) * [1.0, 10.0, 100.0]), [3.0, 1.0, 2.0])
    assert g.tolist() == [100.0, 1.0, 10.0]
    g = grad(lambda x: tg.reduce_sum(tg.sort(x, axis=0, direction="DESCENDING") * [[1.0], [10.0]]),
             [[1.0, 4.0], [2.0, 3.0]])
    assert g.tolist() == [[10.0, 1.0], [1.0, 10.0]]


# ---- band_part, bincount ------------------------------------------------------------------------

def test_band_part_values_and_gradient():
    x = np.arange(16.0).reshape(4, 4) - 8
    for lower, upper in [(1, -1), (2, 1), (0, 0), (-1, -1), (0, -1), (-1, 0)]:
        inside = np.array([[(lower < 0 or m - n <= lower) and (upper < 0 or n - m <= upper) for n in range(4)]
                           for m in range(4)])
        assert tg.linalg.band_part(tg.constant(x), lower, upper).numpy().tolist() == (x * inside).tolist()
        g = grad(lambda t, lo=lower, up=upper: tg.reduce_sum(tg.linalg.band_part(t, lo, up)), x)
        assert g.tolist() == inside.astype(float).tolist()
    assert tg.linalg.band_part(tg.ones([2, 2, 3]), 0, 0).numpy().tolist() == [[[1, 0, 0], [0, 1, 0]]] * 2
    with pytest.raises(InvalidArgumentError, match="num_lower must be negative or less or equal to number of rows"):
        tg.linalg.band_part(tg.ones([2, 2]), 3, 0)


def test_bincount():
    assert tg.math.bincount([1, 1, 2, 3, 2, 4, 4, 5]).numpy().tolist() == [0, 2, 2, 1, 2, 1]
    assert tg.math.bincount([1, 1, 2, 3, 2, 4, 4, 5]).dtype == tg.int32
    r = tg.math.bincount([1, 1, 2, 3, 2, 4, 4, 5], weights=[1, 5, 0, 1, 0, 5, 4, 5])
    assert r.numpy().tolist() == [0, 6, 0, 1, 9, 5] and r.dtype == tg.int32
    r = tg.math.bincount([1, 1, 2], weights=[0.5, 0.25, 2.0])
    assert r.numpy().tolist() == [0.0, 0.75, 2.0] and r.dtype == tg.float32
    r = tg.math.bincount([1, 1, 2], weights=np.array([0.5j, 1 + 0.25j, 2.0]))   # complex weights stay complex
    assert r.numpy().tolist() == [0, 1 + 0.75j, 2] and r.dtype == tg.complex128
    assert tg.math.bincount([1, 1, 2], minlength=5).numpy().tolist() == [0, 2, 1, 0, 0]
    assert tg.math.bincount([1, 1, 4], maxlength=3).numpy().tolist() == [0, 2, 0]
    assert tg.math.bincount(np.zeros(0, np.int32), minlength=2).numpy().tolist() == [0, 0]
    data = [[1, 2, 3, 0], [0, 0, 1, 2]]
    assert tg.math.bincount(data, axis=-1).numpy().tolist() == [[1, 1, 1, 1], [2, 1, 1, 0]]
    assert tg.math.bincount(data, axis=-1, binary_output=True).numpy().tolist() == [[1, 1, 1, 1], [1, 1, 1, 0]]
    assert tg.math.bincount(data).numpy().tolist() == [3, 2, 2, 1]
    with pytest.raises(InvalidArgumentError, match="Input arr must be non-negative!"):
        tg.math.bincount([1, -1])
    x = tg.Variable([1.0, 2.0])
    with tg.GradientTape() as tape:
        y = tg.cast(tg.math.bincount([0, 1]), tg.float32) * x
    assert tape.gradient(y, x).numpy().tolist() == [1.0, 1.0]        # the counts are constants


# ---- sigmoid_cross_entropy_with_logits --------------------------------------------------------------

@pytest.mark.parametrize("labels", [[1, 0, 1], [True, False, True], np.array([1, 0, 1], np.int64),
                                    np.array([1, 0, 1], np.uint8), np.array([1.0, 0.0, 1.0]),
                                    np.array([1.0, 0.0, 1.0], np.float32)],
                         ids=["list-int", "list-bool", "int64", "uint8", "float64", "float32"])
def test_sigmoid_cross_entropy_for_every_label_dtype(labels):
    x = np.array([0.5, -1.0, -30.0], np.float32)
    z = np.asarray(labels, dtype=np.float64)
    sig = 1 / (1 + np.exp(-x.astype(np.float64)))
    want = -(z * np.log(sig) + (1 - z) * np.log1p(-sig))
    for lab in (labels, tg.constant(labels)):
        logits = tg.Variable(x)
        with tg.GradientTape() as tape:
            loss = tg.nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=logits)
        assert loss.dtype == tg.float32
        np.testing.assert_allclose(loss.numpy(), want, rtol=1e-6)
        np.testing.assert_allclose(tape.gradient(loss, logits).numpy(), sig - z, rtol=1e-6, atol=1e-7)


def test_sigmoid_cross_entropy_gradient_at_zero_logits():
    # d/dx [max(x, 0) - x z + log(1 + exp(-|x|))] = sigmoid(x) - z, also at x = 0 (0.5 - z), as
    # TensorFlow's where-based formula gives; second derivative sigmoid'(0) = 0.25
    z = np.array([0.0, 1.0, 0.3])
    x = tg.Variable(np.zeros(3))
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            loss = tg.reduce_sum(tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x))
        g = inner.gradient(loss, x)
    np.testing.assert_allclose(g.numpy(), 0.5 - z)
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), [0.25] * 3)
    np.testing.assert_allclose(loss.numpy(), 3 * np.log(2.0))
