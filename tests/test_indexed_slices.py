"""tapegrad.IndexedSlices: the sparse gradient of gather / embedding_lookup,
its conversions and arithmetic, how gradients of one tensor add up, clipping,
and how optimizers apply it -- against TensorFlow 2.21 / Keras 3.15.1's
observed values (docs/training.md, section 5) and hand derivations."""
import numpy as np
import pytest

import tapegrad as tf
from tapegrad.errors import InvalidArgumentError

from conftest import raises_exactly


def table():
    return tf.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


# ---- which gradients are IndexedSlices ----------------------------------------------------------

def test_gather_and_embedding_gradients_are_indexed_slices():
    v = table()
    c = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(c)
        y_v = tf.reduce_sum(tf.gather(v, [2, 0, 2]) * [[1.0, 10.0]])
        y_c = tf.reduce_sum(tf.gather(c, [1]))
        y_e = tf.reduce_sum(tf.nn.embedding_lookup(v, [0, 0]))
        y_mix = tf.reduce_sum(tf.gather(v, [1])) + tf.reduce_sum(v)
        y_two = tf.reduce_sum(tf.gather(v, [1])) + tf.reduce_sum(tf.gather(v, [0]) * 2.0)
        y_ax = tf.reduce_sum(tf.gather(v, [1], axis=1))
        y_2d = tf.reduce_sum(tf.gather(v, [[0, 1], [1, 1]]))
    g = tape.gradient(y_v, v)
    assert type(g) is tf.IndexedSlices
    assert str(g) == ("IndexedSlices(indices=tapegrad.Tensor([2 0 2], shape=(3,), dtype=int32), values="
                      "tapegrad.Tensor(\n[[ 1. 10.]\n [ 1. 10.]\n [ 1. 10.]], shape=(3, 2), dtype=float32), "
                      "dense_shape=tapegrad.Tensor([3 2], shape=(2,), dtype=int32))")
    assert repr(g).startswith("<tapegrad.ops.sparse_ops.IndexedSlices object at 0x")
    assert g.values.numpy().tolist() == [[1.0, 10.0]] * 3
    assert g.indices.numpy().tolist() == [2, 0, 2] and g.indices.dtype == tf.int32
    assert g.dense_shape.numpy().tolist() == [3, 2] and g.dense_shape.dtype == tf.int32
    assert g.dtype == tf.float32 and g.shape == (3, 2) and g.device is not None
    assert type(tape.gradient(y_c, c)) is tf.IndexedSlices           # a watched constant too
    assert type(tape.gradient(y_e, v)) is tf.IndexedSlices
    mixed = tape.gradient(y_mix, v)                                  # sparse + dense: dense
    assert type(mixed) is tf.Tensor and mixed.numpy().tolist() == [[1, 1], [2, 2], [1, 1]]
    two = tape.gradient(y_two, v)                                    # sparse + sparse: concatenated
    assert type(two) is tf.IndexedSlices
    assert two.indices.numpy().tolist() == [1, 0] and two.values.numpy().tolist() == [[1, 1], [2, 2]]
    assert type(tape.gradient(y_ax, v)) is tf.Tensor                 # not axis 0: dense
    assert [type(x) for x in tape.gradient([y_v, y_c], [v, c])] == [tf.IndexedSlices] * 2
    g2d = tape.gradient(y_2d, v)                                     # 2-D indices: flattened rows
    assert g2d.indices.numpy().tolist() == [0, 1, 1, 1] and g2d.values.shape == (4, 2)
    assert tf.convert_to_tensor(g2d).numpy().tolist() == [[1, 1], [3, 3], [0, 0]]


def test_index_dtype_follows_the_indices():
    v = table()
    for idx, dt in [([1], tf.int32), (np.array([1]), tf.int64), (tf.constant([1], tf.int64), tf.int64),
                    (np.array([1], np.int32), tf.int32)]:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.gather(v, idx))
        assert tape.gradient(y, v).indices.dtype == dt


