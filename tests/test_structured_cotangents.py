"""The sweep's shortcuts for cotangents with known structure give the general path's results.

Two shortcuts (see docs/internals.md, "Cotangents with known structure"): a cotangent that is a
broadcast 1 (reduce_sum's gradient of a scalar seed) times an op's factor is the factor itself, and
a Jacobian's identity seed is carried as its diagonal while elementwise ops, reshapes and
matrix-vector products keep it so.  Each test runs the same program with the shortcuts on and off
(``_core.structured_cotangents``) and wants the same bits (NaN where NaN; the sign of a zero may
differ), and checks the value against a hand-derived one, so that a shortcut that broke both
paths alike would still fail.  In-place accumulation into a gradient buffer is covered too: it
must never write into an array anyone else holds.
"""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core

from conftest import both_paths


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)  # NaN == NaN here; -0.0 == 0.0


def _derivatives(method, f, *xs):
    """tape.gradient or tape.jacobian of f at constants xs, as arrays (None where unconnected)."""
    xs = [tg.constant(x) for x in xs]
    with tg.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        y = f(*xs)
    return [None if d is None else d.numpy() for d in getattr(tape, method)(y, xs)]


def grad_of(f, *xs):
    return _derivatives("gradient", f, *xs)


def jac_of(f, *xs):
    return _derivatives("jacobian", f, *xs)


RNG = np.random.default_rng(15)


@tg.custom_gradient
def _squared(x):
    def grad(dy):
        return dy * 2.0 * x
    return x * x, grad


# ---------------------------------------------------------------- a cotangent of ones
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_of_elementwise_products_w5(dtype):
    x = RNG.uniform(-3, 3, 1000).astype(dtype)
    on, off = both_paths(lambda: grad_of(lambda v: tg.reduce_sum(tg.exp(tg.sin(v)) * v), x))
    same(on[0], off[0])
    e = np.exp(np.sin(x))
    np.testing.assert_allclose(on[0], e * (x * np.cos(x) + 1), rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("program", [
    lambda x, y: tg.reduce_sum(x * y),
    lambda x, y: tg.reduce_sum(tg.tanh(x) - tg.cos(y)),
    lambda x, y: tg.reduce_sum(-tg.sinh(x) + tg.cosh(y) * x),
    lambda x, y: tg.reduce_sum(tg.square(x) * tg.exp(y)),
    lambda x, y: tg.reduce_sum(x * x) + tg.reduce_sum(x * y),
    lambda x, y: tg.reduce_sum(x * y[:1, :]),                 # y broadcast: its part is summed
    lambda x, y: tg.reduce_sum(x[:, :1] * y),                 # x broadcast
    lambda x, y: tg.reduce_sum(x * 3.0),                      # a scalar factor: the general rule
    lambda x, y: tg.reduce_sum(tg.exp(x * 400.0) * y),        # inf factors
])
def test_programs_with_a_cotangent_of_ones(program):
    x, y = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (3, 4))
    with np.errstate(over="ignore", invalid="ignore"):
        on, off = both_paths(lambda: grad_of(program, x, y))
    for a, b in zip(on, off):
        same(a, b)


def test_ones_gradient_values_by_hand():
    x, y = RNG.uniform(-2, 2, 5), RNG.uniform(-2, 2, 5)
    gx, gy = grad_of(lambda a, b: tg.reduce_sum(a * b) + tg.reduce_sum(tg.sin(a)), x, y)
    np.testing.assert_allclose(gx, y + np.cos(x), rtol=1e-15)
    np.testing.assert_allclose(gy, x, rtol=1e-15)


def test_a_gradient_that_is_a_saved_value_is_not_written_into():
    # d/dx sum(x * y) is y itself (no multiplication); adding the second term must not change y.
    x, y = RNG.uniform(-2, 2, 6), RNG.uniform(-2, 2, 6)
    yt = tg.constant(y)
    xt = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        f = tg.reduce_sum(xt * yt) + tg.reduce_sum(xt * xt)
    g = tape.gradient(f, xt).numpy()
    np.testing.assert_array_equal(yt.numpy(), y)
    np.testing.assert_allclose(g, y + 2 * x, rtol=1e-15)


