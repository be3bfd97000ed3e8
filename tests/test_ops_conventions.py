"""TensorFlow's op-level conventions (docs/tensorflow_semantics.md sections 10 and 17) for
the op library: values at kinks and ties, None versus a connected zero at
second order (decided by which tensors each rule reads, as in TF), integer
outputs without gradients, and clear errors where a derivative does not
exist.  Expected values are TensorFlow's or derived by hand."""
import numpy as np
import pytest

import tapegrad as tg


def grad(f, x):
    v = tg.Variable(np.asarray(x, dtype=np.float64))
    with tg.GradientTape() as t:
        y = f(v)
    g = t.gradient(y, v)
    return None if g is None else g.numpy()


def second(f, x):
    """(first derivative, second derivative or None) through nested tapes."""
    v = tg.Variable(np.asarray(x, dtype=np.float64))
    with tg.GradientTape() as o:
        with tg.GradientTape() as i:
            y = f(v)
        g = i.gradient(y, v)
    g2 = o.gradient(g, v)
    if isinstance(g, tg.IndexedSlices):          # gather's gradient (TensorFlow's sparse type)
        g = tg.convert_to_tensor(g)
    return g.numpy(), None if g2 is None else g2.numpy()


@pytest.mark.parametrize("name,f,x,want", [
    ("relu6 at 0 and 6", tg.nn.relu6, [0.0, 6.0, 3.0, 7.0], [0, 0, 1, 0]),
    ("leaky_relu at 0", lambda x: tg.nn.leaky_relu(x, 0.1), [0.0, -1.0, 2.0], [0.1, 0.1, 1]),
    ("elu at 0", tg.nn.elu, [0.0, 1.0], [1, 1]),
    ("abs at 0", tg.abs, [0.0, -2.0], [0, -1]),
    ("relu at 0", tg.nn.relu, [0.0, 1.0], [0, 1]),
    ("clip_by_value at the bounds", lambda x: tg.clip_by_value(x, -1.0, 1.0), [-1.0, 1.0, 1.5], [1, 1, 0]),
    ("np.clip like clip_by_value", lambda x: np.clip(x, -1.0, 1.0), [-1.0, 1.0, 1.5], [1, 1, 0]),
    ("maximum tie to x", lambda x: tg.maximum(x, 1.0), [1.0, 0.0], [1, 0]),
    ("reduce_max ties split", tg.reduce_max, [2.0, 2.0, 1.0], [0.5, 0.5, 0]),
    ("np.max ties split", np.max, [3.0, 1.0, 3.0, 3.0], [1 / 3, 0, 1 / 3, 1 / 3]),
    ("norm ord inf ties split", lambda x: tg.norm(x, ord=np.inf), [-2.0, 2.0], [-0.5, 0.5]),
    ("sign is a zero", tg.sign, [0.0, 3.0], [0, 0]),
    ("reduce_prod with a zero", tg.reduce_prod, [0.0, 2.0, 3.0], [6, 0, 0]),
    ("reduce_prod with two zeros", tg.reduce_prod, [0.0, 2.0, 0.0], [0, 0, 0]),
    ("cumprod through a zero", lambda x: tg.reduce_sum(tg.math.cumprod(x)), [2.0, 0.0, 3.0], [1, 8, 0]),
    ("sqrt at 0 is inf", tg.sqrt, [0.0], [np.inf]),
    ("norm at 0 is nan", tg.norm, [0.0, 0.0], [np.nan, np.nan]),
    ("clip_by_norm at 0 is finite", lambda x: tg.clip_by_norm(x, 1.0), [0.0, 0.0], [1, 1]),
    ("atan2 in all quadrants", lambda y: tg.math.atan2(y, tg.constant([-1.0, -1.0, 1.0], tg.float64)),
     [1.0, -1.0, 0.0],
     [-0.5, -0.5, 1]),
])
def test_values_at_kinks_ties_and_bounds(name, f, x, want):
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(grad(f, x), want, rtol=1e-12)


# Second derivative None (the first derivative never reads x) or a connected
# zero (it reads x or the output through a piecewise-constant function).
@pytest.mark.parametrize("name,f,want", [
    ("relu6 reads x: zero", tg.nn.relu6, 0),
    ("leaky_relu reads x: zero", tg.nn.leaky_relu, 0),
    ("elu's output: its real curvature", tg.nn.elu, "value"),
    ("sign: None", tg.sign, None),
    ("maximum: None (where on a mask)", lambda x: tg.maximum(x, 0.5), None),
    ("clip_by_value: None", lambda x: tg.clip_by_value(x, -1.0, 1.0), None),
    ("reduce_max: None", tg.reduce_max, None),
    ("getitem: None", lambda x: x[::-1] * 2.0, None),
    ("concat: None", lambda x: tg.concat([x, x], 0), None),
    ("transpose/tile: None", lambda x: tg.transpose(tg.tile(tg.reshape(x, [1, 2]), [3, 1])), None),
    ("pad/reverse: None", lambda x: tg.reverse(tg.pad(x, [[1, 1]]), [0]), None),
    ("cumsum: None", tg.cumsum, None),
    ("einsum by a constant: None", lambda x: tg.einsum("i,ij->j", x, tg.constant(np.ones((2, 3)))), None),
    ("gather: None", lambda x: tg.gather(x, [1, 1, 0]), None),
    ("where: None", lambda x: tg.where(np.array([True, False]), x, 2.0 * x), None),
    ("softmax: its curvature", tg.nn.softmax, "value"),
])
def test_second_order_none_versus_zero(name, f, want):
    _, g2 = second(lambda x: tg.reduce_sum(f(x)), [-0.7, 0.9])
    if want is None:
        assert g2 is None
    elif want == 0:
        np.testing.assert_array_equal(g2, [0.0, 0.0])
    else:
        assert g2 is not None and np.all(np.isfinite(g2))


