"""Pytrees and NumPy dtypes in the functional transforms (issue 10, items 1-2): lists, tuples,
dicts, namedtuples and None leaves as arguments, gradients of the same structure, argnums
tuples, has_aux, tg.ravel_pytree, and SciPy's minimize driving tg.value_and_grad."""
import collections
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.test import numerical_jacobian

P = collections.namedtuple("P", "w b")
RNG = np.random.default_rng(10)


def _np(tree):
    """Tensors -> ndarrays, structure kept (None stays None)."""
    if isinstance(tree, dict):
        return {k: _np(v) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):
        return type(tree)(*[_np(v) for v in tree])
    if isinstance(tree, (list, tuple)):
        return type(tree)(_np(v) for v in tree)
    return None if tree is None else np.asarray(tree.numpy())


def _numeric_grad(f, tree):
    """Central differences of scalar f over every leaf of the pytree, as one flat vector."""
    flat, unravel = tg.ravel_pytree(tree)
    return numerical_jacobian(lambda v: f(unravel(v)), [flat], 0).reshape(-1)


def _mlp_loss(params, x, y):
    (w1, b1), (w2, b2) = params
    h = np.tanh(x @ w1 + b1)
    return np.sum((h @ w2 + b2 - y) ** 2)


def test_grad_of_a_list_of_tuples_has_that_structure_and_matches_finite_differences():
    params = [(RNG.standard_normal((3, 4)), RNG.standard_normal(4)),
              (RNG.standard_normal((4, 2)), RNG.standard_normal(2))]
    x, y = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    g = tg.grad(_mlp_loss)(params, x, y)
    assert type(g) is list and all(type(layer) is tuple for layer in g)
    assert [tuple(t.shape) for layer in g for t in layer] == [(3, 4), (4,), (4, 2), (2,)]
    got = tg.ravel_pytree(_np(g))[0]
    np.testing.assert_allclose(got, _numeric_grad(lambda p: _mlp_loss(p, x, y), params), rtol=1e-6, atol=1e-7)


def test_same_shaped_list_is_never_stacked():
    g = tg.grad(lambda p: p[0] * p[1])([2.0, 3.0])
    assert type(g) is list and len(g) == 2
    assert [t.numpy() for t in g] == [3.0, 2.0]


def test_dicts_keep_the_callers_key_order_and_namedtuples_their_type():
    g = tg.grad(lambda d: d["a"] * np.sum(d["b"]))({"b": np.array([1.0, 2.0]), "a": 3.0})
    assert list(g) == ["b", "a"]
    np.testing.assert_array_equal(g["b"].numpy(), [3.0, 3.0])
    assert g["a"].numpy() == 3.0
    gp = tg.grad(lambda p: p.w * p.b ** 2)(P(2.0, 3.0))
    assert type(gp) is P and (gp.w.numpy(), gp.b.numpy()) == (9.0, 12.0)
    nested = tg.grad(lambda d: d["w"][0] * d["w"][1][0])({"w": [2.0, (5.0, 7.0)]})
    assert _np(nested) == {"w": [5.0, (2.0, 0.0)]}          # the unused leaf gets zeros


def test_none_leaves_and_argnums_tuple_and_negative_argnums():
    g = tg.grad(lambda t, n: t[0] * 2.0)((1.0, None), None)
    assert g[1] is None and g[0].numpy() == 2.0
    ga, gb = tg.grad(lambda a, b: a * b ** 2, argnums=(0, 1))(2.0, 3.0)
    assert (ga.numpy(), gb.numpy()) == (9.0, 12.0)
    assert tg.grad(lambda a, b: a * b ** 2, argnums=-1)(2.0, 3.0).numpy() == 12.0
    with pytest.raises(TypeError, match="argnums"):
        tg.grad(lambda a: a, argnums=1.0)(1.0)


