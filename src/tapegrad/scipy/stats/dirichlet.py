"""scipy.stats.dirichlet, differentiable in x and alpha.  As in SciPy, the
components are on x's first axis (x of shape (K,) or (K, N) for N points),
and x may leave out its last component (then 1 - the sum of the others)."""
import numpy as np

from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy._convert import tensors

__all__ = ["pdf", "logpdf"]


def logpdf(x, alpha):
    x, alpha = tensors("dirichlet.logpdf", x, alpha)
    if alpha.ndim != 1:
        raise ValueError("Parameter vector 'a' must be one dimensional, but a.shape = "
                         f"{tuple(alpha.shape)}.")
    if x.shape[0] + 1 == alpha.shape[0]:
        x = np.concatenate([x, np.expand_dims(1 - np.sum(x, axis=0), 0)], axis=0)
    elif x.shape[0] != alpha.shape[0]:
        raise ValueError("Vector 'x' must have either the same number of entries as, or one entry fewer than, "
                         f"parameter vector 'a', but alpha.shape = {tuple(alpha.shape)} and x.shape = "
                         f"{tuple(x.shape)}.")
    xv = np.asarray(x.numpy())
    if np.any(xv < 0) or np.any(xv > 1) or np.any(np.abs(np.sum(xv, 0) - 1.0) > 10e-10):
        raise ValueError("The input vector 'x' must lie within the normal simplex, with entries in [0, 1].")
    a = np.reshape(alpha, tuple(alpha.shape) + (1,) * (x.ndim - 1))
    log_b = np.sum(_ops.gammaln(alpha)) - _ops.gammaln(np.sum(alpha))
    return np.sum(_ops.xlogy(a - 1, x), axis=0) - log_b


def pdf(x, alpha):
    return np.exp(logpdf(x, alpha))
