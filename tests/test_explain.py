"""GradientTape.explain: why a gradient is None, one test per reason with the program that
produces it (issue 13, part 2). Each test also checks that gradient() really gives None (or not)
for that program, so an explanation can never describe a gradient that exists."""
import threading

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.inspect_tape import REASONS, Explanation


def explained(t, target, source, reason, *phrases):
    e = t.explain(target, source)
    assert isinstance(e, Explanation)
    assert e.reason == reason, str(e)
    assert e.reason in REASONS
    for p in phrases:
        assert p in str(e), str(e)
    return e


# ---- connected ---------------------------------------------------------------------------------

def test_connected_lists_the_ops_of_the_path():
    x = tg.Variable(3.0, name="x")
    c = tg.constant(5.0)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        _ = c * 2.0                 # not on z's path: not in the connecting ops
        z = tg.sin(y) + 1.0
    assert t.gradient(z, x) is not None
    e = explained(t, z, x, "connected", "through 3 ops (multiply, sin, add)")
    assert e.connected
    assert e.ops == ("v2 = multiply(v1, v1)", "v3 = sin(v2)", "v4 = add(v3, const)")


def test_explain_keeps_the_sources_structure():
    x, y = tg.Variable(1.0), tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as t:
        z = x * 3.0
    out = t.explain(z, {"x": x, "y": [y]})
    assert out["x"].reason == "connected"
    assert out["y"][0].reason == "variable_not_read"
    assert t.gradient(z, {"x": x, "y": [y]})["y"][0] is None


def test_target_is_the_source():
    x = tg.constant(1.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
    explained(t, x, x, "same_tensor", "ones")
    assert float(t.gradient(x, x)) == 1.0


def test_several_targets_connected_if_any_is():
    x = tg.Variable(2.0)
    c = tg.constant(1.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(c)
        a = x * x
        b = c + 1.0
    assert explained(t, [a, b], x, "connected").ops == ("v3 = multiply(v2, v2)",)
    e = t.explain([b, b], x)
    assert e.reason == "no_path" and "target 0:" in str(e) and "target 1:" in str(e)


# ---- never watched ----------------------------------------------------------------------------

def test_a_constant_never_watched():
    x = tg.constant(3.0)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "not_watched", "tape.watch(x)")


def test_tf_guide_variable_replaced_by_a_tensor():
    # TensorFlow's autodiff guide: `x = x + 1` turns the variable into a tensor, so the second
    # iteration's gradient is None.
    x = tg.Variable(2.0)
    reasons = []
    for _epoch in range(2):
        with tg.GradientTape(persistent=True) as t:
            y = x + 1
        reasons.append((t.gradient(y, x) is None, t.explain(y, x).reason))
        x = x + 1
    assert reasons == [(False, "connected"), (True, "not_watched")]
    assert "x = x + 1 instead of x.assign_add(1)" in str(t.explain(y, x))


def test_a_non_trainable_variable():
    x = tg.Variable(3.0, trainable=False, name="frozen")
    with tg.GradientTape(persistent=True) as t:
        y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "not_trainable", "trainable=False", "tape.watch(frozen)")


def test_watch_accessed_variables_false():
    x = tg.Variable(3.0)
    with tg.GradientTape(persistent=True, watch_accessed_variables=False) as t:
        y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "not_auto_watched", "watch_accessed_variables=False")


def test_tf_guide_state_stops_gradients():
    # TensorFlow's autodiff guide: x1.assign_add(x0) reads x0 without a recorded op.
    x0 = tg.Variable(3.0)
    x1 = tg.Variable(0.0)
    with tg.GradientTape(persistent=True) as t:
        x1.assign_add(x0)
        y = x1 ** 2
    assert t.gradient(y, x0) is None
    explained(t, y, x0, "variable_not_read", "assign()/assign_add()")


# ---- when the target was computed ---------------------------------------------------------------

def test_target_computed_before_the_tape():
    x = tg.Variable(3.0)
    y = x * x
    with tg.GradientTape(persistent=True) as t:
        _ = x * 2.0                 # the tape records, but not y
    assert t.gradient(y, x) is None
    explained(t, y, x, "before_tape", "before the tape was entered")


def test_target_computed_under_stop_recording():
    x = tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as t:
        with t.stop_recording():
            y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "stop_recording", "stop_recording()")


def test_target_computed_after_the_with_block():
    x = tg.constant(2.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
    y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "after_exit", "after the with block ended")


def test_target_computed_after_a_one_shot_gradient():
    x = tg.Variable(2.0)
    with tg.GradientTape() as t:
        y = x * x
        t.gradient(y, x)              # inside the block: pops a non-persistent tape
        z = y * 3.0
    explained(t, z, x, "after_exit", "gradient() had used this non-persistent tape")