def test_a_gathered_intermediate_gets_a_dense_gradient():
    v = table()
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.gather(v * 2.0, [0, 0]))
    g = tape.gradient(y, v)
    assert type(g) is tf.Tensor and g.numpy().tolist() == [[4, 4], [0, 0], [0, 0]]


def test_float64_table_and_output_gradients():
    v = tf.Variable(np.arange(6.0).reshape(3, 2))
    with tf.GradientTape() as tape:
        y = tf.gather(v, [1, 1])
    g = tape.gradient(y, v, output_gradients=tf.constant([[1.0, 2.0], [3.0, 4.0]], tf.float64))
    assert g.dtype == tf.float64 and tf.convert_to_tensor(g).numpy().tolist() == [[0, 0], [4, 6], [0, 0]]


# ---- constructing, converting, arithmetic --------------------------------------------------------

S = tf.IndexedSlices(tf.constant([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0]]), tf.constant([0, 2, 0]), tf.constant([3, 2]))


def test_conversion_sums_duplicates_and_checks():
    assert tf.convert_to_tensor(S).numpy().tolist() == [[5.0, 5.0], [0.0, 0.0], [2.0, 2.0]]
    assert np.asarray(S).tolist() == [[5.0, 5.0], [0.0, 0.0], [2.0, 2.0]]       # (TensorFlow: an object array)
    neg = -S
    assert type(neg) is tf.IndexedSlices and neg.values.numpy().tolist() == [[-1, -1], [-2, -2], [-4, -4]]
    no_shape = tf.IndexedSlices(tf.constant([[1.0]]), tf.constant([0]))
    assert no_shape.dense_shape is None and no_shape.shape.as_list() == [None, 1]
    assert str(no_shape) == ("IndexedSlices(indices=tapegrad.Tensor([0], shape=(1,), dtype=int32), "
                             "values=tapegrad.Tensor([[1.]], shape=(1, 1), dtype=float32))")
    with pytest.raises(ValueError, match=r"^Tensor conversion requested for IndexedSlices for argument `value` "
                                         r"without dense_shape: IndexedSlices\(indices="):
        tf.convert_to_tensor(no_shape)
    with pytest.raises(ValueError, match=r"(?s)^Incompatible tensor conversion requested to `dtype` float64 for "
                                         r"IndexedSlices \(IndexedSlices\(.*\)\) with dtype float32$"):
        tf.convert_to_tensor(S, dtype=tf.float64)
    bad = tf.IndexedSlices(tf.constant([[1.0]]), tf.constant([5]), tf.constant([3, 1]))
    assert bad.indices.numpy().tolist() == [5]                     # only detected when densified
    with raises_exactly(InvalidArgumentError, "segment_ids[0] = 5 is out of range [0, 3) [Op:UnsortedSegmentSum]"):
        tf.convert_to_tensor(bad)


def test_python_operators_are_type_errors_but_functions_densify():
    for f, op, left, right in [(lambda: S * 2.0, "*", "IndexedSlices", "float"),
                               (lambda: 2.0 * S, "*", "float", "IndexedSlices"),
                               (lambda: S + S, "+", "IndexedSlices", "IndexedSlices"),
                               (lambda: S / 2.0, "/", "IndexedSlices", "float")]:
        with raises_exactly(TypeError, f"unsupported operand type(s) for {op}: '{left}' and '{right}'"):
            f()
    with pytest.raises(TypeError):
        np.ones((3, 2)) * S
    assert tf.multiply(S, 2.0).numpy().tolist() == [[10.0, 10.0], [0.0, 0.0], [4.0, 4.0]]
    assert tf.reduce_sum(S).numpy() == 14.0
    with pytest.raises(AttributeError):
        S.numpy()
    s = tf.IndexedSlices(tf.constant([[1.0, 1.0]]), tf.constant([1]), tf.constant([2, 2]))
    assert tf.add_n([s]).numpy().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert tf.add_n([s, s]).numpy().tolist() == [[0.0, 0.0], [2.0, 2.0]]
    assert tf.add_n([s, tf.ones([2, 2])]).numpy().tolist() == [[1.0, 1.0], [2.0, 2.0]]
    assert tf.add(s, tf.ones([2, 2])).numpy().tolist() == [[1.0, 1.0], [2.0, 2.0]]
    assert tf.add(tf.ones([2, 2]), s).numpy().tolist() == [[1.0, 1.0], [2.0, 2.0]]


