"""scipy.stats.gamma: the gamma distribution with shape a.  logpdf and pdf
are differentiable in x, a, loc and scale; cdf and logcdf in x, loc and scale
(the derivative of the incomplete gamma function in a has no closed form)."""
import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy.stats._support import inside, masked, standardize

__all__ = ["pdf", "logpdf", "cdf", "logcdf"]


def logpdf(x, a, loc=0, scale=1):
    z, log_scale, a = standardize("gamma.logpdf", x, loc, scale, a)
    ok = np.asarray(z.numpy()) >= 0
    z = inside(ok, z, 1.0)
    return masked(ok, _ops.xlogy(a - 1, z) - z - _ops.gammaln(a) - log_scale, -np.inf)


def pdf(x, a, loc=0, scale=1):
    return np.exp(logpdf(x, a, loc, scale))


def cdf(x, a, loc=0, scale=1):
    z, _, a = standardize("gamma.cdf", x, loc, scale, a)
    return _ops.gammainc(a, np.maximum(z, 0.0))


def logcdf(x, a, loc=0, scale=1):
    with np.errstate(divide="ignore"):           # log(0) = -inf, as in SciPy, silently
        return np.log(cdf(x, a, loc, scale))
