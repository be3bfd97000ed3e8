"""tapegrad.autograd: autograd 1.9.1's public API and semantics (issue 10, item 3).  Expected
values are autograd's outputs (written here as literals) or hand-derived closed forms."""
import collections
import warnings

import numpy
import pytest

import tapegrad as tg
import tapegrad.autograd as ag
import tapegrad.autograd.numpy as np
import tapegrad.autograd.numpy.random as npr
from tapegrad.autograd.extend import defjvp, defjvp_argnum, defvjp, defvjp_argnum, notrace_primitive, primitive
from tapegrad.autograd.misc import flatten
from tapegrad.autograd.misc.fixed_points import fixed_point
from tapegrad.autograd.misc.flatten import flatten_func
from tapegrad.autograd.misc.optimizers import adam, rmsprop, sgd
from tapegrad.autograd.test_util import check_grads

F = lambda x, y: np.sin(x) * y ** 2                       # noqa: E731
FH = lambda v: np.sum(v ** 3) + v[0] * v[1]               # noqa: E731
X2 = np.array([1.0, 2.0])


def close(a, b):
    numpy.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_numpy_is_numpy_itself():
    assert np is numpy and npr is numpy.random
    assert ag.numpy is numpy


def test_grad_argnum_conventions_and_result_types():
    g = ag.grad(F)(1.0, 2.0)
    assert type(g) is numpy.float64 and g == pytest.approx(2.161209223472559, rel=1e-15)
    assert ag.grad(F, 1)(1.0, 2.0) == pytest.approx(3.365883939231586, rel=1e-15)
    assert ag.grad(F, -1)(1.0, 2.0) == pytest.approx(3.365883939231586, rel=1e-15)
    for argnum in ((0, 1), [0, 1]):
        gx, gy = ag.grad(F, argnum)(1.0, 2.0)
        assert type(gx) is numpy.ndarray and gx.shape == () and gy == pytest.approx(3.365883939231586)
    with pytest.raises(AssertionError, match="1.0"):
        ag.grad(F, 1.0)
    assert ag.grad(lambda x, k=3.0: x * k)(2.0, k=5.0) == 5.0
    assert ag.grad(F).__name__ == "grad_of_<lambda>_wrt_argnum_0"
    assert ag.grad(F, (0, 1)).__name__ == "grad_of_<lambda>_wrt_argnum_(0, 1)"
    assert ag.grad(lambda x: x * x)(numpy.float32(2.0)).dtype == numpy.float32
    close(ag.grad(lambda x: x ** 2)(np.array([3.0])), [6.0])          # size-1 output allowed
    close(ag.grad(lambda x: np.sum(x * 1.0))(np.array([1, 2])), [1.0, 1.0])   # int arrays: float gradient


def test_grad_of_containers():
    g = ag.grad(lambda p: p[0] * p[1])([2.0, 3.0])
    assert type(g) is list and [type(e) for e in g] == [numpy.ndarray] * 2 and g == [3.0, 2.0]
    assert ag.grad(lambda t: t[0] * t[1])((2.0, 3.0)) == (3.0, 2.0)
    d = ag.grad(lambda d: d["a"] * np.sum(d["b"]))({"b": np.array([1.0, 2.0]), "a": 3.0})
    assert list(d) == ["b", "a"]
    close(d["b"], [3.0, 3.0])
    nested = ag.grad(lambda d: d["w"][0] * d["w"][1][0])({"w": [2.0, (5.0, 7.0)]})
    assert nested == {"w": [5.0, (2.0, 0.0)]} and type(nested["w"][1]) is tuple


def test_what_cannot_be_differentiated():
    P = collections.namedtuple("P", "a b")
    for bad, name in ((3, "int"), (True, "bool"), ("a", "str"), (None, "NoneType"), (P(2.0, 3.0), "P")):
        with pytest.raises(TypeError, match=f"Can't differentiate w.r.t. type <class '.*{name}'>"):
            ag.grad(lambda x: 2.0)(bad)
    with pytest.raises(TypeError, match="Can't differentiate w.r.t. type <class 'int'>"):
        ag.grad(lambda t: t[0])((1.0, 2))


