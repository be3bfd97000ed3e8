"""How a tape stores its nodes (issue 15): saved inputs one by one in the tape's
object vector (no tuple per node), and the storage of a released tape reused by
the next one.  Gradients are checked against hand-derived values."""
import gc
import weakref

import numpy as np

import tapegrad as tg


def _nodes(tape):
    return {op.name: (ins, saved, params) for op, ins, outs, saved, params in tape._wengert.inspect_nodes()}


def test_a_node_keeps_only_the_inputs_its_rules_read():
    x = tg.constant(np.array([0.5, 1.0]))
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        s = tg.sin(x)
        y = s * 1.0001              # multiply's rule for s reads the constant, not s
        z = tg.reshape(y, (2, 1))   # params: the shape
        e = tg.exp(z)               # saves its output
    nodes = _nodes(t)
    assert nodes["sin"][1][0] is x
    assert nodes["multiply"][1] == (None, 1.0001)
    assert nodes["reshape"][2][0] == (2, 1)    # (the new shape, then the old one)
    assert nodes["exp"][1] is e
    g = t.gradient(e, x)
    expected = np.exp(np.sin([0.5, 1.0]) * 1.0001) * 1.0001 * np.cos([0.5, 1.0])
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-15)


def test_a_tape_holds_its_saved_values_until_released():
    x = tg.constant(np.linspace(0.0, 1.0, 5))
    with tg.GradientTape() as t:
        t.watch(x)
        s = tg.sin(x)
        y = s * s
    ref = weakref.ref(s)
    del s
    gc.collect()
    assert ref() is not None                 # multiply saved it
    g = t.gradient(y, x)                     # d/dx sin(x)^2 = 2 sin(x) cos(x)
    np.testing.assert_allclose(g.numpy(), np.sin(2 * np.linspace(0.0, 1.0, 5)), rtol=1e-14)
    assert ref() is None                     # the one-shot tape dropped it


def test_a_new_tape_knows_nothing_of_the_tape_before_it():
    # The first tape's storage (id map included) becomes the spare set that
    # the second takes: its ids must be gone.
    x = tg.constant(2.0, dtype=tg.float64)
    with tg.GradientTape() as t1:
        t1.watch(x)
        y = tg.sin(x) * 3.0
    assert t1.gradient(y, x).numpy() == 3.0 * np.cos(2.0)
    with tg.GradientTape() as t2:
        z = tg.sin(x)
        w = z * y
    assert t2._wengert.slot_of(x) == -1 and t2._wengert.slot_of(y) == -1
    assert t2._wengert.num_nodes == 0
    assert t2.gradient(w, x) is None
    with tg.GradientTape() as t3:
        t3.watch(y)
        v = tg.square(y)
    assert t3._wengert.slot_of(x) == -1
    assert t3.gradient(v, y).numpy() == 2.0 * y.numpy()


def test_tapes_of_any_size_in_turn_give_their_gradients():
    # Larger and smaller than the spare set's limit (2**14 nodes), alternating,
    # persistent and one-shot, some abandoned without a gradient.
    x = tg.constant(0.3, dtype=tg.float64)
    for n, persistent, use in [(5, False, True), (9000, False, True), (3, True, True), (20, False, False),
                               (9, False, True), (2, True, False), (4, False, True)]:
        with tg.GradientTape(persistent=persistent) as t:
            t.watch(x)
            y = x
            for _ in range(n):
                y = y * 1.0 + 0.0
            y = tg.sin(y)
        assert t._wengert.num_nodes == 2 * n + 1
        if use:
            assert t.gradient(y, x).numpy() == np.cos(0.3)
        del t


def test_a_tape_cleared_by_the_collector_gives_its_storage_back():
    x = tg.constant(np.array([1.0, 2.0]))

    class Holder:
        pass

    h = Holder()
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        h.y = tg.sin(x)
    h.tape = t                  # a cycle through the tape: only the collector frees it
    del h, t
    gc.collect()
    with tg.GradientTape() as t2:
        t2.watch(x)
        y = tg.cos(x)
    np.testing.assert_allclose(t2.gradient(y, x).numpy(), -np.sin([1.0, 2.0]), rtol=1e-15)


def test_other_recorders_get_the_inputs_as_a_tuple():
    # A forward accumulator and a tape on the same stack see the same op.
    x = tg.constant(np.array([0.5, 2.0]))
    with tg.GradientTape() as t:
        t.watch(x)
        with tg.autodiff.ForwardAccumulator(x, tg.constant(np.array([1.0, 0.0]))) as acc:
            y = x * x
        jvp = acc.jvp(y)
    np.testing.assert_allclose(jvp.numpy(), [1.0, 0.0])
    np.testing.assert_allclose(t.gradient(y, x).numpy(), [1.0, 4.0])


def test_tapes_whose_buffers_are_page_mappings_give_their_gradients():
    # 140,000 steps: every buffer and the id map pass 1 MB, where they become
    # their own page mappings (csrc/tg_alloc.h), crossing over from malloc and
    # then growing by mremap.  Persistent (two sweeps), one-shot, abandoned.
    x = tg.constant(0.3, dtype=tg.float64)
    n = 140_000
    for persistent, use in [(True, True), (False, False), (False, True)]:
        with tg.GradientTape(persistent=persistent) as t:
            t.watch(x)
            y = x
            first = None
            for _ in range(n):
                y = y * 1.0 + 0.0
                if first is None:
                    first = y
            y = tg.sin(y)
        assert t._wengert.num_nodes == 2 * n + 1
        assert t._wengert.slot_of(first) == 2   # x, x * 1.0, then first
        if use:
            assert t.gradient(y, x).numpy() == np.cos(0.3)
            if persistent:
                assert t.gradient(y, first).numpy() == np.cos(0.3)
        del t