def test_a_tape_never_entered():
    x = tg.Variable(2.0)
    y = x * x
    explained(tg.GradientTape(), y, x, "never_entered", "never entered")


def test_released_tape_still_answers_what_it_kept():
    x = tg.Variable(2.0)
    c = tg.constant(1.0)
    with tg.GradientTape() as t:
        y = x * c
    assert t.gradient(y, c) is None
    explained(t, y, c, "not_watched")               # known without the recording
    explained(t, y, x, "released", "persistent=True")


# ---- dtypes ------------------------------------------------------------------------------------

def test_tf_guide_integer_source():
    x = tg.constant(10)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x * x
    assert t.gradient(y, x) is None
    explained(t, y, x, "integer_dtype", "dtype int32")


@pytest.mark.parametrize("make", [
    lambda x: tg.argmax(x),
    lambda x: x > 1.0,
    lambda x: tg.cast(x, tg.int32),
], ids=["argmax", "comparison", "cast_to_int"])
def test_non_differentiable_ops_give_integer_or_bool_targets(make):
    x = tg.Variable([1.5, 2.5])
    with tg.GradientTape(persistent=True) as t:
        y = make(x)
    assert t.gradient(y, x) is None
    explained(t, y, x, "integer_dtype", "not differentiable")


# ---- the path is cut ----------------------------------------------------------------------------

def test_round_on_the_only_path():
    x = tg.Variable([1.4, 2.6])
    with tg.GradientTape(persistent=True) as t:
        y = tg.round(x) * 2.0
    assert t.gradient(y, x) is None
    explained(t, y, x, "non_differentiable", "round() of variable", "test_explain.py:",
              "not differentiable")


def test_integer_cast_round_trip_on_the_only_path():
    x = tg.Variable([1.4, 2.6])
    with tg.GradientTape(persistent=True) as t:
        y = tg.cast(tg.cast(x, tg.int32), tg.float32) * x
    g = t.gradient(y, x)
    assert g.numpy().tolist() == [1.0, 2.0]          # only the direct factor x is connected
    explained(t, y, x, "connected")


def test_d2l_stop_gradient():
    # d2l's "Detaching Computation", seed 002: u = stop_gradient(y); both gradients of u are None.
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        u = tg.stop_gradient(y)
        z = u * x
    assert t.gradient(u, x) is None and t.gradient(u, y) is None
    e = explained(t, u, x, "stop_gradient", "stop_gradient() of v2 (computed from variable", "test_explain.py:")
    assert "not a proven link" not in str(e)          # u is the very result of stop_gradient
    explained(t, u, y, "stop_gradient", "stop_gradient() of v2 (float32 (4,))")
    # z depends on x directly but not on y: the path through u is cut, and z's multiply took
    # u in as a constant.
    assert t.gradient(z, y) is None
    explained(t, z, y, "stop_gradient", "stop_gradient() of v2", "its result is a constant")


def test_tf_guide_computation_outside_tapegrad():
    # TensorFlow's guide: NumPy in the middle. tapegrad records np.mean on a tensor, so the
    # value has to really leave (x2.numpy()) for the gradient to be lost, as in TensorFlow.
    x = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tg.GradientTape(persistent=True) as t:
        x2 = x ** 2
        y = np.mean(x2.numpy(), axis=0)
        y = tg.reduce_mean(y, axis=0)
    assert t.gradient(y, x) is None
    explained(t, y, x, "via_numpy", "a conversion of v2 (computed from variable", "(numpy())")


def test_d2l_forum_target_that_left_tapegrad():
    # Seed 003's forum thread: a NumPy array as the target.
    x = tg.Variable(tg.range(-10, 10, 1, dtype=tg.float32))
    with tg.GradientTape(persistent=True) as t:
        y = np.sin(x.numpy())
    with pytest.raises(AttributeError):
        t.gradient(y, x)
    explained(t, y, x, "not_a_tensor", "numpy.ndarray", "left tapegrad")


def test_d2l_forum_assigning_elements_in_a_loop():
    # Seed 003: y[i].assign(math.sin(x[i])) leaves tapegrad twice (math.sin, assign).
    import math
    x = tg.Variable(tg.range(-2, 2, 1, dtype=tg.float32))
    y = tg.Variable(tg.zeros_like(x))
    with tg.GradientTape(persistent=True) as t:
        for i in range(4):
            y[i].assign(math.sin(x[i]))
    assert t.gradient(y, x) is None
    explained(t, y, x, "target_is_variable", "assign()")


def test_target_that_does_not_depend_on_the_source():
    x = tg.Variable(1.0)
    w = tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as t:
        _ = x * 3.0                 # x is on the tape too
        b = w * 3.0
    assert t.gradient(b, x) is None
    explained(t, b, x, "no_path", "does not depend on variable")