def test_has_aux():
    g, aux = tg.grad(lambda a: (a ** 2, {"half": a / 2}), has_aux=True)(3.0)
    assert g.numpy() == 6.0 and aux["half"].numpy() == 1.5
    (v, aux), g = tg.value_and_grad(lambda a: (a ** 3, "label"), has_aux=True)(2.0)
    assert (v.numpy(), aux, g.numpy()) == (8.0, "label", 12.0)
    j, aux = tg.jacobian(lambda x: (x * 2.0, 7), has_aux=True)(np.ones(2))
    np.testing.assert_array_equal(j.numpy(), 2 * np.eye(2))
    assert aux == 7
    with pytest.raises(TypeError, match="pair"):
        tg.grad(lambda a: a, has_aux=True)(1.0)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_pytree_input_and_output(mode):
    p = {"a": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    j = tg.jacobian(lambda p: {"y": p["a"] * p["b"], "z": p["a"] ** 2}, mode=mode)(p)
    np.testing.assert_array_equal(j["y"]["a"].numpy(), np.diag([3.0, 4.0]))
    np.testing.assert_array_equal(j["y"]["b"].numpy(), np.diag([1.0, 2.0]))
    np.testing.assert_array_equal(j["z"]["a"].numpy(), np.diag([2.0, 4.0]))
    np.testing.assert_array_equal(j["z"]["b"].numpy(), np.zeros((2, 2)))


def test_hessian_hvp_jvp_vjp_of_pytrees():
    f = lambda p: p[0] ** 2 * p[1]                       # noqa: E731
    h = tg.hessian(f)([2.0, 3.0])                          # [[2 p1, 2 p0], [2 p0, 0]]
    assert _np(h) == [[6.0, 4.0], [4.0, 0.0]]
    assert _np(tg.hvp(f, [2.0, 3.0], [1.0, 0.0])) == [6.0, 4.0]
    hab = tg.hessian(lambda a, b: a ** 2 * b, argnums=(0, 1))(2.0, 3.0)
    assert _np(hab) == ((6.0, 4.0), (4.0, 0.0))
    out, t = tg.jvp(lambda p, s: {"o": p[0] * s}, ([2.0, 3.0], 4.0), ([1.0, 0.0], 0.5))
    assert (out["o"].numpy(), t["o"].numpy()) == (8.0, 5.0)           # 1*4 + 2*0.5
    out, vjp_fn = tg.vjp(lambda p: (p["a"] * 2.0, p["a"] ** 2), {"a": 3.0})
    assert _np(vjp_fn((1.0, 1.0))) == ({"a": 8.0},)
    assert _np(vjp_fn((0.0, 2.0))) == ({"a": 12.0},)                   # callable again


def test_python_numbers_become_float64_and_integers_are_refused():
    assert tg.grad(lambda x: x * 2.0)(1.0).dtype == tg.float64
    assert tg.grad(lambda x: x * 2.0)(np.float32(1.0)).dtype == tg.float32
    assert tg.grad(lambda p: p[0] * 2.0)([1.0]).__getitem__(0).dtype == tg.float64
    for bad in (3, True, np.array([1, 2]), [1.0, 2]):
        with pytest.raises(TypeError, match="floating-point"):
            tg.grad(lambda x: tg.reduce_sum(tg.ravel_pytree(x)[0]) * 2.0)(bad)


def test_ravel_pytree_round_trip_order_and_differentiability():
    tree = {"b": [np.array([1.0, 2.0]), 3.0], "a": (np.array([[4.0, 5.0], [6.0, 7.0]]), None)}
    flat, unravel = tg.ravel_pytree(tree)
    np.testing.assert_array_equal(flat, [4.0, 5.0, 6.0, 7.0, 1.0, 2.0, 3.0])     # sorted keys, C order
    back = unravel(flat * 10)
    assert back["a"][1] is None and np.shape(back["b"][1]) == ()
    np.testing.assert_array_equal(back["a"][0], [[40.0, 50.0], [60.0, 70.0]])
    g = tg.grad(lambda t: np.sum(tg.ravel_pytree(t)[0] ** 2))([1.0, np.array([2.0, 3.0])])
    assert _np(g)[0] == 2.0 and list(_np(g)[1]) == [4.0, 6.0]
    with pytest.raises(ValueError, match="7 elements"):
        unravel(np.zeros(3))


def test_scipy_minimize_with_value_and_grad_end_to_end():
    optimize = pytest.importorskip("scipy.optimize")
    target = {"w": np.array([1.0, -2.0]), "b": 0.5}

    def loss(p):
        return np.sum((p["w"] - target["w"]) ** 2) + 3.0 * (p["b"] - target["b"]) ** 2

    flat, unravel = tg.ravel_pytree({"w": np.zeros(2), "b": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # no lost gradient, no independence warning
        res = optimize.minimize(tg.value_and_grad(lambda v: loss(unravel(v))), flat, jac=True, method="BFGS")
    assert res.success
    best = unravel(res.x)
    np.testing.assert_allclose(best["w"], target["w"], atol=1e-6)
    assert best["b"] == pytest.approx(target["b"], abs=1e-6)
    res = optimize.minimize(tg.value_and_grad(lambda x: np.sum((x - 3.0) ** 2)), np.zeros(3), jac=True)
    np.testing.assert_allclose(res.x, 3.0, atol=1e-6)


def test_tg_grad_warns_when_the_output_does_not_depend_on_the_input():
    with pytest.warns(UserWarning, match="Output seems independent of input"):
        g = tg.grad(lambda x: tg.constant(2.0, tg.float64))(np.zeros(2))
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tg.grad(lambda x: x * 2.0)(1.0)
