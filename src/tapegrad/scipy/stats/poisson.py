"""scipy.stats.poisson: the Poisson distribution with mean mu, differentiable
in mu (k is a count)."""
import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy._convert import tensors
from tapegrad.scipy.stats._support import inside, masked

__all__ = ["pmf", "logpmf", "cdf", "logcdf"]


def logpmf(k, mu, loc=0):
    k, mu, loc = tensors("poisson.logpmf", k, mu, loc)
    k = k - loc
    kv = np.asarray(k.numpy())
    ok = (kv >= 0) & (kv == np.floor(kv))
    k = inside(ok, k, 0.0)
    return masked(ok, _ops.xlogy(k, mu) - _ops.gammaln(k + 1) - mu, -np.inf)


def pmf(k, mu, loc=0):
    return np.exp(logpmf(k, mu, loc))


def cdf(k, mu, loc=0):
    k, mu, loc = tensors("poisson.cdf", k, mu, loc)
    kv = np.floor(np.asarray((k - loc).numpy()))
    ok = kv >= 0
    return masked(ok, _ops.gammaincc(np.where(ok, kv, 0.0) + 1, mu), 0.0)


def logcdf(k, mu, loc=0):
    with np.errstate(divide="ignore"):           # log(0) = -inf, as in SciPy, silently
        return np.log(cdf(k, mu, loc))