def test_in_place_accumulation_leaves_seeds_and_tensors_alone():
    x = tg.constant(RNG.uniform(-1, 1, 8))
    seed = np.full(8, 0.5)
    keep = seed.copy()
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a = tg.sin(x)
        y = a + a * 2.0 + tg.exp(x)
    g1 = tape.gradient(y, x, output_gradients=tg.constant(seed)).numpy()
    g2 = tape.gradient(y, x, output_gradients=tg.constant(seed)).numpy()
    np.testing.assert_array_equal(seed, keep)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_allclose(g1, 0.5 * (3 * np.cos(x.numpy()) + np.exp(x.numpy())), rtol=1e-14)


# ---------------------------------------------------------------- a Jacobian's diagonal seed
@pytest.mark.parametrize("n", [1, 7, 64])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jacobian_w8(n, dtype):
    W = (RNG.standard_normal((n, n)) / np.sqrt(n)).astype(dtype)
    x = RNG.standard_normal(n).astype(dtype)
    Wt = tg.constant(W)
    on, off = both_paths(lambda: jac_of(lambda v: tg.sin(tg.tanh(Wt @ v) * 2.0 + v), x))
    same(on[0], off[0])
    t = np.tanh(W.astype(np.float64) @ x)
    u = 2 * t + x
    closed = np.cos(u)[:, None] * (2 * (1 - t * t)[:, None] * W + np.eye(n))
    np.testing.assert_allclose(on[0], closed, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("program", [
    lambda x, y: x * y,
    lambda x, y: tg.exp(x) - y * x,
    lambda x, y: -tg.cos(x) + tg.square(y),
    lambda x, y: tg.reshape(tg.sinh(tg.reshape(x, (12,))), (3, 4)) * tg.cosh(y),
    lambda x, y: x * y[:1, :],                                # broadcast input: dense from there on
    lambda x, y: tg.reduce_sum(x * y, axis=1),                # reduction: densified
    lambda x, y: tg.transpose(x) * 2.0,
    lambda x, y: x @ tg.transpose(y),                         # matrix @ matrix: the general rule
    lambda x, y: tg.exp(x * 400.0) + y,                       # inf factors: densified, NaN kept
    lambda x, y: x,                                           # the target is a source
    lambda x, y: _squared(x) * y,                             # a custom gradient (one joint rule)
])
def test_programs_with_a_diagonal_seed(program):
    x, y = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (3, 4))
    with np.errstate(over="ignore", invalid="ignore"):
        on, off = both_paths(lambda: jac_of(program, x, y))
    for a, b in zip(on, off):
        if a is None or b is None:
            assert a is None and b is None
        else:
            same(a, b)


def test_matvec_with_inf_in_the_matrix_keeps_the_general_result():
    W = RNG.standard_normal((4, 4))
    W[1, 2] = np.inf
    Wt = tg.constant(W)
    x = RNG.standard_normal(4)
    with np.errstate(invalid="ignore"):
        on, off = both_paths(lambda: jac_of(lambda v: tg.tanh(Wt @ v), x))
    assert np.isnan(on[0][:, 2]).all() and np.isfinite(np.delete(on[0], 2, axis=1)).all()
    same(on[0], off[0])


def test_diagonal_jacobian_by_hand():
    x = RNG.uniform(-1, 1, 5)
    (j,) = jac_of(lambda v: tg.sin(v) * v, x)
    np.testing.assert_allclose(j, np.diag(np.cos(x) * x + np.sin(x)), rtol=1e-15)


@pytest.mark.parametrize("how", ["hessian", "hessians"])
def test_hessians_agree_on_both_paths(how):
    W = RNG.standard_normal((6, 6)) / 3
    x = RNG.standard_normal(6)
    Wt = tg.constant(W)
    f = lambda v: tg.reduce_sum(tg.tanh(Wt @ v)) + tg.reduce_sum(tg.sin(v))  # noqa: E731
    if how == "hessian":
        on, off = both_paths(lambda: tg.hessian(f)(tg.constant(x)).numpy())
    else:
        on, off = both_paths(lambda: tg.hessians(f, [tg.constant(x)])[0].numpy())
    same(on, off)
    t = np.tanh(W @ x)
    H = W.T @ np.diag(-2 * t * (1 - t * t)) @ W - np.diag(np.sin(x))
    np.testing.assert_allclose(on, H, rtol=1e-10, atol=1e-12)


