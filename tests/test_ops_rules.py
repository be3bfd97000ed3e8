"""The registry's records (tests/op_records.py) checked three ways per op:
against finite differences (first and second order, float64, through nested
tapes), JVP rule against VJP rule on random directions (<u, J v> both ways,
rules called directly on raw arrays as the engines call them), and the
batching contract (a cotangent with extra leading axes)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad import _core
from tapegrad.ops import _registry
from tapegrad.test import _direction, _inner, check_gradients

from op_records import COMPLEX_RECORDS, DOMAINS, RECORDS

# Complex cases of ops recorded with real values run through the same checks (tapegrad.test treats complex
# values as pairs of reals); test_every_differentiable_op_has_a_record counts RECORDS only.
ALL = {**RECORDS, **COMPLEX_RECORDS}
NAMES = sorted(RECORDS)
CASES = sorted(ALL)


def _params(names):
    """The names as pytest params, skipped where a record needs what is not installed (SciPy)."""
    return [pytest.param(n, marks=ALL[n].marks) for n in names]


def test_every_differentiable_op_has_a_record():
    differentiable = {name for name, op in _registry.OPS.items() if op.differentiable}
    assert sorted(differentiable - set(RECORDS)) == [], "ops without a record in tests/op_records.py"
    assert sorted(set(RECORDS) - differentiable) == [], "records for ops that are not registered"


@pytest.mark.parametrize("name", _params(CASES))
def test_finite_differences(name):
    rec = ALL[name]
    with np.errstate(all="ignore"):
        check_gradients(rec.apply, rec.inputs(), order=rec.order, rtol=rec.rtol, atol=rec.atol)


# ---- the rules called as the engines call them ------------------------------------------

def _forward(rec, xs):
    return rec.Op.forward(*xs, *(rec.params or ()))


def _vjp(rec, g, ans, xs, i, batch_ndim=0):
    """Input i's gradient, with what the core passes (unsaved values are None)."""
    op = rec.Op
    ins = tuple(xs) if op.save & _core.SAVE_INPUTS else (None,) * len(xs)
    a = ans if op.save & _core.SAVE_ANS else None
    return op.vjp(i, g, a, ins, rec.raw_params(xs), batch_ndim)


def _jvp(rec, t, ans, xs, i):
    return rec.Op.jvp(i, t, ans, tuple(xs), rec.raw_params(xs))


def _outputs(ans):
    return ans if isinstance(ans, tuple) else (ans,)


def _raw_case(rec):
    xs = rec.inputs()
    if rec.prepare is not None:
        xs = [np.asarray(x) for x in rec.prepare(*xs)]
    ans = _forward(rec, xs)
    return xs, ans


@pytest.mark.parametrize("name", _params(CASES))
def test_jvp_agrees_with_vjp(name):
    rec = ALL[name]
    xs, ans = _raw_case(rec)
    rng = np.random.default_rng(1)
    outs = _outputs(ans)
    us = tuple(_direction(rng, np.shape(o), o) for o in outs)
    u = us if isinstance(ans, tuple) else us[0]
    for i, x in enumerate(xs):
        if i in rec.nograd:
            continue
        v = _direction(rng, np.shape(x), x)
        with np.errstate(all="ignore"):
            jv = _jvp(rec, v, ans, xs, i)
            vu = _vjp(rec, u, ans, xs, i)
        jv = _outputs(jv) if isinstance(ans, tuple) else (jv,)
        lhs = sum(_inner(uo, np.broadcast_to(j, np.shape(o))) for uo, j, o in zip(us, jv, outs) if j is not None)
        rhs = 0.0 if vu is None else _inner(np.asarray(vu), v)
        assert lhs == pytest.approx(rhs, rel=1e-7, abs=1e-9), f"input {i}: <u, J v> = {lhs}, <J^T u, v> = {rhs}"


