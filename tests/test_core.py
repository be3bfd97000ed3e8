"""The core's mechanics: what is recorded, memory release, deep graphs,
threads, immutability and the NumPy protocols."""
import gc
import threading
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core


def test_nothing_is_recorded_unless_an_input_is_watched():
    c = tg.constant([1.0, 2.0])
    x = tg.constant([3.0, 4.0])
    with tg.GradientTape() as t:
        _ = tg.sin(c) * c + 1.0          # c is not watched: not recorded
        assert t._wengert.num_nodes == 0
        t.watch(x)
        _ = tg.sin(x) * c                # two ops on x
        assert t._wengert.num_nodes == 2


def test_ops_outside_any_tape_are_not_recorded_by_a_later_tape():
    v = tg.Variable(2.0)
    y = v * 2.0
    with tg.GradientTape() as t:
        z = y * 3.0
    assert t.gradient(z, v) is None


def test_integer_results_are_not_recorded():
    x = tg.constant([1.5, 2.5])
    with tg.GradientTape() as t:
        t.watch(x)
        _ = tg.cast(x, tg.int32) + 1     # int outputs: neither op is recorded
        assert t._wengert.num_nodes == 0
        _ = tg.cast(x, tg.float64)       # a float cast is
        assert t._wengert.num_nodes == 1


def test_a_million_op_chain_differentiates_without_recursion():
    x = tg.constant(np.float64(0.5))
    n = 1_000_000
    with tg.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(n // 2):
            y = y * 1.0000001 + 1e-9
    g = t.gradient(y, x)
    assert g.numpy() == pytest.approx(1.0000001 ** (n // 2), rel=1e-9)


def _probe_op(log, watched_ref):
    """An unregistered op whose rule records whether a later node's saved
    value was already released when the sweep reached it."""
    def rule(g, ans, x):
        log.append(watched_ref[0]() is None)
        return g
    return _core.Op("probe", lambda x: x * 1.0, (rule,), kind=_core.UNARY, save=_core.SAVE_INPUTS)


def test_non_persistent_sweep_frees_saved_values_as_it_passes():
    log, ref = [], [None]
    probe = _probe_op(log, ref)
    x = tg.constant(np.linspace(0.1, 1.0, 1000))
    with tg.GradientTape() as t:
        t.watch(x)
        a = probe(x)
        b = tg.exp(a)                    # b is saved by exp (its output) and by sin (its input)
        ref[0] = weakref.ref(b._value)
        c = tg.sin(b)
        del a, b
    t.gradient(c, x)
    assert log == [True]                 # freed before the earlier node's rule ran


def test_persistent_tape_keeps_saved_values_until_deleted():
    log, ref = [], [None]
    probe = _probe_op(log, ref)
    x = tg.constant(np.linspace(0.1, 1.0, 1000))
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        b = tg.exp(probe(x))
        ref[0] = weakref.ref(b._value)
        c = tg.sin(b)
        del b
    t.gradient(c, x)
    t.gradient(c, x)
    assert log == [False, False]
    del t
    gc.collect()
    assert ref[0]() is None


def test_used_non_persistent_tape_releases_everything():
    x = tg.constant(np.ones(1000))
    with tg.GradientTape() as t:
        t.watch(x)
        y = tg.exp(x)
        ref = weakref.ref(y._value)
        z = tg.reduce_sum(y)
        del y
    t.gradient(z, x)
    assert ref() is None


def test_tapes_in_two_threads_never_see_each_others_ops():
    shared = tg.constant([1.0, 2.0])
    entered, done = threading.Event(), threading.Event()
    result = {}

    def recorder():
        with tg.GradientTape() as t:
            t.watch(shared)
            entered.set()
            done.wait(10)
            result["nodes"] = t._wengert.num_nodes
            y = shared * shared
        result["grad"] = t.gradient(y, shared).numpy()

    th = threading.Thread(target=recorder)
    th.start()
    entered.wait(10)
    for _ in range(100):                 # runs while the other thread's tape watches `shared`
        _ = tg.sin(shared) * shared
    done.set()
    th.join(10)
    assert result["nodes"] == 0
    np.testing.assert_allclose(result["grad"], [2.0, 4.0])


def test_mutating_the_input_array_cannot_change_a_tensor_or_a_saved_value():
    arr = np.array([1.0, 2.0, 3.0])
    x = tg.constant(arr)
    v = tg.Variable(arr)
    with tg.GradientTape() as t:
        t.watch(x)
        y = x * x
    arr[:] = 100.0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [2.0, 4.0, 6.0])


def test_tensor_values_are_read_only_and_numpy_returns_a_copy():
    x = tg.constant([1.0, 2.0])
    with pytest.raises(ValueError):
        np.asarray(x)[0] = 5.0
    a = x.numpy()
    a[0] = 5.0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])