# ---- higher order and forward mode ------------------------------------------------------------------

def test_second_derivative_through_a_sparse_gradient_by_hand():
    # y = sum_k w_k x[i_k]^3: dy/dx is sparse with values 3 w_k x[i_k]^2; differentiating those
    # values again gives 6 w_k x[i_k] at the same rows (sparse again, duplicates summed when dense).
    x = tf.Variable([1.0, 2.0, 3.0], dtype=tf.float64)
    idx, w = [2, 0, 2], np.array([1.0, 10.0, 100.0])
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.gather(x, idx) ** 3 * w)
        g = inner.gradient(y, x)
    assert type(g) is tf.IndexedSlices
    np.testing.assert_allclose(g.values.numpy(), 3 * w * np.array([9.0, 1.0, 9.0]))
    h = outer.gradient(g, x)
    assert type(h) is tf.IndexedSlices
    np.testing.assert_allclose(tf.convert_to_tensor(h).numpy(), [6 * 10 * 1.0, 0.0, 6 * 101 * 3.0])


def test_densified_gradient_is_differentiable_again():
    x = tf.Variable([1.0, 2.0, 3.0], dtype=tf.float64)
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            y = tf.reduce_sum(tf.gather(x, [1, 1]) ** 2)
        g = tf.convert_to_tensor(inner.gradient(y, x))         # [0, 4 x1, 0]
        z = tf.reduce_sum(g * g)                              # 16 x1^2
    h = outer.gradient(z, x)                                  # back through the gather: sparse again
    assert type(h) is tf.IndexedSlices and tf.convert_to_tensor(h).numpy().tolist() == [0.0, 64.0, 0.0]


def test_jacobians_and_forward_mode_are_dense():
    x = tf.Variable([1.0, 2.0, 3.0])
    with tf.GradientTape() as tape:
        y = tf.gather(x, [2, 2, 0])
    assert tape.jacobian(y, x).numpy().tolist() == [[0, 0, 1], [0, 0, 1], [1, 0, 0]]
    with tf.autodiff.ForwardAccumulator(x, tf.constant([1.0, 10.0, 100.0])) as acc:
        y = tf.gather(x, [2, 0])
    assert acc.jvp(y).numpy().tolist() == [100.0, 1.0]


# ---- clipping ---------------------------------------------------------------------------------------

def test_clipping_uses_the_values_norm():
    s = tf.IndexedSlices(tf.constant([[3.0, 0.0], [4.0, 0.0]]), tf.constant([0, 0]), tf.constant([2, 2]))
    out, n = tf.clip_by_global_norm([s, None, tf.constant([0.0])], 1.0)
    assert n.numpy() == 5.0                                   # not 7: duplicate rows count separately
    assert [type(o).__name__ for o in out] == ["IndexedSlices", "NoneType", "Tensor"]
    np.testing.assert_allclose(out[0].values.numpy(), [[0.6, 0.0], [0.8, 0.0]], rtol=1e-6)
    assert out[0].indices.numpy().tolist() == [0, 0]
    c = tf.clip_by_norm(s, 1.0)
    assert type(c) is tf.IndexedSlices
    np.testing.assert_allclose(c.values.numpy(), [[0.6, 0.0], [0.8, 0.0]], rtol=1e-6)
    v = tf.Variable(tf.zeros([2, 2]))
    tf.optimizers.SGD(1.0, clipnorm=1.0).apply_gradients([(s, v)])
    np.testing.assert_allclose(v.numpy(), [[-1.4, 0.0], [0.0, 0.0]], rtol=1e-6)
    assert tf.linalg.global_norm([s]).numpy() == 5.0


# ---- optimizers ---------------------------------------------------------------------------------------

