"""The public finite-difference checker must catch wrong rules."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core


def _op_with_rule(rule):
    # Unregistered on purpose: a deliberately wrong derivative.
    return _core.Op("cube_under_test", lambda x: x ** 3, (rule,), kind=_core.UNARY, save=_core.SAVE_INPUTS)


def test_check_gradients_accepts_a_correct_rule_to_second_order():
    cube = _op_with_rule(lambda g, ans, x: g * 3 * x * x)
    tg.test.check_gradients(cube, [np.array([0.3, -1.2, 2.0])], order=2)


def test_check_gradients_rejects_a_wrong_first_derivative():
    cube = _op_with_rule(lambda g, ans, x: g * 2 * x * x)
    with pytest.raises(AssertionError, match="order 1"):
        tg.test.check_gradients(cube, [np.array([0.3, -1.2, 2.0])], order=1)


def test_check_gradients_rejects_a_rule_that_is_wrong_only_at_second_order():
    # The first derivative's value is right but it is computed from a
    # detached copy of x, so the second derivative is lost (None -> 0).
    cube = _op_with_rule(lambda g, ans, x: g * 3 * tg.stop_gradient(x) * tg.stop_gradient(x)
                         if isinstance(x, tg.Tensor) else g * 3 * x * x)
    tg.test.check_gradients(cube, [np.array([0.3, -1.2, 2.0])], order=1)
    with pytest.raises(AssertionError, match="order 2"):
        tg.test.check_gradients(cube, [np.array([0.3, -1.2, 2.0])], order=2)


def test_compute_gradient_returns_matching_jacobians():
    x = np.array([0.5, 1.5, -2.0])
    theoretical, numerical = tg.test.compute_gradient(lambda t: tg.sin(t) * t[0], [x])
    expected = np.diag(np.cos(x) * x[0])
    expected[:, 0] += np.sin(x)
    np.testing.assert_allclose(theoretical[0], expected, rtol=1e-12)
    np.testing.assert_allclose(numerical[0], expected, rtol=1e-6, atol=1e-8)
