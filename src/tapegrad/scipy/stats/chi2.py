"""scipy.stats.chi2: the chi-squared distribution with df degrees of freedom.
logpdf and pdf are differentiable in x, df, loc and scale; cdf and logcdf in
x, loc and scale."""
import math

import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy.stats._support import inside, masked, standardize

__all__ = ["pdf", "logpdf", "cdf", "logcdf"]


def logpdf(x, df, loc=0, scale=1):
    z, log_scale, df = standardize("chi2.logpdf", x, loc, scale, df)
    ok = np.asarray(z.numpy()) >= 0
    z = inside(ok, z, 1.0)
    k = df * 0.5
    return masked(ok, _ops.xlogy(k - 1, z) - 0.5 * z - _ops.gammaln(k) - k * math.log(2) - log_scale, -np.inf)


def pdf(x, df, loc=0, scale=1):
    return np.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0, scale=1):
    z, _, df = standardize("chi2.cdf", x, loc, scale, df)
    return _ops.gammainc(df * 0.5, np.maximum(z, 0.0) * 0.5)


def logcdf(x, df, loc=0, scale=1):
    with np.errstate(divide="ignore"):           # log(0) = -inf, as in SciPy, silently
        return np.log(cdf(x, df, loc, scale))
