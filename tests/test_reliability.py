"""Reliability (issue 12): weak references and the cyclic garbage collector,
threads, odd NumPy layouts, and user exceptions that propagate unchanged.

Expected gradients are derived by hand in each test (d/dx sum(x*x) = 2x, ...)."""
import ctypes
import gc
import sys
import threading
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core

# ---------------------------------------------------------------- weak references


def _objects():
    x = tg.constant([1.0, 2.0])
    with tg.autodiff.ForwardAccumulator(x, tg.constant([1.0, 0.0])) as acc:
        pass
    tape = tg.GradientTape()
    with tape:
        tape.watch(x)
    return {"Tensor": x, "Variable": tg.Variable(1.0), "GradientTape": tape, "ForwardAccumulator": acc,
            "WengertList": tape._wengert, "Accumulator": _core.Accumulator()}


@pytest.mark.parametrize("kind", ["Tensor", "Variable", "GradientTape", "ForwardAccumulator", "WengertList",
                                  "Accumulator"])
def test_weak_references_die_with_the_object(kind):
    obj = _objects()[kind]
    ref = weakref.ref(obj)
    called = []
    weakref.finalize(obj, called.append, kind)
    assert ref() is obj
    del obj
    assert ref() is None and called == [kind]      # refcounting alone frees it, no gc.collect()


def test_weakly_keyed_cache_of_tensors():
    cache = weakref.WeakValueDictionary()
    xs = [tg.constant(float(i)) for i in range(5)]
    for i in range(5):
        cache[i] = xs[i]
    del xs[1:]
    assert list(cache) == [0]


# ---------------------------------------------------------------- the cyclic garbage collector


def test_a_tape_shows_the_collector_what_it_holds():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        s = tg.sin(x)
        y = s * x
        z = tg.reshape(y, (2, 1))
    core = t._wengert
    held = gc.get_referents(core)
    ops = {o.name for o in held if isinstance(o, _core.Op)}
    assert {"sin", "multiply", "reshape"} <= ops
    # saved values (held one by one, no tuple per node): sin saves x, multiply
    # saves both inputs; params: reshape's shape
    assert any(o is x for o in held) and any(o is s for o in held)
    assert any(type(o) is tuple and any(type(e) is tuple and e == (2, 1) for e in o) for o in held)
    del z


def _cycle_through_custom_gradient():
    x = tg.constant(np.ones(1000))

    class Model:
        pass

    m = Model()
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)

        @tg.custom_gradient
        def double(v):
            def grad(dy):
                return dy * 2 if tape is not None else None    # the closure captures its tape
            return v * 2, grad

        y = double(x)
    m.tape, m.y = tape, y            # and a tape stored on an object it recorded for
    tape.owner = m
    return weakref.ref(tape._wengert), weakref.ref(tape), weakref.ref(m)


def test_a_cycle_through_a_tape_is_collected():
    refs = _cycle_through_custom_gradient()
    assert all(r() is not None for r in refs)     # a cycle: refcounting cannot free it
    gc.collect()
    assert all(r() is None for r in refs)


def test_a_cycle_with_a_finalizer_through_a_tape_is_collected():
    # The finalizer runs before the collector clears the cycle and sees the tape
    # intact; then tp_clear empties it (and marks it released) and it is freed.
    x = tg.constant(2.0)
    seen = []

    class Probe:
        def __del__(self):
            seen.append(self.core.num_nodes)

    def build():
        probe = Probe()
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(x)

            @tg.custom_gradient
            def f(v):
                def grad(dy):
                    return dy * 2.0 if probe is not None else None
                return v * 2.0, grad
            f(x)
        probe.core = tape._wengert
        return weakref.ref(tape._wengert)
    core_ref = build()
    assert core_ref() is not None
    gc.collect()
    assert core_ref() is None and seen and seen[0] >= 1


# ---------------------------------------------------------------- threads


