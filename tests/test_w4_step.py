"""W4's step, fourth round (docs/internals.md, "Rules on raw values (W4's step)"): constant
factors declared as data, tanh's factor computed in place, a bias's gradient without a reshape
view, reduce_mean's full-reduction rule without helper frames and the cross-entropy's cached row
index.  Each gives the bits of the general code it bypasses, checked both ways, and the values
are checked against hand-derived ones."""
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import math_ops, nn_ops, reduction_ops

from conftest import assert_same_bits, both_paths

RNG = np.random.default_rng(1504)
DTYPES = [np.float32, np.float64]


def test_constant_factors_are_data():
    assert math_ops.add.factors == (1.0, 1.0)
    assert math_ops.subtract.factors == (1.0, -1.0)
    assert math_ops.negative.factors == (-1.0,)
    with pytest.raises(ValueError, match="a factor is a function, a float or None"):
        _core.Op("bad", np.negative, (lambda g, ans, x: -g,), kind=_core.UNARY, factors=("-1",))


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_add_and_subtract_with_a_broadcast_bias(dtype):
    # 64 x 256 cotangents (>= 4096 elements: the size where factors are asked for first)
    x = tg.constant(RNG.standard_normal((64, 256)).astype(dtype))
    b = tg.Variable(RNG.standard_normal(256).astype(dtype))
    w = RNG.standard_normal((64, 256)).astype(dtype)

    def grads():
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.tanh(x + b) * w - tg.negative(b) - x
            loss = tg.reduce_sum(y)
        return [g.numpy() for g in tape.gradient(loss, [x, b])]

    (gx, gb), (gx0, gb0) = both_paths(grads)
    assert_same_bits(gx, gx0)
    assert_same_bits(gb, gb0)
    # by hand: d/dx = w * (1 - tanh(x + b)^2) - 1, d/db = sum over rows of (w * (1 - t^2) + 1)
    t = np.tanh(x.numpy() + b.numpy())
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, w * (1 - t * t) - 1, **tol)
    np.testing.assert_allclose(gb, np.sum(w * (1 - t * t) + 1, axis=0), **tol)


@pytest.mark.parametrize("dtype", DTYPES + [np.complex128])
def test_tanh_factor_is_the_rules_expression(dtype):
    for shape in [(), (7,), (64, 256)]:
        ans = np.tanh(RNG.standard_normal(shape)).astype(dtype)
        f = math_ops._tanh_factor(ans, None)
        assert_same_bits(f, 1 - ans * ans)
        if shape:
            assert type(f) is np.ndarray and f.flags.owndata and f.flags.writeable
    for s in (np.float64(0.3), np.float32(-0.7), 0.5):
        assert math_ops._tanh_factor(s, None) == 1 - s * s
        assert type(math_ops._tanh_factor(s, None)) is type(1 - s * s)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_bias_gradient_is_the_reduction_itself(dtype):
    g = RNG.standard_normal((64, 256)).astype(dtype)
    r = _core.sum_to_shape(g, (256,))
    assert_same_bits(r, np.sum(g, axis=0))
    assert r.base is None and r.flags.owndata         # no reshape view around the reduction
    r2 = _core.sum_to_shape(g, (1, 256))
    assert_same_bits(r2, np.sum(g, axis=0, keepdims=True))
    r3 = _core.sum_to_shape(g, ())
    assert_same_bits(r3, np.sum(g))
    r4 = _core.sum_to_shape(g[None], (64, 256), 0)
    assert_same_bits(r4, g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mean_rule_on_a_full_reduction_is_grad_to_input(dtype):
    for shape in [(64,), (3, 5), (1,)]:
        for g in (np.array(1.0, dtype), dtype(0.75), np.ones((), dtype)):
            got = reduction_ops._mean_vjp(g, None, None, None, False, shape)
            want = reduction_ops._grad_to_input(g / reduction_ops._count(shape, None), shape, None, False)
            assert_same_bits(got, want)
            assert not got.flags.writeable and got.strides == (0,) * len(shape)
    # other forms take _grad_to_input itself: an axis, a batch of cotangents
    g = RNG.standard_normal(3).astype(dtype)
    assert_same_bits(reduction_ops._mean_vjp(g, None, None, (1,), False, (3, 5)),
         reduction_ops._grad_to_input(g / 5, (3, 5), (1,), False))
    g = RNG.standard_normal(4).astype(dtype)      # 4 cotangents of a scalar mean over (5,)
    assert_same_bits(reduction_ops._mean_vjp(g[:, None][:, 0], None, None, None, False, (5,)),
         reduction_ops._grad_to_input(g / 5, (5,), None, False))


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_rows_are_cached_read_only(dtype):
    for batch in (5, 64, 5):
        logits = RNG.standard_normal((batch, 10)).astype(dtype)
        labels = RNG.integers(0, 10, size=batch)
        lt = tg.Variable(logits)
        with tg.GradientTape() as tape:
            loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=lt))
        g = tape.gradient(loss, lt).numpy()
        # by hand: (softmax - onehot) / batch, and the loss is the mean of -log softmax[label]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        sm = e / e.sum(axis=1, keepdims=True)
        onehot = np.eye(10, dtype=dtype)[labels]
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(g, (sm - onehot) / batch, **tol)
        np.testing.assert_allclose(loss.numpy(), -np.mean(np.log(sm[np.arange(batch), labels])), **tol)
        rows = nn_ops._rows(batch)
        assert rows is nn_ops._rows(batch) and not rows.flags.writeable
        assert_same_bits(rows, np.arange(batch))
    for n in range(40):
        nn_ops._rows(n)
    assert len(nn_ops._ROWS) <= 16


def test_a_large_add_runs_no_python_rule_with_the_shortcuts_on():
    x = tg.Variable(RNG.standard_normal((64, 256)))
    b = tg.Variable(RNG.standard_normal(256))
    rules = {math_ops.add.vjps[0].__code__, math_ops.add.vjps[1].__code__}

    def called():
        seen = set()

        def spy(frame, event, arg):
            if event == "call":
                seen.add(frame.f_code)

        with tg.GradientTape() as tape:
            loss = tg.reduce_sum(tg.tanh(x + b))
        sys.setprofile(spy)
        try:
            tape.gradient(loss, [x, b])
        finally:
            sys.setprofile(None)
        return seen & rules

    on, off = both_paths(called)
    assert on == set()                  # the forms ran: g itself, summed back for b
    assert off == rules                 # the general path calls both rules