def test_non_scalar_and_complex_outputs_raise_autogards_typeerror():
    with pytest.raises(TypeError, match="^Grad only applies to real scalar-output functions. Try jacobian"):
        ag.grad(np.sin)(X2)
    with pytest.raises(TypeError, match="^Grad only applies"):
        ag.grad(lambda z: z ** 2)(1 + 2j)
    with pytest.raises(TypeError, match="^value_and_grad only applies to real scalar-output"):
        ag.value_and_grad(np.sin)(X2)
    with pytest.raises(TypeError, match="^Elementwise_grad only applies to real-output functions."):
        ag.elementwise_grad(lambda z: z * 2.0)(np.array([1j]))


def test_independent_output_warns_and_gives_zeros():
    with pytest.warns(UserWarning, match="^Output seems independent of input.$"):
        g = ag.grad(lambda x: 1.0)(2.0)
    assert type(g) is numpy.ndarray and g.shape == () and g == 0.0
    with pytest.warns(UserWarning, match="independent"):
        assert ag.grad(lambda p: 1.0)([1.0, np.zeros(2)])[1].tolist() == [0.0, 0.0]
    with pytest.warns(UserWarning, match="independent"):
        v, g = ag.value_and_grad(lambda x: 3.0)(1.0)
    assert v == 3.0 and g == 0.0
    with pytest.warns(UserWarning, match="independent"):
        close(ag.jacobian(lambda v: np.ones(2))(np.array([1.0, 2.0, 3.0])), numpy.zeros((2, 3)))


def test_elementwise_value_and_grad_and_aux():
    close(ag.elementwise_grad(np.sin)(np.array([0.0, 1.0])), numpy.cos([0.0, 1.0]))
    close(ag.elementwise_grad(lambda x: np.outer(x, x))(X2), [6.0, 6.0])
    v, g = ag.value_and_grad(lambda x: np.sum(x ** 2))(X2)
    assert v == 5.0
    close(g, [2.0, 4.0])
    g, aux = ag.grad_and_aux(lambda x: (np.sum(x ** 2), x * 10))(X2)
    close(g, [2.0, 4.0])
    close(aux, [10.0, 20.0])
    assert ag.grad_and_aux(lambda x: [x ** 2, 2.0])(3.0) == (6.0, 2.0)
    assert ag.grad_and_aux(lambda x: (x * np.ones(2), 1.0))(3.0) == (2.0, 1.0)   # not checked scalar


def test_jacobian_hessian_and_products():
    x = np.array([1.0, 2.0, 3.0])
    close(ag.jacobian(np.sin)(np.array([0.0, 1.0])), numpy.diag(numpy.cos([0.0, 1.0])))
    j = ag.jacobian(np.sin)(1.0)
    assert type(j) is numpy.ndarray and j.shape == ()
    close(ag.jacobian(lambda s: s * x)(2.0), x)
    assert ag.jacobian(lambda m: m.T if False else np.transpose(m))(numpy.arange(6.0).reshape(2, 3)).shape \
        == (3, 2, 2, 3)
    assert ag.jacobian(lambda v: np.outer(v, v))(x).shape == (3, 3, 3)
    close(ag.hessian(FH)(X2), [[6.0, 1.0], [1.0, 12.0]])
    h = ag.hessian(lambda s: s ** 3)(2.0)
    assert type(h) is numpy.ndarray and h == 12.0
    assert ag.hessian(lambda m: np.sum(m ** 3))(numpy.ones((2, 2))).shape == (2, 2, 2, 2)
    hvp, g = ag.make_hvp(FH)(X2)
    close(g, [5.0, 13.0])
    close(hvp(np.array([1.0, 0.0])), [6.0, 1.0])
    close(ag.hessian_tensor_product(FH)(X2, np.array([1.0, 0.0])), [6.0, 1.0])
    assert ag.hessian_vector_product is ag.hessian_tensor_product
    assert ag.vector_jacobian_product is ag.tensor_jacobian_product
    close(ag.hessian_tensor_product(lambda m: np.sum(m ** 3))(numpy.ones((2, 2)), numpy.eye(2)), 6 * numpy.eye(2))
    close(ag.tensor_jacobian_product(lambda v: v ** 2)(X2, np.array([1.0, 10.0])), [2.0, 40.0])
    close(ag.tensor_jacobian_product(lambda v: np.outer(v, v))(X2, numpy.ones((2, 2))), [6.0, 6.0])
    W = np.array([[1.0, 2.0], [3.0, 4.0]])
    close(ag.make_ggnvp(lambda v: W @ v)(np.array([1.0, 1.0]))(np.array([1.0, 0.0])), [10.0, 14.0])
    close(ag.make_ggnvp(lambda v: W @ v, g=lambda y: np.sum(y ** 4))(np.array([1.0, 1.0]))(np.array([1.0, 0.0])),
          [5400.0, 7272.0])


