"""scipy.stats.beta: the beta distribution with shapes a and b.  logpdf and
pdf are differentiable in x, a, b, loc and scale; cdf and logcdf in x, loc and
scale (the incomplete beta function's derivatives in a and b have no closed
form)."""
import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy.stats._support import inside, masked, standardize

__all__ = ["pdf", "logpdf", "cdf", "logcdf"]


def logpdf(x, a, b, loc=0, scale=1):
    z, log_scale, a, b = standardize("beta.logpdf", x, loc, scale, a, b)
    zv = np.asarray(z.numpy())
    ok = (zv >= 0) & (zv <= 1)
    z = inside(ok, z, 0.5)
    return masked(ok, _ops.xlogy(a - 1, z) + _ops.xlog1py(b - 1, -z) - _ops.betaln(a, b) - log_scale, -np.inf)


def pdf(x, a, b, loc=0, scale=1):
    return np.exp(logpdf(x, a, b, loc, scale))


def cdf(x, a, b, loc=0, scale=1):
    z, _, a, b = standardize("beta.cdf", x, loc, scale, a, b)
    return _ops.betainc_of(a, b, np.clip(z, 0.0, 1.0))


def logcdf(x, a, b, loc=0, scale=1):
    with np.errstate(divide="ignore"):           # log(0) = -inf, as in SciPy, silently
        return np.log(cdf(x, a, b, loc, scale))
