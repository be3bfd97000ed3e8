"""Recording's per-op path (issue 15, W3): an input that is the tape's last output
is found without probing the id map, a node's entries are reserved at once, and
broadcasting is detected by comparing shapes in a loop.  Each shortcut is checked
against the same program recorded without it (bit for bit) and against
hand-derived gradients."""
import numpy as np
import pytest

import tapegrad as tg


def _slots(tape):
    return [(op.name, ins, outs) for op, ins, outs, saved, params in tape._wengert.inspect_nodes()]


def test_a_chain_reads_each_input_slot_from_the_last_output():
    x = tg.constant(np.array([0.5, 1.0]))
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x
        for _ in range(3):
            y = tg.sin(y) * 1.0001 + 0.1
    # Slot 0 is x; every op's output takes the next slot and is the next op's input.
    assert _slots(t) == [(name, (k,) if name == "sin" else (k, -1), (k + 1,))
                         for k, name in enumerate(["sin", "multiply", "add"] * 3)]
    g = t.gradient(y, x).numpy()
    v, d = np.array([0.5, 1.0]), np.ones(2)
    for _ in range(3):                       # d/dv (sin(v) * a + b) = a cos(v)
        d = d * 1.0001 * np.cos(v)
        v = np.sin(v) * 1.0001 + 0.1
    np.testing.assert_allclose(g, d, rtol=1e-14)


def _program(interleave):
    """sin(x) * x + exp(x), recorded with each input the last output or, with
    `interleave`, an unrelated op recorded in between (the map is probed)."""
    x = tg.constant(np.array([0.25, -0.75, 2.0]))
    w = tg.constant(np.array([1.5, 0.5, -1.0]))
    with tg.GradientTape(persistent=True) as t:
        t.watch([x, w])
        s = tg.sin(x)
        if interleave:
            tg.cos(w)
        p = s * x
        if interleave:
            tg.cos(w)
        e = tg.exp(x)
        if interleave:
            tg.cos(w)
        y = p + e
    return t, x, y


def test_the_last_output_shortcut_gives_the_probed_slots_bit_for_bit():
    t1, x1, y1 = _program(False)
    t2, x2, y2 = _program(True)
    g1, g2 = t1.gradient(y1, x1).numpy(), t2.gradient(y2, x2).numpy()
    assert g1.tobytes() == g2.tobytes()
    v = np.array([0.25, -0.75, 2.0])
    np.testing.assert_allclose(g1, np.cos(v) * v + np.sin(v) + np.exp(v), rtol=1e-15)
    # The same nodes, in the slots of each tape.
    n1 = [(n, i) for n, i, o in _slots(t1)]
    assert n1 == [("sin", (0,)), ("multiply", (2, 0)), ("exp", (0,)), ("add", (3, 4))]
    n2 = [(n, i) for n, i, o in _slots(t2) if n != "cos"]
    assert n2 == [("sin", (0,)), ("multiply", (2, 0)), ("exp", (0,)), ("add", (4, 6))]


def test_a_new_tape_does_not_know_the_last_output_of_the_tape_before():
    x = tg.constant(np.array([0.5, 1.5]))
    with tg.GradientTape() as t1:
        t1.watch(x)
        y = tg.sin(x)                        # t1's last output
    assert t1._wengert.slot_of(y) == 1
    t1.gradient(y, x)                        # released: its storage is the spare set
    with tg.GradientTape() as t2:            # takes that storage
        z = tg.exp(y)
    assert t2._wengert.num_nodes == 0 and t2._wengert.slot_of(y) == -1
    assert t2.gradient(z, y) is None
    with tg.GradientTape(persistent=True) as t3:
        t3.watch(x)
        a = tg.sin(x)
        t3.reset()                           # drops every node and slot
        b = tg.exp(a)                        # a was the last output before the reset
        t3.watch(b)
        c = tg.square(b)
    assert [n for n, i, o in _slots(t3)] == ["square"]
    assert t3.gradient(c, a) is None
    np.testing.assert_array_equal(t3.gradient(c, b).numpy(), 2 * b.numpy())