def test_make_vjp_and_make_jvp():
    vjp, ans = ag.make_vjp(lambda v: v ** 2)(X2)               # the function first, as in autograd
    close(ans, [1.0, 4.0])
    close(vjp(np.array([1.0, 10.0])), [2.0, 40.0])
    close(vjp(np.array([1.0, 0.0])), [2.0, 0.0])               # callable again
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    vjp, _ = ag.make_vjp(lambda a, b: a * b, (0, 1))(a, b)
    ga, gb = vjp(numpy.ones(2))
    close(ga, b)
    close(gb, a)
    ans, t = ag.make_jvp(lambda v: v ** 2)(X2)(np.array([1.0, 10.0]))
    close(t, [2.0, 40.0])
    assert ag.make_jvp(np.sin)(0.0)(1.0) == (0.0, 1.0)
    assert ag.make_jvp(lambda a, b: a * b, (0, 1))(2.0, 3.0)((1.0, 0.5)) == (6.0, 4.0)
    close(ag.deriv(np.sin)(np.array([0.0, 1.0])), numpy.cos([0.0, 1.0]))
    with pytest.warns(UserWarning, match="independent"):
        ans, t = ag.make_jvp(lambda x: np.ones(2))(1.0)(1.0)
    close(t, [0.0, 0.0])


def test_nesting_and_closures():
    assert ag.grad(lambda x: ag.grad(lambda y: x * y ** 2)(1.0))(2.0) == 2.0
    assert ag.grad(lambda x: x * ag.grad(lambda y: x + y)(1.0))(2.0) == 1.0
    f = lambda x: np.sin(x) * x ** 4                        # noqa: E731
    x0 = 2.0
    want = -np.cos(x0) * x0 ** 4 - 12 * np.sin(x0) * x0 ** 3 + 36 * np.cos(x0) * x0 ** 2 + 24 * np.sin(x0) * x0
    assert ag.grad(ag.grad(ag.grad(f)))(x0) == pytest.approx(want, rel=1e-12)


def test_grad_named_multigrad_dict_checkpoint():
    def fn(x, y, scale=1.0):
        return scale * x * y ** 2
    assert ag.grad_named(fn, "y")(2.0, 3.0) == 12.0
    with pytest.raises(ValueError):
        ag.grad_named(fn, "q")
    assert ag.multigrad_dict(lambda a, b: a * b ** 2)(3.0, 2.0) == collections.OrderedDict(a=4.0, b=12.0)
    assert ag.multigrad_dict(lambda a, b=2.0: a * b)(3.0) == collections.OrderedDict(a=2.0, b=3.0)
    calls = []

    def inner(x):
        calls.append(1)
        return np.sin(x) * x
    cf = ag.checkpoint(inner)
    assert cf.__name__ == "inner" and cf(2.0) == pytest.approx(1.8185948536513634, rel=1e-15)
    calls.clear()
    assert ag.grad(lambda x: cf(x) ** 2)(2.0) == pytest.approx(0.28007726049551085, rel=1e-12)
    assert len(calls) == 2                                  # forward, then again in the backward pass
    assert ag.grad(ag.grad(cf))(2.0) == pytest.approx(-2.6508885267456486, rel=1e-12)


# ---- autograd.extend ------------------------------------------------------------------------

@primitive
def mycube(x, k):
    """x**3 * k"""
    return x ** 3 * k