def sparse_step(k):
    """Step 1 touches row 1, steps 2 and 3 row 0."""
    return tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([[1], [0], [0]][k]), tf.constant([3, 2]))


def run(make, grads, steps):
    v = tf.Variable(tf.ones([3, 2]))
    opt = make()
    for k in range(steps):
        opt.apply_gradients([(grads(k), v)])
    return v.numpy()


# Keras 3 (TensorFlow backend), sparse and densified gradients agree without duplicate indices:
OBSERVED = {
    ("SGD", 1): [[1.0, 1.0], [0.9, 0.8], [1.0, 1.0]],
    ("SGD", 3): [[0.8, 0.6], [0.9, 0.8], [1.0, 1.0]],
    ("SGD mom", 1): [[1.0, 1.0], [0.9, 0.8], [1.0, 1.0]],
    ("SGD mom", 3): [[0.71, 0.42], [0.729, 0.458], [1.0, 1.0]],
    ("Adam", 1): [[1.0, 1.0], [0.9000009894371033, 0.9000009894371033], [1.0, 1.0]],
    ("Adam", 3): [[0.8397420048713684, 0.8397409915924072], [0.7812010049819946, 0.7811999917030334], [1.0, 1.0]],
    ("RMSprop", 1): [[1.0, 1.0], [0.6837720274925232, 0.6837720274925232], [1.0, 1.0]],
    ("RMSprop", 3): [[0.29624301195144653, 0.29624301195144653], [0.4466019868850708, 0.446601003408432],
                     [1.0, 1.0]],
}
MAKERS = {"SGD": lambda: tf.optimizers.SGD(0.1), "SGD mom": lambda: tf.optimizers.SGD(0.1, momentum=0.9),
          "Adam": lambda: tf.optimizers.Adam(0.1), "RMSprop": lambda: tf.optimizers.RMSprop(0.1, momentum=0.5)}


@pytest.mark.parametrize("name,steps", sorted(OBSERVED))
def test_optimizers_on_sparse_gradients_without_duplicates(name, steps):
    sparse = run(MAKERS[name], sparse_step, steps)
    dense = run(MAKERS[name], lambda k: tf.convert_to_tensor(sparse_step(k)), steps)
    # float32: Keras' kernels round in another order (a few ulps)
    np.testing.assert_allclose(sparse, OBSERVED[name, steps], rtol=0, atol=1e-6)
    np.testing.assert_allclose(dense, OBSERVED[name, steps], rtol=0, atol=1e-6)


def dup(k):
    return tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([0, 0]), tf.constant([3, 2]))


def test_duplicate_indices_square_entry_by_entry():
    # Keras squares the gradient entry by entry before the rows are summed: sum g^2, not (sum g)^2.
    sgd = run(lambda: tf.optimizers.SGD(0.1), dup, 1)[0]
    np.testing.assert_allclose(sgd, [0.6, 0.4], rtol=1e-6)
    adam = run(lambda: tf.optimizers.Adam(0.1), dup, 1)[0]
    np.testing.assert_allclose(adam, [0.8735100030899048, 0.8658369779586792], atol=1e-6)
    adam_dense = run(lambda: tf.optimizers.Adam(0.1), lambda k: tf.convert_to_tensor(dup(k)), 1)[0]
    np.testing.assert_allclose(adam_dense, [0.9000009894371033, 0.9000009894371033], atol=1e-6)
    adagrad = run(lambda: tf.optimizers.Adagrad(0.1), dup, 1)[0]
    np.testing.assert_allclose(adagrad, [0.8741369843482971, 0.8661699891090393], atol=1e-6)
    adagrad_dense = run(lambda: tf.optimizers.Adagrad(0.1), lambda k: tf.convert_to_tensor(dup(k)), 1)[0]
    np.testing.assert_allclose(adagrad_dense, [0.9003109931945801, 0.9001389741897583], atol=1e-6)
    # by hand: Adagrad acc = 0.1 + (1 + 9), 0.1 + (4 + 16); step lr * (sum g) / sqrt(acc)
    np.testing.assert_allclose(adagrad, [1 - 0.1 * 4 / np.sqrt(10.1), 1 - 0.1 * 6 / np.sqrt(20.1)], rtol=1e-6)
    o = tf.optimizers.Adam(0.1)
    v = tf.Variable(tf.ones([3, 2]))
    o.apply_gradients([(dup(0), v)])
    np.testing.assert_allclose(o.variables[3].numpy()[0], [0.01, 0.02], rtol=1e-6)      # 0.001 * (1+9, 4+16)