@pytest.mark.parametrize("n", [2, 63, 64, 70])
def test_nodes_of_many_inputs_keep_and_differentiate_every_input(n):
    xs = [tg.constant(np.array([0.1 * k, 1.0 - 0.05 * k])) for k in range(n)]
    with tg.GradientTape() as t:
        for x in xs:
            t.watch(x)
        s = tg.stack(xs)                     # n inputs, params
        y = tg.reduce_sum(tg.square(s) * tg.constant(np.arange(n, dtype=np.float64)[:, None]))
    gs = t.gradient(y, xs)
    for k, (x, g) in enumerate(zip(xs, gs)):  # d/dx_k sum(k x_k^2) = 2 k x_k
        np.testing.assert_array_equal(g.numpy(), 2.0 * k * x.numpy())


@pytest.mark.parametrize("sa, sb", [((2, 3, 4), (2, 1, 4)), ((2, 3, 4), (2, 3, 1)), ((3, 4), (3, 4)),
                                    ((5,), (1,)), ((), ()), ((2, 2, 2, 2, 3), (2, 2, 2, 2, 1))])
def test_broadcast_inputs_are_found_by_comparing_shapes(sa, sb):
    rng = np.random.default_rng(0)
    a = tg.constant(rng.standard_normal(sa))
    b = tg.constant(rng.standard_normal(sb))
    with tg.GradientTape() as t:
        t.watch([a, b])
        y = tg.reduce_sum(a * b)
    ga, gb = t.gradient(y, [a, b])
    assert ga.shape == sa and gb.shape == sb
    np.testing.assert_allclose(ga.numpy(), np.broadcast_to(b.numpy(), sa), rtol=1e-15)
    axes = tuple(i for i, (m, k) in enumerate(zip(sa, sb)) if m != k)
    np.testing.assert_allclose(gb.numpy(), a.numpy().sum(axis=axes, keepdims=True).reshape(sb), rtol=1e-13)


@pytest.mark.parametrize("dtype, recorded", [(np.float64, True), (np.float32, True), (np.float16, True),
                                             (np.complex128, True), (np.int32, False), (np.bool_, False)])
def test_only_float_and_complex_results_are_recorded(dtype, recorded):
    x = tg.constant(np.array([1, 0, 1], dtype=dtype))
    with tg.GradientTape() as t:
        t.watch(x)
        y = x * x
    assert (t._wengert.num_nodes == 1) is recorded
    g = t.gradient(y, x)
    if recorded:
        np.testing.assert_array_equal(g.numpy(), 2 * x.numpy())
    else:
        assert g is None


@pytest.mark.parametrize("form", ["v*f", "f*v", "v*t", "t*v", "v*v", "t*f", "f*t"])
def test_binary_reads_variables_beside_tensors_and_floats(form):
    # _binary tests a Tensor's and a float's exact type before isinstance(Variable):
    # a variable on either side is still read (and auto-watched), the others pass as they are.
    v = tg.Variable(np.array([0.5, -2.0]))
    x = tg.constant(np.array([3.0, 0.25]))
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        sides = {"v": v, "t": x, "f": 1.5}
        y = sides[form[0]] * sides[form[2]]
    gv, gx = t.gradient(y, [v, x])
    vv, xv = np.array([0.5, -2.0]), np.array([3.0, 0.25])
    # d(a*b)/da = b: hand-derived for each form
    want_v = {"v*f": 1.5, "f*v": 1.5, "v*t": xv, "t*v": xv, "v*v": 2 * vv}.get(form)
    want_x = {"v*t": vv, "t*v": vv, "t*f": 1.5, "f*t": 1.5}.get(form)
    for g, want in ((gv, want_v), (gx, want_x)):
        if want is None:
            assert g is None
        else:
            np.testing.assert_array_equal(g.numpy(), np.broadcast_to(want, (2,)))


def test_no_type_is_both_a_tensor_and_a_variable():
    # The premise of _binary's exact-type front: an exact Tensor is never a Variable.
    with pytest.raises(TypeError):
        type("Both", (tg.Tensor, tg.Variable), {})