defvjp(mycube, lambda ans, x, k: lambda g: g * 3 * x ** 2 * k, lambda ans, x, k: lambda g: g * x ** 3)
defjvp(mycube, lambda g, ans, x, k: g * 3 * x ** 2 * k, lambda g, ans, x, k: g * x ** 3)


def test_primitive_with_rules_is_a_recorded_op():
    assert (mycube.__name__, mycube.__doc__) == ("mycube", "x**3 * k")
    assert mycube(3.0, 2.0) == 54.0 and type(mycube(3.0, 2.0)) is float        # no tensors: a plain call
    assert ag.grad(mycube)(3.0, 2.0) == 54.0
    assert ag.grad(mycube, 1)(3.0, 2.0) == 27.0
    assert ag.grad(ag.grad(mycube))(3.0, 2.0) == 36.0      # second order through the rule
    assert ag.make_jvp(mycube)(3.0, 2.0)(1.0) == (54.0, 54.0)
    assert ag.make_jvp(mycube, (0, 1))(3.0, 2.0)((1.0, 1.0)) == (54.0, 81.0)
    close(ag.elementwise_grad(mycube)(np.array([1.0, 2.0]), 1.0), [3.0, 12.0])
    x = tg.constant(3.0, tg.float64)
    with tg.GradientTape() as tape:                         # on a GradientTape, too
        tape.watch(x)
        y = mycube(x, 2.0)
    assert tape.gradient(y, x).numpy() == 54.0
    assert tg.hessian(lambda x: mycube(x, 2.0))(3.0).numpy() == 36.0
    with tg.autodiff.ForwardAccumulator(x, tg.constant(2.0, tg.float64)) as acc:
        y = mycube(x, 2.0)
    assert acc.jvp(y).numpy() == 108.0
    check_grads(mycube, modes=["fwd", "rev"], order=2)(np.array([0.3, -0.7]), 1.5)


def test_primitive_rule_variants_and_errors():
    @primitive
    def scale_by(x, s):
        return x * s
    defvjp(scale_by, lambda ans, x, s: lambda g: g * s, None)
    assert ag.grad(scale_by, 1)(2.0, 3.0) == 0.0

    @primitive
    def norule(x):
        return x * 2
    with pytest.raises(NotImplementedError, match="VJP of norule wrt argnum 0 not defined"):
        ag.grad(norule)(1.0)
    with pytest.raises(NotImplementedError, match=r"JVP of norule wrt argnums \(0,\) not defined"):
        ag.make_jvp(norule)(1.0)(1.0)
    with pytest.raises(Exception, match="Bad VJP '3' for 'norule'"):
        defvjp(norule, 3)

    @primitive
    def wsum(*xs):
        return sum((i + 1) * x for i, x in enumerate(xs))
    defvjp_argnum(wsum, lambda argnum, ans, args, kwargs: lambda g: (argnum + 1) * g)
    defjvp_argnum(wsum, lambda argnum, g, ans, args, kwargs: (argnum + 1) * g)
    assert ag.grad(wsum, (0, 1, 2))(1.0, 1.0, 1.0) == (1.0, 2.0, 3.0)
    assert ag.make_jvp(wsum, (0, 1))(1.0, 1.0)((1.0, 1.0)) == (3.0, 3.0)

    @primitive
    def double(x):
        return 2.0 * x
    defjvp(double, "same")
    assert ag.make_jvp(double)(1.0)(5.0) == (2.0, 10.0)

    @primitive
    def powk(x, p=2.0):
        return x ** p
    defvjp(powk, lambda ans, x, p=2.0: lambda g: g * p * x ** (p - 1))
    assert ag.grad(lambda x: powk(x, p=3.0))(2.0) == 12.0  # keyword arguments reach the rule

    count_pos = notrace_primitive(lambda x: numpy.sum(x > 0))
    close(ag.grad(lambda x: count_pos(x) * np.sum(x))(np.array([1.0, -1.0, 2.0])), [2.0, 2.0, 2.0])


# ---- autograd.misc --------------------------------------------------------------------------

