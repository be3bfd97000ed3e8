"""gradient()'s short front end switches NumPy's error state and takes a one-shot tape without
the `with` block's and `_begin_use`'s frames, and ForwardAccumulator keeps a Tensor tangent of
the primal's dtype and shape without `_tangent_like`'s frame (docs/internals.md, "The front
ends' frames in forward over reverse").  These check that the state is restored on every exit,
on both NumPy routes, and that the tapes and accumulators behave as before."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _callsite


def _sqrt_at_zero():
    x = tg.constant([0.0, 4.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.sqrt(x)
    return tape, y, x


@pytest.mark.parametrize("numpy_route", ["contextvar", "errstate"])
def test_warning_at_the_users_line_and_error_state_restored(monkeypatch, numpy_route):
    if numpy_route == "errstate":
        monkeypatch.setattr(_callsite, "_STATE", None)      # NumPy 1.x's route: np.errstate
    before = np.geterr()
    tape, y, x = _sqrt_at_zero()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        (g,) = tape.gradient(y, [x])
    np.testing.assert_array_equal(g.numpy(), [np.inf, 0.25])   # d sqrt(x) = 0.5 / sqrt(x)
    (w,) = caught
    assert w.category is RuntimeWarning and w.filename == __file__
    assert "derivative of sqrt" in str(w.message)
    assert np.geterr() == before
    with warnings.catch_warnings(record=True) as caught:       # NumPy's own warning again afterwards
        warnings.simplefilter("always")
        np.float64(1.0) / np.float64(0.0)
    assert caught and "ops" not in caught[0].filename


@pytest.mark.parametrize("numpy_route", ["contextvar", "errstate"])
def test_error_state_restored_when_a_rule_raises(monkeypatch, numpy_route):
    if numpy_route == "errstate":
        monkeypatch.setattr(_callsite, "_STATE", None)
    before = np.geterr()

    @tg.custom_gradient
    def f(x):
        def grad(g):
            raise KeyError("from the rule")
        return x * 1.0, grad

    x = tg.constant(2.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = f(x)
    with pytest.raises(KeyError, match="from the rule"):
        tape.gradient(y, x)
    assert np.geterr() == before
    with pytest.raises(RuntimeError, match="released"):      # one-shot: consumed all the same
        tape.gradient(y, x)


def test_one_shot_and_persistent_tapes_as_before():
    x = tg.constant(3.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    assert tape.gradient(y, x).numpy() == 6.0                  # 2 x
    with pytest.raises(RuntimeError, match="released"):
        tape.gradient(y, x)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x * x
    assert tape.gradient(y, x).numpy() == 27.0                 # 3 x^2
    assert tape.gradient(y, [x])[0].numpy() == 27.0
    with tg.GradientTape() as tape:                             # inside the block: stops recording
        tape.watch(x)
        y = x * x
        assert tape.gradient(y, x).numpy() == 6.0
        z = x * y                                               # not recorded any more
    assert z.numpy() == 27.0


def test_accumulator_tangents_kept_or_converted():
    x = tg.constant(np.array([0.5, -1.0]))
    v = tg.constant(np.array([2.0, 3.0]))
    with tg.autodiff.ForwardAccumulator(x, v) as acc:
        y = tg.sin(x)
    assert acc.jvp(x) is v                                     # a Tensor of the right kind is kept
    np.testing.assert_allclose(acc.jvp(y).numpy(), np.cos([0.5, -1.0]) * [2.0, 3.0], rtol=1e-15)
    v32 = tg.constant(np.array([2.0, 3.0], np.float32))
    with tg.autodiff.ForwardAccumulator(x, v32) as acc:
        y = x * x
    assert acc.jvp(x).dtype == tg.float64                      # cast to the primal's dtype
    np.testing.assert_array_equal(acc.jvp(y).numpy(), [2.0, -6.0])     # 2 x v
    with pytest.raises(ValueError, match="shape must match"):
        tg.autodiff.ForwardAccumulator(x, tg.constant(np.array([1.0, 2.0, 3.0])))
