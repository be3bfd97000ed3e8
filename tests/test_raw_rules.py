"""The direct paths of the rules an MLP step runs on raw values (docs/internals.md, "Rules on raw
values") give the bits of the general code they bypass, and their gradients never share memory
with a forward value, a variable or another gradient."""
import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad._core import apply
from tapegrad.ops import linalg_ops, math_ops, nn_ops, reduction_ops
from tapegrad.ops._registry import call
from tapegrad.ops._shapes import broadcast_scalar

from conftest import assert_same_bits

RNG = np.random.default_rng(1515)
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_matmul_rules_on_matrices_match_the_general_rule(dtype, ta, tb):
    a = RNG.standard_normal((7, 5) if ta else (5, 7)).astype(dtype)
    b = RNG.standard_normal((3, 7) if tb else (7, 3)).astype(dtype)
    g = RNG.standard_normal((5, 3)).astype(dtype)
    ga = linalg_ops._matmul_grad_a(g, None, a, b, ta, tb)
    gb = linalg_ops._matmul_grad_b(g, None, a, b, ta, tb)
    # the general rule, through _mm's dispatch (a batch of one takes it)
    ga1 = linalg_ops._matmul_grad_a(g[None], None, a, b, ta, tb)
    gb1 = linalg_ops._matmul_grad_b(g[None], None, a, b, ta, tb)
    assert_same_bits(ga, ga1[0])
    assert_same_bits(gb, gb1[0])
    np.testing.assert_allclose(ga, (g @ (b.T if not tb else b)).T if ta else g @ (b.T if not tb else b),
                               rtol=1e-5)
    np.testing.assert_allclose(gb, (((a.T if not ta else a) @ g).T if tb else (a.T if not ta else a) @ g),
                               rtol=1e-5)
    assert_same_bits(linalg_ops._matmul_forward(a, b, ta, tb), linalg_ops._mm(a, b, ta, tb))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_reduce_mean_forward_is_np_mean(dtype):
    for shape in [(7,), (3, 5), (4, 3, 6), (64,), (10, 3, 7)]:
        x = (RNG.standard_normal(shape) * 10 ** RNG.uniform(-3, 3, shape)).astype(dtype)
        axes_list = [None] + [c for r in range(1, len(shape) + 1) for c in itertools.combinations(range(len(shape)), r)]
        for axes in axes_list:
            for keepdims in (False, True):
                got = reduction_ops._mean_forward(x, axes, keepdims, shape)
                want = np.mean(x, axis=axes, keepdims=keepdims)
                assert type(got) is type(want)
                assert_same_bits(got, want)