def _in_thread(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:     # re-raised in the caller
            box["error"] = e
    th = threading.Thread(target=run)
    th.start()
    th.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def test_a_tape_records_only_the_thread_that_entered_it():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        other = _in_thread(lambda: x * x * x)      # computed on another thread: not recorded
    assert float(t.gradient(y, x)) == 6.0
    assert t.gradient(other, x) is None


def test_watch_from_a_thread_where_the_tape_does_not_record_is_ignored():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as t:
        _in_thread(lambda: t.watch(x))
        y = x * x
    assert t.gradient(y, x) is None
    assert t._wengert.slot_of(x) == -1


def test_gradient_of_a_recording_one_shot_tape_from_another_thread():
    x = tg.constant(3.0)
    with tg.GradientTape() as t:
        t.watch(x)
        y = x * x
        g = _in_thread(lambda: t.gradient(y, x))       # what was recorded so far
        assert float(g) == 6.0
        z = y * x                                       # the tape is released: not recorded
        assert _core.any_recording()                    # still on this thread's stack until the block ends
    assert not _core.any_recording()
    with pytest.raises(RuntimeError, match="only be used to compute one set of gradients"):
        t.gradient(z, x)


def test_gradient_of_a_recording_persistent_tape_from_another_thread():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        assert float(_in_thread(lambda: t.gradient(y, x))) == 6.0
        z = y * x                                       # still recording
    assert float(t.gradient(z, x)) == 27.0
    assert float(_in_thread(lambda: t.jacobian(z, x))) == 27.0


def test_stop_recording_and_reset_from_another_thread_raise_a_clear_error():
    x = tg.constant(3.0)

    def stop_elsewhere():
        with t.stop_recording():
            pass

    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
        with pytest.raises(ValueError, match=r"stop_recording\(\) must be called from the thread that entered"):
            _in_thread(stop_elsewhere)
        with pytest.raises(ValueError, match=r"reset\(\) must be called from the thread that entered"):
            _in_thread(t.reset)
        z = y * x                                       # this thread still records
    assert float(t.gradient(z, x)) == 27.0


def test_eight_threads_sweep_one_persistent_tape():
    rng = np.random.default_rng(0)
    xv = rng.standard_normal(50)
    x = tg.constant(xv)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        ys = [tg.reduce_sum(tg.sin(x) * x ** k) for k in range(4)]
    errors, barrier = [], threading.Barrier(8)

    def sweep(i):
        barrier.wait()
        for r in range(20):
            k = (i + r) % 4
            g = t.gradient(ys[k], x).numpy()
            want = np.cos(xv) * xv ** k + (k * np.sin(xv) * xv ** (k - 1) if k else 0)
            if not np.allclose(g, want, rtol=1e-10, atol=1e-12):
                errors.append((i, k))
    threads = [threading.Thread(target=sweep, args=(i,)) for i in range(8)]
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)                    # switch threads often, inside sweeps
    try:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_tapes_made_in_one_thread_and_freed_in_another():
    def make():
        x = tg.constant(np.ones(100))
        with tg.GradientTape(persistent=True) as t:
            t.watch(x)
            y = tg.reduce_sum(x * x)
        return t, y, x
    t, y, x = _in_thread(make)
    ref = weakref.ref(t._wengert)
    assert np.allclose(t.gradient(y, x).numpy(), 2.0)
    del t
    assert ref() is None
    assert not _core.any_recording()


def test_short_lived_threads_leave_no_recorder_stacks():
    def work():
        x = tg.constant(2.0)
        with tg.GradientTape() as t:
            t.watch(x)
            y = x * x
        return float(t.gradient(y, x))
    for _ in range(3):
        _in_thread(work)                           # warm-up (imports, caches)
    objects_before = len(gc.get_objects())
    results = []
    for _ in range(300):
        th = threading.Thread(target=lambda: results.append(work()))
        th.start()
        th.join()
    assert results == [4.0] * 300
    assert not _core.any_recording() and _core.active_recorders() == []
    # each thread made a recorder stack (a list in its thread-state dict): all freed with the threads
    assert len(gc.get_objects()) < objects_before + 100