def test_the_shortcuts_are_taken():
    """An op whose factor counts its calls: the sweep asks for it exactly when a shortcut applies
    (so the comparisons above compare two different paths)."""
    calls = []

    def factor(ans, x):
        calls.append(np.shape(x))
        return np.cos(x)

    op = _core.Op("counted_sin", np.sin, (lambda g, ans, x: g * np.cos(x),), kind=_core.UNARY,
                  save=_core.SAVE_INPUTS, jvps=(lambda t, ans, x: t * np.cos(x),), factors=(factor,))
    x = RNG.uniform(-1, 1, 5)
    on, off = both_paths(lambda: grad_of(lambda v: tg.reduce_sum(op(v)), x))
    assert calls == [(5,)]                        # the gradient with shortcuts on; none with them off
    same(on[0], off[0])
    np.testing.assert_allclose(on[0], np.cos(x), rtol=1e-15)
    calls.clear()
    on, off = both_paths(lambda: jac_of(lambda v: op(v) * 2.0, x))
    assert calls == [(5,)]
    same(on[0], off[0])
    np.testing.assert_allclose(on[0], np.diag(2 * np.cos(x)), rtol=1e-15)
    calls.clear()
    # the cotangent is x, not ones: the rule runs (for a small array; a large one gets the
    # product written into a fresh factor, see test_fresh_factor_takes_the_product)
    grad_of(lambda v: tg.reduce_sum(op(v) * v), x)
    assert calls == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fresh_factor_takes_the_product(dtype):
    """A real cotangent that is not ones, times a factor that is a fresh array nobody else holds
    (sin's cos(x), tanh's 1 - y*y): the product is written into the factor, so the gradient is
    that very array, and its bits are the rule's g * f."""
    made = []

    def factor(ans, x):
        f = np.cos(x)
        made.append(id(f))       # (an id, not the array: holding it would make it not fresh)
        return f

    op = _core.Op("fresh_sin", np.sin, (lambda g, ans, x: g * np.cos(x),), kind=_core.UNARY,
                  save=_core.SAVE_INPUTS, jvps=(lambda t, ans, x: t * np.cos(x),), factors=(factor,))
    x = RNG.uniform(-2, 2, (64, 64)).astype(dtype)       # 4096 elements: the smallest array it applies to
    w = RNG.uniform(-2, 2, (64, 64)).astype(dtype)
    xt = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        y = tg.reduce_sum(op(xt) * w)
    g = tape.gradient(y, xt)
    assert made and id(g._value) == made[-1]
    made.clear()
    grad_of(lambda v: tg.reduce_sum(op(v) * w[0, :63]), x[0, :63])             # small: the rule runs
    assert made == []
    on, off = both_paths(lambda: grad_of(lambda v: tg.reduce_sum(op(v) * w), x))
    same(on[0], off[0])
    np.testing.assert_array_equal(on[0], w * np.cos(x))
    for f in (tg.sin, tg.cos, tg.tanh, tg.sinh, tg.cosh, tg.square, tg.exp):   # declared factors
        on, off = both_paths(lambda f=f: grad_of(lambda v: tg.reduce_sum(f(v) * w), x))
        same(on[0], off[0])


def test_fresh_factor_never_reaches_a_user_array():
    """The product goes only into an array the factor just made: a factor that returns an
    array someone holds (exp's output, multiply's other operand) is left alone, and the
    gradients returned cannot change the forward values."""
    x = RNG.uniform(-1, 1, 6)
    w = RNG.uniform(-1, 1, 6)
    xt, wt = tg.constant(x), tg.constant(w)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([xt, wt])
        e = tg.exp(xt)
        s = tg.sin(e)
        y = tg.reduce_sum(s * wt)
    ev, sv = e.numpy(), s.numpy()
    gx, gw, ge = tape.gradient(y, [xt, wt, e])
    np.testing.assert_array_equal(e.numpy(), ev)
    np.testing.assert_array_equal(s.numpy(), sv)
    np.testing.assert_array_equal(xt.numpy(), x)
    np.testing.assert_allclose(gx.numpy(), w * np.cos(np.exp(x)) * np.exp(x), rtol=1e-14)
    np.testing.assert_allclose(ge.numpy(), w * np.cos(np.exp(x)), rtol=1e-14)
    for g in (gx, gw, ge):
        assert not g._value.flags.writeable
        before = {id(v._value): v.numpy() for v in (gx, gw, ge, e, s)}
        a = g.numpy()                 # numpy() gives a copy: writing it changes nothing of tapegrad's
        a[...] = 7.0
        for v in (gx, gw, ge, e, s):
            np.testing.assert_array_equal(v.numpy(), before[id(v._value)])