def test_reduction_gradient_is_a_read_only_zero_stride_view():
    # NumPy scalars (viewed in place) and anything else (through np.asarray): the same views
    for value in (np.float32(0.25), np.float64(1.0), np.complex128(1 - 2j), np.float16(-3.5), np.longdouble(0.1),
                  np.complex64(2j), np.clongdouble(1 + 1j), np.array(0.5), np.array(2.0, np.float32), 0.75, 3):
        for shape in [(64,), (3, 4), (0, 2), ()]:
            v = broadcast_scalar(value, shape)
            want = np.broadcast_to(value, shape)
            if want.dtype in (np.longdouble, np.clongdouble):
                np.testing.assert_array_equal(v, want)     # (long double: padding bytes are not the value)
                assert v.dtype == want.dtype
            else:
                assert_same_bits(v, want)
            assert not v.flags.writeable and v.flags.aligned
            assert all(s == 0 for s in v.strides)
    src = np.array(1.5)
    broadcast_scalar(src, (2,))
    assert src.flags.writeable                     # a 0-d array given in stays writeable
    # NumPy's own errors and limits: a negative dimension, more dimensions than NumPy 1.x had
    with pytest.raises(ValueError, match="negative dimensions"):
        broadcast_scalar(np.float64(1.0), (2, -1))
    try:                                           # NumPy 2 takes 64 dimensions, NumPy 1.x 32
        np.broadcast_to(np.float64(2.0), (1,) * 40)
    except ValueError:
        with pytest.raises(ValueError, match="dimension"):
            broadcast_scalar(np.float64(2.0), (1,) * 40)
    else:
        deep = broadcast_scalar(np.float64(2.0), (1,) * 40)
        assert deep.shape == (1,) * 40 and not deep.flags.writeable and float(deep.ravel()[0]) == 2.0
    x = tg.constant(RNG.standard_normal((4, 5)))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_mean(x)
    assert_same_bits(tape.gradient(y, x).numpy(), np.full((4, 5), 1 / 20))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_xent_on_rows_matches_the_general_path(dtype):
    logits = (RNG.standard_normal((9, 6)) * 4).astype(dtype)
    logits[0] = [0, -300, -300, -300, -300, -300]        # a loss of exactly 0
    labels = RNG.integers(0, 6, 9)
    labels[0] = 0
    got = nn_ops._sparse_xent_forward(logits, labels)
    general = -np.take_along_axis(nn_ops._log_softmax_forward(logits, -1), labels[:, None], axis=-1)[:, 0]
    np.testing.assert_array_equal(got, general)           # equal values (-0.0 == 0.0)
    assert got[0] == 0 and not np.signbit(got[0])          # +0.0, as TensorFlow's kernel gives
    assert_same_bits(got[1:], general[1:])
    g = RNG.uniform(0.5, 2, 9).astype(dtype)
    fast = nn_ops._sparse_xent_grad(g, None, logits, labels)
    batched = nn_ops._sparse_xent_grad(g[None], None, logits, labels)   # the general rule
    assert_same_bits(fast, batched[0])
    sm = np.exp(logits - logits.max(-1, keepdims=True))
    sm /= sm.sum(-1, keepdims=True)
    np.testing.assert_allclose(fast, g[:, None] * (sm - np.eye(6, dtype=dtype)[labels]), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ltype,order", [("int32", "C"), ("int64", "C"), ("uint8", "C"), ("uint64", "C"),
                                         ("int32", "F")])
def test_sparse_xent_softmax_kept_from_the_forward_gives_the_recomputed_bits(dtype, ltype, order):
    logits = np.asarray((RNG.standard_normal((9, 6)) * 4).astype(dtype), order=order)
    labels = RNG.integers(0, 6, 9).astype(ltype)
    parts = nn_ops._SoftmaxParts()
    loss = nn_ops._sparse_xent_forward(logits, labels, parts)
    assert_same_bits(loss, -np.take_along_axis(nn_ops._log_softmax_forward(logits, -1), labels[:, None].astype(np.intp),
                                   axis=-1)[:, 0])                   # the general forward
    assert parts.x is logits
    # the flat label index where it applies (C order, a label dtype that adds into intp), else none
    assert (parts.flat is not None) == (order == "C" and ltype != "uint64")
    g = RNG.uniform(0.5, 2, 9).astype(dtype)
    kept = nn_ops._sparse_xent_grad(g, None, logits, labels, parts)
    assert_same_bits(kept, nn_ops._sparse_xent_grad(g, None, logits, labels))     # recomputed from the logits
    assert_same_bits(kept, nn_ops._sparse_xent_grad(g[None], None, logits, labels)[0])   # the general rule
    assert not np.shares_memory(kept, parts.e)
    # a second sweep reads them unchanged
    assert_same_bits(nn_ops._sparse_xent_grad(g, None, logits, labels, parts), kept)
    other = logits.copy()                                              # parts of another array are not used
    parts.e = parts.e * 2
    assert_same_bits(nn_ops._sparse_xent_grad(g, None, other, labels, parts), kept)


def test_sparse_xent_on_a_tape_reads_the_parts_its_forward_kept():
    # White box: the node's own parts object, tampered with after the forward,
    # shows in the gradient (so the tape's rule does read them), and untouched
    # it gives the finite-difference gradient of the mean loss.
    logits_np = RNG.standard_normal((5, 4))
    labels = np.array([0, 3, 1, 1, 2])
    for tamper in (False, True):
        logits = tg.Variable(logits_np)
        parts = nn_ops._SoftmaxParts()
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(apply(nn_ops.sparse_xent_op, (logits,), (labels, parts)))
        assert parts.x is not None
        if tamper:
            parts.e = parts.e * 2
        got = tape.gradient(loss, logits).numpy()
        e = np.exp(logits_np - logits_np.max(1, keepdims=True))
        want = (e / e.sum(1, keepdims=True) - np.eye(4)[labels]) / 5     # hand-derived
        if tamper:
            assert np.abs(got - want).max() > 0.01
        else:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
            fd = tg.test.compute_gradient(
                lambda z: tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=z)),
                [logits_np])
            np.testing.assert_allclose(got.ravel(), fd[1][0][0], rtol=1e-6, atol=1e-8)   # numerical