def test_a_thread_whose_state_dict_is_cleared_gets_a_new_recorder_stack():
    # What PyGILState_Release does to a native thread's state between two calls into Python
    # (ctypes callbacks, C thread pools): the dict holding the recorder stack is dropped while
    # the OS thread lives on.  The core's cached pointer to the stack must not outlive it.
    api = ctypes.pythonapi
    api.PyThreadState_GetDict.restype = ctypes.py_object

    def work(junk=()):
        x = tg.constant(2.0)
        with tg.GradientTape() as t:
            t.watch(x)
            y = x * x * x
            assert all(j == [] for j in junk)         # the recorder went onto this thread's stack, not there
            assert len(_core.active_recorders()) == 1
        return float(t.gradient(y, x))

    def run():
        assert work() == 12.0
        d = api.PyThreadState_GetDict()
        keys = [k for k in d if str(k).startswith("tapegrad.recorders")]
        assert keys == ["tapegrad.recorders.guard", "tapegrad.recorders"]     # the guard goes first
        for k in keys:
            del d[k]                                  # as the cleared dict drops its values
        junk = [[] for _ in range(100)]               # reuse freed lists: a stale pointer would find these
        results = [work(junk) for _ in range(3)]
        assert _core.active_recorders() == []
        return results
    assert _in_thread(run) == [12.0, 12.0, 12.0]


# ---------------------------------------------------------------- odd NumPy layouts

_BASE = np.arange(1.0, 13.0).reshape(3, 4)


def _layouts():
    big = _BASE.astype(">f8")
    ro = _BASE.copy()
    ro.flags.writeable = False
    return {
        "big-endian": big,
        "little-endian explicit": _BASE.astype("<f8"),
        "fortran": np.asfortranarray(_BASE),
        "negative strides": _BASE[::-1, ::-1].copy()[::-1, ::-1],
        "reversed view": _BASE[::-1][::-1],
        "non-contiguous slice": np.arange(1.0, 25.0).reshape(3, 8)[:, ::2],
        "read-only": ro,
        "broadcast view": np.broadcast_to(np.arange(1.0, 5.0), (3, 4)),
    }


@pytest.mark.parametrize("name", list(_layouts()))
def test_any_layout_gives_a_tensor_with_its_values(name):
    arr = _layouts()[name]
    expected = np.array(arr, dtype=arr.dtype.newbyteorder("="))
    for make in (tg.constant, tg.convert_to_tensor, tg.Variable):
        t = make(arr)
        assert t.dtype == tg.float64
        np.testing.assert_array_equal(t.numpy(), expected)
    x = tg.constant(arr)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(x * arr)                 # the array as an operand too
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)    # d/dx sum(x * a) = a
    np.testing.assert_allclose(tg.sin(arr).numpy(), np.sin(expected))


@pytest.mark.parametrize("dtype", [">f4", ">i4", ">c16", ">i8", ">f8"])
def test_non_native_byte_order_keeps_its_numbers(dtype):
    arr = np.arange(6).astype(dtype)
    t = tg.constant(arr)
    assert t.dtype == tg.as_dtype(np.dtype(dtype).newbyteorder("="))
    assert t.numpy().dtype.isnative
    np.testing.assert_array_equal(t.numpy(), np.arange(6))
    assert repr(t).startswith("<tapegrad.Tensor: shape=(6,)")


