"""matmul's forward (no transposes) and its two rules on raw 2-d arrays are made by the core
itself (``_core.install_matmul``): the same np.matmul calls on the same views as
``_matmul_forward`` / ``_matmul_grad_a`` / ``_matmul_grad_b``, so the same bits, errors and
results with the structured-cotangent shortcuts on (the core's calls) and off (the rules),
with fewer Python frames (an MLP step, W4)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import linalg_ops

from conftest import assert_same_bits, both_paths, frames_run

OP = linalg_ops.matmul_op
RNG = np.random.default_rng(1506)


def _operands(dtype, ta, tb, m=5, k=7, n=3):
    a = RNG.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = RNG.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    return a, b


def _grads(a, b, ta, tb, g):
    """Forward and both gradients of sum(matmul(a, b) * g) through a tape."""
    va, vb = tg.Variable(a), tg.Variable(b)
    with tg.GradientTape() as tape:
        y = tg.linalg.matmul(va, vb, transpose_a=ta, transpose_b=tb)
        loss = tg.reduce_sum(y * tg.constant(g))
    da, db = tape.gradient(loss, [va, vb])
    return y.numpy(), da.numpy(), db.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_core_calls_equal_the_rules_bit_for_bit(dtype, ta, tb):
    a, b = _operands(dtype, ta, tb)
    g = RNG.standard_normal((5, 3)).astype(dtype)
    on, off = both_paths(lambda: _grads(a, b, ta, tb, g))
    for x, y in zip(on, off):
        assert_same_bits(x, y)
    # and both equal the rules called directly on the same arrays
    assert_same_bits(on[1], linalg_ops._matmul_grad_a(g, None, a, b, ta, tb))
    assert_same_bits(on[2], linalg_ops._matmul_grad_b(g, None, a, b, ta, tb))
    assert_same_bits(on[0], linalg_ops._matmul_forward(a, b, ta, tb))


@pytest.mark.parametrize("ta,tb", [(False, False), (True, True)])
def test_gradients_are_the_hand_derived_ones(ta, tb):
    # loss = sum(A' B' * G) with A' = A or A.T: dA' = G B'^T, dB' = A'^T G (in float64, to 1e-12)
    a, b = _operands(np.float64, ta, tb)
    g = RNG.standard_normal((5, 3))
    ea, eb = (a.T if ta else a), (b.T if tb else b)
    y, da, db = _grads(a, b, ta, tb, g)
    np.testing.assert_allclose(y, ea @ eb, rtol=1e-12)
    want_a, want_b = g @ eb.T, ea.T @ g
    np.testing.assert_allclose(da, want_a.T if ta else want_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, want_b.T if tb else want_b, rtol=1e-12, atol=1e-12)


def test_an_mlp_layer_against_central_differences():
    x = RNG.standard_normal((4, 6))
    w = RNG.standard_normal((6, 3))

    def loss(wv):
        return np.sum(np.tanh(x @ wv))

    v = tg.Variable(w)
    with tg.GradientTape() as tape:
        out = tg.reduce_sum(tg.tanh(tg.constant(x) @ v))
    got = tape.gradient(out, v).numpy()
    eps = 1e-6
    for idx in [(0, 0), (2, 1), (5, 2)]:
        up, down = w.copy(), w.copy()
        up[idx] += eps
        down[idx] -= eps
        assert abs((loss(up) - loss(down)) / (2 * eps) - got[idx]) <= 1e-7


def test_the_rules_and_forward_run_no_python_frame_with_the_shortcuts_on():
    a, b = _operands(np.float32, False, False)
    g = RNG.standard_normal((5, 3)).astype(np.float32)
    names = {"_matmul_forward", "_matmul_grad_a", "_matmul_grad_b"}
    was = _core.structured_cotangents(True)
    try:
        _, on = frames_run(lambda: _grads(a, b, False, False, g), names)
        _core.structured_cotangents(False)
        _, off = frames_run(lambda: _grads(a, b, False, False, g), names)
    finally:
        _core.structured_cotangents(was)
    assert (on, off) == (0, 3)


def test_other_operands_take_the_rules():
    # a batch of matrices (3-d) and a vector operand are not the core's case: the rules run and
    # un-broadcast as before (the values against NumPy's einsum)
    a = RNG.standard_normal((2, 4, 3))
    b = RNG.standard_normal((3, 5))
    va, vb = tg.Variable(a), tg.Variable(b)
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(va @ vb)
    (da, db), frames = frames_run(lambda: tape.gradient(loss, [va, vb]), {"_matmul_grad_a", "_matmul_grad_b"})
    assert frames == 2
    np.testing.assert_allclose(da.numpy(), np.broadcast_to(b.sum(axis=1), (2, 4, 3)), rtol=1e-12)
    np.testing.assert_allclose(db.numpy(), np.broadcast_to(a.sum(axis=(0, 1))[:, None], (3, 5)), rtol=1e-12)


def test_errors_are_unchanged():
    a, b = np.ones((2, 3)), np.ones((4, 5))
    with pytest.raises(tg.errors.InvalidArgumentError, match="Matrix size-incompatible"):
        tg.constant(a) @ tg.constant(b)
    with pytest.raises(ValueError) as want:
        linalg_ops._matmul_forward(a, b, False, False)
    with pytest.raises(ValueError) as got:
        _core.apply(OP, (tg.constant(a), tg.constant(b)), (False, False))
    assert str(got.value) == str(want.value)


def _operator_program(x, w, b):
    """An MLP layer written with the @ operator: x @ W + b, tanh, summed; its value and gradients."""
    vw, vb = tg.Variable(w), tg.Variable(b)
    with tg.GradientTape() as tape:
        y = tg.reduce_sum(tg.tanh(tg.constant(x) @ vw + vb))
    dw, db = tape.gradient(y, [vw, vb])
    return y.numpy(), dw.numpy(), db.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_operator_applies_the_op_without_matmuls_frame(dtype):
    x = RNG.standard_normal((4, 6)).astype(dtype)
    w = RNG.standard_normal((6, 3)).astype(dtype)
    b = RNG.standard_normal(3).astype(dtype)
    was = _core.structured_cotangents(True)
    try:
        on, frames_on = frames_run(lambda: _operator_program(x, w, b), {"_matmul"})
        _core.structured_cotangents(False)
        off, frames_off = frames_run(lambda: _operator_program(x, w, b), {"_matmul"})
    finally:
        _core.structured_cotangents(was)
    assert (frames_on, frames_off) == (0, 1)
    for p, q in zip(on, off):
        assert_same_bits(p, q)
    # the Variable was read through the op (watched): its gradient is the hand-derived one
    t = np.tanh(x.astype(np.float64) @ w + b)
    np.testing.assert_allclose(on[1], x.T.astype(np.float64) @ (1 - t * t), rtol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("a,b", [
    (np.ones((3,)), np.ones((3, 2))),                                # a vector on the left
    (np.ones((2, 2, 3)), np.ones((3, 4))),                           # a batch of matrices
    (np.ones((2, 3), ">f8"), np.ones((3, 4), ">f8")),                # non-native byte order
])
def test_other_operator_operands_go_through_matmul(a, b):
    want = np.matmul(a, b)
    out, frames = frames_run(lambda: tg.constant(a) @ tg.constant(b), {"_matmul"})
    assert frames >= 1
    np.testing.assert_array_equal(out.numpy(), want)


def test_operator_errors_are_unchanged():
    with pytest.raises(tg.errors.InvalidArgumentError, match="expected to be a float32 tensor"):
        tg.constant(np.ones((2, 3), np.float32)) @ tg.constant(np.ones((3, 4)))
    with pytest.raises(tg.errors.InvalidArgumentError, match="Matrix size-incompatible"):
        tg.Variable(np.ones((2, 3))) @ tg.constant(np.ones((4, 5)))
    with pytest.raises(tg.errors.InvalidArgumentError, match="rank >= 1"):
        tg.constant(1.0) @ tg.constant(np.ones((2, 2), np.float32))
