"""tapegrad.scipy: values equal SciPy's, gradients equal finite differences (or the
values autograd 1.9.1 gives, written here as literals), SciPy's ufuncs on tensors
are recorded, and what has no derivative says so.  The per-op rules are checked
by the record table (tests/op_records.py); these tests check the functions users
call.  The module skips without SciPy (test_scipy_optional.py runs without it)."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.test import check_gradients

pytest.importorskip("scipy")
import scipy.integrate  # noqa: E402
import scipy.linalg  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

from tapegrad.scipy import integrate, linalg, signal, special, stats  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(0.5, 2.0, (3, 4))


def _grad(f, *args, argnums=0):
    """Reverse-mode gradient of f at float64 arguments, as ndarrays."""
    ts = [tg.constant(np.asarray(a, dtype=np.float64)) for a in args]
    nums = (argnums,) if isinstance(argnums, int) else argnums
    with tg.GradientTape() as tape:
        tape.watch([ts[i] for i in nums])
        y = f(*ts)
    gs = tape.gradient(y, [ts[i] for i in nums])
    out = [np.asarray(g) for g in gs]
    return out[0] if isinstance(argnums, int) else out


# ---- special ---------------------------------------------------------------------------------

UNARY = ["gammaln", "digamma", "psi", "gamma", "rgamma", "erf", "erfc", "expit", "i0", "i1", "j0", "j1", "y0",
         "y1", "ndtr", "log_ndtr"]


@pytest.mark.parametrize("name", UNARY)
def test_unary_special_functions_give_scipys_values_and_check_against_finite_differences(name):
    f = getattr(special, name)
    np.testing.assert_allclose(np.asarray(f(X)), getattr(scipy.special, name)(X), rtol=1e-12)
    check_gradients(f, [X], order=2)


@pytest.mark.parametrize("name, x", [("erfinv", RNG.uniform(-0.8, 0.8, 5)), ("erfcinv", RNG.uniform(0.2, 1.8, 5)),
                                     ("logit", RNG.uniform(0.1, 0.9, 5))])
def test_inverse_functions(name, x):
    f = getattr(special, name)
    np.testing.assert_allclose(np.asarray(f(x)), getattr(scipy.special, name)(x), rtol=1e-12)
    check_gradients(f, [x], order=2)


@pytest.mark.parametrize("name", ["beta", "betaln", "xlogy", "xlog1py"])
def test_binary_special_functions_broadcast(name):
    y = RNG.uniform(0.5, 2.0, (4,))
    f = getattr(special, name)
    np.testing.assert_allclose(np.asarray(f(X, y)), getattr(scipy.special, name)(X, y), rtol=1e-12)
    check_gradients(f, [X, y], order=2)


@pytest.mark.parametrize("name, order", [("polygamma", 2), ("jv", 1.5), ("jn", 3), ("yn", 2), ("iv", 0.5),
                                         ("ive", 2.0)])
def test_functions_of_an_order_are_differentiable_in_x(name, order):
    f = getattr(special, name)
    np.testing.assert_allclose(np.asarray(f(order, X)), getattr(scipy.special, name)(order, X), rtol=1e-12)
    check_gradients(lambda x: f(order, x), [X], order=2)


@pytest.mark.parametrize("call, argument", [
    (lambda v: special.iv(v, 1.5), "the order v"), (lambda n: special.polygamma(n, 1.5), "the order n"),
    (lambda a: special.gammainc(a, 1.5), "the shape a"), (lambda a: special.betainc(a, 2.0, 0.3), "the shape a"),
    (lambda df: stats.t.cdf(0.5, df), "the degrees of freedom"), (lambda a: stats.gamma.cdf(1.0, a), "the shape a")])
def test_a_missing_derivative_raises_instead_of_being_zero(call, argument):
    with pytest.raises(NotImplementedError, match=f"no derivative with respect to {argument}"), \
            np.errstate(invalid="ignore"):
        tg.grad(call)(np.float64(1.3))


def test_autograds_values():
    # autograd 1.9.1's results for the same calls (run with SciPy 1.17.1), as literals.
    assert float(tg.grad(special.gammaln)(np.float64(3.5))) == pytest.approx(1.103156640645243, rel=1e-14)
    assert float(tg.grad(lambda x: special.jn(2, x))(np.float64(1.5))) == pytest.approx(0.24848627838447995, 1e-14)
    assert float(tg.grad(special.erf)(np.float64(0.3))) == pytest.approx(1.031260909618963, rel=1e-14)
    np.testing.assert_allclose(np.asarray(tg.grad(special.logsumexp)(np.array([1., 2., 3.]))),
                               [0.090031, 0.244728, 0.665241], atol=1e-6)


def test_multigammaln():
    a = np.array([2.5, 3.0])
    np.testing.assert_allclose(np.asarray(special.multigammaln(a, 3)), scipy.special.multigammaln(a, 3), rtol=1e-12)
    check_gradients(lambda x: special.multigammaln(x, 3), [a], order=2)
    with pytest.raises(ValueError, match="condition a"):
        special.multigammaln(0.5, 3)


@pytest.mark.parametrize("kwargs", [{}, {"axis": 1}, {"axis": 0, "keepdims": True}, {"b": np.array([0.5, 2., 1., 3.])},
                                    {"axis": -1, "b": np.array([1., -2., 1., 0.5])}])
def test_logsumexp(kwargs):
    b = kwargs.get("b")
    with np.errstate(invalid="ignore"):                # a negative sum without return_sign: nan, as in SciPy
        want = scipy.special.logsumexp(X, **kwargs)
        np.testing.assert_allclose(np.asarray(special.logsumexp(X, **kwargs)), want, rtol=1e-12)
    if b is not None and np.any(b < 0):
        got, sign = special.logsumexp(X, return_sign=True, **kwargs)
        want, want_sign = scipy.special.logsumexp(X, return_sign=True, **kwargs)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)
        np.testing.assert_array_equal(np.asarray(sign), want_sign)
        check_gradients(lambda x, b: special.logsumexp(x, b=b, axis=-1, return_sign=True)[0], [X, b], order=2)
    else:
        check_gradients(lambda x: special.logsumexp(x, **kwargs), [X], order=2)


def test_betainc_and_incomplete_gamma_are_differentiable_in_x():
    x = np.array([0.2, 0.5, 0.7])
    np.testing.assert_allclose(np.asarray(special.betainc(2.0, 3.0, x)), scipy.special.betainc(2.0, 3.0, x))
    check_gradients(lambda x: special.betainc(2.0, np.array([3.0, 1.5, 2.0]), x), [x], order=2)
    check_gradients(lambda x: special.gammainc(2.5, x) + special.gammaincc(1.5, x), [x * 3], order=2)


# ---- SciPy's own ufuncs on tensors -----------------------------------------------------------

def test_scipy_ufuncs_on_tensors_are_recorded():
    x = tg.constant(X)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = scipy.special.gammaln(x)
        z = scipy.special.expit(x)
        w = scipy.special.xlogy(2.0, x)
    assert isinstance(y, tg.Tensor)
    np.testing.assert_allclose(np.asarray(tape.gradient(y, x)), scipy.special.digamma(X), rtol=1e-12)
    s = scipy.special.expit(X)
    np.testing.assert_allclose(np.asarray(tape.gradient(z, x)), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(tape.gradient(w, x)), 2 / X, rtol=1e-12)


def test_an_unsupported_scipy_ufunc_names_scipy_special_when_a_tape_tracks_its_input():
    x = tg.constant(X)
    with tg.GradientTape() as tape:
        tape.watch(x)
        with pytest.raises(TypeError, match=r"no gradient rule for scipy\.special\.kv\b"):
            scipy.special.kv(1.0, x)
        with pytest.raises(TypeError, match=r"no gradient rule for scipy\.special\.xlogy\.outer\b"):
            scipy.special.xlogy.outer(x, x)
        with pytest.raises(TypeError, match=r"no gradient rule for numpy\.frexp"):
            np.frexp(x)
    # Untracked, they run on the values (issue 9: finished results are plain data).
    np.testing.assert_array_equal(scipy.special.kv(1.0, x), scipy.special.kv(1.0, X))
    np.testing.assert_array_equal(scipy.special.xlogy.outer(x, x), scipy.special.xlogy.outer(X, X))


# ---- stats -----------------------------------------------------------------------------------

P = RNG.uniform(0.2, 0.8, 4)          # points inside every support here
CASES = [
    ("norm", ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"], (RNG.standard_normal(4), 0.3, 1.7)),
    ("t", ["pdf", "logpdf"], (RNG.standard_normal(4), 3.5, 0.2, 1.3)),
    ("t", ["cdf", "logcdf"], (RNG.standard_normal(4), 3.5, 0.2, 1.3)),
    ("gamma", ["pdf", "logpdf"], (P * 3, 2.5, 0.1, 1.5)),
    ("gamma", ["cdf", "logcdf"], (P * 3, 2.5, 0.1, 1.5)),
    ("beta", ["pdf", "logpdf"], (P, 2.5, 1.5, 0.0, 1.0)),
    ("beta", ["cdf", "logcdf"], (P, 2.5, 1.5, 0.05, 1.1)),
    ("chi2", ["pdf", "logpdf"], (P * 4, 3.0, 0.1, 1.2)),
    ("chi2", ["cdf", "logcdf"], (P * 4, 3.0, 0.1, 1.2)),
]
# The arguments that a cdf is not differentiable in (shape parameters inside an incomplete function).
NO_DERIVATIVE = {("t", "cdf"): {1}, ("t", "logcdf"): {1}, ("gamma", "cdf"): {1}, ("gamma", "logcdf"): {1},
                 ("beta", "cdf"): {1, 2}, ("beta", "logcdf"): {1, 2}, ("chi2", "cdf"): {1}, ("chi2", "logcdf"): {1}}


@pytest.mark.parametrize("dist, fn, args", [(d, f, a) for d, fs, a in CASES for f in fs])
def test_distributions_match_scipy_and_finite_differences(dist, fn, args):
    ours, theirs = getattr(getattr(stats, dist), fn), getattr(getattr(scipy.stats, dist), fn)
    np.testing.assert_allclose(np.asarray(ours(*args)), theirs(*args), rtol=1e-10)
    argnums = [i for i in range(len(args)) if i not in NO_DERIVATIVE.get((dist, fn), set())]
    order = 1 if fn.endswith("cdf") else 2
    check_gradients(ours, [np.asarray(a, dtype=np.float64) for a in args], order=order, argnums=argnums,
                    rtol=1e-4, atol=1e-6)


def test_keyword_loc_and_scale_are_differentiable():
    # autograd differentiates only positional arguments (its keyword scale raises); SciPy's keywords work here.
    g = tg.grad(lambda s: stats.norm.logpdf(0.5, scale=s))(np.float64(2.0))
    assert float(g) == pytest.approx(-0.46875)        # autograd's value for the positional call


def _summed_where_finite(logpdf, x, rest):
    def f(a):
        v = logpdf(x, a, *rest)
        return np.sum(np.where(np.isfinite(v), v, 0.0))
    return f


@pytest.mark.parametrize("logpdf, reference, args", [
    (stats.gamma.logpdf, scipy.stats.gamma.logpdf, (2.0,)), (stats.beta.logpdf, scipy.stats.beta.logpdf, (2.0, 3.0)),
    (stats.chi2.logpdf, scipy.stats.chi2.logpdf, (3.0,))])
def test_outside_the_support_the_log_density_is_minus_inf_and_adds_no_gradient(logpdf, reference, args):
    x = np.array([-1.0, 0.5, 2.0])
    want = reference(x, *args)
    np.testing.assert_allclose(np.asarray(logpdf(x, *args)), want)
    g = _grad(_summed_where_finite(logpdf, x, args[1:]), args[0])
    g_inside = _grad(_summed_where_finite(logpdf, x[np.isfinite(want)], args[1:]), args[0])
    assert np.isfinite(g) and g == pytest.approx(g_inside, rel=1e-12)


def test_poisson():
    k = np.array([0., 1., 3., 2.5, -1.])
    mu = 2.2
    for fn in ["pmf", "logpmf", "cdf", "logcdf"]:
        np.testing.assert_allclose(np.asarray(getattr(stats.poisson, fn)(k, mu)),
                                   getattr(scipy.stats.poisson, fn)(k, mu), rtol=1e-12)
    ok = k[:3]
    for fn in ["pmf", "logpmf", "cdf", "logcdf"]:
        check_gradients(lambda m, fn=fn: getattr(stats.poisson, fn)(ok, m), [np.float64(mu)], order=2, rtol=1e-4)


def test_multivariate_normal():
    d = 3
    a = RNG.standard_normal((d, d))
    cov = a @ a.T + d * np.eye(d)
    mean = RNG.standard_normal(d)
    xs = RNG.standard_normal((5, d))
    mvn, ref = stats.multivariate_normal, scipy.stats.multivariate_normal
    np.testing.assert_allclose(np.asarray(mvn.logpdf(xs, mean, cov)), ref.logpdf(xs, mean, cov), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mvn.pdf(xs[0], mean, cov)), ref.pdf(xs[0], mean, cov), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(mvn.logpdf(xs, mean, np.diag(cov))), ref.logpdf(xs, mean, np.diag(cov)))
    np.testing.assert_allclose(np.asarray(mvn.logpdf(xs, mean, 2.0)), ref.logpdf(xs, mean, 2.0))
    np.testing.assert_allclose(np.asarray(mvn.logpdf(0.3, 0.1, 2.0)), ref.logpdf(0.3, 0.1, 2.0))
    np.testing.assert_allclose(np.asarray(mvn.entropy(mean, cov)), ref.entropy(mean, cov), rtol=1e-12)
    sym = lambda c: (c + np.transpose(c)) * 0.5                                  # noqa: E731
    check_gradients(lambda x, m, c: mvn.logpdf(x, m, sym(c)), [xs[:2], mean, cov], order=2, rtol=1e-4)
    # autograd's value: d logpdf / d cov at x = [1, 0], mean 0, cov I
    np.testing.assert_allclose(np.asarray(tg.grad(lambda c: mvn.logpdf(np.array([1., 0.]), np.zeros(2), c))(
        np.eye(2))), [[0., 0.], [0., -0.5]], atol=1e-12)


def test_dirichlet():
    alpha = np.array([1.5, 2.0, 3.0])
    x = np.array([0.2, 0.3, 0.5])
    xs = np.array([[0.2, 0.1], [0.3, 0.6], [0.5, 0.3]])            # two points, components on axis 0
    ref = scipy.stats.dirichlet
    np.testing.assert_allclose(np.asarray(stats.dirichlet.logpdf(x, alpha)), ref.logpdf(x, alpha), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(stats.dirichlet.pdf(x[:2], alpha)), ref.pdf(x[:2], alpha), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(stats.dirichlet.logpdf(xs, alpha)), ref.logpdf(xs, alpha), rtol=1e-12)
    check_gradients(lambda a: stats.dirichlet.logpdf(xs, a), [alpha], order=2)
    check_gradients(lambda x: stats.dirichlet.logpdf(x, alpha), [x[:2]], order=2)
    with pytest.raises(ValueError, match="simplex"):
        stats.dirichlet.logpdf(np.array([0.5, 0.6, 0.1]), alpha)


# ---- linalg ----------------------------------------------------------------------------------

A = RNG.standard_normal((3, 3)) + 3 * np.eye(3)
B = RNG.standard_normal((3, 2))


@pytest.mark.parametrize("trans, lower, unit_diagonal", [(0, True, False), (1, False, False), ("T", True, True),
                                                         (2, False, True), ("N", False, False)])
def test_solve_triangular(trans, lower, unit_diagonal):
    f = lambda a, b: linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)  # noqa
    want = scipy.linalg.solve_triangular(A, B, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    np.testing.assert_allclose(np.asarray(f(A, B)), want, rtol=1e-12)
    check_gradients(f, [A, B], order=2)
    check_gradients(f, [A, B[:, 0]], order=1)


def test_solve_triangular_autograd_value():
    L = np.array([[2., 0.], [1., 1.]])
    g = tg.grad(lambda b: np.sum(linalg.solve_triangular(L, b, lower=True)))(np.array([1., 1.]))
    np.testing.assert_allclose(np.asarray(g), [0., 1.])


@pytest.mark.parametrize("lower", [True, False])
def test_cho_solve(lower):
    spd = A @ A.T + np.eye(3)
    c, low = scipy.linalg.cho_factor(spd, lower=lower)
    np.testing.assert_allclose(np.asarray(linalg.cho_solve((c, low), B)), scipy.linalg.cho_solve((c, low), B),
                               rtol=1e-12)
    chol = np.linalg.cholesky(spd) if lower else np.linalg.cholesky(spd).T
    check_gradients(lambda c, b: linalg.cho_solve((c, lower), b), [chol, B], order=1 if lower else 2)


def test_sqrtm_solve_sylvester_expm():
    spd = A @ A.T + np.eye(3)
    np.testing.assert_allclose(np.asarray(linalg.sqrtm(spd)), scipy.linalg.sqrtm(spd), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(linalg.expm(A / 3)), scipy.linalg.expm(A / 3), rtol=1e-12)
    bq = RNG.standard_normal((2, 2)) + 3 * np.eye(2)
    np.testing.assert_allclose(np.asarray(linalg.solve_sylvester(A, bq, B)), scipy.linalg.solve_sylvester(A, bq, B))
    check_gradients(linalg.sqrtm, [spd], order=2, rtol=1e-4)
    check_gradients(linalg.expm, [A / 3], order=2, rtol=1e-4)
    check_gradients(linalg.solve_sylvester, [A, bq, B], order=2, rtol=1e-4)
    # autograd's value: grad of sum(sqrtm(A)) at [[4, 1], [1, 3]]
    g = tg.grad(lambda a: np.sum(linalg.sqrtm(a)))(np.array([[4., 1.], [1., 3.]]))
    np.testing.assert_allclose(np.asarray(g), [[0.22007, 0.235992], [0.235992, 0.25491]], atol=1e-6)


def test_complex_matrices_and_results_are_refused():
    with pytest.raises(ValueError, match="the result is complex"):
        linalg.sqrtm(np.array([[-1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(TypeError, match="expm is differentiable for real arguments only"):
        linalg.expm(np.eye(2) * (1 + 1j))


# ---- signal ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("shapes", [((5,), (3,)), ((3,), (5,)), ((4, 5), (2, 3)), ((4, 3), (3, 3))])
def test_convolve(mode, shapes):
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])
    if mode == "valid" and not (all(x >= y for x, y in zip(*shapes)) or all(x <= y for x, y in zip(*shapes))):
        pytest.skip("SciPy's valid mode needs one input at least as large as the other in every axis")
    np.testing.assert_allclose(np.asarray(signal.convolve(a, b, mode)), scipy.signal.convolve(a, b, mode),
                               rtol=1e-10, atol=1e-12)
    check_gradients(lambda a, b: signal.convolve(a, b, mode), [a, b], order=2)


def test_convolve_autograd_values():
    k = np.array([0., 1., 0.5])
    np.testing.assert_allclose(np.asarray(signal.convolve(np.array([1., 2., 3.]), k)), [0., 1., 2.5, 4., 1.5])
    g = tg.grad(lambda a: np.sum(signal.convolve(a, k) ** 2))(np.array([1., 2., 3.]))
    np.testing.assert_allclose(np.asarray(g), [4.5, 9., 9.5])


# ---- integrate.odeint: gradients by the adjoint method ---------------------------------------

def _decay(y, t, k):
    return -k * y


TT = np.array([0., 1., 2.])


def _final(y0, t, k):
    return np.sum(integrate.odeint(_decay, y0, t, (k,), rtol=1e-10, atol=1e-10)[-1])


def test_odeint_values_and_gradients_in_y0_t_and_args():
    ys = integrate.odeint(_decay, [1.], TT, (0.5,))
    np.testing.assert_allclose(np.asarray(ys), scipy.integrate.odeint(_decay, [1.], TT, (0.5,)))
    assert ys.shape == (3, 1)
    gy0, gt, gk = _grad(_final, np.array([1.]), TT, 0.5, argnums=(0, 1, 2))
    # exact: y(2) = y0 exp(-2k): d/dy0 = exp(-1), d/dt2 = -k exp(-2k), d/dt0 = +k exp(-2k), d/dk = -2 exp(-2k)
    np.testing.assert_allclose(gy0, [np.exp(-1.0)], rtol=1e-7)
    np.testing.assert_allclose(gt, [0.5 * np.exp(-1.0), 0.0, -0.5 * np.exp(-1.0)], rtol=1e-6, atol=1e-9)
    assert float(gk) == pytest.approx(-2 * np.exp(-1.0), rel=1e-6)


def test_odeint_two_dimensional_state_against_the_exact_rotation():
    rot = lambda y, t: np.stack([y[1], -y[0]])            # noqa: E731 - y(t) = R(t) y0
    f = lambda y0: np.sum(integrate.odeint(rot, y0, np.array([0., 2.]), rtol=1e-10, atol=1e-10)[-1])  # noqa: E731
    g = _grad(f, np.array([0.3, -0.4]))
    np.testing.assert_allclose(g, [np.cos(2) - np.sin(2), np.sin(2) + np.cos(2)], rtol=1e-6)
    # autograd's literal: array([-1.325444,  0.493151])
    np.testing.assert_allclose(g, [-1.325444, 0.493151], atol=1e-6)


def test_odeint_with_an_intermediate_time_and_a_vector_parameter_against_finite_differences():
    def f(y, t, w):
        return np.tanh(w[0] * y) + w[1] * np.sin(t)

    def loss(y0, w):
        ys = integrate.odeint(f, y0, np.array([0., 0.5, 1.2]), (w,), rtol=1e-11, atol=1e-11)
        return np.sum(ys * ys)
    check_gradients(loss, [np.array([0.4, -0.2]), np.array([0.7, 0.3])], order=1, modes=("rev",), rtol=1e-4,
                    delta=1e-5)


def test_odeint_refuses_second_derivatives_and_forward_mode():
    with pytest.raises(NotImplementedError, match="second derivatives"):
        tg.hessian(lambda y0: _final(y0, TT, 0.5))(np.array([1.0]))
    with pytest.raises(NotImplementedError, match="forward mode"):
        tg.jvp(lambda y0: _final(y0, TT, 0.5), (np.array([1.0]),), (np.array([1.0]),))


def test_odeint_args_by_keyword_and_a_scalar_y0():
    # autograd needs args positionally, as a traced tuple, and returns a (1,)-shaped gradient for a scalar y0.
    gk = tg.grad(lambda k: np.sum(integrate.odeint(_decay, np.array([1.0]), TT, args=(k,), rtol=1e-10,
                                                   atol=1e-10)[-1]))(np.float64(0.5))
    assert float(gk) == pytest.approx(-2 * np.exp(-1.0), rel=1e-6)
    gy = tg.grad(lambda y0: np.sum(integrate.odeint(_decay, y0, TT, args=(0.5,), rtol=1e-10, atol=1e-10)[-1]))(
        np.float64(1.0))
    assert gy.shape == () and float(gy) == pytest.approx(np.exp(-1.0), rel=1e-7)


def test_log_ndtr_gradient_is_finite_in_the_far_left_tail():
    # d/dx log Phi(x) -> -x as x -> -inf (Mills' ratio); pdf / cdf formed separately would be 0 / 0.
    g = float(tg.grad(special.log_ndtr)(np.float64(-40.0)))
    assert g == pytest.approx(40.02496884721088, rel=1e-10)
    assert float(tg.grad(special.log_ndtr)(np.float64(40.0))) == 0.0


def test_float32_tensors_stay_float32():
    x = tg.constant(np.float32([0.5, 1.0]))
    for y in [stats.norm.logpdf(x, 0.1, 2.0), stats.gamma.logpdf(x, 2.0), stats.t.cdf(x, 3.0), special.gammaln(x),
              special.logsumexp(x, b=np.array([1.0, 2.0]))]:
        assert y.dtype == tg.float32


def test_hessian_through_a_log_density_against_the_hand_derived_value():
    # d^2/ds^2 [-(x - m)^2 / (2 s^2) - log s] = -3 (x - m)^2 / s^4 + 1 / s^2, summed over x
    x, m, s = np.array([0.3, -1.2, 2.0]), 0.1, 1.7
    h = tg.hessian(lambda s: np.sum(stats.norm.logpdf(x, m, s)))(np.float64(s))
    assert float(h) == pytest.approx(np.sum(-3 * (x - m) ** 2 / s ** 4 + 1 / s ** 2), rel=1e-12)


def test_complex_arguments_are_refused_where_the_rules_assume_real_ones():
    z = np.array([1.0 + 1.0j])
    with pytest.raises(TypeError, match="gammaln is differentiable for real arguments only"):
        special.gammaln(z)
    with pytest.raises(TypeError, match=r"scipy\.special\.jv is differentiable for real arguments only"):
        scipy.special.jv(1.0, tg.constant(z))
