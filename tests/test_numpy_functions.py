"""NumPy's functions, ufuncs and ndarray methods on tensors (issue 9): the
compositions in tests/op_records.py's NUMPY table checked against NumPy's own
values and against finite differences (first and second order, forward mode,
the batched Jacobian); the untracked fallback for functions without a rule;
ndarray's methods on Tensor and Variable; and a walk over NumPy's namespace."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tapegrad as tg
from tapegrad.ops import _coverage, _registry, numpy_arrays
from tapegrad.test import check_gradients, numerical_jacobian

from op_records import NUMPY_RECORDS

NAMES = sorted(NUMPY_RECORDS)
# NumPy 2 deprecates cross products of 2-vectors; they are still NumPy's behaviour, so they are checked.
pytestmark = pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors:DeprecationWarning")


def _on_tensors(rec):
    return lambda *ts: rec.f(*ts)


@pytest.mark.parametrize("name", NAMES)
def test_value_is_numpys(name):
    rec = NUMPY_RECORDS[name]
    for dtype in (np.float64, np.float32):
        xs = rec.inputs(dtype)
        with np.errstate(all="ignore"):
            want = rec.f(*xs)
            got = rec.f(*[tg.constant(x) for x in xs])
        assert isinstance(got, tg.Tensor)
        assert got.dtype == dtype, f"{got.dtype} for {np.dtype(dtype).name} inputs"
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-6 if dtype == np.float64 else 2e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_finite_differences_to_second_order(name):
    rec = NUMPY_RECORDS[name]
    with np.errstate(all="ignore"):
        check_gradients(_on_tensors(rec), rec.inputs(), order=rec.order, rtol=rec.rtol, atol=rec.atol)


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_and_batched_jacobian(name):
    rec = NUMPY_RECORDS[name]
    xs = rec.inputs()
    f = _on_tensors(rec)
    rng = np.random.default_rng(5)
    for i in range(len(xs)):
        with np.errstate(all="ignore"):
            num = numerical_jacobian(f, xs, i)
        ts = [tg.constant(x) for x in xs]
        with tg.GradientTape() as tape:
            tape.watch(ts[i])
            with np.errstate(all="ignore"):
                y = f(*ts)
        with np.errstate(all="ignore"):
            jac = tape.jacobian(y, ts[i])
        got = np.zeros_like(num) if jac is None else np.asarray(jac).reshape(num.shape)
        np.testing.assert_allclose(got, num, rtol=1e-4, atol=1e-5, err_msg=f"jacobian, input {i}")
        v = rng.standard_normal(np.shape(xs[i]))
        ts = [tg.constant(x) for x in xs]
        with tg.autodiff.ForwardAccumulator(ts[i], tg.constant(v)) as acc:
            with np.errstate(all="ignore"):
                y = f(*ts)
        jv = acc.jvp(y)
        want = num.reshape(-1, v.size) @ v.reshape(-1)
        got = np.zeros_like(want) if jv is None else np.broadcast_to(np.asarray(jv), np.shape(y)).reshape(-1)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"jvp, input {i}")


@pytest.mark.parametrize("name", NAMES)
def test_float32_in_float32_gradient_out(name):
    rec = NUMPY_RECORDS[name]
    xs = [tg.constant(x) for x in rec.inputs(np.float32)]
    with tg.GradientTape() as tape:
        tape.watch(xs)
        with np.errstate(all="ignore"):
            y = rec.f(*xs)
    grads = tape.gradient(y, xs)
    assert all(g is not None and g.dtype == tg.float32 and g.shape == x.shape for g, x in zip(grads, xs))


# ---- hand-derived values -------------------------------------------------------------------

def _derivatives(f, x0, order):
    x = tg.constant(x0, tg.float64)
    tapes = [tg.GradientTape(persistent=True) for _ in range(order)]
    for t in tapes:
        t.__enter__()
        t.watch(x)
    y = f(x)
    out = [y]
    for t in reversed(tapes):
        t.__exit__(None, None, None)
        y = t.gradient(y, x)
        out.append(y)
    return [float(v) for v in out]


def test_sinc_at_zero_has_its_taylor_derivatives():
    # sinc(x) = 1 - (pi x)^2 / 6 + (pi x)^4 / 120 - ...: derivatives 0, -pi^2/3, 0, pi^4/5 at 0.
    vals = _derivatives(np.sinc, 0.0, 4)
    np.testing.assert_allclose(vals, [1.0, 0.0, -math.pi ** 2 / 3, 0.0, math.pi ** 4 / 5], rtol=1e-9, atol=1e-12)


def test_sinc_derivative_in_float32_near_zero_is_accurate():
    x = tg.constant(np.float32(1e-3))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = np.sinc(x)
    want = -math.pi ** 2 / 3 * 1e-3
    assert tape.gradient(y, x).numpy() == pytest.approx(want, rel=1e-5)


def test_logaddexp_and_hypot_gradients_by_hand():
    x, y = tg.constant(0.5, tg.float64), tg.constant(-1.0, tg.float64)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        a = np.logaddexp(x, y)
        b = np.hypot(x, y)
    dx, dy = tape.gradient(a, [x, y])
    s = math.exp(0.5) + math.exp(-1.0)
    assert (float(dx), float(dy)) == pytest.approx((math.exp(0.5) / s, math.exp(-1.0) / s))
    dx, dy = tape.gradient(b, [x, y])
    r = math.hypot(0.5, -1.0)
    assert (float(dx), float(dy)) == pytest.approx((0.5 / r, -1.0 / r))


def test_fmax_sends_the_gradient_past_a_nan():
    x = tg.constant([np.nan, 1.0, 2.0], tg.float64)
    y = tg.constant([3.0, np.nan, 2.0], tg.float64)
    with tg.GradientTape() as tape:
        tape.watch([x, y])
        z = np.fmax(x, y)
    np.testing.assert_array_equal(z.numpy(), [3.0, 1.0, 2.0])
    gx, gy = tape.gradient(z, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [0.0, 1.0, 1.0])          # a tie goes to x
    np.testing.assert_array_equal(gy.numpy(), [1.0, 0.0, 0.0])


def test_rounding_functions_have_no_gradient():
    x = tg.constant([0.26, -1.7])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        outs = [np.round(x, 1), np.around(x), np.fix(x), np.trunc(x), x.round(1)]
    np.testing.assert_allclose(outs[0].numpy(), [0.3, -1.7])
    np.testing.assert_array_equal(outs[2].numpy(), [0.0, -1.0])
    assert all(tape.gradient(o, x) is None for o in outs)


def test_argsort_and_argpartition_run_on_tracked_tensors_without_gradient():
    x = tg.constant([3.0, 1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        np.testing.assert_array_equal(np.argsort(x), [1, 2, 0])
        np.testing.assert_array_equal(np.argpartition(x, 1)[:2], [1, 2])
        np.testing.assert_array_equal(x.argsort(), [1, 2, 0])


# ---- functions without a rule --------------------------------------------------------------

def test_a_function_without_a_rule_runs_on_untracked_tensors():
    g = tg.constant([0.5, -1.0, 2.0])
    hist, edges = np.histogram(g, bins=2)
    np.testing.assert_array_equal(hist, [1, 2])
    assert isinstance(np.unique(g), np.ndarray)
    np.testing.assert_array_equal(np.add.reduce(g), 1.5)
    with tg.GradientTape():                         # a tape that does not track g
        assert np.median(g) == 0.5


def test_a_function_without_a_rule_raises_on_a_tracked_tensor():
    x = tg.constant([0.5, -1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match="numpy.median"):
            np.median(x)
        with pytest.raises(TypeError, match="numpy.add.reduce"):
            np.add.reduce(x * 2.0)
    v = tg.Variable([1.0, 2.0])
    with tg.GradientTape():
        with pytest.raises(TypeError, match="numpy.median"):
            np.median(v)
    with tg.autodiff.ForwardAccumulator(x, tg.constant([1.0, 0.0, 0.0])):
        with pytest.raises(TypeError, match="numpy.ptp"):
            np.ptp(x)


def test_a_functional_transform_tracks_its_input():
    with pytest.raises(TypeError, match="numpy.median"):
        tg.grad(lambda x: np.median(x))(np.array([1.0, 2.0, 3.0]))


# ---- ndarray methods and properties ----------------------------------------------------------

def test_methods_are_recorded_on_variables():
    v = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
    with tg.GradientTape() as tape:
        y = (v.T * v).sum() + v.mean(axis=0).sum() + v.reshape(4).max()
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [[2.5, 6.5], [4.5, 9.5]])  # 2 v.T + 1/2 + the maximum's 1


def test_methods_share_one_table_with_variable():
    for name in ("sum", "reshape", "T", "astype", "sort", "item"):
        assert getattr(tg.Tensor, name) is getattr(tg.Variable, name)


def test_value_methods():
    x = tg.constant([[1.5, -2.0], [0.0, 3.0]])
    assert x.item(3) == 3.0 and tg.constant(2.5).item() == 2.5
    assert x.tolist() == [[1.5, -2.0], [0.0, 3.0]]
    assert x.argmax() == 3 and x.argmin(axis=1).tolist() == [1, 0]
    assert not x.all() and x.any(axis=1).tolist() == [True, True]
    assert x.astype(np.float64).dtype == tg.float64
    assert x.mT.shape == (2, 2) and len(x) == 2 and [r.shape for r in x] == [(2,), (2,)]
    with pytest.raises(ValueError, match="ndim < 2"):
        _ = tg.constant([1.0]).mT


@pytest.mark.parametrize("method", ["sort", "fill", "resize", "partition", "put"])
def test_in_place_methods_say_tensors_are_immutable(method):
    with pytest.raises(TypeError, match="immutable"):
        getattr(tg.constant([2.0, 1.0]), method)(0)
    with pytest.raises(TypeError, match="assign"):
        getattr(tg.Variable([2.0, 1.0]), method)(0)


def test_copy_is_recorded():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x.copy() * 3.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, 3.0])


# ---- mixed operands and constant(tensor) ---------------------------------------------------------

@pytest.mark.parametrize("tensor_dtype, other, want", [
    (np.float32, np.array([1.0, 2.0]), "float32"),
    (np.float64, np.array([True, False]), "float64"),
    (np.float64, np.array([1, 2], dtype=np.int64), "float64"),
    (np.float32, np.float64(2.0), "float32"),
    (np.float32, [1, 2], "float32"),
])
def test_non_tensor_operands_take_the_tensors_dtype(tensor_dtype, other, want):
    x = tg.constant(np.array([1.0, 2.0], dtype=tensor_dtype))
    assert (x * other).dtype.name == want and (other * x).dtype.name == want
    assert (x + other).dtype.name == want and (other + x).dtype.name == want
    assert np.hstack([x, other]).dtype.name == want


def test_constant_of_a_tensor_is_that_tensor_still_on_the_tape():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.constant(x * 2.0)
        z = tg.convert_to_tensor(y) * y
    assert tg.constant(x) is x and tg.constant(x, tg.float32) is x
    assert tg.constant(x, tg.float64) is not x
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [8.0, 16.0])


# ---- NumPy's namespace --------------------------------------------------------------------------

def test_numpy_namespace_walk_lists_every_registered_function():
    rows = _coverage.numpy_namespace()
    covered = {name for name, has_rule in rows if has_rule}
    assert {"numpy.sin", "numpy.hstack", "numpy.kron", "numpy.linalg.solve", "numpy.sinc"} <= covered
    assert ("numpy.median", False) in rows
    registered = {f for f in list(_registry.UFUNCS) + list(_registry.FUNCTIONS)}
    walked = {name for name, _ in rows}
    for f in registered:
        module = "numpy" if isinstance(f, np.ufunc) else f.__module__.replace("numpy._core.", "numpy.")
        assert any(n.endswith("." + f.__name__) for n in walked), f"{module}.{f.__name__} not walked"


def test_real_imag_conj_of_a_real_tensor():
    x = tg.constant([1.5, -2.0])
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        re, im, cj = x.real, x.imag, x.conj()
    assert re is x and cj is x
    np.testing.assert_array_equal(im.numpy(), [0.0, 0.0])
    assert im.dtype == tg.float32 and tape.gradient(im, x) is None


# ---- values against NumPy on random shapes and arguments (hypothesis) -------------------------

_PROGRAMS = {
    "split": lambda a, k: np.array_split(a, k % 4 + 1, axis=-1),
    "roll": lambda a, k: np.roll(a, k - 3, axis=0),
    "rot90": lambda a, k: np.rot90(a, k, axes=(0, -1)),
    "repeat": lambda a, k: np.repeat(a, k % 3, axis=-1),
    "diff": lambda a, k: np.diff(a, n=k % 3, axis=0),
    "tril": lambda a, k: np.tril(a, k - 3),
    "triu": lambda a, k: np.triu(a, k - 3),
    "diagonal": lambda a, k: np.diagonal(a, k - 3, axis1=0, axis2=-1),
    "trace": lambda a, k: np.trace(a, k - 3, axis1=-1, axis2=0),
    "kron": lambda a, k: np.kron(a, a[..., : k % 3]),
    "atleast_3d": lambda a, k: np.atleast_3d(a[(0,) * (k % a.ndim)]),
    "partition": lambda a, k: np.sort(np.partition(a, k % a.shape[-1], axis=-1)[..., : k % a.shape[-1] + 1]),
    "reshape_F": lambda a, k: np.reshape(a, (-1,) + a.shape[2:], order="F"),
    "rollaxis": lambda a, k: np.rollaxis(a, k % a.ndim, (k * 7) % (a.ndim + 1)),
}


def _as_list(r):
    return list(r) if isinstance(r, (list, tuple)) else [r]


@pytest.mark.parametrize("name", sorted(_PROGRAMS))
@settings(max_examples=12, deadline=None)
@given(a=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4),
                    elements=st.floats(-4, 4)),
       k=st.integers(0, 6))
def test_values_match_numpy_on_random_shapes(name, a, k):
    f = _PROGRAMS[name]
    want = _as_list(f(a, k))
    got = _as_list(f(tg.constant(a), k))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert isinstance(g, tg.Tensor) and g.shape == np.shape(w)
        np.testing.assert_allclose(g.numpy(), w, rtol=1e-12, atol=1e-12)


def test_positional_arguments_follow_numpys_signatures():
    a = np.arange(6.0).reshape(2, 3)
    x = tg.constant(a)
    for got, want in [(np.max(x, 0, None, True), np.max(a, 0, None, True)),
                      (x.min(1, None, True), a.min(1, None, True)),
                      (x.sum(0, None, None, True), a.sum(0, None, None, True)),
                      (x.std(1, None, None, 1), a.std(1, None, None, 1)),
                      (x.reshape(3, 2).transpose(1, 0), a.reshape(3, 2).transpose(1, 0)),
                      (x.repeat(2, 1), a.repeat(2, 1)), (x.clip(1, 4), a.clip(1, 4)), (x.trace(1), a.trace(1))]:
        assert got.shape == want.shape
        np.testing.assert_allclose(got.numpy(), want)


def test_cross_of_2_element_vectors_follows_the_installed_numpy():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 5.0])
    if numpy_arrays._numpy_takes_2d_cross():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            want = np.cross(a, b)
        assert float(np.cross(tg.constant(a), tg.constant(b))) == float(want) == -1.0
    else:                                   # NumPy >= 2.5 refuses them; so does np.cross on tensors
        with pytest.raises(ValueError, match="3-dimensional vectors"):
            np.cross(a, b)
        with pytest.raises(ValueError, match="3-dimensional vectors"):
            np.cross(tg.constant(a), tg.constant(b))
