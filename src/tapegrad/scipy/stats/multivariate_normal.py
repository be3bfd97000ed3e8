"""scipy.stats.multivariate_normal, differentiable in x, mean and cov (through
a Cholesky factorisation and triangular solves).  cov may be a matrix, a
vector (its diagonal) or a scalar (times the identity), as in SciPy; x holds
points on its last axis.  SciPy's cdf (a numerical integration) is not
provided."""
import math

import numpy as np

from tapegrad._core import apply
from tapegrad.ops import scipy_ops as _ops
from tapegrad.ops.linalg_ops import cholesky, diag_part
from tapegrad.scipy._convert import tensors

__all__ = ["pdf", "logpdf", "entropy"]


def _dim(mean, cov):
    if mean.ndim:
        return mean.shape[-1]
    return cov.shape[-1] if cov.ndim else 1


def _cov_matrix(cov, d):
    if cov.ndim == 0:
        return cov * np.eye(d, dtype=np.result_type(cov.numpy()))
    if cov.ndim == 1:
        return cov[:, None] * np.eye(d, dtype=np.result_type(cov.numpy()))
    return cov


def logpdf(x, mean=None, cov=1, allow_singular=False):
    x, mean, cov = tensors("multivariate_normal.logpdf", x, 0.0 if mean is None else mean, cov)
    d = _dim(mean, cov) if mean.ndim or cov.ndim else (x.shape[-1] if x.ndim else 1)
    if d == 1 and (x.ndim == 0 or x.shape[-1] != 1):
        x = np.expand_dims(x, -1)              # one-dimensional points, as SciPy reads them
    chol = cholesky(_cov_matrix(cov, d))
    dev = np.reshape(x - mean, (-1, d))
    z = apply(_ops.solve_triangular, (chol, np.transpose(dev)), (0, True, False))
    out = (-0.5 * np.sum(z * z, axis=0) - np.sum(np.log(diag_part(chol))) - 0.5 * d * math.log(2 * math.pi))
    return np.squeeze(np.reshape(out, tuple(x.shape)[:-1]))      # SciPy squeezes its result


def pdf(x, mean=None, cov=1, allow_singular=False):
    return np.exp(logpdf(x, mean, cov, allow_singular))


def entropy(mean=None, cov=1):
    """0.5 log det(2 pi e cov); differentiable in cov."""
    mean, cov = tensors("multivariate_normal.entropy", 0.0 if mean is None else mean, cov)
    d = _dim(mean, cov)
    chol = cholesky(_cov_matrix(cov, d))
    return np.sum(np.log(diag_part(chol))) + 0.5 * d * (1 + math.log(2 * math.pi))
