"""Rule forms (Op.vjp_forms): the core runs an op's VJP rule from its form,
without a Python frame, on raw values; on float64 scalars in C doubles with
NumPy's own float64 loops.  Every op that declares forms is run both ways (the
core's shortcuts on and off) on the same programs and must give the same bits,
the same dtypes and the same floating-point warnings; and the gradients match
finite differences."""
import sys
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops._registry import OPS
from tapegrad.test import numerical_jacobian

from conftest import apply_op, bits_of, both_paths, raises_fp_error_on_both_paths, warned

FORM_OPS = sorted(name for name, op in OPS.items() if op.vjp_forms is not None)
# Inputs inside every op's domain (log, sqrt, reciprocal, truediv need x > 0).
VALUES = [0.3, 0.7, 1.9]


def _program(op, xs, dtype, const_side=None):
    """Gradients of sum(op(...) * 1.0001 + 0.1) w.r.t. the watched inputs; a binary op
    with const_side 0 or 1 gets a Python float constant on that side."""
    ts = [tg.constant(np.asarray(x, dtype=dtype)) for x in xs]
    with tg.GradientTape() as t:
        t.watch(ts)
        y = apply_op(op, ts, const_side)
        y = tg.reduce_sum(y * 1.0001 + 0.1) if np.ndim(xs[0]) or np.ndim(xs[-1]) else y * 1.0001 + 0.1
    return [None if g is None else g.numpy() for g in t.gradient(y, ts)]


def test_the_hot_ops_have_forms():
    assert {"add", "subtract", "multiply", "truediv", "sin", "cos", "exp", "log", "tanh"} <= set(FORM_OPS)


@pytest.mark.parametrize("name", FORM_OPS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", ["scalar", "vector", "broadcast"])
def test_forms_give_the_rules_bits(name, dtype, shape):
    op = OPS[name]
    rng = np.random.default_rng(len(name))
    if shape == "scalar":
        xs = [dtype(v) for v in rng.uniform(0.2, 2.0, op.n_in)]
    elif shape == "vector":
        xs = [rng.uniform(0.2, 2.0, 16).astype(dtype) for _ in range(op.n_in)]
    else:
        xs = [rng.uniform(0.2, 2.0, (3, 4)).astype(dtype), rng.uniform(0.2, 2.0, 4).astype(dtype)][:op.n_in]
    sides = [None] if op.n_in == 1 else [None, 0, 1]
    for side in sides:
        on, off = both_paths(lambda side=side: _program(op, xs, dtype, side))
        assert [None if g is None else bits_of(g) for g in on] == [None if g is None else bits_of(g) for g in off]


@pytest.mark.parametrize("name", FORM_OPS)
def test_forms_match_finite_differences(name):
    op = OPS[name]
    xs = [np.array(VALUES[:op.n_in][k] + np.linspace(0, 0.5, 5)) for k in range(op.n_in)]
    grads = _program(op, xs, np.float64)

    def f(*a):
        return np.sum(op(*[tg.constant(v) for v in a]).numpy() * 1.0001 + 0.1)
    for i in range(op.n_in):
        num = numerical_jacobian(f, xs, i)[0]
        np.testing.assert_allclose(grads[i], num, rtol=1e-7, atol=1e-9)


def test_float64_scalars_take_numpys_own_loops():
    # Many float64 scalars through sin, cos, sinh, cosh, tanh and exp in one tape: the C path
    # (NumPy's float64 loops called on one element) and the Python rules (the ufuncs) agree
    # bit for bit, including signed zeros, huge arguments and subnormal results.
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-10, 10, 300), rng.uniform(-1e6, 1e6, 50),
                             [0.0, -0.0, 1e-310, -1e-310, 1e300, np.pi / 2, 700.0, -745.0]])
    ops = [tg.sin, tg.cos, tg.sinh, tg.cosh, tg.tanh, tg.exp]

    def grads():
        xs = [tg.constant(np.float64(v)) for v in values]
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with tg.GradientTape() as t:
                t.watch(xs)
                total = None
                for k, x in enumerate(xs):
                    y = ops[k % len(ops)](x) * 1.0001
                    total = y if total is None else total + y
            out = [g.numpy() for g in t.gradient(total, xs)]
        return out, sorted(str(w.message) for w in seen)
    (on, seen_on), (off, seen_off) = both_paths(grads)
    assert [bits_of(g) for g in on] == [bits_of(g) for g in off]
    assert all(type(g) is np.float64 for g in on)
    assert seen_on == seen_off


@pytest.mark.parametrize("x0, op", [(1e-310, tg.cos), (800.0, tg.exp), (1e300, lambda v: v * 1e10),
                                    (0.0, lambda v: 1.0 / v)])