@pytest.mark.parametrize("ltype", ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", ">i4"])
def test_sparse_xent_label_range_in_one_pass(ltype):
    logits = tg.constant(np.zeros((3, 5)))
    dt = np.dtype(ltype)
    xent = tg.nn.sparse_softmax_cross_entropy_with_logits
    assert xent(labels=np.array([0, 4, 2], dt), logits=logits).shape == (3,)
    bad = [[0, 5, 1], [4, 4, 100]] + ([[0, -1, 2], [np.iinfo(dt).min, 0, 0]] if dt.kind == "i" else [])
    for lab in bad:
        with pytest.raises(tg.errors.InvalidArgumentError, match=r"outside the valid range \[0, 5\)"):
            xent(labels=np.array(lab, dt), logits=logits)
    if dt.itemsize == 1 and dt.kind == "i":
        # more classes than int8's unsigned view can tell from a negative label (-100 reads as 156)
        wide = tg.constant(np.zeros((2, 200)))
        assert xent(labels=np.array([0, 127], dt), logits=wide).shape == (2,)
        for lab in ([0, -100], [-128, 0], [-1, 3]):
            with pytest.raises(tg.errors.InvalidArgumentError, match="outside the valid range"):
                xent(labels=np.array(lab, dt), logits=wide)
        edge = tg.constant(np.zeros((2, 128)))                          # the view's own limit
        assert xent(labels=np.array([0, 127], dt), logits=edge).shape == (2,)
        for lab in ([0, -128], [-1, 0]):
            with pytest.raises(tg.errors.InvalidArgumentError, match="outside the valid range"):
                xent(labels=np.array(lab, dt), logits=edge)
    assert xent(labels=np.array(3, dt), logits=tg.constant(np.zeros(5))).shape == ()   # a 0-d label


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_rule_on_raw_values_is_relu_grad(dtype):
    y = np.maximum(RNG.standard_normal((5, 4)), 0).astype(dtype)
    g = RNG.standard_normal((5, 4)).astype(dtype)
    g[0, 0] = np.nan
    assert_same_bits(math_ops._relu_vjp(g, y, None), call(math_ops.relu_grad, g, y))


def test_mlp_gradients_match_finite_differences_and_share_no_memory():
    rng = np.random.default_rng(3)
    x = tg.constant(rng.standard_normal((5, 6)))
    labels = tg.constant(rng.integers(0, 3, 5).astype(np.int32))
    params = [tg.Variable(rng.standard_normal(s) * 0.5) for s in [(6, 4), (4,), (4, 3), (3,)]]

    def loss_of(ps):
        a = tg.tanh(x @ ps[0] + ps[1])
        a = tg.nn.relu(a @ ps[2] + ps[3])
        return tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=a))

    with tg.GradientTape() as tape:
        loss = loss_of(params)
    grads = tape.gradient(loss, params)
    assert isinstance(grads, list) and len(grads) == 4
    values = [p.numpy() for p in params]
    for i, (p, g) in enumerate(zip(params, grads)):
        assert g.dtype == p.dtype and g.shape == p.shape
        assert not g._value.flags.writeable
        assert not np.shares_memory(g._value, x._value)
        for q in params:
            assert not np.shares_memory(g._value, q._value)
        for j, h in enumerate(grads):
            if j != i:
                assert not np.shares_memory(g._value, h._value)
        # central differences on a few entries
        for idx in list(np.ndindex(p.shape))[:4]:
            h = 1e-6
            up, down = values[i].copy(), values[i].copy()
            up[idx] += h
            down[idx] -= h
            p.assign(up)
            fu = float(loss_of(params))
            p.assign(down)
            fd = float(loss_of(params))
            p.assign(values[i])
            np.testing.assert_allclose(g.numpy()[idx], (fu - fd) / (2 * h), rtol=1e-5, atol=1e-8)
