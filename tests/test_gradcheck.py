"""The public finite-difference checker must catch wrong rules, in each mode it checks: reverse
mode (VJP rules, through tapes) and forward mode (JVP rules, through accumulators)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core

X = [np.array([0.3, -1.2, 2.0])]


def _right_vjp(g, ans, x):
    return g * 3 * x * x


def _right_jvp(t, ans, x):
    return t * 3 * x * x


def _cube(vjp=_right_vjp, jvp=_right_jvp):
    # x ** 3 with the given rules (jvp=None: no JVP rule; the core treats an op without VJP rules
    # as not differentiable, so it always has one).  Unregistered on purpose: the
    # rules may be deliberately wrong, and no other test should ever see this op.
    return _core.Op("cube_under_test", lambda x: x ** 3, (vjp,), kind=_core.UNARY, save=_core.SAVE_INPUTS,
                    jvps=None if jvp is None else (jvp,))


def _detached(rule):
    # The same value from a detached copy of x: right at first order, but the derivative of
    # the rule itself is lost (None -> 0), so only a second-order check sees it.
    def detached(g, ans, x):
        if isinstance(x, tg.Tensor):
            x = tg.stop_gradient(x)
        return rule(g, ans, x)
    return detached


def test_check_gradients_accepts_a_correct_rule_to_second_order():
    tg.test.check_gradients(_cube(), X, order=2)


def test_check_gradients_rejects_a_wrong_first_derivative():
    cube = _cube(vjp=lambda g, ans, x: g * 2 * x * x)
    with pytest.raises(AssertionError, match="order 1"):
        tg.test.check_gradients(cube, X, order=1)


def test_check_gradients_rejects_a_rule_that_is_wrong_only_at_second_order():
    cube = _cube(vjp=_detached(_right_vjp))
    tg.test.check_gradients(cube, X, order=1)
    with pytest.raises(AssertionError, match="order 2"):
        tg.test.check_gradients(cube, X, order=2)


def test_compute_gradient_returns_matching_jacobians():
    x = np.array([0.5, 1.5, -2.0])
    theoretical, numerical = tg.test.compute_gradient(lambda t: tg.sin(t) * t[0], [x])
    expected = np.diag(np.cos(x) * x[0])
    expected[:, 0] += np.sin(x)
    np.testing.assert_allclose(theoretical[0], expected, rtol=1e-12)
    np.testing.assert_allclose(numerical[0], expected, rtol=1e-6, atol=1e-8)


# ---- each mode checks its own rules, and only those ---------------------------------------------

def test_forward_mode_catches_a_wrong_jvp_that_reverse_mode_never_calls():
    cube = _cube(jvp=lambda t, ans, x: t * 2 * x * x)
    tg.test.check_gradients(cube, X, order=2, modes=("rev",))
    with pytest.raises(AssertionError, match="order 1 w.r.t. argument 0: forward mode gives"):
        tg.test.check_gradients(cube, X, order=1, modes=("fwd",))
    with pytest.raises(AssertionError, match="forward mode"):
        tg.test.check_gradients(cube, X, order=1)                      # the default checks both


def test_reverse_mode_catches_a_wrong_vjp_that_forward_mode_never_calls():
    cube = _cube(vjp=lambda g, ans, x: g * 2 * x * x)
    tg.test.check_gradients(cube, X, order=2, modes=("fwd",))
    with pytest.raises(AssertionError, match="order 1 w.r.t. argument 0: reverse mode gives"):
        tg.test.check_gradients(cube, X, order=1, modes=("rev",))


def test_forward_mode_catches_a_jvp_wrong_only_at_second_order():
    # Forward over forward: the JVP rule's own tangent is what an outer accumulator sees.
    cube = _cube(jvp=_detached(_right_jvp))
    tg.test.check_gradients(cube, X, order=1, modes=("fwd",))
    tg.test.check_gradients(cube, X, order=2, modes=("rev",))
    with pytest.raises(AssertionError, match="order 2 w.r.t. argument 0: forward mode gives"):
        tg.test.check_gradients(cube, X, order=2, modes=("fwd",))


def test_reverse_mode_needs_no_jvp_rule_and_forward_mode_reports_a_missing_one():
    tg.test.check_gradients(_cube(jvp=None), X, order=2, modes=("rev",))
    with pytest.raises(LookupError, match="'cube_under_test' has no JVP rule"):
        tg.test.check_gradients(_cube(jvp=None), X, order=1, modes=("fwd",))


def test_forward_mode_checks_every_argument_of_a_custom_gradient():
    # A custom_gradient's forward mode transposes grad_fn (as TensorFlow does), so a wrong
    # grad_fn is caught in both modes, for the argument it gets wrong.
    @tg.custom_gradient
    def scaled_product(a, b):
        def grad(dy):
            return dy * b, dy * a * 2.0               # d/db is a, not 2a
        return a * b, grad

    args = [np.array([0.5, -1.5]), np.array([2.0, 0.25])]
    for mode in ("fwd", "rev"):
        with pytest.raises(AssertionError, match="order 1 w.r.t. argument 1"):
            tg.test.check_gradients(scaled_product, args, order=1, modes=(mode,))
        tg.test.check_gradients(scaled_product, args, order=1, modes=(mode,), argnums=[0])


@pytest.mark.parametrize("modes", [(), ("bwd",), "fwd"])
def test_modes_must_name_forward_or_reverse(modes):
    with pytest.raises(ValueError, match="modes must be"):
        tg.test.check_gradients(_cube(), X, modes=modes)