def test_numpy_functions_on_tensors_are_recorded():
    x = tg.Variable([0.5, 1.0, 2.0], dtype=tg.float64)
    with tg.GradientTape() as t:
        y = np.sum(np.exp(np.sin(x)) * x)
    assert isinstance(y, tg.Tensor)
    expected = np.exp(np.sin(x.numpy())) * (np.cos(x.numpy()) * x.numpy() + 1)
    np.testing.assert_allclose(t.gradient(y, x).numpy(), expected, rtol=1e-12)


def test_numpy_function_without_a_rule_raises_naming_it():
    x = tg.constant([1.0, 2.0])
    out = np.convolve(x, x)      # untracked: NumPy runs on the plain values
    assert type(out) is np.ndarray and out.tolist() == [1.0, 4.0, 4.0]
    with tg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="numpy.convolve"):
            np.convolve(x, x)
    with pytest.raises(TypeError, match="out="):
        np.sin(x, out=np.empty(2))


def test_numpy_inspection_functions_work_on_tensors():
    x = tg.constant([1.0, 2.0])
    assert np.shape(x) == (2,)
    assert np.allclose(x, [1.0, 2.0])
    assert int(np.argmax(x)) == 1


def test_ndarray_on_the_left_is_recorded():
    x = tg.Variable([1.0, 2.0])
    with tg.GradientTape() as t:
        y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, tg.Tensor)
    np.testing.assert_array_equal(t.gradient(y, x).numpy(), [3.0, 4.0])


def test_tensor_ids_are_unique_and_variables_keep_theirs():
    a, b = tg.constant(1.0), tg.constant(1.0)
    assert a.id != b.id
    v = tg.Variable(1.0)
    vid = v.id
    v.assign(2.0)
    assert v.id == vid


def test_gradient_of_float32_source_stays_float32_and_float64_stays_float64():
    for dt in (tg.float32, tg.float64, tg.float16):
        x = tg.Variable([1.0, 2.0], dtype=dt)
        with tg.GradientTape() as t:
            y = tg.reduce_sum(tg.sin(x) * 2.0)
        assert t.gradient(y, x).dtype == dt


@pytest.mark.parametrize("op", [tg.sin, tg.exp, tg.math.log, tg.sqrt, tg.tanh, tg.sigmoid])
def test_float_only_ops_reject_integer_tensors_as_tensorflow_does(op):
    with pytest.raises(tg.errors.InvalidArgumentError, match="floating-point.*int32"):
        op(tg.constant([1, 2]))


@pytest.mark.parametrize("op", [tg.abs, tg.square, tg.negative, tg.nn.relu, tg.sign])
def test_integer_friendly_ops_keep_integer_dtypes(op):
    assert op(tg.constant([1, -2])).dtype == tg.int32


def test_a_training_step_leaves_no_reference_cycles():
    # Cycles would keep tapes and gradient arrays alive until the cyclic GC
    # runs: memory grows and every step touches fresh pages.
    rng = np.random.default_rng(0)
    x = tg.constant(rng.standard_normal((8, 5)))
    labels = np.arange(8) % 3
    params = [tg.Variable(rng.standard_normal((5, 4))), tg.Variable(np.zeros(4)),
              tg.Variable(rng.standard_normal((4, 3))), tg.Variable(np.zeros(3))]

    def step():
        w1, b1, w2, b2 = params
        with tg.GradientTape() as t:
            h = tg.nn.relu(tg.tanh(x @ w1 + b1))
            loss = tg.reduce_mean(tg.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=h @ w2 + b2))
        return t.gradient(loss, {"w": [w1, w2], "b": (b1, b2)})

    step()
    gc.collect()
    gc.disable()
    try:
        step()
        assert gc.collect() == 0
    finally:
        gc.enable()