# ---------------------------------------------------------------- a large cotangent only the sweep holds
def _counted(name, calls):
    """sin with a factor that records the shape of every call."""
    def factor(ans, x):
        calls.append(np.shape(x))
        return np.cos(x)
    return _core.Op(name, np.sin, (lambda g, ans, x: g * np.cos(x),), kind=_core.UNARY,
                    save=_core.SAVE_INPUTS, jvps=(lambda t, ans, x: t * np.cos(x),), factors=(factor,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blocked_factor_product_in_place(dtype):
    """An elementwise op whose cotangent is a large fresh array only the sweep holds (here square's
    2*y) takes g * f in place, the factor computed on blocks of 256 KB: the same bits as the rule,
    and the factor is never asked for the whole array."""
    calls = []
    op = _counted("blocked_sin", calls)
    n = 300_001
    step = (1 << 18) // np.dtype(dtype).itemsize
    x = RNG.uniform(-3, 3, n).astype(dtype)
    on, off = both_paths(lambda: grad_of(lambda v: tg.reduce_sum(tg.square(op(v))), x))
    blocks = [(step,)] * (n // step) + [(n % step,)]
    assert calls == blocks                               # shortcuts on: blocks; off: the rule, no factor
    bits_on, bits_off = on[0].tobytes(), off[0].tobytes()
    assert bits_on == bits_off
    assert bits_on == ((2 * np.sin(x)) * np.cos(x)).tobytes()   # square's 2*y, times cos(x)
    calls.clear()
    small = x[: 4 * step - 1]                            # below four blocks: the fresh-factor path
    on, off = both_paths(lambda: grad_of(lambda v: tg.reduce_sum(tg.square(op(v))), small))
    assert calls == [small.shape]
    assert on[0].tobytes() == off[0].tobytes()


@pytest.mark.parametrize("f", [tg.sin, tg.cos, tg.tanh, tg.sinh, tg.cosh, tg.square, tg.exp])
def test_blocked_factor_product_of_every_declared_factor(f):
    """Every elementwise op with a factor, on both paths, with odd sizes, NaN, inf and a
    non-contiguous input (which keeps the rule): the same values (a NaN's sign may differ, as
    it does for the factor shortcuts above: cos's rule negates g, its factor sin(x)), and the
    same bits where finite."""
    for dtype in (np.float32, np.float64):
        x = RNG.uniform(-2, 2, 262_147).astype(dtype)
        x[[5, 70_000, 262_146]] = [np.nan, np.inf, -np.inf]
        for v in (x, x.reshape(1, -1), x[:-1].reshape(2, -1).T):
            with np.errstate(all="ignore"):
                on, off = both_paths(lambda v=v: grad_of(lambda t: tg.reduce_sum(tg.square(f(t * 1.5))), v))
            same(on[0], off[0])
            ok = np.isfinite(on[0])
            assert on[0][ok].tobytes() == off[0][ok].tobytes()


def test_blocked_factor_product_peak_memory():
    """W5's program: during the backward sweep only one array of x's size is allocated at a time
    (the gradient; sin's factor is computed block by block), against two without the shortcut."""
    import tracemalloc
    x = tg.constant(RNG.uniform(-3, 3, 500_000))

    def peak():
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.reduce_sum(tg.exp(tg.sin(x)) * x)
        tracemalloc.start()
        try:
            g = tape.gradient(y, x)
            return tracemalloc.get_traced_memory()[1] / x.numpy().nbytes, g.numpy()
        finally:
            tracemalloc.stop()

    (p_on, g_on), (p_off, g_off) = both_paths(peak)
    assert p_on < 1.5 <= p_off
    assert g_on.tobytes() == g_off.tobytes()
    xv = x.numpy()
    np.testing.assert_allclose(g_on, np.exp(np.sin(xv)) * (xv * np.cos(xv) + 1), rtol=1e-13, atol=1e-13)


def test_blocked_factor_product_leaves_held_cotangents_alone():
    """The product goes into a cotangent only when nothing else can see it: not into the gradient
    of a requested intermediate, nor into a seed the caller passed (array or tensor)."""
    x = RNG.uniform(-3, 3, 200_000)
    xt = tg.constant(x)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        s = tg.sin(xt)
        q = tg.square(s)
        y = tg.reduce_sum(q)
    gx, gs = tape.gradient(y, [xt, s])
    np.testing.assert_array_equal(gs.numpy(), 2 * np.sin(x))          # not multiplied by cos(x)
    np.testing.assert_array_equal(gx.numpy(), (2 * np.sin(x)) * np.cos(x))
    assert not np.shares_memory(gx.numpy(), gs.numpy())
    seed = RNG.uniform(-1, 1, 200_000)
    kept = seed.copy()
    for given in (seed, tg.constant(seed)):
        g = tape.gradient(s, xt, output_gradients=given)
        np.testing.assert_array_equal(seed, kept)
        np.testing.assert_array_equal(g.numpy(), kept * np.cos(x))
    np.testing.assert_array_equal(s.numpy(), np.sin(x))


# ---------------------------------------------------- the finiteness check, and the identity left to the sweep
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_all_finite_is_exact(dtype):
    """The check that decides whether a product may stay diagonal: exact for every layout (a C loop
    over the bits for contiguous arrays, a reduction otherwise), including values whose sum
    overflows and subnormals."""
    big = np.finfo(dtype).max
    tiny = np.finfo(dtype).smallest_subnormal
    cases = [np.zeros((0, 3)), np.full((5, 7), big), np.full(9, tiny), RNG.standard_normal((6, 5)),
             RNG.standard_normal((8, 8)).T, RNG.standard_normal((8, 8))[::2, 1:]]
    for bad in (np.inf, -np.inf, np.nan):
        for where in (0, 17, -1):
            a = RNG.standard_normal((6, 5))
            a.reshape(-1)[where] = bad
            cases += [a, np.asfortranarray(a), a[::2], a[:, ::-1]]
    for a in cases:
        a = a.astype(dtype)
        assert _core.all_finite(a) == bool(np.isfinite(a).all()), (a.shape, a.strides)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scaled_rows_are_numpys_products(dtype):
    """matmul's diagonal rule scales a's rows by d in one C loop: NumPy's d * a bit for bit (every
    layout: C loop or NumPy's multiply), and None exactly when a product is inf or nan."""
    for m, n in [(1, 1), (1, 9), (7, 1), (5, 13), (64, 64)]:
        a = RNG.standard_normal((m, n)).astype(dtype)
        d = RNG.standard_normal((m, 1)).astype(dtype)
        for aa, dd in [(a, d), (np.asfortranarray(a), d), (a, np.asfortranarray(d)), (a.astype(np.float64), d)]:
            got = _core.scaled_rows(dd, aa)
            np.testing.assert_array_equal(got, dd * aa)
            assert got.dtype == (dd * aa).dtype
        big = a.copy()
        big.reshape(-1)[-1] = np.finfo(dtype).max
        d2 = d.copy()
        d2[-1] = 4.0
        with np.errstate(over="ignore", invalid="ignore"):
            assert _core.scaled_rows(d2, big) is None         # max * 4 overflows
            for bad in (np.inf, np.nan):
                a2 = a.copy()
                a2.reshape(-1)[(m * n) // 2] = bad
                assert _core.scaled_rows(d, a2) is None
                assert _core.scaled_rows(d, np.asfortranarray(a2)) is None


def test_matvec_with_huge_finite_matrix_stays_diagonal():
    """Entries near the float64 maximum are finite: the diagonal shortcut applies (the earlier
    check by a sum overflowed and declined it) and gives the general path's bits."""
    W = RNG.standard_normal((5, 5)) * 1e307
    W[2, 3] = np.finfo(np.float64).max
    Wt = tg.constant(W)
    x = RNG.standard_normal(5) * 1e-310
    on, off = both_paths(lambda: jac_of(lambda v: tg.sin(Wt @ v) * 0.5, x))
    same(on[0], off[0])
    assert np.isfinite(on[0]).all()
    np.testing.assert_allclose(on[0], 0.5 * np.cos(W @ x)[:, None] * W, rtol=1e-15)


_not_batching = _core.Op("sin_one_row_at_a_time", np.sin, (lambda g, ans, x: g * np.cos(x),), kind=_core.UNARY,
                         save=_core.SAVE_INPUTS, jvps=(lambda t, ans, x: t * np.cos(x),), batching=False)


@pytest.mark.parametrize("program, expected", [
    (lambda v: tg.sin(v) * v, lambda x: np.diag(np.cos(x) * x + np.sin(x))),
    (lambda v: v, lambda x: np.eye(x.size)),                                   # the target is the source
    (lambda v: tg.reduce_sum(tg.exp(v)), lambda x: np.exp(x)),                 # a 0-d target
    (lambda v: _not_batching(v) * 3.0, lambda x: np.diag(3 * np.cos(x))),     # swept one row at a time
    (lambda v: tg.reshape(tg.tanh(v), (2, 3)), lambda x: np.diag(1 - np.tanh(x) ** 2).reshape(2, 3, 6)),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identity_rows_left_to_the_sweep(program, expected, dtype):
    """jacobian() no longer builds the identity cotangents: the sweep makes their diagonal, or the
    dense rows where it needs them (shortcuts off, an op that cannot batch), with the same values."""
    x = RNG.uniform(-1, 1, 6).astype(dtype)
    on, off = both_paths(lambda: jac_of(program, x))
    same(on[0], off[0])
    assert on[0].dtype == dtype
    np.testing.assert_allclose(on[0], expected(x.astype(np.float64)), rtol=1e-5 if dtype == np.float32 else 1e-14)


def test_identity_rows_under_an_outer_tape_and_for_complex_targets():
    x0 = RNG.uniform(-1, 1, 4)
    x = tg.constant(x0)
    with tg.GradientTape() as outer:
        outer.watch(x)
        with tg.GradientTape() as inner:
            inner.watch(x)
            y = tg.sin(x) * x
        j = inner.jacobian(y, x)                  # recorded by the outer tape (the dense rows, as Tensors)
        s = tg.reduce_sum(j)
    np.testing.assert_allclose(j.numpy(), np.diag(np.cos(x0) * x0 + np.sin(x0)), rtol=1e-15)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), 2 * np.cos(x0) - x0 * np.sin(x0), rtol=1e-14)
    on, off = both_paths(lambda: jac_of(lambda v: tg.cast(v, tg.complex128) * (2 + 1j), x0))
    same(on[0], off[0])
    np.testing.assert_array_equal(on[0], 2 * np.eye(4))


def test_jacobian_results_are_read_only_and_stay_put():
    """The Jacobian is wrapped without a copy: it must be read-only, and a later sweep of the same
    persistent tape must neither write into it nor see it change."""
    x = tg.constant(RNG.uniform(-1, 1, 5))
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.exp(x) * 2.0
    first = tape.jacobian(y, x)
    kept = first.numpy().copy()
    assert not first._value.flags.writeable
    second, again = tape.jacobian(y, [x, x])
    for j in (first, second, again):
        np.testing.assert_array_equal(j.numpy(), kept)
    np.testing.assert_allclose(kept, np.diag(2 * np.exp(x.numpy())), rtol=1e-15)
    (eye,) = [tape.jacobian(x, x)]
    assert not eye._value.flags.writeable
    np.testing.assert_array_equal(eye.numpy(), np.eye(5))


_W_BAD = RNG.standard_normal((4, 4))


@pytest.mark.parametrize("program", [
    # inf or nan in W, and a zero on the diagonal (0 * inf): sin's factor is nan at some entries
    lambda v: tg.sin(tg.constant(np.where(np.arange(16).reshape(4, 4) == 6, np.inf, _W_BAD)) @ v)
    * tg.constant(np.array([1.0, 0.0, 2.0, -1.0])),
    lambda v: tg.sin(tg.constant(np.where(np.arange(16).reshape(4, 4) == 6, np.nan, _W_BAD)) @ v),
    # an inf factor (exp's output): 0 * inf off the diagonal, as the rule's product has it
    lambda v: tg.exp(v * tg.constant(np.full(4, 800.0))),
    # finite factors whose products overflow: the rule's own product on the dense batch
    lambda v: tg.exp(v) * tg.constant(np.full(4, 1e300)) * tg.constant(np.array([1e10, 1.0, -1e10, 2.0])),
])
def test_non_finite_diagonals_warn_as_the_general_path(program):
    """Where the diagonal cannot stay (an inf or nan factor, or products that overflow), the sweep
    gives the general path's values and exactly its warnings (the factor computed and warned about
    once, not again by the rule)."""
    from conftest import warned
    x = np.array([0.3, -0.7, 1.1, 0.2])
    (on, w_on), (off, w_off) = both_paths(lambda: warned(lambda: jac_of(program, x)))
    same(on[0], off[0])
    assert not np.isfinite(on[0]).all()
    assert w_on == w_off


def test_a_factor_in_another_layout():
    """multiply's factor for x is y itself; an F-ordered y is multiplied by NumPy, not the C loop."""
    x0 = RNG.standard_normal((4, 3))
    y0 = np.asfortranarray(RNG.standard_normal((4, 3)))
    yt = tg.constant(y0)
    assert not yt._value.flags.c_contiguous
    on, off = both_paths(lambda: jac_of(lambda v: tg.sin(v * yt), x0))
    same(on[0], off[0])
    np.testing.assert_allclose(on[0].reshape(12, 12), np.diag((np.cos(x0 * y0) * y0).ravel()), rtol=1e-15)