def test_flagged_values_go_to_the_rules(x0, op):
    # underflow, overflow, division by zero: the same bits, warnings and errstate errors
    def grad():
        x = tg.constant(np.float64(x0))
        with tg.GradientTape() as t:
            t.watch(x)
            y = op(x)
        return t.gradient(y, x, output_gradients=tg.constant(np.float64(3.0))).numpy()

    (on, seen_on), (off, seen_off) = both_paths(lambda: warned(grad))
    assert bits_of(on) == bits_of(off) and seen_on == seen_off
    if seen_on:
        raises_fp_error_on_both_paths(grad)


def test_a_python_float_constant_stays_weak():
    # truediv's y-rule negates x: -1.25 of a Python constant stays a Python float (a NumPy
    # float64 would promote the float32 gradient to float64)
    y0 = np.array([0.5, 2.0, 3.0], dtype=np.float32)
    on, off = both_paths(lambda: _program(tg.math.truediv, [y0, y0], np.float32, const_side=0))
    assert on[1].dtype == np.float32 and bits_of(on[1]) == bits_of(off[1])


def test_jacobians_and_nested_tapes_use_the_rules_alike():
    x0 = np.linspace(0.2, 1.0, 4)

    def jac():
        x = tg.constant(x0)
        with tg.GradientTape() as t:
            t.watch(x)
            y = tg.tanh(tg.sin(x) * x) / (x + 1.0)
        return t.jacobian(y, x).numpy()

    def second():
        x = tg.constant(np.float64(0.4))
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = tg.exp(tg.sin(x)) * x
            dy = inner.gradient(y, x)
        return outer.gradient(dy, x).numpy()
    for fn in (jac, second):
        on, off = both_paths(fn)
        assert bits_of(on) == bits_of(off)


def _nest(uf, leaf, depth):
    return leaf if depth == 0 else (uf, _nest(uf, leaf, depth - 1))


@pytest.mark.parametrize("forms, message", [
    (("q",), "unknown leaf"),
    (((np.add, "g"),), "takes 2"),
    (((np.multiply, 2.0, 3.0),), "numbers only"),
    ((_nest(np.negative, "g", 8),), "steps"),
    (("g", "g"), "2 vjp_forms for 1 inputs"),
    (((np.multiply, "g", "ans"),), "does not save"),
])
def test_bad_forms_are_refused(forms, message):
    with pytest.raises(ValueError, match=message):
        _core.Op("bad", np.sin, (lambda g, ans, x: g,), kind=_core.UNARY, save=_core.SAVE_INPUTS, vjp_forms=forms)


def test_a_warning_inside_a_form_on_arrays_names_the_op():
    def grad():
        x = tg.constant(np.array([1.0, 2.0]))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with tg.GradientTape() as t:
                t.watch(x)
                y = x * 1e300
            g = t.gradient(y, x, output_gradients=tg.constant(np.array([1e10, 1.0]))).numpy()
        return bits_of(g), [str(w.message) for w in seen if "derivative" in str(w.message)]
    on, off = both_paths(grad)
    assert on == off and any("derivative of multiply" in m for m in on[1])


@pytest.mark.parametrize("x0", [np.float64(0.5), np.linspace(-1.0, 1.0, 16)])
def test_the_chain_runs_no_rule_frame(x0):
    # W1's and W2's chain: with the shortcuts on, no rule of math_ops runs as Python code
    # (a form that silently declined would still give the right bits, so count the frames)
    x = tg.constant(x0)
    with tg.GradientTape() as t:
        t.watch(x)
        y = x
        for _ in range(5):
            y = tg.tanh(tg.exp(tg.sin(y) * 1.0001 + 0.1) - 0.5) / 2.0
        if np.ndim(x0):
            y = tg.reduce_sum(y)
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.endswith("math_ops.py"):
            calls.append(frame.f_code.co_firstlineno)
    sys.setprofile(profile)
    try:
        t.gradient(y, x)
    finally:
        sys.setprofile(None)
    assert calls == []


# ---- where forms run, case by case ---------------------------------------------
# Forms on raw values run from one place (the core's _run_forms); every case it declines goes
# to the rules or to another shortcut.  Each case below runs both ways (bits and dtypes equal)
# and counts the Python rule frames, so a case that moved between forms and rules shows.

def _rule_frames(fn, files=("math_ops.py", "test_rule_forms.py")):
    """(fn(), the number of Python frames fn ran from `files` other than fn itself)."""
    calls = []

    def profile(frame, event, arg):
        code = frame.f_code
        if (event == "call" and code.co_filename.endswith(files) and code is not fn.__code__
                and (code.co_name == "<lambda>" or not code.co_filename.endswith("test_rule_forms.py"))):
            calls.append(code.co_name)
    sys.setprofile(profile)
    try:
        out = fn()
    finally:
        sys.setprofile(None)
    return out, len(calls)


