"""scipy.stats.t: Student's t distribution.  logpdf and pdf are
differentiable in x, df, loc and scale; cdf and logcdf in x, loc and scale
(the derivative in df has no closed form: NotImplementedError)."""
import math

import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy.stats._support import standardize

__all__ = ["pdf", "logpdf", "cdf", "logcdf"]


def logpdf(x, df, loc=0, scale=1):
    z, log_scale, df = standardize("t.logpdf", x, loc, scale, df)
    return (_ops.gammaln((df + 1) * 0.5) - _ops.gammaln(df * 0.5) - 0.5 * np.log(df * math.pi)
            - (df + 1) * 0.5 * np.log1p(z * z / df) - log_scale)


def pdf(x, df, loc=0, scale=1):
    return np.exp(logpdf(x, df, loc, scale))


def cdf(x, df, loc=0, scale=1):
    z, _, df = standardize("t.cdf", x, loc, scale, df)
    return _ops.stdtr(df, z)


def logcdf(x, df, loc=0, scale=1):
    with np.errstate(divide="ignore"):           # log(0) = -inf, as in SciPy, silently
        return np.log(cdf(x, df, loc, scale))
