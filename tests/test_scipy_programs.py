"""Small programs in the style of autograd's examples, written with tapegrad.scipy:
a Gaussian-process marginal likelihood fitted with scipy.optimize.minimize (the
gradient from tapegrad), and black-box variational inference with
tapegrad.scipy.stats.  Each checks its gradient against finite differences and
its result against an answer known without tapegrad."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.test import check_gradients

pytest.importorskip("scipy")
import scipy.optimize  # noqa: E402

from tapegrad.scipy import stats  # noqa: E402
from tapegrad.scipy.stats import multivariate_normal as mvn  # noqa: E402

# ---- Gaussian process regression: fit the kernel's hyperparameters ---------------------------

def _gp_data():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 25))
    y = np.sin(1.3 * x) + 0.1 * rng.standard_normal(25)
    return x, y


def _neg_log_marginal_likelihood(params, x, y):
    """params = (log signal variance, log length scale, log noise variance), as one vector."""
    log_s2, log_ell, log_noise = params[0], params[1], params[2]
    d = (x[:, None] - x[None, :]) / np.exp(log_ell)
    k = np.exp(log_s2) * np.exp(-0.5 * d * d) + (np.exp(log_noise) + 1e-6) * np.eye(len(x))
    return -mvn.logpdf(y, np.zeros(len(x)), k)


def test_gaussian_process_marginal_likelihood_with_scipy_optimize():
    x, y = _gp_data()
    objective = lambda p: _neg_log_marginal_likelihood(p, x, y)         # noqa: E731
    p0 = np.array([0.0, 0.0, -1.0])
    check_gradients(objective, [p0], order=2, rtol=1e-4)

    def value_and_gradient(p):
        value, grad = tg.value_and_grad(objective)(p)
        return float(value), grad.numpy()
    fit = scipy.optimize.minimize(value_and_gradient, p0, jac=True, method="L-BFGS-B")
    assert fit.success and fit.fun < objective(p0).numpy() - 5
    assert np.linalg.norm(value_and_gradient(fit.x)[1]) < 1e-3
    # The same fit with SciPy's own finite-difference gradient reaches the same optimum.
    fd_fit = scipy.optimize.minimize(lambda p: float(objective(p)), p0, method="L-BFGS-B")
    np.testing.assert_allclose(fit.x, fd_fit.x, atol=2e-3)
    assert fit.nfev < fd_fit.nfev            # ... at the cost of len(p) + 1 evaluations per gradient
    # The fitted noise level is near the 0.1 standard deviation the data were made with.
    assert 0.05 < np.sqrt(np.exp(fit.x[2])) < 0.2


# ---- black-box variational inference -----------------------------------------------------------

MU, SIGMA = np.array([1.0, -2.0]), np.array([0.5, 1.5])


def _log_target(z):
    # An unnormalised log density whose best Gaussian approximation is known: N(MU, SIGMA^2) itself.
    return np.sum(stats.norm.logpdf(z, MU, SIGMA), axis=-1) + 3.0


def _negative_elbo(params, eps):
    """The reparameterised ELBO of a diagonal Gaussian q(z) = N(mean, exp(log_std)^2), negated."""
    mean, log_std = params[:2], params[2:]
    z = mean + np.exp(log_std) * eps                                   # samples of q, differentiable in params
    entropy = mvn.entropy(np.zeros(2), np.exp(2 * log_std)[:, None] * np.eye(2))
    return -(np.mean(_log_target(z)) + entropy)


def test_black_box_variational_inference_finds_the_target():
    eps = np.random.default_rng(1).standard_normal((2000, 2))       # common random numbers: a smooth objective
    params = np.array([0.0, 0.0, 0.0, 0.0])
    check_gradients(lambda p: _negative_elbo(p, eps[:50]), [params], order=2, rtol=1e-4)

    grad = tg.grad(lambda p: _negative_elbo(p, eps))
    m, v = np.zeros(4), np.zeros(4)
    for step in range(1, 401):                                        # Adam, as autograd's example uses
        g = grad(params).numpy()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        params = params - 0.08 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    np.testing.assert_allclose(params[:2], MU, atol=0.05)
    np.testing.assert_allclose(np.exp(params[2:]), SIGMA, rtol=0.05)
