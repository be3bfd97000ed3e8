"""Forward over reverse reuses the values its forward computed (docs/internals.md, "Values forward
over reverse computes twice").

Under a ForwardAccumulator around a tape, the accumulator keeps sin's cos(x) (from its JVP form)
and the forward values of sin, sinh and cosh, and the sweep's factors (sin's cos(x), cosh's
sinh(z)) and their own JVP forms (cos's -t sin(x), sinh's t cosh(z)) take them instead of calling
the ufunc on the same array again.  Each test runs a real program with the shortcuts on and off
(``_core.structured_cotangents``), wants the same bits, and checks the result against a
hand-derived Hessian-vector product or central differences, so that a shortcut that broke both
paths alike would still fail; ``kept_values`` shows the values were kept, so that the two paths
differ.
"""
import warnings

import numpy as np
import pytest

import tapegrad as tg

from conftest import assert_same_bits, both_paths

RNG = np.random.default_rng(1517)
N = 40
W = RNG.standard_normal((N, N)) / np.sqrt(N)
X0 = RNG.standard_normal(N)
V0 = RNG.standard_normal(N)


def _w9(x):
    return tg.reduce_sum(tg.math.log(tg.math.cosh(tg.constant(W) @ x))) + tg.reduce_sum(tg.sin(x))


def _w9_hvp(x, v):
    """The hand-derived Hessian of _w9 times v: W.T diag(1 - tanh(W x)^2) W v - sin(x) v."""
    t = np.tanh(W @ x)
    return W.T @ ((1 - t * t) * (W @ v)) - np.sin(x) * v


def _hvp(f, x0, v0, persistent=False, kept=None):
    """(gradient, Hessian times v0) of f at x0 by forward over reverse; `kept` collects the
    accumulator's count of kept values after the forward."""
    x, v = tg.constant(x0), tg.constant(v0)
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        with tg.GradientTape(persistent=persistent) as tape:
            tape.watch(x)
            y = f(x)
        if kept is not None:
            kept.append(acc._acc.kept_values())
        g = tape.gradient(y, x)
        out = [g.numpy(), acc.jvp(g).numpy()]
        if persistent:
            g2 = tape.gradient(y, x)
            out += [g2.numpy(), acc.jvp(g2).numpy()]
    return out


