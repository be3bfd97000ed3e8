"""No silent zero gradients (issue 10, item 5): converting a tensor that a tape, accumulator or
transform tracks to an ndarray implicitly warns with tapegrad.GradientLostWarning, once per call
site; explicit conversions and conversions while nothing records stay silent."""
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.autograd import grad as ag_grad


def _lossy(x):
    y = np.asarray(x) * 2.0                                # the gradient through y is lost
    return tg.reduce_sum(tg.constant(y)) + 0.0 * tg.reduce_sum(x)


def test_the_warning_is_a_public_userwarning_subclass():
    assert issubclass(tg.GradientLostWarning, UserWarning)
    assert tg.GradientLostWarning is tg.errors.GradientLostWarning


def test_implicit_conversion_under_a_transform_warns_once_per_call_site():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            g = tg.grad(_lossy)(np.array([1.0, 2.0]))
    lost = [w for w in caught if issubclass(w.category, tg.GradientLostWarning)]
    assert len(lost) == 1                                   # one call site, three calls
    message = str(lost[0].message)
    assert "_lossy" in message and "np.asarray" in message
    assert "custom_gradient" in message and "primitive" in message and "tapegrad.scipy" in message
    assert lost[0].filename == __file__                     # reported at the conversion's line
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])   # the zeros the warning explains


def test_tape_and_accumulator_tracked_tensors_warn_untracked_do_not():
    x = tg.constant([1.0, 2.0], tg.float64)
    other = tg.constant([3.0], tg.float64)
    with pytest.warns(tg.GradientLostWarning):
        with tg.GradientTape() as tape:
            tape.watch(x)
            np.asarray(x + 1.0)                              # a recorded result of a watched tensor
    with pytest.warns(tg.GradientLostWarning):
        with tg.autodiff.ForwardAccumulator(x, tg.ones_like(x)):
            np.asarray(x * 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tg.GradientTape() as tape:
            tape.watch(x)
            np.asarray(other)                                # not tracked by the tape
        np.asarray(x)                                        # nothing records


def test_explicit_conversions_stay_silent():
    x = tg.constant([1.0, 2.0], tg.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = x * 2.0
            y.numpy()
            float(y[0])
            str(y)
            repr(y)
            f"{y[0]:.2f}"
            np.argmax(y)                                     # integer result: no gradient to lose
        tape.gradient(y, x)


def test_variables_read_by_a_tape_warn():
    v = tg.Variable([1.0, 2.0], dtype=tg.float64)
    with pytest.warns(tg.GradientLostWarning, match="variable"):
        with tg.GradientTape() as tape:
            tape.watch(v)
            np.asarray(v)


def test_warning_can_be_turned_into_an_error_to_find_the_line():
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.GradientLostWarning)
        with pytest.raises(tg.GradientLostWarning):
            tg.grad(lambda x: tg.constant(np.asarray(x)) * x)(2.0)


def test_autograd_front_end_warns_too():
    with pytest.warns(tg.GradientLostWarning):
        with pytest.warns(UserWarning, match="independent"):
            ag_grad(lambda x: float(np.sum(np.asarray(x))) * 1.0)(np.array([1.0]))


def test_scipy_function_on_a_traced_tensor_warns_instead_of_a_silent_zero():
    stats = pytest.importorskip("scipy.stats")
    with pytest.warns(tg.GradientLostWarning):
        with pytest.warns(UserWarning, match="independent"):
            g = tg.grad(lambda m: stats.norm.logpdf(m, 0.0, 1.0))(0.5)
    assert g.numpy() == 0.0


def test_a_library_conversion_is_reported_at_the_users_line():
    stats = pytest.importorskip("scipy.stats")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tg.grad(lambda m: tg.constant(stats.norm.logpdf(m, 0.0, 1.0)) + 0.0 * m)(0.5)
        tg.grad(lambda m: tg.constant(stats.norm.logpdf(m, 0.0, 2.0)) + 0.0 * m)(0.5)   # another user line
    lost = [w for w in caught if issubclass(w.category, tg.GradientLostWarning)]
    assert [w.filename for w in lost] == [__file__, __file__]
    assert "scipy" in str(lost[0].message)                   # names the module that converted
