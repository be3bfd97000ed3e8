"""gradient(target, [sources]) with the default arguments takes a shorter front end
(`GradientTape._gradient_of_list`, docs/internals.md "Rules on raw values").  Every program
here runs through it and through the general path (the same sources as a tuple, which the
short path does not take), and the two must agree: same bits, dtypes, None entries, errors and
side effects.  Gradients are also checked against hand-derived values."""
import numpy as np
import pytest

import tapegrad as tg

RNG = np.random.default_rng(1532)
SHORT_CALLS = []


@pytest.fixture(autouse=True)
def count_short_path(monkeypatch):
    """Count the calls that took the short front end, so each test knows which path ran."""
    short = tg.GradientTape._gradient_of_list

    def spy(self, *args):
        SHORT_CALLS.append(1)
        return short(self, *args)

    monkeypatch.setattr(tg.GradientTape, "_gradient_of_list", spy)
    SHORT_CALLS.clear()


def both(program):
    """program() -> (tape, target, sources); run once per path, return both results."""
    out = []
    for as_sources in (list, tuple):
        tape, target, sources = program()
        n = len(SHORT_CALLS)
        out.append(tape.gradient(target, as_sources(sources)))
        assert len(SHORT_CALLS) == n + (as_sources is list)
    fast, general = out
    assert isinstance(fast, list) and isinstance(general, tuple) and len(fast) == len(general)
    return fast, list(general)


def same(fast, general):
    for f, g in zip(fast, general):
        if g is None:
            assert f is None
            continue
        assert type(f) is type(g)
        if isinstance(g, tg.IndexedSlices):
            same([g.values], [f.values])
            np.testing.assert_array_equal(f.indices.numpy(), g.indices.numpy())
            continue
        fv, gv = np.asarray(f.numpy()), np.asarray(g.numpy())
        assert fv.dtype == gv.dtype and fv.shape == gv.shape
        assert fv.tobytes() == gv.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_step_same_bits_on_both_paths(dtype):
    x = tg.constant(RNG.standard_normal((8, 6)).astype(dtype))
    labels = tg.constant(RNG.integers(0, 3, 8).astype(np.int32))
    params = [tg.Variable(RNG.standard_normal(s).astype(dtype)) for s in [(6, 5), (5,), (5, 3), (3,)]]
    W1, b1, W2, b2 = params

    def program():
        with tg.GradientTape() as tape:
            logits = tg.tanh(x @ W1 + b1) @ W2 + b2
            loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        return tape, loss, params

    fast, general = both(program)
    same(fast, general)
    for g, p in zip(fast, params):
        assert g.dtype == p.dtype and g.shape == p.shape


def test_hand_derived_values_and_mixed_sources():
    w = tg.Variable([1.0, -2.0, 3.0])
    c = tg.constant(0.5)
    u = tg.Variable(4.0)                      # not used by the target: None

    def program():
        with tg.GradientTape() as tape:
            tape.watch(c)
            y = tg.reduce_sum(w * w) * c      # d/dw = 2 w c, d/dc = sum(w^2)
        return tape, y, [w, c, u]

    fast, general = both(program)
    same(fast, general)
    np.testing.assert_array_equal(fast[0].numpy(), np.float32([1.0, -2.0, 3.0]))
    assert fast[1].numpy() == np.float32(14.0)
    assert fast[2] is None


def test_conversions_go_through_the_general_finish():
    """Scalar gradients, integer sources, sparse gradients and gradients broadcast to a
    source's shape come out of both paths alike."""
    table = tg.Variable(RNG.standard_normal((5, 2)))
    i = tg.constant(3)
    s = tg.Variable(2.0, dtype=tg.float64)
    b = tg.Variable(np.zeros(3))

    def program():
        with tg.GradientTape() as tape:
            tape.watch(i)
            rows = tg.gather(table, [0, 2, 2])
            y = tg.reduce_sum(rows) * s + tg.cast(i, tg.float64) + tg.reduce_sum(b + 1.0)
        return tape, y, [table, i, s, b]

    fast, general = both(program)
    same(fast, general)
    assert isinstance(fast[0], tg.IndexedSlices)
    assert fast[1] is None
    np.testing.assert_array_equal(fast[3].numpy(), np.ones(3))