def test_adam_is_not_lazy_untouched_rows_move():
    v = tf.Variable(tf.ones([3, 2]))
    o = tf.optimizers.Adam(0.1)
    o.apply_gradients([(sparse_step(0), v)])                   # row 1 gets momentum
    row1 = v.numpy()[1].copy()
    o.apply_gradients([(sparse_step(1), v)])                   # only row 0 listed
    assert (v.numpy()[1] < row1).all()                         # row 1 moved anyway
    assert v.numpy()[2].tolist() == [1.0, 1.0]


def test_embedding_gradient_through_sgd():
    emb = tf.Variable(tf.zeros([3, 2]))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.nn.embedding_lookup(emb, [0, 2, 0]) * [[1.0, 2.0]])
    g = tape.gradient(loss, emb)
    tf.optimizers.SGD(learning_rate=1.0).apply_gradients([(g, emb)])
    assert emb.numpy().tolist() == [[-2.0, -4.0], [0.0, 0.0], [-1.0, -2.0]]


def test_sparse_sgd_updates_rows_in_place_unless_the_table_is_shared():
    emb = tf.Variable(np.zeros((1000, 4), np.float32))
    opt = tf.optimizers.SGD(1.0)

    def step(ids):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.embedding_lookup(emb, ids))
        opt.apply_gradients([(tape.gradient(loss, emb), emb)])

    step([1])                                # the first update may copy (the table's buffer is adopted)
    before = id(emb._value)
    step([1, 1])
    assert id(emb._value) == before and emb.numpy()[1].tolist() == [-3.0] * 4
    held = emb.value()                       # a live read: copy-on-write keeps it as it was
    step([2])
    assert id(emb._value) != before and held.numpy()[2].tolist() == [0.0] * 4
    assert emb.numpy()[2].tolist() == [-1.0] * 4


def test_variable_scatter_methods():
    v = tf.Variable([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    r = v.scatter_add(tf.IndexedSlices(tf.constant([[1.0, 1.0], [5.0, 5.0]]), tf.constant([0, 0])))
    assert v.numpy().tolist() == [[7, 7], [2, 2], [3, 3]] and np.asarray(r).tolist() == v.numpy().tolist()
    v.scatter_sub(tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([2])))
    v.scatter_update(tf.IndexedSlices(tf.constant([[0.0, 9.0]]), tf.constant([1])))
    assert v.numpy().tolist() == [[7, 7], [0, 9], [2, 1]]
    with pytest.raises(InvalidArgumentError, match=r"indices\[0\] = 3 is not in \[0, 3\)"):
        v.scatter_add(tf.IndexedSlices(tf.constant([[1.0, 1.0]]), tf.constant([3])))
    with pytest.raises(ValueError, match="Tensor conversion requested dtype float32 for Tensor with dtype float64"):
        v.scatter_add(tf.IndexedSlices(tf.constant([[1.0, 1.0]], tf.float64), tf.constant([0])))
    with pytest.raises(TypeError):
        v.scatter_add(tf.constant([1.0]))


def test_embedding_lookup_max_norm():
    emb = tf.Variable([[3.0, 4.0], [0.3, 0.4]])
    out = tf.nn.embedding_lookup(emb, [0, 1], max_norm=1.0)
    np.testing.assert_allclose(out.numpy(), [[0.6, 0.8], [0.3, 0.4]], rtol=1e-6)
    with pytest.raises(NotImplementedError, match="sharded"):
        tf.nn.embedding_lookup([emb, emb], [0])