def test_reduce_prod_hessian_at_zeros_is_exact():
    # d^2 (x0 x1 x2) / dxi dxj = the third coordinate (hand-derived).
    x = tg.Variable([0.0, 2.0, 3.0], dtype=tg.float64)
    with tg.GradientTape(persistent=True) as o:
        with tg.GradientTape() as i:
            y = tg.reduce_prod(x)
        g = i.gradient(y, x)
        rows = [g[k] for k in range(3)]
    h = np.array([o.gradient(r, x).numpy() for r in rows])
    np.testing.assert_array_equal(h, [[0, 3, 2], [3, 0, 0], [2, 0, 0]])


def test_det_second_derivative_by_hand_and_matmul_by_a_constant_is_none():
    a = np.array([[3.0, 1.0], [0.5, 2.0]])
    g, g2 = second(lambda x: tg.linalg.det(x), a)
    np.testing.assert_allclose(g, [[2.0, -0.5], [-1.0, 3.0]])          # [[d, -c], [-b, a]]
    np.testing.assert_allclose(g2, [[1, -1], [-1, 1]], atol=1e-12)     # d/dx of d - c - b + a
    _, g2 = second(lambda x: tg.linalg.matmul(x, tg.constant(np.ones((2, 2)))), a)
    assert g2 is None                                                  # matmul by a constant, as in TF


@pytest.mark.parametrize("name,f", [
    ("argmin", lambda x: tg.argmin(x)),
    ("reduce_any", lambda x: tg.reduce_any(x > 0)),
    ("one_hot of argmax", lambda x: tg.one_hot(tg.argmax(x), 2)),
    ("size", lambda x: tg.size(x)),
    ("shape", lambda x: tg.shape(x)),
    ("round", lambda x: np.round(x)),
    ("ceil", lambda x: tg.math.ceil(x)),
    ("cast to int", lambda x: tg.cast(x, tg.int64)),
    ("shuffle", lambda x: tg.random.shuffle(x, seed=1)),
])
def test_integer_and_constant_outputs_have_no_gradient(name, f):
    assert grad(f, [1.5, -2.5]) is None


def test_cast_between_floats_carries_the_gradient_in_the_source_dtype():
    x = tg.Variable([1.0, 2.0], dtype=tg.float32)
    with tg.GradientTape() as t:
        y = tg.cast(x, tg.float64) * tg.constant([3.0, 4.0], tg.float64)
    g = t.gradient(y, x)
    assert g.dtype == tg.float32 and g.numpy().tolist() == [3.0, 4.0]


def test_where_documents_the_nan_trap_and_the_safe_pattern_avoids_it():
    assert "NaN" in tg.where.__doc__ and "log(safe)" in tg.where.__doc__
    z = tg.Variable([0.0, 2.0], dtype=tg.float64)
    with tg.GradientTape(persistent=True) as t:
        with np.errstate(all="ignore"):
            trap = tg.where(z > 0, tg.math.log(z), 0.0)
        safe = tg.where(z > 0, tg.math.log(tg.where(z > 0, z, 1.0)), 0.0)
    assert np.isnan(t.gradient(trap, z).numpy()[0])
    assert t.gradient(safe, z).numpy().tolist() == [0.0, 0.5]


def test_eigenvector_gradient_at_repeated_eigenvalues_is_a_clear_error():
    x = tg.Variable(np.eye(3))
    with tg.GradientTape(persistent=True) as t:
        e, v = tg.linalg.eigh(x)
        loss_v = tg.reduce_sum(v * v * tg.constant(np.arange(9.0).reshape(3, 3)))
        loss_e = tg.reduce_sum(e * tg.constant([1.0, 2.0, 3.0], tg.float64))
    with pytest.raises(tg.errors.InvalidArgumentError, match="eigh.*repeated eigenvalues"):
        t.gradient(loss_v, x)
    np.testing.assert_allclose(t.gradient(loss_e, x).numpy(), np.diag([1.0, 2.0, 3.0]))


def test_svd_gradients_where_undefined_are_clear_errors():
    x = tg.Variable(np.diag([2.0, 2.0, 1.0]))
    with tg.GradientTape(persistent=True) as t:
        s, u, v = tg.linalg.svd(x)
        loss_u = tg.reduce_sum(u * tg.constant(np.ones((3, 3))))
        loss_s = tg.reduce_sum(s)
    with pytest.raises(tg.errors.InvalidArgumentError, match="svd.*repeated singular values"):
        t.gradient(loss_u, x)
    np.testing.assert_allclose(t.gradient(loss_s, x).numpy(), np.eye(3), atol=1e-12)
    w = tg.Variable(np.arange(6.0).reshape(2, 3) + np.eye(2, 3))
    with tg.GradientTape() as t:
        _, u, _ = tg.linalg.svd(w, full_matrices=True)
        loss = tg.reduce_sum(u)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        t.gradient(loss, w)