def test_hands_on_ml_hessian_entry_that_is_none():
    # Seed 004: d2f/dy2 of x*x*y + y + 2 is None because df/dy = x*x + 1 has no y in it.
    x, y = tg.Variable(3.0), tg.Variable(4.0)
    with tg.GradientTape(persistent=True) as tape:
        f = x * x * y + y + 2
        df_dx, df_dy = tape.gradient(f, [x, y])
    assert tape.gradient(df_dy, y) is None
    explained(tape, df_dy, y, "no_path")
    explained(tape, df_dy, x, "connected")


def test_d2l_second_derivative_of_linear_code_is_none():
    # Seed 000's diff_2: f is linear in a, so the first derivative is a constant.
    def f(a):
        b = a * 2
        while tg.norm(b) < 1000:
            b = b * 2
        return b if tg.reduce_sum(b) > 0 else 100 * b

    a = tg.Variable(-1.1861123)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            d1 = f(a)
        diff_1 = t1.gradient(d1, a)
    e = t2.explain(diff_1, a)          # before t2.gradient: afterwards t2 is released
    assert t2.gradient(diff_1, a) is None
    assert e.reason == "constant_derivative" and "unconnected_gradients='zero'" in str(e)


def test_target_computed_in_another_thread():
    x = tg.constant(3.0)
    results = []
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        worker = threading.Thread(target=lambda: results.append(x * x))
        worker.start()
        worker.join()
    assert t.gradient(results[0], x) is None
    e = explained(t, results[0], x, "other_thread", "multiply() of v1", "records only the thread")
    assert "not a proven link" not in str(e)


def test_cast_to_an_integer_on_the_only_path():
    x = tg.Variable([1.4, 2.6])
    with tg.GradientTape(persistent=True) as t:
        y = tg.cast(tg.cast(x, tg.int32), tg.float32) * 2.0
    assert t.gradient(y, x) is None
    explained(t, y, x, "non_differentiable", "cast of variable", "to int32", "Integer and bool results")


def test_python_float_round_trip():
    x = tg.Variable([1.0, 2.0])
    with tg.GradientTape(persistent=True) as t:
        y = tg.constant(float(tg.reduce_sum(x * x))) * 2.0
    assert t.gradient(y, x) is None
    explained(t, y, x, "via_numpy", "(float())", "v3 (computed from variable")


def test_numpy_round_trip_into_a_target_on_the_tape():
    # The target is recorded (w is watched) but took x's values in as a constant.
    x, w = tg.Variable([1.0, 2.0]), tg.Variable(3.0)
    with tg.GradientTape(persistent=True) as t:
        with pytest.warns(tg.GradientLostWarning):
            z = tg.constant(np.asarray(x * 2.0)) * w
    assert t.gradient(z, x) is None and t.gradient(z, w) is not None
    explained(t, z, x, "via_numpy", "(np.asarray())")


def test_a_cut_that_does_not_reach_the_target_is_not_blamed():
    x, w = tg.Variable([1.0, 2.0]), tg.Variable(3.0)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        y.numpy()                         # printing a value: a cut, but z does not come from it
        z = w * 3.0
    assert t.gradient(z, x) is None
    explained(t, z, x, "no_path", "does not depend on variable")


def test_cut_notes_are_few_and_cost_nothing_outside_a_tape():
    from tapegrad.inspect_tape import CUTS
    x = tg.Variable([1.0, 2.0])
    x.numpy()
    tg.round(x)                           # nothing records: no tape to note it on
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        for _ in range(100):
            y.numpy()                     # one line: one note
        with t.stop_recording():
            tg.round(y)                   # the tape does not record here: no note either
    assert [(c.kind, c.detail) for c in CUTS[t._wengert]] == [("via_numpy", "numpy()")]


def test_ops_hidden_from_this_threads_tapes_are_not_another_thread():
    # Code run with this thread's recorders swapped out (as recompute_grad's forward is) is
    # not an op of another thread.
    from tapegrad import _core
    from tapegrad.inspect_tape import CUTS
    x = tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        old = _core.replace_stack([])
        try:
            tg.sin(y)
        finally:
            _core.replace_stack(old)
    assert CUTS.get(t._wengert, []) == []


def test_explain_rejects_what_gradient_rejects():
    x = tg.Variable(1.0)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
    with pytest.raises(AttributeError):
        t.explain(y, np.ones(2))
    with pytest.raises(TypeError):
        t.explain(y, [x, None])


def test_every_reason_is_documented():
    from pathlib import Path
    page = (Path(__file__).resolve().parents[1] / "docs" / "why-none.md").read_text()
    assert [r for r in REASONS if f"| `{r}` |" not in page] == []
