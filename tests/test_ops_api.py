"""The public functions (TensorFlow names and NumPy functions on Tensors),
many of them compositions of registered ops, checked against finite
differences at first and second order, and their values against NumPy."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.test import check_gradients

r = np.random.default_rng(7)
A = r.standard_normal((3, 4))
B = r.standard_normal((4, 5))
V = r.standard_normal(4)
SQ = r.standard_normal((3, 3)) + 3 * np.eye(3)
POS = r.uniform(0.5, 2.0, (3, 4))
Z = np.where(r.uniform(size=(2, 5)) < 0.3, 0.0, r.uniform(0.5, 1.5, (2, 5)))
Z[0, 1] = Z[0, 3] = 0.0            # two zeros in one row: the second derivative is still defined

# (name, function of tensors, inputs, order)
CASES = [
    ("matmul_ta", lambda a, b: tg.matmul(a, b, transpose_a=True), [A.T.copy(), B], 2),
    ("matmul_tb", lambda a, b: tg.matmul(a, b, transpose_b=True), [A, B.T.copy()], 2),
    ("matmul_ta_tb", lambda a, b: tg.matmul(a, b, transpose_a=True, transpose_b=True), [A.T.copy(), B.T.copy()], 2),
    ("matmul_batched_broadcast", lambda a, b: tg.matmul(a, b), [r.standard_normal((2, 1, 3, 4)),
                                                                 r.standard_normal((3, 4, 2))], 2),
    ("matmul_vector", lambda a, v: a @ v, [A, V], 2),
    ("tensordot", lambda a, b: tg.tensordot(a, b, axes=[[1], [0]]), [A, B], 2),
    ("einsum_batch_ellipsis", lambda a, b: tg.einsum("...ij,...jk->...ik", a, b),
     [r.standard_normal((2, 3, 4)), r.standard_normal((2, 4, 2))], 2),
    ("einsum_trace", lambda a: tg.einsum("ii", a), [SQ], 2),
    ("einsum_sum_alone", lambda a, v: tg.einsum("ij,k->i", a, v), [A, V], 2),
    ("np_einsum_outer", lambda a, v: np.einsum("i,j->ij", a, v), [V, V[:3]], 2),
    ("matvec", lambda a, v: tg.linalg.matvec(a, v), [A, V], 2),
    ("trace", lambda a: tg.linalg.trace(a), [SQ], 2),
    ("np_trace", lambda a: np.trace(a), [SQ], 2),
    ("inv_adjoint", lambda a: tg.linalg.inv(a, adjoint=True), [SQ], 2),
    ("solve_adjoint", lambda a, b: tg.linalg.solve(a, b, adjoint=True), [SQ, A[:, :2].copy()], 2),
    ("np_solve_vector", lambda a, b: np.linalg.solve(a, b), [SQ, V[:3].copy()], 2),
    ("svd_values", lambda a: tg.linalg.svd(a, compute_uv=False), [A], 2),
    ("svd_wide", lambda a: (lambda s, u, v: tg.concat([s, tg.reshape(u * u, [-1]), tg.reshape(v * v, [-1])], 0))(
        *tg.linalg.svd(a)), [A.T.copy()], 1),
    ("np_det", lambda a: np.linalg.det(a), [SQ], 2),
    ("slogdet", lambda a: tg.linalg.slogdet(a)[1], [SQ], 2),
    ("diag", lambda v: tg.linalg.diag(v), [V], 2),
    ("norm_euclidean", lambda x: tg.norm(x), [A], 2),
    ("norm_1_axis", lambda x: tg.norm(x, ord=1, axis=1), [A], 2),
    ("norm_inf", lambda x: tg.norm(x, ord=np.inf), [A], 2),
    ("norm_3", lambda x: tg.norm(x, ord=3, axis=0), [A], 2),
    ("norm_matrix_fro", lambda x: tg.norm(x, ord="fro", axis=[0, 1]), [A], 2),
    ("norm_matrix_1", lambda x: tg.norm(x, ord=1, axis=[0, 1]), [A], 2),
    ("norm_matrix_inf", lambda x: tg.norm(x, ord=np.inf, axis=[-2, -1]), [A], 2),
    ("norm_matrix_2", lambda x: tg.linalg.norm(x, ord=2, axis=[0, 1]), [A], 2),
    ("np_linalg_norm", lambda x: np.linalg.norm(x, axis=1), [A], 2),
    ("clip_by_norm", lambda x: tg.clip_by_norm(x, 1.0), [A], 2),
    ("clip_by_norm_axes", lambda x: tg.clip_by_norm(x, 1.5, axes=[1]), [A], 2),
    ("logsumexp", lambda x: tg.reduce_logsumexp(x, axis=1), [A], 2),
    ("std", lambda x: tg.math.reduce_std(x, axis=0), [A], 2),
    ("variance", lambda x: tg.math.reduce_variance(x), [A], 2),
    ("np_var_ddof", lambda x: np.var(x, axis=1, ddof=1), [A], 2),
    ("np_std", lambda x: np.std(x), [A], 2),
    ("reduce_prod_zeros", lambda x: tg.reduce_prod(x, axis=1), [Z], 3),
    ("reduce_prod_all", lambda x: tg.reduce_prod(x), [Z[:, :3].copy()], 2),
    ("cumprod_exclusive_reverse", lambda x: tg.math.cumprod(x, axis=1, exclusive=True, reverse=True), [Z], 2),
    ("np_cumprod", lambda x: np.cumprod(x), [Z], 2),
    ("cumsum_axis0", lambda x: tg.cumsum(x, axis=0), [A], 2),
    ("np_cumsum", lambda x: np.cumsum(x, axis=1), [A], 2),
    ("tile", lambda x: tg.tile(x, [2, 3]), [A], 2),
    ("stack", lambda x, y: tg.stack([x, y], axis=1), [A, POS], 2),
    ("unstack", lambda x: tg.unstack(x, axis=1)[2] * 2.0, [A], 2),
    ("split", lambda x: tg.split(x, [1, -1, 2], axis=1)[1], [A], 2),
    ("squeeze_expand", lambda x: tg.squeeze(tg.expand_dims(x, 1), axis=1), [A], 2),
    ("gather", lambda x: tg.gather(x, [2, 0, 2], axis=1), [A], 2),
    ("np_take", lambda x: np.take(x, [-1, 0], axis=0), [A], 2),
    ("np_take_along_axis", lambda x: np.take_along_axis(x, np.array([[0], [3], [1]]), axis=1), [A], 2),
    ("gather_nd", lambda x: tg.gather_nd(x, [[0, 1], [2, 3], [0, 1]]), [A], 2),
    ("boolean_mask", lambda x: tg.boolean_mask(x, np.array([True, False, True])), [A], 2),
    ("slice", lambda x: tg.slice(x, [1, 0], [-1, 2]), [A], 2),
    ("strided_negative_step", lambda x: x[::-1, 3:0:-2], [A], 2),
    ("ellipsis_newaxis", lambda x: x[..., None, 1:], [A], 2),
    ("advanced_indexing", lambda x: x[np.array([[0, 2], [1, 1]]), np.array([3, 0])], [A], 2),
    ("boolean_indexing", lambda x: x[x.numpy() > 0], [A], 2),
    ("pad_constant", lambda x: tg.pad(x, [[1, 2], [0, 1]], constant_values=3.0), [A], 2),
    ("pad_reflect", lambda x: tg.pad(x, [[2, 1], [1, 3]], mode="REFLECT"), [A], 2),
    ("pad_symmetric", lambda x: np.pad(x, ((1, 1), (0, 2)), mode="symmetric"), [A], 2),
    ("reverse", lambda x: tg.reverse(x, [0]), [A], 2),
    ("np_flip", lambda x: np.flip(x), [A], 2),
    ("scatter_update", lambda x, u: tg.tensor_scatter_nd_update(x, [[1], [0]], u), [A, A[:2] * 2], 2),
    ("scatter_add", lambda x, u: tg.tensor_scatter_nd_add(x, [[1, 2], [1, 2], [0, 0]], u), [A, V[:3].copy()], 2),
    ("broadcast_to", lambda x: tg.broadcast_to(x, [2, 3, 4]), [A[:1].copy()], 2),
    ("where_broadcast", lambda x, y: tg.where(np.array([[True], [False], [True]]), x, y), [A, V], 2),
    ("np_where", lambda x: np.where(x > 0, x * x, -x), [A], 2),
    ("np_clip", lambda x: np.clip(x, -0.5, None), [A], 2),
    ("gelu", lambda x: tg.nn.gelu(x), [A], 2),
    ("gelu_tanh", lambda x: tg.nn.gelu(x, approximate=True), [A], 2),
    ("silu", lambda x: tg.nn.silu(x), [A], 2),
    ("log_sigmoid", lambda x: tg.math.log_sigmoid(x), [A], 2),
    ("moments_mean", lambda x: tg.nn.moments(x, axes=[0])[0], [A], 2),
    ("moments_variance", lambda x: tg.nn.moments(x, axes=[0, 1])[1], [A], 2),
    ("softmax_xent", lambda z, x: tg.nn.softmax_cross_entropy_with_logits(labels=z, logits=x),
     [tg.nn.softmax(POS).numpy(), A], 2),
    ("sigmoid_xent", lambda z, x: tg.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x),
     [r.uniform(size=(3, 4)), A], 2),
    ("sparse_xent", lambda x: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0, 3], logits=x), [A], 2),
    ("l2_loss", lambda x: tg.nn.l2_loss(x), [A], 2),
    ("leaky_relu", lambda x: tg.nn.leaky_relu(x, alpha=0.1), [A], 2),
    ("add_n", lambda x, y: tg.add_n([x, y, x]), [A, POS], 2),
    ("pow_operator", lambda x, y: x ** y, [POS, A], 2),
    ("swapaxes_moveaxis", lambda x: np.moveaxis(np.swapaxes(x, 0, 1), 0, -1), [A], 2),
    ("np_outer", lambda a, b: np.outer(a, b), [V, V[:2].copy()], 2),
    ("np_diagonal", lambda a: np.diagonal(a), [A], 2),
    ("squared_difference", lambda x, y: tg.math.squared_difference(x, y), [A, V], 2),
    ("divide_no_nan", lambda x, y: tg.math.divide_no_nan(x, y), [A, V], 2),
    ("reduce_euclidean_norm", lambda x: tg.math.reduce_euclidean_norm(x, axis=0), [A], 2),
]


def test_divide_no_nan_is_zero_with_zero_gradient_at_a_zero_divisor():
    x = tg.Variable([1.0, 2.0])
    y = tg.Variable([0.0, 4.0])
    with tg.GradientTape() as t:
        q = tg.math.divide_no_nan(x, y)
    gx, gy = t.gradient(q, [x, y])
    assert q.numpy().tolist() == [0.0, 0.5]
    assert gx.numpy().tolist() == [0.0, 0.25] and gy.numpy().tolist() == [0.0, -0.125]


@pytest.mark.parametrize("name,f,args,order", CASES, ids=[c[0] for c in CASES])
def test_public_functions_against_finite_differences(name, f, args, order):
    with np.errstate(all="ignore"):
        check_gradients(f, args, order=order, rtol=1e-4, atol=1e-6)


def test_einsum_matches_numpy():
    a, b = r.standard_normal((2, 3, 3)), r.standard_normal((3, 4))
    for eq in ["bii->bi", "bij,jk->bik", "bij->", "...ij->...ji", "bij,jk", "ij,jk"]:
        ops = (a, b) if "," in eq else (a,)
        if eq == "ij,jk":
            ops = (a[0], b)
        got = tg.einsum(eq, *[tg.constant(o) for o in ops])
        np.testing.assert_allclose(got.numpy(), np.einsum(eq, *ops), rtol=1e-12)


def test_linalg_values_match_numpy():
    s, u, v = tg.linalg.svd(tg.constant(A))
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ v.numpy().T, A, atol=1e-12)
    e, w = tg.linalg.eigh(tg.constant(SQ @ SQ.T))
    np.testing.assert_allclose(e.numpy(), np.linalg.eigvalsh(SQ @ SQ.T), rtol=1e-12)
    np.testing.assert_allclose(tg.linalg.cholesky(tg.constant(SQ @ SQ.T)).numpy(), np.linalg.cholesky(SQ @ SQ.T))
    sign, logdet = tg.linalg.slogdet(tg.constant(SQ))
    np.testing.assert_allclose(sign.numpy() * np.exp(logdet.numpy()), np.linalg.det(SQ))
    np.testing.assert_allclose(tg.linalg.norm(tg.constant(A), ord=2, axis=[0, 1]).numpy(), np.linalg.norm(A, 2))
    np.testing.assert_allclose(tg.norm(tg.constant(A), ord=1, axis=[0, 1]).numpy(), np.linalg.norm(A, 1))
    np.testing.assert_allclose(tg.norm(tg.constant(A), ord=np.inf, axis=[0, 1]).numpy(), np.linalg.norm(A, np.inf))


def test_erf_is_exact_to_float64():
    import math
    x = np.linspace(-6, 6, 1001)
    np.testing.assert_array_equal(tg.math.erf(tg.constant(x)).numpy(), [math.erf(v) for v in x])
    assert tg.math.erf(tg.constant(0.5, tg.float32)).dtype == tg.float32


def test_scans_and_recurrence_values():
    x = r.standard_normal((3, 6))
    np.testing.assert_allclose(tg.math.cumprod(tg.constant(x), axis=1, exclusive=True, reverse=True).numpy(),
                               np.concatenate([np.cumprod(x[:, :0:-1], axis=1)[:, ::-1], np.ones((3, 1))], 1))
    np.testing.assert_allclose(tg.cumsum(tg.constant(x), axis=1, exclusive=True).numpy(),
                               np.concatenate([np.zeros((3, 1)), np.cumsum(x, 1)[:, :-1]], 1))


def test_tf_gather_family_values():
    x = np.arange(12.0).reshape(3, 4)
    assert tg.gather(tg.constant(x), [2, 0]).numpy().tolist() == x[[2, 0]].tolist()
    assert tg.gather_nd(tg.constant(x), [[1, 2], [0, 0]]).numpy().tolist() == [6.0, 0.0]
    assert tg.boolean_mask(tg.constant(x), [[True, False, False, True]] * 3, axis=0).numpy().tolist() == \
        [0.0, 3.0, 4.0, 7.0, 8.0, 11.0]
    up = tg.tensor_scatter_nd_update(tg.constant(x), [[0, 1]], [-1.0]).numpy()
    assert up[0, 1] == -1.0 and up.sum() == x.sum() - 1 - 1


def test_one_hot_values_and_dtype():
    oh = tg.one_hot([0, 2, -1, 5], 3)
    assert oh.dtype == tg.float32
    assert oh.numpy().tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert tg.one_hot([1], 2, on_value=5, off_value=-1, dtype=tg.int32).numpy().tolist() == [[-1, 5]]
    assert tg.one_hot([[1, 0]], 2, axis=0).shape == (2, 1, 2)


def test_random_seeding_repeats_sequences():
    tg.random.set_seed(3)
    a = [tg.random.normal([2]).numpy(), tg.random.uniform([2], seed=1).numpy(), tg.random.uniform([2], seed=1).numpy()]
    tg.random.set_seed(3)
    b = [tg.random.normal([2]).numpy(), tg.random.uniform([2], seed=1).numpy(), tg.random.uniform([2], seed=1).numpy()]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[1], a[2])       # an op seed gives a stream, not one repeated value
    t = tg.random.truncated_normal([1000], mean=1.0, stddev=2.0, seed=5)
    assert t.dtype == tg.float32 and np.all(np.abs(t.numpy() - 1.0) <= 4.0)
    s = tg.random.shuffle(tg.range(10), seed=2).numpy()
    assert sorted(s.tolist()) == list(range(10))


def test_dropout_scales_kept_entries_and_is_seeded():
    x = tg.ones([1000])
    tg.random.set_seed(1)
    y1 = tg.nn.dropout(x, 0.25, seed=4).numpy()
    tg.random.set_seed(1)
    y2 = tg.nn.dropout(x, 0.25, seed=4).numpy()
    np.testing.assert_array_equal(y1, y2)
    assert set(np.unique(y1).tolist()) == {0.0, np.float32(1 / 0.75)}
    assert 0.15 < np.mean(y1 == 0) < 0.35
    v = tg.Variable(np.ones(8))
    with tg.GradientTape() as t:
        y = tg.nn.dropout(v, 0.5, seed=9)
    np.testing.assert_array_equal(t.gradient(y, v).numpy(), y.numpy())


def test_creation_functions():
    assert tg.fill([2, 3], 1.5).dtype == tg.float32 and tg.fill([2], 7).dtype == tg.int32
    assert tg.eye(2, 3, batch_shape=[4]).shape == (4, 2, 3)
    assert tg.range(1, 10, 3).numpy().tolist() == [1, 4, 7]
    assert tg.linspace(0.0, 1.0, 5).numpy().tolist() == [0, 0.25, 0.5, 0.75, 1]
    x = tg.constant(np.zeros((2, 3, 4)))
    assert tg.size(x).numpy() == 24 and tg.shape(x).numpy().tolist() == [2, 3, 4] and tg.rank(x).numpy() == 3
    assert tg.is_tensor(x) and not tg.is_tensor(np.zeros(2))
    assert tg.as_dtype("float64") == tg.float64