@pytest.mark.parametrize("name", _params([n for n in CASES if ALL[n].Op.batching]))
def test_vjp_accepts_leading_batch_axes(name):
    rec = ALL[name]
    xs, ans = _raw_case(rec)
    rng = np.random.default_rng(2)
    outs = _outputs(ans)
    lead = (2, 3)
    batched = tuple(_direction(rng, lead + np.shape(o), o) for o in outs)
    for i in range(len(xs)):
        if i in rec.nograd:
            continue
        g = batched if isinstance(ans, tuple) else batched[0]
        with np.errstate(all="ignore"):
            got = _vjp(rec, g, ans, xs, i, batch_ndim=len(lead))
        if got is None:
            continue
        got = np.asarray(got)
        assert got.shape == lead + np.shape(xs[i])
        for j in np.ndindex(*lead):
            row = tuple(b[j] for b in batched) if isinstance(ans, tuple) else batched[0][j]
            with np.errstate(all="ignore"):
                want = _vjp(rec, row, ans, xs, i)
            np.testing.assert_allclose(got[j], np.asarray(want), rtol=1e-10, atol=1e-12)


_LOW = {"float32", "complex64"}


@pytest.mark.parametrize("name", _params([n for n in CASES if _LOW & set(ALL[n].dtypes)]))
def test_float32_in_float32_gradient_out(name):
    rec = ALL[name]
    low = next(d for d in rec.dtypes if d in _LOW)
    xs = [tg.constant(x) for x in rec.inputs(low)]
    with tg.GradientTape() as tape:
        tape.watch(xs)
        with np.errstate(all="ignore"):
            y = rec.apply(*xs)
    assert y.dtype in (tg.float32, tg.complex64)
    grads = tape.gradient(y, xs)
    assert any(g is not None for g in grads)
    for x, g in zip(xs, grads):
        if g is not None:
            assert g.dtype == x.dtype and g.shape == x.shape


# ---- broadcasting (hypothesis): every binary op, first order, against finite differences ----

BINARY = [n for n in NAMES if RECORDS[n].Op.kind == _core.BINARY and not RECORDS[n].nograd]


@pytest.mark.parametrize("name", _params(BINARY))
@settings(max_examples=15, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=st.integers(0, 2**16))
def test_binary_ops_unbroadcast_gradients(name, shapes, seed):
    rec = RECORDS[name]
    r = np.random.default_rng(seed)
    xs = [np.asarray(DOMAINS[d](r, s), dtype=np.float64) for (_, d), s in zip(rec.args, shapes.input_shapes)]
    with np.errstate(all="ignore"):
        check_gradients(rec.apply, xs, order=1)
    ts = [tg.constant(x) for x in xs]
    with tg.GradientTape() as tape:
        tape.watch(ts)
        y = rec.apply(*ts)
    assert y.shape == shapes.result_shape
    assert [tuple(g.shape) for g in tape.gradient(y, ts)] == [tuple(s) for s in shapes.input_shapes]


# ---- end to end through the engines: batched jacobian (VJPs) and ForwardAccumulator (JVPs) ----

@pytest.mark.parametrize("name", _params(CASES))
def test_jacobian_matches_finite_differences(name):
    from tapegrad.test import numerical_jacobian
    rec = ALL[name]
    xs = rec.inputs()
    for i in range(len(xs)):
        ts = [tg.constant(x) for x in xs]
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(ts[i])
            with np.errstate(all="ignore"):
                y = rec.apply(*ts)
        with np.errstate(all="ignore"):
            jac = tape.jacobian(y, ts[i])
            num = numerical_jacobian(rec.apply, xs, i)
        got = np.zeros_like(num) if jac is None else np.asarray(jac).reshape(num.shape)
        np.testing.assert_allclose(got, num, rtol=1e-4, atol=1e-5, err_msg=f"input {i}")


@pytest.mark.parametrize("name", _params(CASES))
def test_forward_accumulator_matches_finite_differences(name):
    rec = ALL[name]
    xs = rec.inputs()
    rng = np.random.default_rng(3)
    for i in range(len(xs)):
        v = _direction(rng, np.shape(xs[i]), xs[i])
        ts = [tg.constant(x) for x in xs]
        with tg.autodiff.ForwardAccumulator(ts[i], tg.constant(v)) as acc:
            with np.errstate(all="ignore"):
                y = rec.apply(*ts)
        jv = acc.jvp(y)

        def at(step, i=i, v=v):
            moved = list(xs)
            moved[i] = xs[i] + step * v
            with np.errstate(all="ignore"):
                return np.asarray(rec.apply(*[tg.constant(a) for a in moved]))
        num = (at(1e-6) - at(-1e-6)) / 2e-6
        got = np.zeros_like(num) if jv is None else np.broadcast_to(np.asarray(jv), num.shape)
        np.testing.assert_allclose(got, num, rtol=1e-4, atol=1e-5, err_msg=f"input {i}")