@pytest.mark.parametrize("value, shape, dtype", [
    (np.float32(2.5), (), tg.float32), (np.float64(2.5), (), tg.float64), (np.int16(3), (), tg.int16),
    (np.bool_(True), (), tg.bool), (np.array(2.5), (), tg.float64), (np.zeros((0,)), (0,), tg.float64),
    (np.zeros((2, 0, 3), dtype=np.float32), (2, 0, 3), tg.float32), (np.complex64(1 + 2j), (), tg.complex64),
])
def test_scalars_zero_d_and_empty(value, shape, dtype):
    t = tg.constant(value)
    assert t.shape == shape and t.dtype == dtype
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = tg.reduce_sum(t * t) if dtype.is_floating else None
    if y is not None:
        np.testing.assert_allclose(tape.gradient(y, t).numpy(), 2 * np.asarray(value))


def test_mutating_the_source_never_changes_a_tensor_or_a_gradient():
    src = np.arange(1.0, 5.0)
    x = tg.constant(src)
    v = tg.Variable(src)
    op_out = tg.sin(src)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tg.reduce_sum(x * src)        # src saved as multiply's constant operand
        z = tg.reduce_sum(v * x)
    src[:] = -100.0
    np.testing.assert_array_equal(x.numpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(v.numpy(), [1, 2, 3, 4])
    np.testing.assert_allclose(op_out.numpy(), np.sin([1, 2, 3, 4]))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2, 3, 4])
    np.testing.assert_array_equal(tape.gradient(z, v).numpy(), [1, 2, 3, 4])
    g = tape.gradient(y, x).numpy()
    g[:] = 7                              # numpy() is the caller's copy
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 2, 3, 4])


def test_a_tensor_value_cannot_be_written_through_numpy():
    x = tg.constant(np.arange(3.0))
    with pytest.raises(ValueError):
        np.asarray(x)[0] = 5.0
    assert x.numpy()[0] == 0.0


# ---------------------------------------------------------------- user exceptions propagate as the same object

class _Boom(Exception):
    pass


class _BadArray:
    def __init__(self, error):
        self.error = error

    def __array__(self, dtype=None, copy=None):
        raise self.error


@pytest.mark.parametrize("error", [_Boom("mine"), KeyError("k"), TypeError("t"), ValueError("v")])
@pytest.mark.parametrize("use", ["constant", "constant dtype", "operand", "roperand", "unary", "variable",
                                 "assign"])
def test_exceptions_from_array_protocol_propagate_unchanged(error, use):
    bad = _BadArray(error)
    x = tg.constant([1.0, 2.0])
    calls = {
        "constant": lambda: tg.constant(bad),
        "constant dtype": lambda: tg.constant(bad, dtype=tg.float32),
        "operand": lambda: x + bad,
        "roperand": lambda: tg.multiply(bad, x),
        "unary": lambda: tg.sin(bad),
        "variable": lambda: tg.Variable(bad),
        "assign": lambda: tg.Variable([1.0, 2.0]).assign(bad),
    }
    with pytest.raises(type(error)) as info:
        calls[use]()
    assert info.value is error


def test_exceptions_from_custom_gradient_and_rules_propagate_unchanged():
    err = _Boom("from grad_fn")

    @tg.custom_gradient
    def f(x):
        def grad(dy):
            raise err
        return x * 2, grad

    x = tg.constant(1.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = f(x)
    with pytest.raises(_Boom) as info:
        t.gradient(y, x)
    assert info.value is err
    fwd = _Boom("from f")

    @tg.custom_gradient
    def g(x):
        raise fwd

    with tg.GradientTape() as t2:
        t2.watch(x)
        with pytest.raises(_Boom) as info:
            g(x)
        y2 = x * 3.0                              # the tape still records after the failure
    assert info.value is fwd
    assert float(t2.gradient(y2, x)) == 3.0


def test_exceptions_from_callbacks_propagate_unchanged():
    err = _Boom("initial value")

    def init():
        raise err
    with pytest.raises(_Boom) as info:
        tg.Variable(init)
    assert info.value is err
    err2 = _Boom("__float__")

    class Number:
        def __float__(self):
            raise err2
    with pytest.raises(_Boom) as info:
        tg.constant(Number(), dtype=tg.float32)
    assert info.value is err2