def test_w9_hvp_same_bits_both_ways_and_hand_derived():
    kept = []
    on, off = both_paths(lambda: _hvp(_w9, X0, V0, kept=kept))
    assert kept[0] == 4 and kept[1] == 0         # sin(x), cos(x), cosh(z), sinh(z); none when off
    for a, b in zip(on, off):
        assert_same_bits(a, b)
    np.testing.assert_allclose(on[0], W.T @ np.tanh(W @ X0) + np.cos(X0), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(on[1], _w9_hvp(X0, V0), rtol=1e-12, atol=1e-13)


def test_hvp_against_central_differences_persistent_tape():
    # a persistent tape's second gradient reads the kept values again
    def f(x):
        return tg.reduce_sum(tg.sinh(x) * tg.cos(x)) + tg.reduce_sum(tg.cosh(tg.sin(x)))

    x0 = RNG.uniform(-1.5, 1.5, 12)
    v0 = RNG.standard_normal(12)
    on, off = both_paths(lambda: _hvp(f, x0, v0, persistent=True))
    for a, b in zip(on, off):
        assert_same_bits(a, b)
    assert_same_bits(on[1], on[3])

    def grad(y):                                   # f's gradient, by hand
        return (np.cosh(y) * np.cos(y) - np.sinh(y) * np.sin(y)) + np.sinh(np.sin(y)) * np.cos(y)

    h = 1e-6
    num = (grad(x0 + h * v0) - grad(x0 - h * v0)) / (2 * h)
    np.testing.assert_allclose(on[0], grad(x0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(on[1], num, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("special", [np.inf, np.nan, 0.0, 5e-324, 800.0])
def test_values_that_warn_are_not_kept(special):
    """An input or a result with inf, nan, zero or a subnormal is not kept: the sweep calls the
    ufunc again, so each warning NumPy gives appears as often as without the shortcut."""
    x0 = X0[:8].copy()
    x0[3] = special
    kept = []

    def run():
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with np.errstate(all="warn"):
                out = _hvp(lambda x: tg.reduce_sum(tg.sin(x)) + tg.reduce_sum(tg.cosh(x)), x0, V0[:8], kept=kept)
        # (the texts differ: with the shortcuts a form's warning names the gradient, not the op)
        return out, [str(w.message).split(" encountered")[0] for w in seen]

    (on, warned_on), (off, warned_off) = both_paths(run)
    assert kept[0] == (2 if special == 800.0 else 0)   # sin(800) and cos(800) are normal, cosh overflows
    assert warned_on == warned_off
    assert bool(warned_on) == (special != 0.0 and not np.isnan(special))
    for a, b in zip(on, off):
        assert_same_bits(a, b)


def test_float32_and_scalars_are_not_kept():
    kept = []
    x32 = X0[:6].astype(np.float32)
    on, off = both_paths(lambda: _hvp(lambda x: tg.reduce_sum(tg.sin(x)), x32, np.ones(6, np.float32), kept=kept))
    assert kept == [0, 0]
    for a, b in zip(on, off):
        assert_same_bits(a, b)
    np.testing.assert_allclose(on[1], -np.sin(x32), rtol=1e-6)
    kept = []
    on, off = both_paths(lambda: _hvp(lambda x: tg.sin(x) * tg.cosh(x), np.float64(0.7), np.float64(1.0),
                                      kept=kept))
    assert kept == [0, 0]
    for a, b in zip(on, off):
        assert_same_bits(a, b)
    x = 0.7                                        # (sin cosh)'' = -sin cosh + 2 cos sinh + sin cosh
    np.testing.assert_allclose(on[1], 2 * np.cos(x) * np.sinh(x), rtol=1e-14)


def test_variable_assigned_between_forward_and_gradient():
    """A variable's reads carry its id; after an assign the kept entry's array is not the
    read's value, so it is not used.  The gradient uses the values the tape saved."""
    def run():
        var = tg.Variable(X0[:5].copy())
        with tg.autodiff.ForwardAccumulator(var, tg.constant(np.ones(5))) as acc:
            with tg.GradientTape() as tape:
                y = tg.reduce_sum(tg.sin(var))
            var.assign(X0[5:10])
            z = tg.reduce_sum(tg.sin(var))        # sin of the new value: nothing kept matches
            g = tape.gradient(y, var)
            return g.numpy(), acc.jvp(g).numpy(), acc.jvp(z).numpy()

    on, off = both_paths(run)
    for a, b in zip(on, off):
        assert_same_bits(a, b)
    np.testing.assert_allclose(on[0], np.cos(X0[:5]), rtol=1e-15)
    np.testing.assert_allclose(on[1], -np.sin(X0[:5]), rtol=1e-15)
    np.testing.assert_allclose(on[2], np.sum(np.cos(X0[5:10])), rtol=1e-14)


def test_nothing_kept_without_an_inner_recorder():
    """Forward mode alone (no tape inside the accumulator) keeps no values."""
    x = tg.constant(X0)
    with tg.autodiff.ForwardAccumulator(x, tg.constant(V0)) as acc:
        y = tg.reduce_sum(tg.sin(tg.cosh(x)))
        assert acc._acc.kept_values() == 0
    np.testing.assert_allclose(acc.jvp(y).numpy(), np.sum(np.cos(np.cosh(X0)) * np.sinh(X0) * V0), rtol=1e-13)


def test_an_accumulator_around_a_loop_of_tapes_keeps_one_tapes_values():
    """The kept values belong to the tape they were recorded under: each new tape's forward
    drops the previous tape's, so the count stays at one tape's worth (two per sin here: its
    value and its JVP's cos), and every HVP is still the hand-derived -sin(x) * v."""
    x, v = tg.constant(X0), tg.constant(V0)
    counts = []
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        for k in range(5):
            with tg.GradientTape() as tape:
                tape.watch(x)
                y = tg.reduce_sum(tg.sin(x * float(k + 1)))
            counts.append(acc._acc.kept_values())
            g = tape.gradient(y, x)
            c = float(k + 1)                       # d²/dx² sum(sin(c x)) = -c² sin(c x)
            np.testing.assert_allclose(acc.jvp(g).numpy(), -c * c * np.sin(c * X0) * V0, rtol=1e-13)
    assert counts[0] > 0 and counts == [counts[0]] * 5