def test_flatten_and_flatten_func():
    tree = {"b": [np.array([1.0, 2.0]), 3.0],
            "a": (np.array([[4.0, 5.0], [6.0, 7.0]]), {"z": 8.0, "y": np.array([9.0])})}
    flat, unflatten = flatten(tree)
    close(flat, [4.0, 5.0, 6.0, 7.0, 9.0, 8.0, 1.0, 2.0, 3.0])
    back = unflatten(flat * 10)
    close(back["a"][1]["z"], 80.0)
    assert type(back["a"]) is tuple and back["b"][1].shape == ()
    with pytest.raises(TypeError, match="Can't differentiate w.r.t. type <class 'int'>"):
        flatten([1, np.array([2.0, 3.0])])
    g = ag.grad(lambda t: np.sum(flatten(t)[0] ** 2))([1.0, np.array([2.0, 3.0])])
    close(g[0], 2.0)
    close(g[1], [4.0, 6.0])
    flat_func, unflatten, flat_example = flatten_func(lambda t, s: {"u": t["a"] * s, "v": t["b"]},
                                                      {"a": np.ones(2), "b": 3.0})
    close(flat_example, [1.0, 1.0, 3.0])
    close(flat_func(flat_example, 2.0), [2.0, 2.0, 3.0])


def test_optimizers_match_autograds_trajectories():
    def g(x, i):
        return 2 * (x - 3) + 0.5 * i
    x0 = np.array([1.0, -2.0])
    log = []
    close(sgd(g, x0, lambda x, i, gr: log.append((i, x.copy(), gr.copy())), num_iters=3), [1.201176, -1.46796])
    assert [entry[0] for entry in log] == [0, 1, 2]
    close(log[1][1], [1.04, -1.9])
    close(log[1][2], [-3.42, -9.3])
    numpy.testing.assert_allclose(rmsprop(g, x0, num_iters=3), [1.54053910353, -1.317028114698], rtol=1e-11)
    numpy.testing.assert_allclose(adam(g, x0, num_iters=3), [1.002977588232, -1.997006269981], rtol=1e-11)
    numpy.testing.assert_allclose(adam(g, x0, num_iters=3, step_size=0.5, b1=0.5, b2=0.6, eps=0.1),
                                  [2.343032550334, -0.535510909092], rtol=1e-11)
    close(sgd(g, x0, None, 3, 0.2, 0.5), [2.231, 1.325])
    close(sgd(g, x0, num_iters=0), x0)
    close(sgd(lambda x, i: 2 * x, 1.0, num_iters=2), 0.9424)
    close(x0, [1.0, -2.0])                                  # not mutated
    with pytest.raises(TypeError, match="unexpected keyword argument 'unknown_kw'"):
        sgd(g, x0, unknown_kw=1)

    def obj(p, i):
        return np.sum((p["w"] - 1.5) ** 2) + p["b"] ** 2
    out = adam(ag.grad(obj), {"w": np.array([1.0, 2.0]), "b": 0.5}, num_iters=2, step_size=0.1)
    numpy.testing.assert_allclose(out["w"], [1.198812578341, 1.801187421659], rtol=1e-9)
    numpy.testing.assert_allclose(out["b"], 0.301187421659, rtol=1e-9)


def test_fixed_point_gradient_by_the_implicit_function_theorem():
    newton_sqrt = lambda a: lambda x: 0.5 * (x + a / x)     # noqa: E731
    dist = lambda x, y: np.max(np.abs(x - y))               # noqa: E731
    assert fixed_point(newton_sqrt, 2.0, 1.0, dist, 1e-10) == pytest.approx(2 ** 0.5, rel=1e-15)
    f = lambda a: fixed_point(newton_sqrt, a, 1.0, dist, 1e-10)        # noqa: E731
    assert ag.grad(f)(2.0) == pytest.approx(1 / (2 * 2 ** 0.5), rel=1e-12)
    assert ag.grad(ag.grad(f))(2.0) == pytest.approx(-1 / (4 * 2 ** 1.5), rel=1e-8)
    assert ag.grad(lambda x0: fixed_point(newton_sqrt, 2.0, x0, dist, 1e-10))(1.0) == 0.0
    close(ag.grad(lambda a: np.sum(fixed_point(newton_sqrt, a, np.ones(2), dist, 1e-10)))(np.array([2.0, 9.0])),
          [1 / (2 * 2 ** 0.5), 1 / 6])
    g = ag.grad(lambda p: fixed_point(lambda p: lambda x: 0.5 * (x + p["a"] / x), p, 1.0, dist, 1e-10))({"a": 4.0})
    numpy.testing.assert_allclose(g["a"], 0.25, rtol=1e-12)