def _chain_with_breaks(n, gap_every, watch_every):
    """y_{k+1} = sin(y_k) * 1.0001 + 0.1 for n steps, with an unrecorded tensor made every
    `gap_every` steps (a gap in the ids) and a fresh tensor watched every `watch_every`
    steps (a slot no op gave): each breaks the id map's run of consecutive ids and slots."""
    x = tg.constant(np.array([0.5, -1.0, 2.0]))
    outs, watched = [], []
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x
        for k in range(n):
            if gap_every and k % gap_every == gap_every - 1:
                tg.constant(np.ones(3))
            if watch_every and k % watch_every == watch_every - 1:
                w = tg.constant(np.full(3, float(k)))
                t.watch(w)
                watched.append(w)
            s = tg.sin(y)
            m = s * 1.0001
            y = m + 0.1
            outs += [s, m, y]
    return t, x, outs, watched


@pytest.mark.parametrize("gap_every, watch_every", [(0, 0), (7, 0), (0, 11), (3, 5), (1, 1)])
def test_every_output_keeps_its_slot_when_the_id_run_breaks(gap_every, watch_every):
    t, x, outs, watched = _chain_with_breaks(150, gap_every, watch_every)
    w = t._wengert
    # Each output's slot is the one its node gave it, whether it is still in the run or was
    # moved into the buckets; watched tensors keep theirs; nothing else is tracked.
    given = [o[0] for n, i, o in _slots(t)]
    assert [w.slot_of(o) for o in outs] == given
    assert len(set(given)) == len(given) and 0 not in given
    ws = [w.slot_of(v) for v in watched]
    assert -1 not in ws and not set(ws) & set(given) and w.slot_of(x) == 0
    assert w.num_slots == 1 + len(given) + len(watched)
    assert w.slot_of(tg.constant(1.0)) == -1
    for o in outs[::-1][:5]:                 # watching a tracked output gives it no new slot
        t.watch(o)
    assert w.num_slots == 1 + len(given) + len(watched)
    # Gradients of the last output with respect to earlier outputs: each source is looked
    # up by id; d y_n / d y_k is the product of 1.0001 cos(y_j) over the steps after k.
    ys = [x.numpy()] + [o.numpy() for o in outs[2::3]]
    picks = [0, 1, 40, 99, 149]
    gs = t.gradient(outs[-1], [x] + [outs[3 * k - 1] for k in picks[1:]])
    for k, g in zip(picks, gs):
        d = np.ones(3)
        for j in range(k, 150):
            d = d * 1.0001 * np.cos(ys[j])
        np.testing.assert_allclose(g.numpy(), d, rtol=1e-13)


def test_tapes_after_a_broken_run_know_none_of_its_ids():
    t, x, outs, watched = _chain_with_breaks(40, 3, 0)
    del t                                    # its storage (buckets and run) is the spare set
    with tg.GradientTape() as t2:
        t2.watch(outs[10])
        z = tg.exp(outs[10])
    w = t2._wengert
    assert [w.slot_of(o) for o in outs] == [-1] * 10 + [0] + [-1] * (len(outs) - 11)
    assert w.slot_of(z) == 1 and w.slot_of(x) == -1
    np.testing.assert_array_equal(t2.gradient(z, outs[10]).numpy(), np.exp(outs[10].numpy()))


def test_an_op_of_several_outputs_gives_each_the_next_slot():
    a = tg.constant(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with tg.GradientTape() as t:
        t.watch(a)
        b = tg.sin(a)                        # slot 1, in the id map's run
        e, v = tg.linalg.eigh(a + b)          # a + b: slot 2; e, v: slots 3 and 4
        y = tg.reduce_sum(e)
    w = t._wengert
    assert [w.slot_of(z) for z in (a, b, e, v, y)] == [0, 1, 3, 4, 5]
    assert [o for n, i, o in _slots(t)][2] == (3, 4)
    # sum(eigenvalues) = trace(a + sin(a)): its gradient is I + diag(cos(a_ii)).
    av = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(t.gradient(y, a).numpy(), np.eye(2) + np.diag(np.cos(np.diag(av))),
                               rtol=1e-12, atol=1e-12)