def test_gradient_inside_the_block_and_watched_variables():
    v = tg.Variable(3.0)
    other = tg.Variable(1.0)
    results = []
    for as_sources in (list, tuple):
        with tg.GradientTape() as tape:
            y = v * v
            g = tape.gradient(y, as_sources([v, other]))   # stops the one-shot tape's recording
            z = other * 2.0                                 # not recorded any more
        results.append((g, tape.watched_variables(), z))
    (fast, wf, _), (general, wg, _) = results
    assert len(SHORT_CALLS) == 1
    same(fast, list(general))
    assert fast[0].numpy() == np.float32(6.0) and fast[1] is None
    assert [x.name for x in wf] == [x.name for x in wg] == [v.name]


def test_second_call_and_never_entered_raise_as_before():
    v = tg.Variable(2.0)
    with tg.GradientTape() as tape:
        y = v * v
    tape.gradient(y, [v])
    with pytest.raises(RuntimeError, match="only be used to compute one set of gradients"):
        tape.gradient(y, [v])
    with pytest.raises(RuntimeError, match="never entered"):
        tg.GradientTape().gradient(y, [v])
    with tg.GradientTape() as tape:
        y = v * v
    with pytest.raises(AttributeError):
        tape.gradient(y, [v, np.ones(2)])          # not a Tensor: the general path's error
    with tg.GradientTape() as tape:
        y = v * v
    with pytest.raises(TypeError):
        tape.gradient(y, [None])


def test_persistent_tape_and_nested_tapes_agree():
    x = tg.constant(0.7, dtype=tg.float64)
    with tg.GradientTape(persistent=True) as outer:
        outer.watch(x)
        with tg.GradientTape(persistent=True) as inner:
            inner.watch(x)
            y = tg.sin(x) * x
        d_fast = inner.gradient(y, [x])[0]          # tensor mode: recorded by the outer tape
        d_general = inner.gradient(y, (x,))[0]
    assert d_fast.numpy().tobytes() == d_general.numpy().tobytes()
    np.testing.assert_allclose(d_fast.numpy(), np.cos(0.7) * 0.7 + np.sin(0.7), rtol=1e-15)
    dd_fast = outer.gradient(d_fast, [x])[0]
    dd_general = outer.gradient(d_general, (x,))[0]
    assert len(SHORT_CALLS) == 2
    assert dd_fast.numpy().tobytes() == dd_general.numpy().tobytes()
    np.testing.assert_allclose(dd_fast.numpy(), 2 * np.cos(0.7) - 0.7 * np.sin(0.7), rtol=1e-14)


def test_returned_gradients_alias_nothing_the_user_holds():
    x = tg.constant(RNG.standard_normal((4, 3)))
    w = tg.Variable(RNG.standard_normal((3, 2)))
    b = tg.Variable(RNG.standard_normal(2))
    with tg.GradientTape() as tape:
        tape.watch(x)
        h = x @ w + b
        y = tg.reduce_sum(h)
    before = [t.numpy().copy() for t in (x, w, b, h)]
    grads = tape.gradient(y, [x, w, b])
    assert len(SHORT_CALLS) == 1
    for g in grads:
        assert not g._value.flags.writeable
        with pytest.raises(ValueError):
            g._value[...] = 7.0
        arr = g.numpy()
        arr[...] = 7.0                               # a copy or a writable array of its own
    for t, v in zip((x, w, b, h), before):
        np.testing.assert_array_equal(t.numpy(), v)
    np.testing.assert_array_equal(grads[2].numpy(), np.full(2, 4.0))
    for i, g in enumerate(grads):
        for t in (x, w, b, h):
            assert not np.shares_memory(g._value, t._value)
        for j, o in enumerate(grads):
            if i != j:
                assert not np.shares_memory(g._value, o._value)



@pytest.mark.parametrize("make", [lambda: tg.Variable(np.linspace(-2.0, 2.0, 5)),
                                  lambda: tg.constant(np.linspace(-2.0, 2.0, 5))])
def test_one_source_not_in_a_list(make):
    """gradient(y, x) for one Tensor or Variable takes the short path too; the general path is
    gradient(y, (x,))[0]."""
    out = []
    for one in (True, False):
        x = make()
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tg.reduce_sum(tg.exp(tg.sin(x)) * x)
        n = len(SHORT_CALLS)
        out.append(tape.gradient(y, x) if one else tape.gradient(y, (x,))[0])
        assert len(SHORT_CALLS) == n + one
    same([out[0]], [out[1]])
    v = np.linspace(-2.0, 2.0, 5)
    np.testing.assert_allclose(out[0].numpy(), np.exp(np.sin(v)) * (v * np.cos(v) + 1), rtol=1e-15)