# ---- autograd.test_util and builtins --------------------------------------------------------

def test_check_grads_passes_good_rules_and_catches_bad_ones():
    x = np.array([0.3, -0.7])
    check_grads(np.sin)(x)
    check_grads(lambda a, b: a * b, argnum=1, modes=["rev"])(x, x)
    check_grads(lambda p: p[0] * np.sin(p[1]))([0.5, np.array([1.0, 2.0])])

    @primitive
    def bad(x):
        return x ** 2
    defvjp(bad, lambda ans, x: lambda g: 3 * x * g)
    defjvp(bad, lambda g, ans, x: 3 * x * g)
    npr.seed(0)
    with pytest.raises(AssertionError, match=r"^Derivative \(VJP\) check of bad failed with arg"):
        check_grads(bad, modes=["rev"], order=1)(x)
    with pytest.raises(AssertionError, match="^Value mismatch"):
        check_grads(bad, modes=["fwd"], order=1)(x)
    with pytest.raises(AssertionError):
        check_grads(np.sin, modes=["bogus"])(x)


def test_builtins_see_through_tensors():
    def f(t):
        assert ag.isinstance(t[0], numpy.ndarray) or ag.isinstance(t[0], float)
        assert ag.type(t) is tuple
        a, b = t
        return a * b + t[1]
    assert ag.grad(f)((2.0, 3.0)) == (3.0, 3.0)
    assert ag.tuple is tuple and ag.list is list and ag.dict is dict


def test_scipy_is_tapegrads():
    pytest.importorskip("scipy")
    scipy_front = pytest.importorskip("tapegrad.scipy")
    import tapegrad.autograd.scipy.stats as stats  # noqa: PLC0415 - needs the optional extra
    assert stats.__all__ == scipy_front.stats.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = ag.grad(lambda s: stats.norm.logpdf(0.5, 0.0, s))(2.0)
    assert g == pytest.approx(-0.46875, rel=1e-12)
    import tapegrad.autograd.scipy.stats.norm as norm  # noqa: PLC0415 - autograd's import spelling
    from tapegrad.autograd.scipy.special import logsumexp  # noqa: PLC0415
    assert norm is stats.norm and norm.__all__ == scipy_front.stats.norm.__all__
    gx, gm, gs = ag.grad(norm.logpdf, (0, 1, 2))(0.5, 0.1, 2.0)
    close([gx, gm, gs], [-0.1, 0.1, -0.48])                 # autograd's values
    numpy.testing.assert_allclose(ag.grad(logsumexp)(np.array([1.0, 2.0, 3.0])), [0.090031, 0.244728, 0.665241],
                                  atol=1e-6)


def test_scipy_functions_give_plain_values_outside_differentiation():
    # autograd's scipy functions return NumPy values when no argument is being differentiated
    # (a loss printed between optimizer steps is a number); tapegrad.scipy's return tensors.
    pytest.importorskip("scipy")
    import tapegrad.autograd.scipy.special as special  # noqa: PLC0415 - needs the optional extra
    import tapegrad.autograd.scipy.stats.norm as norm  # noqa: PLC0415
    value = special.logsumexp(np.array([1.0, 2.0, 3.0]))
    assert type(value) is np.float64 and value == pytest.approx(3.40760596444438, rel=1e-12)
    dens = norm.pdf(np.array([0.0, 1.0]), 0.0, 1.0)
    assert type(dens) is np.ndarray
    numpy.testing.assert_allclose(dens, [0.3989422804014327, 0.24197072451914337], rtol=1e-12)
    # Differentiated, the same functions are recorded: d/dx logsumexp(x) = softmax(x).
    numpy.testing.assert_allclose(ag.grad(special.logsumexp)(np.array([1.0, 2.0, 3.0])),
                                  [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], rtol=1e-12)