def _grad_of(op, xs, seed, watch=(0, 1)):
    """The gradients of op(*xs) for the cotangent `seed`, w.r.t. the inputs in `watch`;
    returns a function for _rule_frames that runs only the sweep."""
    ts = [tg.constant(x) for x in xs]
    with tg.GradientTape() as t:
        t.watch([ts[i] for i in watch if i < len(ts)])
        y = op(*ts)
    return lambda: [None if g is None else g.numpy()
                    for g in t.gradient(y, ts, output_gradients=tg.constant(seed))]


_BIG = 2 * 4096  # above the core's fresh-factor threshold (_FRESH_FACTOR_MIN)
_FORM_CASES = {
    # a large float64 cotangent: an op without factors (truediv) runs its forms ...
    "big array, no factors": (tg.math.truediv, lambda r: [r.uniform(1, 2, _BIG), r.uniform(1, 2, _BIG)],
                              lambda r: r.uniform(-1, 1, _BIG), True),
    # ... one with factors takes the fresh-factor shortcut (its factor lambdas run, not the forms)
    "big array, factors": (tg.multiply, lambda r: [r.uniform(1, 2, _BIG), r.uniform(1, 2, _BIG)],
                           lambda r: r.uniform(-1, 1, _BIG), False),
    # a float32 NumPy scalar cotangent: forms on the scalar, through the ufuncs
    "float32 scalar": (tg.math.truediv, lambda r: [np.float32(1.5), np.float32(0.7)],
                       lambda r: np.float32(-2.5), True),
    # float16 arrays: forms (real floating point, not float32/float64)
    "float16 array": (tg.sin, lambda r: [r.uniform(-1, 1, 8).astype(np.float16)],
                      lambda r: r.uniform(-1, 1, 8).astype(np.float16), True),
    # a complex cotangent: the rules (a form takes real floating point only)
    "complex": (tg.multiply, lambda r: [r.uniform(1, 2, 4) + 1j, r.uniform(1, 2, 4) - 2j],
                lambda r: r.uniform(-1, 1, 4) + 0.5j, False),
}


@pytest.mark.parametrize("case", sorted(_FORM_CASES))
def test_each_decline_case_gives_the_rules_bits(case):
    op, xs, seed, forms = _FORM_CASES[case]

    def run():
        r = np.random.default_rng(5)
        return _rule_frames(_grad_of(op, xs(r), seed(r)))
    (on, n_on), (off, n_off) = both_paths(run)
    assert [bits_of(g) for g in on] == [bits_of(g) for g in off]
    assert [g.dtype for g in on] == [np.asarray(x).dtype for x in xs(np.random.default_rng(5))]
    assert (n_on == 0) == forms and n_off == op.n_in   # shortcuts off: one rule frame per input


def test_a_unit_cotangent_takes_the_unit_shortcut_not_the_forms():
    # reduce_sum's gradient is a broadcast view of one 1.0: sin (with factors) takes the
    # unit shortcut (its factor runs, not its form); log (no factors) runs its form on it
    x0 = np.linspace(0.5, 1.5, 16)
    for op, frames in ((tg.sin, 1), (tg.log, 0)):
        def run(op=op):
            x = tg.constant(x0)
            with tg.GradientTape() as t:
                t.watch(x)
                y = tg.reduce_sum(op(x))
            return _rule_frames(lambda: t.gradient(y, x).numpy(), files=("math_ops.py",))
        (on, n_on), (off, n_off) = both_paths(run)
        assert bits_of(on) == bits_of(off) and n_on == frames and n_off == 1   # off: the rule
        np.testing.assert_allclose(on, np.cos(x0) if op is tg.sin else 1 / x0, rtol=1e-15)


def _half_formed(name):
    # x * y with a form for x's rule only: with y wanting a gradient the node runs both rules
    return _core.Op(name, np.multiply, (lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x),
                    kind=_core.BINARY, save=_core.SAVE_INPUTS, vjp_forms=((np.multiply, "g", "y"), None))


@pytest.mark.parametrize("seed", [np.float64(1.5), np.array([1.5, -0.25, 3.0])])
def test_an_input_without_a_form_sends_the_node_to_the_rules(seed):
    op = _half_formed("half_formed")
    xs = [np.full(np.shape(seed), 0.7), np.full(np.shape(seed), 1.3)]
    for watch, frames in (((0,), 0), ((0, 1), 2)):
        (on, n_on), (off, n_off) = both_paths(lambda w=watch: _rule_frames(_grad_of(op, xs, seed, w)))
        assert [None if g is None else bits_of(g) for g in on] == [None if g is None else bits_of(g) for g in off]
        assert n_on == frames and n_off == len(watch)
        np.testing.assert_array_equal(on[0], seed * xs[1])
