"""scipy.stats distributions, differentiable in their arguments: each is a
module with SciPy's functions and signatures (loc and scale included), e.g.
``norm.logpdf(x, loc=0, scale=1)``.  Log densities are written with tapegrad
ops (differentiable to any order); cdfs use SciPy's special functions through
tapegrad ops (shape parameters inside an incomplete gamma, beta or Student's t
function have no derivative there and raise NotImplementedError)."""
from tapegrad.scipy.stats import beta, chi2, dirichlet, gamma, multivariate_normal, norm, poisson, t

__all__ = ["beta", "chi2", "dirichlet", "gamma", "multivariate_normal", "norm", "poisson", "t"]
