"""scipy.stats.norm: the normal distribution, differentiable in x, loc and scale."""
import math

import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy.stats._support import standardize

__all__ = ["pdf", "logpdf", "cdf", "logcdf", "sf", "logsf"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def logpdf(x, loc=0, scale=1):
    z, log_scale = standardize("norm.logpdf", x, loc, scale)
    return -0.5 * (z * z) - _LOG_SQRT_2PI - log_scale


def pdf(x, loc=0, scale=1):
    return np.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    return _ops.ndtr(standardize("norm.cdf", x, loc, scale)[0])


def logcdf(x, loc=0, scale=1):
    return _ops.log_ndtr(standardize("norm.logcdf", x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    return _ops.ndtr(-standardize("norm.sf", x, loc, scale)[0])


def logsf(x, loc=0, scale=1):
    return _ops.log_ndtr(-standardize("norm.logsf", x, loc, scale)[0])
