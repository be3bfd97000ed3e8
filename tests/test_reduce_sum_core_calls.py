"""reduce_sum's forward, its forward on a tangent and its full-reduction gradient in tensor mode's
unrecorded path are made by the core itself (``_core.install_reduce_sum``), and an add's
gradient there is g itself: the same calls as the Python forward and rules, so the same bits,
errors and results on both paths, with fewer Python frames (forward over reverse, W9)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import reduction_ops

from conftest import both_paths, frames_run

OP = reduction_ops.reduce_sum_op
RNG = np.random.default_rng(1515)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32])
@pytest.mark.parametrize("axes,keepdims", [(None, False), (None, True), ((0,), False), ((1, 2), True), ((), False)])
def test_forward_and_tangent_are_the_op_forwards(dtype, axes, keepdims):
    x = (RNG.standard_normal((3, 4, 5)) * 10).astype(dtype)
    params = (axes, keepdims, x.shape)
    want = OP.forward(x, *params)
    got = _core.apply(OP, (tg.constant(x),), params).numpy()
    assert np.asarray(want).dtype == got.dtype and np.shape(want) == got.shape
    np.testing.assert_array_equal(got, want)
    if dtype != np.int32:
        t = RNG.standard_normal(x.shape).astype(dtype)
        tan = OP.jvp(0, t, None, (x,), params)
        np.testing.assert_array_equal(tan, OP.forward(t, *params))
        with tg.autodiff.ForwardAccumulator(xt := tg.constant(x), tg.constant(t)) as acc:
            y = _core.apply(OP, (xt,), params)
        np.testing.assert_array_equal(acc.jvp(y).numpy(), OP.forward(t, *params))


def test_forward_errors_are_numpys():
    x = np.ones((2, 3))
    with pytest.raises(Exception) as want:
        OP.forward(x, (5,), False, x.shape)
    with pytest.raises(type(want.value)) as got:
        _core.apply(OP, (tg.constant(x),), ((5,), False, x.shape))
    assert str(got.value) == str(want.value)
    with pytest.raises(TypeError):                       # params of another arity: the forward's own call
        _core.apply(OP, (tg.constant(x),), (None, False))


def _hvp(x0, v0):
    x, v = tg.constant(x0), tg.constant(v0)
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        with tg.GradientTape() as tape:
            tape.watch(x)
            f = tg.reduce_sum(tg.math.log(tg.math.cosh(x))) + tg.reduce_sum(tg.sin(x) * x)
        g = tape.gradient(f, x)
    return g.numpy(), acc.jvp(g).numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_unrecorded_rules_both_paths_and_hand_derived(dtype):
    """The seed reaches reduce_sum's and add's rules untracked: with the shortcuts the core gives
    the broadcast and g itself (no rule frames), without them the Python rules run; the same bits,
    and the derivatives are the hand-derived ones."""
    x0, v0 = RNG.standard_normal(9).astype(dtype), RNG.standard_normal(9).astype(dtype)
    names = {"_grad_to_input", "<lambda>"}
    (on, n_on), (off, n_off) = both_paths(lambda: frames_run(lambda: _hvp(x0, v0), names))
    for p, q in zip(on, off):
        assert p.dtype == q.dtype == dtype
        np.testing.assert_array_equal(p, q)
    assert n_on < n_off
    x, v = x0.astype(np.float64), v0.astype(np.float64)
    g = np.tanh(x) + np.cos(x) * x + np.sin(x)
    hv = (1 - np.tanh(x) ** 2 + 2 * np.cos(x) - np.sin(x) * x) * v
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(on[0], g, **tol)
    np.testing.assert_allclose(on[1], hv, **tol)


def test_the_core_makes_no_reduce_sum_frames_in_w9s_forward():
    x0, v0 = RNG.standard_normal(6), RNG.standard_normal(6)
    _, n = frames_run(lambda: _hvp(x0, v0), {"_grad_to_input", "broadcast_scalar"})
    (_, n_on), (_, n_off) = both_paths(lambda: frames_run(lambda: _hvp(x0, v0), {"_grad_to_input"}))
    # one broadcast per reduce_sum node, a call into the core (no frame); the rule's frames only
    # with the shortcuts off
    assert n == 0 and n_on == 0 and n_off == 2
